//! Public data types: configuration, requests, and the Docker Engine API
//! JSON shapes (`Network`, `EndpointSettings`, port bindings).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::{NetError, Result};

/// A dockerd `--default-address-pool base=CIDR,size=N`: user-defined
/// networks created without `--subnet` get the first free `/size` of `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    /// The range to carve subnets from.
    pub base: Ipv4Net,
    /// Prefix length of each subnet carved out.
    pub size: u8,
}

/// dockerd's default address pools for local networks (libnetwork
/// `ipamutils`): 172.17.0.0/16 through 172.31.0.0/16 carved into `/16`s,
/// then 192.168.0.0/16 into `/20`s (31 subnets).
pub fn docker_default_pools() -> Vec<AddressPool> {
    let mut v: Vec<AddressPool> = (17u8..=31)
        .map(|b| AddressPool {
            base: Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("literal"),
            size: 16,
        })
        .collect();
    v.push(AddressPool {
        base: "192.168.0.0/16".parse().expect("literal"),
        size: 20,
    });
    v
}

/// Controller configuration (the daemon's `--bridge`-related flags).
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Interface name of the default `bridge` network (dockerd: docker0).
    /// Default `berth0`. Empty: no default bridge network (dockerd's
    /// `-b none`); user-defined networks still work.
    pub bridge_name: String,
    /// dockerd `--bip`: the default bridge's gateway address with its prefix
    /// (e.g. `172.30.0.1/16`). `None`: [`ControllerConfig::default_subnet`]
    /// with its first host as gateway.
    pub bip: Option<Ipv4Net>,
    /// Subnet of the default bridge when `bip` is not set. Default
    /// `172.30.0.0/16` (Docker's is 172.17.0.0/16, so both can coexist).
    pub default_subnet: Ipv4Net,
    /// dockerd `--default-address-pool`, in order. Default: dockerd's
    /// ([`docker_default_pools`]: 172.17.0.0/16 .. 172.31.0.0/16 as `/16`s,
    /// then 192.168.0.0/16 as `/20`s); the default bridge's own subnet and
    /// the host's routes are skipped as dockerd skips them.
    pub default_address_pools: Vec<AddressPool>,
    /// MTU of bridges and veths, bytes (dockerd `--mtu`). Default 1500.
    pub mtu: u32,
    /// Name of Berth's nftables tables: `inet NAME` and `ip NAME-nat`.
    /// Default `berth`. One controller per name on a host.
    pub nft_table: String,
    /// Prefix of host-side veth names (then hex of the endpoint ID, 15
    /// characters in all). Default `vb`.
    pub veth_prefix: String,
    /// Upstream resolvers of the embedded DNS server. `None`: the
    /// nameservers of [`ControllerConfig::host_resolv_conf`], port 53.
    pub dns_upstreams: Option<Vec<SocketAddr>>,
    /// The host's resolv.conf. Default `/etc/resolv.conf`.
    pub host_resolv_conf: PathBuf,
    /// UDP port of the embedded DNS server on each gateway. Default 53.
    pub dns_port: u16,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            bridge_name: "berth0".into(),
            bip: None,
            default_subnet: "172.30.0.0/16".parse().expect("literal"),
            default_address_pools: docker_default_pools(),
            mtu: 1500,
            nft_table: "berth".into(),
            veth_prefix: "vb".into(),
            dns_upstreams: None,
            host_resolv_conf: "/etc/resolv.conf".into(),
            dns_port: 53,
        }
    }
}

/// One `IPAM.Config` entry of a create request (strings, validated by
/// [`crate::NetworkController::create`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfigRequest {
    /// `--subnet`, CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// `--gateway`, an address inside the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// `--ip-range`, CIDR inside the subnet.
    #[serde(default, rename = "IPRange", skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
}

/// `POST /networks/create` body, the fields Berth uses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateRequest {
    /// Network name; must be unique.
    pub name: String,
    /// Driver; only `bridge` (the default) is supported.
    #[serde(default)]
    pub driver: Option<String>,
    /// `--internal`: no route or forwarding off the bridge, no NAT.
    #[serde(default)]
    pub internal: bool,
    /// `--label`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `-o`: `com.docker.network.bridge.name`, `com.docker.network.bridge.enable_icc`,
    /// `com.docker.network.bridge.enable_ip_masquerade`, `com.docker.network.driver.mtu`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// `IPAM.Config`; only the first (IPv4) entry is used.
    #[serde(default)]
    pub ipam_config: Vec<IpamConfigRequest>,
    /// `--ipv6`; refused (IPv4 only for now).
    #[serde(default, rename = "EnableIPv6")]
    pub enable_ipv6: bool,
}

