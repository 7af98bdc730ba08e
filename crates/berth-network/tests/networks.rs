//! Network lifecycle and validation with real bridges, veths and nft rules.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use berth_network::*;
use common::*;

fn req(name: &str, subnet: Option<&str>, gw: Option<&str>) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.into(),
        ipam_config: vec![IpamConfigRequest {
            subnet: subnet.map(Into::into),
            gateway: gw.map(Into::into),
            ip_range: None,
        }],
        ..Default::default()
    }
}

#[test]
fn create_inspect_validate_connect_remove_prune() {
    berth_testutil::require_root();
    let tag = "bq1";
    let dir = berth_testutil::tempdir();
    let c = Ctl::new(NetworkController::open(dir.path(), cfg(tag, 1)).unwrap());

    // Pre-defined networks.
    let names: Vec<String> = c.list().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    let br = c.inspect("bridge").unwrap();
    assert_eq!(br.ipam.config[0].subnet, "10.201.0.0/24");
    assert_eq!(br.ipam.config[0].gateway, "10.201.0.1");
    assert!(
        berth_testutil::links_containing("bq1br0").len() == 1,
        "default bridge made"
    );

    // A user-defined network with every option.
    let mut r = req("bq1-net", Some("10.201.8.0/24"), Some("10.201.8.254"));
    r.ipam_config[0].ip_range = Some("10.201.8.128/25".into());
    r.labels.insert("team".into(), "net".into());
    r.options
        .insert("com.docker.network.bridge.name".into(), "bq1user".into());
    let n = c.create(&r).unwrap();
    let j = serde_json::to_value(&n).unwrap();
    assert_eq!(j["Name"], "bq1-net");
    assert_eq!(j["Scope"], "local");
    assert_eq!(j["Driver"], "bridge");
    assert_eq!(j["IPAM"]["Driver"], "default");
    assert_eq!(j["IPAM"]["Config"][0]["Subnet"], "10.201.8.0/24");
    assert_eq!(j["IPAM"]["Config"][0]["Gateway"], "10.201.8.254");
    assert_eq!(j["IPAM"]["Config"][0]["IPRange"], "10.201.8.128/25");
    assert_eq!(j["Labels"]["team"], "net");
    assert_eq!(j["Internal"], false);
    assert_eq!(j["Id"].as_str().unwrap().len(), 64);
    assert!(j["Created"].as_str().unwrap().ends_with('Z'));
    assert!(sh("ip -br addr show bq1user").contains("10.201.8.254/24"));
    let rules = sh("nft list table ip berth-bq1-nat");
    assert!(
        rules.contains("ip saddr 10.201.8.0/24 oifname != \"bq1user\" masquerade"),
        "{rules}"
    );
    assert_eq!(
        c.inspect(&n.id[..10]).unwrap().name,
        "bq1-net",
        "ID prefix lookup"
    );

    // Bad input, with Docker's wording and status, nothing half-made.
    let e = c
        .create(&req("bq1-net", Some("10.201.9.0/24"), None))
        .unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (409, "network with name bq1-net already exists".into())
    );
    let e = c
        .create(&req("bq1-b", Some("10.201.8.128/25"), None))
        .unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(
        e.to_string()
            .contains("Pool overlaps with other one on this address space"),
        "{e}"
    );
    let e = c
        .create(&req("bq1-b", Some("10.201.0.0/16"), None))
        .unwrap_err();
    assert!(
        e.to_string().contains("Pool overlaps"),
        "a supernet of the default bridge overlaps too: {e}"
    );
    let e = c
        .create(&req("bq1-b", Some("10.201.300.0/24"), None))
        .unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (400, "invalid CIDR address: 10.201.300.0/24".into())
    );
    let e = c
        .create(&req("bq1-b", Some("10.201.9.0/24"), Some("10.201.10.1")))
        .unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (400, "no matching subnet for gateway 10.201.10.1".into())
    );
    let mut bad = req("bq1-b", Some("10.201.9.0/24"), None);
    bad.options
        .insert("com.docker.network.bridge.name".into(), "bq1bad".into());
    bad.options
        .insert("com.docker.network.driver.mtu".into(), "lots".into());
    assert_eq!(c.create(&bad).unwrap_err().status(), 400);
    assert!(
        berth_testutil::links_containing("bq1bad").is_empty(),
        "no half-made bridge"
    );
    assert_eq!(c.list().len(), 4);

    // An automatic subnet comes from the default address pool.
    let auto = c
        .create(&NetworkCreateRequest {
            name: "bq1-auto".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(auto.ipam.config[0].subnet, "10.201.64.0/24");
    assert_eq!(auto.ipam.config[0].gateway, "10.201.64.1");

    // Connect a sandbox: address from the ip-range, MAC, eth0, route.
    let sb = Sandbox::new("bq1sb");
    let ep = c
        .connect(
            "bq1-net",
            &"a".repeat(64),
            &sb.path(),
            &ConnectOptions {
                container_name: "web".into(),
                aliases: vec!["www".into()],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ep.ip_address, "10.201.8.128");
    assert_eq!(ep.ip_prefix_len, 24);
    assert_eq!(ep.gateway, "10.201.8.254");
    assert_eq!(ep.mac_address, "02:42:0a:c9:08:80");
    let inside = sh("ip -n bq1sb addr show eth0");
    assert!(
        inside.contains("inet 10.201.8.128/24") && inside.contains("02:42:0a:c9:08:80"),
        "{inside}"
    );
    assert!(
        inside.contains("mtu 1500") && inside.contains(",UP"),
        "{inside}"
    );
    assert_eq!(
        sh("ip netns exec bq1sb cat /proc/sys/net/ipv6/conf/eth0/accept_dad").trim(),
        "0",
        "no DAD"
    );
    assert!(sh("ip -n bq1sb route").contains("default via 10.201.8.254 dev eth0"));
    assert!(sh(&format!("ip link show {}", ep.host_veth)).contains("master bq1user"));
    let j = serde_json::to_value(&ep).unwrap();
    assert_eq!(j["IPAddress"], "10.201.8.128");
    assert_eq!(j["EndpointID"], ep.endpoint_id.as_str());
    assert_eq!(
        j["DNSNames"],
        serde_json::json!(["web", "www", "aaaaaaaaaaaa"])
    );
    let insp = c.inspect("bq1-net").unwrap();
    assert_eq!(
        insp.containers[&"a".repeat(64)].ipv4_address,
        "10.201.8.128/24"
    );

    // Connect twice, unknown network, fixed --ip in use.
    let e = c
        .connect(
            "bq1-net",
            &"a".repeat(64),
            &sb.path(),
            &ConnectOptions::default(),
        )
        .unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (
            403,
            "endpoint with name aaaaaaaaaaaa already exists in network bq1-net".into()
        )
    );
    let e = c
        .connect("bq1-nope", "b", &sb.path(), &ConnectOptions::default())
        .unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (404, "network bq1-nope not found".into())
    );
    let sb2 = Sandbox::new("bq1sb2");
    let e = c
        .connect(
            "bq1-net",
            &"b".repeat(64),
            &sb2.path(),
            &ConnectOptions {
                ip: Some("10.201.8.128".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (400, "Address already in use: 10.201.8.128".into())
    );
    let e = c
        .connect(
            "bq1-net",
            &"b".repeat(64),
            &sb2.path(),
            &ConnectOptions {
                ip: Some("10.201.99.5".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid address 10.201.99.5: It does not belong to any of this network's subnets"
    );
    let e = c
        .connect(
            "bridge",
            &"b".repeat(64),
            &sb2.path(),
            &ConnectOptions {
                ip: Some("10.201.0.9".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.status(), 400, "--ip on the default bridge: {e}");
    let e = c
        .connect(
            "bq1-net",
            &"b".repeat(64),
            Path::new("/proc/999999999/ns/net"),
            &ConnectOptions::default(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 500, "{e}");
    assert_eq!(
        c.leases("bq1-net").unwrap().len(),
        1,
        "failed connects leave no lease"
    );
    assert_eq!(
        berth_testutil::links_containing("bq1v").len(),
        1,
        "failed connect leaves no veth"
    );
    let ep2 = c
        .connect(
            "bq1-net",
            &"b".repeat(64),
            &sb2.path(),
            &ConnectOptions {
                ip: Some("10.201.8.7".parse().unwrap()),
                mac: Some("02:00:00:00:be:01".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (ep2.ip_address.as_str(), ep2.mac_address.as_str()),
        ("10.201.8.7", "02:00:00:00:be:01")
    );
    // Second network for the same sandbox: eth1, no second default route.
    let ep3 = c
        .connect(
            "bq1-auto",
            &"b".repeat(64),
            &sb2.path(),
            &ConnectOptions::default(),
        )
        .unwrap();
    assert_eq!(ep3.interface, "eth1");
    assert_eq!(sh("ip -n bq1sb2 route show default").lines().count(), 1);

    // Remove with endpoints refuses.
    let e = c.remove("bq1-net").unwrap_err();
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.to_string(),
        format!(
            "error while removing network: network bq1-net id {} has active endpoints",
            n.id
        )
    );
    assert_eq!(c.remove("bridge").unwrap_err().status(), 403);
    // Prune keeps networks with endpoints and those `keep` protects.
    let spare = c
        .create(&req("bq1-spare", Some("10.201.12.0/24"), None))
        .unwrap();
    let pruned = c.prune(|n| n.labels.contains_key("keep")).unwrap();
    assert_eq!(pruned, vec!["bq1-spare".to_string()]);
    assert!(c.inspect(&spare.id).is_err());

    c.disconnect("bq1-net", &"a".repeat(64)).unwrap();
    assert_eq!(
        c.disconnect("bq1-net", &"a".repeat(64))
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(c.release_container(&"b".repeat(64)).unwrap(), 2);
    assert!(
        sh("ip -n bq1sb link").lines().all(|l| !l.contains("eth0")),
        "veth gone from sandbox"
    );
    assert!(c.leases("bq1-net").unwrap().is_empty());
    c.remove("bq1-net").unwrap();
    assert!(berth_testutil::links_containing("bq1user").is_empty());
    assert!(
        !sh("nft list table ip berth-bq1-nat").contains("10.201.8.0"),
        "masquerade rule removed"
    );
    let _ = BTreeMap::<String, String>::new();
    c.teardown().unwrap();
    drop((sb, sb2));
    assert_no_leaks(tag, "berth-bq1", 1);
}
