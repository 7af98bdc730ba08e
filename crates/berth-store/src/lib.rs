//! Berth's image store, below the image service: where bytes and trees live.
//!
//! Layout under a data root (`/var/lib/berth` by default; see
//! `docs/ARCHITECTURE.md`, "State on disk"):
//!
//! ```text
//! blobs/sha256/<hex>        content store: manifests, indexes, configs, layer archives
//! ingest/                   in-flight blob writes ([`content`])
//! layers/<chain-id-hex>/diff  extracted layer trees, overlayfs format ([`layer`], [`Store::unpack_layer`])
//! layers/.tmp-*             extractions in progress (removed at open)
//! snapshots/<id>/           container rw layers: upper/, work/, l/<n> short lowerdir links ([`snapshot`])
//! berth.db                  metadata: images, references, layers, snapshots ([`db`], SQLite WAL)
//! berth.lock                held (flock) by the one process that owns the data root
//! ```
//!
//! [`Store`] bundles the four parts. Crash safety: blobs are verified,
//! fsynced and renamed into place; layer trees are extracted under
//! `layers/.tmp-*`, flushed with `syncfs(2)` and renamed; an image becomes
//! visible only when its database row is committed, after everything it
//! references is durable. [`Store::open`] deletes in-flight leftovers and
//! anything no image or snapshot references ([`Store::gc`]).

pub mod content;
pub mod db;
pub mod layer;
pub mod snapshot;

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use berth_types::Digest;

pub use content::{BlobWriter, ContentStore};
pub use db::{Db, ImageRecord, LayerRecord, RefKind, SnapshotRecord};
pub use layer::{ApplyStats, Compression};
pub use snapshot::OverlayMount;

/// Errors of the store. `Display` names what is wrong (the digest, the
/// entry, the path).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Content whose digest is not the one it was announced with.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the content was announced with.
        expected: Digest,
        /// The digest of what was actually written.
        actual: Digest,
    },
    /// Content whose size is not the one it was announced with.
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob (its expected digest).
        what: String,
        /// Announced size in bytes.
        expected: u64,
        /// Bytes actually written.
        actual: u64,
    },
    /// A blob that is not in the content store.
    #[error("blob {0} not found")]
    BlobNotFound(Digest),
    /// A layer archive that cannot be applied (not a tar, hostile, truncated).
    #[error("invalid layer: {0}")]
    BadLayer(String),
    /// A media type the store does not know how to handle.
    #[error("unknown media type {0:?}")]
    UnknownMediaType(String),
    /// A layer tree that is not in the store.
    #[error("layer {0} not found")]
    LayerNotFound(Digest),
    /// A snapshot ID that is not in the store.
    #[error("snapshot {0} not found")]
    SnapshotNotFound(String),
    /// A snapshot ID that already exists.
    #[error("snapshot {0} already exists")]
    SnapshotExists(String),
    /// Another process holds the data root.
    #[error("data root {0} is in use by another process")]
    Locked(PathBuf),
    /// The metadata database failed.
    #[error("metadata database: {0}")]
    Db(#[from] rusqlite::Error),
}

impl StoreError {
    /// Adapter for `map_err` that attaches `path` to an `io::Error`.
    pub fn io(path: impl AsRef<Path>) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.as_ref().to_path_buf();
        move |source| StoreError::Io { path, source }
    }
}

/// fsyncs a directory (after a rename into it).
pub fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(StoreError::io(dir))
}

/// The chain ID of a layer whose parent chain is `parent` (image-spec
/// `config.md`, "Layer ChainID"): `ChainID(L0) = DiffID(L0)`,
/// `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::sha256_of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// The chain IDs of every prefix of `diff_ids` (bottom layer first).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let c = chain_id(out.last(), d);
        out.push(c);
    }
    out
}

/// The whole store: content, layers, snapshots and metadata under one data
/// root. `Sync`: share it behind an `Arc`.
pub struct Store {
    root: PathBuf,
    /// The content store (`blobs/`, `ingest/`).
    pub content: ContentStore,
    /// The metadata database (`berth.db`).
    pub db: Db,
    layers: PathBuf,
    snapshots: PathBuf,
    /// `trash/`: trees detached from the store, deleted off the caller's
    /// path ([`Store::trash`]); emptied at open.
    trash: PathBuf,
    /// Writers hold it shared while they create unreferenced objects; GC
    /// holds it exclusively.
    gc_lock: RwLock<()>,
    _lock: File,
}

