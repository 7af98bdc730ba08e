//! `docker run --mount type=volume,...,volume-opt=...,volume-label=...`
//! (`HostConfig.Mounts[].VolumeOptions.DriverConfig` and `.Labels`): a
//! named volume that does not exist yet is created with those local
//! driver options and labels, an existing one keeps its own, a driver
//! other than `local` is refused in dockerd's words. The same docker CLI
//! commands run against berthd and against Debian's dockerd (docker.io),
//! whose answers are the reference.

mod common;

use common::*;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A daemon the docker CLI talks to: its `-H` and a way to run commands.
trait Target {
    fn host(&self) -> String;
    fn run(&self, args: &[&str]) -> Output {
        docker_at(&self.host(), args)
    }
    fn must(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{} docker {args:?}: {}{}",
            self.host(),
            stdout(&o),
            stderr(&o)
        );
        stdout(&o).trim_end().to_string()
    }
}

impl Target for Daemon {
    fn host(&self) -> String {
        Daemon::host(self)
    }
}

/// A private dockerd (no bridge, no iptables) on a temp dir.
struct Dockerd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Target for Dockerd {
    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("d.sock").display())
    }
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = berth_testutil::tempdir();
        let exec = format!("/run/mvo-{}", std::process::id());
        let log = std::fs::File::create(dir.path().join("dockerd.log")).expect("log");
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.path().join("root"))
            .arg("--exec-root")
            .arg(&exec)
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.path().join("d.sock").display()))
            .args(["--bridge", "none", "--iptables=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dockerd (apt-get install docker.io)");
        let d = Dockerd { dir, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !d.run(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "dockerd not ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        let f = berth_testutil::fixture("busybox-docker.tar");
        d.must(&["load", "-i", f.to_str().expect("path")]);
        d
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "timeout -s KILL 30 docker -H {h} rm -f $(timeout -s KILL 10 docker -H {h} ps -aq) >/dev/null 2>&1",
                h = self.host()
            ))
            .status();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(format!("/run/mvo-{}", std::process::id()));
    }
}

/// What the commands show on one daemon, compared between the two.
fn observe(t: &dyn Target) -> Vec<String> {
    let mut seen = Vec::new();
    // A missing volume: created as a tmpfs with the options and labels.
    let mounts = t.must(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=mvo-tmp,dst=/x,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m,volume-label=mvo.a=b,volume-label=mvo.c=",
        "busybox",
        "grep",
        " /x ",
        "/proc/mounts",
    ]);
    let fields: Vec<&str> = mounts.split_whitespace().collect();
    assert_eq!(fields[..3], ["tmpfs", "/x", "tmpfs"], "{mounts}");
    assert!(fields[3].contains("size=1024k"), "{mounts}");
    seen.push(fields[..3].join(" "));
    let inspect = |name: &str| {
        t.must(&[
            "volume",
            "inspect",
            "-f",
            "{{.Driver}} {{json .Labels}} {{json .Options}}",
            name,
        ])
    };
    seen.push(inspect("mvo-tmp"));
    // An existing volume keeps what it has: no tmpfs, no labels.
    t.must(&["volume", "create", "mvo-plain"]);
    let mounts = t.must(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=mvo-plain,dst=/x,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=mvo.x=y",
        "busybox",
        "grep",
        " /x ",
        "/proc/mounts",
    ]);
    assert!(!mounts.starts_with("tmpfs "), "{mounts}");
    // (Empty either way: dockerd 20.10 prints null where berthd has {}.)
    seen.push(t.must(&[
        "volume",
        "inspect",
        "-f",
        "{{.Driver}} labels:{{range $k, $v := .Labels}}{{$k}} {{end}}options:{{range $k, $v := .Options}}{{$k}} {{end}}",
        "mvo-plain",
    ]));
    // Another driver: refused (a 404: without `--pull never` the CLI
    // would take it for a missing image and try a pull).
    let o = t.run(&[
        "create",
        "--pull",
        "never",
        "--mount",
        "type=volume,src=mvo-drv,dst=/x,volume-driver=mvo-nope",
        "busybox",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    let want =
        "create mvo-drv: error looking up volume plugin mvo-nope: plugin \"mvo-nope\" not found";
    assert!(err.contains(want), "{}: {err}", t.host());
    seen.push(want.into());
    assert!(!t
        .must(&["volume", "ls", "-q"])
        .lines()
        .any(|l| l == "mvo-drv"));
    // Anonymous with options: a tmpfs too.
    let mounts = t.must(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,dst=/y,volume-opt=type=tmpfs,volume-opt=device=tmpfs",
        "busybox",
        "grep",
        " /y ",
        "/proc/mounts",
    ]);
    assert!(mounts.starts_with("tmpfs /y tmpfs "), "{mounts}");
    t.must(&["volume", "rm", "mvo-tmp", "mvo-plain"]);
    seen
}

#[test]
fn mount_volume_options_create_missing_volumes_like_dockerd() {
    let d = Daemon::start();
    d.load_busybox();
    let berth = observe(&d);
    let have_dockerd = Command::new("dockerd")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if have_dockerd {
        let reference = observe(&Dockerd::start());
        assert_eq!(berth, reference);
    } else {
        eprintln!("dockerd not installed: berthd checked on its own");
    }
    d.finish();
}
