//! Container networking for Berth, the library half of the daemon's
//! network service (Docker's libnetwork `bridge` driver and default IPAM).
//!
//! [`NetworkController`] owns networks (the pre-defined `bridge`, `host`,
//! `none`, and user-defined bridge networks), endpoints (a veth pair per
//! container per network, the sandbox end created directly inside the
//! container's network namespace), IPAM leases, port bindings (DNAT in
//! Berth's own nftables tables), masquerade and isolation rules, and an
//! embedded DNS server per user-defined network. State is persisted
//! atomically in one JSON file so leases survive a daemon restart.
//!
//! Kernel objects are driven through rtnetlink (`netlink-packet-route` over
//! a synchronous `netlink-sys` socket) and the `nft` tool; no `unsafe`.

mod controller;
pub mod dns;
mod error;
pub mod files;
pub mod ipam;
mod nft;
pub mod nl;
mod types;

pub use controller::{CleanupReport, NetworkController, STATE_FILE};
pub use error::{NetError, Result};
pub use files::{hosts_file, DnsSettings, ResolvConf};
pub use types::*;
