//! `docker cp`: the Engine API's `/containers/{id}/archive` endpoints
//! (`HEAD` stat, `GET` a tar of a path, `PUT` a tar extracted into a
//! directory), on running and stopped containers.
//!
//! # The container's root
//! A running (or paused) container is reached through `/proc/<pid>/root`
//! of its init process: the root of its own mount namespace, so paths in
//! its volumes, bind mounts and `/etc/hosts` binds are what the container
//! sees, as with dockerd. A created or exited container has no mount: its
//! overlay is mounted for the operation with the new mount API
//! (`fsopen`/`fsconfig`/`fsmount`) as a *detached* mount, never attached
//! to any mount point, and released when its file descriptor is closed,
//! so no mount can be left behind, not even by a crash. The container's
//! operation lock is held meanwhile (a `start` waits). Its volumes and
//! binds are attached inside that detached tree as clones (`open_tree`,
//! `move_mount`), so its paths in them are the volumes' as with dockerd.
//!
//! # Safety of paths
//! Every path is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! from the root's descriptor: `..` and absolute symlinks resolve as they
//! would inside the container (as with `chroot`), never onto the host.
//! Below that, trees are walked and written with `*at` calls relative to
//! directory descriptors, never following a symlink (`O_NOFOLLOW`), so a
//! file swapped for a symlink meanwhile is not followed out of the root.
//!
//! # Docker's rules
//! The path is made absolute and cleaned lexically (`/a/b/..` is `/a`);
//! a trailing `/` or `/.` is kept: it makes the last element resolve
//! through a symlink (and requires a directory), and `/.` names the tar's
//! entries `./...` (the directory's content) instead of `<base>/...`.
//! Without them the last element is not followed (a symlink is archived
//! as a symlink; the stat's `linkTarget` is its target resolved in the
//! container). Errors are dockerd's: 404 `Could not find the file <path>
//! in container <name>`, 400 `extraction point is not a directory`, 500
//! `Error processing tar file(exit status 1): <why>`.

use crate::container::{Container, Status};
use berth_api::backend::{ApiResult, ArchivePutOptions, BodyReader, BoxStream};
use berth_api::models::ContainerPathStat;
use berth_api::{ApiError, ErrorKind};
use bytes::Bytes;
use rustix::fs::{
    fstat, openat, openat2, readlinkat, statat, AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags,
    Stat,
};
use rustix::io::Errno;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// Resolution of every path below a container's root.
const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Symlinks followed in one resolution before `ELOOP` (Go's filepath
/// `EvalSymlinks` gives up at 255 too).
const MAX_LINKS: usize = 255;

// Go's os.FileMode bits (io/fs), as moby's ContainerPathStat `mode` encodes them.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHARDEV: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;

/// A container path as Docker reads the `path` query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerPath {
    /// Absolute, lexically cleaned (`/`, `/etc`).
    pub clean: String,
    /// The stat's `name` and the tar's top entry: the last element, `.`
    /// for a trailing `/.`, `/` for the root.
    pub name: String,
    /// A trailing `/` or `/.`: the last element is followed through
    /// symlinks and must be a directory.
    pub follow: bool,
    /// The path as given (for messages).
    pub given: String,
}

impl DockerPath {
    /// Parses `path` (relative paths are taken from `/`).
    pub fn parse(path: &str) -> DockerPath {
        let mut parts: Vec<&str> = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let clean = format!("/{}", parts.join("/"));
        let dot = path == "." || path.ends_with("/.");
        let follow = dot || path.ends_with('/');
        let name = if dot {
            ".".to_string()
        } else if parts.is_empty() {
            "/".to_string()
        } else {
            parts.last().expect("non-empty").to_string()
        };
        DockerPath {
            clean,
            name,
            follow,
            given: path.to_string(),
        }
    }

    /// The cleaned path relative to the root (`.` for the root).
    fn rel(&self) -> String {
        rel(&self.clean)
    }

    /// What `openat2` is given: the cleaned path, with a trailing `/` when
    /// the last element must be followed and be a directory.
    fn open_arg(&self) -> String {
        if self.follow && self.clean != "/" {
            format!("{}/", self.rel())
        } else {
            self.rel()
        }
    }
}

fn rel(p: &str) -> String {
    let r = p.trim_start_matches('/');
    if r.is_empty() {
        ".".to_string()
    } else {
        r.to_string()
    }
}

fn split_parent(clean: &str) -> (String, String) {
    match clean.rfind('/') {
        Some(i) => {
            let parent = if i == 0 { "/" } else { &clean[..i] };
            (parent.to_string(), clean[i + 1..].to_string())
        }
        None => ("/".to_string(), clean.to_string()),
    }
}

