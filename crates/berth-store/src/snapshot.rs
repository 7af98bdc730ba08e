//! Snapshots: a container's read-write layer on top of an image's chain,
//! described as an overlayfs mount that the runtime performs (the store
//! never mounts).
//!
//! On disk, `snapshots/<id>/` holds `upper/`, `work/` and `l/<n>`: one short
//! symlink per read-only layer, `l/0` the topmost, pointing at
//! `layers/<chain-id-hex>/diff` (an image with no layers gets one empty
//! `l/0` directory, since overlayfs wants at least one lowerdir).
//!
//! The lowerdir length limit: the mount data of `mount(2)` is one page
//! (4096 bytes). [`OverlayMount::options`] gives the absolute form, which
//! fits for a few dozen layers; [`OverlayMount::mount_data`] returns the
//! absolute form when it fits and otherwise the *relative* form
//! (`lowerdir=l/0:l/1:...,upperdir=upper,workdir=work`, about 5 bytes per
//! layer, so 500 layers — overlayfs's own maximum — fit), which the runtime
//! must pass to `mount(2)` from a process whose working directory is
//! [`OverlayMount::base`] (overlayfs resolves the paths at mount time, so the
//! directory may be left right after). With the new mount API the runtime
//! may instead pass each entry of [`OverlayMount::lowerdirs`] as its own
//! `lowerdir+` `fsconfig(2)` string (Linux 6.8+), which has no such limit.

use std::fs;
use std::path::PathBuf;

use berth_types::Digest;

use crate::{remove_tree, SnapshotRecord, Store, StoreError};

/// Largest mount data `mount(2)` accepts (one page, including the NUL).
pub const MOUNT_DATA_MAX: usize = 4095;

/// An overlayfs mount description for a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayMount {
    /// Absolute paths of the read-only layer trees, topmost first (the
    /// order of overlayfs's `lowerdir=`).
    pub lowerdirs: Vec<PathBuf>,
    /// Absolute path of the rw layer (`upperdir=`).
    pub upperdir: PathBuf,
    /// Absolute path of overlayfs's work directory (`workdir=`), on the same
    /// filesystem as `upperdir`.
    pub workdir: PathBuf,
    /// `snapshots/<id>`: the directory the relative form is relative to.
    pub base: PathBuf,
    /// Short relative lowerdirs (`l/0`, `l/1`, ...), topmost first, each a
    /// symlink under `base` to the matching entry of `lowerdirs`.
    pub short_lowerdirs: Vec<String>,
}

