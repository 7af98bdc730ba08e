//! Lifecycle, signals, exec, freezer, terminal and bad input: the OCI
//! operations driven through the command line, compared with runc where
//! both can be observed the same way. Root only; no leftovers.

#[path = "../../berth-runtime/tests/harness/mod.rs"]
mod harness;

use harness::{run_cmd, Case, Outcome, Rt};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn rt(c: &Case, which: Rt, args: &[&str]) -> Outcome {
    let mut cmd = c.cmd(which);
    cmd.args(args);
    run_cmd(&mut cmd, b"")
}

/// `create`, with the container's stdio on files (`<tmp>/<id>.out`,
/// `.err`): a pipe would stay open as long as the container lives.
fn create(c: &Case, which: Rt) -> Outcome {
    let b = c.bundle(which);
    let id = c.id(which);
    let out = std::fs::File::create(c.tmp.path().join(format!("{id}.out"))).unwrap();
    let errp = c.tmp.path().join(format!("{id}.err"));
    let err = std::fs::File::create(&errp).unwrap();
    let mut cmd = c.cmd(which);
    cmd.arg("create")
        .arg("-b")
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut child = cmd.spawn().expect("spawn create");
    let deadline = Instant::now() + harness::TIMEOUT;
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{which:?} create did not return");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Outcome {
        code: st.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: std::fs::read_to_string(&errp).unwrap_or_default(),
    }
}

fn output_of(c: &Case, which: Rt) -> String {
    std::fs::read_to_string(c.tmp.path().join(format!("{}.out", c.id(which)))).unwrap_or_default()
}

fn state(c: &Case, which: Rt) -> Value {
    let o = rt(c, which, &["state", &c.id(which)]);
    assert_eq!(o.code, 0, "{which:?} state: {o:?}");
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("{which:?} state JSON: {e}: {}", o.stdout))
}

