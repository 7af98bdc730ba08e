//! A many-layer image (bounded parallel downloads, "Waiting", layers
//! shared between images), and a registry served over HTTPS.

mod common;

use std::process::Command;
use std::time::Duration;

use berth_distribution::{pull, Distribution, Options, PullOptions};
use berth_registry::{Config, Server, TlsPaths};
use berth_types::Digest;
use common::*;

const LIMIT: Duration = Duration::from_secs(240);

async fn put_blob(c: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> Digest {
    let d = Digest::sha256_of(data);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let loc = if loc.starts_with('/') {
        format!("{base}{loc}")
    } else {
        loc
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{loc}{sep}digest={d}"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    d
}

/// Pushes an image with one uncompressed one-file tar layer per entry of
/// `files` (same content, same blob: layers are shared between images).
async fn push_layers(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    files: &[&str],
    dir: &std::path::Path,
) -> Vec<Digest> {
    let mut layers = Vec::new();
    for (i, content) in files.iter().enumerate() {
        let src = dir.join(format!("src-{tag}-{i}"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join(format!("file{i}")), content.repeat(20_000)).unwrap();
        let tar = dir.join(format!("layer-{tag}-{i}.tar"));
        let out = run_bounded(
            Command::new("tar")
                .args(["--mtime=@0", "--owner=0", "--group=0", "-cf"])
                .arg(&tar)
                .arg("-C")
                .arg(&src)
                .arg("."),
            Duration::from_secs(30),
        );
        assert!(out.status.success());
        let data = std::fs::read(&tar).unwrap();
        let d = put_blob(c, base, repo, &data).await;
        layers.push((d, data.len()));
    }
    let diff_ids: Vec<String> = layers.iter().map(|(d, _)| format!("\"{d}\"")).collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/file0"]}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let cd = put_blob(c, base, repo, config.as_bytes()).await;
    let descs: Vec<String> = layers
        .iter()
        .map(|(d, n)| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{n}}}"#))
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        descs.join(",")
    );
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    layers.into_iter().map(|(d, _)| d).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_parallel_downloads_and_shared_layers() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        let base = reg.url().trim_end_matches('/').to_string();
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let a = push_layers(
            &c,
            &base,
            "many/layers",
            "a",
            &["a", "b", "c", "d", "e"],
            tmp.path(),
        )
        .await;
        let b = push_layers(&c, &base, "many/layers", "b", &["a", "b", "x"], tmp.path()).await;
        assert_eq!(a[..2], b[..2], "the first two layers are the same blobs");
        let dist = Distribution::new(Options {
            max_concurrent_downloads: 2,
            ..Default::default()
        })
        .unwrap();
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        pull(
            &dist,
            &svc,
            &format!("{host}/many/layers:a"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull a");
        let waiting: Vec<String> = rec
            .pairs()
            .into_iter()
            .filter(|(s, _)| s == "Waiting")
            .map(|(_, i)| i)
            .collect();
        assert_eq!(waiting.len(), 3, "5 layers, 2 at a time: {:?}", rec.pairs());
        for d in &a {
            assert!(rec.has("Pull complete", d.short()), "{:?}", rec.pairs());
        }
        // Pull complete comes in layer order (registration is bottom-up).
        let order: Vec<String> = rec
            .pairs()
            .into_iter()
            .filter(|(s, _)| s == "Pull complete")
            .map(|(_, i)| i)
            .collect();
        assert_eq!(
            order,
            a.iter().map(|d| d.short().to_string()).collect::<Vec<_>>()
        );
        rec.clear();
        pull(
            &dist,
            &svc,
            &format!("{host}/many/layers:b"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull b");
        assert!(rec.has("Already exists", a[0].short()));
        assert!(rec.has("Already exists", a[1].short()));
        assert!(rec.has("Pull complete", b[2].short()));
        // a: 5 layers, config, manifest; b: 1 new layer, config, manifest.
        assert_eq!(assert_blobs_verified(&tmp.path().join("data")), 7 + 3);
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_over_https_from_localhost() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let cert = tmp.path().join("cert.pem");
        let key = tmp.path().join("key.pem");
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
        let mut cfg = Config::new("127.0.0.1:0".parse().unwrap(), tmp.path().join("registry"));
        cfg.tls = Some(TlsPaths { cert, key });
        let reg = Server::start(cfg).await.expect("start https registry");
        let port = reg.local_addr().port();
        assert!(reg.url().starts_with("https://"), "{}", reg.url());
        let host = format!("localhost:{port}");
        skopeo_push("busybox-oci", &host, "library/busybox:latest", false).await;
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let dist = Distribution::new(Options::default()).unwrap();
        // Loopback is insecure by default: https without verification first.
        assert!(dist.endpoints(&host, true)[0].skip_verify);
        let out = pull(
            &dist,
            &svc,
            &format!("{host}/library/busybox"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull over https");
        assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));
        assert_eq!(
            rec.statuses().last().unwrap(),
            &format!("Status: Downloaded newer image for {host}/library/busybox:latest")
        );
        reg.shutdown().await;
    })
    .await
}
