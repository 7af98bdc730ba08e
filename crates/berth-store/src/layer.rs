//! Layer apply: an OCI / Docker layer archive (tar, optionally gzip or zstd
//! compressed) extracted into a directory in overlayfs's own format.
//!
//! Image-spec `layer.md`: a `.wh.NAME` entry becomes an overlayfs whiteout
//! (a 0/0 character device named `NAME`), a `.wh..wh..opq` entry marks its
//! directory as an opaque directory (`trusted.overlay.opaque=y`). Hard links
//! within the layer, symlinks, device nodes, FIFOs, modes (setuid/setgid/
//! sticky included), uid/gid, mtimes and `SCHILY.xattr.*` PAX records (such
//! as `security.capability`) are preserved.
//!
//! Hostile archives: every path is cleaned lexically (an entry or hard-link
//! target whose `..` climbs above the root is refused with
//! [`StoreError::BadLayer`]) and every lookup then goes through
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from the layer root, so
//! a path through a symlink that points outside the tree (absolute or
//! relative) is resolved *inside* the tree, and the final component is always
//! created with `*at()` calls relative to an already resolved parent, never
//! followed. Duplicate entries replace earlier ones (directories merge).
//!
//! The diff ID (sha256 of the uncompressed tar stream, image-spec
//! `config.md` "rootfs.diff_ids") is computed while extracting.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use berth_types::{Algorithm, Digest, Digester};
use rustix::fs::{
    self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, XattrFlags,
};
use rustix::process::{Gid, Uid};

use crate::StoreError;

/// Compression of a layer blob, from its media type or its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (RFC 1952), magic `1f 8b`.
    Gzip,
    /// zstd (RFC 8878), magic `28 b5 2f fd`.
    Zstd,
}

impl Compression {
    /// Detects the compression from the first bytes of a blob.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The compression a layer media type names (OCI `application/vnd.oci.
    /// image.layer.v1.tar[+gzip|+zstd]`, their non-distributable variants,
    /// and Docker's `application/vnd.docker.image.rootfs.diff.tar[.gzip]`).
    /// `Err(BadLayer)` for a media type that is not a layer.
    pub fn from_media_type(mt: &str) -> Result<Compression, StoreError> {
        match mt {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
                Ok(Compression::Zstd)
            }
            other => Err(StoreError::UnknownMediaType(other.to_string())),
        }
    }
}

/// Wraps `r` in the decompressor its magic bytes call for.
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br.fill_buf()?.to_vec();
    Ok(match Compression::detect(&head) {
        Compression::None => Box::new(br),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
    })
}

/// What applying a layer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    /// sha256 of the uncompressed tar stream: the layer's diff ID.
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar stream.
    pub tar_size: u64,
    /// Sum of the sizes of the regular files in the layer, in bytes (what
    /// Docker reports as a layer's size).
    pub size: u64,
}

/// Reader that hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    digester: Digester,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
}

/// Decompresses (by magic bytes) and applies the layer archive `r` into the
/// existing, empty directory `dest`. See the module docs for the rules.
///
/// Errors: `BadLayer` naming the entry for a malformed or hostile archive (not
/// a tar, truncated, escaping path, hard link to a missing target), I/O
/// errors naming the path. On error `dest` holds a partial tree the caller
/// must discard.
pub fn apply_layer<R: Read>(r: R, dest: &Path) -> Result<ApplyStats, StoreError> {
    let plain =
        decompress(r).map_err(|e| StoreError::BadLayer(format!("cannot decompress layer: {e}")))?;
    apply_tar(plain, dest)
}

