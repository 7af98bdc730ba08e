//! IPv4 address management for one bridge network: a pool (the subnet),
//! an optional allocation range (`--ip-range`), the gateway, and leases.
//!
//! Like libnetwork's default IPAM driver, allocation walks forward from the
//! last address handed out (wrapping at the end of the range), so a
//! just-released address is not reused at once; the network and broadcast
//! addresses and the gateway are never leased.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// The leases of one network. Persisted as part of the controller state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pool {
    /// The network's subnet (Docker `IPAM.Config[].Subnet`).
    pub subnet: Ipv4Net,
    /// The bridge's address (Docker `IPAM.Config[].Gateway`).
    pub gateway: Ipv4Addr,
    /// Where dynamic addresses come from (Docker `IPAM.Config[].IPRange`);
    /// `None` means the whole subnet.
    pub ip_range: Option<Ipv4Net>,
    /// Leased address -> endpoint ID.
    pub leases: BTreeMap<Ipv4Addr, String>,
    /// The last dynamically allocated address.
    pub last: Option<Ipv4Addr>,
}

impl Pool {
    /// A pool with no leases.
    pub fn new(subnet: Ipv4Net, gateway: Ipv4Addr, ip_range: Option<Ipv4Net>) -> Pool {
        Pool {
            subnet,
            gateway,
            ip_range,
            leases: BTreeMap::new(),
            last: None,
        }
    }

    fn usable(&self, ip: Ipv4Addr) -> bool {
        let s = self.subnet;
        self.subnet.contains(&ip)
            && (s.prefix_len() >= 31 || (ip != s.network() && ip != s.broadcast()))
            && ip != self.gateway
    }

    /// Leases the next free address of the range to `owner`.
    pub fn allocate(&mut self, owner: &str) -> Option<Ipv4Addr> {
        let range = self.ip_range.unwrap_or(self.subnet);
        let lo = u32::from(range.network());
        let hi = u32::from(range.broadcast());
        let n = (hi - lo) as u64 + 1;
        let start = match self.last {
            Some(l) if range.contains(&l) => u32::from(l) - lo + 1,
            _ => 0,
        } as u64;
        for i in 0..n {
            let ip = Ipv4Addr::from(lo + ((start + i) % n) as u32);
            if self.usable(ip) && !self.leases.contains_key(&ip) {
                self.leases.insert(ip, owner.to_string());
                self.last = Some(ip);
                return Some(ip);
            }
        }
        None
    }

    /// Leases `ip` (Docker `--ip`), which must be in the subnet, not the
    /// gateway and not leased. Errors carry Docker's wording.
    pub fn reserve(&mut self, ip: Ipv4Addr, owner: &str) -> Result<(), String> {
        if !self.subnet.contains(&ip) {
            return Err(format!(
                "Invalid address {ip}: It does not belong to any of this network's subnets"
            ));
        }
        if !self.usable(ip) {
            return Err(format!(
                "Address already in use: {ip} is reserved in {}",
                self.subnet
            ));
        }
        if self.leases.contains_key(&ip) {
            return Err(format!("Address already in use: {ip}"));
        }
        self.leases.insert(ip, owner.to_string());
        Ok(())
    }

    /// Releases `ip`; releasing a free address is a no-op.
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.leases.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_forward_skips_gateway_and_wraps() {
        let mut p = Pool::new(
            "10.9.0.0/29".parse().unwrap(),
            "10.9.0.1".parse().unwrap(),
            None,
        );
        let got: Vec<_> = (0..5)
            .map(|i| p.allocate(&i.to_string()).unwrap())
            .collect();
        assert_eq!(got[0], "10.9.0.2".parse::<Ipv4Addr>().unwrap());
        assert_eq!(got[4], "10.9.0.6".parse::<Ipv4Addr>().unwrap());
        assert!(
            p.allocate("x").is_none(),
            "network, gateway and broadcast are never leased"
        );
        p.release("10.9.0.3".parse().unwrap());
        assert_eq!(
            p.allocate("y").unwrap(),
            "10.9.0.3".parse::<Ipv4Addr>().unwrap()
        );
        assert!(p.reserve("10.9.0.1".parse().unwrap(), "z").is_err());
    }

    #[test]
    fn ip_range_limits_dynamic_allocation() {
        let mut p = Pool::new(
            "10.9.0.0/24".parse().unwrap(),
            "10.9.0.1".parse().unwrap(),
            Some("10.9.0.128/30".parse().unwrap()),
        );
        assert_eq!(
            p.allocate("a").unwrap(),
            "10.9.0.128".parse::<Ipv4Addr>().unwrap()
        );
        p.reserve("10.9.0.7".parse().unwrap(), "b").unwrap();
    }
}
