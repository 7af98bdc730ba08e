//! Faults: a server that serves wrong bytes for a layer, and a proxy that
//! cuts the connection in the middle of a blob once (the pull resumes
//! with a Range request).

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_distribution::{pull, Distribution, DistributionError, Options, PullOptions};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(240);

/// Reads an HTTP/1.1 request head (bounded to 64 KiB and 30 s).
async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let fut = async {
        loop {
            let n = s.read(&mut b).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&b[..n]);
            if buf[0] == 0x16 {
                // A TLS ClientHello (the client tries https first, as
                // dockerd does): answer like Go's net/http and close.
                let _ = s
                    .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                    .await;
                return None;
            }
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(String::from_utf8_lossy(&buf).into_owned());
            }
            if buf.len() > 64 << 10 {
                return None;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .ok()?
}

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
        let ld = "sha256:7a8bbac7ec7a7ddc63fcf715d94d04f1120346c758284080f0d1b54cb17a0fd6";
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

/// A proxy in front of a registry, one request per connection
/// (`Connection: close`), that cuts the first whole-blob GET of `cut_path`
/// after `cut_after` body bytes. Records every request's Range header.
/// (path, Range header) of every request, in order.
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct CuttingProxy {
    host: String,
    ranges: RequestLog,
    task: tokio::task::JoinHandle<()>,
}

async fn cutting_proxy(upstream: String, cut_path: String, cut_after: usize) -> CuttingProxy {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = l.local_addr().unwrap().to_string();
    let ranges: RequestLog = Arc::default();
    let cut_done = Arc::new(AtomicBool::new(false));
    let r2 = ranges.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let (upstream, cut_path, ranges, cut_done) = (
                upstream.clone(),
                cut_path.clone(),
                r2.clone(),
                cut_done.clone(),
            );
            tokio::spawn(async move {
                let Some(head) = read_head(&mut c).await else {
                    return;
                };
                let mut lines: Vec<&str> = head.trim_end().split("\r\n").collect();
                let path = lines[0].split_whitespace().nth(1).unwrap_or("").to_string();
                let range = lines
                    .iter()
                    .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                    .map(|l| l[6..].trim().to_string());
                ranges.lock().unwrap().push((path.clone(), range.clone()));
                lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
                let head = format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"));
                let Ok(mut u) = TcpStream::connect(&upstream).await else {
                    return;
                };
                if u.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let cut = path.starts_with("/v2/")
                    && path.ends_with(&cut_path)
                    && range.is_none()
                    && !cut_done.swap(true, Ordering::SeqCst);
                let mut sent = 0usize;
                let mut header_end: Option<usize> = None;
                let mut seen = Vec::new();
                let mut b = vec![0u8; 16 << 10];
                loop {
                    let n =
                        match tokio::time::timeout(Duration::from_secs(30), u.read(&mut b)).await {
                            Ok(Ok(n)) if n > 0 => n,
                            _ => break,
                        };
                    let mut chunk = &b[..n];
                    if cut {
                        if header_end.is_none() {
                            seen.extend_from_slice(chunk);
                            header_end = seen
                                .windows(4)
                                .position(|w| w == b"\r\n\r\n")
                                .map(|p| p + 4);
                        }
                        if let Some(h) = header_end {
                            let limit = h + cut_after;
                            if sent + chunk.len() >= limit {
                                chunk = &chunk[..limit.saturating_sub(sent)];
                                let _ = c.write_all(chunk).await;
                                // Drop the connection mid-body.
                                return;
                            }
                        }
                    }
                    if c.write_all(chunk).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
                let _ = c.shutdown().await;
            });
        }
    });
    CuttingProxy { host, ranges, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_resumes_with_range() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let upstream = host_of(&reg.url());
        skopeo_push("busybox-oci", &upstream, "library/busybox:latest", false).await;
        let ld = "sha256:7a8bbac7ec7a7ddc63fcf715d94d04f1120346c758284080f0d1b54cb17a0fd6";
        let proxy = cutting_proxy(upstream.clone(), format!("/blobs/{ld}"), 400_000).await;
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
        let reqs = proxy.ranges.lock().unwrap().clone();
        let layer_reqs: Vec<_> = reqs.iter().filter(|(p, _)| p.ends_with(ld)).collect();
        eprintln!("layer requests: {layer_reqs:?}");
        assert_eq!(layer_reqs.len(), 2, "{reqs:?}");
        assert_eq!(layer_reqs[0].1, None);
        let r = layer_reqs[1]
            .1
            .clone()
            .expect("the second request has a Range");
        let from: u64 = r
            .strip_prefix("bytes=")
            .and_then(|s| s.strip_suffix('-'))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad range {r}"));
        assert!(from > 0 && from <= 400_000, "resumed from {from}");
        let root = tmp.path().join("data");
        assert_eq!(assert_blobs_verified(&root), 3);
        assert!(ingest_files(&root).is_empty());
        proxy.task.abort();
        reg.shutdown().await;
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
        assert!(
            last.starts_with(
                r#"{"error":"filesystem layer verification failed for digest sha256:7a8bbac7ec7a"#
            ),
            "{last}"
        );
        server.abort();
    })
    .await
}