fn wait_status(c: &Case, which: Rt, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = state(c, which);
        if s["status"] == json!(want) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{which:?}: status {} never became {want}",
            s["status"]
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_output(c: &Case, which: Rt, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = output_of(c, which);
        if s.contains(needle) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{which:?}: output never contained {needle:?}: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn delete(c: &Case, which: Rt, force: bool) {
    let id = c.id(which);
    let args: Vec<&str> = if force {
        vec!["delete", "--force", &id]
    } else {
        vec!["delete", &id]
    };
    let o = rt(c, which, &args);
    assert_eq!(o.code, 0, "{which:?} delete: {o:?}");
}

#[test]
fn create_start_state_delete() {
    let mut c = Case::new("lifecycle");
    c.sh("echo started; sleep 30");
    let mut shapes = Vec::new();
    for which in [Rt::Runc, Rt::Berth] {
        let o = create(&c, which);
        assert_eq!(o.code, 0, "{which:?} create: {o:?}");
        let s = state(&c, which);
        assert_eq!(s["status"], json!("created"), "{which:?}");
        let pid = s["pid"].as_i64().unwrap();
        assert!(pid > 0);
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        let o = rt(&c, which, &["start", &c.id(which)]);
        assert_eq!(o.code, 0, "{which:?} start: {o:?}");
        wait_output(&c, which, "started");
        let s = wait_status(&c, which, "running");
        // the same keys and value kinds as runc's state
        let mut keys: Vec<String> = s.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        shapes.push((
            keys,
            s["id"] == json!(c.id(which)),
            s["bundle"] == json!(c.bundle(which)),
        ));
        let o = rt(&c, which, &["start", &c.id(which)]);
        assert_ne!(o.code, 0, "{which:?}: second start must fail");
        let o = rt(&c, which, &["delete", &c.id(which)]);
        assert_ne!(
            o.code, 0,
            "{which:?}: delete of a running container without --force must fail"
        );
        delete(&c, which, true);
        let o = rt(&c, which, &["state", &c.id(which)]);
        assert_ne!(o.code, 0, "{which:?}: state after delete must fail");
    }
    assert_eq!(shapes[0], shapes[1]);
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn kill_term_kill_usr1() {
    for (sig, script, want) in [
        (
            "TERM",
            "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.05; done",
            "got-term",
        ),
        (
            "USR1",
            "trap 'echo got-usr1; exit 4' USR1; echo ready; while true; do sleep 0.05; done",
            "got-usr1",
        ),
        ("KILL", "echo ready; sleep 30", ""),
        ("9", "echo ready; sleep 30", ""),
    ] {
        let mut c = Case::new(&format!("kill{}", sig.to_lowercase()));
        c.sh(script);
        let mut seen = Vec::new();
        for which in [Rt::Runc, Rt::Berth] {
            assert_eq!(create(&c, which).code, 0);
            assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
            wait_output(&c, which, "ready");
            let o = rt(&c, which, &["kill", &c.id(which), sig]);
            assert_eq!(o.code, 0, "{which:?} kill {sig}: {o:?}");
            wait_status(&c, which, "stopped");
            if !want.is_empty() {
                wait_output(&c, which, want);
            }
            let o = rt(&c, which, &["kill", &c.id(which), "TERM"]);
            assert_ne!(
                o.code, 0,
                "{which:?}: kill of a stopped container must fail"
            );
            seen.push(output_of(&c, which));
            delete(&c, which, false);
        }
        assert_eq!(seen[0], seen[1], "kill {sig}");
        c.assert_no_leftovers(Rt::Berth);
    }
}

/// runtime-tools' killsig: `kill` right after `start` (no wait for the
/// program to be ready), then `delete` without `--force` once stopped.
/// The init of a PID namespace drops a signal it has no handler for yet
/// (pid_namespaces(7)), so a signal sent while the shell is still starting
/// would be lost and the container would run on for 10 s: `kill` waits
/// (bounded) for the handler, so that the signal is delivered (runtime.md
/// "kill": the runtime MUST send the specified signal). Berth only: runc
/// 1.1.5 loses the signal the same way; only its slower CLI hides it.
#[test]
fn kill_right_after_start_is_delivered() {
    for round in 0..3 {
        for sig in ["TERM", "USR1", "USR2"] {
            let mut c = Case::new(&format!("killsig{}{round}", sig.to_lowercase()));
            // `sleep 0.1` first: a program that is slow to install its
            // handler (a loaded host, a cold page cache) made deterministic.
            c.sh(&format!(
                "sleep 0.1; trap 'touch /{sig}' {sig}; sleep 10 & wait $!"
            ));
            c.edit(|v| v["root"]["readonly"] = json!(false));
            let which = Rt::Berth;
            assert_eq!(create(&c, which).code, 0);
            assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
            let o = rt(&c, which, &["kill", &c.id(which), sig]);
            assert_eq!(o.code, 0, "kill {sig}: {o:?}");
            let t0 = Instant::now();
            wait_status(&c, which, "stopped");
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "kill {sig}: stopped only after {:?} (signal lost)",
                t0.elapsed()
            );
            delete(&c, which, false);
            assert!(
                c.bundle(which).join("rootfs").join(sig).exists(),
                "kill {sig}: the trap did not run"
            );
            c.assert_no_leftovers(which);
        }
    }
}

/// create and start as separate steps with a user namespace (runtime-tools'
/// linux_uid_mappings): the start handshake must work although the
/// container's root (host uid 100000) does not own the state directory.
/// Compared with runc.
#[test]
fn user_namespace_create_then_start() {
    let mut c = Case::new("usernsstart");
    c.sh("id; cat /proc/self/uid_map /proc/self/gid_map")
        .edit(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            v["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            v["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            v["root"]["readonly"] = json!(false);
        });
    let mut seen = Vec::new();
    for which in [Rt::Runc, Rt::Berth] {
        let b = c.bundle(which);
        let st = std::process::Command::new("chown")
            .arg("-R")
            .arg("100000:100000")
            .arg(b.join("rootfs"))
            .status()
            .unwrap();
        assert!(st.success());
        let o = create(&c, which);
        assert_eq!(o.code, 0, "{which:?} create: {o:?}");
        assert_eq!(state(&c, which)["status"], json!("created"), "{which:?}");
        let o = rt(&c, which, &["start", &c.id(which)]);
        assert_eq!(o.code, 0, "{which:?} start: {o:?}");
        wait_status(&c, which, "stopped");
        seen.push(output_of(&c, which));
        delete(&c, which, false);
    }
    assert!(seen[1].contains("uid=0(root)"), "{:?}", seen[1]);
    assert_eq!(seen[0], seen[1]);
    c.assert_no_leftovers(Rt::Berth);
}

/// A config without a mount namespace (runtime-tools' linux_ns_itype):
/// the container inherits the runtime's mount namespace (config-linux.md
/// "Namespaces": a type not listed MUST be inherited), while a type listed
/// without a path (uts) is a new one. Berth only: runc 1.1.5 would perform
/// the config's mounts (proc, sysfs, ...) in the host's namespace under
/// the bundle and leave them there; berth-runc chroots without mounting
/// and warns. No mount under the case's directory may remain.
#[test]
fn without_mount_namespace_it_is_inherited() {
    let mut c = Case::new("nomntns");
    c.sh("sleep 30").edit(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != json!("mount"));
        v["root"]["readonly"] = json!(false);
    });
    // the namespaces are compared from outside: no /proc is mounted inside
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let host_uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    let b = c.bundle(Rt::Berth);
    let id = c.id(Rt::Berth);
    let o = create(&c, Rt::Berth);
    assert_eq!(o.code, 0, "create: {o:?}");
    assert!(o.stderr.contains("no mount namespace"), "no warning: {o:?}");
    let st = state(&c, Rt::Berth);
    let pid = st["pid"].as_i64().unwrap();
    let mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    let uts = std::fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap();
    assert_eq!(mnt, host_mnt, "the mount namespace must be inherited");
    assert_ne!(uts, host_uts, "a listed namespace without path must be new");
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(root, b.join("rootfs"), "chrooted into the rootfs");
    let o = rt(&c, Rt::Berth, &["delete", "--force", &id]);
    assert_eq!(o.code, 0, "delete: {o:?}");
    c.assert_no_leftovers(Rt::Berth);
}

