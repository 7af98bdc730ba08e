//! The service interface the router calls: one async method per Engine API
//! endpoint. Implemented by `berth-engine`; wired in `berthd`.
//!
//! Every method returns [`ApiError`] on failure; the router maps its kind to
//! Docker's status code and sends `{"message": ...}`. Methods that answer
//! with a stream return it only after validating the request, so that an
//! error still gets a proper status code.

use crate::models::*;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};

/// A boxed `Send` future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A boxed `Send` stream of items.
pub type BoxStream<T> = Pin<Box<dyn futures_core::Stream<Item = T> + Send + 'static>>;
/// A request body as a byte reader (`/images/load`, `/images/create?fromSrc=-`).
pub type BodyReader = Box<dyn AsyncRead + Send + Unpin + 'static>;
/// Result of a service call.
pub type ApiResult<T> = Result<T, ApiError>;

/// A hijacked connection after `101 UPGRADED`: raw bytes both ways.
pub trait HijackedIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> HijackedIo for T {}

/// What a hijacking endpoint (attach, exec start) hands back after
/// validation: whether the stream is raw (`tty`) or multiplexed, and the
/// session to run on the upgraded connection.
pub struct Hijack {
    /// True: raw stream (`application/vnd.docker.raw-stream`); false: 8-byte
    /// framed stdout/stderr (`application/vnd.docker.multiplexed-stream`).
    pub tty: bool,
    /// Runs the session; returns when the stream ends (container exit,
    /// detach keys, client gone).
    pub run: Box<dyn FnOnce(Box<dyn HijackedIo>) -> BoxFuture<()> + Send>,
}

/// Filters of list/prune/events endpoints: `{"label": ["a=b"], "status": ["exited"]}`
/// (decoded from both of Docker's encodings, map-of-bools and arrays).
pub type Filters = BTreeMap<String, Vec<String>>;

/// Query of `GET /containers/json`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `all=1`: include stopped containers.
    pub all: bool,
    /// `limit=n`: newest n (implies all); 0 or negative = no limit.
    pub limit: i64,
    /// `size=1`: compute SizeRw / SizeRootFs.
    pub size: bool,
    /// `filters=`.
    pub filters: Filters,
}

/// Query of `POST /containers/{id}/attach`.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// `stream=1`: stream live output.
    pub stream: bool,
    /// `logs=1`: replay the log first.
    pub logs: bool,
    /// `stdin=1`.
    pub stdin: bool,
    /// `stdout=1`.
    pub stdout: bool,
    /// `stderr=1`.
    pub stderr: bool,
    /// `detachKeys=ctrl-p,ctrl-q` (empty: the default ctrl-p,ctrl-q).
    pub detach_keys: String,
}

/// Query of `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// `follow=1`.
    pub follow: bool,
    /// `stdout=1`.
    pub stdout: bool,
    /// `stderr=1`.
    pub stderr: bool,
    /// `since=` Unix time, seconds with optional fraction (nanosecond precision).
    pub since_ns: Option<i128>,
    /// `until=` Unix time in nanoseconds.
    pub until_ns: Option<i128>,
    /// `timestamps=1`: prefix each line with its RFC 3339 nano time and a space.
    pub timestamps: bool,
    /// `tail=n`: last n lines; None = all.
    pub tail: Option<usize>,
}

/// Which stream a chunk of container output came from (the multiplexed
/// frame's first byte: 0 stdin, 1 stdout, 2 stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// 0
    Stdin = 0,
    /// 1
    Stdout = 1,
    /// 2
    Stderr = 2,
}

/// A piece of container output: a log line or a live chunk.
#[derive(Debug, Clone)]
pub struct OutputChunk {
    /// Source stream.
    pub stream: StdStream,
    /// Bytes (already prefixed with a timestamp when asked for).
    pub data: Bytes,
}

/// The answer of `GET /containers/{id}/logs`: whether the container has a TTY
/// (raw output) and the chunks.
pub struct LogsStream {
    /// Raw (true) or multiplexed (false).
    pub tty: bool,
    /// The chunks; ends at the end of the log unless following.
    pub chunks: BoxStream<OutputChunk>,
}

/// Query of `PUT /containers/{id}/archive` besides `path`.
#[derive(Debug, Clone, Default)]
pub struct ArchivePutOptions {
    /// `noOverwriteDirNonDir=1`: an error to replace a directory with a
    /// non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// `copyUIDGID=1`: the extracted files belong to the container's user
    /// (`Config.User`), not to the tar headers' uid/gid.
    pub copy_uid_gid: bool,
}

