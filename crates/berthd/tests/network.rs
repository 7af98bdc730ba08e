//! Networking through berthd, driven by the real docker CLI (and docker-py):
//! the default bridge, user-defined networks with the embedded DNS, port
//! publishing, network modes, bad input, scale, and no leaks after `rm` and
//! daemon restarts (SIGTERM and SIGKILL).
//!
//! Every daemon here gets its own bridge (`<tag>br0`), subnets
//! (`10.<160+n>.0.0/16`), nft tables (`berth-<tag>`) and veth prefix
//! (`<tag>v`), so the tests run in parallel with each other and with every
//! other berthd of the suite (those run with `-b none`).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// A berthd with networking of its own; removes its bridges and nft
/// tables when dropped (berthd keeps them across restarts, as dockerd
/// keeps docker0).
struct Net {
    d: Option<Daemon>,
    tag: String,
    n: u8,
}

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    String::from_utf8_lossy(&o.stdout).to_string()
}

impl Net {
    fn start(tag: &str, n: u8) -> Net {
        assert!(tag.len() <= 5);
        let args = [
            "-b".to_string(),
            format!("{tag}br0"),
            "--bip".into(),
            format!("10.{}.0.1/24", 160 + n),
            "--default-address-pool".into(),
            format!("base=10.{}.64.0/18,size=24", 160 + n),
            "--nft-table".into(),
            format!("berth-{tag}"),
            "--veth-prefix".into(),
            format!("{tag}v"),
        ];
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = Daemon::start_with(&a);
        Net {
            d: Some(d),
            tag: tag.into(),
            n,
        }
    }

    fn d(&self) -> &Daemon {
        self.d.as_ref().expect("daemon")
    }

    fn d_mut(&mut self) -> &mut Daemon {
        self.d.as_mut().expect("daemon")
    }

    fn state(&self) -> serde_json::Value {
        let p = self.d().root().join("network/network-state.json");
        serde_json::from_slice(&std::fs::read(&p).expect("state file")).expect("state json")
    }

    /// Asserts no endpoint, lease, veth or DNAT rule of this daemon's is
    /// left (the daemon may be running or stopped).
    fn assert_clean(&self) {
        let ok = eventually(10, || {
            berth_testutil::links_containing(&format!("{}v", self.tag)).is_empty()
        });
        assert!(
            ok,
            "leaked veths: {:?}",
            berth_testutil::links_containing(&format!("{}v", self.tag))
        );
        let st = self.state();
        let eps = st["endpoints"].as_object().map(|m| m.len()).unwrap_or(0);
        assert_eq!(eps, 0, "leaked endpoints: {}", st["endpoints"]);
        let leases: usize = st["networks"]
            .as_object()
            .expect("networks")
            .values()
            .map(|n| n["pool"]["leases"].as_object().map_or(0, |l| l.len()))
            .sum();
        assert_eq!(leases, 0, "leaked leases: {st}");
        let rules = sh(&format!("nft list table ip berth-{}-nat 2>&1", self.tag));
        assert!(!rules.contains("dnat to"), "leaked DNAT rules: {rules}");
    }

    fn finish(mut self) {
        let d = self.d.take().expect("daemon");
        let needle = d.dir.path().to_string_lossy().into_owned();
        // Everything removed through the API, then the daemon stopped.
        let ids = d.ok(&["ps", "-aq"]);
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.lines());
            d.ok(&args);
        }
        let nets = d.ok(&["network", "ls", "-q", "--filter", "type=custom"]);
        for n in nets.lines() {
            d.ok(&["network", "rm", n]);
        }
        self.d = Some(d);
        self.assert_clean();
        let d = self.d.take().expect("daemon");
        d.finish();
        assert_no_leaks(&needle);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        drop(self.d.take());
        for l in berth_testutil::links_containing(&self.tag) {
            let _ = Command::new("ip").args(["link", "del", &l]).output();
        }
        // User-defined networks' bridges (br-<id>) in this test's range.
        let range = format!(" 10.{}.", 160 + self.n);
        for line in sh("ip -4 -o addr").lines().filter(|l| l.contains(&range)) {
            if let Some(dev) = line.split_whitespace().nth(1) {
                let _ = Command::new("ip").args(["link", "del", dev]).output();
            }
        }
        for t in [
            format!("inet berth-{}", self.tag),
            format!("ip berth-{}-nat", self.tag),
        ] {
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("nft delete table {t} 2>/dev/null"))
                .status();
        }
    }
}