/// `IPAM.Config[]` of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    /// CIDR, e.g. `172.30.0.0/16`.
    pub subnet: String,
    /// The bridge's address.
    pub gateway: String,
    /// Present when `--ip-range` was given.
    #[serde(default, rename = "IPRange", skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
}

/// `IPAM` of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    /// Always `default`.
    pub driver: String,
    /// Always empty.
    pub options: BTreeMap<String, String>,
    /// One entry (IPv4); empty for `host` and `none`.
    pub config: Vec<IpamConfig>,
}

/// `Network.Containers[<container id>]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    /// Container name (without leading `/`).
    pub name: String,
    /// The endpoint's ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// `02:42:...`.
    pub mac_address: String,
    /// `ip/prefix`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// Always empty (IPv4 only).
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `ConfigFrom` of a network (always empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigFrom {
    /// Always empty.
    pub network: String,
}

/// A network in the Engine API's `GET /networks/{id}` shape (moby
/// `api/types/network.Inspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    /// Name, unique on the host.
    pub name: String,
    /// 64-hex ID.
    pub id: String,
    /// RFC 3339 creation time, UTC, nanoseconds.
    pub created: String,
    /// Always `local`.
    pub scope: String,
    /// `bridge`, or `host` / `null` for the pre-defined `host` and `none`.
    pub driver: String,
    /// Always false.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Address configuration.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// `--internal`.
    pub internal: bool,
    /// Always false.
    pub attachable: bool,
    /// Always false.
    pub ingress: bool,
    /// Always empty.
    pub config_from: ConfigFrom,
    /// Always false.
    pub config_only: bool,
    /// Connected containers by container ID.
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options (for `bridge`: the `com.docker.network.*` keys).
    pub options: BTreeMap<String, String>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
}

/// What a container asks for when it joins a network
/// (`POST /networks/{id}/connect` `EndpointConfig`, `docker run` flags).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Container name without `/`; resolvable through the embedded DNS.
    pub container_name: String,
    /// `--network-alias` / `--alias`: more DNS names on this network.
    pub aliases: Vec<String>,
    /// `--ip`: a fixed address (must be in the subnet and free).
    pub ip: Option<Ipv4Addr>,
    /// `--mac-address`, `aa:bb:cc:dd:ee:ff`. Default: `02:42:` + the four
    /// bytes of the IPv4 address (Docker's classic derivation, stable per
    /// address so neighbours' ARP caches stay right when an address is reused).
    pub mac: Option<String>,
    /// `--dns`: the embedded DNS server relays this container's other
    /// queries to these instead of the host's resolvers.
    pub dns: Vec<IpAddr>,
}

/// `IPAMConfig` of an endpoint: the `--ip` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointIpamConfig {
    /// The requested IPv4 address.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
}

/// A container's attachment to a network, in the Engine API's
/// `NetworkSettings.Networks[<name>]` shape (moby `EndpointSettings`), plus
/// Berth-side fields that are not serialized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    /// Present when `--ip` was given.
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// Always null (legacy links are not supported).
    pub links: Option<Vec<String>>,
    /// `--alias`es.
    pub aliases: Option<Vec<String>>,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac_address: String,
    /// The network's ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// 64-hex endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The network's gateway (empty on `--internal` networks, which get no
    /// default route).
    pub gateway: String,
    /// The container's address on the network.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Prefix length of the subnet.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// Always empty.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// Always empty.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// Always 0.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    /// Names this endpoint answers to in the embedded DNS (name, aliases,
    /// short ID); empty on the default bridge.
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
    /// The container's ID (not serialized).
    #[serde(skip)]
    pub container_id: String,
    /// The network's name (not serialized).
    #[serde(skip)]
    pub network_name: String,
    /// Interface name inside the sandbox, `eth0`, `eth1`, ... (not serialized).
    #[serde(skip)]
    pub interface: String,
    /// Host-side veth name (not serialized).
    #[serde(skip)]
    pub host_veth: String,
    /// Published ports of this endpoint (not serialized here; see
    /// [`PortBinding`] for the `NetworkSettings.Ports` shape).
    #[serde(skip)]
    pub ports: Vec<PortBinding>,
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// `tcp` (the default).
    Tcp,
    /// `udp`.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One `-p` request: `[ip:][hostPort[-end]:]containerPort[-end][/proto]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Host address to bind; `None` means all (`0.0.0.0`).
    pub host_ip: Option<Ipv4Addr>,
    /// Host port range (inclusive); `None` (or `0`) means an ephemeral port
    /// from `/proc/sys/net/ipv4/ip_local_port_range`.
    pub host_ports: Option<(u16, u16)>,
    /// Container port range (inclusive).
    pub container_ports: (u16, u16),
    /// Protocol.
    pub proto: Proto,
}

