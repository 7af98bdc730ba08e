//! Layer apply on real tars (hostile ones included), real overlay mounts of
//! snapshots, and the content store's verification.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use berth_store::{chain_ids, Store, StoreError};
use berth_types::Digest;
use common::{mount_overlay, tar_of, umount, Mounted, E};

fn open_store(dir: &Path) -> Store {
    Store::open(&dir.join("root")).expect("open store")
}

fn unpack(store: &Store, data: &[u8], parent: Option<&Digest>) -> berth_store::LayerRecord {
    store
        .unpack_layer(&mut &data[..], parent, None)
        .expect("unpack layer")
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(p, name, &mut buf[..]) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn assert_no_leaks(tmp: &Path) {
    let s = tmp.to_string_lossy();
    assert!(
        berth_testutil::mounts_containing(&s).is_empty(),
        "mounts leaked under {s}"
    );
}

#[test]
fn whiteouts_across_three_layers_hide_lower_files_in_a_real_overlay() {
    berth_testutil::require_root();
    let tmp = berth_testutil::tempdir();
    let store = open_store(tmp.path());
    let l1 = tar_of(&[
        E::Dir("a/", 0o755),
        E::File("a/f1", b"one", 0o644),
        E::File("a/f2", b"two", 0o644),
        E::Dir("b/", 0o755),
        E::File("b/x", b"x", 0o644),
        E::Dir("c/", 0o755),
        E::File("c/keep", b"k", 0o644),
    ]);
    let l2 = tar_of(&[
        E::Dir("a/", 0o755),
        E::File("a/.wh.f1", b"", 0o644),
        E::Dir("b/", 0o755),
        E::File("b/.wh..wh..opq", b"", 0o644),
        E::File("b/new", b"new", 0o644),
    ]);
    let l3 = tar_of(&[
        E::Dir("a/", 0o755),
        E::File("a/f3", b"three", 0o644),
        E::File(".wh.c", b"", 0o644),
    ]);
    let r1 = unpack(&store, &l1, None);
    let r2 = unpack(&store, &l2, Some(&r1.chain_id));
    let r3 = unpack(&store, &l3, Some(&r2.chain_id));
    assert_eq!(
        vec![
            r1.chain_id.clone(),
            r2.chain_id.clone(),
            r3.chain_id.clone()
        ],
        chain_ids(&[r1.diff_id.clone(), r2.diff_id.clone(), r3.diff_id.clone()])
    );
    assert_eq!(r1.diff_id, Digest::sha256_of(&l1));

    // overlayfs's own format in the layer trees
    let d2 = store.layer_dir(&r2.chain_id);
    let wh = fs::symlink_metadata(d2.join("a/f1")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout is a 0/0 char device"
    );
    assert_eq!(
        xattr(&d2.join("b"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!d2.join("b/.wh..wh..opq").exists());

    let m = store
        .prepare_snapshot(
            "wh-test",
            None,
            &[
                r1.chain_id.clone(),
                r2.chain_id.clone(),
                r3.chain_id.clone(),
            ],
        )
        .unwrap();
    assert_eq!(
        m.lowerdirs[0],
        store.layer_dir(&r3.chain_id),
        "topmost first"
    );
    let target = tmp.path().join("merged");
    let (cwd, data) = m.mount_data();
    mount_overlay(&target, cwd.as_deref(), &data);
    let guard = Mounted(target.clone());
    assert!(!target.join("a/f1").exists(), "whited out in layer 2");
    assert_eq!(fs::read(target.join("a/f2")).unwrap(), b"two");
    assert_eq!(fs::read(target.join("a/f3")).unwrap(), b"three");
    assert!(
        !target.join("b/x").exists(),
        "hidden by the opaque directory"
    );
    assert_eq!(fs::read(target.join("b/new")).unwrap(), b"new");
    assert!(
        !target.join("c").exists(),
        "directory whited out in layer 3"
    );
    fs::write(target.join("written"), b"rw").unwrap();
    umount(&target);
    std::mem::forget(guard);
    assert_eq!(fs::read(m.upperdir.join("written")).unwrap(), b"rw");
    store.remove_snapshot("wh-test").unwrap();
    assert!(!m.base.exists());
    assert_no_leaks(tmp.path());
}

#[test]
fn preserves_links_devices_modes_owners_mtimes_and_xattrs() {
    berth_testutil::require_root();
    let tmp = berth_testutil::tempdir();
    let store = open_store(tmp.path());
    // vfs_cap_data revision 2, effective, permitted = CAP_NET_BIND_SERVICE.
    let mut cap = Vec::new();
    for w in [0x0200_0001u32, 1 << 10, 0, 0, 0] {
        cap.extend_from_slice(&w.to_le_bytes());
    }
    let layer = tar_of(&[
        E::Dir("bin/", 0o755),
        E::FileX(
            "bin/ping",
            b"ELF",
            0o755,
            0,
            0,
            &[("security.capability", &cap), ("user.berth", b"v")],
        ),
        E::FileX("bin/su", b"su", 0o4755, 0, 0, &[]),
        E::FileX("home", b"h", 0o640, 1000, 1001, &[]),
        E::Hard("bin/ping-again", "bin/ping"),
        E::Sym("bin/sh", "/bin/busybox"),
        E::Dir("dev/", 0o755),
        E::Char("dev/null", 1, 3),
        E::Fifo("dev/fifo"),
        E::Dir("tmp/", 0o1777),
    ]);
    let rec = unpack(&store, &layer, None);
    let d = store.layer_dir(&rec.chain_id);
    let ping = fs::symlink_metadata(d.join("bin/ping")).unwrap();
    let again = fs::symlink_metadata(d.join("bin/ping-again")).unwrap();
    assert_eq!(ping.ino(), again.ino(), "hard link within the layer");
    assert_eq!(ping.nlink(), 2);
    assert_eq!(
        xattr(&d.join("bin/ping"), "security.capability").unwrap(),
        cap
    );
    assert_eq!(xattr(&d.join("bin/ping"), "user.berth").unwrap(), b"v");
    assert_eq!(
        fs::symlink_metadata(d.join("bin/su")).unwrap().mode() & 0o7777,
        0o4755
    );
    let home = fs::symlink_metadata(d.join("home")).unwrap();
    assert_eq!(
        (home.uid(), home.gid(), home.mode() & 0o7777),
        (1000, 1001, 0o640)
    );
    assert_eq!(home.mtime(), 1_000_000_000);
    assert_eq!(
        fs::read_link(d.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    let null = fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert!(fs::symlink_metadata(d.join("dev/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let t = fs::symlink_metadata(d.join("tmp")).unwrap();
    assert_eq!(t.permissions().mode() & 0o7777, 0o1777);
    assert_eq!(
        t.mtime(),
        1_000_000_000,
        "directory mtimes set after their children"
    );
    assert_eq!(rec.size, 3 + 2 + 1);
}

#[test]
fn hostile_entries_never_write_outside_the_layer() {
    berth_testutil::require_root();
    let tmp = berth_testutil::tempdir();
    let store = open_store(tmp.path());
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let tag = berth_types::new_id();
    let host_target = format!("/tmp/berth-escape-{tag}");

    // `../` climbing out: refused, and nothing written outside.
    let name = format!("../../../../../..{}", outside.join("pwned").display());
    let err = store
        .unpack_layer(
            &mut &tar_of(&[E::Raw(name.as_bytes(), b"x")])[..],
            None,
            None,
        )
        .unwrap_err();
    assert!(
        matches!(err, StoreError::BadLayer(ref m) if m.contains("escapes the layer root")),
        "{err}"
    );
    assert!(!outside.join("pwned").exists());

    // Paths through symlinks that point outside resolve inside the tree.
    let layer = tar_of(&[
        E::Dir("tmp/", 0o1777),
        E::Sym("abs", "/tmp"),
        E::File(&format!("abs/berth-escape-{tag}"), b"in", 0o644),
        E::Sym("rel", "../../../../../../../tmp"),
        E::File(&format!("rel/berth-escape-{tag}-2"), b"in2", 0o644),
        // duplicate: a directory replaced by a symlink to the host, then written through
        E::Dir("d/", 0o755),
        E::Sym("d", "/tmp"),
        E::File(&format!("d/berth-escape-{tag}-3"), b"in3", 0o644),
        // duplicate regular entries: the last wins
        E::File("dup", b"first", 0o644),
        E::File("dup", b"second", 0o644),
    ]);
    let rec = unpack(&store, &layer, None);
    let d = store.layer_dir(&rec.chain_id);
    for suffix in ["", "-2", "-3"] {
        assert!(
            !Path::new(&format!("{host_target}{suffix}")).exists(),
            "escaped to the host /tmp"
        );
        assert!(
            d.join(format!("tmp/berth-escape-{tag}{suffix}")).is_file(),
            "written inside the layer"
        );
    }
    assert_eq!(fs::read(d.join("dup")).unwrap(), b"second");

    // Hard links to targets outside the layer.
    for (link, what) in [
        ("../../etc/passwd", "points outside"),
        ("/etc/passwd", "not in the layer"),
    ] {
        let err = store
            .unpack_layer(&mut &tar_of(&[E::Hard("h", link)])[..], None, None)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::BadLayer(ref m) if m.contains(what)),
            "{link}: {err}"
        );
    }
    // through a symlink to the host's /etc: resolved in the tree (where
    // `/etc` is the link itself: a loop), or to a tree dir without the file
    let err = store
        .unpack_layer(
            &mut &tar_of(&[E::Sym("etc", "/etc"), E::Hard("h", "etc/passwd")])[..],
            None,
            None,
        )
        .unwrap_err();
    assert!(
        matches!(err, StoreError::BadLayer(ref m) if m.contains("symlink loop")),
        "{err}"
    );
    let err = store
        .unpack_layer(
            &mut &tar_of(&[
                E::Dir("usr/", 0o755),
                E::Sym("etc", "/usr"),
                E::Hard("h", "etc/passwd"),
            ])[..],
            None,
            None,
        )
        .unwrap_err();
    assert!(
        matches!(err, StoreError::BadLayer(ref m) if m.contains("not in the layer")),
        "{err}"
    );

    // Failed applies leave no layer behind.
    let layers: Vec<_> = fs::read_dir(tmp.path().join("root/layers"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(layers.len(), 1, "only the good layer: {layers:?}");
    assert_eq!(store.db.layers().unwrap().len(), 1);
}

#[test]
fn empty_compressed_and_non_tar_layers() {
    let tmp = berth_testutil::tempdir();
    let store = open_store(tmp.path());
    let empty = unpack(&store, b"", None);
    assert_eq!(empty.diff_id, Digest::sha256_of(b""));
    assert_eq!(
        fs::read_dir(store.layer_dir(&empty.chain_id))
            .unwrap()
            .count(),
        0
    );

    let plain = tar_of(&[E::File("hello", b"world", 0o644)]);
    let want = Digest::sha256_of(&plain);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    for data in [&plain, &gz, &zst] {
        let tmp2 = berth_testutil::tempdir();
        let s2 = open_store(tmp2.path());
        let r = unpack(&s2, data, None);
        assert_eq!(r.diff_id, want, "diff ID is of the uncompressed tar");
        assert_eq!(
            fs::read(s2.layer_dir(&r.chain_id).join("hello")).unwrap(),
            b"world"
        );
    }

    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    let err = store
        .unpack_layer(&mut &garbage[..], None, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::BadLayer(_)), "{err}");
    let err = store
        .unpack_layer(&mut &b"not a tar"[..], None, None)
        .unwrap_err();
    assert!(err.to_string().contains("not a tar"), "{err}");
    // a diff ID that does not match is refused
    let wrong = Digest::sha256_of(b"other");
    let err = store
        .unpack_layer(&mut &plain[..], None, Some(&wrong))
        .unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert_eq!(store.db.layers().unwrap().len(), 1, "only the empty layer");
}

#[test]
fn snapshot_of_200_layers_mounts_with_short_relative_lowerdirs() {
    berth_testutil::require_root();
    let tmp = berth_testutil::tempdir();
    let store = open_store(tmp.path());
    let mut chain: Vec<Digest> = Vec::new();
    for i in 0..200 {
        let name = format!("f{i}");
        let top = i.to_string();
        let layer = tar_of(&[
            E::File(&name, b"x", 0o644),
            E::File("top", top.as_bytes(), 0o644),
        ]);
        let rec = unpack(&store, &layer, chain.last());
        chain.push(rec.chain_id);
    }
    let m = store.prepare_snapshot("many", None, &chain).unwrap();
    assert_eq!(m.lowerdirs.len(), 200);
    assert!(m.options().len() > 4096, "the absolute form would not fit");
    let (cwd, data) = m.mount_data();
    assert_eq!(cwd.as_deref(), Some(m.base.as_path()));
    assert!(data.len() < 4096);
    let target = tmp.path().join("merged");
    mount_overlay(&target, cwd.as_deref(), &data);
    let guard = Mounted(target.clone());
    assert_eq!(
        fs::read_to_string(target.join("top")).unwrap(),
        "199",
        "topmost layer wins"
    );
    for i in 0..200 {
        assert!(target.join(format!("f{i}")).exists(), "f{i}");
    }
    umount(&target);
    std::mem::forget(guard);
    store.remove_snapshot("many").unwrap();
    assert!(matches!(
        store.remove_snapshot("many"),
        Err(StoreError::SnapshotNotFound(_))
    ));
    assert_no_leaks(tmp.path());
}

#[test]
fn blobs_are_verified_before_they_are_visible() {
    let tmp = berth_testutil::tempdir();
    let store = open_store(tmp.path());
    let data = b"some content";
    let good = Digest::sha256_of(data);
    let wrong = Digest::sha256_of(b"other");
    let err = store.content.put(data, Some(wrong.clone())).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }));
    assert!(!store.content.contains(&wrong) && !store.content.contains(&good));
    let err = store
        .content
        .put_reader(&mut &data[..], Some(good.clone()), Some(99))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SizeMismatch { expected: 99, .. }),
        "{err}"
    );
    assert!(!store.content.contains(&good));
    assert_eq!(
        fs::read_dir(tmp.path().join("root/ingest"))
            .unwrap()
            .count(),
        0,
        "ingest cleaned"
    );

    // Many concurrent writers of one blob.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256_of(&big);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let mut w = store
                    .content
                    .writer(Some(d.clone()), Some(big.len() as u64))
                    .unwrap();
                for chunk in big.chunks(65536) {
                    w.write_all(chunk).unwrap();
                }
                assert_eq!(w.commit().unwrap(), d);
            });
        }
    });
    assert_eq!(store.content.read(&d).unwrap(), big);
    assert_eq!(
        fs::read_dir(tmp.path().join("root/ingest"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn open_removes_leftovers_and_locks_the_data_root() {
    let tmp = berth_testutil::tempdir();
    let root = tmp.path().join("root");
    {
        let store = Store::open(&root).unwrap();
        assert!(matches!(Store::open(&root), Err(StoreError::Locked(_))));
        let rec = unpack(&store, &tar_of(&[E::File("a", b"a", 0o644)]), None);
        store.content.put(b"orphan", None).unwrap();
        fs::write(root.join("ingest/half.tmp"), b"half").unwrap();
        fs::create_dir_all(root.join("layers/.tmp-crashed/diff")).unwrap();
        fs::create_dir_all(root.join("snapshots/.tmp-crashed/upper")).unwrap();
        assert!(store.layer_dir(&rec.chain_id).exists());
    }
    let store = Store::open(&root).unwrap();
    assert_eq!(fs::read_dir(root.join("ingest")).unwrap().count(), 0);
    assert!(!root.join("layers/.tmp-crashed").exists());
    assert!(!root.join("snapshots/.tmp-crashed").exists());
    assert!(
        store.content.list().unwrap().is_empty(),
        "unreferenced blob collected"
    );
    assert!(
        store.db.layers().unwrap().is_empty(),
        "unreferenced layer collected"
    );
    assert_eq!(fs::read_dir(root.join("layers")).unwrap().count(), 0);
}

#[test]
fn detached_snapshot_goes_to_the_trash_which_the_next_open_empties() {
    let tmp = berth_testutil::tempdir();
    let root = tmp.path().join("root");
    let tree = {
        let store = open_store(tmp.path());
        let layer = tar_of(&[E::File("f", b"x", 0o644)]);
        let rec = unpack(&store, &layer, None);
        let m = store
            .prepare_snapshot("ctr", None, &[rec.chain_id])
            .unwrap();
        fs::write(m.upperdir.join("written"), b"rw data").unwrap();
        let tree = store.detach_snapshot("ctr").unwrap();
        // The record is gone at once, the files moved out of snapshots/.
        assert!(store.snapshot("ctr").unwrap().is_none());
        assert!(!root.join("snapshots/ctr").exists());
        assert!(tree.starts_with(root.join("trash")), "{}", tree.display());
        assert_eq!(fs::read(tree.join("upper/written")).unwrap(), b"rw data");
        assert!(matches!(
            store.detach_snapshot("ctr"),
            Err(StoreError::SnapshotNotFound(_))
        ));
        // A container directory on the same filesystem, too.
        let cdir = root.join("ctr-dir");
        fs::create_dir_all(cdir.join("sub")).unwrap();
        let moved = store.trash(&cdir).unwrap();
        assert!(!cdir.exists() && moved.join("sub").is_dir());
        assert!(store.trash(&cdir).is_err(), "gone already");
        tree
    };
    // berthd died before deleting them: the next open does.
    assert!(tree.exists());
    let _store = open_store(tmp.path());
    assert_eq!(fs::read_dir(root.join("trash")).unwrap().count(), 0);
}
