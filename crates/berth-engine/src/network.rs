//! The engine's half of networking: `berth-network`'s
//! [`NetworkController`] wired into the container life cycle and the
//! `/networks` endpoints.
//!
//! * create: [`Net::plan`] normalises `HostConfig.NetworkMode` (`default`
//!   is `bridge`, or `none` when the daemon runs with `-b none`), checks
//!   the networks exist, `container:<x>` names a container, `--ip` and
//!   aliases are only used on user-defined networks, and the port specs
//!   parse; the endpoints to make are stored in the container record
//!   (`Record::endpoints`, network name -> `EndpointConfig`).
//! * start: after the monitor reports the init PID (the runtime has created
//!   the container and its network namespace, the user's program has not
//!   started), [`Net::attach`] connects each endpoint through
//!   `/proc/<pid>/ns/net` (a veth made directly in the namespace), publishes
//!   `-p`/`-P` ports on the first network, then writes `hosts` and
//!   `resolv.conf` in place (they are already bind-mounted into the
//!   container). Any error releases everything made and the start fails.
//! * exit, crash or `rm`: [`Net::release`] (veth deletion runs in the
//!   background, after the reply).
//! * daemon start: the controller's state survives; endpoints of containers
//!   that are no longer running are dropped (`reconcile`).

use crate::container::Record;
use crate::Engine;
use berth_api::backend::{ApiResult, Filters};
use berth_api::models::*;
use berth_network::{ConnectOptions, DnsSettings, NetError, NetworkController, PortSpec, Proto};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Maps a network-service error to the API error with the same status code.
pub(crate) fn api_err(e: NetError) -> ApiError {
    let kind = match e.status() {
        400 => ErrorKind::InvalidParameter,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        _ => ErrorKind::System,
    };
    ApiError::new(kind, e.to_string())
}

/// The network service of an [`Engine`]. With `-b none` (no default
/// bridge) the controller is opened only when a network is created or
/// already exists, so daemons that never use networks leave the host's
/// nft tables and veths alone.
pub(crate) struct Net {
    ctl: RwLock<Option<Arc<NetworkController>>>,
    /// Configuration for a lazy open; `None`: networking off for good.
    cfg: Option<berth_network::ControllerConfig>,
    state_dir: PathBuf,
    /// There is a default `bridge` network (no `-b none`).
    default_bridge: bool,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("network task panicked")
}

/// True for the network modes that get endpoints from the controller.
pub(crate) fn is_bridged(mode: &str) -> bool {
    !matches!(mode, "none" | "host") && !mode.starts_with("container:")
}

impl Net {
    /// Opens the controller (blocking: netlink, nft) with its state under
    /// `<data_root>/network`; with `-b none` only if that state exists.
    pub(crate) fn open(
        cfg: Option<berth_network::ControllerConfig>,
        data_root: &Path,
    ) -> Result<Net, String> {
        let state_dir = data_root.join("network");
        let default_bridge = cfg.as_ref().is_some_and(|c| !c.bridge_name.is_empty());
        let net = Net {
            ctl: RwLock::new(None),
            cfg,
            state_dir,
            default_bridge,
        };
        if default_bridge || NetworkController::state_needs_open(&net.state_dir) {
            net.open_now().map_err(|e| e.message)?;
        }
        Ok(net)
    }

    /// The controller, opening it if needed (blocking).
    fn open_now(&self) -> ApiResult<Arc<NetworkController>> {
        let mut g = self.ctl.write().expect("network controller lock");
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let cfg = self.cfg.clone().ok_or_else(|| {
            ApiError::new(
                ErrorKind::Forbidden,
                "networking is disabled on this daemon",
            )
        })?;
        let c = NetworkController::open(&self.state_dir, cfg)
            .map_err(|e| ApiError::system(format!("network controller: {e}")))?;
        let c = Arc::new(c);
        *g = Some(c.clone());
        Ok(c)
    }

    /// The controller if it is open.
    pub(crate) fn get(&self) -> Option<Arc<NetworkController>> {
        self.ctl.read().expect("network controller lock").clone()
    }

    /// Every network (`GET /networks`): the controller's when it is open,
    /// else the pre-defined `host` and `none` from the state file (written
    /// with their IDs on first use, nothing else made on the host), so a
    /// `-b none` daemon lists them from the first request with IDs that
    /// stay across restarts and the controller keeps when it opens, as
    /// dockerd does. Blocking (file I/O). Error: unreadable state (500).
    pub(crate) fn networks(&self) -> ApiResult<Vec<berth_network::Network>> {
        if let Some(c) = self.get() {
            return Ok(c.list());
        }
        // The write lock orders this with a concurrent `open_now`.
        let g = self.ctl.write().expect("network controller lock");
        if let Some(c) = g.as_ref() {
            return Ok(c.list());
        }
        NetworkController::predefined_offline(&self.state_dir)
            .map_err(|e| ApiError::system(format!("network state: {e}")))
    }

