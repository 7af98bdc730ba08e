//! `berth stats` / `berth update` against the docker CLI on the same
//! daemon (berthd, and Debian's dockerd for reference), and the stats JSON
//! of berthd against dockerd's for the same container.

mod common;

use common::Daemon;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Per daemon kind: the CLI comparisons.
macro_rules! both {
    ($($name:ident),*) => {
        mod berthd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )* }
        mod dockerd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )* }
    };
}
both!(stats_columns_as_docker, update_as_docker);

fn ok(d: &Daemon, args: &[&str]) -> String {
    let r = d.docker(args);
    assert_eq!(r.code, 0, "docker {args:?}: {r:?}\n{}", d.log());
    r.out.trim().to_string()
}

/// `GET path` on the daemon's socket; the body of a 200 answer.
fn http_get(d: &Daemon, path: &str) -> String {
    let sock = d.host.trim_start_matches("unix://");
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("http answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    // dockerd may flush stream=false stats as a chunked body
    let mut rest = body;
    let mut text = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        text.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    text
}

fn cpu_perc(s: &str) -> bool {
    s.strip_suffix('%')
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.len() == 2
        })
}

fn stats_columns_as_docker(d: &Daemon) {
    let a = ok(
        d,
        &[
            "run",
            "-d",
            "--name",
            "sa",
            "-m",
            "32m",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    );
    ok(
        d,
        &[
            "run",
            "-d",
            "--name",
            "sb",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    );
    ok(
        d,
        &[
            "create",
            "--name",
            "sc",
            "--network",
            "none",
            "busybox",
            "true",
        ],
    );
    // Stable columns, exactly as docker prints them.
    d.same(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Container}}|{{.ID}}|{{.Name}}|{{.PIDs}}|{{.NetIO}}",
        "sa",
        "sb",
        "sc",
    ]);
    d.same(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Container}} {{.ID}}",
        &a,
    ]);
    d.same(&[
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        "{{.ID}}",
        "sa",
    ]);
    d.same(&[
        "stats",
        "--no-stream",
        "--all",
        "--format",
        "table {{.ID}}\t{{.Name}}\t{{.PIDs}}",
    ]);
    d.same(&[
        "stats",
        "--no-stream",
        "--format",
        "table {{.Name}}\t{{.PIDs}}",
    ]);
    d.same(&["stats", "--no-stream", "nosuch"]);
    d.same(&["stats", "--no-stream", "--format", "{{.Nope}}", "sa"]);

    // The default table: the same header, rows and fixed columns; CPU %
    // and memory usage move between the two runs, their shape does not.
    let b = d.berth(&["stats", "--no-stream", "--all"]);
    let k = d.docker(&["stats", "--no-stream", "--all"]);
    assert_eq!((b.code, k.code), (0, 0), "{b:?} {k:?}");
    let bl: Vec<&str> = b.out.lines().collect();
    let kl: Vec<&str> = k.out.lines().collect();
    assert_eq!(bl[0], kl[0], "header");
    assert!(
        bl[0].starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
        "{}",
        b.out
    );
    assert_eq!(bl.len(), kl.len(), "berth:\n{}\ndocker:\n{}", b.out, k.out);
    for (x, y) in bl[1..].iter().zip(&kl[1..]) {
        let xs: Vec<&str> = x.split_whitespace().collect();
        let ys: Vec<&str> = y.split_whitespace().collect();
        // ID NAME CPU% USED / LIMIT MEM% RX / TX READ / WRITE PIDS
        assert_eq!(xs.len(), 14, "{x}");
        assert_eq!(xs.len(), ys.len(), "{x} | {y}");
        assert_eq!(xs[..2], ys[..2], "{x} | {y}");
        assert!(cpu_perc(xs[2]) && cpu_perc(xs[6]), "{x}");
        assert_eq!(xs[5], ys[5], "memory limit: {x} | {y}");
        assert_eq!(xs[7..], ys[7..], "{x} | {y}");
    }
    let sa = bl.iter().find(|l| l.contains(" sa ")).expect("sa row");
    assert!(sa.contains(" / 32MiB "), "{sa}");

    // json: the same fields.
    let keys = |out: &str| -> BTreeSet<String> {
        let v: Value = serde_json::from_str(out.lines().next().expect("a line")).expect("json");
        v.as_object().expect("object").keys().cloned().collect()
    };
    let bj = d.berth(&["stats", "--no-stream", "--format", "json", "sa"]);
    let kj = d.docker(&["stats", "--no-stream", "--format", "json", "sa"]);
    assert_eq!(keys(&bj.out), keys(&kj.out), "{bj:?} {kj:?}");
}