/// The root directory of a container for one archive operation: the
/// descriptor to resolve paths from (and, for a stopped container, the
/// detached overlay mount it belongs to, released on drop).
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// The root of a running container's mount namespace.
    ///
    /// # Errors
    /// The process is gone or `/proc` is not readable.
    pub fn of_process(pid: i64) -> std::io::Result<Root> {
        let fd = rustix::fs::open(
            format!("/proc/{pid}/root"),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// Mounts a stopped container's overlay detached (not attached to any
    /// mount point; it goes away when the returned root is dropped).
    /// `data` is the record's `lowerdir=...,upperdir=...,workdir=...`,
    /// relative to `cwd` when given.
    ///
    /// # Errors
    /// The overlay cannot be mounted (`fsopen`, `fsconfig`, `fsmount`).
    pub fn of_overlay(
        data: &str,
        cwd: Option<&std::path::Path>,
        mounts: &[(String, String)],
    ) -> std::io::Result<Root> {
        use rustix::mount::{
            fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
            MountAttrFlags,
        };
        let abs = |p: &str| -> String {
            match cwd {
                Some(c) if !p.starts_with('/') => c.join(p).display().to_string(),
                _ => p.to_string(),
            }
        };
        let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        for opt in data.split(',') {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            if k == "lowerdir" {
                // "lowerdir+" takes one layer a call (no page-size limit on the
                // whole list, no relative paths)
                for l in v.split(':') {
                    fsconfig_set_string(fs.as_fd(), "lowerdir+", abs(l))?;
                }
            } else if k == "upperdir" || k == "workdir" {
                fsconfig_set_string(fs.as_fd(), k, abs(v))?;
            } else if !k.is_empty() {
                fsconfig_set_string(fs.as_fd(), k, v)?;
            }
        }
        fsconfig_create(fs.as_fd())?;
        let fd = fsmount(
            fs.as_fd(),
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::empty(),
        )?;
        let root = Root { fd };
        root.attach(mounts);
        Ok(root)
    }

    /// Attaches clones of the container's volumes and binds
    /// (`(destination, host source)`, parents first) inside the detached
    /// tree, as they would be mounted at start, so that a stopped
    /// container's paths in them are the volume's (as with dockerd). A
    /// destination missing from the overlay is made (a directory, or an
    /// empty file for a file's bind), as the runtime makes it at start; a
    /// failure leaves the overlay's content there.
    /// The clones go away with the tree.
    fn attach(&self, mounts: &[(String, String)]) {
        use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
        let mut ms: Vec<&(String, String)> = mounts.iter().collect();
        ms.sort_by_key(|(d, _)| d.matches('/').count());
        for (dest, src) in ms {
            let r = (|| -> Result<(), Errno> {
                let target = match self.open(&rel(dest), OFlags::PATH) {
                    Err(Errno::NOENT) => {
                        // made as the runtime makes a mount point at start
                        let is_dir = std::fs::metadata(src).map(|m| m.is_dir()).unwrap_or(true);
                        if is_dir {
                            mkdir_all(self, dest).map_err(|_| Errno::NOENT)?
                        } else {
                            let (parent, base) = split_parent(dest);
                            let pfd = mkdir_all(self, &parent).map_err(|_| Errno::NOENT)?;
                            drop(openat(
                                &pfd,
                                base.as_str(),
                                OFlags::WRONLY
                                    | OFlags::CREATE
                                    | OFlags::EXCL
                                    | OFlags::NOFOLLOW
                                    | OFlags::CLOEXEC,
                                Mode::from_raw_mode(0o644),
                            )?);
                            self.open(&rel(dest), OFlags::PATH)?
                        }
                    }
                    r => r?,
                };
                let tree = open_tree(
                    rustix::fs::CWD,
                    src.as_str(),
                    OpenTreeFlags::OPEN_TREE_CLONE
                        | OpenTreeFlags::OPEN_TREE_CLOEXEC
                        | OpenTreeFlags::AT_RECURSIVE,
                )?;
                move_mount(
                    tree.as_fd(),
                    "",
                    target.as_fd(),
                    "",
                    MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
                        | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
                )
            })();
            if let Err(e) = r {
                tracing::debug!("archive: {src} on {dest} of a stopped container: {e}");
            }
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn open(&self, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        openat2(
            self.fd(),
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        )
    }

    /// The container path `path` resolves to, symlinks followed inside
    /// the root (a missing element ends the resolution: the rest is
    /// appended as is, as Docker's `FollowSymlinkInScope` does).
    ///
    /// # Errors
    /// `ELOOP` after [`MAX_LINKS`] symlinks; I/O.
    pub fn resolve(&self, path: &str) -> Result<String, Errno> {
        let mut done: Vec<String> = Vec::new();
        let mut todo: VecDeque<String> = path.split('/').map(str::to_string).collect();
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let parent = self.open(
                &rel(&format!("/{}", done.join("/"))),
                OFlags::PATH | OFlags::DIRECTORY,
            )?;
            let st = match statat(&parent, c.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) => {
                    done.push(c);
                    done.extend(todo.into_iter().filter(|c| !c.is_empty() && c != "."));
                    break;
                }
                Err(e) => return Err(e),
            };
            if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
                done.push(c);
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::LOOP);
            }
            let target = readlinkat(&parent, c.as_str(), Vec::new())?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                done.clear();
            }
            for t in target.split('/').rev() {
                todo.push_front(t.to_string());
            }
        }
        Ok(format!("/{}", done.join("/")))
    }
}

