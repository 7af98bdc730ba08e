//! End to end: berthd on a private socket and data root, driven by the
//! real docker CLI (client 28), checking output, exit codes, JSON fields,
//! and that nothing leaks.

mod common;
use common::*;

#[test]
fn system_endpoints_and_errors() {
    let d = Daemon::start();
    let v = d.ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}} {{.Server.Arch}}",
    ]);
    assert_eq!(v, "1.47 1.24 linux amd64");
    assert_eq!(
        d.ok(&[
            "info",
            "--format",
            "{{.Driver}} {{.LoggingDriver}} {{.OSType}}"
        ]),
        "overlay2 json-file linux"
    );
    let (st, head, body) = d.http("GET", "/_ping", b"");
    assert_eq!(st, 200);
    assert_eq!(body, b"OK");
    assert!(
        head.to_ascii_lowercase().contains("api-version: 1.47"),
        "{head}"
    );
    let (st, _, body) = d.http("HEAD", "/v1.24/_ping", b"");
    assert_eq!((st, body.len()), (200, 0));
    let (st, _, body) = d.http("GET", "/v1.12/version", b"");
    assert_eq!(st, 400);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json error");
    assert_eq!(v["message"], "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version");
    let (st, _, body) = d.http("GET", "/v1.99/version", b"");
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));
    let (st, _, body) = d.http("GET", "/v1.47/nope", b"");
    assert_eq!(st, 404);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).expect("json")["message"],
        "page not found"
    );
    let (st, _, body) = d.http("GET", "/containers/nonexistent/json", b"");
    assert_eq!(st, 404);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).expect("json")["message"],
        "No such container: nonexistent"
    );
    let o = d.docker(&["inspect", "--type", "container", "nonexistent"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such container: nonexistent"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["image", "inspect", "nosuchimage"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("No such image: nosuchimage"),
        "{}",
        stderr(&o)
    );
    d.finish();
}

#[test]
fn images_load_list_inspect_tag_save_import_rmi() {
    let d = Daemon::start();
    d.load_busybox();
    let imgs = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(imgs.lines().any(|l| l == "busybox:latest"), "{imgs}");
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    d.ok(&["tag", "busybox", "mybox:v1"]);
    assert_eq!(d.ok(&["image", "inspect", "-f", "{{.Id}}", "mybox:v1"]), id);
    assert!(!d.ok(&["history", "-q", "busybox"]).is_empty());
    let tar = d.dir.path().join("save.tar");
    d.ok(&["save", "-o", tar.to_str().expect("path"), "mybox:v1"]);
    assert!(std::fs::metadata(&tar).expect("saved").len() > 100_000);
    let rm = d.ok(&["rmi", "mybox:v1"]);
    assert!(rm.contains("Untagged: mybox:v1"), "{rm}");
    // import a rootfs tar with a change
    let rootfs = berth_testutil::fixture("busybox-rootfs.tar");
    let out = d.ok(&[
        "import",
        "-c",
        "CMD [\"/bin/echo\", \"imported\"]",
        rootfs.to_str().expect("path"),
        "imported:latest",
    ]);
    assert!(out.starts_with("sha256:"), "{out}");
    assert_eq!(d.ok(&["run", "--rm", "imported"]), "imported");
    // pull from a registry nobody serves: dockerd's transport error
    // (pulls from real registries: tests/registry.rs)
    let o = d.docker(&["pull", "127.0.0.1:1/alpine:3"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("\"http://127.0.0.1:1/v2/\""),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["rmi", "nosuch:img"]);
    assert!(stderr(&o).contains("No such image"), "{}", stderr(&o));
    d.finish();
}

#[test]
fn run_exit_codes_streams_and_errors() {
    let d = Daemon::start();
    d.load_busybox();
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi");
    let o = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 42",
    ]);
    assert_eq!(o.status.code(), Some(42));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");
    let o = d.docker(&["run", "--rm", "busybox", "nonexistent-binary"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("executable file not found"),
        "{}",
        stderr(&o)
    );
    // A program named by path: the docker CLI reads runc's words for
    // the exit status (127 not found, 126 cannot be invoked).
    for (prog, code, words) in [
        (
            "/nonexist",
            127,
            "stat /nonexist: no such file or directory",
        ),
        (
            "/etc/passwd",
            126,
            "exec: \"/etc/passwd\": permission denied",
        ),
        ("/etc", 126, "exec: \"/etc\": is a directory"),
    ] {
        let o = d.docker(&["run", "--rm", "busybox", prog]);
        assert_eq!(o.status.code(), Some(code), "{prog}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{prog}: {}", stderr(&o));
    }
    let o = d.docker_stdin(
        &["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z"],
        b"piped input\n",
    );
    assert_eq!(stdout(&o), "PIPED INPUT\n");
    // Entrypoint/Cmd merge, env, workdir, user
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/echo",
            "busybox",
            "a",
            "b"
        ]),
        "a b"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-e",
            "FOO=bar",
            "-w",
            "/tmp",
            "busybox",
            "sh",
            "-c",
            "echo $FOO $(pwd) $HOSTNAME"
        ])
        .split(' ')
        .take(2)
        .collect::<Vec<_>>(),
        ["bar", "/tmp"]
    );
    assert_eq!(
        d.ok(&["run", "--rm", "--user", "nobody", "busybox", "id", "-u"]),
        "65534"
    );
    let o = d.docker(&["run", "--rm", "--user", "nosuchuser", "busybox", "true"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("unable to find user nosuchuser"),
        "{}",
        stderr(&o)
    );
    // names: given, conflict, generated
    d.ok(&["create", "--name", "c1", "busybox", "true"]);
    let o = d.docker(&["create", "--name", "c1", "busybox", "true"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Conflict. The container name \"/c1\" is already in use by container"),
        "{}",
        stderr(&o)
    );
    let id = d.ok(&["create", "busybox", "true"]);
    let name = d.ok(&["inspect", "-f", "{{.Name}}", &id]);
    assert!(name.starts_with('/') && name.contains('_'), "{name}");
    // /etc files
    let hosts = d.ok(&[
        "run",
        "--rm",
        "--add-host",
        "db:10.1.2.3",
        "--hostname",
        "box1",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hostname /etc/hosts",
    ]);
    assert!(
        hosts.starts_with("box1\n") && hosts.contains("10.1.2.3\tdb"),
        "{hosts}"
    );
    assert!(d
        .ok(&[
            "run",
            "--rm",
            "--dns",
            "9.9.9.9",
            "busybox",
            "cat",
            "/etc/resolv.conf"
        ])
        .contains("nameserver 9.9.9.9"));
    d.finish();
}

