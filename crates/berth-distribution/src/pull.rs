//! Fetching an image into the content store: resolve the reference to a
//! manifest (choosing a platform from an index), then download the config
//! and the layers, streamed and verified, at most
//! [`Options::max_concurrent_downloads`] at a time, resuming a dropped
//! download with a `Range` request.
//!
//! The config comes first: its `rootfs.diff_ids` give each layer's chain
//! ID, and a layer whose chain ID is in the layer store is not downloaded
//! ("Already exists"), even when its blob digest is new to the store (the
//! same layer compressed differently); neither is a blob that is in the
//! content store already.
//!
//! Every other layer blob streams, while it downloads, into
//! `berth_store::ContentStore::writer` (digest and size of its
//! descriptor) and through the decompressor into a temporary layer tree
//! ([`crate::extract`]), the diff ID computed on the uncompressed stream.
//! At the end of the blob the blob digest is checked, then the diff ID
//! against the config's, and only then is the blob committed; the tree is
//! committed as the layer by the registration. A failed check leaves no
//! blob, ingest file or tree. With a staging directory, each blob is also hard-linked to
//! `<staging>/blobs/<alg>/<hex>` as soon as it is committed (or found
//! present): the link keeps its data alive should the store's garbage
//! collector remove the not-yet-referenced blob before the image is
//! registered, and the directory is an OCI image layout once an
//! `index.json` is written.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_image::oci::{self, Descriptor, Manifest};
use berth_image::{ImageService, Reference};
use berth_store::{ContentStore, StoreError};
use berth_types::{Digest, Digester};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::auth::Credentials;
use crate::client::{Distribution, Options, Repository};
use crate::error::{DistributionError, RegistryFailure, Result};
use crate::extract::{ExtractedLayer, Extractor};
use crate::manifest::{self, Fetched, Platform, CONFIG_MAX};
use crate::progress::{JsonMessage, ProgressSink};

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// `--platform` (`None`: linux/amd64, and no check of a
    /// single-platform image's config).
    pub platform: Option<Platform>,
    /// Credentials (anonymous when empty).
    pub credentials: Credentials,
}

/// One layer of a fetched image.
#[derive(Debug, Clone)]
pub struct FetchedLayer {
    /// Its descriptor from the manifest.
    pub descriptor: Descriptor,
    /// True when the layer was not downloaded: its blob is in the content
    /// store, or its layer (chain ID) is in the layer store ("Already
    /// exists").
    pub already_present: bool,
    /// True when the layer (chain ID) is in the layer store: the blob was
    /// not downloaded, may be absent from the content store, and is not
    /// read at registration (see [`berth_image::PulledLayers::skipped`]).
    pub skipped: bool,
}

/// An image whose manifest and config are in the content store, and each
/// layer either downloaded (blob in the content store, tree extracted and
/// kept in `extracted`), or already there (blob or layer).
#[derive(Debug)]
pub struct FetchedImage {
    /// The normalised reference pulled.
    pub reference: Reference,
    /// The digest the tag resolved to (the index's, for a multi-platform
    /// image): what `Digest:` and RepoDigests show.
    pub digest: Digest,
    /// The platform manifest's digest.
    pub manifest_digest: Digest,
    /// Its media type.
    pub manifest_media_type: String,
    /// Its bytes.
    pub manifest_bytes: Vec<u8>,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The config bytes (digest `manifest.config.digest`).
    pub config: Vec<u8>,
    /// The layers, bottom first.
    pub layers: Vec<FetchedLayer>,
    /// The trees of the downloaded layers, by blob digest, extracted while
    /// downloading and not yet committed (dropping them removes them).
    pub extracted: std::collections::HashMap<Digest, ExtractedLayer>,
    /// dockerd's `WARNING: image with reference ... does not match the
    /// specified platform ...` for a single-platform image that is not
    /// the `--platform` asked for; sent after the `Status:` line.
    pub warning: Option<String>,
}

/// The familiar `name:tag` or `name@digest` as dockerd words pull errors.
pub(crate) fn familiar(r: &Reference) -> String {
    r.familiar()
}