/// moby's `ContainerPathStat.Mode`: Go's `os.FileMode` of a `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    match FileType::from_raw_mode(st_mode) {
        FileType::Directory => m |= GO_DIR,
        FileType::Symlink => m |= GO_SYMLINK,
        FileType::BlockDevice => m |= GO_DEVICE,
        FileType::CharacterDevice => m |= GO_DEVICE | GO_CHARDEV,
        FileType::Fifo => m |= GO_PIPE,
        FileType::Socket => m |= GO_SOCKET,
        _ => {}
    }
    if st_mode & 0o4000 != 0 {
        m |= GO_SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= GO_SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= GO_STICKY;
    }
    m
}

/// RFC 3339 with nanoseconds, trailing zeros of the fraction dropped
/// (Go's `time.RFC3339Nano`, as the stat's `mtime` is written).
fn go_time(secs: i64, nsec: i64) -> String {
    let s = crate::util::rfc3339_nano(secs as i128 * 1_000_000_000 + nsec as i128);
    // "....SS.123450000Z" -> "....SS.12345Z"; ".000000000Z" -> "Z"
    match s.rsplit_once('.') {
        Some((head, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{digits}Z")
            }
        }
        None => s,
    }
}

fn not_found(p: &DockerPath, container: &str) -> ApiError {
    ApiError::not_found(format!(
        "Could not find the file {} in container {container}",
        p.given
    ))
}

/// An `lstat` failure other than "no such file", in dockerd's words (with
/// the container path where dockerd shows its host path).
fn stat_err(p: &DockerPath, container: &str, e: Errno) -> ApiError {
    if e == Errno::NOENT {
        return not_found(p, container);
    }
    ApiError::system(format!(
        "lstat {}: {}",
        p.given,
        std::io::Error::from(e)
            .to_string()
            .split(" (os error")
            .next()
            .unwrap_or("")
    ))
}

fn errno_text(e: Errno) -> String {
    let s = std::io::Error::from(e).to_string();
    let s = s.split(" (os error").next().unwrap_or("").to_string();
    // Go's syscall error strings are lower case
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// `HEAD /containers/{id}/archive?path=`: stats `p` in the container
/// (`container` is the name the client gave, for the 404 message).
///
/// # Errors
/// 404 when it does not exist, 500 for other `lstat` failures.
pub fn stat(root: &Root, p: &DockerPath, container: &str) -> ApiResult<(ContainerPathStat, Stat)> {
    let fd = if p.follow {
        root.open(&p.open_arg(), OFlags::PATH)
    } else {
        root.open(&p.rel(), OFlags::PATH | OFlags::NOFOLLOW)
    }
    .map_err(|e| stat_err(p, container, e))?;
    let st = fstat(&fd).map_err(|e| stat_err(p, container, e))?;
    let link_target = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        root.resolve(&p.clean)
            .map_err(|e| stat_err(p, container, e))?
    } else {
        String::new()
    };
    Ok((
        ContainerPathStat {
            name: p.name.clone(),
            size: st.st_size,
            mode: go_file_mode(st.st_mode),
            mtime: go_time(st.st_mtime, st.st_mtime_nsec as i64),
            link_target,
        },
        st,
    ))
}

// ---------------------------------------------------------------------
// GET: a tar of a path

/// Writes into a channel in 64 KiB chunks (from a blocking thread); a
/// closed receiver (client gone) is a broken pipe, which ends the walk.
struct ChanWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChanWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChanWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Tar writer over descriptors: GNU headers, long names and link targets
/// as GNU `L`/`K` entries, hard links within the archive as link entries
/// (first name seen wins), entries of a directory in byte order.
struct TarOut<W: Write> {
    b: tar::Builder<W>,
    inodes: HashMap<(u64, u64), String>,
}