#[test]
fn detached_lifecycle_logs_exec_top_stop_restart() {
    let d = Daemon::start();
    d.load_busybox();
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "app=t",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 143' TERM; echo started; while true; do sleep 0.1; done",
    ]);
    assert_eq!(id.len(), 64);
    assert!(eventually(10, || d
        .ok(&["logs", "web"])
        .contains("started")));
    let ps = d.ok(&[
        "ps",
        "--filter",
        "label=app=t",
        "--format",
        "{{.Names}} {{.State}}",
    ]);
    assert_eq!(ps, "web running");
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.Status}} {{.Config.Labels.app}}",
            "web"
        ]),
        "true running t"
    );
    let o = d.docker(&["exec", "web", "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o), "in-exec\n");
    assert_eq!(
        d.ok(&[
            "exec",
            "-e",
            "X=1",
            "-w",
            "/etc",
            "web",
            "sh",
            "-c",
            "echo $X $(pwd)"
        ]),
        "1 /etc"
    );
    let top = d.ok(&["top", "web"]);
    assert!(top.contains("PID") && top.contains("sh -c"), "{top}");
    d.ok(&["pause", "web"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
        "paused"
    );
    d.ok(&["unpause", "web"]);
    d.ok(&["rename", "web", "web2"]);
    assert_eq!(d.ok(&["inspect", "-f", "{{.Name}}", id.as_str()]), "/web2");
    let o = d.docker(&["rm", "web2"]);
    assert!(
        stderr(&o).contains("container is running"),
        "{}",
        stderr(&o)
    );
    d.ok(&["stop", "-t", "10", "web2"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "web2"
        ]),
        "exited 143"
    );
    d.ok(&["restart", "-t", "1", "web2"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "web2"]),
        "running"
    );
    d.ok(&["kill", "web2"]);
    assert_eq!(d.ok(&["wait", "web2"]), "137");
    let o = d.docker(&["kill", "web2"]);
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
    let ps = d.ok(&[
        "ps",
        "-a",
        "--filter",
        "status=exited",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(ps.starts_with("web2 Exited (137)"), "{ps}");
    d.ok(&["rm", "web2"]);
    let pruned = d.ok(&["container", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    d.finish();
}

#[test]
fn logs_partial_binary_megabytes_rotation_follow() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["run", "--name", "pp", "busybox", "printf", "no-newline"]);
    assert_eq!(d.ok(&["logs", "pp"]), "no-newline");
    d.ok(&[
        "run",
        "--name",
        "bb",
        "busybox",
        "sh",
        "-c",
        "printf '\\001\\002\\377x\\n'",
    ]);
    let o = d.docker(&["logs", "bb"]);
    assert!(o.status.success());
    assert!(o.stdout.ends_with(b"x\n"), "{:?}", o.stdout);
    // a few megabytes, counted line by line
    d.ok(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "seq 1 300000",
    ]);
    let o = d.docker(&["logs", "big"]);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 300000);
    assert_eq!(out.lines().last(), Some("300000"));
    assert_eq!(d.ok(&["logs", "--tail", "2", "big"]), "299999\n300000");
    let ts = d.ok(&["logs", "-t", "--tail", "1", "big"]);
    assert!(
        ts.ends_with(" 300000") && ts.contains('T') && ts.contains('Z'),
        "{ts}"
    );
    // rotation
    d.ok(&[
        "run",
        "--name",
        "rot",
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "seq 1 20000",
    ]);
    let logpath = d.ok(&["inspect", "-f", "{{.LogPath}}", "rot"]);
    assert!(std::path::Path::new(&format!("{logpath}.1")).exists());
    assert!(!std::path::Path::new(&format!("{logpath}.2")).exists());
    assert!(std::fs::metadata(&logpath).expect("log").len() <= 10 * 1024 + 200);
    assert_eq!(d.ok(&["logs", "rot"]).lines().last(), Some("20000"));
    // follow ends when the container exits
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ff",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo tick$i; sleep 0.2; done",
    ]);
    let f = d.ok(&["logs", "-f", "ff"]);
    assert_eq!(f, "tick1\ntick2\ntick3");
    d.finish();
}

