//! Networking on the command line: `-p`/`--expose`/`--network*` of
//! `run`/`create` turned into the request docker's CLI builds
//! (`Config.ExposedPorts`, `HostConfig.PortBindings`,
//! `NetworkingConfig.EndpointsConfig`), the PORTS text of `ps`,
//! `berth port`, and `berth network create|ls|inspect|rm|prune|connect|
//! disconnect` over the Engine API's `/networks` endpoints.

use std::collections::BTreeMap;

use berth_api::models::PortBinding;
use berth_client::{qs, Client};
use serde_json::{json, Map, Value};

use crate::cli::*;
use crate::containers::{confirm, filters_json};
use crate::fmt as f;
use crate::{out, CmdResult, Fail};

/// go-connections' `ParsePortRange`: `"80"` or `"8000-8010"` to
/// (start, end); errors are Go's `strconv.ParseUint` texts.
pub fn parse_port_range(p: &str) -> Result<(u16, u16), String> {
    if p.is_empty() {
        return Err("empty string specified for ports".into());
    }
    let num = |s: &str| -> Result<u16, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"));
        }
        s.parse::<u16>()
            .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: value out of range"))
    };
    match p.split_once('-') {
        None => {
            let n = num(p)?;
            Ok((n, n))
        }
        Some((a, b)) => {
            let (s, e) = (num(a)?, num(b)?);
            if e < s {
                return Err(format!("invalid range specified for port: {p}"));
            }
            Ok((s, e))
        }
    }
}

/// go-connections' `SplitProtoPort`: `"80/udp"` to ("udp", "80"),
/// protocol `tcp` when none is given.
pub fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp".into(), parts[0].to_string());
    }
    (parts[1].to_string(), parts[0].to_string())
}

/// One `-p` value in docker's short syntax (`[ip:][hostPort:]containerPort
/// [/proto]`, ranges, `[v6]:` addresses) to `("80/tcp", binding)` pairs,
/// as go-connections' `ParsePortSpec` does. Errors are docker's texts.
pub fn parse_port_spec(raw: &str) -> Result<Vec<(String, PortBinding)>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (mut ip, host) = match n {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_string(), parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (proto, container) = split_proto_port(container);
    if let Some(inner) = ip.strip_prefix('[') {
        match inner.strip_suffix(']') {
            Some(i) => ip = i.to_string(),
            None => {
                return Err(format!(
                    "invalid IP address {ip}: address {ip}:: missing ']' in address"
                ))
            }
        }
    }
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (cs, ce) =
        parse_port_range(&container).map_err(|_| format!("invalid containerPort: {container}"))?;
    let (hs, he) = if host.is_empty() {
        (0, 0)
    } else {
        parse_port_range(host).map_err(|_| format!("invalid hostPort: {host}"))?
    };
    if !host.is_empty() && (ce - cs) != (he - hs) && ce != cs {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        ));
    }
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut v = Vec::new();
    for i in 0..=(ce - cs) {
        let mut host_port = if host.is_empty() {
            String::new()
        } else {
            (hs + i).to_string()
        };
        if cs == ce && hs != he {
            host_port = format!("{host_port}-{he}");
        }
        v.push((
            format!("{}/{proto}", cs + i),
            PortBinding {
                host_ip: ip.clone(),
                host_port,
            },
        ));
    }
    Ok(v)
}

/// docker's long `-p` syntax (`target=80,published=8080,protocol=udp`)
/// converted to the short one; other values are returned as they are.
fn standard_publish(p: &str) -> Result<String, String> {
    if !p.contains('=') {
        return Ok(p.to_string());
    }
    let mut m = BTreeMap::new();
    for kv in p.split(',') {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            format!("invalid publish opts format (should be name=value but got '{kv}')")
        })?;
        m.insert(k.trim().to_lowercase(), v.trim().to_string());
    }
    let target = m
        .get("target")
        .ok_or("missing mandatory field 'target'")?
        .clone();
    let published = m.get("published").cloned().unwrap_or_default();
    let proto = m.get("protocol").cloned().unwrap_or_else(|| "tcp".into());
    Ok(format!("{published}:{target}/{proto}"))
}

