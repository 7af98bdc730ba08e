//! The container's root filesystem (runtime-spec `config.md` "Root",
//! "Mounts"; `config-linux.md` "Devices", "Default Devices",
//! "Masked Paths", "Readonly Paths", "Rootfs Mount Propagation").
//! Runs in the container's init process, inside its mount namespace.

use crate::error::{Context, Error, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::{Component, Path, PathBuf};

const NONE: Option<&str> = None;

/// Resolves `unsafe_path` inside `root` as if `root` were `/`: symlinks
/// (absolute or relative) and `..` never lead outside `root`. The result
/// is `root` joined with the resolved path; components that do not exist
/// yet are kept as given.
///
/// # Errors
/// ELOOP after 255 symlinks.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> std::io::Result<PathBuf> {
    let mut out = PathBuf::new();
    let mut pending: VecDeque<OsString> = comps(unsafe_path);
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            out.pop();
            continue;
        }
        let cand = out.join(&c);
        let full = root.join(&cand);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&full)?;
                if target.is_absolute() {
                    out = PathBuf::new();
                }
                let mut t = comps(&target);
                t.extend(pending);
                pending = t;
            }
            _ => out = cand,
        }
    }
    Ok(root.join(out))
}

fn comps(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Mount flags and data parsed from an OCI mount's `options`.
#[derive(Debug, Clone)]
pub struct MountOpts {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags explicitly cleared (`rw`, `suid`, `dev`, ...).
    pub cleared: MsFlags,
    /// Propagation flags, applied with separate mount(2) calls.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data (`size=`, `mode=`, ...), comma-joined.
    pub data: String,
}

/// Parses mount options as runc does: known flag words become mount(2)
/// flags, propagation words are collected, the rest is data.
pub fn parse_options(opts: &[String]) -> MountOpts {
    let mut m = MountOpts {
        flags: MsFlags::empty(),
        cleared: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
    };
    let mut data = Vec::new();
    for o in opts {
        let (set, clear): (MsFlags, MsFlags) = match o.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
            "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                let base = match o.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                let rec = if o.starts_with('r') {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                m.propagation.push(base | rec);
                continue;
            }
            "tmpcopyup" => continue,
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        m.flags |= set;
        m.flags &= !clear;
        m.cleared |= clear;
    }
    m.data = data.join(",");
    m
}

fn propagation_of(s: &str) -> Result<MsFlags> {
    Ok(match s {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => {
            return Err(Error::Config {
                path: "linux.rootfsPropagation".into(),
                msg: format!("unknown propagation {s:?}"),
            })
        }
    })
}

/// What the init process needs to know to set up the rootfs.
pub(crate) struct RootfsPlan<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// True in a new user namespace: devices are bind-mounted, not mknod'ed.
    pub in_userns: bool,
    /// True when the config has a cgroup namespace (fresh cgroup mounts).
    pub cgroupns: bool,
    /// Slave pty path to bind on /dev/console, when terminal.
    pub console: Option<PathBuf>,
}

/// Before pivot_root: propagation, rootfs bind, every mount but the
/// cgroup ones (see [`prepare_cgroups`]), devices.
pub(crate) fn prepare(plan: &RootfsPlan) -> Result<()> {
    let linux = plan.spec.linux().as_ref();
    // The host's mounts as seen from the container: slave (events from
    // the host only) unless rootfsPropagation asks for private. A shared
    // or unbindable "/" here would make pivot_root (shared parent) or the
    // rootfs bind (unbindable source) fail; those apply to the container's
    // rootfs mount once entered (see finish).
    let prop = match rootfs_propagation(plan.spec)? {
        Some(p) if p.contains(MsFlags::MS_PRIVATE) => p,
        Some(p) if p.contains(MsFlags::MS_SLAVE) => p,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    mount(NONE, "/", NONE, prop, NONE)
        .ctx(|| "make / mount propagation private to the container".into())?;
    let rootfs = plan.rootfs;
    mount(
        Some(rootfs),
        rootfs,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .ctx(|| format!("bind rootfs {} onto itself", rootfs.display()))?;

    let mut dev_is_bound = false;
    for (i, m) in plan
        .spec
        .mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("bind") {
            dev_is_bound = true;
        }
        if is_cgroup_mount(m) {
            continue;
        }
        mount_one(plan, m).map_err(|e| match e {
            Error::Io { what, source } => Error::Io {
                what: format!("mounts[{i}]: {what}"),
                source,
            },
            e => e,
        })?;
    }
    if !dev_is_bound {
        create_devices(plan, &default_devices(), true)?;
    }
    if let Some(devs) = linux.and_then(|l| l.devices().as_ref()) {
        create_devices(plan, devs, false)?;
    }
    // After the config's devices, as runc's setupPtmx: a host /dev/ptmx
    // among them (a privileged container's) becomes the pts/ptmx link of
    // the container's own devpts instance.
    if !dev_is_bound {
        default_links(rootfs)?;
    }
    if let Some(c) = &plan.console {
        let dst = rootfs.join("dev/console");
        if !dst.exists() {
            std::fs::File::create(&dst).ctx(|| format!("create {}", dst.display()))?;
        }
        mount(Some(c.as_path()), &dst, NONE, MsFlags::MS_BIND, NONE)
            .ctx(|| format!("bind {} on /dev/console", c.display()))?;
    }
    Ok(())
}

/// linux.rootfsPropagation as mount flags, None when unset.
fn rootfs_propagation(spec: &Spec) -> Result<Option<MsFlags>> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        Some(p) if !p.is_empty() => propagation_of(p).map(Some),
        _ => Ok(None),
    }
}

