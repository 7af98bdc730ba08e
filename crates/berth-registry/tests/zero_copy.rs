//! Plain-HTTP blob GETs take the zero-copy path (sendfile(2) from the
//! blob file) and stay byte-exact; TLS GETs do not use it, nor, by
//! default, loopback peers (Config::sendfile_loopback). One test in
//! this binary, so the process-wide sendfile counter sees only its
//! own requests.

mod common;

use berth_registry::{sendfile_bytes, AuthConfig};
use common::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_and_ranged_gets_use_sendfile_and_are_exact() {
    let dir = tempdir();
    // The test's client is on loopback, where sendfile is off unless
    // asked for (Config::sendfile_loopback).
    let mut cfg =
        berth_registry::Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("root"));
    cfg.sendfile_loopback = true;
    let srv = berth_registry::Server::start(cfg)
        .await
        .expect("start registry");
    let base = srv.url();
    let c = client();
    let big: Vec<u8> = (0..(9 * 1024 * 1024 + 12_345u32))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let d = sha256(&big);
    let r = c
        .post(format!("{base}/v2/z/c/blobs/uploads/?digest={d}"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let before = sendfile_bytes();
    let r = c
        .get(format!("{base}/v2/z/c/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let got = r.bytes().await.unwrap();
    assert!(
        got.as_ref() == &big[..],
        "full body differs ({} bytes)",
        got.len()
    );
    assert_eq!(
        sendfile_bytes() - before,
        big.len() as u64,
        "whole body by sendfile"
    );

    // Across the 4 MiB steps, starting off a page boundary.
    let (a, b) = (4_194_303usize, 8_388_609usize);
    let before = sendfile_bytes();
    let r = c
        .get(format!("{base}/v2/z/c/blobs/{d}"))
        .header("range", format!("bytes={a}-{b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    let got = r.bytes().await.unwrap();
    assert!(got.as_ref() == &big[a..=b], "range differs");
    assert_eq!(sendfile_bytes() - before, (b - a + 1) as u64);
    srv.shutdown().await;

    // The default server: plain HTTP to a loopback peer copies (the
    // faster way there), same bytes.
    let srv = start(&dir.path().join("root"), AuthConfig::None, None).await;
    let before = sendfile_bytes();
    let r = c
        .get(format!("{}/v2/z/c/blobs/{d}", srv.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().as_ref() == &big[..]);
    assert_eq!(sendfile_bytes(), before, "no sendfile to a loopback peer");
    srv.shutdown().await;

    // TLS: same bytes, none by sendfile.
    let (tls, _certdir) = make_tls(&dir.path().join("tls"));
    let cert = std::fs::read(&tls.cert).unwrap();
    let srv = start(&dir.path().join("root"), AuthConfig::None, Some(tls)).await;
    let c = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let before = sendfile_bytes();
    let r = c
        .get(format!("{}/v2/z/c/blobs/{d}", srv.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().as_ref() == &big[..]);
    assert_eq!(sendfile_bytes(), before);
    srv.shutdown().await;
}
