//! End to end with registries: the docker CLI pulls, pushes and logs in
//! through berthd (berth-distribution), against Debian's docker-registry
//! (distribution 2.8) on 127.0.0.1, with and without htpasswd auth;
//! skopeo checks what landed in the registry.

mod common;
use common::*;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// docker-registry on a free port, killed on drop.
struct Registry {
    child: Child,
    host: String,
}

impl Registry {
    fn start(dir: &Path, name: &str, htpasswd: Option<&Path>) -> Registry {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join(format!("{name}-data")).display()
        );
        if let Some(h) = htpasswd {
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                h.display()
            ));
        }
        let cfg_path = dir.join(format!("{name}.yml"));
        std::fs::write(&cfg_path, cfg).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker-registry (apt-get install docker-registry)");
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, host }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let o = Command::new("timeout")
        .args(["-s", "KILL", "120"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(
        o.status.success(),
        "{cmd:?}: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn docker_pull_push_login_through_berthd() {
    let d = Daemon::start();
    let dir = d.dir.path().to_path_buf();
    let open = Registry::start(&dir, "open", None);
    let htpasswd = dir.join("htpasswd");
    run_ok(
        Command::new("htpasswd")
            .args(["-B", "-b", "-c"])
            .arg(&htpasswd)
            .args(["alice", "pw"]),
    );
    let closed = Registry::start(&dir, "closed", Some(&htpasswd));
    let fixture = berth_testutil::fixture("busybox-oci");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", fixture.display()))
            .arg(format!("docker://{}/library/busybox:latest", open.host)),
    );
    // skopeo pushes the layout unchanged: its manifest and layer digests.
    let bb = berth_testutil::oci_fixture("busybox-oci");
    let digest = bb.manifest_digest.as_str();
    let layer = berth_testutil::short_id(&bb.layer().digest);
    let name = format!("{}/library/busybox", open.host);

    // pull: dockerd's lines, then the image runs.
    let out = d.ok(&["pull", &name]);
    assert!(
        out.contains("latest: Pulling from library/busybox"),
        "{out}"
    );
    assert!(out.contains(&format!("{layer}: Pull complete")), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}:latest")),
        "{out}"
    );
    let out = d.ok(&["pull", &name]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}:latest")),
        "{out}"
    );
    let digests = d.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Digest}}",
    ]);
    assert!(digests.contains(&format!("{name} {digest}")), "{digests}");
    assert_eq!(d.ok(&["run", "--rm", &name, "echo", "pulled"]), "pulled");
    let o = d.docker(&["pull", &format!("{name}:nope")]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(
        stderr(&o).trim(),
        format!("Error response from daemon: manifest for {name}:nope not found: manifest unknown: manifest unknown")
    );

    // push to another repository of the same registry: mounted.
    let pushed = format!("{}/e2e/pushed:v1", open.host);
    d.ok(&["tag", &name, &pushed]);
    let out = d.ok(&["push", &pushed]);
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/e2e/pushed]",
            open.host
        )),
        "{out}"
    );
    assert!(out.contains("Mounted from library/busybox"), "{out}");
    assert!(
        out.contains(&format!("v1: digest: {digest} size: {}", bb.manifest_size)),
        "{out}"
    );
    let ins = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .arg(format!("docker://{pushed}")),
    );
    assert!(ins.contains(&format!("\"Digest\": \"{digest}\"")), "{ins}");

    // an htpasswd registry: no credentials, wrong ones, login, push, pull.
    let cfg_dir = dir.join("docker-config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let with_cfg = |args: &[&str]| {
        let mut a = vec!["--config", cfg_dir.to_str().unwrap()];
        a.extend_from_slice(args);
        d.docker(&a)
    };
    let target = format!("{}/e2e/auth:v1", closed.host);
    // A pull without credentials: dockerd's words and status (500, so the
    // docker CLI does not prompt "Login prior to pull:").
    let o = with_cfg(&["pull", &target]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "Error response from daemon: Head \"http://{}/v2/e2e/auth/manifests/v1\": no basic auth credentials",
            closed.host
        )
    );
    assert!(
        !stdout(&o).contains("Login prior to pull"),
        "{}",
        stdout(&o)
    );
    let (status, _, body) = d.http(
        "POST",
        &format!("/images/create?fromImage={}/e2e/auth&tag=v1", closed.host),
        b"",
    );
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
    d.ok(&["tag", &name, &target]);
    let o = with_cfg(&["push", &target]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("no basic auth credentials"),
        "{}",
        stderr(&o)
    );
    let o = with_cfg(&["login", &closed.host, "-u", "alice", "-p", "wrong"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains(&format!(
            "Error response from daemon: login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            closed.host
        )),
        "{}",
        stderr(&o)
    );
    let o = with_cfg(&["login", &closed.host, "-u", "alice", "-p", "pw"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Login Succeeded"), "{}", stdout(&o));
    let o = with_cfg(&["push", &target]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(": Pushed"), "{}", stdout(&o));
    d.ok(&["rmi", &target]);
    let o = with_cfg(&["pull", &target]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("Status: Downloaded newer image for {target}")),
        "{}",
        stdout(&o)
    );
    drop(open);
    drop(closed);
    d.finish();
}

#[test]
fn docker_pull_busybox_from_a_registry_mirror() {
    // No internet here: `docker pull busybox` works only through the mirror.
    let dir = berth_testutil::tempdir();
    let mirror = Registry::start(dir.path(), "mirror", None);
    let fixture = berth_testutil::fixture("busybox-oci");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", fixture.display()))
            .arg(format!("docker://{}/library/busybox:latest", mirror.host)),
    );
    let url = format!("http://{}", mirror.host);
    let d = Daemon::start_with(&["--registry-mirror", &url, "--max-concurrent-downloads", "2"]);
    let out = d.ok(&["pull", "busybox"]);
    assert!(
        out.contains("latest: Pulling from library/busybox"),
        "{out}"
    );
    assert!(
        out.contains("Status: Downloaded newer image for busybox:latest"),
        "{out}"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "busybox", "echo", "mirrored"]),
        "mirrored"
    );
    drop(mirror);
    d.finish();
}