fn tag_or_digest(r: &Reference) -> String {
    match (r.tag(), r.digest()) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        _ => "latest".to_string(),
    }
}

fn word_manifest_failure(
    r: &Reference,
    creds: &Credentials,
    f: &RegistryFailure,
) -> DistributionError {
    let detail = f.docker_text();
    let denied = f.status == 401
        || f.status == 403
        || f.has("NAME_UNKNOWN")
        || f.has("UNAUTHORIZED")
        || f.has("DENIED");
    if denied {
        if f.status == 401 && !creds.is_anonymous() {
            return DistributionError::Unauthorized(detail);
        }
        return DistributionError::PullAccessDenied {
            name: r.familiar_name(),
            detail,
        };
    }
    if f.status == 404 {
        let detail = if f.errors.is_empty() {
            "manifest unknown: manifest unknown".to_string()
        } else {
            detail
        };
        return DistributionError::ManifestUnknown {
            reference: familiar(r),
            detail,
        };
    }
    DistributionError::Registry(detail)
}

/// Links a committed blob into `staging/blobs/<alg>/<hex>` (a copy when a
/// hard link is impossible, e.g. across filesystems).
pub(crate) fn stage(content: &ContentStore, staging: &Path, d: &Digest) -> std::io::Result<()> {
    let dir = staging.join("blobs").join(d.algorithm().as_str());
    std::fs::create_dir_all(&dir)?;
    let dst = dir.join(d.hex());
    if dst.exists() {
        return Ok(());
    }
    let src = content.path(d);
    match std::fs::hard_link(&src, &dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(e),
        Err(_) => std::fs::copy(&src, &dst).map(|_| ()),
    }
}

/// True when the blob is present (and, with staging, now staged).
fn present(content: &ContentStore, staging: Option<&Path>, d: &Digest, size: u64) -> bool {
    if !content.contains(d) || content.size(d).ok() != Some(size) {
        return false;
    }
    match staging {
        Some(s) => stage(content, s, d).is_ok(),
        None => true,
    }
}

enum Cmd {
    Data(Bytes),
    Restart,
    Commit,
}

/// How the blob writer ended.
enum Written {
    /// Committed (and staged); with the layer tree when extracting.
    Committed(Option<ExtractedLayer>),
    /// The download was abandoned: nothing kept.
    Cancelled,
}

/// Why the blob writer failed.
enum WriteFailure {
    Store(StoreError),
    /// The blob's digest is not the descriptor's.
    Digest,
    /// The uncompressed stream's digest is not the config's diff ID.
    DiffId,
}

