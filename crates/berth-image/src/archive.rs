//! Archive formats in and out.
//!
//! In: a docker-archive (moby `image/tarexport`: `manifest.json` with
//! `Config`/`RepoTags`/`Layers` paths, either the legacy `<id>/layer.tar`
//! layout or the OCI layout inside that Docker 25+ writes), or an OCI image
//! layout (image-spec `image-layout.md`: `oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`) as a tar or a directory. From an index, linux/amd64
//! is chosen.
//!
//! Out: a docker-archive in Docker 25+'s shape, which is also an OCI image
//! layout: `oci-layout`, `index.json`, `blobs/sha256/*`, `manifest.json`,
//! `repositories`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path};
use std::sync::mpsc::{sync_channel, Receiver};

use berth_store::{layer, ApplyStats, Compression, ImageRecord, Store, StoreError, TempTree};
use berth_types::Digest;

use crate::oci::{self, ArchiveManifestEntry, Descriptor, ImageConfig, Index, Manifest};
use crate::reference::Reference;
use crate::{time, ImageError, Progress, Result};

/// Members kept in memory at most this big (configs, manifests, small layers).
const MEM_MAX: u64 = 1 << 20;
/// Total bytes of members kept in memory.
const MEM_TOTAL_MAX: u64 = 256 << 20;

fn bad(msg: impl Into<String>) -> ImageError {
    ImageError::BadArchive(msg.into())
}

/// A regular file of the archive.
enum Member {
    Mem(Vec<u8>),
    Blob(Digest, u64),
    /// A pulled layer blob that was not downloaded because its layer (by
    /// chain ID) is in the store already: (digest, size).
    Absent(Digest, u64),
}

/// The files of an archive: small ones in memory, the rest in the content
/// store; links recorded.
#[derive(Default)]
pub(crate) struct Contents {
    members: HashMap<String, Member>,
    links: HashMap<String, String>,
    /// Trees extracted while their member was being stored, by blob digest
    /// (a member that looks like a layer is applied speculatively on a
    /// second thread; unused trees are removed on drop).
    pre: RefCell<HashMap<Digest, PreExtracted>>,
}

/// A tree applied from a member while it was stored, with what applying it
/// found.
type PreExtracted = (TempTree, ApplyStats);

/// Chunk size of the tee between the blob writer and the extractor (below
/// malloc's mmap threshold, so chunks are recycled, not mapped each time).
const CHUNK: usize = 64 * 1024;

/// The reading end of the tee.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(v) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// True when `head` starts like a layer: a compressed stream or a tar
/// header (`ustar` magic at offset 257).
fn looks_like_layer(head: &[u8]) -> bool {
    Compression::detect(head) != Compression::None || head.get(257..262) == Some(&b"ustar"[..])
}

/// Fills `buf` from `r` as far as it goes; returns the bytes read.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Stores a large member as a blob; when it looks like a layer, also
/// applies it into a temporary tree on a second thread from the same bytes.
fn store_member(
    store: &Store,
    r: &mut dyn Read,
    expected: Option<Digest>,
    size: u64,
) -> std::result::Result<(Digest, u64, Option<PreExtracted>), StoreError> {
    let mut w = store.content.writer(expected, Some(size))?;
    let mut first = vec![0u8; CHUNK];
    let n = fill(r, &mut first).map_err(StoreError::io("archive"))?;
    first.truncate(n);
    w.write_all(&first).map_err(StoreError::io("ingest"))?;
    if !looks_like_layer(&first) {
        io::copy(r, &mut w).map_err(StoreError::io("archive"))?;
        let n = w.written();
        return Ok((w.commit()?, n, None));
    }
    let tree = store.temp_layer_dir()?;
    let dest = tree.diff();
    let (tx, rx) = sync_channel::<Vec<u8>>(16);
    let pre = std::thread::scope(|s| -> std::result::Result<Option<ApplyStats>, StoreError> {
        let h = s.spawn(move || {
            layer::apply_layer(
                ChannelReader {
                    rx,
                    cur: Vec::new(),
                    pos: 0,
                },
                &dest,
            )
            .ok()
        });
        let mut tx = Some(tx);
        // Owns the sender: dropping it tells the extractor the stream ended.
        let mut send = move |v: Vec<u8>| {
            if let Some(t) = &tx {
                if t.send(v).is_err() {
                    tx = None; // the extractor gave up: keep storing the blob
                }
            }
        };
        send(first);
        let res = (|| -> std::result::Result<(), StoreError> {
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = fill(r, &mut buf).map_err(StoreError::io("archive"))?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                w.write_all(&buf).map_err(StoreError::io("ingest"))?;
                send(buf);
            }
        })();
        drop(send);
        let stats = h.join().ok().flatten();
        res.map(|()| stats)
    })?;
    let n = w.written();
    let d = w.commit()?;
    Ok((d, n, pre.map(|st| (tree, st))))
}

