//! Usage statistics (`docker stats`): memory, cpu, pids.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{keyed, read_opt, Cgroup, Result, UNIFIED};

/// USER_HZ: the unit of v1 `cpuacct.stat` (always 100 on Linux).
const USER_HZ: u64 = 100;

/// One snapshot of a cgroup's usage. Missing controllers read as zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Memory controller figures.
    pub memory: MemoryStats,
    /// CPU controller figures.
    pub cpu: CpuStats,
    /// Pids controller figures.
    pub pids: PidsStats,
    /// OOM kills so far (see [`Cgroup::oom_kill_count`]).
    pub oom_kills: u64,
    /// Block I/O figures.
    pub blkio: BlkioStats,
}

/// One `major:minor op value` entry of a block I/O statistic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// v1: the file's operation (`Read`, `Write`, `Sync`, `Async`,
    /// `Discard`, `Total`, or empty for `blkio.sectors_recursive`);
    /// v2: `read` or `write`.
    pub op: String,
    /// Bytes, operations, nanoseconds or sectors, per file.
    pub value: u64,
}

/// Block I/O per device. v1 reads the `blkio.*_recursive` files (the CFQ
/// ones first, then `blkio.throttle.io_service_bytes_recursive` and
/// `blkio.throttle.io_serviced_recursive`, which every kernel has); files
/// that do not exist give empty lists. v2 fills `service_bytes` (`rbytes`,
/// `wbytes`) and `serviced` (`rios`, `wios`) from `io.stat`; the others stay
/// empty (cgroup v2 has no equivalent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes transferred (`io_service_bytes_recursive`).
    pub service_bytes: Vec<BlkioEntry>,
    /// Operations issued (`io_serviced_recursive`).
    pub serviced: Vec<BlkioEntry>,
    /// Queued operations (`io_queued_recursive`, CFQ only).
    pub queued: Vec<BlkioEntry>,
    /// Service time, ns (`io_service_time_recursive`, CFQ only).
    pub service_time: Vec<BlkioEntry>,
    /// Wait time, ns (`io_wait_time_recursive`, CFQ only).
    pub wait_time: Vec<BlkioEntry>,
    /// Merged operations (`io_merged_recursive`, CFQ only).
    pub merged: Vec<BlkioEntry>,
    /// Disk time, ms (`time_recursive`, CFQ only).
    pub time: Vec<BlkioEntry>,
    /// Sectors (`sectors_recursive`, CFQ only).
    pub sectors: Vec<BlkioEntry>,
}

/// Memory usage, bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// v1 `memory.usage_in_bytes`, v2 `memory.current`.
    pub usage: u64,
    /// v1 `memory.max_usage_in_bytes`, v2 `memory.peak` (0 if absent).
    pub max_usage: u64,
    /// v1 `memory.limit_in_bytes`, v2 `memory.max`; `None` = unlimited
    /// (v2 `max`, or v1's page-rounded `i64::MAX`).
    pub limit: Option<u64>,
    /// v1 `memory.failcnt` (times the limit was hit), v2 the `max` count of
    /// `memory.events`.
    pub failcnt: u64,
    /// Every `key value` line of `memory.stat` (v1 keys such as `cache`,
    /// `rss`, `total_inactive_file`; v2 keys such as `anon`, `file`,
    /// `inactive_file`).
    pub stat: BTreeMap<String, u64>,
}

/// CPU time, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Total CPU time: v1 `cpuacct.usage`, v2 `usage_usec` × 1000 of `cpu.stat`.
    pub usage_ns: u64,
    /// User time: v1 `cpuacct.stat` user × 10⁹/USER_HZ, v2 `user_usec` × 1000.
    pub user_ns: u64,
    /// System time, as `user_ns`.
    pub system_ns: u64,
    /// Per-CPU totals: v1 `cpuacct.usage_percpu`; empty on v2.
    pub percpu_ns: Vec<u64>,
    /// CFS periods elapsed (`nr_periods` of `cpu.stat`).
    pub nr_periods: u64,
    /// Periods in which the group was throttled (`nr_throttled`).
    pub nr_throttled: u64,
    /// Time throttled: v1 `throttled_time` (ns), v2 `throttled_usec` × 1000.
    pub throttled_ns: u64,
}

