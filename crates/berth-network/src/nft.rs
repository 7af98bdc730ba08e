//! Berth's firewall rules, kept in two tables of its own and rewritten as a
//! whole, atomically, by one `nft -f -` transaction whenever a network or a
//! port binding changes. Nothing outside these tables is touched: no flush
//! of the ruleset, no rule inserted into anybody else's chains.
//!
//! * `table inet <T>`: `forward` (`--internal`, `enable_icc=false`, then
//!   accept of DNATed (published-port) connections, then isolation between
//!   bridges) and `prerouting` (drops packets from a bridge to
//!   127.0.0.0/8, the guard that `route_localnet` needs, CVE-2020-8558).
//! * `table ip <T>-nat`: `prerouting`/`output` jump to `ports` for
//!   destinations of type local (DNAT of published ports, for traffic from
//!   other hosts and from the host itself, 127.0.0.1 included), and
//!   `postrouting` (masquerade of each non-internal subnet leaving its
//!   bridge, of 127.0.0.0/8 sources DNATed onto a bridge, and hairpin
//!   masquerade of a bridge's own subnet DNATed back onto it).

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;

use crate::{NetError, Proto};

/// One bridge network as the firewall sees it.
pub(crate) struct NftNet {
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub internal: bool,
    pub icc: bool,
    pub masquerade: bool,
}

/// One published port: DNAT `[host_ip]:host_port/proto` to `dest:dest_port`.
pub(crate) struct NftPort {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub proto: Proto,
    pub dest: Ipv4Addr,
    pub dest_port: u16,
}

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', ""))
}

/// The whole transaction. The tables and base chains are created if
/// missing and kept (re-registering netfilter hooks waits for RCU grace
/// periods, ~10 ms); `flush table` empties their rules, and the current
/// rules are added, all in one atomic transaction. With no networks left
/// the tables are deleted.
pub(crate) fn render(table: &str, nets: &[NftNet], ports: &[NftPort]) -> String {
    let nat = format!("{table}-nat");
    if nets.is_empty() {
        return format!(
            "table inet {table} {{}}\ndelete table inet {table}\ntable ip {nat} {{}}\ndelete table ip {nat}\n"
        );
    }
    let f = format!("add rule inet {table} forward");
    let pre = format!("add rule inet {table} prerouting");
    let mut s = format!(
        "add table inet {table}\n\
         add chain inet {table} forward {{ type filter hook forward priority filter; policy accept; }}\n\
         add chain inet {table} prerouting {{ type filter hook prerouting priority raw; policy accept; }}\n\
         flush table inet {table}\n"
    );
    for n in nets {
        let b = q(&n.bridge);
        if n.internal {
            s.push_str(&format!("{f} iifname {b} oifname != {b} drop\n"));
            s.push_str(&format!("{f} oifname {b} iifname != {b} drop\n"));
        }
        if !n.icc {
            s.push_str(&format!("{f} iifname {b} oifname {b} drop\n"));
        }
        s.push_str(&format!("{pre} iifname {b} ip daddr 127.0.0.0/8 drop\n"));
    }
    // Published ports are reachable from every (non-internal) network, as
    // through Docker's proxy; other traffic between bridges is dropped.
    s.push_str(&format!("{f} ct status dnat accept\n"));
    for n in nets {
        let others: Vec<String> = nets
            .iter()
            .filter(|o| o.bridge != n.bridge)
            .map(|o| q(&o.bridge))
            .collect();
        if !others.is_empty() {
            s.push_str(&format!(
                "{f} iifname {} oifname {{ {} }} drop\n",
                q(&n.bridge),
                others.join(", ")
            ));
        }
    }
    s.push_str(&format!(
        "add table ip {nat}\n\
         add chain ip {nat} ports\n\
         add chain ip {nat} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
         add chain ip {nat} output {{ type nat hook output priority -100; policy accept; }}\n\
         add chain ip {nat} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         flush table ip {nat}\n\
         add rule ip {nat} prerouting fib daddr type local jump ports\n\
         add rule ip {nat} output fib daddr type local jump ports\n"
    ));
    for p in ports {
        let daddr = p
            .host_ip
            .map(|ip| format!("ip daddr {ip} "))
            .unwrap_or_default();
        s.push_str(&format!(
            "add rule ip {nat} ports {daddr}{proto} dport {hp} dnat to {d}:{dp}\n",
            proto = p.proto.as_str(),
            hp = p.host_port,
            d = p.dest,
            dp = p.dest_port
        ));
    }
    let post = format!("add rule ip {nat} postrouting");
    for n in nets {
        let b = q(&n.bridge);
        if n.masquerade && !n.internal {
            s.push_str(&format!(
                "{post} ip saddr {} oifname != {b} masquerade\n",
                n.subnet
            ));
        }
        s.push_str(&format!(
            "{post} oifname {b} ip saddr 127.0.0.0/8 masquerade\n"
        ));
        // Hairpin: a container reaching a published port of its own bridge
        // through a host address must get the answer back through the host.
        s.push_str(&format!(
            "{post} oifname {b} ip saddr {} ct status dnat masquerade\n",
            n.subnet
        ));
    }
    s
}

/// Runs `nft -f -` with `script`; the kernel applies it as one transaction
/// or not at all.
pub(crate) fn apply(script: &str) -> Result<(), NetError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::sys("run nft (is the nftables package installed?)", e))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())
        .map_err(|e| NetError::sys("write nft script", e))?;
    let out = child
        .wait_with_output()
        .map_err(|e| NetError::sys("wait for nft", e))?;
    if !out.status.success() {
        return Err(NetError::System(format!(
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_stay_in_own_tables() {
        let nets = [
            NftNet {
                bridge: "b0".into(),
                subnet: "10.1.0.0/24".parse().unwrap(),
                internal: false,
                icc: true,
                masquerade: true,
            },
            NftNet {
                bridge: "b1".into(),
                subnet: "10.2.0.0/24".parse().unwrap(),
                internal: true,
                icc: false,
                masquerade: true,
            },
        ];
        let ports = [NftPort {
            host_ip: None,
            host_port: 8080,
            proto: Proto::Tcp,
            dest: "10.1.0.2".parse().unwrap(),
            dest_port: 80,
        }];
        let s = render("bt", &nets, &ports);
        for l in s.lines() {
            assert!(
                l.contains(" inet bt") || l.contains(" ip bt-nat"),
                "outside own tables: {l}"
            );
            assert!(
                !l.starts_with("flush ruleset") && !l.contains("insert"),
                "{l}"
            );
        }
        assert!(s.contains("add rule ip bt-nat ports tcp dport 8080 dnat to 10.1.0.2:80"));
        assert!(s.contains("ip saddr 10.1.0.0/24 oifname != \"b0\" masquerade"));
        assert!(
            !s.contains("10.2.0.0/24 oifname"),
            "no masquerade for internal"
        );
        assert!(s.contains("iifname \"b1\" oifname \"b1\" drop"), "icc off");
        assert!(render("bt", &[], &[]).contains("delete table ip bt-nat"));
    }
}