fn is_cgroup_mount(m: &Mount) -> bool {
    matches!(m.typ().as_deref(), Some("cgroup") | Some("cgroup2"))
}

/// The cgroup mounts, once the process is in its cgroup (and cgroup
/// namespace): they expose the container's own cgroup directories.
pub(crate) fn prepare_cgroups(plan: &RootfsPlan) -> Result<()> {
    for (i, m) in plan
        .spec
        .mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if is_cgroup_mount(m) {
            mount_one(plan, m).map_err(|e| match e {
                Error::Io { what, source } => Error::Io {
                    what: format!("mounts[{i}]: {what}"),
                    source,
                },
                e => e,
            })?;
        }
    }
    Ok(())
}

fn mount_one(plan: &RootfsPlan, m: &Mount) -> Result<()> {
    let rootfs = plan.rootfs;
    let dest = secure_join(rootfs, m.destination())
        .ctx(|| format!("resolve {}", m.destination().display()))?;
    let o = parse_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let is_bind = typ == "bind" || o.flags.contains(MsFlags::MS_BIND);
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(plan, &dest, &o);
    }
    if is_bind {
        let src = m.source().as_ref().ok_or_else(|| Error::Config {
            path: "mounts[].source".into(),
            msg: format!("bind mount on {} has no source", m.destination().display()),
        })?;
        let src = if src.is_absolute() {
            src.clone()
        } else {
            plan.bundle.join(src)
        };
        let meta = std::fs::metadata(&src).ctx(|| format!("bind source {}", src.display()))?;
        if meta.is_dir() {
            mkdir_all(&dest)?;
        } else {
            ensure_file(&dest)?;
        }
        let bindf = MsFlags::MS_BIND | (o.flags & MsFlags::MS_REC);
        mount(Some(&src), &dest, NONE, bindf, NONE)
            .ctx(|| format!("bind {} on {}", src.display(), m.destination().display()))?;
        let rest = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !rest.is_empty() {
            remount_bind(&dest, rest)
                .ctx(|| format!("remount {} with its options", m.destination().display()))?;
        }
    } else {
        mkdir_all(&dest)?;
        let src = m
            .source()
            .as_ref()
            .map(|s| s.as_os_str().to_os_string())
            .unwrap_or_else(|| typ.into());
        let data = if o.data.is_empty() {
            None
        } else {
            Some(o.data.as_str())
        };
        // A read-only tmpfs is mounted writable and made read-only per mount
        // (its superblock stays rw), as runc does.
        let ro_later = typ == "tmpfs" && o.flags.contains(MsFlags::MS_RDONLY);
        let flags = if ro_later {
            o.flags & !MsFlags::MS_RDONLY
        } else {
            o.flags
        };
        let r = mount(Some(src.as_os_str()), &dest, Some(typ), flags, data);
        if ro_later && r.is_ok() {
            remount_bind(&dest, o.flags)
                .ctx(|| format!("remount {} read-only", m.destination().display()))?;
        }
        match r {
            Err(nix::errno::Errno::EPERM) | Err(nix::errno::Errno::EBUSY)
                if typ == "sysfs" && plan.in_userns =>
            {
                // sysfs of a network namespace we do not own: bind the host's, as runc does.
                mount(
                    Some("/sys"),
                    &dest,
                    NONE,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    NONE,
                )
                .ctx(|| "bind /sys (userns fallback)".into())?;
                remount_bind(&dest, o.flags).ctx(|| "remount /sys".into())?;
            }
            r => r.ctx(|| format!("mount {typ} on {}", m.destination().display()))?,
        }
    }
    for p in &o.propagation {
        mount(NONE, &dest, NONE, *p, NONE)
            .ctx(|| format!("set propagation of {}", m.destination().display()))?;
    }
    Ok(())
}