    /// One network by full ID, name or unique ID prefix, as
    /// [`Net::networks`] sees them (the controller's lookup when it is
    /// open). Blocking. Error: 404 `network X not found`.
    pub(crate) fn network(&self, key: &str) -> ApiResult<berth_network::Network> {
        if let Some(c) = self.get() {
            return c.inspect(key).map_err(api_err);
        }
        let nets = self.networks()?;
        if let Some(n) = nets.iter().find(|n| n.id == key || n.name == key) {
            return Ok(n.clone());
        }
        let m: Vec<&berth_network::Network> = nets
            .iter()
            .filter(|n| !key.is_empty() && n.id.starts_with(key))
            .collect();
        match m.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(api_err(NetError::NotFound(key.to_string()))),
        }
    }

    /// `NetworkSettings.Networks` source: a container's live endpoints.
    pub(crate) fn container_endpoints(
        &self,
        id: &str,
    ) -> BTreeMap<String, berth_network::Endpoint> {
        self.get()
            .map(|c| c.container_endpoints(id))
            .unwrap_or_default()
    }

    /// Create-time checks; fills `host.network_mode` with the effective mode
    /// and returns the endpoints to make at start.
    pub(crate) fn plan(
        &self,
        engine: &Engine,
        host: &mut HostConfig,
        config: &ContainerConfig,
        networking: &NetworkingConfig,
    ) -> ApiResult<BTreeMap<String, EndpointConfig>> {
        let mode = match host.network_mode.as_str() {
            "" | "default" => {
                if self.default_bridge {
                    "bridge".to_string()
                } else {
                    "none".to_string()
                }
            }
            m => m.to_string(),
        };
        host.network_mode = mode.clone();
        let mut eps: BTreeMap<String, EndpointConfig> = BTreeMap::new();
        if let Some(target) = mode.strip_prefix("container:") {
            let other = engine.find(target)?;
            host.network_mode = format!("container:{}", other.id);
            if has_ports(host) {
                return Err(ApiError::invalid(
                    "conflicting options: port publishing and the container type network mode",
                ));
            }
            return Ok(eps);
        }
        if !is_bridged(&mode) {
            return Ok(eps);
        }
        let Some(ctl) = self.get() else {
            // No network exists yet (`-b none`): start reports it missing.
            eps.insert(mode.clone(), EndpointConfig::default());
            return Ok(eps);
        };
        let mut wanted: Vec<(String, EndpointConfig)> = Vec::new();
        for (name, v) in &networking.endpoints_config {
            let cfg: EndpointConfig = if v.is_null() {
                EndpointConfig::default()
            } else {
                serde_json::from_value(v.clone())
                    .map_err(|e| ApiError::invalid(format!("invalid EndpointsConfig: {e}")))?
            };
            // The CLI keys `--network default` endpoints by "default".
            let name = if name.is_empty() || name == "default" {
                mode.clone()
            } else {
                name.clone()
            };
            wanted.push((name, cfg));
        }
        if !wanted.iter().any(|(n, _)| *n == mode) {
            wanted.insert(0, (mode.clone(), EndpointConfig::default()));
        } else {
            // The NetworkMode network first: it gets eth0, the default
            // route and the published ports.
            let i = wanted.iter().position(|(n, _)| *n == mode).unwrap_or(0);
            let first = wanted.remove(i);
            wanted.insert(0, first);
        }
        for (name, cfg) in wanted {
            let n = match ctl.inspect(&name) {
                Ok(n) => n,
                // As Docker: create succeeds, start fails with 404
                // `network X not found` (a 404 from create would make the
                // CLI try to pull the image).
                Err(NetError::NotFound(_)) => {
                    eps.insert(name, cfg);
                    continue;
                }
                Err(e) => return Err(api_err(e)),
            };
            let user_defined = n.name != "bridge";
            if n.driver != "bridge" {
                return Err(ApiError::invalid(format!(
                    "container cannot be connected to network {} and {}",
                    mode, n.name
                )));
            }
            let ip = cfg
                .ipam_config
                .as_ref()
                .map(|c| c.ipv4_address.clone())
                .unwrap_or_default();
            if !ip.is_empty() {
                if !user_defined {
                    return Err(ApiError::invalid(
                        "user specified IP address is supported on user defined networks only",
                    ));
                }
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| ApiError::invalid(format!("invalid IPv4 address: {ip}")))?;
            }
            if !cfg.aliases.is_empty() && !user_defined {
                return Err(ApiError::invalid(
                    "network-scoped alias is supported only for containers in user defined networks",
                ));
            }
            if name == mode {
                // An ID or ID prefix names the network by its name from now
                // on, so the start order (NetworkMode network first) holds.
                host.network_mode = n.name.clone();
            }
            if eps.insert(n.name.clone(), cfg).is_some() {
                return Err(ApiError::invalid(format!(
                    "endpoint with name {} already exists in network {}",
                    config.hostname, n.name
                )));
            }
        }
        port_specs(host, config)?;
        Ok(eps)
    }

    /// Connects a freshly created container (init PID `pid`, user program
    /// not started) to its networks, publishes its ports, writes its
    /// `hosts` and `resolv.conf` in `dir`. On error nothing stays.
    pub(crate) async fn attach(
        &self,
        engine: &Engine,
        rec: &Record,
        pid: i32,
        dir: &Path,
    ) -> ApiResult<()> {
        let mode = rec.host_config.network_mode.clone();
        if let Some(other) = mode.strip_prefix("container:") {
            // Share the other container's names and resolvers, as Docker does.
            let o = engine.find(other)?;
            for f in ["hosts", "resolv.conf"] {
                if let Ok(b) = std::fs::read(o.dir.join(f)) {
                    let _ = std::fs::write(dir.join(f), b);
                }
            }
            return Ok(());
        }
        if !is_bridged(&mode) {
            return Ok(());
        }
        let ctl = self
            .get()
            .ok_or_else(|| ApiError::not_found(format!("network {mode} not found")))?;
        let rec = rec.clone();
        let dir = dir.to_path_buf();
        let t0 = std::time::Instant::now();
        let r = blocking(move || {
            let t1 = std::time::Instant::now();
            let r = attach_blocking(&ctl, &rec, pid, &dir);
            if r.is_err() {
                let _ = ctl.release_container(&rec.id);
            }
            (r, t1.elapsed())
        })
        .await;
        tracing::debug!(
            total_us = t0.elapsed().as_micros() as u64,
            work_us = r.1.as_micros() as u64,
            "network attach"
        );
        r.0
    }

    /// `--network container:<id>`: the OCI spec joins the other container's
    /// network namespace (`linux.namespaces[type=network].path`). Error 409
    /// when that container is not running, as Docker.
    pub(crate) fn adjust_spec(
        &self,
        engine: &Engine,
        rec: &Record,
        spec: &mut serde_json::Value,
    ) -> ApiResult<()> {
        let Some(other) = rec.host_config.network_mode.strip_prefix("container:") else {
            return Ok(());
        };
        let o = engine.find(other)?;
        let orec = o.get();
        if !orec.state.status.is_live() || orec.state.pid <= 0 {
            return Err(ApiError::conflict(format!(
                "cannot join network namespace of a non running container: {}",
                o.id
            )));
        }
        let path = format!("/proc/{}/ns/net", orec.state.pid);
        if let Some(ns) = spec
            .pointer_mut("/linux/namespaces")
            .and_then(|v| v.as_array_mut())
        {
            ns.retain(|n| n["type"] != "network");
            ns.push(serde_json::json!({"type": "network", "path": path}));
        }
        Ok(())
    }

    /// Releases every endpoint of a container (exit, rm, failed start).
    pub(crate) async fn release(&self, id: &str) {
        let Some(ctl) = self.get() else {
            return;
        };
        let id = id.to_string();
        let t0 = std::time::Instant::now();
        let r = blocking(move || ctl.release_container(&id)).await;
        tracing::debug!(us = t0.elapsed().as_micros() as u64, "network release");
        if let Err(e) = r {
            tracing::warn!("release network endpoints: {e}");
        }
    }

    /// After the containers are restored: drops endpoints of containers
    /// that are not running, stray veths and rules.
    pub(crate) async fn reconcile(&self, live: Vec<String>) {
        let Some(ctl) = self.get() else {
            return;
        };
        let r = blocking(move || {
            let l: Vec<&str> = live.iter().map(String::as_str).collect();
            ctl.reconcile(&l)
        })
        .await;
        match r {
            Ok(rep) if !rep.endpoints.is_empty() || !rep.links.is_empty() => tracing::info!(
                endpoints = rep.endpoints.len(),
                links = rep.links.len(),
                "network: released stale endpoints"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("network reconcile: {e}"),
        }
    }

    /// `NetworkSettings` of a container (inspect).
    pub(crate) fn settings(&self, rec: &Record) -> NetworkSettings {
        let mut s = NetworkSettings::default();
        let running = rec.state.status.is_live();
        let eps = self.container_endpoints(&rec.id);
        s.networks = self.endpoint_settings(rec, &eps);
        if running {
            s.sandbox_id = rec.id.clone();
            if rec.state.pid > 0 {
                s.sandbox_key = format!("/proc/{}/ns/net", rec.state.pid);
            }
        }
        if let Some(ep) = eps.get("bridge") {
            s.ip_address = ep.ip_address.clone();
            s.gateway = ep.gateway.clone();
            s.mac_address = ep.mac_address.clone();
            s.endpoint_id = ep.endpoint_id.clone();
            s.ip_prefix_len = i64::from(ep.ip_prefix_len);
        }
        if running && is_bridged(&rec.host_config.network_mode) {
            for k in rec.config.exposed_ports.iter().flat_map(|m| m.keys()) {
                s.ports.insert(k.clone(), None);
            }
            if let Some(ctl) = self.get() {
                for b in ctl.ports(&rec.id) {
                    let v = s.ports.entry(b.port_key()).or_insert(None);
                    v.get_or_insert_with(Vec::new).push(PortBinding {
                        host_ip: b.host_ip.to_string(),
                        host_port: b.host_port.to_string(),
                    });
                }
            }
        }
        s
    }

    /// `NetworkSettings.Networks`: live endpoints when running, else the
    /// networks the container will join (empty addresses), as Docker.
    pub(crate) fn endpoint_settings(
        &self,
        rec: &Record,
        eps: &BTreeMap<String, berth_network::Endpoint>,
    ) -> BTreeMap<String, EndpointSettings> {
        let mut m = BTreeMap::new();
        let mode = rec.host_config.network_mode.as_str();
        if !is_bridged(mode) {
            let name = if mode.starts_with("container:") {
                return m;
            } else {
                mode
            };
            // The network's ID once the container runs in it, as dockerd.
            let network_id = if rec.state.status.is_live() {
                self.network(name).map(|n| n.id).unwrap_or_default()
            } else {
                String::new()
            };
            m.insert(
                name.to_string(),
                EndpointSettings {
                    network_id,
                    ..Default::default()
                },
            );
            return m;
        }
        for (name, cfg) in &rec.endpoints {
            let mut e = match eps.get(name) {
                Some(ep) => serde_json::to_value(ep)
                    .ok()
                    .and_then(|v| serde_json::from_value::<EndpointSettings>(v).ok())
                    .unwrap_or_default(),
                None => EndpointSettings {
                    network_id: self
                        .get()
                        .and_then(|c| c.inspect(name).ok())
                        .map(|n| n.id)
                        .unwrap_or_default(),
                    aliases: (!cfg.aliases.is_empty()).then(|| cfg.aliases.clone()),
                    mac_address: cfg.mac_address.clone(),
                    ..Default::default()
                },
            };
            if e.ipam_config.is_none() {
                e.ipam_config = cfg.ipam_config.clone();
            }
            m.insert(name.clone(), e);
        }
        m
    }

    /// The `Ports` of a `docker ps` entry.
    pub(crate) fn summary_ports(&self, rec: &Record) -> Vec<Port> {
        let mut out = Vec::new();
        let binds = match (self.get(), rec.state.status.is_live()) {
            (Some(c), true) => c.ports(&rec.id),
            _ => vec![],
        };
        for b in &binds {
            out.push(Port {
                ip: Some(b.host_ip.to_string()),
                private_port: b.container_port,
                public_port: Some(b.host_port),
                kind: b.proto.as_str().to_string(),
            });
        }
        // Exposed ports only while running: dockerd shows none for a
        // created or exited container.
        let exposed = rec
            .config
            .exposed_ports
            .iter()
            .flat_map(|m| m.keys())
            .filter(|_| rec.state.status.is_live());
        for k in exposed {
            let (p, proto) = k.split_once('/').unwrap_or((k.as_str(), "tcp"));
            let Ok(p) = p.parse::<u16>() else { continue };
            if !binds
                .iter()
                .any(|b| b.container_port == p && b.proto.as_str() == proto)
            {
                out.push(Port {
                    ip: None,
                    private_port: p,
                    public_port: None,
                    kind: proto.to_string(),
                });
            }
        }
        out
    }
}

