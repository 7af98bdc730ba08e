//! The cgroup pool (berth_engine::cgroup_pool): container IDs drawn ahead
//! with their cgroups made, so `run` does not make them on its start
//! path — and none of those cgroups is ever left behind: not after a
//! create that never starts, not after a clean stop, not after SIGKILL.

mod common;

use common::*;
use std::path::PathBuf;

/// The ID's cgroup directories, one per hierarchy.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    berth_testutil::cgroups_containing(&format!("/berth/{id}"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == id))
        .collect()
}

/// Waits for the pool to hold its two IDs (a start, a take that empties
/// it and the daemon's start refill it) and returns them.
fn pool_full(d: &Daemon) -> Vec<String> {
    assert!(
        eventually(10, || d.pooled_ids().len() == 2),
        "pool not filled: {:?}",
        d.pooled_ids()
    );
    d.pooled_ids()
}

#[test]
fn pooled_cgroups_are_used_and_never_left() {
    let mut d = Daemon::start();
    d.load_busybox();
    let pooled = pool_full(&d);
    for id in &pooled {
        assert!(!cgroup_dirs(id).is_empty(), "pooled {id} has no cgroup");
    }
    // A create takes a pooled ID: its cgroup is there before the start.
    let id = d.ok(&["create", "--name", "cp-a", "busybox", "sleep", "1000"]);
    assert!(pooled.contains(&id), "{id} not from the pool {pooled:?}");
    assert!(!d.pooled_ids().contains(&id), "claimed ID still pooled");
    let before = cgroup_dirs(&id);
    assert!(!before.is_empty());
    // The runtime uses it: the container's process is in it, limits set.
    d.ok(&["start", "cp-a"]);
    d.ok(&["update", "--pids-limit", "77", "cp-a"]);
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "cp-a"]);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    assert!(cg.contains(&format!("/berth/{id}")), "{cg}");
    assert_eq!(cgroup_dirs(&id).len(), before.len());
    d.ok(&["rm", "-f", "cp-a"]);
    assert!(
        eventually(10, || cgroup_dirs(&id).is_empty()),
        "{:?}",
        cgroup_dirs(&id)
    );
    // A container created and removed without ever starting: the pool's
    // cgroup for its ID goes with it.
    pool_full(&d);
    let id = d.ok(&["create", "busybox", "true"]);
    assert!(!cgroup_dirs(&id).is_empty(), "created from an empty pool");
    d.ok(&["rm", id.as_str()]);
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    // A create that fails after taking an ID (a name conflict) gives its
    // cgroup back.
    let dup = d.ok(&["create", "--name", "cp-dup", "busybox", "true"]);
    let before = pool_full(&d);
    let o = d.docker(&["create", "--name", "cp-dup", "busybox", "true"]);
    assert!(!o.status.success());
    let now = d.pooled_ids();
    let taken: Vec<&String> = before.iter().filter(|id| !now.contains(id)).collect();
    assert_eq!(taken.len(), 1, "{before:?} -> {now:?}");
    assert!(
        cgroup_dirs(taken[0]).is_empty(),
        "{:?}",
        cgroup_dirs(taken[0])
    );
    d.ok(&["rm", dup.as_str()]);
    assert!(cgroup_dirs(&dup).is_empty());
    // SIGKILL: the pool's files stay; the next daemon removes those
    // cgroups and makes new ones.
    let old = d.pooled_ids();
    assert!(!old.is_empty());
    d.kill9();
    for id in &old {
        assert!(!cgroup_dirs(id).is_empty());
    }
    d.spawn();
    for id in &old {
        assert!(cgroup_dirs(id).is_empty(), "old pool's {id} left");
    }
    let new = pool_full(&d);
    assert!(new.iter().all(|id| !old.contains(id)));
    // Docker's own run path still works with the pool (and finish checks
    // that a clean stop leaves no pooled cgroup).
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "echo",
        "pooled",
    ]);
    assert_eq!(out, "pooled");
    d.finish();
}