/// Remount of a bind mount with `flags`, keeping the flags the kernel
/// locks on mounts inherited into a user namespace (nosuid/nodev/noexec/
/// atime) when the first try is refused.
fn remount_bind(dest: &Path, flags: MsFlags) -> nix::Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(NONE, dest, NONE, base | flags, NONE) {
        Err(nix::errno::Errno::EPERM) => {
            let st = nix::sys::statvfs::statvfs(dest)?;
            use nix::sys::statvfs::FsFlags;
            let f = st.flags();
            let mut locked = MsFlags::empty();
            for (ff, mf) in [
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
                (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
                (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
            ] {
                if f.contains(ff) {
                    locked |= mf;
                }
            }
            mount(NONE, dest, NONE, base | flags | locked, NONE)
        }
        r => r,
    }
}

/// cgroup mounts. cgroup v2 host: a cgroup2 mount in a cgroup namespace,
/// else a bind of the container's own cgroup directory. v1 or hybrid host:
/// a tmpfs on the destination and, per v1 hierarchy, a bind of the
/// container's directory in it (or a fresh mount with a cgroup namespace),
/// as runc does; the unified hierarchy of a hybrid host is not exposed.
fn mount_cgroup(plan: &RootfsPlan, dest: &Path, o: &MountOpts) -> Result<()> {
    mkdir_all(dest)?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    let own =
        std::fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup".into())?;
    let mut v1 = Vec::new();
    let mut v2 = None;
    for l in info.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < sep + 4 {
            continue;
        }
        let (fstype, sopts, mp) = (f[sep + 1], f[sep + 3], f[4]);
        if fstype == "cgroup" {
            let ctrl: Vec<&str> = sopts
                .split(',')
                .filter(|s| {
                    *s != "rw"
                        && *s != "ro"
                        && !s.starts_with("release_agent")
                        && *s != "clone_children"
                })
                .collect();
            v1.push((mp.to_string(), ctrl.join(",")));
        } else if fstype == "cgroup2" && mp == "/sys/fs/cgroup" {
            v2 = Some(mp.to_string());
        }
    }
    let own_path = |ctrl: &str| -> String {
        for l in own.lines() {
            let mut p = l.splitn(3, ':');
            let (_, c, path) = (p.next(), p.next().unwrap_or(""), p.next().unwrap_or("/"));
            if ctrl.is_empty() && c.is_empty() {
                return path.to_string();
            }
            if !ctrl.is_empty() && c.split(',').any(|x| ctrl.split(',').any(|y| y == x)) {
                return path.to_string();
            }
        }
        "/".into()
    };
    let leaf_flags = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
    if let Some(mp) = v2 {
        if plan.cgroupns {
            mount(Some("cgroup2"), dest, Some("cgroup2"), leaf_flags, NONE)
                .ctx(|| "mount cgroup2".into())?;
        } else {
            let src = PathBuf::from(mp).join(own_path("").trim_start_matches('/'));
            mount(
                Some(&src),
                dest,
                NONE,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            )
            .ctx(|| format!("bind {}", src.display()))?;
            remount_bind(dest, leaf_flags).ctx(|| "remount cgroup".into())?;
        }
        return Ok(());
    }
    let tmpfs_flags = o.flags & !(MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC);
    mount(
        Some("tmpfs"),
        dest,
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .ctx(|| "mount tmpfs for cgroups".into())?;
    for (mp, ctrl) in v1 {
        let name = Path::new(&mp)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let sub = dest.join(&name);
        mkdir_all(&sub)?;
        if plan.cgroupns {
            let source = ctrl.strip_prefix("name=").unwrap_or("cgroup");
            mount(
                Some(source),
                &sub,
                Some("cgroup"),
                leaf_flags,
                Some(ctrl.as_str()),
            )
            .ctx(|| format!("mount cgroup {ctrl}"))?;
        } else {
            let src = PathBuf::from(&mp).join(own_path(&ctrl).trim_start_matches('/'));
            mount(
                Some(&src),
                &sub,
                NONE,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            )
            .ctx(|| format!("bind {}", src.display()))?;
            remount_bind(&sub, leaf_flags).ctx(|| format!("remount cgroup {ctrl}"))?;
        }
        // comounted controllers (cpu,cpuacct): a link per controller name
        if ctrl.contains(',') {
            for c in ctrl.split(',') {
                let c = c.trim_start_matches("name=");
                let l = dest.join(c);
                if c != name && !l.exists() {
                    let _ = std::os::unix::fs::symlink(&name, &l);
                }
            }
        }
    }
    if o.flags.contains(MsFlags::MS_RDONLY) {
        // As runc: the tmpfs stays a rw mount, but its root loses its write bits.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o555))
            .ctx(|| "chmod cgroup tmpfs".into())?;
    }
    Ok(())
}

pub(crate) fn mkdir_all(p: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(p)
        .ctx(|| format!("mkdir {}", p.display()))
}

fn ensure_file(p: &Path) -> Result<()> {
    if let Some(d) = p.parent() {
        mkdir_all(d)?;
    }
    if std::fs::symlink_metadata(p).is_err() {
        std::fs::File::create(p).ctx(|| format!("create {}", p.display()))?;
    }
    Ok(())
}

fn default_devices() -> Vec<LinuxDevice> {
    let mk = |path: &str, major: i64, minor: i64| {
        let mut d = LinuxDevice::default();
        d.set_path(PathBuf::from(path));
        d.set_typ(LinuxDeviceType::C);
        d.set_major(major);
        d.set_minor(minor);
        d.set_file_mode(Some(0o666));
        d.set_uid(Some(0));
        d.set_gid(Some(0));
        d
    };
    vec![
        mk("/dev/null", 1, 3),
        mk("/dev/zero", 1, 5),
        mk("/dev/full", 1, 7),
        mk("/dev/random", 1, 8),
        mk("/dev/urandom", 1, 9),
        mk("/dev/tty", 5, 0),
    ]
}

fn create_devices(plan: &RootfsPlan, devs: &[LinuxDevice], defaults: bool) -> Result<()> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    for d in devs {
        let rel = d.path().strip_prefix("/").unwrap_or(d.path());
        if defaults
            && plan
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.devices().as_ref())
                .is_some_and(|v| v.iter().any(|x| x.path() == d.path()))
        {
            continue; // the config's own entry wins
        }
        let dest = secure_join(plan.rootfs, Path::new(rel))
            .ctx(|| format!("resolve {}", d.path().display()))?;
        if let Some(parent) = dest.parent() {
            mkdir_all(parent)?;
        }
        if plan.in_userns {
            ensure_file(&dest)?;
            mount(Some(d.path()), &dest, NONE, MsFlags::MS_BIND, NONE)
                .ctx(|| format!("bind device {}", d.path().display()))?;
            continue;
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::Config {
                    path: "linux.devices[].type".into(),
                    msg: "type 'a' is not a device".into(),
                })
            }
        };
        let _ = std::fs::remove_file(&dest);
        let mode = Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666));
        mknod(
            &dest,
            kind,
            mode,
            makedev(d.major() as u64, d.minor() as u64),
        )
        .ctx(|| format!("mknod {}", d.path().display()))?;
        // mknod is subject to the umask: set the exact mode and owner.
        nix::sys::stat::fchmodat(
            None,
            &dest,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .ctx(|| format!("chmod {}", d.path().display()))?;
        nix::unistd::chown(
            &dest,
            Some(nix::unistd::Uid::from_raw(d.uid().unwrap_or(0))),
            Some(nix::unistd::Gid::from_raw(d.gid().unwrap_or(0))),
        )
        .ctx(|| format!("chown {}", d.path().display()))?;
    }
    Ok(())
}

