//! The content store: blobs (manifests, indexes, configs, layer archives)
//! addressed by their digest, under `<data-root>/blobs/<algorithm>/<hex>`.
//!
//! Every write goes to a private file in `<data-root>/ingest/`, is hashed
//! while it is written, verified against the expected digest and size, fsynced
//! and only then renamed into place (then the directory is fsynced). A blob
//! that fails verification is deleted from `ingest/` and never becomes
//! visible. Concurrent writers of the same blob each write their own ingest
//! file; the rename is atomic, so whichever lands last simply replaces an
//! identical file.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use berth_types::{Algorithm, Digest, Digester};

use crate::{fsync_dir, StoreError};

/// The content store rooted at a data root.
#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

impl ContentStore {
    /// Opens (creating when missing) `blobs/` and `ingest/` under `root`.
    /// Leftover ingest files from an earlier crash are removed.
    pub fn open(root: &Path) -> Result<ContentStore, StoreError> {
        let blobs = root.join("blobs");
        let ingest = root.join("ingest");
        for a in [Algorithm::Sha256, Algorithm::Sha512] {
            fs::create_dir_all(blobs.join(a.as_str())).map_err(StoreError::io(&blobs))?;
        }
        fs::create_dir_all(&ingest).map_err(StoreError::io(&ingest))?;
        for e in fs::read_dir(&ingest)
            .map_err(StoreError::io(&ingest))?
            .flatten()
        {
            let _ = fs::remove_file(e.path());
        }
        Ok(ContentStore { blobs, ingest })
    }

    /// Path of the blob with digest `d` (whether or not it exists).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(d.algorithm().as_str()).join(d.hex())
    }

    /// True when the blob is present.
    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Size of the blob in bytes, or `StoreError::BlobNotFound`.
    pub fn size(&self, d: &Digest) -> Result<u64, StoreError> {
        fs::metadata(self.path(d))
            .map(|m| m.len())
            .map_err(|_| StoreError::BlobNotFound(d.clone()))
    }

    /// Opens the blob for reading, or `StoreError::BlobNotFound`.
    pub fn open_blob(&self, d: &Digest) -> Result<File, StoreError> {
        File::open(self.path(d)).map_err(|_| StoreError::BlobNotFound(d.clone()))
    }

    /// Reads a whole (small) blob: manifests, indexes and configs.
    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut v = Vec::new();
        self.open_blob(d)?
            .read_to_end(&mut v)
            .map_err(StoreError::io(self.path(d)))?;
        Ok(v)
    }

    /// Starts writing a blob. `expected` is the digest it must have (None:
    /// whatever it hashes to, under sha256), `size` the byte count it must
    /// have when known.
    pub fn writer(
        &self,
        expected: Option<Digest>,
        size: Option<u64>,
    ) -> Result<BlobWriter, StoreError> {
        let name = format!("{}.tmp", berth_types::new_id());
        let tmp = self.ingest.join(name);
        let file = File::create(&tmp).map_err(StoreError::io(&tmp))?;
        let digester = match &expected {
            Some(d) => Digester::new(d),
            None => Digester::for_algorithm(Algorithm::Sha256),
        };
        Ok(BlobWriter {
            store: self.clone(),
            tmp,
            file: Some(file),
            digester,
            expected,
            size,
        })
    }

    /// Writes `data` as a blob, verifying it against `expected` when given.
    /// Returns its digest.
    pub fn put(&self, data: &[u8], expected: Option<Digest>) -> Result<Digest, StoreError> {
        let mut w = self.writer(expected, Some(data.len() as u64))?;
        w.write_all(data).map_err(StoreError::io(&w.tmp))?;
        w.commit()
    }

    /// Copies `r` into the store (see [`ContentStore::writer`]); returns the
    /// digest and the byte count.
    pub fn put_reader(
        &self,
        r: &mut dyn Read,
        expected: Option<Digest>,
        size: Option<u64>,
    ) -> Result<(Digest, u64), StoreError> {
        let mut w = self.writer(expected, size)?;
        io::copy(r, &mut w).map_err(|e| StoreError::Io {
            path: w.tmp.clone(),
            source: e,
        })?;
        let n = w.written();
        Ok((w.commit()?, n))
    }

    /// Removes a blob (no error when it is already gone).
    pub fn delete(&self, d: &Digest) -> Result<(), StoreError> {
        match fs::remove_file(self.path(d)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io {
                path: self.path(d),
                source: e,
            }),
        }
    }

    /// Every blob present, in no particular order.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let mut out = Vec::new();
        for a in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.blobs.join(a.as_str());
            for e in fs::read_dir(&dir).map_err(StoreError::io(&dir))?.flatten() {
                if let Ok(d) = Digest::new(a, &e.file_name().to_string_lossy()) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }
}

/// An in-flight blob write (an `io::Write`). Nothing is visible until
/// [`BlobWriter::commit`] succeeds; dropping it uncommitted removes the
/// ingest file.
pub struct BlobWriter {
    store: ContentStore,
    tmp: PathBuf,
    file: Option<File>,
    digester: Digester,
    expected: Option<Digest>,
    size: Option<u64>,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.digester.len()
    }

    /// Verifies size and digest, fsyncs, renames into `blobs/` and fsyncs
    /// the directory. Errors: `SizeMismatch`, `DigestMismatch`, I/O.
    pub fn commit(mut self) -> Result<Digest, StoreError> {
        let file = self.file.take().expect("commit once");
        let got = self.digester.current();
        let n = self.digester.len();
        if let Some(want) = self.size {
            if want != n {
                return Err(StoreError::SizeMismatch {
                    what: self
                        .expected
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| got.to_string()),
                    expected: want,
                    actual: n,
                });
            }
        }
        if let Some(want) = &self.expected {
            if *want != got {
                return Err(StoreError::DigestMismatch {
                    expected: want.clone(),
                    actual: got,
                });
            }
        }
        file.sync_all().map_err(StoreError::io(&self.tmp))?;
        drop(file);
        let dst = self.store.path(&got);
        fs::rename(&self.tmp, &dst).map_err(StoreError::io(&dst))?;
        fsync_dir(dst.parent().expect("blob dir"))?;
        Ok(got)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.as_mut().expect("not committed").write(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() || self.tmp.exists() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
