//! Shared helpers for berth-registry's integration tests: an in-process
//! server on a free 127.0.0.1 port, bounded subprocesses, TLS material.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_registry::{AuthConfig, Config, Server, TlsPaths};

/// A fresh temp dir under /var/tmp, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    berth_testutil::tempdir()
}

/// Starts an in-process server on 127.0.0.1:0 storing under `root`.
pub async fn start(root: &Path, auth: AuthConfig, tls: Option<TlsPaths>) -> Server {
    let mut cfg = Config::new("127.0.0.1:0".parse().unwrap(), root);
    cfg.auth = auth;
    cfg.tls = tls;
    Server::start(cfg).await.expect("start registry")
}

/// Runs `cmd` with a deadline; kills it and panics on timeout. Returns the
/// output (stdout and stderr captured).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "{desc} timed out after {limit:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    child.wait_with_output().expect("wait")
}

/// Runs `cmd` bounded on the blocking pool and asserts success.
pub async fn run_ok(mut cmd: Command, limit: Duration) -> Output {
    tokio::task::spawn_blocking(move || {
        let desc = format!("{cmd:?}");
        let out = run_bounded(&mut cmd, limit);
        assert!(
            out.status.success(),
            "{desc} failed: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    })
    .await
    .expect("join")
}

/// Runs `cmd` bounded on the blocking pool; returns its output whatever the status.
pub async fn run_any(mut cmd: Command, limit: Duration) -> Output {
    tokio::task::spawn_blocking(move || run_bounded(&mut cmd, limit))
        .await
        .expect("join")
}

/// A self-signed certificate for 127.0.0.1 / localhost written as
/// `cert.pem`, `key.pem`, and `ca.crt` (the same certificate, for skopeo's
/// --cert-dir) into `dir`.
pub fn make_tls(dir: &Path) -> (TlsPaths, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("generate certificate");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let certdir = dir.join("certs.d");
    std::fs::create_dir_all(&certdir).unwrap();
    std::fs::write(certdir.join("ca.crt"), ck.cert.pem()).unwrap();
    (TlsPaths { cert, key }, certdir)
}

/// An htpasswd file made by Apache's `htpasswd -B` (bcrypt).
pub fn make_htpasswd(dir: &Path, user: &str, pass: &str) -> PathBuf {
    let p = dir.join("htpasswd");
    let out = run_bounded(
        Command::new("htpasswd")
            .args(["-B", "-b", "-c"])
            .arg(&p)
            .args([user, pass]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "htpasswd failed (apt-get install apache2-utils): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

/// A reqwest client with a bounded timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// sha256 digest string of `data`.
pub fn sha256(data: &[u8]) -> String {
    berth_types::Digest::sha256_of(data).to_string()
}

/// Number of files under `dir` (recursive).
pub fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                n += count_files(&e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}
