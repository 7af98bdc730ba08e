//! The `/etc/hosts` and `/etc/resolv.conf` a container gets, as Docker
//! writes them.

use std::net::IpAddr;

/// Docker's fallback nameservers when the host has only loopback ones
/// (which a container on a bridge cannot reach).
pub const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// `/etc/hosts` for a container, in Docker's layout: the localhost and
/// IPv6 lines, then `--add-host` entries (`extra`: host name, address) in
/// the order given, then one line per own address `ip\thostname[.domain] hostname`.
pub fn hosts_file(
    hostname: &str,
    domainname: Option<&str>,
    own: &[IpAddr],
    extra: &[(String, IpAddr)],
) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    for ip in own {
        match domainname.filter(|d| !d.is_empty()) {
            Some(d) => s.push_str(&format!("{ip}\t{hostname}.{d} {hostname}\n")),
            None => s.push_str(&format!("{ip}\t{hostname}\n")),
        }
    }
    s
}

/// The parts of a resolv.conf this crate reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines, in order.
    pub nameservers: Vec<IpAddr>,
    /// The `search` domains.
    pub search: Vec<String>,
    /// The `options` words (e.g. `ndots:2`).
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parses resolv.conf text; unknown lines are ignored.
    pub fn parse(text: &str) -> ResolvConf {
        let mut r = ResolvConf::default();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            match w.next() {
                Some("nameserver") => {
                    if let Some(ip) = w.next().and_then(|a| a.split('%').next()?.parse().ok()) {
                        r.nameservers.push(ip);
                    }
                }
                Some("search") | Some("domain") => r.search = w.map(str::to_string).collect(),
                Some("options") => r.options.extend(w.map(str::to_string)),
                _ => {}
            }
        }
        r
    }

    /// Renders the file.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for ns in &self.nameservers {
            s.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.search.is_empty() {
            s.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        if !self.options.is_empty() {
            s.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        s
    }
}

/// A container's `--dns`, `--dns-search`, `--dns-option`.
#[derive(Debug, Clone, Default)]
pub struct DnsSettings {
    /// `--dns`: nameservers (on user-defined networks: the embedded DNS
    /// server's upstreams for this container).
    pub servers: Vec<IpAddr>,
    /// `--dns-search`.
    pub search: Vec<String>,
    /// `--dns-option`.
    pub options: Vec<String>,
}

/// resolv.conf for a container on the default bridge (or with no embedded
/// DNS): `--dns` servers or else the host's, loopback ones dropped (Docker
/// falls back to 8.8.8.8 and 8.8.4.4 when none is left); search and options
/// from the flags or else the host.
pub fn resolv_conf_host(host: &ResolvConf, dns: &DnsSettings) -> String {
    let mut r = host.clone();
    if !dns.servers.is_empty() {
        r.nameservers = dns.servers.clone();
    }
    r.nameservers.retain(|ip| !ip.is_loopback());
    if r.nameservers.is_empty() {
        r.nameservers = FALLBACK_NAMESERVERS
            .iter()
            .map(|s| s.parse().expect("literal"))
            .collect();
    }
    if !dns.search.is_empty() {
        r.search = dns.search.clone();
    }
    if !dns.options.is_empty() {
        r.options = dns.options.clone();
    }
    r.render()
}

/// resolv.conf pointing at the embedded DNS server `server`; search and
/// options from the flags or else the host, plus `ndots:0` unless an ndots
/// option is given (as Docker writes it for 127.0.0.11).
pub fn resolv_conf_embedded(server: IpAddr, host: &ResolvConf, dns: &DnsSettings) -> String {
    let mut r = ResolvConf {
        nameservers: vec![server],
        search: if dns.search.is_empty() {
            host.search.clone()
        } else {
            dns.search.clone()
        },
        options: if dns.options.is_empty() {
            host.options.clone()
        } else {
            dns.options.clone()
        },
    };
    if !r.options.iter().any(|o| o.starts_with("ndots:")) {
        r.options.push("ndots:0".into());
    }
    r.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_drops_loopback_and_falls_back() {
        let host = ResolvConf::parse("nameserver 127.0.0.53\nsearch corp.example\noptions edns0\n");
        let t = resolv_conf_host(&host, &DnsSettings::default());
        assert_eq!(
            t,
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch corp.example\noptions edns0\n"
        );
        let e = resolv_conf_embedded("10.1.0.1".parse().unwrap(), &host, &DnsSettings::default());
        assert_eq!(
            e,
            "nameserver 10.1.0.1\nsearch corp.example\noptions edns0 ndots:0\n"
        );
    }

    #[test]
    fn hosts_has_localhost_extra_and_own() {
        let h = hosts_file(
            "web",
            None,
            &["10.1.0.2".parse().unwrap()],
            &[("db.local".into(), "10.9.9.9".parse().unwrap())],
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.9.9.9\tdb.local\n"));
        assert!(h.ends_with("10.1.0.2\tweb\n"));
    }
}
