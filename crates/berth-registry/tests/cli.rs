//! The `berth-registry` binary: `serve --config FILE` and `gc` run against
//! it while it serves.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(base: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let c = client();
    loop {
        if let Ok(r) = c.get(format!("{base}/v2/")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("berth-registry exited early: {st}");
        }
        assert!(
            Instant::now() < deadline,
            "berth-registry did not answer within 30s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_config_file_and_gc_while_serving() {
    let dir = tempdir();
    let root = dir.path().join("root");
    let port = free_port();
    let cfg = dir.path().join("registry.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nroot = \"{}\"\n",
            root.display()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_berth-registry");
    let mut child = Proc(
        Command::new(bin)
            .args(["serve", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &mut child.0).await;
    let c = client();

    let push = |data: &'static [u8]| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let d = sha256(data);
            let r = c
                .post(format!("{base}/v2/gc/repo/blobs/uploads/?digest={d}"))
                .body(data)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            d
        }
    };
    let cfgd = push(b"{}").await;
    let layer = push(b"kept layer").await;
    let orphan = push(b"orphan layer").await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgd, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 10}],
    }))
    .unwrap();
    let r = c
        .put(format!("{base}/v2/gc/repo/manifests/latest"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // An upload session in progress must survive gc.
    let r = c
        .post(format!("{base}/v2/gc/repo/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();

    // Default grace keeps even the orphan.
    let mut g = Command::new(bin);
    g.args(["gc", "--root"]).arg(&root);
    let out = run_ok(g, Duration::from_secs(60)).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deleted 0"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let mut g = Command::new(bin);
    g.args(["gc", "--grace", "0", "--root"]).arg(&root);
    let out = run_ok(g, Duration::from_secs(60)).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains(&format!("deleted {orphan}")), "{text}");
    assert!(text.contains("live 3 "), "{text}");

    for (d, want) in [(&orphan, 404), (&layer, 200), (&cfgd, 200)] {
        let r = c
            .head(format!("{base}/v2/gc/repo/blobs/{d}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{d}");
    }
    let r = c
        .get(format!("{base}/v2/gc/repo/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &manifest[..]);
    let r = c.get(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), 204, "upload session survived gc");
    // The orphan can be pushed again after gc.
    assert_eq!(push(b"orphan layer").await, orphan);

    // SIGTERM stops it cleanly.
    let st = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            assert!(st.success(), "exit status {st}");
            break;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn binary_rejects_bad_configuration() {
    let dir = tempdir();
    let bin = env!("CARGO_BIN_EXE_berth-registry");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = 5\n").unwrap();
    let out = run_bounded(
        Command::new(bin).args(["serve", "--config"]).arg(&cfg),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let out = run_bounded(
        Command::new(bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--htpasswd",
                "/nonexistent/htpasswd",
                "--root",
            ])
            .arg(dir.path().join("r")),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("htpasswd"));
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// 128 MiB pushed in one streamed PATCH and pulled back: the server's peak
/// resident memory stays far below the blob's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_streams_large_blob_in_bounded_memory() {
    use futures_util::StreamExt;
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 128;
    let dir = tempdir();
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_berth-registry");
    let mut child = Proc(
        Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--root"])
            .arg(dir.path().join("root"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &mut child.0).await;
    let pid = child.0.id();
    let before = vm_hwm_kib(pid);

    let chunk = |i: usize| -> Vec<u8> {
        let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..CHUNK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let mut want = berth_types::Digester::for_algorithm(berth_types::Algorithm::Sha256);
    for i in 0..CHUNKS {
        want.update(&chunk(i));
    }
    let want = want.finish().to_string();

    let c = client();
    let r = c
        .post(format!("{base}/v2/big/blob/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let body =
        futures_util::stream::iter(0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(chunk(i)));
    let r = c
        .patch(format!("{base}{loc}"))
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.headers()["range"].to_str().unwrap(),
        format!("0-{}", CHUNK * CHUNKS - 1)
    );
    let r = c
        .put(format!("{base}{loc}?digest={want}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let r = c
        .get(format!("{base}/v2/big/blob/blobs/{want}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut got = berth_types::Digester::for_algorithm(berth_types::Algorithm::Sha256);
    let mut s = r.bytes_stream();
    while let Some(b) = s.next().await {
        got.update(&b.unwrap());
    }
    assert_eq!(got.len(), (CHUNK * CHUNKS) as u64);
    assert_eq!(got.finish().to_string(), want);

    let peak = vm_hwm_kib(pid);
    eprintln!("server VmHWM: {before} KiB at start, {peak} KiB after 128 MiB in and out");
    assert!(
        peak < before + 48 * 1024,
        "server peak RSS grew from {before} KiB to {peak} KiB for a 128 MiB blob"
    );
}
