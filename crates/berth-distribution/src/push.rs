//! `docker push`: the image's layers and config are uploaded unless the
//! registry has them (`HEAD`), mounted from another repository of the same
//! registry when the image is known there (`POST .../uploads/?mount=&from=`),
//! else uploaded monolithically (`POST` then `PUT ?digest=`) or in chunks
//! (`PATCH` with `Content-Range`, then `PUT`); then the stored manifest is
//! `PUT` under the tag, byte for byte, so the digest stays the same
//! (distribution-spec "Pushing blobs", "Pushing manifests").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_image::oci::{self, Manifest};
use berth_image::{ImageService, Reference};
use berth_store::{ContentStore, RefKind};
use berth_types::Digest;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use reqwest::Method;

use crate::auth::Credentials;
use crate::client::{Distribution, Repository};
use crate::error::{DistributionError, Result};
use crate::progress::{JsonMessage, ProgressSink};

/// Push settings.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Credentials (anonymous when empty).
    pub credentials: Credentials,
}

/// One tag pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedTag {
    /// The tag.
    pub tag: String,
    /// The manifest digest the registry has under it.
    pub digest: Digest,
    /// The manifest size, bytes.
    pub size: u64,
}

/// How a blob got to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobPush {
    /// It was there.
    Exists,
    /// Mounted from this repository path.
    Mounted(String),
    /// Uploaded.
    Uploaded,
}

type Counter = Arc<dyn Fn(u64) + Send + Sync>;

/// Uploads blob `d` (`size` bytes, in `content`) unless the registry has
/// it, trying a cross-repository mount from each of `mount_from` first.
pub async fn push_blob(
    repo: &Repository,
    content: &ContentStore,
    d: &Digest,
    size: u64,
    mount_from: &[String],
    chunk: Option<u64>,
    on_bytes: Counter,
) -> Result<BlobPush> {
    if repo.head_blob(d).await?.is_some() {
        return Ok(BlobPush::Exists);
    }
    let start = repo.url("blobs/uploads/");
    let mut location = None;
    for from in mount_from.iter().filter(|f| f.as_str() != repo.path()) {
        let url = format!("{start}?mount={d}&from={from}");
        let resp = repo
            .send(Method::POST, &url, |r| r.header(CONTENT_LENGTH, "0"))
            .await?;
        match resp.status().as_u16() {
            201 => return Ok(BlobPush::Mounted(from.clone())),
            202 => {
                location = Some(repo.location(&resp)?);
                break;
            }
            s => {
                let f = Repository::failure(resp).await;
                tracing::debug!(status = s, error = %f.docker_text(), "mount refused");
            }
        }
    }
    let mut loc = match location {
        Some(l) => l,
        None => {
            let resp = repo
                .send(Method::POST, &start, |r| r.header(CONTENT_LENGTH, "0"))
                .await?;
            if resp.status().as_u16() != 202 {
                let st = resp.status().as_u16();
                let f = Repository::failure(resp).await;
                return Err(repo.word(st, &f));
            }
            repo.location(&resp)?
        }
    };
    let path = content.path(d);
    if let Some(chunk) = chunk.filter(|c| *c > 0 && size > 0) {
        // Chunked: PATCH each range, then PUT ?digest= with no body.
        use std::io::{Read, Seek, SeekFrom};
        let mut off = 0u64;
        while off < size {
            let n = chunk.min(size - off);
            let p = path.clone();
            let data = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                let mut f = std::fs::File::open(&p)?;
                f.seek(SeekFrom::Start(off))?;
                let mut v = vec![0u8; n as usize];
                f.read_exact(&mut v)?;
                Ok(v)
            })
            .await
            .map_err(|_| DistributionError::Cancelled)?
            .map_err(|e| DistributionError::Store(berth_store::StoreError::io(&path)(e)))?;
            let body = Bytes::from(data);
            let range = format!("{off}-{}", off + n - 1);
            let resp = repo
                .send(Method::PATCH, loc.as_str(), |r| {
                    r.header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_RANGE, range.clone())
                        .header(CONTENT_LENGTH, n.to_string())
                        .body(body.clone())
                })
                .await?;
            if resp.status().as_u16() != 202 {
                let st = resp.status().as_u16();
                let f = Repository::failure(resp).await;
                return Err(repo.word(st, &f));
            }
            loc = repo.location(&resp)?;
            off += n;
            on_bytes(off);
        }
        loc.query_pairs_mut().append_pair("digest", &d.to_string());
        let resp = repo
            .send(Method::PUT, loc.as_str(), |r| r.header(CONTENT_LENGTH, "0"))
            .await?;
        return finish(repo, resp).await;
    }
    loc.query_pairs_mut().append_pair("digest", &d.to_string());
    let counted = Arc::new(AtomicU64::new(0));
    let resp = repo
        .send(Method::PUT, loc.as_str(), |r| {
            counted.store(0, Ordering::Relaxed);
            let body = match std::fs::File::open(&path) {
                Ok(f) => {
                    let counted = counted.clone();
                    let on_bytes = on_bytes.clone();
                    let s = tokio_util::io::ReaderStream::with_capacity(
                        tokio::fs::File::from_std(f),
                        256 << 10,
                    )
                    .map(move |c| {
                        if let Ok(b) = &c {
                            let n = counted.fetch_add(b.len() as u64, Ordering::Relaxed)
                                + b.len() as u64;
                            on_bytes(n);
                        }
                        c
                    });
                    reqwest::Body::wrap_stream(s)
                }
                Err(_) => reqwest::Body::from(Vec::new()),
            };
            r.header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size.to_string())
                .body(body)
        })
        .await?;
    finish(repo, resp).await
}

