//! `GET /containers/{id}/stats`: samples of a container's cgroups in
//! dockerd's `types.StatsJSON` shape.
//!
//! * The figures come from `berth_cgroups::Cgroup::stats` on the
//!   container's cgroup (`/berth/<id>`, see [`crate::bundle::cgroups_path`]):
//!   on v1 and hybrid hosts the v1 files (memory `stats` with v1 keys,
//!   `max_usage`, `percpu_usage`, all eight blkio lists), on v2 the unified
//!   ones (memory `stats` with v2 keys, no `max_usage`/`percpu_usage`, only
//!   `io_service_bytes_recursive` in blkio), as dockerd fills them.
//! * `system_cpu_usage` is the host's `cpu` line of `/proc/stat` (user to
//!   softirq) in ns, `online_cpus` the count of
//!   `/sys/devices/system/cpu/online`; `memory_stats.limit` is capped at the
//!   host's `MemTotal`.
//! * `networks` reads `/proc/<init pid>/net/dev` (every interface but `lo`)
//!   for containers with endpoints.
//! * A container that is not running (nor paused) answers dockerd's zero
//!   sample: zero times, `{}` memory and pids, `null` blkio lists.

use crate::container::Container;
use crate::util::{now_ns, rfc3339_nano, ZERO_TIME};
use berth_api::backend::BoxStream;
use berth_api::models::{
    BlkioEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, NetworkStats,
    PidsStats, ThrottlingData,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Time between two samples of a stream (dockerd's collector interval).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Nanoseconds per USER_HZ tick of `/proc/stat` (USER_HZ is 100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// The host's CPU time in ns: the sum of the first seven fields (user,
/// nice, system, idle, iowait, irq, softirq) of `/proc/stat`'s `cpu` line,
/// as dockerd's `getSystemCPUUsage`.
pub fn system_cpu_usage() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
                * NS_PER_TICK
        })
        .unwrap_or(0)
}

/// Number of CPUs in a kernel CPU list such as `0-3,8` (0 when malformed).
pub fn cpu_list_count(list: &str) -> u64 {
    parse_cpu_list(list).map(|v| v.len() as u64).unwrap_or(0)
}

/// The CPUs of a kernel CPU list (`0-3,8`), `None` when malformed.
pub fn parse_cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// `/sys/devices/system/cpu/online` as given (e.g. `0-1`).
pub fn online_cpu_list() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The host's memory in bytes (`MemTotal` of `/proc/meminfo`).
pub fn machine_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Parses `/proc/<pid>/net/dev` into per-interface counters, `lo` left out.
pub fn parse_net_dev(text: &str) -> BTreeMap<String, NetworkStats> {
    let mut out = BTreeMap::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if f.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errors: f[2],
                rx_dropped: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errors: f[10],
                tx_dropped: f[11],
            },
        );
    }
    out
}

fn entries(v: &[berth_cgroups::BlkioEntry]) -> Vec<BlkioEntry> {
    v.iter()
        .map(|e| BlkioEntry {
            major: e.major,
            minor: e.minor,
            op: e.op.clone(),
            value: e.value,
        })
        .collect()
}

/// dockerd's sample of a container that is not running.
fn zero_sample(name: &str, id: &str) -> ContainerStats {
    ContainerStats {
        read: ZERO_TIME.into(),
        preread: ZERO_TIME.into(),
        name: name.to_string(),
        id: id.to_string(),
        ..Default::default()
    }
}

