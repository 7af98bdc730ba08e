//! `docker diff` (`GET /containers/{id}/changes`) and `docker export`
//! (`GET /containers/{id}/export`).
//!
//! # Changes
//! Computed from the container's rw layer (the overlay upper directory,
//! `snapshots/<id>/upper`) against its image's layers, as dockerd's overlay
//! driver reports them (checked against Debian's dockerd):
//! - a 0/0 character device (overlayfs whiteout) is a deletion (`Kind` 2);
//! - an entry absent from every lower layer is an addition (1);
//! - an entry present below is a modification (0), except a directory
//!   whose mode is unchanged (a copy-up, an opaque directory re-created
//!   with the same mode): it is reported only as the parent of a reported
//!   change; dockerd ignores directory times, so does this;
//! - every reported change makes its not yet reported ancestor directories
//!   (but `/`) modifications, listed before it.
//!
//! The mount points the runtime creates in the rw layer (the paths
//! dockerd's init layer holds: `/etc/hosts`, `/etc/hostname`,
//! `/etc/resolv.conf`, `/etc/mtab`, `/.dockerenv`, `/dev`, `/proc`,
//! `/sys`) are not the container's changes and are left out, here and in
//! `commit`. The order is the walk's (names sorted, parents first);
//! dockerd's is unspecified. Whether a path exists below is a plain lookup
//! in each lower layer, topmost first, stopping at a whiteout (an opaque
//! directory of a lower layer does not hide the layers under it, as in
//! dockerd's own lookup).
//!
//! # Export
//! A tar of the merged view as dockerd exports it: the rw layer over
//! dockerd's *init layer* (`/.dockerenv`, `/dev/console`, `/dev/pts`,
//! `/dev/shm`, `/proc`, `/sys`, empty `/etc/hosts`, `/etc/hostname`,
//! `/etc/resolv.conf`, `/etc/mtab -> /proc/mounts`; moby
//! `daemon/initlayer`, made once per container as `containers/<id>/
//! init-layer`) over the image's layers, and the three bind-mounted
//! `/etc` files once more above the rw layer (`init-layer-top`), where
//! the runtime's mount-point placeholders would otherwise show. A running
//! container's rw layer is the upper directory of its own overlay and
//! must not be a layer of a second one: its export is the init layer
//! (`init-layer-live`) over its mounted `rootfs/`. That stack is mounted for the
//! export only, running or not, as a read-only overlay of lower layers
//! (the rw layer's whiteouts and opaque directories honoured),
//! with the new mount API (`fsopen`, `fsconfig` with one `lowerdir+` per
//! layer, `fsmount`) as a *detached* mount: it is attached to no mount
//! point and goes away when its file descriptor is closed, so no mount is
//! left behind, not even by a crash. For a stopped container the
//! operation lock is held meanwhile, so a `start` waits for the export
//! to end.

use crate::Engine;
use berth_api::backend::ApiResult;
use berth_api::backend::BoxStream;
use berth_api::models::FilesystemChange;
use berth_api::ApiError;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Paths (relative to the rootfs) that the runtime may create in the rw
/// layer as mount points and that dockerd keeps in a container's init
/// layer: never part of `docker diff` or of a committed layer.
pub const INIT_PATHS: &[&str] = &[
    ".dockerenv",
    "dev",
    "etc/hostname",
    "etc/hosts",
    "etc/mtab",
    "etc/resolv.conf",
    "proc",
    "sys",
];

/// True for a path of [`INIT_PATHS`] (`rel` relative, `etc/hosts`).
pub fn is_init_path(rel: &Path) -> bool {
    INIT_PATHS.iter().any(|p| rel == Path::new(p))
}

fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// The metadata of `rel` in the topmost lower layer that has it; None when
/// no layer has it or a whiteout hides it.
fn lower_lookup(lowers: &[PathBuf], rel: &Path) -> io::Result<Option<std::fs::Metadata>> {
    for l in lowers {
        match std::fs::symlink_metadata(l.join(rel)) {
            Ok(md) if is_whiteout(&md) => return Ok(None),
            Ok(md) => return Ok(Some(md)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            // a file where a directory was: not below
            Err(e) if e.raw_os_error() == Some(20) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

struct Walk<'a> {
    upper: &'a Path,
    lowers: &'a [PathBuf],
    /// Ancestor directories not reported by themselves: (path, reported).
    pending: Vec<(String, bool)>,
    out: Vec<FilesystemChange>,
}

impl Walk<'_> {
    fn report(&mut self, path: String, kind: u8) {
        for (p, done) in self.pending.iter_mut() {
            if !*done {
                *done = true;
                self.out.push(FilesystemChange {
                    path: p.clone(),
                    kind: FilesystemChange::MODIFIED,
                });
            }
        }
        self.out.push(FilesystemChange { path, kind });
    }

    fn dir(&mut self, rel: &Path) -> io::Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(self.upper.join(rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            let rel = rel.join(&name);
            if is_init_path(&rel) {
                continue;
            }
            let md = std::fs::symlink_metadata(self.upper.join(&rel))?;
            let path = format!("/{}", rel.display());
            if is_whiteout(&md) {
                self.report(path, FilesystemChange::DELETED);
                continue;
            }
            match lower_lookup(self.lowers, &rel)? {
                None => self.report(path, FilesystemChange::ADDED),
                Some(lm) if lm.is_dir() && md.is_dir() && lm.mode() == md.mode() => {
                    self.pending.push((path, false));
                    self.dir(&rel)?;
                    self.pending.pop();
                    continue;
                }
                Some(_) => self.report(path, FilesystemChange::MODIFIED),
            }
            if md.is_dir() {
                // reported already: its children need not report it
                self.pending.push((String::new(), true));
                self.dir(&rel)?;
                self.pending.pop();
            }
        }
        Ok(())
    }
}

/// The changes of the rw layer `upper` over the lower layers `lowers`
/// (topmost first), in walk order. Errors: I/O reading either.
pub fn layer_changes(upper: &Path, lowers: &[PathBuf]) -> io::Result<Vec<FilesystemChange>> {
    let mut w = Walk {
        upper,
        lowers,
        pending: Vec::new(),
        out: Vec::new(),
    };
    w.dir(Path::new(""))?;
    Ok(w.out)
}

/// The entries of dockerd's init layer (moby `daemon/initlayer`
/// `Setup`): path, and `None` for a directory, `Some("")` for an empty
/// file, `Some(target)` for a symlink. Files and directories are 0755,
/// owned by root.
const INIT_LAYER: &[(&str, Option<&str>)] = &[
    (".dockerenv", Some("")),
    ("dev", None),
    ("dev/console", Some("")),
    ("dev/pts", None),
    ("dev/shm", None),
    ("etc", None),
    ("etc/hostname", Some("")),
    ("etc/hosts", Some("")),
    ("etc/mtab", Some("/proc/mounts")),
    ("etc/resolv.conf", Some("")),
    ("proc", None),
    ("sys", None),
];

/// The part of the init layer put *above* the rw layer in an export: the
/// files bind-mounted over while the container runs, which a container
/// cannot change in its own layer, but where the runtime leaves its
/// mount-point placeholders (0644); dockerd's init layer has them already,
/// so its rw layer never does.
const INIT_LAYER_TOP: &[(&str, Option<&str>)] = &[
    ("etc", None),
    ("etc/hostname", Some("")),
    ("etc/hosts", Some("")),
    ("etc/resolv.conf", Some("")),
];

/// The init layer of a running container's export, put above its merged
/// view: [`INIT_LAYER`] but `proc` and `sys` (the image or the runtime's
/// mount points have them). It differs from dockerd's stack only where
/// the container changed `/.dockerenv`, `/etc/mtab` or the mode of
/// `/etc` or `/dev` (hidden here).
const INIT_LAYER_LIVE: &[(&str, Option<&str>)] = &[
    (".dockerenv", Some("")),
    ("dev", None),
    ("dev/console", Some("")),
    ("dev/pts", None),
    ("dev/shm", None),
    ("etc", None),
    ("etc/hostname", Some("")),
    ("etc/hosts", Some("")),
    ("etc/mtab", Some("/proc/mounts")),
    ("etc/resolv.conf", Some("")),
];

/// A layer of `entries` at `<dir>/<name>`, made on first use (in a
/// temporary directory renamed into place, so a crash leaves no half
/// layer under that name).
///
/// # Errors
/// Creating the entries.
fn init_layer(dir: &Path, name: &str, entries: &[(&str, Option<&str>)]) -> io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    if path.is_dir() {
        return Ok(path);
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{name}.tmp{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let made = (|| {
        std::fs::create_dir(&tmp)?;
        for (rel, kind) in entries {
            let p = tmp.join(rel);
            match kind {
                None => std::fs::create_dir(&p)?,
                Some("") => drop(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&p)?,
                ),
                Some(target) => {
                    std::os::unix::fs::symlink(target, &p)?;
                    continue;
                }
            }
            // 0755 whatever the umask
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&tmp);
        if path.is_dir() {
            return Ok(path);
        }
        return Err(e);
    }
    Ok(path)
}

fn no_layer(id: &str) -> ApiError {
    ApiError::system(format!("container {id} has no read-write layer"))
}

/// `GET /containers/{id}/changes`. Errors: `No such container` (404), a
/// container being removed (409, as dockerd), I/O (500).
pub(crate) async fn changes(e: &Engine, id: &str) -> ApiResult<Vec<FilesystemChange>> {
    let c = e.find(id)?;
    if c.get().state.status == crate::container::Status::Removing {
        return Err(ApiError::conflict(format!(
            "cannot get changes of container {}: it is being removed",
            c.id
        )));
    }
    let images = e.images.clone();
    let cid = c.id.clone();
    tokio::task::spawn_blocking(move || {
        let m = images.snapshot_mount(&cid).map_err(|_| no_layer(&cid))?;
        layer_changes(&m.upperdir, &m.lowerdirs)
            .map_err(|err| ApiError::system(format!("changes of {cid}: {err}")))
    })
    .await
    .map_err(|err| ApiError::system(err.to_string()))?
}

/// A container's overlay mounted detached (see the module docs); the mount
/// goes away with the value.
pub struct DetachedOverlay {
    fd: std::os::fd::OwnedFd,
}

impl DetachedOverlay {
    /// Mounts `lowerdirs` (topmost first) as a detached read-only overlay
    /// without an upper layer.
    ///
    /// # Errors
    /// `fsopen`/`fsconfig`/`fsmount` failures.
    pub fn mount_lower_only(lowerdirs: &[PathBuf]) -> io::Result<DetachedOverlay> {
        use rustix::mount::{
            fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
            MountAttrFlags,
        };
        use std::os::fd::AsFd;
        let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        for l in lowerdirs {
            fsconfig_set_string(fs.as_fd(), "lowerdir+", l.as_path())?;
        }
        fsconfig_create(fs.as_fd())?;
        let fd = fsmount(
            fs.as_fd(),
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_RDONLY,
        )?;
        Ok(DetachedOverlay { fd })
    }

    /// A path to the mount's root (`/proc/self/fd/<n>`), valid while
    /// `self` lives.
    pub fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }
}

/// `GET /containers/{id}/export`: validates, mounts when needed, then
/// streams the tar from a blocking task (256 KiB of buffering, never the
/// whole tar in memory). Errors before the stream: `No such container`
/// (404), the overlay cannot be mounted (500).
pub(crate) async fn export(
    e: &Engine,
    id: &str,
) -> ApiResult<BoxStream<std::io::Result<bytes::Bytes>>> {
    let c = e.find(id)?;
    let images = e.images.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<ApiResult<()>>();
    let (r, w) = tokio::io::duplex(256 * 1024);
    let c2: Arc<crate::container::Container> = c.clone();
    tokio::spawn(async move {
        let c = c2;
        let live = c.get().state.status.is_live();
        // a stopped container: keep start away while its layer is mounted
        let _g = if live { None } else { Some(c.op.lock().await) };
        let live = c.get().state.status.is_live();
        let cid = c.id.clone();
        let cdir = c.dir.clone();
        let rootfs = c.dir.join("rootfs");
        let res = tokio::task::spawn_blocking(move || {
            let mut w = tokio_util::io::SyncIoBridge::new(w);
            let m = match images.snapshot_mount(&cid) {
                Ok(m) => m,
                Err(_) => {
                    let _ = ready_tx.send(Err(no_layer(&cid)));
                    return;
                }
            };
            let lowers = if live {
                // the container's own overlay (rootfs/, mounted): its upper
                // directory is in use and must not be a layer of another
                // overlay, so the init layer goes on top of the merged view
                init_layer(&cdir, "init-layer-live", INIT_LAYER_LIVE)
                    .map(|init| vec![init, rootfs.clone()])
            } else {
                init_layer(&cdir, "init-layer", INIT_LAYER).and_then(|init| {
                    let top = init_layer(&cdir, "init-layer-top", INIT_LAYER_TOP)?;
                    let mut lowers = vec![top, m.upperdir.clone(), init];
                    lowers.extend(m.lowerdirs.iter().cloned());
                    Ok(lowers)
                })
            };
            let mounted = lowers.and_then(|l| DetachedOverlay::mount_lower_only(&l));
            let mounted = match mounted {
                Ok(d) => d,
                Err(err) => {
                    let _ = ready_tx.send(Err(ApiError::system(format!(
                        "mount the filesystem of {cid}: {err}"
                    ))));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            if let Err(err) = images.export_rootfs(&mounted.path(), &mut w) {
                tracing::warn!("export {cid}: {err}");
            }
            let _ = std::io::Write::flush(&mut w);
            let _ = w.shutdown();
            drop(mounted);
        })
        .await;
        if let Err(err) = res {
            tracing::warn!("export task: {err}");
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(err),
        Err(_) => return Err(ApiError::system("export ended before it started")),
    }
    Ok(Box::pin(tokio_util::io::ReaderStream::new(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn kinds(v: &[FilesystemChange]) -> Vec<String> {
        v.iter()
            .map(|c| format!("{} {}", ["C", "A", "D"][c.kind as usize], c.path))
            .collect()
    }

    #[test]
    fn reports_as_dockerd_does() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("l"), t.path().join("u"));
        for d in ["etc", "usr/sbin", "tmp", "var/lib"] {
            fs::create_dir_all(lower.join(d)).unwrap();
            fs::create_dir_all(upper.join(d)).unwrap();
        }
        fs::write(lower.join("etc/passwd"), "root").unwrap();
        fs::write(upper.join("etc/passwd"), "root\nx").unwrap();
        fs::write(upper.join("etc/hosts"), "").unwrap(); // a mount point
        fs::write(upper.join("usr/sbin/new"), "").unwrap();
        fs::create_dir_all(upper.join("newdir/a")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(upper.join("tmp"), fs::Permissions::from_mode(0o700)).unwrap();
        let got = layer_changes(&upper, &[lower]).unwrap();
        assert_eq!(
            kinds(&got),
            [
                "C /etc",
                "C /etc/passwd",
                "A /newdir",
                "A /newdir/a",
                "C /tmp",
                "C /usr",
                "C /usr/sbin",
                "A /usr/sbin/new",
            ]
        );
    }

    #[test]
    fn whiteouts_and_opaque_directories() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (device nodes, trusted.* xattrs)");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (l1, l0, upper) = (t.path().join("l1"), t.path().join("l0"), t.path().join("u"));
        for d in ["etc", "root", "var/lib", "gone"] {
            fs::create_dir_all(l1.join(d)).unwrap();
        }
        fs::write(l1.join("etc/group"), "g").unwrap();
        fs::write(l1.join("old"), "o").unwrap();
        fs::create_dir_all(&l0).unwrap();
        let sh = |cmd: &str| {
            let st = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .status()
                .unwrap();
            assert!(st.success(), "{cmd}");
        };
        // l0 (the upper image layer) deleted /old: it is not below any more
        sh(&format!("mknod {}/old c 0 0", l0.display()));
        for d in ["etc", "var"] {
            fs::create_dir_all(upper.join(d)).unwrap();
        }
        sh(&format!("mknod {}/etc/group c 0 0", upper.display()));
        sh(&format!("mknod {}/gone c 0 0", upper.display()));
        // /var replaced: opaque, same mode, one new file
        let opaque = |p: &Path| {
            sh(&format!(
                "python3 -c \"import os; os.setxattr('{}', 'trusted.overlay.opaque', b'y')\"",
                p.display()
            ))
        };
        opaque(&upper.join("var"));
        fs::write(upper.join("var/y"), "y").unwrap();
        // /root replaced by an empty directory of the same mode: no change
        fs::create_dir_all(upper.join("root")).unwrap();
        opaque(&upper.join("root"));
        fs::write(upper.join("old"), "again").unwrap();
        let got = layer_changes(&upper, &[l0, l1]).unwrap();
        assert_eq!(
            kinds(&got),
            [
                "C /etc",
                "D /etc/group",
                "D /gone",
                "A /old",
                "C /var",
                "A /var/y"
            ]
        );
    }
}