/// The host's address on its default route (another host's view of it).
fn host_ip() -> String {
    let r = sh("ip -4 route get 1.1.1.1");
    r.split_whitespace()
        .skip_while(|w| *w != "src")
        .nth(1)
        .expect("host has a source address")
        .to_string()
}

fn inspect(d: &Daemon, what: &str, fmt: &str) -> String {
    d.ok(&["inspect", "-f", fmt, what])
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let p = l.local_addr().expect("addr").port();
    drop(l);
    // Also free for UDP.
    match std::net::UdpSocket::bind(("0.0.0.0", p)) {
        Ok(_) => p,
        Err(_) => free_port(),
    }
}

fn tcp_get(addr: &str, port: u16) -> Result<String, String> {
    use std::io::{Read, Write};
    let a: std::net::SocketAddr = format!("{addr}:{port}").parse().expect("addr");
    let mut s = std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok();
    s.write_all(b"GET /hostname HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn udp_get(addr: &str, port: u16) -> Result<String, String> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    let mut buf = [0u8; 100];
    for _ in 0..5 {
        s.send_to(b"x\n", (addr, port)).map_err(|e| e.to_string())?;
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            return Ok(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    Err("no UDP answer".into())
}

fn load_debian(d: &Daemon) {
    let f = berth_testutil::fixture("debian-docker.tar");
    d.ok(&["load", "-i", f.to_str().expect("path")]);
}

/// A perl UDP server in the Debian image (busybox's nc has no UDP).
const UDP_SERVER: &str = r#"$s=IO::Socket::INET->new(LocalPort=>81,Proto=>"udp") or die "$!"; while(1){$s->recv($m,100); $s->send("udp-hi\n")}"#;

#[test]
fn default_bridge_address_route_files_and_host() {
    let net = Net::start("hnda", 1);
    let d = net.d();
    d.load_busybox();
    let host = host_ip();
    let out = d.ok(&[
        "run",
        "--rm",
        "--hostname",
        "box1",
        "--add-host",
        "db.example:10.9.8.7",
        "--add-host",
        "gw.example:host-gateway",
        "--dns",
        "9.9.9.9",
        "--dns-search",
        "corp.example",
        "--mac-address",
        "02:42:aa:bb:cc:dd",
        "busybox",
        "sh",
        "-c",
        &format!(
            "ip -4 -o addr show eth0; ip route; ip link show eth0; cat /etc/hosts /etc/resolv.conf; hostname; ping -c1 -W2 10.161.0.1 >/dev/null && echo GW-OK; ping -c1 -W2 {host} >/dev/null && echo HOST-OK"
        ),
    ]);
    assert!(out.contains("inet 10.161.0."), "{out}");
    assert!(out.contains("default via 10.161.0.1 dev eth0"), "{out}");
    assert!(out.contains("link/ether 02:42:aa:bb:cc:dd"), "{out}");
    assert!(out.contains("10.9.8.7\tdb.example"), "{out}");
    assert!(out.contains("10.161.0.1\tgw.example"), "{out}");
    assert!(out.contains("\tbox1\n"), "{out}");
    assert!(out.contains("nameserver 9.9.9.9"), "{out}");
    assert!(out.contains("search corp.example"), "{out}");
    assert!(out.contains("GW-OK"), "{out}");
    assert!(out.contains("HOST-OK"), "{out}");

    // A running container: NetworkSettings as Docker reports them.
    let id = d.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "60"]);
    let ip = inspect(d, "web", "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with("10.161.0."), "{ip}");
    assert_eq!(
        inspect(d, "web", "{{.NetworkSettings.Networks.bridge.IPAddress}}"),
        ip
    );
    assert_eq!(
        inspect(d, "web", "{{.NetworkSettings.Gateway}}"),
        "10.161.0.1"
    );
    assert_eq!(
        inspect(d, "web", "{{.NetworkSettings.Networks.bridge.IPPrefixLen}}"),
        "24"
    );
    let mac = inspect(d, "web", "{{.NetworkSettings.MacAddress}}");
    let o: Vec<u8> = ip.split('.').map(|x| x.parse().unwrap()).collect();
    assert_eq!(
        mac,
        format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
    );
    let bridge_id = d.ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);
    assert_eq!(
        inspect(d, "web", "{{.NetworkSettings.Networks.bridge.NetworkID}}"),
        bridge_id
    );
    assert_eq!(inspect(d, "web", "{{.HostConfig.NetworkMode}}"), "bridge");
    let hosts = std::fs::read_to_string(d.root().join("containers").join(&id).join("hosts"))
        .expect("hosts");
    assert!(hosts.contains(&format!("{ip}\t{}", &id[..12])), "{hosts}");
    // The network lists it.
    let c = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        "bridge",
    ]);
    assert_eq!(c, format!("web {ip}/24"));
    // After rm nothing of it stays.
    d.ok(&["rm", "-f", "web"]);
    net.assert_clean();
    net.finish();
}

