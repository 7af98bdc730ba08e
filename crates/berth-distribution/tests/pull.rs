//! Pulls from real registries: berth-registry in process, Debian's
//! docker-registry as a peer; images pushed there by skopeo from the
//! fixture OCI layouts.

mod common;

use std::time::Duration;

use berth_distribution::{pull, Distribution, DistributionError, Options, PullOptions};
use common::*;

const LIMIT: Duration = Duration::from_secs(240);

fn dist() -> Distribution {
    Distribution::new(Options::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_busybox_from_berth_registry_then_up_to_date() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        skopeo_push("busybox-oci", &host, "library/busybox:latest", false).await;
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let name = format!("{host}/library/busybox");
        let out = pull(&dist(), &svc, &name, &PullOptions::default(), &rec.sink())
            .await
            .expect("pull");
        let layer = berth_testutil::short_id(&fixture_layer("busybox-oci").digest).to_string();
        let layer = layer.as_str();
        let st = rec.statuses();
        assert_eq!(st[0], "Pulling from library/busybox", "{st:?}");
        assert_eq!(rec.all()[0].id.as_deref(), Some("latest"));
        for s in [
            "Pulling fs layer",
            "Downloading",
            "Verifying Checksum",
            "Download complete",
            "Extracting",
            "Pull complete",
        ] {
            assert!(rec.has(s, layer), "no {s:?} for {layer}: {:?}", rec.pairs());
        }
        let digest = fixture_manifest_digest("busybox-oci");
        assert_eq!(out.digest.to_string(), digest);
        assert_eq!(st[st.len() - 2], format!("Digest: {digest}"));
        assert_eq!(
            st[st.len() - 1],
            format!("Status: Downloaded newer image for {host}/library/busybox:latest")
        );
        // The image is registered: ID, tag, RepoDigests.
        assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));
        let inspect = svc.inspect(&name).expect("inspect");
        let j = serde_json::to_value(&inspect).unwrap();
        assert_eq!(j["Id"], out.id.to_string());
        assert_eq!(j["RepoTags"][0], format!("{host}/library/busybox:latest"));
        assert_eq!(
            j["RepoDigests"][0],
            format!("{host}/library/busybox@{digest}")
        );
        // Blobs verified, nothing left in flight.
        let root = tmp.path().join("data");
        assert_eq!(assert_blobs_verified(&root), 3);
        assert!(ingest_files(&root).is_empty());
        assert!(staging_dirs(&root).is_empty());
        // The same pull again: nothing downloaded, up to date.
        rec.clear();
        let again = pull(&dist(), &svc, &name, &PullOptions::default(), &rec.sink())
            .await
            .expect("pull again");
        assert!(again.up_to_date);
        // Exactly what dockerd 20.10 sends for an image it has.
        assert_eq!(
            rec.statuses(),
            vec![
                "Pulling from library/busybox".to_string(),
                format!("Digest: {digest}"),
                format!("Status: Image is up to date for {host}/library/busybox:latest"),
            ]
        );
        // By digest: no tag added, same image.
        rec.clear();
        let by_digest = pull(
            &dist(),
            &svc,
            &format!("{name}@{digest}"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull by digest");
        assert_eq!(by_digest.id, out.id);
        // dockerd's id for a digest pull is the familiar name@digest.
        assert_eq!(rec.all()[0].id, Some(format!("{name}@{digest}")));
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_debian_from_docker_registry_peer() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let peer = PeerRegistry::start(tmp.path(), false);
        skopeo_push("debian-oci", &peer.host, "library/debian:12", false).await;
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let t0 = std::time::Instant::now();
        let out = pull(
            &dist(),
            &svc,
            &format!("{}/library/debian:12", peer.host),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull debian");
        eprintln!("debian pull (51 MB layer) took {:?}", t0.elapsed());
        assert_eq!(out.id.to_string(), fixture_image_id("debian-oci"));
        assert_eq!(
            out.digest.to_string(),
            fixture_manifest_digest("debian-oci")
        );
        let downloads: Vec<_> = rec
            .all()
            .into_iter()
            .filter(|m| m.status.as_deref() == Some("Downloading"))
            .collect();
        assert!(
            downloads.len() >= 2,
            "progress should tick: {}",
            downloads.len()
        );
        let last = downloads.last().unwrap().progress_detail.clone().unwrap();
        assert_eq!(last.current, last.total);
        assert_eq!(last.total, Some(fixture_layer("debian-oci").size));
        let root = tmp.path().join("data");
        assert_eq!(assert_blobs_verified(&root), 3);
        assert!(ingest_files(&root).is_empty());
        // The rootfs is there: a snapshot of it mounts os-release.
        let inspect = serde_json::to_value(
            svc.inspect(&format!("{}/library/debian:12", peer.host))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(inspect["Os"], "linux");
        assert_eq!(inspect["Architecture"], "amd64");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tag_and_missing_repository_are_worded_like_docker() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        skopeo_push("busybox-oci", &host, "library/busybox:latest", false).await;
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let e = pull(&dist(), &svc, &format!("{host}/library/busybox:nope"), &PullOptions::default(), &rec.sink())
            .await
            .unwrap_err();
        assert!(matches!(e, DistributionError::ManifestUnknown { .. }), "{e:?}");
        assert_eq!(e.status(), 404);
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("manifest for {host}/library/busybox:nope not found: manifest unknown")),
            "{msg}"
        );
        assert!(rec.all().is_empty(), "no progress before the manifest: {:?}", rec.pairs());
        let e = pull(&dist(), &svc, &format!("{host}/nobody/here"), &PullOptions::default(), &rec.sink())
            .await
            .unwrap_err();
        eprintln!("missing repository: {e}");
        assert_eq!(e.status(), 404, "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("pull access denied for {host}/nobody/here, repository does not exist or may require 'docker login'"))
                || msg.starts_with(&format!("manifest for {host}/nobody/here:latest not found")),
            "{msg}"
        );
        // Nothing was registered, nothing left behind.
        let root = tmp.path().join("data");
        assert_eq!(assert_blobs_verified(&root), 0);
        assert!(staging_dirs(&root).is_empty());
        // Invalid references are the image service's 400.
        let e = pull(&dist(), &svc, "Busybox", &PullOptions::default(), &rec.sink())
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        // A registry nobody listens on: a transport error naming the URL.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = pull(&dist(), &svc, &format!("127.0.0.1:{port}/x"), &PullOptions::default(), &rec.sink())
            .await
            .unwrap_err();
        assert!(matches!(e, DistributionError::Transport(_)), "{e:?}");
        assert!(e.to_string().contains(&format!("\"http://127.0.0.1:{port}/v2/\"")), "{e}");
        // Go's url.Error form: the URL once, then the cause (no
        // "error sending request for url (...)" repeating it).
        assert_eq!(e.to_string().matches(&format!("127.0.0.1:{port}")).count(), 1, "{e}");
        assert!(e.to_string().to_lowercase().contains("connection refused"), "{e}");
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_are_tried_first_and_fall_back() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let a = tempdir();
        let b = tempdir();
        let origin = berth_registry(a.path(), Auth::None).await;
        let mirror = berth_registry(b.path(), Auth::None).await;
        let oh = host_of(&origin.url());
        let mh = host_of(&mirror.url());
        // Only the mirror has busybox; only the origin has debian.
        skopeo_push("busybox-oci", &mh, "library/busybox:latest", false).await;
        skopeo_push("debian-oci", &oh, "library/debian:latest", false).await;
        let mut o = Options::default();
        o.mirrors.insert(oh.clone(), vec![format!("http://{mh}")]);
        let d = Distribution::new(o).unwrap();
        assert_eq!(d.endpoints(&oh, true)[0].base, format!("http://{mh}"));
        assert!(
            d.endpoints(&oh, false).iter().all(|e| !e.mirror),
            "no mirrors for push"
        );
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let out = pull(
            &d,
            &svc,
            &format!("{oh}/library/busybox"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull served by the mirror");
        assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));
        // The image is named after the origin, not the mirror.
        assert!(svc.inspect(&format!("{oh}/library/busybox:latest")).is_ok());
        let out = pull(
            &d,
            &svc,
            &format!("{oh}/library/debian"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("mirror lacks it: fall back to the origin");
        assert_eq!(out.id.to_string(), fixture_image_id("debian-oci"));
        // Docker Hub mirrors (registry-mirrors) apply to docker.io only.
        let hub = Distribution::new(Options {
            registry_mirrors: vec![format!("http://{mh}")],
            ..Default::default()
        })
        .unwrap();
        rec.clear();
        let out = pull(&hub, &svc, "busybox", &PullOptions::default(), &rec.sink())
            .await
            .expect("docker.io/library/busybox from the hub mirror");
        assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));
        assert_eq!(
            rec.statuses().last().unwrap(),
            "Status: Downloaded newer image for busybox:latest"
        );
        origin.shutdown().await;
        mirror.shutdown().await;
    })
    .await
}

#[test]
fn stale_staging_dirs_are_removed_when_the_store_opens() {
    let tmp = tempdir();
    let root = tmp.path().join("data");
    drop(image_service(tmp.path(), "data"));
    std::fs::create_dir_all(root.join(".pull-crashed/blobs/sha256")).unwrap();
    std::fs::write(root.join(".pull-crashed/blobs/sha256/x"), b"x").unwrap();
    let _svc = image_service(tmp.path(), "data");
    assert!(staging_dirs(&root).is_empty());
}
