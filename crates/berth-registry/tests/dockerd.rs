//! Debian's dockerd (docker.io) pushing to and pulling from berth-registry
//! on 127.0.0.1 (which dockerd treats as an insecure, plain-HTTP
//! registry), with `docker login` against htpasswd Basic auth.
//!
//! dockerd runs isolated: its own data root, exec root and socket in the
//! test's temp dir, no bridge, no iptables rules.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_registry::AuthConfig;
use common::*;

const LIMIT: Duration = Duration::from_secs(180);

struct Dockerd {
    child: Child,
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM first so dockerd unmounts its layers and stops containerd.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker(dir: &Path) -> Command {
    let mut c = Command::new("docker");
    c.env(
        "DOCKER_HOST",
        format!("unix://{}", dir.join("docker.sock").display()),
    )
    .env("DOCKER_CONFIG", dir.join("client-config"));
    c
}

fn start_dockerd(dir: &Path) -> Dockerd {
    let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
    let child = Command::new("dockerd")
        .arg("--data-root")
        .arg(dir.join("root"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .arg("-H")
        .arg(format!("unix://{}", dir.join("docker.sock").display()))
        .args(["--bridge", "none", "--iptables=false"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn dockerd (apt-get install docker.io)");
    let mut d = Dockerd { child };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = run_bounded(docker(dir).arg("version"), Duration::from_secs(20));
        if out.status.success() {
            return d;
        }
        if let Some(st) = d.child.try_wait().unwrap() {
            panic!(
                "dockerd exited ({st}): {}",
                std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "dockerd not ready in 60s: {}",
            std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn image_id(dir: &Path, image: &str) -> String {
    let out = run_bounded(
        docker(dir).args(["image", "inspect", "--format", "{{.Id}}", image]),
        LIMIT,
    );
    assert!(
        out.status.success(),
        "inspect {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn ok(c: &mut Command) -> String {
    let desc = format!("{c:?}");
    let out = run_bounded(c, LIMIT);
    assert!(
        out.status.success(),
        "{desc}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockerd_login_push_pull() {
    berth_testutil::require_root();
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let htpasswd = make_htpasswd(&dir, "carol", "d0cker");
    let srv = start(&dir.join("registry"), AuthConfig::Htpasswd(htpasswd), None).await;
    let host = srv.local_addr().to_string();
    let tarball = berth_testutil::fixture("busybox-docker.tar");

    let d = dir.clone();
    tokio::task::spawn_blocking(move || {
        let dockerd = start_dockerd(&d);
        ok(docker(&d).arg("load").arg("-i").arg(&tarball));
        let original = image_id(&d, "busybox:latest");
        let target = format!("{host}/dockerd/busybox:v1");
        ok(docker(&d).args(["tag", "busybox:latest", &target]));

        // Without login the push is refused.
        let out = run_bounded(docker(&d).args(["push", &target]), LIMIT);
        assert!(!out.status.success(), "push without login must fail");
        // Wrong password, then the right one.
        let mut bad = docker(&d);
        bad.args(["login", &host, "-u", "carol", "-p", "wrong"]);
        assert!(!run_bounded(&mut bad, LIMIT).status.success());
        ok(docker(&d).args(["login", &host, "-u", "carol", "-p", "d0cker"]));

        let pushed = ok(docker(&d).args(["push", &target]));
        assert!(pushed.contains("digest: sha256:"), "{pushed}");

        ok(docker(&d).args(["rmi", &target, "busybox:latest"]));
        ok(docker(&d).args(["pull", &target]));
        assert_eq!(
            image_id(&d, &target),
            original,
            "pulled image has the same ID"
        );
        drop(dockerd);
    })
    .await
    .unwrap();
    srv.shutdown().await;
    let left = berth_testutil::mounts_containing(&dir.to_string_lossy());
    assert!(left.is_empty(), "dockerd left mounts: {left:?}");
}

/// The token flow with refresh tokens, as Docker Hub does it: dockerd's
/// login asks berth-registry's token endpoint for an offline token, the
/// docker CLI stores the refresh token (`identitytoken`, no password) in
/// its config.json, and dockerd's push and pull then get their access
/// tokens with the OAuth2 refresh-token grant (the CLI has nothing else to
/// send). A corrupted identity token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockerd_login_stores_an_identity_token_and_uses_it() {
    berth_testutil::require_root();
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let htpasswd = make_htpasswd(&dir, "erin", "t0ken");
    let auth = AuthConfig::Token(berth_registry::TokenConfig {
        realm: "/token".into(),
        service: "berth-dockerd".into(),
        issuer: "berth-dockerd-issuer".into(),
        htpasswd: Some(htpasswd),
        key_file: None,
        ttl: Duration::from_secs(300),
        anonymous_pull: false,
    });
    let srv = start(&dir.join("registry"), auth, None).await;
    let host = srv.local_addr().to_string();
    let tarball = berth_testutil::fixture("busybox-docker.tar");

    let d = dir.clone();
    tokio::task::spawn_blocking(move || {
        let dockerd = start_dockerd(&d);
        ok(docker(&d).arg("load").arg("-i").arg(&tarball));
        let original = image_id(&d, "busybox:latest");
        let target = format!("{host}/idtok/busybox:v1");
        ok(docker(&d).args(["tag", "busybox:latest", &target]));
        ok(docker(&d).args(["login", &host, "-u", "erin", "-p", "t0ken"]));
        let cfg_path = d.join("client-config/config.json");
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
        let entry = &cfg["auths"][&host];
        let idtok = entry["identitytoken"]
            .as_str()
            .unwrap_or_else(|| panic!("no identitytoken in {cfg}"))
            .to_string();
        assert!(!idtok.is_empty());
        // The CLI keeps only the user name with it, not the password.
        let auth_field = entry["auth"].as_str().unwrap_or_default();
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth_field)
            .unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&decoded).contains("t0ken"),
            "password stored: {cfg}"
        );

        let pushed = ok(docker(&d).args(["push", &target]));
        assert!(pushed.contains("digest: sha256:"), "{pushed}");
        ok(docker(&d).args(["rmi", &target, "busybox:latest"]));
        ok(docker(&d).args(["pull", &target]));
        assert_eq!(image_id(&d, &target), original);

        // A corrupted identity token: the pull is refused.
        ok(docker(&d).args(["rmi", &target]));
        let mut bad = cfg.clone();
        bad["auths"][&host]["identitytoken"] = serde_json::json!(format!("{idtok}x"));
        std::fs::write(&cfg_path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let out = run_bounded(docker(&d).args(["pull", &target]), LIMIT);
        assert!(!out.status.success(), "pull with a bad identity token");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("unauthorized"), "{err}");
        drop(dockerd);
    })
    .await
    .unwrap();
    srv.shutdown().await;
    let left = berth_testutil::mounts_containing(&dir.to_string_lossy());
    assert!(left.is_empty(), "dockerd left mounts: {left:?}");
}
