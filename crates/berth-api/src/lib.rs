//! Berth's Docker Engine API.
//!
//! * [`models`] — request and response bodies (serde), always built; the
//!   client (`berth-client`) uses them with `default-features = false`.
//! * [`backend`] (feature `backend`) — the [`backend::Backend`] trait the
//!   router calls: one async method per endpoint, models in and out, plus byte
//!   streams and hijacked connections. Services implement it; it has no HTTP
//!   types.
//! * [`server`] (feature `server`, default) — the axum router served on a
//!   UNIX socket: version prefix `/v1.24`..`/v1.47` or none, the
//!   `Api-Version` header, errors as `{"message": ...}` with Docker's status
//!   codes, and hijacked streams answering `101 UPGRADED`.

pub mod models;

#[cfg(feature = "backend")]
pub mod backend;

#[cfg(feature = "server")]
pub mod server;

pub use models::{ApiError, ErrorKind};