/// Query of `GET /events`.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// `since=` Unix nanoseconds.
    pub since_ns: Option<i128>,
    /// `until=` Unix nanoseconds (the stream ends then).
    pub until_ns: Option<i128>,
    /// `filters=` (type, event/action, container, image, label).
    pub filters: Filters,
}

/// The services behind the Engine API. See each method for the endpoint.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    // ---- system ----
    /// `GET /version`.
    async fn version(&self) -> ApiResult<SystemVersion>;
    /// `GET /info`.
    async fn info(&self) -> ApiResult<SystemInfo>;
    /// `GET /events`: past events matching, then live ones until `until`.
    async fn events(&self, opts: EventsOptions) -> ApiResult<BoxStream<EventMessage>>;
    /// `GET /system/df`.
    async fn system_df(&self) -> ApiResult<SystemDf>;

    // ---- containers ----
    /// `POST /containers/create?name=`.
    async fn container_create(
        &self,
        name: Option<String>,
        req: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse>;
    /// `GET /containers/json`.
    async fn container_list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>>;
    /// `GET /containers/{id}/json?size=`.
    async fn container_inspect(&self, id: &str, size: bool) -> ApiResult<ContainerInspect>;
    /// `POST /containers/{id}/start`; `NotModified` when already running.
    async fn container_start(&self, id: &str) -> ApiResult<()>;
    /// `POST /containers/{id}/stop?signal=&t=`; `NotModified` when not running.
    async fn container_stop(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/restart?signal=&t=`.
    async fn container_restart(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/kill?signal=` (default SIGKILL).
    async fn container_kill(&self, id: &str, signal: Option<String>) -> ApiResult<()>;
    /// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`.
    /// The wait is registered before this returns; the future yields when
    /// the condition is met.
    async fn container_wait(&self, id: &str, condition: &str)
        -> ApiResult<BoxFuture<WaitResponse>>;
    /// `POST /containers/{id}/attach` (hijacked).
    async fn container_attach(&self, id: &str, opts: AttachOptions) -> ApiResult<Hijack>;
    /// `GET /containers/{id}/logs`.
    async fn container_logs(&self, id: &str, opts: LogsOptions) -> ApiResult<LogsStream>;
    /// `POST /containers/{id}/resize?h=&w=`.
    async fn container_resize(&self, id: &str, height: u16, width: u16) -> ApiResult<()>;
    /// `GET /containers/{id}/changes`: the container's rw layer as changes
    /// against its image, in walk order (dockerd's order is unspecified);
    /// empty when nothing changed (the handler answers `null` then, as
    /// dockerd does).
    async fn container_changes(&self, _id: &str) -> ApiResult<Vec<FilesystemChange>> {
        Err(no_commit())
    }
    /// `GET /containers/{id}/export`: the container's whole filesystem (the
    /// merged view) as a tar stream, running or not.
    async fn container_export(&self, _id: &str) -> ApiResult<BoxStream<std::io::Result<Bytes>>> {
        Err(no_commit())
    }
    /// `POST /commit` (201 `{"Id": "sha256:..."}`): a new image from the
    /// container's rw layer.
    async fn container_commit(&self, _opts: ContainerCommitOptions) -> ApiResult<IdResponse> {
        Err(no_commit())
    }
    /// `POST /containers/{id}/pause`.
    async fn container_pause(&self, id: &str) -> ApiResult<()>;
    /// `POST /containers/{id}/unpause`.
    async fn container_unpause(&self, id: &str) -> ApiResult<()>;
    /// `POST /containers/{id}/rename?name=`.
    async fn container_rename(&self, id: &str, new_name: &str) -> ApiResult<()>;
    /// `GET /containers/{id}/top?ps_args=`.
    async fn container_top(&self, id: &str, ps_args: Option<String>) -> ApiResult<TopResponse>;
    /// `DELETE /containers/{id}?force=&v=`.
    async fn container_remove(&self, id: &str, force: bool, volumes: bool) -> ApiResult<()>;
    /// `POST /containers/prune?filters=`.
    async fn container_prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse>;

    // ---- exec ----
    /// `POST /containers/{id}/exec` (201).
    async fn exec_create(&self, id: &str, cfg: ExecConfig) -> ApiResult<IdResponse>;
    /// `POST /exec/{id}/start` with `Detach: false` (hijacked).
    async fn exec_start(&self, id: &str, cfg: ExecStartConfig) -> ApiResult<Hijack>;
    /// `POST /exec/{id}/start` with `Detach: true`: starts and returns.
    async fn exec_start_detached(&self, id: &str, cfg: ExecStartConfig) -> ApiResult<()>;
    /// `POST /exec/{id}/resize?h=&w=`.
    async fn exec_resize(&self, id: &str, height: u16, width: u16) -> ApiResult<()>;
    /// `GET /exec/{id}/json`.
    async fn exec_inspect(&self, id: &str) -> ApiResult<ExecInspect>;

    // ---- images ----
    /// `GET /images/json?all=&filters=`.
    async fn image_list(&self, all: bool, filters: Filters) -> ApiResult<Vec<ImageSummary>>;
    /// `GET /images/{name}/json`.
    async fn image_inspect(&self, name: &str) -> ApiResult<ImageInspect>;
    /// `GET /images/{name}/history`.
    async fn image_history(&self, name: &str) -> ApiResult<Vec<HistoryItem>>;
    /// `POST /images/{name}/tag?repo=&tag=` (201).
    async fn image_tag(&self, name: &str, repo: &str, tag: &str) -> ApiResult<()>;
    /// `DELETE /images/{name}?force=&noprune=`.
    async fn image_remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> ApiResult<Vec<ImageDeleteItem>>;
    /// `POST /images/load?quiet=`: a docker-archive or OCI-layout tar body;
    /// progress messages then `{"stream": "Loaded image: ...\n"}`.
    async fn image_load(&self, body: BodyReader, quiet: bool) -> ApiResult<BoxStream<JsonMessage>>;
    /// `GET /images/get?names=` or `/images/{name}/get`: a docker-archive tar.
    async fn image_save(&self, names: Vec<String>) -> ApiResult<BoxStream<std::io::Result<Bytes>>>;
    /// `POST /images/create?fromSrc=-&repo=&tag=&changes=&message=`: import a
    /// rootfs tar as an image.
    async fn image_import(
        &self,
        body: BodyReader,
        repo: String,
        tag: String,
        changes: Vec<String>,
        message: String,
    ) -> ApiResult<BoxStream<JsonMessage>>;
    /// `POST /images/create?fromImage=&tag=&platform=` with `X-Registry-Auth`
    /// (`registry_auth`, empty when absent): pull.
    async fn image_pull(
        &self,
        from_image: &str,
        tag: &str,
        platform: &str,
        registry_auth: &str,
    ) -> ApiResult<BoxStream<JsonMessage>>;
    /// `POST /images/{name}/push?tag=` with `X-Registry-Auth`: push.
    async fn image_push(
        &self,
        name: &str,
        tag: &str,
        registry_auth: &str,
    ) -> ApiResult<BoxStream<JsonMessage>>;
    /// `POST /auth`: check credentials against a registry.
    async fn auth(&self, req: AuthRequest) -> ApiResult<AuthResponse>;
    /// `GET /images/search?term=&limit=&filters=`: the registry index's
    /// search, as `ImageSearchResponseItem` objects (`name`, `description`,
    /// `star_count`, `is_official`, `is_automated`), filtered by `stars`,
    /// `is-official`, `is-automated`; `limit` 1..=100 (dockerd's default 25).
    async fn image_search(
        &self,
        term: &str,
        limit: u32,
        filters: Filters,
    ) -> ApiResult<Vec<serde_json::Value>>;
    /// `POST /images/prune?filters=`.
    async fn image_prune(&self, filters: Filters) -> ApiResult<ImagePruneResponse>;

    // ---- stats, update ----
    /// `GET /containers/{id}/stats?stream=&one-shot=`: samples of the
    /// container's cgroups. `stream`: one per second until the client goes
    /// (the first with a zero `precpu_stats`); otherwise one item (after a
    /// second sample 1 s later so that `precpu_stats` is filled, or at
    /// once with `one_shot`).
    async fn container_stats(
        &self,
        _id: &str,
        _stream: bool,
        _one_shot: bool,
    ) -> ApiResult<BoxStream<ContainerStats>> {
        Err(ApiError::new(
            ErrorKind::NotImplemented,
            "stats are not available",
        ))
    }
    /// `POST /containers/{id}/update`: new resources and restart policy,
    /// applied to a running container's cgroups and kept in its HostConfig.
    async fn container_update(
        &self,
        _id: &str,
        _req: ContainerUpdateRequest,
    ) -> ApiResult<ContainerUpdateResponse> {
        Err(ApiError::new(
            ErrorKind::NotImplemented,
            "update is not available",
        ))
    }

    // ---- archive (docker cp) ----
    /// `HEAD /containers/{id}/archive?path=`: the path's stat (the
    /// `X-Docker-Container-Path-Stat` header).
    async fn container_archive_stat(&self, _id: &str, _path: &str) -> ApiResult<ContainerPathStat> {
        Err(no_archive())
    }
    /// `GET /containers/{id}/archive?path=`: the path's stat and a tar of
    /// it (a directory with its content).
    async fn container_archive_get(
        &self,
        _id: &str,
        _path: &str,
    ) -> ApiResult<(ContainerPathStat, BoxStream<std::io::Result<Bytes>>)> {
        Err(no_archive())
    }
    /// `PUT /containers/{id}/archive?path=`: extracts the tar `body` into
    /// the directory `path`.
    async fn container_archive_put(
        &self,
        _id: &str,
        _path: &str,
        _opts: ArchivePutOptions,
        _body: BodyReader,
    ) -> ApiResult<()> {
        Err(no_archive())
    }

    // ---- networks ----
    /// `GET /networks?filters=` (filters `dangling`, `driver`, `id`, `label`,
    /// `name`, `scope`, `type`).
    async fn network_list(&self, _filters: Filters) -> ApiResult<Vec<Network>> {
        Err(no_networks())
    }
    /// `GET /networks/{id}`: by full name, full ID or unique ID prefix.
    async fn network_inspect(&self, _id: &str) -> ApiResult<Network> {
        Err(no_networks())
    }
    /// `POST /networks/create` (201).
    async fn network_create(&self, _req: NetworkCreateRequest) -> ApiResult<NetworkCreateResponse> {
        Err(no_networks())
    }
    /// `DELETE /networks/{id}` (204).
    async fn network_remove(&self, _id: &str) -> ApiResult<()> {
        Err(no_networks())
    }
    /// `POST /networks/{id}/connect` (200).
    async fn network_connect(&self, _id: &str, _req: NetworkConnectRequest) -> ApiResult<()> {
        Err(no_networks())
    }
    /// `POST /networks/{id}/disconnect` (200).
    async fn network_disconnect(&self, _id: &str, _req: NetworkDisconnectRequest) -> ApiResult<()> {
        Err(no_networks())
    }
    /// `POST /networks/prune?filters=` (`label`, `until`).
    async fn network_prune(&self, _filters: Filters) -> ApiResult<NetworkPruneResponse> {
        Err(no_networks())
    }

    // ---- volumes ----
    /// `POST /volumes/create` (201): a `local` volume; an existing name
    /// answers the existing volume, as dockerd does.
    async fn volume_create(&self, _req: VolumeCreateRequest) -> ApiResult<Volume> {
        Err(no_volumes())
    }
    /// `GET /volumes?filters=` (`dangling`, `driver`, `label`, `name`).
    async fn volume_list(&self, _filters: Filters) -> ApiResult<VolumeListResponse> {
        Err(no_volumes())
    }
    /// `GET /volumes/{name}`.
    async fn volume_inspect(&self, _name: &str) -> ApiResult<Volume> {
        Err(no_volumes())
    }
    /// `DELETE /volumes/{name}?force=` (204); 409 while a container uses it.
    async fn volume_remove(&self, _name: &str, _force: bool) -> ApiResult<()> {
        Err(no_volumes())
    }
    /// `POST /volumes/prune?filters=` (`label`, `all`): unused anonymous
    /// volumes, all unused ones with `all=true` (API 1.42 and later).
    async fn volume_prune(&self, _filters: Filters) -> ApiResult<VolumePruneResponse> {
        Err(no_volumes())
    }
}

/// What the default diff/export/commit methods answer.
fn no_commit() -> ApiError {
    ApiError::new(
        ErrorKind::NotImplemented,
        "diff, export and commit are not available",
    )
}

/// What the default volume methods answer (a backend without volumes).
fn no_volumes() -> ApiError {
    ApiError::new(ErrorKind::NotImplemented, "volumes are not available")
}

/// What the default network methods answer (a backend without networking).
fn no_networks() -> ApiError {
    ApiError::new(ErrorKind::NotImplemented, "networking is not available")
}

/// What the default archive methods answer (a backend without `docker cp`).
fn no_archive() -> ApiError {
    ApiError::new(ErrorKind::NotImplemented, "copying files is not available")
}
