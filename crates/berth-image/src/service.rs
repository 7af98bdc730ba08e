//! [`ImageService`]: the image operations of the Engine API over a
//! [`Store`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_store::{layer, ImageRecord, LayerRecord, OverlayMount, RefKind, Store, StoreError};
use berth_types::Digest;

use crate::archive::{self, Contents, Prepared, ToSave};
use crate::oci::{self, Descriptor, History, ImageConfig, Manifest, RootFs, RunConfig};
use crate::reference::Reference;
use crate::types::*;
use crate::{changes, time, ImageError, Result};

/// The image service. `Send + Sync`; share it in an `Arc`.
pub struct ImageService {
    store: Store,
    /// Serialises reference changes with the image removals that read them.
    names: Mutex<()>,
}

fn short(d: &Digest) -> &str {
    d.short()
}

impl ImageService {
    /// Opens the store at `data_root` (see `berth_store::Store::open`:
    /// creates it, locks it, cleans up after a crash).
    pub fn open(data_root: &Path) -> Result<ImageService> {
        let store = Store::open(data_root)?;
        crate::pulled::remove_stale_staging(data_root);
        Ok(ImageService {
            store,
            names: Mutex::new(()),
        })
    }

    /// The store below, for the engine's own needs.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn lock_names(&self) -> std::sync::MutexGuard<'_, ()> {
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---------------------------------------------------------------- lookup

    /// Resolves a name as Docker does for image commands: a full ID
    /// (`sha256:<hex>` or `<hex>`), a reference (`busybox`, `busybox:1`,
    /// `repo@sha256:...`), or a unique ID prefix (`e3b0c4`). Returns the
    /// image ID.
    ///
    /// Errors: `No such image: <name>` (404); an invalid reference that is
    /// not an ID prefix either gives Docker's reference error (400).
    pub fn resolve(&self, name: &str) -> Result<Digest> {
        Ok(self.lookup(name)?.0)
    }

    /// (image ID, Some(reference) when `name` was a reference).
    fn lookup(&self, name: &str) -> Result<(Digest, Option<Reference>)> {
        let hexpart = name.strip_prefix("sha256:").unwrap_or(name);
        let is_hex = !hexpart.is_empty()
            && hexpart
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if is_hex && hexpart.len() == 64 {
            let d = Digest::new(berth_types::Algorithm::Sha256, hexpart).expect("valid hex");
            return match self.store.db.image(&d)? {
                Some(_) => Ok((d, None)),
                None => Err(ImageError::NoSuchImage(name.to_string())),
            };
        }
        let parsed = if name.starts_with("sha256:") {
            None
        } else {
            Some(Reference::parse(name))
        };
        if let Some(Ok(r)) = &parsed {
            if let Some(id) = self.store.db.resolve_ref(&r.to_string())? {
                return Ok((id, Some(r.clone())));
            }
            if let Some(d) = r.digest() {
                // repo@digest: also matches the image whose manifest has it.
                for img in self.store.db.images()? {
                    if &img.manifest == d {
                        return Ok((img.id, None));
                    }
                }
            }
        }
        if is_hex && hexpart.len() >= 4 {
            let found = self.store.db.images_by_prefix(hexpart)?;
            if found.len() == 1 {
                return Ok((found[0].clone(), None));
            }
        }
        match parsed {
            Some(Err(e)) => Err(e),
            _ => Err(ImageError::NoSuchImage(name.to_string())),
        }
    }

    fn record(&self, id: &Digest) -> Result<ImageRecord> {
        self.store
            .db
            .image(id)?
            .ok_or_else(|| ImageError::NoSuchImage(id.to_string()))
    }

    fn config_of(rec: &ImageRecord) -> Result<ImageConfig> {
        serde_json::from_slice(&rec.config)
            .map_err(|e| ImageError::BadArchive(format!("stored config {}: {e}", rec.id)))
    }

    fn refs_of(&self, id: &Digest) -> Result<(Vec<String>, Vec<String>)> {
        let mut tags = Vec::new();
        let mut digests = Vec::new();
        for (n, k) in self.store.db.refs_of(id)? {
            let f = Reference::parse(&n).map(|r| r.familiar()).unwrap_or(n);
            match k {
                RefKind::Tag => tags.push(f),
                RefKind::Digest => digests.push(f),
            }
        }
        Ok((tags, digests))
    }

