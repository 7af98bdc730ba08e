//! The embedded DNS server with real sandboxes: names, aliases and short
//! IDs on the same network, per-sandbox scope, relaying to upstreams.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::str::FromStr;

use berth_network::*;
use common::*;
use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Asks `server` for the A records of `name` from a socket made inside `sb`.
fn ask(sb: &Sandbox, server: SocketAddr, name: &str) -> (ResponseCode, Vec<Ipv4Addr>) {
    let mut m = Message::new();
    m.set_id(4242);
    m.set_recursion_desired(true);
    m.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
    let q = m.to_vec().unwrap();
    let what = format!("DNS answer for {name} from {server} within the timeout");
    let ans = sb.run(move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.send_to(&q, server).unwrap();
        let mut b = [0u8; 2048];
        let (n, _) = s.recv_from(&mut b).expect(&what);
        b[..n].to_vec()
    });
    let r = Message::from_vec(&ans).unwrap();
    assert_eq!(r.id(), 4242);
    let ips = r
        .answers()
        .iter()
        .filter_map(|a| match a.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    (r.response_code(), ips)
}

/// The same over TCP (two-byte length prefix).
fn ask_tcp(sb: &Sandbox, server: SocketAddr, name: &str) -> Vec<Ipv4Addr> {
    let mut m = Message::new();
    m.set_id(4343);
    m.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
    let q = m.to_vec().unwrap();
    let ans = sb.run(move || {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect_timeout(&server, T).expect("tcp connect to DNS");
        c.set_read_timeout(Some(T)).unwrap();
        let mut out = (q.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&q);
        c.write_all(&out).unwrap();
        let mut len = [0u8; 2];
        c.read_exact(&mut len).expect("tcp DNS answer");
        let mut b = vec![0u8; u16::from_be_bytes(len) as usize];
        c.read_exact(&mut b).unwrap();
        b
    });
    let r = Message::from_vec(&ans).unwrap();
    assert_eq!(r.id(), 4343);
    r.answers()
        .iter()
        .filter_map(|a| match a.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// An upstream resolver on 127.0.0.1 that knows one name.
fn stub_upstream() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok((n, p)) = s.recv_from(&mut b) {
            let Ok(q) = Message::from_vec(&b[..n]) else {
                continue;
            };
            let mut r = Message::new();
            r.set_id(q.id());
            r.set_message_type(MessageType::Response);
            let query = q.queries()[0].clone();
            if query.name().to_ascii() == "ext.example." {
                r.add_answer(Record::from_rdata(
                    query.name().clone(),
                    60,
                    RData::A(A::new(192, 0, 2, 44)),
                ));
            } else {
                r.set_response_code(ResponseCode::NXDomain);
            }
            r.add_query(query);
            let _ = s.send_to(&r.to_vec().unwrap(), p);
        }
    });
    addr
}