/// Ports of `-p` and `--expose`: (`ExposedPorts` keys, `PortBindings`),
/// built as docker's CLI does (every published port is also exposed;
/// bindings of one port accumulate in flag order).
pub type PortMaps = (
    BTreeMap<String, berth_api::models::Empty>,
    BTreeMap<String, Option<Vec<PortBinding>>>,
);

/// `-p` and `--expose` values to [`PortMaps`]; errors are docker's texts.
pub fn port_maps(publish: &[String], expose: &[String]) -> Result<PortMaps, String> {
    let mut exposed = BTreeMap::new();
    let mut bindings: BTreeMap<String, Option<Vec<PortBinding>>> = BTreeMap::new();
    for p in publish {
        for (port, b) in parse_port_spec(&standard_publish(p)?)? {
            exposed.insert(port.clone(), berth_api::models::Empty {});
            bindings
                .entry(port)
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(b);
        }
    }
    for e in expose {
        if e.contains(':') {
            return Err(format!("invalid port format for --expose: {e}"));
        }
        let (proto, port) = split_proto_port(e);
        let (s, end) = parse_port_range(&port)
            .map_err(|err| format!("invalid range format for --expose: {e}, error: {err}"))?;
        for i in s..=end {
            exposed.insert(format!("{i}/{proto}"), berth_api::models::Empty {});
        }
    }
    Ok((exposed, bindings))
}

