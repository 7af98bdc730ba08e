//! Docker's JSON progress stream (moby `pkg/jsonmessage`): one
//! [`JsonMessage`] per line of `POST /images/create` and
//! `POST /images/{name}/push` responses.
//!
//! The daemon serialises each message with `serde_json::to_string` and
//! writes it followed by `\r\n`, as dockerd does. Field names are
//! Docker's: `status`, `progressDetail`, `progress`, `id`, `error`,
//! `errorDetail`, `aux`.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

/// `progressDetail`: bytes done and in all for "Downloading", "Extracting"
/// and "Pushing"; `{}` for the other per-layer statuses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressDetail {
    /// Bytes done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// Bytes in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// `errorDetail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    /// The message again.
    pub message: String,
}

/// One message of Docker's JSON progress stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JsonMessage {
    /// `Pulling from library/busybox`, `Downloading`, `Pull complete`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Present (possibly `{}`) on per-layer messages.
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// The rendered bar (`[==>    ]  1.2MB/3.4MB`), with progressDetail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The layer's short ID (12 hex characters) or the tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// An error (the stream's last message when the operation fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error again, as `{"message": ...}`.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    /// Auxiliary data: push's `{"Tag","Digest","Size"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<Value>,
}

impl JsonMessage {
    /// `{"status": s}`.
    pub fn status(s: impl Into<String>) -> JsonMessage {
        JsonMessage {
            status: Some(s.into()),
            ..Default::default()
        }
    }

    /// `{"status": s, "id": id}` (no progressDetail): "Pulling from ...".
    pub fn status_id(s: impl Into<String>, id: impl Into<String>) -> JsonMessage {
        JsonMessage {
            status: Some(s.into()),
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// A per-layer status with `progressDetail: {}`: "Pulling fs layer",
    /// "Waiting", "Verifying Checksum", "Download complete", "Pull
    /// complete", "Already exists", "Preparing", "Pushed", "Layer already
    /// exists", "Mounted from ...".
    pub fn layer(s: impl Into<String>, id: impl Into<String>) -> JsonMessage {
        JsonMessage {
            status: Some(s.into()),
            id: Some(id.into()),
            progress_detail: Some(ProgressDetail::default()),
            ..Default::default()
        }
    }

    /// A per-layer byte count: "Downloading", "Extracting", "Pushing".
    pub fn bytes(
        s: impl Into<String>,
        id: impl Into<String>,
        current: u64,
        total: u64,
    ) -> JsonMessage {
        JsonMessage {
            status: Some(s.into()),
            id: Some(id.into()),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total: Some(total),
            }),
            progress: Some(bar(current, total)),
            ..Default::default()
        }
    }

    /// The failure message that ends a stream: `{"errorDetail":{"message":m},"error":m}`.
    pub fn error(m: impl Into<String>) -> JsonMessage {
        let m = m.into();
        JsonMessage {
            error_detail: Some(ErrorDetail { message: m.clone() }),
            error: Some(m),
            ..Default::default()
        }
    }
}

/// Docker's `units.HumanSize`: decimal units, `%.4g` (4 significant
/// digits, trailing zeros dropped): `1.088MB`, `36.45kB`, `803kB`, `12B`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let e = if v > 0.0 { v.log10().floor() as i32 } else { 0 };
    let decimals = (3 - e).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS[i])
}

/// The bar dockerd puts in `progress` (jsonmessage `JSONProgress.String`):
/// 50 columns of `=` for the fraction done, a `>`, padding, then the
/// sizes right-aligned in 8 columns: `[====>        ...]   98.3kB/1.088MB`.
pub fn bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let width = 50u64;
    let filled = (width * current.min(total) / total) as usize;
    format!(
        "[{}>{}] {:>8}/{}",
        "=".repeat(filled),
        " ".repeat(width as usize - filled),
        human_size(current),
        human_size(total)
    )
}

/// Where progress messages go: called in order from the task that drives
/// the pull or push. The daemon forwards them to the response stream.
pub type ProgressSink = Arc<dyn Fn(JsonMessage) + Send + Sync>;

/// A sink that drops everything.
pub fn discard() -> ProgressSink {
    Arc::new(|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let j = |m: &JsonMessage| serde_json::to_string(m).unwrap();
        assert_eq!(
            j(&JsonMessage::status_id(
                "Pulling from library/busybox",
                "latest"
            )),
            r#"{"status":"Pulling from library/busybox","id":"latest"}"#
        );
        assert_eq!(
            j(&JsonMessage::layer("Pull complete", "abcdefabcdef")),
            r#"{"status":"Pull complete","progressDetail":{},"id":"abcdefabcdef"}"#
        );
        let d = j(&JsonMessage::bytes("Downloading", "abcdefabcdef", 5, 10));
        assert!(d.starts_with(r#"{"status":"Downloading","progressDetail":{"current":5,"total":10},"progress":"[=========================>"#), "{d}");
        // As dockerd 20.10 printed them for busybox's layer.
        assert_eq!(
            bar(98_300, 1_088_160),
            format!("[====>{}]   98.3kB/1.088MB", " ".repeat(46))
        );
        assert_eq!(
            bar(1_088_160, 1_088_160),
            format!("[{}>]  1.088MB/1.088MB", "=".repeat(50))
        );
        assert_eq!(
            j(&JsonMessage::error("manifest unknown")),
            r#"{"error":"manifest unknown","errorDetail":{"message":"manifest unknown"}}"#
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(12), "12B");
        assert_eq!(human_size(803_000), "803kB");
        assert_eq!(human_size(1_088_160), "1.088MB");
        assert_eq!(human_size(36_445), "36.45kB");
        assert_eq!(human_size(98_300), "98.3kB");
        assert_eq!(human_size(2_000_000), "2MB");
    }
}