impl<W: Write> TarOut<W> {
    fn long(&mut self, kind: tar::EntryType, name: &[u8]) -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(name.len() as u64 + 1);
        h.set_cksum();
        let mut data = name.to_vec();
        data.push(0);
        self.b.append(&h, data.as_slice())
    }

    fn header(
        &mut self,
        st: &Stat,
        kind: tar::EntryType,
        name: &str,
    ) -> std::io::Result<tar::Header> {
        let mut h = tar::Header::new_gnu();
        let nb = name.as_bytes();
        if nb.len() > 100 {
            self.long(tar::EntryType::GNULongName, nb)?;
        }
        let n = nb.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&nb[..n]);
        h.set_entry_type(kind);
        // with the type bits (c_ISREG, c_ISDIR...), as Go's FileInfoHeader writes it
        h.set_mode(st.st_mode & 0o177777);
        h.set_uid(st.st_uid as u64);
        h.set_gid(st.st_gid as u64);
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        Ok(h)
    }

    fn link_name(&mut self, h: &mut tar::Header, target: &[u8]) -> std::io::Result<()> {
        if target.len() > 100 {
            self.long(tar::EntryType::GNULongLink, target)?;
        }
        let n = target.len().min(100);
        h.as_old_mut().linkname[..n].copy_from_slice(&target[..n]);
        Ok(())
    }

    /// Appends `name` of directory `dir` (not followed) as `tar_name`.
    fn entry(&mut self, dir: BorrowedFd<'_>, name: &str, tar_name: &str) -> std::io::Result<()> {
        let st = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let fd = openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                self.dir(fd, tar_name)
            }
            FileType::RegularFile => {
                let fd = openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let st = fstat(&fd)?;
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.inodes.get(&key).cloned() {
                        let mut h = self.header(&st, tar::EntryType::Link, tar_name)?;
                        self.link_name(&mut h, first.as_bytes())?;
                        h.set_cksum();
                        return self.b.append(&h, std::io::empty());
                    }
                    self.inodes.insert(key, tar_name.to_string());
                }
                let mut h = self.header(&st, tar::EntryType::Regular, tar_name)?;
                h.set_size(st.st_size as u64);
                h.set_cksum();
                let file = std::fs::File::from(fd);
                // a file that shrank meanwhile is padded, one that grew cut
                // (the header's size is what was stat'ed)
                let data = file
                    .take(st.st_size as u64)
                    .chain(std::io::repeat(0))
                    .take(st.st_size as u64);
                self.b.append(&h, data)
            }
            FileType::Symlink => {
                let target = readlinkat(dir, name, Vec::new())?;
                let mut h = self.header(&st, tar::EntryType::Symlink, tar_name)?;
                self.link_name(&mut h, target.as_bytes())?;
                h.set_cksum();
                self.b.append(&h, std::io::empty())
            }
            t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                let kind = match t {
                    FileType::CharacterDevice => tar::EntryType::Char,
                    FileType::BlockDevice => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut h = self.header(&st, kind, tar_name)?;
                if t != FileType::Fifo {
                    h.set_device_major(rustix::fs::major(st.st_rdev))?;
                    h.set_device_minor(rustix::fs::minor(st.st_rdev))?;
                }
                h.set_cksum();
                self.b.append(&h, std::io::empty())
            }
            // Go's archive/tar has no socket entries: dockerd skips them
            _ => Ok(()),
        }
    }

    /// Appends the open directory `fd` as `tar_name/` and its content.
    fn dir(&mut self, fd: OwnedFd, tar_name: &str) -> std::io::Result<()> {
        let st = fstat(&fd)?;
        let top = if tar_name.ends_with('/') {
            tar_name.to_string()
        } else {
            format!("{tar_name}/")
        };
        let mut h = self.header(&st, tar::EntryType::Directory, &top)?;
        h.set_cksum();
        self.b.append(&h, std::io::empty())?;
        let mut names: Vec<Vec<u8>> = Vec::new();
        for e in Dir::read_from(&fd)? {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(n.to_vec());
            }
        }
        names.sort();
        for n in names {
            let n = String::from_utf8_lossy(&n).into_owned();
            let child = format!("{top}{n}");
            match self.entry(fd.as_fd(), &n, &child) {
                // removed meanwhile (a running container's files move)
                Err(e) if e.raw_os_error() == Some(libc_enoent()) => {}
                r => r?,
            }
        }
        Ok(())
    }
}

fn libc_enoent() -> i32 {
    Errno::NOENT.raw_os_error()
}

/// Writes the tar of `p` (already stat'ed) into `out`: a directory as
/// `<name>/...` (`./...` for `/.`, `/...` for the root), anything else as
/// one entry named `<name>`.
fn write_tar<W: Write>(root: &Root, p: &DockerPath, out: W) -> std::io::Result<W> {
    let mut t = TarOut {
        b: tar::Builder::new(out),
        inodes: HashMap::new(),
    };
    if p.follow || p.clean == "/" {
        let fd = root.open(&p.open_arg(), OFlags::RDONLY | OFlags::DIRECTORY)?;
        t.dir(fd, &p.name)?;
    } else {
        let (parent, base) = split_parent(&p.clean);
        let pfd = root.open(&rel(&parent), OFlags::PATH | OFlags::DIRECTORY)?;
        t.entry(pfd.as_fd(), &base, &p.name)?;
    }
    t.b.into_inner()
}

// ---------------------------------------------------------------------
// PUT: extract a tar

