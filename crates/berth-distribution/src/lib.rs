//! Berth's registry client: `docker pull`, `docker push` and `docker
//! login` for the daemon, over the OCI distribution spec (v1.1) with
//! Docker's authentication and Docker's progress messages.
//!
//! ```no_run
//! # async fn demo(svc: std::sync::Arc<berth_image::ImageService>) -> berth_distribution::Result<()> {
//! use berth_distribution::*;
//! let dist = Distribution::new(Options::default())?;           // one per daemon
//! let sink: ProgressSink = std::sync::Arc::new(|m: JsonMessage| {
//!     println!("{}", serde_json::to_string(&m).unwrap());       // the response stream
//! });
//! // POST /images/create?fromImage=localhost:5000/busybox&tag=latest, X-Registry-Auth: ...
//! let auth = AuthConfig::from_header("")?;
//! let opts = PullOptions { platform: None, credentials: auth.credentials() };
//! let out = pull(&dist, &svc, &join_from_image("localhost:5000/busybox", "latest"), &opts, &sink).await?;
//! // POST /images/localhost:5000/busybox/push?tag=latest
//! push(&dist, &svc, "localhost:5000/busybox", "latest", &PushOptions::default(), &sink).await?;
//! // POST /auth
//! let ok = login(&dist, &AuthConfig { serveraddress: "localhost:5000".into(), ..Default::default() }).await?;
//! assert_eq!(ok.status, "Login Succeeded");
//! # let _ = out; Ok(()) }
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`client`] | [`Distribution`] (settings, connection pools, token cache), endpoints (https, insecure https, http for loopback and `insecure-registries`, mirrors), [`Repository`] requests |
//! | [`auth`] | [`Credentials`], `X-Registry-Auth` ([`AuthConfig`]), config.json and credential helpers ([`DockerConfigFile`]), `WWW-Authenticate` ([`auth::Challenge`]) |
//! | [`manifest`] | the `Accept` list, media types, [`Platform`] choice in an index |
//! | [`pull`](mod@pull) | [`pull::fetch`]: manifest, config, then the layers the store lacks (by chain ID) into the content store (streamed, verified, 3 at a time, resumed with `Range`), each extracted while it downloads |
//! | [`extract`] | the extractor thread a layer's bytes go through while downloading (decompression, tar apply, diff ID) |
//! | [`image`] | [`pull()`]: fetch + registration in the image service + the final `Digest:`/`Status:` lines |
//! | [`push`](mod@push) | [`push()`]: HEAD, mount, monolithic or chunked upload, manifest PUT |
//! | [`login`](mod@login) | [`login()`]: `POST /auth` |
//! | [`progress`] | [`JsonMessage`]: Docker's JSON progress stream messages |
//! | [`stream`] | [`run_streamed`]: an operation as dockerd answers it (HTTP error before the first message, else a message stream ending with an error message) |
//!
//! ## What the daemon calls
//!
//! One [`Distribution`] per daemon (from daemon.json's
//! `insecure-registries`, `registry-mirrors`, `max-concurrent-downloads`,
//! `max-concurrent-uploads`, `max-download-attempts` into [`Options`]), then:
//!
//! | endpoint | call |
//! |---|---|
//! | `POST /images/create?fromImage=&tag=&platform=` | `run_streamed(move \|sink\| async move { pull(&dist, &svc, &join_from_image(from, tag), &PullOptions { platform, credentials: AuthConfig::from_header(x_registry_auth)?.credentials() }, &sink).await.map(\|_\| ()) })` |
//! | `POST /images/{name}/push?tag=` | `run_streamed(move \|sink\| async move { push(&dist, &svc, &name, &tag, &PushOptions { credentials }, &sink).await.map(\|_\| ()) })` |
//! | `POST /auth` | [`login()`] with the body as [`AuthConfig`]; answer [`LoginOutcome`] (serialises as `{"IdentityToken":"","Status":"Login Succeeded"}`) |
//!
//! [`run_streamed`] returns the error (give it [`DistributionError::status`])
//! when the operation fails before its first message, else a stream of
//! [`JsonMessage`] to write as `application/json` lines (`\r\n`), ending
//! with an error message on a later failure. Its `JsonMessage` has the
//! fields `progressDetail` and `aux` that the daemon's model must carry.
//!
//! Everything is async (tokio) and `Send`; blob writes run on the
//! blocking pool. Errors are [`DistributionError`], worded as dockerd
//! words them, with [`DistributionError::status`] for the HTTP status.

pub mod auth;
pub mod client;
pub mod error;
pub mod extract;
pub mod image;
pub mod login;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
pub mod search;
pub mod stream;

pub use auth::{AuthConfig, Credentials, DockerConfigFile};
pub use client::{Distribution, Endpoint, Options, Repository};
pub use error::{DistributionError, Result};
pub use image::{join_from_image, pull, PullOutcome};
pub use login::{login, LoginOutcome};
pub use manifest::Platform;
pub use progress::{JsonMessage, ProgressSink};
pub use pull::PullOptions;
pub use push::{push, PushOptions, PushedTag};
pub use stream::{run_streamed, MessageStream};
