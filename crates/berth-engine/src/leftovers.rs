//! What a killed monitor or runtime leaves behind (issue 4): a container's
//! monitor deletes the container in the runtime (its cgroups, its runtime
//! state) when the container exits; a monitor killed with SIGKILL (the OOM
//! killer, a test harness) never does, and the container's empty cgroup
//! directories `/sys/fs/cgroup/*/berth/<id>` stay, with its runtime state
//! `<exec-root>/runtime/<id>`, its socket `<exec-root>/s/<id16>.sock` and
//! the rootfs overlay it mounted (`<data-root>/containers/<id>/rootfs`).
//!
//! [`sweep`] removes them for the containers this daemon has traces of
//! (a container record in the data root, an exec-root run dir, runtime
//! state, a monitor socket) and only when nothing runs there: never while
//! the container's monitor still answers on its socket, never a cgroup
//! directory that has a process in it
//! ([`berth_cgroups::Cgroup::remove_if_empty`]), and never a cgroup of an
//! id the daemon does not know — another daemon (a different data root)
//! or engine may share the `/berth` parent. It runs when the daemon
//! restores its containers, after a container's removal and before a start
//! that would re-create the cgroup of an id whose old one is still there.

use std::collections::BTreeSet;
use std::path::Path;

/// The cgroups parent of every container ([`crate::bundle::cgroups_path`]
/// is `/berth/<id>`).
pub const CGROUP_PARENT: &str = "/berth";

/// What a sweep removed (for the log and the tests).
#[derive(Debug, Default)]
pub struct Swept {
    /// Container ids whose leftover cgroup directories were removed.
    pub cgroups: Vec<String>,
    /// Container ids whose stale runtime state was removed.
    pub states: Vec<String>,
    /// Container ids whose rootfs overlay, left mounted, was detached.
    pub mounts: Vec<String>,
}

/// True when `path` is a mount point in this mount namespace
/// (`/proc/self/mountinfo`, field 5).
fn is_mount_point(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    text.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|m| m.replace("\\040", " ") == want)
    })
}

/// True when the monitor of container `id` accepts a connection on its
/// socket: then the container is alive (or its monitor is tearing it down
/// itself) and nothing of it may be touched.
fn monitor_alive(exec_root: &Path, id: &str) -> bool {
    let sock = crate::monitor::socket(&exec_root.join("containers").join(id));
    std::os::unix::net::UnixStream::connect(sock).is_ok()
}

/// Names of the subdirectories of `dir` (none when it does not exist).
fn subdirs(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Ids of containers this daemon has traces of under its data root and
/// exec root, plus the id prefixes of its monitor sockets (`<id16>.sock`).
fn traces(data_root: &Path, exec_root: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut ids = subdirs(&data_root.join("containers"));
    ids.extend(subdirs(&exec_root.join("containers")));
    ids.extend(subdirs(&exec_root.join("runtime")));
    let prefixes = std::fs::read_dir(exec_root.join("s"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let stem = n.strip_suffix(".sock")?;
                    (stem.len() == 16 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
                        .then(|| stem.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    (ids, prefixes)
}

/// Removes the leftovers of the containers this daemon knows that are not
/// running: every such container when `only` is `None` (at restore), else
/// only container `only` (after its removal, before its start). Blocking
/// but quick (a few sysfs and exec-root operations per container); errors
/// are logged, not returned.
pub fn sweep(data_root: &Path, exec_root: &Path, only: Option<&str>) -> Swept {
    let mut out = Swept::default();
    // A monitor removes the runtime state after the cgroup and the mount,
    // so a container without runtime state left none of them: one stat
    // for the common case of a container whose monitor finished.
    // A monitor still answering (tearing down after an exit) cleans up
    // itself.
    if only.is_some_and(|id| {
        !exec_root.join("runtime").join(id).exists() || monitor_alive(exec_root, id)
    }) {
        return out;
    }
    let children = match berth_cgroups::list_children(CGROUP_PARENT) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("leftover cgroups: list {CGROUP_PARENT}: {e}");
            Vec::new()
        }
    };
    let (ids, prefixes) = traces(data_root, exec_root);
    let known = |id: &str| {
        ids.contains(id)
            || (id.len() == 64
                && id.bytes().all(|b| b.is_ascii_hexdigit())
                && prefixes.contains(&id[..16]))
    };
    let mut candidates: BTreeSet<String> = children
        .into_iter()
        .filter(|id| known(id) && only.is_none_or(|o| o == id))
        .collect();
    // Runtime state without a cgroup (a monitor killed after the cgroup
    // went) is stale too.
    candidates.extend(
        subdirs(&exec_root.join("runtime"))
            .into_iter()
            .filter(|id| only.is_none_or(|o| o == id)),
    );
    for id in candidates {
        if monitor_alive(exec_root, &id) {
            continue;
        }
        let cg_clean = match berth_cgroups::Cgroup::new(&crate::bundle::cgroups_path(&id), &id)
            .and_then(|cg| cg.remove_if_empty())
        {
            Ok(r) => {
                for (dir, why) in &r.kept {
                    tracing::info!(
                        "container {id}: leftover cgroup {} kept: {why}",
                        dir.display()
                    );
                }
                if !r.removed.is_empty() {
                    tracing::info!(
                        "container {id}: removed {} leftover cgroup directories",
                        r.removed.len()
                    );
                    out.cgroups.push(id.clone());
                }
                r.is_complete()
            }
            Err(e) => {
                tracing::warn!("container {id}: leftover cgroup: {e}");
                false
            }
        };
        // The runtime state goes only with the cgroup: while a process of
        // the container is in it, the state is what names it.
        let state = exec_root.join("runtime").join(&id);
        if cg_clean && state.is_dir() {
            match std::fs::remove_dir_all(&state) {
                Ok(()) => out.states.push(id.clone()),
                Err(e) => tracing::warn!("remove {}: {e}", state.display()),
            }
        }
        if cg_clean {
            // The overlay the monitor mounted on the host for the start: a
            // container that does not run has no mount there (crate::archive
            // mounts it detached), so whatever is mounted is the killed
            // monitor's.
            let rootfs = data_root.join("containers").join(&id).join("rootfs");
            if is_mount_point(&rootfs) {
                match rustix::mount::unmount(&rootfs, rustix::mount::UnmountFlags::DETACH) {
                    Ok(()) => out.mounts.push(id.clone()),
                    Err(e) => tracing::warn!("unmount {}: {e}", rootfs.display()),
                }
            }
            // A socket nobody listens on (checked above).
            let sock = crate::monitor::socket(&exec_root.join("containers").join(&id));
            let _ = std::fs::remove_file(sock);
        }
    }
    out
}
