//! Berth's container service: the state machine of containers, their OCI
//! bundles, the protocol with their monitors, json-file logs, exec, events
//! and restart survival. [`Engine`] implements the Engine API's
//! [`Backend`](berth_api::backend::Backend); image endpoints delegate to
//! `berth-image`.
//!
//! # Processes
//! berthd never forks from a tokio worker thread: every monitor (and `ps`
//! for `top`) is started from the [`monitor::Spawner`] thread. A monitor
//! is in its own process group and outlives berthd; [`Engine::open`]
//! reconnects to the monitors of running containers, or reads the exit
//! record of those that exited while berthd was down.
//!
//! # State
//! `<data-root>/containers/<id>/`: `config.json` (the [`container::Record`]),
//! `hostname`, `hosts`, `resolv.conf`, `<id>-json.log*`, `rootfs/` (the
//! overlay mount point). `<exec-root>/containers/<id>/`: `bundle/config.json`,
//! `monitor.json`, `monitor.sock`, `exit.json`, `monitor.log`.

pub mod archive;
pub mod bundle;
pub mod cgroup_pool;
mod changes;
mod commit;
pub mod container;
pub mod devices;
pub mod events;
pub mod health;
mod images;
pub mod leftovers;
pub mod logs;
pub mod monitor;
mod names;
mod network;
mod restart;
pub mod seccomp_profile;
pub mod security_opt;
mod session;
pub mod stats;
pub mod update;
pub mod util;
pub mod volume_opts;
pub mod volumes;

use berth_api::backend::*;
use berth_api::models::*;
use berth_api::ApiError;
use berth_monitor::proto::{ExitRecord, MonitorConfig, OverlayRootfs, Request, EXIT_FILE};
use container::{Container, Record, Snap, StateRec, Status};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use util::{human_duration, now_ns, parse_signal, time_or_zero};

/// Paths and binaries of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `--data-root` (default /var/lib/berth).
    pub data_root: PathBuf,
    /// `--exec-root` (default /run/berth).
    pub exec_root: PathBuf,
    /// The `berth-monitor` binary.
    pub monitor_bin: PathBuf,
    /// A static init for `--init` (tini-static / docker-init), if found.
    pub init_bin: Option<PathBuf>,
    /// Debug logging (for `/info`).
    pub debug: bool,
    /// Registries reached over plain HTTP or unverified HTTPS
    /// (`--insecure-registry`, daemon.json `insecure-registries`; loopback
    /// always is).
    pub insecure_registries: Vec<String>,
    /// Docker Hub mirrors tried before it (`--registry-mirror`,
    /// `registry-mirrors`).
    pub registry_mirrors: Vec<String>,
    /// `max-concurrent-downloads` (None: 3).
    pub max_concurrent_downloads: Option<usize>,
    /// `max-concurrent-uploads` (None: 5).
    pub max_concurrent_uploads: Option<usize>,
    /// `max-download-attempts` (None: 5).
    pub max_download_attempts: Option<u32>,
    /// The network service's configuration (`--bridge`, `--bip`,
    /// `--default-address-pool`, `--mtu`). An empty `bridge_name` is
    /// `-b none`: no default bridge (containers default to `none`), the
    /// service is opened on the first `network create` (or at start when
    /// networks exist). `None`: no networking beyond `none`, `host` and
    /// `container:<id>`.
    pub network: Option<berth_network::ControllerConfig>,
}

struct ExecEntry {
    container: Arc<Container>,
    cfg: ExecConfig,
    running: bool,
    started: bool,
    exit_code: Option<i64>,
    pid: i64,
}

/// The container engine.
pub struct Engine {
    cfg: EngineConfig,
    images: Arc<berth_image::ImageService>,
    /// The registry client (pull, push, login).
    dist: berth_distribution::Distribution,
    containers: RwLock<HashMap<String, Arc<Container>>>,
    names: Mutex<HashMap<String, String>>,
    execs: Mutex<HashMap<String, Arc<Mutex<ExecEntry>>>>,
    events: events::Events,
    spawner: monitor::Spawner,
    /// Container cgroups made ahead of their creates.
    cgroups: Arc<cgroup_pool::CgroupPool>,
    /// Networking (`crate::network`).
    net: network::Net,
    /// Volumes (`crate::volumes`).
    vols: volumes::Store,
    /// Restart policies (`crate::restart`).
    restarts: restart::Manager,
    id: String,
    me: Weak<Engine>,
}

fn sys<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> ApiError + '_ {
    move |e| ApiError::system(format!("{what}: {e}"))
}

