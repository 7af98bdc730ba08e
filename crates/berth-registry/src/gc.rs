//! Garbage collection of unreferenced blobs (`berth-registry gc`).
//!
//! Mark and sweep: every manifest linked in any repository is live, and so
//! is everything it references (config, layers, child manifests). A stored
//! blob that is not live is deleted, with every repository link to it,
//! unless the blob or one of its links was written within the grace
//! period (an upload whose manifest has not been pushed yet). Upload
//! sessions older than the upload TTL are removed too.
//!
//! Safe while a server runs on the same root: gc holds the exclusive side
//! of `ROOT/gc.lock` for the whole mark and sweep, while the server holds
//! the shared side whenever it writes a blob link or a manifest (after
//! checking that the manifest's blobs exist). So a sweep never interleaves
//! with a manifest push; pushes wait for the (short) gc to finish.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use berth_types::Digest;

use crate::manifest;
use crate::storage::Storage;

/// What to collect.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Blobs and links younger than this are kept even if unreferenced.
    pub grace: Duration,
    /// Upload sessions older than this are removed.
    pub upload_ttl: Duration,
    /// Report only; delete nothing.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> GcOptions {
        GcOptions {
            grace: Duration::from_secs(3600),
            upload_ttl: Duration::from_secs(24 * 3600),
            dry_run: false,
        }
    }
}

/// What a gc run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Live blobs (manifests and what they reference).
    pub live: usize,
    /// Unreferenced blobs kept because they are within the grace period.
    pub young: usize,
    /// Blobs deleted.
    pub deleted: Vec<Digest>,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Repository links removed with their blobs.
    pub links_removed: usize,
    /// Stale upload sessions removed.
    pub uploads_removed: usize,
}

fn young(p: &Path, grace: Duration) -> bool {
    fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_none_or(|age| age < grace)
}

/// Runs one gc over the storage root `root`.
///
/// Errors: the root cannot be opened or locked, or a deletion fails.
pub fn collect(root: &Path, opts: &GcOptions) -> io::Result<GcReport> {
    let st = Storage::open(root)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("gc.lock"))?;
    fs4::fs_std::FileExt::lock_exclusive(&lock)?;
    let mut report = GcReport::default();

    // Mark.
    let mut live: HashSet<Digest> = HashSet::new();
    let mut links: HashMap<Digest, Vec<PathBuf>> = HashMap::new();
    for repo in st.all_repos()? {
        for m in st.repo_manifests(&repo) {
            if let Ok(body) = fs::read(st.blob_path(&m)) {
                live.extend(manifest::references(&body));
            }
            live.insert(m);
        }
        for (d, p) in st.repo_layer_links(&repo) {
            links.entry(d).or_default().push(p);
        }
    }

    // Sweep.
    for (d, path) in st.all_blobs() {
        let its_links = links.remove(&d).unwrap_or_default();
        if live.contains(&d) {
            report.live += 1;
            continue;
        }
        if young(&path, opts.grace) || its_links.iter().any(|l| young(l, opts.grace)) {
            report.young += 1;
            continue;
        }
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if !opts.dry_run {
            for l in &its_links {
                match fs::remove_file(l) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            fs::remove_file(&path)?;
        }
        report.links_removed += its_links.len();
        report.bytes_freed += size;
        report.deleted.push(d);
    }
    // Links to blobs that no longer exist at all.
    for (_, ls) in links {
        for l in ls {
            if !opts.dry_run && fs::remove_file(&l).is_ok() {
                report.links_removed += 1;
            }
        }
    }

    for p in st.stale_sessions(opts.upload_ttl) {
        if !opts.dry_run {
            let res = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            match res {
                Ok(()) => {}
                // Finished or cancelled meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        report.uploads_removed += 1;
    }
    fs4::fs_std::FileExt::unlock(&lock)?;
    Ok(report)
}
