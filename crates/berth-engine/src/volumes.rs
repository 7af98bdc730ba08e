//! Volumes: Docker's `local` driver (a directory per volume), named and
//! anonymous, and how containers use them.
//!
//! # On disk
//! `<data-root>/volumes/<name>/_data` is the content (the `Mountpoint`),
//! `<data-root>/volumes/<name>/volume.json` its record ([`Meta`]: created,
//! labels, options), written atomically; a directory without a record is
//! not a volume (a crashed create) and is ignored.
//!
//! # Containers
//! At create ([`Engine::plan_volumes`]) a container's volume mounts are
//! resolved, as dockerd resolves them: a `Binds` entry whose source is not
//! an absolute path names a volume (`-v name:/path[:ro]`); `Mounts` of
//! type `volume` (an empty `Source` is anonymous; `VolumeOptions.NoCopy`);
//! every `Config.Volumes` path (the image's `VOLUME`s and the CLI's
//! `-v /path`) not covered by another mount gets a new anonymous volume
//! (label `com.docker.volume.anonymous`). Named volumes are created on
//! first use; a `volume` mount's `VolumeOptions.DriverConfig.Options` and
//! `Labels` are what it is created with (an existing volume keeps its
//! own, as with dockerd; a driver other than `local` is refused). A volume that is empty when the container is created gets
//! the image's content at that path copied in (owners, modes, symlinks),
//! unless `nocopy` — what Docker does so a fresh volume starts with the
//! image's files. The resolved list ([`VolumeMount`]) is part of the
//! container's record; the bundle bind-mounts each `_data` directory.
//!
//! # Mount options
//! A volume created with the local driver's options (`-o type=tmpfs -o
//! device=tmpfs -o o=size=64m`, `-o type=none -o o=bind -o device=DIR`;
//! [`crate::volume_opts`]) is mounted on its `_data` when a container
//! using it starts (or when the image's content is copied in at create)
//! and unmounted when the last such user is gone, as moby's local driver
//! counts its users: [`Store::acquire`] / [`Store::release`], by
//! container ID. At daemon start the users are the running containers
//! found again ([`Store::reconcile`]); a volume mounted with none is
//! unmounted. A volume is unmounted before it is removed.
//!
//! A volume is in use while any container (running or not) refers to it:
//! it cannot be removed (409, dockerd's words). `rm -v` and `AutoRemove`
//! remove the container's anonymous volumes that no other container uses.

use crate::Engine;
use berth_api::backend::Filters;
use berth_api::models::*;
use berth_api::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// A container's use of a volume, resolved at create.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumeMount {
    /// Volume name.
    pub name: String,
    /// Host path mounted (`.../volumes/<name>/_data`).
    pub source: PathBuf,
    /// Path in the container.
    pub destination: String,
    /// Writable.
    pub rw: bool,
    /// Created for this container (removed with it by `rm -v`).
    pub anonymous: bool,
    /// `Mode` as inspect shows it (`z` for `-v` / `--mount`, the given
    /// mode string, or empty for an image volume).
    pub mode: String,
}

/// A volume's record, `volume.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
}

/// The volume store under `<data-root>/volumes`.
pub struct Store {
    root: PathBuf,
    /// Serialises create/remove against the in-use checks.
    pub(crate) lock: Mutex<()>,
    /// Users (container IDs) of the volumes with mount options that are
    /// mounted now.
    active: Mutex<HashMap<String, BTreeSet<String>>>,
}

fn no_such(name: &str) -> ApiError {
    ApiError::not_found(format!("get {name}: no such volume"))
}

fn sys(what: &str) -> impl Fn(std::io::Error) -> ApiError + '_ {
    move |e| ApiError::system(format!("{what}: {e}"))
}

impl Store {
    /// The store at `<data_root>/volumes` (created if missing).
    pub fn open(data_root: &Path) -> std::io::Result<Store> {
        let root = data_root.join("volumes");
        std::fs::create_dir_all(&root)?;
        Ok(Store {
            root,
            lock: Mutex::new(()),
            active: Mutex::new(HashMap::new()),
        })
    }