/// Who extracted files belong to.
#[derive(Clone, Copy)]
enum Owner {
    /// The uid/gid of each tar header.
    Header,
    /// Everything to this uid:gid (`copyUIDGID=true`: the container's user).
    Fixed(u32, u32),
}

fn tar_err(msg: impl std::fmt::Display) -> ApiError {
    ApiError::system(format!("Error processing tar file(exit status 1): {msg}"))
}

/// Opens (creating with mode 0755 as needed) the directory `path` of the
/// container.
fn mkdir_all(root: &Root, path: &str) -> std::io::Result<OwnedFd> {
    match root.open(&rel(path), OFlags::PATH | OFlags::DIRECTORY) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let (parent, base) = split_parent(path);
    let pfd = mkdir_all(root, &parent)?;
    match rustix::fs::mkdirat(&pfd, base.as_str(), Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(root.open(&rel(path), OFlags::PATH | OFlags::DIRECTORY)?)
}

/// Removes `name` of `dir` and everything below it, never following a
/// symlink.
fn remove_all(dir: BorrowedFd<'_>, name: &str) -> std::io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let fd = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in Dir::read_from(&fd)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(String::from_utf8_lossy(n).into_owned());
        }
    }
    for n in names {
        remove_all(fd.as_fd(), &n)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Lexical join of a tar entry's name below `dest` (both cleaned); None
/// when `..` climbs out of `dest`.
fn below(dest: &str, name: &str) -> Option<String> {
    let mut parts: Vec<&str> = dest.split('/').filter(|c| !c.is_empty()).collect();
    let floor = parts.len();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.len() == floor {
                    return None;
                }
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

fn extract<R: Read>(
    root: &Root,
    dest: &str,
    opts: &ArchivePutOptions,
    owner: Owner,
    input: R,
) -> ApiResult<()> {
    let mut ar = tar::Archive::new(input);
    let mut dir_times: Vec<(String, i64)> = Vec::new();
    let entries = ar.entries().map_err(tar_err)?;
    for e in entries {
        let mut e = e.map_err(tar_err)?;
        let h = e.header().clone();
        let kind = h.entry_type();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let Some(path) = below(dest, &name) else {
            return Err(tar_err(format!("{name:?} is outside of {dest:?}")));
        };
        if path == dest {
            // the destination itself ("./"): its metadata is left alone, as
            // dockerd does for the extraction point
            continue;
        }
        let (parent, base) = split_parent(&path);
        let pfd = mkdir_all(root, &parent).map_err(tar_err)?;
        let is_dir = kind == tar::EntryType::Directory;
        match statat(&pfd, base.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let was_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if opts.no_overwrite_dir_non_dir && was_dir && !is_dir {
                    return Err(tar_err(format!(
                        "cannot overwrite directory {path:?} with non-directory {dest:?}"
                    )));
                }
                if opts.no_overwrite_dir_non_dir && !was_dir && is_dir {
                    return Err(tar_err(format!(
                        "cannot overwrite non-directory {path:?} with directory {dest:?}"
                    )));
                }
                if !(was_dir && is_dir) {
                    remove_all(pfd.as_fd(), &base).map_err(tar_err)?;
                }
            }
            Err(Errno::NOENT) => {}
            Err(err) => return Err(tar_err(errno_text(err))),
        }
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let (uid, gid) = match owner {
            Owner::Header => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
            Owner::Fixed(u, g) => (u, g),
        };
        let mtime = h.mtime().unwrap_or(0) as i64;
        let chown = |fd: BorrowedFd<'_>, name: &str| {
            rustix::fs::chownat(
                fd,
                name,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
        };
        let r: std::io::Result<()> = (|| {
            match kind {
                tar::EntryType::Directory => {
                    match rustix::fs::mkdirat(&pfd, base.as_str(), Mode::from_raw_mode(0o700)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    let fd = openat(
                        &pfd,
                        base.as_str(),
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?;
                    rustix::fs::fchown(
                        &fd,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                    )?;
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
                    dir_times.push((path.clone(), mtime));
                    return Ok(());
                }
                tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::GNUSparse => {
                    let fd = openat(
                        &pfd,
                        base.as_str(),
                        OFlags::WRONLY
                            | OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o600),
                    )?;
                    let mut f = std::fs::File::from(fd);
                    std::io::copy(&mut e, &mut f)?;
                    rustix::fs::fchown(
                        &f,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                    )?;
                    rustix::fs::fchmod(&f, Mode::from_raw_mode(mode))?;
                }
                tar::EntryType::Symlink => {
                    let target = e
                        .link_name_bytes()
                        .map(|b| b.into_owned())
                        .unwrap_or_default();
                    rustix::fs::symlinkat(target.as_slice(), &pfd, base.as_str())?;
                    chown(pfd.as_fd(), &base)?;
                }
                tar::EntryType::Link => {
                    let target = e
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    let Some(tpath) = below(dest, &target) else {
                        return Err(std::io::Error::other(format!(
                            "invalid hardlink {target:?} -> {name:?}"
                        )));
                    };
                    let (tparent, tbase) = split_parent(&tpath);
                    let tfd = root.open(&rel(&tparent), OFlags::PATH | OFlags::DIRECTORY)?;
                    rustix::fs::linkat(
                        &tfd,
                        tbase.as_str(),
                        &pfd,
                        base.as_str(),
                        AtFlags::empty(),
                    )?;
                    return Ok(());
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    let ft = match kind {
                        tar::EntryType::Char => FileType::CharacterDevice,
                        tar::EntryType::Block => FileType::BlockDevice,
                        _ => FileType::Fifo,
                    };
                    let dev = rustix::fs::makedev(
                        h.device_major().ok().flatten().unwrap_or(0),
                        h.device_minor().ok().flatten().unwrap_or(0),
                    );
                    rustix::fs::mknodat(&pfd, base.as_str(), ft, Mode::from_raw_mode(mode), dev)?;
                    chown(pfd.as_fd(), &base)?;
                }
                // other entry types (GNU volume headers...) are skipped
                _ => return Ok(()),
            }
            let t = rustix::fs::Timestamps {
                last_access: rustix::fs::Timespec {
                    tv_sec: mtime,
                    tv_nsec: 0,
                },
                last_modification: rustix::fs::Timespec {
                    tv_sec: mtime,
                    tv_nsec: 0,
                },
            };
            rustix::fs::utimensat(&pfd, base.as_str(), &t, AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(())
        })();
        r.map_err(|err| tar_err(io_text(&err)))?;
    }
    // directories' times last: their entries changed them
    for (path, mtime) in dir_times.into_iter().rev() {
        let ts = rustix::fs::Timespec {
            tv_sec: mtime,
            tv_nsec: 0,
        };
        let t = rustix::fs::Timestamps {
            last_access: ts,
            last_modification: ts,
        };
        let (parent, base) = split_parent(&path);
        if let Ok(pfd) = root.open(&rel(&parent), OFlags::PATH | OFlags::DIRECTORY) {
            let _ = rustix::fs::utimensat(&pfd, base.as_str(), &t, AtFlags::SYMLINK_NOFOLLOW);
        }
    }
    Ok(())
}

fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(Errno::from_raw_os_error(n)),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => "unexpected EOF".to_string(),
        None => e.to_string(),
    }
}

/// The uid:gid of the container's `Config.User` (`name`, `uid`,
/// `name:group`, `uid:gid`), names looked up in the container's
/// `/etc/passwd` and `/etc/group`; root when empty or not found.
fn container_user(root: &Root, user: &str) -> (u32, u32) {
    let read = |p: &str| -> String {
        root.open(p, OFlags::RDONLY)
            .ok()
            .and_then(|fd| {
                let mut s = String::new();
                std::fs::File::from(fd).read_to_string(&mut s).ok()?;
                Some(s)
            })
            .unwrap_or_default()
    };
    let (u, g) = user.split_once(':').unwrap_or((user, ""));
    if u.is_empty() {
        return (0, 0);
    }
    let passwd = read("etc/passwd");
    let mut uid = u.parse::<u32>().ok();
    let mut gid = None;
    for l in passwd.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 4 && (f[0] == u || f[2] == u) {
            uid = f[2].parse().ok();
            gid = f[3].parse().ok();
            break;
        }
    }
    if !g.is_empty() {
        gid = g.parse::<u32>().ok().or_else(|| {
            read("etc/group").lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 3 && f[0] == g)
                    .then(|| f[2].parse().ok())
                    .flatten()
            })
        });
    }
    (uid.unwrap_or(0), gid.unwrap_or(0))
}

