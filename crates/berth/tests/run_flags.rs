//! `run`/`create` flags against what the docker CLI does with them.
//!
//! Request parity: a recording stand-in daemon on a private socket answers
//! `/_ping` and `/version` and records every `POST /containers/create`
//! body (answering 500, so nothing is created); the same flags go through
//! the docker CLI and berth, and the Config/HostConfig fields the flags set
//! must be the same in both bodies. The flags' error texts and exit codes
//! are compared the same way. End to end (berthd, and Debian's dockerd for
//! reference): `--ulimit`, `--sysctl`, `--shm-size`, `--cidfile`,
//! `--group-add`, `--cpu-shares` seen from inside the container.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{berth_bin, run_bounded, Daemon, Run};
use serde_json::{json, Value};

/// The recording stand-in daemon (a thread per connection; the listener
/// thread ends with the test process).
struct Recorder {
    _dir: tempfile::TempDir,
    host: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

fn serve(conn: UnixStream, bodies: Arc<Mutex<Vec<Value>>>) {
    let mut w = conn.try_clone().expect("clone conn");
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut it = line.split(' ');
        let method = it.next().unwrap_or("").to_string();
        let target = it.next().unwrap_or("").to_string();
        let (mut len, mut chunked) = (0usize, false);
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut sz = String::new();
                r.read_line(&mut sz).expect("chunk size");
                let n = usize::from_str_radix(sz.trim(), 16).expect("chunk size");
                let mut chunk = vec![0; n + 2];
                r.read_exact(&mut chunk).expect("chunk");
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len, 0);
            r.read_exact(&mut body).expect("body");
        }
        let path = target.split('?').next().unwrap_or("");
        let (status, resp) = if path.ends_with("/_ping") {
            ("200 OK", "OK".to_string())
        } else if path.ends_with("/version") {
            (
                "200 OK",
                json!({"ApiVersion": "1.47", "MinAPIVersion": "1.24", "Version": "28.0.0",
                    "Os": "linux", "Arch": "amd64"})
                .to_string(),
            )
        } else if path.ends_with("/containers/create") {
            let v: Value = serde_json::from_slice(&body).expect("create body is JSON");
            bodies.lock().expect("lock").push(v);
            (
                "500 Internal Server Error",
                json!({"message": "recorded"}).to_string(),
            )
        } else {
            (
                "500 Internal Server Error",
                json!({"message": format!("unexpected {method} {target}")}).to_string(),
            )
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nApi-Version: 1.47\r\nOstype: linux\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            resp.len()
        );
        let mut out = head.into_bytes();
        if method != "HEAD" {
            out.extend_from_slice(resp.as_bytes());
        }
        if w.write_all(&out).is_err() {
            return;
        }
    }
}

impl Recorder {
    fn start() -> Recorder {
        let dir = tempfile::Builder::new()
            .prefix("runflags")
            .tempdir_in("/var/tmp")
            .expect("temp dir");
        let sock = dir.path().join("d.sock");
        let l = UnixListener::bind(&sock).expect("bind");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = bodies.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let b = b.clone();
                std::thread::spawn(move || serve(conn, b));
            }
        });
        Recorder {
            host: format!("unix://{}", sock.display()),
            _dir: dir,
            bodies,
        }
    }

    fn cli(&self, bin: &str, args: &[&str]) -> Run {
        run_bounded(
            Command::new(bin).arg("-H").arg(&self.host).args(args),
            Duration::from_secs(30),
            None,
        )
    }

    /// Runs `create <args>` through one CLI and returns its create body.
    fn body(&self, bin: &str, args: &[&str]) -> Value {
        let before = self.bodies.lock().expect("lock").len();
        let mut argv = vec!["create"];
        argv.extend_from_slice(args);
        let r = self.cli(bin, &argv);
        let bodies = self.bodies.lock().expect("lock");
        assert_eq!(
            bodies.len(),
            before + 1,
            "{bin} {argv:?} sent no create request: {r:?}"
        );
        assert!(r.err.contains("recorded"), "{bin} {argv:?}: {r:?}");
        bodies[before].clone()
    }
}

fn berth() -> String {
    berth_bin().to_str().expect("utf8").to_string()
}

