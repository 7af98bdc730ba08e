//! A container's persistent record and its state machine.
//!
//! ```text
//!  create ──▶ created ──start──▶ running ◀──unpause── paused
//!                ▲                 │  └──pause──────────▲
//!                └──(restart)── exited/dead ◀──exit─────┘
//!  any stopped state ──rm──▶ removing ──▶ (gone)
//! ```
//! The record is `<data-root>/containers/<id>/config.json`, replaced
//! atomically on every change; the live process state comes from the
//! monitor.

use crate::util::write_atomic;
use berth_api::models::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::watch;

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started (or start failed).
    #[default]
    Created,
    /// The init process runs.
    Running,
    /// Frozen.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// The init process exited.
    Exited,
    /// Could not be cleaned up.
    Dead,
}

impl Status {
    /// Docker's name (`State.Status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
    /// Running or paused: a live init process.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// Process state, persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateRec {
    /// Current status.
    pub status: Status,
    /// Host PID of the init process (0 when not running).
    pub pid: i64,
    /// Last exit code.
    pub exit_code: i64,
    /// Unix ns of the last start (0 never).
    pub started_ns: i128,
    /// Unix ns of the last exit (0 never).
    pub finished_ns: i128,
    /// Error of the last start.
    pub error: String,
    /// Killed by the OOM killer.
    pub oom_killed: bool,
    /// Health-check state (`crate::health`): set at the first start of a
    /// container with a probe; probe results change it in memory only and
    /// are saved with the record's next write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<berth_api::models::Health>,
}

/// Everything berthd keeps about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Full ID.
    pub id: String,
    /// Name with its leading `/`.
    pub name: String,
    /// Unix ns of creation.
    pub created_ns: i128,
    /// Image as the client named it.
    pub image: String,
    /// Image ID `sha256:...`.
    pub image_id: String,
    /// Merged configuration.
    pub config: ContainerConfig,
    /// Host configuration as given.
    pub host_config: HostConfig,
    /// Program.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Process state.
    pub state: StateRec,
    /// Restarts by the restart policy.
    pub restart_count: i64,
    /// The user stopped it (for `unless-stopped`).
    #[serde(default)]
    pub manually_stopped: bool,
    /// Overlay lower directories, topmost first (for user lookups, df).
    #[serde(default)]
    pub lowerdirs: Vec<PathBuf>,
    /// Overlay upper directory.
    #[serde(default)]
    pub upperdir: PathBuf,
    /// Overlay mount data, and the directory it is relative to.
    #[serde(default)]
    pub mount_data: String,
    /// Working dir for relative mount data.
    #[serde(default)]
    pub mount_cwd: Option<PathBuf>,
    /// Networks to join at start, by network name (the NetworkMode one,
    /// `NetworkingConfig.EndpointsConfig`, `network connect`); empty for
    /// `none`, `host` and `container:<id>` (see `crate::network`).
    #[serde(default)]
    pub endpoints: std::collections::BTreeMap<String, berth_api::models::EndpointConfig>,
    /// Volume mounts resolved at create (`crate::volumes`).
    #[serde(default)]
    pub volumes: Vec<crate::volumes::VolumeMount>,
}

/// What waiters watch: bumped on every exit and at removal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snap {
    /// Number of exits seen.
    pub exits: u64,
    /// Live init process.
    pub running: bool,
    /// Last exit code.
    pub exit_code: i64,
    /// Removed.
    pub removed: bool,
}

/// A container in memory.
pub struct Container {
    /// Full ID.
    pub id: String,
    /// `<data-root>/containers/<id>`.
    pub dir: PathBuf,
    /// `<exec-root>/containers/<id>` (monitor state, bundle).
    pub run_dir: PathBuf,
    /// The record; lock briefly, never across an await.
    pub rec: Mutex<Record>,
    /// Exit/removal notifications.
    pub snap: watch::Sender<Snap>,
    /// Serialises start/stop/rm of this container.
    pub op: tokio::sync::Mutex<()>,
    /// Attach sessions waiting for the container to start.
    pub pending_attach: Mutex<AttachState>,
    /// The healthcheck's probe task (`crate::health`).
    pub health: Mutex<crate::health::HealthCtl>,
}

/// A waiting attach session: told (with an ack channel) when the monitor
/// is up; it acks once its attach request is registered.
pub type PendingAttach = tokio::sync::oneshot::Sender<tokio::sync::oneshot::Sender<()>>;

/// Whether attach can connect to the monitor now, and who waits for it.
#[derive(Default)]
pub struct AttachState {
    /// The monitor socket is up.
    pub live: bool,
    /// Sessions waiting for the start.
    pub pending: Vec<PendingAttach>,
}

impl Container {
    /// Wraps a record.
    pub fn new(rec: Record, data_root: &Path, exec_root: &Path) -> Container {
        let snap = Snap {
            exits: 0,
            running: rec.state.status.is_live(),
            exit_code: rec.state.exit_code,
            removed: false,
        };
        Container {
            id: rec.id.clone(),
            dir: data_root.join("containers").join(&rec.id),
            run_dir: exec_root.join("containers").join(&rec.id),
            rec: Mutex::new(rec),
            snap: watch::channel(snap).0,
            op: tokio::sync::Mutex::new(()),
            pending_attach: Mutex::new(AttachState::default()),
            health: Mutex::new(Default::default()),
        }
    }

    /// A copy of the record.
    pub fn get(&self) -> Record {
        self.rec.lock().expect("record lock").clone()
    }

    /// Changes the record with `f` and persists it.
    pub fn update<T>(&self, f: impl FnOnce(&mut Record) -> T) -> T {
        let mut r = self.rec.lock().expect("record lock");
        let out = f(&mut r);
        if let Err(e) = save_nosync(&self.dir, &r) {
            tracing::error!("persist container {}: {e}", self.id);
        }
        out
    }

    /// The json-file log path.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }
}

/// Writes `<dir>/config.json`.
pub fn save(dir: &Path, r: &Record) -> std::io::Result<()> {
    write_atomic(
        &dir.join("config.json"),
        &serde_json::to_vec(r).map_err(std::io::Error::other)?,
    )
}

/// Replaces `<dir>/config.json` atomically without fsync: create and the
/// state changes on the hot path. A crash of berthd loses nothing (the page
/// cache has it; the monitor's exit record backs exit codes); a power loss
/// may lose the last seconds' changes, when no container survives anyway.
pub fn save_nosync(dir: &Path, r: &Record) -> std::io::Result<()> {
    crate::util::write_replace(
        &dir.join("config.json"),
        &serde_json::to_vec(r).map_err(std::io::Error::other)?,
        false,
    )
}

/// Reads `<dir>/config.json`.
pub fn load(dir: &Path) -> Option<Record> {
    serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()
}
