//! The distribution spec's error codes (OCI distribution-spec v1.1,
//! spec.md "Error Codes") and the HTTP status each is sent with.
//!
//! Every failed request gets a body of the spec's shape:
//! `{"errors":[{"code":"BLOB_UNKNOWN","message":"...","detail":...}]}`.

use http::StatusCode;
use serde_json::json;

/// One of the spec's error codes (spec.md, table "Error Codes", code-1 to
/// code-14), plus `RANGE_INVALID`-style conditions folded into
/// [`Code::BlobUploadInvalid`] with status 416.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// code-1 `BLOB_UNKNOWN`: blob unknown to registry (404).
    BlobUnknown,
    /// code-2 `BLOB_UPLOAD_INVALID`: blob upload invalid (400, or 416 for a
    /// chunk out of order).
    BlobUploadInvalid,
    /// code-3 `BLOB_UPLOAD_UNKNOWN`: upload session unknown, finished or
    /// cancelled (404).
    BlobUploadUnknown,
    /// code-4 `DIGEST_INVALID`: provided digest did not match uploaded
    /// content, or is malformed (400).
    DigestInvalid,
    /// code-5 `MANIFEST_BLOB_UNKNOWN`: manifest references a manifest or
    /// blob unknown to the repository (400).
    ManifestBlobUnknown,
    /// code-6 `MANIFEST_INVALID`: manifest invalid (400).
    ManifestInvalid,
    /// code-7 `MANIFEST_UNKNOWN`: manifest unknown to the repository (404).
    ManifestUnknown,
    /// code-8 `NAME_INVALID`: invalid repository name (400).
    NameInvalid,
    /// code-9 `NAME_UNKNOWN`: repository name not known to registry (404).
    NameUnknown,
    /// code-10 `SIZE_INVALID`: provided length did not match content length
    /// (400).
    SizeInvalid,
    /// code-11 `UNAUTHORIZED`: authentication required (401).
    Unauthorized,
    /// code-12 `DENIED`: requested access to the resource is denied (403).
    Denied,
    /// code-13 `UNSUPPORTED`: the operation is unsupported (405 / 415).
    Unsupported,
    /// code-14 `TOOMANYREQUESTS`: too many requests (429).
    TooManyRequests,
}

impl Code {
    /// The code's wire name, e.g. `"BLOB_UNKNOWN"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
        }
    }

    /// The HTTP status this code is sent with by default.
    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::SizeInvalid => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// A failed registry operation: a spec error code, the status to send, a
/// human message, and an optional JSON `detail`.
///
/// Storage I/O failures become [`RegistryError::Internal`] (500, no spec
/// code; the body still uses the spec's shape with code `UNKNOWN`).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A condition the spec names.
    #[error("{}: {message}", code.as_str())]
    Spec {
        /// The spec error code.
        code: Code,
        /// HTTP status (usually `code.status()`).
        status: StatusCode,
        /// Human-readable message.
        message: String,
        /// Extra machine-readable detail, or `Null`.
        detail: serde_json::Value,
    },
    /// A filesystem or other internal failure (HTTP 500).
    #[error("internal error: {0}")]
    Internal(#[from] std::io::Error),
}

impl RegistryError {
    /// An error with `code`'s default status and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> RegistryError {
        RegistryError::Spec {
            code,
            status: code.status(),
            message: message.into(),
            detail: serde_json::Value::Null,
        }
    }

    /// Replaces the HTTP status (e.g. 416 for a chunk out of order).
    pub fn with_status(self, status: StatusCode) -> RegistryError {
        match self {
            RegistryError::Spec {
                code,
                message,
                detail,
                ..
            } => RegistryError::Spec {
                code,
                status,
                message,
                detail,
            },
            other => other,
        }
    }

    /// Attaches a JSON `detail`.
    pub fn with_detail(self, detail: serde_json::Value) -> RegistryError {
        match self {
            RegistryError::Spec {
                code,
                status,
                message,
                ..
            } => RegistryError::Spec {
                code,
                status,
                message,
                detail,
            },
            other => other,
        }
    }

    /// The spec code, or `None` for an internal error.
    pub fn code(&self) -> Option<Code> {
        match self {
            RegistryError::Spec { code, .. } => Some(*code),
            RegistryError::Internal(_) => None,
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            RegistryError::Spec { status, .. } => *status,
            RegistryError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response body in the spec's error shape.
    pub fn body(&self) -> serde_json::Value {
        match self {
            RegistryError::Spec {
                code,
                message,
                detail,
                ..
            } => json!({"errors": [{"code": code.as_str(), "message": message, "detail": detail}]}),
            RegistryError::Internal(e) => {
                json!({"errors": [{"code": "UNKNOWN", "message": format!("internal error: {e}"), "detail": null}]})
            }
        }
    }
}

/// Result alias for registry operations.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
