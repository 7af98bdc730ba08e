//! Formats in and out: round trips checked with skopeo, the Debian
//! fixtures, multi-platform indexes, and bad archives that must leave the
//! store unchanged.

mod common;

use std::fs;

use berth_image::{ImageError, ImageService};
use berth_testutil::fixture;
use berth_types::Digest;
use common::*;
use serde_json::json;

fn svc(tmp: &std::path::Path) -> ImageService {
    ImageService::open(&root_of(tmp)).expect("open")
}

#[test]
fn save_round_trips_through_skopeo_with_the_same_layer_digests() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    let input = fixture("busybox-docker.tar");
    s.load_path(&input, &mut |_| {}).unwrap();
    s.tag("busybox", "localhost:5000/tools/bb:v2").unwrap();
    let out = tmp.path().join("saved.tar");
    s.save(
        &["busybox", "localhost:5000/tools/bb:v2"],
        fs::File::create(&out).unwrap(),
    )
    .unwrap();

    let want = skopeo_layers(&format!("docker-archive:{}", input.display()));
    let saved = path_str(&out);
    assert_eq!(
        skopeo_layers(&format!("docker-archive:{saved}:busybox:latest")),
        want
    );
    assert_eq!(
        skopeo_layers(&format!(
            "docker-archive:{saved}:localhost:5000/tools/bb:v2"
        )),
        want
    );
    // the same file is an OCI layout too
    assert_eq!(skopeo_layers(&format!("oci-archive:{saved}:latest")), want);
    let copy = tmp.path().join("copied");
    skopeo(&[
        "copy",
        "-q",
        &format!("docker-archive:{saved}:busybox:latest"),
        &format!("oci:{}:x", copy.display()),
    ]);
    assert!(copy.join("index.json").is_file());

    // and loads back to the same image and tags
    let tmp2 = berth_testutil::tempdir();
    let s2 = svc(tmp2.path());
    let loaded: Vec<String> = s2
        .load_path(&out, &mut |_| {})
        .unwrap()
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(
        loaded,
        [
            "Loaded image: busybox:latest",
            "Loaded image: localhost:5000/tools/bb:v2"
        ]
    );
    assert_eq!(
        s2.inspect("busybox").unwrap().id,
        s.inspect("busybox").unwrap().id
    );
    // skopeo's own OCI copy of our archive loads too, to the same layers
    // (skopeo rewrites the config for the OCI format, so the ID differs)
    let tmp3 = berth_testutil::tempdir();
    let s3 = svc(tmp3.path());
    let l3 = s3.load_path(&copy, &mut |_| {}).unwrap();
    assert_eq!(
        s3.inspect(&l3[0].id.to_string()).unwrap().root_fs,
        s.inspect("busybox").unwrap().root_fs
    );
}

#[test]
fn debian_fixtures_load_in_both_formats_and_save_compressed_layers_as_they_came() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    let l1 = s
        .load_path(&fixture("debian-docker.tar"), &mut |_| {})
        .unwrap();
    assert_eq!(l1[0].to_string(), "Loaded image: debian:latest");
    let l2 = s.load_path(&fixture("debian-oci"), &mut |_| {}).unwrap();
    assert_eq!(l2[0].id, l1[0].id, "same config, same image ID");
    assert_eq!(
        s.store().db.layers().unwrap().len(),
        1,
        "the layer tree is kept once"
    );
    let ins = s.inspect("debian").unwrap();
    assert_eq!(ins.config.cmd.as_deref(), Some(&["bash".to_string()][..]));
    let rootfs = s
        .store()
        .layer_dir(&s.store().db.layers().unwrap()[0].chain_id);
    for p in ["usr/bin/bash", "etc/debian_version", "usr/bin/su"] {
        assert!(rootfs.join(p).exists(), "{p}");
    }
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(rootfs.join("usr/bin/su")).unwrap().mode() & 0o4000,
        0o4000,
        "setuid kept"
    );

    let out = tmp.path().join("debian.tar");
    s.save(&["debian:latest"], fs::File::create(&out).unwrap())
        .unwrap();
    let want = skopeo_layers(&format!(
        "docker-archive:{}",
        fixture("debian-docker.tar").display()
    ));
    assert_eq!(
        skopeo_layers(&format!("docker-archive:{}:debian:latest", out.display())),
        want
    );
}

