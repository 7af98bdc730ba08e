//! Garbage collection while serving: gc runs in a loop (in-process, the
//! same code as `berth-registry gc`) while skopeo pushes images; every
//! push succeeds and stays complete, and only the aged orphan goes.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_registry::{gc_collect, AuthConfig, GcOptions};
use common::*;

fn age(path: &std::path::Path, by: Duration) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_loop_during_pushes_keeps_every_image() {
    let dir = tempdir();
    let root = dir.path().join("root");
    let srv = start(&root, AuthConfig::None, None).await;
    let host = srv.local_addr().to_string();
    let base = srv.url();
    let c = client();

    // An orphan blob, aged past the grace period.
    let orphan = b"orphaned bytes".to_vec();
    let od = sha256(&orphan);
    let r = c
        .post(format!("{base}/v2/gc/orphan/blobs/uploads/?digest={od}"))
        .body(orphan)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let hex = od.strip_prefix("sha256:").unwrap();
    age(
        &root.join("blobs/sha256").join(hex),
        Duration::from_secs(7200),
    );
    age(
        &root.join("repositories/gc/orphan/_layers/sha256").join(hex),
        Duration::from_secs(7200),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let gc_root = root.clone();
    let gc_stop = stop.clone();
    let gc = tokio::task::spawn_blocking(move || {
        let opts = GcOptions {
            grace: Duration::from_secs(600),
            ..GcOptions::default()
        };
        let mut deleted = Vec::new();
        let mut runs = 0;
        while !gc_stop.load(Ordering::SeqCst) || runs == 0 {
            let r = gc_collect(&gc_root, &opts).expect("gc");
            deleted.extend(r.deleted);
            runs += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        (runs, deleted)
    });

    let src = berth_testutil::fixture("busybox-oci");
    let mut pushes = Vec::new();
    for i in 0..4 {
        let mut cmd = Command::new("skopeo");
        cmd.args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", src.display()))
            .arg(format!("docker://{host}/gc/img{i}:latest"));
        pushes.push(tokio::spawn(run_ok(cmd, Duration::from_secs(300))));
    }
    for p in pushes {
        p.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let (runs, deleted) = gc.await.unwrap();
    assert!(runs >= 1);
    assert_eq!(
        deleted.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        vec![od.clone()]
    );

    for i in 0..4 {
        let out = dir.path().join(format!("pulled{i}"));
        let mut cmd = Command::new("skopeo");
        cmd.args(["--insecure-policy", "copy", "--src-tls-verify=false"])
            .arg(format!("docker://{host}/gc/img{i}:latest"))
            .arg(format!("oci:{}:latest", out.display()));
        run_ok(cmd, Duration::from_secs(300)).await;
    }
    let r = c
        .head(format!("{base}/v2/gc/orphan/blobs/{od}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    srv.shutdown().await;
}
