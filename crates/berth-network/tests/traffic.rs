//! Real traffic through bridges, veths and Berth's nft rules: outbound
//! masquerade, isolation between networks, `--internal`, published TCP and
//! UDP ports from 127.0.0.1 and from another host's side.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use berth_network::*;
use common::*;

fn net(c: &NetworkController, name: &str, subnet: &str, bridge: &str, internal: bool) -> Network {
    let mut r = NetworkCreateRequest {
        name: name.into(),
        internal,
        ipam_config: vec![IpamConfigRequest {
            subnet: Some(subnet.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    r.options
        .insert("com.docker.network.bridge.name".into(), bridge.into());
    c.create(&r).unwrap()
}

fn ip(ep: &Endpoint) -> Ipv4Addr {
    ep.ip_address.parse().unwrap()
}

#[test]
fn outbound_nat_isolation_and_internal() {
    berth_testutil::require_root();
    let tag = "bq2";
    let dir = berth_testutil::tempdir();
    let c = Ctl::new(NetworkController::open(dir.path(), cfg(tag, 2)).unwrap());
    let world = World::new(tag, 2);
    world.ns.tcp_server(7000, "world");
    let world_addr = SocketAddr::from((world.world_ip, 7000));

    // A container on the default bridge reaches "the world" through the
    // host, masqueraded to the host's address (the world has no route back
    // to 10.202.0.0/24, so an answer proves the NAT).
    let a = Sandbox::new("bq2a");
    let ea = c
        .connect(
            "bridge",
            &"a".repeat(64),
            &a.path(),
            &ConnectOptions::default(),
        )
        .unwrap();
    let got = a
        .tcp_get(world_addr)
        .expect("default bridge reaches the world");
    assert_eq!(
        got,
        format!("world {}", world.host_ip),
        "source masqueraded to the host side"
    );
    // ... and the host itself (a server on the host's address).
    let host_srv = std::net::TcpListener::bind((world.host_ip, 7001)).unwrap();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = host_srv.accept() {
            let _ = std::io::Write::write_all(&mut c, b"host\n");
        }
    });
    assert_eq!(
        a.tcp_get(SocketAddr::from((world.host_ip, 7001))).unwrap(),
        "host"
    );
    // The host reaches the container too.
    a.tcp_server(80, "a");
    assert!(tcp_get(SocketAddr::from((ip(&ea), 80)))
        .unwrap()
        .starts_with("a "));

    // A second network: outbound works, the first network is unreachable.
    net(&c, "bq2-b", "10.202.10.0/24", "bq2b", false);
    let b = Sandbox::new("bq2b");
    c.connect(
        "bq2-b",
        &"b".repeat(64),
        &b.path(),
        &ConnectOptions::default(),
    )
    .unwrap();
    assert!(
        b.tcp_get(world_addr).is_ok(),
        "user network reaches the world"
    );
    let e = b.tcp_get(SocketAddr::from((ip(&ea), 80))).unwrap_err();
    assert!(
        !e.is_empty(),
        "isolation: bq2-b must not reach the default bridge"
    );
    // Containers on the same network do reach each other.
    let b2 = Sandbox::new("bq2b2");
    let eb2 = c
        .connect(
            "bq2-b",
            &"c".repeat(64),
            &b2.path(),
            &ConnectOptions::default(),
        )
        .unwrap();
    b2.tcp_server(80, "b2");
    assert!(b
        .tcp_get(SocketAddr::from((ip(&eb2), 80)))
        .unwrap()
        .starts_with("b2 "));

    // --internal: no default route, no forwarding, no NAT.
    let n = net(&c, "bq2-int", "10.202.20.0/24", "bq2int", true);
    assert!(n.internal);
    let i = Sandbox::new("bq2i");
    let ei = c
        .connect(
            "bq2-int",
            &"d".repeat(64),
            &i.path(),
            &ConnectOptions::default(),
        )
        .unwrap();
    assert_eq!(ei.gateway, "");
    assert!(
        sh("ip -n bq2i route show default").trim().is_empty(),
        "no default route"
    );
    assert!(
        i.tcp_get(world_addr).is_err(),
        "internal network cannot get out"
    );
    // Even with a route added by hand, the bridge does not forward.
    sh("ip -n bq2i route add default via 10.202.20.1");
    assert!(
        i.tcp_get(world_addr).is_err(),
        "internal network is not forwarded"
    );
    // The host cannot be used as a hop into it either.
    i.tcp_server(80, "i");
    assert!(b.tcp_get(SocketAddr::from((ip(&ei), 80))).is_err());

    for (net, id) in [
        ("bridge", "a"),
        ("bq2-b", "b"),
        ("bq2-b", "c"),
        ("bq2-int", "d"),
    ] {
        c.disconnect(net, &id.repeat(64)).unwrap();
    }
    for n in ["bq2-b", "bq2-int"] {
        c.remove(n).unwrap();
    }
    c.teardown().unwrap();
    drop((a, b, b2, i, world));
    assert_no_leaks(tag, "berth-bq2", 2);
}

#[test]
fn published_tcp_and_udp_ports_answer_on_localhost_and_other_address() {
    berth_testutil::require_root();
    let tag = "bq3";
    let dir = berth_testutil::tempdir();
    let mut c = Ctl::new(NetworkController::open(dir.path(), cfg(tag, 3)).unwrap());
    let world = World::new(tag, 3);
    let s = Sandbox::new("bq3s");
    let cid = "e".repeat(64);
    c.connect("bridge", &cid, &s.path(), &ConnectOptions::default())
        .unwrap();
    s.tcp_server(80, "web");
    s.udp_server(53, "dns-answer");

    let specs: Vec<PortSpec> = ["28080:80", "28053:53/udp", "80", "127.0.0.1:28081:80"]
        .iter()
        .map(|p| PortSpec::parse(p).unwrap())
        .collect();
    let binds = c.publish("bridge", &cid, &specs).unwrap();
    assert_eq!(binds.len(), 4);
    assert_eq!(
        (binds[0].host_port, binds[0].container_port, binds[0].proto),
        (28080, 80, Proto::Tcp)
    );
    assert_eq!(binds[0].port_key(), "80/tcp");
    assert_eq!(
        binds[0].docker_json(),
        serde_json::json!({"HostIp": "0.0.0.0", "HostPort": "28080"})
    );
    let eph = binds[2].host_port;
    assert!((32768..=60999).contains(&eph), "ephemeral port {eph}");
    assert_eq!(c.ports(&cid), binds);

    // From the host's own 127.0.0.1 (DNAT in output + route_localnet + masquerade).
    let lo = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    assert!(
        tcp_get(lo(28080)).unwrap().starts_with("web "),
        "tcp via 127.0.0.1"
    );
    assert!(
        tcp_get(lo(eph)).unwrap().starts_with("web "),
        "ephemeral via 127.0.0.1"
    );
    assert!(
        tcp_get(lo(28081)).unwrap().starts_with("web "),
        "127.0.0.1-only binding"
    );
    assert_eq!(
        udp_get(lo(28053)).unwrap(),
        "dns-answer",
        "udp via 127.0.0.1"
    );
    // From the host to its other address, and from "another host".
    let other = |p: u16| SocketAddr::from((world.host_ip, p));
    assert!(
        tcp_get(other(28080)).unwrap().starts_with("web "),
        "host -> own other address"
    );
    let got = world
        .ns
        .tcp_get(other(28080))
        .expect("world -> published port");
    assert_eq!(
        got,
        format!("web {}", world.world_ip),
        "external client keeps its address"
    );
    assert_eq!(
        world.ns.udp_get(other(28053)).unwrap(),
        "dns-answer",
        "udp from the world"
    );
    assert!(
        world.ns.tcp_get(other(28081)).is_err(),
        "127.0.0.1-only binding not exposed"
    );

    // Hairpin: the container itself through its gateway (a host address),
    // and a container on another network through the host's address.
    let gw: Ipv4Addr = c.endpoint("bridge", &cid).unwrap().gateway.parse().unwrap();
    assert!(
        s.tcp_get(SocketAddr::from((gw, 28080)))
            .unwrap()
            .starts_with("web "),
        "hairpin"
    );
    let mut r = NetworkCreateRequest {
        name: "bq3-other".into(),
        ipam_config: vec![IpamConfigRequest {
            subnet: Some("10.203.10.0/24".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    r.options
        .insert("com.docker.network.bridge.name".into(), "bq3oth".into());
    c.create(&r).unwrap();
    let o = Sandbox::new("bq3o");
    c.connect(
        "bq3-other",
        &"9".repeat(64),
        &o.path(),
        &ConnectOptions::default(),
    )
    .unwrap();
    assert!(
        o.tcp_get(other(28080)).unwrap().starts_with("web "),
        "published port from another network"
    );
    let direct = SocketAddr::from((ip(&c.endpoint("bridge", &cid).unwrap()), 80));
    assert!(o.tcp_get(direct).is_err(), "but not the container directly");
    c.disconnect("bq3-other", &"9".repeat(64)).unwrap();
    c.remove("bq3-other").unwrap();
    drop(o);

    // A port already in use: Docker's error, nothing half-made.
    let rules_before = sh("nft list table ip berth-bq3-nat");
    let held = std::net::TcpListener::bind("0.0.0.0:28090").unwrap();
    let e = c
        .publish(
            "bridge",
            &cid,
            &[
                PortSpec::parse("28091:81").unwrap(),
                PortSpec::parse("28090:80").unwrap(),
            ],
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Bind for 0.0.0.0:28090 failed: port is already allocated"
    );
    drop(held);
    let e = c
        .publish("bridge", &cid, &[PortSpec::parse("28080:80").unwrap()])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Bind for 0.0.0.0:28080 failed: port is already allocated",
        "taken by Berth itself"
    );
    assert_eq!(
        sh("nft list table ip berth-bq3-nat"),
        rules_before,
        "no rule added"
    );
    assert_eq!(c.ports(&cid).len(), 4);
    std::net::TcpListener::bind("0.0.0.0:28091").expect("28091 not left reserved");
    // The host program cannot steal a published port.
    assert!(std::net::TcpListener::bind("0.0.0.0:28080").is_err());

    // A daemon restart keeps the bindings, their rules and reservations.
    c.restart(dir.path(), cfg(tag, 3));
    assert_eq!(c.ports(&cid).len(), 4);
    assert!(
        tcp_get(lo(28080)).unwrap().starts_with("web "),
        "published port after restart"
    );
    assert!(
        std::net::TcpListener::bind("0.0.0.0:28080").is_err(),
        "still reserved"
    );

    // Unpublish removes the rules and frees the ports.
    assert_eq!(c.unpublish("bridge", &cid).unwrap().len(), 4);
    assert!(tcp_get(lo(28080)).is_err());
    assert!(!sh("nft list table ip berth-bq3-nat").contains("dport 28080"));
    std::net::TcpListener::bind("0.0.0.0:28080").expect("port freed");

    // Disconnect with bindings removes them too.
    c.publish("bridge", &cid, &[PortSpec::parse("28080:80").unwrap()])
        .unwrap();
    assert!(tcp_get(lo(28080)).is_ok());
    c.disconnect("bridge", &cid).unwrap();
    assert!(!sh("nft list table ip berth-bq3-nat").contains("dport 28080"));
    c.teardown().unwrap();
    drop((s, world));
    assert_no_leaks(tag, "berth-bq3", 3);
}

#[test]
fn bip_and_enable_icc_false() {
    berth_testutil::require_root();
    let tag = "bq6";
    let dir = berth_testutil::tempdir();
    let mut cf = cfg(tag, 6);
    cf.bip = Some("10.206.0.129/25".parse().unwrap());
    cf.mtu = 1400;
    let c = Ctl::new(NetworkController::open(dir.path(), cf).unwrap());
    let br = c.inspect("bridge").unwrap();
    assert_eq!(
        br.ipam.config[0].subnet, "10.206.0.128/25",
        "--bip gives subnet and gateway"
    );
    assert_eq!(br.ipam.config[0].gateway, "10.206.0.129");
    assert_eq!(br.options["com.docker.network.driver.mtu"], "1400");
    let a = Sandbox::new("bq6a");
    let ea = c
        .connect(
            "bridge",
            &"a".repeat(64),
            &a.path(),
            &ConnectOptions::default(),
        )
        .unwrap();
    assert_eq!(ea.ip_address, "10.206.0.130");
    assert!(sh("ip -n bq6a link show eth0").contains("mtu 1400"));

    // enable_icc=false: containers of one network cannot talk to each other.
    let mut r = NetworkCreateRequest {
        name: "bq6-noicc".into(),
        ipam_config: vec![IpamConfigRequest {
            subnet: Some("10.206.10.0/24".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    r.options
        .insert("com.docker.network.bridge.name".into(), "bq6noicc".into());
    r.options.insert(
        "com.docker.network.bridge.enable_icc".into(),
        "false".into(),
    );
    c.create(&r).unwrap();
    let x = Sandbox::new("bq6x");
    let y = Sandbox::new("bq6y");
    c.connect(
        "bq6-noicc",
        &"b".repeat(64),
        &x.path(),
        &ConnectOptions::default(),
    )
    .unwrap();
    let ey = c
        .connect(
            "bq6-noicc",
            &"c".repeat(64),
            &y.path(),
            &ConnectOptions::default(),
        )
        .unwrap();
    y.tcp_server(80, "y");
    assert!(
        tcp_get(SocketAddr::from((ip(&ey), 80))).is_ok(),
        "the host reaches y"
    );
    assert!(
        x.tcp_get(SocketAddr::from((ip(&ey), 80))).is_err(),
        "x must not reach y with icc off"
    );

    c.release_container(&"a".repeat(64)).unwrap();
    c.release_container(&"b".repeat(64)).unwrap();
    c.release_container(&"c".repeat(64)).unwrap();
    c.remove("bq6-noicc").unwrap();
    c.teardown().unwrap();
    drop((a, x, y));
    assert_no_leaks(tag, "berth-bq6", 6);
}