/// The blocking side of [`download_blob`]: writes the chunks to an ingest
/// file and, with `extract` (the expected diff ID), to an [`Extractor`]
/// too; at `Commit` checks the blob digest, then the diff ID, and only
/// then commits the blob (so neither a blob nor a layer of a bad download
/// is ever visible).
fn write_blob(
    svc: &ImageService,
    staging: Option<&Path>,
    digest: &Digest,
    size: u64,
    extract: Option<&Digest>,
    rx: &mut tokio::sync::mpsc::Receiver<Cmd>,
    report: Option<&LayerReport>,
) -> std::result::Result<Written, WriteFailure> {
    let store = svc.store();
    let content = &store.content;
    let open = || -> std::result::Result<_, StoreError> {
        let w = content.writer(Some(digest.clone()), Some(size))?;
        let x = match extract {
            Some(_) => Some((
                Extractor::start(store)?,
                Digester::for_algorithm(digest.algorithm()),
            )),
            None => None,
        };
        Ok((w, x))
    };
    let (mut w, mut x) = open().map_err(WriteFailure::Store)?;
    while let Some(c) = rx.blocking_recv() {
        match c {
            Cmd::Data(b) => {
                w.write_all(&b)
                    .map_err(|e| WriteFailure::Store(StoreError::io("ingest")(e)))?;
                if let Some((ex, dg)) = &mut x {
                    dg.update(&b);
                    ex.feed(b);
                }
            }
            Cmd::Restart => {
                // Drop the old writer and tree before making new ones.
                drop(x.take());
                drop(w);
                (w, x) = open().map_err(WriteFailure::Store)?;
            }
            Cmd::Commit => {
                let extracted = match x.take() {
                    None => None,
                    Some((ex, dg)) => {
                        if dg.current() != *digest {
                            return Err(WriteFailure::Digest);
                        }
                        let res = match report {
                            Some(r) => {
                                r.verified();
                                let mut last = None;
                                ex.finish_reporting(REPORT_EVERY, &mut |c| {
                                    if last != Some(c) {
                                        last = Some(c);
                                        r.extracting(c);
                                    }
                                })
                            }
                            None => ex.finish(),
                        };
                        let (tree, stats) = res.map_err(WriteFailure::Store)?;
                        if Some(&stats.diff_id) != extract {
                            tracing::warn!(blob = %digest, diff_id = %stats.diff_id,
                                expected = ?extract, "layer diff ID mismatch");
                            return Err(WriteFailure::DiffId);
                        }
                        Some(ExtractedLayer { tree, stats })
                    }
                };
                w.commit().map_err(|e| match e {
                    StoreError::DigestMismatch { .. } | StoreError::SizeMismatch { .. } => {
                        WriteFailure::Digest
                    }
                    e => WriteFailure::Store(e),
                })?;
                if let (Some(r), None) = (report, &extracted) {
                    r.verified();
                }
                if let Some(s) = staging {
                    stage(content, s, digest)
                        .map_err(|e| WriteFailure::Store(StoreError::io(s)(e)))?;
                }
                return Ok(Written::Committed(extracted));
            }
        }
    }
    Ok(Written::Cancelled) // dropping `w` and `x` removes the ingest file and tree
}

/// How often "Downloading" and "Extracting" progress is reported.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// Where [`download_blob`]'s writer reports a layer's later steps, in
/// dockerd's words and order (its `distribution/pull_v2.go`): "Verifying
/// Checksum" and "Download complete" once the last byte is in and the
/// digest matches, then, while the extraction that ran alongside the
/// download finishes what is left, "Extracting" with the compressed bytes
/// the decompressor has taken of the layer's `total` (dockerd counts the
/// same bytes). The final "Extracting" at 100% and "Pull complete" come
/// when the layer is registered ([`crate::image::register_fetched`]).
pub(crate) struct LayerReport {
    /// The pull's progress sink.
    pub sink: ProgressSink,
    /// The layer's short ID (12 hex digits of its blob digest).
    pub id: String,
    /// The blob's size in bytes (`total` of the progress).
    pub total: u64,
}

impl LayerReport {
    fn verified(&self) {
        (self.sink)(JsonMessage::layer("Verifying Checksum", self.id.clone()));
        (self.sink)(JsonMessage::layer("Download complete", self.id.clone()));
    }

    /// A progress step, unless it is the end (which registration reports).
    fn extracting(&self, consumed: u64) {
        if consumed < self.total {
            (self.sink)(JsonMessage::bytes(
                "Extracting",
                self.id.clone(),
                consumed,
                self.total,
            ));
        }
    }
}

fn fail(f: WriteFailure, digest: &Digest) -> DistributionError {
    match f {
        WriteFailure::Store(e) => DistributionError::Store(e),
        WriteFailure::Digest => DistributionError::DigestMismatch(digest.clone()),
        WriteFailure::DiffId => DistributionError::RootFsMismatch,
    }
}