#[test]
fn user_networks_dns_isolation_connect_internal() {
    let net = Net::start("hndb", 2);
    let d = net.d();
    d.load_busybox();
    let host = host_ip();
    let a = d.ok(&["network", "create", "--label", "team=x", "neta"]);
    assert_eq!(a.len(), 64, "{a}");
    d.ok(&["network", "create", "--subnet", "10.162.200.0/24", "netb"]);
    let sub = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
        "neta",
    ]);
    assert!(
        sub.starts_with("10.162.") && sub.contains("/24 10.162."),
        "{sub}"
    );
    let gw = sub.split(' ').nth(1).expect("gateway").to_string();
    let ip50 = format!("{}.50", gw.rsplit_once('.').expect("ip").0);
    let srv = d.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "neta",
        "--network-alias",
        "www",
        "--ip",
        &ip50,
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    assert_eq!(
        inspect(d, "srv", "{{.NetworkSettings.Networks.neta.IPAddress}}"),
        ip50
    );
    assert_eq!(
        inspect(
            d,
            "srv",
            "{{.NetworkSettings.Networks.neta.IPAMConfig.IPv4Address}}"
        ),
        ip50
    );
    let dns = inspect(d, "srv", "{{.NetworkSettings.Networks.neta.DNSNames}}");
    assert!(
        dns.contains("srv") && dns.contains("www") && dns.contains(&srv[..12]),
        "{dns}"
    );
    let short = &srv[..12];
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "neta",
        "busybox",
        "sh",
        "-c",
        &format!(
            "cat /etc/resolv.conf; for n in srv www {short}; do timeout 5 wget -qO- http://$n/hostname || echo FAIL-$n; done; ping -c1 -W2 {host} >/dev/null && echo HOST-OK"
        ),
    ]);
    assert!(out.contains(&format!("nameserver {gw}")), "{out}");
    assert_eq!(out.matches(short).count(), 3, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.contains("HOST-OK"), "{out}");
    // Another network neither resolves nor reaches it.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "netb",
        "busybox",
        "sh",
        "-c",
        &format!("nslookup srv >/dev/null 2>&1 && echo RESOLVED; ping -c1 -W2 {ip50} >/dev/null && echo REACHED; echo done"),
    ]);
    assert!(
        !out.contains("RESOLVED") && !out.contains("REACHED"),
        "{out}"
    );
    assert!(out.contains("done"), "{out}");
    // connect / disconnect a running container.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "netb",
        "busybox",
        "sleep",
        "60",
    ]);
    let wget = "timeout 5 wget -qO- http://srv/hostname || echo FAIL";
    assert!(d.ok(&["exec", "cli", "sh", "-c", wget]).contains("FAIL"));
    d.ok(&["network", "connect", "--alias", "cli2", "neta", "cli"]);
    assert!(d.ok(&["exec", "cli", "sh", "-c", wget]).contains(short));
    let nets = inspect(
        d,
        "cli",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert_eq!(nets, "neta netb");
    let o = d.docker(&["network", "connect", "neta", "cli"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("endpoint with name cli already exists in network neta"),
        "{}",
        stderr(&o)
    );
    d.ok(&["network", "disconnect", "neta", "cli"]);
    assert!(d.ok(&["exec", "cli", "sh", "-c", wget]).contains("FAIL"));
    // --internal: no way out.
    d.ok(&["network", "create", "--internal", "neti"]);
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "neti",
        "busybox",
        "sh",
        "-c",
        &format!("ip route; ping -c1 -W2 {host} >/dev/null && echo HOST-OK; echo done"),
    ]);
    assert!(
        !out.contains("HOST-OK") && !out.contains("default"),
        "{out}"
    );
    // ls, filters, prune.
    let ls = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    for n in ["bridge", "host", "none", "neta", "netb", "neti"] {
        assert!(ls.lines().any(|l| l == n), "{ls}");
    }
    assert_eq!(
        d.ok(&["network", "ls", "-q", "--filter", "label=team=x"]),
        a[..12]
    );
    d.ok(&["rm", "-f", "srv", "cli"]);
    let pruned = d.ok(&["network", "prune", "-f", "--filter", "label=team=x"]);
    assert!(pruned.contains("neta"), "{pruned}");
    let pruned = d.ok(&["network", "prune", "-f"]);
    assert!(
        pruned.contains("netb") && pruned.contains("neti"),
        "{pruned}"
    );
    assert!(berth_testutil::links_containing("br-")
        .iter()
        .all(|l| { !d.ok(&["network", "ls", "-q"]).contains(&l[3..]) }));
    net.finish();
}