/// Go's `net.ParseMAC` for the 6-byte forms (`aa:bb:..`, `aa-bb-..`).
pub fn valid_mac(m: &str) -> bool {
    let sep = if m.contains('-') { '-' } else { ':' };
    let p: Vec<&str> = m.split(sep).collect();
    p.len() == 6
        && p.iter()
            .all(|x| x.len() == 2 && x.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Network modes that are not user-defined networks (docker's
/// `NetworkMode.IsUserDefined` is false for them).
pub fn is_builtin_mode(mode: &str) -> bool {
    matches!(mode, "default" | "bridge" | "host" | "none") || mode.starts_with("container:")
}

/// `(NetworkMode, EndpointsConfig)` of a create request from
/// `--network`, `--network-alias`, `--ip`, `--ip6`, `--mac-address`,
/// as docker's `parseNetworkOpts` builds them: the options go to the
/// first network; without `--network` an endpoint for `default` is
/// always sent; a single named network without options is left out (the
/// daemon creates its endpoint).
pub fn endpoints(a: &RunArgs) -> Result<(String, Map<String, Value>), String> {
    if let Some(m) = &a.mac_address {
        if !valid_mac(m) {
            return Err(format!("{m} is not a valid mac address"));
        }
    }
    // each --network is a name, or docker's advanced syntax
    // name=N,alias=A,ip=..,ip6=..,mac-address=..,driver-opt=k=v,...
    struct Att {
        name: String,
        ep: Map<String, Value>,
    }
    let mut atts = Vec::new();
    if a.network.is_empty() {
        atts.push(Att {
            name: "default".into(),
            ep: Map::new(),
        });
    }
    for n in &a.network {
        if !n.contains('=') {
            atts.push(Att {
                name: n.clone(),
                ep: Map::new(),
            });
            continue;
        }
        let mut att = Att {
            name: String::new(),
            ep: Map::new(),
        };
        let mut ipam = Map::new();
        let mut aliases = Vec::new();
        let mut dopts = Map::new();
        let mut lla = Vec::new();
        for kv in n.split(',') {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("invalid field {kv}"))?;
            match k.trim().to_lowercase().as_str() {
                "name" => att.name = v.to_string(),
                "alias" => aliases.push(json!(v)),
                "ip" => {
                    ipam.insert("IPv4Address".into(), json!(v));
                }
                "ip6" => {
                    ipam.insert("IPv6Address".into(), json!(v));
                }
                "mac-address" => {
                    att.ep.insert("MacAddress".into(), json!(v));
                }
                "link-local-ip" => lla.push(json!(v)),
                "driver-opt" => {
                    let (dk, dv) = v.split_once('=').unwrap_or((v, ""));
                    dopts.insert(dk.to_string(), json!(dv));
                }
                "gw-priority" => {
                    let p: i64 = v.parse().map_err(|_| format!("invalid gw-priority: {v}"))?;
                    att.ep.insert("GwPriority".into(), json!(p));
                }
                other => return Err(format!("invalid field key {other}")),
            }
        }
        if !lla.is_empty() {
            ipam.insert("LinkLocalIPs".into(), Value::Array(lla));
        }
        if !ipam.is_empty() {
            att.ep.insert("IPAMConfig".into(), Value::Object(ipam));
        }
        if !aliases.is_empty() {
            att.ep.insert("Aliases".into(), Value::Array(aliases));
        }
        if !dopts.is_empty() {
            att.ep.insert("DriverOpts".into(), Value::Object(dopts));
        }
        atts.push(att);
    }
    let mode = atts[0].name.clone();
    if !a.network_alias.is_empty() && is_builtin_mode(&mode) {
        return Err("network-scoped aliases are only supported for user-defined networks".into());
    }
    let count = atts.len();
    let mut eps = Map::new();
    for (i, mut att) in atts.into_iter().enumerate() {
        if eps.contains_key(&att.name) {
            return Err(format!(
                "network {:?} is specified multiple times",
                att.name
            ));
        }
        let had_options = !att.ep.is_empty();
        if i == 0 {
            // the legacy flags apply to the first network (docker's
            // applyContainerOptions), never together with per-network ones
            let ep = &mut att.ep;
            if !a.network_alias.is_empty() {
                if ep.contains_key("Aliases") {
                    return Err("conflicting options: cannot specify both --network-alias and per-network alias".into());
                }
                ep.insert("Aliases".into(), json!(a.network_alias));
            }
            let has_ipam = |ep: &Map<String, Value>, k: &str| {
                ep.get("IPAMConfig").is_some_and(|m| m.get(k).is_some())
            };
            if let Some(ip) = &a.ip {
                if has_ipam(ep, "IPv4Address") {
                    return Err("conflicting options: cannot specify both --ip and per-network IPv4 address".into());
                }
                let m = ep.entry("IPAMConfig").or_insert_with(|| json!({}));
                m["IPv4Address"] = json!(ip);
            }
            if let Some(ip) = &a.ip6 {
                if has_ipam(ep, "IPv6Address") {
                    return Err("conflicting options: cannot specify both --ip6 and per-network IPv6 address".into());
                }
                let m = ep.entry("IPAMConfig").or_insert_with(|| json!({}));
                m["IPv6Address"] = json!(ip);
            }
            if let Some(m) = &a.mac_address {
                if ep.contains_key("MacAddress") {
                    return Err("conflicting options: cannot specify both --mac-address and per-network MAC address".into());
                }
                ep.insert("MacAddress".into(), json!(m));
            }
        }
        let has = !att.ep.is_empty();
        if !has && !had_options && i == 0 && !a.network.is_empty() && count == 1 {
            continue;
        }
        eps.insert(att.name, Value::Object(att.ep));
    }
    Ok((mode, eps))
}

/// The PORTS text of `ps` (docker's `DisplayablePorts`): ports sorted by
/// private port, IP, public port, type; unpublished and same-number
/// published ports grouped into ranges, other mappings listed after them
/// as `ip:public->private/type` (`[v6]:` for IPv6).
pub fn displayable_ports(ports: &Value) -> String {
    let mut list: Vec<(u16, String, u16, String)> = ports
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["PrivatePort"].as_u64().unwrap_or(0) as u16,
                p["IP"].as_str().unwrap_or("").to_string(),
                p["PublicPort"].as_u64().unwrap_or(0) as u16,
                p["Type"].as_str().unwrap_or("tcp").to_string(),
            )
        })
        .collect();
    list.sort();
    let join = |ip: &str, port: &str| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    let form = |key: &str, first: u16, last: u16| {
        let (ip, ty) = match key.rsplit_once('/') {
            Some((ip, ty)) if key.matches('/').count() == 1 && !ip.is_empty() => (ip, ty),
            _ => ("", key),
        };
        let mut g = first.to_string();
        if first != last {
            g = format!("{g}-{last}");
        }
        if !ip.is_empty() {
            g = format!("{}->{g}", join(ip, &g));
        }
        format!("{g}/{ty}")
    };
    let mut groups: BTreeMap<String, (u16, u16)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    for (private, ip, public, ty) in list {
        let mut key = ty.clone();
        if !ip.is_empty() {
            if public != private {
                mappings.push(format!(
                    "{}->{private}/{ty}",
                    join(&ip, &public.to_string())
                ));
                continue;
            }
            key = format!("{ip}/{ty}");
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (private, private));
                order.push(key);
            }
            Some(g) if private == g.1.wrapping_add(1) => g.1 = private,
            Some(g) => {
                result.push(form(&key, g.0, g.1));
                *g = (private, private);
            }
        }
    }
    for k in &order {
        let g = groups[k];
        result.push(form(k, g.0, g.1));
    }
    result.extend(mappings);
    result.join(", ")
}

