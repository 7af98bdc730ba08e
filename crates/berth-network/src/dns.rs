//! The embedded DNS server of user-defined networks: one UDP socket and one
//! TCP listener per network, bound on the network's gateway address, port 53, in the host's
//! namespace. The querying container is identified by its source address,
//! so names are answered per sandbox (every network the container is on),
//! as Docker's per-sandbox resolver at 127.0.0.11 does; other names are
//! relayed to the upstream resolvers.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
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

/// A running server (UDP and TCP); dropping it stops the threads.
pub(crate) struct DnsServer {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
    /// The listener, shut down to wake its accepting thread.
    tcp: TcpListener,
}

impl DnsServer {
    /// Binds `addr` (UDP and TCP) and serves on threads of its own.
    pub(crate) fn start(addr: SocketAddr, resolve: Resolver) -> std::io::Result<DnsServer> {
        let sock = UdpSocket::bind(addr)?;
        // The UDP loop looks at `stop` at least this often (see Drop).
        sock.set_read_timeout(Some(UDP_STOP_POLL))?;
        let tcp = TcpListener::bind(addr)?;
        let tcp_h = tcp.try_clone()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (st, r) = (stop.clone(), resolve.clone());
        let udp_t = std::thread::Builder::new()
            .name(format!("berth-dns-{addr}"))
            .spawn(move || serve(sock, st, r))?;
        let st = stop.clone();
        let tcp_t = std::thread::Builder::new()
            .name(format!("berth-dnst-{addr}"))
            .spawn(move || serve_tcp(tcp, st, resolve))?;
        Ok(DnsServer {
            stop,
            addr,
            threads: vec![udp_t, tcp_t],
            tcp: tcp_h,
        })
    }
}

/// Longest time the UDP serving loop blocks before it looks at its stop
/// flag again (the fallback when no wake-up packet can reach it).
const UDP_STOP_POLL: Duration = Duration::from_millis(500);

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept: shutdown(2) works even when the
        // gateway address is already gone (bridge deleted under the
        // daemon). Not the UDP socket: a recv_from woken by shutdown
        // returns no peer address, on which std's recv_from panics
        // (`len >= size_of::<sockaddr_in>()`), and a panic aborts berthd
        // (seen at `docker network rm`). The UDP loop is woken by the
        // packet below, or sees `stop` within UDP_STOP_POLL.
        let _ = socket2::SockRef::from(&self.tcp).shutdown(std::net::Shutdown::Both);
        // A packet and a connection from the host itself.
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(self.addr.ip(), 0)) {
            let _ = s.send_to(&[], self.addr);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

enum Answer {
    /// Send this reply.
    Now(Vec<u8>),
    /// Relay the query to these resolvers.
    Relay(Vec<SocketAddr>),
    /// Not a query we answer.
    Ignore,
}

fn decide(raw: &[u8], src: Ipv4Addr, resolve: &Resolver) -> Answer {
    let Ok(req) = Message::from_vec(raw) else {
        return Answer::Ignore;
    };
    if req.message_type() != MessageType::Query || req.queries().len() != 1 {
        return Answer::Ignore;
    }
    let q = req.queries()[0].clone();
    let name = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
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
        Lookup::Forward(ups) => return Answer::Relay(ups),
        Lookup::Fail => {
            resp.set_response_code(ResponseCode::ServFail);
        }
    }
    resp.to_vec().map(Answer::Now).unwrap_or(Answer::Ignore)
}

fn servfail(raw: &[u8]) -> Option<Vec<u8>> {
    let mut m = Message::from_vec(raw).ok()?;
    m.set_message_type(MessageType::Response);
    m.set_response_code(ResponseCode::ServFail);
    m.to_vec().ok()
}

fn v4(peer: SocketAddr) -> Ipv4Addr {
    match peer {
        SocketAddr::V4(a) => *a.ip(),
        SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
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
        match decide(&buf[..n], v4(peer), &resolve) {
            Answer::Now(b) => {
                let _ = sock.send_to(&b, peer);
            }
            Answer::Relay(ups) => {
                let Ok(reply_sock) = sock.try_clone() else {
                    continue;
                };
                let raw = buf[..n].to_vec();
                // Relay off the serving thread so a slow upstream does not
                // hold up container-name answers.
                let _ = std::thread::Builder::new()
                    .name("berth-dns-relay".into())
                    .spawn(move || {
                        if let Some(b) = relay(&raw, &ups).or_else(|| servfail(&raw)) {
                            let _ = reply_sock.send_to(&b, peer);
                        }
                    });
            }
            Answer::Ignore => {}
        }
    }
}

/// DNS over TCP (RFC 1035 4.2.2: two-byte length, then the message), for
/// resolvers that retry a truncated answer; one thread per connection,
/// closed after 5 s idle.
fn serve_tcp(l: TcpListener, stop: Arc<AtomicBool>, resolve: Resolver) {
    for conn in l.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut c) = conn else { continue };
        let resolve = resolve.clone();
        let _ = std::thread::Builder::new()
            .name("berth-dns-tcp".into())
            .spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(peer) = c.peer_addr() else { return };
                loop {
                    let mut len = [0u8; 2];
                    if c.read_exact(&mut len).is_err() {
                        return;
                    }
                    let mut raw = vec![0u8; u16::from_be_bytes(len) as usize];
                    if c.read_exact(&mut raw).is_err() {
                        return;
                    }
                    let reply = match decide(&raw, v4(peer), &resolve) {
                        Answer::Now(b) => Some(b),
                        Answer::Relay(ups) => relay(&raw, &ups).or_else(|| servfail(&raw)),
                        Answer::Ignore => None,
                    };
                    let Some(b) = reply else { return };
                    let mut out = (b.len() as u16).to_be_bytes().to_vec();
                    out.extend_from_slice(&b);
                    if c.write_all(&out).is_err() {
                        return;
                    }
                }
            });
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
