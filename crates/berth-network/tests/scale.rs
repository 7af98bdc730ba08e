//! 100 sandboxes connected in parallel, then a daemon restart and a crash
//! clean-up: no address handed out twice, nothing leaked.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_network::*;
use common::*;

#[test]
fn hundred_parallel_endpoints_get_distinct_addresses_and_survive_restart() {
    berth_testutil::require_root();
    let tag = "bq5";
    let dir = berth_testutil::tempdir();
    let c = Arc::new(Ctl::new(
        NetworkController::open(dir.path(), cfg(tag, 5)).unwrap(),
    ));
    let sbs: Vec<Arc<Sandbox>> = (0..100)
        .map(|i| Arc::new(Sandbox::new(&format!("bq5s{i}"))))
        .collect();

    let t0 = Instant::now();
    let handles: Vec<_> = sbs
        .iter()
        .enumerate()
        .map(|(i, sb)| {
            let (c, sb) = (c.clone(), sb.clone());
            std::thread::spawn(move || {
                c.connect(
                    "bridge",
                    &format!("{i:064x}"),
                    &sb.path(),
                    &ConnectOptions::default(),
                )
                .unwrap()
            })
        })
        .collect();
    let eps: Vec<Endpoint> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let took = t0.elapsed();
    eprintln!("100 parallel connects: {took:?}");
    let ips: BTreeSet<String> = eps.iter().map(|e| e.ip_address.clone()).collect();
    assert_eq!(ips.len(), 100, "100 distinct addresses");
    assert_eq!(c.leases("bridge").unwrap().len(), 100);
    assert_eq!(berth_testutil::links_containing("bq5v").len(), 100);
    // Every sandbox really has its address.
    for (sb, ep) in sbs.iter().zip(&eps).step_by(17) {
        assert!(sh(&format!("ip -n {} -br addr show eth0", sb.name)).contains(&ep.ip_address));
    }

    // Daemon restart: the leases are still there and not handed out again.
    let c = Arc::try_unwrap(c).ok().expect("sole owner");
    std::mem::forget(c); // a crash: no teardown, no drop
    let c = Ctl::new(NetworkController::open(dir.path(), cfg(tag, 5)).unwrap());
    assert_eq!(c.leases("bridge").unwrap().len(), 100);
    let extra = Sandbox::new("bq5extra");
    let ex = c
        .connect(
            "bridge",
            &"f".repeat(64),
            &extra.path(),
            &ConnectOptions::default(),
        )
        .unwrap();
    assert!(
        !ips.contains(&ex.ip_address),
        "restart must not reuse {}",
        ex.ip_address
    );

    // Half the containers die while the daemon is down; a stray veth too.
    sh("ip link add bq5v0123456789a type veth peer name bq5stray");
    let dead: Vec<Arc<Sandbox>> = sbs.iter().step_by(2).cloned().collect();
    let dead_veths: Vec<String> = eps.iter().step_by(2).map(|e| e.host_veth.clone()).collect();
    drop(sbs);
    drop(dead);
    wait_until(
        "the kernel to delete dead sandboxes' veths",
        Duration::from_secs(20),
        || {
            dead_veths
                .iter()
                .all(|v| berth_testutil::links_containing(v).is_empty())
        },
    );
    let rep = c.cleanup_stale().unwrap();
    assert_eq!(
        rep.endpoints.len(),
        100,
        "all 100 sandboxes are gone by now: {}",
        rep.endpoints.len()
    );
    assert_eq!(rep.links, vec!["bq5v0123456789a".to_string()]);
    assert_eq!(
        c.leases("bridge").unwrap().len(),
        1,
        "only the live one keeps its lease"
    );

    c.release_container(&"f".repeat(64)).unwrap();
    assert!(c.leases("bridge").unwrap().is_empty());
    c.teardown().unwrap();
    drop(extra);
    assert_no_leaks(tag, "berth-bq5", 5);
}
