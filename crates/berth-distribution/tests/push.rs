//! Push of a loaded image to berth-registry and to Debian's
//! docker-registry, checked with `skopeo inspect`, and pulled back.

mod common;

use std::time::Duration;

use berth_distribution::{
    pull, push, Credentials, Distribution, DistributionError, Options, PullOptions, PushOptions,
};
use common::*;

const LIMIT: Duration = Duration::from_secs(240);

fn dist(chunk: Option<u64>) -> Distribution {
    Distribution::new(Options {
        upload_chunk_size: chunk,
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_loaded_image_then_skopeo_inspect_exists_and_mount() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::Bearer).await;
        let host = host_of(&reg.url());
        let svc = image_service(tmp.path(), "data");
        svc.load_path(&berth_testutil::fixture("busybox-oci"), &mut |_| {})
            .expect("load busybox");
        let id = fixture_image_id("busybox-oci");
        svc.tag(&id, &format!("{host}/test/busybox:v1")).unwrap();
        let rec = Recorder::default();
        let po = PushOptions {
            credentials: Credentials::basic(USER, PASS),
        };
        let pushed = push(
            &dist(None),
            &svc,
            &format!("{host}/test/busybox"),
            "v1",
            &po,
            &rec.sink(),
        )
        .await
        .expect("push");
        let digest = fixture_manifest_digest("busybox-oci");
        assert_eq!(pushed.len(), 1);
        assert_eq!(pushed[0].digest.to_string(), digest);
        let st = rec.statuses();
        assert_eq!(
            st[0],
            format!("The push refers to repository [{host}/test/busybox]")
        );
        // Layer IDs in push messages are diff ID prefixes, as dockerd's.
        let cfg: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                berth_testutil::fixture("busybox-oci")
                    .join("blobs/sha256")
                    .join(id.trim_start_matches("sha256:")),
            )
            .unwrap(),
        )
        .unwrap();
        let diff = cfg["rootfs"]["diff_ids"][0].as_str().unwrap()[7..19].to_string();
        assert!(rec.has("Preparing", &diff), "{:?}", rec.pairs());
        assert!(rec.has("Pushing", &diff), "{:?}", rec.pairs());
        assert!(rec.has("Pushed", &diff), "{:?}", rec.pairs());
        let size = pushed[0].size;
        assert!(
            st.contains(&format!("v1: digest: {digest} size: {size}")),
            "{st:?}"
        );
        let aux = rec
            .all()
            .into_iter()
            .find_map(|m| m.aux)
            .expect("aux message");
        assert_eq!(aux["Tag"], "v1");
        assert_eq!(aux["Digest"], digest);
        assert_eq!(aux["Size"], size);
        // skopeo sees the same manifest.
        let ins = skopeo_inspect(&host, "test/busybox:v1", false, true).await;
        assert_eq!(ins["Digest"], digest);
        assert_eq!(ins["Architecture"], "amd64");
        let raw = skopeo_inspect(&host, "test/busybox:v1", true, true).await;
        assert_eq!(raw["config"]["digest"], id);
        // Again: every layer is already there.
        rec.clear();
        push(
            &dist(None),
            &svc,
            &format!("{host}/test/busybox"),
            "v1",
            &po,
            &rec.sink(),
        )
        .await
        .expect("push again");
        assert!(rec.has("Layer already exists", &diff), "{:?}", rec.pairs());
        // Another repository of the same registry: mounted, not uploaded.
        svc.tag(&id, &format!("{host}/other/copy:v2")).unwrap();
        rec.clear();
        push(
            &dist(None),
            &svc,
            &format!("{host}/other/copy:v2"),
            "",
            &po,
            &rec.sink(),
        )
        .await
        .expect("push with mount");
        assert!(
            rec.has("Mounted from test/busybox", &diff),
            "{:?}",
            rec.pairs()
        );
        assert_eq!(
            skopeo_inspect(&host, "other/copy:v2", false, true).await["Digest"],
            digest
        );
        // Wrong credentials and unknown images.
        let e = push(
            &dist(None),
            &svc,
            &format!("{host}/test/busybox"),
            "v1",
            &PushOptions {
                credentials: Credentials::basic(USER, "nope"),
            },
            &rec.sink(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.status(), 401, "{e}");
        let e = push(
            &dist(None),
            &svc,
            &format!("{host}/test/busybox"),
            "missing",
            &po,
            &rec.sink(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, DistributionError::NoSuchLocalImage(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("An image does not exist locally with the tag: {host}/test/busybox")
        );
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_push_to_docker_registry_then_pull_back() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let peer = PeerRegistry::start(tmp.path(), false);
        let svc = image_service(tmp.path(), "data");
        svc.load_path(&berth_testutil::fixture("debian-oci"), &mut |_| {})
            .expect("load debian");
        let id = fixture_image_id("debian-oci");
        let name = format!("{}/chunked/debian", peer.host);
        svc.tag(&id, &format!("{name}:12")).unwrap();
        let rec = Recorder::default();
        let t0 = std::time::Instant::now();
        let pushed = push(
            &dist(Some(8 << 20)),
            &svc,
            &name,
            "12",
            &PushOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("chunked push");
        eprintln!(
            "chunked push of debian (51 MB, 8 MiB chunks) took {:?}",
            t0.elapsed()
        );
        let pushing: Vec<_> = rec
            .all()
            .into_iter()
            .filter(|m| m.status.as_deref() == Some("Pushing"))
            .filter_map(|m| m.progress_detail)
            .collect();
        assert!(
            pushing.len() >= 2,
            "progress per chunk (throttled): {pushing:?}"
        );
        let last = pushing.last().unwrap();
        let size = fixture_layer("debian-oci").size;
        assert_eq!(last.current, Some(size));
        assert_eq!(last.total, Some(size));
        let ins = skopeo_inspect(&peer.host, "chunked/debian:12", false, false).await;
        assert_eq!(ins["Digest"], pushed[0].digest.to_string());
        assert_eq!(ins["Digest"], fixture_manifest_digest("debian-oci"));
        // Pull it back into a fresh store: same image ID, blobs verified.
        let svc2 = image_service(tmp.path(), "data2");
        let out = pull(
            &Distribution::new(Options::default()).unwrap(),
            &svc2,
            &format!("{name}:12"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull back");
        assert_eq!(out.id.to_string(), id);
        assert_eq!(assert_blobs_verified(&tmp.path().join("data2")), 3);
    })
    .await
}