/// The Config and HostConfig fields the flags under test set.
const CONFIG_KEYS: &[&str] = &[
    "Hostname",
    "Domainname",
    "ExposedPorts",
    "Healthcheck",
    "Labels",
    "StopSignal",
    "StopTimeout",
    "Image",
];
const HOST_KEYS: &[&str] = &[
    "BlkioWeight",
    "CgroupParent",
    "CgroupnsMode",
    "ContainerIDFile",
    "CpuPeriod",
    "CpuQuota",
    "CpuShares",
    "CpusetCpus",
    "CpusetMems",
    "DeviceCgroupRules",
    "DeviceRequests",
    "Devices",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "GroupAdd",
    "Init",
    "IpcMode",
    "LogConfig",
    "MemoryReservation",
    "MemorySwap",
    "MemorySwappiness",
    "OomKillDisable",
    "OomScoreAdj",
    "PidMode",
    "RestartPolicy",
    "ShmSize",
    "Sysctls",
    "UTSMode",
    "Ulimits",
    "UsernsMode",
    "VolumesFrom",
];

/// null and an empty list or map are the same request to a daemon (Go's
/// decoder gives an empty slice or map either way)
fn norm(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Object(o) if o.is_empty() => Value::Null,
        v => v.clone(),
    }
}

fn assert_same_request(rec: &Recorder, args: &[&str]) {
    let d = rec.body("docker", args);
    let b = rec.body(&berth(), args);
    for k in CONFIG_KEYS {
        assert_eq!(
            norm(&b[k]),
            norm(&d[k]),
            "Config.{k} for {args:?} (left berth, right docker)"
        );
    }
    for k in HOST_KEYS {
        assert_eq!(
            norm(&b["HostConfig"][k]),
            norm(&d["HostConfig"][k]),
            "HostConfig.{k} for {args:?} (left berth, right docker)"
        );
    }
}

#[test]
fn create_requests_match_the_docker_cli() {
    let rec = Recorder::start();
    let dir = tempfile::Builder::new()
        .prefix("runflags")
        .tempdir_in("/var/tmp")
        .expect("temp dir");
    let lf = dir.path().join("labels");
    std::fs::write(&lf, "a=1\n# comment\n\n  b=2\nbare\nz=\n").expect("label file");
    let lf = lf.to_str().expect("utf8");
    let cid = dir.path().join("cid");
    let cid = cid.to_str().expect("utf8");
    let sets: &[&[&str]] = &[
        &["busybox"],
        &[
            "--ulimit",
            "nofile=10:20",
            "--ulimit",
            "core=5",
            "--ulimit",
            "nofile=11:21",
            "--ulimit",
            "stack=1:-1",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmax=1",
            "--sysctl",
            "fs.mqueue.msg_max=12",
            "--shm-size",
            "64m",
            "busybox",
        ],
        &[
            "--pid",
            "host",
            "--ipc",
            "private",
            "--uts",
            "host",
            "--userns",
            "host",
            "--cgroupns",
            "private",
            "--group-add",
            "10",
            "--group-add",
            "audio",
            "busybox",
        ],
        &["--pid", "container:x", "--ipc", "shareable", "busybox"],
        &[
            "-c",
            "512",
            "--cpuset-cpus",
            "0-1",
            "--cpuset-mems",
            "0",
            "--cpu-period",
            "100000",
            "--cpu-quota",
            "-1",
            "--memory-swap",
            "-1",
            "--memory-reservation",
            "32m",
            "--memory-swappiness",
            "10",
            "--oom-kill-disable",
            "--oom-score-adj",
            "-5",
            "--blkio-weight",
            "300",
            "--cgroup-parent",
            "/foo",
            "busybox",
        ],
        &["--memory-swap", "1g", "--cpu-shares", "2", "busybox"],
        &[
            "--log-driver",
            "json-file",
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "bare",
            "--log-opt",
            "max-size=2m",
            "--volumes-from",
            "a",
            "--volumes-from",
            "b:ro",
            "busybox",
        ],
        &["--log-opt", "max-file=2", "busybox"],
        &[
            "--device",
            "/dev/null",
            "--device",
            "/dev/zero:/dev/z:r",
            "--device",
            "/dev/full:rw",
            "--device",
            "/dev/a/:/b/",
            "--device",
            "/dev/a/./b/",
            "--device",
            "/dev/a:/b/c/..:mw",
            "--device",
            "vendor.com/gpu=all",
            "--device-cgroup-rule",
            "c 1:3 rwm",
            "--device-cgroup-rule",
            "a *:* m",
            "busybox",
        ],
        &["--device", "nvidia.com/gpu=0", "busybox"],
        &[
            "--health-cmd",
            "curl -f http://localhost/ || exit 1",
            "--health-interval",
            "1m30s",
            "--health-retries",
            "3",
            "--health-start-period",
            "1.5s",
            "--health-timeout",
            "100ms",
            "--health-start-interval",
            "2s",
            "busybox",
        ],
        &["--health-interval", "500us", "busybox"],
        &["--health-retries", "2", "--health-timeout", "1h", "busybox"],
        &["--no-healthcheck", "busybox"],
        &[
            "--expose",
            "80",
            "--expose",
            "90-91/udp",
            "-h",
            "hn",
            "--domainname",
            "dn.example",
            "--init",
            "--stop-signal",
            "SIGINT",
            "--stop-timeout",
            "3",
            "--restart",
            "on-failure:3",
            "--dns",
            "1.1.1.1",
            "--dns-search",
            "x.example",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "a:1.2.3.4",
            "busybox",
        ],
        &[
            "-l",
            "a=b",
            "-l",
            "c",
            "--label-file",
            lf,
            "-l",
            "z=last",
            "busybox",
        ],
        &["--cidfile", cid, "busybox"],
    ];
    for args in sets {
        assert_same_request(&rec, args);
        // a failed create leaves no ID file behind (docker removes it)
        assert!(!std::path::Path::new(cid).exists(), "{args:?}");
    }
}