#[test]
fn hostconfig_options() {
    let d = Daemon::start();
    d.load_busybox();
    let o = d.docker(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/scratch",
            "busybox",
            "sh",
            "-c",
            "touch /scratch/x && echo ok"
        ]),
        "ok"
    );
    let host_dir = d.dir.path().join("bind");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::write(host_dir.join("f"), "from-host").expect("write");
    let v = format!("{}:/data", host_dir.display());
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            &v,
            "busybox",
            "sh",
            "-c",
            "cat /data/f; echo x > /data/g"
        ]),
        "from-host"
    );
    assert!(host_dir.join("g").exists());
    let vro = format!("{}:/data:ro", host_dir.display());
    assert_ne!(
        d.docker(&["run", "--rm", "-v", &vro, "busybox", "touch", "/data/h"])
            .status
            .code(),
        Some(0)
    );
    let caps = d.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "busybox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(caps.ends_with("0000000000000000"), "{caps}");
    let caps = d.ok(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "CapBnd",
        "/proc/self/status",
    ]);
    assert!(
        caps.ends_with("00000000a80425fb"),
        "Docker's default set: {caps}"
    );
    let nnp = d.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert!(nnp.ends_with('1'), "{nnp}");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "cat /proc/1/cmdline | tr '\\0' ' '"
        ]),
        "/sbin/docker-init -- sh -c cat /proc/1/cmdline | tr '\\0' ' '"
    );
    let shm = d.ok(&[
        "run",
        "--rm",
        "--shm-size",
        "8m",
        "busybox",
        "df",
        "-k",
        "/dev/shm",
    ]);
    assert!(shm.contains("8192"), "{shm}");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=512:1024",
            "busybox",
            "sh",
            "-c",
            "ulimit -n"
        ]),
        "512"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward"
        ]),
        "1"
    );
    let gid = d.ok(&[
        "run",
        "--rm",
        "--group-add",
        "root",
        "--group-add",
        "1234",
        "--user",
        "nobody",
        "busybox",
        "id",
        "-G",
    ]);
    assert_eq!(gid, "65534 0 1234", "{gid}");
    let lo = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(lo.lines().count(), 1, "only lo: {lo}");
    // as Docker: lo is up in a namespace of the container's own, so
    // 127.0.0.1 answers
    assert!(lo.contains("UP"), "lo must be up: {lo}");
    let ping = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        "127.0.0.1",
    ]);
    assert!(ping.contains("1 packets received"), "{ping}");
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"]),
        host_name.trim()
    );
    // resources land in the container's cgroup
    let id = d.ok(&[
        "run",
        "-d",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "--cpu-shares",
        "512",
        "busybox",
        "sleep",
        "30",
    ]);
    let mem = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes"
    ))
    .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/berth/{id}/memory.max")))
    .expect("memory limit file");
    assert_eq!(mem.trim(), (64u64 << 20).to_string());
    let pids = std::fs::read_to_string(format!("/sys/fs/cgroup/pids/berth/{id}/pids.max"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/berth/{id}/pids.max")))
        .expect("pids.max");
    assert_eq!(pids.trim(), "50");
    d.ok(&["rm", "-f", &id]);
    assert!(
        berth_testutil::cgroups_containing(&id).is_empty(),
        "cgroup of {id} left"
    );
    d.finish();
}

#[test]
fn concurrency_50_parallel_run_rm() {
    let d = Daemon::start();
    d.load_busybox();
    let host = d.host();
    let cids = d.dir.path().join("cids");
    std::fs::create_dir_all(&cids).expect("cids dir");
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let host = host.clone();
            let cidfile = cids.join(i.to_string()).display().to_string();
            std::thread::spawn(move || {
                let o = std::process::Command::new("timeout")
                    .args([
                        "-s",
                        "KILL",
                        "120",
                        "docker",
                        "-H",
                        &host,
                        "run",
                        "--cidfile",
                        &cidfile,
                        "--rm",
                        "--network",
                        "none",
                        "busybox",
                        "sh",
                        "-c",
                        &format!("echo n{i}"),
                    ])
                    .output()
                    .expect("docker run");
                (i, o)
            })
        })
        .collect();
    for h in handles {
        let (i, o) = h.join().expect("thread");
        assert!(o.status.success(), "run {i}: {}", stderr(&o));
        assert_eq!(stdout(&o), format!("n{i}\n"));
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    let count = |p: std::path::PathBuf| std::fs::read_dir(p).expect("dir").count();
    let dirs = count(d.root().join("containers"));
    assert_eq!(dirs, 0, "container dirs left");
    // The files of a removed container go in the background, right after
    // the answer (the rw layers and container dirs via <data-root>/trash).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // So do their cgroups: a monitor answers the exit first.
    let ids: Vec<String> = (0..50)
        .map(|i| std::fs::read_to_string(cids.join(i.to_string())).expect("cidfile"))
        .collect();
    assert!(ids.iter().all(|id| id.len() == 64), "{ids:?}");
    loop {
        let cgroups: usize = ids
            .iter()
            .map(|id| berth_testutil::cgroups_containing(id).len())
            .sum();
        let left = (
            count(d.exec_root().join("containers")),
            count(d.root().join("trash")),
            count(d.root().join("snapshots")),
            cgroups,
        );
        if left == (0, 0, 0, 0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "exec-root dirs, trash, snapshots or cgroups left: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    d.finish();
}

#[test]
fn restart_survival_kill9_and_clean_stop() {
    let mut d = Daemon::start();
    d.load_busybox();
    let live = d.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.2; done",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "quits",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    let pid1 = d.ok(&["inspect", "-f", "{{.State.Pid}}", "live"]);
    d.kill9();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        std::path::Path::new(&format!("/proc/{pid1}")).exists(),
        "container died with berthd"
    );
    let before = std::fs::read_to_string(
        d.root()
            .join("containers")
            .join(&live)
            .join(format!("{live}-json.log")),
    )
    .expect("log")
    .lines()
    .count();
    d.spawn();
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "live"]),
        format!("running {pid1}")
    );
    assert!(eventually(20, || d.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}}",
        "quits"
    ]) == "exited"));
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "quits"]),
        "7"
    );
    assert!(
        eventually(10, || d.ok(&["logs", "live"]).lines().count() > before + 2),
        "output kept being captured"
    );
    // clean stop leaves containers running too
    assert_eq!(d.stop(), 0);
    assert!(std::path::Path::new(&format!("/proc/{pid1}")).exists());
    d.spawn();
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "live"]),
        "true"
    );
    d.ok(&["stop", "-t", "1", "live"]);
    d.finish();
}

