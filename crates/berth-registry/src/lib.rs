//! Berth's OCI distribution registry (OCI distribution-spec v1.1).
//!
//! The server stores blobs, manifests (OCI image manifests and indexes,
//! Docker schema 2 manifests and manifest lists), tags and referrers on
//! the filesystem ([`storage`]), serves the spec's endpoints over HTTP/1.1
//! or HTTPS ([`server`]), authenticates with htpasswd Basic or Bearer
//! tokens from its own token endpoint ([`auth`]; with `offline_token=true`
//! it also hands out refresh tokens, which dockerd's login returns to the
//! docker CLI as identity tokens, and it answers the OAuth2 `POST` grants
//! of Docker's token spec), and collects unreferenced blobs ([`gc`]).
//!
//! In-process use (what tests and `berth registry serve` do):
//!
//! ```no_run
//! # async fn demo() -> Result<(), berth_registry::StartError> {
//! let cfg = berth_registry::Config::new("127.0.0.1:0".parse().unwrap(), "/tmp/reg");
//! let server = berth_registry::Server::start(cfg).await?;
//! println!("serving on {}", server.url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod gc;
pub mod manifest;
mod oauth;
pub mod server;
pub mod storage;
mod zerocopy;

pub use config::{AuthConfig, Config, TlsPaths, TokenConfig};
pub use error::{Code, RegistryError};
pub use gc::{collect as gc_collect, GcOptions, GcReport};
pub use server::{serve, Server, StartError};
pub use zerocopy::sendfile_bytes;