// ---------------------------------------------------------------------
// the operations on a container

/// How a container's root is reached: its init's `/proc/<pid>/root` when
/// running, else a detached mount of its overlay.
fn open_root(c: &Container) -> ApiResult<Root> {
    let rec = c.get();
    match rec.state.status {
        Status::Running | Status::Paused | Status::Restarting if rec.state.pid > 0 => {
            Root::of_process(rec.state.pid)
                .map_err(|e| ApiError::system(format!("open the root of container {}: {e}", c.id)))
        }
        _ => {
            let mounts: Vec<(String, String)> = crate::mount_points(&rec)
                .into_iter()
                .map(|m| (m.destination, m.source))
                .collect();
            Root::of_overlay(&rec.mount_data, rec.mount_cwd.as_deref(), &mounts)
        }
        .map_err(|e| ApiError::system(format!("mount the rootfs of container {}: {e}", c.id))),
    }
}

/// Runs `f` on the container's root in a blocking thread, holding the
/// container's operation lock when it is not running (its overlay is
/// mounted for `f`: a concurrent start must wait).
async fn with_root<T: Send + 'static>(
    c: Arc<Container>,
    f: impl FnOnce(&Root) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let live = c.get().state.status.is_live();
    let _g = if live { None } else { Some(c.op.lock().await) };
    let c2 = c.clone();
    tokio::task::spawn_blocking(move || {
        let root = open_root(&c2)?;
        f(&root)
    })
    .await
    .map_err(|e| ApiError::system(format!("archive: {e}")))?
}

