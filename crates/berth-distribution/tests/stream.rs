//! Layers extracted while they download (gzip, zstd, plain tar), the diff
//! ID checked against the config before anything becomes visible, and a
//! layer already in the store (by chain ID) not downloaded again when the
//! same layer comes compressed differently from another repository.
//! Against an in-process berth-registry; images built here, pushed with
//! the distribution API.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_distribution::{pull, Distribution, Options, PullOptions};
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

#[derive(Clone, Copy, Debug)]
enum Comp {
    Plain,
    Gzip,
    Zstd,
}

impl Comp {
    fn media_type(self) -> &'static str {
        match self {
            Comp::Plain => "application/vnd.oci.image.layer.v1.tar",
            Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
    fn compress(self, tar: &[u8]) -> Vec<u8> {
        match self {
            Comp::Plain => tar.to_vec(),
            Comp::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(tar).unwrap();
                e.finish().unwrap()
            }
            Comp::Zstd => zstd::encode_all(tar, 3).unwrap(),
        }
    }
}

/// A tar of one directory holding `name` (`content` repeated to ~1 MB)
/// and a subdirectory with a symlink.
fn make_tar(dir: &Path, name: &str, content: &str) -> Vec<u8> {
    let src = dir.join(format!("src-{name}"));
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join(name), content.repeat(1_000_000 / content.len())).unwrap();
    std::os::unix::fs::symlink(format!("../{name}"), src.join("sub/link")).unwrap();
    let tar = dir.join(format!("{name}.tar"));
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
    std::fs::read(&tar).unwrap()
}

/// One layer to push: its tar, how to compress it, and the diff ID the
/// config claims (the tar's own unless overridden).
struct Layer {
    tar: Vec<u8>,
    comp: Comp,
    claimed_diff_id: Option<Digest>,
}

