//! Manifests and indexes on the wire: the `Accept` list, media-type
//! detection, and choosing a platform from an index (OCI image-spec
//! `image-index.md`; Docker's manifest list).

use std::fmt;
use std::str::FromStr;

use berth_image::oci::{self, Descriptor, Index, Manifest};

use crate::error::{DistributionError, Result};

/// The `Accept` header for manifest requests: OCI manifest and index,
/// Docker schema 2 manifest and manifest list (what dockerd sends, minus
/// schema 1, which Berth does not pull).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest manifest or index accepted, bytes (containerd's limit).
pub const MANIFEST_MAX: usize = 4 << 20;

/// Largest image config accepted, bytes.
pub const CONFIG_MAX: u64 = 8 << 20;

/// What a manifest response turned out to be.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// An image manifest (OCI or Docker schema 2).
    Manifest(Manifest),
    /// An index or manifest list.
    Index(Index),
}

/// The media type of a manifest body: the `Content-Type` when it names a
/// known type, else the body's `mediaType`, else by shape (`manifests`
/// means index, `config` means manifest).
pub fn media_type_of(content_type: Option<&str>, body: &[u8]) -> Result<String> {
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    if oci::is_manifest(&ct) || oci::is_index(&ct) {
        return Ok(ct);
    }
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| DistributionError::Protocol(format!("invalid manifest JSON: {e}")))?;
    if let Some(mt) = v.get("mediaType").and_then(|m| m.as_str()) {
        return Ok(mt.to_string());
    }
    if v.get("manifests").is_some() {
        Ok(oci::MT_OCI_INDEX.to_string())
    } else if v.get("config").is_some() {
        Ok(oci::MT_OCI_MANIFEST.to_string())
    } else if v.get("schemaVersion").and_then(|s| s.as_u64()) == Some(1) {
        Err(DistributionError::Protocol(
            "unsupported manifest format: Docker image manifest schema 1".into(),
        ))
    } else {
        Err(DistributionError::Protocol(format!(
            "unsupported manifest media type {ct:?}"
        )))
    }
}

/// Parses a manifest body of media type `mt`.
pub fn parse(mt: &str, body: &[u8]) -> Result<Fetched> {
    let bad = |e: serde_json::Error| DistributionError::Protocol(format!("invalid manifest: {e}"));
    if oci::is_index(mt) {
        Ok(Fetched::Index(serde_json::from_slice(body).map_err(bad)?))
    } else if oci::is_manifest(mt) {
        Ok(Fetched::Manifest(
            serde_json::from_slice(body).map_err(bad)?,
        ))
    } else {
        Err(DistributionError::Protocol(format!(
            "unsupported manifest media type {mt:?}"
        )))
    }
}

/// A platform as `--platform` names it: `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// GOARCH: `amd64`, `arm64`, `arm`.
    pub architecture: String,
    /// `v8`, `v7`; None matches the architecture's default.
    pub variant: Option<String>,
}

impl Default for Platform {
    /// linux/amd64: what Berth runs.
    fn default() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl FromStr for Platform {
    type Err = DistributionError;

    /// `linux/arm64/v8`, `linux/amd64`, `arm64` (os linux). Normalises
    /// like containerd's platforms package: `x86_64`/`x86-64` -> `amd64`,
    /// `aarch64` -> `arm64`, `armhf` -> `arm/v7`.
    fn from_str(s: &str) -> Result<Platform> {
        let parts: Vec<String> = s
            .split('/')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect();
        let bad = || {
            DistributionError::InvalidArgument(format!(
                "\"{s}\": unknown operating system or architecture: invalid argument"
            ))
        };
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(bad());
        }
        let (os, arch, variant) = match parts.len() {
            1 => ("linux".to_string(), parts[0].clone(), None),
            2 => (parts[0].clone(), parts[1].clone(), None),
            _ => (parts[0].clone(), parts[1].clone(), Some(parts[2].clone())),
        };
        let (arch, variant) = match arch.as_str() {
            "x86_64" | "x86-64" => ("amd64".to_string(), variant),
            "aarch64" => ("arm64".to_string(), variant),
            "armhf" => ("arm".to_string(), variant.or(Some("v7".into()))),
            "armel" => ("arm".to_string(), variant.or(Some("v6".into()))),
            _ => (arch, variant),
        };
        if !os.bytes().all(|b| b.is_ascii_alphanumeric())
            || !arch.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(bad());
        }
        Ok(Platform {
            os,
            architecture: arch,
            variant,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

impl Platform {
    /// True when an index entry's platform matches this one: same OS and
    /// architecture, and the same variant (an absent variant counts as
    /// the architecture's default: arm64 -> v8, arm -> v7).
    pub fn matches(&self, p: &oci::Platform) -> bool {
        if p.os != self.os || p.architecture != self.architecture {
            return false;
        }
        let want = self
            .variant
            .as_deref()
            .or(default_variant(&self.architecture));
        let have = p.variant.as_deref().or(default_variant(&p.architecture));
        self.variant.is_none() || want == have
    }

    /// The best entry of `idx` for this platform: the first matching one
    /// whose media type is a manifest (with an exact variant preferred).
    /// Errors: [`DistributionError::NoMatchingPlatform`].
    pub fn choose<'a>(&self, idx: &'a Index) -> Result<&'a Descriptor> {
        let candidates: Vec<&Descriptor> = idx
            .manifests
            .iter()
            .filter(|d| oci::is_manifest(&d.media_type) || d.media_type.is_empty())
            .filter(|d| d.platform.as_ref().is_some_and(|p| self.matches(p)))
            .collect();
        let exact = candidates.iter().find(|d| {
            d.platform.as_ref().and_then(|p| p.variant.as_deref())
                == self
                    .variant
                    .as_deref()
                    .or(default_variant(&self.architecture))
        });
        exact
            .or(candidates.first())
            .copied()
            .ok_or_else(|| DistributionError::NoMatchingPlatform(self.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse() {
        assert_eq!(
            "linux/amd64".parse::<Platform>().unwrap(),
            Platform::default()
        );
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(
            "aarch64".parse::<Platform>().unwrap().to_string(),
            "linux/arm64"
        );
        assert!("linux//x".parse::<Platform>().is_err());
    }

    #[test]
    fn variant_defaults() {
        let entry = oci::Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: None,
            os_version: None,
        };
        assert!("linux/arm64/v8"
            .parse::<Platform>()
            .unwrap()
            .matches(&entry));
        assert!("linux/arm64".parse::<Platform>().unwrap().matches(&entry));
        assert!(!Platform::default().matches(&entry));
    }
}
