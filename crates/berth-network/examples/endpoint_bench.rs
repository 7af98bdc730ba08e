//! Times what networking adds to a container start and stop: `connect` of a
//! sandbox to the default bridge (veth in the sandbox, address, route,
//! lease persisted) and `disconnect` (lease released, veth deleted), plus
//! `publish`/`unpublish` of one port. Sandboxes are made with
//! `ip netns add` before the clock starts, as the runtime makes the
//! container's namespace anyway. Run as root: `bench/network.sh`.
//!
//! Usage: endpoint_bench [ITERATIONS] (default 200). Prints one line per
//! measure: median, p90, max in microseconds.

use std::process::Command;
use std::time::{Duration, Instant};

use berth_network::{ConnectOptions, ControllerConfig, NetworkController, PortSpec};

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<22} n={:<4} median {:>8.0} us   p90 {:>8.0} us   max {:>8.0} us",
        v.len(),
        us(v[v.len() / 2]),
        us(v[v.len() * 9 / 10]),
        us(v[v.len() - 1])
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("berth-netbench-{}", std::process::id()));
    let cfg = ControllerConfig {
        bridge_name: "bnbench0".into(),
        default_subnet: "10.199.0.0/22".parse().unwrap(),
        nft_table: "berth-bench".into(),
        veth_prefix: "bnb".into(),
        dns_upstreams: Some(vec![]),
        ..ControllerConfig::default()
    };
    let t = Instant::now();
    let c = NetworkController::open(&dir, cfg).expect("open controller");
    println!(
        "open (bridge + nft tables)   {:>8.0} us",
        t.elapsed().as_secs_f64() * 1e6
    );
    let (mut conn, mut disc, mut publ, mut unpubl) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let ns = format!("bnbench{i}");
        let st = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .expect("ip netns add");
        assert!(st.success());
        let path = std::path::PathBuf::from(format!("/run/netns/{ns}"));
        let cid = format!("{i:064x}");
        let t = Instant::now();
        c.connect("bridge", &cid, &path, &ConnectOptions::default())
            .expect("connect");
        conn.push(t.elapsed());
        if i % 4 == 0 {
            let t = Instant::now();
            c.publish("bridge", &cid, &[PortSpec::parse("80").unwrap()])
                .expect("publish");
            publ.push(t.elapsed());
            let t = Instant::now();
            c.unpublish("bridge", &cid).expect("unpublish");
            unpubl.push(t.elapsed());
        }
        let t = Instant::now();
        c.disconnect("bridge", &cid).expect("disconnect");
        disc.push(t.elapsed());
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    }
    // 100 containers starting at once: wall time of 100 parallel connects.
    let names: Vec<String> = (0..100).map(|i| format!("bnbenchp{i}")).collect();
    for ns in &names {
        let st = Command::new("ip")
            .args(["netns", "add", ns])
            .status()
            .expect("ip netns add");
        assert!(st.success());
    }
    let c = std::sync::Arc::new(c);
    let t = Instant::now();
    let hs: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let (c, path) = (
                c.clone(),
                std::path::PathBuf::from(format!("/run/netns/{ns}")),
            );
            std::thread::spawn(move || {
                c.connect(
                    "bridge",
                    &format!("p{i:063x}"),
                    &path,
                    &ConnectOptions::default(),
                )
                .expect("parallel connect")
            })
        })
        .collect();
    let ips: std::collections::BTreeSet<String> = hs
        .into_iter()
        .map(|h| h.join().expect("join").ip_address)
        .collect();
    let par = t.elapsed();
    assert_eq!(ips.len(), 100, "distinct addresses");
    for i in 0..100 {
        c.disconnect("bridge", &format!("p{i:063x}"))
            .expect("disconnect");
    }
    for ns in &names {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
    }
    let c = std::sync::Arc::try_unwrap(c).ok().expect("sole owner");
    println!(
        "100 parallel connects  wall {:>8.0} us ({:.0} us each), 100 distinct addresses",
        par.as_secs_f64() * 1e6,
        par.as_secs_f64() * 1e4
    );
    stats("connect", conn);
    stats("disconnect", disc);
    stats("publish (1 port)", publ);
    stats("unpublish", unpubl);
    c.teardown().expect("teardown");
    let _ = std::fs::remove_dir_all(&dir);
}
