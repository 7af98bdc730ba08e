//! A small synchronous rtnetlink client over `netlink-sys`, speaking
//! `netlink-packet-route` messages. One request at a time, each acked.
//!
//! A socket belongs to the network namespace of the thread that opened it,
//! so [`in_netns`] opens one from a thread that entered the sandbox with
//! `setns(2)`.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// A netlink error: the kernel's errno (positive) or an I/O/decoding problem.
#[derive(Debug, thiserror::Error)]
pub enum NlError {
    /// The kernel refused the request with this errno.
    #[error("netlink: {op}: {}", std::io::Error::from_raw_os_error(*errno))]
    Kernel {
        /// What was being done.
        op: String,
        /// The positive errno.
        errno: i32,
    },
    /// Socket-level failure.
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    /// An answer that did not parse.
    #[error("netlink decode: {0}")]
    Decode(String),
}

impl NlError {
    /// The errno when the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// errno 17: the object (link, address, route) already exists.
pub const EEXIST: i32 = 17;
/// errno 19: no such device (link).
pub const ENODEV: i32 = 19;

/// One rtnetlink socket in the namespace it was opened in.
pub struct Nl {
    sock: Socket,
    seq: u32,
}

impl Nl {
    /// Opens a NETLINK_ROUTE socket in the calling thread's network namespace.
    pub fn open() -> Result<Nl, NlError> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Never hang on a lost answer.
        nix::sys::socket::setsockopt(
            &sock,
            nix::sys::socket::sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(5, 0),
        )
        .map_err(std::io::Error::from)?;
        Ok(Nl { sock, seq: 0 })
    }

    fn request(
        &mut self,
        op: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.seq = self.seq.wrapping_add(1);
        let mut hdr = NetlinkHeader::default();
        // Always ask for the ack: a non-dump request then ends with it.
        hdr.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        hdr.sequence_number = self.seq;
        let mut nlmsg = NetlinkMessage::new(hdr, NetlinkPayload::InnerMessage(msg));
        nlmsg.finalize();
        let mut buf = vec![0u8; nlmsg.buffer_len()];
        nlmsg.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            let mut off = 0;
            while off < data.len() {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..])
                    .map_err(|e| NlError::Decode(e.to_string()))?;
                let len = m.header.length as usize;
                if len == 0 {
                    return Err(NlError::Decode("zero-length message".into()));
                }
                off += (len + 3) & !3;
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(c) => Err(NlError::Kernel {
                                op: op.to_string(),
                                errno: -c.get(),
                            }),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(i) => out.push(i),
                    _ => {}
                }
            }
        }
    }

    /// The index of the link called `name`, or `None` when there is none.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>, NlError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request("get link", RouteNetlinkMessage::GetLink(m), 0) {
            Ok(v) => Ok(v.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(e) if e.errno() == Some(ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Names of every link in this namespace.
    pub fn link_names(&mut self) -> Result<Vec<String>, NlError> {
        let m = LinkMessage::default();
        let v = self.request("dump links", RouteNetlinkMessage::GetLink(m), NLM_F_DUMP)?;
        Ok(v.into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                }),
                _ => None,
            })
            .collect())
    }

    /// Creates a bridge, `mtu` bytes, MAC `mac`, administratively up. Fails
    /// with EEXIST when a link of that name exists. A fixed MAC keeps the
    /// bridge from adopting (and later losing) a port's address, which
    /// would leave containers with a stale gateway ARP entry.
    pub fn add_bridge(&mut self, name: &str, mtu: u32, mac: [u8; 6]) -> Result<u32, NlError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.request(
            &format!("create bridge {name}"),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        self.link_index(name)?.ok_or_else(|| NlError::Kernel {
            op: format!("find bridge {name}"),
            errno: ENODEV,
        })
    }

    /// Sets a link up.
    pub fn set_up(&mut self, index: u32) -> Result<(), NlError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.request("set link up", RouteNetlinkMessage::SetLink(m), NLM_F_ACK)?;
        Ok(())
    }

    /// Deletes a link by name; a link that is not there is not an error.
    pub fn del_link(&mut self, name: &str) -> Result<(), NlError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(
            &format!("delete link {name}"),
            RouteNetlinkMessage::DelLink(m),
            NLM_F_ACK,
        ) {
            Err(e) if e.errno() == Some(ENODEV) => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// Creates a veth pair in one request: `host` in this namespace, enslaved
    /// to `master`, up; its peer created directly in the namespace `peer_ns`
    /// (IFLA_NET_NS_FD), named `peer`, with `mac`, still down. Both ends `mtu` bytes.
    pub fn add_veth_into(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        peer_ns: &File,
        mac: [u8; 6],
        mtu: u32,
    ) -> Result<(), NlError> {
        // The peer cannot be set up in this request: the kernel configures
        // it before the pair is linked (veth_open gives ENOTCONN), so the
        // caller sets it up from inside the sandbox.
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes.push(LinkAttribute::Mtu(mtu));
        p.attributes.push(LinkAttribute::Address(mac.to_vec()));
        p.attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(host.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::Controller(master));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.request(
            &format!("create veth {host}"),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    /// Adds `addr/prefix` (IPv4) to the link `index`, with the broadcast
    /// address of the subnet.
    pub fn add_addr4(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<(), NlError> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(IpAddr::V4(addr)));
        m.attributes
            .push(AddressAttribute::Address(IpAddr::V4(addr)));
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix as u32)
        };
        let bcast = Ipv4Addr::from(u32::from(addr) | !mask);
        m.attributes.push(AddressAttribute::Broadcast(bcast));
        match self.request(
            &format!("add address {addr}/{prefix}"),
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.errno() == Some(EEXIST) => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// Adds the IPv4 default route via `gw`.
    pub fn add_default_route4(&mut self, gw: Ipv4Addr) -> Result<(), NlError> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
        self.request(
            &format!("add default route via {gw}"),
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }
}

/// Runs `f` on a fresh thread that has entered the network namespace in
/// `ns` (a `/proc/<pid>/ns/net` or bind-mounted netns file); sockets `f`
/// opens stay in that namespace after the thread ends.
pub fn in_netns<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let file = File::open(ns)?;
    std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(move || -> std::io::Result<T> {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            Ok(f())
        })?
        .join()
        .map_err(|_| std::io::Error::other("netns thread panicked"))?
}

/// Brings the loopback interface `lo` up inside the network namespace `ns`
/// (a `/proc/<pid>/ns/net` or bind-mounted netns file), as Docker does for
/// every container with a network namespace of its own, `--network none`
/// included: a fresh namespace's `lo` starts DOWN, so 127.0.0.1 would be
/// unreachable. Idempotent.
///
/// Errors: the namespace file cannot be opened or entered (`io::Error`), or
/// a netlink request fails (its errno, as `io::Error`).
pub fn loopback_up(ns: &Path) -> std::io::Result<()> {
    in_netns(ns, || -> std::io::Result<()> {
        let mut nl = Nl::open().map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Some(lo) = nl
            .link_index("lo")
            .map_err(|e| std::io::Error::other(e.to_string()))?
        {
            nl.set_up(lo)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Ok(())
    })?
}