/// `HEAD /containers/{id}/archive?path=`.
///
/// # Errors
/// 400 for an empty path, 404 for a missing one, 500 otherwise.
pub async fn stat_path(c: Arc<Container>, given: &str, path: &str) -> ApiResult<ContainerPathStat> {
    check_path(path)?;
    let p = DockerPath::parse(path);
    let given = given.to_string();
    with_root(c, move |root| stat(root, &p, &given).map(|(s, _)| s)).await
}

fn check_path(path: &str) -> ApiResult<()> {
    if path.is_empty() {
        // dockerd's words, without the space it forgets
        return Err(ApiError::invalid("bad parameter: pathcannot be empty"));
    }
    Ok(())
}

/// `GET /containers/{id}/archive?path=`: the stat (for the
/// `X-Docker-Container-Path-Stat` header) and the tar, streamed from a
/// blocking thread (which holds the root, and the container's lock when
/// stopped, until the tar is written or the client goes away).
///
/// # Errors
/// As [`stat_path`], before any byte of the tar.
pub async fn get_archive(
    c: Arc<Container>,
    given: &str,
    path: &str,
) -> ApiResult<(ContainerPathStat, BoxStream<std::io::Result<Bytes>>)> {
    check_path(path)?;
    let p = DockerPath::parse(path);
    let given = given.to_string();
    let (stat_tx, stat_rx) = tokio::sync::oneshot::channel();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let live = c.get().state.status.is_live();
        let _g = if live { None } else { Some(c.op.lock().await) };
        let c2 = c.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let root = match open_root(&c2) {
                Ok(r) => r,
                Err(e) => {
                    let _ = stat_tx.send(Err(e));
                    return;
                }
            };
            let st = stat(&root, &p, &given).map(|(s, _)| s);
            let ok = st.is_ok();
            let _ = stat_tx.send(st);
            if !ok {
                return;
            }
            let w = ChanWriter {
                tx: tx.clone(),
                buf: Vec::new(),
            };
            match write_tar(&root, &p, w).and_then(|mut w| w.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => {
                    tracing::warn!("archive of {} in {}: {e}", p.given, c2.id);
                    let _ = tx.blocking_send(Err(e));
                }
            }
        })
        .await;
    });
    let st = stat_rx
        .await
        .map_err(|_| ApiError::system("archive: the tar writer ended early"))??;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((st, Box::pin(stream)))
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`:
/// extracts the tar `body` into the directory `path` (followed through
/// symlinks, inside the container).
///
/// # Errors
/// 400 for an empty path or a destination that is not a directory, 404
/// for a missing one, 500 `Error processing tar file(exit status 1): ...`
/// for a bad tar or a failed write (what was written stays, as with
/// dockerd).
pub async fn put_archive(
    c: ApiResult<Arc<Container>>,
    given: &str,
    path: &str,
    opts: ArchivePutOptions,
    body: BodyReader,
) -> ApiResult<()> {
    let mut input = tokio_util::io::SyncIoBridge::new(body);
    let c = match c.and_then(|c| check_path(path).map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || drain(&mut input)).await;
            return Err(e);
        }
    };
    let p = DockerPath::parse(path);
    let given = given.to_string();
    let rec = c.get();
    let user = rec.config.user.clone();
    let mounts: Vec<(String, bool)> = crate::mount_points(&rec)
        .into_iter()
        .map(|m| (m.destination, m.rw))
        .collect();
    let ro_rootfs = rec.host_config.readonly_rootfs;
    with_root(c, move |root| {
        let r = put_in(root, &p, &given, &opts, &user).and_then(|(dest, owner)| {
            writable(&dest, ro_rootfs, &mounts)?;
            extract(root, &dest, &opts, owner, &mut input)
        });
        if r.is_err() {
            drain(&mut input);
        }
        r
    })
    .await
}

/// Reads and drops what is left of a refused request body (up to 4 MiB),
/// so that the client gets the answer instead of a broken pipe on its
/// write (Go's server drains 256 KiB the same way).
fn drain<R: Read>(r: &mut R) {
    let _ = std::io::copy(&mut r.take(4 << 20), &mut std::io::sink());
}

/// Checks the destination of a `PUT` (a directory, followed through
/// symlinks) and returns its container path and who will own the files.
fn put_in(
    root: &Root,
    p: &DockerPath,
    given: &str,
    opts: &ArchivePutOptions,
    user: &str,
) -> ApiResult<(String, Owner)> {
    {
        let fd = root
            .open(&p.rel(), OFlags::PATH)
            .map_err(|e| stat_err(p, given, e))?;
        let st = fstat(&fd).map_err(|e| stat_err(p, given, e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return Err(ApiError::new(
                ErrorKind::InvalidParameter,
                "extraction point is not a directory",
            ));
        }
        let dest = root.resolve(&p.clean).map_err(|e| stat_err(p, given, e))?;
        let owner = if opts.copy_uid_gid {
            let (u, g) = container_user(root, user);
            Owner::Fixed(u, g)
        } else {
            Owner::Header
        };
        Ok((dest, owner))
    }
}

/// moby's `checkIfPathIsInAVolume` and the read-only rootfs check: a
/// destination in a read-only volume or bind is refused, and outside of
/// every volume and bind when the rootfs is read-only (`--read-only`).
///
/// # Errors
/// 500 `mounted volume is marked read-only`, 400 `container rootfs is
/// marked read-only`.
fn writable(dest: &str, ro_rootfs: bool, mounts: &[(String, bool)]) -> ApiResult<()> {
    let under = |d: &str| {
        let d = d.trim_end_matches('/');
        d.is_empty() || dest == d || dest.starts_with(&format!("{d}/"))
    };
    let best = mounts
        .iter()
        .filter(|(d, _)| under(d))
        .max_by_key(|(d, _)| d.trim_end_matches('/').len());
    match best {
        Some((_, false)) => Err(ApiError::system("mounted volume is marked read-only")),
        Some((_, true)) => Ok(()),
        None if ro_rootfs => Err(ApiError::invalid("container rootfs is marked read-only")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_paths() {
        let p = DockerPath::parse("/etc/.");
        assert_eq!(
            (p.clean.as_str(), p.name.as_str(), p.follow),
            ("/etc", ".", true)
        );
        let p = DockerPath::parse("etc/");
        assert_eq!(
            (p.clean.as_str(), p.name.as_str(), p.follow),
            ("/etc", "etc", true)
        );
        let p = DockerPath::parse("/d/sub/..");
        assert_eq!(
            (p.clean.as_str(), p.name.as_str(), p.follow),
            ("/d", "d", false)
        );
        let p = DockerPath::parse("/../../");
        assert_eq!((p.clean.as_str(), p.name.as_str()), ("/", "/"));
        assert_eq!(below("/tmp", "../etc"), None);
        assert_eq!(below("/tmp", "./a/../b").as_deref(), Some("/tmp/b"));
        assert_eq!(below("/", "x").as_deref(), Some("/x"));
    }

    #[test]
    fn read_only_rootfs_and_volumes() {
        let m = vec![("/data".to_string(), true), ("/data/ro".to_string(), false)];
        assert!(writable("/data/x", true, &m).is_ok());
        assert!(writable("/data", true, &m).is_ok());
        let e = writable("/data/ro/x", false, &m).expect_err("ro volume");
        assert_eq!(e.message, "mounted volume is marked read-only");
        let e = writable("/datax", true, &m).expect_err("ro rootfs");
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::InvalidParameter,
                "container rootfs is marked read-only"
            )
        );
        assert!(writable("/tmp", false, &m).is_ok());
    }

    #[test]
    fn go_modes_and_times() {
        assert_eq!(go_file_mode(0o040755), 2147484141);
        assert_eq!(go_file_mode(0o120777), 134218239);
        assert_eq!(go_file_mode(0o100644), 420);
        assert_eq!(go_time(1, 0), "1970-01-01T00:00:01Z");
        assert_eq!(go_time(1, 500_000_000), "1970-01-01T00:00:01.5Z");
    }

    /// Symlinks, absolute or with `..`, stay inside the root.
    #[test]
    fn resolution_stays_in_root() {
        let d = tempfile::tempdir().expect("tempdir");
        let r = d.path();
        std::fs::create_dir_all(r.join("a/b")).expect("mkdir");
        std::os::unix::fs::symlink("/etc/shadow", r.join("a/abs")).expect("symlink");
        std::os::unix::fs::symlink("../../../../../etc", r.join("a/b/up")).expect("symlink");
        let root = Root {
            fd: rustix::fs::open(r, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).expect("open"),
        };
        assert_eq!(root.resolve("/a/abs").expect("resolve"), "/etc/shadow");
        assert_eq!(
            root.resolve("/a/b/up/passwd").expect("resolve"),
            "/etc/passwd"
        );
        // the host's /etc/passwd exists; the root's does not
        assert_eq!(
            root.open("a/b/up/passwd", OFlags::PATH).err(),
            Some(Errno::NOENT)
        );
        let p = DockerPath::parse("/a/abs");
        let (st, _) = stat(&root, &p, "c").expect("stat of the link itself");
        assert_eq!(st.link_target, "/etc/shadow");
        let p = DockerPath::parse("/a/b/up/");
        let e = stat(&root, &p, "c").expect_err("no /etc in the root");
        assert_eq!(e.message, "Could not find the file /a/b/up/ in container c");
    }
}