fn default_links(rootfs: &Path) -> Result<()> {
    let mut links = vec![
        ("/proc/self/fd", "dev/fd"),
        ("/proc/self/fd/0", "dev/stdin"),
        ("/proc/self/fd/1", "dev/stdout"),
        ("/proc/self/fd/2", "dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "dev/core"));
    }
    for (target, l) in links {
        let p = rootfs.join(l);
        match std::os::unix::fs::symlink(target, &p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(crate::error::io_err(format!("symlink {}", p.display()), e)),
        }
    }
    let ptmx = rootfs.join("dev/ptmx");
    let _ = std::fs::remove_file(&ptmx);
    std::os::unix::fs::symlink("pts/ptmx", &ptmx).ctx(|| "symlink /dev/ptmx".into())
}

/// pivot_root into the rootfs (or MS_MOVE + chroot when `no_pivot` or
/// when pivot_root is refused because the old root is the initramfs).
pub(crate) fn enter(rootfs: &Path, no_pivot: bool) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    if !no_pivot {
        match nix::unistd::pivot_root(".", ".") {
            Ok(()) => {
                // The old root is stacked under the new one at "/": detach it
                // without propagating the unmount to the host.
                mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
                    .ctx(|| "make old root a slave".into())?;
                umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach old root".into())?;
                nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
                return Ok(());
            }
            Err(nix::errno::Errno::EINVAL) => {} // rootfs / ramfs: fall back
            Err(e) => return Err(crate::error::io_err("pivot_root", std::io::Error::from(e))),
        }
    }
    mount(Some("."), "/", NONE, MsFlags::MS_MOVE, NONE).ctx(|| "move rootfs onto /".into())?;
    nix::unistd::chroot(".").ctx(|| "chroot".into())?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())
}

