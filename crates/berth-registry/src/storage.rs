//! The registry's filesystem storage.
//!
//! Layout under the root directory (every write that matters goes to a temp
//! file in the same filesystem, is fsynced, renamed into place, and the
//! directory fsynced, like the engine's content store):
//!
//! ```text
//! ROOT/
//!   blobs/<alg>/<hex>                      blob bytes, shared by all repositories (dedup)
//!   repositories/<name>/
//!     _layers/<alg>/<hex>                  empty link: the repository holds this blob
//!     _manifests/<alg>/<hex>               link: JSON {mediaType, subject}; the manifest bytes are the blob
//!     _tags/<tag>                          the tagged manifest's digest
//!     _referrers/<alg>-<hex>/<alg>-<hex>   referrer descriptor JSON, by subject then referrer
//!   uploads/<id>.<repo key>                an upload session's bytes (persisted: a restarted server
//!                                          resumes it; renamed into blobs/ when it completes)
//!   uploads/.tmp*                          monolithic uploads being received
//!   tmp/                                   staging for atomic writes
//!   gc.lock                                flock: shared while writing links, exclusive during gc
//! ```
//!
//! A blob becomes visible only after its digest verified; a manifest only
//! after every blob it references is present; a tag only after its manifest
//! is stored. Methods here are synchronous and meant for
//! `tokio::task::spawn_blocking`, except the body-streaming helpers.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use berth_types::{Algorithm, Digest, Digester};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Code, RegistryError, Result};
use crate::manifest;

/// Bytes buffered from a request body before each write to disk.
const WRITE_CHUNK: usize = 1024 * 1024;

