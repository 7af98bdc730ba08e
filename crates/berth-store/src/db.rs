//! The metadata database (`berth.db`, SQLite in WAL mode): images,
//! references (tags and digests), layers and snapshots, plus what each
//! references, which is what garbage collection keeps.
//!
//! Each mutating call is one transaction, so a crash leaves either the
//! state before it or the state after it.

use std::path::Path;
use std::sync::Mutex;

use berth_types::Digest;
use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images(
  id TEXT PRIMARY KEY,        -- image ID: the config digest, 'sha256:<hex>'
  manifest TEXT NOT NULL,     -- manifest digest in the content store
  config BLOB NOT NULL,       -- the image config JSON, byte for byte
  created INTEGER NOT NULL,   -- config 'created', unix seconds (0 when absent)
  size INTEGER NOT NULL,      -- sum of the layers' sizes, bytes
  added INTEGER NOT NULL      -- when stored here, unix nanoseconds
);
CREATE TABLE IF NOT EXISTS image_layers(
  image TEXT NOT NULL, idx INTEGER NOT NULL, chain TEXT NOT NULL,
  PRIMARY KEY(image, idx));
CREATE TABLE IF NOT EXISTS image_blobs(
  image TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY(image, digest));
CREATE TABLE IF NOT EXISTS refs(
  name TEXT PRIMARY KEY,      -- normalised reference: docker.io/library/busybox:latest
  image TEXT NOT NULL,
  kind INTEGER NOT NULL,      -- 0 tag, 1 digest
  added INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image);
CREATE TABLE IF NOT EXISTS layers(
  chain TEXT PRIMARY KEY, parent TEXT, diff_id TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots(
  id TEXT PRIMARY KEY, image TEXT, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot_layers(
  snapshot TEXT NOT NULL, idx INTEGER NOT NULL, chain TEXT NOT NULL,
  PRIMARY KEY(snapshot, idx));
";

/// Whether a reference names a tag or a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// `repo:tag` (Docker's RepoTags).
    Tag,
    /// `repo@sha256:...` (Docker's RepoDigests).
    Digest,
}

/// One image as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// Image ID: the digest of the config blob.
    pub id: Digest,
    /// Digest of the (OCI or Docker schema 2) manifest blob.
    pub manifest: Digest,
    /// The config JSON, byte for byte.
    pub config: Vec<u8>,
    /// The config's `created`, unix seconds (0 when absent).
    pub created: i64,
    /// Sum of the layer sizes, bytes.
    pub size: u64,
    /// Chain IDs of the layers, bottom first.
    pub layers: Vec<Digest>,
    /// Blobs the image needs kept: manifest, config, layer archives.
    pub blobs: Vec<Digest>,
    /// When it was stored, unix nanoseconds.
    pub added: i64,
}

/// One extracted layer tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    /// Its chain ID (names `layers/<hex>`).
    pub chain_id: Digest,
    /// The parent's chain ID (None for a bottom layer).
    pub parent: Option<Digest>,
    /// Its diff ID.
    pub diff_id: Digest,
    /// Sum of its regular files' sizes, bytes.
    pub size: u64,
}

/// One snapshot (a container's rw layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    /// The snapshot ID (the container ID, for containers).
    pub id: String,
    /// The image it was made from, when any.
    pub image: Option<Digest>,
    /// Chain IDs of its read-only layers, bottom first.
    pub layers: Vec<Digest>,
    /// Creation time, unix seconds.
    pub created: i64,
}

/// The metadata database handle (a connection behind a mutex).
pub struct Db {
    conn: Mutex<Connection>,
}

