//! The real `berth` binary against a real daemon, compared with the real
//! `docker` CLI against the same daemon where their output must match.
//! Needs root and `dockerd`/`docker` (see tests/common).

mod common;

use common::{pty, pty_within, Daemon};

/// Each scenario runs twice: against docker's own dockerd (the reference
/// the docker CLI was made for) and against Berth's berthd, comparing
/// berth's output with the docker CLI's on the same daemon both times.
macro_rules! on_both_daemons {
    ($($name:ident),* $(,)?) => {
        mod dockerd {
            $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )*
        }
        mod berthd {
            $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )*
        }
    };
}

on_both_daemons!(
    lists_inspect_and_errors_match_docker,
    run_exit_codes_env_and_limits,
    lifecycle_logs_exec,
    images_load_save_import_tag_rmi_events,
    version_info_help_and_host_selection,
    interactive_tty_raw_mode_detach_and_exit_codes,
    run_network_flags_reach_the_daemon_as_docker_sends_them,
    registry_pull_push_run_pull_match_docker,
    login_logout_and_credential_helpers_match_docker,
    volumes_match_docker,
);

fn lists_inspect_and_errors_match_docker(d: &Daemon) {
    let r = d.berth(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "none",
        "-l",
        "app=x",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.out.trim().len(), 64);
    let r = d.berth(&[
        "create",
        "--name",
        "idle",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    for args in [
        &["ps"][..],
        &["ps", "-a"],
        &["ps", "-q"],
        &["ps", "-aq", "--no-trunc"],
        &[
            "ps",
            "-a",
            "--format",
            "{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.State}} {{.Labels}}",
        ],
        &["ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}"],
        &["ps", "-a", "--format", "json"],
        &["ps", "-a", "-f", "status=created"],
        &["ps", "-f", "name=web", "--format", "{{upper .Names}}"],
        &["container", "ls", "-a", "-n", "1"],
        &["images"],
        &["image", "ls", "-q"],
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
        &["images", "--format", "json"],
        &["history", "busybox"],
        &["system", "df"],
        &["system", "df", "-v"],
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{json .Config.Cmd}} {{.HostConfig.NetworkMode}}",
            "web",
            "idle",
        ],
        &[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{json .RepoTags}}",
            "busybox",
        ],
        &["rm", "nope"],
        &["inspect", "nope"],
        &["container", "inspect", "nope"],
        &["image", "inspect", "nope"],
        &["stop", "nope"],
        &["kill", "nope"],
        &["logs", "nope"],
        &["rmi", "nope"],
        &["rmi", "-f", "nope"],
        &["ps", "--bogus"],
        &["stop"],
        &["frob"],
        &["ps", "-z"],
        &["rename", "a"],
        &["logs"],
        &["exec", "web"],
        &["ps", "-n", "x"],
        &["run", "--cpus", "abc", "busybox"],
        &["run", "-m", "12x", "busybox"],
        &["run", "--sig-proxy=maybe", "busybox"],
        &["stop", "-t", "x", "a"],
        &["inspect", "--type", "bogus", "x"],
        &["run", "--restart", "always", "--rm", "busybox"],
    ] {
        d.same(args);
    }
    // inspect's JSON: the same document as docker's
    let b: serde_json::Value = serde_json::from_str(&d.berth(&["inspect", "web"]).out).unwrap();
    let k: serde_json::Value = serde_json::from_str(&d.docker(&["inspect", "web"]).out).unwrap();
    assert_eq!(b, k);
    d.expect(&["rm", "-f", "web", "idle"], "web\nidle\n", 0);
}