    /// `_data` of `name`.
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    /// The record of `name`, if it is a volume.
    pub fn meta(&self, name: &str) -> Option<Meta> {
        if !crate::names::valid(name) {
            return None;
        }
        let b = std::fs::read(self.root.join(name).join("volume.json")).ok()?;
        serde_json::from_slice(&b).ok()
    }

    /// Names of all volumes.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| self.meta(n).is_some())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Creates `name` unless it exists; returns whether it was created.
    /// Caller holds [`Store::lock`].
    ///
    /// Errors: an invalid name (400, dockerd's words), bad driver options
    /// (400, [`crate::volume_opts::validate`]), I/O.
    pub fn create(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<bool, ApiError> {
        if !crate::names::valid(name) {
            return Err(ApiError::invalid(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if self.meta(name).is_some() {
            return Ok(false);
        }
        crate::volume_opts::validate(&options)
            .map_err(|e| ApiError::invalid(format!("create {name}: {e}")))?;
        let dir = self.root.join(name);
        std::fs::create_dir_all(dir.join("_data")).map_err(sys("create volume directory"))?;
        let meta = Meta {
            created_at: crate::util::time_or_zero(crate::util::now_ns()),
            labels,
            options,
        };
        crate::util::write_atomic(
            &dir.join("volume.json"),
            &serde_json::to_vec(&meta).unwrap_or_default(),
        )
        .map_err(sys("write volume record"))?;
        Ok(true)
    }

    /// Deletes `name` and its content. Caller holds [`Store::lock`] and
    /// checked it is unused.
    pub fn delete(&self, name: &str) -> std::io::Result<()> {
        let dir = self.root.join(name);
        // never remove what a device or bind mount shows there
        let data = dir.join("_data");
        crate::volume_opts::unmount(&data);
        self.active.lock().expect("active volumes").remove(name);
        if crate::volume_opts::is_mounted(&data) {
            return Err(std::io::Error::other(format!(
                "{} is still mounted",
                data.display()
            )));
        }
        // The record first: a half-deleted volume is no volume.
        std::fs::remove_file(dir.join("volume.json"))?;
        std::fs::remove_dir_all(&dir)
    }

    /// Counts `user` (a container ID) as a user of volume `name`; the
    /// first user of a volume with mount options mounts it. A volume
    /// without options, or one that is gone, needs nothing.
    ///
    /// Errors (500, dockerd's words): `error while mounting volume
    /// '<_data>': failed to mount local volume: ...`.
    pub fn acquire(&self, name: &str, user: &str) -> Result<(), ApiError> {
        let Some(meta) = self.meta(name) else {
            return Ok(());
        };
        if !crate::volume_opts::needs_mount(&meta.options) {
            return Ok(());
        }
        let mut active = self.active.lock().expect("active volumes");
        let users = active.entry(name.to_string()).or_default();
        if users.is_empty() {
            let data = self.mountpoint(name);
            if !crate::volume_opts::is_mounted(&data) {
                if let Err(e) = crate::volume_opts::mount(&meta.options, &data) {
                    active.remove(name);
                    return Err(ApiError::system(format!(
                        "error while mounting volume '{}': {e}",
                        data.display()
                    )));
                }
            }
        }
        active
            .get_mut(name)
            .expect("entry")
            .insert(user.to_string());
        Ok(())
    }

    /// Ends `user`'s use of `name`; the last user unmounts it.
    pub fn release(&self, name: &str, user: &str) {
        let mut active = self.active.lock().expect("active volumes");
        let Some(users) = active.get_mut(name) else {
            return;
        };
        users.remove(user);
        if users.is_empty() {
            active.remove(name);
            crate::volume_opts::unmount(&self.mountpoint(name));
        }
    }

    /// At daemon start: `live` are the running containers and the volumes
    /// each uses. Their volumes with mount options count them as users
    /// (mounted again if the mount went away); every other volume with
    /// mount options is unmounted.
    pub fn reconcile(&self, live: &[(String, Vec<String>)]) {
        for name in self.names() {
            let Some(meta) = self.meta(&name) else {
                continue;
            };
            if !crate::volume_opts::needs_mount(&meta.options) {
                continue;
            }
            let users: Vec<&String> = live
                .iter()
                .filter(|(_, vols)| vols.contains(&name))
                .map(|(id, _)| id)
                .collect();
            if users.is_empty() {
                crate::volume_opts::unmount(&self.mountpoint(&name));
                continue;
            }
            for u in users {
                if let Err(e) = self.acquire(&name, u) {
                    tracing::warn!("volume {name} of container {u}: {}", e.message);
                }
            }
        }
    }

    /// The API view of `name`.
    pub fn view(&self, name: &str, m: &Meta) -> Volume {
        Volume {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: self.mountpoint(name).display().to_string(),
            created_at: m.created_at.clone(),
            labels: m.labels.clone(),
            scope: "local".into(),
            options: m.options.clone(),
            usage_data: None,
        }
    }
}

/// What a volume created for a `volume` mount gets from its
/// `VolumeOptions`: `DriverConfig.Name` (only `local` exists here),
/// `DriverConfig.Options` (the local driver's `type`, `device`, `o`: see
/// [`crate::volume_opts`]) and `Labels`. dockerd creates a missing volume
/// with them and ignores them for a volume that exists.
#[derive(Debug, Default, Clone)]
struct CreateWith {
    driver: String,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
}

impl CreateWith {
    fn of(volume_options: Option<&serde_json::Value>) -> CreateWith {
        let Some(o) = volume_options else {
            return CreateWith::default();
        };
        let strings = |v: Option<&serde_json::Value>| -> BTreeMap<String, String> {
            v.and_then(|v| v.as_object())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let dc = o.get("DriverConfig");
        CreateWith {
            driver: dc
                .and_then(|d| d.get("Name"))
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string(),
            labels: strings(o.get("Labels")),
            options: strings(dc.and_then(|d| d.get("Options"))),
        }
    }
}

/// Whether a directory is empty (or missing).
fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).map_or(true, |mut d| d.next().is_none())
}

/// Copies the image's merged content at `rel` (layers topmost first, with
/// overlay whiteouts and opaque directories honoured) into `dst`:
/// directories, regular files, symlinks with owners and modes.
fn copy_up(lowerdirs: &[PathBuf], rel: &str, dst: &Path) -> std::io::Result<()> {
    let rel = rel.trim_start_matches('/');
    let srcs: Vec<PathBuf> = lowerdirs.iter().map(|l| l.join(rel)).collect();
    merge_dir(&srcs, dst, 0)
}

fn is_whiteout(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    // overlayfs marks a directory that hides lower ones with this xattr
    // (berth-store writes it when it applies a layer's .wh..wh..opq).
    let mut v = [0u8; 1];
    rustix::fs::lgetxattr(p, "trusted.overlay.opaque", &mut v[..]).ok() == Some(1) && v[0] == b'y'
}

/// Merges directory `srcs` (topmost first) into `dst` (which exists).
fn merge_dir(srcs: &[PathBuf], dst: &Path, depth: u32) -> std::io::Result<()> {
    if depth > 128 {
        return Ok(());
    }
    // The layers that contribute: down to the first that is not a
    // directory (it hides the rest) or is opaque.
    let mut layers: Vec<&PathBuf> = Vec::new();
    for s in srcs {
        match std::fs::symlink_metadata(s) {
            Ok(m) if m.is_dir() => {
                layers.push(s);
                if is_opaque(s) {
                    break;
                }
            }
            Ok(_) => break,
            Err(_) => continue,
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, l) in layers.iter().enumerate() {
        for e in std::fs::read_dir(l)?.flatten() {
            let name = e.file_name();
            if !seen.insert(name.clone()) {
                continue;
            }
            let p = e.path();
            let m = std::fs::symlink_metadata(&p)?;
            if is_whiteout(&m) {
                continue;
            }
            let to = dst.join(&name);
            if m.is_dir() {
                std::fs::create_dir_all(&to)?;
                let lower: Vec<PathBuf> = layers[i..].iter().map(|x| x.join(&name)).collect();
                merge_dir(&lower, &to, depth + 1)?;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
                let _ = std::os::unix::fs::lchown(&to, Some(m.uid()), Some(m.gid()));
            } else if m.file_type().is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&p)?, &to)?;
                let _ = std::os::unix::fs::lchown(&to, Some(m.uid()), Some(m.gid()));
            } else if m.is_file() {
                std::fs::copy(&p, &to)?;
                let _ = std::os::unix::fs::lchown(&to, Some(m.uid()), Some(m.gid()));
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
            }
            // Devices, sockets and fifos are not copied.
        }
    }
    Ok(())
}

/// Splits a `Binds` entry `src:dst[:mode]`; `None` if it is malformed.
fn split_bind(b: &str) -> Option<(&str, &str, &str)> {
    let p: Vec<&str> = b.split(':').collect();
    match p.as_slice() {
        [s, d] => Some((s, d, "")),
        [s, d, o] => Some((s, d, o)),
        _ => None,
    }
}

impl Engine {
    /// Names of containers (IDs) that use volume `name`.
    pub(crate) fn volume_users(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .filter(|c| c.get().volumes.iter().any(|m| m.name == name))
            .map(|c| c.id.clone())
            .collect();
        v.sort();
        v
    }

