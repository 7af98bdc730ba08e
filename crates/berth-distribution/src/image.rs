//! `docker pull` end to end over an [`ImageService`]: fetch (see
//! [`crate::pull`]), register the image, and emit dockerd's closing lines.
//!
//! Registration goes through the image service's OCI-layout loader
//! ([`ImageService::load_path`]), so layers are unpacked by chain ID, the
//! config recorded and the tag set by the same code as `docker load`: the
//! fetch stages every blob (hard links) into a private directory under the
//! data root, an `index.json` naming the manifest and the reference is
//! written next to them, and the directory is loaded. RepoDigests
//! (`name@digest`) are then recorded as a digest reference.

use std::path::Path;
use std::sync::Arc;

use berth_image::oci::{self, Descriptor, Index};
use berth_image::{ImageService, Progress, Reference};
use berth_store::RefKind;
use berth_types::Digest;

use crate::client::Distribution;
use crate::error::{DistributionError, Result};
use crate::progress::{JsonMessage, ProgressSink};
use crate::pull::{self, FetchedImage, PullOptions};

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOutcome {
    /// The normalised reference pulled.
    pub reference: Reference,
    /// The image ID (config digest).
    pub id: Digest,
    /// The digest the reference resolved to (RepoDigests).
    pub digest: Digest,
    /// True when the reference already pointed at this image
    /// ("Image is up to date").
    pub up_to_date: bool,
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The reference that gets tagged: the tag when the pull named one (and
/// no digest), None for a pull by digest.
fn tag_ref(r: &Reference) -> Option<Reference> {
    match (r.tag(), r.digest()) {
        (Some(t), None) => Some(r.with_tag(t)),
        _ => None,
    }
}

/// Registers a fetched image whose blobs are staged in `staging` (see
/// [`crate::pull::fetch`]). Blocking: call from `spawn_blocking`.
/// Emits "Extracting" and "Pull complete" for each downloaded layer.
/// Returns (image ID, whether the reference already pointed at it).
pub fn register_fetched(
    svc: &ImageService,
    f: &FetchedImage,
    staging: &Path,
    progress: &ProgressSink,
) -> Result<(Digest, bool)> {
    let db = &svc.store().db;
    let tag = tag_ref(&f.reference);
    let digest_ref = f.reference.with_digest(&f.digest);
    let probe = tag.as_ref().unwrap_or(&digest_ref).to_string();
    let before = db.resolve_ref(&probe)?;
    let annotations = tag.as_ref().map(|t| {
        let mut a = std::collections::BTreeMap::new();
        a.insert(oci::ANN_IMAGE_NAME.to_string(), t.to_string());
        a.insert(
            oci::ANN_REF_NAME.to_string(),
            t.tag().unwrap_or("latest").to_string(),
        );
        a
    });
    let index = Index {
        schema_version: 2,
        media_type: Some(oci::MT_OCI_INDEX.to_string()),
        manifests: vec![Descriptor {
            media_type: f.manifest_media_type.clone(),
            digest: f.manifest_digest.clone(),
            size: f.manifest_bytes.len() as u64,
            annotations,
            platform: None,
        }],
        annotations: None,
    };
    let io = |e: std::io::Error| DistributionError::Store(berth_store::StoreError::io(staging)(e));
    std::fs::write(
        staging.join("index.json"),
        serde_json::to_vec(&index).expect("index serialises"),
    )
    .map_err(io)?;
    std::fs::write(
        staging.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .map_err(io)?;
    // diff ID (what load reports) -> layer blob short ID (what pull shows).
    #[derive(serde::Deserialize)]
    struct Cfg {
        rootfs: RootFs,
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        diff_ids: Vec<Digest>,
    }
    let cfg: Cfg = serde_json::from_slice(&f.config)
        .map_err(|e| DistributionError::Protocol(format!("invalid image config: {e}")))?;
    let by_diff: std::collections::HashMap<String, (String, bool, u64)> = cfg
        .rootfs
        .diff_ids
        .iter()
        .zip(f.layers.iter())
        .map(|(d, l)| {
            (
                d.short().to_string(),
                (
                    l.descriptor.digest.short().to_string(),
                    l.already_present,
                    l.descriptor.size,
                ),
            )
        })
        .collect();
    let mut on_layer = |p: &Progress| {
        if let Some((id, already, size)) = by_diff.get(&p.id) {
            if !already {
                progress(JsonMessage::bytes("Extracting", id.clone(), *size, *size));
                progress(JsonMessage::layer("Pull complete", id.clone()));
            }
        }
    };
    let loaded = svc.load_path(staging, &mut on_layer)?;
    let id = loaded
        .first()
        .map(|l| l.id.clone())
        .ok_or_else(|| DistributionError::Protocol("the pulled image did not load".into()))?;
    db.set_ref(&digest_ref.to_string(), &id, RefKind::Digest, now_nanos())?;
    Ok((id.clone(), before.as_ref() == Some(&id)))
}

/// `POST /images/create?fromImage=...&tag=...&platform=...`: pulls
/// `reference` (Docker's syntax; `busybox` means `docker.io/library/busybox:latest`)
/// into `svc`, emitting Docker's progress messages, ending with `Digest:
/// ...` and `Status: Downloaded newer image for busybox:latest` (or
/// `Status: Image is up to date for busybox:latest`).
///
/// The daemon joins `fromImage` and `tag` first (`fromImage=busybox&tag=1`
/// -> `busybox:1`; a `tag` that is a digest -> `busybox@sha256:...`).
/// Errors: see [`DistributionError`]; the daemon sends them as the
/// stream's final `{"error": ...}` message once the stream has started
/// (its first message), or as an HTTP error before that.
pub async fn pull(
    dist: &Distribution,
    svc: &Arc<ImageService>,
    reference: &str,
    opts: &PullOptions,
    progress: &ProgressSink,
) -> Result<PullOutcome> {
    let r = Reference::parse(reference)?;
    let root = svc.store().root().to_path_buf();
    let staging = tempfile::Builder::new()
        .prefix(".pull-")
        .tempdir_in(&root)
        .map_err(|e| DistributionError::Store(berth_store::StoreError::io(&root)(e)))?;
    let f = match pull::fetch(
        dist,
        &svc.store().content,
        Some(staging.path()),
        &r,
        opts,
        progress,
    )
    .await
    {
        Ok(f) => f,
        Err(e) => {
            // Collect what this pull stored but nothing references (as a
            // failed load does); other pulls' blobs survive in their staging.
            drop(staging);
            let svc = svc.clone();
            let _ = tokio::task::spawn_blocking(move || svc.store().gc()).await;
            return Err(e);
        }
    };
    let (svc2, progress2) = (svc.clone(), progress.clone());
    let digest = f.digest.clone();
    let (id, up_to_date) = tokio::task::spawn_blocking(move || {
        let res = register_fetched(&svc2, &f, staging.path(), &progress2);
        drop(staging);
        res
    })
    .await
    .map_err(|_| DistributionError::Cancelled)??;
    progress(JsonMessage::status(format!("Digest: {digest}")));
    let fam = r.familiar();
    progress(JsonMessage::status(if up_to_date {
        format!("Status: Image is up to date for {fam}")
    } else {
        format!("Status: Downloaded newer image for {fam}")
    }));
    Ok(PullOutcome {
        reference: r,
        id,
        digest,
        up_to_date,
    })
}

/// Joins the Engine API's `fromImage` and `tag` query parameters into one
/// reference, as dockerd does: an empty tag keeps `fromImage` as is
/// (`:latest` is added when parsing), a digest tag gives `name@digest`.
pub fn join_from_image(from_image: &str, tag: &str) -> String {
    if tag.is_empty() {
        from_image.to_string()
    } else if tag.contains(':') {
        format!("{from_image}@{tag}")
    } else {
        format!("{from_image}:{tag}")
    }
}