#[test]
fn docker_py_same_flows() {
    let d = Daemon::start();
    d.docker_py("docker_py_flow.py");
    d.finish();
}

fn pty_case(d: &Daemon, case: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/pty_session.py");
    let o = std::process::Command::new("timeout")
        .args(["-s", "KILL", "60", "python3", script, &d.host(), case])
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "pty case {case}:\n{}\n{}\n--- berthd log ---\n{}",
        stdout(&o),
        stderr(&o),
        d.log()
    );
}

#[test]
fn interactive_tty_shell_detach_ctrlc_resize() {
    let d = Daemon::start();
    d.load_busybox();
    pty_case(&d, "shell");
    pty_case(&d, "ctrlc");
    pty_case(&d, "detach");
    // detached with the keys: still running, then attachable state intact
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "det"]),
        "true"
    );
    // the CLI resizes through POST /containers/{id}/resize during -it sessions
    let (st, _, body) = d.http("POST", "/containers/det/resize?h=40&w=100", b"");
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        d.ok(&["exec", "det", "sh", "-c", "stty size < /dev/pts/0"]),
        "40 100"
    );
    d.finish();
}

#[test]
fn events_and_system_df() {
    let d = Daemon::start();
    d.load_busybox();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        - 1;
    d.ok(&["run", "--rm", "--name", "evt", "busybox", "true"]);
    let ev = d.ok(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("t")
            .as_secs()
            + 1)
        .to_string(),
        "--filter",
        "container=evt",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = ev.lines().collect();
    for a in ["create", "start", "die", "destroy"] {
        assert!(actions.contains(&a), "{a} missing in {actions:?}");
    }
    let df = d.ok(&["system", "df", "--format", "{{.Type}}"]);
    assert!(df.contains("Images") && df.contains("Containers"), "{df}");
    d.finish();
}

