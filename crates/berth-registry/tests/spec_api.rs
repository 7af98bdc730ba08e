//! Distribution-spec corner cases, driven over a real 127.0.0.1 socket by
//! reqwest against an in-process berth-registry.

mod common;

use berth_registry::AuthConfig;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

async fn error_code(r: reqwest::Response) -> String {
    let v: Value = r.json().await.expect("error body is JSON");
    v["errors"][0]["code"]
        .as_str()
        .expect("errors[0].code")
        .to_string()
}

/// Pushes `data` monolithically to `repo`; returns its digest.
async fn push_blob(c: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> String {
    let d = sha256(data);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "monolithic push of {d}");
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    d
}

fn image_manifest(config: &str, config_len: usize, layers: &[(&str, usize)]) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|(d, n)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n}))
        .collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_len},
        "layers": layers,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_blobs_and_ranges() {
    let dir = tempdir();
    let srv = start(dir.path(), AuthConfig::None, None).await;
    let base = srv.url();
    let c = client();

    let r = c.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let d = push_blob(&c, &base, "lib/a", &data).await;

    let r = c
        .head(format!("{base}/v2/lib/a/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "100000");
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());

    let r = c
        .get(format!("{base}/v2/lib/a/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);

    let r = c
        .get(format!("{base}/v2/lib/a/blobs/{d}"))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 10-19/100000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[10..20]);

    let r = c
        .get(format!("{base}/v2/lib/a/blobs/{d}"))
        .header("range", "bytes=200000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // A blob streamed in several 4 MiB mapped steps (larger than the size
    // read whole): the full body, ranges that cross step boundaries or
    // start off a page boundary, a suffix range and HEAD all agree with
    // the bytes pushed.
    let big: Vec<u8> = (0..(9 * 1024 * 1024 + 12_345u32))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let bd = push_blob(&c, &base, "lib/a", &big).await;
    let r = c
        .get(format!("{base}/v2/lib/a/blobs/{bd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-length"],
        big.len().to_string().as_str()
    );
    let got = r.bytes().await.unwrap();
    assert!(
        got.as_ref() == &big[..],
        "full body differs ({} bytes)",
        got.len()
    );
    let n = big.len();
    for (a, b) in [
        (1_048_575, 2_097_152),
        (5, n - 1),
        (2_097_152, 2_097_152),
        (4_194_303, 8_388_609),
        (4_197_001, n - 1),
        (n - 1, n - 1),
    ] {
        let r = c
            .get(format!("{base}/v2/lib/a/blobs/{bd}"))
            .header("range", format!("bytes={a}-{b}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {a}-{b}/{n}").as_str()
        );
        let got = r.bytes().await.unwrap();
        assert!(got.as_ref() == &big[a..=b], "range {a}-{b} differs");
    }
    let r = c
        .get(format!("{base}/v2/lib/a/blobs/{bd}"))
        .header("range", "bytes=-1500000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert!(r.bytes().await.unwrap().as_ref() == &big[n - 1_500_000..]);
    let r = c
        .head(format!("{base}/v2/lib/a/blobs/{bd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-length"], n.to_string().as_str());
    assert!(r.bytes().await.unwrap().is_empty());

    // Unknown blob, other repository, bad digest.
    let missing = sha256(b"nope");
    let r = c
        .get(format!("{base}/v2/lib/a/blobs/{missing}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    let r = c
        .get(format!("{base}/v2/lib/b/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .get(format!("{base}/v2/lib/a/blobs/sha256:xyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = c
        .get(format!("{base}/v2/Bad_Name/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "NAME_INVALID");

    // Cross-repository mount, then dedup: one stored copy.
    let r = c
        .post(format!(
            "{base}/v2/lib/b/blobs/uploads/?mount={d}&from=lib/a"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/lib/b/blobs/{d}").as_str()
    );
    // Deduplicated: still the two blobs pushed above (data, big).
    push_blob(&c, &base, "lib/c", &data).await;
    assert_eq!(count_files(&dir.path().join("blobs")), 2);
    // Mount of a blob the source lacks falls back to an upload session.
    let r = c
        .post(format!(
            "{base}/v2/lib/b/blobs/uploads/?mount={missing}&from=lib/a"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // Delete: gone from lib/a, still in lib/b.
    let r = c
        .delete(format!("{base}/v2/lib/a/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = c
        .head(format!("{base}/v2/lib/a/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .head(format!("{base}/v2/lib/b/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_errors_and_resume_after_restart() {
    let dir = tempdir();
    let srv = start(dir.path(), AuthConfig::None, None).await;
    let base = srv.url();
    let c = client();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let d = sha256(&data);

    let r = c
        .post(format!("{base}/v2/up/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/v2/up/blobs/uploads/"));

    let r = c
        .patch(format!("{base}{loc}"))
        .header("content-range", "0-99999")
        .header("content-type", "application/octet-stream")
        .body(data[..100_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["range"], "0-99999");
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    // The session belongs to repository "up": the same id under another
    // repository is unknown (status and chunk alike), and untouched.
    let id = loc.rsplit('/').next().unwrap().to_string();
    let r = c
        .get(format!("{base}/v2/other/blobs/uploads/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    let r = c
        .patch(format!("{base}/v2/other/blobs/uploads/{id}"))
        .header("content-range", "100000-100001")
        .body(b"xx".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    // One file per session in uploads/.
    assert_eq!(count_files(&dir.path().join("uploads")), 1);

    // Out of order chunk: 416, nothing kept.
    let r = c
        .patch(format!("{base}{loc}"))
        .header("content-range", "200000-299999")
        .body(data[200_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // Content-Range disagreeing with the body: 416 too.
    let r = c
        .patch(format!("{base}{loc}"))
        .header("content-range", "100000-100009")
        .body(vec![0u8; 5])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // Restart the server on the same root: the session resumes.
    srv.shutdown().await;
    let srv = start(dir.path(), AuthConfig::None, None).await;
    let base = srv.url();
    let r = c.get(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["range"], "0-99999");

    let r = c
        .patch(format!("{base}{loc}"))
        .header("content-range", "100000-199999")
        .body(data[100_000..200_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Final chunk with the PUT.
    let r = c
        .put(format!("{base}{loc}?digest={d}"))
        .header("content-range", "200000-299999")
        .body(data[200_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/up/blobs/{d}").as_str()
    );
    let r = c
        .get(format!("{base}/v2/up/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);

    // The finished session is gone.
    let r = c
        .patch(format!("{base}{loc}"))
        .body(b"more".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");

    // Digest mismatch: 400 DIGEST_INVALID, no blob visible.
    let r = c
        .post(format!("{base}/v2/up/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let wrong = sha256(b"something else");
    let r = c
        .put(format!("{base}{loc}?digest={wrong}"))
        .body(b"actual bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    for dg in [wrong, sha256(b"actual bytes")] {
        let r = c
            .head(format!("{base}/v2/up/blobs/{dg}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    // Monolithic mismatch too.
    let r = c
        .post(format!(
            "{base}/v2/up/blobs/uploads/?digest={}",
            sha256(b"x")
        ))
        .body(b"y".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");

    // Cancel.
    let r = c
        .post(format!("{base}/v2/up/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c.delete(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c.get(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // sha512 content.
    let d512 = berth_types::Digest::of(berth_types::Algorithm::Sha512, b"sha512 blob").to_string();
    let r = c
        .post(format!("{base}/v2/up/blobs/uploads/?digest={d512}"))
        .body(b"sha512 blob".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = c
        .get(format!("{base}/v2/up/blobs/{d512}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"sha512 blob");
    // Nothing left in uploads/ (all sessions finished or cancelled).
    assert_eq!(count_files(&dir.path().join("uploads")), 0);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_tags_referrers_catalog() {
    let dir = tempdir();
    let srv = start(dir.path(), AuthConfig::None, None).await;
    let base = srv.url();
    let c = client();
    let cfg = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"layer bytes";
    let cd = push_blob(&c, &base, "m/repo", cfg).await;
    let ld = push_blob(&c, &base, "m/repo", layer).await;

    // A manifest referencing a blob that was never uploaded: rejected, invisible.
    let ghost = sha256(b"ghost");
    let bad = image_manifest(&cd, cfg.len(), &[(&ghost, 5)]);
    let r = c
        .put(format!("{base}/v2/m/repo/manifests/bad"))
        .header("content-type", OCI_MANIFEST)
        .body(bad.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    let r = c
        .get(format!("{base}/v2/m/repo/manifests/bad"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = c
        .get(format!("{base}/v2/m/repo/manifests/{}", sha256(&bad)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Malformed manifests.
    for body in [
        &b"{not json"[..],
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
    ] {
        let r = c
            .put(format!("{base}/v2/m/repo/manifests/broken"))
            .header("content-type", OCI_MANIFEST)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    }

    // A good manifest under several tags.
    let good = image_manifest(&cd, cfg.len(), &[(&ld, layer.len())]);
    let gd = sha256(&good);
    for tag in ["v1", "v2", "v3", "latest"] {
        let r = c
            .put(format!("{base}/v2/m/repo/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(good.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["docker-content-digest"], gd.as_str());
    }
    // Push by a digest that does not match: DIGEST_INVALID.
    let r = c
        .put(format!("{base}/v2/m/repo/manifests/{}", sha256(b"other")))
        .header("content-type", OCI_MANIFEST)
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "DIGEST_INVALID");

    let r = c
        .get(format!("{base}/v2/m/repo/manifests/latest"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
    assert_eq!(r.headers()["docker-content-digest"], gd.as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &good[..]);
    let r = c
        .head(format!("{base}/v2/m/repo/manifests/{gd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-length"],
        good.len().to_string().as_str()
    );

    // Missing tag / repository.
    let r = c
        .get(format!("{base}/v2/m/repo/manifests/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = c
        .get(format!("{base}/v2/m/nothing/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let r = c
        .get(format!("{base}/v2/m/nothing/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");

    // Tag listing with pagination.
    let r = c
        .get(format!("{base}/v2/m/repo/tags/list"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"name": "m/repo", "tags": ["latest", "v1", "v2", "v3"]})
    );
    let r = c
        .get(format!("{base}/v2/m/repo/tags/list?n=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/m/repo/tags/list?n=2&last=v1>; rel=\"next\""
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!(["latest", "v1"]));
    let r = c
        .get(format!("{base}/v2/m/repo/tags/list?n=2&last=v1"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("link").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!(["v2", "v3"]));

    // Referrers: an artifact whose subject is the image.
    let empty = push_blob(&c, &base, "m/repo", b"{}").await;
    let art = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": gd, "size": good.len()},
        "annotations": {"org.example": "yes"},
    }))
    .unwrap();
    let ad = sha256(&art);
    let r = c
        .put(format!("{base}/v2/m/repo/manifests/{ad}"))
        .header("content-type", OCI_MANIFEST)
        .body(art.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["oci-subject"], gd.as_str());
    let r = c
        .get(format!("{base}/v2/m/repo/referrers/{gd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"][0]["digest"], ad.as_str());
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sbom"
    );
    assert_eq!(v["manifests"][0]["annotations"]["org.example"], "yes");
    let r = c
        .get(format!(
            "{base}/v2/m/repo/referrers/{gd}?artifactType=application/other"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"], json!([]));

    // An index over the image; an index naming a manifest not pushed is rejected.
    let index = |d: &str| {
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": d, "size": 1}]}))
        .unwrap()
    };
    let r = c
        .put(format!("{base}/v2/m/repo/manifests/multi"))
        .header("content-type", OCI_INDEX)
        .body(index(&gd))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = c
        .put(format!("{base}/v2/m/repo/manifests/multi2"))
        .header("content-type", OCI_INDEX)
        .body(index(&ghost))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");

    // Catalog.
    push_blob(&c, &base, "a/first", b"x").await;
    let r = c
        .get(format!("{base}/v2/_catalog?n=1"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("link").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], json!(["a/first"]));
    let r = c.get(format!("{base}/v2/_catalog")).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], json!(["a/first", "m/repo"]));

    // Delete a tag, then the manifest by digest (its other tags go too).
    let r = c
        .delete(format!("{base}/v2/m/repo/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = c
        .delete(format!("{base}/v2/m/repo/manifests/{ad}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = c
        .get(format!("{base}/v2/m/repo/referrers/{gd}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["manifests"], json!([]));
    let r = c
        .delete(format!("{base}/v2/m/repo/manifests/{gd}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = c
        .get(format!("{base}/v2/m/repo/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], json!(["multi"]));
    let r = c
        .get(format!("{base}/v2/m/repo/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_parallel_clients() {
    let dir = tempdir();
    let srv = start(dir.path(), AuthConfig::None, None).await;
    let base = srv.url();
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            let data: Vec<u8> = format!("blob number {i} ")
                .repeat(1000 + i as usize)
                .into_bytes();
            let repo = format!("par/r{}", i % 4);
            let d = push_blob(&c, &base, &repo, &data).await;
            let got = c
                .get(format!("{base}/v2/{repo}/blobs/{d}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(got.as_ref(), &data[..]);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(count_files(&dir.path().join("blobs")), 64);
    srv.shutdown().await;
}
