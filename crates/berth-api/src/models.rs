//! Engine API request and response bodies, as serde types.
//!
//! Field names are Docker's (PascalCase JSON keys, as in moby's
//! `api/swagger.yaml` for API 1.47). Optional fields are `Option` or default
//! to empty so that bodies from any client version 1.24..1.47 parse, and
//! responses omit nothing a client reads. These types carry no behaviour: the
//! server (feature `server`) and the client (`berth-client`) share them.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The newest Engine API version Berth serves (`ApiVersion` of `/version`).
pub const API_VERSION: &str = "1.47";
/// The oldest Engine API version Berth accepts (`MinAPIVersion`).
pub const MIN_API_VERSION: &str = "1.24";

/// Body of every error response: `{"message": "..."}` (swagger `ErrorResponse`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorResponse {
    /// Human-readable message, Docker's wording where clients parse it
    /// (e.g. `No such container: x`).
    pub message: String,
}

/// What went wrong, mapped to Docker's HTTP status codes by the server
/// (moby `errdefs`): 400, 401, 403, 404, 409, 304, 501, 503, 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// 400: malformed or invalid parameter (`errdefs.InvalidParameter`).
    InvalidParameter,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404: no such object (`errdefs.NotFound`).
    NotFound,
    /// 409: name in use, container running, etc. (`errdefs.Conflict`).
    Conflict,
    /// 304: already started/stopped (`errdefs.NotModified`).
    NotModified,
    /// 501
    NotImplemented,
    /// 503
    Unavailable,
    /// 500
    System,
}

impl ErrorKind {
    /// HTTP status code Docker answers for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidParameter => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::System => 500,
        }
    }
}

/// An error of a service call: a kind (the status code) and the message
/// that goes into `{"message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Status class.
    pub kind: ErrorKind,
    /// Message sent to the client.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, message)
    }
    /// 400 with `message`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::InvalidParameter, message)
    }
    /// 409 with `message`.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Conflict, message)
    }
    /// 500 with `message`.
    pub fn system(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::System, message)
    }
    /// 304 (no body is sent).
    pub fn not_modified() -> ApiError {
        ApiError::new(ErrorKind::NotModified, "")
    }
    /// `No such container: <id>` (404), Docker's wording.
    pub fn no_such_container(id: &str) -> ApiError {
        ApiError::not_found(format!("No such container: {id}"))
    }
    /// `No such image: <name>` (404), Docker's wording.
    pub fn no_such_image(name: &str) -> ApiError {
        ApiError::not_found(format!("No such image: {name}"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// Deserializes Docker's `strslice`: either a JSON string (one element) or
/// an array of strings, or null. Used for `Cmd`, `Entrypoint`, `Shell`.
pub fn strslice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<S>::deserialize(d)? {
        None => None,
        Some(S::One(s)) => Some(vec![s]),
        Some(S::Many(v)) => Some(v),
    })
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An empty JSON object `{}` (the value type of `ExposedPorts` and `Volumes`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Empty {}

// ---------------------------------------------------------------------------
// System
// ---------------------------------------------------------------------------

/// One entry of `/version`'s `Components`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComponentVersion {
    /// e.g. `Engine`.
    pub name: String,
    /// Version string.
    pub version: String,
    /// Free-form details (`GitCommit`, `ApiVersion`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<BTreeMap<String, String>>,
}

/// Response of `GET /version` (swagger `SystemVersion`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SystemVersion {
    /// Platform: `{"Name": "..."}`.
    #[serde(rename = "Platform", default)]
    pub platform: Platform,
    /// Engine components.
    #[serde(rename = "Components", default)]
    pub components: Vec<ComponentVersion>,
    /// Engine version.
    #[serde(rename = "Version", default)]
    pub version: String,
    /// Newest API version served, e.g. `1.47`.
    #[serde(rename = "ApiVersion", default)]
    pub api_version: String,
    /// Oldest API version accepted, e.g. `1.24`.
    #[serde(rename = "MinAPIVersion", default)]
    pub min_api_version: String,
    /// Source revision.
    #[serde(rename = "GitCommit", default)]
    pub git_commit: String,
    /// Toolchain version.
    #[serde(rename = "GoVersion", default)]
    pub go_version: String,
    /// `linux`.
    #[serde(rename = "Os", default)]
    pub os: String,
    /// `amd64`, `arm64`, ...
    #[serde(rename = "Arch", default)]
    pub arch: String,
    /// Kernel release (`uname -r`).
    #[serde(rename = "KernelVersion", default)]
    pub kernel_version: String,
    /// Build time, RFC 3339.
    #[serde(rename = "BuildTime", default)]
    pub build_time: String,
}

/// `{"Name": "..."}` of `/version`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Platform {
    /// Product name.
    pub name: String,
}