#[test]
fn docker_py_pull_and_push() {
    let d = Daemon::start();
    let dir = d.dir.path().to_path_buf();
    let reg = Registry::start(&dir, "py", None);
    let fixture = berth_testutil::fixture("busybox-oci");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", fixture.display()))
            .arg(format!("docker://{}/library/busybox:latest", reg.host)),
    );
    let script = format!(
        r#"
import docker
c = docker.DockerClient(base_url="{host}", timeout=60)
img = c.images.pull("{reg}/library/busybox", tag="latest")
print("ID", img.id)
print("DIGESTS", img.attrs["RepoDigests"])
img.tag("{reg}/py/pushed", tag="v2")
for m in c.images.push("{reg}/py/pushed", tag="v2", stream=True, decode=True):
    print("PUSH", m)
try:
    c.images.pull("{reg}/library/busybox", tag="nope")
except docker.errors.NotFound as e:
    print("NOTFOUND", e.explanation)
"#,
        host = d.host(),
        reg = reg.host
    );
    let out = run_ok(Command::new("python3").arg("-c").arg(&script));
    let bb = berth_testutil::oci_fixture("busybox-oci");
    assert!(out.contains(&format!("ID {}\n", bb.id)), "{out}");
    assert!(
        out.contains(&format!(
            "'{}/library/busybox@{}'",
            reg.host, bb.manifest_digest
        )),
        "{out}"
    );
    assert!(out.contains("'Tag': 'v2'"), "{out}");
    assert!(
        out.contains(&format!(
            "NOTFOUND manifest for {}/library/busybox:nope not found",
            reg.host
        )),
        "{out}"
    );
    drop(reg);
    d.finish();
}

/// berth-registry's binary (built once per test process, like berth-monitor)
/// on a free port, with `args` after `serve`; killed on drop.
struct BerthRegistry {
    child: Child,
    host: String,
    root: std::path::PathBuf,
}

fn berth_registry_bin() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_berthd"))
        .parent()
        .expect("bin dir");
    berth_testutil::build_workspace_bins(dir).join("berth-registry")
}

impl BerthRegistry {
    fn start(dir: &Path, name: &str, args: &[String]) -> BerthRegistry {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        Self::start_on(dir, name, &host, args)
    }

