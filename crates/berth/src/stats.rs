//! `berth stats` and `berth update`, as the docker CLI's `container stats`
//! and `container update`.
//!
//! `stats` reads `GET /containers/{id}/stats` and computes the columns
//! the way docker's CLI does (`cli/command/container/stats_helpers.go`):
//! CPU % = Δcontainer CPU / Δsystem CPU × online CPUs × 100 between
//! `precpu_stats` and `cpu_stats`; MEM USAGE = `usage` minus
//! `total_inactive_file` (v1) or `inactive_file` (v2), in binary units,
//! over `limit`; NET I/O the sums of `rx_bytes`/`tx_bytes`, BLOCK I/O of
//! the read/write entries of `io_service_bytes_recursive`, both in decimal
//! units with 3 digits; PIDS `pids_stats.current`.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use berth_api::models::{self, ContainerStats};
use berth_client::{qs, Client};
use clap::{ArgAction, Args};
use serde_json::{json, Map, Value};

use crate::fmt as f;
use crate::{out, CmdResult, Fail};

/// `stats` arguments (docker's flags).
#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// CONTAINER
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `update` arguments (docker's flags).
#[derive(Args, Debug, Clone)]
pub struct UpdateArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long = "cpus", value_name = "decimal")]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_name = "bytes", value_parser = parse_size)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = parse_size)]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(
        long = "memory-swap",
        value_name = "bytes",
        allow_hyphen_values = true,
        value_parser = parse_swap
    )]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", value_name = "string")]
    pub restart: Option<String>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// Validates a size flag at parse time (docker reports it as a flag error).
fn parse_size(s: &str) -> Result<String, String> {
    f::parse_ram(s).map(|_| s.to_string())
}

/// `--memory-swap`: a size or -1.
fn parse_swap(s: &str) -> Result<String, String> {
    if s.trim() == "-1" {
        return Ok(s.to_string());
    }
    parse_size(s)
}

/// The figures of one row, as docker's `StatsEntry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// The container as named on the command line (or its ID).
    pub container: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Full ID.
    pub id: String,
    /// CPU %.
    pub cpu: f64,
    /// Memory used, bytes (without the inactive file cache).
    pub mem: f64,
    /// Memory limit, bytes.
    pub mem_limit: f64,
    /// MEM %.
    pub mem_perc: f64,
    /// Network bytes received, sent.
    pub net: (f64, f64),
    /// Block bytes read, written.
    pub blk: (f64, f64),
    /// Tasks.
    pub pids: u64,
}

/// Docker CLI's `calculateCPUPercentUnix`.
pub fn cpu_percent(s: &ContainerStats) -> f64 {
    let cpu_delta =
        s.cpu_stats.cpu_usage.total_usage as f64 - s.precpu_stats.cpu_usage.total_usage as f64;
    let sys_delta = s.cpu_stats.system_cpu_usage as f64 - s.precpu_stats.system_cpu_usage as f64;
    let mut online = s.cpu_stats.online_cpus as f64;
    if online == 0.0 {
        online = s
            .cpu_stats
            .cpu_usage
            .percpu_usage
            .as_ref()
            .map(|v| v.len())
            .unwrap_or(0) as f64;
    }
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    }
}

/// Docker CLI's `calculateMemUsageUnixNoCache`.
pub fn mem_no_cache(m: &models::MemoryStats) -> f64 {
    if let Some(v) = m.stats.get("total_inactive_file") {
        if *v < m.usage {
            return (m.usage - v) as f64;
        }
    }
    let v = m.stats.get("inactive_file").copied().unwrap_or(0);
    if v < m.usage {
        return (m.usage - v) as f64;
    }
    m.usage as f64
}

/// The row of one sample.
pub fn entry(container: &str, s: &ContainerStats) -> Entry {
    let mem = mem_no_cache(&s.memory_stats);
    let limit = s.memory_stats.limit as f64;
    let mut net = (0.0, 0.0);
    for n in s.networks.iter().flat_map(|m| m.values()) {
        net.0 += n.rx_bytes as f64;
        net.1 += n.tx_bytes as f64;
    }
    let mut blk = (0.0, 0.0);
    for e in s.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match e.op.chars().next() {
            Some('r' | 'R') => blk.0 += e.value as f64,
            Some('w' | 'W') => blk.1 += e.value as f64,
            _ => {}
        }
    }
    Entry {
        container: container.to_string(),
        name: s.name.trim_start_matches('/').to_string(),
        id: s.id.clone(),
        cpu: cpu_percent(s),
        mem,
        mem_limit: limit,
        mem_perc: if limit != 0.0 {
            mem / limit * 100.0
        } else {
            0.0
        },
        net,
        blk,
        pids: s.pids_stats.current.unwrap_or(0),
    }
}