/// Applies an uncompressed tar stream into `dest`; see [`apply_layer`].
pub fn apply_tar<R: Read>(r: R, dest: &Path) -> Result<ApplyStats, StoreError> {
    let mut hr = HashingReader {
        inner: r,
        digester: Digester::for_algorithm(Algorithm::Sha256),
    };
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| StoreError::io(dest)(e.into()))?;
    let mut ap = Applier {
        root,
        cache: HashMap::new(),
        dirs: Vec::new(),
        size: 0,
        seen_entry: false,
    };
    {
        let mut ar = tar::Archive::new(&mut hr);
        let entries = ar
            .entries()
            .map_err(|e| bad("layer is not a tar archive", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| {
                if ap.seen_entry {
                    bad("malformed tar entry", e)
                } else {
                    bad("layer is not a tar archive", e)
                }
            })?;
            ap.seen_entry = true;
            ap.entry(&mut entry)?;
        }
    }
    // Hash the end-of-archive blocks and any padding too: the diff ID covers
    // the whole stream.
    io::copy(&mut hr, &mut io::sink()).map_err(|e| bad("cannot read tar", e))?;
    if !ap.seen_entry && !hr.digester.is_empty() && hr.digester.len() < 1024 {
        return Err(StoreError::BadLayer(format!(
            "layer is not a tar archive ({} bytes, no end-of-archive marker)",
            hr.digester.len()
        )));
    }
    ap.finish_dirs()?;
    Ok(ApplyStats {
        diff_id: hr.digester.current(),
        tar_size: hr.digester.len(),
        size: ap.size,
    })
}

fn bad(what: &str, e: io::Error) -> StoreError {
    StoreError::BadLayer(format!("{what}: {e}"))
}

/// Lexically cleans an archive path: strips `/` and `./`, resolves `..`
/// within the path. `Ok(None)` for the root itself; `Err` when `..` climbs
/// above the root.
pub fn clean_path(p: &Path) -> Result<Option<PathBuf>, StoreError> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err(StoreError::BadLayer(format!(
                        "entry {:?} escapes the layer root",
                        p.display().to_string()
                    )));
                }
            }
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(out.iter().collect()))
}