/// Error text and exit status of bad values, as the docker CLI's (its
/// flag errors with the usage, its `docker: ...` parse errors, 125).
#[test]
fn flag_errors_match_the_docker_cli() {
    let rec = Recorder::start();
    let dir = tempfile::Builder::new()
        .prefix("runflags")
        .tempdir_in("/var/tmp")
        .expect("temp dir");
    let lf = dir.path().join("labels");
    std::fs::write(&lf, "a=1\nc d=1\n").expect("label file");
    let lf = lf.to_str().expect("utf8");
    let sets: &[&[&str]] = &[
        &["--ulimit", "nofile"],
        &["--ulimit", "bad=1"],
        &["--ulimit", "nofile=x"],
        &["--ulimit", "nofile=1:2:3"],
        &["--ulimit", "nofile=5:2"],
        &["--ulimit", "nofile=1:x"],
        &["--sysctl", "kernel.foo=1"],
        &["--sysctl", "net.x"],
        &["--shm-size", "x"],
        &["--shm-size", "-1"],
        &["--memory-reservation", "1q"],
        &["--memory-swap", "x"],
        &["--pid", "foo"],
        &["--pid", "container:"],
        &["--uts", "foo"],
        &["--userns", "foo"],
        &["--userns", "private"],
        &["--cgroupns", "foo"],
        &["-c", "x"],
        &["--cpu-period", "x"],
        &["--cpu-quota", "1.5"],
        &["--memory-swappiness", "200"],
        &["--memory-swappiness", "-2"],
        &["--log-driver", "none", "--log-opt", "a=b"],
        &["--blkio-weight", "70000"],
        &["--blkio-weight", "x"],
        &["--device-cgroup-rule", "x"],
        &["--device-cgroup-rule", "c 1:3 rwx"],
        &["--device", "a:b:c:d"],
        &["--device", "/dev/a:b"],
        &["--device", "/dev/a:/b:x"],
        &["--device", "/dev/a:/b:rr"],
        &["--device", "/dev/a:"],
        &["--device", "rel"],
        &["--health-interval", "x"],
        &["--health-interval", "1"],
        &["--health-interval", "1x"],
        &["--health-interval", "-1s"],
        &["--health-timeout", "-1s"],
        &["--health-start-period", "-1s"],
        &["--health-start-interval", "-1s"],
        &["--health-retries", "-1"],
        &["--health-retries", "x"],
        &["--no-healthcheck", "--health-cmd", "true"],
        &["--no-healthcheck", "--health-retries", "1"],
        &["-l", "=x"],
        &["--label-file", "/nonexistent/labels"],
        &["--label-file", lf],
        &["--stop-timeout", "x"],
    ];
    let norm = |s: &str| s.replace("berth", "docker");
    for verb in ["create", "run"] {
        for args in sets {
            let mut argv = vec![verb];
            argv.extend_from_slice(args);
            argv.push("busybox");
            let d = rec.cli("docker", &argv);
            let b = rec.cli(&berth(), &argv);
            assert_eq!(
                (norm(&b.err), b.code),
                (d.err.clone(), d.code),
                "{argv:?} (left berth, right docker)"
            );
            assert_eq!(b.code, 125, "{argv:?}");
        }
    }
    assert!(rec.bodies.lock().expect("lock").is_empty());
}