/// Docker's default seccomp profile on every container; `unconfined`,
/// `--privileged`, `--cap-add SYS_ADMIN` and a custom profile file change
/// it as they do with dockerd; bad profiles get dockerd's error.
#[test]
fn seccomp_default_unconfined_capadd_custom_profile() {
    let d = Daemon::start();
    d.load_busybox();
    let deb = berth_testutil::fixture("debian-docker.tar");
    d.ok(&["load", "-q", "-i", deb.to_str().expect("path")]);
    let status = |extra: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(extra);
        a.extend(["busybox", "grep", "^Seccomp:", "/proc/self/status"]);
        d.ok(&a)
    };
    assert_eq!(status(&[]), "Seccomp:\t2");
    assert_eq!(
        status(&["--security-opt", "seccomp=builtin"]),
        "Seccomp:\t2"
    );
    assert_eq!(
        status(&["--security-opt", "seccomp=unconfined"]),
        "Seccomp:\t0"
    );
    assert_eq!(status(&["--privileged"]), "Seccomp:\t0");
    assert_eq!(status(&["--cap-add", "SYS_ADMIN"]), "Seccomp:\t2");
    let info = d.ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=seccomp,profile=builtin"), "{info}");

    // unshare(CLONE_NEWUSER) needs no capability: only the filter refuses it.
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "unshare",
        "-U",
        "true",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Operation not permitted"),
        "{}",
        stderr(&o)
    );
    d.ok(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "unshare",
        "-U",
        "true",
    ]);
    // add_key(2) and keyctl(2) (x86_64 numbers 248, 250) with null
    // arguments: EPERM from the filter, else the kernel's EFAULT / EINVAL.
    let keys = |extra: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(extra);
        a.extend([
            "debian",
            "perl",
            "-e",
            "for (248, 250) { my $r = syscall($_, 0, 0, 0, 0, 0); print $r < 0 ? ($!+0) : 0, \"\\n\" }",
        ]);
        d.ok(&a)
    };
    assert_eq!(keys(&[]), "1\n1");
    assert_eq!(keys(&["--security-opt", "seccomp=unconfined"]), "14\n22");
    // mount(2) and unshare(CLONE_NEWNS): CAP_SYS_ADMIN enables them in the
    // default profile, as Docker's does.
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "mount",
        "-t",
        "tmpfs",
        "none",
        "/mnt",
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
    d.ok(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        "mount -t tmpfs none /tmp && umount /tmp && unshare -m true",
    ]);
    // keyctl stays refused with CAP_SYS_ADMIN.
    assert_eq!(keys(&["--cap-add", "SYS_ADMIN"]), "1\n1");

    // A custom profile file (the CLI sends its JSON inline): everything
    // allowed but mkdir (EACCES), and chmod unless CAP_SYS_ADMIN is held.
    let prof = d.dir.path().join("custom.json");
    std::fs::write(
        &prof,
        r#"{
          "defaultAction": "SCMP_ACT_ALLOW",
          "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
          "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO",
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
          ]
        }"#,
    )
    .expect("write profile");
    let opt = format!("seccomp={}", prof.display());
    let o = d.docker(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "unshare -U true && echo unshare-ok; mkdir /x; chmod 600 /etc/hostname",
    ]);
    assert_eq!(stdout(&o).trim(), "unshare-ok", "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("Permission denied"), "{err}");
    assert!(err.contains("Operation not permitted"), "{err}");
    d.ok(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--security-opt",
        &opt,
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "chmod",
        "600",
        "/tmp",
    ]);

    // Malformed profiles. Not JSON: the CLI refuses it itself.
    let bad = d.dir.path().join("bad.json");
    std::fs::write(&bad, "{\"defaultAction\": ").expect("write");
    let o = d.docker(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--security-opt",
        &format!("seccomp={}", bad.display()),
        "busybox",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("compacting json for seccomp profile"),
        "{}",
        stderr(&o)
    );
    // JSON of the wrong shape: dockerd's error at start, exit 125.
    std::fs::write(&bad, r#"{"defaultAction": 5}"#).expect("write");
    let o = d.docker(&[
        "run",
        "--network",
        "none",
        "--name",
        "badprofile",
        "--security-opt",
        &format!("seccomp={}", bad.display()),
        "busybox",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Error response from daemon: Decoding seccomp profile failed: "),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "badprofile"]),
        "created"
    );
    std::fs::write(
        &bad,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
    )
    .expect("write");
    let o = d.docker(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--security-opt",
        &format!("seccomp={}", bad.display()),
        "busybox",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"),
        "{}",
        stderr(&o)
    );
    // Through the API: a start that fails on the profile is a 500.
    let (st, _, body) = d.http(
        "POST",
        "/containers/create?name=apibad",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"SecurityOpt":["seccomp=/no/such.json"]}}"#,
    );
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&body));
    let (st, _, body) = d.http("POST", "/containers/apibad/start", b"");
    assert_eq!(st, 500);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Decoding seccomp profile failed: "),
        "{v}"
    );
    d.finish();
}

