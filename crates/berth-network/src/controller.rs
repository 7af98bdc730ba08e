//! The network controller: networks, endpoints, port bindings, the
//! firewall and the embedded DNS servers, with the state persisted.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::SystemTime;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::dns::{DnsServer, Lookup, Resolver};
use crate::files::{self, DnsSettings, ResolvConf};
use crate::ipam::Pool;
use crate::nft::{self, NftNet, NftPort};
use crate::nl::{self, Nl};
use crate::types::*;
use crate::{NetError, Result};

/// Name of the state file inside the controller's state directory.
pub const STATE_FILE: &str = "network-state.json";

const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const OPT_ICC: &str = "com.docker.network.bridge.enable_icc";
const OPT_MASQ: &str = "com.docker.network.bridge.enable_ip_masquerade";
const OPT_MTU: &str = "com.docker.network.driver.mtu";
const OPT_DEFAULT: &str = "com.docker.network.bridge.default_bridge";
const OPT_HOST_BINDING: &str = "com.docker.network.bridge.host_binding_ipv4";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NetRec {
    id: String,
    name: String,
    created: String,
    /// `bridge`, `host` or `null`.
    driver: String,
    bridge: String,
    pool: Option<Pool>,
    internal: bool,
    icc: bool,
    masquerade: bool,
    mtu: u32,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    /// The pre-defined `bridge`, `host`, `none`.
    predefined: bool,
    /// Berth created the bridge (and so deletes it).
    created_bridge: bool,
}

