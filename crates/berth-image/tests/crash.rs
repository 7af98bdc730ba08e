//! Crash safety: `kill -9` of a `berth-image load` / `import` at random
//! moments, many times; after each, opening the store must find it
//! consistent (no half image listed, no leftovers).

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_image::ImageService;
use berth_testutil::fixture;
use berth_types::Digest;

fn check_consistent(root: &Path) -> usize {
    let svc = ImageService::open(root).expect("store opens after a crash");
    let store = svc.store();
    assert_eq!(
        fs::read_dir(root.join("ingest")).unwrap().count(),
        0,
        "ingest leftovers removed"
    );
    for d in ["layers", "snapshots"] {
        for e in fs::read_dir(root.join(d)).unwrap().flatten() {
            assert!(
                !e.file_name().to_string_lossy().starts_with(".tmp-"),
                "{d} leftovers removed"
            );
        }
    }
    let recorded: HashSet<String> = store
        .db
        .layers()
        .unwrap()
        .iter()
        .map(|l| l.chain_id.hex().to_string())
        .collect();
    for e in fs::read_dir(root.join("layers")).unwrap().flatten() {
        assert!(
            recorded.contains(&*e.file_name().to_string_lossy()),
            "unrecorded layer tree left"
        );
    }
    let images = store.db.images().unwrap();
    for img in &images {
        // every image listed is whole: config, manifest, layer blobs verified, trees present
        let ins = svc
            .inspect(&img.id.to_string())
            .expect("listed image inspects");
        assert_eq!(ins.root_fs.layers.len(), img.layers.len());
        for b in &img.blobs {
            let data = store
                .content
                .read(b)
                .unwrap_or_else(|e| panic!("blob {b} of {}: {e}", img.id));
            assert_eq!(&Digest::sha256_of(&data), b, "blob content verifies");
        }
        for c in &img.layers {
            assert!(
                store.has_layer(c).unwrap(),
                "layer {c} of {} present",
                img.id
            );
        }
    }
    // nothing unreferenced stays behind either
    let live: HashSet<Digest> = store.db.referenced_blobs().unwrap().into_iter().collect();
    for b in store.content.list().unwrap() {
        assert!(live.contains(&b), "unreferenced blob {b} left");
    }
    svc.list(&Default::default()).unwrap().len()
}

#[test]
fn kill_9_at_random_moments_of_load_and_import_leaves_the_store_consistent() {
    berth_testutil::require_root();
    let bin = env!("CARGO_BIN_EXE_berth-image");
    let tmp = berth_testutil::tempdir();
    let root = tmp.path().join("root");
    let jobs: Vec<(Vec<String>, u64)> = vec![
        (
            vec![
                "load".into(),
                "-q".into(),
                "-i".into(),
                fixture("busybox-docker.tar").display().to_string(),
            ],
            400,
        ),
        (
            vec![
                "load".into(),
                "-q".into(),
                "-i".into(),
                fixture("busybox-oci.tar").display().to_string(),
            ],
            400,
        ),
        (
            vec![
                "import".into(),
                fixture("busybox-rootfs.tar").display().to_string(),
                "imp:1".into(),
            ],
            400,
        ),
        (
            vec![
                "load".into(),
                "-q".into(),
                "-i".into(),
                fixture("debian-docker.tar").display().to_string(),
            ],
            2500,
        ),
    ];
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut killed = 0;
    let mut finished = 0;
    // Each job's kill window starts at its guess and shrinks to 4/5 of the
    // job's last uninterrupted run, so the kills land mid-way on a quiet
    // machine (where a repeated busybox load takes ~40 ms) as on a busy one.
    let mut windows: Vec<u64> = jobs.iter().map(|j| j.1).collect();
    for i in 0..32 {
        let j = if i % 8 == 7 { 3 } else { i % 3 };
        let args = &jobs[j].0;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % windows[j].max(2));
        let mut child = Command::new(bin)
            .arg("--data-root")
            .arg(&root)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth-image");
        let start = Instant::now();
        let mut exited = false;
        while start.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !exited {
            child.kill().expect("kill -9");
            killed += 1;
        } else {
            finished += 1;
            windows[j] = (start.elapsed().as_millis() as u64 * 4 / 5).max(2);
        }
        child.wait().expect("reap");
        check_consistent(&root);
    }
    assert!(
        killed >= 16,
        "most runs were killed mid-way ({killed} killed, {finished} finished)"
    );
    // and the store still works: a full load after all that
    let st = Command::new(bin)
        .arg("--data-root")
        .arg(&root)
        .args(["load", "-q", "-i"])
        .arg(fixture("busybox-docker.tar"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(check_consistent(&root) >= 1);
}