fn port_range(s: &str, what: &str) -> Result<(u16, u16)> {
    let bad = || NetError::InvalidParameter(format!("invalid {what}: {s}"));
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a, b))
}

impl PortSpec {
    /// Parses one `-p` value, e.g. `8080:80`, `127.0.0.1:8080:80/udp`,
    /// `127.0.0.1::80`, `80`, `8000-8001:80-81`. Errors are 400s with
    /// Docker's `invalid ...` wording.
    pub fn parse(s: &str) -> Result<PortSpec> {
        let (rest, proto) = match s.rsplit_once('/') {
            Some((r, "tcp")) => (r, Proto::Tcp),
            Some((r, "udp")) => (r, Proto::Udp),
            Some((_, p)) => return Err(NetError::InvalidParameter(format!("invalid proto: {p}"))),
            None => (s, Proto::Tcp),
        };
        let parts: Vec<&str> = rest.rsplitn(3, ':').collect();
        let (ip, host, cont) = match parts.as_slice() {
            [c] => (None, None, *c),
            [c, h] => (None, Some(*h), *c),
            [c, h, ip] => (Some(*ip), Some(*h), *c),
            _ => unreachable!("rsplitn(3) yields 1..=3 parts"),
        };
        let host_ip = match ip {
            None | Some("") => None,
            Some(ip) => {
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                let v: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| NetError::InvalidParameter(format!("invalid IP address: {ip}")))?;
                (!v.is_unspecified()).then_some(v)
            }
        };
        let container_ports = port_range(cont, "containerPort")?;
        let host_ports = match host {
            None | Some("") | Some("0") => None,
            Some(h) => Some(port_range(h, "hostPort")?),
        };
        if let Some((a, b)) = host_ports {
            let (ca, cb) = container_ports;
            if b - a != cb - ca && ca != cb {
                return Err(NetError::InvalidParameter(format!(
                    "invalid ranges specified for container and host Ports: {cont} and {}",
                    host.unwrap_or_default()
                )));
            }
        }
        Ok(PortSpec {
            host_ip,
            host_ports,
            container_ports,
            proto,
        })
    }
}

/// One established port binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// Host address; `0.0.0.0` means every local address.
    pub host_ip: Ipv4Addr,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
    /// Protocol.
    pub proto: Proto,
}

impl PortBinding {
    /// The `NetworkSettings.Ports` key: `80/tcp`.
    pub fn port_key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto.as_str())
    }

    /// The `NetworkSettings.Ports[key][]` value: `{"HostIp": "0.0.0.0", "HostPort": "8080"}`.
    pub fn docker_json(&self) -> serde_json::Value {
        serde_json::json!({"HostIp": self.host_ip.to_string(), "HostPort": self.host_port.to_string()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs_parse_like_docker() {
        let p = PortSpec::parse("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(p.host_ip, Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            (p.host_ports, p.container_ports, p.proto),
            (Some((8080, 8080)), (80, 80), Proto::Udp)
        );
        let p = PortSpec::parse("80").unwrap();
        assert_eq!((p.host_ip, p.host_ports, p.proto), (None, None, Proto::Tcp));
        let p = PortSpec::parse("127.0.0.1::80").unwrap();
        assert_eq!((p.host_ip.is_some(), p.host_ports), (true, None));
        let p = PortSpec::parse("0.0.0.0:8000-8001:80-81").unwrap();
        assert_eq!(
            (p.host_ip, p.host_ports, p.container_ports),
            (None, Some((8000, 8001)), (80, 81))
        );
        assert!(PortSpec::parse("8000-8002:80-81").is_err());
        assert!(PortSpec::parse("80/sctp").is_err());
        assert!(PortSpec::parse("x:80").is_err());
        assert_eq!(PortSpec::parse("99999").unwrap_err().status(), 400);
    }
}
