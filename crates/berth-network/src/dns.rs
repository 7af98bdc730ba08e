//! The embedded DNS server of user-defined networks: one UDP socket per
//! network, bound on the network's gateway address, port 53, in the host's
//! namespace. The querying container is identified by its source address,
//! so names are answered per sandbox (every network the container is on),
//! as Docker's per-sandbox resolver at 127.0.0.11 does; other names are
//! relayed to the upstream resolvers.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

/// TTL of answers about containers, seconds (Docker's embedded DNS uses 600).
pub const TTL: u32 = 600;
/// How long a relayed query waits for each upstream.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// What the controller says about a name.
pub(crate) enum Lookup {
    /// A container on one of the asker's networks: these addresses.
    Found(Vec<Ipv4Addr>),
    /// Not a container name: relay to these resolvers.
    Forward(Vec<SocketAddr>),
    /// Not a container name and nothing to relay to (internal networks).
    Fail,
}

pub(crate) type Resolver = Arc<dyn Fn(Ipv4Addr, &str) -> Lookup + Send + Sync>;

/// A running server; dropping it stops the thread.
pub(crate) struct DnsServer {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds `addr` and serves on a thread of its own.
    pub(crate) fn start(addr: SocketAddr, resolve: Resolver) -> std::io::Result<DnsServer> {
        let sock = UdpSocket::bind(addr)?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("berth-dns-{addr}"))
            .spawn(move || serve(sock, st, resolve))?;
        Ok(DnsServer {
            stop,
            addr,
            thread: Some(thread),
        })
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking recv with an empty datagram from the host itself.
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(self.addr.ip(), 0)) {
            let _ = s.send_to(&[], self.addr);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(sock: UdpSocket, stop: Arc<AtomicBool>, resolve: Resolver) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(req) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if req.message_type() != MessageType::Query || req.queries().len() != 1 {
            continue;
        }
        let q = req.queries()[0].clone();
        let name = q
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let src = match peer {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let mut resp = Message::new();
        resp.set_id(req.id());
        resp.set_message_type(MessageType::Response);
        resp.set_op_code(req.op_code());
        resp.set_recursion_desired(req.recursion_desired());
        resp.set_recursion_available(true);
        resp.add_query(q.clone());
        match resolve(src, &name) {
            Lookup::Found(ips) => {
                resp.set_authoritative(true);
                if q.query_type() == RecordType::A || q.query_type() == RecordType::ANY {
                    for ip in ips {
                        resp.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(ip))));
                    }
                }
            }
            Lookup::Forward(ups) => {
                let Ok(reply_sock) = sock.try_clone() else {
                    continue;
                };
                let raw = buf[..n].to_vec();
                // Relay off the serving thread so a slow upstream does not
                // hold up container-name answers.
                let _ = std::thread::Builder::new()
                    .name("berth-dns-relay".into())
                    .spawn(move || {
                        if let Some(answer) = relay(&raw, &ups) {
                            let _ = reply_sock.send_to(&answer, peer);
                        } else if let Ok(mut m) = Message::from_vec(&raw) {
                            m.set_message_type(MessageType::Response);
                            m.set_response_code(ResponseCode::ServFail);
                            if let Ok(b) = m.to_vec() {
                                let _ = reply_sock.send_to(&b, peer);
                            }
                        }
                    });
                continue;
            }
            Lookup::Fail => {
                resp.set_response_code(ResponseCode::ServFail);
            }
        };
        if let Ok(b) = resp.to_vec() {
            let _ = sock.send_to(&b, peer);
        }
    }
}

fn relay(raw: &[u8], ups: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in ups {
        let bind: SocketAddr = if up.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .ok()?;
        let Ok(s) = UdpSocket::bind(bind) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(UPSTREAM_TIMEOUT));
        if s.connect(up).is_err() || s.send(raw).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(n) = s.recv(&mut buf) {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}