/// Named and anonymous volumes through the docker CLI: the /volumes API,
/// `-v name:/path` and `--mount type=volume` creating volumes on first use
/// and copying the image's content into empty ones, image `VOLUME`s and
/// `-v /path`, `rm -v` and `--rm`, in-use refusal, prune and `system df`.
#[test]
fn volumes_named_anonymous_copy_up_in_use_prune_df() {
    let d = Daemon::start();
    d.load_busybox();
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(args);
        d.ok(&a)
    };
    let vols = || d.ok(&["volume", "ls", "-q"]);
    assert_eq!(d.ok(&["volume", "create", "--label", "team=a", "v1"]), "v1");
    assert_eq!(
        d.ok(&["volume", "create", "v1"]),
        "v1",
        "create is idempotent"
    );
    let mp = d.root().join("volumes/v1/_data");
    assert_eq!(
        d.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels.team}}",
            "v1"
        ]),
        format!("local local {} a", mp.display())
    );
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "label=team=a"]), "v1");
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "name=v"]), "v1");
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "dangling=true"]), "v1");
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "label=team=b"]), "");
    let o = d.docker(&["volume", "create", "bad name"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(r#"create bad name: "bad name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path"#),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["volume", "inspect", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("get nosuch: no such volume"),
        "{}",
        stderr(&o)
    );

    // An empty volume gets the image's content at its path.
    let passwd = run(&["-v", "v1:/etc", "busybox", "cat", "/etc/passwd"]);
    assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
    assert_eq!(
        std::fs::read_to_string(mp.join("passwd")).expect("copied"),
        format!("{passwd}\n")
    );
    // Content persists across containers; a non-empty volume is not copied into.
    run(&[
        "-v",
        "v1:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(run(&["-v", "v1:/x", "busybox", "cat", "/x/f"]), "kept");
    assert!(!mp.join("bin").exists(), "copied into a non-empty volume");
    // Created on first use: -v and --mount; nocopy; read-only.
    let ls = run(&["-v", "auto1:/etc:nocopy", "busybox", "ls", "/etc"]);
    assert!(!ls.contains("passwd"), "nocopy copied: {ls}");
    run(&[
        "--mount",
        "type=volume,src=m1,dst=/m",
        "busybox",
        "sh",
        "-c",
        "echo hi > /m/f",
    ]);
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        "type=volume,src=m1,dst=/m,readonly",
        "busybox",
        "sh",
        "-c",
        "cat /m/f; echo x > /m/g",
    ]);
    assert_eq!(stdout(&o).trim(), "hi");
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
    let names = vols();
    for n in ["auto1", "m1", "v1"] {
        assert!(names.lines().any(|l| l == n), "{n} missing: {names}");
    }

    // In use (even by a stopped container): 409 in dockerd's words.
    let id = d.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "user",
        "-v",
        "v1:/data:ro",
        "busybox",
        "true",
    ]);
    let o = d.docker(&["volume", "rm", "v1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("remove v1: volume is in use - [{id}]")),
        "{}",
        stderr(&o)
    );
    let m: serde_json::Value =
        serde_json::from_str(&d.ok(&["inspect", "-f", "{{json .Mounts}}", "user"])).expect("json");
    assert_eq!(m[0]["Type"], "volume");
    assert_eq!(m[0]["Name"], "v1");
    assert_eq!(m[0]["Destination"], "/data");
    assert_eq!(m[0]["Driver"], "local");
    assert_eq!(m[0]["RW"], false);
    assert_eq!(m[0]["Source"], mp.display().to_string());
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "dangling=false"]), "v1");
    let (st, _, body) = d.http("DELETE", "/volumes/v1?force=1", b"");
    assert_eq!(st, 409, "{}", String::from_utf8_lossy(&body));
    d.ok(&["rm", "user"]);

    // Anonymous volumes: `-v /path` and an image VOLUME, removed by rm -v
    // and --rm, kept by rm without -v.
    let rootfs = berth_testutil::fixture("busybox-rootfs.tar");
    d.ok(&[
        "import",
        "-c",
        "VOLUME [\"/etc\"]",
        rootfs.to_str().expect("path"),
        "volimg:1",
    ]);
    let before = vols();
    assert_eq!(
        run(&[
            "-v",
            "/anon",
            "volimg:1",
            "sh",
            "-c",
            "ls /anon; cat /etc/passwd | head -1"
        ]),
        "root:x:0:0:root:/root:/bin/sh"
    );
    assert_eq!(vols(), before, "--rm left anonymous volumes");
    d.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "anon",
        "-v",
        "/anon",
        "volimg:1",
        "true",
    ]);
    let m: serde_json::Value =
        serde_json::from_str(&d.ok(&["inspect", "-f", "{{json .Mounts}}", "anon"])).expect("json");
    let mut anon: Vec<String> = m
        .as_array()
        .expect("mounts")
        .iter()
        .map(|x| x["Name"].as_str().expect("name").to_string())
        .collect();
    anon.sort();
    assert_eq!(anon.len(), 2, "{m}");
    for a in &anon {
        assert_eq!(a.len(), 64, "{a}");
        assert_eq!(
            d.ok(&["volume", "inspect", "-f", "{{json .Labels}}", a]),
            r#"{"com.docker.volume.anonymous":""}"#
        );
    }
    // The image's /etc was copied into its anonymous volume.
    let etc = m
        .as_array()
        .expect("mounts")
        .iter()
        .find(|x| x["Destination"] == "/etc")
        .expect("/etc mount");
    assert!(std::path::Path::new(etc["Source"].as_str().expect("src"))
        .join("passwd")
        .is_file());
    d.ok(&["rm", "-v", "anon"]);
    assert_eq!(vols(), before, "rm -v left anonymous volumes");
    d.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "anon2",
        "-v",
        "/anon",
        "busybox",
        "true",
    ]);
    d.ok(&["rm", "anon2"]);
    let left: Vec<String> = vols()
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .map(str::to_string)
        .collect();
    assert_eq!(left.len(), 1, "rm without -v keeps the anonymous volume");

    // system df counts volumes; prune takes unused anonymous ones only,
    // prune -a the unused named ones too.
    let df = d.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df.lines().any(|l| l == "Local Volumes 4"), "{df}");
    let out = d.ok(&["volume", "prune", "-f"]);
    assert!(out.contains(&left[0]), "{out}");
    assert_eq!(vols(), before);
    let out = d.ok(&["volume", "prune", "-a", "-f"]);
    for n in ["auto1", "m1", "v1"] {
        assert!(out.contains(n), "{out}");
    }
    assert_eq!(vols(), "");
    assert!(!mp.exists(), "volume content left on disk");
    let o = d.docker(&["volume", "rm", "v1"]);
    assert!(
        stderr(&o).contains("get v1: no such volume"),
        "{}",
        stderr(&o)
    );
    let (st, _, _) = d.http("DELETE", "/volumes/v1?force=1", b"");
    assert_eq!(st, 204);
    d.finish();
}

/// Volumes and seccomp options through docker-py.
#[test]
fn docker_py_volumes_and_seccomp() {
    let d = Daemon::start();
    d.docker_py("docker_py_volumes.py");
    d.finish();
}