/// Natural ordering (`sortorder.NaturalLess`): runs of digits compare as
/// numbers, the rest byte-wise.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[si..i])
                .unwrap_or("")
                .trim_start_matches('0');
            let nb = std::str::from_utf8(&b[sj..j])
                .unwrap_or("")
                .trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then(na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's
/// `NetworkSettings.Ports`, naturally sorted, as docker prints them.
pub async fn port(c: &mut Client, a: PortArgs) -> CmdResult {
    let v: Value = c
        .get_json(&format!("/containers/{}/json", qs(&a.container)))
        .await?;
    let ports = v["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut lines = Vec::new();
    if let Some(p) = &a.port {
        let (num, proto) = p.split_once('/').unwrap_or((p, ""));
        let proto = if proto.is_empty() { "tcp" } else { proto };
        if num.parse::<u16>().is_err() {
            let why = if num.bytes().all(|b| b.is_ascii_digit()) && !num.is_empty() {
                "value out of range"
            } else {
                "invalid syntax"
            };
            return Err(Fail::msg(format!(
                "Error: invalid port ({num}): strconv.ParseUint: parsing {num:?}: {why}"
            )));
        }
        let fronts = ports
            .get(&format!("{num}/{proto}"))
            .and_then(|f| f.as_array())
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                Fail::msg(format!(
                    "Error: No public port '{p}' published for {}",
                    a.container
                ))
            })?;
        for fr in fronts {
            lines.push(host_port(
                fr["HostIp"].as_str().unwrap_or(""),
                fr["HostPort"].as_str().unwrap_or(""),
            ));
        }
    } else {
        for (from, fronts) in &ports {
            for fr in fronts.as_array().into_iter().flatten() {
                lines.push(format!(
                    "{from} -> {}",
                    host_port(
                        fr["HostIp"].as_str().unwrap_or(""),
                        fr["HostPort"].as_str().unwrap_or("")
                    )
                ));
            }
        }
    }
    lines.sort_by(|x, y| natural_cmp(x, y));
    if !lines.is_empty() {
        out(&format!("{}\n", lines.join("\n")));
    }
    Ok(())
}

fn kv_map(list: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    for l in list {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        m.insert(k.to_string(), json!(v));
    }
    m
}