/// runtime.md "delete": deleting a container that is not stopped MUST
/// generate an error and MUST have no effect; here a created one.
/// Berth only for the assertion: runc 1.1.5 deletes a created container
/// without --force (kills it and removes it), which the spec forbids.
#[test]
fn delete_of_a_created_container_fails_without_force() {
    let mut c = Case::new("delcreated");
    c.sh("echo ran");
    let which = Rt::Berth;
    assert_eq!(create(&c, which).code, 0);
    let before = state(&c, which);
    assert_eq!(before["status"], json!("created"));
    let o = rt(&c, which, &["delete", &c.id(which)]);
    assert_ne!(o.code, 0, "delete of a created container must fail: {o:?}");
    assert!(o.stderr.contains("created"), "{o:?}");
    // no effect: same state, same live init, still startable
    let after = state(&c, which);
    assert_eq!(
        after, before,
        "delete without --force changed the container"
    );
    let pid = after["pid"].as_i64().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
    wait_output(&c, which, "ran");
    wait_status(&c, which, "stopped");
    delete(&c, which, false);
    c.assert_no_leftovers(which);
    // and with --force a created container goes
    let mut c = Case::new("delcreatedforce");
    c.sh("echo ran");
    assert_eq!(create(&c, which).code, 0);
    delete(&c, which, true);
    let o = rt(&c, which, &["state", &c.id(which)]);
    assert_ne!(o.code, 0, "state after delete --force must fail");
    c.assert_no_leftovers(which);
}