/// Container events as dockerd emits them, in its order, through
/// `docker events --since/--until --filter`.
#[test]
fn events_in_dockers_order_with_filters() {
    let d = Daemon::start();
    d.load_busybox();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs()
    };
    let since = (now() - 1).to_string();
    let net = ["--network", "none"];
    let mut a = vec!["run", "--name", "ev1"];
    a.extend(net);
    a.extend(["busybox", "sh", "-c", "exit 3"]);
    assert_eq!(d.docker(&a).status.code(), Some(3));
    let mut a = vec!["run", "-d", "--name", "ev2"];
    a.extend(net);
    a.extend(["busybox", "sleep", "100"]);
    let id = d.ok(&a);
    d.ok(&["pause", "ev2"]);
    d.ok(&["unpause", "ev2"]);
    d.ok(&["rename", "ev2", "ev3"]);
    assert_eq!(
        d.docker(&["exec", "ev3", "sh", "-c", "exit 2"])
            .status
            .code(),
        Some(2)
    );
    // sleep as PID 1 ignores SIGTERM: stop escalates to SIGKILL after 1 s.
    d.ok(&["stop", "-t", "1", "ev3"]);
    d.ok(&["start", "ev3"]);
    d.ok(&["restart", "-t", "0", "ev3"]);
    d.ok(&["kill", "ev3"]);
    d.ok(&["rm", "ev3"]);
    let until = (now() + 1).to_string();
    let events = |filters: &[&str]| {
        let mut a = vec![
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--format",
            "{{.Type}} {{.Action}} {{index .Actor.Attributes \"signal\"}}{{index .Actor.Attributes \"exitCode\"}}",
        ];
        for f in filters {
            a.extend(["--filter", f]);
        }
        d.ok(&a)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect::<Vec<String>>()
    };
    let ev1 = events(&["container=ev1"]);
    assert_eq!(
        ev1,
        [
            "container create",
            "container attach",
            "container start",
            "container die 3"
        ],
        "{ev1:?}"
    );
    let by_id = events(&[&format!("container={id}"), "type=container"]);
    let want = [
        "container create",
        "container start",
        "container pause",
        "container unpause",
        "container rename",
        "container exec_create: sh -c exit 2",
        "container exec_start: sh -c exit 2",
        "container exec_die 2",
        "container kill 15",
        "container kill 9",
        "container die 137",
        "container stop",
        "container start",
        "container kill 15",
        "container kill 9",
        "container die 137",
        "container stop",
        "container start",
        "container restart",
        "container kill 9",
        "container die 137",
        "container destroy",
    ];
    assert_eq!(by_id, want, "{by_id:#?}");
    // Filters: event, name (the name at the time of the event), until.
    assert_eq!(
        events(&[&format!("container={id}"), "event=die"]),
        ["container die 137"; 3]
    );
    let renamed = events(&["container=ev3", "event=rename"]);
    assert_eq!(renamed, ["container rename"]);
    let o = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &since,
        "--filter",
        &format!("container={id}"),
    ]);
    assert_eq!(o, "");
    d.finish();
}

/// Restart policies: always with Docker's doubling back-off, on-failure:N,
/// on-failure after success, `docker stop` ending it, and what a daemon
/// restart does with always / unless-stopped containers.
#[test]
fn restart_policies_backoff_and_daemon_restart() {
    let mut d = Daemon::start();
    d.load_busybox();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs()
    };
    let since = (now() - 1).to_string();
    let field = |d: &Daemon, name: &str, f: &str| d.ok(&["inspect", "-f", f, name]);
    let count = |d: &Daemon, name: &str| -> i64 {
        field(d, name, "{{.RestartCount}}").parse().expect("count")
    };
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "alw",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 1",
    ]);
    assert!(
        eventually(30, || count(&d, "alw") >= 5),
        "RestartCount {}",
        count(&d, "alw")
    );
    let starts: Vec<i128> = d
        .ok(&[
            "events",
            "--since",
            &since,
            "--until",
            &(now() + 1).to_string(),
            "--filter",
            "container=alw",
            "--filter",
            "event=start",
            "--format",
            "{{.TimeNano}}",
        ])
        .lines()
        .map(|l| l.parse().expect("ns"))
        .collect();
    assert!(starts.len() >= 5, "{starts:?}");
    let gaps: Vec<i128> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    // 100, 200, 400, 800 ms plus the run itself.
    assert!(gaps[0] >= 90, "{gaps:?}");
    assert!(gaps[3] - gaps[0] >= 550, "no doubling back-off: {gaps:?}");
    let logs = d.ok(&["logs", "alw"]);
    assert!(logs.lines().filter(|l| *l == "run").count() >= 5, "{logs}");
    // docker stop ends it, also while it waits for a restart.
    d.ok(&["stop", "alw"]);
    let n = count(&d, "alw");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(field(&d, "alw", "{{.State.Status}}"), "exited");
    assert_eq!(count(&d, "alw"), n, "restarted after docker stop");

    // on-failure:2 gives up after two restarts; success is not restarted.
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "onf",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 5",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "onf0",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    assert!(eventually(20, || count(&d, "onf") == 2
        && field(&d, "onf", "{{.State.Status}}") == "exited"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        field(
            &d,
            "onf",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"
        ),
        "2 exited 5"
    );
    assert_eq!(
        field(&d, "onf0", "{{.RestartCount}} {{.State.Status}}"),
        "0 exited"
    );

    // Across a daemon restart: a stopped always container is started, a
    // stopped unless-stopped one is not, and an always container whose
    // process died while berthd was down is restarted.
    for (name, policy) in [
        ("us", "unless-stopped"),
        ("al2", "always"),
        ("al3", "always"),
    ] {
        d.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "1000",
        ]);
    }
    d.ok(&["stop", "-t", "0", "us", "al2"]);
    let pid = field(&d, "al3", "{{.State.Pid}}");
    d.kill9();
    let st = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_millis(500));
    d.spawn();
    assert!(
        eventually(20, || field(&d, "al3", "{{.State.Status}}") == "running"),
        "al3: {}",
        field(&d, "al3", "{{.State.Status}} {{.RestartCount}}")
    );
    assert_eq!(count(&d, "al3"), 1);
    assert!(eventually(20, || field(&d, "al2", "{{.State.Status}}") == "running"));
    assert_eq!(field(&d, "us", "{{.State.Status}}"), "exited");

    // Bad policies: dockerd's 400s.
    let (st, _, body) = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"bogus"}}}"#,
    );
    assert_eq!(st, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("invalid restart policy: unknown policy 'bogus'"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (st, _, body) = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"always","MaximumRetryCount":3}}}"#,
    );
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));
    d.finish();
}

