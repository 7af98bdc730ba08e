//! `/containers/{id}/archive` (`docker cp`): the path stat dockerd sends
//! base64-encoded JSON in the `X-Docker-Container-Path-Stat` header of
//! `HEAD` and `GET` (Engine API v1.47, definition `ContainerPathStat`; the
//! fields are lower camel case on the wire, as moby's
//! `container.PathStat`).

use serde::{Deserialize, Serialize};

/// The `X-Docker-Container-Path-Stat` header's content.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerPathStat {
    /// The path's last element (`.` for a path ending in `/.`, `/` for the
    /// root).
    pub name: String,
    /// Size in bytes (`lstat`'s, of the link itself for a symlink).
    pub size: i64,
    /// Go's `os.FileMode`: permission bits 0o777 plus type and special
    /// bits (directory 1<<31, symlink 1<<27, device 1<<26, named pipe
    /// 1<<25, socket 1<<24, setuid 1<<23, setgid 1<<22, character device
    /// 1<<21, sticky 1<<20).
    pub mode: u32,
    /// Modification time, RFC 3339 with nanoseconds (Go's `RFC3339Nano`).
    pub mtime: String,
    /// For a symlink, its target fully resolved inside the container (an
    /// absolute container path); empty otherwise.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}
