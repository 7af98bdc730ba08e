//! Shared helpers: sandboxes (`ip netns add`), a "world" namespace that
//! stands for the outside, sockets opened inside namespaces, leak checks.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use berth_network::nl::in_netns;
use berth_network::{ControllerConfig, NetworkController};

pub const T: Duration = Duration::from_secs(3);

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace made with `ip netns add`, deleted on drop.
pub struct Sandbox {
    pub name: String,
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        sh(&format!("ip netns add {name}"));
        Sandbox {
            name: name.to_string(),
        }
    }
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }
    /// Runs `f` on a thread inside the namespace.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        in_netns(&self.path(), f).expect("enter netns")
    }
    /// A TCP server inside the namespace on `port` that answers every
    /// connection with `reply` followed by the peer address it saw.
    pub fn tcp_server(&self, port: u16, reply: &'static str) {
        let l = self
            .run(move || TcpListener::bind(("0.0.0.0", port)))
            .expect("bind in netns");
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let peer = c
                    .peer_addr()
                    .map(|p| p.ip().to_string())
                    .unwrap_or_default();
                let _ = c.write_all(format!("{reply} {peer}\n").as_bytes());
            }
        });
    }
    /// A UDP server inside the namespace that answers `reply`.
    pub fn udp_server(&self, port: u16, reply: &'static str) {
        let s = self
            .run(move || UdpSocket::bind(("0.0.0.0", port)))
            .expect("bind udp in netns");
        std::thread::spawn(move || {
            let mut b = [0u8; 512];
            while let Ok((_, p)) = s.recv_from(&mut b) {
                let _ = s.send_to(reply.as_bytes(), p);
            }
        });
    }
    /// TCP client from inside the namespace: the server's line, or the error.
    pub fn tcp_get(&self, to: SocketAddr) -> Result<String, String> {
        self.run(move || tcp_get(to))
    }
    pub fn udp_get(&self, to: SocketAddr) -> Result<String, String> {
        self.run(move || udp_get(to))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

pub fn tcp_get(to: SocketAddr) -> Result<String, String> {
    let mut c = TcpStream::connect_timeout(&to, T).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(T)).unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).map_err(|e| e.to_string())?;
    Ok(s.trim().to_string())
}

pub fn udp_get(to: SocketAddr) -> Result<String, String> {
    let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(T)).unwrap();
    s.send_to(b"ping", to).map_err(|e| e.to_string())?;
    let mut b = [0u8; 512];
    let (n, _) = s.recv_from(&mut b).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&b[..n]).into_owned())
}

/// "The world": a namespace joined to the host by a veth `<tag>h` (host
/// side, `10.250.N.1/30`) / `<tag>w` (`10.250.N.2/30`). It has no route
/// to container subnets, so only masqueraded traffic gets answers.
pub struct World {
    pub ns: Sandbox,
    pub host_if: String,
    pub host_ip: std::net::Ipv4Addr,
    pub world_ip: std::net::Ipv4Addr,
}

impl World {
    pub fn new(tag: &str, n: u8) -> World {
        let ns = Sandbox::new(&format!("{tag}world"));
        let host_if = format!("{tag}h");
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        sh(&format!(
            "ip link add {host_if} type veth peer name {tag}w netns {w} && ip addr add 10.250.{n}.1/30 dev {host_if} && ip link set {host_if} up && ip -n {w} addr add 10.250.{n}.2/30 dev {tag}w && ip -n {w} link set {tag}w up && ip -n {w} link set lo up",
            w = ns.name
        ));
        World {
            ns,
            host_if,
            host_ip: format!("10.250.{n}.1").parse().unwrap(),
            world_ip: format!("10.250.{n}.2").parse().unwrap(),
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
    }
}

/// A controller configuration private to one test: own bridge, subnet,
/// nft table, veth prefix, no upstream resolvers unless set.
pub fn cfg(tag: &str, n: u8) -> ControllerConfig {
    ControllerConfig {
        bridge_name: format!("{tag}br0"),
        default_subnet: format!("10.{}.0.0/24", 200 + n).parse().unwrap(),
        default_address_pools: vec![berth_network::AddressPool {
            base: format!("10.{}.64.0/18", 200 + n).parse().unwrap(),
            size: 24,
        }],
        nft_table: format!("berth-{tag}"),
        veth_prefix: format!("{tag}v"),
        dns_upstreams: Some(vec![]),
        ..ControllerConfig::default()
    }
}

pub fn nft_tables() -> String {
    sh("nft list tables")
}

/// Owns a test's controller; tears everything down even when the test
/// panics half-way (the explicit teardown at the end is what is asserted).
pub struct Ctl(pub Option<NetworkController>);

impl Ctl {
    pub fn new(c: NetworkController) -> Ctl {
        Ctl(Some(c))
    }
    /// A daemon restart: the controller is dropped (no teardown: bridges,
    /// rules and leases stay) and opened again on the same state.
    pub fn restart(&mut self, dir: &std::path::Path, cfg: ControllerConfig) {
        drop(self.0.take());
        self.0 = Some(NetworkController::open(dir, cfg).expect("reopen controller"));
    }
}

impl std::ops::Deref for Ctl {
    type Target = NetworkController;
    fn deref(&self) -> &NetworkController {
        self.0.as_ref().expect("controller open")
    }
}

impl Drop for Ctl {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            let _ = c.teardown();
        }
    }
}

/// Asserts nothing of the test's own is left: links, netns, nft tables,
/// addresses of its `10.<200+n>.` range.
pub fn assert_no_leaks(tag: &str, table: &str, n: u8) {
    let addrs = sh("ip -br addr");
    assert!(
        !addrs.contains(&format!(" 10.{}.", 200 + n)),
        "leaked addresses: {addrs}"
    );
    let links = berth_testutil::links_containing(tag);
    assert!(links.is_empty(), "leaked links: {links:?}");
    let ns = sh("ip netns list");
    assert!(!ns.contains(tag), "leaked netns: {ns}");
    let t = nft_tables();
    assert!(
        !t.contains(&format!("{table}\n")) && !t.contains(&format!("{table}-nat")),
        "leaked nft tables: {t}"
    );
}

/// Polls `f` until true or the timeout.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + timeout;
    while !f() {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