/// `POST /images/load` reads the request body as it arrives: a whole
/// archive loads (also twice at once), a truncated one is refused with the
/// loader's error and leaves no image, blob or ingest file behind.
#[test]
fn load_streams_the_body_truncated_and_parallel() {
    let d = Daemon::start();
    let deb = berth_testutil::fixture("debian-docker.tar");
    let bb = berth_testutil::fixture("busybox-docker.tar");
    let bytes = std::fs::read(&deb).expect("read fixture");
    let cut = d.dir.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let o = d.docker(&["load", "-i", cut.to_str().expect("path")]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("truncated or corrupt tar"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
    let ingest = d.root().join("ingest");
    let left: Vec<_> = std::fs::read_dir(&ingest)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "ingest left: {left:?}");
    let tmp: Vec<_> = std::fs::read_dir(d.root().join("tmp"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "tmp left: {tmp:?}");
    std::thread::scope(|s| {
        let a = s.spawn(|| d.docker(&["load", "-i", deb.to_str().expect("path")]));
        let b = s.spawn(|| d.docker(&["load", "-i", bb.to_str().expect("path")]));
        for (o, name) in [
            (a.join().expect("a"), "debian"),
            (b.join().expect("b"), "busybox"),
        ] {
            assert!(o.status.success(), "{}", stderr(&o));
            assert!(
                stdout(&o).contains(&format!("Loaded image: {name}:latest")),
                "{}",
                stdout(&o)
            );
        }
    });
    assert!(!d
        .ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "debian",
            "cat",
            "/etc/debian_version"
        ])
        .is_empty());
    d.finish();
}

/// `/version` filled as dockerd fills it; `docker attach` to a running
/// container; `logs --since/--until` with RFC 3339 and relative times.
#[test]
fn version_fields_attach_running_logs_since_until() {
    let d = Daemon::start();
    d.load_busybox();
    let v = d.ok(&[
        "version",
        "--format",
        "{{.Server.GitCommit}}|{{.Server.GoVersion}}|{{.Server.KernelVersion}}|{{.Server.BuildTime}}|{{.Server.Os}}/{{.Server.Arch}}",
    ]);
    let f: Vec<&str> = v.split('|').collect();
    assert_eq!(f.len(), 5, "{v}");
    assert!(
        f[0].len() >= 7 && f[0].chars().all(|c| c.is_ascii_hexdigit()),
        "GitCommit {v}"
    );
    assert!(f[1].starts_with("rust1."), "GoVersion {v}");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(f[2], kernel.trim());
    assert!(
        f[3].starts_with("20") && f[3].contains('T'),
        "BuildTime {v}"
    );
    assert_eq!(f[4], "linux/amd64");
    let comps = d.ok(&["version", "--format", "{{json .Server.Components}}"]);
    let comps: serde_json::Value = serde_json::from_str(&comps).expect("json");
    let names: Vec<&str> = comps
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["Name"].as_str().expect("name"))
        .collect();
    assert!(
        names.starts_with(&["Engine", "berth-monitor", "berth-runtime"]),
        "{names:?}"
    );
    assert_eq!(comps[0]["Details"]["GitCommit"], f[0]);

    // attach to a running container: stdin in, stdout and stderr out, its
    // exit code.
    d.ok(&[
        "run",
        "-d",
        "-i",
        "--network",
        "none",
        "--name",
        "att",
        "busybox",
        "sh",
        "-c",
        "read x; echo got $x; echo err >&2; exit 7",
    ]);
    let o = d.docker_stdin(&["attach", "att"], b"hello\n");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(stdout(&o), "got hello\n");
    assert_eq!(stderr(&o), "err\n");

    // logs --since / --until (inclusive, as dockerd's).
    d.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "lg",
        "busybox",
        "sh",
        "-c",
        "echo a; sleep 1.1; echo b; sleep 1.1; echo c",
    ]);
    let ts = d.ok(&["logs", "-t", "lg"]);
    let lines: Vec<(&str, &str)> = ts
        .lines()
        .map(|l| l.split_once(' ').expect("timestamp"))
        .collect();
    assert_eq!(
        lines.iter().map(|l| l.1).collect::<Vec<_>>(),
        ["a", "b", "c"],
        "{ts}"
    );
    let tb = lines[1].0;
    assert_eq!(d.ok(&["logs", "--since", tb, "lg"]), "b\nc");
    assert_eq!(d.ok(&["logs", "--until", tb, "lg"]), "a\nb");
    assert_eq!(d.ok(&["logs", "--since", tb, "--until", tb, "lg"]), "b");
    assert_eq!(d.ok(&["logs", "--since", "1h", "lg"]), "a\nb\nc");
    assert_eq!(d.ok(&["logs", "--until", "1h", "lg"]), "");
    d.finish();
}
