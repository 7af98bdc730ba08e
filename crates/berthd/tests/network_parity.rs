//! Networking behaviour checked twice with the real docker CLI: against
//! berthd and against a private Debian dockerd (own data root, exec root
//! and socket, `--bridge none --iptables=false`), so each expectation is
//! shown to be Docker's. berthd runs with `-b none` and nft tables and a
//! veth prefix of its own (`berth-hnp*`, `hnp*v`); user-defined networks
//! here use 10.176.0.0/16 and 10.177.0.0/16.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private dockerd, stopped (SIGTERM, bounded) and cleaned up on drop.
struct Dockerd {
    dir: tempfile::TempDir,
    exec: tempfile::TempDir,
    child: Option<Child>,
    args: Vec<String>,
}

impl Dockerd {
    fn start() -> Dockerd {
        Dockerd::start_with(&[])
    }

    fn start_with(args: &[&str]) -> Dockerd {
        berth_testutil::require_root();
        let dir = berth_testutil::tempdir();
        // Short: containerd's sockets live under the exec root.
        let exec = tempfile::Builder::new()
            .prefix("hnp")
            .tempdir_in("/run")
            .expect("exec root");
        let mut d = Dockerd {
            dir,
            exec,
            child: None,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        d.spawn();
        d
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("d.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.sock().display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("dockerd.log"))
            .expect("log");
        let child = Command::new("dockerd")
            .args(["--bridge", "none", "--iptables=false"])
            .arg("--data-root")
            .arg(self.dir.path().join("root"))
            .arg("--exec-root")
            .arg(self.exec.path())
            .arg("--pidfile")
            .arg(self.dir.path().join("pid"))
            .arg("-H")
            .arg(self.host())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd is installed (scripts/install-deps.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Command::new("docker")
            .args(["-H", &self.host(), "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            assert!(
                Instant::now() < deadline,
                "dockerd did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // The bridges of this dockerd's user networks are `br-<ID[..12]>`:
        // named before the prune, removed after the stop when dockerd left
        // them (a prune that timed out, a network still in use).
        let mut bridges = Vec::new();
        if self.child.is_some() {
            let h = self.host();
            let ids = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "timeout -s KILL 10 docker -H {h} network ls -q --no-trunc --filter type=custom"
                ))
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            bridges = ids
                .split_whitespace()
                .filter(|id| id.len() >= 12)
                .map(|id| format!("br-{}", &id[..12]))
                .collect();
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("timeout -s KILL 30 docker -H {h} rm -f $(timeout -s KILL 10 docker -H {h} ps -aq) >/dev/null 2>&1; timeout -s KILL 30 docker -H {h} network prune -f >/dev/null 2>&1"))
                .status();
        }
        self.stop();
        for b in &bridges {
            if std::path::Path::new("/sys/class/net").join(b).exists() {
                let _ = Command::new("ip").args(["link", "del", b]).status();
            }
        }
        for root in [self.dir.path(), self.exec.path()] {
            for m in berth_testutil::mounts_containing(&root.to_string_lossy())
                .iter()
                .rev()
            {
                let _ = Command::new("umount").arg("-l").arg(m).status();
            }
        }
    }
}

/// One of the two daemons, as the scenarios drive it.
enum Side {
    Berth(Daemon),
    Docker(Dockerd),
}

impl Side {
    fn name(&self) -> &'static str {
        match self {
            Side::Berth(_) => "berthd",
            Side::Docker(_) => "dockerd",
        }
    }

    fn host(&self) -> String {
        match self {
            Side::Berth(d) => d.host(),
            Side::Docker(d) => d.host(),
        }
    }

    fn sock(&self) -> PathBuf {
        match self {
            Side::Berth(d) => d.sock.clone(),
            Side::Docker(d) => d.sock(),
        }
    }

    fn log(&self) -> String {
        match self {
            Side::Berth(d) => d.log(),
            Side::Docker(d) => d.log(),
        }
    }

    fn docker(&self, args: &[&str]) -> Output {
        docker_at(&self.host(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "{}: docker {args:?} failed ({:?}): {}\n{}\n--- log ---\n{}",
            self.name(),
            o.status,
            stdout(&o),
            stderr(&o),
            self.log()
        );
        stdout(&o).trim_end().to_string()
    }

    /// `docker …` that must fail: (exit code, stderr).
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let o = self.docker(args);
        assert!(
            !o.status.success(),
            "{}: docker {args:?} succeeded: {}",
            self.name(),
            stdout(&o)
        );
        (o.status.code().unwrap_or(-1), stderr(&o))
    }

    fn load_busybox(&self) {
        let f = berth_testutil::fixture("busybox-docker.tar");
        self.ok(&["load", "-i", f.to_str().expect("path")]);
    }

    fn restart(&mut self) {
        match self {
            Side::Berth(d) => {
                assert_eq!(d.stop(), 0, "berthd exit code");
                d.spawn();
            }
            Side::Docker(d) => {
                d.stop();
                d.spawn();
            }
        }
    }

    /// GET `path` on the daemon's socket: (status, JSON body).
    fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        http_get(&self.sock(), path)
    }
}