    /// Resolves and creates the volumes of a container being created
    /// (see the module docs), copying the image's content from
    /// `lowerdirs` into volumes that are empty. On error, anonymous
    /// volumes it created are removed again.
    pub(crate) async fn plan_volumes(
        &self,
        config: &ContainerConfig,
        host: &HostConfig,
        lowerdirs: &[PathBuf],
    ) -> Result<Vec<VolumeMount>, ApiError> {
        // (name or "" for anonymous, destination, rw, nocopy, mode, what
        // a volume created for it gets)
        let mut wanted: Vec<(String, String, bool, bool, String, CreateWith)> = Vec::new();
        let mut covered: Vec<String> = Vec::new();
        for b in &host.binds {
            let Some((src, dst, mode)) = split_bind(b) else {
                continue;
            };
            covered.push(dst.trim_end_matches('/').to_string());
            if src.starts_with('/') {
                continue;
            }
            if !dst.starts_with('/') {
                return Err(ApiError::invalid(format!("invalid volume specification: '{b}': invalid mount config for type \"volume\": invalid mount path: '{dst}' mount path must be absolute")));
            }
            let mut rw = true;
            let mut nocopy = false;
            for o in mode.split(',').filter(|s| !s.is_empty()) {
                match o {
                    "ro" => rw = false,
                    "rw" | "z" | "Z" => {}
                    "nocopy" => nocopy = true,
                    _ => return Err(ApiError::invalid(format!("invalid mode: {o}"))),
                }
            }
            let m = if mode.is_empty() { "z" } else { mode };
            wanted.push((
                src.into(),
                dst.into(),
                rw,
                nocopy,
                m.into(),
                CreateWith::default(),
            ));
        }
        for m in &host.mounts {
            covered.push(m.target.trim_end_matches('/').to_string());
            if m.kind != "volume" {
                continue;
            }
            if !m.target.starts_with('/') {
                return Err(ApiError::invalid(format!(
                    "invalid mount config for type \"volume\": invalid mount path: '{}' mount path must be absolute",
                    m.target
                )));
            }
            let nocopy = m
                .volume_options
                .as_ref()
                .and_then(|o| o.get("NoCopy"))
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            wanted.push((
                m.source.clone(),
                m.target.clone(),
                !m.read_only,
                nocopy,
                "z".into(),
                CreateWith::of(m.volume_options.as_ref()),
            ));
        }
        if let Some(t) = &host.tmpfs {
            covered.extend(t.keys().map(|k| k.trim_end_matches('/').to_string()));
        }
        for path in config.volumes.iter().flat_map(|v| v.keys()) {
            let p = path.trim_end_matches('/');
            if covered.iter().any(|c| c == p)
                || wanted.iter().any(|w| w.1.trim_end_matches('/') == p)
            {
                continue;
            }
            wanted.push((
                String::new(),
                path.clone(),
                true,
                false,
                String::new(),
                CreateWith::default(),
            ));
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut fresh = Vec::new();
        let r = (|| {
            let _g = self.vols.lock.lock().expect("volumes");
            for (name, dst, rw, nocopy, mode, with) in &wanted {
                let anonymous = name.is_empty();
                let mut labels = with.labels.clone();
                let name = if anonymous {
                    labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
                    berth_types::new_id()
                } else {
                    name.clone()
                };
                if !with.driver.is_empty() && with.driver != "local" {
                    // dockerd's answer (404), for a volume that exists too.
                    return Err(ApiError::not_found(format!(
                        "create {name}: error looking up volume plugin {d}: plugin \"{d}\" not found",
                        d = with.driver
                    )));
                }
                // An existing volume keeps its own options and labels, as
                // with dockerd.
                let created = self.vols.create(&name, labels, with.options.clone())?;
                if created && anonymous {
                    fresh.push(name.clone());
                }
                let source = self.vols.mountpoint(&name);
                out.push((
                    VolumeMount {
                        name,
                        source,
                        destination: dst.clone(),
                        rw: *rw,
                        anonymous,
                        mode: mode.clone(),
                    },
                    *nocopy,
                ));
            }
            Ok::<(), ApiError>(())
        })();
        if let Err(e) = r {
            self.drop_volumes(&fresh);
            return Err(e);
        }
        // A volume with mount options is mounted for the copy (its
        // content is what the device holds), as moby's CopyImagePathContent
        // mounts it; a user ID of its own keeps a running user's count.
        let copier = format!("copy-{}", berth_types::new_id());
        let mut mounted: Vec<String> = Vec::new();
        let mut jobs: Vec<(PathBuf, String)> = Vec::new();
        for (m, nocopy) in &out {
            let rel = m.destination.trim_start_matches('/');
            let in_image = lowerdirs
                .iter()
                .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok_and(|md| md.is_dir()));
            if *nocopy || !in_image {
                continue;
            }
            if let Err(e) = self.vols.acquire(&m.name, &copier) {
                for n in &mounted {
                    self.vols.release(n, &copier);
                }
                self.drop_volumes(&fresh);
                return Err(e);
            }
            mounted.push(m.name.clone());
            if is_empty_dir(&m.source) {
                jobs.push((m.source.clone(), m.destination.clone()));
            }
        }
        let lowers = lowerdirs.to_vec();
        let copied = tokio::task::spawn_blocking(move || {
            for (src, dst) in jobs {
                copy_up(&lowers, &dst, &src)
                    .map_err(|e| format!("copy image content at {dst} into the volume: {e}"))?;
            }
            Ok::<(), String>(())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        for n in &mounted {
            self.vols.release(n, &copier);
        }
        if let Err(e) = copied {
            self.drop_volumes(&fresh);
            return Err(ApiError::system(e));
        }
        Ok(out.into_iter().map(|(m, _)| m).collect())
    }

    /// Removes volumes by name if no container uses them (best effort).
    pub(crate) fn drop_volumes(&self, names: &[String]) {
        let _g = self.vols.lock.lock().expect("volumes");
        for n in names {
            if self.volume_users(n).is_empty() {
                if let Err(e) = self.vols.delete(n) {
                    tracing::warn!("remove volume {n}: {e}");
                }
            }
        }
    }

    /// Mounts the volumes with mount options that container `id` uses
    /// (at start). On error, those mounted for it are released again.
    pub(crate) fn acquire_volumes(&self, id: &str, vols: &[VolumeMount]) -> Result<(), ApiError> {
        for (i, v) in vols.iter().enumerate() {
            if let Err(e) = self.vols.acquire(&v.name, id) {
                self.release_volumes(id, &vols[..i]);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Ends container `id`'s use of its volumes (at exit).
    pub(crate) fn release_volumes(&self, id: &str, vols: &[VolumeMount]) {
        for v in vols {
            self.vols.release(&v.name, id);
        }
    }

    /// At daemon start, after the containers are restored: see
    /// [`Store::reconcile`].
    pub(crate) fn reconcile_volumes(&self) {
        let live: Vec<(String, Vec<String>)> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .map(|c| c.get())
            .filter(|r| r.state.status.is_live())
            .map(|r| {
                (
                    r.id.clone(),
                    r.volumes.iter().map(|v| v.name.clone()).collect(),
                )
            })
            .collect();
        self.vols.reconcile(&live);
    }

    /// `rm -v` / AutoRemove: the anonymous volumes of a removed container.
    pub(crate) fn remove_anonymous_volumes(&self, vols: &[VolumeMount]) {
        let names: Vec<String> = vols
            .iter()
            .filter(|v| v.anonymous)
            .map(|v| v.name.clone())
            .collect();
        self.drop_volumes(&names);
    }

    /// Inspect's `Mounts` entries of a container's volumes.
    pub(crate) fn volume_mount_points(vols: &[VolumeMount]) -> Vec<MountPoint> {
        vols.iter()
            .map(|v| MountPoint {
                kind: "volume".into(),
                name: Some(v.name.clone()),
                source: v.source.display().to_string(),
                destination: v.destination.clone(),
                driver: Some("local".into()),
                mode: v.mode.clone(),
                rw: v.rw,
                propagation: String::new(),
            })
            .collect()
    }

    fn volume_matches(&self, name: &str, m: &Meta, f: &Filters) -> Result<bool, ApiError> {
        for (k, vs) in f {
            let ok = match k.as_str() {
                "name" => vs.iter().any(|v| name.contains(v.as_str())),
                "driver" => vs.iter().any(|v| v == "local"),
                "label" => vs.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => m.labels.get(k).map(String::as_str) == Some(val),
                    None => m.labels.contains_key(v),
                }),
                "label!" => !vs.iter().any(|v| match v.split_once('=') {
                    Some((k, val)) => m.labels.get(k).map(String::as_str) == Some(val),
                    None => m.labels.contains_key(v),
                }),
                "dangling" => {
                    let unused = self.volume_users(name).is_empty();
                    vs.iter().any(|v| match v.as_str() {
                        "true" | "1" => unused,
                        "false" | "0" => !unused,
                        _ => false,
                    })
                }
                "all" => true,
                other => return Err(ApiError::invalid(format!("invalid filter '{other}'"))),
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(crate) async fn vol_create(&self, req: VolumeCreateRequest) -> Result<Volume, ApiError> {
        if !req.driver.is_empty() && req.driver != "local" {
            return Err(ApiError::not_found(format!(
                "error looking up volume plugin {}: plugin \"{}\" not found",
                req.driver, req.driver
            )));
        }
        let mut labels = req.labels;
        let name = if req.name.is_empty() {
            // as dockerd: a volume created without a name is anonymous
            // (`volume prune` without `all` removes it)
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
            berth_types::new_id()
        } else {
            req.name.clone()
        };
        let _g = self.vols.lock.lock().expect("volumes");
        let created = self.vols.create(&name, labels, req.driver_opts)?;
        let m = self.vols.meta(&name).ok_or_else(|| no_such(&name))?;
        if created {
            self.events.publish(
                "volume",
                "create",
                &name,
                [("driver".to_string(), "local".to_string())].into(),
            );
        }
        Ok(self.vols.view(&name, &m))
    }

    pub(crate) async fn vol_list(&self, filters: Filters) -> Result<VolumeListResponse, ApiError> {
        let mut volumes = Vec::new();
        for n in self.vols.names() {
            let Some(m) = self.vols.meta(&n) else {
                continue;
            };
            if self.volume_matches(&n, &m, &filters)? {
                volumes.push(self.vols.view(&n, &m));
            }
        }
        Ok(VolumeListResponse {
            volumes,
            warnings: vec![],
        })
    }

    pub(crate) async fn vol_inspect(&self, name: &str) -> Result<Volume, ApiError> {
        let m = self.vols.meta(name).ok_or_else(|| no_such(name))?;
        Ok(self.vols.view(name, &m))
    }

    pub(crate) async fn vol_remove(&self, name: &str, force: bool) -> Result<(), ApiError> {
        let _g = self.vols.lock.lock().expect("volumes");
        if self.vols.meta(name).is_none() {
            return if force { Ok(()) } else { Err(no_such(name)) };
        }
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        self.vols
            .delete(name)
            .map_err(|e| ApiError::system(format!("remove {name}: {e}")))?;
        self.events.publish(
            "volume",
            "destroy",
            name,
            [("driver".to_string(), "local".to_string())].into(),
        );
        Ok(())
    }

    pub(crate) async fn vol_prune(
        &self,
        filters: Filters,
    ) -> Result<VolumePruneResponse, ApiError> {
        let all = filters
            .get("all")
            .is_some_and(|v| v.iter().any(|x| x == "true" || x == "1"));
        let mut f = filters.clone();
        f.remove("all");
        let mut deleted = Vec::new();
        let mut space = 0;
        let names = self.vols.names();
        for n in names {
            let Some(m) = self.vols.meta(&n) else {
                continue;
            };
            if !all && !m.labels.contains_key(ANONYMOUS_LABEL) {
                continue;
            }
            if !self.volume_matches(&n, &m, &f)? {
                continue;
            }
            let mp = self.vols.mountpoint(&n);
            let size = tokio::task::spawn_blocking(move || crate::dir_size(&mp))
                .await
                .unwrap_or(0);
            if self.vol_remove(&n, false).await.is_ok() {
                space += size;
                deleted.push(n);
            }
        }
        Ok(VolumePruneResponse {
            volumes_deleted: deleted,
            space_reclaimed: space,
        })
    }

    /// `/system/df` volume entries, with `UsageData` (sizes summed on a
    /// blocking thread: a volume can hold many files).
    pub(crate) async fn volumes_df(&self) -> Vec<serde_json::Value> {
        let views: Vec<(Volume, PathBuf)> = self
            .vols
            .names()
            .into_iter()
            .filter_map(|n| {
                let m = self.vols.meta(&n)?;
                let mut v = self.vols.view(&n, &m);
                v.usage_data = Some(VolumeUsageData {
                    size: -1,
                    ref_count: self.volume_users(&n).len() as i64,
                });
                Some((v, self.vols.mountpoint(&n)))
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            views
                .into_iter()
                .filter_map(|(mut v, mp)| {
                    if let Some(u) = &mut v.usage_data {
                        u.size = crate::dir_size(&mp) as i64;
                    }
                    serde_json::to_value(v).ok()
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_copy_honours_whiteouts_and_opaque_dirs() {
        let t = tempfile::tempdir().unwrap();
        let (top, low, dst) = (
            t.path().join("top"),
            t.path().join("low"),
            t.path().join("dst"),
        );
        for d in [&top, &low, &dst] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::create_dir_all(low.join("data/sub")).unwrap();
        std::fs::write(low.join("data/a"), "low a").unwrap();
        std::fs::write(low.join("data/gone"), "x").unwrap();
        std::fs::write(low.join("data/sub/s"), "s").unwrap();
        std::fs::create_dir_all(top.join("data")).unwrap();
        std::fs::write(top.join("data/a"), "top a").unwrap();
        std::os::unix::fs::symlink("a", top.join("data/link")).unwrap();
        nix_mknod_whiteout(&top.join("data/gone"));
        copy_up(&[top, low], "/data", &dst).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("a")).unwrap(), "top a");
        assert_eq!(std::fs::read_to_string(dst.join("sub/s")).unwrap(), "s");
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap(),
            Path::new("a")
        );
        assert!(!dst.join("gone").exists());
    }

    fn nix_mknod_whiteout(p: &Path) {
        let st = std::process::Command::new("mknod")
            .arg(p)
            .args(["c", "0", "0"])
            .status()
            .unwrap();
        assert!(st.success());
    }
}