/// A guard that keeps GC away while new, not yet referenced, blobs and layers
/// are being created. Take it before writing and drop it after the database
/// commit that references them.
pub struct WriteGuard<'a>(#[allow(dead_code)] RwLockReadGuard<'a, ()>);

/// What [`Store::gc`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted.
    pub blobs: Vec<Digest>,
    /// Layer trees deleted (chain IDs).
    pub layers: Vec<Digest>,
    /// Bytes freed (blob sizes plus layer sizes as recorded).
    pub bytes: u64,
}

impl Store {
    /// Opens the store at `root` (created when missing), takes the data-root
    /// lock, removes in-flight leftovers of a crashed writer, and
    /// garbage-collects unreferenced blobs and layers.
    ///
    /// Errors: `Locked` when another process owns `root`, I/O, database.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(root).map_err(StoreError::io(root))?;
        let lock_path = root.join("berth.lock");
        let lock = File::create(&lock_path).map_err(StoreError::io(&lock_path))?;
        rustix::fs::flock(
            lock.as_fd(),
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        )
        .map_err(|_| StoreError::Locked(root.to_path_buf()))?;
        let content = ContentStore::open(root)?;
        let layers = root.join("layers");
        let snapshots = root.join("snapshots");
        for d in [&layers, &snapshots] {
            fs::create_dir_all(d).map_err(StoreError::io(d))?;
            for e in fs::read_dir(d).map_err(StoreError::io(d))?.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp-") {
                    remove_tree(&e.path())?;
                }
            }
        }
        let trash = root.join("trash");
        remove_tree(&trash)?;
        fs::create_dir_all(&trash).map_err(StoreError::io(&trash))?;
        let db = Db::open(&root.join("berth.db"))?;
        let store = Store {
            root: root.to_path_buf(),
            content,
            db,
            layers,
            snapshots,
            trash,
            gc_lock: RwLock::new(()),
            _lock: lock,
        };
        store.gc()?;
        Ok(store)
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Detaches the tree `p` (which must be on the data root's filesystem,
    /// e.g. a container directory under it) by renaming it into `trash/`,
    /// and returns its new path for the caller to delete with
    /// [`remove_tree`] whenever it likes: removing a tree of many files
    /// takes milliseconds that a `docker rm` need not wait for. Whatever is
    /// still in `trash/` at the next [`Store::open`] is deleted then.
    ///
    /// Errors: I/O of the rename (`NotFound` when `p` does not exist).
    pub fn trash(&self, p: &Path) -> Result<PathBuf, StoreError> {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = self
            .trash
            .join(format!("{name}.{}", &berth_types::new_id()[..12]));
        fs::rename(p, &dest).map_err(StoreError::io(p))?;
        Ok(dest)
    }

    /// Takes the writer side of the GC lock (see [`WriteGuard`]).
    pub fn write_guard(&self) -> WriteGuard<'_> {
        WriteGuard(self.gc_lock.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Directory of the extracted tree of the layer with chain ID `chain`
    /// (`layers/<hex>/diff`), whether or not it exists.
    pub fn layer_dir(&self, chain: &Digest) -> PathBuf {
        self.layers.join(chain.hex()).join("diff")
    }

    /// True when the layer tree for `chain` is present and recorded.
    pub fn has_layer(&self, chain: &Digest) -> Result<bool, StoreError> {
        Ok(self.db.layer(chain)?.is_some() && self.layer_dir(chain).is_dir())
    }

    /// A fresh, empty directory under `layers/.tmp-*` to extract into,
    /// removed unless passed to [`Store::commit_layer`].
    pub fn temp_layer_dir(&self) -> Result<TempTree, StoreError> {
        let p = self.layers.join(format!(".tmp-{}", berth_types::new_id()));
        fs::create_dir_all(p.join("diff")).map_err(StoreError::io(&p))?;
        Ok(TempTree { path: Some(p) })
    }

    /// Makes an extracted tree (`tmp`, from [`Store::temp_layer_dir`], its
    /// `diff/` filled) the layer for `chain`, and records it. When the layer
    /// already exists the tree is discarded. The caller must have flushed
    /// the tree ([`layer::sync_filesystem`]) first.
    pub fn commit_layer(&self, mut tmp: TempTree, rec: &LayerRecord) -> Result<(), StoreError> {
        let dst = self.layers.join(rec.chain_id.hex());
        let src = tmp.path.take().expect("temp tree");
        if dst.is_dir() {
            remove_tree(&src)?;
        } else {
            match fs::rename(&src, &dst) {
                Ok(()) => fsync_dir(&self.layers)?,
                Err(_) if dst.is_dir() => remove_tree(&src)?,
                Err(e) => {
                    let _ = remove_tree(&src);
                    return Err(StoreError::io(&dst)(e));
                }
            }
        }
        self.db.insert_layer(rec)
    }

    /// Extracts the layer blob `r` (any compression) as the layer `chain`
    /// whose parent chain is `parent`, unless it exists. Verifies the diff
    /// ID against `expected_diff_id` when given. Returns the layer record.
    ///
    /// Errors: `BadLayer`, `DigestMismatch` (diff ID), I/O.
    pub fn unpack_layer(
        &self,
        r: &mut dyn Read,
        parent: Option<&Digest>,
        expected_diff_id: Option<&Digest>,
    ) -> Result<LayerRecord, StoreError> {
        if let Some(d) = expected_diff_id {
            let chain = chain_id(parent, d);
            if let Some(rec) = self.db.layer(&chain)? {
                if self.layer_dir(&chain).is_dir() {
                    return Ok(rec);
                }
            }
        }
        let tmp = self.temp_layer_dir()?;
        let stats = layer::apply_layer(r, &tmp.diff())?;
        if let Some(want) = expected_diff_id {
            if *want != stats.diff_id {
                return Err(StoreError::DigestMismatch {
                    expected: want.clone(),
                    actual: stats.diff_id,
                });
            }
        }
        self.commit_extracted(tmp, &stats, parent)
    }

    /// Records a tree extracted (by [`layer::apply_layer`] into
    /// `tmp.diff()`) as the layer with diff ID `stats.diff_id` on top of
    /// `parent`: flushes it, renames it into place (or drops it when the
    /// layer exists already) and records it.
    pub fn commit_extracted(
        &self,
        tmp: TempTree,
        stats: &ApplyStats,
        parent: Option<&Digest>,
    ) -> Result<LayerRecord, StoreError> {
        let rec = LayerRecord {
            chain_id: chain_id(parent, &stats.diff_id),
            parent: parent.cloned(),
            diff_id: stats.diff_id.clone(),
            size: stats.size,
        };
        if self.db.layer(&rec.chain_id)?.is_some() && self.layer_dir(&rec.chain_id).is_dir() {
            return Ok(rec);
        }
        layer::sync_filesystem(&tmp.diff())?;
        self.commit_layer(tmp, &rec)?;
        Ok(rec)
    }

    /// Removes blobs and layer trees that no image, snapshot or manifest
    /// references. Safe to call at any time: it waits for in-flight writers
    /// ([`Store::write_guard`]).
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let _g = self.gc_lock.write().unwrap_or_else(|e| e.into_inner());
        let mut report = GcReport::default();
        let live_blobs: HashSet<Digest> = self.db.referenced_blobs()?.into_iter().collect();
        for d in self.content.list()? {
            if !live_blobs.contains(&d) {
                report.bytes += self.content.size(&d).unwrap_or(0);
                self.content.delete(&d)?;
                report.blobs.push(d);
            }
        }
        let live_layers: HashSet<Digest> = self.db.referenced_layers()?.into_iter().collect();
        for rec in self.db.layers()? {
            if !live_layers.contains(&rec.chain_id) {
                remove_tree(&self.layers.join(rec.chain_id.hex()))?;
                self.db.delete_layer(&rec.chain_id)?;
                report.bytes += rec.size;
                report.layers.push(rec.chain_id);
            }
        }
        self.sweep_snapshots()?;
        // Trees on disk without a record (a crash between rename and insert).
        for e in fs::read_dir(&self.layers)
            .map_err(StoreError::io(&self.layers))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(d) = Digest::new(berth_types::Algorithm::Sha256, &name) {
                if self.db.layer(&d)?.is_none() {
                    remove_tree(&e.path())?;
                }
            }
        }
        Ok(report)
    }
}

/// A directory under `layers/.tmp-*` that is deleted on drop unless
/// committed.
pub struct TempTree {
    path: Option<PathBuf>,
}

impl TempTree {
    /// The `diff/` directory to extract into.
    pub fn diff(&self) -> PathBuf {
        self.path.as_ref().expect("live temp tree").join("diff")
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = remove_tree(&p);
        }
    }
}

/// Removes a directory tree (no error when it is already gone). Never
/// follows symlinks.
pub fn remove_tree(p: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(p)(e)),
    }
}