fn http_get(sock: &Path, path: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = http_unix(sock, "GET", path, b"");
    let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, v)
}

fn berthd_no_bridge(tag: &str) -> Daemon {
    berthd_no_bridge_pool(tag, "base=10.176.64.0/18,size=24")
}

fn berthd_no_bridge_pool(tag: &str, pool: &str) -> Daemon {
    let mut args = vec![
        "-b".to_string(),
        "none".into(),
        "--nft-table".into(),
        format!("berth-{tag}"),
        "--veth-prefix".into(),
        format!("{tag}v"),
    ];
    if !pool.is_empty() {
        args.push("--default-address-pool".into());
        args.push(pool.into());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::start_with(&a)
}

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `network ls` and friends on a daemon without a default bridge, before
/// any network was created: `host` and `none` are there from the first
/// request (list, filters, inspect by name and ID prefix, the raw JSON),
/// cannot be removed, keep their IDs across a restart and when the first
/// user-defined network appears, and a running `--network none`
/// container's endpoint names the `none` network's ID.
fn predefined_networks_without_bridge(s: &mut Side, subnet: &str) {
    let who = s.name();
    let ls = s.ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    assert_eq!(ls, "host host local\nnone null local", "{who}");
    let ids = s.ok(&["network", "ls", "-q"]);
    let short: Vec<&str> = ids.lines().collect();
    assert_eq!(short.len(), 2, "{who}: {ids}");
    assert!(short.iter().all(|i| i.len() == 12), "{who}: {ids}");
    let none_id = s.ok(&["network", "inspect", "-f", "{{.Id}}", "none"]);
    let host_id = s.ok(&["network", "inspect", "-f", "{{.Id}}", "host"]);
    assert_eq!(none_id.len(), 64, "{who}");
    assert!(short.contains(&&host_id[..12]) && short.contains(&&none_id[..12]));
    // Inspect by ID prefix; the fields the CLI shows.
    let f = "{{.Name}} {{.Driver}} {{.Scope}} {{.IPAM.Driver}} {{json .IPAM.Config}} {{.Internal}} {{.Attachable}} {{json .Containers}} {{json .Options}} {{json .Labels}}";
    assert_eq!(
        s.ok(&["network", "inspect", "-f", f, &none_id[..8]]),
        "none null local default [] false false {} {} {}",
        "{who}"
    );
    assert_eq!(
        s.ok(&["network", "inspect", "-f", f, &host_id]),
        "host host local default [] false false {} {} {}",
        "{who}"
    );
    for (filter, want) in [
        ("type=builtin", "host none"),
        ("type=custom", ""),
        ("driver=null", "none"),
        ("driver=host", "host"),
        ("dangling=true", ""),
        ("dangling=false", "host none"),
        ("name=on", "none"),
        ("scope=local", "host none"),
    ] {
        let got = s.ok(&["network", "ls", "--filter", filter, "--format", "{{.Name}}"]);
        assert_eq!(
            got.lines().collect::<Vec<_>>().join(" "),
            want,
            "{who}: {filter}"
        );
    }
    let got = s.ok(&[
        "network",
        "ls",
        "--filter",
        &format!("id={}", &host_id[..6]),
        "-q",
    ]);
    assert_eq!(got, &host_id[..12], "{who}");
    // The raw API: every field dockerd sends (Berth's newer API version may
    // add some).
    let (st, list) = s.get_json("/networks");
    assert_eq!(st, 200, "{who}: {list}");
    let list = list.as_array().expect("array").clone();
    assert_eq!(list.len(), 2, "{who}: {list:?}");
    let (st, one) = s.get_json(&format!("/networks/{none_id}"));
    assert_eq!(st, 200, "{who}");
    assert_eq!(one["Name"], "none");
    assert_eq!(one["IPAM"]["Config"], serde_json::json!([]), "{who}");
    for k in [
        "Name",
        "Id",
        "Created",
        "Scope",
        "Driver",
        "EnableIPv6",
        "IPAM",
        "Internal",
        "Attachable",
        "Ingress",
        "ConfigFrom",
        "ConfigOnly",
        "Containers",
        "Options",
        "Labels",
    ] {
        assert!(keys(&one).contains(&k.to_string()), "{who}: {k} in {one}");
    }
    let (st, e) = s.get_json("/networks/nonexistent");
    assert_eq!(st, 404, "{who}");
    assert_eq!(e["message"], "network nonexistent not found", "{who}");
    // Not removable.
    for n in ["none", "host"] {
        let (code, err) = s.fails(&["network", "rm", n]);
        assert_eq!(code, 1, "{who}");
        assert!(
            err.contains(&format!(
                "{n} is a pre-defined network and cannot be removed"
            )),
            "{who}: {err}"
        );
    }
    let (code, err) = s.fails(&["network", "inspect", "nonexistent"]);
    assert_eq!(code, 1, "{who}");
    assert!(
        err.contains("network nonexistent not found"),
        "{who}: {err}"
    );

    // Same IDs after a restart.
    s.restart();
    assert_eq!(
        s.ok(&["network", "ls", "-q"]),
        ids,
        "{who}: IDs after restart"
    );
    assert_eq!(
        s.ok(&["network", "inspect", "-f", "{{.Id}}", "none"]),
        none_id
    );

    // A running --network none container is on the `none` network.
    s.load_busybox();
    let c = s.ok(&["run", "-d", "--network", "none", "busybox", "sleep", "60"]);
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.none.NetworkID}}",
            &c
        ]),
        none_id,
        "{who}"
    );
    s.ok(&["rm", "-f", &c]);

    // The first user-defined network keeps the two IDs.
    s.ok(&["network", "create", "--subnet", subnet, "hnp-first"]);
    let ls = s.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert_eq!(ls, "hnp-first bridge\nhost host\nnone null", "{who}");
    assert_eq!(
        s.ok(&["network", "inspect", "-f", "{{.Id}}", "none"]),
        none_id
    );
    assert_eq!(
        s.ok(&["network", "inspect", "-f", "{{.Id}}", "host"]),
        host_id
    );
    let custom = s.ok(&[
        "network",
        "ls",
        "--filter",
        "type=custom",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(custom, "hnp-first", "{who}");
    s.ok(&["network", "rm", "hnp-first"]);
    assert_eq!(s.ok(&["network", "ls", "-q"]), ids, "{who}");
}

#[test]
fn predefined_networks_without_bridge_as_dockerd() {
    let mut s = Side::Docker(Dockerd::start());
    predefined_networks_without_bridge(&mut s, "10.176.1.0/24");
    drop(s);

    let tag = "hnpa";
    let mut s = Side::Berth(berthd_no_bridge(tag));
    // Listing made nothing on the host: no nft table, no veth.
    let _ = s.ok(&["network", "ls"]);
    assert!(!sh("nft list tables").contains(&format!("berth-{tag}")));
    predefined_networks_without_bridge(&mut s, "10.176.2.0/24");
    let Side::Berth(d) = s else { unreachable!() };
    // The state file holds the two networks only, and a restart on it
    // opens no controller (no nft table).
    let st: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.root().join("network/network-state.json")).expect("state"),
    )
    .expect("json");
    assert_eq!(st["endpoints"].as_object().map(|m| m.len()), Some(0));
    let mut d = d;
    assert_eq!(d.stop(), 0);
    d.spawn();
    assert!(
        !sh("nft list tables").contains(&format!("berth-{tag}")),
        "a restart without networks opened the nft tables"
    );
    assert!(berth_testutil::links_containing(&format!("{tag}v")).is_empty());
    d.finish();
}

fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// What a start that failed on networking leaves: the container as
/// created (State, `ps -a`), no endpoint on the network.
fn assert_left_created(s: &Side, name: &str, net: &str, msg: &str) {
    let who = s.name();
    let st = s.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}}|{{.State.Running}}|{{.State.Pid}}|{{.State.ExitCode}}|{{.State.StartedAt}}|{{.State.FinishedAt}}",
        name,
    ]);
    assert_eq!(
        st, "created|false|0|128|0001-01-01T00:00:00Z|0001-01-01T00:00:00Z",
        "{who}"
    );
    let err = s.ok(&["inspect", "-f", "{{.State.Error}}", name]);
    assert!(
        err.starts_with(&format!(
            "driver failed programming external connectivity on endpoint {name} ("
        )) && err.contains(msg),
        "{who}: {err}"
    );
    let ps = s.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Names}}|{{.Status}}|{{.Ports}}",
    ]);
    assert_eq!(ps, format!("{name}|Created|"), "{who}");
    assert_eq!(
        s.ok(&["network", "inspect", "-f", "{{json .Containers}}", net]),
        "{}",
        "{who}: endpoint left on {net}"
    );
    if let Side::Berth(_) = s {
        // Nothing of the started runtime container is left either.
        let id = s.ok(&["inspect", "-f", "{{.Id}}", name]);
        assert!(
            eventually(10, || berth_testutil::cgroups_containing(&id).is_empty()
                && berth_testutil::processes_containing(&id).is_empty()
                && berth_testutil::mounts_containing(&id).is_empty()),
            "left: cgroups {:?} processes {:?} mounts {:?}",
            berth_testutil::cgroups_containing(&id),
            berth_testutil::processes_containing(&id),
            berth_testutil::mounts_containing(&id)
        );
    }
}

