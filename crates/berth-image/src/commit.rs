//! `docker commit` on the image side: a new image made of a parent image
//! plus one layer taken from a container's read-write layer (a directory
//! diff in overlayfs's format), with the run config the engine merged.
//!
//! The layer is the overlay upper directory written as an image-spec layer
//! tar (image-spec `layer.md`, "Whiteouts": a 0/0 character device becomes
//! `.wh.NAME`, an opaque directory gets `.wh..wh..opq`), stored
//! uncompressed (media type `application/vnd.oci.image.layer.v1.tar`, so its
//! diff ID is its blob digest, as dockerd keeps a committed layer), then
//! extracted into the layer store like any pulled layer so that the image
//! stays whole when the container is removed.

use std::io::Write;
use std::path::Path;

use berth_store::{layer, ImageRecord};
use berth_types::Digest;

use crate::archive::Prepared;
use crate::oci::{self, Descriptor, History, ImageConfig, Manifest, RunConfig};
use crate::reference::Reference;
use crate::{changes, time, ImageError, ImageService, Result};

/// What `POST /commit` asks of the image service.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The container's image ID (the parent of the new image).
    pub parent: String,
    /// The run config of the new image, already merged by the engine (see
    /// [`merge_run_config`]).
    pub config: RunConfig,
    /// `repo[:tag]` to tag the new image with (`repo` and `tag` of the
    /// query); None: untagged.
    pub reference: Option<String>,
    /// `comment` (`docker commit -m`): the image's and the history entry's
    /// comment.
    pub comment: Option<String>,
    /// `author` (`docker commit -a`).
    pub author: Option<String>,
    /// The history entry's `created_by`: the container's command line
    /// (`Path` and `Args` joined with spaces, as dockerd writes it).
    pub created_by: String,
    /// The container's ID, kept in the config's `container` field as
    /// dockerd does.
    pub container_id: String,
}

/// Applies `--change` lines (Dockerfile syntax: CMD, ENTRYPOINT, ENV,
/// EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL, ONBUILD, HEALTHCHECK) to
/// `cfg`, in order. Errors (400): `from is not a valid change command` and malformed
/// arguments, with dockerd's wording; `cfg` may be partly changed then.
pub fn apply_changes(cfg: &mut RunConfig, lines: &[String]) -> Result<()> {
    for l in lines {
        changes::apply(cfg, l)?;
    }
    Ok(())
}

