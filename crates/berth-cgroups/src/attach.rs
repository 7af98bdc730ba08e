//! Putting a new process into its cgroup without a migration.
//!
//! Moving a process between cgroups by writing its PID to `cgroup.procs`
//! takes the kernel's global `cgroup_threadgroup_rwsem` for writing. The
//! first such write after a quiet period waits for an RCU grace period
//! (`rcu_sync_enter`: 7.7–15.8 ms measured on this project's 2-core
//! machines, one or two ticks at HZ=250) while holding `cgroup_mutex`, so
//! every cgroup `mkdir` on the host stalls behind it too. A container start
//! did a dozen such writes (one per v1 hierarchy and the unified one); the
//! first one cost most of a start.
//!
//! The kernel has two ways in that take no such lock (kernel/cgroup/cgroup.c,
//! `cgroup_procs_write_start` and cgroup-v2.rst on `favordynmods`):
//! * cgroup v2: `clone3(2)` with `CLONE_INTO_CGROUP` (Linux 5.7) creates
//!   the process in the target cgroup ([`SelfAttach::cgroup_fd`]);
//! * cgroup v1: a thread writing `0` (itself) to a hierarchy's `tasks` file
//!   moves only that thread and skips the global lock (Linux 5.5). A
//!   process that is single-threaded at that point — the container's init
//!   or exec process right after its clone — is thereby wholly moved
//!   ([`SelfAttach::join_v1`]).
//!
//! The `tasks` files are opened by the runtime before the clone; v1 checks
//! the opener's credentials (`of->file->f_cred`), so a child already in a
//! new user namespace can still use them.

use crate::{Cgroup, Error, Result, UNIFIED};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// The open cgroup directory and `tasks` files with which a process joins
/// a [`Cgroup`] by itself (see the module docs).
#[derive(Debug)]
pub struct SelfAttach {
    /// The cgroup2 directory (unified or hybrid layout), for
    /// `CLONE_INTO_CGROUP`.
    into: Option<File>,
    /// Each v1 hierarchy's `tasks` file, open for writing.
    tasks: Vec<(PathBuf, File)>,
}

impl Cgroup {
    /// Opens what a new process needs to join this cgroup without a
    /// migration: the cgroup2 directory and every v1 hierarchy's `tasks`
    /// file. The cgroup must exist ([`Cgroup::create`]).
    ///
    /// # Errors
    /// [`Error::Write`] naming the directory or file that could not be opened.
    pub fn self_attach(&self) -> Result<SelfAttach> {
        let open_err = |path: PathBuf, e: std::io::Error| Error::Write {
            path,
            value: "(open)".into(),
            source: e,
        };
        let mut into = None;
        let mut tasks = Vec::new();
        for (key, dir) in self.paths() {
            if key == UNIFIED {
                let f = OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_CLOEXEC)
                    .open(dir)
                    .map_err(|e| open_err(dir.clone(), e))?;
                into = Some(f);
            } else {
                let p = dir.join("tasks");
                let f = OpenOptions::new()
                    .write(true)
                    .custom_flags(nix::libc::O_CLOEXEC)
                    .open(&p)
                    .map_err(|e| open_err(p.clone(), e))?;
                tasks.push((p, f));
            }
        }
        Ok(SelfAttach { into, tasks })
    }
}

impl SelfAttach {
    /// The cgroup2 directory to pass to `clone3(2)` as `CLONE_INTO_CGROUP`'s
    /// `cgroup` (`None` on a v1-only host).
    pub fn cgroup_fd(&self) -> Option<BorrowedFd<'_>> {
        self.into.as_ref().map(|f| f.as_fd())
    }

    /// Moves the calling thread into the cgroup in every v1 hierarchy by
    /// writing `0` to its `tasks` file. Call it only from a single-threaded
    /// process (a freshly cloned child), where moving the thread moves the
    /// process.
    ///
    /// # Errors
    /// The first failed write, naming its `tasks` file.
    pub fn join_v1(&self) -> std::result::Result<(), String> {
        for (p, f) in &self.tasks {
            (&*f)
                .write_all(b"0")
                .map_err(|e| format!("join cgroup {}: {e}", p.display()))?;
        }
        Ok(())
    }

    /// Moves process `pid` into the cgroup2 directory by a (slow) migration:
    /// for when the clone could not be made into it (a kernel without
    /// `CLONE_INTO_CGROUP`).
    ///
    /// # Errors
    /// [`Error::Write`] naming `cgroup.procs`.
    pub fn migrate_v2(&self, cg: &Cgroup, pid: i32) -> Result<()> {
        if self.into.is_none() {
            return Ok(());
        }
        match cg.paths().get(UNIFIED) {
            Some(dir) => crate::write_file(&dir.join("cgroup.procs"), &pid.to_string()),
            None => Ok(()),
        }
    }
}