/// `a/./b/../c` -> `a/c`; leading `/` and `./` dropped. None when it climbs
/// out of the archive.
fn clean(p: &Path) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop()?;
            }
            _ => {}
        }
    }
    Some(out.join("/"))
}

/// The expected digest of a member named `blobs/<alg>/<hex>`.
fn blob_name_digest(name: &str) -> Option<Digest> {
    let rest = name.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    format!("{alg}:{hex}").parse().ok()
}

impl Contents {
    /// Contents whose files are blobs already in the content store (what a
    /// registry pull fetched, verified): `index.json` in memory, and
    /// `blobs/<alg>/<hex>` for each of `blobs` (small ones read into
    /// memory, as [`Contents::read_dir`] keeps them; the rest by digest).
    pub(crate) fn from_store(
        store: &Store,
        index_json: Vec<u8>,
        blobs: &[(Digest, u64)],
        pulled: crate::pulled::PulledLayers,
    ) -> Result<Contents> {
        let mut c = Contents::default();
        c.members
            .insert("index.json".to_string(), Member::Mem(index_json));
        for (d, size) in blobs {
            let m = if pulled.skipped.contains(d) {
                Member::Absent(d.clone(), *size)
            } else if *size <= MEM_MAX {
                Member::Mem(store.content.read(d)?)
            } else {
                Member::Blob(d.clone(), store.content.size(d)?)
            };
            c.members.insert(blob_path(d), m);
        }
        *c.pre.borrow_mut() = pulled.extracted;
        Ok(c)
    }