    // ------------------------------------------------------------ load/save

    /// `docker load`: reads a tar stream (docker-archive in either layout, or
    /// an OCI image layout as a tar; any of them may be gzip/zstd
    /// compressed), stores its blobs and layers, and records its images and
    /// tags. `progress` is called once per layer.
    ///
    /// Atomic per archive: on any error (truncated or corrupt archive,
    /// digest mismatch, a layer that is not a tar, an unknown media type, a
    /// bad tag) nothing is recorded and what was written is collected.
    pub fn load(&self, r: impl Read, progress: &mut dyn FnMut(&Progress)) -> Result<Vec<Loaded>> {
        let plain = layer::decompress(r)
            .map_err(|e| ImageError::BadArchive(format!("cannot read archive: {e}")))?;
        let result = {
            let _g = self.store.write_guard();
            Contents::read_tar(&self.store, plain)
                .and_then(|c| archive::prepare_images(&self.store, &c, progress))
                .and_then(|p| self.commit(p))
        };
        if result.is_err() {
            let _ = self.store.gc();
        }
        result
    }

    /// Loads a file: an OCI image layout directory, or an archive file as
    /// [`ImageService::load`] reads.
    pub fn load_path(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Vec<Loaded>> {
        if path.is_dir() {
            let result = {
                let _g = self.store.write_guard();
                Contents::read_dir(&self.store, path)
                    .and_then(|c| archive::prepare_images(&self.store, &c, progress))
                    .and_then(|p| self.commit(p))
            };
            if result.is_err() {
                let _ = self.store.gc();
            }
            return result;
        }
        let f = std::fs::File::open(path)
            .map_err(|e| ImageError::InvalidArgument(format!("open {}: {e}", path.display())))?;
        self.load(std::io::BufReader::with_capacity(1 << 20, f), progress)
    }

    pub(crate) fn commit(&self, prepared: Vec<Prepared>) -> Result<Vec<Loaded>> {
        let _n = self.lock_names();
        let mut out = Vec::new();
        for p in &prepared {
            let refs: Vec<(String, RefKind)> = p
                .refs
                .iter()
                .map(|r| (r.to_string(), RefKind::Tag))
                .collect();
            self.store.db.insert_image(&p.record, &refs)?;
            if p.refs.is_empty() {
                out.push(Loaded {
                    id: p.record.id.clone(),
                    reference: None,
                });
            }
            for r in &p.refs {
                out.push(Loaded {
                    id: p.record.id.clone(),
                    reference: Some(r.familiar()),
                });
            }
        }
        Ok(out)
    }

    /// `docker save`: writes the named images (references or IDs) as one
    /// docker-archive in Docker 25+'s layout (an OCI image layout plus
    /// `manifest.json` and `repositories`), which `docker load` and skopeo
    /// (`docker-archive:` and `oci-archive:`) read. A reference writes that
    /// tag; an ID writes every tag of the image.
    pub fn save(&self, names: &[&str], w: impl Write) -> Result<()> {
        if names.is_empty() {
            return Err(ImageError::InvalidArgument("no images to save".into()));
        }
        let mut list: Vec<ToSave> = Vec::new();
        for n in names {
            let (id, r) = self.lookup(n)?;
            let refs = match r {
                Some(r) => vec![r],
                None => self
                    .store
                    .db
                    .refs_of(&id)?
                    .into_iter()
                    .filter(|(_, k)| *k == RefKind::Tag)
                    .filter_map(|(n, _)| Reference::parse(&n).ok())
                    .collect(),
            };
            match list.iter_mut().find(|t| t.record.id == id) {
                Some(t) => {
                    for r in refs {
                        if !t.refs.contains(&r) {
                            t.refs.push(r)
                        }
                    }
                }
                None => list.push(ToSave {
                    record: self.record(&id)?,
                    refs,
                }),
            }
        }
        archive::write_archive(&self.store, &list, w)
    }

    // ---------------------------------------------------------------- import

    /// `docker import`: makes a one-layer image from a rootfs tarball
    /// (plain, gzip or zstd), with `--change` lines and `--message` applied,
    /// tagged with `opts.reference` when given. Returns the image ID.
    ///
    /// Errors: a bad change line or reference (400, checked before anything
    /// is written), a stream that is not a tar (400).
    pub fn import(&self, r: impl Read, opts: &ImportOptions) -> Result<Digest> {
        let mut run = RunConfig::default();
        for c in &opts.changes {
            changes::apply(&mut run, c)?;
        }
        let reference = opts
            .reference
            .as_deref()
            .map(Reference::parse)
            .transpose()?;
        if reference.as_ref().is_some_and(|r| r.digest().is_some()) {
            return Err(ImageError::InvalidReference(
                "invalid reference format: import cannot tag with a digest".into(),
            ));
        }
        let (os, arch) = match opts.platform.as_deref() {
            None | Some("") => ("linux".to_string(), "amd64".to_string()),
            Some(p) => {
                let mut it = p.split('/');
                (
                    it.next().unwrap_or("linux").to_string(),
                    it.next().unwrap_or("amd64").to_string(),
                )
            }
        };
        let result = {
            let _g = self.store.write_guard();
            self.import_locked(r, opts, run, reference, os, arch)
        };
        if result.is_err() {
            let _ = self.store.gc();
        }
        result
    }

    fn import_locked(
        &self,
        r: impl Read,
        opts: &ImportOptions,
        run: RunConfig,
        reference: Option<Reference>,
        os: String,
        arch: String,
    ) -> Result<Digest> {
        // Keep the archive as the layer blob (so save gives back the same
        // bytes) and extract it from the store.
        let mut r = r;
        let (blob, bsize) = self.store.content.put_reader(&mut r, None, None)?;
        let mut f = self.store.content.open_blob(&blob)?;
        let rec: LayerRecord =
            self.store
                .unpack_layer(&mut f, None, None)
                .map_err(|e| match e {
                    StoreError::BadLayer(m) => ImageError::BadArchive(format!("import: {m}")),
                    other => other.into(),
                })?;
        let now = time::rfc3339_nano(&time::now());
        let comment = opts.message.clone().filter(|m| !m.is_empty());
        let cfg = ImageConfig {
            created: Some(now.clone()),
            author: None,
            architecture: arch,
            os,
            variant: None,
            config: Some(run),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![rec.diff_id.clone()],
            },
            history: vec![History {
                created: Some(now),
                created_by: None,
                comment: Some(
                    comment
                        .clone()
                        .unwrap_or_else(|| "Imported from -".to_string()),
                ),
                ..Default::default()
            }],
            comment,
            docker_version: None,
            extra: BTreeMap::new(),
        };
        let config = serde_json::to_vec(&cfg).expect("config serialises");
        let config_digest = self.store.content.put(&config, None)?;
        let mut head = [0u8; 4];
        let n = self
            .store
            .content
            .open_blob(&blob)?
            .read(&mut head)
            .unwrap_or(0);
        let media_type = match berth_store::Compression::detect(&head[..n]) {
            berth_store::Compression::None => oci::MT_OCI_LAYER_TAR,
            berth_store::Compression::Gzip => oci::MT_OCI_LAYER_GZIP,
            berth_store::Compression::Zstd => oci::MT_OCI_LAYER_ZSTD,
        };
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
            layers: vec![Descriptor {
                media_type: media_type.into(),
                digest: blob.clone(),
                size: bsize,
                annotations: None,
                platform: None,
            }],
            annotations: None,
        };
        let md = self
            .store
            .content
            .put(&serde_json::to_vec(&manifest).expect("json"), None)?;
        let record = ImageRecord {
            id: config_digest.clone(),
            manifest: md.clone(),
            config,
            created: time::now().timestamp(),
            size: rec.size,
            layers: vec![rec.chain_id],
            blobs: vec![blob, config_digest.clone(), md],
            added: time::now_nanos(),
        };
        self.commit(vec![Prepared {
            record,
            refs: reference.into_iter().collect(),
        }])?;
        Ok(config_digest)
    }

    // ------------------------------------------------------------ list etc.

    /// `GET /images/json`: images, newest first, with the filters
    /// `dangling=true|false`, `reference=<pattern>` (glob on the familiar
    /// `name` or `name:tag`), `label=<key>` / `label=<key>=<value>`,
    /// `before=<image>`, `since=<image>` (by creation time).
    ///
    /// Errors: an unknown filter (`invalid filter 'foo'`, 400); an image in
    /// `before`/`since` that does not exist (404).
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ImageSummary>> {
        for k in opts.filters.keys() {
            if !matches!(
                k.as_str(),
                "dangling" | "reference" | "label" | "before" | "since"
            ) {
                return Err(ImageError::InvalidArgument(format!("invalid filter '{k}'")));
            }
        }
        let dangling = match opts
            .filters
            .get("dangling")
            .and_then(|v| v.first())
            .map(String::as_str)
        {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(v) => {
                return Err(ImageError::InvalidArgument(format!(
                    "invalid filter 'dangling={v}': must be true or false"
                )))
            }
        };
        let created_of =
            |name: &str| -> Result<i64> { Ok(self.record(&self.resolve(name)?)?.created) };
        let before = opts
            .filters
            .get("before")
            .and_then(|v| v.first())
            .map(|n| created_of(n))
            .transpose()?;
        let since = opts
            .filters
            .get("since")
            .and_then(|v| v.first())
            .map(|n| created_of(n))
            .transpose()?;
        let patterns = opts.filters.get("reference").cloned().unwrap_or_default();
        let label_filters = opts.filters.get("label").cloned().unwrap_or_default();
        let mut out = Vec::new();
        for rec in self.store.db.images()? {
            let (mut tags, digests) = self.refs_of(&rec.id)?;
            if let Some(d) = dangling {
                if d != tags.is_empty() {
                    continue;
                }
            }
            if before.is_some_and(|b| rec.created >= b) || since.is_some_and(|s| rec.created <= s) {
                continue;
            }
            if !patterns.is_empty() {
                let keep: Vec<String> = tags
                    .iter()
                    .filter(|t| {
                        let name = t.rsplit_once(':').map(|(n, _)| n).unwrap_or(t);
                        patterns.iter().any(|p| glob(p, name) || glob(p, t))
                    })
                    .cloned()
                    .collect();
                if keep.is_empty() {
                    continue;
                }
                tags = keep;
            }
            let cfg = Self::config_of(&rec)?;
            let labels = cfg
                .config
                .as_ref()
                .and_then(|c| c.labels.clone())
                .unwrap_or_default();
            if !label_filters.iter().all(|f| match f.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                None => labels.contains_key(f),
            }) {
                continue;
            }
            out.push(ImageSummary {
                id: rec.id.to_string(),
                parent_id: String::new(),
                repo_tags: tags,
                repo_digests: digests,
                created: rec.created,
                size: rec.size as i64,
                shared_size: -1,
                virtual_size: rec.size as i64,
                labels,
                containers: -1,
            });
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// For `GET /system/df`: each image's `SharedSize` (bytes of its layers
    /// that another image also uses) by image ID, and the size of all
    /// layers counted once (`LayersSize`), as dockerd reports them.
    pub fn shared_sizes(&self) -> Result<(HashMap<String, i64>, i64)> {
        let images = self.store.db.images()?;
        let sizes: HashMap<Digest, u64> = self
            .store
            .db
            .layers()?
            .into_iter()
            .map(|l| (l.chain_id, l.size))
            .collect();
        let mut users: HashMap<&Digest, usize> = HashMap::new();
        for i in &images {
            for l in &i.layers {
                *users.entry(l).or_default() += 1;
            }
        }
        let shared = images
            .iter()
            .map(|i| {
                let b: u64 = i
                    .layers
                    .iter()
                    .filter(|l| users.get(l).copied().unwrap_or(0) > 1)
                    .map(|l| sizes.get(l).copied().unwrap_or(0))
                    .sum();
                (i.id.to_string(), b as i64)
            })
            .collect();
        let total = users
            .keys()
            .map(|l| sizes.get(*l).copied().unwrap_or(0))
            .sum::<u64>();
        Ok((shared, total as i64))
    }

    /// `GET /images/{name}/json`. Errors: `No such image` (404).
    pub fn inspect(&self, name: &str) -> Result<ImageInspect> {
        let id = self.resolve(name)?;
        let rec = self.record(&id)?;
        let cfg = Self::config_of(&rec)?;
        let (tags, digests) = self.refs_of(&id)?;
        let run = cfg.config.clone().unwrap_or_default();
        let extra_str = |k: &str| {
            run.extra
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let extra_vec = |k: &str| {
            run.extra
                .get(k)
                .and_then(|v| serde_json::from_value::<Option<Vec<String>>>(v.clone()).ok())
                .flatten()
        };
        let config = ContainerConfig {
            hostname: extra_str("Hostname"),
            domainname: extra_str("Domainname"),
            user: run.user.clone().unwrap_or_default(),
            exposed_ports: run.exposed_ports.clone(),
            env: run.env.clone(),
            cmd: run.cmd.clone(),
            healthcheck: run.extra.get("Healthcheck").cloned(),
            args_escaped: run.extra.get("ArgsEscaped").and_then(|v| v.as_bool()),
            image: extra_str("Image"),
            volumes: run.volumes.clone(),
            working_dir: run.working_dir.clone().unwrap_or_default(),
            entrypoint: run.entrypoint.clone(),
            on_build: extra_vec("OnBuild"),
            labels: run.labels.clone(),
            stop_signal: run.stop_signal.clone(),
            shell: extra_vec("Shell"),
            ..Default::default()
        };
        let lower: Vec<String> = rec
            .layers
            .iter()
            .rev()
            .map(|c| self.store.layer_dir(c).display().to_string())
            .collect();
        let mut gd = BTreeMap::new();
        if let Some((top, rest)) = lower.split_first() {
            gd.insert("UpperDir".to_string(), top.clone());
            if !rest.is_empty() {
                gd.insert("LowerDir".to_string(), rest.join(":"));
            }
        }
        Ok(ImageInspect {
            id: id.to_string(),
            repo_tags: tags,
            repo_digests: digests,
            parent: String::new(),
            comment: cfg.comment.clone().unwrap_or_default(),
            created: cfg
                .created
                .as_deref()
                .and_then(time::parse)
                .map(|d| time::rfc3339_nano(&d))
                .unwrap_or_default(),
            docker_version: cfg.docker_version.clone().unwrap_or_default(),
            author: cfg.author.clone().unwrap_or_default(),
            config,
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone(),
            os: cfg.os.clone(),
            size: rec.size as i64,
            virtual_size: rec.size as i64,
            graph_driver: GraphDriver {
                data: gd,
                name: "overlay2".into(),
            },
            root_fs: RootFsInfo {
                kind: "layers".into(),
                layers: cfg.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
            },
            metadata: ImageMetadata {
                last_tag_time: "0001-01-01T00:00:00Z".into(),
            },
        })
    }

    /// `GET /images/{name}/history`: newest first; the top entry carries the
    /// image ID and tags, the others `<missing>` (as for pulled images).
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let id = self.resolve(name)?;
        let rec = self.record(&id)?;
        let cfg = Self::config_of(&rec)?;
        let (tags, _) = self.refs_of(&id)?;
        let mut sizes = Vec::new();
        for c in &rec.layers {
            sizes.push(self.store.db.layer(c)?.map(|l| l.size).unwrap_or(0));
        }
        let hist: Vec<History> = if cfg.history.is_empty() {
            rec.layers.iter().map(|_| History::default()).collect()
        } else {
            cfg.history.clone()
        };
        let mut layer_i = 0;
        let mut out = Vec::new();
        for h in &hist {
            let size = if h.empty_layer {
                0
            } else {
                let s = sizes.get(layer_i).copied().unwrap_or(0);
                layer_i += 1;
                s
            };
            out.push(HistoryItem {
                id: "<missing>".into(),
                created: time::unix(h.created.as_deref()),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: None,
                size: size as i64,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = id.to_string();
            top.tags = if tags.is_empty() { None } else { Some(tags) };
        }
        Ok(out)
    }

    /// `docker tag SOURCE TARGET`: points the tag `target` at the image
    /// `source` names. Errors: `No such image` (404), a bad target or a
    /// digest target (`refusing to create a tag with a digest reference`,
    /// 400).
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let id = self.resolve(source)?;
        let r = Reference::parse(target)?;
        if r.digest().is_some() {
            return Err(ImageError::InvalidReference(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let _n = self.lock_names();
        self.store
            .db
            .set_ref(&r.to_string(), &id, RefKind::Tag, time::now_nanos())?;
        Ok(())
    }

    /// `DELETE /images/{name}` (`docker rmi`), with Docker's semantics:
    ///
    /// - `name` a reference and the image has other references: untag only.
    /// - the last reference, or `name` an ID: delete the image (and its
    ///   layers that nothing else uses).
    /// - `name` an ID of an image in several repositories: 409 `unable to
    ///   delete <short> (must be forced) - image is referenced in multiple
    ///   repositories` unless `force` (then every tag goes).
    /// - an image a container uses (`users`, from the engine): running ->
    ///   409 `(cannot be forced) - image is being used by running container
    ///   <short>`; stopped -> 409 `(must be forced) - image is being used by
    ///   stopped container <short>` unless `force` (the container's snapshot
    ///   keeps its layers).
    pub fn remove(
        &self,
        name: &str,
        opts: RemoveOptions,
        users: &[ContainerUse],
    ) -> Result<Vec<DeleteItem>> {
        let _n = self.lock_names();
        let (id, by_ref) = self.lookup(name)?;
        let refs = self.store.db.refs_of(&id)?;
        let mut out = Vec::new();
        let using: Vec<&ContainerUse> = users.iter().filter(|u| u.image_id == id).collect();
        if let Some(r) = &by_ref {
            // dockerd (daemon/images/image_delete.go): when the last tag of
            // a repository goes, that repository's digest references
            // (`repo@sha256:...`, e.g. from a pull) go with it.
            let along = digest_refs_going_with(r, &refs);
            if refs.len() > 1 + along.len() {
                self.store.db.delete_ref(&r.to_string())?;
                out.push(DeleteItem::Untagged(r.familiar()));
                for n in along {
                    self.store.db.delete_ref(n)?;
                    out.push(DeleteItem::Untagged(familiar_of(n)));
                }
                return Ok(out);
            }
            if let Some(u) = using.first() {
                if !opts.force {
                    return Err(ImageError::Conflict(format!(
                        "unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                        berth_types::short_id(&u.container_id),
                        short(&id)
                    )));
                }
                if using.iter().any(|u| u.running) {
                    // Forced: the tag goes, the image stays for the running
                    // container.
                    self.store.db.delete_ref(&r.to_string())?;
                    out.push(DeleteItem::Untagged(r.familiar()));
                    for n in along {
                        self.store.db.delete_ref(n)?;
                        out.push(DeleteItem::Untagged(familiar_of(n)));
                    }
                    return Ok(out);
                }
            }
        } else {
            if let Some(u) = using.iter().find(|u| u.running) {
                return Err(ImageError::Conflict(format!(
                    "unable to delete {} (cannot be forced) - image is being used by running container {}",
                    short(&id),
                    berth_types::short_id(&u.container_id)
                )));
            }
            if let Some(u) = using.first() {
                if !opts.force {
                    return Err(ImageError::Conflict(format!(
                        "unable to delete {} (must be forced) - image is being used by stopped container {}",
                        short(&id),
                        berth_types::short_id(&u.container_id)
                    )));
                }
            }
        }
        if by_ref.is_none() && refs.len() > 1 && !opts.force {
            return Err(ImageError::Conflict(format!(
                "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                short(&id)
            )));
        }
        // The reference asked for first, then the others (dockerd's order).
        let asked = by_ref.as_ref().map(|r| r.to_string());
        let mut names: Vec<&String> = refs.iter().map(|(n, _)| n).collect();
        names.sort_by_key(|n| Some(*n) != asked.as_ref());
        for n in names {
            out.push(DeleteItem::Untagged(familiar_of(n)));
        }
        out.extend(self.delete_image(&id)?);
        Ok(out)
    }

    /// Deletes an image record and collects what it alone used. Returns
    /// `Deleted` items: the image ID, then the layers' chain IDs removed.
    fn delete_image(&self, id: &Digest) -> Result<Vec<DeleteItem>> {
        self.store.db.delete_image(id)?;
        let report = self.store.gc()?;
        let mut out = vec![DeleteItem::Deleted(id.to_string())];
        out.extend(
            report
                .layers
                .iter()
                .map(|l| DeleteItem::Deleted(l.to_string())),
        );
        Ok(out)
    }

    /// `POST /images/prune`: removes dangling images (no tags), or with
    /// `all` every image no container uses; filters `until=<RFC 3339 or
    /// unix seconds>`, `label=k[=v]`, `label!=k[=v]`. Errors: unknown
    /// filter (400).
    pub fn prune(
        &self,
        all: bool,
        filters: &Filters,
        users: &[ContainerUse],
    ) -> Result<PruneReport> {
        for k in filters.keys() {
            if !matches!(k.as_str(), "until" | "label" | "label!" | "dangling") {
                return Err(ImageError::InvalidArgument(format!("invalid filter '{k}'")));
            }
        }
        let all = all
            || filters
                .get("dangling")
                .and_then(|v| v.first())
                .is_some_and(|v| v == "false" || v == "0");
        let until = match filters.get("until").and_then(|v| v.first()) {
            None => None,
            Some(u) => Some(
                u.parse::<i64>()
                    .ok()
                    .or_else(|| time::parse(u).map(|d| d.timestamp()))
                    .ok_or_else(|| {
                        ImageError::InvalidArgument(format!("invalid filter 'until={u}'"))
                    })?,
            ),
        };
        let in_use: HashSet<&Digest> = users.iter().map(|u| &u.image_id).collect();
        let mut report = PruneReport::default();
        let _n = self.lock_names();
        for rec in self.store.db.images()? {
            if in_use.contains(&rec.id) {
                continue;
            }
            let refs = self.store.db.refs_of(&rec.id)?;
            if !all && !refs.is_empty() {
                continue;
            }
            if until.is_some_and(|u| rec.created >= u) {
                continue;
            }
            let labels = Self::config_of(&rec)?
                .config
                .and_then(|c| c.labels)
                .unwrap_or_default();
            let has = |f: &String| match f.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                None => labels.contains_key(f),
            };
            if !filters
                .get("label")
                .map(|v| v.iter().all(has))
                .unwrap_or(true)
                || filters
                    .get("label!")
                    .map(|v| v.iter().any(has))
                    .unwrap_or(false)
            {
                continue;
            }
            for (n, _) in &refs {
                report.images_deleted.push(DeleteItem::Untagged(
                    Reference::parse(n)
                        .map(|r| r.familiar())
                        .unwrap_or_else(|_| n.clone()),
                ));
            }
            self.store.db.delete_image(&rec.id)?;
            report
                .images_deleted
                .push(DeleteItem::Deleted(rec.id.to_string()));
        }
        let gc = self.store.gc()?;
        report.space_reclaimed = gc.bytes;
        report
            .images_deleted
            .extend(gc.layers.iter().map(|l| DeleteItem::Deleted(l.to_string())));
        Ok(report)
    }

    /// Removes blobs and layer trees nothing references.
    pub fn gc(&self) -> Result<berth_store::GcReport> {
        Ok(self.store.gc()?)
    }

    // ------------------------------------------------------------ snapshots

    /// Creates the rw layer of container `container_id` on top of the image
    /// `image` (any name [`ImageService::resolve`] takes) and returns its
    /// overlay mount description (`snapshots/<container_id>/`; see
    /// `berth_store::snapshot` for the lowerdir length rule).
    ///
    /// Errors: `No such image` (404), `snapshot ... already exists` (500).
    pub fn prepare_snapshot(&self, container_id: &str, image: &str) -> Result<OverlayMount> {
        let id = self.resolve(image)?;
        let rec = self.record(&id)?;
        Ok(self
            .store
            .prepare_snapshot(container_id, Some(&id), &rec.layers)?)
    }

    /// The mount description of an existing snapshot.
    pub fn snapshot_mount(&self, container_id: &str) -> Result<OverlayMount> {
        Ok(self.store.snapshot_mount(container_id)?)
    }

    /// Writes a container's rw layer (the snapshot's upper directory) as a
    /// layer tar in the image-spec format, overlayfs whiteouts turned back
    /// into `.wh.` entries and opaque directories into `.wh..wh..opq`: the
    /// diff for `docker commit` and `GET /containers/{id}/changes`-style use.
    /// Errors: `snapshot ... not found` (500), I/O.
    pub fn export_snapshot_diff<W: Write>(&self, container_id: &str, w: W) -> Result<W> {
        let m = self.store.snapshot_mount(container_id)?;
        Ok(layer::write_tar(&m.upperdir, w, true)?)
    }

    /// Writes the tree at `rootfs` (a container's mounted, merged rootfs)
    /// as one flat tar, as `docker export` (`GET /containers/{id}/export`)
    /// streams it. The engine mounts the snapshot and passes its mount
    /// point.
    pub fn export_rootfs<W: Write>(&self, rootfs: &Path, w: W) -> Result<W> {
        Ok(layer::write_tar(rootfs, w, false)?)
    }

    /// Deletes a container's snapshot (after the runtime unmounted it).
    pub fn remove_snapshot(&self, container_id: &str) -> Result<()> {
        Ok(self.store.remove_snapshot(container_id)?)
    }

    /// Forgets a container's snapshot and moves its rw layer into the
    /// store's trash; returns the tree to delete later with
    /// [`berth_store::remove_tree`] (see `Store::detach_snapshot`).
    pub fn detach_snapshot(&self, container_id: &str) -> Result<PathBuf> {
        Ok(self.store.detach_snapshot(container_id)?)
    }

    /// Moves `p`, a tree on the data root's filesystem, into the store's
    /// trash (see `Store::trash`); returns its new path, `None` when `p`
    /// does not exist.
    pub fn trash(&self, p: &Path) -> Result<Option<PathBuf>> {
        match self.store.trash(p) {
            Ok(t) => Ok(Some(t)),
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The digest references (`name@sha256:...`) of `removed`'s repository
/// that go with it when `removed` is that repository's last tag (none when
/// `removed` is itself a digest reference or another tag of the repository
/// remains), as dockerd's image delete does.
fn digest_refs_going_with<'a>(removed: &Reference, refs: &'a [(String, RefKind)]) -> Vec<&'a str> {
    if removed.digest().is_some() {
        return Vec::new();
    }
    let me = removed.to_string();
    let same_repo: Vec<(&str, Reference)> = refs
        .iter()
        .filter(|(n, _)| *n != me)
        .filter_map(|(n, _)| Some((n.as_str(), Reference::parse(n).ok()?)))
        .filter(|(_, r)| r.name() == removed.name())
        .collect();
    if same_repo.iter().any(|(_, r)| r.digest().is_none()) {
        return Vec::new();
    }
    same_repo.into_iter().map(|(n, _)| n).collect()
}

/// A stored reference in Docker's familiar form (`busybox:latest`).
fn familiar_of(n: &str) -> String {
    Reference::parse(n)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| n.to_string())
}

/// Go `path.Match`-style glob: `*` (any run without `/`), `?`, literals.
fn glob(pat: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| m(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && s[0] != b'/' && m(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && m(&p[1..], &s[1..]),
        }
    }
    m(pat.as_bytes(), s.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_service_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<super::ImageService>();
    }

    #[test]
    fn glob_matches_like_path_match() {
        use super::glob;
        assert!(glob("busy*", "busybox"));
        assert!(glob("busybox:*", "busybox:latest"));
        assert!(!glob("*", "user/app"));
        assert!(glob("*/*", "user/app"));
        assert!(glob("b?sybox", "busybox"));
    }
}
