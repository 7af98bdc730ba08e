//! Container healthchecks as dockerd runs them (berth_engine::health),
//! through the real docker CLI and docker-py against berthd: probes as
//! execs, State.Health (status, failing streak, log), timeouts, NONE, an
//! image's HEALTHCHECK and its merge, health_status and exec events, the
//! `docker ps` status and health filter, stop/start/pause, and nothing
//! left behind (`Daemon::finish`).

mod common;

use common::{eventually, stderr, Daemon};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

fn inspect(d: &Daemon, name: &str, fmt: &str) -> String {
    d.ok(&["inspect", "-f", fmt, name])
}

fn health(d: &Daemon, name: &str) -> serde_json::Value {
    serde_json::from_str(&inspect(d, name, "{{json .State.Health}}")).expect("health json")
}

fn run(d: &Daemon, name: &str, flags: &[&str]) -> String {
    let mut a = vec!["run", "-d", "--name", name, "--network", "none"];
    a.extend(flags);
    a.extend(["busybox", "sleep", "300"]);
    d.ok(&a)
}

#[test]
fn healthchecks_as_dockerd() {
    let d = Daemon::start();
    d.load_busybox();
    let since = (now() - 1).to_string();

    // A probe that succeeds: starting, then healthy.
    run(
        &d,
        "hok",
        &["--health-cmd", "true", "--health-interval", "200ms"],
    );
    // One whose first probe is an hour away stays starting.
    run(
        &d,
        "hwait",
        &["--health-cmd", "true", "--health-interval", "1h"],
    );
    // One that fails, twice in a row makes it unhealthy.
    run(
        &d,
        "hbad",
        &[
            "--health-cmd",
            "echo out; echo err >&2; false",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
        ],
    );
    // One that runs past its timeout.
    run(
        &d,
        "hslow",
        &[
            "--health-cmd",
            "echo partial; sleep 5",
            "--health-interval",
            "200ms",
            "--health-timeout",
            "300ms",
            "--health-retries",
            "1",
        ],
    );
    // None at all.
    run(&d, "hnone", &[]);

    assert_eq!(inspect(&d, "hwait", "{{.State.Health.Status}}"), "starting");
    assert!(
        eventually(20, || inspect(&d, "hok", "{{.State.Health.Status}}")
            == "healthy"),
        "hok: {}",
        health(&d, "hok")
    );
    let h = health(&d, "hok");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let log = h["Log"].as_array().expect("log");
    assert!(!log.is_empty() && log.len() <= 5, "{h}");
    assert_eq!(log[0]["ExitCode"], 0, "{h}");
    assert_eq!(log[0]["Output"], "", "{h}");
    assert!(log[0]["Start"].as_str().expect("start") <= log[0]["End"].as_str().expect("end"));
    assert_eq!(
        inspect(&d, "hok", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD-SHELL","true"],"Interval":200000000}"#
    );

    assert!(
        eventually(20, || inspect(&d, "hbad", "{{.State.Health.Status}}")
            == "unhealthy"),
        "hbad: {}",
        health(&d, "hbad")
    );
    // The log keeps the last five results; the streak goes on counting.
    assert!(
        eventually(20, || health(&d, "hbad")["FailingStreak"]
            .as_i64()
            .is_some_and(|n| n >= 6)),
        "{}",
        health(&d, "hbad")
    );
    let h = health(&d, "hbad");
    let log = h["Log"].as_array().expect("log");
    assert_eq!(log.len(), 5, "{h}");
    for e in log {
        assert_eq!(e["ExitCode"], 1, "{h}");
        // stdout and stderr are two pipes: either may come first, as
        // with dockerd.
        let out = e["Output"].as_str().unwrap_or("");
        assert!(out == "out\nerr\n" || out == "err\nout\n", "{h}");
    }

    assert!(
        eventually(20, || inspect(&d, "hslow", "{{.State.Health.Status}}")
            == "unhealthy"),
        "hslow: {}",
        health(&d, "hslow")
    );
    let h = health(&d, "hslow");
    let e = &h["Log"][0];
    assert_eq!(e["ExitCode"], -1, "{h}");
    assert_eq!(
        e["Output"], "Health check exceeded timeout (300ms): partial\n",
        "{h}"
    );
    assert_eq!(inspect(&d, "hnone", "{{json .State.Health}}"), "null");

    // docker ps: the status column and the health filter.
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    let status = |n: &str| {
        ps.lines()
            .find_map(|l| l.strip_prefix(&format!("{n} ")))
            .unwrap_or_else(|| panic!("{n} not in {ps}"))
            .to_string()
    };
    assert!(
        status("hok").starts_with("Up ") && status("hok").ends_with(" (healthy)"),
        "{ps}"
    );
    assert!(status("hbad").ends_with(" (unhealthy)"), "{ps}");
    assert!(status("hwait").ends_with(" (health: starting)"), "{ps}");
    assert!(!status("hnone").contains('('), "{ps}");
    let filtered = |v: &str| {
        let mut n: Vec<String> = d
            .ok(&[
                "ps",
                "--filter",
                &format!("health={v}"),
                "--format",
                "{{.Names}}",
            ])
            .lines()
            .map(str::to_string)
            .collect();
        n.sort();
        n
    };
    assert_eq!(filtered("healthy"), ["hok"]);
    assert_eq!(filtered("unhealthy"), ["hbad", "hslow"]);
    assert_eq!(filtered("starting"), ["hwait"]);
    assert_eq!(filtered("none"), ["hnone"]);
    let o = d.docker(&["ps", "--filter", "health=bogus"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Unrecognised filter value for health: bogus"),
        "{}",
        stderr(&o)
    );

    // Probes leave no exec records behind.
    assert!(
        eventually(10, || inspect(&d, "hbad", "{{json .ExecIDs}}") == "null"),
        "{}",
        inspect(&d, "hbad", "{{json .ExecIDs}}")
    );

    // Paused: no probes, and the status reads unhealthy; unpaused: probing
    // goes on.
    let last_end = |n: &str| {
        health(&d, n)["Log"]
            .as_array()
            .and_then(|l| l.last())
            .map(|e| e["End"].clone())
            .unwrap_or_default()
    };
    d.ok(&["pause", "hok"]);
    assert_eq!(inspect(&d, "hok", "{{.State.Health.Status}}"), "unhealthy");
    let n0 = last_end("hok");
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(last_end("hok"), n0);
    d.ok(&["unpause", "hok"]);
    assert!(eventually(10, || {
        inspect(&d, "hok", "{{.State.Health.Status}}") == "healthy" && last_end("hok") != n0
    }));

    // Stopped: unhealthy, its log kept; started again: starting, then
    // healthy.
    d.ok(&["stop", "-t", "0", "hok"]);
    let h = health(&d, "hok");
    assert_eq!(h["Status"], "unhealthy", "{h}");
    assert_eq!(h["Log"].as_array().map(Vec::len), Some(5), "{h}");
    assert!(eventually(5, || inspect(&d, "hok", "{{json .ExecIDs}}") == "null"));
    d.ok(&["start", "hok"]);
    let s = inspect(&d, "hok", "{{.State.Health.Status}}");
    assert!(s == "starting" || s == "healthy", "{s}");
    assert!(eventually(10, || inspect(
        &d,
        "hok",
        "{{.State.Health.Status}}"
    ) == "healthy"));

    // Events: the status changes, and each probe's exec.
    let until = (now() + 1).to_string();
    let events = |filters: &[&str]| {
        let mut a = vec![
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--format",
            "{{.Actor.Attributes.name}} {{.Action}}",
        ];
        for f in filters {
            a.extend(["--filter", f]);
        }
        d.ok(&a)
            .lines()
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let hs = events(&["event=health_status"]);
    for want in [
        "hok health_status: healthy",
        "hbad health_status: unhealthy",
        "hslow health_status: unhealthy",
    ] {
        assert!(hs.iter().any(|l| l == want), "{want} not in {hs:?}");
    }
    assert!(hs.iter().all(|l| l.contains("health_status: ")), "{hs:?}");
    assert!(
        !hs.iter()
            .any(|l| l.starts_with("hnone ") || l.starts_with("hwait ")),
        "{hs:?}"
    );
    let ex = events(&["container=hbad"]);
    let pos = |w: &str| ex.iter().position(|l| l.starts_with(w));
    let (c, s, e) = (
        pos("hbad exec_create: /bin/sh -c echo out; echo err >&2; false"),
        pos("hbad exec_start: /bin/sh -c echo out; echo err >&2; false"),
        pos("hbad exec_die"),
    );
    assert!(
        c.is_some() && s.is_some() && e.is_some() && c < s && s < e,
        "{ex:?}"
    );
    let die = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=hbad",
        "--filter",
        "event=exec_die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    assert!(die.lines().all(|l| l == "1"), "{die}");
    let die = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=hslow",
        "--filter",
        "event=exec_die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    assert!(die.lines().next().is_some_and(|l| l == "137"), "{die}");

    // An image's HEALTHCHECK, merged field by field with the run's flags;
    // --no-healthcheck (Test NONE) turns it off.
    d.ok(&[
        "commit",
        "--change",
        "HEALTHCHECK --interval=200ms --retries=4 CMD [\"true\"]",
        "hnone",
        "hcimg:1",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "himg",
        "--network",
        "none",
        "hcimg:1",
        "sleep",
        "300",
    ]);
    assert!(eventually(20, || inspect(
        &d,
        "himg",
        "{{.State.Health.Status}}"
    ) == "healthy"));
    assert_eq!(
        inspect(&d, "himg", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD","true"],"Interval":200000000,"Retries":4}"#
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hmerge",
        "--network",
        "none",
        "--health-retries",
        "7",
        "--health-cmd",
        "exit 1",
        "hcimg:1",
        "sleep",
        "300",
    ]);
    assert_eq!(
        inspect(&d, "hmerge", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD-SHELL","exit 1"],"Interval":200000000,"Retries":7}"#
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hoff",
        "--network",
        "none",
        "--no-healthcheck",
        "hcimg:1",
        "sleep",
        "300",
    ]);
    assert_eq!(
        inspect(&d, "hoff", "{{json .Config.Healthcheck.Test}}"),
        r#"["NONE"]"#
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(inspect(&d, "hoff", "{{json .State.Health}}"), "null");
    assert!(!d
        .ok(&["ps", "--filter", "name=hoff", "--format", "{{.Status}}"])
        .contains('('));

    // dockerd's checks of the create's healthcheck.
    for (hc, msg) in [
        (
            r#"{"Test":["CMD","true"],"Interval":500000}"#,
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            r#"{"Test":["CMD","true"],"Retries":-1}"#,
            "Retries in Healthcheck cannot be negative",
        ),
    ] {
        let body = format!(r#"{{"Image":"busybox","Cmd":["true"],"Healthcheck":{hc}}}"#);
        let (st, _, b) = d.http("POST", "/v1.44/containers/create", body.as_bytes());
        assert_eq!(st, 400, "{}", String::from_utf8_lossy(&b));
        assert!(String::from_utf8_lossy(&b).contains(msg));
    }

    // A finished probe's exec record is gone.
    let eid = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=hbad",
        "--filter",
        "event=exec_create",
        "--format",
        "{{.Actor.Attributes.execID}}",
    ]);
    let eid = eid.lines().next().expect("a probe's exec");
    let (st, _, _) = d.http("GET", &format!("/v1.44/exec/{eid}/json"), b"");
    assert_eq!(st, 404, "exec record of probe {eid} kept");

    // Removal of containers mid-probe stops their probing.
    let mark = now().to_string();
    d.ok(&["rm", "-f", "hslow", "hbad", "hok"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let t = (now() + 1).to_string();
    let after: Vec<String> = d
        .ok(&[
            "events",
            "--since",
            &mark,
            "--until",
            &t,
            "--filter",
            "container=hbad",
            "--format",
            "{{.Action}}",
        ])
        .lines()
        .map(str::to_string)
        .collect();
    let destroyed = after
        .iter()
        .position(|a| a == "destroy")
        .unwrap_or_else(|| panic!("no destroy in {after:?}"));
    assert!(
        !after[destroyed..]
            .iter()
            .any(|a| a.starts_with("exec_create") || a.starts_with("exec_start")),
        "{after:?}"
    );
    d.ok(&["rmi", "-f", "hcimg:1"]);
    d.finish();
}

#[test]
fn docker_py_health() {
    let d = Daemon::start();
    d.docker_py("docker_py_health.py");
    d.finish();
}

/// A running container's probing starts over when berthd comes back (live
/// restore): `starting`, then `healthy` again, with no probe of the old
/// daemon's left.
#[test]
fn probing_resumes_after_a_daemon_restart() {
    let mut d = Daemon::start();
    d.load_busybox();
    run(
        &d,
        "hlive",
        &["--health-cmd", "true", "--health-interval", "200ms"],
    );
    assert!(eventually(20, || inspect(
        &d,
        "hlive",
        "{{.State.Health.Status}}"
    ) == "healthy"));
    d.kill9();
    d.spawn();
    let s = inspect(&d, "hlive", "{{.State.Health.Status}}");
    assert!(s == "starting" || s == "healthy", "{s}");
    let since = now().to_string();
    assert!(eventually(20, || {
        let h = health(&d, "hlive");
        h["Status"] == "healthy" && h["Log"].as_array().is_some_and(|l| !l.is_empty())
    }));
    let until = (now() + 1).to_string();
    let ev = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=hlive",
        "--filter",
        "event=exec_die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    assert!(
        ev.lines().next().is_some() && ev.lines().all(|l| l == "0"),
        "{ev}"
    );
    d.finish();
}