/// `run -p` and `start` of a container whose host port is taken (by
/// another program, by another container): the CLI's error and exit code,
/// and the container stays created with dockerd's State fields; once the
/// port is free it starts.
fn start_failing_on_a_port_leaves_it_created(s: &Side, subnet: &str) {
    let who = s.name();
    s.load_busybox();
    s.ok(&["network", "create", "--subnet", subnet, "hnp-pf"]);
    // A port another program listens on.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let hp = holder.local_addr().expect("addr").port();
    let o = s.docker(&[
        "run",
        "-d",
        "--name",
        "hnp-pf1",
        "--network",
        "hnp-pf",
        "-p",
        &format!("{hp}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(o.status.code(), Some(125), "{who}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("Error response from daemon: driver failed programming external connectivity on endpoint hnp-pf1 (")
            && err.contains(&hp.to_string()),
        "{who}: {err}"
    );
    assert_left_created(s, "hnp-pf1", "hnp-pf", &hp.to_string());
    let (code, err) = s.fails(&["start", "hnp-pf1"]);
    assert_eq!(code, 1, "{who}");
    assert!(
        err.contains("driver failed programming external connectivity on endpoint hnp-pf1 (")
            && err.contains("Error: failed to start containers: hnp-pf1"),
        "{who}: {err}"
    );
    assert_left_created(s, "hnp-pf1", "hnp-pf", &hp.to_string());
    drop(holder);
    s.ok(&["start", "hnp-pf1"]);
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}",
            "hnp-pf1"
        ]),
        "running 0",
        "{who}"
    );
    s.ok(&["rm", "-f", "hnp-pf1"]);

    // A port another container has.
    let pt = free_tcp_port();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "hnp-pf2",
        "--network",
        "hnp-pf",
        "-p",
        &format!("{pt}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    let o = s.docker(&[
        "run",
        "-d",
        "--name",
        "hnp-pf3",
        "--network",
        "hnp-pf",
        "-p",
        &format!("{pt}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(o.status.code(), Some(125), "{who}: {}", stderr(&o));
    let msg = format!("Bind for 0.0.0.0:{pt} failed: port is already allocated");
    assert!(stderr(&o).contains(&msg), "{who}: {}", stderr(&o));
    let st = s.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "hnp-pf3",
    ]);
    assert_eq!(st, "created 128", "{who}");
    let err = s.ok(&["inspect", "-f", "{{.State.Error}}", "hnp-pf3"]);
    assert!(err.ends_with(&msg), "{who}: {err}");
    // Only the first container's endpoint is on the network.
    let eps = s.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "hnp-pf",
    ]);
    assert_eq!(eps.trim(), "hnp-pf2", "{who}");
    // --rm: a container that cannot start is removed, as dockerd does.
    let o = s.docker(&[
        "run",
        "--rm",
        "--name",
        "hnp-pf4",
        "--network",
        "hnp-pf",
        "-p",
        &format!("{pt}:80"),
        "busybox",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125), "{who}: {}", stderr(&o));
    assert!(stderr(&o).contains(&msg), "{who}: {}", stderr(&o));
    assert!(
        eventually(10, || !s.docker(&["inspect", "hnp-pf4"]).status.success()),
        "{who}: --rm container left"
    );
    s.ok(&["rm", "-f", "hnp-pf2", "hnp-pf3"]);
    s.ok(&["network", "rm", "hnp-pf"]);
}