/// Task counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// `pids.current`.
    pub current: u64,
    /// `pids.max`; `None` = `max`.
    pub limit: Option<u64>,
}

fn num(dir: Option<&Path>, file: &str) -> Result<Option<String>> {
    match dir {
        Some(d) => Ok(read_opt(&d.join(file))?.map(|s| s.trim().to_string())),
        None => Ok(None),
    }
}

fn parse_u64(s: Option<String>) -> u64 {
    s.and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn parse_limit(s: Option<String>) -> Option<u64> {
    let s = s?;
    if s == "max" {
        return None;
    }
    let v: u64 = s.parse().ok()?;
    // v1 reports "unlimited" as PAGE_COUNTER_MAX pages (≈ i64::MAX rounded).
    if v >= (i64::MAX as u64) - (1 << 20) {
        None
    } else {
        Some(v)
    }
}

fn flat(text: Option<String>) -> BTreeMap<String, u64> {
    text.unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// Parses v1 `blkio.*` lines: `8:0 Read 4096` (or `8:0 4096` for the
/// files without an operation); the `Total 123` summary line is skipped.
fn blkio_v1(text: Option<String>) -> Vec<BlkioEntry> {
    text.unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dev, op, v) = match f.as_slice() {
                [dev, op, v] => (*dev, op.to_string(), *v),
                [dev, v] if dev.contains(':') => (*dev, String::new(), *v),
                _ => return None,
            };
            let (ma, mi) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: ma.parse().ok()?,
                minor: mi.parse().ok()?,
                op,
                value: v.parse().ok()?,
            })
        })
        .collect()
}

/// Parses v2 `io.stat` (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`) into
/// (bytes, ios) entries with ops `read` and `write`.
fn blkio_v2(text: Option<String>) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in text.unwrap_or_default().lines() {
        let mut it = l.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else {
            continue;
        };
        let kv: BTreeMap<&str, u64> = it
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k, v.parse().ok()?))
            })
            .collect();
        let e = |op: &str, key: &str| BlkioEntry {
            major,
            minor,
            op: op.into(),
            value: kv.get(key).copied().unwrap_or(0),
        };
        bytes.push(e("read", "rbytes"));
        bytes.push(e("write", "wbytes"));
        ios.push(e("read", "rios"));
        ios.push(e("write", "wios"));
    }
    (bytes, ios)
}