/// `POST /networks/create`'s body from `network create` flags, as docker
/// builds it: one IPAM config per `--subnet`, each `--ip-range`,
/// `--gateway` and `--aux-address` assigned to the subnet containing it.
pub fn network_create_body(a: &NetworkCreateArgs) -> Result<Value, String> {
    let mut configs: Vec<Map<String, Value>> = Vec::new();
    let subnets: Vec<Option<ipnet_lite::Net>> =
        a.subnet.iter().map(|s| ipnet_lite::Net::parse(s)).collect();
    for s in &a.subnet {
        let mut m = Map::new();
        m.insert("Subnet".into(), json!(s));
        configs.push(m);
    }
    // docker: each range/gateway/aux goes to the (first) subnet that
    // contains it; none containing it, or a second one, is an error
    let place = |addr: &str, what: &str, configs: &[Map<String, Value>]| -> Result<usize, String> {
        let ip = addr.split('/').next().unwrap_or(addr);
        for (i, n) in subnets.iter().enumerate() {
            if n.as_ref().is_some_and(|n| n.contains(ip)) {
                if configs[i].contains_key(what) {
                    return Err(format!(
                        "cannot configure multiple ranges ({addr}, {}) on the same subnet ({})",
                        configs[i][what].as_str().unwrap_or(""),
                        a.subnet[i]
                    ));
                }
                return Ok(i);
            }
        }
        Err(format!(
            "no matching subnet for {} {addr}",
            if what == "IPRange" {
                "range"
            } else {
                "gateway"
            }
        ))
    };
    if (!a.ip_range.is_empty() || !a.gateway.is_empty()) && a.subnet.is_empty() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    if a.ip_range.len() > a.subnet.len() || a.gateway.len() > a.subnet.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    for r in &a.ip_range {
        let i = place(r, "IPRange", &configs)?;
        configs[i].insert("IPRange".into(), json!(r));
    }
    for g in &a.gateway {
        let i = place(g, "Gateway", &configs)
            .map_err(|_| format!("no matching subnet for gateway {g}"))?;
        if configs[i].contains_key("Gateway") {
            return Err(format!(
                "cannot configure multiple gateways ({g}, {}) for the same subnet ({})",
                configs[i]["Gateway"].as_str().unwrap_or(""),
                a.subnet[i]
            ));
        }
        configs[i].insert("Gateway".into(), json!(g));
    }
    for x in &a.aux_address {
        let (k, v) = x.split_once('=').unwrap_or((x, ""));
        let i = place(v, "", &configs)
            .map_err(|_| format!("no matching subnet for aux-address {v}"))?;
        let aux = configs[i]
            .entry("AuxiliaryAddresses")
            .or_insert_with(|| json!({}));
        aux[k] = json!(v);
    }
    let mut body = json!({
        "Name": a.name,
        "Driver": a.driver,
        "Scope": a.scope.clone().unwrap_or_default(),
        "IPAM": {"Driver": a.ipam_driver, "Options": kv_map(&a.ipam_opt), "Config": configs},
        "Internal": a.internal,
        "Attachable": a.attachable,
        "Ingress": a.ingress,
        "ConfigOnly": a.config_only,
        "ConfigFrom": a.config_from.as_ref().map(|n| json!({"Network": n})),
        "Options": kv_map(&a.opt),
        "Labels": kv_map(&a.label),
    });
    if a.ipv6 {
        body["EnableIPv6"] = json!(true);
    }
    if let Some(v4) = a.ipv4 {
        body["EnableIPv4"] = json!(v4);
    }
    Ok(body)
}

/// A small IPv4/IPv6 CIDR helper (the containment test `network create`
/// needs to place gateways and ranges in their subnets).
mod ipnet_lite {
    use std::net::IpAddr;

    /// A parsed `addr/len`.
    pub struct Net {
        addr: u128,
        len: u32,
        v6: bool,
    }

    fn bits(ip: IpAddr) -> (u128, bool) {
        match ip {
            IpAddr::V4(a) => (u32::from(a) as u128, false),
            IpAddr::V6(a) => (u128::from(a), true),
        }
    }

    impl Net {
        /// `None` when `s` is not a CIDR.
        pub fn parse(s: &str) -> Option<Net> {
            let (a, l) = s.split_once('/')?;
            let ip: IpAddr = a.parse().ok()?;
            let len: u32 = l.parse().ok()?;
            let (addr, v6) = bits(ip);
            if len > if v6 { 128 } else { 32 } {
                return None;
            }
            Some(Net { addr, len, v6 })
        }

        /// Whether `ip` lies in this network.
        pub fn contains(&self, ip: &str) -> bool {
            let Ok(ip) = ip.parse::<IpAddr>() else {
                return false;
            };
            let (b, v6) = bits(ip);
            if v6 != self.v6 {
                return false;
            }
            let width = if v6 { 128 } else { 32 };
            let shift = width - self.len;
            if shift >= 128 {
                return true;
            }
            (b >> shift) == (self.addr >> shift)
        }
    }
}

/// `berth network create`: prints the new network's ID.
pub async fn create(c: &mut Client, a: NetworkCreateArgs) -> CmdResult {
    let body = network_create_body(&a).map_err(Fail::msg)?;
    let v: Value = c.post_json("/networks/create", &body).await?;
    if let Some(w) = v["Warning"].as_str().filter(|w| !w.is_empty()) {
        eprintln!("{w}");
    }
    out(&format!("{}\n", v["Id"].as_str().unwrap_or("")));
    Ok(())
}

