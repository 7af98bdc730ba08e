//! Discovery of the host's cgroup hierarchies from `/proc/self/mountinfo`
//! (proc(5), "/proc/pid/mountinfo") and of the calling process's own
//! cgroups from `/proc/self/cgroup` (cgroups(7), "/proc/pid/cgroup").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which cgroup layout the host uses.
///
/// See the kernel's `Documentation/admin-guide/cgroup-v2.rst` section
/// "Mounting" and cgroups(7): v1 controllers and the v2 hierarchy may be
/// mounted at the same time as long as each controller is bound to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Only cgroup v1 hierarchies (`/sys/fs/cgroup/<controller>`).
    V1,
    /// Only the cgroup v2 unified hierarchy (`/sys/fs/cgroup` is cgroup2).
    Unified,
    /// v1 controllers plus a cgroup2 mount (usually
    /// `/sys/fs/cgroup/unified`) that carries no controllers, as systemd's
    /// "hybrid" mode sets it up.
    Hybrid,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mountpoint: PathBuf,
    /// The cgroup (relative to the hierarchy's root) shown at the mount
    /// point: `/` unless the mount was made inside a cgroup namespace.
    pub root: String,
    /// v1: controller names bound to it (`cpu`, `cpuacct`, `name=systemd`
    /// ...); empty for cgroup2.
    pub controllers: Vec<String>,
}

/// The host's cgroup mounts.
#[derive(Debug, Clone)]
pub(crate) struct Mounts {
    /// v1 hierarchies, one entry per mount (a co-mounted `cpu,cpuacct`
    /// hierarchy is one entry with two controllers).
    pub v1: Vec<Hierarchy>,
    /// The cgroup2 mount, if any.
    pub unified: Option<Hierarchy>,
}

impl Mounts {
    /// Reads `/proc/self/mountinfo`.
    pub fn detect() -> Result<Mounts> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| Error::Io {
            op: "read",
            path: "/proc/self/mountinfo".into(),
            source: e,
        })?;
        Ok(Self::parse(&text))
    }

    /// Parses mountinfo text: fields are `id parent major:minor root
    /// mountpoint options [optional...] - fstype source superoptions`.
    pub fn parse(text: &str) -> Mounts {
        let mut v1: Vec<Hierarchy> = Vec::new();
        let mut unified = None;
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(sep) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            if fields.len() < 5 || fields.len() < sep + 4 {
                continue;
            }
            let root = unescape(fields[3]);
            let mountpoint = PathBuf::from(unescape(fields[4]));
            let fstype = fields[sep + 1];
            let superopts = fields[sep + 3];
            match fstype {
                // Keep the first one (the canonical mount).
                "cgroup2" if unified.is_none() => {
                    unified = Some(Hierarchy {
                        mountpoint,
                        root,
                        controllers: Vec::new(),
                    });
                }
                "cgroup" => {
                    let controllers: Vec<String> = superopts
                        .split(',')
                        .filter(|o| {
                            !matches!(
                                *o,
                                "rw" | "ro"
                                    | "noprefix"
                                    | "xattr"
                                    | "clone_children"
                                    | "cpuset_v2_mode"
                            ) && !o.starts_with("release_agent=")
                        })
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    // The same hierarchy may be bind-mounted twice: keep
                    // the first mount of a given controller set.
                    if v1.iter().any(|h| h.controllers == controllers) {
                        continue;
                    }
                    v1.push(Hierarchy {
                        mountpoint,
                        root,
                        controllers,
                    });
                }
                _ => {}
            }
        }
        Mounts { v1, unified }
    }

    /// The layout these mounts make.
    pub fn layout(&self) -> Result<Layout> {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (false, false) => Ok(Layout::V1),
            (true, true) => Ok(Layout::Unified),
            (false, true) => Ok(Layout::Hybrid),
            (true, false) => Err(Error::NoCgroupFs),
        }
    }
}

/// Undoes mountinfo's octal escapes (`\040` for space etc.).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The calling process's cgroup in each hierarchy, from
/// `/proc/self/cgroup` (`hierarchy-id:controller-list:path`). Keys are the
/// v1 controller names (each name of a co-mounted list separately, and
/// `name=systemd` style names as written) and `""` for cgroup v2.
pub(crate) fn own_cgroups() -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| Error::Io {
        op: "read",
        path: "/proc/self/cgroup".into(),
        source: e,
    })?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if ctrls.is_empty() {
            out.insert(String::new(), path.to_string());
        } else {
            for c in ctrls.split(',') {
                out.insert(c.to_string(), path.to_string());
            }
        }
    }
    Ok(out)
}

/// Joins a cgroup path (absolute within its hierarchy) under a mount
/// whose root is `root`: the part of `cgroup` below `root` is appended to
/// `mountpoint`.
pub(crate) fn under_mount(mountpoint: &Path, root: &str, cgroup: &str) -> PathBuf {
    let rel = if root != "/" && (cgroup == root || cgroup.starts_with(&format!("{root}/"))) {
        &cgroup[root.len()..]
    } else {
        cgroup
    };
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        mountpoint.to_path_buf()
    } else {
        mountpoint.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn parses_hybrid_layout() {
        let m = Mounts::parse(HYBRID);
        assert_eq!(m.layout().unwrap(), Layout::Hybrid);
        assert_eq!(m.v1.len(), 3);
        assert_eq!(m.v1[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m.v1[2].controllers, vec!["name=systemd"]);
        assert_eq!(
            m.unified.as_ref().unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn parses_unified_and_v1_only() {
        let m = Mounts::parse("25 20 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(m.layout().unwrap(), Layout::Unified);
        let m = Mounts::parse("32 31 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
        assert_eq!(m.layout().unwrap(), Layout::V1);
        assert!(Mounts::parse("").layout().is_err());
    }

    #[test]
    fn joins_under_namespaced_root() {
        let p = under_mount(Path::new("/sys/fs/cgroup"), "/a/b", "/a/b/c");
        assert_eq!(p, Path::new("/sys/fs/cgroup/c"));
        let p = under_mount(Path::new("/sys/fs/cgroup/pids"), "/", "/x/y");
        assert_eq!(p, Path::new("/sys/fs/cgroup/pids/x/y"));
        assert_eq!(unescape("a\\040b"), "a b");
    }
}