/// True for a repository name matching the spec's `<name>` grammar
/// (spec.md "Pulling manifests": path components of
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`), at most 255 bytes.
pub fn valid_repo_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    name.split('/').all(|comp| {
        let b = comp.as_bytes();
        if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            if is_alnum(b[i]) {
                i += 1;
                continue;
            }
            // a separator run: ".", "_", "__" or "-"+
            let start = i;
            while i < b.len() && !is_alnum(b[i]) {
                i += 1;
            }
            let sep = &comp[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
            if !ok {
                return false;
            }
        }
        true
    })
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// True for a tag matching `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` (spec.md
/// "Pulling manifests").
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A tag such as `latest`.
    Tag(String),
    /// A digest such as `sha256:…`.
    Digest(Digest),
}

impl Reference {
    /// Parses a `<reference>` path segment. A string with `:` must be a
    /// valid digest (else 400 `DIGEST_INVALID`); anything else must be a
    /// valid tag (else 400 `MANIFEST_INVALID`).
    pub fn parse(s: &str) -> Result<Reference> {
        if s.contains(':') {
            s.parse::<Digest>()
                .map(Reference::Digest)
                .map_err(|e| RegistryError::new(Code::DigestInvalid, e.to_string()))
        } else if valid_tag(s) {
            Ok(Reference::Tag(s.to_string()))
        } else {
            Err(RegistryError::new(
                Code::ManifestInvalid,
                format!("invalid tag {s:?}"),
            ))
        }
    }
}

/// What a repository's manifest link records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestLink {
    /// The media type the manifest was pushed with (sent back as
    /// `Content-Type`).
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The subject's digest, when the manifest has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Digest>,
}

/// A stored manifest, as served by GET/HEAD.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    /// Its digest (`Docker-Content-Digest`).
    pub digest: Digest,
    /// Its media type (`Content-Type`).
    pub media_type: String,
    /// Its bytes, exactly as pushed.
    pub body: Bytes,
}

/// In-memory state of an upload session: a running sha256 of the bytes
/// written so far. Lost on restart; the data file is then re-hashed.
pub struct SessionState {
    /// Running sha256 of `data`, valid when its length equals the file's.
    pub digester: Option<Digester>,
}

/// `info.json` of a session directory written by earlier versions
/// (`uploads/<id>/{info.json,data}`): read only by [`Storage::stale_sessions`]
/// so gc still collects them.
#[derive(Debug, Serialize, Deserialize)]
struct SessionInfo {
    repo: String,
    started_unix: u64,
}

/// A held upload session: its lock guard and where its bytes live.
pub struct Session {
    /// The session's id (the last path segment of its Location).
    pub id: String,
    /// The session's data file, `uploads/<id>.<repo key>`.
    pub path: PathBuf,
    /// Held for the duration of one request on the session.
    pub state: tokio::sync::OwnedMutexGuard<SessionState>,
}

/// The registry's storage root. Cheap to share behind an `Arc`.
pub struct Storage {
    root: PathBuf,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<SessionState>>>>,
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// fsyncs a directory so a rename or create inside it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Storage {
    /// Opens (creating as needed) the storage root `root`, with the fixed
    /// part of the layout (`blobs/sha256`, `blobs/sha512`, `repositories`,
    /// `uploads`, `tmp`) created and made durable here, at start-up, so
    /// that no request pays for the directory fsyncs.
    ///
    /// Errors: the directories cannot be created.
    pub fn open(root: &Path) -> io::Result<Storage> {
        fs::create_dir_all(root)?;
        let st = Storage {
            root: root.to_path_buf(),
            sessions: Mutex::new(HashMap::new()),
        };
        for d in [
            "blobs/sha256",
            "blobs/sha512",
            "repositories",
            "uploads",
            "tmp",
        ] {
            st.ensure_dir(&root.join(d))?;
        }
        Ok(st)
    }

    /// Removes leftovers of atomic writes interrupted by a crash (`tmp/`).
    /// Only the server calls this, at start, before it writes anything.
    pub fn clean_tmp(&self) {
        if let Ok(rd) = fs::read_dir(self.root.join("tmp")) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a blob's bytes.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.join("repositories").join(repo)
    }

    fn layer_link(&self, repo: &str, d: &Digest) -> PathBuf {
        self.repo_dir(repo)
            .join("_layers")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn manifest_link(&self, repo: &str, d: &Digest) -> PathBuf {
        self.repo_dir(repo)
            .join("_manifests")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn tag_path(&self, repo: &str, tag: &str) -> PathBuf {
        self.repo_dir(repo).join("_tags").join(tag)
    }

    fn referrers_dir(&self, repo: &str, subject: &Digest) -> PathBuf {
        self.repo_dir(repo).join("_referrers").join(format!(
            "{}-{}",
            subject.algorithm(),
            subject.hex()
        ))
    }

    /// Takes the shared side of `gc.lock` (blocking): held while links are
    /// written, so an offline or concurrent `gc` (exclusive side) never
    /// sweeps between a manifest's blob check and its link write.
    pub fn shared_lock(&self) -> io::Result<File> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join("gc.lock"))?;
        fs4::fs_std::FileExt::lock_shared(&f)?;
        Ok(f)
    }

    /// Creates `dir` and missing parents, fsyncing each new directory's
    /// parent.
    pub fn ensure_dir(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.ensure_dir(parent)?;
        }
        match fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(e),
        }
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Writes `data` to `path` crash-safely: temp file in `ROOT/tmp`, fsync,
    /// rename, fsync of the target directory.
    pub fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let dir = path.parent().expect("storage paths have parents");
        self.ensure_dir(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        tmp.write_all(data)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        sync_dir(dir)
    }

    /// Creates an empty link file (or refreshes its mtime, which gc reads
    /// as "recently used").
    fn touch_link(&self, path: &Path) -> io::Result<()> {
        let dir = path.parent().expect("link paths have parents");
        self.ensure_dir(dir)?;
        match OpenOptions::new().write(true).open(path) {
            Ok(f) => f.set_modified(SystemTime::now()),
            Err(e) if not_found(&e) => {
                File::create(path)?;
                sync_dir(dir)
            }
            Err(e) => Err(e),
        }
    }

    // ---- blobs ---------------------------------------------------------

    /// Size and path of blob `d` if repository `repo` holds it (as a layer
    /// or as a manifest).
    pub fn stat_blob(&self, repo: &str, d: &Digest) -> Option<(PathBuf, u64)> {
        if !self.layer_link(repo, d).exists() && !self.manifest_link(repo, d).exists() {
            return None;
        }
        let p = self.blob_path(d);
        let md = fs::metadata(&p).ok()?;
        Some((p, md.len()))
    }

    /// Removes blob `d` from repository `repo` (spec.md "Deleting Blobs").
    /// The bytes stay until gc finds them unreferenced.
    ///
    /// Errors: `BLOB_UNKNOWN` when the repository does not hold it.
    pub fn delete_blob(&self, repo: &str, d: &Digest) -> Result<()> {
        let link = self.layer_link(repo, d);
        match fs::remove_file(&link) {
            Ok(()) => {
                sync_dir(link.parent().expect("link has parent"))?;
                Ok(())
            }
            Err(e) if not_found(&e) => Err(RegistryError::new(
                Code::BlobUnknown,
                format!("blob {d} unknown to repository {repo}"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Cross-repository mount (spec.md "Mounting a blob from another
    /// repository"): links blob `d` into `repo` if `from` holds it, or, with
    /// `from == None`, if any repository does. Returns false when it cannot.
    pub fn mount_blob(&self, repo: &str, from: Option<&str>, d: &Digest) -> Result<bool> {
        let present = match from {
            Some(from) => self.stat_blob(from, d).is_some(),
            None => self.blob_path(d).is_file(),
        };
        if !present {
            return Ok(false);
        }
        let _lock = self.shared_lock()?;
        if !self.blob_path(d).is_file() {
            return Ok(false);
        }
        self.touch_link(&self.layer_link(repo, d))?;
        Ok(true)
    }

    /// Moves the verified file `src` (same filesystem, already fsynced)
    /// into the blob store as `d` and links it into `repo`. If the blob is
    /// already stored, `src` is dropped (deduplication).
    pub fn commit_blob(&self, src: &Path, repo: &str, d: &Digest) -> Result<()> {
        let _lock = self.shared_lock()?;
        let dst = self.blob_path(d);
        if dst.is_file() {
            let _ = fs::remove_file(src);
            if let Ok(f) = OpenOptions::new().write(true).open(&dst) {
                let _ = f.set_modified(SystemTime::now());
            }
            self.touch_link(&self.layer_link(repo, d))?;
        } else {
            // Rename, create the link, then make both directory entries
            // durable: on ext4 the first fsync commits the journal
            // transaction holding both, so the second is nearly free (one
            // commit wait per blob instead of two). A crash in between is
            // harmless: a link whose blob is missing reads as unknown, a
            // blob without links is unreferenced (gc takes it). Both are
            // durable before the client is answered.
            let dir = dst.parent().expect("blob path has parent");
            self.ensure_dir(dir)?;
            fs::rename(src, &dst)?;
            let link = self.layer_link(repo, d);
            let link_dir = link.parent().expect("link paths have parents");
            self.ensure_dir(link_dir)?;
            let created = match File::create_new(&link) {
                Ok(_) => true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(e.into()),
            };
            sync_dir(dir)?;
            if created {
                sync_dir(link_dir)?;
            } else {
                self.touch_link(&link)?;
            }
        }
        Ok(())
    }

    // ---- upload sessions ----------------------------------------------

    /// The data file of session `id` of `repo`: `uploads/<id>.<key>`,
    /// `key` being the first 16 hex digits of the sha256 of the repository
    /// name. The name is the session's only metadata, so a session is one
    /// file: it becomes the blob by a rename when the upload finishes, and
    /// nothing is deleted. (The earlier layout, a directory with
    /// `info.json` and `data`, allocated three inodes per upload and freed
    /// two; ext4's inode allocator then scans the recently freed ones on
    /// every create, and under 16 parallel pushers that scan was most of
    /// the server's CPU time.) The same id under another repository names
    /// a file that does not exist: `BLOB_UPLOAD_UNKNOWN`, as the spec wants.
    fn session_path(&self, repo: &str, id: &str) -> PathBuf {
        let key = Digest::sha256_of(repo.as_bytes());
        self.root
            .join("uploads")
            .join(format!("{id}.{}", &key.hex()[..16]))
    }

    /// Starts an upload session for `repo` (spec.md "Pushing a blob in
    /// chunks", POST): creates its empty data file
    /// ([`Storage::session_path`]). Returns the session id.
    pub fn new_session(&self, repo: &str) -> io::Result<String> {
        let id = berth_types::new_id()[..32].to_string();
        File::create_new(self.session_path(repo, &id))?;
        self.sessions.lock().expect("sessions lock").insert(
            id.clone(),
            Arc::new(tokio::sync::Mutex::new(SessionState {
                digester: Some(Digester::for_algorithm(Algorithm::Sha256)),
            })),
        );
        Ok(id)
    }

    /// A fresh temp file for a monolithic upload (POST `?digest=`),
    /// in the uploads directory so it can be renamed into `blobs/`.
    pub fn monolithic_temp(&self) -> io::Result<tempfile::NamedTempFile> {
        tempfile::NamedTempFile::new_in(self.root.join("uploads"))
    }

    /// Locks upload session `id` of `repo` for one request.
    ///
    /// Errors: `BLOB_UPLOAD_UNKNOWN` (404) when the session does not exist,
    /// was finished or cancelled, or belongs to another repository.
    pub async fn session(&self, repo: &str, id: &str) -> Result<Session> {
        let unknown = || {
            RegistryError::new(
                Code::BlobUploadUnknown,
                format!("upload session {id:?} unknown"),
            )
        };
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        let path = self.session_path(repo, id);
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(unknown()),
            Err(e) if not_found(&e) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        }
        let cell = {
            let mut map = self.sessions.lock().expect("sessions lock");
            map.entry(id.to_string())
                .or_insert_with(|| {
                    // A session from before a restart: no running digest.
                    Arc::new(tokio::sync::Mutex::new(SessionState { digester: None }))
                })
                .clone()
        };
        let state = cell.lock_owned().await;
        // It may have been finished (or collected) while we waited.
        if !path.exists() {
            self.sessions.lock().expect("sessions lock").remove(id);
            return Err(unknown());
        }
        Ok(Session {
            id: id.to_string(),
            path,
            state,
        })
    }

    /// Bytes received so far by session `id` of `repo`, without waiting
    /// for a request in progress on it (the upload status endpoint).
    ///
    /// Errors: `BLOB_UPLOAD_UNKNOWN` (404) as for [`Storage::session`].
    pub async fn session_progress(&self, repo: &str, id: &str) -> Result<u64> {
        let unknown = || {
            RegistryError::new(
                Code::BlobUploadUnknown,
                format!("upload session {id:?} unknown"),
            )
        };
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        match tokio::fs::metadata(self.session_path(repo, id)).await {
            Ok(m) if m.is_file() => Ok(m.len()),
            Ok(_) => Err(unknown()),
            Err(e) if not_found(&e) => Err(unknown()),
            Err(e) => Err(e.into()),
        }
    }

    /// Bytes received so far by a session.
    pub fn session_len(&self, s: &Session) -> io::Result<u64> {
        Ok(fs::metadata(&s.path)?.len())
    }

    /// Ends a session: removes its data file (gone already when it became
    /// a blob) and in-memory state.
    pub fn end_session(&self, s: &Session) -> io::Result<()> {
        self.sessions.lock().expect("sessions lock").remove(&s.id);
        match fs::remove_file(&s.path) {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Upload sessions (and monolithic-upload temp files) idle for longer
    /// than `max_age`, by their data file's modification time (the last
    /// byte received), for gc; directories left by earlier versions count
    /// from their `info.json` start time. Returns their paths.
    pub fn stale_sessions(&self, max_age: Duration) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let cutoff = now_unix().saturating_sub(max_age.as_secs());
        if let Ok(rd) = fs::read_dir(self.root.join("uploads")) {
            for e in rd.flatten() {
                let p = e.path();
                let started = fs::read(p.join("info.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<SessionInfo>(&b).ok())
                    .map(|i| i.started_unix)
                    .or_else(|| {
                        e.metadata()
                            .ok()?
                            .modified()
                            .ok()?
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .ok()
                            .map(|d| d.as_secs())
                    })
                    .unwrap_or(0);
                if started < cutoff {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Appends a request body to a session's data file, streaming: at most
    /// ~1 MiB is buffered; writes and hashing run on the blocking pool.
    ///
    /// `expect_len` (from `Content-Range` or `Content-Length`) must match
    /// the body's length. On any failure the file is truncated back to
    /// where it was, so the session stays resumable and nothing partial is
    /// kept. Returns the new length.
    pub async fn append<B>(&self, s: &mut Session, body: B, expect_len: Option<u64>) -> Result<u64>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let path = s.path.clone();
        let digester = s.state.digester.take();
        let (file, start) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || -> io::Result<(File, u64)> {
                let mut f = OpenOptions::new().write(true).open(&path)?;
                let len = f.seek(SeekFrom::End(0))?;
                Ok((f, len))
            }
        })
        .await
        .expect("blocking task")?;
        let digester = digester.filter(|d| d.len() == start);
        let res = write_body(file, digester, body, expect_len).await;
        match res {
            Ok((_file, digester, written)) => {
                s.state.digester = digester;
                Ok(start + written)
            }
            Err(e) => {
                // Roll back to where the chunk started.
                let _ = tokio::task::spawn_blocking(move || {
                    OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_len(start))
                })
                .await;
                s.state.digester = None;
                Err(e)
            }
        }
    }

    /// Verifies a session's bytes against `d` and commits them as a blob
    /// of `repo`; the session ends either way.
    ///
    /// Errors: `DIGEST_INVALID` (400) on mismatch (the session is then
    /// discarded: an upload to it gets `BLOB_UPLOAD_UNKNOWN`).
    pub fn finish_session(&self, s: &mut Session, repo: &str, d: &Digest) -> Result<()> {
        let data = s.path.clone();
        let f = File::open(&data)?;
        let len = f.metadata()?.len();
        let actual = match s.state.digester.take() {
            Some(dg) if dg.len() == len && d.algorithm() == Algorithm::Sha256 => dg.finish(),
            _ => hash_file(&data, d.algorithm())?,
        };
        if &actual != d {
            self.end_session(s)?;
            return Err(RegistryError::new(
                Code::DigestInvalid,
                format!("uploaded content has digest {actual}, not {d}"),
            )
            .with_detail(json!({"expected": d.to_string(), "actual": actual.to_string()})));
        }
        // fdatasync: the bytes and the size; commit_blob makes the rename
        // durable.
        f.sync_data()?;
        drop(f);
        self.commit_blob(&data, repo, d)?;
        self.end_session(s)?;
        Ok(())
    }

    // ---- manifests -----------------------------------------------------

    /// True when the repository has any content.
    pub fn repo_exists(&self, repo: &str) -> bool {
        self.repo_dir(repo).is_dir()
    }

    fn resolve(&self, repo: &str, r: &Reference) -> Result<(Digest, ManifestLink)> {
        let unknown = || {
            if self.repo_exists(repo) {
                RegistryError::new(Code::ManifestUnknown, "manifest unknown")
            } else {
                RegistryError::new(
                    Code::NameUnknown,
                    format!("repository {repo:?} not known to registry"),
                )
            }
        };
        let d = match r {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => match fs::read_to_string(self.tag_path(repo, t)) {
                Ok(s) => s.trim().parse().map_err(|_| unknown())?,
                Err(e) if not_found(&e) => return Err(unknown()),
                Err(e) => return Err(e.into()),
            },
        };
        let link: ManifestLink = match fs::read(self.manifest_link(repo, &d)) {
            Ok(b) => serde_json::from_slice(&b).map_err(|_| unknown())?,
            Err(e) if not_found(&e) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        };
        Ok((d, link))
    }

    /// The manifest `r` of `repo` (spec.md "Pulling manifests").
    ///
    /// Errors: `MANIFEST_UNKNOWN` (404), or `NAME_UNKNOWN` (404) when the
    /// repository does not exist.
    pub fn get_manifest(&self, repo: &str, r: &Reference) -> Result<StoredManifest> {
        let (digest, link) = self.resolve(repo, r)?;
        let body = match fs::read(self.blob_path(&digest)) {
            Ok(b) => Bytes::from(b),
            Err(e) if not_found(&e) => {
                return Err(RegistryError::new(
                    Code::ManifestUnknown,
                    "manifest unknown",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(StoredManifest {
            digest,
            media_type: link.media_type,
            body,
        })
    }

    /// Stores a manifest (spec.md "Pushing Manifests"): verifies that
    /// a digest reference matches the body, that every blob and child
    /// manifest it references is in `repo`, then writes the manifest blob,
    /// its link, its referrers entry (if it has a subject) and finally the
    /// tags (`r` if a tag, plus `extra_tags`).
    ///
    /// Returns the manifest's digest and its subject's digest.
    /// Errors: `DIGEST_INVALID`, `MANIFEST_INVALID`, `MANIFEST_BLOB_UNKNOWN`
    /// (all 400).
    pub fn put_manifest(
        &self,
        repo: &str,
        r: &Reference,
        content_type: Option<&str>,
        body: &[u8],
        extra_tags: &[String],
    ) -> Result<(Digest, Option<Digest>)> {
        let parsed = manifest::parse(content_type, body)?;
        let digest = match r {
            Reference::Digest(want) => {
                let got = Digest::of(want.algorithm(), body);
                if &got != want {
                    return Err(RegistryError::new(
                        Code::DigestInvalid,
                        format!("manifest has digest {got}, not {want}"),
                    ));
                }
                got
            }
            Reference::Tag(_) => Digest::sha256_of(body),
        };
        let _lock = self.shared_lock()?;
        for b in &parsed.blobs {
            if self.stat_blob(repo, b).is_none() {
                return Err(RegistryError::new(
                    Code::ManifestBlobUnknown,
                    format!("manifest references blob {b} unknown to repository {repo}"),
                )
                .with_detail(json!({"digest": b.to_string()})));
            }
        }
        for m in &parsed.manifests {
            if !self.manifest_link(repo, m).exists() {
                return Err(RegistryError::new(
                    Code::ManifestBlobUnknown,
                    format!("index references manifest {m} unknown to repository {repo}"),
                )
                .with_detail(json!({"digest": m.to_string()})));
            }
        }
        let blob = self.blob_path(&digest);
        if !blob.is_file() {
            self.write_atomic(&blob, body)?;
        }
        let link = ManifestLink {
            media_type: parsed.media_type.clone(),
            subject: parsed.subject.as_ref().map(|s| s.digest.clone()),
        };
        self.write_atomic(
            &self.manifest_link(repo, &digest),
            &serde_json::to_vec(&link).expect("serialise link"),
        )?;
        if let Some(subject) = &parsed.subject {
            let mut desc = json!({
                "mediaType": parsed.media_type,
                "digest": digest.to_string(),
                "size": body.len(),
            });
            if let Some(at) = &parsed.artifact_type {
                desc["artifactType"] = json!(at);
            }
            if let Some(a) = &parsed.annotations {
                desc["annotations"] = a.clone();
            }
            let p = self.referrers_dir(repo, &subject.digest).join(format!(
                "{}-{}",
                digest.algorithm(),
                digest.hex()
            ));
            self.write_atomic(
                &p,
                &serde_json::to_vec(&desc).expect("serialise descriptor"),
            )?;
        }
        let mut tags: Vec<&str> = extra_tags.iter().map(String::as_str).collect();
        if let Reference::Tag(t) = r {
            tags.push(t);
        }
        for t in tags {
            self.write_atomic(&self.tag_path(repo, t), digest.to_string().as_bytes())?;
        }
        Ok((digest, link.subject))
    }

    /// Deletes a tag, or a manifest by digest together with the tags that
    /// point at it and its referrers entry (spec.md "Deleting Manifests",
    /// "Deleting tags").
    ///
    /// Errors: `MANIFEST_UNKNOWN` / `NAME_UNKNOWN` (404).
    pub fn delete_manifest(&self, repo: &str, r: &Reference) -> Result<()> {
        match r {
            Reference::Tag(t) => {
                let p = self.tag_path(repo, t);
                match fs::remove_file(&p) {
                    Ok(()) => Ok(sync_dir(p.parent().expect("tag has parent"))?),
                    Err(e) if not_found(&e) => {
                        Err(self.resolve(repo, r).err().unwrap_or_else(|| {
                            RegistryError::new(Code::ManifestUnknown, "manifest unknown")
                        }))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Reference::Digest(d) => {
                let (_, link) = self.resolve(repo, r)?;
                let lp = self.manifest_link(repo, d);
                fs::remove_file(&lp)?;
                sync_dir(lp.parent().expect("link has parent"))?;
                let tags_dir = self.repo_dir(repo).join("_tags");
                if let Ok(rd) = fs::read_dir(&tags_dir) {
                    for e in rd.flatten() {
                        if let Ok(s) = fs::read_to_string(e.path()) {
                            if s.trim() == d.to_string() {
                                fs::remove_file(e.path())?;
                            }
                        }
                    }
                    sync_dir(&tags_dir)?;
                }
                if let Some(subject) = link.subject {
                    let dir = self.referrers_dir(repo, &subject);
                    let p = dir.join(format!("{}-{}", d.algorithm(), d.hex()));
                    if fs::remove_file(&p).is_ok() {
                        sync_dir(&dir)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Tags of `repo`, sorted, after `last`, at most `n` (spec.md "Listing
    /// Tags"). Returns the page and whether more follow.
    ///
    /// Errors: `NAME_UNKNOWN` (404) for an unknown repository.
    pub fn tags(
        &self,
        repo: &str,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        if !self.repo_exists(repo) {
            return Err(RegistryError::new(
                Code::NameUnknown,
                format!("repository {repo:?} not known to registry"),
            ));
        }
        let mut tags: Vec<String> = match fs::read_dir(self.repo_dir(repo).join("_tags")) {
            Ok(rd) => rd
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(e) if not_found(&e) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        tags.sort();
        Ok(paginate(tags, n, last))
    }

    /// Repositories with content, sorted, after `last`, at most `n`
    /// (the `/v2/_catalog` extension). Returns the page and whether more
    /// follow.
    pub fn catalog(&self, n: Option<usize>, last: Option<&str>) -> io::Result<(Vec<String>, bool)> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>, depth: usize) {
            if depth > 32 {
                return;
            }
            let Ok(rd) = fs::read_dir(dir) else { return };
            let mut is_repo = false;
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('_') {
                    is_repo = true;
                    continue;
                }
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    let p = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}/{name}")
                    };
                    walk(&e.path(), &p, out, depth + 1);
                }
            }
            if is_repo && !prefix.is_empty() {
                out.push(prefix.to_string());
            }
        }
        let mut out = Vec::new();
        walk(&self.root.join("repositories"), "", &mut out, 0);
        out.sort();
        Ok(paginate(out, n, last))
    }

    /// Referrers of `subject` in `repo` (spec.md "Listing Referrers"):
    /// descriptors of manifests whose `subject` is it, optionally filtered
    /// by `artifactType`. Unknown subjects have no referrers.
    pub fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> io::Result<Vec<Value>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(self.referrers_dir(repo, subject)) {
            Ok(rd) => rd,
            Err(e) if not_found(&e) => return Ok(out),
            Err(e) => return Err(e),
        };
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let Ok(b) = fs::read(&p) else { continue };
            let Ok(v) = serde_json::from_slice::<Value>(&b) else {
                continue;
            };
            if let Some(want) = artifact_type {
                if v.get("artifactType").and_then(Value::as_str) != Some(want) {
                    continue;
                }
            }
            out.push(v);
        }
        Ok(out)
    }

    /// Every repository name (for gc).
    pub fn all_repos(&self) -> io::Result<Vec<String>> {
        Ok(self.catalog(None, None)?.0)
    }

    /// Digests of every manifest linked in `repo` (for gc).
    pub fn repo_manifests(&self, repo: &str) -> Vec<Digest> {
        list_digests(&self.repo_dir(repo).join("_manifests"))
    }

    /// Digests of every blob linked in `repo` with each link's path (for gc).
    pub fn repo_layer_links(&self, repo: &str) -> Vec<(Digest, PathBuf)> {
        let dir = self.repo_dir(repo).join("_layers");
        list_digests(&dir)
            .into_iter()
            .map(|d| {
                let p = dir.join(d.algorithm().as_str()).join(d.hex());
                (d, p)
            })
            .collect()
    }

    /// Every stored blob digest with its path (for gc).
    pub fn all_blobs(&self) -> Vec<(Digest, PathBuf)> {
        let dir = self.root.join("blobs");
        list_digests(&dir)
            .into_iter()
            .map(|d| {
                let p = dir.join(d.algorithm().as_str()).join(d.hex());
                (d, p)
            })
            .collect()
    }
}

fn list_digests(dir: &Path) -> Vec<Digest> {
    let mut out = Vec::new();
    for alg in [Algorithm::Sha256, Algorithm::Sha512] {
        if let Ok(rd) = fs::read_dir(dir.join(alg.as_str())) {
            for e in rd.flatten() {
                if let Ok(d) = Digest::new(alg, &e.file_name().to_string_lossy()) {
                    out.push(d);
                }
            }
        }
    }
    out
}

fn paginate(all: Vec<String>, n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
    let mut it: Vec<String> = match last {
        Some(l) => all.into_iter().filter(|t| t.as_str() > l).collect(),
        None => all,
    };
    match n {
        Some(n) if it.len() > n => {
            it.truncate(n);
            (it, true)
        }
        _ => (it, false),
    }
}

/// The digest of a file's bytes, streaming.
pub fn hash_file(path: &Path, alg: Algorithm) -> io::Result<Digest> {
    let mut f = File::open(path)?;
    let mut d = Digester::for_algorithm(alg);
    let mut buf = vec![0u8; WRITE_CHUNK];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
    }
    Ok(d.finish())
}

/// Streams `body` into `file` (appending), hashing into `digester` when
/// given, buffering at most two [`WRITE_CHUNK`]s: one being received while
/// the previous one is written and hashed on the blocking pool. Every
/// [`WRITEBACK_EVERY`] bytes the file's writeback is started in the
/// background ([`berth_sys::start_writeback`], no journal commit; it used
/// to be an `fdatasync`, one journal commit per 8 MiB), so the final
/// fdatasync at commit is short. Returns the file, the
/// digester and the byte count. Errors: a body error (client went away:
/// `BLOB_UPLOAD_INVALID`), a length different from `expect_len`
/// (`SIZE_INVALID`), or I/O. No write is still in flight when it returns.
pub async fn write_body<B>(
    file: File,
    digester: Option<Digester>,
    body: B,
    expect_len: Option<u64>,
) -> Result<(File, Option<Digester>, u64)>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut w = Writer {
        syncer: file.try_clone().ok(),
        state: Some((file, digester)),
        pending: None,
        sync_pending: None,
        since_sync: 0,
    };
    let res = w.run(body, expect_len).await;
    // Drain what is in flight, success or not, so a caller that rolls the
    // file back does not race a late write.
    let drained = w.drain().await;
    let written = res?;
    drained?;
    let (f, dg) = w.state.take().expect("writer state");
    Ok((f, dg, written))
}

/// Start background writeback after this many bytes.
const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;

type WriteJob = tokio::task::JoinHandle<io::Result<(File, Option<Digester>)>>;

struct Writer {
    state: Option<(File, Option<Digester>)>,
    pending: Option<WriteJob>,
    syncer: Option<File>,
    sync_pending: Option<tokio::task::JoinHandle<io::Result<()>>>,
    since_sync: u64,
}

impl Writer {
    async fn run<B>(&mut self, mut body: B, expect_len: Option<u64>) -> Result<u64>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        // The body's frames as hyper hands them over (slices of its read
        // buffer), written with one writev per WRITE_CHUNK instead of
        // being copied into one buffer first (that copy, and the fresh
        // pages of a new 1 MiB buffer per chunk, were ~10% of a push's
        // CPU in perf).
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batched = 0usize;
        let mut written: u64 = 0;
        loop {
            let frame = match body.frame().await {
                None => break,
                Some(Ok(f)) => f,
                Some(Err(e)) => {
                    return Err(RegistryError::new(
                        Code::BlobUploadInvalid,
                        format!("reading request body: {e}"),
                    ))
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            written += data.len() as u64;
            if let Some(want) = expect_len {
                if written > want {
                    return Err(size_mismatch(want, written));
                }
            }
            if data.is_empty() {
                continue;
            }
            batched += data.len();
            batch.push(data);
            if batched >= WRITE_CHUNK {
                batched = 0;
                self.submit(std::mem::take(&mut batch)).await?;
            }
        }
        if let Some(want) = expect_len {
            if written != want {
                return Err(size_mismatch(want, written));
            }
        }
        if !batch.is_empty() {
            self.submit(batch).await?;
        }
        Ok(written)
    }

    /// Waits for the previous chunk, then starts writing and hashing
    /// `chunk` (buffers in order).
    async fn submit(&mut self, chunk: Vec<Bytes>) -> io::Result<()> {
        if let Some(h) = self.pending.take() {
            self.state = Some(h.await.expect("blocking task")?);
        }
        let (mut f, mut dg) = self.state.take().expect("writer state");
        let len = chunk.iter().map(|b| b.len() as u64).sum::<u64>();
        self.pending = Some(tokio::task::spawn_blocking(move || {
            write_all_vectored(&mut f, &chunk)?;
            if let Some(d) = dg.as_mut() {
                for b in &chunk {
                    d.update(b);
                }
            }
            Ok((f, dg))
        }));
        self.since_sync += len;
        if self.since_sync >= WRITEBACK_EVERY {
            let done = self.sync_pending.as_ref().is_none_or(|h| h.is_finished());
            if done {
                if let Some(h) = self.sync_pending.take() {
                    h.await.expect("blocking task")?;
                }
                if let Some(s) = self.syncer.as_ref().and_then(|s| s.try_clone().ok()) {
                    self.sync_pending = Some(tokio::task::spawn_blocking(move || {
                        berth_sys::start_writeback(&s)
                    }));
                }
                self.since_sync = 0;
            }
        }
        Ok(())
    }

    async fn drain(&mut self) -> io::Result<()> {
        let mut res = Ok(());
        if let Some(h) = self.pending.take() {
            match h.await.expect("blocking task") {
                Ok(st) => self.state = Some(st),
                Err(e) => res = Err(e),
            }
        }
        if let Some(h) = self.sync_pending.take() {
            if let Err(e) = h.await.expect("blocking task") {
                res = res.and(Err(e));
            }
        }
        res
    }
}

/// Writes all of `bufs` to `f`, in order, with as few `writev(2)` calls
/// as the kernel allows (it may write less than asked; the rest follows).
fn write_all_vectored(f: &mut File, bufs: &[Bytes]) -> io::Result<()> {
    // IOV_MAX is 1024 on Linux.
    for group in bufs.chunks(1024) {
        let mut slices: Vec<io::IoSlice<'_>> = group.iter().map(|b| io::IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        io::IoSlice::advance_slices(&mut rest, 0);
        while !rest.is_empty() {
            match f.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => io::IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn size_mismatch(want: u64, got: u64) -> RegistryError {
    RegistryError::new(
        Code::SizeInvalid,
        format!("request body has {got}+ bytes, {want} were announced"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_follow_the_spec_grammar() {
        for ok in [
            "a",
            "library/busybox",
            "a.b/c__d/e-f",
            "a--b",
            "conformance/repo1",
        ] {
            assert!(valid_repo_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a..b", "a___b", "-a", "a_", "_layers",
        ] {
            assert!(!valid_repo_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        assert!(valid_tag("latest"));
        assert!(valid_tag("_x.Y-1"));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag("a:b"));
        assert!(!valid_tag(&"a".repeat(129)));
    }

    #[test]
    fn pagination_honours_n_and_last() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            paginate(all.clone(), Some(2), None),
            (vec!["a".into(), "b".into()], true)
        );
        assert_eq!(
            paginate(all.clone(), Some(2), Some("b")),
            (vec!["c".into(), "d".into()], false)
        );
        assert_eq!(paginate(all, Some(0), None).0.len(), 0);
    }
}
