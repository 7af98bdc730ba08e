//! Linux control groups for Berth's OCI runtime.
//!
//! One [`Cgroup`] is the set of directories a container occupies in every
//! cgroup hierarchy of the host. The host layout is detected from
//! `/proc/self/mountinfo` ([`Layout`]): cgroup v1 (one hierarchy per
//! controller plus named ones such as `name=systemd`), cgroup v2 (the
//! unified hierarchy), or the hybrid layout (v1 controllers plus a cgroup2
//! mount, usually `/sys/fs/cgroup/unified`, with no controllers).
//!
//! It implements the OCI runtime spec's `config-linux.md` sections
//! "Cgroups Path" (`linux.cgroupsPath`) and "Control groups"
//! (`linux.resources`), using the kernel interfaces documented in
//! `Documentation/admin-guide/cgroup-v1/*.rst` and
//! `Documentation/admin-guide/cgroup-v2.rst`.
//!
//! Typical runtime use: [`Cgroup::new`] → [`Cgroup::create`] →
//! [`Cgroup::set`] → [`Cgroup::self_attach`], with which the container's
//! init is cloned into the cgroup and joins it itself without a migration
//! (see [`SelfAttach`]; [`Cgroup::apply`] migrates an existing process) →
//! ... → [`Cgroup::destroy`]. A later process re-opens it with
//! [`Cgroup::load`] (or deserializes it: `Cgroup` is serde-serializable so
//! it can live in the runtime's state file).

mod attach;
mod mounts;
mod resources;
mod stats;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use attach::SelfAttach;
pub use mounts::Layout;
pub use resources::{
    default_allowed_devices, defaults_not_redefined, device_rules_for, shares_to_weight, swap_to_v2,
};
pub use stats::{BlkioEntry, BlkioStats, CpuStats, MemoryStats, PidsStats, Stats};

use mounts::{own_cgroups, under_mount, Mounts};