/// Response of `GET /info` (swagger `SystemInfo`), the fields Berth fills.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemInfo {
    /// Daemon ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Total containers.
    pub containers: i64,
    /// Running containers.
    pub containers_running: i64,
    /// Paused containers.
    pub containers_paused: i64,
    /// Stopped containers.
    pub containers_stopped: i64,
    /// Images.
    pub images: i64,
    /// Storage driver, `overlay2`.
    pub driver: String,
    /// Driver details as `[[key, value], ...]`.
    pub driver_status: Vec<[String; 2]>,
    /// Plugins by type.
    pub plugins: BTreeMap<String, Vec<String>>,
    /// Memory limit support.
    pub memory_limit: bool,
    /// Swap limit support.
    pub swap_limit: bool,
    /// CFS period support.
    pub cpu_cfs_period: bool,
    /// CFS quota support.
    pub cpu_cfs_quota: bool,
    /// CPU shares support.
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    /// cpuset support.
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    /// pids limit support.
    pub pids_limit: bool,
    /// IPv4 forwarding.
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    /// Debug logging on.
    pub debug: bool,
    /// Open file descriptors of the daemon.
    pub n_fd: i64,
    /// Goroutines (threads for Berth).
    pub n_goroutines: i64,
    /// Current time, RFC 3339 nano.
    pub system_time: String,
    /// Default log driver, `json-file`.
    pub logging_driver: String,
    /// `cgroupfs` or `systemd`.
    pub cgroup_driver: String,
    /// `1` or `2`.
    pub cgroup_version: String,
    /// Event listeners.
    pub n_events_listener: i64,
    /// Kernel release.
    pub kernel_version: String,
    /// e.g. `Debian GNU/Linux 12 (bookworm)`.
    pub operating_system: String,
    /// OS version.
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    /// `linux`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// `x86_64`.
    pub architecture: String,
    /// Online CPUs.
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    /// Total memory in bytes.
    pub mem_total: i64,
    /// `--data-root`.
    pub docker_root_dir: String,
    /// Hostname.
    pub name: String,
    /// Daemon labels.
    pub labels: Vec<String>,
    /// Experimental features enabled.
    pub experimental_build: bool,
    /// Engine version.
    pub server_version: String,
    /// Runtimes by name.
    pub runtimes: BTreeMap<String, serde_json::Value>,
    /// Default runtime name.
    pub default_runtime: String,
    /// Live restore (containers survive a daemon stop): always true for Berth.
    pub live_restore_enabled: bool,
    /// `default` isolation.
    pub isolation: String,
    /// Init binary path.
    pub init_binary: String,
    /// Security options, e.g. `name=seccomp,profile=builtin`.
    pub security_options: Vec<String>,
    /// Warnings shown by `docker info`.
    pub warnings: Vec<String>,
    /// Swarm state, always inactive: `{"LocalNodeState": "inactive", ...}`.
    pub swarm: serde_json::Value,
    /// Registry configuration.
    pub registry_config: serde_json::Value,
}

// ---------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------

/// Container configuration independent of the host (swagger `ContainerConfig`;
/// also an image's `Config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// Hostname (12-char short ID when empty).
    #[serde(default)]
    pub hostname: String,
    /// Domain name.
    #[serde(default)]
    pub domainname: String,
    /// `user`, `user:group`, `uid:gid`.
    #[serde(default)]
    pub user: String,
    /// Attach stdin.
    #[serde(default)]
    pub attach_stdin: bool,
    /// Attach stdout.
    #[serde(default)]
    pub attach_stdout: bool,
    /// Attach stderr.
    #[serde(default)]
    pub attach_stderr: bool,
    /// `"80/tcp": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    /// Allocate a pseudo-terminal.
    #[serde(default)]
    pub tty: bool,
    /// Keep stdin open.
    #[serde(default)]
    pub open_stdin: bool,
    /// Close stdin after the first attach disconnects.
    #[serde(default)]
    pub stdin_once: bool,
    /// `KEY=value` entries.
    #[serde(default, deserialize_with = "null_default")]
    pub env: Vec<String>,
    /// Command (string or array).
    #[serde(default, deserialize_with = "strslice")]
    pub cmd: Option<Vec<String>>,
    /// Health check (kept as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    /// Windows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// Image reference the container was created from.
    #[serde(default)]
    pub image: String,
    /// `"/path": {}` anonymous volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Empty>>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: String,
    /// Entrypoint (string or array).
    #[serde(default, deserialize_with = "strslice")]
    pub entrypoint: Option<Vec<String>>,
    /// Disable networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_disabled: Option<bool>,
    /// ONBUILD triggers.
    #[serde(default, deserialize_with = "null_default")]
    pub on_build: Vec<String>,
    /// Labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    /// Signal to stop the container, e.g. `SIGTERM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing on stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Shell for shell-form commands.
    #[serde(
        default,
        deserialize_with = "strslice",
        skip_serializing_if = "Option::is_none"
    )]
    pub shell: Option<Vec<String>>,
}

/// `{"Name": "always", "MaximumRetryCount": 0}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `""`, `no`, `always`, `unless-stopped`, `on-failure`.
    #[serde(default)]
    pub name: String,
    /// For `on-failure`.
    #[serde(default)]
    pub maximum_retry_count: i64,
}

/// `{"Type": "json-file", "Config": {"max-size": "10m"}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    /// Log driver; `json-file` (default) and `none` are supported.
    #[serde(default, rename = "Type")]
    pub kind: String,
    /// Driver options: `max-size` (bytes, or with k/m/g), `max-file`.
    #[serde(default, deserialize_with = "null_default")]
    pub config: BTreeMap<String, String>,
}