#[test]
fn kill_all_signals_every_process() {
    let mut c = Case::new("killall");
    c.sh("sleep 30 & sleep 30 & echo ready; wait").edit(|v| {
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    for which in [Rt::Runc, Rt::Berth] {
        assert_eq!(create(&c, which).code, 0);
        assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
        wait_output(&c, which, "ready");
        let o = rt(&c, which, &["kill", "--all", &c.id(which), "KILL"]);
        assert_eq!(o.code, 0, "{which:?} kill --all: {o:?}");
        wait_status(&c, which, "stopped");
        delete(&c, which, false);
    }
    assert!(berth_testutil::processes_containing("sleep 30")
        .iter()
        .all(|p| {
            // none of ours: the harness's ids are in no cmdline, so check the cgroup is gone
            std::fs::read_to_string(format!("/proc/{p}/cgroup"))
                .map(|s| !s.contains("dt-killall"))
                .unwrap_or(true)
        }));
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn exec_into_running_container() {
    let mut c = Case::new("exec");
    c.sh("echo ready; sleep 30")
        .edit(|v| v["hostname"] = json!("exec-host"));
    let mut outs = Vec::new();
    for which in [Rt::Runc, Rt::Berth] {
        assert_eq!(create(&c, which).code, 0);
        assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
        wait_output(&c, which, "ready");
        let id = c.id(which);
        let o = rt(
            &c,
            which,
            &[
                "exec", "--env", "EXTRA=1", "--cwd", "/tmp", "--user", "1000:1000", &id, "sh", "-c",
                "hostname; id; pwd; echo $EXTRA; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; exit 7",
            ],
        );
        assert_eq!(o.code, 7, "{which:?} exec: {o:?}");
        outs.push(o.stdout);
        // a process.json
        let pj = c.tmp.path().join(format!("{id}.process.json"));
        std::fs::write(&pj, serde_json::to_vec(&json!({"args": ["sh", "-c", "echo from-json"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]})).unwrap()).unwrap();
        let o = rt(&c, which, &["exec", "-p", pj.to_str().unwrap(), &id]);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "from-json\n"),
            "{which:?}: {o:?}"
        );
        delete(&c, which, true);
        let o = rt(&c, which, &["exec", &id, "true"]);
        assert_ne!(
            o.code, 0,
            "{which:?}: exec into a deleted container must fail"
        );
    }
    assert_eq!(outs[0], outs[1]);
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn exec_into_stopped_container_fails() {
    let mut c = Case::new("execstopped");
    c.sh("exit 0");
    for which in [Rt::Runc, Rt::Berth] {
        assert_eq!(create(&c, which).code, 0);
        assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
        wait_status(&c, which, "stopped");
        let o = rt(&c, which, &["exec", &c.id(which), "true"]);
        assert_ne!(o.code, 0, "{which:?}: {o:?}");
        if which == Rt::Berth {
            assert!(o.stderr.contains("stopped"), "{o:?}");
        }
        delete(&c, which, false);
    }
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn pause_and_resume() {
    let mut c = Case::new("pause");
    c.sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done")
        .edit(|v| v["root"]["readonly"] = json!(false));
    for which in [Rt::Runc, Rt::Berth] {
        assert_eq!(create(&c, which).code, 0);
        assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
        wait_status(&c, which, "running");
        assert_eq!(
            rt(&c, which, &["pause", &c.id(which)]).code,
            0,
            "{which:?} pause"
        );
        wait_status(&c, which, "paused");
        let count = c.bundle(which).join("rootfs/tmp/count");
        std::thread::sleep(Duration::from_millis(100));
        let a = std::fs::read_to_string(&count).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(200));
        let b = std::fs::read_to_string(&count).unwrap_or_default();
        assert_eq!(a, b, "{which:?}: a paused container made progress");
        assert_ne!(
            rt(&c, which, &["pause", &c.id(which)]).code,
            0,
            "{which:?}: pause twice"
        );
        assert_eq!(
            rt(&c, which, &["resume", &c.id(which)]).code,
            0,
            "{which:?} resume"
        );
        wait_status(&c, which, "running");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&count).unwrap_or_default() == b {
            assert!(
                Instant::now() < deadline,
                "{which:?}: no progress after resume"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let o = rt(&c, which, &["ps", "--format", "json", &c.id(which)]);
        assert_eq!(o.code, 0, "{which:?} ps: {o:?}");
        let pids: Vec<i64> = serde_json::from_str(&o.stdout).unwrap();
        assert!(!pids.is_empty());
        delete(&c, which, true);
    }
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn list_shows_containers() {
    let mut c = Case::new("list");
    c.sh("sleep 30");
    assert_eq!(create(&c, Rt::Berth).code, 0);
    let o = rt(&c, Rt::Berth, &["list", "--format", "json"]);
    let l: Vec<Value> = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["id"], json!(c.id(Rt::Berth)));
    assert_eq!(l[0]["status"], json!("created"));
    let o = rt(&c, Rt::Berth, &["list", "-q"]);
    assert_eq!(o.stdout.trim(), c.id(Rt::Berth));
    delete(&c, Rt::Berth, true); // created: only --force deletes it
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn terminal_through_console_socket() {
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixListener;
    let mut c = Case::new("tty");
    c.sh("tty; stty size; test -t 0 && echo stdin-is-tty")
        .edit(|v| {
            v["process"]["terminal"] = json!(true);
            v["process"]["consoleSize"] = json!({"height": 33, "width": 101});
        });
    let mut outs = Vec::new();
    for which in [Rt::Runc, Rt::Berth] {
        let sock = c.tmp.path().join(format!("console-{which:?}.sock"));
        let lis = UnixListener::bind(&sock).unwrap();
        let b = c.bundle(which);
        let id = c.id(which);
        let mut cmd = c.cmd(which);
        cmd.arg("create")
            .arg("-b")
            .arg(&b)
            .arg("--console-socket")
            .arg(&sock)
            .arg(&id);
        let create = std::thread::spawn(move || run_cmd(&mut cmd, b""));
        lis.set_nonblocking(false).unwrap();
        let (conn, _) = lis.accept().unwrap();
        let (master, _name) = berth_runtime::recv_fd(conn.as_fd()).unwrap();
        let master = master.expect("pty master");
        let o = create.join().unwrap();
        assert_eq!(o.code, 0, "{which:?} create: {o:?}");
        assert_eq!(rt(&c, which, &["start", &id]).code, 0);
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            use std::io::Read;
            let mut buf = [0u8; 1024];
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&out).contains("stdin-is-tty") || Instant::now() > deadline {
                break;
            }
        }
        outs.push(String::from_utf8_lossy(&out).replace("\r\n", "\n"));
        wait_status(&c, which, "stopped");
        delete(&c, which, false);
    }
    assert_eq!(outs[0], outs[1]);
    assert!(outs[1].contains("33 101"), "{:?}", outs[1]);
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn run_detach_then_kill() {
    let mut c = Case::new("detach");
    c.sh("sleep 30");
    let b = c.bundle(Rt::Berth);
    let id = c.id(Rt::Berth);
    let mut cmd = c.cmd(Rt::Berth);
    cmd.arg("run")
        .arg("-d")
        .arg("-b")
        .arg(&b)
        .arg(&id)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let st = cmd.status().unwrap();
    assert!(st.success());
    wait_status(&c, Rt::Berth, "running");
    assert_eq!(rt(&c, Rt::Berth, &["kill", &id, "KILL"]).code, 0);
    wait_status(&c, Rt::Berth, "stopped");
    delete(&c, Rt::Berth, false);
    c.assert_no_leftovers(Rt::Berth);
}

// ---- bad input ------------------------------------------------------

fn berth_run(c: &Case) -> Outcome {
    c.run(Rt::Berth)
}

#[test]
fn malformed_field_is_named() {
    let mut c = Case::new("badfield");
    c.edit(|v| v["process"]["user"]["uid"] = json!("root"));
    let o = berth_run(&c);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("process.user.uid"), "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn unknown_field_is_a_warning_not_an_error() {
    let mut c = Case::new("unknownfield");
    c.args(&["true"]).edit(|v| {
        v["bogusTopLevel"] = json!(1);
        v["process"]["bogusInProcess"] = json!("x");
    });
    let o = berth_run(&c);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stderr.contains("bogusTopLevel") && o.stderr.contains("process.bogusInProcess"),
        "{o:?}"
    );
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn missing_rootfs_is_an_error() {
    let mut c = Case::new("norootfs");
    c.edit(|v| v["root"]["path"] = json!("no-such-rootfs"));
    let o = berth_run(&c);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("no-such-rootfs"), "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn id_in_use_and_invalid_ids() {
    let mut c = Case::new("idinuse");
    c.sh("sleep 30");
    assert_eq!(create(&c, Rt::Berth).code, 0);
    let o = create(&c, Rt::Berth);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("already exists"), "{o:?}");
    for bad in ["a/b", "..", "", &"x".repeat(200)] {
        let o = rt(&c, Rt::Berth, &["state", bad]);
        assert_ne!(o.code, 0, "{bad:?}");
        assert!(o.stderr.contains("invalid container id"), "{bad:?}: {o:?}");
    }
    delete(&c, Rt::Berth, true); // created: only --force deletes it
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn unknown_id_errors() {
    let c = Case::new("unknownid");
    for args in [
        ["kill", "no-such-ctr"],
        ["state", "no-such-ctr"],
        ["start", "no-such-ctr"],
        ["delete", "no-such-ctr"],
    ] {
        let o = rt(&c, Rt::Berth, &args);
        assert_ne!(o.code, 0, "{args:?}");
        assert!(o.stderr.contains("does not exist"), "{args:?}: {o:?}");
    }
    assert_ne!(rt(&c, Rt::Berth, &["kill", "no-such-ctr", "NOSIG"]).code, 0);
}

#[test]
fn failed_create_leaves_nothing_behind() {
    // fails half-way: after namespaces, cgroup and some mounts exist
    let mut c = Case::new("halfway");
    c.edit(|v| {
        v["mounts"].as_array_mut().unwrap().push(json!({"destination": "/late", "type": "bind", "source": "/no/such/source", "options": ["rbind"]}));
    });
    let o = create(&c, Rt::Berth);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("/no/such/source"), "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
    assert!(berth_testutil::processes_containing(&c.id(Rt::Berth)).is_empty());
    // a failing createRuntime hook, too
    let mut c = Case::new("hookfail");
    c.edit(|v| v["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]}));
    let o = create(&c, Rt::Berth);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("createRuntime[0]"), "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn missing_program_names_it_once() {
    // A failure inside the container process is reported with one
    // "container process setup:" prefix (it used to appear twice).
    let mut c = Case::new("noprog");
    c.args(&["/no/such/program"]);
    let o = berth_run(&c);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("/no/such/program"), "{o:?}");
    assert_eq!(
        o.stderr.matches("container process setup:").count(),
        1,
        "{o:?}"
    );
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn cwd_through_leaked_fd_is_refused() {
    // CVE-2024-21626: a cwd reaching a host directory through a leaked fd
    // must not be entered (runc 1.1.5 is vulnerable: berth only).
    let mut c = Case::new("cwdleak");
    c.sh("pwd")
        .edit(|v| v["process"]["cwd"] = json!("/proc/self/fd/5"));
    let o = berth_run(&c);
    assert_ne!(o.code, 0, "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn only_stdio_fds_reach_the_container() {
    let mut c = Case::new("fds");
    c.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '");
    let o = berth_run(&c);
    // 0 1 2 and the fd ls itself opens for /proc/self/fd
    assert_eq!(o.stdout.trim(), "0 1 2 3", "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn spec_template_matches_runc() {
    let c = Case::new("spec");
    let mut docs = Vec::new();
    for which in [Rt::Runc, Rt::Berth] {
        let d = c.tmp.path().join(format!("spec-{which:?}"));
        std::fs::create_dir_all(&d).unwrap();
        let mut cmd = c.cmd(which);
        cmd.arg("spec").current_dir(&d);
        let o = run_cmd(&mut cmd, b"");
        assert_eq!(o.code, 0, "{which:?} spec: {o:?}");
        let v: Value =
            serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
        docs.push(v);
        // a second spec refuses to overwrite
        let mut cmd = c.cmd(which);
        cmd.arg("spec").current_dir(&d);
        assert_ne!(
            run_cmd(&mut cmd, b"").code,
            0,
            "{which:?}: spec over an existing config.json"
        );
    }
    assert_eq!(docs[0], docs[1], "berth-runc spec differs from runc spec");
    berth_runtime::parse_config(&serde_json::to_vec(&docs[1]).unwrap())
        .expect("our template parses");
}

#[test]
fn inherited_host_fds_do_not_reach_the_container() {
    // berth-runc started with extra open, inheritable descriptors (a host
    // file and a host directory, as a careless caller might leave): the
    // container must see only 0, 1, 2 (CVE-2024-21626).
    let mut c = Case::new("hostfds");
    c.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; ls -l /proc/self/fd/7 /proc/self/fd/8 2>&1 | wc -l");
    let b = c.bundle(Rt::Berth);
    let script = format!(
        "exec 7</etc/hostname 8</etc; exec {} --root {} run -b {} {}",
        harness::berth_runc().display(),
        c.root(Rt::Berth).display(),
        b.display(),
        c.id(Rt::Berth)
    );
    let o = run_cmd(std::process::Command::new("sh").arg("-c").arg(&script), b"");
    assert_eq!(o.code, 0, "{o:?}");
    // fds 0-2 (+3: ls reading the directory); both probes of 7 and 8 fail
    assert_eq!(o.stdout, "0 1 2 3 2\n", "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
}
