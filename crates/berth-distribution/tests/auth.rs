//! Authentication against real registries: htpasswd Basic and Bearer
//! tokens on berth-registry, htpasswd Basic on Debian's docker-registry;
//! credentials from X-Registry-Auth, config.json `auths` and a credential
//! helper; `POST /auth` semantics.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use base64::Engine as _;
use berth_distribution::{
    login, pull, AuthConfig, Credentials, Distribution, DistributionError, DockerConfigFile,
    Options, PullOptions,
};
use common::*;

const LIMIT: Duration = Duration::from_secs(240);

fn dist() -> Distribution {
    Distribution::new(Options::default()).unwrap()
}

fn opts(c: Credentials) -> PullOptions {
    PullOptions {
        platform: None,
        credentials: c,
    }
}

/// Right credentials pull; wrong ones are `unauthorized`; none are
/// "pull access denied"; login says "Login Succeeded" or fails with 401.
async fn exercise(host: &str, tmp: &std::path::Path, basic: bool) {
    let name = format!("{host}/library/busybox");
    let svc = image_service(tmp, "data");
    let rec = Recorder::default();
    // X-Registry-Auth as the docker CLI sends it.
    let header = AuthConfig {
        username: USER.into(),
        password: PASS.into(),
        serveraddress: host.into(),
        ..Default::default()
    }
    .to_header();
    let creds = AuthConfig::from_header(&header).unwrap().credentials();
    let out = pull(&dist(), &svc, &name, &opts(creds), &rec.sink())
        .await
        .expect("pull with the right credentials");
    assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));

    let e = pull(
        &dist(),
        &svc,
        &name,
        &opts(Credentials::basic(USER, "wrong")),
        &rec.sink(),
    )
    .await
    .unwrap_err();
    eprintln!("wrong password: {e}");
    // dockerd 20.10 answers 500 (a 401 makes the docker CLI prompt
    // "Login prior to pull:").
    assert!(matches!(e, DistributionError::PullUnauthorized(_)), "{e:?}");
    assert_eq!(e.status(), 500);
    assert!(e.to_string().starts_with("unauthorized: "), "{e}");

    let e = pull(
        &dist(),
        &svc,
        &name,
        &opts(Credentials::default()),
        &rec.sink(),
    )
    .await
    .unwrap_err();
    eprintln!("anonymous: {e}");
    if basic {
        // dockerd 20.10, against docker-registry with htpasswd: 500.
        assert_eq!(
            e.to_string(),
            format!(
                "Head \"http://{host}/v2/library/busybox/manifests/latest\": no basic auth credentials"
            )
        );
        assert_eq!(e.status(), 500);
    } else {
        assert!(
            matches!(e, DistributionError::PullAccessDenied { .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(&format!(
                "pull access denied for {host}/library/busybox, repository does not exist or may require 'docker login': "
            )),
            "{e}"
        );
    }

    let ok = login(
        &dist(),
        &AuthConfig {
            username: USER.into(),
            password: PASS.into(),
            serveraddress: format!("http://{host}/v2/"),
            ..Default::default()
        },
    )
    .await
    .expect("login");
    assert_eq!(ok.status, "Login Succeeded");
    if basic {
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"IdentityToken":"","Status":"Login Succeeded"}"#
        );
    } else {
        // berth-registry's token server hands out a refresh token for an
        // offline login, which POST /auth answers as IdentityToken; the
        // CLI then sends it alone (no password), and pulls use the OAuth2
        // refresh-token grant. A corrupted one is refused.
        assert!(!ok.identity_token.is_empty(), "{ok:?}");
        for (idtok, good) in [
            (ok.identity_token.clone(), true),
            (format!("{}x", ok.identity_token), false),
        ] {
            let header = AuthConfig {
                username: USER.into(),
                identitytoken: idtok,
                serveraddress: host.into(),
                ..Default::default()
            }
            .to_header();
            let creds = AuthConfig::from_header(&header).unwrap().credentials();
            assert!(creds.identity_token.is_some() && creds.password.is_empty());
            let r = pull(&dist(), &svc, &name, &opts(creds), &rec.sink()).await;
            if good {
                assert!(r.expect("pull with the identity token").up_to_date);
            } else {
                // dockerd: "unauthorized: <the token server's message>".
                let e = r.unwrap_err();
                assert!(
                    matches!(e, DistributionError::PullUnauthorized(_)),
                    "bad identity token: {e:?}"
                );
                assert_eq!(
                    e.to_string(),
                    "unauthorized: invalid or expired refresh token"
                );
            }
        }
    }
    let e = login(
        &dist(),
        &AuthConfig {
            username: USER.into(),
            password: "wrong".into(),
            serveraddress: host.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    if basic {
        // Push without credentials: dockerd's in-stream error.
        let e = berth_distribution::push(
            &dist(),
            &svc,
            &name,
            "latest",
            &berth_distribution::PushOptions::default(),
            &rec.sink(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "no basic auth credentials");
        assert!(rec.statuses().contains(&"Preparing".to_string()));
    }
    eprintln!("login with a wrong password: {e}");
    assert_eq!(e.status(), 401, "{e}");
    let m = e.to_string();
    assert!(
        m.starts_with("unauthorized: ")
            || m == format!(
                "login attempt to http://{host}/v2/ failed with status: 401 Unauthorized"
            ),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_berth_registry() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::Basic).await;
        let host = host_of(&reg.url());
        skopeo_push("busybox-oci", &host, "library/busybox:latest", true).await;
        exercise(&host, tmp.path(), true).await;
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_auth_berth_registry() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::Bearer).await;
        let host = host_of(&reg.url());
        skopeo_push("busybox-oci", &host, "library/busybox:latest", true).await;
        exercise(&host, tmp.path(), false).await;
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_docker_registry_peer() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let peer = PeerRegistry::start(tmp.path(), true);
        skopeo_push("busybox-oci", &peer.host, "library/busybox:latest", true).await;
        exercise(&peer.host, tmp.path(), true).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_config_json_and_a_credential_helper() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::Bearer).await;
        let host = host_of(&reg.url());
        skopeo_push("busybox-oci", &host, "library/busybox:latest", true).await;
        // `auths` with base64 user:password.
        let cfg_path = tmp.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
        std::fs::write(
            &cfg_path,
            format!(r#"{{"auths":{{"http://{host}/v1/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let cfg = DockerConfigFile::load(&cfg_path).unwrap();
        let creds = cfg.credentials_for(&host).unwrap().expect("credentials in auths");
        assert_eq!(creds, Credentials::basic(USER, PASS));
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        pull(&dist(), &svc, &format!("{host}/library/busybox"), &opts(creds), &rec.sink())
            .await
            .expect("pull with config.json credentials");
        // A credential helper (credHelpers), speaking the helper protocol.
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let helper = bin.join("docker-credential-berthtest");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"$server\" > {}\nif [ \"$server\" = {host} ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASS}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
                tmp.path().join("asked").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            &cfg_path,
            format!(r#"{{"auths":{{}},"credHelpers":{{"{host}":"berthtest"}},"credsStore":"berthtest"}}"#),
        )
        .unwrap();
        let mut cfg = DockerConfigFile::load(&cfg_path).unwrap();
        cfg.helper_dir = Some(bin.clone());
        let creds = cfg.credentials_for(&host).unwrap().expect("helper credentials");
        assert_eq!(creds, Credentials::basic(USER, PASS));
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("asked")).unwrap().trim(),
            host
        );
        // credsStore for a registry the helper does not know: nothing.
        assert!(cfg.credentials_for("quay.io").unwrap().is_none());
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("asked")).unwrap().trim(),
            "quay.io"
        );
        // Docker Hub is asked for under its legacy key.
        let _ = cfg.credentials_for("docker.io").unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("asked")).unwrap().trim(),
            "https://index.docker.io/v1/"
        );
        // A helper that is not installed is an error naming it.
        let mut missing = cfg.clone();
        missing.helper_dir = Some(tmp.path().join("nowhere"));
        let e = missing.credentials_for(&host).unwrap_err();
        assert!(e.to_string().contains("docker-credential-berthtest"), "{e}");
        rec.clear();
        let out = pull(&dist(), &svc, &format!("{host}/library/busybox"), &opts(creds), &rec.sink())
            .await
            .expect("pull with helper credentials");
        assert!(out.up_to_date);
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_without_auth_succeeds_and_unreachable_fails() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        let ok = login(
            &dist(),
            &AuthConfig {
                serveraddress: host.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(ok.status, "Login Succeeded");
        reg.shutdown().await;
        let e = login(
            &dist(),
            &AuthConfig {
                serveraddress: host.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.status(), 500, "{e}");
        assert!(e.to_string().contains(&format!("http://{host}/v2/")), "{e}");
    })
    .await
}
