//! Models of `docker diff` and `docker commit`.

use serde::{Deserialize, Serialize};

/// One entry of `GET /containers/{id}/changes` (moby swagger
/// `FilesystemChange`): `Path` is absolute in the container, `Kind` is 0
/// modified, 1 added, 2 deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilesystemChange {
    /// Absolute path in the container (`/etc/passwd`).
    pub path: String,
    /// [`FilesystemChange::MODIFIED`], [`FilesystemChange::ADDED`] or
    /// [`FilesystemChange::DELETED`].
    pub kind: u8,
}

impl FilesystemChange {
    /// `Kind` 0: changed.
    pub const MODIFIED: u8 = 0;
    /// `Kind` 1: added.
    pub const ADDED: u8 = 1;
    /// `Kind` 2: deleted.
    pub const DELETED: u8 = 2;
}

/// The query of `POST /commit` (`container`, `repo`, `tag`, `comment`,
/// `author`, `pause`, `changes` repeated) and its optional body, a
/// container config (`null` or absent: the container's own).
#[derive(Debug, Clone, Default)]
pub struct ContainerCommitOptions {
    /// `container`: ID or name.
    pub container: String,
    /// `repo`: repository to tag the image into (empty: untagged).
    pub repo: String,
    /// `tag` (empty with a `repo`: `latest`).
    pub tag: String,
    /// `comment` (`docker commit -m`).
    pub comment: String,
    /// `author` (`docker commit -a`).
    pub author: String,
    /// `pause` (default true): freeze a running container while its layer
    /// is read.
    pub pause: bool,
    /// `changes`: Dockerfile instructions (`docker commit -c`).
    pub changes: Vec<String>,
    /// The request body: a `ContainerConfig` as JSON, or None.
    pub config: Option<serde_json::Value>,
}
