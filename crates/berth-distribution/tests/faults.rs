//! Faults: a server that serves wrong bytes for a layer, and a proxy that
//! cuts the connection in the middle of a blob once (the pull resumes
//! with a Range request).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use berth_distribution::{pull, Distribution, DistributionError, Options, PullOptions};
use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(240);

fn fixture_blob(name: &str, digest: &str) -> Vec<u8> {
    let p: PathBuf = berth_testutil::fixture(name)
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::read(p).unwrap()
}

/// A deliberately broken registry: busybox's manifest and config, but
/// the layer's bytes flipped (same length).
async fn broken_server() -> (String, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = l.local_addr().unwrap().to_string();
    let md = fixture_manifest_digest("busybox-oci");
    let manifest = fixture_blob("busybox-oci", &md);
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let cd = m["config"]["digest"].as_str().unwrap().to_string();
    let ld = m["layers"][0]["digest"].as_str().unwrap().to_string();
    let config = fixture_blob("busybox-oci", &cd);
    let mut layer = fixture_blob("busybox-oci", &ld);
    for b in layer.iter_mut().skip(1000).take(64) {
        *b ^= 0xff;
    }
    let h = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let (manifest, config, layer, cd, ld) = (
                manifest.clone(),
                config.clone(),
                layer.clone(),
                cd.clone(),
                ld.clone(),
            );
            tokio::spawn(async move {
                let Some(head) = read_head(&mut s).await else {
                    return;
                };
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, ct, body): (&str, &str, Vec<u8>) = if path == "/v2/" {
                    ("200 OK", "application/json", b"{}".to_vec())
                } else if path.ends_with("/manifests/latest") {
                    (
                        "200 OK",
                        "application/vnd.oci.image.manifest.v1+json",
                        manifest,
                    )
                } else if path.ends_with(&format!("/blobs/{cd}")) {
                    ("200 OK", "application/octet-stream", config)
                } else if path.ends_with(&format!("/blobs/{ld}")) {
                    ("200 OK", "application/octet-stream", layer)
                } else {
                    (
                        "404 Not Found",
                        "application/json",
                        br#"{"errors":[{"code":"NOT_FOUND","message":"not found"}]}"#.to_vec(),
                    )
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                if !head.starts_with("HEAD ") {
                    let _ = s.write_all(&body).await;
                }
                let _ = s.shutdown().await;
            });
        }
    });
    (host, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_mismatch_fails_and_stores_nothing() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let (host, server) = broken_server().await;
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let dist = Distribution::new(Options {
            retry_delay: Duration::from_millis(50),
            ..Default::default()
        })
        .unwrap();
        let t0 = std::time::Instant::now();
        let e = pull(
            &dist,
            &svc,
            &format!("{host}/broken/app"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .unwrap_err();
        eprintln!("failed pull took {:?}", t0.elapsed());
        let ld = fixture_layer("busybox-oci").digest;
        assert!(matches!(e, DistributionError::DigestMismatch(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("filesystem layer verification failed for digest {ld}")
        );
        assert_eq!(e.status(), 500);
        assert!(!rec.statuses().iter().any(|s| s == "Pull complete"));
        let root = tmp.path().join("data");
        assert!(
            !root.join("blobs/sha256").join(&ld[7..]).exists(),
            "the bad layer must not be visible"
        );
        assert_eq!(
            assert_blobs_verified(&root),
            0,
            "a failed pull leaves no blobs"
        );
        assert!(ingest_files(&root).is_empty(), "{:?}", ingest_files(&root));
        assert!(staging_dirs(&root).is_empty());
        assert!(svc.inspect(&format!("{host}/broken/app")).is_err());
        server.abort();
    })
    .await
}

/// Pulls busybox through a proxy that cuts the layer's first response
/// after 400 000 bytes; returns the Range header of each layer request.
async fn pull_through_cut(strip_range: bool) -> Vec<Option<String>> {
    let tmp = tempdir();
    let reg = berth_registry(tmp.path(), Auth::None).await;
    let upstream = host_of(&reg.url());
    skopeo_push("busybox-oci", &upstream, "library/busybox:latest", false).await;
    let ld = fixture_layer("busybox-oci").digest;
    let proxy = fault_proxy(
        upstream.clone(),
        format!("/blobs/{ld}"),
        Fault::Cut(400_000),
        strip_range,
    )
    .await;
    let svc = image_service(tmp.path(), "data");
    let rec = Recorder::default();
    let dist = Distribution::new(Options {
        retry_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .unwrap();
    let out = pull(
        &dist,
        &svc,
        &format!("{}/library/busybox", proxy.host),
        &PullOptions::default(),
        &rec.sink(),
    )
    .await
    .expect("pull through the cutting proxy");
    assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));
    assert!(rec.has("Pull complete", &ld[7..19]), "{:?}", rec.pairs());
    let reqs = proxy.ranges.lock().unwrap().clone();
    let layer_reqs: Vec<_> = reqs
        .iter()
        .filter(|(p, _)| p.ends_with(&ld))
        .map(|(_, r)| r.clone())
        .collect();
    eprintln!("layer requests: {layer_reqs:?}");
    let root = tmp.path().join("data");
    assert_eq!(assert_blobs_verified(&root), 3);
    assert!(ingest_files(&root).is_empty());
    // The layer was extracted from the resumed (or restarted) stream: its
    // files are there and no temporary tree is left.
    let layers: Vec<String> = std::fs::read_dir(root.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(layers.len(), 1, "{layers:?}");
    assert!(root
        .join("layers")
        .join(&layers[0])
        .join("diff/bin/busybox")
        .is_file());
    proxy.task.abort();
    reg.shutdown().await;
    layer_reqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_resumes_with_range() {
    bounded(LIMIT, async {
        let layer_reqs = pull_through_cut(false).await;
        assert_eq!(layer_reqs.len(), 2, "{layer_reqs:?}");
        assert_eq!(layer_reqs[0], None);
        let r = layer_reqs[1]
            .clone()
            .expect("the second request has a Range");
        let from: u64 = r
            .strip_prefix("bytes=")
            .and_then(|s| s.strip_suffix('-'))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad range {r}"));
        assert!(from > 0 && from <= 400_000, "resumed from {from}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_without_range_support_restarts_from_zero() {
    bounded(LIMIT, async {
        // The resumed request asks for a range, the registry (the proxy
        // drops the header) answers 200 with the whole blob: the ingest
        // file and the extraction start over, and the pull succeeds.
        let layer_reqs = pull_through_cut(true).await;
        assert_eq!(layer_reqs.len(), 2, "{layer_reqs:?}");
        assert_eq!(layer_reqs[0], None);
        assert!(layer_reqs[1].is_some(), "{layer_reqs:?}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_errors_before_and_after_the_first_message() {
    use berth_distribution::run_streamed;
    use futures_util::StreamExt;
    bounded(LIMIT, async {
        let tmp = tempdir();
        let (host, server) = broken_server().await;
        let svc = image_service(tmp.path(), "data");
        let dist = Distribution::new(Options::default()).unwrap();
        // Before any message (no such tag): the error itself, for an HTTP status.
        let (d, s) = (dist.clone(), svc.clone());
        let r = format!("{host}/broken/app:nope");
        let e = run_streamed(move |sink| async move {
            pull(&d, &s, &r, &PullOptions::default(), &sink)
                .await
                .map(|_| ())
        })
        .await
        .err()
        .expect("fails before streaming");
        assert_eq!(e.status(), 404, "{e}");
        // After "Pulling from": a stream that ends with the error message.
        let (d, s) = (dist.clone(), svc.clone());
        let r = format!("{host}/broken/app");
        let stream = run_streamed(move |sink| async move {
            pull(&d, &s, &r, &PullOptions::default(), &sink)
                .await
                .map(|_| ())
        })
        .await
        .expect("streams");
        let msgs: Vec<_> = stream.collect().await;
        assert_eq!(msgs[0].status.as_deref(), Some("Pulling from broken/app"));
        let last = serde_json::to_string(msgs.last().unwrap()).unwrap();
        let ld = fixture_layer("busybox-oci").digest;
        assert!(
            last.starts_with(&format!(
                r#"{{"error":"filesystem layer verification failed for digest {ld}"#
            )),
            "{last}"
        );
        server.abort();
    })
    .await
}