    fn start_on(dir: &Path, name: &str, host: &str, args: &[String]) -> BerthRegistry {
        let root = dir.join(format!("{name}-root"));
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(berth_registry_bin())
            .args(["serve", "--listen", host, "--root"])
            .arg(&root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn berth-registry");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(host).is_err() {
            assert!(Instant::now() < deadline, "berth-registry did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        BerthRegistry {
            child,
            host: host.to_string(),
            root,
        }
    }

    /// Files left in the registry's upload area (sessions, temp files):
    /// must be none once every push has finished.
    fn leftover_uploads(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("uploads"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for BerthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The docker CLI through berthd against berth-registry: plain push and
/// pull (then the image runs), a missing tag, htpasswd Basic auth and the
/// Bearer token flow (wrong credentials refused with dockerd's words,
/// login, push, pull back), and no upload session or temp file left in the
/// registry afterwards.
#[test]
fn docker_push_pull_through_berthd_against_berth_registry() {
    let d = Daemon::start();
    let dir = d.dir.path().to_path_buf();
    d.load_busybox();
    let htpasswd = dir.join("htpasswd");
    run_ok(
        Command::new("htpasswd")
            .args(["-B", "-b", "-c"])
            .arg(&htpasswd)
            .args(["alice", "pw"]),
    );
    let open = BerthRegistry::start(&dir, "open", &[]);
    let basic = BerthRegistry::start(
        &dir,
        "basic",
        &["--htpasswd".into(), htpasswd.display().to_string()],
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token_host = format!("127.0.0.1:{port}");
    let token = BerthRegistry::start_on(
        &dir,
        "token",
        &token_host,
        &[
            "--htpasswd".into(),
            htpasswd.display().to_string(),
            "--token-realm".into(),
            format!("http://{token_host}/token"),
        ],
    );

    // Plain: push, then pull back into an empty image store and run it.
    let name = format!("{}/lib/busybox", open.host);
    d.ok(&["tag", "busybox:latest", &format!("{name}:v1")]);
    let out = d.ok(&["push", &format!("{name}:v1")]);
    assert!(
        out.contains(&format!("The push refers to repository [{name}]")),
        "{out}"
    );
    assert!(out.contains(": Pushed"), "{out}");
    // "v1: digest: sha256:... size: N", as dockerd prints it.
    let line = out
        .lines()
        .find(|l| l.starts_with("v1: digest: sha256:"))
        .unwrap_or_else(|| panic!("no digest line: {out}"))
        .to_string();
    let digest = line.split_whitespace().nth(2).unwrap().to_string();
    let ins = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .arg(format!("docker://{name}:v1")),
    );
    assert!(ins.contains(&format!("\"Digest\": \"{digest}\"")), "{ins}");
    d.ok(&["rmi", &format!("{name}:v1"), "busybox:latest"]);
    let out = d.ok(&["pull", &format!("{name}:v1")]);
    assert!(out.contains("v1: Pulling from lib/busybox"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}:v1")),
        "{out}"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            &format!("{name}:v1"),
            "echo",
            "from-berth-registry"
        ]),
        "from-berth-registry"
    );
    let o = d.docker(&["pull", &format!("{name}:nope")]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(
        stderr(&o).trim(),
        format!("Error response from daemon: manifest for {name}:nope not found: manifest unknown: manifest unknown")
    );

    // htpasswd and token: refused without or with wrong credentials, then
    // login, push (mounting nothing: another registry) and pull back.
    for reg in [&basic, &token] {
        let cfg_dir = dir.join(format!("docker-config-{}", reg.host.replace(':', "-")));
        std::fs::create_dir_all(&cfg_dir).unwrap();
        let with_cfg = |args: &[&str]| {
            let mut a = vec!["--config", cfg_dir.to_str().unwrap()];
            a.extend_from_slice(args);
            d.docker(&a)
        };
        let target = format!("{}/e2e/auth:v1", reg.host);
        d.ok(&["tag", &format!("{name}:v1"), &target]);
        let o = with_cfg(&["push", &target]);
        assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
        let o = with_cfg(&["login", &reg.host, "-u", "alice", "-p", "wrong"]);
        assert_ne!(o.status.code(), Some(0));
        assert!(
            stderr(&o).contains("Error response from daemon: "),
            "{}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("401 Unauthorized") || stderr(&o).contains("unauthorized"),
            "{}",
            stderr(&o)
        );
        let o = with_cfg(&["login", &reg.host, "-u", "alice", "-p", "pw"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("Login Succeeded"), "{}", stdout(&o));
        // The token server hands out a refresh token: berthd's POST /auth
        // answers it as IdentityToken and the CLI stores it instead of the
        // password, so the push and pull below can only authenticate with
        // the OAuth2 refresh-token grant. Basic auth has none.
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(cfg_dir.join("config.json")).unwrap()).unwrap();
        let idtok = cfg["auths"][&reg.host]["identitytoken"]
            .as_str()
            .unwrap_or("");
        if std::ptr::eq(reg, &token) {
            assert!(!idtok.is_empty(), "no identitytoken: {cfg}");
            let auth = cfg["auths"][&reg.host]["auth"].as_str().unwrap_or("");
            assert!(!auth.contains("YWxpY2U6cHc"), "password stored: {cfg}");
        } else {
            assert!(idtok.is_empty(), "{cfg}");
        }
        let o = with_cfg(&["push", &target]);
        assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains(&line), "{}", stdout(&o));
        d.ok(&["rmi", &target]);
        let o = with_cfg(&["pull", &target]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("Status: Downloaded newer image for {target}")),
            "{}",
            stdout(&o)
        );
        assert!(
            reg.leftover_uploads().is_empty(),
            "{:?}",
            reg.leftover_uploads()
        );
    }
    assert!(
        open.leftover_uploads().is_empty(),
        "{:?}",
        open.leftover_uploads()
    );
    drop((open, basic, token));
    d.finish();
}

/// (path, Range header) of each request a proxy forwarded, in order.
type RequestLog = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// A TCP proxy (one thread per connection, `Connection: close`) in front
/// of `upstream` that drops the connection after `cut_after` body bytes of
/// the first whole GET whose path ends with `cut_suffix`. Returns its
/// address and the (path, Range header) of every request.
fn cutting_proxy(upstream: String, cut_suffix: String, cut_after: usize) -> (String, RequestLog) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = l.local_addr().unwrap().to_string();
    let log: RequestLog = Arc::default();
    let cut_done = Arc::new(AtomicBool::new(false));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let (upstream, cut_suffix, log, cut_done) = (
                upstream.clone(),
                cut_suffix.clone(),
                log2.clone(),
                cut_done.clone(),
            );
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
                let mut head = Vec::new();
                let mut b = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = match c.read(&mut b) {
                        Ok(n) if n > 0 => n,
                        _ => return,
                    };
                    head.extend_from_slice(&b[..n]);
                    if head[0] == 0x16 {
                        // TLS first (berthd tries https, as dockerd does).
                        let _ = c.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
                        return;
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let mut lines: Vec<&str> = text.trim_end().split("\r\n").collect();
                let mut first = lines[0].split_whitespace();
                let method = first.next().unwrap_or("").to_string();
                let path = first.next().unwrap_or("").to_string();
                let range = lines
                    .iter()
                    .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                    .map(|l| l[6..].trim().to_string());
                log.lock().unwrap().push((path.clone(), range.clone()));
                lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
                let fwd = format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"));
                let Ok(mut u) = std::net::TcpStream::connect(&upstream) else {
                    return;
                };
                let _ = u.set_read_timeout(Some(Duration::from_secs(30)));
                if u.write_all(fwd.as_bytes()).is_err() {
                    return;
                }
                let cut = method == "GET"
                    && path.ends_with(&cut_suffix)
                    && range.is_none()
                    && !cut_done.swap(true, Ordering::SeqCst);
                let mut seen: Vec<u8> = Vec::new();
                let mut sent = 0usize;
                let mut b = vec![0u8; 16 << 10];
                loop {
                    let n = match u.read(&mut b) {
                        Ok(n) if n > 0 => n,
                        _ => break,
                    };
                    let mut chunk = &b[..n];
                    if cut {
                        if seen.len() < 64 << 10 {
                            seen.extend_from_slice(chunk);
                        }
                        if let Some(h) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            let limit = h + 4 + cut_after;
                            if sent + chunk.len() >= limit {
                                chunk = &chunk[..limit - sent];
                                let _ = c.write_all(chunk);
                                return; // dropped mid-body
                            }
                        }
                    }
                    if c.write_all(chunk).is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            });
        }
    });
    (host, log)
}