#[test]
fn multi_platform_index_picks_linux_amd64() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    let la = layer(&["amd64-file"]);
    let lb = layer(&["arm64-file"]);
    let mut l = Layout::default();
    let ma = l.image(
        std::slice::from_ref(&la),
        &config("amd64", &[Digest::sha256_of(&la)], "a"),
        "application/vnd.oci.image.layer.v1.tar",
    );
    let mb = l.image(
        std::slice::from_ref(&lb),
        &config("arm64", &[Digest::sha256_of(&lb)], "b"),
        "application/vnd.oci.image.layer.v1.tar",
    );
    let mut ma_p = ma.clone();
    ma_p["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let mut mb_p = mb.clone();
    mb_p["platform"] = json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
    let idx = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [mb_p, ma_p]})).unwrap();
    let mut top = l.blob("application/vnd.oci.image.index.v1+json", &idx);
    top["annotations"] = json!({"io.containerd.image.name": "docker.io/library/multi:1"});
    l.index = json!({"schemaVersion": 2, "manifests": [top]});
    let loaded = s.load(&oci_tar(&l)[..], &mut |_| {}).unwrap();
    assert_eq!(loaded[0].to_string(), "Loaded image: multi:1");
    let ins = s.inspect("multi:1").unwrap();
    assert_eq!(ins.architecture, "amd64");
    assert_eq!(
        s.store().db.layers().unwrap().len(),
        1,
        "the arm64 layer is not unpacked"
    );

    // only arm64: a clear error
    let mut l2 = Layout::default();
    let mb = l2.image(
        std::slice::from_ref(&lb),
        &config("arm64", &[Digest::sha256_of(&lb)], "b"),
        "application/vnd.oci.image.layer.v1.tar",
    );
    let mut mb_p = mb.clone();
    mb_p["platform"] = json!({"architecture": "arm64", "os": "linux"});
    l2.index = json!({"schemaVersion": 2, "manifests": [mb_p]});
    let e = s.load(&oci_tar(&l2)[..], &mut |_| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains("no linux/amd64 manifest (platforms: linux/arm64)"),
        "{e}"
    );
}