fn run_exit_codes_env_and_limits(d: &Daemon) {
    for args in [
        &["run", "--rm", "--network", "none", "busybox", "echo", "hi"][..],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        &["run", "--rm", "--network", "none", "busybox", "nosuchcmd"],
        &["run", "--rm", "--network", "none", "busybox", "/etc"],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-u",
            "1:2",
            "-h",
            "box",
            "busybox",
            "sh",
            "-c",
            "echo $A $(pwd) $(id -u):$(id -g) $(hostname)",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "busybox",
            "touch",
            "/x",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            "/scratch",
            "busybox",
            "touch",
            "/scratch/x",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "echo",
            "busybox",
            "via",
            "entrypoint",
        ],
        &["run", "--rm", "--network", "host", "busybox", "true"],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--cap-drop",
            "ALL",
            "busybox",
            "sh",
            "-c",
            "grep CapEff /proc/self/status",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--cap-add",
            "NET_ADMIN",
            "busybox",
            "sh",
            "-c",
            "grep CapEff /proc/self/status",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "grep CapEff /proc/self/status",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--init",
            "busybox",
            "sh",
            "-c",
            "cat /proc/1/cmdline | tr '\\0' ' '",
        ],
        &["run", "--network", "none", "--bogus", "busybox"],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-a",
            "stderr",
            "busybox",
            "sh",
            "-c",
            "echo o; echo e >&2",
        ],
    ] {
        d.same(args);
    }
    let env = d.dir().join("env");
    std::fs::write(&env, "# c\nFOO=bar\n\nBAZ=qux\n").unwrap();
    let ef = env.to_str().unwrap();
    d.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--env-file",
        ef,
        "busybox",
        "sh",
        "-c",
        "echo $FOO $BAZ",
    ]);
    // stdin through -i without a tty
    let r = d.berth_stdin(
        &[
            "run",
            "-i",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "tr a-z A-Z",
        ],
        b"hello\n",
    );
    assert_eq!((r.out.as_str(), r.code), ("HELLO\n", 0), "{r:?}");
    // limits reach the daemon as docker sends them
    let r = d.berth(&[
        "create",
        "--name",
        "lim",
        "--network",
        "none",
        "-m",
        "64m",
        "--cpus",
        "1.5",
        "--pids-limit",
        "50",
        "busybox",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = d.berth(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
        "lim",
    ]);
    assert_eq!(r.out, "67108864 1500000000 50\n");
    // --rm removes the container
    let r = d.berth(&[
        "run",
        "--rm",
        "--name",
        "gone",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(d.berth(&["ps", "-a", "-q", "-f", "name=gone"]).out, "");
    // a second container of the same name: a daemon error, which docker's
    // create reports plainly with status 1 (run: "docker: ...", 125)
    let r = d.same(&["create", "--name", "lim", "busybox"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err.starts_with("Error response from daemon: Conflict."),
        "{r:?}"
    );
    let r = d.same(&["run", "--name", "lim", "busybox"]);
    assert_eq!(r.code, 125, "{r:?}");
    d.berth(&["rm", "-f", "lim"]);
}

fn lifecycle_logs_exec(d: &Daemon) {
    let r = d.berth(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two >&2; echo three; trap 'exit 0' TERM; sleep 300 & wait",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    d.same(&["logs", "c1"]);
    d.same(&["logs", "--tail", "1", "c1"]);
    d.same(&["logs", "-n", "2", "c1"]);
    let t = d.berth(&["logs", "-t", "c1"]);
    assert!(
        t.out
            .lines()
            .all(|l| l.len() > 31 && l.as_bytes()[4] == b'-' && l.contains("Z ")),
        "{t:?}"
    );
    assert_eq!(
        d.berth(&["logs", "--since", "1h", "c1"]).out,
        "one\nthree\n"
    );
    d.same(&["exec", "c1", "echo", "hi"]);
    d.same(&[
        "exec",
        "-e",
        "X=y",
        "-w",
        "/tmp",
        "-u",
        "5",
        "c1",
        "sh",
        "-c",
        "echo $X $(pwd) $(id -u); exit 4",
    ]);
    let r = d.berth_stdin(&["exec", "-i", "c1", "cat"], b"piped\n");
    assert_eq!(r.out, "piped\n");
    let r = d.berth(&["exec", "-d", "c1", "touch", "/tmp/flag"]);
    assert_eq!(r.code, 0, "{r:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        d.berth(&["exec", "c1", "ls", "/tmp/flag"]).out,
        "/tmp/flag\n"
    );
    let top = d.berth(&["top", "c1"]);
    assert!(
        top.out.starts_with("UID") && top.out.contains("sleep 300"),
        "{top:?}"
    );
    d.expect(&["pause", "c1"], "c1\n", 0);
    assert_eq!(
        d.berth(&["inspect", "-f", "{{.State.Status}}", "c1"]).out,
        "paused\n"
    );
    d.same(&["pause", "c1"]);
    d.expect(&["unpause", "c1"], "c1\n", 0);
    d.expect(&["rename", "c1", "c2"], "", 0);
    d.expect(&["stop", "-t", "5", "c2"], "c2\n", 0);
    d.same(&["wait", "c2"]);
    d.expect(&["start", "c2"], "c2\n", 0);
    d.expect(&["restart", "-t", "1", "c2"], "c2\n", 0);
    d.expect(&["kill", "-s", "KILL", "c2"], "c2\n", 0);
    d.same(&["wait", "c2"]);
    d.same(&["kill", "c2"]);
    // start -a: attach, exit with the code
    let r = d.berth(&[
        "create",
        "--name",
        "sa",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo attached; exit 6",
    ]);
    assert_eq!(r.code, 0);
    let r = d.berth(&["start", "-a", "sa"]);
    assert_eq!((r.out.as_str(), r.code), ("attached\n", 6), "{r:?}");
    // logs -f ends when the container does
    let r = d.berth(&[
        "run",
        "-d",
        "--name",
        "follow",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo l$i; sleep 0.2; done",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = d.berth(&["logs", "-f", "follow"]);
    assert_eq!((r.out.as_str(), r.code), ("l1\nl2\nl3\n", 0), "{r:?}");
    let r = d.berth(&["container", "prune", "-f"]);
    assert!(
        r.out.contains("Deleted Containers:") && r.out.ends_with("Total reclaimed space: 0B\n"),
        "{r:?}"
    );
    assert_eq!(d.berth(&["ps", "-aq"]).out, "");
}

fn images_load_save_import_tag_rmi_events(d: &Daemon) {
    let tar = d.dir().join("bb.tar");
    let r = d.berth(&["save", "-o", tar.to_str().unwrap(), "busybox"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(std::fs::metadata(&tar).unwrap().len() > 1_000_000);
    d.same(&["load", "-i", tar.to_str().unwrap()]);
    d.same(&["load", "-q", "-i", tar.to_str().unwrap()]);
    let r = d.berth_stdin(&["load"], &std::fs::read(&tar).unwrap());
    assert_eq!(r.out, "Loaded image: busybox:latest\n");
    d.expect(&["tag", "busybox", "mine/bb:v1"], "", 0);
    d.same(&["images", "mine/bb"]);
    d.expect(&["rmi", "mine/bb:v1"], "Untagged: mine/bb:v1\n", 0);
    let fx = berth_testutil::fixture("busybox-rootfs.tar");
    let r = d.berth(&["import", "-m", "from rootfs", fx.to_str().unwrap(), "imp:1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.starts_with("sha256:"), "{r:?}");
    d.same(&["history", "--format", "{{.Comment}}", "imp:1"]);
    d.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "imp:1",
        "echo",
        "imported",
    ]);
    let r = d.berth(&["rmi", "imp:1"]);
    assert!(
        r.out.starts_with("Untagged: imp:1\nDeleted: sha256:"),
        "{r:?}"
    );
    d.same(&["image", "prune", "-f"]);
    let nope = d.dir().join("nope.tar");
    d.same(&["save", "nope", "-o", nope.to_str().unwrap()]);
    // events in a closed window
    d.berth(&["tag", "busybox", "ev:1"]);
    d.berth(&["rmi", "ev:1"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    d.same(&[
        "events",
        "--since",
        "1h",
        "--until",
        &until,
        "--filter",
        "type=image",
        "--format",
        "{{.Type}} {{.Action}}",
    ]);
    let ev = d.berth(&[
        "events",
        "--since",
        "1h",
        "--until",
        &until,
        "--filter",
        "type=image",
    ]);
    assert!(
        ev.out
            .lines()
            .any(|l| l.contains(" image tag ") && l.contains("name=ev:1")),
        "{ev:?}"
    );
}

fn version_info_help_and_host_selection(d: &Daemon) {
    let v = d.berth(&["version"]);
    assert_eq!(v.code, 0, "{v:?}");
    let dv = d.docker(&["version"]);
    // the Server section is the daemon's: identical to docker's rendering
    let server = |s: &str| s.split("\nServer:").nth(1).unwrap_or("").to_string();
    assert_eq!(server(&v.out), server(&dv.out));
    d.same(&["version", "--format", "{{.Server.Version}}"]);
    let i = d.berth(&["info"]);
    let di = d.docker(&["info"]);
    let lines = |s: &str, keys: &[&str]| {
        s.lines()
            .filter(|l| keys.iter().any(|k| l.starts_with(k)))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let keys = [
        " Containers:",
        "  Running:",
        " Images:",
        " Server Version:",
        " Storage Driver:",
        " Cgroup Driver:",
        " Kernel Version:",
        " CPUs:",
        " Total Memory:",
        " Docker Root Dir:",
    ];
    assert_eq!(lines(&i.out, &keys), lines(&di.out, &keys));
    d.same(&["info", "--format", "{{.NCPU}} {{.Driver}}"]);
    // DOCKER_HOST selects the daemon when -H is not given
    let r = common::run_bounded(
        std::process::Command::new(common::berth_bin())
            .env("DOCKER_HOST", &d.host)
            .args(["images", "-q"]),
        std::time::Duration::from_secs(30),
        None,
    );
    assert_eq!(r.out, d.docker(&["images", "-q"]).out);
    // an unreachable daemon: docker's text, exit 1
    let r = common::run_bounded(
        std::process::Command::new(common::berth_bin()).args([
            "-H",
            "unix:///nonexistent.sock",
            "ps",
        ]),
        std::time::Duration::from_secs(10),
        None,
    );
    assert_eq!((r.err.as_str(), r.code), ("Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?\n", 1));
    // --help for each command
    for c in [
        "run",
        "ps",
        "images",
        "exec",
        "logs",
        "load",
        "container ls",
        "image ls",
        "system df",
    ] {
        let mut args: Vec<&str> = c.split(' ').collect();
        args.push("--help");
        let h = d.berth(&args);
        assert_eq!(h.code, 0, "{c}: {h:?}");
        assert!(
            h.out.starts_with(&format!("Usage:  berth {c}")),
            "{c}: {h:?}"
        );
        assert!(h.out.contains("Options:"), "{c}: {h:?}");
    }
}

fn interactive_tty_raw_mode_detach_and_exit_codes(d: &Daemon) {
    let b = common::berth_bin();
    let b = b.to_str().unwrap();
    let (out, code, restored) = pty(
        "@1.5|stty size; echo hi; exit 5\\r",
        &[
            b,
            "-H",
            &d.host,
            "run",
            "-it",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
        ],
    );
    assert_eq!(code, 5, "{out:?}");
    assert!(restored, "terminal settings not restored");
    assert!(
        out.contains("33 101\r\nhi\r\n"),
        "window size forwarded and no double CR: {out:?}"
    );
    // docker prints the same bytes for the same session
    let (dout, dcode, _) = pty(
        "@1.5|stty size; echo hi; exit 5\\r",
        &[
            "docker",
            "-H",
            &d.host,
            "run",
            "-it",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
        ],
    );
    // busybox ash asks for the cursor position (ESC[6n) and, when typed
    // input comes before its wait for an answer ends, redraws its prompt
    // (CR, prompt, ESC[J): timing of the shell, not of the CLI.
    let redraw = |s: &str| s.replace("\r/ # \u{1b}[J", "");
    assert_eq!(
        (redraw(&out.replace("berth", "docker")), code),
        (redraw(&dout), dcode)
    );
    // detach with ctrl-p ctrl-q, the container keeps running; re-attach
    let (_, code, restored) = pty(
        "@3|\\x10\\x11|@0.5",
        &[
            b,
            "-H",
            &d.host,
            "run",
            "-it",
            "--name",
            "it",
            "--network",
            "none",
            "busybox",
            "sh",
        ],
    );
    assert_eq!(code, 0);
    assert!(restored);
    assert_eq!(
        d.berth(&["inspect", "-f", "{{.State.Running}}", "it"]).out,
        "true\n"
    );
    let (out, code, _) = pty(
        "@1|tty; exit 0\\r|@0.5",
        &[b, "-H", &d.host, "exec", "-it", "it", "sh"],
    );
    assert_eq!(code, 0, "{out:?}");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    let (out, code, _) = pty(
        "@1|\\x01\\x02",
        &[
            b,
            "-H",
            &d.host,
            "attach",
            "--detach-keys",
            "ctrl-a,ctrl-b",
            "it",
        ],
    );
    assert_eq!(
        (code, out.contains("read escape sequence")),
        (1, true),
        "{out:?}"
    );
    let (out, code, restored) = pty(
        "@1|echo bye; exit 2\\r|@0.5",
        &[b, "-H", &d.host, "attach", "it"],
    );
    assert_eq!(code, 2, "{out:?}");
    assert!(restored);
    // -t without a terminal on stdin: docker's refusal
    let r = d.berth(&["run", "-it", "--rm", "busybox", "true"]);
    assert_eq!(
        (r.err.as_str(), r.code),
        ("the input device is not a TTY\n", 1)
    );
    let r = d.berth(&["run", "--detach-keys", "bogus-x", "--rm", "busybox", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    d.berth(&["rm", "-f", "it"]);
}

/// Names, a subnet and host ports no other test (or engineer) uses at the
/// same time: derived from this process's ID and a per-call counter.
fn unique(tag: &str) -> (String, String, u16) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let pid = std::process::id();
    let k = (pid.wrapping_mul(7) + n * 13) % 4000;
    (
        format!("bt{tag}{}", (pid + n) % 100_000),
        format!("10.{}.{}.0/24", 180 + k / 250, k % 250),
        20_000 + (k as u16) * 4,
    )
}

// Networking through the CLI: daemons with user-defined networks (a
// berthd with a bridge, subnets and nft tables of its own).
mod net_dockerd {
    #[test]
    fn networks_ports_and_run_flags_match_docker() {
        super::networks_ports_and_run_flags_match_docker(&super::Daemon::start_kind_net(
            "dockerd", true,
        ))
    }
}
mod net_berthd {
    #[test]
    fn networks_ports_and_run_flags_match_docker() {
        super::networks_ports_and_run_flags_match_docker(&super::Daemon::start_kind_net(
            "berthd", true,
        ))
    }
}

/// Deletes a network interface when dropped (a test's bridge if the test
/// fails before removing its network).
struct LinkGuard(String);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .output();
    }
}

/// `-p`, `--expose`, `--dns*`, `--add-host`, `-h`, `--domainname` on a
/// created container: berth's request must give the same inspect document
/// as docker's (`--network none`, so no daemon networking is needed).
fn run_network_flags_reach_the_daemon_as_docker_sends_them(d: &Daemon) {
    let flags = [
        "--network",
        "none",
        "--expose",
        "3000-3001",
        "--expose",
        "5000/udp",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "h1:192.0.2.1",
        "-h",
        "boxname",
        "--domainname",
        "example.org",
        "busybox",
    ];
    let fmt = "{{json .Config.ExposedPorts}} {{json .HostConfig.PortBindings}} {{.HostConfig.PublishAllPorts}} {{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.DnsOptions}} {{json .HostConfig.ExtraHosts}} {{.Config.Hostname}} {{.Config.Domainname}} {{.HostConfig.NetworkMode}}";
    let mut b = vec!["create", "--name", "nb"];
    b.extend(flags);
    let mut k = vec!["create", "--name", "nk"];
    k.extend(flags);
    assert_eq!(d.berth(&b).code, 0);
    assert_eq!(d.docker(&k).code, 0);
    let bi = d.berth(&["inspect", "-f", fmt, "nb"]);
    let ki = d.docker(&["inspect", "-f", fmt, "nk"]);
    assert_eq!(bi.out, ki.out);
    assert!(bi.out.contains("\"3001/tcp\":{}"), "{bi:?}");
    // bad values: docker's messages and exit codes, nothing created
    for args in [
        &["create", "-p", "80:80:80", "busybox"][..],
        &["create", "-p", "abc", "busybox"],
        &["create", "-p", "70000:80", "busybox"],
        &["create", "-p", "80/bogus", "busybox"],
        &["create", "-p", "8000-8002:80-81", "busybox"],
        &["create", "--expose", "abc", "busybox"],
        &["create", "--mac-address", "zz", "busybox"],
        &["create", "--add-host", "bad", "busybox"],
        &["create", "--dns", "bad", "busybox"],
        &["create", "--network-alias", "x", "busybox"],
        &["port"],
        &["port", "a", "b", "c"],
        &["network", "create"],
        &["network", "connect", "n1"],
        &["network", "frob"],
        &["network"],
    ] {
        d.same(args);
    }
    d.same(&["ps", "-a", "--format", "{{.Names}} {{.Ports}}"]);
    d.berth(&["rm", "-f", "nb", "nk"]);
}

fn networks_ports_and_run_flags_match_docker(d: &Daemon) {
    let (net, subnet, hp) = unique("n");
    let bridge = format!("{net}br");
    let bridge = &bridge[bridge.len().saturating_sub(15)..];
    let opt = format!("com.docker.network.bridge.name={bridge}");
    let _guard = LinkGuard(bridge.to_string());
    let gw = subnet.replace(".0/24", ".1");
    let r = d.berth(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--gateway",
        &gw,
        "--label",
        "a=b",
        "-o",
        &opt,
        &net,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.out.trim().len(), 64, "{r:?}");
    let range = format!("{}-{}:90-91", hp, hp + 1);
    let udp = format!("127.0.0.1:{}:81/udp", hp + 2);
    let ip = subnet.replace(".0/24", ".9");
    let r = d.berth(&[
        "run",
        "-d",
        "--name",
        "pub",
        "--network",
        &net,
        "--network-alias",
        "svc",
        "--ip",
        &ip,
        "-p",
        &range,
        "-p",
        &udp,
        "-p",
        "443",
        "--expose",
        "3000",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    for args in [
        &["network", "ls"][..],
        &["network", "ls", "-q"],
        &["network", "ls", "--no-trunc"],
        &["network", "ls", "--format", "json"],
        &[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Labels}} {{.Internal}} {{.IPv6}}",
        ],
        &["network", "ls", "-f", &format!("name={net}")],
        &["network", "inspect", &net],
        &[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{json .IPAM.Config}}",
            &net,
            "host",
        ],
        &["network", "inspect", "nope"],
        &["network", "inspect", &net, "nope"],
        &["inspect", "--type", "network", &net],
        &["ps"],
        &["ps", "--format", "{{.Names}}: {{.Ports}}"],
        &["port", "pub"],
        &["port", "pub", "90"],
        &["port", "pub", "81/udp"],
        &["port", "pub", "3000"],
        &["port", "pub", "abc"],
        &["port", "nope"],
        &["network", "rm", "nope"],
        &["network", "connect", &net, "pub"],
        &["network", "disconnect", "nope", "pub"],
        &["network", "create", "--subnet", &subnet, "dup"],
        &["network", "create", "--gateway", "10.0.0.1", "dup"],
        &["network", "create", "--subnet", "bogus", "dup"],
        &["network", "rm", "host"],
        &["run", "--rm", "--network", "nonet", "busybox", "true"],
        &["network", "rm", &net],
    ] {
        d.same(args);
    }
    // the run flags reached the endpoint as docker sends them
    let r = d.berth(&[
        "inspect",
        "-f",
        &format!("{{{{json (index .NetworkSettings.Networks \"{net}\").Aliases}}}} {{{{(index .NetworkSettings.Networks \"{net}\").IPAMConfig.IPv4Address}}}}"),
        "pub",
    ]);
    assert!(r.out.contains("\"svc\"") && r.out.contains(&ip), "{r:?}");
    // disconnect, connect with --alias/--ip, the endpoint as given
    d.expect(&["network", "disconnect", &net, "pub"], "", 0);
    let ip2 = subnet.replace(".0/24", ".77");
    d.expect(
        &[
            "network", "connect", "--alias", "again", "--ip", &ip2, &net, "pub",
        ],
        "",
        0,
    );
    let r = d.berth(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        "pub",
    ]);
    assert_eq!(r.out.trim(), ip2, "{r:?}");
    d.expect(&["rm", "-f", "pub"], "pub\n", 0);
    // prune removes the unused network and says so as docker does
    d.expect(
        &["network", "prune", "-f"],
        &format!("Deleted Networks:\n{net}\n\n"),
        0,
    );
    d.same(&["network", "prune", "-f"]);
    d.same(&["network", "ls"]);
}

/// Runs the same command through both CLIs, each with its own
/// environment (a private DOCKER_CONFIG), and compares stdout, stderr and
/// exit code after replacing "berth" by "docker" and each CLI's config
/// directory by `CFG`.
fn same_env(
    d: &Daemon,
    args: &[&str],
    benv: &[(&str, &str)],
    denv: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> common::Run {
    let b = d.berth_env(args, benv, stdin);
    let k = d.docker_env(args, denv, stdin);
    let norm = |s: &str, env: &[(&str, &str)]| {
        let mut s = s.to_string();
        for (key, v) in env {
            if *key == "DOCKER_CONFIG" {
                s = s.replace(v, "CFG");
            }
        }
        s.replace("berth", "docker")
    };
    assert_eq!(
        (norm(&b.out, benv), norm(&b.err, benv), b.code),
        (norm(&k.out, denv), norm(&k.err, denv), k.code),
        "berth {args:?} differs from docker (left berth, right docker)"
    );
    b
}

/// pull / push / search and run's pull against a berth-registry on
/// loopback, through the daemon under test, compared with docker's CLI.
fn registry_pull_push_run_pull_match_docker(d: &Daemon) {
    // the registry is `berth registry serve` (berth-registry linked in)
    let reg = common::Registry::start(None, true);
    reg.put("busybox-docker.tar", "busybox:latest");
    reg.put("debian-docker.tar", "debian:12");
    let a = reg.addr.clone();
    let bb = format!("{a}/busybox");
    let deb = format!("{a}/debian:12");
    // a pull that downloads layers: docker first (the daemon's caches warm
    // up), then berth and docker again from the same state
    // the daemon sends "Verifying Checksum" / "Waiting" only when a
    // download is slow enough: not part of the comparison
    let steady = |s: &str| {
        s.lines()
            .filter(|l| !l.ends_with(": Verifying Checksum") && !l.ends_with(": Waiting"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .replace("berth", "docker")
    };
    let r = d.docker(&["pull", &deb]);
    assert_eq!(r.code, 0, "{r:?}");
    d.docker(&["rmi", &deb]);
    let b = d.berth(&["pull", &deb]);
    d.docker(&["rmi", &deb]);
    let k = d.docker(&["pull", &deb]);
    assert_eq!(
        (steady(&b.out), b.err.clone(), b.code),
        (steady(&k.out), k.err.clone(), k.code)
    );
    // (berthd keeps a removed image's blobs: no layer lines there)
    assert!(
        (d.kind != "dockerd" || b.out.contains(": Pull complete\n"))
            && b.out.contains("\nDigest: sha256:"),
        "{b:?}"
    );
    assert!(
        b.out.ends_with(&format!(
            "Status: Downloaded newer image for {deb}\n{deb}\n"
        )),
        "{b:?}"
    );
    for args in [
        &["pull", &deb][..],
        &["pull", &bb],
        &["pull", "-q", &bb],
        &["image", "pull", &format!("{bb}:latest")],
        &["pull", "-a", &bb],
        &["pull", &format!("{a}/nope")],
        &["pull", &format!("{a}/busybox:nosuchtag")],
        &["pull", "Busybox"],
        &["pull", "-a", &format!("{bb}:latest")],
        &["pull"],
        &["search", "busybox"],
    ] {
        d.same(args);
    }
    // on a terminal the layer lines are redrawn in place
    d.docker(&["rmi", &deb]);
    let bin = common::berth_bin();
    let (tty, code, _) = pty_within(
        "@0",
        &[bin.to_str().unwrap(), "-H", &d.host, "pull", &deb],
        180,
    );
    assert_eq!(code, 0, "{tty:?}");
    assert!(
        (d.kind != "dockerd" || tty.contains("\x1b[2K\r") && tty.contains("Pull complete"))
            && tty.trim_end().ends_with(&deb),
        "{tty:?}"
    );
    // push: the first upload, then the same push through both CLIs
    d.berth(&["tag", "busybox", &format!("{a}/pushed:v1")]);
    let r = d.berth(&["push", &format!("{a}/pushed:v1")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .starts_with(&format!("The push refers to repository [{a}/pushed]\n"))
            && r.out.contains("\nv1: digest: sha256:"),
        "{r:?}"
    );
    for args in [
        &["push", &format!("{a}/pushed:v1")][..],
        &["push", &format!("{a}/notlocal")],
        &["push", "-q", &format!("{a}/pushed:v1")],
    ] {
        d.same(args);
    }
    // the pushed image pulls back by digest
    let digest = r
        .out
        .split("digest: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    d.same(&["pull", &format!("{a}/pushed@{digest}")]);
    // run pulls a missing image (progress on stderr), --pull never/always
    let run = ["run", "--rm", "--network", "none", &deb, "echo", "ran"];
    d.docker(&["rmi", "-f", &deb]);
    let b = d.berth(&run);
    d.docker(&["rmi", "-f", &deb]);
    let k = d.docker(&run);
    assert_eq!(
        (b.out.clone(), steady(&b.err), b.code),
        (k.out.clone(), steady(&k.err), k.code)
    );
    assert!(
        b.err
            .starts_with(&format!("Unable to find image '{deb}' locally\n"))
            && b.out == "ran\n",
        "{b:?}"
    );
    d.docker(&["rmi", "-f", &deb]);
    for args in [
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "never",
            &deb,
            "true",
        ][..],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "bogus",
            &deb,
            "true",
        ],
        &["create", "--pull", "never", &deb],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "always",
            &deb,
            "echo",
            "again",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-q",
            "--pull",
            "always",
            &deb,
            "echo",
            "quiet",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            &format!("{a}/nope"),
            "true",
        ],
    ] {
        d.same(args);
    }
}

/// login / logout with htpasswd auth, in a private DOCKER_CONFIG per CLI:
/// the same messages, the same config.json, credentials used by pull and
/// push (X-Registry-Auth); then the same through a credential helper
/// (`credsStore`), whose stored secrets each CLI can use after the other
/// logged in.
fn login_logout_and_credential_helpers_match_docker(d: &Daemon) {
    let tmp = berth_testutil::tempdir();
    let htp = tmp.path().join("htpasswd");
    let r = common::run_bounded(
        std::process::Command::new("htpasswd")
            .arg("-Bbc")
            .arg(&htp)
            .args(["alice", "s3cret"]),
        std::time::Duration::from_secs(20),
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    let reg = common::Registry::start(Some(&htp), false);
    let a = reg.addr.clone();
    let bcfg = tmp.path().join("berth-cfg");
    let dcfg = tmp.path().join("docker-cfg");
    let (bs, ds) = (bcfg.to_str().unwrap(), dcfg.to_str().unwrap());
    let benv = [("DOCKER_CONFIG", bs)];
    let denv = [("DOCKER_CONFIG", ds)];
    let same = |args: &[&str], stdin: Option<&[u8]>| same_env(d, args, &benv, &denv, stdin);
    d.berth(&["tag", "busybox", &format!("{a}/private:v1")]);
    let r = same(&["push", &format!("{a}/private:v1")], None);
    assert_eq!(r.code, 1, "push without credentials must fail: {r:?}");
    same(&["login", "-u", "alice", "-p", "wrong", &a], None);
    same(&["login", "-u", "alice", "-p", "s3cret", &a], None);
    let cfg = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("config.json")).unwrap_or_default()
    };
    assert_eq!(cfg(&bcfg), cfg(&dcfg));
    assert!(
        cfg(&bcfg).contains("\"auth\": \"YWxpY2U6czNjcmV0\""),
        "{}",
        cfg(&bcfg)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(bcfg.join("config.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    same(&["login", "-u", "alice", "-p", "s3cret", &a], None);
    same(&["login", &a], None);
    same(
        &["login", "-u", "alice", "--password-stdin", &a],
        Some(b"s3cret\n"),
    );
    same(&["login", "--password-stdin", &a], Some(b""));
    same(
        &["login", "-u", "alice", "-p", "x", "--password-stdin", &a],
        Some(b""),
    );
    let r = d.berth_env(&["push", &format!("{a}/private:v1")], &benv, None);
    assert_eq!(r.code, 0, "push with berth's stored credentials: {r:?}");
    same(&["pull", &format!("{a}/private:v1")], None);
    same(&["logout", &a], None);
    assert_eq!(cfg(&bcfg), cfg(&dcfg));
    same(&["logout", &a], None);
    same(&["login", &a], None);
    // on a terminal: the prompts, the password not echoed
    let bin = common::berth_bin();
    let tty_login = |cli: &str, cfgdir: &str| {
        let env_arg = format!("DOCKER_CONFIG={cfgdir}");
        let (o, code, restored) = pty(
            "@1.5|alice\\r|@1|s3cret\\r|@1.5",
            &["env", &env_arg, cli, "-H", &d.host, "login", &a],
        );
        assert!(restored, "terminal settings restored");
        (o.replace(cfgdir, "CFG").replace("berth", "docker"), code)
    };
    let bl = tty_login(bin.to_str().unwrap(), bs);
    let dl = tty_login("docker", ds);
    assert_eq!(bl, dl, "interactive login (left berth, right docker)");
    assert!(
        bl.0.contains("Username: ") && !bl.0.contains("s3cret") && bl.1 == 0,
        "{bl:?}"
    );
    same(&["logout", &a], None);
    d.docker(&["rmi", &format!("{a}/private:v1")]);
    if d.kind == "dockerd" {
        // berthd answers this pull with a status that makes docker's CLI
        // prompt for a login (it waits on the terminal): compared on
        // dockerd only until berthd answers as dockerd does
        same(&["pull", &format!("{a}/private:v1")], None);
    }
    // a credential helper: docker-credential-<name> on PATH, files under
    // a store directory per CLI (the helper protocol, nothing else)
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-bt");
    std::fs::write(&helper, r#"#!/bin/sh
d=${BT_STORE:?}; mkdir -p "$d"
key() { printf '%s' "$1" | base64 -w0 | tr '/+' '_-'; }
case "$1" in
store) in=$(cat); url=$(printf '%s' "$in" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ServerURL"])'); printf '%s' "$in" > "$d/$(key "$url")";;
get) url=$(cat); f="$d/$(key "$url")"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi;;
erase) url=$(cat); f="$d/$(key "$url")"; if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi;;
list) echo '{}';;
esac
"#).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for dir in [&bcfg, &dcfg] {
        std::fs::write(dir.join("config.json"), "{\"credsStore\": \"bt\"}").unwrap();
    }
    let store = tmp.path().join("store");
    let ss = store.to_str().unwrap();
    let benv = [
        ("DOCKER_CONFIG", bs),
        ("PATH", path.as_str()),
        ("BT_STORE", ss),
    ];
    let denv = [
        ("DOCKER_CONFIG", ds),
        ("PATH", path.as_str()),
        ("BT_STORE", ss),
    ];
    let same = |args: &[&str], stdin: Option<&[u8]>| same_env(d, args, &benv, &denv, stdin);
    let r = d.berth_env(
        &["login", "-u", "alice", "--password-stdin", &a],
        &benv,
        Some(b"s3cret"),
    );
    assert_eq!(
        (r.out.as_str(), r.err.as_str(), r.code),
        ("Login Succeeded\n", "", 0)
    );
    let secret = std::fs::read_to_string(
        std::fs::read_dir(&store)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    assert_eq!(
        secret,
        format!("{{\"ServerURL\":\"{a}\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}")
    );
    assert!(
        !cfg(&bcfg).contains("YWxp"),
        "no secret in the file with a helper: {}",
        cfg(&bcfg)
    );
    // docker uses what berth stored, and the other way round
    d.docker(&["rmi", &format!("{a}/private:v1")]);
    let r = d.docker_env(&["pull", "-q", &format!("{a}/private:v1")], &denv, None);
    assert_eq!(
        r.code, 0,
        "docker pull with berth's helper credentials: {r:?}"
    );
    d.docker(&["rmi", &format!("{a}/private:v1")]);
    same(&["pull", "-q", &format!("{a}/private:v1")], None);
    same(&["login", &a], None);
    let r = d.berth_env(&["logout", &a], &benv, None);
    assert_eq!(
        (r.out.clone(), r.err.as_str(), r.code),
        (format!("Removing login credentials for {a}\n"), "", 0)
    );
    assert_eq!(
        std::fs::read_dir(&store).unwrap().count(),
        0,
        "helper erase"
    );
    same(&["logout", &a], None);
    same(&["login", &a], None);
}

/// `volume create|ls|inspect|rm|prune`: the same output, errors and exit
/// codes as docker's CLI on the same daemon; prune removes only anonymous
/// unused volumes unless `-a`, never one a container uses.
fn volumes_match_docker(d: &Daemon) {
    d.expect(&["volume", "create", "v1"], "v1\n", 0);
    d.expect(
        &["volume", "create", "--name", "v2", "--label", "a=b"],
        "v2\n",
        0,
    );
    d.expect(
        &["volume", "create", "-d", "local", "--label", "x=1", "v3"],
        "v3\n",
        0,
    );
    let anon = d.berth(&["volume", "create"]);
    assert_eq!(anon.code, 0, "{anon:?}");
    let anon = anon.out.trim().to_string();
    assert_eq!(anon.len(), 64, "{anon}");
    let r = d.berth(&[
        "create",
        "--name",
        "user",
        "--network",
        "none",
        "-v",
        "v1:/data",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    for args in [
        &["volume", "ls"][..],
        &["volume", "ls", "-q"],
        &[
            "volume",
            "list",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}} {{.Links}}",
        ],
        &["volume", "ls", "--format", "table {{.Name}}\\t{{.Labels}}"],
        &["volume", "ls", "-f", "label=a=b"],
        &["volume", "ls", "-f", "name=v", "-q"],
        &["volume", "ls", "-f", "dangling=true", "-q"],
        &["volume", "ls", "-f", "bogus"],
        &[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{json .Labels}} {{.Scope}}",
            "v1",
            "v2",
        ],
        &["volume", "inspect", "nope"],
        &["volume", "inspect", "-f", "{{.Name}}", "v1", "nope"],
        &["volume", "inspect"],
        &["volume", "rm", "nope"],
        &["volume", "rm", "-f", "nope"],
        &["volume", "rm", "v1"],
        &["volume", "rm"],
        &["volume", "create", "--name", "a", "b"],
        &["volume", "create", "-d", "nodriver", "x"],
        &["volume", "frob"],
        &["volume", "--bogus"],
        // a bad field: Go's words, not the row's data
        &["ps", "-a", "--format", "{{.Nope}}"],
        &["ps", "-a", "--format", "table {{.ID}}\\t{{.Nope}}"],
        &[
            "container",
            "ls",
            "-a",
            "--format",
            "a\\n {{.Names}} {{.Nope}}",
        ],
        &["volume", "ls", "--format", "{{.Nope}}"],
        &["images", "--format", "{{.Nope}}"],
        &["network", "ls", "--format", "{{.Name}}{{.Nope}}"],
    ] {
        d.same(args);
    }
    // table: docker's column number counts text it adds to the template;
    // the rest is the same
    let bt = d.berth(&["ps", "-a", "--format", "table {{.ID}}\\t{{.Nope}}"]);
    let kt = d.docker(&["ps", "-a", "--format", "table {{.ID}}\\t{{.Nope}}"]);
    assert_eq!((bt.code, kt.code), (1, 1), "{bt:?} {kt:?}");
    let tail = |s: &str| s.split(": executing").nth(1).unwrap_or("").to_string();
    assert_eq!(tail(&bt.err), tail(&kt.err), "{bt:?} {kt:?}");
    assert!(
        bt.err
            .starts_with("failed to execute template: template: :1:"),
        "{bt:?}"
    );
    assert!(bt.out.is_empty(), "{bt:?}");
    // JSON lines hold the daemon's paths (with "berth" in them): compared
    // without same()'s berth→docker renaming
    let bj = d.berth(&["volume", "ls", "--format", "json"]);
    assert_eq!(bj.out, d.docker(&["volume", "ls", "--format", "json"]).out);
    assert!(bj.out.contains("\"Links\":\"N/A\""), "{bj:?}");
    let b: serde_json::Value =
        serde_json::from_str(&d.berth(&["volume", "inspect", "v2"]).out).unwrap();
    let k: serde_json::Value =
        serde_json::from_str(&d.docker(&["volume", "inspect", "v2"]).out).unwrap();
    assert_eq!(b, k);
    assert_eq!(b[0]["Labels"]["a"], "b", "{b}");
    // the same text too: docker's CLI re-encodes Go's struct (its order)
    let bt = d.berth(&["volume", "inspect", "v1", "v2"]);
    assert_eq!(bt.out, d.docker(&["volume", "inspect", "v1", "v2"]).out);
    d.expect(&["volume", "rm", "v2", "nope"], "v2\n", 1);
    // API 1.42 (dockerd 23) made prune spare named volumes unless -a;
    // dockerd 20.10 speaks 1.41 and prunes them all, as docker's CLI says
    let api = d.docker(&["version", "-f", "{{.Server.APIVersion}}"]).out;
    let api: Vec<u32> = api
        .trim()
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    let old_api = api < vec![1, 42];
    // the prompt: "n" keeps everything
    let r = d.berth_stdin(&["volume", "prune"], b"n\n");
    assert_eq!(r.code, 0, "{r:?}");
    let which = if old_api { "all" } else { "anonymous" };
    assert!(
        r.err.contains(&format!(
            "WARNING! This will remove {which} local volumes not used by at least one container."
        )),
        "{r:?}"
    );
    assert!(d.berth(&["volume", "ls", "-q"]).out.contains(&anon));
    if old_api {
        d.same(&["volume", "prune", "-f", "-a"]);
        // the daemon's order, not sorted
        let r = d.berth(&["volume", "prune", "-f"]);
        let mut lines: Vec<&str> = r.out.lines().collect();
        lines[1..3].sort();
        assert_eq!(
            (lines.join("\n"), r.code),
            (
                format!("Deleted Volumes:\n{anon}\nv3\n\nTotal reclaimed space: 0B"),
                0
            ),
            "{r:?}"
        );
    } else {
        // anonymous first, then all unused; v1 is in use by a container
        d.expect(
            &["volume", "prune", "-f"],
            &format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n"),
            0,
        );
        d.expect(
            &["volume", "prune", "-f", "-a"],
            "Deleted Volumes:\nv3\n\nTotal reclaimed space: 0B\n",
            0,
        );
        d.same(&["volume", "prune", "-f", "--all"]);
    }
    d.same(&["volume", "prune", "-f"]);
    d.expect(&["volume", "ls", "-q"], "v1\n", 0);
    d.expect(&["rm", "user"], "user\n", 0);
    d.expect(&["volume", "rm", "v1"], "v1\n", 0);
    d.expect(&["volume", "ls", "-q"], "", 0);
}

/// `--help`/`-h` on the management groups and on leaves print usage and
/// exit 0 (docker's cobra), instead of "unknown flag: --help"; no daemon
/// is needed, none is contacted.
#[test]
fn help_on_groups_and_subcommands_exits_0() {
    let cases: &[(&[&str], &str, &[&str])] = &[
        (
            &["image", "--help"],
            "Usage:  berth image COMMAND",
            &["ls", "pull", "rm"],
        ),
        (
            &["image", "-h"],
            "Usage:  berth image COMMAND",
            &["history", "tag"],
        ),
        (
            &["container", "--help"],
            "Usage:  berth container COMMAND",
            &["ls", "run", "exec"],
        ),
        (
            &["container", "-h"],
            "Usage:  berth container COMMAND",
            &["prune"],
        ),
        (
            &["system", "--help"],
            "Usage:  berth system COMMAND",
            &["df", "events", "info"],
        ),
        (&["system", "-h"], "Usage:  berth system COMMAND", &["df"]),
        (
            &["network", "--help"],
            "Usage:  berth network COMMAND",
            &["create", "connect"],
        ),
        (
            &["network", "-h"],
            "Usage:  berth network COMMAND",
            &["prune"],
        ),
        (
            &["volume", "--help"],
            "Usage:  berth volume COMMAND",
            &["create", "prune"],
        ),
        (
            &["volume", "-h"],
            "Usage:  berth volume COMMAND",
            &["inspect"],
        ),
        (
            &["registry", "--help"],
            "Usage:  berth registry COMMAND",
            &["serve", "gc"],
        ),
        (
            &["registry", "-h"],
            "Usage:  berth registry COMMAND",
            &["serve", "gc"],
        ),
        (
            &["registry", "serve", "--help"],
            "Usage: berth registry serve [OPTIONS]",
            &["--listen", "--root", "--htpasswd"],
        ),
        (
            &["registry", "serve", "-h"],
            "Usage: berth registry serve [OPTIONS]",
            &["--listen"],
        ),
        (
            &["registry", "gc", "--help"],
            "Usage: berth registry gc [OPTIONS]",
            &["--root", "--grace", "--dry-run"],
        ),
        (
            &["registry", "gc", "-h"],
            "Usage: berth registry gc [OPTIONS]",
            &["--dry-run"],
        ),
        (
            &["volume", "ls", "-h"],
            "Usage:  berth volume ls [OPTIONS]",
            &["--filter", "--quiet"],
        ),
        (
            &["image", "ls", "--help"],
            "Usage:  berth image ls [OPTIONS]",
            &["--digests"],
        ),
    ];
    for (args, usage, items) in cases {
        // an unreachable daemon: help must not need one
        let r = common::run_bounded(
            std::process::Command::new(common::berth_bin())
                .args(["-H", "unix:///nonexistent/berth.sock"])
                .args(*args),
            std::time::Duration::from_secs(20),
            None,
        );
        assert_eq!(r.code, 0, "berth {args:?}: {r:?}");
        assert!(r.err.is_empty(), "berth {args:?}: {r:?}");
        assert!(r.out.contains(usage), "berth {args:?}: {r:?}");
        for it in *items {
            assert!(r.out.contains(it), "berth {args:?} lacks {it}: {r:?}");
        }
    }
    // -h is still run's hostname, and unknown flags still fail as before
    let r = common::run_bounded(
        std::process::Command::new(common::berth_bin()).args(["image", "--bogus"]),
        std::time::Duration::from_secs(20),
        None,
    );
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.err.starts_with("unknown flag: --bogus"), "{r:?}");
}