#[test]
fn published_ports_tcp_udp_ephemeral_and_conflict() {
    let net = Net::start("hndc", 3);
    let d = net.d();
    d.load_busybox();
    load_debian(d);
    let host = host_ip();
    let (pt, pu) = (free_port(), free_port());
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{pt}:80"),
        "-P",
        "--expose",
        "90",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let id = inspect(d, "web", "{{.Id}}");
    for a in ["127.0.0.1", host.as_str()] {
        let r = eventually(5, || tcp_get(a, pt).is_ok_and(|s| s.contains(&id[..12])));
        assert!(r, "TCP {a}:{pt}: {:?}", tcp_get(a, pt));
    }
    d.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-p",
        &format!("{pu}:81/udp"),
        "debian",
        "perl",
        "-MIO::Socket::INET",
        "-e",
        UDP_SERVER,
    ]);
    for a in ["127.0.0.1", host.as_str()] {
        let r = udp_get(a, pu);
        assert_eq!(r.as_deref(), Ok("udp-hi\n"), "UDP {a}:{pu}");
    }
    // docker port, -P's ephemeral port, ps and inspect.
    let ports = d.ok(&["port", "web"]);
    assert!(
        ports.contains(&format!("80/tcp -> 0.0.0.0:{pt}")),
        "{ports}"
    );
    let eph: u16 = d
        .ok(&["port", "web", "90/tcp"])
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("ephemeral port");
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let lo: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    assert!(eph >= lo, "{eph} below {range}");
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(
        ps.contains(&format!("web 0.0.0.0:{pt}->80/tcp, 0.0.0.0:{eph}->90/tcp")),
        "{ps}"
    );
    assert!(ps.contains(&format!("udp 0.0.0.0:{pu}->81/udp")), "{ps}");
    assert_eq!(
        inspect(d, "web", "{{json .NetworkSettings.Ports}}"),
        format!(
            "{{\"80/tcp\":[{{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"{pt}\"}}],\"90/tcp\":[{{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"{eph}\"}}]}}"
        )
    );
    // 127.0.0.1-only binding.
    let pl = free_port();
    d.ok(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{pl}:80"),
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    assert!(eventually(5, || tcp_get("127.0.0.1", pl).is_ok()));
    assert!(
        tcp_get(&host, pl).is_err(),
        "127.0.0.1 binding answers on {host}"
    );
    // A port in use: a clear error, and nothing half-started.
    let before = net.state()["endpoints"].as_object().unwrap().len();
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        &format!("{pt}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "Bind for 0.0.0.0:{pt} failed: port is already allocated"
        )),
        "{}",
        stderr(&o)
    );
    assert!(eventually(10, || {
        inspect(d, "clash", "{{.State.Running}}") == "false"
            && net.state()["endpoints"].as_object().unwrap().len() == before
    }));
    // A port another program holds.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let hp = holder.local_addr().unwrap().port();
    let o = d.docker(&[
        "run",
        "-d",
        "-p",
        &format!("{hp}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains(&hp.to_string()), "{}", stderr(&o));
    drop(holder);
    // The first container still answers.
    assert!(tcp_get("127.0.0.1", pt).is_ok());
    d.ok(&["rm", "-f", "web", "udp"]);
    assert!(
        tcp_get("127.0.0.1", pt).is_err(),
        "port still forwarded after rm"
    );
    net.finish();
}

#[test]
fn network_api_errors_in_dockers_words() {
    let net = Net::start("hndd", 4);
    let d = net.d();
    d.load_busybox();
    d.ok(&["network", "create", "--subnet", "10.164.10.0/24", "one"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["network", "create", "--subnet", "10.164.10.128/25", "two"],
            "Pool overlaps with other one on this address space",
        ),
        (
            &["network", "create", "--subnet", "10.164.0.0/24", "two"],
            "Pool overlaps with other one on this address space",
        ),
        (
            &["network", "create", "--subnet", "10.164.300.0/24", "two"],
            "invalid CIDR address: 10.164.300.0/24",
        ),
        (
            &["network", "create", "one"],
            "network with name one already exists",
        ),
        (
            &["network", "create", "-d", "overlayx", "two"],
            "plugin \"overlayx\" not found",
        ),
        (&["network", "rm", "nosuch"], "network nosuch not found"),
        (
            &["network", "inspect", "nosuch"],
            "network nosuch not found",
        ),
        (
            &["run", "--rm", "--network", "nosuch", "busybox", "true"],
            "network nosuch not found",
        ),
        (
            &["run", "--rm", "--ip", "10.161.0.9", "busybox", "true"],
            "user specified IP address is supported on user defined networks only",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "one",
                "--ip",
                "10.99.0.9",
                "busybox",
                "true",
            ],
            "",
        ),
    ];
    for (args, want) in cases {
        let o = d.docker(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    // Status codes on the wire.
    let (st, _, body) = d.http(
        "POST",
        "/v1.47/networks/create",
        br#"{"Name":"gw","IPAM":{"Config":[{"Subnet":"10.164.20.0/24","Gateway":"10.164.21.1"}]}}"#,
    );
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("no matching subnet for gateway 10.164.21.1"));
    let (st, _, _) = d.http(
        "POST",
        "/v1.47/networks/create",
        br#"{"Name":"ov","IPAM":{"Config":[{"Subnet":"10.164.10.0/24"}]}}"#,
    );
    assert_eq!(st, 403);
    let (st, _, _) = d.http("POST", "/v1.47/networks/create", br#"{"Name":"one"}"#);
    assert_eq!(st, 409);
    let (st, _, _) = d.http("GET", "/v1.47/networks/nosuch", b"");
    assert_eq!(st, 404);
    let (st, _, _) = d.http("DELETE", "/v1.47/networks/bridge", b"");
    assert_eq!(st, 403);
    // Nothing half-made by the failures: only `one`'s bridge exists.
    let one = d.ok(&["network", "inspect", "-f", "{{.Id}}", "one"]);
    let bridges: Vec<String> = berth_testutil::links_containing("br-")
        .into_iter()
        .filter(|l| {
            std::fs::read_to_string(format!("/sys/class/net/{l}/address")).is_ok()
                && sh(&format!("ip -4 -o addr show {l}")).contains("10.164.")
        })
        .collect();
    assert_eq!(bridges, vec![format!("br-{}", &one[..12])]);
    // Removing a network with endpoints; connecting twice.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "one",
        "busybox",
        "sleep",
        "60",
    ]);
    let o = d.docker(&["network", "rm", "one"]);
    assert!(
        stderr(&o).contains(&format!(
            "error while removing network: network one id {one} has active endpoints"
        )),
        "{}",
        stderr(&o)
    );
    let (st, _, _) = d.http("DELETE", "/v1.47/networks/one", b"");
    assert_eq!(st, 403);
    let (st, _, body) = d.http(
        "POST",
        "/v1.47/networks/one/connect",
        br#"{"Container":"c1"}"#,
    );
    assert_eq!(st, 403);
    assert!(String::from_utf8_lossy(&body)
        .contains("endpoint with name c1 already exists in network one"));
    d.ok(&["rm", "-f", "c1"]);
    d.ok(&["network", "rm", "one"]);
    assert!(berth_testutil::links_containing(&format!("br-{}", &one[..12])).is_empty());
    net.finish();
}

#[test]
fn modes_none_host_container() {
    let net = Net::start("hnde", 5);
    let d = net.d();
    d.load_busybox();
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("lo:"), "{out}");
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.NetworkMode}}",
            &d.ok(&["create", "--network", "none", "busybox"])
        ]),
        "none"
    );
    let host = host_ip();
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
    ]);
    assert!(out.contains(&host), "{out}");
    d.ok(&["run", "-d", "--name", "main", "busybox", "sleep", "60"]);
    let ip = inspect(d, "main", "{{.NetworkSettings.IPAddress}}");
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "container:main",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains(&format!("inet {ip}/24")), "{out}");
    net.finish();
}