/// dockerd's `merge(userConf, imageConf)` of the commit path: fills what
/// `user` (the request's config with the changes applied) leaves empty from
/// `base` (the container's config): `User`, `WorkingDir`, `StopSignal` when
/// empty; `ExposedPorts`, `Labels` and `Volumes` are unions (`user` wins a
/// label); `Env` gets each of `base`'s variables whose name `user` does not
/// set; `Cmd` (only when `user` has neither `Cmd` nor `Entrypoint`) and
/// `Entrypoint` (when `user` has none); the extras (`Healthcheck`,
/// `OnBuild`, `Shell`, `ArgsEscaped`) when absent.
pub fn merge_run_config(user: &mut RunConfig, base: &RunConfig) {
    if user.user.as_deref().unwrap_or("").is_empty() {
        user.user = base.user.clone();
    }
    if let Some(bp) = &base.exposed_ports {
        let up = user.exposed_ports.get_or_insert_with(Default::default);
        for (k, v) in bp {
            up.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    match (&mut user.env, &base.env) {
        (None, Some(b)) => user.env = Some(b.clone()),
        (Some(u), Some(b)) if u.is_empty() => *u = b.clone(),
        (Some(u), Some(b)) => {
            for e in b {
                let k = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
                if !u
                    .iter()
                    .any(|x| x.split_once('=').map(|(k, _)| k).unwrap_or(x) == k)
                {
                    u.push(e.clone());
                }
            }
        }
        _ => {}
    }
    if let Some(bl) = &base.labels {
        let ul = user.labels.get_or_insert_with(Default::default);
        for (k, v) in bl {
            ul.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if user.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = base.cmd.clone();
            if let Some(a) = base.extra.get("ArgsEscaped") {
                user.extra.insert("ArgsEscaped".into(), a.clone());
            }
        }
        if user.entrypoint.is_none() {
            user.entrypoint = base.entrypoint.clone();
        }
    }
    if user.working_dir.as_deref().unwrap_or("").is_empty() {
        user.working_dir = base.working_dir.clone();
    }
    if let Some(bv) = &base.volumes {
        let uv = user.volumes.get_or_insert_with(Default::default);
        for (k, v) in bv {
            uv.insert(k.clone(), v.clone());
        }
    }
    if user.stop_signal.as_deref().unwrap_or("").is_empty() {
        user.stop_signal = base.stop_signal.clone();
    }
    for k in ["Healthcheck", "OnBuild", "Shell"] {
        if let Some(v) = base.extra.get(k) {
            user.extra.entry(k.to_string()).or_insert_with(|| v.clone());
        }
    }
}

/// The OCI media type for a layer descriptor of `parent`'s manifest: Docker
/// schema 2 layer types become their OCI equivalents (same bytes), so the
/// new manifest is one OCI manifest.
fn oci_layer_type(mt: &str) -> String {
    match mt {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => oci::MT_OCI_LAYER_GZIP.into(),
        "application/vnd.docker.image.rootfs.diff.tar" => oci::MT_OCI_LAYER_TAR.into(),
        "application/vnd.docker.image.rootfs.diff.tar.zstd" => oci::MT_OCI_LAYER_ZSTD.into(),
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip".into()
        }
        other => other.to_string(),
    }
}

impl ImageService {
    /// `POST /commit`: makes a new image from `opts.parent` plus one layer,
    /// the tree at `upperdir` (a container's rw layer, overlayfs format)
    /// written as a layer tar with image-spec whiteouts; entries whose
    /// relative path `skip` returns true for are left out (the runtime's
    /// mount points). Adds a history entry (`created_by`, `author`,
    /// `comment`), sets `author`, `comment`, `created`, `container` and the
    /// run config, tags it with `opts.reference`. Returns the image ID.
    ///
    /// Errors: a bad reference (400, checked before anything is written),
    /// `No such image` for a parent gone (404), I/O (500). Nothing is left
    /// behind on error (GC removes the unreferenced blob and layer).
    pub fn commit_layer_diff(
        &self,
        upperdir: &Path,
        skip: &dyn Fn(&Path) -> bool,
        opts: &CommitOptions,
    ) -> Result<Digest> {
        let reference = opts
            .reference
            .as_deref()
            .map(Reference::parse)
            .transpose()?;
        if reference.as_ref().is_some_and(|r| r.digest().is_some()) {
            return Err(ImageError::InvalidReference(
                "invalid reference format".into(),
            ));
        }
        let parent = self.resolve(&opts.parent)?;
        let result = {
            let _g = self.store().write_guard();
            self.commit_locked(upperdir, skip, opts, &parent, reference)
        };
        if result.is_err() {
            let _ = self.store().gc();
        }
        result
    }

    fn commit_locked(
        &self,
        upperdir: &Path,
        skip: &dyn Fn(&Path) -> bool,
        opts: &CommitOptions,
        parent: &Digest,
        reference: Option<Reference>,
    ) -> Result<Digest> {
        let store = self.store();
        let prec = store
            .db
            .image(parent)?
            .ok_or_else(|| ImageError::NoSuchImage(parent.to_string()))?;
        let pcfg: ImageConfig = serde_json::from_slice(&prec.config)
            .map_err(|e| ImageError::BadArchive(format!("stored config {parent}: {e}")))?;
        let pman: Manifest = serde_json::from_slice(&store.content.read(&prec.manifest)?)
            .map_err(|e| ImageError::BadArchive(format!("stored manifest {parent}: {e}")))?;

        // The layer blob: uncompressed, so its digest is its diff ID.
        let mut w = store.content.writer(None, None)?;
        w = layer::write_tar_filtered(upperdir, w, true, skip)?;
        w.flush().map_err(berth_store::StoreError::io(upperdir))?;
        let size = w.written();
        let blob = w.commit()?;
        let top_chain = prec.layers.last().cloned();
        let mut f = store.content.open_blob(&blob)?;
        let lrec = store.unpack_layer(&mut f, top_chain.as_ref(), Some(&blob))?;

        let now = time::rfc3339_nano(&time::now());
        let comment = opts.comment.clone().filter(|c| !c.is_empty());
        let author = opts.author.clone().filter(|a| !a.is_empty());
        let mut cfg = pcfg;
        cfg.created = Some(now.clone());
        cfg.author = author.clone();
        cfg.comment = comment.clone();
        cfg.config = Some(opts.config.clone());
        cfg.rootfs.kind = "layers".into();
        cfg.rootfs.diff_ids.push(lrec.diff_id.clone());
        cfg.history.push(History {
            created: Some(now),
            author,
            created_by: Some(opts.created_by.clone()),
            comment,
            empty_layer: false,
        });
        cfg.extra.insert(
            "container".into(),
            serde_json::Value::String(opts.container_id.clone()),
        );
        let config = serde_json::to_vec(&cfg).expect("config serialises");
        let config_digest = store.content.put(&config, None)?;

        let mut layers: Vec<Descriptor> = pman
            .layers
            .iter()
            .map(|d| Descriptor {
                media_type: oci_layer_type(&d.media_type),
                ..d.clone()
            })
            .collect();
        layers.push(Descriptor {
            media_type: oci::MT_OCI_LAYER_TAR.into(),
            digest: blob.clone(),
            size,
            annotations: None,
            platform: None,
        });
        let mut blobs: Vec<Digest> = layers.iter().map(|d| d.digest.clone()).collect();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MT_OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: oci::MT_OCI_CONFIG.into(),
                digest: config_digest.clone(),
                size: config.len() as u64,
                annotations: None,
                platform: None,
            },
            layers,
            annotations: None,
        };
        let md = store
            .content
            .put(&serde_json::to_vec(&manifest).expect("json"), None)?;
        blobs.push(config_digest.clone());
        blobs.push(md.clone());
        let mut chains = prec.layers.clone();
        chains.push(lrec.chain_id.clone());
        let record = ImageRecord {
            id: config_digest.clone(),
            manifest: md,
            config,
            created: time::now().timestamp(),
            size: prec.size + lrec.size,
            layers: chains,
            blobs,
            added: time::now_nanos(),
        };
        self.commit(vec![Prepared {
            record,
            refs: reference.into_iter().collect(),
        }])?;
        Ok(config_digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(json: &str) -> RunConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn merge_fills_what_the_request_leaves_empty() {
        let base = rc(r#"{"User":"u","Env":["PATH=/bin","A=0"],"Cmd":["sh"],
            "Labels":{"x":"1","y":"2"},"ExposedPorts":{"80/tcp":{}},"WorkingDir":"/w",
            "StopSignal":"SIGINT","Volumes":{"/v":{}}}"#);
        let mut user = rc(r#"{"Env":["A=1"],"Labels":{"x":"9"},"ExposedPorts":{"81/tcp":{}}}"#);
        merge_run_config(&mut user, &base);
        assert_eq!(user.user.as_deref(), Some("u"));
        assert_eq!(user.env.as_deref().unwrap(), ["A=1", "PATH=/bin"]);
        assert_eq!(user.cmd.as_deref().unwrap(), ["sh"]);
        let l = user.labels.unwrap();
        assert_eq!((l["x"].as_str(), l["y"].as_str()), ("9", "2"));
        assert_eq!(user.exposed_ports.unwrap().len(), 2);
        assert_eq!(user.working_dir.as_deref(), Some("/w"));
        assert_eq!(user.stop_signal.as_deref(), Some("SIGINT"));
        assert!(user.volumes.unwrap().contains_key("/v"));
    }

    #[test]
    fn an_entrypoint_in_the_request_keeps_the_containers_cmd_out() {
        let base = rc(r#"{"Cmd":["sh"],"Entrypoint":["/e"]}"#);
        let mut user = rc(r#"{"Entrypoint":["/mine"]}"#);
        merge_run_config(&mut user, &base);
        assert_eq!(user.cmd, None);
        assert_eq!(user.entrypoint.as_deref().unwrap(), ["/mine"]);
    }

    #[test]
    fn docker_layer_types_become_oci_ones() {
        assert_eq!(
            oci_layer_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            oci::MT_OCI_LAYER_GZIP
        );
        assert_eq!(
            oci_layer_type(oci::MT_OCI_LAYER_ZSTD),
            oci::MT_OCI_LAYER_ZSTD
        );
    }
}