/// One ulimit: `{"Name": "nofile", "Soft": 1024, "Hard": 2048}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    /// Name without `RLIMIT_`, lower case.
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// A `Mounts` entry of HostConfig (swagger `Mount`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MountSpec {
    /// Container path.
    #[serde(default)]
    pub target: String,
    /// Host path / volume name.
    #[serde(default)]
    pub source: String,
    /// `bind`, `volume`, `tmpfs`.
    #[serde(default, rename = "Type")]
    pub kind: String,
    /// Read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Bind options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<serde_json::Value>,
    /// Tmpfs options: `{"SizeBytes": n, "Mode": m}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<serde_json::Value>,
    /// Volume options: `{"NoCopy": bool, "Labels": {..}, "DriverConfig": {..}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<serde_json::Value>,
}

/// A device mapping `{"PathOnHost", "PathInContainer", "CgroupPermissions"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// Host device node (or a directory of them).
    #[serde(default)]
    pub path_on_host: String,
    /// Path in the container.
    #[serde(default)]
    pub path_in_container: String,
    /// `rwm` or a subset: the device cgroup access granted.
    #[serde(default)]
    pub cgroup_permissions: String,
}

/// `{"HostIp": "", "HostPort": "8080"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    /// Host IP.
    #[serde(default)]
    pub host_ip: String,
    /// Host port.
    #[serde(default)]
    pub host_port: String,
}

/// Host-dependent container configuration (swagger `HostConfig`). Sizes in
/// bytes, CPU in the units Docker names (NanoCpus = 1e-9 CPUs, CpuPeriod and
/// CpuQuota in microseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `host:container[:ro|rw,...]` bind mounts.
    #[serde(default, deserialize_with = "null_default")]
    pub binds: Vec<String>,
    /// Container ID file (client side only).
    #[serde(default, rename = "ContainerIDFile")]
    pub container_id_file: String,
    /// Log configuration.
    #[serde(default)]
    pub log_config: LogConfig,
    /// `none`, `host`, `bridge`/`default`, `container:<id>`.
    #[serde(default)]
    pub network_mode: String,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    /// Restart policy.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Remove the container when it exits.
    #[serde(default)]
    pub auto_remove: bool,
    /// Volume drivers.
    #[serde(default)]
    pub volume_driver: String,
    /// `container[:ro]`.
    #[serde(default, deserialize_with = "null_default")]
    pub volumes_from: Vec<String>,
    /// Added capabilities (`NET_ADMIN` or `CAP_NET_ADMIN`, or `ALL`).
    #[serde(default, deserialize_with = "null_default")]
    pub cap_add: Vec<String>,
    /// Dropped capabilities.
    #[serde(default, deserialize_with = "null_default")]
    pub cap_drop: Vec<String>,
    /// cgroupns mode `private`/`host`.
    #[serde(default)]
    pub cgroupns_mode: String,
    /// DNS servers.
    #[serde(default, deserialize_with = "null_default")]
    pub dns: Vec<String>,
    /// DNS options.
    #[serde(default, deserialize_with = "null_default")]
    pub dns_options: Vec<String>,
    /// DNS search domains.
    #[serde(default, deserialize_with = "null_default")]
    pub dns_search: Vec<String>,
    /// `host:ip` lines for /etc/hosts.
    #[serde(default, deserialize_with = "null_default")]
    pub extra_hosts: Vec<String>,
    /// Supplementary groups (names or GIDs).
    #[serde(default, deserialize_with = "null_default")]
    pub group_add: Vec<String>,
    /// IPC mode.
    #[serde(default)]
    pub ipc_mode: String,
    /// Cgroup parent.
    #[serde(default)]
    pub cgroup: String,
    /// Links.
    #[serde(default, deserialize_with = "null_default")]
    pub links: Vec<String>,
    /// OOM score adjustment.
    #[serde(default)]
    pub oom_score_adj: i64,
    /// PID mode (`host`).
    #[serde(default)]
    pub pid_mode: String,
    /// Privileged.
    #[serde(default)]
    pub privileged: bool,
    /// Publish all exposed ports.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// Read-only root filesystem.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// `no-new-privileges`, `seccomp=...`, `apparmor=...`.
    #[serde(default, deserialize_with = "null_default")]
    pub security_opt: Vec<String>,
    /// Storage options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_opt: Option<BTreeMap<String, String>>,
    /// `"/path": "size=64m,mode=1777"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// UTS mode.
    #[serde(default, rename = "UTSMode")]
    pub uts_mode: String,
    /// User namespace mode.
    #[serde(default)]
    pub userns_mode: String,
    /// /dev/shm size in bytes (default 64 MiB).
    #[serde(default)]
    pub shm_size: i64,
    /// `net.ipv4.ip_forward: "1"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, String>>,
    /// Runtime name.
    #[serde(default)]
    pub runtime: String,
    /// Isolation (Windows).
    #[serde(default)]
    pub isolation: String,
    /// Relative CPU weight (default 1024).
    #[serde(default)]
    pub cpu_shares: i64,
    /// Memory limit in bytes (0 = none).
    #[serde(default)]
    pub memory: i64,
    /// Nano CPUs (1e9 = one CPU).
    #[serde(default)]
    pub nano_cpus: i64,
    /// Cgroup parent path.
    #[serde(default)]
    pub cgroup_parent: String,
    /// Block IO weight.
    #[serde(default)]
    pub blkio_weight: i64,
    /// CFS period in microseconds.
    #[serde(default)]
    pub cpu_period: i64,
    /// CFS quota in microseconds.
    #[serde(default)]
    pub cpu_quota: i64,
    /// Realtime period.
    #[serde(default)]
    pub cpu_realtime_period: i64,
    /// Realtime runtime.
    #[serde(default)]
    pub cpu_realtime_runtime: i64,
    /// CPUs allowed, e.g. `0-1`.
    #[serde(default)]
    pub cpuset_cpus: String,
    /// Memory nodes allowed.
    #[serde(default)]
    pub cpuset_mems: String,
    /// Host devices to add (`--device`).
    #[serde(default, deserialize_with = "null_default")]
    pub devices: Vec<DeviceMapping>,
    /// Device cgroup rules (`--device-cgroup-rule`, `"c 1:3 rwm"`); null
    /// when none were given, as dockerd shows it.
    #[serde(default)]
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Memory soft limit.
    #[serde(default)]
    pub memory_reservation: i64,
    /// Memory + swap; -1 unlimited swap.
    #[serde(default)]
    pub memory_swap: i64,
    /// Swappiness (-1 default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<i64>,
    /// Disable OOM killer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kill_disable: Option<bool>,
    /// Pids limit (0 or -1 unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// Ulimits.
    #[serde(default, deserialize_with = "null_default")]
    pub ulimits: Vec<Ulimit>,
    /// Run an init as PID 1 (`docker run --init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Mounts.
    #[serde(default, deserialize_with = "null_default")]
    pub mounts: Vec<MountSpec>,
    /// Masked paths (overrides the default list when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_paths: Option<Vec<String>>,
    /// Read-only paths (overrides the default list when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_paths: Option<Vec<String>>,
    /// Console size `[height, width]` at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `NetworkingConfig` of a create request: `{"EndpointsConfig": {...}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkingConfig {
    /// Endpoint settings by network name.
    #[serde(default, deserialize_with = "null_default")]
    pub endpoints_config: BTreeMap<String, serde_json::Value>,
}

