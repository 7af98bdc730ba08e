//! Harness for the CLI's integration tests: a private daemon on a temp
//! socket with the busybox fixture loaded, and runners for the real
//! `berth` binary and the real `docker` CLI against that same daemon.
//!
//! The daemon is docker's own `dockerd` (Debian's docker.io) unless
//! `BERTH_CLI_TEST_DAEMON=berthd` (then `target/<profile>/berthd`, built
//! with `cargo build --workspace --bins`). Every wait is bounded; the daemon is
//! killed and its directory removed on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A daemon started for one test.
pub struct Daemon {
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    exec: Option<tempfile::TempDir>,
    /// `unix:///...` address to pass to `-H`.
    pub host: String,
    /// Which daemon: "dockerd" or "berthd".
    pub kind: String,
    /// For a berthd with networking: the tag its bridge, nft tables and
    /// veth prefix are named with (removed on drop).
    net_tag: Option<String>,
}

/// A finished command: stdout, stderr, exit code.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub out: String,
    pub err: String,
    pub code: i32,
}

fn wait_output(mut child: Child, timeout: Duration, what: &str) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return child.wait_with_output().expect("collect output"),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let o = child.wait_with_output().expect("collect output");
                panic!(
                    "{what} did not finish within {timeout:?}; stdout={:?} stderr={:?}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Runs a command with a bound; panics on timeout.
pub fn run_bounded(cmd: &mut Command, timeout: Duration, stdin: Option<&[u8]>) -> Run {
    let what = format!("{cmd:?}");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    if let Some(data) = stdin {
        use std::io::Write;
        let mut si = child.stdin.take().expect("stdin");
        si.write_all(data).expect("write stdin");
    }
    let o = wait_output(child, timeout, &what);
    Run {
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// The `berth` binary under test.
pub fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

fn workspace_target() -> PathBuf {
    // CARGO_BIN_EXE_berth is target/<profile>/berth
    berth_bin().parent().expect("profile dir").to_path_buf()
}

/// berthd (and berth-monitor beside it) in this test's target profile,
/// built or freshened once per test process: `cargo test -p berth` does not
/// build other packages' binaries.
pub fn berthd_bin() -> PathBuf {
    let bin = berth_testutil::build_workspace_bins(&workspace_target()).join("berthd");
    assert!(
        bin.is_file(),
        "{} missing after cargo build --workspace --bins",
        bin.display()
    );
    bin
}

impl Daemon {
    /// Starts the daemon chosen by `BERTH_CLI_TEST_DAEMON` (default
    /// dockerd) and loads `busybox-docker.tar` with `docker load`.
    pub fn start() -> Daemon {
        let kind = std::env::var("BERTH_CLI_TEST_DAEMON").unwrap_or_else(|_| "dockerd".into());
        Daemon::start_kind(&kind)
    }

    /// Starts `kind` ("dockerd" or "berthd") on a fresh socket and data
    /// root, and loads `busybox-docker.tar` with `docker load`.
    pub fn start_kind(kind: &str) -> Daemon {
        Daemon::start_kind_net(kind, false)
    }

    /// Like [`Daemon::start_kind`]; with `net`, a berthd gets networking
    /// of its own (bridge `<tag>br0`, a 10.2xx subnet and address pool, nft
    /// tables `berth-<tag>`, veth prefix `<tag>v`, all removed on drop)
    /// instead of `-b none`. dockerd has user-defined networks either way.
    pub fn start_kind_net(kind: &str, net: bool) -> Daemon {
        berth_testutil::require_root();
        let kind = kind.to_string();
        let dir = berth_testutil::tempdir();
        let sock = dir.path().join("d.sock");
        let log = std::fs::File::create(dir.path().join("daemon.log")).expect("log file");
        let mut net_tag = None;
        let mut cmd = match kind.as_str() {
            // berthd_bin builds berthd and berth-monitor: on a fresh
            // checkout `cargo test` builds neither binary for this package
            // `-b none` as dockerd below: parallel daemons must not share
            // the default bridge, its subnet and nft tables
            "berthd" if net => {
                let pid = std::process::id();
                let tag = format!("bc{:03}", pid % 1000);
                let n = 200 + pid % 40;
                let mut c = Command::new(berthd_bin());
                c.arg("-b")
                    .arg(format!("{tag}br0"))
                    .arg("--bip")
                    .arg(format!("10.{n}.0.1/24"))
                    .arg("--default-address-pool")
                    .arg(format!("base=10.{n}.64.0/18,size=24"))
                    .arg("--nft-table")
                    .arg(format!("berth-{tag}"))
                    .arg("--veth-prefix")
                    .arg(format!("{tag}v"));
                net_tag = Some(tag);
                c
            }
            "berthd" => {
                let mut c = Command::new(berthd_bin());
                c.args(["--bridge", "none"]);
                c
            }
            "dockerd" => {
                let mut c = Command::new("dockerd");
                c.arg("--pidfile").arg(dir.path().join("pid")).args([
                    "--bridge",
                    "none",
                    "--iptables=false",
                ]);
                c
            }
            other => panic!("BERTH_CLI_TEST_DAEMON={other}: want dockerd or berthd"),
        };
        // berthd puts per-container sockets under the exec root: keep it
        // short (UNIX socket paths are limited to 108 bytes)
        let exec = tempfile::Builder::new()
            .prefix("bt")
            .tempdir_in("/run")
            .expect("exec root in /run");
        cmd.arg("--data-root")
            .arg(dir.path().join("root"))
            .arg("--exec-root")
            .arg(exec.path())
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("start {kind}: {e} (apt-get install docker.io for dockerd)")
        });
        let mut d = Daemon {
            child: Some(child),
            host: format!("unix://{}", sock.display()),
            dir: Some(dir),
            exec: Some(exec),
            kind,
            net_tag,
        };
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if sock.exists()
                && d.docker(&["version", "--format", "{{.Server.Version}}"])
                    .code
                    == 0
            {
                break;
            }
            if let Some(st) = d
                .child
                .as_mut()
                .and_then(|c| c.try_wait().expect("try_wait"))
            {
                panic!("{} exited early ({st}): {}", d.kind, d.log());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer on {} in 40s: {}",
                d.kind,
                d.host,
                d.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let fx = berth_testutil::fixture("busybox-docker.tar");
        let r = d.docker(&["load", "-q", "-i", fx.to_str().expect("utf8 path")]);
        assert_eq!(r.code, 0, "docker load: {r:?}");
        d
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join("daemon.log")).ok())
            .unwrap_or_default()
    }

    /// The test's private directory.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    /// Runs `berth -H <daemon> args...` (60 s bound).
    pub fn berth(&self, args: &[&str]) -> Run {
        run_bounded(
            Command::new(berth_bin())
                .arg("-H")
                .arg(&self.host)
                .args(args),
            Duration::from_secs(60),
            None,
        )
    }

    /// Runs berth with bytes on stdin.
    pub fn berth_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        run_bounded(
            Command::new(berth_bin())
                .arg("-H")
                .arg(&self.host)
                .args(args),
            Duration::from_secs(60),
            Some(stdin),
        )
    }

    /// Runs `docker -H <daemon> args...` (60 s bound).
    pub fn docker(&self, args: &[&str]) -> Run {
        run_bounded(
            Command::new("docker").arg("-H").arg(&self.host).args(args),
            Duration::from_secs(60),
            None,
        )
    }

    /// Runs berth and asserts its stdout and exit code (for commands that
    /// change state, which cannot run twice through both CLIs).
    pub fn expect(&self, args: &[&str], out: &str, code: i32) -> Run {
        let b = self.berth(args);
        assert_eq!(
            (b.out.as_str(), b.code),
            (out, code),
            "berth {args:?}: {b:?}"
        );
        b
    }

    /// Runs the same command through both CLIs and asserts the same
    /// stdout, stderr (with "docker" for "berth") and exit code.
    pub fn same(&self, args: &[&str]) -> Run {
        // humanised times ("1 second ago") may tick between the two runs:
        // a read-only command is retried before it counts as a difference
        let norm = |s: &str| s.replace("berth", "docker");
        let mut last = None;
        for _ in 0..3 {
            let d = self.docker(args);
            let b = self.berth(args);
            if (norm(&b.out), norm(&b.err), b.code) == (d.out.clone(), d.err.clone(), d.code) {
                return b;
            }
            last = Some((b, d));
        }
        let (b, d) = last.expect("ran");
        assert_eq!(
            (norm(&b.out), norm(&b.err), b.code),
            (d.out.clone(), d.err.clone(), d.code),
            "berth {args:?} differs from docker (left berth, right docker)"
        );
        b
    }
}