/// The template fields of a row (docker's `statsContext`).
fn row(e: &Entry, no_trunc: bool) -> Map<String, Value> {
    let id = if no_trunc {
        e.id.clone()
    } else {
        f::trunc(&e.id, 12)
    };
    let pair = |(a, b): (f64, f64)| {
        format!(
            "{} / {}",
            f::human_size_prec(a, 3),
            f::human_size_prec(b, 3)
        )
    };
    let v = json!({
        "BlockIO": pair(e.blk),
        "CPUPerc": format!("{:.2}%", e.cpu),
        "Container": e.container,
        "ID": id,
        "MemPerc": format!("{:.2}%", e.mem_perc),
        "MemUsage": format!("{} / {}", f::bytes_size(e.mem), f::bytes_size(e.mem_limit)),
        "Name": e.name,
        "NetIO": pair(e.net),
        "PIDs": e.pids.to_string(),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

const DEFAULT_TABLE: &str = "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

fn render(a: &StatsArgs, entries: &[Entry]) -> Result<String, Fail> {
    let fmt = f::ListFormat::from_flag(a.format.as_deref(), DEFAULT_TABLE);
    let rows: Vec<_> = entries.iter().map(|e| row(e, a.no_trunc)).collect();
    f::print_list(&fmt, &rows, HEADERS).map_err(Fail::msg)
}

/// The containers to show: the named ones, else the running ones (all
/// with `--all`), newest first as `docker ps` lists them.
async fn targets(c: &mut Client, a: &StatsArgs) -> Result<Vec<String>, Fail> {
    if !a.containers.is_empty() {
        return Ok(a.containers.clone());
    }
    let list: Vec<Value> = c
        .get_json(&format!(
            "/containers/json{}",
            if a.all { "?all=1" } else { "" }
        ))
        .await?;
    Ok(list
        .iter()
        .filter_map(|v| v["Id"].as_str().map(str::to_string))
        .collect())
}

/// One `stream=false` sample of `name`.
async fn one(mut c: Client, name: String) -> Result<ContainerStats, String> {
    c.get_json(&format!("/containers/{}/stats?stream=false", qs(&name)))
        .await
        .map_err(|e| e.to_string())
}

/// Splits a stats stream into its JSON objects and sends each as
/// `(index, sample)`; ends on the stream's end or a bad object.
async fn follow(
    mut c: Client,
    idx: usize,
    name: String,
    tx: tokio::sync::mpsc::UnboundedSender<(usize, Result<ContainerStats, String>)>,
) {
    let path = format!("/containers/{}/stats?stream=true", qs(&name));
    let mut body = match c
        .request(
            hyper_method_get(),
            &path,
            berth_client::ReqBody::empty(),
            None,
        )
        .await
    {
        Ok(b) => b,
        Err(e) => {
            let _ = tx.send((idx, Err(e.to_string())));
            return;
        }
    };
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = body.chunk().await {
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let r = serde_json::from_slice(&line).map_err(|e| e.to_string());
            if tx.send((idx, r)).is_err() {
                return;
            }
        }
    }
}

fn hyper_method_get() -> berth_client::Method {
    berth_client::Method::GET
}

/// `berth stats`.
pub async fn stats(c: &mut Client, a: StatsArgs) -> CmdResult {
    // Parse the template before asking the daemon (docker fails fast too).
    render(&a, &[])?;
    let names = targets(c, &a).await?;
    if a.no_stream {
        let mut tasks = Vec::new();
        for n in &names {
            tasks.push(tokio::spawn(one(c.sibling(), n.clone())));
        }
        let mut entries = Vec::new();
        let mut errs = Vec::new();
        for (n, t) in names.iter().zip(tasks) {
            match t.await {
                Ok(Ok(s)) => entries.push(entry(n, &s)),
                Ok(Err(e)) => errs.push(e),
                Err(e) => errs.push(e.to_string()),
            }
        }
        if !errs.is_empty() {
            return Err(Fail::msg(errs.join("\n")));
        }
        out(&render(&a, &entries)?);
        return Ok(());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, n) in names.iter().enumerate() {
        tokio::spawn(follow(c.sibling(), i, n.clone(), tx.clone()));
    }
    drop(tx);
    let tty = std::io::stdout().is_terminal();
    let mut latest: BTreeMap<usize, Entry> = BTreeMap::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    let mut dirty = false;
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some((i, Ok(s))) => {
                    latest.insert(i, entry(&names[i], &s));
                    dirty = true;
                }
                Some((_, Err(e))) => return Err(Fail::msg(e)),
                None => {
                    if dirty {
                        out(&render(&a, &latest.values().cloned().collect::<Vec<_>>())?);
                    }
                    return Ok(());
                }
            },
            _ = tick.tick() => {
                if dirty && latest.len() == names.len() {
                    let text = render(&a, &latest.values().cloned().collect::<Vec<_>>())?;
                    if tty {
                        out(&format!("\x1b[2J\x1b[H{text}"));
                    } else {
                        out(&text);
                    }
                    dirty = false;
                }
            }
        }
    }
}