#[test]
fn hundred_parallel_containers_distinct_addresses_and_restarts() {
    let mut net = Net::start("hndf", 6);
    net.d().load_busybox();
    let host = net.d().host();
    let spawn = |n: usize| -> Vec<String> {
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let host = host.clone();
                std::thread::spawn(move || {
                    let o = Command::new("timeout")
                        .args(["-s", "KILL", "120", "docker", "-H", &host])
                        .args(["run", "-d", "busybox", "sleep", "300"])
                        .output()
                        .expect("docker");
                    assert!(o.status.success(), "{}", stderr(&o));
                    stdout(&o).trim().to_string()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    };
    let t = std::time::Instant::now();
    let ids = spawn(100);
    eprintln!("100 parallel docker run -d: {:?}", t.elapsed());
    let ips = |d: &Daemon, ids: &[String]| -> Vec<String> {
        let mut a = vec!["inspect", "-f", "{{.NetworkSettings.IPAddress}}"];
        a.extend(ids.iter().map(String::as_str));
        d.ok(&a).lines().map(str::to_string).collect()
    };
    let first = ips(net.d(), &ids);
    let set: BTreeSet<&String> = first.iter().collect();
    assert_eq!(set.len(), 100, "{first:?}");
    assert!(first.iter().all(|i| i.starts_with("10.166.0.")));
    // Restart (SIGTERM) and crash (SIGKILL): leases survive, no address
    // is handed out twice.
    net.d_mut().stop();
    net.d_mut().spawn();
    let more = spawn(2);
    net.d_mut().kill9();
    net.d_mut().spawn();
    let more2 = spawn(2);
    let all: Vec<String> = [ids.clone(), more.clone(), more2.clone()].concat();
    let got = ips(net.d(), &all);
    let set: BTreeSet<&String> = got.iter().collect();
    assert_eq!(set.len(), 104, "{got:?}");
    assert_eq!(&got[..100], &first[..], "addresses changed over restarts");
    // Containers that die while the daemon is down: reconciled at start.
    let pids: Vec<String> = {
        let mut a = vec!["inspect", "-f", "{{.State.Pid}}"];
        a.extend(more.iter().chain(&more2).map(String::as_str));
        net.d().ok(&a).lines().map(str::to_string).collect()
    };
    net.d_mut().kill9();
    for p in &pids {
        let _ = Command::new("kill").args(["-9", p]).status();
    }
    net.d_mut().spawn();
    assert!(eventually(10, || {
        net.state()["endpoints"].as_object().unwrap().len() == 100
    }));
    let st = net.state();
    let leases = st["networks"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["name"] == "bridge")
        .expect("bridge")["pool"]["leases"]
        .clone();
    assert_eq!(leases.as_object().unwrap().len(), 100, "{leases}");
    for ip in &got[100..] {
        assert!(leases.get(ip).is_none(), "lease of {ip} kept");
    }
    // rm of everything: no veth, lease or rule stays.
    let mut a = vec!["rm", "-f"];
    a.extend(all.iter().map(String::as_str));
    net.d().ok(&a);
    net.assert_clean();
    net.finish();
}

#[test]
fn docker_py_network_flow() {
    let net = Net::start("hndg", 7);
    net.d().docker_py("docker_py_network.py");
    net.finish();
}

#[test]
fn bridge_none_default_is_none_user_networks_still_work() {
    let tag = "hndh";
    let d = Daemon::start_with(&[
        "-b",
        "none",
        "--nft-table",
        "berth-hndh",
        "--veth-prefix",
        "hndhv",
        "--default-address-pool",
        "base=10.168.64.0/18,size=24",
    ]);
    let net = Net {
        d: Some(d),
        tag: tag.into(),
        n: 8,
    };
    let d = net.d();
    d.load_busybox();
    // Nothing of the network service is made until a network is.
    assert!(!sh("nft list tables").contains("berth-hndh"));
    assert!(!d.root().join("network").exists());
    let out = d.ok(&["run", "--rm", "busybox", "ip", "-o", "link"]);
    assert_eq!(out.lines().count(), 1, "only lo: {out}");
    let id = d.ok(&["create", "busybox"]);
    assert_eq!(inspect(d, &id, "{{.HostConfig.NetworkMode}}"), "none");
    let o = d.docker(&["run", "--rm", "--network", "bridge", "busybox", "true"]);
    assert!(
        stderr(&o).contains("network bridge not found"),
        "{}",
        stderr(&o)
    );
    d.ok(&["network", "create", "u1"]);
    assert!(sh("nft list tables").contains("berth-hndh"));
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "u1",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("inet 10.168.64.2/24"), "{out}");
    d.ok(&["network", "rm", "u1"]);
    // The last network gone, so are the tables.
    assert!(!sh("nft list tables").contains("berth-hndh"));
    net.finish();
}
