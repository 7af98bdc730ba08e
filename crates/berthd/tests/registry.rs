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
    let digest = "sha256:bd124fd52df3158073e3332d068237e633c2cc0ee818793af53de33c796a81d2";
    let name = format!("{}/library/busybox", open.host);

    // pull: dockerd's lines, then the image runs.
    let out = d.ok(&["pull", &name]);
    assert!(
        out.contains("latest: Pulling from library/busybox"),
        "{out}"
    );
    assert!(out.contains("7a8bbac7ec7a: Pull complete"), "{out}");
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
        out.contains(&format!("v1: digest: {digest} size: 349")),
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
    assert!(
        out.contains("ID sha256:a8dd73bd7c7fc2fa15f80bc8a866069eef552daf1c6e658a0b66d261cf232ba8"),
        "{out}"
    );
    assert!(
        out.contains("@sha256:bd124fd52df3158073e3332d068237e633c2cc0ee818793af53de33c796a81d2"),
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
