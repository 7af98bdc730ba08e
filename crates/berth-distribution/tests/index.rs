//! A multi-platform index: linux/amd64 is busybox (pushed by skopeo),
//! linux/arm64 a tiny hand-made image; the index is written by hand.

mod common;

use std::process::Command;
use std::time::Duration;

use berth_distribution::{pull, Distribution, DistributionError, Options, Platform, PullOptions};
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
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    d
}

async fn put_manifest(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    reference: &str,
    mt: &str,
    data: &[u8],
) {
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("content-type", mt)
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_chooses_platform() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        let base = reg.url().trim_end_matches('/').to_string();
        let repo = "multi/app";
        skopeo_push("busybox-oci", &host, &format!("{repo}:amd64-only"), false).await;
        let c = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        // A tiny arm64 image: one uncompressed tar layer made by tar(1).
        let src = tmp.path().join("tiny");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("hello"), "arm64\n").unwrap();
        let tar = tmp.path().join("tiny.tar");
        let out = run_bounded(
            Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&src).arg("hello"),
            Duration::from_secs(30),
        );
        assert!(out.status.success());
        let layer = std::fs::read(&tar).unwrap();
        let ld = put_blob(&c, &base, repo, &layer).await;
        let config = format!(
            r#"{{"architecture":"arm64","variant":"v8","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{ld}"]}}}}"#
        );
        let cd = put_blob(&c, &base, repo, config.as_bytes()).await;
        let arm_manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        );
        let amd = Digest::sha256_of(arm_manifest.as_bytes());
        let arm_digest = amd.to_string();
        put_manifest(&c, &base, repo, &arm_digest, "application/vnd.oci.image.manifest.v1+json", arm_manifest.as_bytes()).await;
        let busy = fixture_manifest_digest("busybox-oci");
        let busy_size = std::fs::read(berth_testutil::fixture("busybox-oci").join("blobs/sha256").join(&busy[7..])).unwrap().len();
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{arm_digest}","size":{},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{busy}","size":{busy_size},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            arm_manifest.len()
        );
        let index_digest = Digest::sha256_of(index.as_bytes()).to_string();
        put_manifest(&c, &base, repo, "latest", "application/vnd.oci.image.index.v1+json", index.as_bytes()).await;

        let dist = Distribution::new(Options::default()).unwrap();
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let name = format!("{host}/{repo}");
        // Default: linux/amd64, the busybox entry; RepoDigests names the index.
        let out = pull(&dist, &svc, &name, &PullOptions::default(), &rec.sink()).await.expect("pull amd64");
        assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));
        assert_eq!(out.digest.to_string(), index_digest);
        assert!(rec.statuses().contains(&format!("Digest: {index_digest}")));
        let j = serde_json::to_value(svc.inspect(&name).unwrap()).unwrap();
        assert_eq!(j["RepoDigests"][0], format!("{name}@{index_digest}"));
        // --platform linux/arm64: the tiny image.
        let arm = PullOptions {
            platform: Some("linux/arm64".parse::<Platform>().unwrap()),
            ..Default::default()
        };
        let out = pull(&dist, &svc, &format!("{name}:latest"), &arm, &rec.sink()).await.expect("pull arm64");
        assert_eq!(out.id, cd);
        let j = serde_json::to_value(svc.inspect(&cd.to_string()).unwrap()).unwrap();
        assert_eq!(j["Architecture"], "arm64");
        // The tag now names the arm64 image, as in Docker.
        assert_eq!(svc.resolve(&name).unwrap(), cd);
        // A platform the index lacks.
        let s390 = PullOptions {
            platform: Some("linux/s390x".parse().unwrap()),
            ..Default::default()
        };
        let e = pull(&dist, &svc, &name, &s390, &rec.sink()).await.unwrap_err();
        assert!(matches!(e, DistributionError::NoMatchingPlatform(_)), "{e:?}");
        assert_eq!(e.to_string(), "no matching manifest for linux/s390x in the manifest list entries");
        assert_eq!(e.status(), 404);
        // A single-platform image pulled with another --platform: pulled,
        // with dockerd's warning after the Status line.
        rec.clear();
        let out = pull(&dist, &svc, &format!("{name}:amd64-only"), &arm, &rec.sink())
            .await
            .expect("pull with a platform warning");
        assert_eq!(out.id.to_string(), fixture_image_id("busybox-oci"));
        assert_eq!(
            rec.statuses().last().unwrap(),
            &format!("WARNING: image with reference {name} was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64")
        );
        let _ = amd;
        reg.shutdown().await;
    })
    .await
}