async fn finish(repo: &Repository, resp: reqwest::Response) -> Result<BlobPush> {
    match resp.status().as_u16() {
        201 | 204 => Ok(BlobPush::Uploaded),
        st => {
            let f = Repository::failure(resp).await;
            Err(repo.word(st, &f))
        }
    }
}

fn throttled(progress: &ProgressSink, id: String, total: u64) -> Counter {
    let progress = progress.clone();
    let last: Mutex<Option<Instant>> = Mutex::new(None);
    Arc::new(move |done| {
        let mut l = last.lock().expect("progress clock");
        let now = Instant::now();
        if done >= total || l.is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100)) {
            *l = Some(now);
            progress(JsonMessage::bytes(
                "Pushing",
                id.clone(),
                done.min(total),
                total,
            ));
        }
    })
}

/// `POST /images/{name}/push?tag=...`: pushes `name` (Docker's syntax:
/// `localhost:5000/app`, possibly with a tag) with `tag` (empty: the tag in
/// `name`, else every tag of that repository in the store), emitting
/// Docker's push messages: `The push refers to repository [...]`,
/// per layer (diff ID short) `Preparing`, `Waiting`, `Pushing`, `Pushed` /
/// `Layer already exists` / `Mounted from ...`, then `<tag>: digest:
/// sha256:... size: N` and the aux message `{"Tag","Digest","Size"}`.
///
/// Errors: `An image does not exist locally with the tag: ...` (404),
/// `unauthorized: ...` (401), `denied: ...` (403), registry errors (500).
pub async fn push(
    dist: &Distribution,
    svc: &Arc<ImageService>,
    name: &str,
    tag: &str,
    opts: &PushOptions,
    progress: &ProgressSink,
) -> Result<Vec<PushedTag>> {
    let named = Reference::parse_name_only(name)?;
    let repo_name = named.name();
    let db = &svc.store().db;
    // dockerd says this first, and reports a missing image in the stream.
    progress(JsonMessage::status(format!(
        "The push refers to repository [{repo_name}]"
    )));
    let tags: Vec<String> = if !tag.is_empty() {
        vec![tag.to_string()]
    } else if let Some(t) = named.tag() {
        vec![t.to_string()]
    } else {
        let mut v = Vec::new();
        for img in db.images()? {
            for (n, k) in db.refs_of(&img.id)? {
                if k != RefKind::Tag {
                    continue;
                }
                if let Ok(r) = Reference::parse(&n) {
                    if r.name() == repo_name {
                        v.extend(r.tag().map(str::to_string));
                    }
                }
            }
        }
        v.sort();
        v
    };
    if tags.is_empty() {
        return Err(DistributionError::NoSuchLocalImage(named.familiar_name()));
    }
    // Resolve every tag before talking to the registry.
    let mut images = Vec::new();
    for t in &tags {
        let full = named.with_tag(t);
        if db.resolve_ref(&full.to_string())?.is_none() {
            return Err(DistributionError::NoSuchLocalImage(named.familiar_name()));
        }
        images.push((t.clone(), svc.image_blobs(&full.to_string())?));
    }
    // Other repositories of this registry the images are known by: mount sources.
    let mut mount_from: Vec<String> = Vec::new();
    for (_, img) in &images {
        for (n, _) in db.refs_of(&img.id)? {
            if let Ok(r) = Reference::parse(&n) {
                if r.domain() == named.domain()
                    && r.path() != named.path()
                    && !mount_from.contains(&r.path().to_string())
                {
                    mount_from.push(r.path().to_string());
                }
            }
        }
    }
    let scopes: Vec<String> = mount_from
        .iter()
        .map(|p| format!("repository:{p}:pull"))
        .collect();
    let repo = dist
        .repository(
            named.domain(),
            named.path(),
            &opts.credentials,
            &["pull", "push"],
            false,
            &scopes,
        )
        .await?;
    let content = &svc.store().content;
    let mut out = Vec::new();
    for (t, img) in images {
        let (layers, mbytes) =
            substitute_absent_layers(svc, img.layers, &img.diff_ids, img.manifest_bytes)?;
        let m = Manifest {
            schema_version: 2,
            media_type: Some(img.manifest.media_type.clone()),
            config: img.config,
            layers,
            annotations: None,
        };
        let ids: Vec<String> = m
            .layers
            .iter()
            .zip(img.diff_ids.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(l, d)| d.unwrap_or(&l.digest).short().to_string())
            .collect();
        for id in &ids {
            progress(JsonMessage::layer("Preparing", id.clone()));
        }
        if repo.needs_basic_credentials() {
            return Err(DistributionError::Unauthorized(
                "no basic auth credentials".into(),
            ));
        }
        let sem = Arc::new(tokio::sync::Semaphore::new(
            dist.options().max_concurrent_uploads.max(1),
        ));
        let chunk = dist.options().upload_chunk_size;
        let repo_ref = &repo;
        let mount_ref = &mount_from;
        let jobs = m.layers.iter().zip(ids.iter()).map(|(l, id)| {
            let sem = sem.clone();
            async move {
                let permit = match sem.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        progress(JsonMessage::layer("Waiting", id.clone()));
                        sem.acquire_owned()
                            .await
                            .map_err(|_| DistributionError::Cancelled)?
                    }
                };
                let counter = throttled(progress, id.clone(), l.size);
                let how = push_blob(
                    repo_ref, content, &l.digest, l.size, mount_ref, chunk, counter,
                )
                .await?;
                drop(permit);
                progress(match how {
                    BlobPush::Exists => JsonMessage::layer("Layer already exists", id.clone()),
                    // dockerd names the source repository by its path
                    // (`Mounted from library/busybox`).
                    BlobPush::Mounted(from) => {
                        JsonMessage::layer(format!("Mounted from {from}"), id.clone())
                    }
                    BlobPush::Uploaded => JsonMessage::layer("Pushed", id.clone()),
                });
                Ok::<(), DistributionError>(())
            }
        });
        futures_util::future::try_join_all(jobs).await?;
        push_blob(
            &repo,
            content,
            &m.config.digest,
            m.config.size,
            &mount_from,
            chunk,
            Arc::new(|_| {}),
        )
        .await?;
        let mt = m
            .media_type
            .clone()
            .unwrap_or_else(|| oci::MT_OCI_MANIFEST.to_string());
        let size = mbytes.len() as u64;
        let digest = repo.put_manifest(&t, &mt, Bytes::from(mbytes)).await?;
        progress(JsonMessage::status(format!(
            "{t}: digest: {digest} size: {size}"
        )));
        progress(JsonMessage {
            progress_detail: Some(Default::default()),
            aux: Some(serde_json::json!({"Tag": t, "Digest": digest.to_string(), "Size": size})),
            ..Default::default()
        });
        out.push(PushedTag {
            tag: t,
            digest,
            size,
        });
    }
    Ok(out)
}

/// Layers of an image pulled without their blob (the store had the layer
/// by chain ID, from a blob compressed differently) are pushed as the blob
/// the store has for the same diff ID, as dockerd pushes whatever blob it
/// knows for a layer (see [`berth_image::manifest_with_stored_blobs`]):
/// the manifest names that blob, so its digest differs from the pulled
/// one; the config and image ID stay. A layer with no stored blob for its
/// diff ID keeps its descriptor (the registry may still have it, or the
/// upload says `blob ... not found`).
fn substitute_absent_layers(
    svc: &ImageService,
    layers: Vec<oci::Descriptor>,
    diff_ids: &[Digest],
    manifest_bytes: Vec<u8>,
) -> Result<(Vec<oci::Descriptor>, Vec<u8>)> {
    match berth_image::manifest_with_stored_blobs(svc.store(), &manifest_bytes, diff_ids)? {
        None => Ok((layers, manifest_bytes)),
        Some(bytes) => {
            let m: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| DistributionError::Protocol(format!("stored manifest: {e}")))?;
            Ok((m.layers, bytes))
        }
    }
}