/// Body of `POST /containers/create`: a `ContainerConfig` plus `HostConfig`
/// and `NetworkingConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreateRequest {
    /// The container configuration.
    #[serde(flatten)]
    pub config: ContainerConfig,
    /// The host configuration.
    #[serde(default)]
    pub host_config: HostConfig,
    /// The networking configuration.
    #[serde(default)]
    pub networking_config: NetworkingConfig,
}

/// Response of `POST /containers/create` (201).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreateResponse {
    /// Full 64-hex container ID.
    pub id: String,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// `State` of `GET /containers/{id}/json` (swagger `ContainerState`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub status: String,
    /// Running (also true while paused).
    pub running: bool,
    /// Paused.
    pub paused: bool,
    /// Restarting.
    pub restarting: bool,
    /// Killed by the kernel's OOM killer.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Dead.
    pub dead: bool,
    /// Host PID of the init process (0 when not running).
    pub pid: i64,
    /// Exit code of the init process.
    pub exit_code: i64,
    /// Error message of the last start.
    pub error: String,
    /// RFC 3339 nano; `0001-01-01T00:00:00Z` when never.
    pub started_at: String,
    /// RFC 3339 nano; `0001-01-01T00:00:00Z` when never.
    pub finished_at: String,
    /// Health-check state: only for a container with a healthcheck that
    /// has been started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `State.Health` (swagger `Health`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Consecutive failures counted.
    pub failing_streak: i64,
    /// The last probes' results, oldest first (at most 5).
    #[serde(default, deserialize_with = "null_default")]
    pub log: Vec<HealthcheckResult>,
}

/// One probe's result in `State.Health.Log` (swagger `HealthcheckResult`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthcheckResult {
    /// RFC 3339 nano: when the probe started.
    pub start: String,
    /// RFC 3339 nano: when it ended.
    pub end: String,
    /// 0 healthy, 1 unhealthy, -1 not run to its end (timeout, error).
    pub exit_code: i64,
    /// Its stdout and stderr, at most 4096 bytes (then `...`).
    pub output: String,
}

