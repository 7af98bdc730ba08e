//! Images that come from a registry (`docker pull`, `docker push`): the
//! image service's side of `berth-distribution`.
//!
//! A pull writes the manifest, the config and each layer archive it
//! downloads through the content store (verified writes), extracting each
//! such layer into a temporary tree while it downloads; it skips layers
//! whose chain ID the store has. Then it calls
//! [`ImageService::register_pulled`] once: the manifest is read back from
//! the store and run through the same preparation as `docker load` of an
//! OCI layout (the extracted trees committed by chain ID, diff IDs checked
//! against the config, the config and manifest recorded), then the tag and
//! the `name@digest` RepoDigest are set. A push asks
//! [`ImageService::image_blobs`] which blobs to upload.

use std::collections::{BTreeMap, HashMap, HashSet};

use berth_store::{ApplyStats, RefKind, TempTree};
use berth_types::Digest;

use crate::archive::{self, Contents};
use crate::oci::{self, Descriptor, Index, Manifest};
use crate::reference::Reference;
use crate::{time, ImageError, ImageService, Progress, Result};

/// What [`ImageService::register_manifest`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The image ID (config digest).
    pub id: Digest,
    /// The image the tag (or, without a tag, the RepoDigest) named before:
    /// `Some(id)` means "Image is up to date".
    pub previous: Option<Digest>,
}

/// What a pull prepared for [`ImageService::register_pulled`] besides the
/// blobs in the content store.
#[derive(Default)]
pub struct PulledLayers {
    /// Layer trees extracted while their blob was downloaded, by blob
    /// digest, with what extracting found (the diff ID is checked against
    /// the config's `rootfs.diff_ids` again before the tree is committed).
    /// Trees not used are removed when the map is dropped.
    pub extracted: HashMap<Digest, (TempTree, ApplyStats)>,
    /// Layer blobs the pull did not download because the layer with the
    /// same chain ID is in the store already ("Already exists"): they may
    /// be absent from the content store, and the image uses the stored
    /// layer.
    pub skipped: HashSet<Digest>,
}

impl std::fmt::Debug for PulledLayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulledLayers")
            .field("extracted", &self.extracted.keys().collect::<Vec<_>>())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// The blobs of a stored image, everything a push uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBlobs {
    /// The image ID.
    pub id: Digest,
    /// The manifest's descriptor (media type, digest, size).
    pub manifest: Descriptor,
    /// The manifest bytes, as stored (pushing them keeps the digest).
    pub manifest_bytes: Vec<u8>,
    /// The config's descriptor.
    pub config: Descriptor,
    /// The layer archives' descriptors, bottom first.
    pub layers: Vec<Descriptor>,
    /// The layers' diff IDs (the config's `rootfs.diff_ids`), bottom first.
    pub diff_ids: Vec<Digest>,
}

/// Removes `<data-root>/.pull-*`: staging directories of pulls that a
/// crash interrupted (berth-distribution hard-links fetched blobs there
/// until the image is registered). Called once the data root is locked.
pub(crate) fn remove_stale_staging(data_root: &std::path::Path) {
    if let Ok(rd) = std::fs::read_dir(data_root) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(".pull-") {
                let _ = berth_store::remove_tree(&e.path());
            }
        }
    }
}

fn bad(m: impl Into<String>) -> ImageError {
    ImageError::BadArchive(m.into())
}