impl NetRec {
    fn has_dns(&self) -> bool {
        self.driver == "bridge" && !self.predefined
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EpRec {
    id: String,
    network_id: String,
    container_id: String,
    container_name: String,
    aliases: Vec<String>,
    requested_ip: Option<Ipv4Addr>,
    ip: Ipv4Addr,
    mac: String,
    ifname: String,
    host_veth: String,
    netns: PathBuf,
    dns: Vec<IpAddr>,
    ports: Vec<PortBinding>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    networks: BTreeMap<String, NetRec>,
    endpoints: BTreeMap<String, EpRec>,
}

type BindKey = (Ipv4Addr, u16, Proto);

struct Inner {
    cfg: ControllerConfig,
    dir: PathBuf,
    state: Mutex<State>,
    nl: Mutex<Nl>,
    /// Sockets bound (not listening) on published host ports, so that no
    /// other process takes them and a second binding fails clearly.
    reservations: Mutex<HashMap<BindKey, socket2::Socket>>,
    dns: Mutex<HashMap<String, DnsServer>>,
    reaper: Reaper,
    /// Where the next search of the default address pools starts (an
    /// index into their subnets; in memory, 0 at open, as dockerd's).
    pool_cursor: Mutex<usize>,
}

/// Deletes veths of disconnected endpoints on a thread of its own: the
/// kernel's unregister of a netdev waits for RCU grace periods (15-25 ms
/// here), which must not sit on the container stop/remove path.
struct Reaper {
    tx: Mutex<Option<std::sync::mpsc::Sender<(String, String)>>>,
    /// Container ID -> veths still being deleted.
    pending: Arc<(Mutex<HashMap<String, usize>>, std::sync::Condvar)>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Reaper {
    fn start() -> Result<Reaper> {
        let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
        let pending: Arc<(Mutex<HashMap<String, usize>>, std::sync::Condvar)> = Arc::default();
        let p = pending.clone();
        let mut nl = Nl::open().map_err(nl_err)?;
        let thread = std::thread::Builder::new()
            .name("berth-veth-reaper".into())
            .spawn(move || {
                for (container, veth) in rx {
                    if let Err(e) = nl.del_link(&veth) {
                        tracing::warn!("deleting veth {veth}: {e}");
                    }
                    let mut m = lock(&p.0);
                    if let Some(n) = m.get_mut(&container) {
                        *n -= 1;
                        if *n == 0 {
                            m.remove(&container);
                        }
                    }
                    p.1.notify_all();
                }
            })
            .map_err(|e| NetError::sys("start veth reaper", e))?;
        Ok(Reaper {
            tx: Mutex::new(Some(tx)),
            pending,
            thread: Mutex::new(Some(thread)),
        })
    }

    fn delete(&self, container: &str, veth: String) {
        *lock(&self.pending.0)
            .entry(container.to_string())
            .or_insert(0) += 1;
        let sent = lock(&self.tx)
            .as_ref()
            .map(|tx| tx.send((container.to_string(), veth)));
        if !matches!(sent, Some(Ok(()))) {
            // Shut down: nothing will delete it, and the kernel deletes it
            // with the sandbox anyway.
            let mut m = lock(&self.pending.0);
            m.remove(container);
            self.pending.1.notify_all();
        }
    }

    /// Waits until no deletion for `container` (all containers: `None`) is
    /// pending, at most 10 s.
    fn wait(&self, container: Option<&str>) {
        let (m, cv) = &*self.pending;
        let mut g = lock(m);
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while match container {
            Some(c) => g.contains_key(c),
            None => !g.is_empty(),
        } {
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                tracing::warn!("veth deletions still pending after 10 s");
                return;
            }
            g = cv
                .wait_timeout(g, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn stop(&self) {
        lock(&self.tx).take();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

/// What [`NetworkController::cleanup_stale`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanupReport {
    /// Endpoints whose sandbox was gone (lease and bindings released).
    pub endpoints: Vec<String>,
    /// Host-side veths with Berth's prefix that no endpoint owned.
    pub links: Vec<String>,
}

/// The network service the daemon owns: one per host and state directory.
///
/// Every method is synchronous and blocks for at most a few netlink
/// round trips, one `nft` run, and an fsync of the state file; call them from
/// a blocking context (`tokio::task::spawn_blocking`, or the container
/// start thread). The controller is `Send + Sync`; share it in an `Arc`.
/// Methods serialize on an internal state lock only for bookkeeping:
/// netlink work of different endpoints runs in parallel.
pub struct NetworkController {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

fn write_sysctl(path: &str, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| NetError::sys(&format!("write {path}"), e))
}

/// A random locally administered unicast MAC.
fn random_mac() -> [u8; 6] {
    let id = berth_types::new_id();
    let mut m = [0u8; 6];
    for (i, b) in m.iter_mut().enumerate() {
        *b = u8::from_str_radix(&id[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    m[0] = (m[0] & 0xfe) | 0x02;
    m
}

fn mac_from_ip(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = || NetError::InvalidParameter(format!("invalid MAC address: {s}"));
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        m[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if m[0] & 1 == 1 {
        return Err(bad());
    }
    Ok(m)
}

fn nl_err(e: nl::NlError) -> NetError {
    NetError::System(e.to_string())
}

fn parse_cidr(s: &str) -> Result<Ipv4Net> {
    let n: Ipv4Net = s
        .parse()
        .map_err(|_| NetError::InvalidParameter(format!("invalid CIDR address: {s}")))?;
    Ok(n)
}

/// Routes of the main table (`/proc/net/route`), so automatic subnets avoid
/// networks the host already reaches.
fn host_routes() -> Vec<Ipv4Net> {
    let Ok(t) = std::fs::read_to_string("/proc/net/route") else {
        return vec![];
    };
    t.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            let dst = Ipv4Addr::from(u32::from_be(dst));
            let plen = u32::from_be(mask).leading_ones() as u8;
            Ipv4Net::new(dst, plen).ok()
        })
        .collect()
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The subnet for a network created without one, by dockerd's rule
/// (libnetwork 20.10: the default IPAM's `getPredefinedPool` and the
/// network's `requestPoolHelper`): the pools' subnets in order, starting
/// at `cursor` and wrapping around; the first that overlaps no network's
/// subnet (`taken`) is requested, and the cursor moves past it (so a
/// removed network's subnet is not handed out again at once); one that
/// overlaps a host route is held and the search goes on from the new
/// cursor. `None` when every subnet is taken or routed.
fn next_default_pool(
    pools: &[AddressPool],
    taken: &[Ipv4Net],
    routes: &[Ipv4Net],
    cursor: &mut usize,
) -> Option<Ipv4Net> {
    let subnets: Vec<Ipv4Net> = pools
        .iter()
        .filter_map(|p| p.base.trunc().subnets(p.size).ok())
        .flatten()
        .collect();
    let n = subnets.len();
    let mut held: Vec<Ipv4Net> = Vec::new();
    loop {
        let start = if *cursor >= n { 0 } else { *cursor };
        let (i, s) = (0..n)
            .map(|i| (i, subnets[(start + i) % n]))
            .find(|(_, s)| !taken.iter().chain(held.iter()).any(|t| overlaps(t, s)))?;
        *cursor = start + i + 1;
        if *cursor >= n {
            *cursor = 0;
        }
        if routes.iter().any(|r| overlaps(r, &s)) {
            held.push(s);
            continue;
        }
        return Some(s);
    }
}

impl NetworkController {
    /// Opens (or creates) the controller whose state lives in
    /// `state_dir/network-state.json`, then brings the host in line with
    /// it: creates the pre-defined `bridge` (interface
    /// [`ControllerConfig::bridge_name`], subnet from `bip` or
    /// `default_subnet`), `host` and `none` networks on first use, re-creates
    /// any missing bridge, rewrites Berth's nft tables, re-reserves the
    /// published host ports and starts the embedded DNS servers.
    ///
    /// Leases survive: an address recorded in the state is never handed out
    /// again until its endpoint is disconnected or cleaned up. Call
    /// [`NetworkController::cleanup_stale`] (or `reconcile`) afterwards to
    /// drop endpoints whose container died while the daemon was down.
    ///
    /// Errors: unreadable state (`System`), netlink or nft failures.
    pub fn open(state_dir: &Path, cfg: ControllerConfig) -> Result<NetworkController> {
        std::fs::create_dir_all(state_dir).map_err(|e| NetError::sys("create state dir", e))?;
        let state = read_state(state_dir)?;
        let inner = Arc::new(Inner {
            cfg,
            dir: state_dir.to_path_buf(),
            state: Mutex::new(state),
            nl: Mutex::new(Nl::open().map_err(nl_err)?),
            reservations: Mutex::new(HashMap::new()),
            dns: Mutex::new(HashMap::new()),
            reaper: Reaper::start()?,
            pool_cursor: Mutex::new(0),
        });
        let c = NetworkController { inner };
        c.bootstrap()?;
        Ok(c)
    }

    /// The pre-defined `host` and `none` networks (`GET /networks` and
    /// inspect views) without opening a controller: no netlink socket, no
    /// nft, no DNS thread, nothing on the host but the state file. Reads
    /// `state_dir/network-state.json`; when it lacks the two networks they
    /// are added and the file is written (temp + rename, fsynced), so their
    /// IDs are the ones a later [`NetworkController::open`] keeps and they
    /// stay the same across daemon restarts, as dockerd's do. This is what a
    /// daemon without a default bridge (`-b none`) lists before its first
    /// network exists.
    ///
    /// Errors: unreadable or unwritable state (`System`).
    pub fn predefined_offline(state_dir: &Path) -> Result<Vec<Network>> {
        let mut st = read_state(state_dir)?;
        if add_predefined(&mut st) {
            std::fs::create_dir_all(state_dir).map_err(|e| NetError::sys("create state dir", e))?;
            write_state(state_dir, &st, true)?;
        }
        let mut v: Vec<Network> = st
            .networks
            .values()
            .filter(|n| n.predefined && n.driver != "bridge")
            .map(|n| net_view(&st, n))
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// Whether the state in `state_dir` holds anything that needs an open
    /// controller at daemon start: a bridge network (its bridge, rules and
    /// DNS server) or an endpoint. False when there is no state, or only
    /// the pre-defined `host` and `none` written by
    /// [`NetworkController::predefined_offline`]; an unreadable state is
    /// true (opening reports the error).
    pub fn state_needs_open(state_dir: &Path) -> bool {
        if !state_dir.join(STATE_FILE).exists() {
            return false;
        }
        match read_state(state_dir) {
            Ok(st) => {
                !st.endpoints.is_empty() || st.networks.values().any(|n| n.driver == "bridge")
            }
            Err(_) => true,
        }
    }

    fn bootstrap(&self) -> Result<()> {
        let inner = &self.inner;
        let mut st = lock(&inner.state);
        add_predefined(&mut st);
        // An empty bridge name is dockerd's `-b none`: no default bridge.
        if !inner.cfg.bridge_name.is_empty() && !st.networks.values().any(|n| n.name == "bridge") {
            let cfg = &inner.cfg;
            let (subnet, gw) = match cfg.bip {
                Some(b) => (b.trunc(), b.addr()),
                None => {
                    let s = cfg.default_subnet.trunc();
                    (s, Ipv4Addr::from(u32::from(s.network()) + 1))
                }
            };
            let mut options = BTreeMap::new();
            options.insert(OPT_DEFAULT.into(), "true".into());
            options.insert(OPT_ICC.into(), "true".into());
            options.insert(OPT_MASQ.into(), "true".into());
            options.insert(OPT_HOST_BINDING.into(), "0.0.0.0".into());
            options.insert(OPT_BRIDGE_NAME.into(), cfg.bridge_name.clone());
            options.insert(OPT_MTU.into(), cfg.mtu.to_string());
            let id = berth_types::new_id();
            st.networks.insert(
                id.clone(),
                NetRec {
                    id,
                    name: "bridge".into(),
                    created: rfc3339_now(),
                    driver: "bridge".into(),
                    bridge: cfg.bridge_name.clone(),
                    pool: Some(Pool::new(subnet, gw, None)),
                    internal: false,
                    icc: true,
                    masquerade: true,
                    mtu: cfg.mtu,
                    labels: BTreeMap::new(),
                    options,
                    predefined: true,
                    created_bridge: false,
                },
            );
        }
        // Bring every bridge up with its gateway address.
        let nets: Vec<String> = st
            .networks
            .values()
            .filter(|n| n.driver == "bridge")
            .map(|n| n.id.clone())
            .collect();
        for id in nets {
            let made = self.ensure_bridge(st.networks.get(&id).expect("listed"))?;
            if made {
                st.networks.get_mut(&id).expect("listed").created_bridge = true;
            }
        }
        inner.persist(&st, true)?;
        inner.apply_nft(&st)?;
        // Re-reserve the published ports.
        let binds: Vec<PortBinding> = st
            .endpoints
            .values()
            .flat_map(|e| e.ports.clone())
            .collect();
        {
            let mut res = lock(&inner.reservations);
            for b in binds {
                match reserve_port(b.host_ip, b.host_port, b.proto) {
                    Ok(s) => {
                        res.insert((b.host_ip, b.host_port, b.proto), s);
                    }
                    Err(e) => tracing::warn!("re-reserving {}:{}: {e}", b.host_ip, b.host_port),
                }
            }
        }
        let dns_nets: Vec<NetRec> = st
            .networks
            .values()
            .filter(|n| n.has_dns())
            .cloned()
            .collect();
        drop(st);
        for n in dns_nets {
            self.inner.start_dns(&n);
        }
        Ok(())
    }

    /// Creates the bridge of `n` if it is missing; true when it did.
    fn ensure_bridge(&self, n: &NetRec) -> Result<bool> {
        let pool = n.pool.as_ref().expect("bridge network has a pool");
        let mut nl = lock(&self.inner.nl);
        let (idx, made) = match nl.link_index(&n.bridge).map_err(nl_err)? {
            Some(i) => (i, false),
            None => (
                nl.add_bridge(&n.bridge, n.mtu, random_mac())
                    .map_err(nl_err)?,
                true,
            ),
        };
        let r = (|| -> Result<()> {
            nl.add_addr4(idx, pool.gateway, pool.subnet.prefix_len())
                .map_err(nl_err)?;
            nl.set_up(idx).map_err(nl_err)?;
            // DNAT of 127.0.0.1 onto the bridge needs route_localnet there
            // (the nft prerouting guard drops 127/8 coming *from* it).
            write_sysctl(
                &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge),
                "1",
            )?;
            if !n.internal {
                write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            if made {
                let _ = nl.del_link(&n.bridge);
            }
            return Err(e);
        }
        Ok(made)
    }

    /// Creates a user-defined bridge network (`POST /networks/create`).
    ///
    /// Subnet: `IPAM.Config[0].Subnet`, else the first `/size` of the
    /// default address pools that overlaps no network and no host route.
    /// Gateway: given, else the subnet's first host. Bridge interface:
    /// option `com.docker.network.bridge.name`, else `br-<id[..12]>`.
    ///
    /// Errors (Docker's wording): `DuplicateName` (409), `PoolOverlap`
    /// (403), `InvalidParameter` (400) for `invalid CIDR address: X`,
    /// `no matching subnet for gateway X`, `no matching subnet for range X`,
    /// an unknown driver, IPv6; `Exhausted` when the pools are full. On any
    /// error nothing is left behind (no bridge, no rule, no state).
    pub fn create(&self, req: &NetworkCreateRequest) -> Result<Network> {
        let inner = &self.inner;
        let driver = req
            .driver
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "bridge".into());
        if driver != "bridge" {
            return Err(NetError::PluginNotFound(driver));
        }
        if req.name.is_empty()
            || !req
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(NetError::InvalidParameter(format!(
                "invalid network name {:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]",
                req.name
            )));
        }
        if req.enable_ipv6 {
            return Err(NetError::InvalidParameter(
                "IPv6 networks are not supported by Berth yet".into(),
            ));
        }
        let mut st = lock(&inner.state);
        if st.networks.values().any(|n| n.name == req.name) {
            return Err(NetError::DuplicateName(req.name.clone()));
        }
        let existing: Vec<Ipv4Net> = st
            .networks
            .values()
            .filter_map(|n| n.pool.as_ref().map(|p| p.subnet))
            .collect();
        let ic = req.ipam_config.iter().find(|c| {
            c.subnet
                .as_deref()
                .map(|s| !s.contains(':'))
                .unwrap_or(true)
        });
        let subnet = match ic.and_then(|c| c.subnet.clone()) {
            Some(s) => {
                let n = parse_cidr(&s)?;
                if n.trunc() != n {
                    // Docker accepts host bits and truncates; keep that.
                }
                let n = n.trunc();
                if existing.iter().any(|e| overlaps(e, &n)) {
                    return Err(NetError::PoolOverlap);
                }
                n
            }
            None => {
                let mut cursor = lock(&inner.pool_cursor);
                next_default_pool(
                    &inner.cfg.default_address_pools,
                    &existing,
                    &host_routes(),
                    &mut cursor,
                )
                .ok_or_else(|| {
                    NetError::Exhausted(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                    )
                })?
            }
        };
        let gateway = match ic.and_then(|c| c.gateway.clone()) {
            Some(g) => {
                let g: Ipv4Addr = g.parse().map_err(|_| {
                    NetError::InvalidParameter(format!("invalid gateway address: {g}"))
                })?;
                if !subnet.contains(&g)
                    || g == subnet.network()
                    || (subnet.prefix_len() < 31 && g == subnet.broadcast())
                {
                    return Err(NetError::InvalidParameter(format!(
                        "no matching subnet for gateway {g}"
                    )));
                }
                g
            }
            None => Ipv4Addr::from(u32::from(subnet.network()) + 1),
        };
        let ip_range = match ic.and_then(|c| c.ip_range.clone()) {
            Some(r) => {
                let r = parse_cidr(&r)?.trunc();
                if !subnet.contains(&r) {
                    return Err(NetError::InvalidParameter(format!(
                        "no matching subnet for range {r}"
                    )));
                }
                Some(r)
            }
            None => None,
        };
        let id = berth_types::new_id();
        let bridge = req
            .options
            .get(OPT_BRIDGE_NAME)
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains('/') || bridge.contains(' ') {
            return Err(NetError::InvalidParameter(format!(
                "invalid bridge name {bridge:?}"
            )));
        }
        if st.networks.values().any(|n| n.bridge == bridge) {
            return Err(NetError::Forbidden(format!(
                "bridge name {bridge} is already used by another network"
            )));
        }
        let flag = |k: &str| -> Result<bool> {
            match req.options.get(k).map(String::as_str) {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(v) => Err(NetError::InvalidParameter(format!(
                    "invalid value {v:?} for option {k}"
                ))),
            }
        };
        let icc = flag(OPT_ICC)?;
        let masquerade = flag(OPT_MASQ)?;
        let mtu = match req.options.get(OPT_MTU) {
            Some(m) => m
                .parse()
                .map_err(|_| NetError::InvalidParameter(format!("invalid MTU {m:?}")))?,
            None => inner.cfg.mtu,
        };
        let mut options = req.options.clone();
        options.remove("");
        let mut rec = NetRec {
            id: id.clone(),
            name: req.name.clone(),
            created: rfc3339_now(),
            driver,
            bridge,
            pool: Some(Pool::new(subnet, gateway, ip_range)),
            internal: req.internal,
            icc,
            masquerade,
            mtu,
            labels: req.labels.clone(),
            options,
            predefined: false,
            created_bridge: false,
        };
        rec.created_bridge = self.ensure_bridge(&rec)?;
        st.networks.insert(id.clone(), rec.clone());
        let r = inner.persist(&st, true).and_then(|_| inner.apply_nft(&st));
        if let Err(e) = r {
            st.networks.remove(&id);
            let _ = inner.persist(&st, true);
            let _ = inner.apply_nft(&st);
            if rec.created_bridge {
                let _ = lock(&inner.nl).del_link(&rec.bridge);
            }
            return Err(e);
        }
        let out = inner.view(&st, &st.networks[&id]);
        drop(st);
        inner.start_dns(&rec);
        Ok(out)
    }

    /// Every network (`GET /networks`), the pre-defined ones included,
    /// sorted by name.
    pub fn list(&self) -> Vec<Network> {
        let st = lock(&self.inner.state);
        let mut v: Vec<Network> = st
            .networks
            .values()
            .map(|n| self.inner.view(&st, n))
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// One network by full ID, name, or unique ID prefix
    /// (`GET /networks/{id}`). Error: `NotFound` (404).
    pub fn inspect(&self, name_or_id: &str) -> Result<Network> {
        let st = lock(&self.inner.state);
        let id = find_net(&st, name_or_id)?;
        Ok(self.inner.view(&st, &st.networks[&id]))
    }

    /// Removes a user-defined network (`DELETE /networks/{id}`): its DNS
    /// server, bridge (if Berth made it), rules and state.
    ///
    /// Errors: `NotFound` (404); `ActiveEndpoints` (403) while containers
    /// are connected; `Forbidden` (403) for `bridge`, `host`, `none`
    /// (`NAME is a pre-defined network and cannot be removed`).
    pub fn remove(&self, name_or_id: &str) -> Result<()> {
        let inner = &self.inner;
        let mut st = lock(&inner.state);
        let id = find_net(&st, name_or_id)?;
        let n = st.networks[&id].clone();
        if n.predefined {
            return Err(NetError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        if st.endpoints.values().any(|e| e.network_id == id) {
            return Err(NetError::ActiveEndpoints { name: n.name, id });
        }
        let dns = lock(&inner.dns).remove(&id);
        st.networks.remove(&id);
        inner.persist(&st, true)?;
        inner.apply_nft(&st)?;
        drop(st);
        drop(dns);
        if n.created_bridge {
            lock(&inner.nl).del_link(&n.bridge).map_err(nl_err)?;
        }
        Ok(())
    }

    /// Removes every user-defined network without endpoints that `keep`
    /// does not protect (`POST /networks/prune`, with the daemon evaluating
    /// `label`/`until` filters in `keep`). Returns the removed names
    /// (`NetworksDeleted`).
    pub fn prune(&self, keep: impl Fn(&Network) -> bool) -> Result<Vec<String>> {
        let candidates: Vec<Network> = {
            let st = lock(&self.inner.state);
            st.networks
                .values()
                .filter(|n| !n.predefined && !st.endpoints.values().any(|e| e.network_id == n.id))
                .map(|n| self.inner.view(&st, n))
                .collect()
        };
        let mut out = Vec::new();
        for n in candidates {
            if keep(&n) {
                continue;
            }
            match self.remove(&n.id) {
                Ok(()) => out.push(n.name),
                Err(NetError::ActiveEndpoints { .. }) | Err(NetError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Connects a container's sandbox to a network
    /// (`POST /networks/{id}/connect`, and `docker run --network`).
    ///
    /// `netns` is the sandbox: `/proc/<init pid>/ns/net` or a bind-mounted
    /// netns file; it must exist, so call this after the container's init
    /// process exists (or after creating a netns file) and before it runs
    /// the user's program. In one netlink request a veth pair is created with
    /// its peer made directly inside the sandbox (IFLA_NET_NS_FD), named
    /// `eth0` (`eth1`, ... for further networks), MAC set, MTU set, both
    /// ends up, the host end enslaved to the bridge; then, from a thread
    /// that entered the sandbox, `lo` is set up, IPv6 DAD is turned off on
    /// the interface, the address is added and (except on `--internal`
    /// networks, and only for the container's first such network) the
    /// default route via the gateway. Takes about a millisecond plus an
    /// fsync of the state file.
    ///
    /// Errors: `NotFound` (404) for an unknown network; `Forbidden` (403)
    /// for `host`/`none` or a second connect of the same container
    /// (`endpoint with name NAME already exists in network NET`);
    /// `InvalidParameter` (400) for a bad `--ip`/`--mac-address`;
    /// `Exhausted` when no address is left; `System` on kernel errors.
    /// On error no veth and no lease is left.
    pub fn connect(
        &self,
        network: &str,
        container_id: &str,
        netns: &Path,
        opts: &ConnectOptions,
    ) -> Result<Endpoint> {
        let inner = &self.inner;
        // A veth of this container still being deleted may hold its ethN name.
        inner.reaper.wait(Some(container_id));
        let ep_id = berth_types::new_id();
        // Book-keeping under the lock, kernel work outside it.
        let (rec, net, first_route) = {
            let mut st = lock(&inner.state);
            let nid = find_net(&st, network)?;
            let net = st.networks[&nid].clone();
            if net.driver != "bridge" {
                return Err(NetError::Forbidden(
                    "container cannot be disconnected from host network or connected to host network or none".to_string(),
                ));
            }
            let cname = if opts.container_name.is_empty() {
                berth_types::short_id(container_id).to_string()
            } else {
                opts.container_name.trim_start_matches('/').to_string()
            };
            if st
                .endpoints
                .values()
                .any(|e| e.network_id == nid && e.container_id == container_id)
            {
                return Err(NetError::Forbidden(format!(
                    "endpoint with name {cname} already exists in network {}",
                    net.name
                )));
            }
            let mac = match &opts.mac {
                Some(m) => Some(parse_mac(m)?),
                None => None,
            };
            let used: Vec<String> = st
                .endpoints
                .values()
                .filter(|e| e.container_id == container_id)
                .map(|e| e.ifname.clone())
                .collect();
            let ifname = (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !used.contains(n))
                .expect("infinite");
            let first_route = !net.internal
                && !st.endpoints.values().any(|e| {
                    e.container_id == container_id
                        && st
                            .networks
                            .get(&e.network_id)
                            .map(|n| !n.internal)
                            .unwrap_or(false)
                });
            let pool = st
                .networks
                .get_mut(&nid)
                .and_then(|n| n.pool.as_mut())
                .expect("bridge pool");
            let ip = match opts.ip {
                Some(_) if net.predefined => {
                    return Err(NetError::InvalidParameter(
                        "user specified IP address is supported on user defined networks only"
                            .into(),
                    ));
                }
                Some(ip) => {
                    pool.reserve(ip, &ep_id)
                        .map_err(NetError::InvalidParameter)?;
                    ip
                }
                None => pool.allocate(&ep_id).ok_or_else(|| {
                    NetError::Exhausted(format!(
                        "no available IPv4 addresses on this network's address pools: {} ({})",
                        net.name, net.id
                    ))
                })?,
            };
            let mac = mac.map(|m| {
                m.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            });
            let keep = 15usize
                .saturating_sub(inner.cfg.veth_prefix.len())
                .min(ep_id.len());
            let rec = EpRec {
                id: ep_id.clone(),
                network_id: nid.clone(),
                container_id: container_id.to_string(),
                container_name: cname,
                aliases: opts.aliases.clone(),
                requested_ip: opts.ip,
                ip,
                mac: mac.unwrap_or_else(|| mac_from_ip(ip)),
                ifname,
                host_veth: format!("{}{}", inner.cfg.veth_prefix, &ep_id[..keep]),
                netns: netns.to_path_buf(),
                dns: opts.dns.clone(),
                ports: Vec::new(),
            };
            st.endpoints.insert(ep_id.clone(), rec.clone());
            if let Err(e) = inner.persist(&st, false) {
                inner.forget(&mut st, &ep_id);
                return Err(e);
            }
            (rec, net, first_route)
        };
        if let Err(e) = self.plumb(&rec, &net, first_route) {
            let _ = lock(&inner.nl).del_link(&rec.host_veth);
            let mut st = lock(&inner.state);
            inner.forget(&mut st, &ep_id);
            let _ = inner.persist(&st, false);
            return Err(e);
        }
        let st = lock(&inner.state);
        Ok(inner.endpoint_view(&st, &rec))
    }

    fn plumb(&self, rec: &EpRec, net: &NetRec, default_route: bool) -> Result<()> {
        let ns = File::open(&rec.netns)
            .map_err(|e| NetError::sys(&format!("open sandbox {}", rec.netns.display()), e))?;
        let mac = parse_mac(&rec.mac)?;
        {
            let mut nl = lock(&self.inner.nl);
            let br = nl
                .link_index(&net.bridge)
                .map_err(nl_err)?
                .ok_or_else(|| NetError::System(format!("bridge {} is missing", net.bridge)))?;
            nl.add_veth_into(&rec.host_veth, br, &rec.ifname, &ns, mac, net.mtu)
                .map_err(nl_err)?;
        }
        // Hairpin mode lets a container reach its own published port through
        // a host address when br_netfilter sends bridged frames through the
        // IP hooks (the DNATed packet must leave by the port it came in on).
        let _ = std::fs::write(
            format!("/sys/class/net/{}/brport/hairpin_mode", rec.host_veth),
            "1",
        );
        let pool = net.pool.as_ref().expect("bridge pool");
        let (ifname, ip, plen, gw) = (
            rec.ifname.clone(),
            rec.ip,
            pool.subnet.prefix_len(),
            pool.gateway,
        );
        nl::in_netns(&rec.netns, move || -> Result<()> {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{ifname}/accept_dad"), "0");
            let mut nl = Nl::open().map_err(nl_err)?;
            if let Some(lo) = nl.link_index("lo").map_err(nl_err)? {
                nl.set_up(lo).map_err(nl_err)?;
            }
            let idx = nl
                .link_index(&ifname)
                .map_err(nl_err)?
                .ok_or_else(|| NetError::System(format!("{ifname} missing in sandbox")))?;
            nl.add_addr4(idx, ip, plen).map_err(nl_err)?;
            nl.set_up(idx).map_err(nl_err)?;
            if default_route {
                nl.add_default_route4(gw).map_err(nl_err)?;
            }
            Ok(())
        })
        .map_err(|e| NetError::sys("enter sandbox", e))??;
        wait_port_forwarding(&rec.host_veth);
        Ok(())
    }

    /// Disconnects a container from a network
    /// (`POST /networks/{id}/disconnect`, container stop/removal):
    /// unpublishes its ports (nft run only if it had any), releases its
    /// lease and records that (no fsync), then hands the deletion of the
    /// veth pair to a background thread, because the kernel's netdev
    /// unregister waits for RCU grace periods (15-25 ms); if the sandbox is
    /// gone the kernel has deleted the pair already. Returns in well under a
    /// millisecond; [`NetworkController::flush`] waits for the deletions.
    /// Errors: `NotFound` (404) for the network,
    /// `EndpointNotFound` (404) when the container is not connected.
    pub fn disconnect(&self, network: &str, container_id: &str) -> Result<()> {
        let inner = &self.inner;
        let (rec, reservations) = {
            let mut st = lock(&inner.state);
            let nid = find_net(&st, network)?;
            let Some(ep) = st
                .endpoints
                .values()
                .find(|e| e.network_id == nid && e.container_id == container_id)
                .cloned()
            else {
                return Err(NetError::EndpointNotFound(format!(
                    "container {container_id} is not connected to network {network}"
                )));
            };
            inner.forget(&mut st, &ep.id);
            inner.persist(&st, false)?;
            if !ep.ports.is_empty() {
                inner.apply_nft(&st)?;
            }
            let mut res = lock(&inner.reservations);
            let r: Vec<socket2::Socket> = ep
                .ports
                .iter()
                .filter_map(|b| res.remove(&(b.host_ip, b.host_port, b.proto)))
                .collect();
            (ep, r)
        };
        drop(reservations);
        inner.reaper.delete(&rec.container_id, rec.host_veth);
        Ok(())
    }

    /// Disconnects a container from every network it is on (container
    /// stop/removal). Returns the number of endpoints removed.
    pub fn release_container(&self, container_id: &str) -> Result<usize> {
        let nets: Vec<String> = {
            let st = lock(&self.inner.state);
            st.endpoints
                .values()
                .filter(|e| e.container_id == container_id)
                .map(|e| e.network_id.clone())
                .collect()
        };
        for n in &nets {
            self.disconnect(n, container_id)?;
        }
        Ok(nets.len())
    }

    /// The endpoint of `container_id` on `network`
    /// (`NetworkSettings.Networks[name]`). Error: 404.
    pub fn endpoint(&self, network: &str, container_id: &str) -> Result<Endpoint> {
        let st = lock(&self.inner.state);
        let nid = find_net(&st, network)?;
        let ep = st
            .endpoints
            .values()
            .find(|e| e.network_id == nid && e.container_id == container_id)
            .ok_or_else(|| {
                NetError::EndpointNotFound(format!(
                    "container {container_id} is not connected to network {network}"
                ))
            })?;
        Ok(self.inner.endpoint_view(&st, ep))
    }

    /// Every endpoint of a container, keyed by network name
    /// (`NetworkSettings.Networks`).
    pub fn container_endpoints(&self, container_id: &str) -> BTreeMap<String, Endpoint> {
        let st = lock(&self.inner.state);
        st.endpoints
            .values()
            .filter(|e| e.container_id == container_id)
            .map(|e| {
                let v = self.inner.endpoint_view(&st, e);
                (v.network_name.clone(), v)
            })
            .collect()
    }

    /// Publishes ports of a connected container (`-p`, `-P`): for each spec,
    /// reserves the host port (a bound, non-listening socket, so another
    /// program cannot take it) and adds a DNAT rule from
    /// `[host_ip]:host_port/proto` to the container's address. The rule
    /// matches packets to any local address arriving from outside
    /// (prerouting) and packets the host sends itself, 127.0.0.1 included
    /// (output; `route_localnet` on the bridge plus a masquerade of
    /// 127.0.0.0/8 sources make the reply come back). No userland proxy.
    ///
    /// A host port range with one container port takes the first free port
    /// of the range; equal-length ranges map one to one; no host port takes
    /// an ephemeral one from `ip_local_port_range`. All or nothing: on any
    /// error (`PortAllocated`: `Bind for 0.0.0.0:8080 failed: port is
    /// already allocated`, `Exhausted`, `EndpointNotFound`) no reservation and
    /// no rule of this call stays. Returns the bindings (`berth port`).
    pub fn publish(
        &self,
        network: &str,
        container_id: &str,
        specs: &[PortSpec],
    ) -> Result<Vec<PortBinding>> {
        let inner = &self.inner;
        let mut st = lock(&inner.state);
        let nid = find_net(&st, network)?;
        let epid = st
            .endpoints
            .values()
            .find(|e| e.network_id == nid && e.container_id == container_id)
            .map(|e| e.id.clone())
            .ok_or_else(|| {
                NetError::EndpointNotFound(format!(
                    "container {container_id} is not connected to network {network}"
                ))
            })?;
        let mut got: Vec<(PortBinding, socket2::Socket)> = Vec::new();
        let r = (|| -> Result<()> {
            let res = lock(&inner.reservations);
            for s in specs {
                let ip = s.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
                let (ca, cb) = s.container_ports;
                for (k, cp) in (ca..=cb).enumerate() {
                    let candidates: Vec<u16> = match s.host_ports {
                        Some((ha, hb)) if hb - ha == cb - ca && ca != cb => vec![ha + k as u16],
                        Some((ha, hb)) if ca == cb => (ha..=hb).collect(),
                        Some((ha, _)) => vec![ha + k as u16],
                        None => ephemeral_candidates(),
                    };
                    let single = candidates.len() == 1;
                    let mut done = false;
                    let mut last_err = None;
                    for hp in candidates {
                        let clash = res
                            .keys()
                            .copied()
                            .chain(got.iter().map(|(b, _)| (b.host_ip, b.host_port, b.proto)))
                            .any(|(i, q, r)| {
                                q == hp
                                    && r == s.proto
                                    && (i.is_unspecified() || ip.is_unspecified() || i == ip)
                            });
                        let sock = if clash {
                            Err(NetError::PortAllocated {
                                addr: ip.to_string(),
                                port: hp,
                            })
                        } else {
                            reserve_port(ip, hp, s.proto)
                        };
                        match sock {
                            Ok(sock) => {
                                got.push((
                                    PortBinding {
                                        host_ip: ip,
                                        host_port: hp,
                                        container_port: cp,
                                        proto: s.proto,
                                    },
                                    sock,
                                ));
                                done = true;
                                break;
                            }
                            Err(e) => last_err = Some(e),
                        }
                    }
                    if !done {
                        return Err(match (single, s.host_ports) {
                            (_, None) => NetError::Exhausted(format!(
                                "no free ephemeral host port for {cp}/{}",
                                s.proto.as_str()
                            )),
                            _ => last_err.unwrap_or(NetError::PortAllocated {
                                addr: ip.to_string(),
                                port: 0,
                            }),
                        });
                    }
                }
            }
            Ok(())
        })();
        r?;
        let binds: Vec<PortBinding> = got.iter().map(|(b, _)| b.clone()).collect();
        st.endpoints
            .get_mut(&epid)
            .expect("found")
            .ports
            .extend(binds.iter().cloned());
        if let Err(e) = inner.apply_nft(&st).and_then(|_| inner.persist(&st, false)) {
            let ep = st.endpoints.get_mut(&epid).expect("found");
            ep.ports.retain(|p| !binds.contains(p));
            let _ = inner.apply_nft(&st);
            let _ = inner.persist(&st, false);
            return Err(e);
        }
        let mut res = lock(&inner.reservations);
        for (b, s) in got {
            res.insert((b.host_ip, b.host_port, b.proto), s);
        }
        Ok(binds)
    }

    /// Removes every port binding of the container on `network` (on stop):
    /// the DNAT rules and the reservations. Returns what was removed.
    pub fn unpublish(&self, network: &str, container_id: &str) -> Result<Vec<PortBinding>> {
        let inner = &self.inner;
        let mut st = lock(&inner.state);
        let nid = find_net(&st, network)?;
        let Some(ep) = st
            .endpoints
            .values_mut()
            .find(|e| e.network_id == nid && e.container_id == container_id)
        else {
            return Err(NetError::EndpointNotFound(format!(
                "container {container_id} is not connected to network {network}"
            )));
        };
        let ports = std::mem::take(&mut ep.ports);
        if ports.is_empty() {
            return Ok(ports);
        }
        inner.apply_nft(&st)?;
        inner.persist(&st, false)?;
        let mut res = lock(&inner.reservations);
        for b in &ports {
            res.remove(&(b.host_ip, b.host_port, b.proto));
        }
        Ok(ports)
    }

    /// The port bindings of a container on all its networks (`berth port`,
    /// `NetworkSettings.Ports`).
    pub fn ports(&self, container_id: &str) -> Vec<PortBinding> {
        let st = lock(&self.inner.state);
        st.endpoints
            .values()
            .filter(|e| e.container_id == container_id)
            .flat_map(|e| e.ports.clone())
            .collect()
    }

    /// `/etc/resolv.conf` for a container: on a user-defined network, the
    /// embedded DNS server (`nameserver <gateway>` of the first user-defined
    /// network the container is on whose server is running, plus `options
    /// ndots:0`); otherwise (or if port 53 on the gateway could not be bound,
    /// which is logged at `open`/`create`) the
    /// host's resolvers without loopback ones (8.8.8.8/8.8.4.4 if none is
    /// left) or `--dns`. `--dns-search`/`--dns-option` replace the host's.
    pub fn resolv_conf(&self, container_id: &str, dns: &DnsSettings) -> String {
        let host = ResolvConf::parse(
            &std::fs::read_to_string(&self.inner.cfg.host_resolv_conf).unwrap_or_default(),
        );
        let st = lock(&self.inner.state);
        let serving = lock(&self.inner.dns);
        let server = st
            .endpoints
            .values()
            .filter(|e| e.container_id == container_id)
            .filter_map(|e| st.networks.get(&e.network_id))
            .find(|n| n.has_dns() && serving.contains_key(&n.id))
            .and_then(|n| n.pool.as_ref().map(|p| p.gateway));
        drop(serving);
        match server {
            Some(gw) => files::resolv_conf_embedded(IpAddr::V4(gw), &host, dns),
            None => files::resolv_conf_host(&host, dns),
        }
    }

    /// `/etc/hosts` for a container: localhost lines, `--add-host` entries,
    /// then each of its addresses with `hostname`.
    pub fn hosts(
        &self,
        container_id: &str,
        hostname: &str,
        domainname: Option<&str>,
        extra: &[(String, IpAddr)],
    ) -> String {
        let st = lock(&self.inner.state);
        let ips: Vec<IpAddr> = st
            .endpoints
            .values()
            .filter(|e| e.container_id == container_id)
            .map(|e| IpAddr::V4(e.ip))
            .collect();
        files::hosts_file(hostname, domainname, &ips, extra)
    }

    /// After a crash or restart: drops endpoints whose host veth is gone
    /// (their sandbox died, so the kernel deleted the pair), releasing their
    /// leases and port bindings; deletes host links with Berth's veth prefix
    /// that no endpoint owns; rewrites the nft tables from the state.
    pub fn cleanup_stale(&self) -> Result<CleanupReport> {
        let inner = &self.inner;
        let links = lock(&inner.nl).link_names().map_err(nl_err)?;
        let mut rep = CleanupReport::default();
        let mut st = lock(&inner.state);
        let dead: Vec<String> = st
            .endpoints
            .values()
            .filter(|e| !links.contains(&e.host_veth))
            .map(|e| e.id.clone())
            .collect();
        for id in dead {
            let ports = st
                .endpoints
                .get(&id)
                .map(|e| e.ports.clone())
                .unwrap_or_default();
            inner.forget(&mut st, &id);
            let mut res = lock(&inner.reservations);
            for b in ports {
                res.remove(&(b.host_ip, b.host_port, b.proto));
            }
            rep.endpoints.push(id);
        }
        let owned: Vec<&str> = st
            .endpoints
            .values()
            .map(|e| e.host_veth.as_str())
            .collect();
        let prefix = &inner.cfg.veth_prefix;
        let strays: Vec<String> = links
            .iter()
            .filter(|l| {
                l.starts_with(prefix.as_str())
                    && l.len() == 15.min(prefix.len() + 64)
                    && l[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit())
                    && !owned.contains(&l.as_str())
            })
            .cloned()
            .collect();
        inner.persist(&st, false)?;
        inner.apply_nft(&st)?;
        drop(st);
        for l in strays {
            lock(&inner.nl).del_link(&l).map_err(nl_err)?;
            rep.links.push(l);
        }
        Ok(rep)
    }

    /// Like [`NetworkController::cleanup_stale`], and also drops endpoints of
    /// containers not in `live` (the daemon's list of running containers).
    pub fn reconcile(&self, live: &[&str]) -> Result<CleanupReport> {
        let gone: Vec<String> = {
            let st = lock(&self.inner.state);
            st.endpoints
                .values()
                .filter(|e| !live.contains(&e.container_id.as_str()))
                .map(|e| e.container_id.clone())
                .collect()
        };
        let mut rep = CleanupReport::default();
        for c in gone {
            let ids: Vec<String> = {
                let st = lock(&self.inner.state);
                st.endpoints
                    .values()
                    .filter(|e| e.container_id == c)
                    .map(|e| e.id.clone())
                    .collect()
            };
            self.release_container(&c)?;
            rep.endpoints.extend(ids);
        }
        let more = self.cleanup_stale()?;
        rep.endpoints.extend(more.endpoints);
        rep.links.extend(more.links);
        Ok(rep)
    }

    /// Removes everything this controller made: endpoints, user-defined
    /// networks, the default bridge (if Berth created it), the nft tables and
    /// the state file. For tests and uninstall; the daemon does not call it
    /// on shutdown (bridges and leases outlive a restart).
    pub fn teardown(&self) -> Result<()> {
        let inner = self.inner.clone();
        let containers: Vec<String> = {
            let st = lock(&inner.state);
            st.endpoints
                .values()
                .map(|e| e.container_id.clone())
                .collect()
        };
        for c in containers {
            self.release_container(&c)?;
        }
        inner.reaper.wait(None);
        let dns: Vec<DnsServer> = lock(&inner.dns).drain().map(|(_, v)| v).collect();
        drop(dns);
        let mut st = lock(&inner.state);
        let nets: Vec<NetRec> = st.networks.values().cloned().collect();
        st.networks.clear();
        inner.apply_nft(&st)?;
        for n in nets {
            if n.created_bridge {
                lock(&inner.nl).del_link(&n.bridge).map_err(nl_err)?;
            }
        }
        let _ = std::fs::remove_file(inner.dir.join(STATE_FILE));
        Ok(())
    }

    /// Waits (at most 10 s) until the veths of every disconnect so far are
    /// deleted. `disconnect` hands that deletion to a background thread;
    /// call this where the kernel objects must be gone (tests, shutdown).
    pub fn flush(&self) {
        self.inner.reaper.wait(None);
    }

    /// Leased addresses of a network (address -> endpoint ID), for
    /// diagnostics and leak checks.
    pub fn leases(&self, network: &str) -> Result<BTreeMap<Ipv4Addr, String>> {
        let st = lock(&self.inner.state);
        let id = find_net(&st, network)?;
        Ok(st.networks[&id]
            .pool
            .as_ref()
            .map(|p| p.leases.clone())
            .unwrap_or_default())
    }

    /// The embedded DNS server address of a network (`gateway:53`), when it
    /// is serving.
    pub fn dns_address(&self, network: &str) -> Result<Option<SocketAddr>> {
        let id = {
            let st = lock(&self.inner.state);
            find_net(&st, network)?
        };
        let st = lock(&self.inner.state);
        let n = &st.networks[&id];
        Ok(lock(&self.inner.dns)
            .contains_key(&id)
            .then(|| {
                n.pool
                    .as_ref()
                    .map(|p| SocketAddr::V4(SocketAddrV4::new(p.gateway, self.inner.cfg.dns_port)))
            })
            .flatten())
    }
}

impl Drop for NetworkController {
    fn drop(&mut self) {
        // Stop the DNS threads from here, not from whichever thread might
        // hold the last reference.
        let dns: Vec<DnsServer> = lock(&self.inner.dns).drain().map(|(_, v)| v).collect();
        drop(dns);
        // Finish the pending veth deletions.
        self.inner.reaper.stop();
    }
}

/// The API view of network `n` (`GET /networks/{id}`), its endpoints from `st`.
fn net_view(st: &State, n: &NetRec) -> Network {
    let containers = st
        .endpoints
        .values()
        .filter(|e| e.network_id == n.id)
        .map(|e| {
            let plen = n.pool.as_ref().map(|p| p.subnet.prefix_len()).unwrap_or(32);
            (
                e.container_id.clone(),
                NetworkContainer {
                    name: e.container_name.clone(),
                    endpoint_id: e.id.clone(),
                    mac_address: e.mac.clone(),
                    ipv4_address: format!("{}/{plen}", e.ip),
                    ipv6_address: String::new(),
                },
            )
        })
        .collect();
    Network {
        name: n.name.clone(),
        id: n.id.clone(),
        created: n.created.clone(),
        scope: "local".into(),
        driver: n.driver.clone(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default".into(),
            options: BTreeMap::new(),
            config: n
                .pool
                .as_ref()
                .map(|p| {
                    vec![IpamConfig {
                        subnet: p.subnet.to_string(),
                        gateway: p.gateway.to_string(),
                        ip_range: p.ip_range.map(|r| r.to_string()),
                    }]
                })
                .unwrap_or_default(),
        },
        internal: n.internal,
        attachable: false,
        ingress: false,
        config_from: ConfigFrom::default(),
        config_only: false,
        containers,
        options: n.options.clone(),
        labels: n.labels.clone(),
    }
}

/// The state in `dir`, empty when there is none.
fn read_state(dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| NetError::sys(&format!("parse {}", path.display()), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(NetError::sys(&format!("read {}", path.display()), e)),
    }
}

/// Writes the state into `dir` (temp + rename; `durable` adds fsync of the
/// file and the directory).
fn write_state(dir: &Path, st: &State, durable: bool) -> Result<()> {
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
    let data = serde_json::to_vec(st).map_err(|e| NetError::sys("encode state", e))?;
    let mut f = File::create(&tmp).map_err(|e| NetError::sys("create state temp file", e))?;
    f.write_all(&data)
        .map_err(|e| NetError::sys("write state", e))?;
    if durable {
        f.sync_all().map_err(|e| NetError::sys("fsync state", e))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| NetError::sys("rename state", e))?;
    if durable {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| NetError::sys("fsync state dir", e))?;
    }
    Ok(())
}

/// Adds the pre-defined `host` and `none` networks that `st` lacks (new
/// IDs); true when it added one.
fn add_predefined(st: &mut State) -> bool {
    let mut added = false;
    for (name, driver) in [("host", "host"), ("none", "null")] {
        if !st.networks.values().any(|n| n.name == name) {
            let id = berth_types::new_id();
            st.networks.insert(
                id.clone(),
                NetRec {
                    id,
                    name: name.into(),
                    created: rfc3339_now(),
                    driver: driver.into(),
                    bridge: String::new(),
                    pool: None,
                    internal: false,
                    icc: true,
                    masquerade: false,
                    mtu: 0,
                    labels: BTreeMap::new(),
                    options: BTreeMap::new(),
                    predefined: true,
                    created_bridge: false,
                },
            );
            added = true;
        }
    }
    added
}

fn find_net(st: &State, key: &str) -> Result<String> {
    if st.networks.contains_key(key) {
        return Ok(key.to_string());
    }
    if let Some(n) = st.networks.values().find(|n| n.name == key) {
        return Ok(n.id.clone());
    }
    let m: Vec<&NetRec> = st
        .networks
        .values()
        .filter(|n| !key.is_empty() && n.id.starts_with(key))
        .collect();
    match m.as_slice() {
        [one] => Ok(one.id.clone()),
        _ => Err(NetError::NotFound(key.to_string())),
    }
}

/// Waits (at most 500 ms) until the kernel's link watcher has activated the
/// host end of a new veth and the bridge forwards on it. The carrier comes
/// up synchronously when `eth0` is set up, but the host end's queue and the
/// bridge port are enabled later from a work queue; a packet the container
/// sends before that (its first ARP) is dropped and costs it a 1 s ARP
/// retry. Typically a few hundred microseconds.
fn wait_port_forwarding(veth: &str) {
    let op = format!("/sys/class/net/{veth}/operstate");
    let st = format!("/sys/class/net/{veth}/brport/state");
    let end = std::time::Instant::now() + std::time::Duration::from_millis(500);
    let mut pause = std::time::Duration::from_micros(50);
    loop {
        let up = std::fs::read_to_string(&op)
            .map(|s| s.trim() == "up")
            .unwrap_or(true);
        let fwd = std::fs::read_to_string(&st)
            .map(|s| s.trim() == "3")
            .unwrap_or(true);
        if (up && fwd) || std::time::Instant::now() > end {
            if !(up && fwd) {
                tracing::warn!("veth {veth} not forwarding after 500 ms");
            }
            return;
        }
        // Back off: a hundred containers starting at once must not spin
        // the CPUs the link watcher needs.
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(5));
    }
}

fn ephemeral_candidates() -> Vec<u16> {
    let (lo, hi) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut w = s.split_whitespace();
            Some((
                w.next()?.parse::<u16>().ok()?,
                w.next()?.parse::<u16>().ok()?,
            ))
        })
        .unwrap_or((32768, 60999));
    // Start at a pseudo-random offset so concurrent daemons and restarts do
    // not all probe the same ports first.
    let span = (hi - lo) as u32 + 1;
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    (0..span.min(512))
        .map(|i| lo + ((seed + i) % span) as u16)
        .collect()
}

/// Binds (without listening) `ip:port/proto` so nobody else can take it.
fn reserve_port(ip: Ipv4Addr, port: u16, proto: Proto) -> Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let (ty, pr) = match proto {
        Proto::Tcp => (Type::STREAM, Protocol::TCP),
        Proto::Udp => (Type::DGRAM, Protocol::UDP),
    };
    let s = Socket::new(Domain::IPV4, ty, Some(pr)).map_err(|e| NetError::sys("socket", e))?;
    match s.bind(&SocketAddr::V4(SocketAddrV4::new(ip, port)).into()) {
        Ok(()) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(NetError::PortAllocated {
            addr: ip.to_string(),
            port,
        }),
        Err(e) => Err(NetError::sys(
            &format!("bind {ip}:{port}/{}", proto.as_str()),
            e,
        )),
    }
}

impl Inner {
    /// Writes the state: temp file, rename (atomic: a crashed daemon
    /// finds the last complete state). `durable` adds fsync of the file and
    /// the directory, for changes that must survive a power loss (networks).
    /// Endpoint and lease changes skip it: after a host crash every sandbox
    /// is gone anyway and `cleanup_stale` releases their leases, while a
    /// daemon crash loses nothing renamed. This keeps ~5 ms of fsync off
    /// every container start.
    fn persist(&self, st: &State, durable: bool) -> Result<()> {
        write_state(&self.dir, st, durable)
    }

    fn apply_nft(&self, st: &State) -> Result<()> {
        let nets: Vec<NftNet> = st
            .networks
            .values()
            .filter(|n| n.driver == "bridge")
            .map(|n| NftNet {
                bridge: n.bridge.clone(),
                subnet: n.pool.as_ref().expect("pool").subnet,
                internal: n.internal,
                icc: n.icc,
                masquerade: n.masquerade,
            })
            .collect();
        let ports: Vec<NftPort> = st
            .endpoints
            .values()
            .flat_map(|e| {
                e.ports.iter().map(move |p| NftPort {
                    host_ip: (!p.host_ip.is_unspecified()).then_some(p.host_ip),
                    host_port: p.host_port,
                    proto: p.proto,
                    dest: e.ip,
                    dest_port: p.container_port,
                })
            })
            .collect();
        nft::apply(&nft::render(&self.cfg.nft_table, &nets, &ports))
    }

    /// Drops an endpoint from the state and releases its lease.
    fn forget(&self, st: &mut State, ep_id: &str) {
        if let Some(ep) = st.endpoints.remove(ep_id) {
            if let Some(p) = st
                .networks
                .get_mut(&ep.network_id)
                .and_then(|n| n.pool.as_mut())
            {
                p.release(ep.ip);
            }
        }
    }

    fn dns_names(e: &EpRec) -> Vec<String> {
        let mut v = vec![e.container_name.clone()];
        v.extend(e.aliases.iter().cloned());
        v.push(berth_types::short_id(&e.container_id).to_string());
        v
    }

    fn endpoint_view(&self, st: &State, e: &EpRec) -> Endpoint {
        let n = &st.networks[&e.network_id];
        let pool = n.pool.as_ref().expect("pool");
        Endpoint {
            ipam_config: e.requested_ip.map(|ip| EndpointIpamConfig {
                ipv4_address: ip.to_string(),
            }),
            links: None,
            aliases: (!e.aliases.is_empty()).then(|| e.aliases.clone()),
            mac_address: e.mac.clone(),
            network_id: n.id.clone(),
            endpoint_id: e.id.clone(),
            gateway: if n.internal {
                String::new()
            } else {
                pool.gateway.to_string()
            },
            ip_address: e.ip.to_string(),
            ip_prefix_len: pool.subnet.prefix_len(),
            ipv6_gateway: String::new(),
            global_ipv6_address: String::new(),
            global_ipv6_prefix_len: 0,
            dns_names: n.has_dns().then(|| Self::dns_names(e)),
            container_id: e.container_id.clone(),
            network_name: n.name.clone(),
            interface: e.ifname.clone(),
            host_veth: e.host_veth.clone(),
            ports: e.ports.clone(),
        }
    }

    fn view(&self, st: &State, n: &NetRec) -> Network {
        net_view(st, n)
    }

    fn upstreams(&self) -> Vec<SocketAddr> {
        if let Some(u) = &self.cfg.dns_upstreams {
            return u.clone();
        }
        let host = ResolvConf::parse(
            &std::fs::read_to_string(&self.cfg.host_resolv_conf).unwrap_or_default(),
        );
        host.nameservers
            .into_iter()
            .map(|ip| SocketAddr::new(ip, 53))
            .collect()
    }

    fn start_dns(self: &Arc<Self>, n: &NetRec) {
        let Some(pool) = &n.pool else { return };
        let addr = SocketAddr::V4(SocketAddrV4::new(pool.gateway, self.cfg.dns_port));
        let weak: Weak<Inner> = Arc::downgrade(self);
        let nid = n.id.clone();
        let resolver: Resolver = Arc::new(move |src, name| {
            let Some(inner) = weak.upgrade() else {
                return Lookup::Fail;
            };
            inner.resolve(&nid, src, name)
        });
        match DnsServer::start(addr, resolver) {
            Ok(s) => {
                lock(&self.dns).insert(n.id.clone(), s);
            }
            Err(e) => tracing::warn!("embedded DNS for network {} on {addr}: {e}", n.name),
        }
    }

    fn resolve(&self, nid: &str, src: Ipv4Addr, name: &str) -> Lookup {
        let st = lock(&self.state);
        let asker = st
            .endpoints
            .values()
            .find(|e| e.network_id == nid && e.ip == src);
        let nets: Vec<&str> = match asker {
            Some(a) => st
                .endpoints
                .values()
                .filter(|e| e.container_id == a.container_id)
                .map(|e| e.network_id.as_str())
                .filter(|n| st.networks.get(*n).map(|n| n.has_dns()).unwrap_or(false))
                .collect(),
            None => vec![nid],
        };
        let ips: Vec<Ipv4Addr> = st
            .endpoints
            .values()
            .filter(|e| nets.contains(&e.network_id.as_str()))
            .filter(|e| {
                e.container_id == name
                    || Self::dns_names(e)
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(name))
            })
            .map(|e| e.ip)
            .collect();
        if !ips.is_empty() {
            return Lookup::Found(ips);
        }
        let all_internal = nets
            .iter()
            .all(|n| st.networks.get(*n).map(|n| n.internal).unwrap_or(true));
        if all_internal {
            return Lookup::Fail;
        }
        match asker {
            Some(a) if !a.dns.is_empty() => {
                Lookup::Forward(a.dns.iter().map(|ip| SocketAddr::new(*ip, 53)).collect())
            }
            _ => {
                drop(st);
                Lookup::Forward(self.upstreams())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("cidr")
    }

    /// dockerd 20.10's order, checked by hand on Debian's dockerd: round
    /// robin from after the last subnet given, routed subnets held and
    /// skipped, `None` when nothing is left.
    #[test]
    fn default_pool_search_is_dockerds_round_robin() {
        let pools = [AddressPool {
            base: net("10.177.0.0/16"),
            size: 18,
        }];
        let mut cur = 0;
        let mut taken = vec![];
        let next = |taken: &[Ipv4Net], routes: &[Ipv4Net], cur: &mut usize| {
            next_default_pool(&pools, taken, routes, cur)
        };
        let a = next(&taken, &[], &mut cur).expect("a");
        assert_eq!(a, net("10.177.0.0/18"));
        taken.push(a);
        let b = next(&taken, &[], &mut cur).expect("b");
        assert_eq!(b, net("10.177.64.0/18"));
        taken.push(b);
        taken.retain(|t| *t != a);
        let c = next(&taken, &[], &mut cur).expect("c");
        assert_eq!(c, net("10.177.128.0/18"), "not the freed one");
        taken.push(c);
        let routes = [net("10.177.200.0/24")];
        let d = next(&taken, &routes, &mut cur).expect("d");
        assert_eq!(d, net("10.177.0.0/18"), "routed .192 skipped, wrapped");
        taken.push(d);
        assert_eq!(next(&taken, &routes, &mut cur), None);
        let e = next(&taken, &[], &mut cur).expect("e");
        assert_eq!(e, net("10.177.192.0/18"));
        // Docker's defaults: 15 /16s, then 16 /20s.
        let dp = docker_default_pools();
        let all: Vec<Ipv4Net> = dp
            .iter()
            .flat_map(|p| p.base.subnets(p.size).expect("subnets"))
            .collect();
        assert_eq!(all.len(), 31);
        assert_eq!(all[0], net("172.17.0.0/16"));
        assert_eq!(all[14], net("172.31.0.0/16"));
        assert_eq!(all[15], net("192.168.0.0/20"));
        assert_eq!(all[30], net("192.168.240.0/20"));
    }
}