/// Response of `GET /containers/{id}/json` (swagger `ContainerInspectResponse`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    /// Full ID.
    pub id: String,
    /// RFC 3339 nano.
    pub created: String,
    /// Path of the init process.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// State.
    pub state: ContainerState,
    /// Image ID `sha256:...`.
    pub image: String,
    /// resolv.conf path.
    pub resolv_conf_path: String,
    /// hostname path.
    pub hostname_path: String,
    /// hosts path.
    pub hosts_path: String,
    /// json-file log path.
    pub log_path: String,
    /// `/name`.
    pub name: String,
    /// Restarts.
    pub restart_count: i64,
    /// `overlay2`.
    pub driver: String,
    /// `linux`.
    pub platform: String,
    /// Mount label.
    pub mount_label: String,
    /// Process label.
    pub process_label: String,
    /// AppArmor profile.
    pub app_armor_profile: String,
    /// Exec IDs.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    /// Host configuration.
    pub host_config: HostConfig,
    /// Graph driver data.
    pub graph_driver: GraphDriver,
    /// Size of the rw layer (with `size=1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Size of the rootfs (with `size=1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// Mounts.
    pub mounts: Vec<MountPoint>,
    /// Configuration.
    pub config: ContainerConfig,
    /// Network settings.
    pub network_settings: NetworkSettings,
}

/// `{"Name": "overlay2", "Data": {...}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    /// Driver name.
    pub name: String,
    /// `LowerDir`, `UpperDir`, `WorkDir`, `MergedDir`.
    pub data: BTreeMap<String, String>,
}

/// A mount point in inspect output (swagger `MountPoint`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// `bind`, `volume`, `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Volume name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Host path.
    pub source: String,
    /// Container path.
    pub destination: String,
    /// Volume driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Mode string.
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Propagation.
    pub propagation: String,
}

/// Network settings of a container (swagger `NetworkSettings`, subset).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    /// Bridge name.
    pub bridge: String,
    /// Sandbox ID.
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    /// Sandbox key (netns path).
    pub sandbox_key: String,
    /// Published ports.
    pub ports: BTreeMap<String, Option<Vec<PortBinding>>>,
    /// Endpoints by network name.
    pub networks: BTreeMap<String, EndpointSettings>,
    /// Deprecated: IP address on the default bridge.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Gateway.
    pub gateway: String,
    /// MAC address.
    pub mac_address: String,
    /// Deprecated: endpoint ID on the default bridge.
    #[serde(default, rename = "EndpointID")]
    pub endpoint_id: String,
    /// Deprecated: prefix length on the default bridge.
    #[serde(default, rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    /// Always false.
    #[serde(default)]
    pub hairpin_mode: bool,
    /// Always empty.
    #[serde(default, rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// Always 0.
    #[serde(default, rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    /// Always empty.
    #[serde(default, rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
}

/// One endpoint (swagger `EndpointSettings`): a container's attachment to a
/// network in `NetworkSettings.Networks[<network name>]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    /// The `--ip` asked for (null when none).
    #[serde(default, rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// Legacy links (always null).
    #[serde(default)]
    pub links: Option<Vec<String>>,
    /// Names this endpoint answers to in the embedded DNS (API 1.44+).
    #[serde(default, rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
    /// IPv6 gateway (always empty).
    #[serde(default, rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// IPv6 address (always empty).
    #[serde(default, rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// IPv6 prefix length (always 0).
    #[serde(default, rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    /// Network ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Gateway.
    pub gateway: String,
    /// IPv4 address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    /// MAC address.
    pub mac_address: String,
    /// Aliases.
    pub aliases: Option<Vec<String>>,
}

/// A port in the container list: `{"PrivatePort": 80, "Type": "tcp"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Port {
    /// IP.
    #[serde(rename = "IP", skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Container port.
    pub private_port: u16,
    /// Host port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_port: Option<u16>,
    /// `tcp`, `udp`, `sctp`.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// One entry of `GET /containers/json` (swagger `ContainerSummary`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// Full ID.
    pub id: String,
    /// `["/name"]`.
    pub names: Vec<String>,
    /// Image as given at create.
    pub image: String,
    /// Image ID `sha256:...`.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Command line joined with spaces.
    pub command: String,
    /// Unix seconds.
    pub created: i64,
    /// Ports.
    pub ports: Vec<Port>,
    /// With `size=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// With `size=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `running`, `exited`, ...
    pub state: String,
    /// `Up 5 seconds`, `Exited (0) 3 seconds ago`, `Created`.
    pub status: String,
    /// `{"NetworkMode": "none"}`.
    pub host_config: SummaryHostConfig,
    /// Networks.
    pub network_settings: SummaryNetworkSettings,
    /// Mounts.
    pub mounts: Vec<MountPoint>,
}

/// `HostConfig` of a container summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryHostConfig {
    /// Network mode.
    pub network_mode: String,
}

/// `NetworkSettings` of a container summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryNetworkSettings {
    /// Endpoints by network name.
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// Response of `POST /containers/{id}/wait`: `{"StatusCode": n, "Error": null}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct WaitResponse {
    /// Exit code.
    pub status_code: i64,
    /// `{"Message": "..."}` when waiting failed.
    #[serde(default)]
    pub error: Option<WaitError>,
}

/// `Error` of a wait response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct WaitError {
    /// Message.
    pub message: String,
}

/// Response of `GET /containers/{id}/top`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopResponse {
    /// Column titles of `ps`.
    pub titles: Vec<String>,
    /// One row per process.
    pub processes: Vec<Vec<String>>,
}