impl ImageService {
    /// Registers the image whose manifest `manifest` (an OCI image manifest
    /// or a Docker schema 2 manifest) is in the content store together with
    /// its config and layer blobs. Tags it `tag` (a reference with a tag)
    /// and records `repo_digest` (`name@digest`, the digest the pull
    /// resolved: an index's for a multi-platform image) as a RepoDigest.
    /// `progress` is called once per layer after it is unpacked, with its
    /// diff ID's short form (as `load` does).
    ///
    /// Atomic like `load`: nothing is recorded on error. Errors:
    /// `blob ... not found` (a blob is missing from the store),
    /// `invalid archive: ...` (bad manifest or config, diff ID mismatch,
    /// a layer that is not a tar), unknown media types (400).
    pub fn register_manifest(
        &self,
        manifest: &Digest,
        tag: Option<&Reference>,
        repo_digest: Option<&Reference>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Registered> {
        self.register_pulled(
            manifest,
            tag,
            repo_digest,
            PulledLayers::default(),
            progress,
        )
    }

    /// [`ImageService::register_manifest`] for a pull that extracted
    /// layers while downloading them and skipped layers already in the
    /// store (see [`PulledLayers`]): an extracted tree is committed as
    /// its layer once its diff ID matches the config's; a skipped blob
    /// needs its layer (chain ID) in the store, else `blob ... not found`.
    pub fn register_pulled(
        &self,
        manifest: &Digest,
        tag: Option<&Reference>,
        repo_digest: Option<&Reference>,
        pulled: PulledLayers,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Registered> {
        let store = self.store();
        let _g = store.write_guard();
        let previous = match tag.or(repo_digest) {
            Some(r) => store.db.resolve_ref(&r.to_string())?,
            None => None,
        };
        let mbytes = store.content.read(manifest)?;
        let m: Manifest = serde_json::from_slice(&mbytes)
            .map_err(|e| bad(format!("manifest {manifest}: {e}")))?;
        let media_type = m
            .media_type
            .clone()
            .unwrap_or_else(|| oci::MT_OCI_MANIFEST.to_string());
        let annotations = tag.map(|t| {
            let mut a = BTreeMap::new();
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
                media_type,
                digest: manifest.clone(),
                size: mbytes.len() as u64,
                annotations,
                platform: None,
            }],
            annotations: None,
        };
        let mut blobs = vec![(manifest.clone(), mbytes.len() as u64)];
        blobs.push((m.config.digest.clone(), m.config.size));
        blobs.extend(m.layers.iter().map(|l| (l.digest.clone(), l.size)));
        let c = Contents::from_store(
            store,
            serde_json::to_vec(&index).expect("index serialises"),
            &blobs,
            pulled,
        )?;
        let prepared = archive::prepare_images(store, &c, progress)?;
        let loaded = self.commit(prepared)?;
        let id = loaded
            .first()
            .map(|l| l.id.clone())
            .ok_or_else(|| bad("the manifest names no image"))?;
        if let Some(rd) = repo_digest {
            let _n = self.lock_names();
            store
                .db
                .set_ref(&rd.to_string(), &id, RefKind::Digest, time::now_nanos())?;
        }
        Ok(Registered { id, previous })
    }

    /// A layer blob in the content store whose layer has diff ID `diff_id`,
    /// taken from any stored image's manifest: what a push or save writes
    /// for a layer its image was pulled without (see
    /// [`PulledLayers::skipped`]: the same layer came compressed
    /// differently). `None` when no stored blob has that diff ID.
    pub fn layer_blob_for(&self, diff_id: &Digest) -> Result<Option<Descriptor>> {
        stored_layer_blob(self.store(), diff_id)
    }

    /// The blobs `docker push` uploads for `name` (a reference or an ID):
    /// manifest, config and layer descriptors, read from the store.
    /// Errors: `No such image: ...` (404).
    pub fn image_blobs(&self, name: &str) -> Result<ImageBlobs> {
        let id = self.resolve(name)?;
        let rec = self
            .store()
            .db
            .image(&id)?
            .ok_or_else(|| ImageError::NoSuchImage(name.to_string()))?;
        let manifest_bytes = self.store().content.read(&rec.manifest)?;
        let m: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| bad(format!("stored manifest {}: {e}", rec.manifest)))?;
        let cfg: oci::ImageConfig = serde_json::from_slice(&rec.config)
            .map_err(|e| bad(format!("stored config {}: {e}", rec.id)))?;
        Ok(ImageBlobs {
            id,
            manifest: Descriptor {
                media_type: m
                    .media_type
                    .clone()
                    .unwrap_or_else(|| oci::MT_OCI_MANIFEST.to_string()),
                digest: rec.manifest.clone(),
                size: manifest_bytes.len() as u64,
                annotations: None,
                platform: None,
            },
            manifest_bytes,
            config: m.config,
            layers: m.layers,
            diff_ids: cfg.rootfs.diff_ids,
        })
    }
}

/// See [`ImageService::layer_blob_for`].
pub(crate) fn stored_layer_blob(
    store: &berth_store::Store,
    diff_id: &Digest,
) -> Result<Option<Descriptor>> {
    for rec in store.db.images()? {
        let Ok(cfg) = serde_json::from_slice::<oci::ImageConfig>(&rec.config) else {
            continue;
        };
        if !cfg.rootfs.diff_ids.contains(diff_id) {
            continue;
        }
        let Ok(mbytes) = store.content.read(&rec.manifest) else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<Manifest>(&mbytes) else {
            continue;
        };
        for (l, d) in m.layers.iter().zip(&cfg.rootfs.diff_ids) {
            if d == diff_id && store.content.size(&l.digest).ok() == Some(l.size) {
                return Ok(Some(l.clone()));
            }
        }
    }
    Ok(None)
}

/// The manifest `manifest_bytes` (of an image whose config lists
/// `diff_ids`) with each layer whose blob is not in the content store
/// replaced by a stored blob of the same diff ID (digest, size, media
/// type; Docker's layer media types in a Docker manifest), as dockerd
/// pushes and saves whatever blob it has for a layer. `None` when nothing
/// needed replacing (or nothing could be). The config, so the image ID,
/// stays; the manifest digest changes.
pub fn manifest_with_stored_blobs(
    store: &berth_store::Store,
    manifest_bytes: &[u8],
    diff_ids: &[Digest],
) -> Result<Option<Vec<u8>>> {
    let m: Manifest =
        serde_json::from_slice(manifest_bytes).map_err(|e| bad(format!("stored manifest: {e}")))?;
    let mut subs = Vec::new();
    for (i, (l, d)) in m.layers.iter().zip(diff_ids).enumerate() {
        if store.content.contains(&l.digest) {
            continue;
        }
        if let Some(sub) = stored_layer_blob(store, d)? {
            tracing::info!(layer = %l.digest, with = %sub.digest, "using the stored blob of the same layer");
            subs.push((i, sub));
        }
    }
    if subs.is_empty() {
        return Ok(None);
    }
    let mut v: serde_json::Value =
        serde_json::from_slice(manifest_bytes).map_err(|e| bad(format!("stored manifest: {e}")))?;
    let docker = v.get("mediaType").and_then(|m| m.as_str()) == Some(oci::MT_DOCKER_MANIFEST);
    for (i, sub) in subs {
        let mt = match (docker, sub.media_type.as_str()) {
            (true, oci::MT_OCI_LAYER_GZIP) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            (true, oci::MT_OCI_LAYER_TAR) => "application/vnd.docker.image.rootfs.diff.tar",
            (_, other) => other,
        };
        let e = &mut v["layers"][i];
        e["mediaType"] = mt.into();
        e["digest"] = sub.digest.to_string().into();
        e["size"] = sub.size.into();
    }
    Ok(Some(serde_json::to_vec(&v).expect("manifest serialises")))
}