#[test]
fn docker_pull_resumes_a_dropped_layer_download_and_the_image_runs() {
    let d = Daemon::start();
    let dir = d.dir.path().to_path_buf();
    // Debian's docker-registry (distribution) answers Range with 206.
    let reg = Registry::start(&dir, "cut", None);
    let fixture = berth_testutil::fixture("busybox-oci");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", fixture.display()))
            .arg(format!("docker://{}/library/busybox:latest", reg.host)),
    );
    // skopeo pushes the layout's compressed layer unchanged.
    let layer = berth_testutil::oci_fixture("busybox-oci")
        .layer()
        .digest
        .clone();
    let layer = layer.as_str();
    let (proxy, log) = cutting_proxy(reg.host.clone(), layer.to_string(), 300_000);
    let name = format!("{proxy}/library/busybox");
    let out = d.ok(&["pull", &name]);
    assert!(
        out.contains(&format!(
            "{}: Pull complete",
            berth_testutil::short_id(layer)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}:latest")),
        "{out}"
    );
    let reqs: Vec<Option<String>> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.ends_with(layer))
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0], None);
    let from: u64 = reqs[1]
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|s| s.strip_suffix('-'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the resumed request has no Range: {reqs:?}"));
    assert!(from > 0 && from <= 300_000, "resumed from {from}");
    assert_eq!(d.ok(&["run", "--rm", &name, "echo", "resumed"]), "resumed");
    let ingest: Vec<_> = std::fs::read_dir(d.root().join("ingest"))
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(ingest.is_empty(), "{ingest:?}");
    let tmp_layers: Vec<_> = std::fs::read_dir(d.root().join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(tmp_layers.is_empty(), "{tmp_layers:?}");
    drop(reg);
    d.finish();
}