/// Response of `POST /containers/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerPruneResponse {
    /// Removed IDs.
    pub containers_deleted: Option<Vec<String>>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// Body of `POST /containers/{id}/exec` (swagger `ExecConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecConfig {
    /// Attach stdin.
    #[serde(default)]
    pub attach_stdin: bool,
    /// Attach stdout.
    #[serde(default)]
    pub attach_stdout: bool,
    /// Attach stderr.
    #[serde(default)]
    pub attach_stderr: bool,
    /// `[height, width]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
    /// Detach keys, e.g. `ctrl-p,ctrl-q`.
    #[serde(default)]
    pub detach_keys: String,
    /// Allocate a pseudo-terminal.
    #[serde(default)]
    pub tty: bool,
    /// Extra environment.
    #[serde(default, deserialize_with = "null_default")]
    pub env: Vec<String>,
    /// Command.
    #[serde(default, deserialize_with = "strslice")]
    pub cmd: Option<Vec<String>>,
    /// Privileged.
    #[serde(default)]
    pub privileged: bool,
    /// User.
    #[serde(default)]
    pub user: String,
    /// Working directory.
    #[serde(default)]
    pub working_dir: String,
}

/// `{"Id": "..."}` (exec create, 201).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdResponse {
    /// ID.
    pub id: String,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecStartConfig {
    /// Detach (run without streams; answers 200 at once).
    #[serde(default)]
    pub detach: bool,
    /// Pseudo-terminal.
    #[serde(default)]
    pub tty: bool,
    /// `[height, width]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
}

/// Response of `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    /// Can be removed.
    pub can_remove: bool,
    /// Detach keys.
    pub detach_keys: String,
    /// Exec ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Running.
    pub running: bool,
    /// Exit code (null until it exited).
    pub exit_code: Option<i64>,
    /// Process configuration.
    pub process_config: ExecProcessConfig,
    /// Stdin open.
    pub open_stdin: bool,
    /// Stderr attached.
    pub open_stderr: bool,
    /// Stdout attached.
    pub open_stdout: bool,
    /// Container ID.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Host PID.
    pub pid: i64,
}

/// `ProcessConfig` of exec inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecProcessConfig {
    /// Privileged.
    pub privileged: bool,
    /// User.
    pub user: String,
    /// Tty.
    pub tty: bool,
    /// Program.
    pub entrypoint: String,
    /// Arguments.
    pub arguments: Vec<String>,
}

// ---------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------

/// One entry of `GET /images/json` (swagger `ImageSummary`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// `sha256:<config digest>`.
    pub id: String,
    /// Parent ID or empty.
    pub parent_id: String,
    /// `repo:tag` references.
    #[serde(default, deserialize_with = "null_default")]
    pub repo_tags: Vec<String>,
    /// `repo@sha256:...`.
    #[serde(default, deserialize_with = "null_default")]
    pub repo_digests: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Bytes.
    pub size: i64,
    /// Bytes shared with other images (-1 unknown).
    pub shared_size: i64,
    /// Deprecated, same as `size` in 1.44+.
    #[serde(default)]
    pub virtual_size: i64,
    /// Labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    /// Containers using the image (-1 unknown).
    pub containers: i64,
}

/// Response of `GET /images/{name}/json` (swagger `ImageInspect`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// `sha256:...`.
    pub id: String,
    /// References.
    #[serde(default, deserialize_with = "null_default")]
    pub repo_tags: Vec<String>,
    /// Digests.
    #[serde(default, deserialize_with = "null_default")]
    pub repo_digests: Vec<String>,
    /// Parent.
    pub parent: String,
    /// Comment.
    pub comment: String,
    /// RFC 3339.
    pub created: String,
    /// Builder version.
    pub docker_version: String,
    /// Author.
    pub author: String,
    /// Image config.
    pub config: ContainerConfig,
    /// `amd64`.
    pub architecture: String,
    /// Variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// `linux`.
    pub os: String,
    /// Bytes.
    pub size: i64,
    /// Graph driver.
    pub graph_driver: GraphDriver,
    /// `{"Type": "layers", "Layers": [diff ids]}`.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// `{"LastTagTime": ...}`.
    pub metadata: serde_json::Value,
}

/// `RootFS` of image inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Diff IDs.
    #[serde(default, deserialize_with = "null_default")]
    pub layers: Vec<String>,
}

/// One entry of `GET /images/{name}/history`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    /// Image ID or `<missing>`.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Command.
    pub created_by: String,
    /// Tags.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Bytes.
    pub size: i64,
    /// Comment.
    pub comment: String,
}

/// One entry of `DELETE /images/{name}`: `{"Untagged": ref}` or `{"Deleted": id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDeleteItem {
    /// Removed reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    /// Removed ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// Response of `POST /images/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagePruneResponse {
    /// Removed items.
    pub images_deleted: Option<Vec<ImageDeleteItem>>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// One line of a JSON progress stream (`/images/load`, `/images/create`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JsonMessage {
    /// Human text, e.g. `Loaded image: busybox:latest\n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Status line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Layer/object ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `progressDetail`: `{"current":N,"total":N}` on Downloading,
    /// Extracting and Pushing, `{}` on the other per-layer statuses.
    #[serde(
        default,
        rename = "progressDetail",
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_detail: Option<serde_json::Value>,
    /// Auxiliary data: push's `{"Tag","Digest","Size"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
    /// Progress bar text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Error (deprecated form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error detail: `{"message": "..."}`.
    #[serde(
        default,
        rename = "errorDetail",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_detail: Option<ErrorDetail>,
}