pub(crate) fn collect(cg: &Cgroup) -> Result<Stats> {
    let mut s = Stats::default();
    if cg.uses_v1() {
        let mem = cg.path_of("memory");
        s.memory.usage = parse_u64(num(mem, "memory.usage_in_bytes")?);
        s.memory.max_usage = parse_u64(num(mem, "memory.max_usage_in_bytes")?);
        s.memory.limit = parse_limit(num(mem, "memory.limit_in_bytes")?);
        s.memory.failcnt = parse_u64(num(mem, "memory.failcnt")?);
        s.memory.stat = flat(num(mem, "memory.stat")?);
        let acct = cg.path_of("cpuacct");
        s.cpu.usage_ns = parse_u64(num(acct, "cpuacct.usage")?);
        let st = flat(num(acct, "cpuacct.stat")?);
        s.cpu.user_ns = st.get("user").copied().unwrap_or(0) * (1_000_000_000 / USER_HZ);
        s.cpu.system_ns = st.get("system").copied().unwrap_or(0) * (1_000_000_000 / USER_HZ);
        s.cpu.percpu_ns = num(acct, "cpuacct.usage_percpu")?
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let cst = flat(num(cg.path_of("cpu"), "cpu.stat")?);
        s.cpu.nr_periods = cst.get("nr_periods").copied().unwrap_or(0);
        s.cpu.nr_throttled = cst.get("nr_throttled").copied().unwrap_or(0);
        s.cpu.throttled_ns = cst.get("throttled_time").copied().unwrap_or(0);
        let pids = cg.path_of("pids");
        s.pids.current = parse_u64(num(pids, "pids.current")?);
        s.pids.limit = parse_limit(num(pids, "pids.max")?);
        let blk = cg.path_of("blkio");
        let b = &mut s.blkio;
        b.service_bytes = blkio_v1(num(blk, "blkio.io_service_bytes_recursive")?);
        if b.service_bytes.is_empty() {
            b.service_bytes = blkio_v1(num(blk, "blkio.throttle.io_service_bytes_recursive")?);
        }
        b.serviced = blkio_v1(num(blk, "blkio.io_serviced_recursive")?);
        if b.serviced.is_empty() {
            b.serviced = blkio_v1(num(blk, "blkio.throttle.io_serviced_recursive")?);
        }
        b.queued = blkio_v1(num(blk, "blkio.io_queued_recursive")?);
        b.service_time = blkio_v1(num(blk, "blkio.io_service_time_recursive")?);
        b.wait_time = blkio_v1(num(blk, "blkio.io_wait_time_recursive")?);
        b.merged = blkio_v1(num(blk, "blkio.io_merged_recursive")?);
        b.time = blkio_v1(num(blk, "blkio.time_recursive")?);
        b.sectors = blkio_v1(num(blk, "blkio.sectors_recursive")?);
        if let Some(oc) = num(mem, "memory.oom_control")? {
            s.oom_kills = keyed(&oc, "oom_kill")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
    } else {
        let d = cg.path_of(UNIFIED);
        s.memory.usage = parse_u64(num(d, "memory.current")?);
        s.memory.max_usage = parse_u64(num(d, "memory.peak")?);
        s.memory.limit = parse_limit(num(d, "memory.max")?);
        s.memory.stat = flat(num(d, "memory.stat")?);
        let ev = flat(num(d, "memory.events")?);
        s.memory.failcnt = ev.get("max").copied().unwrap_or(0);
        s.oom_kills = ev.get("oom_kill").copied().unwrap_or(0);
        let cst = flat(num(d, "cpu.stat")?);
        s.cpu.usage_ns = cst.get("usage_usec").copied().unwrap_or(0) * 1000;
        s.cpu.user_ns = cst.get("user_usec").copied().unwrap_or(0) * 1000;
        s.cpu.system_ns = cst.get("system_usec").copied().unwrap_or(0) * 1000;
        s.cpu.nr_periods = cst.get("nr_periods").copied().unwrap_or(0);
        s.cpu.nr_throttled = cst.get("nr_throttled").copied().unwrap_or(0);
        s.cpu.throttled_ns = cst.get("throttled_usec").copied().unwrap_or(0) * 1000;
        s.pids.current = parse_u64(num(d, "pids.current")?);
        s.pids.limit = parse_limit(num(d, "pids.max")?);
        (s.blkio.service_bytes, s.blkio.serviced) = blkio_v2(num(d, "io.stat")?);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_lines() {
        let v1 = blkio_v1(Some(
            "8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n".into(),
        ));
        assert_eq!(v1.len(), 3);
        assert_eq!(
            v1[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        let sectors = blkio_v1(Some("253:1 16\n".into()));
        assert_eq!(sectors[0].op, "");
        assert_eq!(sectors[0].value, 16);
        let (b, i) = blkio_v2(Some(
            "259:0 rbytes=12288 wbytes=4096 rios=3 wios=1 dbytes=0 dios=0\n".into(),
        ));
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].op.as_str(), b[0].value), ("read", 12288));
        assert_eq!((b[1].op.as_str(), b[1].value), ("write", 4096));
        assert_eq!((i[0].value, i[1].value), (3, 1));
        assert_eq!((b[0].major, b[0].minor), (259, 0));
    }
}
