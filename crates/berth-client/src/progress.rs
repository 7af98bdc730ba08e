//! Docker's JSON progress messages ("jsonmessage"): the streamed bodies of
//! `POST /images/load`, `POST /images/create`, `POST /images/{name}/push`
//! and `POST /build`, one JSON object after another (usually one a line).

use serde::Deserialize;

/// `progressDetail`: byte counts of one layer's transfer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ProgressDetail {
    /// Bytes done so far.
    #[serde(default)]
    pub current: Option<i64>,
    /// Total bytes, when known.
    #[serde(default)]
    pub total: Option<i64>,
}

/// `errorDetail` of a failed stream.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Error code (rarely set).
    #[serde(default)]
    pub code: Option<i64>,
    /// The message text.
    #[serde(default)]
    pub message: Option<String>,
}

/// One JSON progress message. Every field is optional; `stream` carries
/// plain text ("Loaded image: busybox:latest\n"), `status`+`id`+
/// `progressDetail` a progress line, `error`/`errorDetail` a failure that
/// ends the stream.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct JsonMessage {
    /// Text to copy verbatim to the output.
    #[serde(default)]
    pub stream: Option<String>,
    /// Status word ("Loading layer", "Downloading", "Pull complete").
    #[serde(default)]
    pub status: Option<String>,
    /// Pre-rendered progress bar text from the daemon.
    #[serde(default)]
    pub progress: Option<String>,
    /// Byte counts behind the progress bar.
    #[serde(default, rename = "progressDetail")]
    pub progress_detail: Option<ProgressDetail>,
    /// Layer or image ID the status is about.
    #[serde(default)]
    pub id: Option<String>,
    /// Error text (older field).
    #[serde(default)]
    pub error: Option<String>,
    /// Structured error.
    #[serde(default, rename = "errorDetail")]
    pub error_detail: Option<ErrorDetail>,
    /// Auxiliary data (e.g. the build's image ID).
    #[serde(default)]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// The error message of this message, if it reports one
    /// (`errorDetail.message`, else `error`).
    pub fn error_message(&self) -> Option<&str> {
        self.error_detail
            .as_ref()
            .and_then(|d| d.message.as_deref())
            .or(self.error.as_deref())
    }
}

/// Splits a byte stream of concatenated JSON values into parsed values as
/// the bytes arrive; whitespace (newlines) between values is skipped.
#[derive(Debug, Default)]
pub struct JsonStream {
    buf: Vec<u8>,
}

impl JsonStream {
    /// An empty splitter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every complete value now available, in order.
    /// A syntax error (not merely an incomplete value) is returned as `Err`.
    pub fn push<T: serde::de::DeserializeOwned>(
        &mut self,
        data: &[u8],
    ) -> Result<Vec<T>, serde_json::Error> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut consumed = 0;
        {
            let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<T>();
            loop {
                match it.next() {
                    Some(Ok(v)) => {
                        out.push(v);
                        consumed = it.byte_offset();
                    }
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(e)) => return Err(e),
                    None => {
                        consumed = it.byte_offset();
                        break;
                    }
                }
            }
        }
        self.buf.drain(..consumed);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_concatenated_and_partial() {
        let mut s = JsonStream::new();
        let v: Vec<JsonMessage> = s
            .push(br#"{"stream":"Loaded image: busybox:latest\n"}{"status":"Load"#)
            .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].stream.as_deref(),
            Some("Loaded image: busybox:latest\n")
        );
        let v: Vec<JsonMessage> = s
            .push(b"ing layer\",\"id\":\"abc\",\"progressDetail\":{\"current\":5,\"total\":10}}\n")
            .unwrap();
        assert_eq!(v[0].status.as_deref(), Some("Loading layer"));
        assert_eq!(
            v[0].progress_detail,
            Some(ProgressDetail {
                current: Some(5),
                total: Some(10)
            })
        );
    }

    #[test]
    fn error_message_prefers_detail() {
        let m: JsonMessage =
            serde_json::from_str(r#"{"error":"a","errorDetail":{"message":"b"}}"#).unwrap();
        assert_eq!(m.error_message(), Some("b"));
        let m: JsonMessage = serde_json::from_str(r#"{"error":"a"}"#).unwrap();
        assert_eq!(m.error_message(), Some("a"));
    }

    #[test]
    fn syntax_error_is_reported() {
        let mut s = JsonStream::new();
        assert!(s.push::<JsonMessage>(b"{]").is_err());
    }
}