/// After entering: masked and read-only paths, sysctls, read-only root.
pub(crate) fn finish(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    if let Some(l) = linux {
        if let Some(sysctl) = l.sysctl() {
            for (k, v) in sysctl {
                let f = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
                std::fs::write(&f, v.as_bytes()).ctx(|| format!("sysctl {k}={v}"))?;
            }
        }
        for p in l.readonly_paths().as_deref().unwrap_or(&[]) {
            let path = Path::new(p);
            match mount(
                Some(path),
                path,
                NONE,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            ) {
                Err(nix::errno::Errno::ENOENT) => continue,
                r => r.ctx(|| format!("bind readonly path {p}"))?,
            }
            remount_bind(path, MsFlags::MS_RDONLY | MsFlags::MS_REC)
                .ctx(|| format!("remount {p} read-only"))?;
        }
        for p in l.masked_paths().as_deref().unwrap_or(&[]) {
            let path = Path::new(p);
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            if meta.is_dir() {
                mount(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, NONE)
                    .ctx(|| format!("mask {p}"))?;
            } else {
                mount(Some("/dev/null"), path, NONE, MsFlags::MS_BIND, NONE)
                    .ctx(|| format!("mask {p}"))?;
            }
        }
    }
    if spec
        .root()
        .as_ref()
        .is_some_and(|r| r.readonly() == Some(true))
    {
        remount_bind(Path::new("/"), MsFlags::MS_RDONLY).ctx(|| "remount / read-only".into())?;
    }
    // Last: an unbindable root would refuse the read-only binds above.
    // config-linux.md "Rootfs Mount Propagation": the propagation of the
    // container's rootfs mount (shared: a new peer group, not the host's).
    if let Some(p) = rootfs_propagation(spec)? {
        mount(NONE, "/", NONE, p, NONE).ctx(|| "set rootfsPropagation of /".into())?;
    }
    Ok(())
}

/// True when `p` is a character device (used by tests).
pub fn is_char_device(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.file_type().is_char_device())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_stays_inside() {
        let d = std::env::temp_dir().join(format!("berth-sj-{}", std::process::id()));
        std::fs::create_dir_all(d.join("a")).unwrap();
        let _ = std::os::unix::fs::symlink("/etc", d.join("a/abs"));
        let _ = std::os::unix::fs::symlink("../../../..", d.join("a/up"));
        assert_eq!(
            secure_join(&d, Path::new("/a/abs/passwd")).unwrap(),
            d.join("etc/passwd")
        );
        assert_eq!(secure_join(&d, Path::new("/a/up/x")).unwrap(), d.join("x"));
        assert_eq!(secure_join(&d, Path::new("/../../x")).unwrap(), d.join("x"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn options_parse() {
        let o = parse_options(&[
            "nosuid".into(),
            "rw".into(),
            "mode=755".into(),
            "size=64k".into(),
            "rslave".into(),
        ]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID);
        assert_eq!(o.data, "mode=755,size=64k");
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }
}
