//! Details a Docker user notices, through berthd with the real docker CLI
//! and raw API calls (most found by a fresh-user run): `docker exec` of a
//! missing program and the console size of `exec -t`, the container's view
//! of its cgroups, `docker info`'s drivers, the daemon log, `system df`.

mod common;
use common::*;

/// A program that does not exist: the docker CLI prints dockerd's "OCI
/// runtime exec failed" message and exits 127; without a TTY the message
/// must arrive as a stdout frame (the CLI rejects unframed bytes with
/// "Unrecognized input header").
#[test]
fn exec_of_a_missing_program_is_reported_with_127() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "ex", "busybox", "sleep", "60"]);
    let o = d.docker(&["exec", "ex", "nosuchcmd"]);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(127), "{all}");
    assert!(
        all.contains("OCI runtime exec failed") && all.contains("nosuchcmd"),
        "{all}"
    );
    assert!(!all.contains("Unrecognized input header"), "{all}");
    // The container is unaffected and the next exec works.
    assert_eq!(d.ok(&["exec", "ex", "echo", "still-here"]), "still-here");
    d.finish();
}

/// `POST /exec/{id}/start` with `Tty` and `ConsoleSize`: the program sees
/// that size from its first instruction (the size is set on the pty before
/// it starts, not resized afterwards).
#[test]
fn exec_tty_console_size_is_set_before_the_program_starts() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "tt", "busybox", "sleep", "60"]);
    for _ in 0..5 {
        let (st, _, body) = d.http(
            "POST",
            "/containers/tt/exec",
            br#"{"Cmd":["stty","size"],"Tty":true,"AttachStdout":true,"AttachStderr":true}"#,
        );
        assert_eq!(st, 201, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("exec create JSON");
        let id = v["Id"].as_str().expect("Id").to_string();
        let (st, _, out) = d.http(
            "POST",
            &format!("/exec/{id}/start"),
            br#"{"Detach":false,"Tty":true,"ConsoleSize":[22,99]}"#,
        );
        assert_eq!(st, 200);
        assert_eq!(String::from_utf8_lossy(&out).trim(), "22 99");
    }
    d.finish();
}

/// As Docker: the container sees its own cgroups read-only at
/// /sys/fs/cgroup, so a memory limit can be read from inside (v1 hosts:
/// memory/memory.limit_in_bytes; v2: memory.max).
#[test]
fn container_reads_its_memory_limit_from_sys_fs_cgroup() {
    let d = Daemon::start();
    d.load_busybox();
    let out = d.ok(&[
        "run",
        "--rm",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "f=/sys/fs/cgroup/memory/memory.limit_in_bytes; [ -e $f ] || f=/sys/fs/cgroup/memory.max; cat $f; (echo 1073741824 > $f) 2>/dev/null || echo read-only",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("67108864"), "{out}");
    assert!(out.contains("read-only"), "{out}");
    d.finish();
}

/// `docker info` lists the network drivers berthd has (bridge, host, null).
#[test]
fn info_lists_the_bridge_network_driver() {
    let d = Daemon::start();
    assert_eq!(
        d.ok(&["info", "--format", "{{.Plugins.Network}}"]),
        "[bridge host null]"
    );
    // Its log goes to a file here: plain text, no terminal colour codes.
    let log = d.log();
    assert!(!log.is_empty() && !log.contains('\u{1b}'), "{log:?}");
    d.finish();
}

/// `docker system df`: an image a container uses is not reclaimable (the
/// CLI needs `Containers` and `SharedSize` filled, as dockerd fills them).
#[test]
fn system_df_counts_an_image_in_use_as_not_reclaimable() {
    let d = Daemon::start();
    d.load_busybox();
    d.ok(&["run", "-d", "--name", "df", "busybox", "sleep", "60"]);
    let (st, _, body) = d.http("GET", "/system/df", b"");
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("df JSON");
    let img = &v["Images"][0];
    assert_eq!(img["Containers"], 1, "{v}");
    assert_eq!(img["SharedSize"], 0, "{v}");
    assert!(v["LayersSize"].as_i64().unwrap_or(0) > 1_000_000, "{v}");
    let out = d.ok(&["system", "df", "--format", "{{.Type}} {{.Reclaimable}}"]);
    assert!(out.lines().any(|l| l == "Images 0B (0%)"), "{out}");
    d.finish();
}

/// `docker build` (legacy builder, and the CLI's default, which falls back
/// to it without buildx) gets a clear refusal naming what to do instead,
/// after its context upload, not a 404 `page not found` or a broken pipe.
#[test]
fn build_is_refused_clearly() {
    let d = Daemon::start();
    let ctx = berth_testutil::tempdir();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    // Enough context that an early answer would break the upload.
    std::fs::write(ctx.path().join("blob"), vec![7u8; 4 << 20]).unwrap();
    let dir = ctx.path().to_str().unwrap();
    for env in [None, Some("0")] {
        let mut c = std::process::Command::new("docker");
        c.args(["-H", &d.host(), "build", "-t", "nope", dir]);
        if let Some(v) = env {
            c.env("DOCKER_BUILDKIT", v);
        }
        let o = c.output().expect("docker build");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("Error response from daemon: Berth has no image builder yet")
                && err.contains("docker load"),
            "{err}"
        );
        assert!(!err.contains("broken pipe"), "{err}");
    }
    let (code, _, body) = d.http("POST", "/build", b"");
    assert_eq!(code, 501, "{}", String::from_utf8_lossy(&body));
    d.finish();
}

/// Monitors are forked by the daemon's monitor zygote, not executed: the
/// monitor's parent is `berth-monitor --zygote`, its command line is
/// rewritten to `berth-monitor <state-dir>`, the zygote serves a second
/// container too, and it exits with the daemon while the monitors (and so
/// the containers) live on.
#[test]
fn monitors_are_forked_by_the_zygote_which_ends_with_the_daemon() {
    let mut d = Daemon::start();
    d.load_busybox();
    let exec = d.exec_root().display().to_string();
    let ppid = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()?
                    .split_whitespace()
                    .nth(1)
                    .map(String::from)
            })
            .unwrap_or_default()
    };
    let mut zygote = String::new();
    for name in ["z1", "z2"] {
        let id = d.ok(&["run", "-d", "--name", name, "busybox", "sleep", "300"]);
        let id = id.trim();
        let want = format!("{exec}/containers/{id}");
        let monitor = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|p| cmdline(p).ends_with(&format!("berth-monitor {want}")))
            .unwrap_or_else(|| panic!("no process with command line 'berth-monitor {want}'"));
        let parent = ppid(&monitor);
        let pc = cmdline(&parent);
        assert!(
            pc.contains("berth-monitor --zygote") && pc.contains(&exec),
            "monitor {monitor}'s parent {parent} is {pc:?}"
        );
        if zygote.is_empty() {
            zygote = parent;
        } else {
            assert_eq!(parent, zygote, "one zygote per daemon");
        }
    }
    d.kill9();
    assert!(
        eventually(10, || !std::path::Path::new(&format!("/proc/{zygote}"))
            .exists()
            || cmdline(&zygote).is_empty()),
        "the zygote outlived the daemon"
    );
    d.spawn();
    assert_eq!(
        d.ok(&["ps", "--format", "{{.Names}} {{.State}}"])
            .lines()
            .count(),
        2,
        "containers outlived the zygote"
    );
    let ps = d.ok(&["ps", "--format", "{{.State}}"]);
    assert!(ps.lines().all(|l| l == "running"), "{ps}");
    d.ok(&["rm", "-f", "z1", "z2"]);
    d.finish();
}