fn update_as_docker(d: &Daemon) {
    ok(
        d,
        &[
            "run",
            "-d",
            "--name",
            "ua",
            "-m",
            "32m",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    );
    ok(
        d,
        &[
            "run",
            "-d",
            "--name",
            "ub",
            "-m",
            "32m",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    );
    ok(
        d,
        &[
            "run",
            "-d",
            "--name",
            "uc",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    );
    d.expect(
        &[
            "update",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "ua",
        ],
        "ua\n",
        0,
    );
    let r = d.docker(&[
        "update",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "20",
        "ub",
    ]);
    assert_eq!((r.out.as_str(), r.code), ("ub\n", 0), "{r:?}");
    let hc = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}";
    assert_eq!(
        ok(d, &["inspect", "-f", hc, "ua"]),
        ok(d, &["inspect", "-f", hc, "ub"])
    );
    assert_eq!(
        ok(d, &["inspect", "-f", hc, "ua"]),
        "67108864 67108864 500000000 20"
    );
    // Refused updates: the same words and status through both CLIs.
    d.same(&["update", "--memory", "4m", "ua"]);
    d.same(&["update", "--memory", "64m", "uc"]);
    d.same(&["update", "--cpu-quota", "20000", "ua"]);
    d.same(&["update", "--cpus", "0.5", "--cpu-quota", "20000", "ua"]);
    d.same(&["update", "--memory", "64m", "--memory-swap", "32m", "ua"]);
    d.same(&["update", "ua"]);
    d.same(&["update", "--pids-limit", "20", "nosuch"]);
    d.same(&["update", "--memory", "lots", "ua"]);
    d.same(&["update", "--restart", "sometimes", "ua"]);
}

/// berthd's `GET /containers/{id}/stats` has dockerd's fields, level by
/// level, for the same container on this host.
#[test]
fn stats_json_fields_match_dockerd() {
    let daemons = [Daemon::start_kind("berthd"), Daemon::start_kind("dockerd")];
    let mut got = Vec::new();
    for d in &daemons {
        let id = ok(
            d,
            &[
                "run",
                "-d",
                "-m",
                "32m",
                "--network",
                "none",
                "busybox",
                "sleep",
                "300",
            ],
        );
        let body = http_get(d, &format!("/containers/{id}/stats?stream=false"));
        got.push(serde_json::from_str::<Value>(&body).expect("stats json"));
    }
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (b, k) = (&got[0], &got[1]);
    for path in [
        "",
        "/cpu_stats",
        "/cpu_stats/cpu_usage",
        "/cpu_stats/throttling_data",
        "/precpu_stats",
        "/blkio_stats",
        "/pids_stats",
        "/storage_stats",
    ] {
        assert_eq!(
            keys(b.pointer(path).expect("berthd")),
            keys(k.pointer(path).expect("dockerd")),
            "{path}: berthd {b}\ndockerd {k}"
        );
    }
    // memory_stats: the same fields; its `stats` map holds at least
    // dockerd's keys (the kernel's memory.stat may have more).
    let bm = &b["memory_stats"];
    let km = &k["memory_stats"];
    assert_eq!(keys(bm), keys(km), "berthd {bm}\ndockerd {km}");
    assert!(
        keys(&km["stats"]).is_subset(&keys(&bm["stats"])),
        "berthd {bm}\ndockerd {km}"
    );
    assert_eq!(bm["limit"], km["limit"]);
    assert_eq!(b["pids_stats"], k["pids_stats"]);
    for v in [b, k] {
        assert_ne!(v["preread"], "0001-01-01T00:00:00Z", "{v}");
    }
}

/// A container on a bridge: `networks` per interface with dockerd's eight
/// counters, traffic counted, and NET I/O the same through both CLIs.
#[test]
fn stats_networks_on_a_bridge() {
    let d = Daemon::start_kind_net("berthd", true);
    let id = ok(
        &d,
        &["run", "-d", "--name", "na", "busybox", "sleep", "300"],
    );
    let gw = ok(
        &d,
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}",
            "na",
        ],
    );
    let p = d.docker(&["exec", "na", "ping", "-c", "2", "-W", "2", &gw]);
    assert_eq!(p.code, 0, "ping {gw}: {p:?}");
    let body = http_get(
        &d,
        &format!("/containers/{id}/stats?stream=false&one-shot=true"),
    );
    let v: Value = serde_json::from_str(&body).expect("json");
    let nets = v["networks"].as_object().expect("networks");
    assert_eq!(nets.keys().collect::<Vec<_>>(), ["eth0"], "{v}");
    let eth0 = &nets["eth0"];
    let k: BTreeSet<&str> = eth0
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        k,
        BTreeSet::from([
            "rx_bytes",
            "rx_dropped",
            "rx_errors",
            "rx_packets",
            "tx_bytes",
            "tx_dropped",
            "tx_errors",
            "tx_packets"
        ])
    );
    assert!(eth0["rx_packets"].as_u64().unwrap() >= 2, "{eth0}");
    assert!(eth0["tx_packets"].as_u64().unwrap() >= 2, "{eth0}");
    assert!(eth0["tx_bytes"].as_u64().unwrap() >= 2 * 84, "{eth0}");
    d.same(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.NetIO}}",
        "na",
    ]);
    let b = d.berth(&["stats", "--no-stream", "--format", "{{.NetIO}}", "na"]);
    assert!(!b.out.starts_with("0B / 0B"), "{b:?}");
    ok(&d, &["rm", "-f", "na"]);
}