    /// Reads a tar stream, storing big members as blobs (verified against
    /// their name when it is `blobs/<alg>/<hex>`).
    pub(crate) fn read_tar(store: &Store, r: impl Read) -> Result<Contents> {
        let mut c = Contents::default();
        let mut mem_total = 0u64;
        let mut ar = tar::Archive::new(r);
        let entries = ar
            .entries()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?;
        let mut any = false;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("truncated or corrupt tar: {e}")))?;
            any = true;
            let path = entry
                .path()
                .map_err(|e| bad(format!("bad member name: {e}")))?
                .into_owned();
            let Some(name) = clean(&path) else {
                return Err(bad(format!(
                    "member {:?} points outside the archive",
                    path.display().to_string()
                )));
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    let expected = blob_name_digest(&name);
                    if size <= MEM_MAX {
                        let mut v = Vec::with_capacity(size as usize);
                        entry.read_to_end(&mut v).map_err(|e| {
                            bad(format!("truncated or corrupt tar at {name:?}: {e}"))
                        })?;
                        if let Some(d) = &expected {
                            if Digest::of(d.algorithm(), &v) != *d {
                                return Err(bad(format!(
                                    "blob {name} does not match its digest (got {})",
                                    Digest::of(d.algorithm(), &v)
                                )));
                            }
                        }
                        mem_total += size;
                        if mem_total > MEM_TOTAL_MAX {
                            return Err(bad("too many small members"));
                        }
                        c.members.insert(name, Member::Mem(v));
                    } else {
                        let (d, n, pre) = store_member(store, &mut entry, expected.clone(), size)
                            .map_err(|e| match e {
                                StoreError::DigestMismatch { actual, .. } => bad(format!(
                                    "blob {name} does not match its digest (got {actual})"
                                )),
                                StoreError::SizeMismatch { expected, actual, .. } => bad(format!(
                                    "truncated or corrupt tar at {name:?}: {actual} of {expected} bytes"
                                )),
                                StoreError::Io { source, .. }
                                    if matches!(
                                        source.kind(),
                                        io::ErrorKind::UnexpectedEof
                                            | io::ErrorKind::InvalidData
                                            | io::ErrorKind::Other
                                    ) =>
                                {
                                    bad(format!("truncated or corrupt tar at {name:?}: {source}"))
                                }
                                other => other.into(),
                            })?;
                        if let Some(p) = pre {
                            c.pre.borrow_mut().insert(d.clone(), p);
                        }
                        c.members.insert(name, Member::Blob(d, n));
                    }
                }
                tar::EntryType::Symlink => {
                    if let Ok(Some(t)) = entry.link_name() {
                        let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                        if let Some(t) = clean(&dir.join(t)) {
                            c.links.insert(name, t);
                        }
                    }
                }
                tar::EntryType::Link => {
                    if let Ok(Some(t)) = entry.link_name() {
                        if let Some(t) = clean(&t) {
                            c.links.insert(name, t);
                        }
                    }
                }
                _ => {}
            }
        }
        if !any {
            return Err(bad("empty archive"));
        }
        Ok(c)
    }

    /// Reads an OCI image layout directory (`oci-layout`, `index.json`,
    /// `blobs/`), importing the blobs the index reaches into the store.
    pub(crate) fn read_dir(store: &Store, dir: &Path) -> Result<Contents> {
        let mut c = Contents::default();
        for f in ["oci-layout", "index.json", "manifest.json", "repositories"] {
            if let Ok(v) = std::fs::read(dir.join(f)) {
                c.members.insert(f.to_string(), Member::Mem(v));
            }
        }
        let blobs = dir.join("blobs");
        let algs =
            std::fs::read_dir(&blobs).map_err(|e| bad(format!("{}: {e}", blobs.display())))?;
        for a in algs.flatten() {
            for b in std::fs::read_dir(a.path()).into_iter().flatten().flatten() {
                let name = format!(
                    "blobs/{}/{}",
                    a.file_name().to_string_lossy(),
                    b.file_name().to_string_lossy()
                );
                let Some(d) = blob_name_digest(&name) else {
                    continue;
                };
                let mut f = File::open(b.path())
                    .map_err(|e| bad(format!("{}: {e}", b.path().display())))?;
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                if size <= MEM_MAX {
                    let mut v = Vec::new();
                    f.read_to_end(&mut v)
                        .map_err(|e| bad(format!("{name}: {e}")))?;
                    if Digest::of(d.algorithm(), &v) != d {
                        return Err(bad(format!("blob {name} does not match its digest")));
                    }
                    c.members.insert(name, Member::Mem(v));
                } else {
                    let (d, n) = store
                        .content
                        .put_reader(&mut f, Some(d), Some(size))
                        .map_err(|e| match e {
                            StoreError::DigestMismatch { actual, .. } => bad(format!(
                                "blob {name} does not match its digest (got {actual})"
                            )),
                            other => other.into(),
                        })?;
                    c.members.insert(name, Member::Blob(d, n));
                }
            }
        }
        Ok(c)
    }

    fn resolve<'a>(&'a self, name: &str) -> Option<(&'a str, &'a Member)> {
        let mut n = clean(Path::new(name))?;
        for _ in 0..16 {
            if let Some((k, m)) = self.members.get_key_value(&n) {
                return Some((k.as_str(), m));
            }
            n = self.links.get(&n)?.clone();
        }
        None
    }

    /// The bytes of a small member.
    fn bytes(&self, name: &str) -> Result<&[u8]> {
        match self.resolve(name) {
            Some((_, Member::Mem(v))) => Ok(v),
            Some((_, Member::Blob(..))) => {
                Err(bad(format!("{name} is too large for a manifest or config")))
            }
            Some((_, Member::Absent(d, _))) => {
                Err(ImageError::Store(StoreError::BlobNotFound(d.clone())))
            }
            None => Err(bad(format!("{name} is missing from the archive"))),
        }
    }

    /// The member as a blob in the content store: (digest, size).
    fn blob(&self, store: &Store, name: &str) -> Result<(Digest, u64)> {
        match self.resolve(name) {
            Some((_, Member::Blob(d, n) | Member::Absent(d, n))) => Ok((d.clone(), *n)),
            Some((_, Member::Mem(v))) => {
                let d = store.content.put(v, None)?;
                Ok((d, v.len() as u64))
            }
            None => Err(bad(format!("{name} is missing from the archive"))),
        }
    }

    /// True for a pulled layer that was not downloaded.
    fn is_absent(&self, name: &str) -> bool {
        matches!(self.resolve(name), Some((_, Member::Absent(..))))
    }

    fn has(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }
}