#[test]
fn bad_archives_get_clear_errors_and_leave_the_store_unchanged() {
    let tmp = berth_testutil::tempdir();
    let root = root_of(tmp.path());
    let s = svc(tmp.path());
    s.load_path(&fixture("busybox-docker.tar"), &mut |_| {})
        .unwrap();
    let before = state(&s, &root);

    let good_layer = layer(&["a", "b"]);
    let good_cfg = config("amd64", &[Digest::sha256_of(&good_layer)], "sh");
    let busybox = fs::read(fixture("busybox-docker.tar")).unwrap();

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    cases.push((
        "truncated",
        busybox[..busybox.len() / 2].to_vec(),
        "truncated or corrupt",
    ));
    let mut corrupt = busybox.clone();
    for b in &mut corrupt[600_000..600_100] {
        *b ^= 0x5a;
    }
    cases.push(("corrupt layer bytes", corrupt, "does not match"));
    cases.push((
        "not an archive",
        b"hello, this is not a tar archive".repeat(40),
        "not a tar archive",
    ));
    cases.push(("empty tar", vec![0u8; 1024], "empty archive"));
    cases.push((
        "bad tag",
        docker_archive(
            std::slice::from_ref(&good_layer),
            &good_cfg,
            &["Busybox:latest"],
        ),
        "repository name (library/Busybox) must be lowercase",
    ));
    cases.push((
        "bad tag syntax",
        docker_archive(
            std::slice::from_ref(&good_layer),
            &good_cfg,
            &["busybox:-bad"],
        ),
        "invalid reference format",
    ));
    let not_tar = b"\x00\x01garbage that is no tar at all".repeat(100);
    cases.push((
        "layer is not a tar",
        docker_archive(
            std::slice::from_ref(&not_tar),
            &config("amd64", &[Digest::sha256_of(&not_tar)], "sh"),
            &["x:1"],
        ),
        "not a tar archive",
    ));
    cases.push((
        "diff ID mismatch",
        docker_archive(
            std::slice::from_ref(&good_layer),
            &config("amd64", &[Digest::sha256_of(b"other")], "sh"),
            &["x:1"],
        ),
        "does not match the config",
    ));
    cases.push((
        "missing layer",
        {
            let mut v = docker_archive(std::slice::from_ref(&good_layer), &good_cfg, &["x:1"]);
            // rename the layer member so manifest.json points at nothing
            let pos = v.windows(9).position(|w| w == b"layer.tar").unwrap();
            v[pos..pos + 9].copy_from_slice(b"layer.rat");
            let cks =
                tar::Header::from_byte_slice(&v[pos - pos % 512..pos - pos % 512 + 512]).clone();
            let mut h = cks;
            h.set_cksum();
            let start = pos - pos % 512;
            v[start..start + 512].copy_from_slice(h.as_bytes());
            v
        },
        "missing from the archive",
    ));
    // OCI layouts
    let mut l = Layout::default();
    let m = l.image(
        std::slice::from_ref(&good_layer),
        &good_cfg,
        "application/x-unknown-layer",
    );
    l.index = json!({"schemaVersion": 2, "manifests": [m]});
    cases.push((
        "unknown layer media type",
        oci_tar(&l),
        "unknown media type \"application/x-unknown-layer\"",
    ));
    let mut l = Layout::default();
    let m = l.image(
        std::slice::from_ref(&good_layer),
        &good_cfg,
        "application/vnd.oci.image.layer.v1.tar",
    );
    // the manifest's bytes no longer match its name
    let last = l.blobs.len() - 1;
    l.blobs[last].1.extend_from_slice(b" ");
    l.index = json!({"schemaVersion": 2, "manifests": [m]});
    cases.push((
        "manifest digest mismatch",
        oci_tar(&l),
        "does not match its digest",
    ));
    let mut l = Layout::default();
    let mut m = l.image(
        std::slice::from_ref(&good_layer),
        &good_cfg,
        "application/vnd.oci.image.layer.v1.tar",
    );
    m["digest"] = json!(Digest::sha256_of(b"nope").to_string());
    l.index = json!({"schemaVersion": 2, "manifests": [m]});
    cases.push((
        "manifest not in archive",
        oci_tar(&l),
        "missing from the archive",
    ));
    let mut l = Layout::default();
    let mut m = l.image(
        std::slice::from_ref(&good_layer),
        &good_cfg,
        "application/vnd.oci.image.layer.v1.tar",
    );
    m["mediaType"] = json!("application/vnd.example.thing+json");
    l.index = json!({"schemaVersion": 2, "manifests": [m]});
    cases.push((
        "unknown manifest media type",
        oci_tar(&l),
        "unknown media type",
    ));

    for (what, data, needle) in cases {
        let e = s.load(&data[..], &mut |_| {}).unwrap_err();
        assert!(
            e.to_string().contains(needle),
            "{what}: {e:?} does not say {needle:?}"
        );
        assert_eq!(e.status(), 400, "{what}: {e}");
        assert!(!matches!(e, ImageError::NoSuchImage(_)));
        assert_eq!(state(&s, &root), before, "{what}: store changed");
    }
    // and the good version of the same parts loads
    let ok = s
        .load(
            &docker_archive(&[good_layer], &good_cfg, &["x:1"])[..],
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(ok[0].to_string(), "Loaded image: x:1");
}

#[test]
fn zero_byte_layers_and_an_image_of_200_layers() {
    let tmp = berth_testutil::tempdir();
    let s = svc(tmp.path());
    let empty_tar = tar_files(&[]);
    let layers: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            if i % 50 == 0 {
                empty_tar.clone()
            } else {
                layer(&[&format!("f{i}")])
            }
        })
        .collect();
    let mut with_zero = layers.clone();
    with_zero.push(Vec::new()); // a 0-byte layer blob
    let diffs: Vec<Digest> = with_zero.iter().map(|l| Digest::sha256_of(l)).collect();
    let arch = docker_archive(&with_zero, &config("amd64", &diffs, "sh"), &["tall:200"]);
    s.load(&arch[..], &mut |_| {}).unwrap();
    let ins = s.inspect("tall:200").unwrap();
    assert_eq!(ins.root_fs.layers.len(), 201);
    assert_eq!(
        s.store().db.layers().unwrap().len(),
        201,
        "one tree per chain ID, even for equal diffs"
    );
    let h = s.history("tall:200").unwrap();
    assert_eq!(h.len(), 201);
    let out = tmp.path().join("tall.tar");
    s.save(&["tall:200"], fs::File::create(&out).unwrap())
        .unwrap();
    assert_eq!(
        skopeo_layers(&format!("docker-archive:{}:tall:200", out.display())).len(),
        201
    );
}
