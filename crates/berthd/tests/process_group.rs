//! Issue 4: container processes run as runc's do — each container init
//! and exec process leads its own session and process group, with default
//! signal dispositions — so a program that signals its own group (`kill
//! 0`, a shell's `trap 'kill 0' EXIT`) reaches only its own processes and
//! never the container's monitor (which would end the container and
//! leave its processes, mounts and cgroups behind).

mod common;

use common::*;

/// `Name:\tvalue` of `/proc/<pid>/status` text.
fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn container_processes_lead_their_own_process_groups() {
    let d = Daemon::start();
    d.load_busybox();

    // The init: its own session and group (NSsid/NSpgid 1 in its pid
    // namespace), nothing ignored.
    let st = d.ok(&["run", "--rm", "busybox", "cat", "/proc/self/status"]);
    assert_eq!(field(&st, "NSpgid"), "1", "{st}");
    assert_eq!(field(&st, "NSsid"), "1", "{st}");
    assert_eq!(field(&st, "SigIgn"), "0000000000000000", "{st}");

    // A signal to the init's own group: PID 1 of a pid namespace has no
    // handler for SIGUSR1 and survives; so must the container.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "pg",
        "busybox",
        "sh",
        "-c",
        "kill -USR1 0; echo sent; exec sleep 1000",
    ]);
    assert!(
        eventually(10, || d.ok(&["logs", "pg"]).contains("sent")),
        "logs: {}",
        d.ok(&["logs", "pg"])
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "pg"]),
        "running"
    );

    // An exec process leads its own group too: its `kill 0` ends the exec
    // (128 + SIGUSR1), not the container.
    let st = d.ok(&["exec", "pg", "cat", "/proc/self/status"]);
    assert_ne!(field(&st, "NSpgid"), "1", "{st}");
    assert_eq!(field(&st, "NSpgid"), field(&st, "NSpid"), "{st}");
    assert_eq!(field(&st, "NSsid"), field(&st, "NSpid"), "{st}");
    assert_eq!(field(&st, "SigIgn"), "0000000000000000", "{st}");
    let o = d.docker(&["exec", "pg", "sh", "-c", "kill -USR1 0; echo never"]);
    assert_eq!(o.status.code(), Some(138), "{o:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "pg"]),
        "running"
    );
    assert_eq!(d.ok(&["exec", "pg", "echo", "alive"]), "alive");

    d.ok(&["rm", "-f", "pg"]);
    d.finish();
}
