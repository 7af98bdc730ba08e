//! Berth's image service: what the daemon's `/images/*` handlers call.
//!
//! ```no_run
//! use std::sync::Arc;
//! use berth_image::{ImageService, ListOptions};
//! let svc = Arc::new(ImageService::open("/var/lib/berth".as_ref()).unwrap());
//! let file = std::fs::File::open("busybox-docker.tar").unwrap();
//! for l in svc.load(file, &mut |_p| {}).unwrap() {
//!     println!("{l}"); // "Loaded image: busybox:latest"
//! }
//! let images = svc.list(&ListOptions::default()).unwrap();   // GET /images/json
//! let inspect = svc.inspect("busybox").unwrap();              // GET /images/{name}/json
//! let mount = svc.prepare_snapshot("<container-id>", "busybox").unwrap();
//! // mount.mount_data() -> (cwd, "lowerdir=...,upperdir=...,workdir=...")
//! ```
//!
//! The API is synchronous and `Sync`: share one [`ImageService`] in an
//! `Arc` and call it from `spawn_blocking`. Outputs serialise (serde) to the
//! Engine API's JSON field names:
//!
//! | Engine API | call | returns |
//! |---|---|---|
//! | `POST /images/load` | [`ImageService::load`] (a tar stream: docker-archive or OCI layout), [`ImageService::load_path`] (also an OCI layout directory) | `Vec<`[`Loaded`]`>`; `Display` is docker's "Loaded image: ..." line |
//! | `GET /images/get` | [`ImageService::save`] | docker-archive with OCI layout inside (Docker 25+ format) |
//! | `POST /images/create?fromSrc=-` | [`ImageService::import`] | image ID |
//! | `GET /images/json` | [`ImageService::list`] | `Vec<`[`ImageSummary`]`>` |
//! | `GET /images/{name}/json` | [`ImageService::inspect`] | [`ImageInspect`] |
//! | `GET /images/{name}/history` | [`ImageService::history`] | `Vec<`[`HistoryItem`]`>` |
//! | `POST /images/{name}/tag` | [`ImageService::tag`] | `()` |
//! | `DELETE /images/{name}` | [`ImageService::remove`] | `Vec<`[`DeleteItem`]`>` |
//! | `POST /images/prune` | [`ImageService::prune`] | [`PruneReport`] |
//!
//! Container side (for the engine): [`ImageService::prepare_snapshot`]
//! gives a container its rw layer as an [`OverlayMount`] (see
//! `berth_store::snapshot` for the lowerdir length rule: `mount_data()`
//! returns absolute options or, for many layers, relative ones to use from
//! `base`), [`ImageService::remove_snapshot`] deletes it,
//! [`ImageService::export_snapshot_diff`] writes its rw layer as a layer tar
//! (whiteouts in image-spec form; for `commit`) and
//! [`ImageService::export_rootfs`] a mounted rootfs as one flat tar (`GET
//! /containers/{id}/export`). The "in use" checks
//! of `remove` and `prune` take the containers as a slice of
//! [`ContainerUse`] that the engine supplies.
//!
//! Errors are [`ImageError`]; [`ImageError::status`] gives the HTTP status
//! Docker uses and `Display` Docker's message.
//!
//! A temporary command line, `berth-image` (`load`, `save`, `import`,
//! `images`, `inspect`, `history`, `tag`, `rmi`, `prune`, `gc`), drives the
//! service until the daemon exists.

pub mod oci;
pub mod reference;

mod archive;
mod changes;
mod commit;
mod pulled;
mod service;
mod time;
mod types;

pub use berth_store::{OverlayMount, Store, StoreError};
pub use berth_types::Digest;
pub use commit::{apply_changes, merge_run_config, CommitOptions};
pub use pulled::{manifest_with_stored_blobs, ImageBlobs, PulledLayers, Registered};
pub use reference::Reference;
pub use service::ImageService;
pub use types::*;

/// Errors of the image service, with Docker's wording.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// `No such image: busybox:nope` (404).
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// `invalid reference format...` (400).
    #[error("{0}")]
    InvalidReference(String),
    /// `conflict: unable to delete ...` (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A bad argument: an unknown filter, a bad `--change` (400).
    #[error("{0}")]
    InvalidArgument(String),
    /// An archive that cannot be loaded: truncated, corrupt, missing or
    /// mismatching content, unknown media type (400).
    #[error("invalid archive: {0}")]
    BadArchive(String),
    /// A failure of the store below (500), or bad content it found (400, see
    /// [`ImageError::status`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImageError {
    /// The HTTP status the Engine API returns for this error.
    pub fn status(&self) -> u16 {
        match self {
            ImageError::NoSuchImage(_) => 404,
            ImageError::InvalidReference(_)
            | ImageError::InvalidArgument(_)
            | ImageError::BadArchive(_) => 400,
            ImageError::Conflict(_) => 409,
            ImageError::Store(
                StoreError::BadLayer(_)
                | StoreError::DigestMismatch { .. }
                | StoreError::SizeMismatch { .. }
                | StoreError::UnknownMediaType(_),
            ) => 400,
            ImageError::Store(_) => 500,
        }
    }
}

/// `Result` with [`ImageError`].
pub type Result<T, E = ImageError> = std::result::Result<T, E>;