#[test]
fn start_failing_on_networking_leaves_it_created_as_dockerd() {
    let s = Side::Docker(Dockerd::start());
    start_failing_on_a_port_leaves_it_created(&s, "10.176.11.0/24");
    drop(s);

    let tag = "hnpb";
    let s = Side::Berth(berthd_no_bridge(tag));
    start_failing_on_a_port_leaves_it_created(&s, "10.176.12.0/24");
    let Side::Berth(d) = s else { unreachable!() };
    // Nothing half-made: no veth, endpoint, lease or DNAT rule.
    let st: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.root().join("network/network-state.json")).expect("state"),
    )
    .expect("json");
    assert_eq!(
        st["endpoints"].as_object().map(|m| m.len()),
        Some(0),
        "{st}"
    );
    assert!(
        eventually(10, || berth_testutil::links_containing(&format!("{tag}v"))
            .is_empty()),
        "leaked veths"
    );
    let rules = sh(&format!("nft list table ip berth-{tag}-nat 2>&1"));
    assert!(!rules.contains("dnat to"), "leaked DNAT rules: {rules}");
    d.finish();
}

fn subnet_of(s: &Side, net: &str) -> String {
    s.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
        net,
    ])
}

/// An interface (a bridge without ports: this kernel has no `dummy`) with
/// an address, so the host has a route to its subnet; deleted on drop.
struct Dummy(String);

