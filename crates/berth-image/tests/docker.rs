//! Interoperability with the real Docker: a private dockerd (Debian's
//! docker.io; no bridge, no iptables, its own roots) loads what Berth saves
//! and runs it, and Berth loads what `docker save` writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_image::ImageService;
use berth_testutil::fixture;

struct Dockerd {
    child: Child,
    sock: PathBuf,
    dir: PathBuf,
}

impl Dockerd {
    fn start(dir: &Path) -> Dockerd {
        fs::create_dir_all(dir).unwrap();
        let sock = dir.join("docker.sock");
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("root"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("pid"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .expect("dockerd must be installed (scripts/install-deps.sh installs docker.io)");
        let d = Dockerd {
            child,
            sock,
            dir: dir.to_path_buf(),
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if d.docker(&["version"]).status.success() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "dockerd did not answer in 30 s: {}",
            fs::read_to_string(dir.join("log")).unwrap_or_default()
        );
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .output()
            .expect("run docker")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // dockerd's own mounts under its root, if it left any
        for m in berth_testutil::mounts_containing(&self.dir.to_string_lossy()) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

#[test]
fn real_docker_loads_and_runs_what_berth_saves_and_berth_loads_docker_save() {
    berth_testutil::require_root();
    let tmp = berth_testutil::tempdir();
    let s = ImageService::open(&tmp.path().join("berth")).unwrap();
    s.load_path(&fixture("busybox-oci"), &mut |_| {}).unwrap();
    let bb = berth_testutil::oci_fixture("busybox-oci");
    let id = s.resolve(berth_testutil::short_id(&bb.id)).unwrap();
    assert_eq!(id.to_string(), bb.id);
    s.tag(&id.to_string(), "localhost:5000/team/bb:v1").unwrap();
    s.tag(&id.to_string(), "busybox").unwrap();
    let saved = tmp.path().join("saved.tar");
    s.save(
        &["busybox", "localhost:5000/team/bb:v1"],
        fs::File::create(&saved).unwrap(),
    )
    .unwrap();

    let d = Dockerd::start(&tmp.path().join("docker"));
    let out = d.ok(&["load", "-i", &saved.display().to_string()]);
    assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    assert!(
        out.contains("Loaded image: localhost:5000/team/bb:v1"),
        "{out}"
    );
    let docker_id = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        "localhost:5000/team/bb:v1",
    ]);
    assert_eq!(docker_id.trim(), id.to_string(), "same image ID in Docker");
    let ran = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "echo",
        "ran in docker",
    ]);
    assert_eq!(ran.trim(), "ran in docker");

    let theirs = tmp.path().join("docker-save.tar");
    d.ok(&[
        "save",
        "-o",
        &theirs.display().to_string(),
        "localhost:5000/team/bb:v1",
    ]);
    drop(d);
    let s2 = ImageService::open(&tmp.path().join("berth2")).unwrap();
    let loaded = s2.load_path(&theirs, &mut |_| {}).unwrap();
    assert_eq!(
        loaded[0].to_string(),
        "Loaded image: localhost:5000/team/bb:v1"
    );
    assert_eq!(loaded[0].id, id);
    assert!(
        berth_testutil::mounts_containing(&tmp.path().to_string_lossy()).is_empty(),
        "no mounts left"
    );
}