fn dig(s: String) -> Result<Digest, rusqlite::Error> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Db {
    /// Opens (creating) the database at `path` in WAL mode with
    /// `synchronous=FULL`.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts an image (kept as is when its ID is already present) and
    /// points `refs` at it, moving them from any other image, in one
    /// transaction.
    pub fn insert_image(
        &self,
        rec: &ImageRecord,
        refs: &[(String, RefKind)],
    ) -> Result<(), StoreError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO images(id, manifest, config, created, size, added) VALUES(?1,?2,?3,?4,?5,?6)",
            params![rec.id.to_string(), rec.manifest.to_string(), rec.config, rec.created, rec.size as i64, rec.added],
        )?;
        if n == 1 {
            for (i, l) in rec.layers.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_layers(image, idx, chain) VALUES(?1,?2,?3)",
                    params![rec.id.to_string(), i as i64, l.to_string()],
                )?;
            }
        }
        for b in &rec.blobs {
            tx.execute(
                "INSERT OR IGNORE INTO image_blobs(image, digest) VALUES(?1,?2)",
                params![rec.id.to_string(), b.to_string()],
            )?;
        }
        for (name, kind) in refs {
            set_ref_tx(&tx, name, &rec.id, *kind, rec.added)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn image_from_row(
        c: &Connection,
        row: (String, String, Vec<u8>, i64, i64, i64),
    ) -> Result<ImageRecord, StoreError> {
        let id = dig(row.0)?;
        let mut st =
            c.prepare_cached("SELECT chain FROM image_layers WHERE image=?1 ORDER BY idx")?;
        let layers = st
            .query_map([id.to_string()], |r| r.get::<_, String>(0))?
            .map(|s| s.and_then(dig))
            .collect::<Result<Vec<_>, _>>()?;
        let mut st = c.prepare_cached("SELECT digest FROM image_blobs WHERE image=?1")?;
        let blobs = st
            .query_map([id.to_string()], |r| r.get::<_, String>(0))?
            .map(|s| s.and_then(dig))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ImageRecord {
            id,
            manifest: dig(row.1)?,
            config: row.2,
            created: row.3,
            size: row.4 as u64,
            layers,
            blobs,
            added: row.5,
        })
    }

    /// The image with this ID, if any.
    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>, StoreError> {
        let c = self.conn();
        let row = c
            .query_row(
                "SELECT id, manifest, config, created, size, added FROM images WHERE id=?1",
                [id.to_string()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|row| Self::image_from_row(&c, row)).transpose()
    }

    /// Every image, oldest first (by when stored).
    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let c = self.conn();
        let mut st = c.prepare(
            "SELECT id, manifest, config, created, size, added FROM images ORDER BY added, id",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        drop(st);
        rows.into_iter()
            .map(|row| Self::image_from_row(&c, row))
            .collect()
    }

    /// IDs of the images whose hex ID starts with `hex_prefix`.
    pub fn images_by_prefix(&self, hex_prefix: &str) -> Result<Vec<Digest>, StoreError> {
        let c = self.conn();
        let mut st = c.prepare("SELECT id FROM images WHERE substr(id, 8, ?2) = ?1")?;
        let v = st
            .query_map(params![hex_prefix, hex_prefix.len() as i64], |r| {
                r.get::<_, String>(0)
            })?
            .map(|s| s.and_then(dig))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// Deletes an image and every reference to it, in one transaction.
    pub fn delete_image(&self, id: &Digest) -> Result<(), StoreError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let id = id.to_string();
        tx.execute("DELETE FROM refs WHERE image=?1", [&id])?;
        tx.execute("DELETE FROM image_layers WHERE image=?1", [&id])?;
        tx.execute("DELETE FROM image_blobs WHERE image=?1", [&id])?;
        tx.execute("DELETE FROM images WHERE id=?1", [&id])?;
        tx.commit()?;
        Ok(())
    }

    /// The references of an image, oldest first.
    pub fn refs_of(&self, id: &Digest) -> Result<Vec<(String, RefKind)>, StoreError> {
        let c = self.conn();
        let mut st =
            c.prepare_cached("SELECT name, kind FROM refs WHERE image=?1 ORDER BY added, name")?;
        let v = st
            .query_map([id.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .map(|r| {
                r.map(|(n, k)| {
                    (
                        n,
                        if k == 1 {
                            RefKind::Digest
                        } else {
                            RefKind::Tag
                        },
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// The image a normalised reference points at.
    pub fn resolve_ref(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        let c = self.conn();
        let s: Option<String> = c
            .query_row("SELECT image FROM refs WHERE name=?1", [name], |r| r.get(0))
            .optional()?;
        Ok(s.map(dig).transpose()?)
    }

    /// Points `name` at `image` (moving it from another image).
    pub fn set_ref(
        &self,
        name: &str,
        image: &Digest,
        kind: RefKind,
        added: i64,
    ) -> Result<(), StoreError> {
        let c = self.conn();
        set_ref_tx(&c, name, image, kind, added)
    }

    /// Removes a reference; true when it existed.
    pub fn delete_ref(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM refs WHERE name=?1", [name])?
            == 1)
    }

    /// Records a layer tree (no-op when recorded).
    pub fn insert_layer(&self, rec: &LayerRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO layers(chain, parent, diff_id, size) VALUES(?1,?2,?3,?4)",
            params![
                rec.chain_id.to_string(),
                rec.parent.as_ref().map(|p| p.to_string()),
                rec.diff_id.to_string(),
                rec.size as i64
            ],
        )?;
        Ok(())
    }

    /// The layer with this chain ID.
    pub fn layer(&self, chain: &Digest) -> Result<Option<LayerRecord>, StoreError> {
        let c = self.conn();
        let row: Option<(String, Option<String>, String, i64)> = c
            .query_row(
                "SELECT chain, parent, diff_id, size FROM layers WHERE chain=?1",
                [chain.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(layer_from_row).transpose()
    }

    /// Every recorded layer.
    pub fn layers(&self) -> Result<Vec<LayerRecord>, StoreError> {
        let c = self.conn();
        let mut st = c.prepare("SELECT chain, parent, diff_id, size FROM layers")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(layer_from_row).collect()
    }

    /// Forgets a layer.
    pub fn delete_layer(&self, chain: &Digest) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM layers WHERE chain=?1", [chain.to_string()])?;
        Ok(())
    }

    /// Every blob some image needs.
    pub fn referenced_blobs(&self) -> Result<Vec<Digest>, StoreError> {
        self.digests("SELECT DISTINCT digest FROM image_blobs")
    }

    /// Every layer some image or snapshot needs.
    pub fn referenced_layers(&self) -> Result<Vec<Digest>, StoreError> {
        self.digests("SELECT chain FROM image_layers UNION SELECT chain FROM snapshot_layers")
    }

    fn digests(&self, sql: &str) -> Result<Vec<Digest>, StoreError> {
        let c = self.conn();
        let mut st = c.prepare(sql)?;
        let v = st
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|s| s.and_then(dig))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// Runs `f` on the connection with `synchronous=NORMAL`: in WAL mode
    /// its commit is atomic and survives a crash of the process, but is
    /// not fsynced (sqlite.org/pragma.html#pragma_synchronous), so a power
    /// loss may roll it back; the next `FULL` commit (any image change)
    /// makes it durable too. For container snapshots, whose records matter
    /// no longer than their containers and are written on every create
    /// and remove (an fsync each, ~0.5 ms here).
    fn relaxed<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.conn();
        c.pragma_update(None, "synchronous", "NORMAL")?;
        let r = f(&mut c);
        let back = c.pragma_update(None, "synchronous", "FULL");
        let v = r?;
        back?;
        Ok(v)
    }

    /// Records a snapshot (not fsynced: see [`Db::relaxed`]). Errors
    /// `SnapshotExists`.
    pub fn insert_snapshot(&self, rec: &SnapshotRecord) -> Result<(), StoreError> {
        self.relaxed(|c| Self::insert_snapshot_tx(c, rec))
    }

    fn insert_snapshot_tx(c: &mut Connection, rec: &SnapshotRecord) -> Result<(), StoreError> {
        let tx = c.transaction()?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO snapshots(id, image, created) VALUES(?1,?2,?3)",
            params![
                rec.id,
                rec.image.as_ref().map(|d| d.to_string()),
                rec.created
            ],
        )?;
        if n == 0 {
            return Err(StoreError::SnapshotExists(rec.id.clone()));
        }
        for (i, l) in rec.layers.iter().enumerate() {
            tx.execute(
                "INSERT INTO snapshot_layers(snapshot, idx, chain) VALUES(?1,?2,?3)",
                params![rec.id, i as i64, l.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The snapshot with this ID.
    pub fn snapshot(&self, id: &str) -> Result<Option<SnapshotRecord>, StoreError> {
        let c = self.conn();
        let row: Option<(String, Option<String>, i64)> = c
            .query_row(
                "SELECT id, image, created FROM snapshots WHERE id=?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, image, created)) = row else {
            return Ok(None);
        };
        let mut st =
            c.prepare_cached("SELECT chain FROM snapshot_layers WHERE snapshot=?1 ORDER BY idx")?;
        let layers = st
            .query_map([&id], |r| r.get::<_, String>(0))?
            .map(|s| s.and_then(dig))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(SnapshotRecord {
            id,
            image: image.map(dig).transpose()?,
            layers,
            created,
        }))
    }

    /// IDs of every snapshot.
    pub fn snapshot_ids(&self) -> Result<Vec<String>, StoreError> {
        let c = self.conn();
        let mut st = c.prepare("SELECT id FROM snapshots ORDER BY created, id")?;
        let v = st
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// Forgets a snapshot (not fsynced: see [`Db::relaxed`]); true when it
    /// existed.
    pub fn delete_snapshot(&self, id: &str) -> Result<bool, StoreError> {
        self.relaxed(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM snapshot_layers WHERE snapshot=?1", [id])?;
            let n = tx.execute("DELETE FROM snapshots WHERE id=?1", [id])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }
}

fn set_ref_tx(
    c: &Connection,
    name: &str,
    image: &Digest,
    kind: RefKind,
    added: i64,
) -> Result<(), StoreError> {
    let k = match kind {
        RefKind::Tag => 0,
        RefKind::Digest => 1,
    };
    c.execute(
        "INSERT INTO refs(name, image, kind, added) VALUES(?1,?2,?3,?4)
         ON CONFLICT(name) DO UPDATE SET image=excluded.image, kind=excluded.kind, added=excluded.added
         WHERE refs.image != excluded.image",
        params![name, image.to_string(), k, added],
    )?;
    Ok(())
}

fn layer_from_row(row: (String, Option<String>, String, i64)) -> Result<LayerRecord, StoreError> {
    Ok(LayerRecord {
        chain_id: dig(row.0)?,
        parent: row.1.map(dig).transpose()?,
        diff_id: dig(row.2)?,
        size: row.3 as u64,
    })
}