/// An image found in an archive, ready to be unpacked.
struct Found {
    config: Vec<u8>,
    /// The manifest bytes when the archive has one.
    manifest: Option<Vec<u8>>,
    /// Layer members: (archive path, media type when a manifest names it).
    layers: Vec<(String, Option<String>)>,
    refs: Vec<Reference>,
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, v: &[u8]) -> Result<T> {
    serde_json::from_slice(v).map_err(|e| bad(format!("{what}: {e}")))
}

/// Finds the manifests an OCI index reaches, choosing linux/amd64 among
/// platform-specific ones. Returns (manifest bytes, annotations of the
/// top-level descriptor).
fn walk_index(
    c: &Contents,
    idx: &Index,
    what: &str,
    depth: usize,
    out: &mut Vec<(Vec<u8>, BTreeMap<String, String>)>,
    top: Option<&BTreeMap<String, String>>,
) -> Result<()> {
    if depth > 4 {
        return Err(bad(format!("{what}: indexes nested too deep")));
    }
    let platformed: Vec<&Descriptor> = idx
        .manifests
        .iter()
        .filter(|d| d.platform.is_some())
        .collect();
    let chosen: Vec<&Descriptor> = if platformed.is_empty() {
        idx.manifests.iter().collect()
    } else {
        let want = platformed
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
            })
            .copied();
        match want {
            Some(d) => vec![d],
            None => {
                return Err(bad(format!(
                    "{what}: no linux/amd64 manifest (platforms: {})",
                    platformed
                        .iter()
                        .filter_map(|d| d
                            .platform
                            .as_ref()
                            .map(|p| format!("{}/{}", p.os, p.architecture)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    };
    for d in chosen {
        let bytes = c.bytes(&blob_path(&d.digest))?;
        if bytes.len() as u64 != d.size {
            return Err(bad(format!(
                "{}: size {} does not match the descriptor's {}",
                d.digest,
                bytes.len(),
                d.size
            )));
        }
        let ann = top
            .cloned()
            .or_else(|| d.annotations.clone())
            .unwrap_or_default();
        if oci::is_index(&d.media_type) {
            let sub: Index = parse_json(&format!("index {}", d.digest), bytes)?;
            walk_index(
                c,
                &sub,
                &format!("index {}", d.digest),
                depth + 1,
                out,
                Some(&ann),
            )?;
        } else if oci::is_manifest(&d.media_type) || d.media_type.is_empty() {
            out.push((bytes.to_vec(), ann));
        } else {
            return Err(ImageError::Store(StoreError::UnknownMediaType(
                d.media_type.clone(),
            )));
        }
    }
    Ok(())
}

fn found_from_manifest(c: &Contents, mbytes: Vec<u8>, refs: Vec<Reference>) -> Result<Found> {
    let m: Manifest = parse_json("manifest", &mbytes)?;
    if let Some(mt) = &m.media_type {
        if !oci::is_manifest(mt) {
            return Err(ImageError::Store(StoreError::UnknownMediaType(mt.clone())));
        }
    }
    let cmt = m.config.media_type.as_str();
    if cmt != oci::MT_OCI_CONFIG && cmt != oci::MT_DOCKER_CONFIG {
        return Err(ImageError::Store(StoreError::UnknownMediaType(
            cmt.to_string(),
        )));
    }
    let config = c.bytes(&blob_path(&m.config.digest))?.to_vec();
    let mut layers = Vec::new();
    for l in &m.layers {
        Compression::from_media_type(&l.media_type)?;
        if !c.has(&blob_path(&l.digest)) {
            return Err(bad(format!(
                "layer {} is missing from the archive",
                l.digest
            )));
        }
        layers.push((blob_path(&l.digest), Some(l.media_type.clone())));
    }
    Ok(Found {
        config,
        manifest: Some(mbytes),
        layers,
        refs,
    })
}

fn name_from_annotations(ann: &BTreeMap<String, String>) -> Option<Reference> {
    if let Some(n) = ann.get(oci::ANN_IMAGE_NAME) {
        return Reference::parse(n).ok();
    }
    // A bare tag ("latest") names no repository; only a full name counts.
    let n = ann.get(oci::ANN_REF_NAME)?;
    if n.contains('/') || n.contains(':') {
        Reference::parse(n).ok()
    } else {
        None
    }
}

fn find_images(c: &Contents) -> Result<Vec<Found>> {
    // OCI manifests reachable from index.json, by config digest.
    let mut oci_manifests: Vec<(Vec<u8>, BTreeMap<String, String>)> = Vec::new();
    if c.has("index.json") {
        let idx: Index = parse_json("index.json", c.bytes("index.json")?)?;
        walk_index(c, &idx, "index.json", 0, &mut oci_manifests, None)?;
    }
    if c.has("manifest.json") {
        let entries: Vec<ArchiveManifestEntry> =
            parse_json("manifest.json", c.bytes("manifest.json")?)?;
        if entries.is_empty() {
            return Err(bad("manifest.json lists no images"));
        }
        let mut by_config: HashMap<Digest, Vec<u8>> = HashMap::new();
        for (m, _) in &oci_manifests {
            if let Ok(mm) = serde_json::from_slice::<Manifest>(m) {
                by_config.insert(mm.config.digest.clone(), m.clone());
            }
        }
        let mut out = Vec::new();
        for e in entries {
            let mut refs = Vec::new();
            for t in &e.repo_tags {
                let r = Reference::parse(t)
                    .map_err(|err| bad(format!("manifest.json: tag {t:?}: {err}")))?;
                refs.push(r);
            }
            let config = c.bytes(&e.config)?.to_vec();
            let cd = Digest::sha256_of(&config);
            let manifest = by_config.get(&cd).cloned();
            let layers = match &manifest {
                Some(m) => {
                    let mm: Manifest = parse_json("manifest", m)?;
                    if mm.layers.len() != e.layers.len() {
                        return Err(bad(format!(
                            "manifest.json and the OCI manifest of {cd} disagree on the layers"
                        )));
                    }
                    e.layers
                        .iter()
                        .zip(mm.layers.iter())
                        .map(|(p, d)| (p.clone(), Some(d.media_type.clone())))
                        .collect()
                }
                None => e.layers.iter().map(|p| (p.clone(), None)).collect(),
            };
            out.push(Found {
                config,
                manifest,
                layers,
                refs,
            });
        }
        return Ok(out);
    }
    if c.has("index.json") {
        if oci_manifests.is_empty() {
            return Err(bad("index.json lists no images"));
        }
        let mut out = Vec::new();
        for (m, ann) in oci_manifests {
            let refs = name_from_annotations(&ann).into_iter().collect();
            out.push(found_from_manifest(c, m, refs)?);
        }
        return Ok(out);
    }
    Err(bad(
        "no manifest.json or index.json: not a docker-archive or an OCI image layout",
    ))
}

/// An image ready to be recorded.
pub(crate) struct Prepared {
    pub record: ImageRecord,
    pub refs: Vec<Reference>,
}

/// Unpacks every image of `c` into the store (blobs and layer trees), and
/// returns the records to commit.
pub(crate) fn prepare_images(
    store: &Store,
    c: &Contents,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Prepared>> {
    let mut out = Vec::new();
    for f in find_images(c)? {
        let config_digest = Digest::sha256_of(&f.config);
        let cfg: ImageConfig = parse_json(&format!("config {config_digest}"), &f.config)?;
        if cfg.rootfs.diff_ids.len() != f.layers.len() {
            return Err(bad(format!(
                "config {config_digest} lists {} diff IDs but the manifest has {} layers",
                cfg.rootfs.diff_ids.len(),
                f.layers.len()
            )));
        }
        let mut chains: Vec<Digest> = Vec::new();
        let mut size = 0u64;
        let mut layer_descs = Vec::new();
        let mut blobs = Vec::new();
        for ((path, mt), diff_id) in f.layers.iter().zip(cfg.rootfs.diff_ids.iter()) {
            let (bd, bsize) = c.blob(store, path)?;
            let absent = c.is_absent(path);
            let pre = c.pre.borrow_mut().remove(&bd);
            let chain = berth_store::chain_id(chains.last(), diff_id);
            let res = match pre {
                Some((_, stats)) if stats.diff_id != *diff_id => Err(StoreError::DigestMismatch {
                    expected: diff_id.clone(),
                    actual: stats.diff_id,
                }),
                Some((tree, stats)) => store.commit_extracted(tree, &stats, chains.last()),
                None => match store.db.layer(&chain)? {
                    // A pull that skipped the blob: the layer, verified
                    // against its diff ID when it was made, is the content.
                    Some(rec) if absent && store.layer_dir(&chain).is_dir() => Ok(rec),
                    _ if absent => Err(StoreError::BlobNotFound(bd.clone())),
                    // Already unpacked: still check this archive's bytes.
                    Some(rec) if store.layer_dir(&chain).is_dir() => {
                        let actual = if bd == *diff_id {
                            bd.clone()
                        } else {
                            layer::diff_id_of(store.content.open_blob(&bd)?)?
                        };
                        if actual == *diff_id {
                            Ok(rec)
                        } else {
                            Err(StoreError::DigestMismatch {
                                expected: diff_id.clone(),
                                actual,
                            })
                        }
                    }
                    _ => {
                        let mut file = store.content.open_blob(&bd)?;
                        store.unpack_layer(&mut file, chains.last(), Some(diff_id))
                    }
                },
            };
            let rec = res.map_err(|e| match e {
                StoreError::DigestMismatch { expected, actual } => bad(format!(
                    "layer {path}: diff ID {actual} does not match the config's {expected}"
                )),
                StoreError::BadLayer(m) => bad(format!("layer {path}: {m}")),
                other => other.into(),
            })?;
            progress(&Progress {
                id: diff_id.short().to_string(),
                status: "Loading layer",
                current: bsize,
                total: bsize,
            });
            size += rec.size;
            chains.push(rec.chain_id);
            let media_type = match mt {
                Some(m) => m.clone(),
                None => {
                    let mut head = [0u8; 4];
                    let n = store.content.open_blob(&bd)?.read(&mut head).unwrap_or(0);
                    match Compression::detect(&head[..n]) {
                        Compression::None => oci::MT_OCI_LAYER_TAR,
                        Compression::Gzip => oci::MT_OCI_LAYER_GZIP,
                        Compression::Zstd => oci::MT_OCI_LAYER_ZSTD,
                    }
                    .to_string()
                }
            };
            layer_descs.push(Descriptor {
                media_type,
                digest: bd.clone(),
                size: bsize,
                annotations: None,
                platform: None,
            });
            blobs.push(bd);
        }
        let manifest = match f.manifest {
            Some(m) => m,
            None => serde_json::to_vec(&Manifest {
                schema_version: 2,
                media_type: Some(oci::MT_OCI_MANIFEST.to_string()),
                config: Descriptor {
                    media_type: oci::MT_OCI_CONFIG.to_string(),
                    digest: config_digest.clone(),
                    size: f.config.len() as u64,
                    annotations: None,
                    platform: None,
                },
                layers: layer_descs,
                annotations: None,
            })
            .expect("manifest serialises"),
        };
        let cd = store.content.put(&f.config, Some(config_digest.clone()))?;
        let md = store.content.put(&manifest, None)?;
        blobs.push(cd);
        blobs.push(md.clone());
        out.push(Prepared {
            record: ImageRecord {
                id: config_digest,
                manifest: md,
                config: f.config,
                created: time::unix(cfg.created.as_deref()),
                size,
                layers: chains,
                blobs,
                added: time::now_nanos(),
            },
            refs: f.refs,
        });
    }
    Ok(out)
}

fn header(path: &str, size: u64, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

/// One image to save: its record and the references to write for it.
pub(crate) struct ToSave {
    pub record: ImageRecord,
    pub refs: Vec<Reference>,
}

/// Writes a docker-archive with an OCI layout inside (Docker 25+).
pub(crate) fn write_archive(store: &Store, images: &[ToSave], w: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(w);
    let io_err = |e: io::Error| {
        ImageError::Store(StoreError::Io {
            path: "archive".into(),
            source: e,
        })
    };
    for d in ["blobs/", "blobs/sha256/"] {
        b.append(&header(d, 0, tar::EntryType::Directory), io::empty())
            .map_err(io_err)?;
    }
    let mut written: HashSet<Digest> = HashSet::new();
    let mut index = Index {
        schema_version: 2,
        media_type: Some(oci::MT_OCI_INDEX.to_string()),
        manifests: Vec::new(),
        annotations: None,
    };
    let mut manifest_json: Vec<ArchiveManifestEntry> = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for img in images {
        let stored = store.content.read(&img.record.manifest)?;
        // A pulled image whose layer blob was not downloaded (the store had
        // the layer): the archive gets the stored blob of the same diff ID,
        // and a manifest naming it.
        let cfg: ImageConfig = parse_json("stored config", &img.record.config)?;
        let (mdigest, mbytes) = match crate::pulled::manifest_with_stored_blobs(
            store,
            &stored,
            &cfg.rootfs.diff_ids,
        )? {
            Some(v) => (Digest::sha256_of(&v), v),
            None => (img.record.manifest.clone(), stored),
        };
        let m: Manifest = parse_json("stored manifest", &mbytes)?;
        let mut all: Vec<Digest> = m.layers.iter().map(|l| l.digest.clone()).collect();
        all.push(m.config.digest.clone());
        for d in all {
            if !written.insert(d.clone()) {
                continue;
            }
            let size = store.content.size(&d)?;
            let f = store.content.open_blob(&d)?;
            b.append(&header(&blob_path(&d), size, tar::EntryType::Regular), f)
                .map_err(io_err)?;
        }
        if written.insert(mdigest.clone()) {
            b.append(
                &header(
                    &blob_path(&mdigest),
                    mbytes.len() as u64,
                    tar::EntryType::Regular,
                ),
                mbytes.as_slice(),
            )
            .map_err(io_err)?;
        }
        let desc = |ann: Option<BTreeMap<String, String>>| Descriptor {
            media_type: m
                .media_type
                .clone()
                .unwrap_or_else(|| oci::MT_OCI_MANIFEST.to_string()),
            digest: mdigest.clone(),
            size: mbytes.len() as u64,
            annotations: ann,
            platform: None,
        };
        let tags: Vec<&Reference> = img.refs.iter().filter(|r| r.tag().is_some()).collect();
        if tags.is_empty() {
            index.manifests.push(desc(None));
        }
        for r in &tags {
            let mut ann = BTreeMap::new();
            ann.insert(oci::ANN_IMAGE_NAME.to_string(), r.to_string());
            ann.insert(
                oci::ANN_REF_NAME.to_string(),
                r.tag().unwrap_or("latest").to_string(),
            );
            index.manifests.push(desc(Some(ann)));
            repositories.entry(r.familiar_name()).or_default().insert(
                r.tag().unwrap_or("latest").to_string(),
                img.record.id.hex().to_string(),
            );
        }
        manifest_json.push(ArchiveManifestEntry {
            config: blob_path(&m.config.digest),
            repo_tags: tags.iter().map(|r| r.familiar()).collect(),
            layers: m.layers.iter().map(|l| blob_path(&l.digest)).collect(),
        });
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("index.json", serde_json::to_vec(&index).expect("json")),
        (
            "manifest.json",
            serde_json::to_vec(&manifest_json).expect("json"),
        ),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        (
            "repositories",
            serde_json::to_vec(&repositories).expect("json"),
        ),
    ];
    for (name, data) in files {
        b.append(
            &header(name, data.len() as u64, tar::EntryType::Regular),
            data.as_slice(),
        )
        .map_err(io_err)?;
    }
    b.into_inner().and_then(|mut w| w.flush()).map_err(io_err)?;
    Ok(())
}