impl Engine {
    /// Opens the engine: creates the state directories, opens the image
    /// store, loads every container record and reconnects to the monitors
    /// of running ones (containers that exited meanwhile get their exit
    /// code from `exit.json`).
    ///
    /// # Errors
    /// The directories or the image store cannot be opened.
    pub async fn open(cfg: EngineConfig) -> Result<Arc<Engine>, String> {
        for d in [
            cfg.data_root.join("containers"),
            cfg.exec_root.join("containers"),
            cfg.exec_root.join("runtime"),
            cfg.exec_root.join("s"),
        ] {
            std::fs::create_dir_all(&d).map_err(|e| format!("create {}: {e}", d.display()))?;
        }
        let root = cfg.data_root.clone();
        let images = tokio::task::spawn_blocking(move || berth_image::ImageService::open(&root))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("open image store: {e}"))?;
        let id_file = cfg.data_root.join("engine-id");
        let id = match std::fs::read_to_string(&id_file) {
            Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                let id = berth_types::new_id();
                let _ = util::write_atomic(&id_file, id.as_bytes());
                id
            }
        };
        let mut ropts = berth_distribution::Options {
            insecure_registries: cfg.insecure_registries.clone(),
            registry_mirrors: cfg.registry_mirrors.clone(),
            ..Default::default()
        };
        if let Some(n) = cfg.max_concurrent_downloads {
            ropts.max_concurrent_downloads = n;
        }
        if let Some(n) = cfg.max_concurrent_uploads {
            ropts.max_concurrent_uploads = n;
        }
        if let Some(n) = cfg.max_download_attempts {
            ropts.max_download_attempts = n;
        }
        let dist = berth_distribution::Distribution::new(ropts).map_err(|e| e.to_string())?;
        let (ncfg, root) = (cfg.network.clone(), cfg.data_root.clone());
        let net = tokio::task::spawn_blocking(move || network::Net::open(ncfg, &root))
            .await
            .map_err(|e| e.to_string())??;
        let vols = volumes::Store::open(&cfg.data_root).map_err(|e| format!("volumes: {e}"))?;
        let containers_dir = cfg.data_root.join("containers");
        let cgroups =
            cgroup_pool::CgroupPool::open(&cfg.exec_root, &|id| containers_dir.join(id).exists());
        let engine = Arc::new_cyclic(|me| Engine {
            cfg,
            cgroups,
            vols,
            restarts: restart::Manager::default(),
            images: Arc::new(images),
            dist,
            containers: RwLock::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            execs: Mutex::new(HashMap::new()),
            events: events::Events::default(),
            spawner: monitor::Spawner::new(),
            net,
            id,
            me: me.clone(),
        });
        engine.restore().await;
        let live: Vec<String> = engine
            .containers
            .read()
            .expect("containers")
            .values()
            .filter(|c| c.get().state.status.is_live())
            .map(|c| c.id.clone())
            .collect();
        engine.net.reconcile(live).await;
        engine.reconcile_volumes();
        engine.restart_on_boot().await;
        engine.cgroups.refill();
        Ok(engine)
    }

    /// A clean daemon stop: removes the cgroups made ahead for creates
    /// (crate::cgroup_pool). Containers keep running (live restore).
    pub fn shutdown(&self) {
        self.cgroups.drain();
    }

    fn arc(&self) -> Arc<Engine> {
        self.me.upgrade().expect("engine alive")
    }

    /// Engine configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    async fn restore(&self) {
        // Before anything starts: what killed monitors left behind
        // (crate::leftovers); live containers are not touched.
        let (data_root, exec_root) = (self.cfg.data_root.clone(), self.cfg.exec_root.clone());
        let _ = tokio::task::spawn_blocking(move || leftovers::sweep(&data_root, &exec_root, None))
            .await;
        let Ok(rd) = std::fs::read_dir(self.cfg.data_root.join("containers")) else {
            return;
        };
        let mut to_remove = Vec::new();
        for e in rd.flatten() {
            let Some(rec) = container::load(&e.path()) else {
                // A directory without a readable record (a power loss right
                // after its create: records are not fsynced) is gone with
                // its rw layer, as if the create had not happened.
                let id = e.file_name().to_string_lossy().into_owned();
                tracing::warn!("container {id}: no readable config.json; removing its files");
                let _ = self
                    .images
                    .detach_snapshot(&id)
                    .map(std::fs::remove_dir_all);
                let _ = std::fs::remove_dir_all(e.path());
                continue;
            };
            if rec.state.status == Status::Removing {
                to_remove.push(rec.id.clone());
            }
            let c = Arc::new(Container::new(
                rec,
                &self.cfg.data_root,
                &self.cfg.exec_root,
            ));
            self.names
                .lock()
                .expect("names")
                .insert(c.get().name.clone(), c.id.clone());
            self.containers
                .write()
                .expect("containers")
                .insert(c.id.clone(), c.clone());
            let rec = c.get();
            if rec.state.status.is_live() || rec.state.status == Status::Restarting {
                let sock = monitor::socket(&c.run_dir);
                match monitor::connect(&sock, &Request::Wait).await {
                    Ok(conn) => {
                        c.attach_live(true);
                        // A running container's probing starts over.
                        if rec.state.status == Status::Running
                            && rec.config.healthcheck.is_some()
                            && c.update(health::reset_for_start)
                        {
                            self.health_open(&c);
                        }
                        self.watch_exit(c.clone(), conn, None);
                    }
                    Err(_) => {
                        let rec = read_exit(&c.run_dir);
                        self.on_exit(c.clone(), rec).await;
                    }
                }
            }
        }
        for id in to_remove {
            if let Some(c) = self.get_by_id(&id) {
                let _ = self.remove_container(&c, true).await;
            }
        }
        self.sweep_run_dirs();
    }

    /// Deletes exec-root directories of containers that no longer exist
    /// (a removal whose background deletion berthd did not live to finish)
    /// unless a monitor still listens in one.
    fn sweep_run_dirs(&self) {
        let root = self.cfg.exec_root.join("containers");
        let Ok(rd) = std::fs::read_dir(&root) else {
            return;
        };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if self.get_by_id(&id).is_none() && !monitor::socket(&e.path()).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    fn get_by_id(&self, id: &str) -> Option<Arc<Container>> {
        self.containers.read().expect("containers").get(id).cloned()
    }

    /// Finds a container by full ID, name (with or without `/`), or unique
    /// ID prefix.
    ///
    /// # Errors
    /// 404 `No such container: <x>`.
    pub fn find(&self, key: &str) -> Result<Arc<Container>, ApiError> {
        if key.is_empty() {
            return Err(ApiError::no_such_container(key));
        }
        let map = self.containers.read().expect("containers");
        if let Some(c) = map.get(key) {
            return Ok(c.clone());
        }
        let name = if key.starts_with('/') {
            key.to_string()
        } else {
            format!("/{key}")
        };
        if let Some(id) = self.names.lock().expect("names").get(&name) {
            if let Some(c) = map.get(id) {
                return Ok(c.clone());
            }
        }
        let hits: Vec<&Arc<Container>> = map.values().filter(|c| c.id.starts_with(key)).collect();
        match hits.len() {
            1 => Ok(hits[0].clone()),
            0 => Err(ApiError::no_such_container(key)),
            _ => Err(ApiError::invalid(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    fn attrs(rec: &Record) -> BTreeMap<String, String> {
        let mut a: BTreeMap<String, String> = rec.config.labels.clone();
        a.insert("name".into(), rec.name.trim_start_matches('/').to_string());
        a.insert("image".into(), rec.image.clone());
        a
    }

    fn event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let rec = c.get();
        let mut a = Self::attrs(&rec);
        for (k, v) in extra {
            a.insert((*k).into(), v.clone());
        }
        self.events.publish("container", action, &c.id, a);
    }

    // ------------------------------------------------------------------
    // create

    async fn create(
        &self,
        name: Option<String>,
        req: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse> {
        let mut config = req.config;
        let mut host = req.host_config;
        if config.image.is_empty() {
            return Err(ApiError::invalid("No image specified"));
        }
        if let Some(n) = &name {
            if !names::valid(n) {
                return Err(ApiError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        }
        if !host.restart_policy.name.is_empty()
            && host.restart_policy.name != "no"
            && host.auto_remove
        {
            return Err(ApiError::invalid(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        restart::validate(&host.restart_policy)?;
        bundle::capabilities(&host.cap_add, &host.cap_drop, host.privileged)?;
        security_opt::parse(&host.security_opt)?;
        let image_ref = config.image.clone();
        let img = self.image_inspect_raw(&image_ref).await?;
        let ic = img.config.clone();
        // Docker's merge (daemon/create.go + runconfig merge).
        let user_entrypoint = config.entrypoint.is_some();
        if config.entrypoint.is_none() {
            config.entrypoint = ic.entrypoint.clone();
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) && !user_entrypoint {
            config.cmd = ic.cmd.clone();
        }
        let mut env = ic.env.clone();
        for kv in &config.env {
            let key = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        config.env = env;
        if config.working_dir.is_empty() {
            config.working_dir = ic.working_dir.clone();
        }
        if config.user.is_empty() {
            config.user = ic.user.clone();
        }
        let mut labels = ic.labels.clone();
        labels.extend(config.labels.clone());
        config.labels = labels;
        if config.stop_signal.is_none() {
            config.stop_signal = ic.stop_signal.clone();
        }
        if let Some(p) = ic.exposed_ports.clone() {
            config
                .exposed_ports
                .get_or_insert_with(BTreeMap::new)
                .extend(p);
        }
        if let Some(v) = ic.volumes.clone() {
            config.volumes.get_or_insert_with(BTreeMap::new).extend(v);
        }
        // dockerd checks the create's healthcheck, then merges it with the
        // image's field by field (crate::health).
        health::validate(config.healthcheck.as_ref())?;
        config.healthcheck = health::merge(config.healthcheck.take(), ic.healthcheck.as_ref());
        if config.shell.is_none() {
            config.shell = ic.shell.clone();
        }
        if config.on_build.is_empty() {
            config.on_build = ic.on_build.clone();
        }
        let endpoints = self
            .net
            .plan(self, &mut host, &config, &req.networking_config)?;
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(ApiError::invalid("No command specified"));
        }
        if let Some(sig) = &config.stop_signal {
            if parse_signal(sig).is_none() {
                return Err(ApiError::invalid(format!("Invalid signal: {sig}")));
            }
        }
        if let Some(lc) = (!host.log_config.kind.is_empty()).then_some(&host.log_config.kind) {
            if lc != "json-file" && lc != "none" && lc != "local" {
                return Err(ApiError::invalid(format!(
                    "logger: no log driver named '{lc}' is registered"
                )));
            }
        }
        // An ID whose cgroup is made already (crate::cgroup_pool); the
        // ticket goes back to the pool's clean-up if the create fails.
        let ticket = self.cgroups.take();
        let id = ticket
            .as_ref()
            .map(|t| t.id().to_string())
            .unwrap_or_else(berth_types::new_id);
        if config.hostname.is_empty() {
            config.hostname = if host.network_mode == "host" {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            } else {
                id[..12].to_string()
            };
        }
        config.image = image_ref.clone();
        // Reserve the name.
        let name = {
            let mut names = self.names.lock().expect("names");
            let name = match name {
                Some(n) => format!("/{}", n.trim_start_matches('/')),
                None => loop {
                    let n = format!("/{}", names::generate());
                    if !names.contains_key(&n) {
                        break n;
                    }
                },
            };
            if let Some(other) = names.get(&name) {
                return Err(ApiError::conflict(format!(
                    "Conflict. The container name \"{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            names.insert(name.clone(), id.clone());
            name
        };
        let res = self
            .create_files(
                &id, &name, &image_ref, &img.id, config, host, argv, endpoints,
            )
            .await;
        match res {
            Ok(c) => {
                if let Some(t) = ticket {
                    t.claim();
                }
                self.containers
                    .write()
                    .expect("containers")
                    .insert(id.clone(), c.clone());
                self.event(&c, "create", &[]);
                Ok(ContainerCreateResponse {
                    id,
                    warnings: vec![],
                })
            }
            Err(e) => {
                self.names.lock().expect("names").remove(&name);
                let dir = self.cfg.data_root.join("containers").join(&id);
                let _ = std::fs::remove_dir_all(&dir);
                let images = self.images.clone();
                let id2 = id.clone();
                let _ = tokio::task::spawn_blocking(move || images.remove_snapshot(&id2)).await;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_files(
        &self,
        id: &str,
        name: &str,
        image_ref: &str,
        image_id: &str,
        config: ContainerConfig,
        host: HostConfig,
        argv: Vec<String>,
        endpoints: BTreeMap<String, EndpointConfig>,
    ) -> ApiResult<Arc<Container>> {
        let dir = self.cfg.data_root.join("containers").join(id);
        std::fs::create_dir_all(dir.join("rootfs")).map_err(sys("create container dir"))?;
        let images = self.images.clone();
        let (cid, iid) = (id.to_string(), image_id.to_string());
        let mount = tokio::task::spawn_blocking(move || images.prepare_snapshot(&cid, &iid))
            .await
            .map_err(sys("snapshot"))?
            .map_err(images::err)?;
        let (cwd, data) = mount.mount_data();
        let vols = self.plan_volumes(&config, &host, &mount.lowerdirs).await?;
        let rec = Record {
            id: id.to_string(),
            name: name.to_string(),
            created_ns: now_ns(),
            image: image_ref.to_string(),
            image_id: image_id.to_string(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            host_config: host,
            state: StateRec::default(),
            restart_count: 0,
            manually_stopped: false,
            lowerdirs: mount.lowerdirs.clone(),
            upperdir: mount.upperdir.clone(),
            mount_data: data,
            mount_cwd: cwd,
            endpoints,
            volumes: vols,
        };
        let saved = bundle::write_etc_files(&dir, &rec)
            .map_err(sys("write /etc files"))
            // Not fsynced, like the snapshot (berth_store::Db::relaxed): a
            // container created seconds before a power loss may be gone.
            .and_then(|_| container::save_nosync(&dir, &rec).map_err(sys("save container")));
        if let Err(e) = saved {
            self.remove_anonymous_volumes(&rec.volumes);
            return Err(e);
        }
        Ok(Arc::new(Container::new(
            rec,
            &self.cfg.data_root,
            &self.cfg.exec_root,
        )))
    }

    // ------------------------------------------------------------------
    // start / exit

    async fn start(&self, c: &Arc<Container>) -> ApiResult<()> {
        let r = {
            let _g = c.op.lock().await;
            self.start_locked(c).await
        };
        // The runtime is done with cgroups: make the next create's
        // (crate::cgroup_pool).
        self.cgroups.refill();
        if let Err(e) = &r {
            // As Docker: a container with AutoRemove that cannot start is
            // removed, once its monitor (if one was started) has finished
            // its teardown, which follows its exit answer; a monitor still
            // running then is left to the exit path (on_exit removes).
            if e.kind != ErrorKind::NotModified
                && c.get().host_config.auto_remove
                && !c.get().state.status.is_live()
                && monitor::wait_finished(&c.run_dir, std::time::Duration::from_secs(10)).await
            {
                let _ = self.remove_container(c, true).await;
            }
        }
        r
    }

    /// Start under the op lock: the container's volumes with mount
    /// options are mounted first and released again if it does not start.
    async fn start_locked(&self, c: &Arc<Container>) -> ApiResult<()> {
        let vols = c.get().volumes;
        if let Err(e) = self.acquire_volumes(&c.id, &vols) {
            c.update(|r| {
                r.state.error = e.message.clone();
                if r.state.exit_code == 0 {
                    r.state.exit_code = 128;
                }
            });
            return Err(e);
        }
        let r = self.start_with_volumes(c).await;
        if r.is_err() && !c.get().state.status.is_live() {
            self.release_volumes(&c.id, &vols);
        }
        r
    }

    async fn start_with_volumes(&self, c: &Arc<Container>) -> ApiResult<()> {
        let rec = c.get();
        match rec.state.status {
            Status::Running | Status::Paused => return Err(ApiError::not_modified()),
            Status::Removing | Status::Dead => {
                return Err(ApiError::conflict(format!(
                    "cannot start container {}: container is marked for removal",
                    c.id
                )))
            }
            _ => {}
        }
        let run_dir = c.run_dir.clone();
        // The previous run's monitor may still be tearing down.
        if !monitor::wait_finished(&run_dir, std::time::Duration::from_secs(10)).await {
            return Err(ApiError::conflict(format!(
                "cannot start container {}: its previous run is still being cleaned up",
                c.id
            )));
        }
        // A previous run whose monitor was killed left its cgroup, mount
        // and runtime state (crate::leftovers; one stat when it did not).
        leftovers::sweep(&self.cfg.data_root, &self.cfg.exec_root, Some(&c.id));
        let bdir = bundle::bundle_dir(&run_dir);
        std::fs::create_dir_all(&bdir).map_err(sys("create bundle dir"))?;
        let _ = std::fs::remove_file(run_dir.join(EXIT_FILE));
        let rootfs = c.dir.join("rootfs");
        let fail = |e: ApiError| {
            let code = if e.message.contains("not found") || e.message.contains("no such file") {
                127
            } else {
                126
            };
            c.update(|r| {
                r.state.error = e.message.clone();
                r.state.exit_code = code;
            });
            e
        };
        let mut spec = bundle::spec(
            &rec,
            &bundle::SpecInputs {
                rootfs: &rootfs,
                dir: &c.dir,
                init_bin: self.cfg.init_bin.as_deref(),
            },
        )
        .map_err(|e| {
            fail(ApiError::new(
                e.kind,
                format!("failed to create task for container: {}", e.message),
            ))
        })?;
        devices::apply(&rec.host_config, &mut spec).map_err(fail)?;
        seccomp_profile::apply(&rec.host_config, &mut spec).map_err(fail)?;
        self.net.adjust_spec(self, &rec, &mut spec).map_err(fail)?;
        util::write_replace(
            &bdir.join("config.json"),
            &serde_json::to_vec(&spec).unwrap_or_default(),
            false,
        )
        .map_err(sys("write config.json"))?;
        let lc = &rec.host_config.log_config;
        let log_none = lc.kind == "none";
        let mcfg = MonitorConfig {
            id: c.id.clone(),
            bundle: bdir.clone(),
            runtime_root: self.cfg.exec_root.join("runtime"),
            rootfs: Some(OverlayRootfs {
                data: rec.mount_data.clone(),
                cwd: rec.mount_cwd.clone(),
                target: rootfs.clone(),
            }),
            log_path: (!log_none).then(|| c.log_path()),
            log_max_size: lc
                .config
                .get("max-size")
                .and_then(|s| bundle::size_bytes(s))
                .unwrap_or(0),
            log_max_file: lc
                .config
                .get("max-file")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1),
            tty: rec.config.tty,
            open_stdin: rec.config.open_stdin,
            stdin_once: rec.config.stdin_once,
            console_size: rec
                .host_config
                .console_size
                .map(|[h, w]| [h as u16, w as u16]),
            cgroups_path: Some(bundle::cgroups_path(&c.id)),
            socket: Some(monitor::socket(&run_dir)),
        };
        util::write_replace(
            &run_dir.join(berth_monitor::proto::CONFIG_FILE),
            &serde_json::to_vec(&mcfg).unwrap_or_default(),
            false,
        )
        .map_err(sys("write monitor config"))?;
        let (child, init_pid) =
            match monitor::launch(&self.spawner, &self.cfg.monitor_bin, &run_dir).await {
                Ok(x) => x,
                Err(e) => {
                    let kind = if e.contains("not found")
                        || e.contains("no such file")
                        || e.contains("permission denied")
                    {
                        ErrorKind::InvalidParameter
                    } else {
                        ErrorKind::System
                    };
                    return Err(fail(ApiError::new(
                        kind,
                        format!("failed to create task for container: {e}"),
                    )));
                }
            };
        let sock = monitor::socket(&run_dir);
        let waitc = monitor::connect(&sock, &Request::Wait)
            .await
            .map_err(sys("connect to monitor"))?;
        // Networking between the runtime's create and start (crate::network).
        // A failure leaves the container as it was (network::net_start_failed).
        if let Err(e) = self.net.attach(self, &rec, init_pid, &c.dir).await {
            return Err(self.net_start_failed(c, waitc, child, e).await);
        }
        // Attach sessions that were waiting for the start connect now.
        let pending = c.attach_live(true);
        let mut acks = Vec::new();
        for p in pending {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if p.send(tx).is_ok() {
                acks.push(rx);
            }
        }
        for a in acks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), a).await;
        }
        let started = monitor::call(&sock, &Request::Start).await;
        let pid = match started {
            Ok(r) => r.pid.unwrap_or(0),
            Err(e) => {
                // The init process never ran the user program; the monitor
                // reaps it, cleans up and exits.
                let _ = monitor::call(
                    &sock,
                    &Request::Kill {
                        signal: 9,
                        all: true,
                    },
                )
                .await;
                self.watch_exit(c.clone(), waitc, child);
                let kind = if e.contains("not found")
                    || e.contains("no such file")
                    || e.contains("ermission denied")
                {
                    ErrorKind::InvalidParameter
                } else {
                    ErrorKind::System
                };
                return Err(fail(ApiError::new(
                    kind,
                    format!("failed to create task for container: {e}"),
                )));
            }
        };
        let probe = c.update(|r| {
            r.state.status = Status::Running;
            r.state.pid = pid as i64;
            r.state.started_ns = now_ns();
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.oom_killed = false;
            r.manually_stopped = false;
            health::reset_for_start(r)
        });
        if probe {
            self.health_open(c);
        }
        c.snap.send_modify(|s| s.running = true);
        self.event(c, "start", &[]);
        self.watch_exit(c.clone(), waitc, child);
        Ok(())
    }

    fn watch_exit(
        &self,
        c: Arc<Container>,
        mut conn: monitor::Conn,
        child: Option<std::process::Child>,
    ) {
        let engine = self.arc();
        tokio::spawn(async move {
            let rec: Option<ExitRecord> = conn.reply().await.ok();
            let rec = rec.unwrap_or_else(|| read_exit(&c.run_dir));
            if let Some(mut child) = child {
                engine.spawner.run(move || child.wait()).await.ok();
            }
            engine.on_exit(c, rec).await;
        });
    }

    async fn on_exit(&self, c: Arc<Container>, rec: ExitRecord) {
        c.attach_live(false);
        // Probing ends with the container (saved with the update below).
        self.health_close(&c);
        self.net.release(&c.id).await;
        self.release_volumes(&c.id, &c.get().volumes);
        let was_started = c.get().state.status.is_live();
        c.update(|r| {
            if r.state.status != Status::Removing {
                r.state.status = Status::Exited;
            }
            r.state.pid = 0;
            r.state.exit_code = rec.exit_code as i64;
            r.state.finished_ns = if rec.finished_at_ns > 0 {
                rec.finished_at_ns
            } else {
                now_ns()
            };
            r.state.oom_killed = rec.oom_killed;
            if !rec.error.is_empty() {
                r.state.error = rec.error.clone();
            }
        });
        // Events before waiters wake: a `stop` (or `destroy`) they then
        // publish must come after `die`, as with dockerd.
        if rec.oom_killed {
            self.event(&c, "oom", &[]);
        }
        if was_started {
            self.event(&c, "die", &[("exitCode", rec.exit_code.to_string())]);
        }
        c.snap.send_modify(|s| {
            s.exits += 1;
            s.running = false;
            s.exit_code = rec.exit_code as i64;
        });
        let r = c.get();
        if r.host_config.auto_remove {
            let _ = self.remove_container(&c, true).await;
            return;
        }
        self.after_exit(&c, rec.exit_code as i64, was_started);
    }

    // ------------------------------------------------------------------
    // stop / kill / remove

    /// Sends `signal` to the init (`all`: to every process) and publishes
    /// dockerd's `kill` event (attribute `signal`, the number) — before
    /// the signal, so that it precedes the `die` it may cause.
    async fn signal(&self, c: &Container, signal: i32, all: bool) -> Result<(), String> {
        self.event(c, "kill", &[("signal", signal.to_string())]);
        monitor::call(&monitor::socket(&c.run_dir), &Request::Kill { signal, all })
            .await
            .map(|_| ())
    }

    /// Waits until the exit counter passes `exits0` or `timeout` elapses.
    async fn wait_exit(
        &self,
        c: &Container,
        exits0: u64,
        timeout: Option<std::time::Duration>,
    ) -> bool {
        let mut rx = c.snap.subscribe();
        let fut = async {
            loop {
                if rx.borrow_and_update().exits > exits0 {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, fut).await.is_ok(),
            None => {
                fut.await;
                true
            }
        }
    }

    async fn stop(
        &self,
        c: &Arc<Container>,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()> {
        let _g = c.op.lock().await;
        self.stop_locked(c, signal, timeout).await
    }

    async fn stop_locked(
        &self,
        c: &Arc<Container>,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()> {
        let rec = c.get();
        c.update(|r| r.manually_stopped = true);
        self.restarts.cancel(&c.id);
        if rec.state.status == Status::Restarting {
            // Waiting for its policy's restart: that is cancelled.
            self.leave_restarting(c);
            self.event(c, "stop", &[]);
            return Ok(());
        }
        if !rec.state.status.is_live() {
            return Err(ApiError::not_modified());
        }
        let sig_name = signal
            .or(rec.config.stop_signal.clone())
            .unwrap_or_else(|| "SIGTERM".into());
        let sig = parse_signal(&sig_name)
            .ok_or_else(|| ApiError::invalid(format!("Invalid signal: {sig_name}")))?;
        let t = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        let exits0 = c.snap.borrow().exits;
        if self.signal(c, sig, false).await.is_ok() {
            if rec.state.status == Status::Paused {
                let _ = monitor::call(&monitor::socket(&c.run_dir), &Request::Resume).await;
            }
            let limit = (t >= 0).then(|| std::time::Duration::from_secs(t as u64));
            if self.wait_exit(c, exits0, limit).await {
                self.event(c, "stop", &[]);
                return Ok(());
            }
        }
        let _ = self.signal(c, 9, true).await;
        let _ = monitor::call(&monitor::socket(&c.run_dir), &Request::Resume).await;
        if !self
            .wait_exit(c, exits0, Some(std::time::Duration::from_secs(30)))
            .await
        {
            return Err(ApiError::system(format!("cannot stop container: {}: tried to kill container, but did not receive an exit event", c.id)));
        }
        self.event(c, "stop", &[]);
        Ok(())
    }

    async fn remove_container(&self, c: &Arc<Container>, force: bool) -> ApiResult<()> {
        let _g = c.op.lock().await;
        if self.get_by_id(&c.id).is_none() {
            return Ok(());
        }
        let rec = c.get();
        if rec.state.status == Status::Restarting {
            if !force {
                return Err(ApiError::conflict(format!(
                    "cannot remove container \"{}\": container is restarting: stop the container before removing or force remove",
                    rec.name
                )));
            }
            self.restarts.cancel(&c.id);
        }
        if rec.state.status.is_live() {
            if !force {
                let what = if rec.state.status == Status::Paused {
                    "container is paused and must be unpaused first"
                } else {
                    "container is running: stop the container before removing or force remove"
                };
                return Err(ApiError::conflict(format!(
                    "cannot remove container \"{}\": {what}",
                    rec.name
                )));
            }
            let exits0 = c.snap.borrow().exits;
            let _ = self.signal(c, 9, true).await;
            let _ = monitor::call(&monitor::socket(&c.run_dir), &Request::Resume).await;
            if !self
                .wait_exit(c, exits0, Some(std::time::Duration::from_secs(30)))
                .await
            {
                return Err(ApiError::system(format!(
                    "cannot remove container \"{}\": could not kill",
                    rec.name
                )));
            }
        }
        self.health_close(c);
        c.update(|r| r.state.status = Status::Removing);
        // A monitor still tearing down removes the container's cgroup and
        // mount itself; one that was killed left them (crate::leftovers).
        let (data_root, exec_root, id) = (
            self.cfg.data_root.clone(),
            self.cfg.exec_root.clone(),
            c.id.clone(),
        );
        // A container that never started may still have the empty cgroup
        // the pool made for its ID (crate::cgroup_pool).
        let never_started = rec.state.started_ns == 0;
        let _ = tokio::task::spawn_blocking(move || {
            leftovers::sweep(&data_root, &exec_root, Some(&id));
            if never_started {
                cgroup_pool::remove_cgroup(&id);
            }
        })
        .await;
        // The files go after the answer: the rw layer and the container's
        // directory are renamed into the store's trash (one rename each;
        // emptied at the next open if berthd dies first), and a blocking
        // task deletes them and the small exec-root directory. Deleting
        // them here took ~2 ms of every `run --rm`.
        let images = self.images.clone();
        let (id, dir) = (c.id.clone(), c.dir.clone());
        let detached = tokio::task::spawn_blocking(move || {
            let snap = images.detach_snapshot(&id);
            let dir = images.trash(&dir);
            (snap, dir)
        })
        .await;
        let (snap, dir) = detached.map_err(sys("remove container"))?;
        let snap = match snap {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("remove snapshot of {}: {e}", c.id);
                None
            }
        };
        let dir = match dir {
            Ok(t) => t,
            Err(e) => {
                c.update(|r| r.state.status = Status::Dead);
                return Err(ApiError::system(format!(
                    "unable to remove filesystem for {}: {e}",
                    c.id
                )));
            }
        };
        let run_dir = c.run_dir.clone();
        tokio::task::spawn_blocking(move || {
            for t in snap
                .iter()
                .chain(dir.iter())
                .chain(std::iter::once(&run_dir))
            {
                if let Err(e) = std::fs::remove_dir_all(t) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!("remove {}: {e}", t.display());
                    }
                }
            }
        });
        self.containers.write().expect("containers").remove(&c.id);
        self.names.lock().expect("names").remove(&rec.name);
        self.execs
            .lock()
            .expect("execs")
            .retain(|_, e| e.lock().expect("exec").container.id != c.id);
        self.events
            .publish("container", "destroy", &c.id, Self::attrs(&rec));
        c.snap.send_modify(|s| s.removed = true);
        self.restarts.forget(&c.id);
        if rec.host_config.auto_remove {
            // As dockerd: AutoRemove takes the anonymous volumes along.
            self.remove_anonymous_volumes(&rec.volumes);
        }
        Ok(())
    }

    fn summary(&self, c: &Container, size: bool) -> ContainerSummary {
        let r = c.get();
        let now = now_ns();
        let status = match r.state.status {
            Status::Running => format!(
                "Up {}{}",
                human_duration(now - r.state.started_ns),
                health::status_suffix(&r)
            ),
            Status::Paused => format!("Up {} (Paused)", human_duration(now - r.state.started_ns)),
            Status::Exited => format!(
                "Exited ({}) {} ago",
                r.state.exit_code,
                human_duration(now - r.state.finished_ns)
            ),
            Status::Created => "Created".into(),
            Status::Restarting => format!(
                "Restarting ({}) {} ago",
                r.state.exit_code,
                human_duration(now - r.state.finished_ns)
            ),
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
        };
        let ports = self.net.summary_ports(&r);
        ContainerSummary {
            id: r.id.clone(),
            names: vec![r.name.clone()],
            image: r.image.clone(),
            image_id: r.image_id.clone(),
            command: std::iter::once(r.path.clone())
                .chain(r.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
            created: (r.created_ns / 1_000_000_000) as i64,
            ports,
            size_rw: size.then(|| dir_size(&r.upperdir) as i64),
            size_root_fs: size.then(|| {
                (dir_size(&r.upperdir) + r.lowerdirs.iter().map(|d| dir_size(d)).sum::<u64>())
                    as i64
            }),
            labels: r.config.labels.clone(),
            state: r.state.status.as_str().into(),
            status,
            host_config: SummaryHostConfig {
                network_mode: net_mode(&r.host_config),
            },
            network_settings: SummaryNetworkSettings {
                networks: self
                    .net
                    .endpoint_settings(&r, &self.net.container_endpoints(&r.id)),
            },
            mounts: mount_points(&r),
        }
    }

    fn inspect(&self, c: &Container, size: bool) -> ContainerInspect {
        let r = c.get();
        let st = &r.state;
        let execs: Vec<String> = self
            .execs
            .lock()
            .expect("execs")
            .iter()
            .filter(|(_, e)| {
                let e = e.lock().expect("exec");
                e.container.id == c.id && e.running
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut gd = BTreeMap::new();
        gd.insert(
            "LowerDir".into(),
            r.lowerdirs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
        );
        gd.insert("UpperDir".into(), r.upperdir.display().to_string());
        gd.insert(
            "MergedDir".into(),
            c.dir.join("rootfs").display().to_string(),
        );
        gd.insert(
            "WorkDir".into(),
            r.upperdir.with_file_name("work").display().to_string(),
        );
        let mut host_config = r.host_config.clone();
        if host_config.network_mode.is_empty() {
            host_config.network_mode = "bridge".into();
        }
        if host_config.log_config.kind.is_empty() {
            host_config.log_config.kind = "json-file".into();
        }
        ContainerInspect {
            id: r.id.clone(),
            created: util::rfc3339_nano(r.created_ns),
            path: r.path.clone(),
            args: r.args.clone(),
            state: ContainerState {
                status: st.status.as_str().into(),
                // As dockerd: a restarting container counts as running.
                running: st.status.is_live() || st.status == Status::Restarting,
                paused: st.status == Status::Paused,
                restarting: st.status == Status::Restarting,
                oom_killed: st.oom_killed,
                dead: st.status == Status::Dead,
                pid: st.pid,
                exit_code: st.exit_code,
                error: st.error.clone(),
                started_at: time_or_zero(st.started_ns),
                finished_at: time_or_zero(st.finished_ns),
                health: st.health.clone().map(|mut h| {
                    if h.status.is_empty() {
                        h.status = "unhealthy".into();
                    }
                    h
                }),
            },
            image: r.image_id.clone(),
            resolv_conf_path: c.dir.join("resolv.conf").display().to_string(),
            hostname_path: c.dir.join("hostname").display().to_string(),
            hosts_path: c.dir.join("hosts").display().to_string(),
            log_path: if r.host_config.log_config.kind == "none" {
                String::new()
            } else {
                c.log_path().display().to_string()
            },
            name: r.name.clone(),
            restart_count: r.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            exec_ids: (!execs.is_empty()).then_some(execs),
            host_config,
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: gd,
            },
            size_rw: size.then(|| dir_size(&r.upperdir) as i64),
            size_root_fs: size.then(|| {
                (dir_size(&r.upperdir) + r.lowerdirs.iter().map(|d| dir_size(d)).sum::<u64>())
                    as i64
            }),
            mounts: mount_points(&r),
            config: r.config.clone(),
            network_settings: self.net.settings(&r),
            app_armor_profile: security_opt::parse(&r.host_config.security_opt)
                .map(|o| o.apparmor_profile)
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    fn list(&self, opts: &ListOptions) -> ApiResult<Vec<ContainerSummary>> {
        for k in opts.filters.keys() {
            if ![
                "id", "name", "label", "status", "exited", "ancestor", "before", "since", "volume",
                "network", "health", "is-task", "publish", "expose",
            ]
            .contains(&k.as_str())
            {
                return Err(ApiError::invalid(format!("invalid filter '{k}'")));
            }
        }
        for v in opts.filters.get("health").into_iter().flatten() {
            if !["starting", "healthy", "unhealthy", "none"].contains(&v.as_str()) {
                return Err(ApiError::invalid(format!(
                    "Unrecognised filter value for health: {v}"
                )));
            }
        }
        let mut all: Vec<Arc<Container>> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|c| std::cmp::Reverse(c.get().created_ns));
        let f = &opts.filters;
        let include_stopped =
            opts.all || opts.limit > 0 || f.contains_key("status") || f.contains_key("exited");
        let mut out = Vec::new();
        for c in all {
            let r = c.get();
            if !include_stopped && !r.state.status.is_live() {
                continue;
            }
            let ok = |k: &str, pred: &dyn Fn(&str) -> bool| {
                f.get(k)
                    .is_none_or(|vs| vs.is_empty() || vs.iter().any(|v| pred(v)))
            };
            let pass = ok("id", &|v| r.id.starts_with(v))
                && ok("name", &|v| {
                    r.name
                        .trim_start_matches('/')
                        .contains(v.trim_start_matches('/'))
                })
                && ok("status", &|v| v == r.state.status.as_str())
                && ok("health", &|v| v == health::filter_value(&r))
                && ok("exited", &|v| {
                    r.state.status == Status::Exited
                        && v.parse::<i64>().ok() == Some(r.state.exit_code)
                })
                && ok("ancestor", &|v| {
                    r.image == v
                        || r.image_id == v
                        || r.image_id.trim_start_matches("sha256:").starts_with(v)
                })
                && f.get("label").is_none_or(|vs| {
                    vs.iter().all(|v| match v.split_once('=') {
                        Some((k, val)) => r.config.labels.get(k).map(String::as_str) == Some(val),
                        None => r.config.labels.contains_key(v),
                    })
                });
            if !pass {
                continue;
            }
            out.push(self.summary(&c, opts.size));
            if opts.limit > 0 && out.len() as i64 >= opts.limit {
                break;
            }
        }
        Ok(out)
    }

    fn container_uses(&self) -> Vec<berth_image::ContainerUse> {
        self.containers
            .read()
            .expect("containers")
            .values()
            .filter_map(|c| {
                let r = c.get();
                Some(berth_image::ContainerUse {
                    container_id: r.id.clone(),
                    image_id: r.image_id.parse().ok()?,
                    running: r.state.status.is_live(),
                })
            })
            .collect()
    }

    /// Live sessions of containers (for shutdown logging).
    pub fn running_count(&self) -> usize {
        self.containers
            .read()
            .expect("containers")
            .values()
            .filter(|c| c.get().state.status.is_live())
            .count()
    }
}

fn read_exit(run_dir: &Path) -> ExitRecord {
    std::fs::read(run_dir.join(EXIT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(ExitRecord {
            exit_code: 255,
            finished_at_ns: now_ns(),
            oom_killed: false,
            error: "monitor gone without an exit record".into(),
        })
}

fn net_mode(h: &HostConfig) -> String {
    match h.network_mode.as_str() {
        "" | "default" => "bridge".into(),
        m => m.into(),
    }
}

fn mount_points(r: &Record) -> Vec<MountPoint> {
    let mut v: Vec<MountPoint> = r
        .host_config
        .binds
        .iter()
        .filter_map(|b| {
            let p: Vec<&str> = b.split(':').collect();
            if p.len() < 2 || !p[0].starts_with('/') {
                return None;
            }
            let mode = p.get(2).copied().unwrap_or("").to_string();
            Some(MountPoint {
                kind: "bind".into(),
                name: None,
                source: p[0].into(),
                destination: p[1].into(),
                driver: None,
                rw: !mode.split(',').any(|o| o == "ro"),
                mode,
                propagation: "rprivate".into(),
            })
        })
        .collect();
    v.extend(Engine::volume_mount_points(&r.volumes));
    v
}

/// Size of a directory tree in bytes: the lengths of its non-directory
/// entries, not following symlinks, at most 128 levels deep.
pub(crate) fn dir_size(p: &Path) -> u64 {
    fn walk(p: &Path, n: &mut u64, depth: u32) {
        if depth > 128 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                walk(&e.path(), n, depth + 1);
            } else {
                *n += m.len();
            }
        }
    }
    let mut n = 0;
    walk(p, &mut n, 0);
    n
}

impl Container {
    /// Marks the monitor socket usable for attach (`true`, returning the
    /// sessions that waited for it) or gone (`false`).
    fn attach_live(&self, live: bool) -> Vec<container::PendingAttach> {
        let mut p = self.pending_attach.lock().expect("attach lock");
        p.live = live;
        if live {
            std::mem::take(&mut p.pending)
        } else {
            Vec::new()
        }
    }
}

pub use session::detach_keys;

#[async_trait::async_trait]
impl Backend for Engine {
    async fn version(&self) -> ApiResult<SystemVersion> {
        let mut v = system_version();
        if let Some(init) = self.cfg.init_bin.clone() {
            // dockerd lists its init as `docker-init` with tini's version.
            let out = self
                .spawner
                .run(move || std::process::Command::new(init).arg("--version").output())
                .await
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if let Some((ver, commit)) = tini_version(&out) {
                let mut d = BTreeMap::new();
                d.insert("GitCommit".to_string(), commit);
                v.components.push(ComponentVersion {
                    name: "docker-init".into(),
                    version: ver,
                    details: Some(d),
                });
            }
        }
        Ok(v)
    }

    async fn info(&self) -> ApiResult<SystemInfo> {
        let (mut running, mut paused, mut stopped) = (0, 0, 0);
        let list: Vec<Arc<Container>> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .cloned()
            .collect();
        for c in &list {
            match c.get().state.status {
                Status::Running => running += 1,
                Status::Paused => paused += 1,
                _ => stopped += 1,
            }
        }
        let images = self.images.clone();
        let n_images = tokio::task::spawn_blocking(move || {
            images
                .list(&Default::default())
                .map(|v| v.len())
                .unwrap_or(0)
        })
        .await
        .unwrap_or(0);
        let os = std::fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| "Linux".into());
        let mem = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            })
            .unwrap_or(0)
            * 1024;
        let cg2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let mut plugins = BTreeMap::new();
        plugins.insert("Volume".into(), vec!["local".into()]);
        plugins.insert(
            "Network".into(),
            vec!["bridge".into(), "host".into(), "null".into()],
        );
        plugins.insert("Log".into(), vec!["json-file".into(), "none".into()]);
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            "berth".to_string(),
            serde_json::json!({"path": "berth-runtime"}),
        );
        Ok(SystemInfo {
            id: self.id.clone(),
            containers: list.len() as i64,
            containers_running: running,
            containers_paused: paused,
            containers_stopped: stopped,
            images: n_images as i64,
            driver: "overlay2".into(),
            driver_status: vec![
                ["Backing Filesystem".into(), "extfs".into()],
                ["Supports d_type".into(), "true".into()],
            ],
            plugins,
            memory_limit: true,
            swap_limit: true,
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            pids_limit: true,
            ipv4_forwarding: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .map(|s| s.trim() == "1")
                .unwrap_or(false),
            debug: self.cfg.debug,
            n_fd: std::fs::read_dir("/proc/self/fd")
                .map(|d| d.count() as i64)
                .unwrap_or(0),
            n_goroutines: std::fs::read_dir("/proc/self/task")
                .map(|d| d.count() as i64)
                .unwrap_or(0),
            system_time: util::rfc3339_nano(now_ns()),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: if cg2 { "2".into() } else { "1".into() },
            n_events_listener: self.events.listeners() as i64,
            kernel_version: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .into(),
            operating_system: os,
            os_version: String::new(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            mem_total: mem,
            docker_root_dir: self.cfg.data_root.display().to_string(),
            name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .into(),
            labels: vec![],
            experimental_build: false,
            server_version: env!("CARGO_PKG_VERSION").into(),
            runtimes,
            default_runtime: "berth".into(),
            live_restore_enabled: true,
            isolation: String::new(),
            init_binary: self
                .cfg
                .init_bin
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            security_options: vec![
                "name=seccomp,profile=builtin".into(),
                "name=cgroupns".into(),
            ],
            warnings: vec![],
            swarm: serde_json::json!({"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null}),
            registry_config: serde_json::json!({"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []}),
        })
    }

    async fn events(&self, opts: EventsOptions) -> ApiResult<BoxStream<EventMessage>> {
        Ok(self.events.subscribe(opts))
    }

    async fn system_df(&self) -> ApiResult<SystemDf> {
        let mut images = self.image_list(true, Filters::new()).await?;
        let (shared, layers_size) = images::shared_sizes(self).await?;
        let list: Vec<Arc<Container>> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .cloned()
            .collect();
        let containers: Vec<ContainerSummary> =
            list.iter().map(|c| self.summary(c, true)).collect();
        // SharedSize and Containers as dockerd fills them: the docker CLI
        // counts an image as reclaimable unless both are known and it is
        // used.
        for i in &mut images {
            i.shared_size = shared.get(&i.id).copied().unwrap_or(0);
            i.containers = containers.iter().filter(|c| c.image_id == i.id).count() as i64;
        }
        Ok(SystemDf {
            layers_size,
            images,
            containers,
            volumes: self.volumes_df().await,
            build_cache: vec![],
        })
    }

    async fn container_create(
        &self,
        name: Option<String>,
        req: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse> {
        self.create(name, req).await
    }

    async fn container_list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>> {
        self.list(&opts)
    }

    async fn container_inspect(&self, id: &str, size: bool) -> ApiResult<ContainerInspect> {
        let c = self.find(id)?;
        Ok(self.inspect(&c, size))
    }

    async fn container_start(&self, id: &str) -> ApiResult<()> {
        let c = self.find(id)?;
        if !c.get().state.status.is_live() {
            // A user's start: the policy's count starts over (moby
            // ResetRestartManager).
            self.restarts.reset(&c.id);
            c.update(|r| r.restart_count = 0);
        }
        self.start(&c).await
    }

    async fn container_stop(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()> {
        let c = self.find(id)?;
        self.stop(&c, signal, timeout).await
    }

    async fn container_restart(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> ApiResult<()> {
        let c = self.find(id)?;
        let _g = c.op.lock().await;
        match self.stop_locked(&c, signal, timeout).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        self.restarts.reset(&c.id);
        c.update(|r| r.restart_count = 0);
        self.start_locked(&c).await?;
        self.event(&c, "restart", &[]);
        Ok(())
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> ApiResult<()> {
        let c = self.find(id)?;
        let sig_name = signal.unwrap_or_else(|| "SIGKILL".into());
        let sig = parse_signal(&sig_name)
            .ok_or_else(|| ApiError::invalid(format!("Invalid signal: {sig_name}")))?;
        let r = c.get();
        if r.state.status == Status::Restarting {
            // No process to signal: the pending policy restart is
            // cancelled instead (moby: ExitOnNext).
            c.update(|r| r.manually_stopped = true);
            self.restarts.cancel(&c.id);
            self.leave_restarting(&c);
            return Ok(());
        }
        if !r.state.status.is_live() {
            return Err(ApiError::conflict(format!(
                "cannot kill container: {id}: container {} is not running",
                c.id
            )));
        }
        if sig == 9 || sig == 15 {
            c.update(|r| r.manually_stopped = true);
            self.restarts.cancel(&c.id);
        }
        let exits0 = c.snap.borrow().exits;
        self.signal(&c, sig, false)
            .await
            .map_err(|e| ApiError::system(format!("cannot kill container: {id}: {e}")))?;
        if sig == 9 {
            // As dockerd: a SIGKILL returns once the container is gone
            // (bounded), so that `kill` then `rm` works.
            self.wait_exit(&c, exits0, Some(std::time::Duration::from_secs(10)))
                .await;
        }
        Ok(())
    }

    async fn container_wait(
        &self,
        id: &str,
        condition: &str,
    ) -> ApiResult<BoxFuture<WaitResponse>> {
        let c = self.find(id)?;
        let cond = match condition {
            "" | "not-running" => 0,
            "next-exit" => 1,
            "removed" => 2,
            other => return Err(ApiError::invalid(format!("invalid condition: \"{other}\""))),
        };
        let mut rx = c.snap.subscribe();
        let start: Snap = *rx.borrow_and_update();
        let live = c.get().state.status.is_live();
        Ok(Box::pin(async move {
            let done = |s: &Snap| match cond {
                0 => !s.running && (!live || s.exits > start.exits),
                1 => s.exits > start.exits,
                _ => s.removed,
            };
            loop {
                let s = *rx.borrow_and_update();
                if done(&s) {
                    return WaitResponse {
                        status_code: s.exit_code,
                        error: None,
                    };
                }
                if rx.changed().await.is_err() {
                    let s = *rx.borrow();
                    return WaitResponse {
                        status_code: s.exit_code,
                        error: None,
                    };
                }
            }
        }))
    }

    async fn container_attach(&self, id: &str, opts: AttachOptions) -> ApiResult<Hijack> {
        let c = self.find(id)?;
        let keys = detach_keys(&opts.detach_keys)?;
        let tty = c.get().config.tty;
        let engine = self.arc();
        self.event(&c, "attach", &[]);
        Ok(Hijack {
            tty,
            run: Box::new(move |io| {
                Box::pin(async move { session::attach(engine, c, opts, keys, io).await })
            }),
        })
    }

    async fn container_logs(&self, id: &str, opts: LogsOptions) -> ApiResult<LogsStream> {
        let c = self.find(id)?;
        let r = c.get();
        if r.host_config.log_config.kind == "none" {
            return Err(ApiError::new(
                ErrorKind::NotImplemented,
                "configured logging driver does not support reading",
            ));
        }
        Ok(LogsStream {
            tty: r.config.tty,
            chunks: logs::stream(c.log_path(), opts, c.snap.subscribe()),
        })
    }

    async fn container_resize(&self, id: &str, height: u16, width: u16) -> ApiResult<()> {
        let c = self.find(id)?;
        if !c.get().state.status.is_live() {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        monitor::call(
            &monitor::socket(&c.run_dir),
            &Request::Resize {
                height,
                width,
                exec_id: None,
            },
        )
        .await
        .map_err(ApiError::system)?;
        Ok(())
    }

    async fn container_changes(&self, id: &str) -> ApiResult<Vec<FilesystemChange>> {
        changes::changes(self, id).await
    }

    async fn container_export(
        &self,
        id: &str,
    ) -> ApiResult<BoxStream<std::io::Result<bytes::Bytes>>> {
        changes::export(self, id).await
    }

    async fn container_commit(&self, opts: ContainerCommitOptions) -> ApiResult<IdResponse> {
        commit::commit(self, opts).await
    }

    async fn container_pause(&self, id: &str) -> ApiResult<()> {
        let c = self.find(id)?;
        let _g = c.op.lock().await;
        match c.get().state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "Container {} is already paused",
                    c.id
                )))
            }
            _ => {
                return Err(ApiError::conflict(format!(
                    "Container {} is not running",
                    c.id
                )))
            }
        }
        monitor::call(&monitor::socket(&c.run_dir), &Request::Pause)
            .await
            .map_err(ApiError::system)?;
        // As dockerd: no probes while paused, and the status reads unhealthy.
        self.health_close(&c);
        c.update(|r| r.state.status = Status::Paused);
        self.event(&c, "pause", &[]);
        Ok(())
    }

    async fn container_unpause(&self, id: &str) -> ApiResult<()> {
        let c = self.find(id)?;
        let _g = c.op.lock().await;
        if c.get().state.status != Status::Paused {
            return Err(ApiError::conflict(format!(
                "Container {} is not paused",
                c.id
            )));
        }
        monitor::call(&monitor::socket(&c.run_dir), &Request::Resume)
            .await
            .map_err(ApiError::system)?;
        c.update(|r| r.state.status = Status::Running);
        self.health_open(&c);
        self.event(&c, "unpause", &[]);
        Ok(())
    }

    async fn container_rename(&self, id: &str, new_name: &str) -> ApiResult<()> {
        let c = self.find(id)?;
        if new_name.is_empty() {
            return Err(ApiError::invalid("Neither old nor new names may be empty"));
        }
        if !names::valid(new_name) {
            return Err(ApiError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let new = format!("/{}", new_name.trim_start_matches('/'));
        let old = c.get().name;
        {
            let mut names = self.names.lock().expect("names");
            if old == new {
                return Err(ApiError::invalid(
                    "Renaming a container with the same name as its current name",
                ));
            }
            if let Some(other) = names.get(&new) {
                return Err(ApiError::conflict(format!(
                    "Conflict. The container name \"{new}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            names.remove(&old);
            names.insert(new.clone(), c.id.clone());
        }
        c.update(|r| r.name = new.clone());
        self.event(&c, "rename", &[("oldName", old)]);
        Ok(())
    }

    async fn container_top(&self, id: &str, ps_args: Option<String>) -> ApiResult<TopResponse> {
        let c = self.find(id)?;
        if !c.get().state.status.is_live() {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let r = monitor::call(&monitor::socket(&c.run_dir), &Request::Ps)
            .await
            .map_err(ApiError::system)?;
        let pids = r.pids.unwrap_or_default();
        let args = ps_args.unwrap_or_else(|| "-ef".into());
        let mut cmd = std::process::Command::new("ps");
        cmd.args(args.split_whitespace());
        let (code, out, err) = self.spawner.output(cmd).await.map_err(sys("ps"))?;
        if code != 0 {
            return Err(ApiError::system(format!(
                "Error running ps: {}",
                String::from_utf8_lossy(&err).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
        let pid_col = titles
            .iter()
            .position(|t| t == "PID")
            .ok_or_else(|| ApiError::system("Couldn't find PID field in ps output"))?;
        let mut processes = Vec::new();
        for l in lines {
            let fields: Vec<&str> = l.split_whitespace().collect();
            if fields.len() < titles.len() {
                continue;
            }
            let Ok(pid) = fields[pid_col].parse::<i32>() else {
                continue;
            };
            if !pids.contains(&pid) {
                continue;
            }
            let mut row: Vec<String> = fields[..titles.len() - 1]
                .iter()
                .map(|s| s.to_string())
                .collect();
            row.push(fields[titles.len() - 1..].join(" "));
            processes.push(row);
        }
        Ok(TopResponse { titles, processes })
    }

    async fn container_stats(
        &self,
        id: &str,
        stream: bool,
        one_shot: bool,
    ) -> ApiResult<BoxStream<ContainerStats>> {
        Ok(stats::stream(self.find(id)?, stream, one_shot))
    }

    async fn container_update(
        &self,
        id: &str,
        req: ContainerUpdateRequest,
    ) -> ApiResult<ContainerUpdateResponse> {
        update::update(self, &self.find(id)?, req).await
    }

    async fn container_archive_stat(&self, id: &str, path: &str) -> ApiResult<ContainerPathStat> {
        archive::stat_path(self.find(id)?, id, path).await
    }

    async fn container_archive_get(
        &self,
        id: &str,
        path: &str,
    ) -> ApiResult<(ContainerPathStat, BoxStream<std::io::Result<bytes::Bytes>>)> {
        archive::get_archive(self.find(id)?, id, path).await
    }

    async fn container_archive_put(
        &self,
        id: &str,
        path: &str,
        opts: ArchivePutOptions,
        body: BodyReader,
    ) -> ApiResult<()> {
        archive::put_archive(self.find(id), id, path, opts, body).await
    }

    async fn container_remove(&self, id: &str, force: bool, volumes: bool) -> ApiResult<()> {
        let c = self.find(id)?;
        let vols = c.get().volumes;
        self.remove_container(&c, force).await?;
        if volumes {
            self.remove_anonymous_volumes(&vols);
        }
        Ok(())
    }

    async fn container_prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse> {
        let list: Vec<Arc<Container>> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .cloned()
            .collect();
        let mut deleted = Vec::new();
        let mut space = 0u64;
        for c in list {
            let r = c.get();
            if r.state.status.is_live() {
                continue;
            }
            let label_ok = filters.get("label").is_none_or(|vs| {
                vs.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => r.config.labels.get(k).map(String::as_str) == Some(val),
                    None => r.config.labels.contains_key(v),
                })
            });
            if !label_ok {
                continue;
            }
            let sz = dir_size(&r.upperdir);
            if self.remove_container(&c, false).await.is_ok() {
                deleted.push(c.id.clone());
                space += sz;
            }
        }
        self.events.publish(
            "container",
            "prune",
            "",
            BTreeMap::from([("reclaimed".to_string(), space.to_string())]),
        );
        Ok(ContainerPruneResponse {
            containers_deleted: Some(deleted),
            space_reclaimed: space,
        })
    }

    async fn exec_create(&self, id: &str, cfg: ExecConfig) -> ApiResult<IdResponse> {
        let c = self.find(id)?;
        match c.get().state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    c.id
                )))
            }
            _ => {
                return Err(ApiError::conflict(format!(
                    "container {} is not running",
                    c.id
                )))
            }
        }
        if cfg.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(ApiError::invalid("No exec command specified"));
        }
        detach_keys(&cfg.detach_keys)?;
        let eid = berth_types::new_id();
        let entry = ExecEntry {
            container: c.clone(),
            cfg,
            running: false,
            started: false,
            exit_code: None,
            pid: 0,
        };
        self.execs
            .lock()
            .expect("execs")
            .insert(eid.clone(), Arc::new(Mutex::new(entry)));
        let cmd = self.execs.lock().expect("execs")[&eid]
            .lock()
            .expect("exec")
            .cfg
            .cmd
            .clone()
            .unwrap_or_default()
            .join(" ");
        self.event(
            &c,
            &format!("exec_create: {cmd}"),
            &[("execID", eid.clone())],
        );
        Ok(IdResponse { id: eid })
    }

    async fn exec_start(&self, id: &str, cfg: ExecStartConfig) -> ApiResult<Hijack> {
        let (entry, conn, tty, keys) = self.exec_begin(id, &cfg).await?;
        let engine = self.arc();
        let id = id.to_string();
        Ok(Hijack {
            tty,
            run: Box::new(move |io| {
                Box::pin(async move { session::exec(engine, id, entry, conn, keys, io).await })
            }),
        })
    }

    async fn exec_start_detached(&self, id: &str, cfg: ExecStartConfig) -> ApiResult<()> {
        let (entry, conn, _tty, _keys) = self.exec_begin(id, &cfg).await?;
        let engine = self.arc();
        let id = id.to_string();
        tokio::spawn(async move { session::exec_detached(engine, id, entry, conn).await });
        Ok(())
    }

    async fn exec_resize(&self, id: &str, height: u16, width: u16) -> ApiResult<()> {
        let e = self
            .execs
            .lock()
            .expect("execs")
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
        let c = e.lock().expect("exec").container.clone();
        monitor::call(
            &monitor::socket(&c.run_dir),
            &Request::Resize {
                height,
                width,
                exec_id: Some(id.to_string()),
            },
        )
        .await
        .map_err(ApiError::system)?;
        Ok(())
    }

    async fn exec_inspect(&self, id: &str) -> ApiResult<ExecInspect> {
        let e = self
            .execs
            .lock()
            .expect("execs")
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
        let e = e.lock().expect("exec");
        let cmd = e.cfg.cmd.clone().unwrap_or_default();
        Ok(ExecInspect {
            can_remove: false,
            detach_keys: e.cfg.detach_keys.clone(),
            id: id.to_string(),
            running: e.running,
            exit_code: e.exit_code,
            process_config: ExecProcessConfig {
                privileged: e.cfg.privileged,
                user: e.cfg.user.clone(),
                tty: e.cfg.tty,
                entrypoint: cmd.first().cloned().unwrap_or_default(),
                arguments: cmd.iter().skip(1).cloned().collect(),
            },
            open_stdin: e.cfg.attach_stdin,
            open_stderr: e.cfg.attach_stderr,
            open_stdout: e.cfg.attach_stdout,
            container_id: e.container.id.clone(),
            pid: e.pid,
        })
    }

    async fn image_list(&self, all: bool, filters: Filters) -> ApiResult<Vec<ImageSummary>> {
        images::list(self, all, filters).await
    }
    async fn image_inspect(&self, name: &str) -> ApiResult<ImageInspect> {
        self.image_inspect_raw(name).await
    }
    async fn image_history(&self, name: &str) -> ApiResult<Vec<HistoryItem>> {
        images::history(self, name).await
    }
    async fn image_tag(&self, name: &str, repo: &str, tag: &str) -> ApiResult<()> {
        images::tag(self, name, repo, tag).await
    }
    async fn image_remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> ApiResult<Vec<ImageDeleteItem>> {
        images::remove(self, name, force, noprune).await
    }
    async fn image_load(&self, body: BodyReader, quiet: bool) -> ApiResult<BoxStream<JsonMessage>> {
        images::load(self, body, quiet).await
    }
    async fn image_save(
        &self,
        names: Vec<String>,
    ) -> ApiResult<BoxStream<std::io::Result<bytes::Bytes>>> {
        images::save(self, names).await
    }
    async fn image_import(
        &self,
        body: BodyReader,
        repo: String,
        tag: String,
        changes: Vec<String>,
        message: String,
    ) -> ApiResult<BoxStream<JsonMessage>> {
        images::import(self, body, repo, tag, changes, message).await
    }
    async fn image_pull(
        &self,
        from_image: &str,
        tag: &str,
        platform: &str,
        registry_auth: &str,
    ) -> ApiResult<BoxStream<JsonMessage>> {
        images::pull(self, from_image, tag, platform, registry_auth).await
    }
    async fn image_push(
        &self,
        name: &str,
        tag: &str,
        registry_auth: &str,
    ) -> ApiResult<BoxStream<JsonMessage>> {
        images::push(self, name, tag, registry_auth).await
    }
    async fn auth(&self, req: AuthRequest) -> ApiResult<AuthResponse> {
        images::login(self, req).await
    }
    async fn image_search(
        &self,
        term: &str,
        limit: u32,
        filters: Filters,
    ) -> ApiResult<Vec<serde_json::Value>> {
        images::search(self, term, limit, filters).await
    }
    async fn network_list(&self, filters: Filters) -> ApiResult<Vec<Network>> {
        self.net_list(filters).await
    }
    async fn network_inspect(&self, id: &str) -> ApiResult<Network> {
        self.net_inspect(id).await
    }
    async fn network_create(&self, req: NetworkCreateRequest) -> ApiResult<NetworkCreateResponse> {
        self.net_create(req).await
    }
    async fn network_remove(&self, id: &str) -> ApiResult<()> {
        self.net_remove(id).await
    }
    async fn network_connect(&self, id: &str, req: NetworkConnectRequest) -> ApiResult<()> {
        self.net_connect(id, req).await
    }
    async fn network_disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> ApiResult<()> {
        self.net_disconnect(id, req).await
    }
    async fn network_prune(&self, filters: Filters) -> ApiResult<NetworkPruneResponse> {
        self.net_prune(filters).await
    }
    async fn volume_create(&self, req: VolumeCreateRequest) -> ApiResult<Volume> {
        self.vol_create(req).await
    }
    async fn volume_list(&self, filters: Filters) -> ApiResult<VolumeListResponse> {
        self.vol_list(filters).await
    }
    async fn volume_inspect(&self, name: &str) -> ApiResult<Volume> {
        self.vol_inspect(name).await
    }
    async fn volume_remove(&self, name: &str, force: bool) -> ApiResult<()> {
        self.vol_remove(name, force).await
    }
    async fn volume_prune(&self, filters: Filters) -> ApiResult<VolumePruneResponse> {
        self.vol_prune(filters).await
    }
    async fn image_prune(&self, filters: Filters) -> ApiResult<ImagePruneResponse> {
        images::prune(self, filters).await
    }
}

/// `GET /version` body.
pub fn system_version() -> SystemVersion {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let version = env!("CARGO_PKG_VERSION").to_string();
    let (commit, rust, built) = (
        env!("BERTH_GIT_COMMIT"),
        env!("BERTH_RUST_VERSION"),
        env!("BERTH_BUILD_TIME"),
    );
    let mut details = BTreeMap::new();
    details.insert("ApiVersion".to_string(), API_VERSION.to_string());
    details.insert("MinAPIVersion".to_string(), MIN_API_VERSION.to_string());
    details.insert("Os".to_string(), "linux".to_string());
    details.insert("Arch".to_string(), go_arch().to_string());
    details.insert("KernelVersion".to_string(), kernel.clone());
    details.insert("Experimental".to_string(), "false".to_string());
    details.insert("GitCommit".to_string(), commit.to_string());
    details.insert("GoVersion".to_string(), rust.to_string());
    details.insert("BuildTime".to_string(), built.to_string());
    let part = |name: &str| {
        let mut d = BTreeMap::new();
        d.insert("GitCommit".to_string(), commit.to_string());
        ComponentVersion {
            name: name.into(),
            version: version.clone(),
            details: Some(d),
        }
    };
    SystemVersion {
        platform: Platform {
            name: "Berth Engine".into(),
        },
        // Where dockerd lists containerd and runc: the per-container
        // monitor and the runtime library it runs containers with.
        components: vec![
            ComponentVersion {
                name: "Engine".into(),
                version: version.clone(),
                details: Some(details),
            },
            part("berth-monitor"),
            part("berth-runtime"),
        ],
        version,
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: commit.into(),
        go_version: rust.into(),
        os: "linux".into(),
        arch: go_arch().into(),
        kernel_version: kernel,
        build_time: built.into(),
    }
}

/// tini's `--version` ("tini version 0.19.0 - git.de40ad0") as dockerd
/// reports docker-init: `("0.19.0", "de40ad0")`.
fn tini_version(out: &str) -> Option<(String, String)> {
    let rest = out.trim().strip_prefix("tini version ")?;
    let (ver, commit) = rest.split_once(" - ").unwrap_or((rest, ""));
    Some((
        ver.trim().to_string(),
        commit.trim().trim_start_matches("git.").to_string(),
    ))
}

/// Docker's (Go's) name of the machine architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        a => a,
    }
}