/// `errorDetail` of a progress message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Message.
    pub message: String,
}

// ---------------------------------------------------------------------------
// Events, df
// ---------------------------------------------------------------------------

/// One event of `GET /events` (swagger `EventMessage`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EventMessage {
    /// `container`, `image`, `network`, `volume`, `daemon`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `destroy`, ...
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    /// `local`.
    #[serde(default)]
    pub scope: String,
    /// Unix seconds.
    #[serde(default)]
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(default, rename = "timeNano")]
    pub time_nano: i64,
    /// Deprecated: same as Actor.ID (containers, images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Deprecated: same as Action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Deprecated: image of a container event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// `Actor` of an event.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EventActor {
    /// Object ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Attributes (name, image, exitCode, labels).
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// Response of `GET /system/df`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDf {
    /// Bytes in layers.
    pub layers_size: i64,
    /// Images (with `Containers` counts).
    pub images: Vec<ImageSummary>,
    /// Containers (with sizes).
    pub containers: Vec<ContainerSummary>,
    /// Volumes.
    pub volumes: Vec<serde_json::Value>,
    /// Build cache.
    pub build_cache: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_accepts_strings_and_nulls() {
        let r: ContainerCreateRequest = serde_json::from_str(
            r#"{"Image":"busybox","Cmd":"echo hi","Entrypoint":null,"Env":null,
                "HostConfig":{"Binds":null,"AutoRemove":true,"PidsLimit":null}}"#,
        )
        .unwrap();
        assert_eq!(r.config.cmd, Some(vec!["echo hi".to_string()]));
        assert_eq!(r.config.entrypoint, None);
        assert!(r.config.env.is_empty());
        assert!(r.host_config.auto_remove);
        let r: ContainerCreateRequest =
            serde_json::from_str(r#"{"Image":"x","Cmd":["a","b"],"Entrypoint":[]}"#).unwrap();
        assert_eq!(r.config.cmd.unwrap(), ["a", "b"]);
        assert_eq!(r.config.entrypoint, Some(vec![]));
    }

    #[test]
    fn error_kinds_map_to_docker_status_codes() {
        assert_eq!(ApiError::no_such_container("x").kind.status(), 404);
        assert_eq!(
            ApiError::no_such_container("x").message,
            "No such container: x"
        );
        assert_eq!(ErrorKind::Conflict.status(), 409);
        assert_eq!(ErrorKind::NotModified.status(), 304);
    }
}

/// `POST /auth` body (moby `registry.AuthConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthRequest {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// base64 `user:password`.
    #[serde(default)]
    pub auth: String,
    /// Deprecated.
    #[serde(default)]
    pub email: String,
    /// Registry address.
    #[serde(default)]
    pub serveraddress: String,
    /// OAuth2 refresh token.
    #[serde(default)]
    pub identitytoken: String,
    /// Bearer token.
    #[serde(default)]
    pub registrytoken: String,
}

/// `POST /auth` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthResponse {
    /// Refresh token (may be empty).
    #[serde(rename = "IdentityToken")]
    pub identity_token: String,
    /// `Login Succeeded`.
    #[serde(rename = "Status")]
    pub status: String,
}

// ---- networks (swagger `Network*`, API 1.47) ----

/// `IPAM.Config[]` entry of a network (swagger `IPAMConfig`): strings as the
/// client sent them; validated by the network service.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    /// CIDR, `172.29.1.0/24`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Gateway address inside the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// `--ip-range`, CIDR inside the subnet.
    #[serde(default, rename = "IPRange", skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// `--aux-address` (accepted, not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<BTreeMap<String, String>>,
}

/// `IPAM` of a network (swagger `IPAM`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    /// `default`.
    #[serde(default)]
    pub driver: String,
    /// Driver options (always empty in answers).
    #[serde(default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, String>,
    /// One IPv4 entry (empty for `host` and `none`).
    #[serde(default, deserialize_with = "null_default")]
    pub config: Vec<IpamConfig>,
}

/// Body of `POST /networks/create` (swagger `NetworkCreateRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateRequest {
    /// Unique name.
    #[serde(default)]
    pub name: String,
    /// Deprecated (always checked).
    #[serde(default)]
    pub check_duplicate: Option<bool>,
    /// `bridge` (default); other drivers give 404 `plugin "X" not found`.
    #[serde(default)]
    pub driver: String,
    /// `local`.
    #[serde(default)]
    pub scope: String,
    /// `--internal`: no outbound route, no NAT.
    #[serde(default)]
    pub internal: bool,
    /// `--attachable` (accepted; bridge networks always are).
    #[serde(default)]
    pub attachable: bool,
    /// `--ingress` (refused by the bridge driver).
    #[serde(default)]
    pub ingress: bool,
    /// `--ipam-driver`, `--subnet`, `--gateway`, `--ip-range`.
    #[serde(default, rename = "IPAM")]
    pub ipam: Option<Ipam>,
    /// `--ipv6` (refused: IPv4 only).
    #[serde(default, rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    /// `-o key=value` (`com.docker.network.bridge.name`, `...driver.mtu`, ...).
    #[serde(default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, String>,
    /// `--label`.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// `201` answer of `POST /networks/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateResponse {
    /// 64-hex network ID.
    pub id: String,
    /// Warnings (always empty).
    pub warning: String,
}