/// Pushes an image of `layers` to `repo:tag`; `label` makes the config
/// (the image ID) differ between images with the same layers. Returns the
/// layer blob digests.
async fn push_image(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    label: &str,
    layers: &[Layer],
) -> Vec<Digest> {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    let mut digests = Vec::new();
    for l in layers {
        let blob = l.comp.compress(&l.tar);
        let d = put_blob(c, base, repo, &blob).await;
        descs.push(format!(
            r#"{{"mediaType":"{}","digest":"{d}","size":{}}}"#,
            l.comp.media_type(),
            blob.len()
        ));
        let diff = l
            .claimed_diff_id
            .clone()
            .unwrap_or_else(|| Digest::sha256_of(&l.tar));
        diff_ids.push(format!("\"{diff}\""));
        digests.push(d);
    }
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"l":"{label}"}}}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let cd = put_blob(c, base, repo, config.as_bytes()).await;
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
    digests
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Names under `<root>/layers` (chain IDs and `.tmp-*` trees).
fn layer_dirs(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("layers"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_zstd_and_plain_layers_are_extracted_while_downloading() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        let base = reg.url().trim_end_matches('/').to_string();
        let c = client();
        let tars: Vec<Vec<u8>> = ["plain", "gz", "zst"]
            .iter()
            .map(|n| make_tar(tmp.path(), n, &format!("{n} layer data ")))
            .collect();
        let layers: Vec<Layer> = tars
            .iter()
            .zip([Comp::Plain, Comp::Gzip, Comp::Zstd])
            .map(|(t, comp)| Layer {
                tar: t.clone(),
                comp,
                claimed_diff_id: None,
            })
            .collect();
        let blobs = push_image(&c, &base, "stream/three", "v1", "a", &layers).await;
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let dist = Distribution::new(Options::default()).unwrap();
        let out = pull(
            &dist,
            &svc,
            &format!("{host}/stream/three:v1"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull");
        // Per layer, dockerd's order: Downloading..., Verifying Checksum,
        // Download complete, Extracting..., Pull complete.
        let pairs = rec.pairs();
        for b in &blobs {
            let mut seq: Vec<&str> = pairs
                .iter()
                .filter(|(_, i)| i == b.short())
                .map(|(s, _)| s.as_str())
                .filter(|s| *s != "Downloading" && *s != "Waiting")
                .collect();
            seq.dedup();
            assert_eq!(
                seq,
                [
                    "Pulling fs layer",
                    "Verifying Checksum",
                    "Download complete",
                    "Extracting",
                    "Pull complete"
                ],
                "{b}: {pairs:?}"
            );
            assert!(rec.has("Downloading", b.short()), "{pairs:?}");
        }
        let root = tmp.path().join("data");
        let store = svc.store();
        let diff_ids: Vec<Digest> = tars.iter().map(|t| Digest::sha256_of(t)).collect();
        let chains = berth_store::chain_ids(&diff_ids);
        for (chain, name) in chains.iter().zip(["plain", "gz", "zst"]) {
            let dir = store.layer_dir(chain);
            let data = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                data.len(),
                1_000_000 / format!("{name} layer data ").len()
                    * format!("{name} layer data ").len()
            );
            assert_eq!(
                std::fs::read_link(dir.join("sub/link")).unwrap(),
                Path::new(&format!("../{name}"))
            );
        }
        let img = svc.inspect(&format!("{host}/stream/three:v1")).unwrap();
        assert_eq!(img.id, out.id.to_string());
        assert_eq!(
            layer_dirs(&root),
            {
                let mut v: Vec<String> = chains.iter().map(|c| c.hex().to_string()).collect();
                v.sort();
                v
            },
            "the three layers and no temporary trees"
        );
        // 3 layers + config + manifest, every one verified.
        assert_eq!(assert_blobs_verified(&root), 5);
        assert!(ingest_files(&root).is_empty());
        assert!(staging_dirs(&root).is_empty());
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_id_mismatch_fails_and_leaves_nothing() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        let base = reg.url().trim_end_matches('/').to_string();
        let c = client();
        let good = make_tar(tmp.path(), "good", "good ");
        let bad = make_tar(tmp.path(), "bad", "bad ");
        // The config claims another tar's diff ID for the second layer:
        // its blob digest is right, its content is not the image's.
        let layers = [
            Layer {
                tar: good.clone(),
                comp: Comp::Gzip,
                claimed_diff_id: None,
            },
            Layer {
                tar: bad,
                comp: Comp::Zstd,
                claimed_diff_id: Some(Digest::sha256_of(&good)),
            },
        ];
        push_image(&c, &base, "stream/lies", "v1", "x", &layers).await;
        let svc = image_service(tmp.path(), "data");
        let rec = Recorder::default();
        let dist = Distribution::new(Options::default()).unwrap();
        let e = pull(
            &dist,
            &svc,
            &format!("{host}/stream/lies:v1"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "layers from manifest don't match image configuration"
        );
        assert_eq!(e.status(), 500);
        assert!(!rec.statuses().iter().any(|s| s == "Pull complete"));
        let root = tmp.path().join("data");
        assert_eq!(
            layer_dirs(&root),
            Vec::<String>::new(),
            "no layer, no temporary tree"
        );
        assert_eq!(assert_blobs_verified(&root), 0, "no blob");
        assert!(ingest_files(&root).is_empty(), "{:?}", ingest_files(&root));
        assert!(staging_dirs(&root).is_empty());
        assert!(svc.inspect(&format!("{host}/stream/lies:v1")).is_err());
        reg.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_in_the_store_is_not_downloaded_again_when_compressed_differently() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        let base = reg.url().trim_end_matches('/').to_string();
        let c = client();
        let base_tar = make_tar(tmp.path(), "base", "shared base ");
        let top_tar = make_tar(tmp.path(), "top", "top of two ");
        let a = push_image(
            &c,
            &base,
            "one/a",
            "v1",
            "a",
            &[Layer {
                tar: base_tar.clone(),
                comp: Comp::Gzip,
                claimed_diff_id: None,
            }],
        )
        .await;
        // The same layer, zstd this time, under another image in another
        // repository, with a layer of its own on top.
        let b = push_image(
            &c,
            &base,
            "two/b",
            "v1",
            "b",
            &[
                Layer {
                    tar: base_tar.clone(),
                    comp: Comp::Zstd,
                    claimed_diff_id: None,
                },
                Layer {
                    tar: top_tar.clone(),
                    comp: Comp::Gzip,
                    claimed_diff_id: None,
                },
            ],
        )
        .await;
        assert_ne!(a[0], b[0], "different blobs of the same layer");
        let svc = image_service(tmp.path(), "data");
        let dist = Distribution::new(Options::default()).unwrap();
        let rec = Recorder::default();
        pull(
            &dist,
            &svc,
            &format!("{host}/one/a:v1"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull a");
        rec.clear();
        let out = pull(
            &dist,
            &svc,
            &format!("{host}/two/b:v1"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull b");
        assert!(rec.has("Already exists", b[0].short()), "{:?}", rec.pairs());
        assert!(!rec.has("Downloading", b[0].short()), "{:?}", rec.pairs());
        assert!(!rec.has("Pull complete", b[0].short()), "{:?}", rec.pairs());
        assert!(rec.has("Pull complete", b[1].short()), "{:?}", rec.pairs());
        let store = svc.store();
        assert!(
            !store.content.contains(&b[0]),
            "the zstd blob of the shared layer was not downloaded"
        );
        let chains =
            berth_store::chain_ids(&[Digest::sha256_of(&base_tar), Digest::sha256_of(&top_tar)]);
        assert!(store.has_layer(&chains[0]).unwrap());
        assert!(store.has_layer(&chains[1]).unwrap());
        let img = svc.inspect(&format!("{host}/two/b:v1")).unwrap();
        assert_eq!(img.id, out.id.to_string());
        assert_eq!(img.root_fs.layers.len(), 2);
        // Saved: the archive carries the gzip blob for the layer, and loads
        // as the same image into a fresh store.
        let mut archive = Vec::new();
        svc.save(&[&format!("{host}/two/b:v1")], &mut archive)
            .expect("save of an image pulled without one of its blobs");
        let svc3 = image_service(tmp.path(), "data3");
        let loaded = svc3.load(archive.as_slice(), &mut |_| {}).expect("load");
        assert_eq!(loaded[0].id, out.id);
        assert!(svc3.store().has_layer(&chains[1]).unwrap());
        // Pushed to another registry: the layer goes as the gzip blob the
        // store has for its diff ID (the manifest names it instead of the
        // zstd one), and a pull from there gives the same image.
        let reg2 = berth_registry(&tmp.path().join("r2"), Auth::None).await;
        let host2 = host_of(&reg2.url());
        let pushed = format!("{host2}/three/c");
        svc.tag(&format!("{host}/two/b:v1"), &format!("{pushed}:v1"))
            .unwrap();
        let pr = Recorder::default();
        berth_distribution::push(
            &dist,
            &svc,
            &pushed,
            "v1",
            &berth_distribution::PushOptions::default(),
            &pr.sink(),
        )
        .await
        .expect("push of an image pulled without one of its blobs");
        let svc2 = image_service(tmp.path(), "data2");
        let back = pull(
            &dist,
            &svc2,
            &format!("{pushed}:v1"),
            &PullOptions::default(),
            &Recorder::default().sink(),
        )
        .await
        .expect("pull back");
        assert_eq!(back.id, out.id, "the same image (config) came back");
        assert!(
            svc2.store().content.contains(&a[0]),
            "the gzip blob was pushed"
        );
        assert!(svc2.store().has_layer(&chains[0]).unwrap());
        assert!(svc2.store().has_layer(&chains[1]).unwrap());
        reg2.shutdown().await;
        // Pulled again: up to date, nothing per layer.
        rec.clear();
        let again = pull(
            &dist,
            &svc,
            &format!("{host}/two/b:v1"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull b again");
        assert!(again.up_to_date);
        // Removing a keeps the shared layer for b.
        svc.remove(
            &format!("{host}/one/a:v1"),
            berth_image::RemoveOptions::default(),
            &[],
        )
        .expect("rmi a");
        svc.store().gc().unwrap();
        assert!(store.has_layer(&chains[0]).unwrap());
        let root = tmp.path().join("data");
        assert!(ingest_files(&root).is_empty());
        assert!(staging_dirs(&root).is_empty());
        assert!(!layer_dirs(&root).iter().any(|n| n.starts_with(".tmp-")));
        reg.shutdown().await;
    })
    .await
}

/// `n` pseudo-random (incompressible) bytes.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_is_unpacked_while_its_blob_is_still_downloading() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let upstream = host_of(&reg.url());
        let base = reg.url().trim_end_matches('/').to_string();
        let c = client();
        // A tar whose first member is `first`, then `second`; random
        // content, so the gzip blob is as large as the tar.
        let src = tmp.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("first"), noise(600_000, 1)).unwrap();
        std::fs::write(src.join("second"), noise(600_000, 2)).unwrap();
        let tar_path = tmp.path().join("l.tar");
        let out = run_bounded(
            Command::new("tar")
                .args(["--mtime=@0", "--owner=0", "--group=0", "-cf"])
                .arg(&tar_path)
                .arg("-C")
                .arg(&src)
                .args(["first", "second"]),
            Duration::from_secs(30),
        );
        assert!(out.status.success());
        let tar = std::fs::read(&tar_path).unwrap();
        let blobs = push_image(
            &c,
            &base,
            "stream/slow",
            "v1",
            "s",
            &[Layer {
                tar: tar.clone(),
                comp: Comp::Gzip,
                claimed_diff_id: None,
            }],
        )
        .await;
        let blob_len = Comp::Gzip.compress(&tar).len();
        // Hold the blob's response back after 3/4 of it (past `first`).
        let paused = std::sync::Arc::new(tokio::sync::Notify::new());
        let resume = std::sync::Arc::new(tokio::sync::Notify::new());
        let proxy = fault_proxy(
            upstream,
            format!("/blobs/{}", blobs[0]),
            Fault::Pause(blob_len * 3 / 4, paused.clone(), resume.clone()),
            false,
        )
        .await;
        let svc = image_service(tmp.path(), "data");
        let root = tmp.path().join("data");
        let dist = Distribution::new(Options::default()).unwrap();
        let name = format!("{}/stream/slow:v1", proxy.host);
        let job = {
            let svc = svc.clone();
            let name = name.clone();
            tokio::spawn(async move {
                let rec = Recorder::default();
                pull(&dist, &svc, &name, &PullOptions::default(), &rec.sink())
                    .await
                    .map(|_| rec)
            })
        };
        tokio::time::timeout(Duration::from_secs(60), paused.notified())
            .await
            .expect("the proxy reached the pause");
        // While the rest of the blob is held back, `first` is extracted
        // whole into a temporary tree, and nothing is visible yet.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let found = loop {
            let hit = layer_dirs(&root)
                .into_iter()
                .filter(|n| n.starts_with(".tmp-"))
                .map(|n| root.join("layers").join(n).join("diff/first"))
                .find(|p| std::fs::metadata(p).map(|m| m.len()).ok() == Some(600_000));
            if let Some(p) = hit {
                break p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no extracted `first` while the download is held: {:?}",
                layer_dirs(&root)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(std::fs::read(&found).unwrap(), noise(600_000, 1));
        assert!(
            !svc.store().content.contains(&blobs[0]),
            "blob not visible yet"
        );
        assert_eq!(ingest_files(&root).len(), 1, "the blob is being written");
        assert!(
            !layer_dirs(&root).iter().any(|n| !n.starts_with(".tmp-")),
            "no layer committed yet: {:?}",
            layer_dirs(&root)
        );
        resume.notify_one();
        let rec = job.await.unwrap().expect("pull");
        assert!(rec.has("Pull complete", blobs[0].short()));
        let chain = Digest::sha256_of(&tar);
        let dir = svc.store().layer_dir(&chain);
        assert_eq!(
            std::fs::read(dir.join("second")).unwrap(),
            noise(600_000, 2)
        );
        assert_eq!(layer_dirs(&root), vec![chain.hex().to_string()]);
        assert!(ingest_files(&root).is_empty());
        proxy.task.abort();
        reg.shutdown().await;
    })
    .await
}

/// A gzip tar of `n` empty files in 100 directories: small to download,
/// slow to extract (one inode per file).
fn many_files_tar(dir: &Path, n: usize) -> Vec<u8> {
    let src = dir.join("src-many");
    for i in 0..n {
        let d = src.join(format!("d{}", i % 100));
        if i < 100 {
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(d.join(format!("f{i}")), b"").unwrap();
    }
    let tar = dir.join("many.tar");
    let out = run_bounded(
        Command::new("tar")
            .args(["--mtime=@0", "--owner=0", "--group=0", "-cf"])
            .arg(&tar)
            .arg("-C")
            .arg(&src)
            .arg("."),
        Duration::from_secs(60),
    );
    assert!(out.status.success());
    std::fs::read(&tar).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extraction_that_outlasts_the_download_reports_extracting_progress() {
    bounded(LIMIT, async {
        let tmp = tempdir();
        let reg = berth_registry(tmp.path(), Auth::None).await;
        let host = host_of(&reg.url());
        let base = reg.url().trim_end_matches('/').to_string();
        let c = client();
        // ~20k inodes to create, from a blob of a few hundred KB: the
        // download is over long before the extraction.
        let tar = many_files_tar(tmp.path(), 20_000);
        let layers = [Layer {
            tar,
            comp: Comp::Gzip,
            claimed_diff_id: None,
        }];
        let blobs = push_image(&c, &base, "stream/many", "v1", "m", &layers).await;
        let id = blobs[0].short().to_string();
        let rec = Recorder::default();
        let dist = Distribution::new(Options::default()).unwrap();
        pull(
            &dist,
            &image_service(tmp.path(), "data"),
            &format!("{host}/stream/many:v1"),
            &PullOptions::default(),
            &rec.sink(),
        )
        .await
        .expect("pull");
        let mine: Vec<_> = rec
            .all()
            .into_iter()
            .filter(|m| m.id.as_deref() == Some(id.as_str()))
            .collect();
        let status = |m: &berth_distribution::JsonMessage| m.status.clone().unwrap_or_default();
        let complete = mine
            .iter()
            .position(|m| status(m) == "Download complete")
            .expect("Download complete");
        assert_eq!(status(&mine[complete - 1]), "Verifying Checksum");
        let extracting: Vec<(usize, u64, u64)> = mine
            .iter()
            .enumerate()
            .filter(|(_, m)| status(m) == "Extracting")
            .map(|(i, m)| {
                let d = m.progress_detail.as_ref().expect("progressDetail");
                (i, d.current.unwrap(), d.total.unwrap())
            })
            .collect();
        let pairs = rec.pairs();
        // Extracting only after Download complete, counting up to the
        // blob's size, with steps before the end (the extraction was still
        // at work), and Pull complete straight after the last one.
        assert!(extracting.len() >= 2, "{pairs:?}");
        assert!(
            extracting.iter().all(|(i, _, _)| *i > complete),
            "{pairs:?}"
        );
        let total = extracting[0].2;
        assert!(extracting.iter().all(|(_, _, t)| *t == total));
        assert!(extracting.windows(2).all(|w| w[0].1 <= w[1].1), "{pairs:?}");
        assert!(extracting[0].1 < total, "{pairs:?}");
        let (last, cur, _) = *extracting.last().unwrap();
        assert_eq!(cur, total);
        assert_eq!(status(&mine[last + 1]), "Pull complete");
        assert_eq!(last + 2, mine.len());
        let downloading = mine.iter().filter(|m| status(m) == "Downloading");
        assert!(downloading.clone().count() >= 1);
        assert!(mine[..complete].iter().all(|m| status(m) != "Extracting"));
    })
    .await;
}
