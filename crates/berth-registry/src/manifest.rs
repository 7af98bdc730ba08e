//! Manifest validation: what a pushed manifest or index must look like
//! before the registry stores it (OCI distribution-spec v1.1 spec.md
//! "Pushing Manifests"; OCI image-spec `manifest.md`, `image-index.md`;
//! Docker image manifest v2 schema 2 and manifest list).
//!
//! Pure functions over the request body: no I/O.

use berth_types::Digest;
use serde_json::Value;

use crate::error::{Code, RegistryError, Result};

/// `application/vnd.oci.image.manifest.v1+json`
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json`
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.docker.distribution.manifest.v2+json` (schema 2)
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `application/vnd.docker.distribution.manifest.list.v2+json`
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest manifest body accepted, in bytes (the spec asks registries to
/// accept at least 4 MiB; larger bodies get 413).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// A descriptor as it appears in a manifest (image-spec `descriptor.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// `mediaType` of the referenced content.
    pub media_type: String,
    /// `digest` of the referenced content.
    pub digest: Digest,
    /// `size` in bytes.
    pub size: u64,
}

/// What the registry needs to know about a valid manifest.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The manifest's media type (from `Content-Type` or its `mediaType`).
    pub media_type: String,
    /// Blobs the manifest references that must exist in the repository:
    /// the config and every distributable layer.
    pub blobs: Vec<Digest>,
    /// Manifests an index references, which must exist in the repository.
    pub manifests: Vec<Digest>,
    /// The `subject` descriptor, if any (referrers API).
    pub subject: Option<Descriptor>,
    /// `artifactType`, or for an image manifest without one, the config's
    /// media type (spec.md "Listing Referrers").
    pub artifact_type: Option<String>,
    /// `annotations`, copied into referrers descriptors.
    pub annotations: Option<Value>,
}

fn invalid(msg: impl Into<String>) -> RegistryError {
    RegistryError::new(Code::ManifestInvalid, msg)
}

fn descriptor(v: &Value, what: &str) -> Result<Descriptor> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid(format!("{what}: descriptor is not an object")))?;
    let media_type = obj
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what}: descriptor has no mediaType")))?
        .to_string();
    let digest = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what}: descriptor has no digest")))?
        .parse::<Digest>()
        .map_err(|e| invalid(format!("{what}: {e}")))?;
    let size = obj
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid(format!("{what}: descriptor has no valid size")))?;
    Ok(Descriptor {
        media_type,
        digest,
        size,
    })
}

/// True for layer media types whose blobs are, by design, not pushed
/// (OCI non-distributable layers, Docker foreign layers).
pub fn is_nondistributable(media_type: &str) -> bool {
    media_type.contains(".nondistributable.") || media_type.contains(".foreign.")
}

/// Normalises a `Content-Type` header value: drops parameters and
/// whitespace; `None` for absent or generic types.
fn content_type_base(ct: Option<&str>) -> Option<String> {
    let ct = ct?.split(';').next()?.trim().to_ascii_lowercase();
    if ct.is_empty() || ct == "application/json" || ct == "application/octet-stream" {
        None
    } else {
        Some(ct)
    }
}

/// Validates `body` as a manifest sent with `content_type`.
///
/// Accepts OCI image manifests and indexes and Docker schema 2 manifests
/// and manifest lists. Errors are `MANIFEST_INVALID` (400) for bad JSON,
/// a `mediaType` field that contradicts `Content-Type`, missing or
/// malformed descriptors, or an unsupported media type.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Parsed> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("manifest is not valid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("manifest is not a JSON object"))?;
    let field_mt = obj.get("mediaType").and_then(Value::as_str);
    let header_mt = content_type_base(content_type);
    let media_type = match (&header_mt, field_mt) {
        (Some(h), Some(f)) if h != f => {
            return Err(invalid(format!(
                "Content-Type {h:?} does not match the manifest's mediaType {f:?}"
            )))
        }
        (Some(h), _) => h.clone(),
        (None, Some(f)) => f.to_string(),
        (None, None) => {
            if obj.contains_key("manifests") {
                OCI_INDEX.to_string()
            } else if obj.contains_key("config") {
                OCI_MANIFEST.to_string()
            } else {
                return Err(invalid("cannot tell the manifest's media type"));
            }
        }
    };
    if obj.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let subject = match obj.get("subject") {
        None | Some(Value::Null) => None,
        Some(s) => Some(descriptor(s, "subject")?),
    };
    let annotations = obj.get("annotations").filter(|a| a.is_object()).cloned();
    let mut artifact_type = obj
        .get("artifactType")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = descriptor(
                obj.get("config")
                    .ok_or_else(|| invalid("manifest has no config"))?,
                "config",
            )?;
            let layers = obj
                .get("layers")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("manifest has no layers array"))?;
            if artifact_type.is_none() && media_type == OCI_MANIFEST {
                artifact_type = Some(config.media_type.clone());
            }
            blobs.push(config.digest);
            for (i, l) in layers.iter().enumerate() {
                let d = descriptor(l, &format!("layers[{i}]"))?;
                if !is_nondistributable(&d.media_type) {
                    blobs.push(d.digest);
                }
            }
        }
        OCI_INDEX | DOCKER_LIST => {
            let list = obj
                .get("manifests")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("index has no manifests array"))?;
            for (i, m) in list.iter().enumerate() {
                manifests.push(descriptor(m, &format!("manifests[{i}]"))?.digest);
            }
        }
        other => {
            return Err(invalid(format!(
                "unsupported manifest media type {other:?}"
            )));
        }
    }
    Ok(Parsed {
        media_type,
        blobs,
        manifests,
        subject,
        artifact_type,
        annotations,
    })
}

/// Every digest `body` (a stored manifest of `media_type`) references:
/// config, all layers (distributable or not) and child manifests. Used by
/// garbage collection; unparsable bodies reference nothing.
pub fn references(body: &[u8]) -> Vec<Digest> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |d: &Value| {
        if let Some(s) = d.get("digest").and_then(Value::as_str) {
            if let Ok(d) = s.parse() {
                out.push(d);
            }
        }
    };
    if let Some(c) = v.get("config") {
        push(c);
    }
    for key in ["layers", "manifests"] {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            list.iter().for_each(&mut push);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn image_manifest_lists_blobs_and_artifact_type() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/x-cfg","digest":"{D}","size":0}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar","digest":"{D}","size":0}}]}}"#
        );
        let p = parse(Some(OCI_MANIFEST), body.as_bytes()).unwrap();
        assert_eq!(p.blobs.len(), 1);
        assert_eq!(p.artifact_type.as_deref(), Some("application/x-cfg"));
        assert_eq!(references(body.as_bytes()).len(), 2);
    }

    #[test]
    fn rejects_mismatched_media_type_and_bad_json() {
        let body = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#);
        let e = parse(Some(OCI_MANIFEST), body.as_bytes()).unwrap_err();
        assert_eq!(e.code(), Some(Code::ManifestInvalid));
        assert!(parse(Some(OCI_INDEX), body.as_bytes()).is_ok());
        assert!(parse(Some(OCI_INDEX), b"{not json").is_err());
        assert!(parse(Some(OCI_MANIFEST), br#"{"schemaVersion":2,"layers":[]}"#).is_err());
    }
}
