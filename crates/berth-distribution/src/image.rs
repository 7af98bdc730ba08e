//! `docker pull` end to end over an [`ImageService`]: fetch (see
//! [`crate::pull`](mod@crate::pull)), register the image, and emit dockerd's closing lines.
//!
//! Registration is one call, [`ImageService::register_pulled`], which
//! runs the manifest through the same code as `docker load` of an OCI
//! layout (diff IDs checked, config recorded) with the layer trees the
//! fetch extracted while downloading (committed by chain ID there) and the
//! layers it skipped because the store has them, and sets the tag and the
//! RepoDigest (`name@digest`). The fetch also
//! hard-links every blob into a private staging directory under the data
//! root (`.pull-*`, removed when the pull ends) so that a garbage
//! collection running between fetch and registration cannot lose them.

use std::path::Path;
use std::sync::Arc;

use berth_image::{ImageService, Progress, Reference};
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

/// The reference that gets tagged: the tag when the pull named one (and
/// no digest), None for a pull by digest.
fn tag_ref(r: &Reference) -> Option<Reference> {
    match (r.tag(), r.digest()) {
        (Some(t), None) => Some(r.with_tag(t)),
        _ => None,
    }
}

/// Registers a fetched image (see [`crate::pull::fetch`]) with
/// [`ImageService::register_pulled`]: the extracted trees committed as
/// layers by chain ID (a blob found in the store but not its layer is
/// unpacked now), config recorded, tagged, RepoDigest `name@digest`
/// recorded. Blocking: call from `spawn_blocking`. Emits "Extracting" and
/// "Pull complete" for each downloaded layer, bottom first, as each is
/// committed. Blobs the store's garbage collector removed since the
/// fetch are restored from `staging` first (a verified copy). Returns
/// (image ID, whether the reference already pointed at it).
pub fn register_fetched(
    svc: &ImageService,
    f: FetchedImage,
    staging: &Path,
    progress: &ProgressSink,
) -> Result<(Digest, bool)> {
    let content = &svc.store().content;
    let skipped: std::collections::HashSet<Digest> = f
        .layers
        .iter()
        .filter(|l| l.skipped)
        .map(|l| l.descriptor.digest.clone())
        .collect();
    let mut blobs = vec![
        (f.manifest_digest.clone(), f.manifest_bytes.len() as u64),
        (f.manifest.config.digest.clone(), f.manifest.config.size),
    ];
    blobs.extend(
        f.layers
            .iter()
            .map(|l| (l.descriptor.digest.clone(), l.descriptor.size)),
    );
    let restore = || -> Result<()> {
        for (d, size) in &blobs {
            if content.contains(d) || skipped.contains(d) {
                continue;
            }
            let p = staging
                .join("blobs")
                .join(d.algorithm().as_str())
                .join(d.hex());
            let mut file = std::fs::File::open(&p)
                .map_err(|e| DistributionError::Store(berth_store::StoreError::io(&p)(e)))?;
            content.put_reader(&mut file, Some(d.clone()), Some(*size))?;
        }
        Ok(())
    };
    // diff ID (what registration reports) -> layer blob short ID (what pull shows).
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
    let tag = tag_ref(&f.reference);
    let repo_digest = f.reference.with_digest(&f.digest);
    let mut extracted: std::collections::HashMap<_, _> = f
        .extracted
        .into_iter()
        .map(|(d, x)| (d, (x.tree, x.stats)))
        .collect();
    let mut attempt = 0;
    loop {
        restore()?;
        let pulled = berth_image::PulledLayers {
            extracted: std::mem::take(&mut extracted),
            skipped: skipped.clone(),
        };
        match svc.register_pulled(
            &f.manifest_digest,
            tag.as_ref(),
            Some(&repo_digest),
            pulled,
            &mut on_layer,
        ) {
            Ok(r) => {
                let up_to_date = r.previous.as_ref() == Some(&r.id);
                return Ok((r.id, up_to_date));
            }
            // Collected between restore and registration: once more.
            Err(berth_image::ImageError::Store(berth_store::StoreError::BlobNotFound(_)))
                if attempt == 0 =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
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
        svc,
        Some(staging.path()),
        &r,
        opts,
        &|id: &Digest| matches!(svc.store().db.image(id), Ok(Some(_))),
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
            return Err(match e {
                DistributionError::Unauthorized(m) => DistributionError::PullUnauthorized(m),
                e => e,
            });
        }
    };
    let (svc2, progress2) = (svc.clone(), progress.clone());
    let digest = f.digest.clone();
    let warning = f.warning.clone();
    let (id, up_to_date) = tokio::task::spawn_blocking(move || {
        let res = register_fetched(&svc2, f, staging.path(), &progress2);
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
    if let Some(w) = warning {
        progress(JsonMessage::status(w));
    }
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
