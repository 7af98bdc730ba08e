//! skopeo (a client no one here wrote) pushing to and pulling from
//! berth-registry: oci: and docker-archive: transports, each both ways,
//! plain HTTP on loopback, htpasswd Basic over TLS, and Bearer tokens over
//! TLS.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_registry::{AuthConfig, TokenConfig};
use common::*;

const LIMIT: Duration = Duration::from_secs(300);

fn skopeo() -> Command {
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    // Keep the user's auth files out of it.
    c.env(
        "REGISTRY_AUTH_FILE",
        "/nonexistent-berth-registry-test-auth.json",
    );
    c
}

fn oci_manifest_digest(layout: &Path) -> String {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    idx["manifests"][0]["digest"].as_str().unwrap().to_string()
}

async fn inspect_raw(reference: &str, extra: &[&str]) -> Vec<u8> {
    let mut c = skopeo();
    c.arg("inspect").arg("--raw").args(extra).arg(reference);
    run_ok(c, LIMIT).await.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_oci_round_trip_plain_http() {
    let dir = tempdir();
    let srv = start(&dir.path().join("root"), AuthConfig::None, None).await;
    let host = srv.local_addr().to_string();
    let src = berth_testutil::fixture("busybox-oci");
    let want = oci_manifest_digest(&src);

    let mut c = skopeo();
    c.args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:latest", src.display()))
        .arg(format!("docker://{host}/library/busybox:latest"));
    run_ok(c, LIMIT).await;

    // The manifest arrived byte for byte (same digest).
    let raw = inspect_raw(
        &format!("docker://{host}/library/busybox:latest"),
        &["--tls-verify=false"],
    )
    .await;
    assert_eq!(sha256(&raw), want);

    // Pull it back into a fresh OCI layout and compare.
    let out = dir.path().join("pulled");
    let mut c = skopeo();
    c.args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{host}/library/busybox:latest"))
        .arg(format!("oci:{}:latest", out.display()));
    run_ok(c, LIMIT).await;
    assert_eq!(oci_manifest_digest(&out), want);
    for e in std::fs::read_dir(src.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name();
        let pulled = std::fs::read(out.join("blobs/sha256").join(&name))
            .unwrap_or_else(|_| panic!("blob {name:?} missing from the pulled layout"));
        assert_eq!(pulled, std::fs::read(e.path()).unwrap());
    }

    // Pushing the same image again under another name stores nothing new.
    let before = count_files(&dir.path().join("root/blobs"));
    let mut c = skopeo();
    c.args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:latest", src.display()))
        .arg(format!("docker://{host}/other/busybox:v2"));
    run_ok(c, LIMIT).await;
    assert_eq!(count_files(&dir.path().join("root/blobs")), before);

    // A missing tag is a clean failure.
    let mut c = skopeo();
    c.args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{host}/library/busybox:missing"));
    let out = run_any(c, LIMIT).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("manifest unknown"),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_docker_archive_round_trip() {
    let dir = tempdir();
    let srv = start(&dir.path().join("root"), AuthConfig::None, None).await;
    let host = srv.local_addr().to_string();
    let src = berth_testutil::fixture("busybox-docker.tar");

    let mut c = skopeo();
    c.args(["copy", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", src.display()))
        .arg(format!("docker://{host}/dock/busybox:v1"));
    run_ok(c, LIMIT).await;
    let raw = inspect_raw(
        &format!("docker://{host}/dock/busybox:v1"),
        &["--tls-verify=false"],
    )
    .await;
    let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );

    let out = dir.path().join("out.tar");
    let mut c = skopeo();
    c.args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{host}/dock/busybox:v1"))
        .arg(format!("docker-archive:{}:dock/busybox:v1", out.display()));
    run_ok(c, LIMIT).await;
    // The archive skopeo wrote has the same config (image ID) as the source.
    let inspect = |p: &Path| {
        let mut c = skopeo();
        c.args(["inspect", "--config"])
            .arg(format!("docker-archive:{}", p.display()));
        c
    };
    let a = run_ok(inspect(&src), LIMIT).await.stdout;
    let b = run_ok(inspect(&out), LIMIT).await.stdout;
    assert_eq!(sha256(&a), sha256(&b));
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_htpasswd_over_tls() {
    let dir = tempdir();
    let (tls, certdir) = make_tls(&dir.path().join("tls"));
    let htpasswd = make_htpasswd(dir.path(), "alice", "s3cret");
    let srv = start(
        &dir.path().join("root"),
        AuthConfig::Htpasswd(htpasswd),
        Some(tls),
    )
    .await;
    let host = srv.local_addr().to_string();
    assert!(srv.url().starts_with("https://"));
    let src = berth_testutil::fixture("busybox-oci");
    let push = |creds: Option<&str>| {
        let mut c = skopeo();
        c.arg("copy").arg("--dest-cert-dir").arg(&certdir);
        if let Some(cr) = creds {
            c.arg("--dest-creds").arg(cr);
        }
        c.arg(format!("oci:{}:latest", src.display()))
            .arg(format!("docker://{host}/secure/busybox:latest"));
        c
    };
    for bad in [None, Some("alice:wrong"), Some("mallory:s3cret")] {
        let out = run_any(push(bad), LIMIT).await;
        assert!(!out.status.success(), "push with {bad:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            err.contains("unauthorized") || err.contains("authentication required"),
            "{err}"
        );
    }
    assert_eq!(
        count_files(&dir.path().join("root/blobs")),
        0,
        "nothing stored by rejected pushes"
    );
    run_ok(push(Some("alice:s3cret")), LIMIT).await;

    let out = dir.path().join("pulled");
    let mut c = skopeo();
    c.arg("copy")
        .arg("--src-cert-dir")
        .arg(&certdir)
        .args(["--src-creds", "alice:s3cret"])
        .arg(format!("docker://{host}/secure/busybox:latest"))
        .arg(format!("oci:{}:latest", out.display()));
    run_ok(c, LIMIT).await;
    assert_eq!(oci_manifest_digest(&out), oci_manifest_digest(&src));

    // docker-archive: both ways over TLS with Basic auth; wrong credentials
    // refused on the pull side too.
    archive_round_trip(&host, &certdir, "alice:s3cret", "alice:wrong", dir.path()).await;
    srv.shutdown().await;
}

/// Pushes the busybox docker-archive fixture to `host/arch/busybox:v1`
/// over TLS with `creds`, pulls it back into a new docker-archive and
/// checks that the image config (hence the image ID) survived; a pull with
/// `bad_creds` fails and writes no archive.
async fn archive_round_trip(host: &str, certdir: &Path, creds: &str, bad_creds: &str, tmp: &Path) {
    let src = berth_testutil::fixture("busybox-docker.tar");
    let mut c = skopeo();
    c.arg("copy")
        .arg("--dest-cert-dir")
        .arg(certdir)
        .args(["--dest-creds", creds])
        .arg(format!("docker-archive:{}", src.display()))
        .arg(format!("docker://{host}/arch/busybox:v1"));
    run_ok(c, LIMIT).await;
    let pull = |creds: &str, out: &Path| {
        let mut c = skopeo();
        c.arg("copy")
            .arg("--src-cert-dir")
            .arg(certdir)
            .args(["--src-creds", creds])
            .arg(format!("docker://{host}/arch/busybox:v1"))
            .arg(format!("docker-archive:{}:arch/busybox:v1", out.display()));
        c
    };
    let bad_out = tmp.join("refused.tar");
    assert!(!run_any(pull(bad_creds, &bad_out), LIMIT)
        .await
        .status
        .success());
    assert!(
        std::fs::metadata(&bad_out).map(|m| m.len()).unwrap_or(0) == 0,
        "a refused pull wrote an archive"
    );
    let out = tmp.join("archive-pulled.tar");
    run_ok(pull(creds, &out), LIMIT).await;
    let config_of = |p: &Path| -> String {
        let o = std::process::Command::new("tar")
            .arg("-xOf")
            .arg(p)
            .arg("manifest.json")
            .output()
            .unwrap();
        assert!(o.status.success(), "manifest.json in {}", p.display());
        let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        m[0]["Config"].as_str().unwrap().to_string()
    };
    // Config file names are the config digest's hex (the image ID) in both
    // archive layouts skopeo and docker write.
    let hex = |s: String| {
        s.trim_end_matches(".json")
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(hex(config_of(&out)), hex(config_of(&src)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_token_auth_over_tls() {
    let dir = tempdir();
    let (tls, certdir) = make_tls(&dir.path().join("tls"));
    let htpasswd = make_htpasswd(dir.path(), "bob", "pa55");
    let auth = AuthConfig::Token(TokenConfig {
        realm: "/token".into(),
        service: "berth-test".into(),
        issuer: "berth-test-issuer".into(),
        htpasswd: Some(htpasswd),
        key_file: None,
        ttl: Duration::from_secs(300),
        anonymous_pull: false,
    });
    let srv = start(&dir.path().join("root"), auth, Some(tls)).await;
    let host = srv.local_addr().to_string();
    let src = berth_testutil::fixture("busybox-oci");

    // The challenge names the realm, service and scope.
    let c = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = c
        .get(format!("https://{host}/v2/tok/busybox/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        www,
        format!("Bearer realm=\"https://{host}/token\",service=\"berth-test\",scope=\"repository:tok/busybox:pull\"")
    );
    // Wrong password at the token endpoint: 401.
    let r = c
        .get(format!(
            "https://{host}/token?service=berth-test&scope=repository:tok/busybox:pull"
        ))
        .basic_auth("bob", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    // A token for one repository does not open another.
    let tok: serde_json::Value = c
        .get(format!(
            "https://{host}/token?service=berth-test&scope=repository:tok/busybox:pull"
        ))
        .basic_auth("bob", Some("pa55"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = tok["token"].as_str().unwrap();
    let r = c
        .get(format!("https://{host}/v2/other/repo/tags/list"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));

    let mut cp = skopeo();
    cp.arg("copy")
        .arg("--dest-cert-dir")
        .arg(&certdir)
        .args(["--dest-creds", "bob:pa55"])
        .arg(format!("oci:{}:latest", src.display()))
        .arg(format!("docker://{host}/tok/busybox:latest"));
    run_ok(cp, LIMIT).await;
    let mut bad = skopeo();
    bad.arg("copy")
        .arg("--dest-cert-dir")
        .arg(&certdir)
        .args(["--dest-creds", "bob:wrong"])
        .arg(format!("oci:{}:latest", src.display()))
        .arg(format!("docker://{host}/tok/busybox:bad"));
    assert!(!run_any(bad, LIMIT).await.status.success());

    let raw = inspect_raw(
        &format!("docker://{host}/tok/busybox:latest"),
        &[
            "--cert-dir",
            certdir.to_str().unwrap(),
            "--creds",
            "bob:pa55",
        ],
    )
    .await;
    assert_eq!(sha256(&raw), oci_manifest_digest(&src));

    // docker-archive: both ways through the token flow.
    archive_round_trip(&host, &certdir, "bob:pa55", "bob:wrong", dir.path()).await;
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_debian_image_round_trip() {
    let dir = tempdir();
    let srv = start(&dir.path().join("root"), AuthConfig::None, None).await;
    let host = srv.local_addr().to_string();
    let src = berth_testutil::fixture("debian-oci");
    let mut c = skopeo();
    c.args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:latest", src.display()))
        .arg(format!("docker://{host}/library/debian:bookworm"));
    run_ok(c, LIMIT).await;
    let out = dir.path().join("pulled");
    let mut c = skopeo();
    c.args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{host}/library/debian:bookworm"))
        .arg(format!("oci:{}:latest", out.display()));
    run_ok(c, LIMIT).await;
    assert_eq!(oci_manifest_digest(&out), oci_manifest_digest(&src));
    for e in std::fs::read_dir(src.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let pulled = out.join("blobs/sha256").join(e.file_name());
        assert_eq!(
            std::fs::metadata(&pulled).unwrap().len(),
            e.metadata().unwrap().len()
        );
    }
    srv.shutdown().await;
}