#[test]
fn containers_resolve_each_other_by_name_alias_and_short_id() {
    berth_testutil::require_root();
    let tag = "bq4";
    let dir = berth_testutil::tempdir();
    let mut cf = cfg(tag, 4);
    cf.dns_upstreams = Some(vec![stub_upstream()]);
    let c = Ctl::new(NetworkController::open(dir.path(), cf).unwrap());
    let mut r = NetworkCreateRequest {
        name: "bq4-net".into(),
        ipam_config: vec![IpamConfigRequest {
            subnet: Some("10.204.10.0/24".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    r.options
        .insert("com.docker.network.bridge.name".into(), "bq4net".into());
    c.create(&r).unwrap();
    r.name = "bq4-other".into();
    r.ipam_config[0].subnet = Some("10.204.20.0/24".into());
    r.options
        .insert("com.docker.network.bridge.name".into(), "bq4oth".into());
    c.create(&r).unwrap();
    let server = c
        .dns_address("bq4-net")
        .unwrap()
        .expect("embedded DNS serving");
    assert_eq!(server, "10.204.10.1:53".parse().unwrap());
    assert!(
        c.dns_address("bridge").unwrap().is_none(),
        "no embedded DNS on the default bridge"
    );

    let web_id = format!("abcdef012345{}", "1".repeat(52));
    let web = Sandbox::new("bq4web");
    let ew = c
        .connect(
            "bq4-net",
            &web_id,
            &web.path(),
            &ConnectOptions {
                container_name: "web".into(),
                aliases: vec!["frontend".into()],
                ..Default::default()
            },
        )
        .unwrap();
    web.tcp_server(8080, "hello-from-web");
    let cli = Sandbox::new("bq4cli");
    c.connect(
        "bq4-net",
        &"2".repeat(64),
        &cli.path(),
        &ConnectOptions {
            container_name: "client".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let wip: Ipv4Addr = ew.ip_address.parse().unwrap();

    for name in ["web", "WEB.", "frontend", "abcdef012345"] {
        assert_eq!(
            ask(&cli, server, name),
            (ResponseCode::NoError, vec![wip]),
            "{name}"
        );
    }
    assert_eq!(ask_tcp(&cli, server, "web"), vec![wip], "DNS over TCP");
    // Then a server in another container, reached by name.
    let (_, ips) = ask(&cli, server, "web");
    let got = cli.tcp_get(SocketAddr::from((ips[0], 8080))).unwrap();
    assert!(got.starts_with("hello-from-web "), "{got}");
    // A real resolver client inside the sandbox (busybox nslookup).
    let out = sh("ip netns exec bq4cli busybox nslookup frontend 10.204.10.1");
    assert!(out.contains(&ew.ip_address), "{out}");
    // Other names go to the upstream resolvers.
    assert_eq!(
        ask(&cli, server, "ext.example"),
        (ResponseCode::NoError, vec![Ipv4Addr::new(192, 0, 2, 44)])
    );
    assert_eq!(ask(&cli, server, "nope.example").0, ResponseCode::NXDomain);
    // resolv.conf points at the embedded server; the host's for the default bridge.
    let rc = c.resolv_conf(&"2".repeat(64), &DnsSettings::default());
    assert!(
        rc.starts_with("nameserver 10.204.10.1\n") && rc.contains("ndots:0"),
        "{rc}"
    );
    let hosts = c.hosts(
        &"2".repeat(64),
        "client",
        None,
        &[("db".into(), "10.9.9.9".parse().unwrap())],
    );
    assert!(
        hosts.contains("10.9.9.9\tdb\n") && hosts.ends_with("\tclient\n"),
        "{hosts}"
    );

    // A container on another network does not see "web".
    let far = Sandbox::new("bq4far");
    c.connect(
        "bq4-other",
        &"3".repeat(64),
        &far.path(),
        &ConnectOptions {
            container_name: "far".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let far_server = c.dns_address("bq4-other").unwrap().unwrap();
    assert_eq!(
        ask(&far, far_server, "web").0,
        ResponseCode::NXDomain,
        "relayed, unknown upstream"
    );
    // ... until it joins the network: then its own resolver answers for both.
    c.connect(
        "bq4-net",
        &"3".repeat(64),
        &far.path(),
        &ConnectOptions {
            container_name: "far".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        ask(&far, far_server, "web"),
        (ResponseCode::NoError, vec![wip])
    );

    // After disconnect the name is gone.
    c.disconnect("bq4-net", &web_id).unwrap();
    assert_eq!(ask(&cli, server, "web").0, ResponseCode::NXDomain);
    c.release_container(&"2".repeat(64)).unwrap();
    c.release_container(&"3".repeat(64)).unwrap();
    c.remove("bq4-net").unwrap();
    c.remove("bq4-other").unwrap();
    // The DNS socket is closed with its network.
    UdpSocket::bind("127.0.0.1:0").unwrap();
    c.teardown().unwrap();
    drop((web, cli, far));
    assert_no_leaks(tag, "berth-bq4", 4);
}

/// A bridge deleted under the daemon (by hand, or a test's cleanup) takes
/// the gateway address with it, so no wake-up packet can reach the DNS
/// threads; removing the network must still return (the threads are woken
/// by shutting their sockets down).
#[test]
fn removing_a_network_whose_bridge_vanished_returns() {
    let tag = "bq7";
    let dir = berth_testutil::tempdir();
    let c = std::sync::Arc::new(Ctl::new(
        NetworkController::open(dir.path(), cfg(tag, 7)).unwrap(),
    ));
    let mut req = NetworkCreateRequest {
        name: "vanish".into(),
        ..Default::default()
    };
    req.options
        .insert("com.docker.network.bridge.name".into(), format!("{tag}b1"));
    c.create(&req).unwrap();
    assert!(
        c.dns_address("vanish").unwrap().is_some(),
        "DNS not serving"
    );
    sh(&format!("ip link del {tag}b1"));
    let (tx, rx) = std::sync::mpsc::channel();
    let c2 = c.clone();
    let h = std::thread::spawn(move || {
        let _ = tx.send(c2.remove("vanish").map_err(|e| e.to_string()));
    });
    let r = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("network remove hung (DNS threads not woken)");
    // The bridge is gone already: deleting it again may fail; the network
    // and its DNS server must be gone either way.
    let _ = r;
    h.join().expect("remove thread");
    assert!(c.inspect("vanish").is_err());
    drop(c);
    assert_no_leaks(tag, "berth-bq7", 7);
}