fn has_ports(h: &HostConfig) -> bool {
    h.publish_all_ports
        || h.port_bindings.as_ref().is_some_and(|m| {
            m.values()
                .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
        })
}

fn parse_port_key(k: &str) -> ApiResult<((u16, u16), Proto)> {
    let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
    let proto = match proto {
        "tcp" | "" => Proto::Tcp,
        "udp" => Proto::Udp,
        other => {
            return Err(ApiError::invalid(format!(
                "invalid proto: {other} (only tcp and udp are supported)"
            )))
        }
    };
    let bad = || ApiError::invalid(format!("invalid containerPort: {p}"));
    let (a, b) = p.split_once('-').unwrap_or((p, p));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok(((a, b), proto))
}

/// `HostConfig.PortBindings` (and, with `PublishAllPorts`, every other
/// exposed port with an ephemeral host port) as the network service's specs.
pub(crate) fn port_specs(h: &HostConfig, c: &ContainerConfig) -> ApiResult<Vec<PortSpec>> {
    let mut out = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    for (k, v) in h.port_bindings.iter().flatten() {
        let (cp, proto) = parse_port_key(k)?;
        let list = v.clone().unwrap_or_default();
        let list = if list.is_empty() {
            if !h.publish_all_ports {
                continue;
            }
            vec![PortBinding::default()]
        } else {
            list
        };
        bound.push(k.clone());
        for b in list {
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                s => Some(
                    s.parse::<Ipv4Addr>()
                        .map_err(|_| ApiError::invalid(format!("invalid IP address: {s}")))?,
                ),
            };
            let host_ports = match b.host_port.as_str() {
                "" | "0" => None,
                s => {
                    let bad = || ApiError::invalid(format!("invalid hostPort: {s}"));
                    let (a, z) = s.split_once('-').unwrap_or((s, s));
                    let a: u16 = a.parse().map_err(|_| bad())?;
                    let z: u16 = z.parse().map_err(|_| bad())?;
                    if z < a {
                        return Err(bad());
                    }
                    Some((a, z))
                }
            };
            out.push(PortSpec {
                host_ip,
                host_ports,
                container_ports: cp,
                proto,
            });
        }
    }
    if h.publish_all_ports {
        for k in c.exposed_ports.iter().flat_map(|m| m.keys()) {
            if bound.contains(k) {
                continue;
            }
            let (cp, proto) = parse_port_key(k)?;
            out.push(PortSpec {
                host_ip: None,
                host_ports: None,
                container_ports: cp,
                proto,
            });
        }
    }
    Ok(out)
}