impl Daemon {
    /// Container IDs this berthd has state of (records, run dirs, runtime
    /// state, pooled cgroups): whose cgroups a drop removes if left.
    fn known_ids(&self) -> Vec<String> {
        let (Some(dir), Some(exec)) = (&self.dir, &self.exec) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = [
            dir.path().join("root/containers"),
            exec.path().join("containers"),
            exec.path().join("runtime"),
            exec.path().join("cgroup-pool"),
        ]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let ids = if self.kind == "berthd" {
            self.known_ids()
        } else {
            Vec::new()
        };
        // Containers a test left go through the daemon first: a monitor
        // killed below would leave its container's cgroups behind.
        if self.child.is_some() {
            let h = &self.host;
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("ids=$(timeout -s KILL 10 docker -H {h} ps -aq); [ -z \"$ids\" ] || timeout -s KILL 30 docker -H {h} rm -f $ids >/dev/null 2>&1"))
                .status();
        }
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Monitors of containers just removed may still be tearing down
        // (their cgroups, their state): a bounded moment before SIGKILL.
        if let Some(exec) = &self.exec {
            let p = exec.path().to_string_lossy().into_owned();
            let deadline = Instant::now() + Duration::from_secs(5);
            while !berth_testutil::processes_containing(&p).is_empty() && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        for dir in [self.dir.take(), self.exec.take()].into_iter().flatten() {
            let p = dir.path().to_string_lossy().into_owned();
            for m in berth_testutil::mounts_containing(&p).iter().rev() {
                let _ = Command::new("umount").arg("-l").arg(m).status();
            }
            for pid in berth_testutil::processes_containing(&p) {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
            drop(dir);
        }
        // Whatever killed monitors left: empty cgroup dirs of this
        // daemon's containers and pool (deepest first; a busy one stays).
        for id in ids {
            let mut dirs = berth_testutil::cgroups_containing(&format!("/berth/{id}"));
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        if let Some(tag) = self.net_tag.take() {
            for l in berth_testutil::links_containing(&tag) {
                let _ = Command::new("ip").args(["link", "del", &l]).status();
            }
            for t in [format!("inet berth-{tag}"), format!("ip berth-{tag}-nat")] {
                let _ = Command::new("sh")
                    .arg("-c")
                    .arg(format!("nft delete table {t} 2>/dev/null"))
                    .status();
            }
        }
    }
}

/// Runs `argv` under a fresh pseudo-terminal (python3's pty module),
/// typing `script` items (`|`-separated; `@N` waits N seconds while
/// reading). Returns (output, exit code, terminal-restored).
pub fn pty(script: &str, argv: &[&str]) -> (String, i32, bool) {
    pty_within(script, argv, 20)
}

/// As [`pty`], with the command given `secs` seconds (after the script)
/// before it is killed (status -9): a pull that extracts a 120 MB image on
/// a loaded 2-core CI machine takes longer than 20 s.
pub fn pty_within(script: &str, argv: &[&str], secs: u64) -> (String, i32, bool) {
    const PY: &str = r#"
import os, pty, sys, time, termios, select, struct, fcntl
inp = sys.argv[1]; cmd = sys.argv[2:]
m, s = pty.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
before = termios.tcgetattr(s)
pid = os.fork()
if pid == 0:
    os.setsid(); fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    os.dup2(s, 0); os.dup2(s, 1); os.dup2(s, 2); os.close(m)
    os.execvp(cmd[0], cmd)
out = b""
def drain(t):
    global out
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([m], [], [], 0.05)
        if r:
            try: d = os.read(m, 4096)
            except OSError: return
            if not d: return
            out += d
for item in inp.split("|"):
    if item.startswith("@"): drain(float(item[1:])); continue
    os.write(m, item.encode().decode("unicode_escape").encode("latin1"))
deadline = time.time() + float(os.environ.get("PTY_SECS", "20"))
status = -1
while time.time() < deadline:
    drain(0.1)
    p, st = os.waitpid(pid, os.WNOHANG)
    if p: status = os.waitstatus_to_exitcode(st); break
else:
    os.kill(pid, 9); os.waitpid(pid, 0); status = -9
drain(0.2)
after = termios.tcgetattr(s)
sys.stdout.write(str(status) + "\n" + str(before == after) + "\n" + out.decode(errors="replace"))
"#;
    let r = run_bounded(
        Command::new("python3")
            .env("PTY_SECS", secs.to_string())
            .arg("-c")
            .arg(PY)
            .arg(script)
            .args(argv),
        Duration::from_secs(secs + 20),
        None,
    );
    assert_eq!(r.code, 0, "pty helper failed: {r:?}");
    let mut it = r.out.splitn(3, '\n');
    let code: i32 = it.next().unwrap_or("").parse().expect("status line");
    let restored = it.next() == Some("True");
    (it.next().unwrap_or("").to_string(), code, restored)
}

impl Daemon {
    /// Runs `berth -H <daemon> args...` with extra environment variables
    /// (e.g. a private `DOCKER_CONFIG`), and stdin bytes if given.
    pub fn berth_env(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
        let mut c = Command::new(berth_bin());
        c.arg("-H").arg(&self.host).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        run_bounded(&mut c, Duration::from_secs(120), stdin)
    }

    /// Runs `docker -H <daemon> args...` with extra environment variables.
    pub fn docker_env(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
        let mut c = Command::new("docker");
        c.arg("-H").arg(&self.host).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        run_bounded(&mut c, Duration::from_secs(120), stdin)
    }
}

/// berth-registry in this test's target profile, built or freshened once
/// per test process.
pub fn registry_bin() -> PathBuf {
    berth_testutil::build_workspace_bins(&workspace_target()).join("berth-registry")
}

/// A berth-registry server on a free loopback port with its own root,
/// killed and removed on drop.
pub struct Registry {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Registry {
    /// Starts `berth-registry serve` (or `berth registry serve` with
    /// `via_berth`), with `--htpasswd FILE` when given; waits for /v2/.
    pub fn start(htpasswd: Option<&Path>, via_berth: bool) -> Registry {
        let dir = berth_testutil::tempdir();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log");
        let mut cmd = if via_berth {
            let mut c = Command::new(berth_bin());
            c.arg("registry");
            c
        } else {
            Command::new(registry_bin())
        };
        cmd.args(["serve", "--listen", &addr, "--root"])
            .arg(dir.path().join("root"));
        if let Some(h) = htpasswd {
            cmd.arg("--htpasswd").arg(h);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log);
        let child = cmd.spawn().expect("start registry");
        let mut r = Registry {
            child: Some(child),
            dir,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&r.addr).is_err() {
            if let Some(st) = r
                .child
                .as_mut()
                .and_then(|c| c.try_wait().expect("try_wait"))
            {
                panic!("registry exited ({st}): {}", r.log());
            }
            assert!(
                Instant::now() < deadline,
                "registry not listening: {}",
                r.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Copies a fixture image into `repo:tag` with skopeo.
    pub fn put(&self, fixture_docker_tar: &str, repo_tag: &str) {
        let fx = berth_testutil::fixture(fixture_docker_tar);
        let r = run_bounded(
            Command::new("skopeo").args([
                "copy",
                "-q",
                "--dest-tls-verify=false",
                &format!("docker-archive:{}", fx.display()),
                &format!("docker://{}/{repo_tag}", self.addr),
            ]),
            Duration::from_secs(120),
            None,
        );
        assert_eq!(r.code, 0, "skopeo copy: {r:?}");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