/// Downloads blob `d` into the store (and staging), streaming, verified,
/// with resume (`Range: bytes=N-` after a broken body when the registry
/// answers 206, from 0 when it answers 200, at most
/// [`Options::max_download_attempts`] requests). With `extract` (the
/// layer's diff ID from the image config) the bytes are also decompressed
/// and applied into a temporary layer tree as they arrive, which is
/// returned once both the blob digest and the diff ID check out.
/// `on_bytes(done)` reports progress; `report`, for a layer, the steps
/// after the last byte ([`LayerReport`]). When `cancel` becomes true (another
/// layer of the pull failed) the download stops at its next chunk with
/// `Cancelled`, after its ingest file and tree are removed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn download_blob(
    repo: &Repository,
    opts: &Options,
    d: &Descriptor,
    svc: &Arc<ImageService>,
    staging: Option<&Path>,
    extract: Option<&Digest>,
    cancel: &AtomicBool,
    on_bytes: &mut (dyn FnMut(u64) + Send),
    report: Option<LayerReport>,
) -> Result<Option<ExtractedLayer>> {
    let size = d.size;
    let digest = d.digest.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Cmd>(32);
    let writer = {
        let svc = svc.clone();
        let digest = digest.clone();
        let staging = staging.map(Path::to_path_buf);
        let extract = extract.cloned();
        tokio::task::spawn_blocking(move || {
            write_blob(
                &svc,
                staging.as_deref(),
                &digest,
                size,
                extract.as_ref(),
                &mut rx,
                report.as_ref(),
            )
        })
    };
    let got = receive(repo, opts, &digest, size, &tx, cancel, on_bytes).await;
    let committing = got.is_ok() && tx.send(Cmd::Commit).await.is_ok();
    // Always wait for the writer: after a failure it sees the channel
    // close and removes its ingest file and tree before the pull reports.
    drop(tx);
    let written = writer.await;
    match got {
        Err(Some(e)) => Err(e),
        _ => match written {
            Ok(Ok(Written::Committed(x))) if committing => Ok(x),
            Ok(Err(f)) => Err(fail(f, &digest)),
            _ => Err(DistributionError::Cancelled),
        },
    }
}