struct DirMeta {
    path: PathBuf,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

struct Applier {
    root: OwnedFd,
    /// Resolved parent directories, cleared whenever anything is replaced.
    cache: HashMap<PathBuf, OwnedFd>,
    dirs: Vec<DirMeta>,
    size: u64,
    seen_entry: bool,
}

fn in_root() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

fn errno_io(path: &Path) -> impl Fn(rustix::io::Errno) -> StoreError + '_ {
    move |e| StoreError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

fn ts(secs: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: secs as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn am_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl Applier {
    /// Opens (creating as needed, mode 0755) the directory `rel` inside the
    /// root, resolving every component in the root.
    fn dir(&mut self, rel: &Path) -> Result<OwnedFd, StoreError> {
        if rel.as_os_str().is_empty() {
            return rustix::io::dup(&self.root).map_err(errno_io(rel));
        }
        if let Some(fd) = self.cache.get(rel) {
            return rustix::io::dup(fd).map_err(errno_io(rel));
        }
        let fd = match rfs::openat2(
            &self.root,
            rel,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            in_root(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                let parent = rel.parent().unwrap_or(Path::new(""));
                let name = rel.file_name().expect("normal component");
                let pfd = self.dir(parent)?;
                match rfs::mkdirat(&pfd, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(errno_io(rel)(e)),
                }
                rfs::openat2(
                    &self.root,
                    rel,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                    in_root(),
                )
                .map_err(errno_io(rel))?
            }
            Err(rustix::io::Errno::NOTDIR) => {
                return Err(StoreError::BadLayer(format!(
                    "a component of {:?} is not a directory",
                    rel.display().to_string()
                )))
            }
            Err(rustix::io::Errno::LOOP) => {
                return Err(StoreError::BadLayer(format!(
                    "{:?} runs into a symlink loop",
                    rel.display().to_string()
                )))
            }
            Err(e) => return Err(errno_io(rel)(e)),
        };
        if self.cache.len() > 4096 {
            self.cache.clear();
        }
        self.cache.insert(
            rel.to_path_buf(),
            rustix::io::dup(&fd).map_err(errno_io(rel))?,
        );
        Ok(fd)
    }

    /// Removes whatever is at `name` in `pfd` unless both it and the new
    /// entry are directories. Returns true when a directory is kept.
    fn clear(
        &mut self,
        pfd: &OwnedFd,
        name: &OsStr,
        new_is_dir: bool,
        rel: &Path,
    ) -> Result<bool, StoreError> {
        let st = match rfs::statat(pfd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(false),
            Err(e) => return Err(errno_io(rel)(e)),
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if is_dir && new_is_dir {
            return Ok(true);
        }
        self.cache.clear();
        if is_dir {
            // std's remove_dir_all never follows symlinks; reach the
            // directory through the already resolved parent fd.
            let fd = rfs::openat(
                pfd,
                name,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno_io(rel))?;
            let p = PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ));
            let real = std::fs::read_link(&p).map_err(StoreError::io(rel))?;
            // The link target was resolved by the kernel from our fd.
            std::fs::remove_dir_all(&real).map_err(StoreError::io(rel))?;
        } else {
            rfs::unlinkat(pfd, name, AtFlags::empty()).map_err(errno_io(rel))?;
        }
        Ok(false)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), StoreError> {
        let raw_path = entry
            .path()
            .map_err(|e| bad("bad entry name", e))?
            .into_owned();
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let mtime = header.mtime().unwrap_or(0);
        let mut xattrs = Vec::new();
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                if let Ok(k) = ext.key() {
                    if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                        xattrs.push((OsString::from(name), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let Some(rel) = clean_path(&raw_path)? else {
            // The root directory itself.
            if kind.is_dir() {
                self.dirs.push(DirMeta {
                    path: PathBuf::new(),
                    mode,
                    uid,
                    gid,
                    mtime,
                    xattrs,
                });
            }
            return Ok(());
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let name = rel
            .file_name()
            .expect("cleaned path has a name")
            .to_os_string();
        let nb = name.as_bytes();

        // Whiteouts (image-spec layer.md "Whiteouts").
        if nb == b".wh..wh..opq" {
            let pfd = self.dir(&parent_rel)?;
            let dfd = rfs::openat(
                &pfd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno_io(&rel))?;
            rfs::fsetxattr(&dfd, "trusted.overlay.opaque", b"y", XattrFlags::empty())
                .map_err(errno_io(&rel))?;
            return Ok(());
        }
        if nb.starts_with(b".wh..wh.") {
            // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
            return Ok(());
        }
        if let Some(target) = nb.strip_prefix(b".wh.") {
            let target = OsStr::from_bytes(target);
            if target.is_empty() || target == "." || target == ".." {
                return Err(StoreError::BadLayer(format!(
                    "invalid whiteout entry {:?}",
                    rel.display().to_string()
                )));
            }
            let pfd = self.dir(&parent_rel)?;
            let trel = parent_rel.join(target);
            // A whiteout hides lower layers only: a same-named entry of this
            // layer wins.
            if rfs::statat(&pfd, target, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                return Ok(());
            }
            rfs::mknodat(
                &pfd,
                target,
                FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
            .map_err(errno_io(&trel))?;
            return Ok(());
        }

        let pfd = self.dir(&parent_rel)?;
        let is_dir = kind.is_dir();
        let kept_dir = self.clear(&pfd, &name, is_dir, &rel)?;
        let owner = (
            Some(Uid::from_raw(uid as u32)),
            Some(Gid::from_raw(gid as u32)),
        );
        let chown_ok = |r: rustix::io::Result<()>| -> Result<(), StoreError> {
            match r {
                Ok(()) => Ok(()),
                Err(rustix::io::Errno::PERM) if !am_root() => Ok(()),
                Err(e) => Err(errno_io(&rel)(e)),
            }
        };
        match kind {
            tar::EntryType::Directory => {
                if !kept_dir {
                    rfs::mkdirat(&pfd, &name, Mode::from_raw_mode(0o700))
                        .map_err(errno_io(&rel))?;
                }
                self.dirs.push(DirMeta {
                    path: rel.clone(),
                    mode,
                    uid,
                    gid,
                    mtime,
                    xattrs,
                });
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let fd = rfs::openat(
                    &pfd,
                    &name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(errno_io(&rel))?;
                let mut f = File::from(fd);
                let n = io::copy(entry, &mut f)
                    .map_err(|e| bad(&format!("reading {}", rel.display()), e))?;
                self.size += n;
                chown_ok(rfs::fchown(&f, owner.0, owner.1))?;
                rfs::fchmod(&f, Mode::from_raw_mode(mode)).map_err(errno_io(&rel))?;
                for (k, v) in &xattrs {
                    rfs::fsetxattr(&f, k.as_os_str(), v, XattrFlags::empty())
                        .map_err(errno_io(&rel))?;
                }
                rfs::futimens(&f, &ts(mtime)).map_err(errno_io(&rel))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad("bad symlink target", e))?
                    .ok_or_else(|| {
                        StoreError::BadLayer(format!(
                            "symlink {:?} has no target",
                            rel.display().to_string()
                        ))
                    })?;
                rfs::symlinkat(target.as_ref(), &pfd, &name).map_err(errno_io(&rel))?;
                chown_ok(rfs::chownat(
                    &pfd,
                    &name,
                    owner.0,
                    owner.1,
                    AtFlags::SYMLINK_NOFOLLOW,
                ))?;
                rfs::utimensat(&pfd, &name, &ts(mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(errno_io(&rel))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad("bad hard link target", e))?
                    .ok_or_else(|| {
                        StoreError::BadLayer(format!(
                            "hard link {:?} has no target",
                            rel.display().to_string()
                        ))
                    })?;
                let Some(trel) = clean_path(&target).map_err(|_| {
                    StoreError::BadLayer(format!(
                        "hard link {:?} points outside the layer ({:?})",
                        rel.display().to_string(),
                        target.display().to_string()
                    ))
                })?
                else {
                    return Err(StoreError::BadLayer(format!(
                        "hard link {:?} to the layer root",
                        rel.display().to_string()
                    )));
                };
                let tparent = trel.parent().unwrap_or(Path::new("")).to_path_buf();
                let tname = trel.file_name().expect("name").to_os_string();
                let tpfd = self.dir(&tparent)?;
                match rfs::linkat(&tpfd, &tname, &pfd, &name, AtFlags::empty()) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::NOENT) => {
                        return Err(StoreError::BadLayer(format!(
                            "hard link {:?} to {:?}, which is not in the layer",
                            rel.display().to_string(),
                            trel.display().to_string()
                        )))
                    }
                    Err(rustix::io::Errno::PERM) => {
                        return Err(StoreError::BadLayer(format!(
                            "hard link {:?} to {:?}, which is a directory",
                            rel.display().to_string(),
                            trel.display().to_string()
                        )))
                    }
                    Err(e) => return Err(errno_io(&rel)(e)),
                }
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let ft = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rfs::makedev(
                    header.device_major().ok().flatten().unwrap_or(0),
                    header.device_minor().ok().flatten().unwrap_or(0),
                );
                rfs::mknodat(&pfd, &name, ft, Mode::from_raw_mode(mode), dev)
                    .map_err(errno_io(&rel))?;
                chown_ok(rfs::chownat(
                    &pfd,
                    &name,
                    owner.0,
                    owner.1,
                    AtFlags::SYMLINK_NOFOLLOW,
                ))?;
                rfs::chmodat(&pfd, &name, Mode::from_raw_mode(mode), AtFlags::empty())
                    .map_err(errno_io(&rel))?;
                rfs::utimensat(&pfd, &name, &ts(mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(errno_io(&rel))?;
            }
            other => {
                return Err(StoreError::BadLayer(format!(
                    "entry {:?} has unsupported tar type {:?}",
                    rel.display().to_string(),
                    other
                )))
            }
        }
        Ok(())
    }

    /// Applies directory owners, modes, xattrs and mtimes last (children
    /// change a directory's mtime), deepest first.
    fn finish_dirs(&mut self) -> Result<(), StoreError> {
        let dirs = std::mem::take(&mut self.dirs);
        for d in dirs.iter().rev() {
            let fd = if d.path.as_os_str().is_empty() {
                rustix::io::dup(&self.root).map_err(errno_io(&d.path))?
            } else {
                match rfs::openat2(
                    &self.root,
                    &d.path,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                    in_root(),
                ) {
                    Ok(fd) => fd,
                    // Replaced by a later duplicate entry.
                    Err(
                        rustix::io::Errno::NOENT
                        | rustix::io::Errno::NOTDIR
                        | rustix::io::Errno::LOOP,
                    ) => continue,
                    Err(e) => return Err(errno_io(&d.path)(e)),
                }
            };
            match rfs::fchown(
                &fd,
                Some(Uid::from_raw(d.uid as u32)),
                Some(Gid::from_raw(d.gid as u32)),
            ) {
                Ok(()) => {}
                Err(rustix::io::Errno::PERM) if !am_root() => {}
                Err(e) => return Err(errno_io(&d.path)(e)),
            }
            rfs::fchmod(&fd, Mode::from_raw_mode(d.mode)).map_err(errno_io(&d.path))?;
            for (k, v) in &d.xattrs {
                rfs::fsetxattr(&fd, k.as_os_str(), v, XattrFlags::empty())
                    .map_err(errno_io(&d.path))?;
            }
            rfs::futimens(&fd, &ts(d.mtime)).map_err(errno_io(&d.path))?;
        }
        Ok(())
    }
}

/// The diff ID of a layer blob (any compression): sha256 of its
/// uncompressed stream, without extracting it.
pub fn diff_id_of<R: Read>(r: R) -> Result<Digest, StoreError> {
    let mut plain =
        decompress(r).map_err(|e| StoreError::BadLayer(format!("cannot decompress layer: {e}")))?;
    let mut d = Digester::for_algorithm(Algorithm::Sha256);
    io::copy(&mut plain, &mut d).map_err(|e| bad("cannot read layer", e))?;
    Ok(d.finish())
}

/// Flushes everything written to the filesystem holding `dir` (one
/// `syncfs(2)` instead of an fsync per extracted file).
pub fn sync_filesystem(dir: &Path) -> Result<(), StoreError> {
    let fd = rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_io(dir))?;
    rfs::syncfs(fd.as_fd()).map_err(errno_io(dir))
}

/// Writes the tree at `dir` as a tar stream to `w` (the diff direction of
/// the layer format): regular files, directories, symlinks, hard links
/// (detected by inode), devices, FIFOs, modes, uid/gid, mtimes and xattrs
/// (as `SCHILY.xattr.*` PAX records). With `whiteouts`, overlayfs's format
/// is turned back into the image-spec one: a 0/0 character device becomes
/// `.wh.NAME` and a directory with `trusted.overlay.opaque=y` gets a
/// `.wh..wh..opq` entry (for `docker export` of a rw layer and `commit`);
/// without it, devices are written as they are (a flattened rootfs).
///
/// Paths are relative (`etc/passwd`), directories first, names sorted, so
/// the same tree gives the same stream. Errors: I/O naming the path.
pub fn write_tar<W: io::Write>(dir: &Path, w: W, whiteouts: bool) -> Result<W, StoreError> {
    write_tar_filtered(dir, w, whiteouts, &|_| false)
}

/// [`write_tar`] leaving out every entry (and everything below it) whose
/// relative path (`etc/hosts`) `skip` returns true for: `docker commit`
/// leaves out the mount points the runtime made in the rw layer, as
/// dockerd's init layer keeps them out of the container's own layer.
pub fn write_tar_filtered<W: io::Write>(
    dir: &Path,
    w: W,
    whiteouts: bool,
    skip: &dyn Fn(&Path) -> bool,
) -> Result<W, StoreError> {
    let mut b = tar::Builder::new(w);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk(&mut b, dir, Path::new(""), whiteouts, &mut links, skip)?;
    b.into_inner().map_err(StoreError::io(dir))
}

fn xattrs_of(p: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rfs::llistxattr(p, &mut names[..]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        let mut v = vec![0u8; 65536];
        if let Ok(k) = rfs::lgetxattr(p, name.as_str(), &mut v[..]) {
            v.truncate(k);
            out.push((name, v));
        }
    }
    out
}

fn pax_records(x: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in x {
        let key = format!("SCHILY.xattr.{k}");
        let body = key.len() + v.len() + 3;
        let mut len = body + 1;
        while len.to_string().len() + body != len {
            len = len.to_string().len() + body;
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

fn walk<W: io::Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    whiteouts: bool,
    links: &mut HashMap<(u64, u64), PathBuf>,
    skip: &dyn Fn(&Path) -> bool,
) -> Result<(), StoreError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = root.join(rel);
    let mut names: Vec<OsString> = std::fs::read_dir(&dir)
        .map_err(StoreError::io(&dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(StoreError::io(&dir))?;
    names.sort();
    let io_err = |p: &Path| StoreError::io(p.to_path_buf());
    for name in names {
        let full = dir.join(&name);
        let rel_path = rel.join(&name);
        if skip(&rel_path) {
            continue;
        }
        let md = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
        let ft = md.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(md.uid() as u64);
        h.set_gid(md.gid() as u64);
        h.set_mtime(md.mtime().max(0) as u64);
        h.set_size(0);
        if whiteouts && ft.is_char_device() && md.rdev() == 0 {
            let mut wh = OsString::from(".wh.");
            wh.push(&name);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            b.append_data(&mut h, rel.join(wh), io::empty())
                .map_err(io_err(&full))?;
            continue;
        }
        let x = xattrs_of(&full);
        if !x.is_empty() {
            let body = pax_records(&x);
            let mut ph = tar::Header::new_ustar();
            ph.set_entry_type(tar::EntryType::XHeader);
            ph.set_size(body.len() as u64);
            ph.set_mode(0o644);
            b.append_data(&mut ph, "PaxHeaders/xattrs", body.as_slice())
                .map_err(io_err(&full))?;
        }
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, &rel_path, io::empty())
                .map_err(io_err(&full))?;
            let mut v = [0u8; 4];
            if whiteouts
                && rfs::lgetxattr(&full, "trusted.overlay.opaque", &mut v[..]).ok() == Some(1)
                && v[0] == b'y'
            {
                let mut oh = tar::Header::new_gnu();
                oh.set_entry_type(tar::EntryType::Regular);
                oh.set_mode(0o644);
                oh.set_size(0);
                oh.set_mtime(md.mtime().max(0) as u64);
                b.append_data(&mut oh, rel_path.join(".wh..wh..opq"), io::empty())
                    .map_err(io_err(&full))?;
            }
            walk(b, root, &rel_path, whiteouts, links, skip)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&full).map_err(io_err(&full))?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, &rel_path, target)
                .map_err(io_err(&full))?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                if let Some(first) = links.get(&(md.dev(), md.ino())) {
                    h.set_entry_type(tar::EntryType::Link);
                    b.append_link(&mut h, &rel_path, first)
                        .map_err(io_err(&full))?;
                    continue;
                }
                links.insert((md.dev(), md.ino()), rel_path.clone());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            let f = File::open(&full).map_err(io_err(&full))?;
            b.append_data(&mut h, &rel_path, f).map_err(io_err(&full))?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            let dev = md.rdev();
            let _ = h.set_device_major(rfs::major(dev));
            let _ = h.set_device_minor(rfs::minor(dev));
            b.append_data(&mut h, &rel_path, io::empty())
                .map_err(io_err(&full))?;
        }
        // sockets are not archived (as GNU tar and Docker)
    }
    Ok(())
}