/// Parses a size flag as docker does (`-1` allowed where `allow_neg`).
fn size(v: &Option<String>, flag: &str, allow_neg: bool) -> Result<i64, Fail> {
    match v {
        None => Ok(0),
        Some(s) if allow_neg && s.trim() == "-1" => Ok(-1),
        Some(s) => f::parse_ram(s)
            .map_err(|e| Fail::msg(format!("invalid argument \"{s}\" for \"{flag}\" flag: {e}"))),
    }
}

/// The `POST /containers/{id}/update` body of the flags (docker's
/// `runUpdate`).
pub fn update_body(a: &UpdateArgs) -> Result<Value, Fail> {
    let restart = match &a.restart {
        Some(r) => {
            let (name, n) = r.split_once(':').unwrap_or((r, "0"));
            let n: i64 = n.parse().map_err(|_| {
                Fail::msg(format!(
                    "invalid restart policy format: maximum retry count must be an integer: {r}"
                ))
            })?;
            Some(models::RestartPolicy {
                name: name.to_string(),
                maximum_retry_count: n,
            })
        }
        None => None,
    };
    let req = models::ContainerUpdateRequest {
        memory: size(&a.memory, "-m, --memory", false)?,
        memory_reservation: size(&a.memory_reservation, "--memory-reservation", false)?,
        memory_swap: size(&a.memory_swap, "--memory-swap", true)?,
        nano_cpus: a.cpus.map(|c| (c * 1e9).round() as i64).unwrap_or(0),
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpu_period: a.cpu_period.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight.map(i64::from).unwrap_or(0),
        kernel_memory: 0,
        restart_policy: restart,
    };
    serde_json::to_value(&req).map_err(|e| Fail::msg(e.to_string()))
}

/// `berth update`: warnings, then the updated names on stdout; the
/// errors, one a line, on stderr with status 1.
pub async fn update(c: &mut Client, a: UpdateArgs) -> CmdResult {
    let any = a.blkio_weight.is_some()
        || a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_shares.is_some()
        || a.cpus.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
        || a.memory.is_some()
        || a.memory_reservation.is_some()
        || a.memory_swap.is_some()
        || a.pids_limit.is_some()
        || a.restart.is_some();
    if !any {
        return Err(Fail::msg(
            "you must provide one or more flags when using this command",
        ));
    }
    let body = update_body(&a)?;
    let (mut names, mut warns, mut errs) = (Vec::new(), Vec::new(), Vec::new());
    for n in &a.containers {
        match c
            .post_json::<models::ContainerUpdateResponse>(
                &format!("/containers/{}/update", qs(n)),
                &body,
            )
            .await
        {
            Ok(r) => {
                warns.extend(r.warnings.unwrap_or_default());
                names.push(n.clone());
            }
            Err(e) => errs.push(e.to_string()),
        }
    }
    if !warns.is_empty() {
        out(&format!("{}\n", warns.join("\n")));
    }
    if !names.is_empty() {
        out(&format!("{}\n", names.join("\n")));
    }
    if !errs.is_empty() {
        return Err(Fail::msg(errs.join("\n")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_docker() {
        // The figures of a dockerd v1 sample (m1 of a probe: 20.34MiB / 64MiB).
        let s: ContainerStats = serde_json::from_str(
            r#"{"read":"2026-12-02T00:25:50.139791417Z","pids_stats":{"current":1},
            "blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"Read","value":4096},{"major":8,"minor":0,"op":"Total","value":4096}]},
            "cpu_stats":{"cpu_usage":{"total_usage":300,"usage_in_kernelmode":0,"usage_in_usermode":0},"system_cpu_usage":2000,"online_cpus":2},
            "precpu_stats":{"cpu_usage":{"total_usage":100},"system_cpu_usage":1000},
            "memory_stats":{"usage":21381120,"stats":{"total_inactive_file":53248},"limit":67108864},
            "name":"/m1","id":"fb5660694a48ddb764f44674af09968d3673f35b416cd057f207dd7c20edb833",
            "networks":{"eth0":{"rx_bytes":1296,"tx_bytes":656}}}"#,
        )
        .unwrap();
        let e = entry("m1", &s);
        let r = row(&e, false);
        assert_eq!(r["CPUPerc"], "40.00%");
        assert_eq!(r["MemUsage"], "20.34MiB / 64MiB");
        assert_eq!(r["MemPerc"], "31.78%");
        assert_eq!(r["BlockIO"], "4.1kB / 0B");
        assert_eq!(r["NetIO"], "1.3kB / 656B");
        assert_eq!(r["ID"], "fb5660694a48");
        assert_eq!(r["Name"], "m1");
        assert_eq!(r["PIDs"], "1");
    }
}