/// The network side of [`download_blob`]: GETs the blob (with `Range`
/// after an interruption) and sends its bytes to the writer. `Err(None)`:
/// the writer stopped (its own error tells why).
async fn receive(
    repo: &Repository,
    opts: &Options,
    digest: &Digest,
    size: u64,
    tx: &tokio::sync::mpsc::Sender<Cmd>,
    cancel: &AtomicBool,
    on_bytes: &mut (dyn FnMut(u64) + Send),
) -> std::result::Result<(), Option<DistributionError>> {
    let mut offset = 0u64;
    let mut attempt = 1u32;
    let mut delay = opts.retry_delay;
    let max = opts.max_download_attempts.max(1);
    'outer: loop {
        let retry = |attempt: &mut u32, delay: &mut Duration, why: &str| -> bool {
            if *attempt >= max {
                return false;
            }
            tracing::warn!(blob = %digest, attempt = *attempt, why, "download interrupted, retrying");
            *attempt += 1;
            let _ = why;
            *delay = (*delay * 2).min(Duration::from_secs(10));
            true
        };
        let resp = match repo.get_blob(digest, offset).await {
            Ok(r) => r,
            Err(e) => {
                let wait = delay;
                if retry(&mut attempt, &mut delay, &e.to_string()) {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(Some(e));
            }
        };
        let status = resp.status().as_u16();
        match status {
            200 => {
                if offset > 0 {
                    // No range support: start over.
                    if tx.send(Cmd::Restart).await.is_err() {
                        return Err(None);
                    }
                    offset = 0;
                    on_bytes(0);
                }
            }
            206 => {
                let start = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.strip_prefix("bytes "))
                    .and_then(|s| s.split('-').next())
                    .and_then(|s| s.parse::<u64>().ok());
                if start != Some(offset) {
                    return Err(Some(DistributionError::Protocol(format!(
                        "blob {digest}: asked for bytes from {offset}, got range {start:?}"
                    ))));
                }
            }
            s if s >= 500 => {
                let wait = delay;
                if retry(&mut attempt, &mut delay, &format!("status {s}")) {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let f = Repository::failure(resp).await;
                return Err(Some(repo.word(s, &f)));
            }
            s => {
                let f = Repository::failure(resp).await;
                return Err(Some(repo.word(s, &f)));
            }
        }
        let mut stream = resp.bytes_stream();
        while let Some(item) = stream.next().await {
            if cancel.load(Ordering::SeqCst) {
                return Err(Some(DistributionError::Cancelled));
            }
            match item {
                Ok(b) => {
                    offset += b.len() as u64;
                    if offset > size {
                        return Err(Some(DistributionError::DigestMismatch(digest.clone())));
                    }
                    if tx.send(Cmd::Data(b)).await.is_err() {
                        return Err(None);
                    }
                    on_bytes(offset);
                }
                Err(e) => {
                    let wait = delay;
                    if retry(&mut attempt, &mut delay, &e.to_string()) {
                        tokio::time::sleep(wait).await;
                        continue 'outer;
                    }
                    return Err(Some(DistributionError::Transport(format!(
                        "blob {digest}: {e} after {offset} of {size} bytes"
                    ))));
                }
            }
        }
        if offset < size {
            let wait = delay;
            if retry(&mut attempt, &mut delay, "connection closed early") {
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(Some(DistributionError::Transport(format!(
                "blob {digest}: unexpected EOF after {offset} of {size} bytes"
            ))));
        }
        return Ok(());
    }
}

/// Progress of one layer, throttled to one "Downloading" message per
/// [`REPORT_EVERY`] (plus the last).
fn downloading(progress: &ProgressSink, id: String, total: u64) -> impl FnMut(u64) + Send {
    let progress = progress.clone();
    let mut last: Option<Instant> = None;
    move |done| {
        let now = Instant::now();
        if done == total || last.is_none_or(|l| now.duration_since(l) >= REPORT_EVERY) {
            last = Some(now);
            progress(JsonMessage::bytes("Downloading", id.clone(), done, total));
        }
    }
}

/// Resolves `reference` and downloads everything the image needs into
/// `content` (see the module docs), emitting Docker's pull messages up to
/// "Download complete" / "Already exists". The caller registers the image
/// and emits the final "Digest:" and "Status:" lines.
pub async fn fetch(
    dist: &Distribution,
    svc: &Arc<ImageService>,
    staging: Option<&Path>,
    reference: &Reference,
    opts: &PullOptions,
    image_exists: &(dyn Fn(&Digest) -> bool + Send + Sync),
    progress: &ProgressSink,
) -> Result<FetchedImage> {
    let creds = &opts.credentials;
    let content = &svc.store().content;
    let want = tag_or_digest(reference);
    // The manifest from the first endpoint that has it (mirrors first).
    let mut last_err = None;
    let mut found = None;
    for ep in dist.endpoints(reference.domain(), true) {
        let repo = match dist
            .open(
                &ep,
                reference.domain(),
                reference.path(),
                creds,
                &["pull"],
                &[],
            )
            .await
        {
            Ok(r) => r,
            Err(e @ DistributionError::Transport(_)) => {
                last_err = Some(e);
                continue;
            }
            Err(e) if ep.mirror => {
                last_err = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        if repo.needs_basic_credentials() {
            // dockerd's words (its first request is a HEAD of the manifest).
            return Err(DistributionError::Unauthorized(format!(
                "Head \"{}\": no basic auth credentials",
                repo.url(&format!(
                    "manifests/{}",
                    reference
                        .digest()
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| want.clone())
                ))
            )));
        }
        let lookup = match reference.digest() {
            Some(d) => d.to_string(),
            None => want.clone(),
        };
        match repo.get_manifest(&lookup).await {
            Ok(Ok(m)) => {
                found = Some((repo, m));
                break;
            }
            Ok(Err(f)) if ep.mirror => {
                tracing::info!(mirror = %ep.base, error = %f.docker_text(), "mirror failed, falling back");
                last_err = Some(word_manifest_failure(reference, creds, &f));
            }
            Ok(Err(f)) => return Err(word_manifest_failure(reference, creds, &f)),
            Err(e) if ep.mirror || matches!(e, DistributionError::Transport(_)) => {
                last_err = Some(e)
            }
            Err(e) => return Err(e),
        }
    }
    let Some((repo, top)) = found else {
        return Err(last_err.unwrap_or_else(|| {
            DistributionError::Transport(format!("no endpoint for {}", reference.domain()))
        }));
    };
    let top_digest = top.digest.clone();
    let was_index = berth_image::oci::is_index(&top.media_type);
    let (m, mdigest, mt, mbytes) = match manifest::parse(&top.media_type, &top.bytes)? {
        Fetched::Manifest(m) => (m, top.digest.clone(), top.media_type.clone(), top.bytes),
        Fetched::Index(idx) => {
            let platform = opts.platform.clone().unwrap_or_default();
            let d = platform.choose(&idx)?;
            let child = match repo.get_manifest(&d.digest.to_string()).await? {
                Ok(c) => c,
                Err(f) => return Err(word_manifest_failure(reference, creds, &f)),
            };
            if child.bytes.len() as u64 != d.size {
                return Err(DistributionError::ManifestDigestMismatch(d.digest.clone()));
            }
            match manifest::parse(&child.media_type, &child.bytes)? {
                Fetched::Manifest(m) => (m, child.digest, child.media_type, child.bytes),
                Fetched::Index(_) => {
                    return Err(DistributionError::Protocol(
                        "nested index where a manifest was expected".into(),
                    ))
                }
            }
        }
    };
    progress(JsonMessage::status_id(
        format!("Pulling from {}", reference.path()),
        if reference.tag().is_some() {
            want.clone()
        } else {
            familiar(reference)
        },
    ));
    let cmt = m.config.media_type.as_str();
    if cmt != oci::MT_OCI_CONFIG && cmt != oci::MT_DOCKER_CONFIG {
        return Err(DistributionError::Protocol(format!(
            "unsupported config media type {cmt:?}"
        )));
    }
    if m.config.size > CONFIG_MAX {
        return Err(DistributionError::Protocol(format!(
            "config of {} bytes is too large",
            m.config.size
        )));
    }
    // The manifest itself, verified by its digest.
    content.put(&mbytes, Some(mdigest.clone()))?;
    if let Some(s) = staging {
        stage(content, s, &mdigest).map_err(StoreError::io(s))?;
    }
    // The config first: its diff IDs tell which layers the store has.
    if !present(content, staging, &m.config.digest, m.config.size) {
        download_blob(
            &repo,
            dist.options(),
            &m.config,
            svc,
            staging,
            None,
            &AtomicBool::new(false),
            &mut |_| {},
            None,
        )
        .await?;
    }
    let config = content.read(&m.config.digest)?;
    let mut warning = None;
    if let Some(p) = &opts.platform {
        if !was_index {
            warning = check_platform(reference, p, &config)?;
        }
    }
    let diff_ids = config_diff_ids(&config)?;
    if diff_ids.len() != m.layers.len() {
        return Err(DistributionError::Protocol(format!(
            "config {} lists {} diff IDs but the manifest has {} layers",
            m.config.digest,
            diff_ids.len(),
            m.layers.len()
        )));
    }
    let chains = berth_store::chain_ids(&diff_ids);
    // Layers: a layer whose chain ID is in the store is not downloaded,
    // whatever its blob (the same layer compressed differently elsewhere);
    // a blob already in the content store is not downloaded either (it is
    // unpacked at registration). Announce the others. When the image (its
    // config) is registered and everything is here, dockerd says nothing
    // per layer.
    let store = svc.store();
    let mut layers = Vec::new();
    let state: Vec<(bool, bool)> = m
        .layers
        .iter()
        .zip(&chains)
        .map(|(l, chain)| {
            let have_layer = matches!(store.has_layer(chain), Ok(true));
            let have_blob = present(content, staging, &l.digest, l.size);
            (have_layer, have_blob)
        })
        .collect();
    let quiet = image_exists(&m.config.digest) && state.iter().all(|(a, b)| *a || *b);
    for (l, (have_layer, have_blob)) in m.layers.iter().zip(state) {
        berth_store::Compression::from_media_type(&l.media_type)?;
        let here = have_layer || have_blob;
        if !quiet {
            progress(JsonMessage::layer(
                if here {
                    "Already exists"
                } else {
                    "Pulling fs layer"
                },
                l.digest.short(),
            ));
        }
        layers.push(FetchedLayer {
            descriptor: l.clone(),
            already_present: here,
            skipped: have_layer,
        });
    }
    // The missing layers, bounded, each extracted as it downloads.
    let sem = Arc::new(tokio::sync::Semaphore::new(
        dist.options().max_concurrent_downloads.max(1),
    ));
    let repo = &repo;
    // A failed layer stops the others, and the pull waits for them to
    // clean up (try_join_all would drop them mid-write: their ingest files
    // and trees would go only later, from the blocking pool).
    let failed = &AtomicBool::new(false);
    let jobs = layers
        .iter()
        .zip(&diff_ids)
        .filter(|(l, _)| !l.already_present)
        .map(|(l, diff_id)| {
            let sem = sem.clone();
            let d = l.descriptor.clone();
            async move {
                let id = d.digest.short().to_string();
                let r = async {
                    let permit = match sem.clone().try_acquire_owned() {
                        Ok(p) => p,
                        Err(_) => {
                            progress(JsonMessage::layer("Waiting", id.clone()));
                            sem.acquire_owned()
                                .await
                                .map_err(|_| DistributionError::Cancelled)?
                        }
                    };
                    if failed.load(Ordering::SeqCst) {
                        return Err(DistributionError::Cancelled);
                    }
                    let mut report = downloading(progress, id.clone(), d.size);
                    let x = download_blob(
                        repo,
                        dist.options(),
                        &d,
                        svc,
                        staging,
                        Some(diff_id),
                        failed,
                        &mut report,
                        Some(LayerReport {
                            sink: progress.clone(),
                            id,
                            total: d.size,
                        }),
                    )
                    .await?;
                    drop(permit);
                    Ok::<_, DistributionError>((d.digest, x))
                }
                .await;
                if r.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                r
            }
        });
    let mut extracted = std::collections::HashMap::new();
    let mut first_err: Option<DistributionError> = None;
    for r in futures_util::future::join_all(jobs).await {
        match r {
            Ok((d, Some(x))) => {
                extracted.insert(d, x);
            }
            Ok((_, None)) => {}
            // The layer that failed first, not the ones it stopped.
            Err(DistributionError::Cancelled) if first_err.is_some() => {}
            Err(e) => {
                if matches!(first_err, None | Some(DistributionError::Cancelled)) {
                    first_err = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(FetchedImage {
        reference: reference.clone(),
        digest: top_digest,
        manifest_digest: mdigest,
        manifest_media_type: mt,
        manifest_bytes: mbytes,
        manifest: m,
        config,
        layers,
        extracted,
        warning,
    })
}

/// The config's `rootfs.diff_ids`.
fn config_diff_ids(config: &[u8]) -> Result<Vec<Digest>> {
    #[derive(serde::Deserialize)]
    struct Cfg {
        rootfs: RootFs,
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        diff_ids: Vec<Digest>,
    }
    let c: Cfg = serde_json::from_slice(config)
        .map_err(|e| DistributionError::Protocol(format!("invalid image config: {e}")))?;
    Ok(c.rootfs.diff_ids)
}

/// dockerd's warning when a single-platform image is not the `--platform`
/// asked for (the image is pulled all the same).
fn check_platform(r: &Reference, p: &Platform, config: &[u8]) -> Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Cfg {
        #[serde(default)]
        os: String,
        #[serde(default)]
        architecture: String,
        #[serde(default)]
        variant: Option<String>,
    }
    let c: Cfg = serde_json::from_slice(config)
        .map_err(|e| DistributionError::Protocol(format!("invalid image config: {e}")))?;
    let actual = oci::Platform {
        architecture: c.architecture,
        os: c.os,
        variant: c.variant,
        os_version: None,
    };
    if p.matches(&actual) {
        return Ok(None);
    }
    let mut a = format!("{}/{}", actual.os, actual.architecture);
    if let Some(v) = &actual.variant {
        a.push('/');
        a.push_str(v);
    }
    Ok(Some(format!(
        "WARNING: image with reference {} was found but does not match the specified platform: wanted {p}, actual: {a}",
        r.familiar_name()
    )))
}
