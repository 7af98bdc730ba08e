//! The image formats: OCI image-spec descriptors, manifests, indexes and
//! configs, which also read Docker's schema 2 equivalents (same JSON shape,
//! different media types).
//!
//! Own serde types rather than oci-spec's: Berth must read Docker's schema 2
//! media types and Docker's extra config fields (`Hostname`, `Domainname`,
//! `OnBuild`, `Shell`, `Healthcheck`, `container_config`, `docker_version`,
//! ...) and write configs back byte for byte, which oci-spec's closed enums
//! and structs do not model. Unknown fields are kept in `extra`.

use std::collections::BTreeMap;

use berth_types::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `application/vnd.oci.image.manifest.v1+json` (image-spec `manifest.md`).
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json` (image-spec `image-index.md`).
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.config.v1+json` (image-spec `config.md`).
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.oci.image.layer.v1.tar`.
pub const MT_OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// `application/vnd.oci.image.layer.v1.tar+gzip`.
pub const MT_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// `application/vnd.oci.image.layer.v1.tar+zstd`.
pub const MT_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker schema 2 manifest.
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (a multi-platform index).
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const MT_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Annotation naming an image in an index (image-spec `annotations.md`).
pub const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's (and Docker 25+'s) full image name annotation.
pub const ANN_IMAGE_NAME: &str = "io.containerd.image.name";

/// True for a manifest media type Berth can load.
pub fn is_manifest(mt: &str) -> bool {
    mt == MT_OCI_MANIFEST || mt == MT_DOCKER_MANIFEST
}

/// True for an index media type.
pub fn is_index(mt: &str) -> bool {
    mt == MT_OCI_INDEX || mt == MT_DOCKER_LIST
}

/// A platform (image-spec `image-index.md`, "platform").
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    /// CPU architecture, GOARCH values: `amd64`, `arm64`.
    pub architecture: String,
    /// Operating system, GOOS values: `linux`.
    pub os: String,
    /// CPU variant: `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

/// A content descriptor (image-spec `descriptor.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An image manifest (image-spec `manifest.md`; Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (optional in OCI, required by Docker schema 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// Layer blobs, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (image-spec `image-index.md`; Docker manifest list).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Diff IDs, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// One `history` entry of an image config.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct History {
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The command that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when it made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The execution parameters of an image config (`config` in image-spec
/// `config.md`; Docker's container config subset).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `ExposedPorts`: `"80/tcp": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    /// `Env`: `KEY=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// `Entrypoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `Volumes`: `"/data": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    /// `WorkingDir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `Labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `StopSignal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Docker extras and anything else, kept as is.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An image config (image-spec `config.md`; Docker image JSON).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ImageConfig {
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Execution parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    /// The layers' diff IDs.
    #[serde(default)]
    pub rootfs: RootFs,
    /// Layer history, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Docker's `comment` (set by import and commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Docker's `docker_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Anything else, kept as is.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One entry of a docker-archive's `manifest.json` (moby
/// `image/tarexport`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveManifestEntry {
    /// Path of the config within the archive.
    pub config: String,
    /// Tags, familiar or full form.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    /// Paths of the layer tars within the archive, bottom first.
    pub layers: Vec<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}
