//! Errors, worded as dockerd words them, with the HTTP status the Engine
//! API answers with ([`DistributionError::status`]).

use berth_types::Digest;
use serde::Deserialize;

/// One entry of a registry's error body (distribution-spec "Error Codes":
/// `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"...","detail":...}]}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegistryErrorEntry {
    /// The code, e.g. `MANIFEST_UNKNOWN`, `UNAUTHORIZED`, `DENIED`.
    pub code: String,
    /// The server's message.
    #[serde(default)]
    pub message: String,
}

impl RegistryErrorEntry {
    /// Go distribution's `errcode.Error` text: the code lower-cased with
    /// `_` as space, `": "`, the message (`manifest unknown: manifest
    /// unknown`).
    pub fn docker_text(&self) -> String {
        let code = self.code.to_ascii_lowercase().replace('_', " ");
        if self.message.is_empty() {
            code
        } else {
            format!("{code}: {}", self.message)
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<RegistryErrorEntry>,
}

/// A registry's answer that was not a success: the status and the parsed
/// error entries (empty when the body was not the spec's JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFailure {
    /// HTTP status code.
    pub status: u16,
    /// Error entries from the body.
    pub errors: Vec<RegistryErrorEntry>,
}

impl RegistryFailure {
    /// Parses a failure body (at most a few KiB are kept by the caller).
    pub fn from_body(status: u16, body: &[u8]) -> RegistryFailure {
        let errors = serde_json::from_slice::<ErrorBody>(body)
            .map(|b| b.errors)
            .unwrap_or_default();
        RegistryFailure { status, errors }
    }

    /// True when one of the entries has `code`.
    pub fn has(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// Docker's text for it: the entries (`unauthorized: authentication
    /// required`), or for a bare status what Go's distribution client says
    /// (`unauthorized: authentication required` for 401, `denied:
    /// requested access to the resource is denied` for 403, otherwise
    /// `unexpected status code 500 Internal Server Error`).
    pub fn docker_text(&self) -> String {
        if !self.errors.is_empty() {
            return self
                .errors
                .iter()
                .map(RegistryErrorEntry::docker_text)
                .collect::<Vec<_>>()
                .join(", ");
        }
        match self.status {
            401 => "unauthorized: authentication required".to_string(),
            403 => "denied: requested access to the resource is denied".to_string(),
            404 => "not found".to_string(),
            s => format!("unexpected status code {s} {}", status_text(s)),
        }
    }
}

/// The reason phrase of an HTTP status (`401` -> `Unauthorized`).
pub fn status_text(s: u16) -> &'static str {
    reqwest::StatusCode::from_u16(s)
        .ok()
        .and_then(|c| c.canonical_reason())
        .unwrap_or("")
}

/// Errors of pull, push and login.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// A malformed reference or platform (400): `invalid reference format`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The tag or digest does not exist (404): `manifest for busybox:nope
    /// not found: manifest unknown: manifest unknown`.
    #[error("manifest for {reference} not found: {detail}")]
    ManifestUnknown {
        /// The familiar reference (`busybox:nope`).
        reference: String,
        /// The registry's error text.
        detail: String,
    },
    /// The repository is missing or the credentials do not allow pulling
    /// (404, as dockerd): `pull access denied for busybox, repository does
    /// not exist or may require 'docker login': denied: ...`.
    #[error("pull access denied for {name}, repository does not exist or may require 'docker login': {detail}")]
    PullAccessDenied {
        /// The familiar repository name.
        name: String,
        /// The registry's error text.
        detail: String,
    },
    /// Authentication failed (401): `unauthorized: ...`, or for a Basic
    /// login `login attempt to http://host/v2/ failed with status: 401
    /// Unauthorized` (the full text is kept here).
    #[error("{0}")]
    Unauthorized(String),
    /// A pull the registry refused for missing or wrong credentials, before
    /// any progress (500, as dockerd answers `POST /images/create`: its
    /// registry errors are not errdefs' Unauthorized, and a 401 would make
    /// the docker CLI prompt `Login prior to pull:` and read a user name):
    /// `Head "http://127.0.0.1:5000/v2/x/manifests/latest": no basic auth
    /// credentials`, `unauthorized: authentication required`.
    #[error("{0}")]
    PullUnauthorized(String),
    /// Push without the rights (403 from the registry): `denied: requested
    /// access to the resource is denied`.
    #[error("{0}")]
    Denied(String),
    /// No manifest in the index for the requested platform (404):
    /// `no matching manifest for linux/amd64 in the manifest list entries`.
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingPlatform(String),
    /// Downloaded bytes whose digest is not the descriptor's (500; the blob
    /// is not stored): `filesystem layer verification failed for digest
    /// sha256:...`.
    #[error("filesystem layer verification failed for digest {0}")]
    DigestMismatch(Digest),
    /// A downloaded layer whose uncompressed stream does not hash to the
    /// image config's `rootfs.diff_ids` entry (500; moby's
    /// `errRootFSMismatch`; neither the blob nor the layer is kept).
    #[error("layers from manifest don't match image configuration")]
    RootFsMismatch,
    /// A manifest whose bytes do not hash to the digest it was asked by or
    /// announced with (500).
    #[error("manifest verification failed for digest {0}")]
    ManifestDigestMismatch(Digest),
    /// The local image to push does not exist (404): `An image does not
    /// exist locally with the tag: localhost:5000/app`.
    #[error("An image does not exist locally with the tag: {0}")]
    NoSuchLocalImage(String),
    /// Any other registry error (500), in Go distribution's words.
    #[error("{0}")]
    Registry(String),
    /// A transport failure after every endpoint and retry (500):
    /// `Get "http://127.0.0.1:5000/v2/": connection refused`.
    #[error("{0}")]
    Transport(String),
    /// A registry answer that breaks the protocol (500).
    #[error("{0}")]
    Protocol(String),
    /// The operation was cancelled (the client went away).
    #[error("context canceled")]
    Cancelled,
    /// A credential helper or config file problem (500).
    #[error("{0}")]
    Credentials(String),
    /// The content store failed (500).
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    /// The image service failed while registering or reading an image.
    #[error(transparent)]
    Image(#[from] berth_image::ImageError),
}

impl DistributionError {
    /// The HTTP status the Engine API returns for this error (dockerd's
    /// errdefs mapping).
    pub fn status(&self) -> u16 {
        use DistributionError::*;
        match self {
            InvalidArgument(_) => 400,
            ManifestUnknown { .. }
            | PullAccessDenied { .. }
            | NoMatchingPlatform(_)
            | NoSuchLocalImage(_) => 404,
            Unauthorized(_) => 401,
            Denied(_) => 403,
            Image(e) => e.status(),
            _ => 500,
        }
    }
}

/// `Result` with [`DistributionError`].
pub type Result<T, E = DistributionError> = std::result::Result<T, E>;
