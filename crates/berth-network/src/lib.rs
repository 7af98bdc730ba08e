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

//!
//! # Choices (and how they differ from Docker)
//!
//! * **Default bridge**: network `bridge`, interface `berth0`, subnet
//!   `172.30.0.0/16` (gateway `.1`), so it coexists with Docker's
//!   172.17.0.0/16; `bip` and `default_address_pools` as dockerd's `--bip`
//!   and `--default-address-pool`.
//! * **Subnets of user-defined networks** without `--subnet`: dockerd's
//!   default pools (172.17.0.0/16 .. 172.31.0.0/16 as `/16`s, then
//!   192.168.0.0/16 as `/20`s) and dockerd 20.10's rule: the search starts
//!   after the last subnet handed out (round robin, so a removed network's
//!   subnet is not reused at once), skipping subnets of other networks
//!   (the default bridge's 172.30.0.0/16 among them) and of the host's
//!   routes.
//! * **MAC**: `02:42:` + the IPv4 address bytes (classic Docker), unless
//!   `--mac-address`; bridges get a random fixed MAC.
//! * **Port publishing**: DNAT only, no userland proxy. `prerouting` covers
//!   other hosts, `output` covers the host itself including 127.0.0.1
//!   (`route_localnet=1` on each Berth bridge, masquerade of 127.0.0.0/8
//!   onto the bridge, and a guard that drops 127/8 arriving *from* a
//!   bridge). The host port is reserved by a bound, non-listening socket.
//!   Hairpin: a container reaches its own published port (and another
//!   container's) through the host's address: `hairpin_mode` on each
//!   bridge port and masquerade of DNATed traffic going back onto its
//!   bridge.
//! * **Embedded DNS**: served on the gateway address of each user-defined
//!   network, port 53, in the host namespace (not 127.0.0.11 inside
//!   the sandbox: nothing to set up per container, and it survives a daemon
//!   restart without re-entering sandboxes). The asker is identified by
//!   its source address, so a container sees the names of every network it
//!   is on. TTL 600 s. Unknown names are relayed to the container's `--dns`
//!   servers, else the host's resolv.conf nameservers; containers only on
//!   `--internal` networks get SERVFAIL for them. UDP and TCP.
//! * **Firewall**: only Berth's tables `inet berth` and `ip berth-nat` (the
//!   name is [`ControllerConfig::nft_table`]). A host whose *own* forward
//!   chain drops (e.g. Docker's iptables `FORWARD` policy DROP) also drops
//!   Berth's forwarded traffic; Berth does not edit other tables.
//! * **State**: `<state_dir>/network-state.json`, written temp + rename;
//!   fsynced for network changes only (see `persist` in the source).
//!
//! # Wiring it into the daemon
//!
//! Every method blocks (netlink, `nft`, file writes) and is safe to call
//! from any thread of the daemon's own network namespace: run them under
//! `tokio::task::spawn_blocking` or on the container start thread. Share the
//! controller in an `Arc`. Errors map to HTTP with [`NetError::status`] and
//! carry Docker's wording in `Display`.
//!
//! 1. Daemon start: `NetworkController::open(&data_root.join("network"),
//!    cfg)`, then `reconcile(&ids_of_running_containers)` (drops endpoints
//!    of containers that died while the daemon was down, stray veths and
//!    rules).
//! 2. `docker run` / start, NetworkMode `bridge` or a network name: after
//!    the runtime has created the container (its init process exists and
//!    holds the network namespace) and before the user's process starts,
//!    call `connect(net, id, "/proc/<init pid>/ns/net", &ConnectOptions {
//!    container_name, aliases, ip, mac, dns })` for each network (~1.5 ms
//!    each), then `publish(net, id, &specs)` for `-p`/`-P` (one `nft`
//!    transaction, ~10-15 ms here; only when there are ports), then write
//!    `hosts(id, hostname, domain, &add_hosts)` and `resolv_conf(id, &dns)`
//!    into the container's hosts/resolv.conf files. NetworkMode `host`,
//!    `none`, `container:<id>`: no call (`none`: the runtime brings `lo` up).
//! 3. Inspect: `container_endpoints(id)` gives `NetworkSettings.Networks`
//!    (serialize each [`Endpoint`]); `ports(id)` gives
//!    `NetworkSettings.Ports` via [`PortBinding::port_key`] and
//!    [`PortBinding::docker_json`]; top-level `IPAddress`, `Gateway`,
//!    `MacAddress` come from the `bridge` endpoint.
//! 4. Stop / exit / `rm`: `release_container(id)` (unpublishes, releases the
//!    leases, hands veth deletion to a background thread; ~0.2 ms). It may
//!    run after the API reply.
//! 5. `/networks`: `create(&NetworkCreateRequest)` (the request body
//!    deserializes straight into it), `list()`, `inspect(name_or_id)`,
//!    `remove(name_or_id)`, `prune(keep)`; `/networks/{id}/connect` and
//!    `disconnect` on running containers as in 2 and 4.
//! 6. Shutdown: drop the controller (finishes pending veth deletions, stops
//!    the DNS threads). Bridges, rules and leases stay for the next start.

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
