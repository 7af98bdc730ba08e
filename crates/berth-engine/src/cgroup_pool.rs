//! Container cgroups made before they are needed.
//!
//! Making a container's cgroup is a `mkdir` in every hierarchy (ten on a
//! hybrid v1 host, where the v1 `memory` and `cpuset` ones cost the most)
//! plus the cpuset and `subtree_control` set-up; it was the largest single
//! step of `berth run` (1.6 ms of 15, BENCHMARKS.md session 5). A cgroup
//! cannot be renamed on cgroup2 (only cgroup1's kernfs has a rename), so
//! the pool makes no anonymous cgroups: it draws container IDs ahead of
//! time (the same random 256-bit IDs [`berth_types::new_id`] gives) and
//! makes `/berth/<id>` in every hierarchy for each while the daemon is
//! otherwise idle. A create takes an ID from the pool; the runtime then
//! finds the cgroup in place ([`berth_cgroups::Cgroup::create`] is
//! idempotent) and only writes the limits. Docker makes the cgroup on the
//! start path; Berth does not.
//!
//! Nothing is left behind: each pooled ID has a file
//! `<exec-root>/cgroup-pool/<id>`, written before its cgroup is made and
//! removed after the container record that took it is saved (or, when a
//! create fails, with the cgroup: [`Ticket`]'s drop). [`CgroupPool::open`]
//! removes what a killed daemon left (empty cgroups only), and
//! [`CgroupPool::drain`] empties the pool at a clean stop. A create that
//! finds the pool empty (a burst of parallel runs) draws a new ID and the
//! runtime makes the cgroup as before.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How many ready cgroups the pool keeps (a run, and one more begun before
/// the refill of the first is done).
pub const TARGET: usize = 2;

/// The pool (one per engine).
pub struct CgroupPool {
    /// `<exec-root>/cgroup-pool`: one empty file per pooled ID.
    dir: PathBuf,
    ready: Mutex<Vec<String>>,
    filling: AtomicBool,
    /// Off after a cgroup could not be made (no cgroup fs, no rights).
    enabled: AtomicBool,
}

/// An ID taken from the pool for a container being created. [`Ticket::claim`]
/// once the container record is saved; dropped unclaimed (the create
/// failed), it removes the ID's cgroup and pool file.
pub struct Ticket {
    id: String,
    pool: Arc<CgroupPool>,
    claimed: bool,
}

fn cgroup_of(id: &str) -> Option<berth_cgroups::Cgroup> {
    berth_cgroups::Cgroup::new(&crate::bundle::cgroups_path(id), id).ok()
}

fn is_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes `id`'s cgroup where it is empty; a cgroup with a process in
/// it is kept. No error: what could not go is logged.
pub fn remove_cgroup(id: &str) {
    if let Some(cg) = cgroup_of(id) {
        match cg.remove_if_empty() {
            Ok(r) if !r.is_complete() => {
                tracing::info!("cgroup pool: {id}: kept {:?}", r.kept)
            }
            Ok(_) => {}
            Err(e) => tracing::info!("cgroup pool: remove {id}: {e}"),
        }
    }
}

impl CgroupPool {
    /// Opens the pool under `exec_root`, removing the cgroups and files of
    /// IDs a previous daemon pooled and never used (it was killed), except
    /// IDs in `in_use` (a record took them before the file went). Empty:
    /// call [`CgroupPool::refill`] to fill it.
    pub fn open(exec_root: &Path, in_use: &dyn Fn(&str) -> bool) -> Arc<CgroupPool> {
        let dir = exec_root.join("cgroup-pool");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if is_id(&name) && !in_use(&name) {
                    remove_cgroup(&name);
                }
                let _ = std::fs::remove_file(e.path());
            }
        }
        Arc::new(CgroupPool {
            dir,
            ready: Mutex::new(Vec::new()),
            filling: AtomicBool::new(false),
            enabled: AtomicBool::new(true),
        })
    }

    /// Takes a pooled ID (its cgroup made), or `None` when the pool is
    /// empty. A take that empties the pool starts a refill; otherwise the
    /// engine refills after the start ([`CgroupPool::refill`]): a
    /// refill's `mkdir`s hold the kernel's `cgroup_mutex`, which the
    /// start's `clone3(CLONE_INTO_CGROUP)` needs too.
    pub fn take(self: &Arc<Self>) -> Option<Ticket> {
        let (id, left) = {
            let mut ready = self.ready.lock().ok()?;
            (ready.pop(), ready.len())
        };
        if left == 0 {
            self.refill();
        }
        id.map(|id| Ticket {
            id,
            pool: self.clone(),
            claimed: false,
        })
    }

    /// Fills the pool up to [`TARGET`] on a blocking thread, unless it is
    /// full, a fill is under way or the pool is off.
    pub fn refill(self: &Arc<Self>) {
        let full = self.ready.lock().map(|r| r.len() >= TARGET).unwrap_or(true);
        if full
            || !self.enabled.load(Ordering::Relaxed)
            || self.filling.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let me = self.clone();
        let fill = move || {
            me.fill();
            me.filling.store(false, Ordering::Release);
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::spawn_blocking(fill);
        } else {
            fill();
        }
    }

    fn fill(&self) {
        while self.ready.lock().map(|r| r.len() < TARGET).unwrap_or(false) {
            let id = berth_types::new_id();
            let file = self.dir.join(&id);
            if let Err(e) = std::fs::write(&file, b"") {
                tracing::info!("cgroup pool off: {}: {e}", file.display());
                self.enabled.store(false, Ordering::Relaxed);
                return;
            }
            let made = cgroup_of(&id).map(|cg| cg.create());
            if !matches!(made, Some(Ok(()))) {
                tracing::info!("cgroup pool off: cannot make a cgroup: {made:?}");
                remove_cgroup(&id);
                let _ = std::fs::remove_file(&file);
                self.enabled.store(false, Ordering::Relaxed);
                return;
            }
            match self.ready.lock() {
                Ok(mut r) => r.push(id),
                Err(_) => return,
            }
        }
    }

    /// The pooled IDs (for tests and leak checks).
    pub fn ids(&self) -> Vec<String> {
        self.ready.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Empties the pool: removes every pooled cgroup and its file (a
    /// clean daemon stop). Refills stop.
    pub fn drain(&self) {
        self.enabled.store(false, Ordering::Relaxed);
        // a fill under way finishes its current ID first
        for _ in 0..200 {
            if !self.filling.load(Ordering::Acquire) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let ids = self
            .ready
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for id in ids {
            remove_cgroup(&id);
            let _ = std::fs::remove_file(self.dir.join(&id));
        }
    }
}

impl Ticket {
    /// The container ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container record that uses the ID is saved: the pool forgets it
    /// (its file goes; the cgroup is the container's now).
    pub fn claim(mut self) {
        self.claimed = true;
        let _ = std::fs::remove_file(self.pool.dir.join(&self.id));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.claimed {
            remove_cgroup(&self.id);
            let _ = std::fs::remove_file(self.pool.dir.join(&self.id));
        }
    }
}
