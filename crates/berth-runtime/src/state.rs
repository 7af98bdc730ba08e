//! The container's state on disk: `<root>/<id>/state.json`, written
//! atomically (temp file + rename), and the status derived from it and
//! from the kernel (runtime-spec `runtime.md`, "State").

use crate::error::{Context, Error, Result};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the socket the created init process listens on until `start`.
pub(crate) const START_SOCK: &str = "start.sock";

/// A container's status. `Paused` is runc's extra status (frozen cgroup);
/// the OCI State reports it as `running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// create is under way.
    Creating,
    /// create finished; the init process waits for start.
    Created,
    /// The user program runs.
    Running,
    /// The container's cgroup is frozen.
    Paused,
    /// The init process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `berth-runc state` prints: the OCI State (runtime-spec
/// `runtime.md#state`) plus runc's `rootfs`, `created` and `owner`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// OCI version of the bundle's config.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init process PID in the runtime's PID namespace; 0 once stopped.
    pub pid: i32,
    /// Status now.
    pub status: Status,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 in UTC with nanoseconds.
    pub created: String,
    /// Owner (always empty: containers belong to the runtime's user).
    pub owner: String,
    /// config.json annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

impl ContainerState {
    /// The OCI State object given to hooks on stdin (`paused` maps to
    /// `running`, the OCI status set having no paused).
    pub fn oci(&self) -> oci_spec::runtime::State {
        use oci_spec::runtime::ContainerState as C;
        let mut s = oci_spec::runtime::State::default();
        s.set_version(self.oci_version.clone());
        s.set_id(self.id.clone());
        s.set_status(match self.status {
            Status::Creating => C::Creating,
            Status::Created => C::Created,
            Status::Running | Status::Paused => C::Running,
            Status::Stopped => C::Stopped,
        });
        if self.pid > 0 && self.status != Status::Stopped {
            s.set_pid(Some(self.pid));
        }
        s.set_bundle(self.bundle.clone());
        if !self.annotations.is_empty() {
            s.set_annotations(Some(self.annotations.clone()));
        }
        s
    }
}

/// What the runtime keeps about a container (state.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub id: String,
    pub pid: i32,
    /// Field 22 of /proc/<pid>/stat when created, to tell our init from a
    /// process that reused its PID.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    /// True until the init process reported ready.
    pub creating: bool,
    /// The container's cgroup (as the cgroup manager records it).
    pub cgroup: Option<berth_cgroups::Cgroup>,
    /// The config as created (hooks, annotations, process for exec defaults).
    pub spec: Spec,
}

impl Saved {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    pub fn load(dir: &Path, id: &str) -> Result<Saved> {
        let data = match std::fs::read(Self::path(dir)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.into()))
            }
            Err(e) => return Err(crate::error::io_err(format!("read state of {id}"), e)),
        };
        serde_json::from_slice(&data)
            .map_err(|e| Error::Setup(format!("state.json of {id} is corrupt: {e}")))
    }

    /// Writes state.json atomically: temp file, fsync is skipped (the
    /// state lives on tmpfs /run and dies with the machine, like runc's),
    /// rename over.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(".state.json.tmp");
        let data =
            serde_json::to_vec(self).map_err(|e| Error::Setup(format!("serialise state: {e}")))?;
        let mut f = std::fs::File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        f.write_all(&data)
            .ctx(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, Self::path(dir)).ctx(|| format!("rename {}", tmp.display()))
    }

    /// The public state for status `st`.
    pub fn to_state(&self, st: Status) -> ContainerState {
        ContainerState {
            oci_version: self.spec.version().clone(),
            id: self.id.clone(),
            pid: if st == Status::Stopped { 0 } else { self.pid },
            status: st,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: String::new(),
            annotations: self.spec.annotations().clone().unwrap_or_default(),
        }
    }

    /// True while our init process lives and is not a zombie.
    pub fn init_alive(&self) -> bool {
        self.pid > 0
            && proc_start_time(self.pid).is_some_and(|(st, zombie)| st == self.pid_start && !zombie)
    }
}

/// `(starttime, is_zombie)` of a process from /proc/<pid>/stat, None when
/// it does not exist.
pub(crate) fn proc_start_time(pid: i32) -> Option<(u64, bool)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: split after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?;
    // fields after comm start at 3 (state); starttime is field 22.
    let start = f.nth(22 - 4)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

/// Now as RFC 3339 UTC with nanoseconds, e.g. `2026-12-01T18:24:00.123456789Z`.
pub(crate) fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, sod) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:09}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shape() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 30, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }

    #[test]
    fn own_start_time_is_readable() {
        let (st, z) = proc_start_time(std::process::id() as i32).unwrap();
        assert!(st > 0 && !z);
    }
}
