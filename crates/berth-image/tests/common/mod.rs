//! Archive builders for the image tests: docker-archives and OCI layouts
//! made from parts, so that tests can break one part at a time.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth_image::ImageService;
use berth_types::Digest;
use serde_json::{json, Value};

/// A tar of (name, bytes) regular files, in order.
pub fn tar_files(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_000_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A layer tar with one file per name (content: the name).
pub fn layer(names: &[&str]) -> Vec<u8> {
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, n.as_bytes())).collect();
    tar_files(&files)
}

/// An image config for layers whose diff IDs are given.
pub fn config(arch: &str, diff_ids: &[Digest], cmd: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "created": "2024-05-06T07:08:09.123456789Z",
        "config": {"Cmd": [cmd], "Labels": {"made": "test"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": diff_ids.iter().map(|_| json!({"created_by": "test"})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// A legacy docker-archive (`manifest.json` + `<hex>.json` + `<hex>.tar`).
pub fn docker_archive(layers: &[Vec<u8>], cfg: &[u8], tags: &[&str]) -> Vec<u8> {
    let cfg_name = format!("{}.json", Digest::sha256_of(cfg).hex());
    let mut names = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for l in layers {
        let n = format!("{}/layer.tar", Digest::sha256_of(l).hex());
        names.push(n.clone());
        files.push((n, l.clone()));
    }
    files.push((cfg_name.clone(), cfg.to_vec()));
    let manifest = json!([{"Config": cfg_name, "RepoTags": tags, "Layers": names}]);
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    tar_files(&refs)
}

/// Blobs and index of an OCI image layout, to tar up with [`oci_tar`].
#[derive(Default)]
pub struct Layout {
    pub blobs: Vec<(String, Vec<u8>)>,
    pub index: Value,
}

impl Layout {
    /// Adds a blob under its own digest; returns its descriptor.
    pub fn blob(&mut self, media_type: &str, data: &[u8]) -> Value {
        let d = Digest::sha256_of(data);
        self.blobs
            .push((format!("blobs/sha256/{}", d.hex()), data.to_vec()));
        json!({"mediaType": media_type, "digest": d.to_string(), "size": data.len()})
    }

    /// Adds an image (layers, config) and returns its manifest descriptor.
    pub fn image(&mut self, layers: &[Vec<u8>], cfg: &[u8], layer_mt: &str) -> Value {
        let cdesc = self.blob("application/vnd.oci.image.config.v1+json", cfg);
        let ldescs: Vec<Value> = layers.iter().map(|l| self.blob(layer_mt, l)).collect();
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": cdesc,
            "layers": ldescs,
        }))
        .unwrap();
        self.blob("application/vnd.oci.image.manifest.v1+json", &m)
    }
}

/// The layout as a tar (an oci-archive).
pub fn oci_tar(l: &Layout) -> Vec<u8> {
    let index = serde_json::to_vec(&l.index).unwrap();
    let mut files: Vec<(&str, &[u8])> = vec![
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
        ("index.json", &index),
    ];
    for (n, d) in &l.blobs {
        files.push((n.as_str(), d.as_slice()));
    }
    tar_files(&files)
}

/// What a store holds, to compare before and after a failed operation.
#[derive(Debug, PartialEq, Eq)]
pub struct State {
    pub images: Vec<String>,
    pub tags: BTreeSet<String>,
    pub blobs: BTreeSet<String>,
    pub layers: BTreeSet<String>,
    pub layer_dirs: BTreeSet<String>,
    pub ingest: usize,
}

pub fn state(svc: &ImageService, root: &Path) -> State {
    let list = svc.list(&Default::default()).unwrap();
    State {
        images: list.iter().map(|i| i.id.clone()).collect(),
        tags: list.iter().flat_map(|i| i.repo_tags.clone()).collect(),
        blobs: svc
            .store()
            .content
            .list()
            .unwrap()
            .iter()
            .map(|d| d.to_string())
            .collect(),
        layers: svc
            .store()
            .db
            .layers()
            .unwrap()
            .iter()
            .map(|l| l.chain_id.to_string())
            .collect(),
        layer_dirs: std::fs::read_dir(root.join("layers"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        ingest: std::fs::read_dir(root.join("ingest")).unwrap().count(),
    }
}

/// Runs skopeo; panics with its stderr on failure. Returns stdout.
pub fn skopeo(args: &[&str]) -> String {
    let out = std::process::Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Layer digests `skopeo inspect` reports for `transport_ref`.
pub fn skopeo_layers(transport_ref: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(&skopeo(&["inspect", transport_ref])).unwrap();
    v["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

pub fn root_of(tmp: &Path) -> PathBuf {
    tmp.join("root")
}
