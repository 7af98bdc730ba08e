//! Taking the kernel's cgroup-migration slow path before a container needs it.
//!
//! Every write to a `cgroup.procs` file (moving a process between cgroups)
//! takes the kernel's global `cgroup_threadgroup_rwsem` for writing. The
//! first such write after a quiet period waits for an RCU grace period
//! (`rcu_sync_enter`, ~8 ms on this project's machines: two ticks at
//! HZ=250), and holds `cgroup_mutex` while it waits, so every cgroup
//! `mkdir` of the host stalls behind it. Writes during, or within about one
//! grace period after, a previous one are fast (~0.1 ms). A container start
//! needs a dozen such writes (one per v1 hierarchy plus the unified one),
//! so the first one would add the whole wait to the start.
//!
//! [`warm_migration_lock`] performs one such write early and harmlessly: it
//! moves the calling process into the cgroup it is already in. The engine
//! calls it when a container is created or a start begins, so the wait
//! overlaps with work the start has to do anyway (writing the bundle,
//! starting the monitor, mounting the rootfs). It is an optimisation only:
//! an error changes nothing but the timing.
//!
//! The kernel's own answer is the cgroup2 mount option `favordynmods`
//! (Linux 6.0), which keeps the semaphore in its slow-reader mode for good;
//! it is a host setting, trading fork/exit speed host-wide, and Berth does
//! not change it.

use std::path::{Path, PathBuf};

/// The `cgroup.procs` file of the cgroup the calling process is in, in the
/// unified hierarchy if the process is in one (`0::/path` in
/// `/proc/self/cgroup`), else in the v1 `pids` hierarchy. `None` when
/// neither can be found.
pub fn own_procs_file() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
        let path = path.trim_start_matches('/');
        let base = if ctrl.is_empty() {
            if Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
                "/sys/fs/cgroup/unified"
            } else {
                "/sys/fs/cgroup"
            }
        } else if ctrl == "pids" {
            "/sys/fs/cgroup/pids"
        } else {
            return None;
        };
        let p = PathBuf::from(base).join(path).join("cgroup.procs");
        p.exists().then_some(p)
    })
}

/// Moves the calling process into the cgroup it is already in (writes `0`
/// to [`own_procs_file`]), which takes the migration lock and so starts the
/// grace period later migrations would wait for. Blocks for that grace
/// period (~8 ms) when the lock was idle, ~0.1 ms otherwise: call it from
/// a thread that may block.
///
/// # Errors
/// No own cgroup found (`NotFound`), or the write's error (e.g. `EACCES`
/// when not root).
pub fn warm_migration_lock() -> std::io::Result<()> {
    let procs = own_procs_file().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no cgroup.procs of the calling process",
        )
    })?;
    std::fs::write(procs, b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_procs_file_lists_the_caller() {
        let Some(p) = own_procs_file() else {
            eprintln!("no cgroup filesystem here; skipped");
            return;
        };
        let pids = std::fs::read_to_string(&p).unwrap();
        let me = std::process::id().to_string();
        assert!(pids.lines().any(|l| l == me), "{} lacks {me}", p.display());
    }

    #[test]
    fn warming_leaves_the_process_where_it_was() {
        if !nix_is_root() {
            eprintln!("needs root; skipped");
            return;
        }
        let before = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        warm_migration_lock().unwrap();
        warm_migration_lock().unwrap();
        assert_eq!(
            std::fs::read_to_string("/proc/self/cgroup").unwrap(),
            before
        );
    }

    fn nix_is_root() -> bool {
        std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false)
    }
}
