//! Pull progress as docker's clients see it (issue 6): the Debian image
//! pulled from berth-registry by docker-py's streamed pull and by the
//! docker CLI under a real pseudo-terminal, through berthd and, with the
//! same checks (tests/py/pull_progress.py), through Debian's dockerd:
//! dockerd's per-layer statuses in dockerd's order, Downloading and
//! Extracting with byte counts and Docker's bars, and the CLI drawing the
//! Extracting bar.

mod common;
use common::*;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGTERM, then waited for) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_host() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

fn wait_listening(host: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(host).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {host}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_script(host: &str, image: &str, who: &str, log: &dyn Fn() -> String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/pull_progress.py");
    // dockerd is the reference: it may skip intermediate statuses under
    // load (see the script).
    let mode = if who == "dockerd" {
        "reference"
    } else {
        "berthd"
    };
    let o = Command::new("timeout")
        .args(["-s", "KILL", "300", "python3", script, host, image, mode])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        o.status.success() && stdout(&o).contains("all checks passed"),
        "pull_progress.py against {who}:\n{}\n{}\n--- {who} log ---\n{}",
        stdout(&o),
        stderr(&o),
        log()
    );
}

/// Debian's dockerd on a private data root, exec root and socket under
/// `dir`, no bridge, no iptables.
fn start_dockerd(dir: &Path) -> (Proc, String) {
    let sock = dir.join("d.sock");
    let host = format!("unix://{}", sock.display());
    let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
    let child = Command::new("dockerd")
        .arg("--data-root")
        .arg(dir.join("droot"))
        .arg("--exec-root")
        .arg(dir.join("dexec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .args(["-H", &host])
        .args(["--bridge", "none", "--iptables=false", "--ip6tables=false"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn dockerd (apt-get install docker.io)");
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new("timeout")
            .args(["-s", "KILL", "20", "docker", "-H", &host, "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return (p, host);
        }
        assert!(
            Instant::now() < deadline,
            "dockerd not ready: {}",
            std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn pull_progress_like_dockerd_for_docker_py_and_the_cli() {
    let d = Daemon::start();
    let dir = d.dir.path().to_path_buf();
    let bin = berth_testutil::build_workspace_bins(
        Path::new(env!("CARGO_BIN_EXE_berthd"))
            .parent()
            .expect("bin dir"),
    )
    .join("berth-registry");
    let reg_host = free_host();
    let reg_log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let reg = Proc(
        Command::new(bin)
            .args(["serve", "--listen", &reg_host, "--root"])
            .arg(dir.join("registry-root"))
            .stdin(Stdio::null())
            .stdout(reg_log.try_clone().unwrap())
            .stderr(reg_log)
            .spawn()
            .expect("spawn berth-registry"),
    );
    wait_listening(&reg_host, "berth-registry");
    let image = format!("{reg_host}/progress/debian:latest");
    let fixture = berth_testutil::fixture("debian-oci");
    let o = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "120",
            "skopeo",
            "copy",
            "-q",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:{}:latest", fixture.display()))
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo");
    assert!(o.status.success(), "skopeo copy: {}", stderr(&o));

    run_script(&d.host(), &image, "berthd", &|| d.log());

    let ddir = berth_testutil::tempdir();
    {
        let (_dockerd, host) = start_dockerd(ddir.path());
        let dlog = ddir.path().join("dockerd.log");
        run_script(&host, &image, "dockerd", &|| {
            std::fs::read_to_string(&dlog).unwrap_or_default()
        });
    }
    drop(reg);
    d.finish();
}
