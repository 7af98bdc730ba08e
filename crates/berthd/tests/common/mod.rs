//! Test harness: a berthd on a private socket, data root and exec root,
//! driven by the real docker CLI. Every wait is bounded.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Per-command bound: docker run proxies SIGTERM, so kill with SIGKILL.
pub const CMD_TIMEOUT: &str = "60";

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub sock: PathBuf,
    pub child: Option<Child>,
    /// Extra berthd flags (`--registry-mirror ...`).
    pub args: Vec<String>,
}

fn target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_berthd"));
    exe.parent().expect("bin dir").to_path_buf()
}

/// The berth-monitor binary, built if this test run did not build it.
pub fn monitor_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_MONITOR") {
        return PathBuf::from(p);
    }
    // `cargo test -p berthd` builds berth-monitor's library only.
    let p = berth_testutil::build_workspace_bins(&target_dir()).join("berth-monitor");
    assert!(p.is_file(), "berth-monitor not found at {}", p.display());
    p
}

impl Daemon {
    /// Starts berthd in a fresh temp dir and waits for its socket.
    pub fn start() -> Daemon {
        Daemon::start_with(&[])
    }

    /// Starts berthd with extra flags.
    pub fn start_with(args: &[&str]) -> Daemon {
        berth_testutil::require_root();
        let dir = berth_testutil::tempdir();
        let sock = dir.path().join("berth.sock");
        let mut d = Daemon {
            dir,
            sock,
            child: None,
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        d.spawn();
        d
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// (Re)starts the daemon process on the same dirs.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_berthd"))
            .arg("--data-root")
            .arg(self.root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("--pidfile")
            .arg(self.dir.path().join("berthd.pid"))
            .args(&self.args)
            // Parallel daemons must not share berth0, its subnet and nft
            // tables: tests that want networking pass their own `-b`.
            .args(
                (!self.args.iter().any(|a| a == "-b" || a == "--bridge"))
                    .then_some(["-b", "none"])
                    .into_iter()
                    .flatten(),
            )
            .env("BERTH_MONITOR", monitor_bin())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn berthd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if UnixStream::connect(&self.sock).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL berthd (containers must survive).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM berthd and wait (bounded) for a clean exit.
    pub fn stop(&mut self) -> i32 {
        let Some(mut c) = self.child.take() else {
            return 0;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("berthd did not exit on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// Runs the docker CLI against this daemon (bounded by `timeout -s KILL`).
    pub fn docker(&self, args: &[&str]) -> Output {
        docker_at(&self.host(), args)
    }

    /// docker with stdin bytes.
    pub fn docker_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut c = Command::new("timeout")
            .args(["-s", "KILL", CMD_TIMEOUT, "docker", "-H", &self.host()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker");
        let mut stdin = c.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write stdin");
        drop(stdin);
        c.wait_with_output().expect("docker output")
    }

    /// docker that must succeed; returns trimmed stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed ({:?}): {}\n{}\n--- berthd log ---\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).trim_end().to_string()
    }

    pub fn load_busybox(&self) {
        let f = berth_testutil::fixture("busybox-docker.tar");
        let out = self.ok(&["load", "-i", f.to_str().expect("path")]);
        assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    }

    /// Runs the docker-py script `tests/py/<script>` (an independent client
    /// library) against this daemon with the busybox fixture's path, under
    /// a 180 s bound, and asserts it ends with "all checks passed".
    pub fn docker_py(&self, script: &str) {
        let have = Command::new("python3")
            .args(["-c", "import docker"])
            .status()
            .expect("python3");
        assert!(
            have.success(),
            "docker-py missing: scripts/install-deps.sh installs it (pip install docker)"
        );
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/py")
            .join(script);
        let tar = berth_testutil::fixture("busybox-docker.tar");
        let o = Command::new("timeout")
            .args(["-s", "KILL", "180", "python3"])
            .arg(&path)
            .arg(&self.sock)
            .arg(&tar)
            .output()
            .expect("run python");
        assert!(
            o.status.success(),
            "docker-py {script} failed:\n{}\n{}\n--- berthd log ---\n{}",
            stdout(&o),
            stderr(&o),
            self.log()
        );
        assert!(stdout(&o).contains("all checks passed"), "{}", stdout(&o));
    }

    /// A raw HTTP/1.1 request on the socket: (status, headers, body).
    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        http_unix(&self.sock, method, path, body)
    }

    /// Removes every container, stops the daemon, and asserts nothing of
    /// this test's is left: mounts, monitor processes, cgroups, state dirs.
    pub fn finish(mut self) {
        let all = self.ok(&["ps", "-aq", "--no-trunc"]);
        if !all.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(all.lines());
            self.ok(&args);
        }
        let ids: Vec<String> = std::fs::read_dir(self.root().join("containers"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(ids.is_empty(), "container state dirs left: {ids:?}");
        let pooled = self.pooled_ids();
        assert_eq!(self.stop(), 0, "berthd exit code");
        // A clean stop empties the cgroup pool (berth_engine::cgroup_pool).
        assert!(self.pooled_ids().is_empty(), "cgroup pool files left");
        for id in &pooled {
            let dirs = berth_testutil::cgroups_containing(&format!("/berth/{id}"));
            assert!(dirs.is_empty(), "pooled cgroup dirs left: {dirs:?}");
        }
        let needle = self.dir.path().to_string_lossy().into_owned();
        assert_no_leaks(&needle);
        for id in all.lines() {
            let dirs = || berth_testutil::cgroups_containing(&format!("/berth/{id}"));
            assert!(
                eventually(10, || dirs().is_empty()),
                "leaked cgroup dirs {:?}",
                dirs()
            );
        }
    }

    /// IDs in the daemon's cgroup pool (`<exec-root>/cgroup-pool/<id>`).
    pub fn pooled_ids(&self) -> Vec<String> {
        std::fs::read_dir(self.exec_root().join("cgroup-pool"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ids of the containers this daemon has state of (records, exec-root
    /// run dirs, runtime state).
    fn known_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = [
            self.root().join("containers"),
            self.exec_root().join("containers"),
            self.exec_root().join("runtime"),
            self.exec_root().join("cgroup-pool"),
        ]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// Runs the docker CLI against the daemon at `host` (`unix://...`; berthd
/// or dockerd), stdin closed, bounded by `timeout -s KILL`.
pub fn docker_at(host: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["-s", "KILL", CMD_TIMEOUT, "docker", "-H", host])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

/// The command line of process `pid` with NULs as spaces ("" when gone).
#[allow(dead_code)]
pub fn cmdline(pid: &str) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

pub fn assert_no_leaks(needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mounts = berth_testutil::mounts_containing(needle);
        let procs = berth_testutil::processes_containing(needle);
        if mounts.is_empty() && procs.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leaked mounts {mounts:?} / processes {procs:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // A failed test: take containers down so nothing outlives it.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("timeout -s KILL 30 docker -H {} rm -f $(timeout -s KILL 10 docker -H {} ps -aq) >/dev/null 2>&1", self.host(), self.host()))
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        // Monitors of the containers just removed are still tearing down
        // (their cgroups, their state): a SIGKILL then leaves cgroups
        // behind, so give them a bounded moment first.
        let ids = self.known_ids();
        let needle = self.dir.path().to_string_lossy().into_owned();
        eventually(5, || {
            berth_testutil::processes_containing(&needle).is_empty()
        });
        for p in berth_testutil::processes_containing(&needle) {
            let _ = Command::new("kill").arg("-9").arg(p.to_string()).status();
        }
        // Whatever a killed monitor left: empty cgroup dirs of this
        // daemon's containers (deepest first; rmdir fails on a busy one).
        for id in ids {
            let mut dirs = berth_testutil::cgroups_containing(&format!("/berth/{id}"));
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        for m in berth_testutil::mounts_containing(&self.dir.path().to_string_lossy())
            .iter()
            .rev()
        {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

/// One request on the API socket `sock` (berthd's or dockerd's), `Connection:
/// close`: (status, head, body with any chunked encoding undone).
#[allow(dead_code)]
pub fn http_unix(sock: &Path, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest.as_bytes())
    } else {
        rest.as_bytes().to_vec()
    };
    (status, head.to_string(), body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if n == 0 || b.len() < i + 2 + n {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[(i + 4 + n).min(b.len())..];
    }
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Polls `f` until true or `secs` elapse.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
