//! The digests and sizes of the fixture images, read from the fixture
//! files themselves.
//!
//! `make-images.sh` is not reproducible: every build stamps new file
//! mtimes into the layer tars and a new `created` time into the config
//! (umoci), so a fresh machine gets a new image ID, new layer digests and
//! new compressed sizes. A test that asserts one of those values must read
//! it here instead of hardcoding it; the assertion stays exact.
//!
//! Which value a test sees depends on what it feeds Berth:
//! - an OCI layout pushed by `skopeo copy oci:...` (no conversion, no
//!   recompression) keeps the layout's manifest digest
//!   ([`OciFixture::manifest_digest`]) and its layer descriptors
//!   ([`OciFixture::layers`]: the compressed digest and size a registry
//!   serves and a pull reports);
//! - the image ID ([`OciFixture::id`], the config digest) is the same for
//!   every format of one image, since all carry the same config bytes;
//! - a docker-archive ([`docker_archive`]) holds uncompressed layer tars
//!   named by their digest, which is the config's `rootfs.diff_ids` entry
//!   ([`OciFixture::diff_ids`]), not the OCI layout's compressed digest.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One OCI content descriptor (image-spec `descriptor.md`): a blob's
/// media type, `sha256:<hex>` digest and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// `mediaType`, e.g. `application/vnd.oci.image.layer.v1.tar+gzip`.
    pub media_type: String,
    /// `digest`, `sha256:` and 64 hex digits.
    pub digest: String,
    /// `size` in bytes (of the blob as stored: compressed for layers).
    pub size: u64,
}

/// What an OCI image layout fixture (`busybox-oci`, `debian-oci`) holds,
/// from its `index.json`, the manifest it names first and that manifest's
/// config.
#[derive(Debug, Clone)]
pub struct OciFixture {
    /// The layout directory.
    pub dir: PathBuf,
    /// Digest of the manifest blob (`sha256:<hex>`): the `Digest:` a pull
    /// of the pushed layout prints and the `@sha256:` of its RepoDigests.
    pub manifest_digest: String,
    /// Size of the manifest blob in bytes.
    pub manifest_size: u64,
    /// The config descriptor's digest (`sha256:<hex>`): the image ID
    /// (`docker images --no-trunc`, Engine API `Id`).
    pub id: String,
    /// Size of the config blob in bytes.
    pub config_size: u64,
    /// The manifest's layer descriptors, base layer first (compressed
    /// digests and sizes, as a registry serves them).
    pub layers: Vec<Descriptor>,
    /// The config's `rootfs.diff_ids`: digests of the uncompressed layer
    /// tars (Engine API `RootFS.Layers`), base layer first.
    pub diff_ids: Vec<String>,
}

impl OciFixture {
    /// The single layer of a one-layer fixture (all of ours are).
    ///
    /// Panics when the manifest has another number of layers.
    pub fn layer(&self) -> &Descriptor {
        assert_eq!(
            self.layers.len(),
            1,
            "{} has {} layers",
            self.dir.display(),
            self.layers.len()
        );
        &self.layers[0]
    }

    /// The bytes of the blob with this `sha256:<hex>` digest.
    ///
    /// Panics when the layout does not hold it.
    pub fn blob(&self, digest: &str) -> Vec<u8> {
        read(&blob_path(&self.dir, digest))
    }
}

/// Reads the OCI layout fixture `name` (e.g. `"busybox-oci"`) under
/// [`crate::fixtures_dir`].
///
/// Panics (with the file and field) when the fixture is missing or its
/// `index.json`, manifest or config is not what umoci writes.
pub fn oci_fixture(name: &str) -> OciFixture {
    let dir = crate::fixture(name);
    let index = json(&read(&dir.join("index.json")), "index.json");
    let m = &index["manifests"][0];
    let manifest_digest = string(m, "digest", "index.json manifests[0]");
    let manifest_size = number(m, "size", "index.json manifests[0]");
    let manifest = json(&read(&blob_path(&dir, &manifest_digest)), &manifest_digest);
    let config = descriptor(&manifest["config"], "manifest config");
    let layers = manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("manifest {manifest_digest} has no layers array"))
        .iter()
        .map(|l| descriptor(l, "manifest layer"))
        .collect();
    let cfg = json(&read(&blob_path(&dir, &config.digest)), &config.digest);
    let diff_ids = cfg["rootfs"]["diff_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("config {} has no rootfs.diff_ids", config.digest))
        .iter()
        .map(|d| d.as_str().expect("diff_id is a string").to_string())
        .collect();
    OciFixture {
        dir,
        manifest_digest,
        manifest_size,
        id: config.digest,
        config_size: config.size,
        layers,
        diff_ids,
    }
}

/// The `manifest.json` entry of a docker-archive fixture (the format of
/// `docker save`, here written by skopeo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerArchive {
    /// The image ID, `sha256:<hex>`, from the `Config` file name.
    pub id: String,
    /// `RepoTags`, e.g. `["docker.io/library/busybox:latest"]`.
    pub repo_tags: Vec<String>,
    /// The uncompressed layer digests (`sha256:<hex>`) from the `Layers`
    /// file names: equal to the config's `rootfs.diff_ids`.
    pub layers: Vec<String>,
}

/// Reads `manifest.json` (its first image) out of the docker-archive
/// fixture `name` (e.g. `"busybox-docker.tar"`) with the system tar.
///
/// Panics when the archive or its manifest is missing or malformed.
pub fn docker_archive(name: &str) -> DockerArchive {
    let tar = crate::fixture(name);
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(&tar)
        .arg("manifest.json")
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "tar -xOf {} manifest.json: {}",
        tar.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let m = json(&out.stdout, "manifest.json");
    let m = &m[0];
    let digest_of = |file: &str| -> String {
        let hex = file
            .rsplit('/')
            .next()
            .unwrap_or(file)
            .trim_end_matches(".json")
            .trim_end_matches(".tar");
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{file} in {} is not named by its digest",
            tar.display()
        );
        format!("sha256:{hex}")
    };
    let strings = |field: &str| -> Vec<String> {
        m[field]
            .as_array()
            .unwrap_or_else(|| panic!("manifest.json in {} has no {field}", tar.display()))
            .iter()
            .map(|v| v.as_str().expect("a string").to_string())
            .collect()
    };
    DockerArchive {
        id: digest_of(&string(m, "Config", "manifest.json")),
        repo_tags: strings("RepoTags"),
        layers: strings("Layers").iter().map(|l| digest_of(l)).collect(),
    }
}

/// The 12-hex short form Docker prints for a digest or ID
/// (`sha256:0123456789ab…` gives `0123456789ab`), as in pull and push
/// progress lines and `docker images`.
///
/// Panics when `digest` is not `sha256:` and at least 12 hex digits.
pub fn short_id(digest: &str) -> &str {
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("{digest} is not a sha256 digest"));
    assert!(hex.len() >= 12, "{digest} is too short");
    &hex[..12]
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("{digest} is not a sha256 digest"));
    dir.join("blobs/sha256").join(hex)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn json(bytes: &[u8], what: &str) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("parse {what}: {e}"))
}

fn string(v: &Value, field: &str, what: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{what} has no string {field}"))
        .to_string()
}

fn number(v: &Value, field: &str, what: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{what} has no number {field}"))
}

fn descriptor(v: &Value, what: &str) -> Descriptor {
    Descriptor {
        media_type: string(v, "mediaType", what),
        digest: string(v, "digest", what),
        size: number(v, "size", what),
    }
}