fn dns_settings(h: &HostConfig) -> DnsSettings {
    DnsSettings {
        servers: h.dns.iter().filter_map(|s| s.parse().ok()).collect(),
        search: h.dns_search.clone(),
        options: h.dns_options.clone(),
    }
}

fn attach_blocking(ctl: &NetworkController, rec: &Record, pid: i32, dir: &Path) -> ApiResult<()> {
    let netns = format!("/proc/{pid}/ns/net");
    let dns = dns_settings(&rec.host_config);
    let name = rec.name.trim_start_matches('/').to_string();
    let mut first: Option<(String, String)> = None;
    for (net, cfg) in ordered(rec) {
        let opts = ConnectOptions {
            container_name: name.clone(),
            aliases: cfg.aliases.clone(),
            ip: cfg
                .ipam_config
                .as_ref()
                .and_then(|c| c.ipv4_address.parse().ok()),
            mac: (!cfg.mac_address.is_empty()).then(|| cfg.mac_address.clone()),
            dns: dns.servers.clone(),
        };
        let ep = ctl
            .connect(&net, &rec.id, Path::new(&netns), &opts)
            .map_err(api_err)?;
        if first.is_none() {
            first = Some((net.clone(), ep.endpoint_id.clone()));
        }
    }
    let specs = port_specs(&rec.host_config, &rec.config)?;
    if let (Some((net, ep_id)), false) = (&first, specs.is_empty()) {
        ctl.publish(net, &rec.id, &specs).map_err(|e| {
            let status = e.status();
            let msg = format!(
                "driver failed programming external connectivity on endpoint {name} ({ep_id}): {e}"
            );
            if status == 400 {
                ApiError::invalid(msg)
            } else {
                ApiError::system(msg)
            }
        })?;
    }
    let gateway: Option<IpAddr> = first
        .as_ref()
        .and_then(|(n, _)| ctl.endpoint(n, &rec.id).ok())
        .and_then(|e| e.gateway.parse().ok())
        .or_else(|| {
            ctl.inspect("bridge")
                .ok()
                .and_then(|n| n.ipam.config.first().and_then(|c| c.gateway.parse().ok()))
        });
    let mut extra = Vec::new();
    for e in &rec.host_config.extra_hosts {
        let Some((host, ip)) = e.split_once(':').or_else(|| e.split_once('=')) else {
            continue;
        };
        let ip = if ip == "host-gateway" {
            match gateway {
                Some(g) => g,
                None => continue,
            }
        } else {
            match ip.trim_matches(|c| c == '[' || c == ']').parse() {
                Ok(ip) => ip,
                Err(_) => continue,
            }
        };
        extra.push((host.to_string(), ip));
    }
    let c = &rec.config;
    let domain = (!c.domainname.is_empty()).then_some(c.domainname.as_str());
    let hosts = ctl.hosts(&rec.id, &c.hostname, domain, &extra);
    std::fs::write(dir.join("hosts"), hosts)
        .map_err(|e| ApiError::system(format!("write hosts: {e}")))?;
    let resolv = ctl.resolv_conf(&rec.id, &dns);
    std::fs::write(dir.join("resolv.conf"), resolv)
        .map_err(|e| ApiError::system(format!("write resolv.conf: {e}")))?;
    Ok(())
}