impl OverlayMount {
    /// Absolute mount options:
    /// `lowerdir=A:B,upperdir=U,workdir=W` (may exceed [`MOUNT_DATA_MAX`]).
    pub fn options(&self) -> String {
        let lower: Vec<String> = self
            .lowerdirs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            self.upperdir.display(),
            self.workdir.display()
        )
    }

    /// Relative mount options, valid from [`OverlayMount::base`]:
    /// `lowerdir=l/0:l/1,upperdir=upper,workdir=work`.
    pub fn relative_options(&self) -> String {
        format!(
            "lowerdir={},upperdir=upper,workdir=work",
            self.short_lowerdirs.join(":")
        )
    }

    /// What to pass to `mount("overlay", target, "overlay", 0, data)`:
    /// `(None, absolute options)` when they fit in one page, else
    /// `(Some(base), relative options)`, meaning the mount must be made with
    /// `base` as working directory.
    pub fn mount_data(&self) -> (Option<PathBuf>, String) {
        let abs = self.options();
        if abs.len() <= MOUNT_DATA_MAX {
            (None, abs)
        } else {
            (Some(self.base.clone()), self.relative_options())
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn valid_snapshot_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl Store {
    /// Creates snapshot `id` (a container ID: `[A-Za-z0-9_.-]`, not starting
    /// with `.`): an empty rw layer on top of the layers with chain IDs
    /// `layers` (bottom first, as an image's `RootFS.Layers` order), made
    /// from `image`. Returns its mount description.
    ///
    /// Errors: `SnapshotExists`, `LayerNotFound` (a chain ID not in the
    /// store), `BadLayer` for an invalid ID, I/O.
    pub fn prepare_snapshot(
        &self,
        id: &str,
        image: Option<&Digest>,
        layers: &[Digest],
    ) -> Result<OverlayMount, StoreError> {
        if !valid_snapshot_id(id) {
            return Err(StoreError::SnapshotNotFound(format!(
                "{id:?} (invalid snapshot ID)"
            )));
        }
        let _g = self.write_guard();
        if self.db.snapshot(id)?.is_some() {
            return Err(StoreError::SnapshotExists(id.to_string()));
        }
        for l in layers {
            if !self.layer_dir(l).is_dir() || self.db.layer(l)?.is_none() {
                return Err(StoreError::LayerNotFound(l.clone()));
            }
        }
        let dir = self.snapshots.join(id);
        let tmp = self
            .snapshots
            .join(format!(".tmp-{}", berth_types::new_id()));
        let build = || -> Result<(), StoreError> {
            fs::create_dir_all(tmp.join("upper")).map_err(StoreError::io(&tmp))?;
            fs::create_dir_all(tmp.join("work")).map_err(StoreError::io(&tmp))?;
            fs::create_dir_all(tmp.join("l")).map_err(StoreError::io(&tmp))?;
            if layers.is_empty() {
                fs::create_dir(tmp.join("l/0")).map_err(StoreError::io(&tmp))?;
            }
            for (n, l) in layers.iter().rev().enumerate() {
                let link = tmp.join("l").join(n.to_string());
                std::os::unix::fs::symlink(self.layer_dir(l), &link)
                    .map_err(StoreError::io(&link))?;
            }
            Ok(())
        };
        if let Err(e) = build() {
            let _ = remove_tree(&tmp);
            return Err(e);
        }
        // No fsync: a snapshot is a container's rw layer, which lives no
        // longer than the container; after a power loss a container created
        // in the last seconds may be gone (see Db::insert_snapshot), which
        // costs nothing of value, while two fsyncs here cost every create
        // ~1 ms. Image layers are still fsynced.
        if let Err(e) = fs::rename(&tmp, &dir) {
            let _ = remove_tree(&tmp);
            return Err(StoreError::io(&dir)(e));
        }
        let rec = SnapshotRecord {
            id: id.to_string(),
            image: image.cloned(),
            layers: layers.to_vec(),
            created: now_secs(),
        };
        if let Err(e) = self.db.insert_snapshot(&rec) {
            let _ = remove_tree(&dir);
            return Err(e);
        }
        Ok(self.describe(&rec))
    }

    fn describe(&self, rec: &SnapshotRecord) -> OverlayMount {
        let base = self.snapshots.join(&rec.id);
        let (lowerdirs, short_lowerdirs) = if rec.layers.is_empty() {
            (vec![base.join("l/0")], vec!["l/0".to_string()])
        } else {
            rec.layers
                .iter()
                .rev()
                .enumerate()
                .map(|(n, l)| (self.layer_dir(l), format!("l/{n}")))
                .unzip()
        };
        OverlayMount {
            lowerdirs,
            upperdir: base.join("upper"),
            workdir: base.join("work"),
            base,
            short_lowerdirs,
        }
    }

    /// The mount description of an existing snapshot. Errors
    /// `SnapshotNotFound`.
    pub fn snapshot_mount(&self, id: &str) -> Result<OverlayMount, StoreError> {
        let rec = self
            .db
            .snapshot(id)?
            .ok_or_else(|| StoreError::SnapshotNotFound(id.to_string()))?;
        Ok(self.describe(&rec))
    }

    /// The record of a snapshot, if it exists.
    pub fn snapshot(&self, id: &str) -> Result<Option<SnapshotRecord>, StoreError> {
        self.db.snapshot(id)
    }

    /// Directory of a snapshot (`snapshots/<id>`).
    pub fn snapshot_dir(&self, id: &str) -> PathBuf {
        self.snapshots.join(id)
    }

    /// Removes a snapshot and its rw layer. The runtime must have unmounted
    /// it. Its layers become collectable when no image uses them.
    /// Errors `SnapshotNotFound`.
    pub fn remove_snapshot(&self, id: &str) -> Result<(), StoreError> {
        let tree = self.detach_snapshot(id)?;
        remove_tree(&tree)
    }

    /// Removes snapshot `id`'s record and moves its directory into the
    /// store's trash ([`Store::trash`]); returns the tree for the caller to
    /// delete with [`remove_tree`] later (a `docker rm` answers without
    /// waiting for the rw layer's files to go). The runtime must have
    /// unmounted it.
    ///
    /// Errors `SnapshotNotFound`; I/O of the rename.
    pub fn detach_snapshot(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !valid_snapshot_id(id) || !self.db.delete_snapshot(id)? {
            return Err(StoreError::SnapshotNotFound(id.to_string()));
        }
        let dir = self.snapshots.join(id);
        match self.trash(&dir) {
            Ok(t) => Ok(t),
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(dir)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes snapshot directories that have no record (a crash during
    /// prepare or remove). Called by [`Store::open`] through GC.
    pub(crate) fn sweep_snapshots(&self) -> Result<(), StoreError> {
        for e in fs::read_dir(&self.snapshots)
            .map_err(StoreError::io(&self.snapshots))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if self.db.snapshot(&name)?.is_none() {
                remove_tree(&e.path())?;
            }
        }
        Ok(())
    }
}