/// One sample of `c` with a zero `precpu_stats`; the zero sample when it
/// is not running or its cgroup cannot be read (it just exited).
pub fn sample(c: &Container) -> ContainerStats {
    let rec = c.get();
    if !rec.state.status.is_live() {
        return zero_sample(&rec.name, &c.id);
    }
    let cg = match berth_cgroups::Cgroup::load(&crate::bundle::cgroups_path(&c.id), &c.id) {
        Ok(cg) => cg,
        Err(e) => {
            tracing::debug!("stats {}: {e}", c.id);
            return zero_sample(&rec.name, &c.id);
        }
    };
    let st = match cg.stats() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!("stats {}: {e}", c.id);
            return zero_sample(&rec.name, &c.id);
        }
    };
    let v2 = cg.layout() == berth_cgroups::Layout::Unified;
    let mut out = zero_sample(&rec.name, &c.id);
    out.read = rfc3339_nano(now_ns());
    out.pids_stats = PidsStats {
        current: Some(st.pids.current),
        limit: st.pids.limit.filter(|l| *l > 0),
    };
    let b = &st.blkio;
    out.blkio_stats = if v2 {
        // dockerd's statsV2 leaves the list nil (null) when io.stat is empty.
        BlkioStats {
            io_service_bytes_recursive: (!b.service_bytes.is_empty())
                .then(|| entries(&b.service_bytes)),
            ..Default::default()
        }
    } else {
        BlkioStats {
            io_service_bytes_recursive: Some(entries(&b.service_bytes)),
            io_serviced_recursive: Some(entries(&b.serviced)),
            io_queue_recursive: Some(entries(&b.queued)),
            io_service_time_recursive: Some(entries(&b.service_time)),
            io_wait_time_recursive: Some(entries(&b.wait_time)),
            io_merged_recursive: Some(entries(&b.merged)),
            io_time_recursive: Some(entries(&b.time)),
            sectors_recursive: Some(entries(&b.sectors)),
        }
    };
    out.cpu_stats = CpuStats {
        cpu_usage: CpuUsage {
            total_usage: st.cpu.usage_ns,
            percpu_usage: (!v2).then(|| st.cpu.percpu_ns.clone()),
            usage_in_kernelmode: st.cpu.system_ns,
            usage_in_usermode: st.cpu.user_ns,
        },
        system_cpu_usage: system_cpu_usage(),
        online_cpus: cpu_list_count(&online_cpu_list()),
        throttling_data: ThrottlingData {
            periods: st.cpu.nr_periods,
            throttled_periods: st.cpu.nr_throttled,
            throttled_time: st.cpu.throttled_ns,
        },
    };
    let machine = machine_memory();
    let limit = st.memory.limit.unwrap_or(u64::MAX);
    out.memory_stats = MemoryStats {
        usage: st.memory.usage,
        max_usage: if v2 { 0 } else { st.memory.max_usage },
        stats: st.memory.stat.clone(),
        failcnt: if v2 { 0 } else { st.memory.failcnt },
        limit: if machine > 0 {
            limit.min(machine)
        } else {
            limit
        },
    };
    if !rec.endpoints.is_empty() && rec.state.pid > 0 {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{}/net/dev", rec.state.pid)) {
            out.networks = Some(parse_net_dev(&text));
        }
    }
    out
}

/// The stream of `GET /containers/{id}/stats`: with `stream`, a sample
/// every [`INTERVAL`] until the container is removed (each with the
/// previous one's CPU figures as `precpu_stats`); without, one sample —
/// taken [`INTERVAL`] after a first one unless `one_shot` or the container
/// is not running.
pub fn stream(c: Arc<Container>, stream: bool, one_shot: bool) -> BoxStream<ContainerStats> {
    struct St {
        c: Arc<Container>,
        prev: Option<ContainerStats>,
        first: bool,
        done: bool,
    }
    let st = St {
        c,
        prev: None,
        first: true,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(st, move |mut st| async move {
        if st.done || st.c.snap.borrow().removed {
            return None;
        }
        if !st.first {
            tokio::time::sleep(INTERVAL).await;
        }
        st.first = false;
        let mut s = sample(&st.c);
        if !stream {
            st.done = true;
            if !one_shot && s.read != ZERO_TIME {
                tokio::time::sleep(INTERVAL).await;
                let later = sample(&st.c);
                if later.read != ZERO_TIME {
                    st.prev = Some(s);
                    s = later;
                }
            }
        }
        if let Some(p) = st.prev.take().filter(|p| p.read != ZERO_TIME) {
            if s.read != ZERO_TIME {
                s.preread = p.read;
                s.precpu_stats = p.cpu_stats;
            }
        }
        st.prev = Some(s.clone());
        Some((s, st))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8"), Some(vec![0, 1, 2, 3, 8]));
        assert_eq!(cpu_list_count("0"), 1);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
    }

    #[test]
    fn net_dev() {
        let t = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n  eth0:    1296      16    1    2    0     0          0         0      656       8    3    4    0     0       0          0\n";
        let n = parse_net_dev(t);
        assert_eq!(n.len(), 1);
        let e = &n["eth0"];
        assert_eq!(
            (e.rx_bytes, e.rx_packets, e.rx_errors, e.rx_dropped),
            (1296, 16, 1, 2)
        );
        assert_eq!(
            (e.tx_bytes, e.tx_packets, e.tx_errors, e.tx_dropped),
            (656, 8, 3, 4)
        );
    }

    #[test]
    fn host_figures() {
        assert!(system_cpu_usage() > 0);
        assert!(machine_memory() > 0);
        assert!(cpu_list_count(&online_cpu_list()) >= 1);
    }
}