impl Dummy {
    fn new(name: &str, addr: &str) -> Dummy {
        let _ = Command::new("ip").args(["link", "del", name]).output();
        for args in [
            vec!["link", "add", name, "type", "bridge"],
            vec!["addr", "add", addr, "dev", name],
            vec!["link", "set", name, "up"],
        ] {
            let o = Command::new("ip").args(&args).output().expect("ip");
            assert!(o.status.success(), "ip {args:?}: {}", stderr(&o));
        }
        Dummy(name.into())
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

/// `network create` without `--subnet` over `--default-address-pool
/// base=10.177.0.0/16,size=18` (four subnets): dockerd's order, round
/// robin past a removed network's subnet, a subnet the host routes is
/// skipped, exhaustion in dockerd's words, the gateway is the first host.
fn default_pool_allocation(s: &Side) {
    let who = s.name();
    s.ok(&["network", "create", "hnp-a"]);
    assert_eq!(subnet_of(s, "hnp-a"), "10.177.0.0/18 10.177.0.1", "{who}");
    s.ok(&["network", "create", "hnp-b"]);
    assert_eq!(subnet_of(s, "hnp-b"), "10.177.64.0/18 10.177.64.1", "{who}");
    s.ok(&["network", "rm", "hnp-a"]);
    s.ok(&["network", "create", "hnp-c"]);
    assert_eq!(
        subnet_of(s, "hnp-c"),
        "10.177.128.0/18 10.177.128.1",
        "{who}"
    );
    let dummy = Dummy::new("hnpdum0", "10.177.200.1/24");
    s.ok(&["network", "create", "hnp-d"]);
    assert_eq!(subnet_of(s, "hnp-d"), "10.177.0.0/18 10.177.0.1", "{who}");
    let (code, err) = s.fails(&["network", "create", "hnp-e"]);
    assert_eq!(code, 1, "{who}");
    assert!(
        err.contains("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"),
        "{who}: {err}"
    );
    assert!(!s
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains("hnp-e"));
    drop(dummy);
    s.ok(&["network", "create", "hnp-e"]);
    assert_eq!(
        subnet_of(s, "hnp-e"),
        "10.177.192.0/18 10.177.192.1",
        "{who}"
    );
    // An explicit subnet inside the pool is taken too.
    s.ok(&["network", "rm", "hnp-b"]);
    let (_, err) = s.fails(&["network", "create", "--subnet", "10.177.0.0/24", "hnp-f"]);
    assert!(
        err.contains("Pool overlaps with other one on this address space"),
        "{who}: {err}"
    );
    s.ok(&["network", "create", "--subnet", "10.177.64.0/24", "hnp-f"]);
    let (_, err) = s.fails(&["network", "create", "hnp-g"]);
    assert!(err.contains("could not find an available"), "{who}: {err}");
    for n in ["hnp-c", "hnp-d", "hnp-e", "hnp-f"] {
        s.ok(&["network", "rm", n]);
    }
}

/// `a.b.c.d/n` as (network address, prefix length).
fn cidr(s: &str) -> Option<(u32, u32)> {
    let (a, n) = s.split_once('/')?;
    let a: std::net::Ipv4Addr = a.parse().ok()?;
    let n: u32 = n.parse().ok()?;
    let mask = if n == 0 { 0 } else { u32::MAX << (32 - n) };
    Some((u32::from(a) & mask, n))
}

fn cidr_overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let n = a.1.min(b.1);
    let mask = if n == 0 { 0 } else { u32::MAX << (32 - n) };
    a.0 & mask == b.0 & mask
}

/// The first subnet of Docker's default pools (172.17.0.0/16 .. 172.31.0.0/16,
/// then 192.168.0.0/16 as /20s) that no host route overlaps.
fn first_unrouted_default() -> String {
    let routes = sh("ip -4 route show table main");
    let routed: Vec<(u32, u32)> = routes
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(cidr)
        .collect();
    let mut cands: Vec<String> = (17..=31).map(|b| format!("172.{b}.0.0/16")).collect();
    cands.extend((0..16).map(|k| format!("192.168.{}.0/20", k * 16)));
    cands
        .into_iter()
        .find(|c| {
            let c = cidr(c).expect("cidr");
            !routed.iter().any(|r| cidr_overlaps(*r, c))
        })
        .expect("a free default subnet")
}

#[test]
fn network_create_takes_subnets_as_dockerd() {
    let pool = "base=10.177.0.0/16,size=18";
    let s = Side::Docker(Dockerd::start_with(&["--default-address-pool", pool]));
    default_pool_allocation(&s);
    drop(s);
    let s = Side::Berth(berthd_no_bridge_pool("hnpc", pool));
    default_pool_allocation(&s);
    let Side::Berth(d) = s else { unreachable!() };
    d.finish();

    // Docker's own default pools: the first one the host does not route.
    for kind in ["dockerd", "berthd"] {
        let s = match kind {
            "dockerd" => Side::Docker(Dockerd::start()),
            _ => Side::Berth(berthd_no_bridge_pool("hnpc", "")),
        };
        let want = first_unrouted_default();
        s.ok(&["network", "create", "hnp-dflt"]);
        let got = subnet_of(&s, "hnp-dflt");
        assert_eq!(got.split(' ').next(), Some(want.as_str()), "{kind}: {got}");
        s.ok(&["network", "rm", "hnp-dflt"]);
        if let Side::Berth(d) = s {
            d.finish();
        }
    }
}

/// The host's address on its default route.
fn host_ip() -> String {
    let r = sh("ip -4 route get 1.1.1.1");
    r.split_whitespace()
        .skip_while(|w| *w != "src")
        .nth(1)
        .expect("host has a source address")
        .to_string()
}

/// Hairpin: a container reaches its own published port, and another
/// container on its network reaches it, through the host's address.
fn hairpin(s: &Side, subnet: &str) {
    let who = s.name();
    s.load_busybox();
    s.ok(&["network", "create", "--subnet", subnet, "hnp-hp"]);
    let pt = free_tcp_port();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "hnp-hp1",
        "--network",
        "hnp-hp",
        "-p",
        &format!("{pt}:80"),
        "busybox",
        "sh",
        "-c",
        "while true; do echo hairpin-ok | nc -l -p 80; done",
    ]);
    let ip = host_ip();
    let probe =
        format!("for i in 1 2 3 4 5; do echo | nc -w 3 {ip} {pt} && exit 0; sleep 1; done; exit 1");
    let own = s.ok(&["exec", "hnp-hp1", "sh", "-c", &probe]);
    assert!(own.contains("hairpin-ok"), "{who}: {own}");
    let other = s.ok(&[
        "run",
        "--rm",
        "--network",
        "hnp-hp",
        "busybox",
        "sh",
        "-c",
        &probe,
    ]);
    assert!(other.contains("hairpin-ok"), "{who}: {other}");
    s.ok(&["rm", "-f", "hnp-hp1"]);
    s.ok(&["network", "rm", "hnp-hp"]);
}

#[test]
fn hairpin_to_own_published_port_as_dockerd() {
    let s = Side::Docker(Dockerd::start());
    hairpin(&s, "10.176.21.0/24");
    drop(s);
    let tag = "hnpd";
    let s = Side::Berth(berthd_no_bridge(tag));
    hairpin(&s, "10.176.22.0/24");
    let Side::Berth(d) = s else { unreachable!() };
    assert!(
        eventually(10, || berth_testutil::links_containing(&format!("{tag}v"))
            .is_empty()),
        "leaked veths"
    );
    let rules = sh(&format!("nft list table ip berth-{tag}-nat 2>&1"));
    assert!(!rules.contains("dnat to"), "leaked DNAT rules: {rules}");
    d.finish();
}
