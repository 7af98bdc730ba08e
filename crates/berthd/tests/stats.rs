//! `docker stats` and `docker update` against berthd with real containers:
//! the stats JSON shape (v1/hybrid or v2 host), streaming, stopped
//! containers, live limits in the container's cgroup files, the pids limit
//! stopping a fork bomb, persistence across a daemon restart, dockerd's
//! errors, and docker-py's `stats()`/`update()`.

mod common;
use common::*;

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn v2_host() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A file of the container's cgroup (`/berth/<id>`) for v1 `controller`,
/// or in the unified hierarchy on a v2 host.
fn cg_file(controller: &str, id: &str, file: &str) -> PathBuf {
    if v2_host() {
        PathBuf::from(format!("/sys/fs/cgroup/berth/{id}/{file}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/{controller}/berth/{id}/{file}"))
    }
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

fn stats_json(d: &Daemon, id: &str, query: &str) -> Value {
    let (st, head, body) = d.http("GET", &format!("/containers/{id}/stats?{query}"), b"");
    assert_eq!(st, 200, "{head} {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("stats JSON")
}

/// The first `n` objects of a streamed `GET /containers/{id}/stats`.
fn stream_objects(d: &Daemon, id: &str, n: usize) -> Vec<Value> {
    let mut s = UnixStream::connect(&d.sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET /v1.47/containers/{id}/stats HTTP/1.1\r\nHost: berth\r\n\r\n"
    )
    .expect("write");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let objs: Vec<Value> = String::from_utf8_lossy(&raw)
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if objs.len() >= n {
            return objs;
        }
        assert!(
            Instant::now() < deadline,
            "{n} stats objects not streamed in 15s: {:?}",
            String::from_utf8_lossy(&raw)
        );
        match s.read(&mut buf) {
            Ok(0) => panic!("stream ended: {:?}", String::from_utf8_lossy(&raw)),
            Ok(k) => raw.extend_from_slice(&buf[..k]),
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[test]
fn stats_json_stream_and_stopped_as_dockerd() {
    let d = Daemon::start();
    d.load_busybox();
    let id = d.ok(&["run", "-d", "--name", "st1", "busybox", "sleep", "300"]);
    let v = stats_json(&d, &id, "stream=false");
    assert_eq!(
        keys(&v),
        [
            "blkio_stats",
            "cpu_stats",
            "id",
            "memory_stats",
            "name",
            "num_procs",
            "pids_stats",
            "precpu_stats",
            "preread",
            "read",
            "storage_stats"
        ],
        "{v}"
    );
    assert_eq!(v["name"], "/st1");
    assert_eq!(v["id"], id.as_str());
    // stream=false waits for a second sample: precpu is filled, 1 s before.
    assert_ne!(v["preread"], "0001-01-01T00:00:00Z", "{v}");
    assert!(v["precpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    let cpu = &v["cpu_stats"];
    assert!(cpu["cpu_usage"]["total_usage"].as_u64().unwrap() > 0, "{v}");
    assert!(cpu["system_cpu_usage"].as_u64().unwrap() > 0);
    assert!(cpu["online_cpus"].as_u64().unwrap() >= 1);
    assert_eq!(
        keys(&cpu["throttling_data"]),
        ["periods", "throttled_periods", "throttled_time"]
    );
    assert_eq!(v["pids_stats"]["current"], 1, "{v}");
    let mem = &v["memory_stats"];
    assert!(mem["usage"].as_u64().unwrap() > 0, "{v}");
    assert!(mem["limit"].as_u64().unwrap() > 0);
    let blkio = &v["blkio_stats"];
    // v2: null while io.stat is empty, as dockerd sends it.
    assert!(
        blkio["io_service_bytes_recursive"].is_array()
            || (v2_host() && blkio["io_service_bytes_recursive"].is_null()),
        "{v}"
    );
    if v2_host() {
        assert!(mem["stats"].get("inactive_file").is_some(), "{v}");
        assert!(mem.get("max_usage").is_none());
        assert!(cpu["cpu_usage"].get("percpu_usage").is_none());
    } else {
        assert!(mem["stats"].get("total_inactive_file").is_some(), "{v}");
        assert!(mem["max_usage"].as_u64().unwrap() > 0);
        assert!(cpu["cpu_usage"]["percpu_usage"].is_array());
        assert!(blkio["sectors_recursive"].is_array());
    }
    // -b none: no endpoints, no networks key (as dockerd for `none`).
    assert!(v.get("networks").is_none());

    // one-shot: at once, empty precpu.
    let t = Instant::now();
    let v = stats_json(&d, &id, "stream=false&one-shot=true");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(v["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(v["precpu_stats"]["cpu_usage"]["total_usage"], 0);
    let (st, _, body) = d.http(
        "GET",
        &format!("/containers/{id}/stats?stream=1&one-shot=1"),
        b"",
    );
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));

    // stream: one a second, the first with empty precpu, the next with
    // the first's figures.
    let objs = stream_objects(&d, &id, 2);
    assert_eq!(objs[0]["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(objs[1]["preread"], objs[0]["read"]);
    assert_eq!(objs[1]["precpu_stats"], objs[0]["cpu_stats"]);

    // A created container: dockerd's zero sample.
    let cid = d.ok(&["create", "--name", "st2", "busybox", "true"]);
    let z = stats_json(&d, &cid, "stream=false");
    assert_eq!(z["read"], "0001-01-01T00:00:00Z");
    assert_eq!(z["memory_stats"], serde_json::json!({}));
    assert_eq!(z["pids_stats"], serde_json::json!({}));
    assert!(z["blkio_stats"]["io_service_bytes_recursive"].is_null());
    assert_eq!(z["name"], "/st2");
    let (st, _, body) = d.http("GET", "/containers/nosuch/stats?stream=false", b"");
    assert_eq!(st, 404);
    assert!(String::from_utf8_lossy(&body).contains("No such container: nosuch"));

    // The docker CLI reads it.
    let out = d.ok(&["stats", "--no-stream", "--all"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    let row = lines.iter().find(|l| l.contains("st1")).expect("st1 row");
    assert!(row.starts_with(&id[..12]), "{out}");
    assert!(row.trim_end().ends_with(" 1"), "{out}");
    let row2 = lines.iter().find(|l| l.contains("st2")).expect("st2 row");
    assert!(row2.contains("0B / 0B"), "{out}");
    d.finish();
}

#[test]
fn update_applies_live_persists_and_limits_pids() {
    let d = {
        let mut d = Daemon::start();
        d.load_busybox();
        let id = d.ok(&[
            "run", "-d", "--name", "up1", "-m", "32m", "busybox", "sleep", "300",
        ]);
        // docker's own command line.
        let out = d.ok(&[
            "update",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "up1",
        ]);
        assert_eq!(out, "up1");
        if v2_host() {
            assert_eq!(read(&cg_file("memory", &id, "memory.max")), "67108864");
            assert_eq!(read(&cg_file("cpu", &id, "cpu.max")), "50000 100000");
        } else {
            assert_eq!(
                read(&cg_file("memory", &id, "memory.limit_in_bytes")),
                "67108864"
            );
            assert_eq!(
                read(&cg_file("memory", &id, "memory.memsw.limit_in_bytes")),
                "67108864"
            );
            assert_eq!(read(&cg_file("cpu", &id, "cpu.cfs_quota_us")), "50000");
            assert_eq!(read(&cg_file("cpu", &id, "cpu.cfs_period_us")), "100000");
        }
        assert_eq!(read(&cg_file("pids", &id, "pids.max")), "20");
        let hc = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}";
        assert_eq!(
            d.ok(&["inspect", "-f", hc, "up1"]),
            "67108864 67108864 500000000 20"
        );
        let v = stats_json(&d, &id, "stream=false&one-shot=true");
        assert_eq!(v["memory_stats"]["limit"], 67108864);
        assert_eq!(v["pids_stats"]["limit"], 20);

        // A fork bomb stops at the limit.
        let o = d.docker(&[
            "exec",
            "up1",
            "sh",
            "-c",
            // the sleeps must not hold the exec's output open
            "i=0; while [ $i -lt 60 ]; do sleep 120 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; echo spawned",
        ]);
        let err = stderr(&o);
        assert!(
            err.contains("fork") || err.contains("Resource temporarily unavailable"),
            "no fork refused: {err} {}",
            stdout(&o)
        );
        let current: u64 = read(&cg_file("pids", &id, "pids.current")).parse().unwrap();
        assert!(current <= 20, "pids.current {current}");
        let events = read(&cg_file("pids", &id, "pids.events"));
        assert!(events.starts_with("max ") && events != "max 0", "{events}");

        // dockerd's errors, nothing changed by them.
        let o = d.docker(&["update", "--memory", "4m", "up1"]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stderr(&o).trim(),
            "Error response from daemon: Minimum memory limit allowed is 6MB"
        );
        let o = d.docker(&["update", "--cpu-period", "50000", "up1"]);
        assert_eq!(stderr(&o).trim(), format!("Error response from daemon: Cannot update container {id}: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"));
        let o = d.docker(&["update", "--cpuset-cpus", "999", "up1"]);
        assert!(
            stderr(&o).contains("Requested CPUs are not available - requested 999, available: "),
            "{}",
            stderr(&o)
        );
        let o = d.docker(&["update", "up1"]);
        assert_eq!(
            stderr(&o).trim(),
            "you must provide one or more flags when using this command"
        );
        let free = d.ok(&["run", "-d", "--name", "up2", "busybox", "sleep", "300"]);
        let o = d.docker(&["update", "--memory", "64m", "up2"]);
        assert_eq!(stderr(&o).trim(), format!("Error response from daemon: Cannot update container {free}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
        d.ok(&[
            "update",
            "--memory",
            "64m",
            "--memory-swap",
            "-1",
            "--restart",
            "on-failure:3",
            "up2",
        ]);
        assert_eq!(
            d.ok(&["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "up2"]),
            "67108864 -1 on-failure:3"
        );
        assert_eq!(
            d.ok(&["inspect", "-f", hc, "up1"]),
            "67108864 67108864 500000000 20"
        );

        // A stopped container keeps the update for its next start.
        let sid = d.ok(&["create", "--name", "up3", "busybox", "sleep", "300"]);
        d.ok(&[
            "update",
            "--memory",
            "48m",
            "--memory-swap",
            "96m",
            "--pids-limit",
            "30",
            "up3",
        ]);
        d.ok(&["start", "up3"]);
        let mem_file = if v2_host() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        assert_eq!(
            read(&cg_file("memory", &sid, mem_file)),
            (48u64 << 20).to_string()
        );
        assert_eq!(read(&cg_file("pids", &sid, "pids.max")), "30");

        // The update survives a daemon restart.
        assert_eq!(d.stop(), 0);
        d.spawn();
        assert_eq!(
            d.ok(&["inspect", "-f", hc, "up1"]),
            "67108864 67108864 500000000 20"
        );
        assert_eq!(
            d.ok(&["inspect", "-f", "{{.State.Running}}", "up1"]),
            "true"
        );
        d
    };
    d.finish();
}

#[test]
fn docker_py_stats_and_update() {
    let d = Daemon::start();
    d.docker_py("docker_py_stats.py");
    d.finish();
}