/// `Containers[<id>]` of a network (swagger `EndpointResource`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    /// Container name without `/`.
    pub name: String,
    /// Endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// MAC address.
    pub mac_address: String,
    /// `ip/prefixlen`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// Always empty (IPv4 only).
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `ConfigFrom` of a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigReference {
    /// Always empty.
    pub network: String,
}

/// A network as `GET /networks` and `GET /networks/{id}` report it
/// (swagger `Network`; moby `network.Inspect`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    /// Name.
    pub name: String,
    /// 64-hex ID.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// `local`.
    pub scope: String,
    /// `bridge`, `host`, `null`.
    pub driver: String,
    /// Always true (API 1.47 field).
    #[serde(rename = "EnableIPv4", default)]
    pub enable_ipv4: bool,
    /// Always false.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// IPAM configuration.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// `--internal`.
    pub internal: bool,
    /// Always false for bridge networks created without `--attachable`.
    pub attachable: bool,
    /// Always false.
    pub ingress: bool,
    /// Always empty.
    pub config_from: ConfigReference,
    /// Always false.
    pub config_only: bool,
    /// Connected containers by ID (empty in `GET /networks` lists, as Docker).
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// `EndpointSettings.IPAMConfig`: the addresses asked for with `--ip`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointIpamConfig {
    /// `--ip`.
    #[serde(
        default,
        rename = "IPv4Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    /// `--ip6` (refused).
    #[serde(
        default,
        rename = "IPv6Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
}

/// What a client asks for an endpoint: `NetworkingConfig.EndpointsConfig[net]`
/// of a create request and `EndpointConfig` of `POST /networks/{id}/connect`
/// (swagger `EndpointSettings`, the request half).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointConfig {
    /// `--ip`.
    #[serde(default, rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// `--link` (not supported; ignored).
    #[serde(default, deserialize_with = "null_default")]
    pub links: Vec<String>,
    /// `--network-alias` / `--alias`.
    #[serde(default, deserialize_with = "null_default")]
    pub aliases: Vec<String>,
    /// `--mac-address` (API >= 1.44).
    #[serde(default)]
    pub mac_address: String,
    /// Driver options (ignored).
    #[serde(default, deserialize_with = "null_default")]
    pub driver_opts: BTreeMap<String, String>,
}

/// Body of `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkConnectRequest {
    /// Container ID or name.
    #[serde(default)]
    pub container: String,
    /// Endpoint settings.
    #[serde(default)]
    pub endpoint_config: Option<EndpointConfig>,
}

/// Body of `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkDisconnectRequest {
    /// Container ID or name.
    #[serde(default)]
    pub container: String,
    /// `--force`.
    #[serde(default)]
    pub force: bool,
}

/// Answer of `POST /networks/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkPruneResponse {
    /// Names of the removed networks.
    pub networks_deleted: Vec<String>,
}

/// A volume (swagger `Volume`; `GET /volumes/{name}`, list items, the
/// answer of `POST /volumes/create`, and `/system/df` with `UsageData`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// Name (64 hex digits for an anonymous volume).
    pub name: String,
    /// Volume driver: always `local`.
    pub driver: String,
    /// Host path of its content (`<data-root>/volumes/<name>/_data`).
    pub mountpoint: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// User labels (`com.docker.volume.anonymous` on anonymous volumes).
    pub labels: BTreeMap<String, String>,
    /// `local`.
    pub scope: String,
    /// Driver options as given at create.
    pub options: BTreeMap<String, String>,
    /// Size and reference count (only in `/system/df`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsageData>,
}

/// `UsageData` of a volume (swagger `Volume.UsageData`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeUsageData {
    /// Bytes used by its content; -1 if not computed.
    pub size: i64,
    /// Containers referencing it; -1 if not computed.
    pub ref_count: i64,
}

/// Body of `POST /volumes/create` (swagger `VolumeCreateOptions`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeCreateRequest {
    /// Name; empty: a generated (anonymous-style) name.
    #[serde(default)]
    pub name: String,
    /// Driver; empty or `local`.
    #[serde(default)]
    pub driver: String,
    /// Driver options.
    #[serde(default, deserialize_with = "null_default")]
    pub driver_opts: BTreeMap<String, String>,
    /// Labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// Answer of `GET /volumes` (swagger `VolumeListResponse`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeListResponse {
    /// The volumes.
    pub volumes: Vec<Volume>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// Answer of `POST /volumes/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumePruneResponse {
    /// Names of the removed volumes.
    pub volumes_deleted: Vec<String>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

mod stats;
pub use stats::*;

mod changes;
pub use changes::*;

mod archive;
pub use archive::*;