/// Field rows of `network ls` (docker's network formatter: ID, Name,
/// Driver, Scope, IPv4, IPv6, Internal, Labels, CreatedAt).
pub fn network_row(n: &Value, trunc: bool) -> Map<String, Value> {
    let mut r = Map::new();
    let id = n["Id"].as_str().unwrap_or("");
    r.insert(
        "ID".into(),
        json!(if trunc {
            f::trunc(id, 12)
        } else {
            id.to_string()
        }),
    );
    r.insert("Name".into(), json!(n["Name"].as_str().unwrap_or("")));
    r.insert("Driver".into(), json!(n["Driver"].as_str().unwrap_or("")));
    r.insert("Scope".into(), json!(n["Scope"].as_str().unwrap_or("")));
    let b = |k: &str| json!(n[k].as_bool().unwrap_or(false).to_string());
    r.insert("IPv4".into(), b("EnableIPv4"));
    r.insert("IPv6".into(), b("EnableIPv6"));
    r.insert("Internal".into(), b("Internal"));
    let labels = n["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    r.insert("Labels".into(), json!(labels));
    crate::fmt::with_labels(&mut r, &n["Labels"]);
    r.insert(
        "CreatedAt".into(),
        json!(go_time_text(n["Created"].as_str().unwrap_or(""))),
    );
    r
}

/// An RFC 3339 time as Go's `time.Time.String()` prints it
/// (`2026-12-01 21:06:17.217848578 +0000 UTC` for a `Z` time; trailing
/// zeros of the fraction dropped, as Go does).
fn go_time_text(t: &str) -> String {
    let Some(s) = t.strip_suffix('Z') else {
        return t.replacen('T', " ", 1);
    };
    let s = match s.split_once('.') {
        Some((whole, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{frac}")
            }
        }
        None => s.to_string(),
    };
    format!("{} +0000 UTC", s.replacen('T', " ", 1))
}

/// Column titles of network fields.
pub const NETWORK_HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

/// `berth network ls`: `GET /networks?filters=`, sorted by name
/// (natural order), as docker lists them.
pub async fn ls(c: &mut Client, a: NetworkLsArgs) -> CmdResult {
    let path = match filters_json(&a.filter).map_err(Fail::msg)? {
        Some(fj) => format!("/networks?filters={}", qs(&fj)),
        None => "/networks".to_string(),
    };
    let mut list: Vec<Value> = c.get_json(&path).await?;
    list.sort_by(|x, y| {
        natural_cmp(
            x["Name"].as_str().unwrap_or(""),
            y["Name"].as_str().unwrap_or(""),
        )
    });
    if a.quiet {
        let s: String = list
            .iter()
            .map(|n| {
                let id = n["Id"].as_str().unwrap_or("");
                format!(
                    "{}\n",
                    if a.no_trunc {
                        id.to_string()
                    } else {
                        f::trunc(id, 12)
                    }
                )
            })
            .collect();
        out(&s);
        return Ok(());
    }
    let fmt = f::ListFormat::from_flag(
        a.format.as_deref(),
        "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
    );
    let rows: Vec<Map<String, Value>> = list.iter().map(|n| network_row(n, !a.no_trunc)).collect();
    out(&f::print_list(&fmt, &rows, NETWORK_HEADERS).map_err(Fail::msg)?);
    Ok(())
}

/// `berth network rm`: `DELETE /networks/{id}` for each, printing the
/// names removed; failures are reported after, as docker does.
pub async fn rm(c: &mut Client, a: NetworkRmArgs) -> CmdResult {
    let mut errs = Vec::new();
    for n in &a.networks {
        match c.delete(&format!("/networks/{}", qs(n))).await {
            Ok(_) => out(&format!("{n}\n")),
            Err(e) if a.force && e.status() == Some(404) => {}
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        errs.push("exit status 1".into());
        Err(Fail::msg(errs.join("\n")))
    }
}

/// `berth network prune`: `POST /networks/prune?filters=` after docker's
/// confirmation prompt (unless `-f`).
pub async fn prune(c: &mut Client, a: NetworkPruneArgs) -> CmdResult {
    if !a.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(());
    }
    let path = match filters_json(&a.filter).map_err(Fail::msg)? {
        Some(fj) => format!("/networks/prune?filters={}", qs(&fj)),
        None => "/networks/prune".to_string(),
    };
    let v: Value = c
        .post_json(&path, &json!(null))
        .await
        .or_else(|e| match e {
            berth_client::Error::Json(_) => Ok(json!({})),
            e => Err(e),
        })?;
    let names: Vec<&str> = v["NetworksDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .collect();
    if !names.is_empty() {
        let mut s = String::from("Deleted Networks:\n");
        for n in names {
            s += n;
            s.push('\n');
        }
        s.push('\n');
        out(&s);
    }
    Ok(())
}

/// `berth network connect`: `POST /networks/{id}/connect` with the
/// endpoint settings docker sends (aliases, IPAM addresses, driver
/// options, links).
pub async fn connect(c: &mut Client, a: NetworkConnectArgs) -> CmdResult {
    let mut ipam = Map::new();
    if let Some(ip) = &a.ip {
        ipam.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = &a.ip6 {
        ipam.insert("IPv6Address".into(), json!(ip));
    }
    if !a.link_local_ip.is_empty() {
        ipam.insert("LinkLocalIPs".into(), json!(a.link_local_ip));
    }
    let body = json!({
        "Container": a.container,
        "EndpointConfig": {
            "Aliases": a.alias,
            "DriverOpts": kv_map(&a.driver_opt),
            "IPAMConfig": ipam,
            "Links": (!a.link.is_empty()).then(|| a.link.clone()),
            "MacAddress": "",
        },
    });
    c.post(
        &format!("/networks/{}/connect", qs(&a.network)),
        Some(&body),
    )
    .await?;
    Ok(())
}

/// `berth network disconnect [-f]`: `POST /networks/{id}/disconnect`.
pub async fn disconnect(c: &mut Client, a: NetworkDisconnectArgs) -> CmdResult {
    let body = json!({"Container": a.container, "Force": a.force});
    c.post(
        &format!("/networks/{}/disconnect", qs(&a.network)),
        Some(&body),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn port_specs_as_docker_parses_them() {
        assert_eq!(
            parse_port_spec("8080:80").unwrap(),
            vec![("80/tcp".into(), b("", "8080"))]
        );
        assert_eq!(
            parse_port_spec("127.0.0.1::53/udp").unwrap(),
            vec![("53/udp".into(), b("127.0.0.1", ""))]
        );
        assert_eq!(
            parse_port_spec("9000-9001:90-91").unwrap(),
            vec![
                ("90/tcp".into(), b("", "9000")),
                ("91/tcp".into(), b("", "9001"))
            ]
        );
        assert_eq!(
            parse_port_spec("7000-7010:70").unwrap(),
            vec![("70/tcp".into(), b("", "7000-7010"))]
        );
        assert_eq!(
            parse_port_spec("[::1]:81:81").unwrap(),
            vec![("81/tcp".into(), b("::1", "81"))]
        );
        assert_eq!(
            parse_port_spec("443").unwrap(),
            vec![("443/tcp".into(), b("", ""))]
        );
        assert_eq!(
            parse_port_spec("80:80:80").unwrap_err(),
            "invalid IP address: 80"
        );
        assert_eq!(
            parse_port_spec("abc").unwrap_err(),
            "invalid containerPort: abc"
        );
        assert_eq!(
            parse_port_spec("70000:80").unwrap_err(),
            "invalid hostPort: 70000"
        );
        assert_eq!(
            parse_port_spec("80/bogus").unwrap_err(),
            "invalid proto: bogus"
        );
        assert_eq!(
            parse_port_spec("8000-8002:80-81").unwrap_err(),
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
        assert_eq!(
            standard_publish("target=80,published=8080,protocol=udp").unwrap(),
            "8080:80/udp"
        );
    }

    #[test]
    fn expose_and_publish_merge() {
        let (e, pb) = port_maps(
            &["8080:80".into(), "8081:80".into()],
            &["3000-3001".into(), "5000/udp".into()],
        )
        .unwrap();
        assert_eq!(
            e.keys().cloned().collect::<Vec<_>>(),
            vec!["3000/tcp", "3001/tcp", "5000/udp", "80/tcp"]
        );
        assert_eq!(pb["80/tcp"].as_ref().unwrap().len(), 2);
        assert_eq!(
            port_maps(&[], &["abc".into()]).unwrap_err(),
            "invalid range format for --expose: abc, error: strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
    }

    #[test]
    fn ps_ports_text_matches_docker_grouping() {
        let p = json!([
            {"PrivatePort": 3000, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 18080, "Type": "tcp"},
            {"IP": "::", "PrivatePort": 80, "PublicPort": 18080, "Type": "tcp"},
            {"IP": "127.0.0.1", "PrivatePort": 81, "PublicPort": 18081, "Type": "udp"},
            {"PrivatePort": 3001, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 90, "PublicPort": 90, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 91, "PublicPort": 91, "Type": "tcp"},
        ]);
        assert_eq!(
            displayable_ports(&p),
            "0.0.0.0:90-91->90-91/tcp, 3000-3001/tcp, 0.0.0.0:18080->80/tcp, [::]:18080->80/tcp, 127.0.0.1:18081->81/udp"
        );
    }

    #[test]
    fn created_times_print_as_go_does() {
        assert_eq!(
            go_time_text("2026-12-01T22:02:53.906665320Z"),
            "2026-12-01 22:02:53.90666532 +0000 UTC"
        );
        assert_eq!(
            go_time_text("2026-12-01T22:02:53.000Z"),
            "2026-12-01 22:02:53 +0000 UTC"
        );
    }

    fn run_args(args: &[&str]) -> RunArgs {
        use clap::Parser;
        let mut v = vec!["berth", "run"];
        v.extend_from_slice(args);
        v.push("busybox");
        match crate::cli::Cli::try_parse_from(v).unwrap().cmd {
            Some(crate::cli::Cmd::Run(r)) => r,
            _ => panic!(),
        }
    }

    #[test]
    fn endpoints_as_docker_builds_them() {
        let (mode, eps) = endpoints(&run_args(&[])).unwrap();
        assert_eq!(
            (mode.as_str(), Value::Object(eps)),
            ("default", json!({"default": {}}))
        );
        let (_, eps) = endpoints(&run_args(&["--network", "none"])).unwrap();
        assert!(eps.is_empty());
        let (mode, eps) = endpoints(&run_args(&[
            "--network",
            "name=n1,alias=x,ip=10.1.1.2,driver-opt=a=b",
            "--network",
            "n2",
            "--mac-address",
            "02:42:ac:11:00:02",
        ]))
        .unwrap();
        assert_eq!(mode, "n1");
        assert_eq!(
            Value::Object(eps),
            json!({"n1": {"Aliases": ["x"], "DriverOpts": {"a": "b"}, "IPAMConfig": {"IPv4Address": "10.1.1.2"}, "MacAddress": "02:42:ac:11:00:02"}, "n2": {}})
        );
        assert_eq!(
            endpoints(&run_args(&[
                "--network",
                "name=n1,ip=10.1.1.2",
                "--ip",
                "10.1.1.3"
            ]))
            .unwrap_err(),
            "conflicting options: cannot specify both --ip and per-network IPv4 address"
        );
        assert_eq!(
            endpoints(&run_args(&["--network-alias", "x"])).unwrap_err(),
            "network-scoped aliases are only supported for user-defined networks"
        );
    }

    #[test]
    fn natural_order() {
        assert!(natural_cmp("9/tcp", "10/tcp").is_lt());
        assert!(natural_cmp("a2", "a10").is_lt());
        assert!(natural_cmp("b", "a").is_gt());
    }

    #[test]
    fn network_create_places_gateways_in_subnets() {
        let mut a = NetworkCreateArgs {
            name: "n".into(),
            driver: "bridge".into(),
            ipam_driver: "default".into(),
            subnet: vec!["10.5.0.0/16".into(), "10.6.0.0/16".into()],
            gateway: vec!["10.6.0.1".into()],
            ..Default::default()
        };
        let v = network_create_body(&a).unwrap();
        assert_eq!(
            v["IPAM"]["Config"],
            json!([{"Subnet": "10.5.0.0/16"}, {"Subnet": "10.6.0.0/16", "Gateway": "10.6.0.1"}])
        );
        a.subnet.clear();
        assert_eq!(
            network_create_body(&a).unwrap_err(),
            "every ip-range or gateway must have a corresponding subnet"
        );
    }
}
