//! Issue 4: a container whose monitor (and process) were killed with
//! SIGKILL leaves its empty cgroup directories and runtime state; the
//! daemon removes them at restart, at the container's removal and before
//! its next start — and never touches a running container's cgroup or a
//! cgroup of an id it does not know (another daemon's under `/berth`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The container's cgroup directories, one per hierarchy
/// (`/sys/fs/cgroup/<h>/berth/<id>` on v1/hybrid, `/sys/fs/cgroup/berth/<id>`
/// on v2).
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    berth_testutil::cgroups_containing(&format!("/berth/{id}"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == id))
        .collect()
}

/// SIGKILLs the container's monitor, then its init: nobody tears the
/// container down, its cgroup directories stay (empty).
fn kill_monitor_and_process(d: &Daemon, name: &str) -> String {
    let id = d.ok(&["inspect", "-f", "{{.Id}}", name]);
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", name]);
    let want = format!("berth-monitor {}/containers/{id}", d.exec_root().display());
    let monitor = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|p| cmdline(p).ends_with(&want))
        .unwrap_or_else(|| panic!("no process {want:?}"));
    for p in [&monitor, &pid] {
        let st = Command::new("kill").args(["-9", p]).status().expect("kill");
        assert!(st.success(), "kill -9 {p}");
    }
    assert!(
        eventually(10, || !Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || cmdline(&pid).is_empty()),
        "init {pid} survived SIGKILL"
    );
    let dirs = cgroup_dirs(&id);
    assert!(!dirs.is_empty(), "no cgroup dirs of {id} left to test with");
    id
}

#[test]
fn leftover_cgroups_of_killed_monitors_are_removed() {
    let mut d = Daemon::start();
    d.load_busybox();
    let run = |d: &Daemon, name: &str| {
        d.ok(&["run", "-d", "--name", name, "busybox", "sleep", "1000"]);
    };
    run(&d, "lo-keep");
    run(&d, "lo-victim");
    let keep = d.ok(&["inspect", "-f", "{{.Id}}", "lo-keep"]);
    let keep_dirs = cgroup_dirs(&keep);
    assert!(!keep_dirs.is_empty());
    let victim = kill_monitor_and_process(&d, "lo-victim");
    let victim_dirs = cgroup_dirs(&victim);
    // An id this daemon does not know (another daemon's), under the same
    // parent in every hierarchy, empty.
    let stranger = berth_types_like_id();
    let stranger_dirs: Vec<PathBuf> = victim_dirs
        .iter()
        .map(|p| p.with_file_name(&stranger))
        .collect();
    for p in &stranger_dirs {
        std::fs::create_dir(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    }
    let check = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // (a) a daemon restart removes exactly the victim's directories.
        d.kill9();
        d.spawn();
        assert!(
            eventually(10, || cgroup_dirs(&victim).is_empty()),
            "leftover cgroup dirs of {victim} stayed: {:?}",
            cgroup_dirs(&victim)
        );
        assert!(
            !d.exec_root().join("runtime").join(&victim).exists(),
            "runtime state of {victim} stayed"
        );
        // (b) the unknown id's are left alone, (c) so is the running one.
        for p in &stranger_dirs {
            assert!(p.is_dir(), "{} was removed", p.display());
        }
        assert_eq!(cgroup_dirs(&keep), keep_dirs);
        assert_eq!(
            d.ok(&["inspect", "-f", "{{.State.Status}}", "lo-keep"]),
            "running"
        );
        assert_eq!(d.ok(&["exec", "lo-keep", "echo", "hi"]), "hi");
        // The victim starts again (its runtime state is gone) and stops
        // cleanly.
        d.ok(&["start", "lo-victim"]);
        d.ok(&["stop", "-t", "0", "lo-victim"]);
        assert!(eventually(10, || cgroup_dirs(&victim).is_empty()));

        // With the daemon up: the exit of a killed monitor is noticed,
        // and the removal of the container takes its leftovers.
        run(&d, "lo-rm");
        let gone = kill_monitor_and_process(&d, "lo-rm");
        assert!(eventually(10, || d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}}",
            "lo-rm"
        ]) == "exited"));
        assert!(!cgroup_dirs(&gone).is_empty());
        d.ok(&["rm", "lo-rm"]);
        assert!(
            eventually(10, || cgroup_dirs(&gone).is_empty()),
            "rm left {:?}",
            cgroup_dirs(&gone)
        );
        assert!(!d.exec_root().join("runtime").join(&gone).exists());

        // Before a start: the old cgroup and state of a killed run go, and
        // the container runs again.
        run(&d, "lo-again");
        let again = kill_monitor_and_process(&d, "lo-again");
        let old_dirs = cgroup_dirs(&again);
        assert!(eventually(10, || d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}}",
            "lo-again"
        ]) == "exited"));
        d.ok(&["start", "lo-again"]);
        assert_eq!(d.ok(&["exec", "lo-again", "echo", "ok"]), "ok");
        // Re-created, with the new process in it.
        assert_eq!(cgroup_dirs(&again), old_dirs);
        let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "lo-again"]);
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
        assert!(own.contains(&format!("/berth/{again}")), "{own}");
        for p in &stranger_dirs {
            assert!(p.is_dir(), "{} was removed", p.display());
        }
        assert_eq!(cgroup_dirs(&keep), keep_dirs);
    }));
    for p in &stranger_dirs {
        let _ = std::fs::remove_dir(p);
    }
    if let Err(e) = check {
        std::panic::resume_unwind(e);
    }
    d.finish();
}

/// A random 64-hex id, as a container id of another daemon.
fn berth_types_like_id() -> String {
    let mut b = [0u8; 32];
    let f = std::fs::File::open("/dev/urandom").expect("urandom");
    std::io::Read::read_exact(&mut &f, &mut b).expect("random");
    b.iter().map(|x| format!("{x:02x}")).collect()
}
