//! The service's inputs and outputs, shaped (serde) like the Engine API's
//! JSON (moby `api/swagger.yaml`: ImageSummary, ImageInspect,
//! HistoryResponseItem, ImageDeleteResponseItem, ImagePruneResponse).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use berth_types::Digest;
use serde::Serialize;
use serde_json::Value;

/// Filters as the Engine API passes them (`filters={"dangling":["true"]}`):
/// key -> values. Keys for images: `dangling`, `reference`, `label`,
/// `before`, `since` (and `until` for prune).
pub type Filters = HashMap<String, Vec<String>>;

/// A load progress event: one per layer when it is stored, like Docker's
/// `{"status":"Loading layer","progressDetail":{"current":N,"total":N},"id":"<short>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Short (12 hex) ID of the layer (its diff ID).
    pub id: String,
    /// `Loading layer`.
    pub status: &'static str,
    /// Bytes done.
    pub current: u64,
    /// Bytes in all.
    pub total: u64,
}

/// One image a load made visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loaded {
    /// Image ID (config digest).
    pub id: Digest,
    /// The familiar reference it was tagged with (`busybox:latest`), if any.
    pub reference: Option<String>,
}

impl fmt::Display for Loaded {
    /// `Loaded image: busybox:latest` or `Loaded image ID: sha256:...`,
    /// as `docker load` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            Some(r) => write!(f, "Loaded image: {r}"),
            None => write!(f, "Loaded image ID: {}", self.id),
        }
    }
}

/// `GET /images/json` options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `all`: also intermediate images (Berth has none; accepted).
    pub all: bool,
    /// `filters`.
    pub filters: Filters,
}

/// `GET /images/json` item (swagger `ImageSummary`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// `sha256:<hex>` image ID.
    pub id: String,
    /// Parent image ID, `""` when none.
    pub parent_id: String,
    /// Familiar `repo:tag` names.
    pub repo_tags: Vec<String>,
    /// Familiar `repo@digest` names.
    pub repo_digests: Vec<String>,
    /// Creation time, unix seconds.
    pub created: i64,
    /// Size of all layers, bytes.
    pub size: i64,
    /// Bytes shared with other images; -1: not computed (Docker's default).
    pub shared_size: i64,
    /// Same as `Size` (deprecated field still sent).
    pub virtual_size: i64,
    /// Config labels.
    pub labels: BTreeMap<String, String>,
    /// Containers using it; -1: not computed (the engine fills it).
    pub containers: i64,
}

/// Docker's container config as image inspect reports it (`Config`).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `Hostname`.
    pub hostname: String,
    /// `Domainname`.
    pub domainname: String,
    /// `User`.
    pub user: String,
    /// `AttachStdin`.
    pub attach_stdin: bool,
    /// `AttachStdout`.
    pub attach_stdout: bool,
    /// `AttachStderr`.
    pub attach_stderr: bool,
    /// `ExposedPorts`: `{"80/tcp": {}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    /// `Tty`.
    pub tty: bool,
    /// `OpenStdin`.
    pub open_stdin: bool,
    /// `StdinOnce`.
    pub stdin_once: bool,
    /// `Env`.
    pub env: Option<Vec<String>>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Healthcheck`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    /// `ArgsEscaped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// `Image`.
    pub image: String,
    /// `Volumes`.
    pub volumes: Option<BTreeMap<String, Value>>,
    /// `WorkingDir`.
    pub working_dir: String,
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `OnBuild`.
    pub on_build: Option<Vec<String>>,
    /// `Labels`.
    pub labels: Option<BTreeMap<String, String>>,
    /// `StopSignal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `Shell`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// `RootFS` of image inspect.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RootFsInfo {
    /// `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Diff IDs, bottom first.
    pub layers: Vec<String>,
}

/// `GraphDriver` of image inspect.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    /// `overlay2`-style data: `LowerDir`, `UpperDir`...
    pub data: BTreeMap<String, String>,
    /// `overlay2`.
    pub name: String,
}

/// `Metadata` of image inspect.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageMetadata {
    /// RFC 3339 time of the last tag, `0001-01-01T00:00:00Z` when never.
    pub last_tag_time: String,
}

/// `GET /images/{name}/json` (swagger `ImageInspect`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// `sha256:<hex>`.
    pub id: String,
    /// Familiar `repo:tag` names.
    pub repo_tags: Vec<String>,
    /// Familiar `repo@digest` names.
    pub repo_digests: Vec<String>,
    /// Parent image ID or `""`.
    pub parent: String,
    /// Config `comment` (import/commit message) or `""`.
    pub comment: String,
    /// RFC 3339 with nanoseconds (Go's RFC3339Nano), `""` when unknown.
    pub created: String,
    /// `DockerVersion`.
    pub docker_version: String,
    /// `Author`.
    pub author: String,
    /// `Config`.
    pub config: ContainerConfig,
    /// `Architecture`.
    pub architecture: String,
    /// `Variant`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// `Os`.
    pub os: String,
    /// Size of all layers, bytes.
    pub size: i64,
    /// Same as `Size`.
    pub virtual_size: i64,
    /// `GraphDriver`.
    pub graph_driver: GraphDriver,
    /// `RootFS`.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFsInfo,
    /// `Metadata`.
    pub metadata: ImageMetadata,
}

/// `GET /images/{name}/history` item, newest first.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    /// Image ID for the top entry, `<missing>` for the others.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The command.
    pub created_by: String,
    /// Tags of the image, on the top entry.
    pub tags: Option<Vec<String>>,
    /// Bytes the entry's layer adds (0 for empty layers).
    pub size: i64,
    /// Comment.
    pub comment: String,
}

/// `DELETE /images/{name}` response item.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum DeleteItem {
    /// `{"Untagged": "busybox:latest"}`.
    Untagged(String),
    /// `{"Deleted": "sha256:..."}`.
    Deleted(String),
}

/// Options of [`crate::ImageService::remove`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// `force`: remove even when referenced in several repositories or used
    /// by a stopped container.
    pub force: bool,
    /// `noprune`: keep untagged parents (Berth images have no parents).
    pub noprune: bool,
}

/// A container using an image, as the engine reports it for rmi and prune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUse {
    /// The container's ID.
    pub container_id: String,
    /// The image ID it was created from.
    pub image_id: Digest,
    /// Whether it is running (running: rmi cannot be forced).
    pub running: bool,
}

/// `POST /images/prune` response.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PruneReport {
    /// What was untagged and deleted.
    pub images_deleted: Vec<DeleteItem>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// Options of [`crate::ImageService::import`] (`docker import`).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `--change` lines, Dockerfile syntax: CMD, ENTRYPOINT, ENV, WORKDIR,
    /// USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL, ONBUILD.
    pub changes: Vec<String>,
    /// `--message`: the image comment.
    pub message: Option<String>,
    /// `repo:tag` to tag the image with.
    pub reference: Option<String>,
    /// `--platform` os/arch; default linux/amd64.
    pub platform: Option<String>,
}