/// Errors of this crate. Every variant that concerns a file names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read, write, mkdir or rmdir on a cgroup file failed.
    #[error("cgroup: {op} {}: {source}", path.display())]
    Io {
        /// What was attempted: `read`, `write "<value>" to`, `mkdir`, `rmdir`.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a value to a cgroup file failed (the value is in the message).
    #[error("cgroup: write {value:?} to {}: {source}", path.display())]
    Write {
        /// The file written.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup file to be written does not exist: the kernel or the
    /// controller lacks that knob (cgroupfs answers EACCES for it).
    #[error("cgroup: cannot write {value:?}: {} does not exist (this kernel or controller has no such file)", path.display())]
    MissingFile {
        /// The file.
        path: PathBuf,
        /// The value we meant to write.
        value: String,
    },
    /// No cgroup filesystem is mounted at all.
    #[error("cgroup: no cgroup or cgroup2 filesystem is mounted (see /proc/self/mountinfo)")]
    NoCgroupFs,
    /// The requested layout is not available on this host.
    #[error("cgroup: layout {0:?} is not available on this host")]
    LayoutUnavailable(Layout),
    /// `linux.cgroupsPath` in systemd's `slice:prefix:name` form.
    #[error("cgroup: cgroupsPath {0:?} is in systemd form (slice:prefix:name); Berth manages cgroupfs directly and runs no systemd: use a path")]
    SystemdPath(String),
    /// `linux.cgroupsPath` is unusable (contains `..` escaping the root, NUL...).
    #[error("cgroup: invalid cgroupsPath {path:?}: {reason}")]
    InvalidPath {
        /// The path given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A resource is requested whose controller is not mounted here.
    #[error("cgroup: {resource} requested but the {controller} controller is not available on this host")]
    ControllerMissing {
        /// The `linux.resources` field, e.g. `hugepageLimits`.
        resource: &'static str,
        /// The controller name, e.g. `hugetlb`.
        controller: &'static str,
    },
    /// A resource cannot be expressed in this layout.
    #[error("cgroup: {0}")]
    Unsupported(String),
    /// A resource value is out of range.
    #[error("cgroup: invalid {field}: {reason}")]
    InvalidValue {
        /// The `linux.resources` field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The cgroup does not exist in any hierarchy ([`Cgroup::load`]).
    #[error("cgroup: {0} does not exist in any hierarchy")]
    NotFound(String),
    /// Freezing did not complete in time.
    #[error("cgroup: {} did not reach FROZEN within {timeout:?}", path.display())]
    FreezeTimeout {
        /// The freezer file.
        path: PathBuf,
        /// How long we waited.
        timeout: Duration,
    },
    /// rmdir kept failing with EBUSY because tasks are still inside.
    #[error("cgroup: {} still has tasks {pids:?} after {timeout:?}", path.display())]
    Busy {
        /// The directory.
        path: PathBuf,
        /// Remaining pids (from cgroup.procs).
        pids: Vec<i32>,
        /// How long we retried.
        timeout: Duration,
    },
    /// Sending a signal failed.
    #[error("cgroup: kill({pid}, {signal}): {source}")]
    Kill {
        /// The target.
        pid: i32,
        /// The signal.
        signal: nix::sys::signal::Signal,
        /// The errno.
        #[source]
        source: nix::Error,
    },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The key of the unified (cgroup2) hierarchy in [`Cgroup::paths`].
pub const UNIFIED: &str = "";

/// How long [`Cgroup::freeze`] waits for `FROZEN`.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Cgroup::destroy`] retries `rmdir` while tasks drain.
pub const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);

/// The parent used when `linux.cgroupsPath` is empty: the container goes to
/// `/berth-runc/<id>` in every hierarchy.
pub const DEFAULT_PARENT: &str = "/berth-runc";

/// A container's cgroup: one directory per mounted hierarchy.
///
/// Shape: `paths` maps a hierarchy key to its absolute directory. Keys are
/// the v1 mount's controller list as the kernel prints it (`memory`,
/// `cpu,cpuacct`, `name=systemd`) and [`UNIFIED`] (`""`) for cgroup2.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cgroup {
    id: String,
    layout: Layout,
    /// The `linux.cgroupsPath` as given (empty for the default).
    cgroups_path: String,
    paths: BTreeMap<String, PathBuf>,
    /// Directories (in any hierarchy) that this cgroup made and may remove
    /// when empty, beyond the leaf dirs themselves: created parents.
    created_parents: Mutex<Vec<PathBuf>>,
}

impl Clone for Cgroup {
    fn clone(&self) -> Self {
        Cgroup {
            id: self.id.clone(),
            layout: self.layout,
            cgroups_path: self.cgroups_path.clone(),
            paths: self.paths.clone(),
            created_parents: Mutex::new(
                self.created_parents
                    .lock()
                    .map(|v| v.clone())
                    .unwrap_or_default(),
            ),
        }
    }
}

impl Cgroup {
    /// Resolves `linux.cgroupsPath` for container `container_id` on this
    /// host's layout, without touching the filesystem beyond reading
    /// `/proc/self/mountinfo` and `/proc/self/cgroup`.
    ///
    /// * empty → `/berth-runc/<id>` (absolute) in every hierarchy;
    /// * absolute (`/a/b`) → `<mount>/a/b` in every hierarchy;
    /// * relative (`a/b`) → under the calling process's own cgroup in each
    ///   hierarchy, as runc does (v1: per controller; v2: the `0::` path,
    ///   with a trailing `/init.scope` dropped).
    ///
    /// Errors: [`Error::SystemdPath`] for `slice:prefix:name`,
    /// [`Error::InvalidPath`] for a path escaping the hierarchy with `..`,
    /// [`Error::NoCgroupFs`] if nothing is mounted.
    pub fn new(cgroups_path: &str, container_id: &str) -> Result<Cgroup> {
        let mounts = Mounts::detect()?;
        let layout = mounts.layout()?;
        Self::resolve(mounts, layout, cgroups_path, container_id)
    }

    /// Like [`Cgroup::new`] but restricted to the hierarchies of `layout`:
    /// [`Layout::V1`] uses only the v1 mounts, [`Layout::Unified`] only the
    /// cgroup2 mount (on a hybrid host that is `/sys/fs/cgroup/unified`,
    /// which has no controllers: only the core files such as
    /// `cgroup.procs`, `cgroup.freeze`, `cgroup.kill` work there).
    /// Errors: [`Error::LayoutUnavailable`] if the host lacks those mounts.
    pub fn new_with_layout(
        cgroups_path: &str,
        container_id: &str,
        layout: Layout,
    ) -> Result<Cgroup> {
        let mut mounts = Mounts::detect()?;
        match layout {
            Layout::V1 => mounts.unified = None,
            Layout::Unified => mounts.v1.clear(),
            Layout::Hybrid => {}
        }
        if mounts.layout().ok() != Some(layout) {
            return Err(Error::LayoutUnavailable(layout));
        }
        Self::resolve(mounts, layout, cgroups_path, container_id)
    }

    /// Re-opens the cgroup of an existing container (same resolution as
    /// [`Cgroup::new`]). Fails with [`Error::NotFound`] when its directory
    /// exists in no hierarchy. Only the leaf directories (and the default
    /// `/berth-runc` parent, when empty) are removed by [`Cgroup::destroy`]
    /// on a loaded cgroup; serialize the `Cgroup` itself to keep the full
    /// record of created parents.
    pub fn load(cgroups_path: &str, container_id: &str) -> Result<Cgroup> {
        let cg = Self::new(cgroups_path, container_id)?;
        if !cg.paths.values().any(|p| p.is_dir()) {
            return Err(Error::NotFound(cg.display_path()));
        }
        Ok(cg)
    }

    fn resolve(mounts: Mounts, layout: Layout, cgroups_path: &str, id: &str) -> Result<Cgroup> {
        if cgroups_path.contains(':') {
            return Err(Error::SystemdPath(cgroups_path.to_string()));
        }
        if cgroups_path.contains('\0') {
            return Err(Error::InvalidPath {
                path: cgroups_path.into(),
                reason: "contains NUL",
            });
        }
        let inner = if cgroups_path.is_empty() {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                return Err(Error::InvalidPath {
                    path: id.into(),
                    reason: "container id unusable as a cgroup name",
                });
            }
            format!("{DEFAULT_PARENT}/{id}")
        } else {
            cgroups_path.to_string()
        };
        let relative = !inner.starts_with('/');
        let own = if relative {
            own_cgroups()?
        } else {
            BTreeMap::new()
        };

        let join = |own_path: &str| -> Result<String> {
            let full = if relative {
                format!("{}/{}", own_path.trim_end_matches('/'), inner)
            } else {
                inner.clone()
            };
            clean(&full).ok_or(Error::InvalidPath {
                path: cgroups_path.into(),
                reason: "escapes the cgroup root with ..",
            })
        };

        let mut paths = BTreeMap::new();
        for h in &mounts.v1 {
            let own_path = h
                .controllers
                .iter()
                .find_map(|c| own.get(c))
                .map(String::as_str)
                .unwrap_or("/");
            let cg = join(own_path)?;
            paths.insert(
                h.controllers.join(","),
                under_mount(&h.mountpoint, &h.root, &cg),
            );
        }
        if let Some(u) = &mounts.unified {
            let mut own_path = own.get(UNIFIED).map(String::as_str).unwrap_or("/");
            if let Some(stripped) = own_path.strip_suffix("/init.scope") {
                own_path = stripped;
            }
            let cg = join(if own_path.is_empty() { "/" } else { own_path })?;
            paths.insert(
                UNIFIED.to_string(),
                under_mount(&u.mountpoint, &u.root, &cg),
            );
        }
        // The root of a hierarchy is never a container's cgroup.
        for (k, p) in &paths {
            let is_root = mounts
                .v1
                .iter()
                .any(|h| h.controllers.join(",") == *k && h.mountpoint == *p)
                || mounts
                    .unified
                    .as_ref()
                    .is_some_and(|u| k.is_empty() && u.mountpoint == *p);
            if is_root {
                return Err(Error::InvalidPath {
                    path: cgroups_path.into(),
                    reason: "resolves to a hierarchy root",
                });
            }
        }
        let mut created_parents = Vec::new();
        if cgroups_path.is_empty() {
            for p in paths.values() {
                if let Some(parent) = p.parent() {
                    created_parents.push(parent.to_path_buf());
                }
            }
        }
        Ok(Cgroup {
            id: id.to_string(),
            layout,
            cgroups_path: cgroups_path.to_string(),
            paths,
            created_parents: Mutex::new(created_parents),
        })
    }

    /// The layout this cgroup spans.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The container id given at construction.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Directory per hierarchy (see the type's docs for the keys).
    pub fn paths(&self) -> &BTreeMap<String, PathBuf> {
        &self.paths
    }

    /// The directory of the hierarchy that carries v1 controller
    /// `controller` (e.g. `memory`, `cpuacct`, `name=systemd`), or of the
    /// unified hierarchy for [`UNIFIED`].
    pub fn path_of(&self, controller: &str) -> Option<&Path> {
        if controller.is_empty() {
            return self.paths.get(UNIFIED).map(PathBuf::as_path);
        }
        self.paths
            .iter()
            .find(|(k, _)| !k.is_empty() && k.split(',').any(|c| c == controller))
            .map(|(_, p)| p.as_path())
    }

    /// True if v1 resources apply (V1 and Hybrid layouts).
    fn uses_v1(&self) -> bool {
        self.layout != Layout::Unified
    }

    fn display_path(&self) -> String {
        self.paths
            .values()
            .next()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Creates the directory in every hierarchy (`mkdir -p`), remembering
    /// which parents it made. In v1 `cpuset`, each newly made level gets
    /// `cpuset.cpus` and `cpuset.mems` copied from its parent (a new cpuset
    /// cgroup starts empty and accepts no task, cgroup-v1/cpusets.rst 2.1).
    /// In the cgroup2 hierarchy (unified or hybrid) it enables the available
    /// controllers in `cgroup.subtree_control` of every ancestor (cgroup-v2.rst
    /// "Enabling and Disabling"). Idempotent.
    pub fn create(&self) -> Result<()> {
        for (key, dir) in &self.paths {
            let made = mkdir_p(dir)?;
            if let Ok(mut cp) = self.created_parents.lock() {
                for m in &made {
                    if m != dir && !cp.contains(m) {
                        cp.push(m.clone());
                    }
                }
            }
            if key.split(',').any(|c| c == "cpuset") {
                // Top-down over the made dirs (mkdir_p returns them in order).
                for m in &made {
                    inherit_cpuset(m)?;
                }
                if !made.contains(dir) {
                    inherit_cpuset(dir)?;
                }
            }
            // Hybrid hosts may bind some controllers (hugetlb here) to
            // cgroup2: enable them down the path too.
            if key.is_empty() {
                resources::enable_v2_controllers(dir)?;
            }
        }
        Ok(())
    }

    /// Moves process `pid` (and, in v1, only that thread group) into the
    /// cgroup in every hierarchy by writing `cgroup.procs`.
    /// Errors name the file (e.g. ESRCH when the pid is gone).
    pub fn apply(&self, pid: i32) -> Result<()> {
        for dir in self.paths.values() {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Applies `linux.resources` (OCI config-linux.md "Control groups");
    /// equivalent to [`Cgroup::set_with_devices`] with no `linux.devices`.
    pub fn set(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
        self.set_with_devices(resources, &[])
    }

    /// Applies `linux.resources`, then runc's default device allowlist
    /// ([`default_allowed_devices`]) less the rules of default nodes that
    /// `linux.devices` redefines ([`defaults_not_redefined`]). As with runc,
    /// `linux.devices` entries get no rule of their own: access to them is
    /// what `linux.resources.devices` grants (dockerd writes a rule with
    /// each `--device`'s permissions).
    ///
    /// * memory: v1 `memory.limit_in_bytes`, `memory.soft_limit_in_bytes`
    ///   (reservation), `memory.memsw.limit_in_bytes` (swap = memory+swap,
    ///   written in the order that keeps memsw ≥ limit), `memory.swappiness`,
    ///   `memory.oom_control` (disableOOMKiller),
    ///   `memory.kmem.tcp.limit_in_bytes`; `kernel` is ignored (obsolete
    ///   since Linux 5.4). v2 `memory.max`, `memory.low`, `memory.swap.max`
    ///   (= swap − limit, see [`swap_to_v2`]). Values in bytes, −1 = no limit,
    ///   0 = leave unchanged.
    /// * cpu: v1 `cpu.shares`, `cpu.cfs_period_us`, `cpu.cfs_quota_us` (µs),
    ///   `cpu.cfs_burst_us`, `cpu.rt_period_us`, `cpu.rt_runtime_us`,
    ///   `cpu.idle`; `cpuset.cpus`, `cpuset.mems`. v2 `cpu.weight`
    ///   ([`shares_to_weight`]), `cpu.max` ("quota period", quota −1 = max),
    ///   `cpu.max.burst`, `cpu.idle`, `cpuset.cpus`, `cpuset.mems`.
    /// * pids: `pids.max` (limit > 0, or `max` for a negative limit; 0 is unset).
    /// * blockIO: v1 `blkio.weight` (or `blkio.bfq.weight`),
    ///   `blkio.weight_device`, `blkio.throttle.*`; v2 `io.weight`, `io.max`.
    /// * devices: v1 `devices.allow` / `devices.deny`, in order. v2 needs a
    ///   `BPF_PROG_TYPE_CGROUP_DEVICE` program, which this crate does not
    ///   build: on v2 device rules fail with [`Error::Unsupported`] (fail
    ///   closed) unless they allow everything.
    /// * hugepageLimits: v1 `hugetlb.<size>.limit_in_bytes`; on a hybrid
    ///   host whose hugetlb controller is bound to cgroup2, and on v2,
    ///   `hugetlb.<size>.max` and `hugetlb.<size>.rsvd.max` in the cgroup2 dir.
    /// * network, rdma: v1 `net_cls`/`net_prio`, `rdma`;
    ///   [`Error::ControllerMissing`] when not mounted.
    /// * unified: written verbatim as files of the cgroup2 directory.
    ///
    /// Errors name the file and the value written.
    pub fn set_with_devices(
        &self,
        resources: &oci_spec::runtime::LinuxResources,
        linux_devices: &[oci_spec::runtime::LinuxDevice],
    ) -> Result<()> {
        if self.uses_v1() {
            resources::set_v1(self, resources, linux_devices)
        } else {
            resources::set_v2(self, resources, linux_devices)
        }
    }

    /// Freezes every task (v1: writes `FROZEN` to `freezer.state` and waits,
    /// rewriting it, until the state reads `FROZEN`, at most
    /// [`FREEZE_TIMEOUT`]; v2: writes `1` to `cgroup.freeze` and waits for
    /// `frozen 1` in `cgroup.events`). On timeout it thaws again and returns
    /// [`Error::FreezeTimeout`]. Kernel docs: cgroup-v1/freezer-subsystem.rst,
    /// cgroup-v2.rst "Core Interface Files" (cgroup.freeze).
    pub fn freeze(&self) -> Result<()> {
        let (file, want_write, done): (PathBuf, &str, fn(&str) -> bool) =
            self.freezer_file(true)?;
        let start = Instant::now();
        loop {
            write_file(&file, want_write)?;
            for _ in 0..10 {
                if done(&self.freezer_status()?) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if start.elapsed() > FREEZE_TIMEOUT {
                let _ = self.thaw();
                return Err(Error::FreezeTimeout {
                    path: file,
                    timeout: FREEZE_TIMEOUT,
                });
            }
        }
    }

    /// Thaws every task (v1 `THAWED` to `freezer.state`, v2 `0` to
    /// `cgroup.freeze`), waiting (bounded) until the state says so.
    pub fn thaw(&self) -> Result<()> {
        let (file, value, _) = self.freezer_file(false)?;
        write_file(&file, value)?;
        let start = Instant::now();
        while self.is_frozen()? && start.elapsed() < FREEZE_TIMEOUT {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// True when the cgroup is fully frozen (v1 `freezer.state` reads
    /// `FROZEN`; v2 `cgroup.events` has `frozen 1`). `FREEZING` counts as
    /// not frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        let status = self.freezer_status()?;
        Ok(if self.uses_v1() {
            status == "FROZEN"
        } else {
            status == "1"
        })
    }

    /// Returns (file to write, value, predicate on freezer_status()).
    #[allow(clippy::type_complexity)]
    fn freezer_file(&self, freeze: bool) -> Result<(PathBuf, &'static str, fn(&str) -> bool)> {
        if self.uses_v1() {
            let dir = self.path_of("freezer").ok_or(Error::ControllerMissing {
                resource: "freeze",
                controller: "freezer",
            })?;
            Ok((
                dir.join("freezer.state"),
                if freeze { "FROZEN" } else { "THAWED" },
                if freeze {
                    |s| s == "FROZEN"
                } else {
                    |s| s == "THAWED"
                },
            ))
        } else {
            let dir = self
                .path_of(UNIFIED)
                .ok_or(Error::LayoutUnavailable(Layout::Unified))?;
            Ok((
                dir.join("cgroup.freeze"),
                if freeze { "1" } else { "0" },
                if freeze { |s| s == "1" } else { |s| s == "0" },
            ))
        }
    }

    /// v1: content of freezer.state; v2: the value of `frozen` in cgroup.events.
    fn freezer_status(&self) -> Result<String> {
        if self.uses_v1() {
            let dir = self.path_of("freezer").ok_or(Error::ControllerMissing {
                resource: "freeze",
                controller: "freezer",
            })?;
            Ok(read_file(&dir.join("freezer.state"))?.trim().to_string())
        } else {
            let dir = self
                .path_of(UNIFIED)
                .ok_or(Error::LayoutUnavailable(Layout::Unified))?;
            let ev = read_file(&dir.join("cgroup.events"))?;
            Ok(keyed(&ev, "frozen")
                .map(|v| v.to_string())
                .unwrap_or_else(|| "0".into()))
        }
    }

    /// The directory whose `cgroup.procs` lists the container's processes:
    /// v1 `pids` (else `freezer`, else any), v2 the unified dir.
    fn procs_dir(&self) -> Option<&Path> {
        if self.uses_v1() {
            self.path_of("pids")
                .or_else(|| self.path_of("freezer"))
                .or_else(|| {
                    self.paths
                        .iter()
                        .find(|(k, _)| !k.is_empty())
                        .map(|(_, p)| p.as_path())
                })
        } else {
            self.path_of(UNIFIED)
        }
    }

    /// Process ids (thread-group ids) in the cgroup, from `cgroup.procs`
    /// (not recursive). An absent directory gives an empty list.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let Some(dir) = self.procs_dir() else {
            return Ok(Vec::new());
        };
        read_pids(&dir.join("cgroup.procs"))
    }

    /// Number of processes the OOM killer killed in this cgroup: v1 the
    /// `oom_kill` line of `memory.oom_control` (Linux ≥ 4.13), v2 the
    /// `oom_kill` line of `memory.events`. 0 when the line is absent.
    pub fn oom_kill_count(&self) -> Result<u64> {
        let (file, key) = if self.uses_v1() {
            let dir = self.path_of("memory").ok_or(Error::ControllerMissing {
                resource: "oom_kill_count",
                controller: "memory",
            })?;
            (dir.join("memory.oom_control"), "oom_kill")
        } else {
            let dir = self
                .path_of(UNIFIED)
                .ok_or(Error::LayoutUnavailable(Layout::Unified))?;
            (dir.join("memory.events"), "oom_kill")
        };
        let text = read_file(&file)?;
        Ok(keyed(&text, key).and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Changes the resources of a live cgroup (`docker update`, `runc
    /// update`): memory, cpu (with cpuset) and pids as
    /// [`Cgroup::set_with_devices`] writes them, and v1 blockIO; the
    /// device rules are left alone (v1 `devices.*` is not touched, v2 is
    /// never given any). Zero fields are left unchanged.
    ///
    /// A v1 memory limit below the current usage that the kernel cannot
    /// reclaim fails with [`Error::Write`] on `memory.limit_in_bytes`
    /// carrying EBUSY.
    pub fn update(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let mut r = resources.clone();
        r.set_devices(None);
        if self.uses_v1() {
            resources::update_v1(self, &r)
        } else {
            resources::set_v2(self, &r, &[])
        }
    }

    /// Usage figures for `docker stats` (see [`Stats`]); files of
    /// controllers that are not mounted read as zero.
    pub fn stats(&self) -> Result<Stats> {
        stats::collect(self)
    }

    /// Sends `signal` to every process in the cgroup. For SIGKILL on v2 it
    /// writes `1` to `cgroup.kill` (Linux ≥ 5.14) when present; otherwise
    /// it freezes the cgroup (when a freezer is available) so no process
    /// can fork away, signals every pid of `cgroup.procs`, then thaws.
    /// A pid that exits meanwhile (ESRCH) is not an error.
    pub fn kill_all(&self, signal: nix::sys::signal::Signal) -> Result<()> {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        if !self.uses_v1() && signal == Signal::SIGKILL {
            if let Some(dir) = self.path_of(UNIFIED) {
                let f = dir.join("cgroup.kill");
                if f.exists() {
                    return write_file(&f, "1");
                }
            }
        }
        let frozen = self.freeze().is_ok();
        let mut result = Ok(());
        for pid in self.pids()? {
            match kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(nix::Error::ESRCH) => {}
                Err(e) => {
                    result = Err(Error::Kill {
                        pid,
                        signal,
                        source: e,
                    });
                }
            }
        }
        if frozen {
            self.thaw()?;
        }
        result
    }

    /// Removes the directory from every hierarchy, retrying `rmdir` while
    /// it fails with EBUSY (tasks still exiting) for at most
    /// [`DESTROY_TIMEOUT`], then removes the empty parents this cgroup
    /// created. Directories already gone are fine. Errors:
    /// [`Error::Busy`] naming the directory and the remaining pids.
    pub fn destroy(&self) -> Result<()> {
        // One deadline for all hierarchies: the same tasks keep all busy.
        let start = Instant::now();
        let mut remaining: Vec<&PathBuf> = self.paths.values().collect();
        let mut hard_err = None;
        while !remaining.is_empty() {
            let mut busy = Vec::new();
            for dir in remaining {
                match std::fs::remove_dir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => busy.push(dir),
                    Err(e) => {
                        hard_err.get_or_insert(Error::Io {
                            op: "rmdir",
                            path: dir.clone(),
                            source: e,
                        });
                    }
                }
            }
            remaining = busy;
            if remaining.is_empty() {
                break;
            }
            if start.elapsed() > DESTROY_TIMEOUT {
                let dir = remaining[0];
                let pids = read_pids(&dir.join("cgroup.procs")).unwrap_or_default();
                hard_err.get_or_insert(Error::Busy {
                    path: dir.clone(),
                    pids,
                    timeout: DESTROY_TIMEOUT,
                });
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut parents = self
            .created_parents
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        // Deepest first.
        parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in parents {
            // EBUSY/ENOTEMPTY: someone else uses it now; leave it.
            let _ = std::fs::remove_dir(&p);
        }
        match hard_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What [`Cgroup::remove_if_empty`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Directories removed, nested children before their parents.
    pub removed: Vec<PathBuf>,
    /// Directories left in place, each with the reason: it has processes
    /// (listed), or rmdir answered EBUSY / ENOTEMPTY.
    pub kept: Vec<(PathBuf, String)>,
}

impl Removal {
    /// True when nothing of the cgroup was left behind.
    pub fn is_complete(&self) -> bool {
        self.kept.is_empty()
    }
}

impl Cgroup {
    /// Removes the cgroup's directory in every hierarchy, but only where
    /// no process is in it: nested child cgroups first (depth-first), a
    /// directory whose `cgroup.procs` lists a process is kept and so are
    /// its ancestors. Unlike [`Cgroup::destroy`] it neither signals nor
    /// waits: it is for cgroups left behind by a runtime or monitor that
    /// was killed. A directory that is already gone is not an error;
    /// EBUSY and ENOTEMPTY (a process or child that arrived meanwhile) are
    /// reported in [`Removal::kept`]. Parents are not touched.
    ///
    /// # Errors
    /// Another failure of `rmdir` or of listing a directory ([`Error::Io`]).
    pub fn remove_if_empty(&self) -> Result<Removal> {
        let mut out = Removal::default();
        for dir in self.paths.values() {
            remove_tree_if_empty(dir, &mut out)?;
        }
        Ok(out)
    }
}

/// Depth-first rmdir of `dir` and its child cgroups where no process is;
/// true when `dir` is gone.
fn remove_tree_if_empty(dir: &Path, out: &mut Removal) -> Result<bool> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(true),
        Err(e) => {
            return Err(Error::Io {
                op: "read",
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    let mut all_children_gone = true;
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) && !remove_tree_if_empty(&e.path(), out)? {
            all_children_gone = false;
        }
    }
    if !all_children_gone {
        out.kept
            .push((dir.to_path_buf(), "a child cgroup is still there".into()));
        return Ok(false);
    }
    let pids = read_pids(&dir.join("cgroup.procs"))?;
    if !pids.is_empty() {
        out.kept
            .push((dir.to_path_buf(), format!("has processes {pids:?}")));
        return Ok(false);
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => {
            out.removed.push(dir.to_path_buf());
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(nix::libc::EBUSY) | Some(nix::libc::ENOTEMPTY)
            ) =>
        {
            out.kept.push((dir.to_path_buf(), e.to_string()));
            Ok(false)
        }
        Err(e) => Err(Error::Io {
            op: "rmdir",
            path: dir.to_path_buf(),
            source: e,
        }),
    }
}

/// Names of the child cgroups of `parent`, an absolute cgroups path such
/// as `/berth`, across every hierarchy of this host (v1 controllers and
/// cgroup2), sorted and without duplicates: the ids of the containers that
/// have a cgroup there (`/berth/<id>`). A parent that does not exist in a
/// hierarchy contributes nothing.
///
/// # Errors
/// [`Error::NoCgroupFs`], [`Error::InvalidPath`] for a relative, systemd
/// or root path, [`Error::Io`] when a parent cannot be listed.
pub fn list_children(parent: &str) -> Result<Vec<String>> {
    if !parent.starts_with('/') {
        return Err(Error::InvalidPath {
            path: parent.into(),
            reason: "a parent to list must be absolute",
        });
    }
    let cg = Cgroup::new(parent, "")?;
    let mut names = std::collections::BTreeSet::new();
    for dir in cg.paths.values() {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Io {
                    op: "read",
                    path: dir.clone(),
                    source: e,
                })
            }
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                names.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    Ok(names.into_iter().collect())
}

/// Removes `.`/`..` and duplicate slashes of an absolute cgroup path;
/// `None` if `..` climbs above `/`.
fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// `mkdir -p`, returning the directories it made, outermost first.
/// Retries a few times on ENOENT (a concurrent destroy removing an empty
/// shared parent between our mkdirs).
fn mkdir_p(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut made: Vec<PathBuf> = Vec::new();
    let mut attempt = 0;
    'again: loop {
        attempt += 1;
        let mut missing = Vec::new();
        let mut cur = dir;
        while !cur.exists() {
            missing.push(cur.to_path_buf());
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        for m in missing.iter().rev() {
            match std::fs::create_dir(m) {
                Ok(()) => {
                    if !made.contains(m) {
                        made.push(m.clone());
                    }
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == ErrorKind::NotFound && attempt < 5 => continue 'again,
                Err(e) => {
                    return Err(Error::Io {
                        op: "mkdir",
                        path: m.clone(),
                        source: e,
                    })
                }
            }
        }
        return Ok(made);
    }
}

/// Copies cpuset.cpus / cpuset.mems from the parent when empty.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = dir.join(f);
        if !mine.exists() {
            continue;
        }
        if read_file(&mine)?.trim().is_empty() {
            let v = read_file(&parent.join(f))?;
            let v = v.trim();
            if !v.is_empty() {
                write_file(&mine, v)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Io {
        op: "read",
        path: path.to_path_buf(),
        source: e,
    })
}

/// Reads a file, `None` if it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

pub(crate) fn write_file(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| {
        if path.parent().is_some_and(Path::is_dir) && !path.exists() {
            return Error::MissingFile {
                path: path.to_path_buf(),
                value: value.to_string(),
            };
        }
        Error::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source: e,
        }
    })
}

fn read_pids(path: &Path) -> Result<Vec<i32>> {
    Ok(read_opt(path)?
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// Value of `key` in a flat-keyed file (`key value` per line).
pub(crate) fn keyed<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean("/a//b/./c/").as_deref(), Some("/a/b/c"));
        assert_eq!(clean("/a/../b").as_deref(), Some("/b"));
        assert_eq!(clean("/../x"), None);
    }

    #[test]
    fn keyed_lines() {
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some("3")
        );
        assert_eq!(keyed("a 1", "b"), None);
    }

    #[test]
    fn rejects_systemd_form() {
        let e = Cgroup::new("system.slice:berth:abc", "abc").unwrap_err();
        assert!(matches!(e, Error::SystemdPath(_)), "{e}");
    }
}
