//! `GET /containers/{id}/stats` and `POST /containers/{id}/update` bodies
//! (Engine API v1.47, definitions `ContainerStatsResponse` and
//! `ContainerUpdateRequest`/`ContainerUpdateResponse`; field names are
//! snake_case on the wire for stats, as dockerd's `types.StatsJSON`).
//!
//! The same types deserialize what dockerd sends (every field defaults), so
//! the CLI reads both daemons with them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One stats sample (`types.StatsJSON`). Times are RFC 3339 with
/// nanoseconds; `0001-01-01T00:00:00Z` is Go's zero time (`preread` of the
/// first sample, both times of a stopped container).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ContainerStats {
    /// When this sample was read.
    pub read: String,
    /// When the previous sample (`precpu_stats`) was read.
    pub preread: String,
    /// Task counts.
    pub pids_stats: PidsStats,
    /// Block I/O per device.
    pub blkio_stats: BlkioStats,
    /// Always 0 on Linux (Windows only).
    pub num_procs: u32,
    /// Always `{}` on Linux (Windows only).
    pub storage_stats: StorageStats,
    /// CPU usage of this sample.
    pub cpu_stats: CpuStats,
    /// CPU usage of the previous sample (zero in the first one).
    pub precpu_stats: CpuStats,
    /// Memory usage.
    pub memory_stats: MemoryStats,
    /// The container's name with its leading `/`.
    pub name: String,
    /// Full container ID.
    pub id: String,
    /// Per interface of the container's network namespace (`eth0`...);
    /// absent for containers without endpoints (`none`, `host`,
    /// `container:<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

/// `pids_stats`: `pids.current` and `pids.max` (omitted when unlimited).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PidsStats {
    /// Tasks in the cgroup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// Limit; absent when unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// A `major:minor op value` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total` (v1) or
    /// `read`, `write` (v2).
    pub op: String,
    /// The figure.
    pub value: u64,
}

/// `blkio_stats`: each list is `null` when the host cannot tell (every one
/// for a stopped container; all but the first on cgroup v2).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BlkioStats {
    /// Bytes read/written.
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
    /// Operations.
    pub io_serviced_recursive: Option<Vec<BlkioEntry>>,
    /// Queued operations (CFQ).
    pub io_queue_recursive: Option<Vec<BlkioEntry>>,
    /// Service time (CFQ).
    pub io_service_time_recursive: Option<Vec<BlkioEntry>>,
    /// Wait time (CFQ).
    pub io_wait_time_recursive: Option<Vec<BlkioEntry>>,
    /// Merged operations (CFQ).
    pub io_merged_recursive: Option<Vec<BlkioEntry>>,
    /// Disk time (CFQ).
    pub io_time_recursive: Option<Vec<BlkioEntry>>,
    /// Sectors (CFQ).
    pub sectors_recursive: Option<Vec<BlkioEntry>>,
}

/// `storage_stats` (Windows only; `{}` here).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StorageStats {
    /// Read operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_count_normalized: Option<u64>,
    /// Bytes read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_size_bytes: Option<u64>,
    /// Write operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_count_normalized: Option<u64>,
    /// Bytes written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_size_bytes: Option<u64>,
}

/// `cpu_stats` / `precpu_stats`. Times in nanoseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CpuStats {
    /// The container's CPU time.
    pub cpu_usage: CpuUsage,
    /// The host's CPU time (`/proc/stat`), omitted when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub system_cpu_usage: u64,
    /// Online CPUs of the host, omitted when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub online_cpus: u64,
    /// CFS throttling.
    pub throttling_data: ThrottlingData,
}

/// `cpu_usage`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CpuUsage {
    /// Total CPU time.
    pub total_usage: u64,
    /// Per CPU (cgroup v1 only; absent on v2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    /// Kernel-mode time.
    pub usage_in_kernelmode: u64,
    /// User-mode time.
    pub usage_in_usermode: u64,
}

/// `throttling_data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ThrottlingData {
    /// CFS periods elapsed.
    pub periods: u64,
    /// Periods in which the container was throttled.
    pub throttled_periods: u64,
    /// Total time throttled, ns.
    pub throttled_time: u64,
}

/// `memory_stats` (bytes). Every field is omitted when zero/empty (`{}`
/// for a stopped container). `stats` holds the keys of `memory.stat`:
/// v1 ones (`cache`, `rss`, `total_inactive_file`...) or v2 ones (`anon`,
/// `file`, `inactive_file`...).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MemoryStats {
    /// Current usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1 only).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_usage: u64,
    /// `memory.stat`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    /// Times the limit was hit (v1).
    #[serde(skip_serializing_if = "is_zero")]
    pub failcnt: u64,
    /// The limit, or the host's memory when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One interface of `networks`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Sent packets dropped.
    pub tx_dropped: u64,
}

/// Body of `POST /containers/{id}/update` (`container.UpdateConfig`: the
/// resources plus `RestartPolicy`). A zero (or absent) field leaves the
/// setting unchanged; `PidsLimit` 0 or -1 means unlimited.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerUpdateRequest {
    /// Memory limit, bytes.
    pub memory: i64,
    /// Soft limit, bytes.
    pub memory_reservation: i64,
    /// Memory + swap, bytes; -1 unlimited.
    pub memory_swap: i64,
    /// CPU quota in units of 10⁻⁹ CPUs.
    pub nano_cpus: i64,
    /// Relative CPU weight.
    pub cpu_shares: i64,
    /// CFS quota, µs.
    pub cpu_quota: i64,
    /// CFS period, µs.
    pub cpu_period: i64,
    /// CPUs allowed (`0-1`, `0,2`).
    pub cpuset_cpus: String,
    /// Memory nodes allowed.
    pub cpuset_mems: String,
    /// Pids limit; `None` leaves it unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// Block IO weight (not supported: answered with Docker's warning).
    pub blkio_weight: i64,
    /// Kernel memory (deprecated: answered with Docker's warning).
    pub kernel_memory: i64,
    /// New restart policy; `None` or an empty name leaves it unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<super::RestartPolicy>,
}

/// Answer of `POST /containers/{id}/update`: `{"Warnings": null}` or a list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerUpdateResponse {
    /// Warnings, `null` when none (as dockerd sends).
    pub warnings: Option<Vec<String>>,
}
