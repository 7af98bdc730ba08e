//! Shared helpers: registries (in-process berth-registry, Debian's
//! docker-registry as a peer), skopeo, an image service in a temp dir, a
//! progress recorder. Every wait is bounded; every process is killed and
//! every temp dir removed on drop.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_distribution::{JsonMessage, ProgressSink};
use berth_image::ImageService;
use berth_registry::{AuthConfig, Config, Server, TokenConfig};

pub mod proxy;
#[allow(unused_imports)]
pub use proxy::*;

pub const USER: &str = "alice";
pub const PASS: &str = "s3cret-pw";

pub fn tempdir() -> tempfile::TempDir {
    berth_testutil::tempdir()
}

/// Bounds a test body.
pub async fn bounded<T>(limit: Duration, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("test timed out after {limit:?}"))
}

/// Runs `cmd` with a deadline; kills it and panics on timeout.
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
                    "{desc} timed out after {limit:?}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    child.wait_with_output().expect("wait")
}

/// Runs `cmd` bounded on the blocking pool and asserts success.
pub async fn run_ok(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || {
        let desc = format!("{cmd:?}");
        let out = run_bounded(&mut cmd, Duration::from_secs(180));
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

/// An htpasswd file (bcrypt) made by Apache's htpasswd.
pub fn make_htpasswd(dir: &Path) -> PathBuf {
    let p = dir.join("htpasswd");
    let out = run_bounded(
        Command::new("htpasswd")
            .args(["-B", "-b", "-c"])
            .arg(&p)
            .args([USER, PASS]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "htpasswd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

/// Which auth a test registry uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic,
    Bearer,
}

/// An in-process berth-registry on 127.0.0.1:<free>.
pub async fn berth_registry(dir: &Path, auth: Auth) -> Server {
    let mut cfg = Config::new("127.0.0.1:0".parse().unwrap(), dir.join("registry"));
    cfg.auth = match auth {
        Auth::None => AuthConfig::None,
        Auth::Basic => AuthConfig::Htpasswd(make_htpasswd(dir)),
        Auth::Bearer => AuthConfig::Token(TokenConfig {
            realm: "/token".into(),
            service: "berth-registry".into(),
            issuer: "berth-registry".into(),
            htpasswd: Some(make_htpasswd(dir)),
            key_file: None,
            ttl: Duration::from_secs(300),
            anonymous_pull: false,
        }),
    };
    Server::start(cfg).await.expect("start berth-registry")
}

/// `host:port` of a server URL.
pub fn host_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's docker-registry (distribution 2.8) on 127.0.0.1:<free>,
/// killed on drop.
pub struct PeerRegistry {
    child: Child,
    pub host: String,
    _dir: PathBuf,
}

impl PeerRegistry {
    pub fn start(dir: &Path, basic: bool) -> PeerRegistry {
        let port = free_port();
        let root = dir.join("peer-storage");
        std::fs::create_dir_all(&root).unwrap();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            root.display()
        );
        if basic {
            let h = make_htpasswd(dir);
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                h.display()
            ));
        }
        let cfg_path = dir.join("peer-config.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = std::fs::File::create(dir.join("peer.log")).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry (apt-get install docker-registry)");
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut peer = PeerRegistry {
            child,
            host,
            _dir: dir.to_path_buf(),
        };
        loop {
            if std::net::TcpStream::connect(&peer.host).is_ok() {
                return peer;
            }
            if let Ok(Some(st)) = peer.child.try_wait() {
                panic!(
                    "docker-registry exited: {st}: {}",
                    std::fs::read_to_string(dir.join("peer.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen in 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PeerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skopeo copy oci:<fixture>:latest docker://<host>/<repo>` (plain HTTP).
pub async fn skopeo_push(fixture: &str, host: &str, repo: &str, creds: bool) {
    let src = format!("oci:{}:latest", berth_testutil::fixture(fixture).display());
    let mut c = Command::new("skopeo");
    c.args(["copy", "--dest-tls-verify=false"]);
    if creds {
        c.arg(format!("--dest-creds={USER}:{PASS}"));
    }
    c.arg(src).arg(format!("docker://{host}/{repo}"));
    run_ok(c).await;
}

/// `skopeo inspect` (raw manifest or the summary).
pub async fn skopeo_inspect(host: &str, repo: &str, raw: bool, creds: bool) -> serde_json::Value {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--tls-verify=false"]);
    if raw {
        c.arg("--raw");
    }
    if creds {
        c.arg(format!("--creds={USER}:{PASS}"));
    }
    c.arg(format!("docker://{host}/{repo}"));
    let out = run_ok(c).await;
    serde_json::from_slice(&out.stdout).expect("skopeo inspect JSON")
}

/// An image service on a temp data root (under `dir`).
pub fn image_service(dir: &Path, name: &str) -> Arc<ImageService> {
    Arc::new(ImageService::open(&dir.join(name)).expect("open image service"))
}

/// A progress sink that records every message.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<JsonMessage>>>);

impl Recorder {
    pub fn sink(&self) -> ProgressSink {
        let v = self.0.clone();
        Arc::new(move |m| v.lock().unwrap().push(m))
    }
    pub fn all(&self) -> Vec<JsonMessage> {
        self.0.lock().unwrap().clone()
    }
    /// The `status` values, in order.
    pub fn statuses(&self) -> Vec<String> {
        self.all().into_iter().filter_map(|m| m.status).collect()
    }
    /// (status, id) pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.all()
            .into_iter()
            .map(|m| (m.status.unwrap_or_default(), m.id.unwrap_or_default()))
            .collect()
    }
    pub fn has(&self, status: &str, id: &str) -> bool {
        self.pairs().iter().any(|(s, i)| s == status && i == id)
    }
    pub fn clear(&self) {
        self.0.lock().unwrap().clear()
    }
}

/// Checks that every blob file in a data root hashes to its name.
pub fn assert_blobs_verified(root: &Path) -> usize {
    let dir = root.join("blobs/sha256");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let mut f = std::fs::File::open(e.path()).unwrap();
        let mut d = berth_types::Digester::for_algorithm(berth_types::Algorithm::Sha256);
        std::io::copy(&mut f, &mut d).unwrap();
        assert_eq!(
            d.finish().hex(),
            name,
            "blob {name} does not hash to its name"
        );
        n += 1;
    }
    n
}

/// Files in the ingest directory (must be empty after any pull).
pub fn ingest_files(root: &Path) -> Vec<String> {
    std::fs::read_dir(root.join("ingest"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Leftover `.pull-*` staging directories under a data root.
pub fn staging_dirs(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".pull-"))
                .collect()
        })
        .unwrap_or_default()
}

/// The config digest (image ID) of a fixture's OCI layout.
pub fn fixture_image_id(fixture: &str) -> String {
    berth_testutil::oci_fixture(fixture).id
}

/// The manifest digest of a fixture's OCI layout.
pub fn fixture_manifest_digest(fixture: &str) -> String {
    berth_testutil::oci_fixture(fixture).manifest_digest
}

/// The (only) layer of a fixture's OCI layout: its compressed digest and
/// size, which a registry keeps when skopeo pushes the layout.
pub fn fixture_layer(fixture: &str) -> berth_testutil::Descriptor {
    berth_testutil::oci_fixture(fixture).layer().clone()
}