/// `--cidfile` naming a file that exists, or one that cannot be made:
/// docker's errors (plain with status 1 for create, `docker: ...` with
/// 125 for run), nothing sent, the existing file left as it was.
#[test]
fn cidfile_errors_match_the_docker_cli() {
    let rec = Recorder::start();
    let dir = tempfile::Builder::new()
        .prefix("runflags")
        .tempdir_in("/var/tmp")
        .expect("temp dir");
    let cid = dir.path().join("cid");
    std::fs::write(&cid, "keep").expect("cid file");
    let cid = cid.to_str().expect("utf8");
    let missing: PathBuf = dir.path().join("no/such/dir/cid");
    let missing = missing.to_str().expect("utf8");
    let norm = |s: &str| s.replace("berth", "docker");
    for verb in ["create", "run"] {
        for path in [cid, missing] {
            let argv = [verb, "--cidfile", path, "busybox"];
            let d = rec.cli("docker", &argv);
            let b = rec.cli(&berth(), &argv);
            assert_eq!(
                (norm(&b.err), b.code),
                (d.err.clone(), d.code),
                "{argv:?} (left berth, right docker)"
            );
        }
    }
    assert_eq!(std::fs::read_to_string(cid).expect("cid"), "keep");
    assert!(rec.bodies.lock().expect("lock").is_empty());
}

macro_rules! both {
    ($($name:ident),*) => {
        mod berthd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )* }
        mod dockerd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )* }
    };
}
both!(limits_reach_the_container, cidfile_holds_the_id);

fn ok(r: &Run, what: &str) -> String {
    assert_eq!(r.code, 0, "{what}: {r:?}");
    r.out.clone()
}

/// `--ulimit`, `--sysctl`, `--shm-size`, `--group-add`, `--cpu-shares`
/// as the container sees them, through berth (and the docker CLI on the
/// same daemon agreeing).
fn limits_reach_the_container(d: &Daemon) {
    let script = "ulimit -n; ulimit -Hn; cat /proc/sys/kernel/shmmax; \
        cat /proc/sys/net/ipv4/ip_forward; df -k /dev/shm | tail -1 | awk '{print $2}'; id -G; \
        cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight";
    let argv = [
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1000:2000",
        "--sysctl",
        "kernel.shmmax=123456789",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--shm-size",
        "2m",
        "--group-add",
        "123",
        "--group-add",
        "nogroup",
        "-c",
        "512",
        "busybox",
        "sh",
        "-c",
        script,
    ];
    let b = ok(&d.berth(&argv), "berth run");
    let lines: Vec<&str> = b.lines().collect();
    assert_eq!(
        lines[..5],
        ["1000", "2000", "123456789", "1", "2048"],
        "{}: {b}",
        d.kind
    );
    let groups: Vec<&str> = lines[5].split(' ').collect();
    // the fixture's /etc/group has root and nogroup (65534)
    assert!(
        groups.contains(&"123") && groups.contains(&"65534"),
        "{}: groups {groups:?}",
        d.kind
    );
    if std::path::Path::new("/sys/fs/cgroup/cpu/cpu.shares").exists() {
        assert_eq!(lines[6], "512", "{}: {b}", d.kind);
    } else {
        assert_ne!(
            lines[6], "100",
            "{}: cpu.weight at its default: {b}",
            d.kind
        );
    }
    let dk = ok(&d.docker(&argv), "docker run");
    assert_eq!(b, dk, "{}: berth and docker differ", d.kind);
}

/// `create --cidfile` writes the new ID (no newline) and a second create
/// with the same file fails as docker's does, with no second container.
fn cidfile_holds_the_id(d: &Daemon) {
    let dir = tempfile::Builder::new()
        .prefix("runflags")
        .tempdir_in("/var/tmp")
        .expect("temp dir");
    let cid = dir.path().join("cid");
    let cid = cid.to_str().expect("utf8");
    let id = ok(
        &d.berth(&["create", "--cidfile", cid, "busybox", "true"]),
        "create",
    );
    assert_eq!(std::fs::read_to_string(cid).expect("cid"), id.trim());
    let b = d.berth(&["create", "--cidfile", cid, "busybox", "true"]);
    let dk = d.docker(&["create", "--cidfile", cid, "busybox", "true"]);
    assert_eq!(
        (b.err.replace("berth", "docker"), b.code),
        (dk.err, dk.code),
        "{}",
        d.kind
    );
    let b = d.berth(&["run", "--cidfile", cid, "busybox", "true"]);
    assert_eq!(b.code, 125, "{b:?}");
    let all = ok(&d.berth(&["ps", "-aq", "--no-trunc"]), "ps");
    assert_eq!(all.trim(), id.trim(), "{}: one container", d.kind);
    // `run --cidfile` (with --rm the file stays, as docker's)
    std::fs::remove_file(cid).expect("rm cid");
    let out = ok(
        &d.berth(&["run", "--rm", "--cidfile", cid, "busybox", "echo", "hi"]),
        "run",
    );
    assert_eq!(out, "hi\n");
    assert_eq!(std::fs::read_to_string(cid).expect("cid").len(), 64);
    ok(&d.berth(&["rm", "-f", id.trim()]), "rm");
}