/// The record's endpoints, the NetworkMode network first.
fn ordered(rec: &Record) -> Vec<(String, EndpointConfig)> {
    let mode = &rec.host_config.network_mode;
    let mut v: Vec<(String, EndpointConfig)> = rec
        .endpoints
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.sort_by_key(|(k, _)| k != mode);
    v
}

// ----------------------------------------------------------------------
// /networks

fn to_api(n: berth_network::Network, with_containers: bool) -> Network {
    let mut v = serde_json::to_value(&n).unwrap_or_default();
    if !with_containers {
        v["Containers"] = serde_json::json!({});
    }
    let mut out: Network = serde_json::from_value(v).unwrap_or_default();
    out.enable_ipv4 = true;
    out
}

fn label_match(labels: &BTreeMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

fn is_builtin(n: &berth_network::Network) -> bool {
    matches!(n.name.as_str(), "bridge" | "host" | "none")
}

impl Engine {
    /// A start whose networking failed ([`Net::attach`]: a published port
    /// in use, a bad `--ip`, an unknown network) after the runtime created
    /// the container but before its program ran. Kills the never-started
    /// init, waits (at most 10 s) for the monitor to reap it and clean up
    /// (runtime state, overlay, cgroup, its socket), and leaves the record
    /// as dockerd does, whose networking fails before a task exists: the
    /// status unchanged (`created`, or `exited` from an earlier run), no
    /// `die` event, no restart, `State.Error` the message and
    /// `State.ExitCode` 128 unless an earlier run left one. Returns `e`.
    pub(crate) async fn net_start_failed(
        &self,
        c: &Arc<crate::container::Container>,
        mut waitc: crate::monitor::Conn,
        child: Option<std::process::Child>,
        e: ApiError,
    ) -> ApiError {
        use berth_monitor::proto::{ExitRecord, Request, EXIT_FILE};
        let sock = crate::monitor::socket(&c.run_dir);
        let _ = crate::monitor::call(
            &sock,
            &Request::Kill {
                signal: 9,
                all: true,
            },
        )
        .await;
        let reaped = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            waitc.reply::<ExitRecord>(),
        )
        .await;
        if reaped.is_err() {
            // The monitor did not finish: let the exit path handle it.
            tracing::warn!(id = %c.id, "monitor of a failed start did not exit in 10 s");
            self.watch_exit(c.clone(), waitc, child);
            return e;
        }
        if let Some(mut child) = child {
            self.spawner.run(move || child.wait()).await.ok();
        }
        c.attach_live(false);
        self.net.release(&c.id).await;
        let _ = std::fs::remove_file(c.run_dir.join(EXIT_FILE));
        c.update(|r| {
            r.state.pid = 0;
            r.state.error = e.message.clone();
            if r.state.exit_code == 0 {
                r.state.exit_code = 128;
            }
        });
        e
    }

    pub(crate) async fn net_list(&self, filters: Filters) -> ApiResult<Vec<Network>> {
        for k in filters.keys() {
            if !["dangling", "driver", "id", "label", "name", "scope", "type"].contains(&k.as_str())
            {
                return Err(ApiError::invalid(format!("invalid filter '{k}'")));
            }
        }
        let net = self.arc();
        let nets = blocking(move || net.net.networks()).await?;
        let any = |k: &str, f: &dyn Fn(&str) -> bool| -> bool {
            filters
                .get(k)
                .is_none_or(|v| v.is_empty() || v.iter().any(|x| f(x)))
        };
        let mut out = Vec::new();
        for n in nets {
            let ok = any("name", &|x| n.name.contains(x))
                && any("id", &|x| n.id.starts_with(x))
                && any("driver", &|x| n.driver == x)
                && any("scope", &|x| n.scope == x)
                && filters
                    .get("label")
                    .is_none_or(|v| v.iter().all(|x| label_match(&n.labels, x)))
                && any("type", &|x| match x {
                    "builtin" => is_builtin(&n),
                    "custom" => !is_builtin(&n),
                    _ => false,
                })
                && any("dangling", &|x| {
                    let d = !is_builtin(&n) && n.containers.is_empty();
                    (x == "true" || x == "1") == d
                });
            if ok {
                out.push(to_api(n, false));
            }
        }
        Ok(out)
    }

    pub(crate) async fn net_inspect(&self, id: &str) -> ApiResult<Network> {
        let net = self.arc();
        let id = id.to_string();
        let n = blocking(move || net.net.network(&id)).await?;
        Ok(to_api(n, true))
    }

    pub(crate) async fn net_create(
        &self,
        req: NetworkCreateRequest,
    ) -> ApiResult<NetworkCreateResponse> {
        let net = self.arc();
        let ctl = blocking(move || net.net.open_now()).await?;
        if req.ingress {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "bridge driver does not support ingress networks",
            ));
        }
        if let Some(d) = req.ipam.as_ref().map(|i| i.driver.as_str()) {
            if !d.is_empty() && d != "default" {
                return Err(ApiError::not_found(format!("plugin \"{d}\" not found")));
            }
        }
        let lreq = berth_network::NetworkCreateRequest {
            name: req.name.clone(),
            driver: (!req.driver.is_empty()).then(|| req.driver.clone()),
            internal: req.internal,
            labels: req.labels.clone(),
            options: req.options.clone(),
            ipam_config: req
                .ipam
                .iter()
                .flat_map(|i| i.config.iter())
                .map(|c| berth_network::IpamConfigRequest {
                    subnet: c.subnet.clone().filter(|s| !s.is_empty()),
                    gateway: c.gateway.clone().filter(|s| !s.is_empty()),
                    ip_range: c.ip_range.clone().filter(|s| !s.is_empty()),
                })
                .collect(),
            enable_ipv6: req.enable_ipv6.unwrap_or(false),
        };
        let n = blocking(move || ctl.create(&lreq)).await.map_err(api_err)?;
        self.events.publish(
            "network",
            "create",
            &n.id,
            BTreeMap::from([
                ("name".to_string(), n.name.clone()),
                ("type".to_string(), n.driver.clone()),
            ]),
        );
        Ok(NetworkCreateResponse {
            id: n.id,
            warning: String::new(),
        })
    }

    pub(crate) async fn net_remove(&self, id: &str) -> ApiResult<()> {
        let Some(ctl) = self.net.get() else {
            // Only `host` and `none` exist: pre-defined, not removable.
            let net = self.arc();
            let id = id.to_string();
            let n = blocking(move || net.net.network(&id)).await?;
            return Err(api_err(NetError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            ))));
        };
        let id = id.to_string();
        let n = blocking(move || {
            let n = ctl.inspect(&id)?;
            ctl.remove(&n.id).map(|_| n)
        })
        .await
        .map_err(api_err)?;
        self.events.publish(
            "network",
            "destroy",
            &n.id,
            BTreeMap::from([
                ("name".to_string(), n.name.clone()),
                ("type".to_string(), n.driver.clone()),
            ]),
        );
        Ok(())
    }

    pub(crate) async fn net_connect(&self, id: &str, req: NetworkConnectRequest) -> ApiResult<()> {
        let ctl = self
            .net
            .get()
            .ok_or_else(|| ApiError::not_found(format!("network {id} not found")))?;
        let c = self.find(&req.container)?;
        let _g = c.op.lock().await;
        let id2 = id.to_string();
        let ctl2 = ctl.clone();
        let n = blocking(move || ctl2.inspect(&id2))
            .await
            .map_err(api_err)?;
        let rec = c.get();
        let mode = rec.host_config.network_mode.clone();
        if n.driver != "bridge" || !is_bridged(&mode) {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "container cannot be disconnected from host network or connected to host network or none",
            ));
        }
        let cfg = req.endpoint_config.unwrap_or_default();
        let name = rec.name.trim_start_matches('/').to_string();
        if rec.endpoints.contains_key(&n.name) {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                format!(
                    "endpoint with name {name} already exists in network {}",
                    n.name
                ),
            ));
        }
        if n.name == "bridge" {
            if cfg
                .ipam_config
                .as_ref()
                .is_some_and(|c| !c.ipv4_address.is_empty())
            {
                return Err(ApiError::invalid(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
            if !cfg.aliases.is_empty() {
                return Err(ApiError::invalid(
                    "network-scoped alias is supported only for containers in user defined networks",
                ));
            }
        }
        if rec.state.status.is_live() && rec.state.pid > 0 {
            let opts = ConnectOptions {
                container_name: name,
                aliases: cfg.aliases.clone(),
                ip: cfg
                    .ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv4_address.parse().ok()),
                mac: (!cfg.mac_address.is_empty()).then(|| cfg.mac_address.clone()),
                dns: dns_settings(&rec.host_config).servers,
            };
            let netns = format!("/proc/{}/ns/net", rec.state.pid);
            let (cid, nname) = (c.id.clone(), n.name.clone());
            let ctl2 = ctl.clone();
            blocking(move || ctl2.connect(&nname, &cid, Path::new(&netns), &opts))
                .await
                .map_err(api_err)?;
        }
        c.update(|r| {
            r.endpoints.insert(n.name.clone(), cfg.clone());
        });
        self.net_attachment_changed(&c, rec.state.status.is_live(), &n, "connect")
            .await;
        Ok(())
    }

    /// Rewrites a running container's hosts and resolv.conf after its
    /// endpoints changed.
    /// After a connect or disconnect (`action`) of `c` to `n`: a live
    /// container's hosts and resolv.conf are rewritten, and the `network`
    /// event dockerd emits is published (container, name, type).
    async fn net_attachment_changed(
        &self,
        c: &crate::container::Container,
        live: bool,
        n: &berth_network::Network,
        action: &str,
    ) {
        if live {
            self.net_rewrite_files(c).await;
        }
        self.events.publish(
            "network",
            action,
            &n.id,
            BTreeMap::from([
                ("container".to_string(), c.id.clone()),
                ("name".to_string(), n.name.clone()),
                ("type".to_string(), n.driver.clone()),
            ]),
        );
    }

    async fn net_rewrite_files(&self, c: &crate::container::Container) {
        let Some(ctl) = self.net.get() else {
            return;
        };
        let rec = c.get();
        let dir = c.dir.clone();
        blocking(move || {
            let cc = &rec.config;
            let domain = (!cc.domainname.is_empty()).then_some(cc.domainname.as_str());
            let extra: Vec<(String, IpAddr)> = rec
                .host_config
                .extra_hosts
                .iter()
                .filter_map(|e| {
                    let (h, ip) = e.split_once(':')?;
                    Some((h.to_string(), ip.parse().ok()?))
                })
                .collect();
            let _ = std::fs::write(
                dir.join("hosts"),
                ctl.hosts(&rec.id, &cc.hostname, domain, &extra),
            );
            let _ = std::fs::write(
                dir.join("resolv.conf"),
                ctl.resolv_conf(&rec.id, &dns_settings(&rec.host_config)),
            );
        })
        .await;
    }

    pub(crate) async fn net_disconnect(
        &self,
        id: &str,
        req: NetworkDisconnectRequest,
    ) -> ApiResult<()> {
        let ctl = self
            .net
            .get()
            .ok_or_else(|| ApiError::not_found(format!("network {id} not found")))?;
        let c = self.find(&req.container)?;
        let _g = c.op.lock().await;
        let id2 = id.to_string();
        let ctl2 = ctl.clone();
        let n = blocking(move || ctl2.inspect(&id2))
            .await
            .map_err(api_err)?;
        let rec = c.get();
        if n.driver != "bridge" {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "container cannot be disconnected from host network or connected to host network or none",
            ));
        }
        if !rec.endpoints.contains_key(&n.name) {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                format!("container {} is not connected to network {}", c.id, n.name),
            ));
        }
        if rec.state.status.is_live() {
            let (cid, nid) = (c.id.clone(), n.id.clone());
            let ctl2 = ctl.clone();
            match blocking(move || ctl2.disconnect(&nid, &cid)).await {
                Ok(()) | Err(NetError::EndpointNotFound(_)) => {}
                Err(e) => return Err(api_err(e)),
            }
        }
        c.update(|r| {
            r.endpoints.remove(&n.name);
        });
        self.net_attachment_changed(&c, rec.state.status.is_live(), &n, "disconnect")
            .await;
        Ok(())
    }

    pub(crate) async fn net_prune(&self, filters: Filters) -> ApiResult<NetworkPruneResponse> {
        for k in filters.keys() {
            if !["label", "label!", "until"].contains(&k.as_str()) {
                return Err(ApiError::invalid(format!("invalid filter '{k}'")));
            }
        }
        let Some(ctl) = self.net.get() else {
            return Ok(NetworkPruneResponse::default());
        };
        // Networks that stopped containers still name are kept, as Docker
        // keeps networks "in use" by any container.
        let used: Vec<String> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .flat_map(|c| c.get().endpoints.keys().cloned().collect::<Vec<_>>())
            .collect();
        let labels = filters.get("label").cloned().unwrap_or_default();
        let not_labels = filters.get("label!").cloned().unwrap_or_default();
        let until = filters
            .get("until")
            .and_then(|v| v.first())
            .and_then(|s| s.split('.').next()?.parse::<i64>().ok());
        let deleted = blocking(move || {
            ctl.prune(|n| {
                used.contains(&n.name)
                    || !labels.iter().all(|l| label_match(&n.labels, l))
                    || not_labels.iter().any(|l| label_match(&n.labels, l))
                    || until.is_some_and(|u| created_after(&n.created, u))
            })
        })
        .await
        .map_err(api_err)?;
        Ok(NetworkPruneResponse {
            networks_deleted: deleted,
        })
    }
}

/// Whether an RFC 3339 UTC `created` time (`2026-12-01T21:00:00.123Z`) is
/// later than `until` (Unix seconds).
fn created_after(created: &str, until: i64) -> bool {
    rfc3339_secs(created).is_some_and(|c| c > until)
}

fn rfc3339_secs(s: &str) -> Option<i64> {
    let n = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    // days_from_civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}
