//! Root integration tests on the host's real cgroup hierarchies (this
//! machine: hybrid, v1 controllers plus /sys/fs/cgroup/unified).
//! Every test uses a unique name and asserts no cgroup dir or process leaks.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_cgroups::{Cgroup, Error, Layout, UNIFIED};
use berth_testutil::{cgroups_containing, processes_containing, require_root};
use oci_spec::runtime::LinuxResources;

fn unique(tag: &str) -> String {
    format!(
        "bcgt-{tag}-{}",
        berth_types::short_id(&berth_types::new_id())
    )
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources JSON")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Spawns `sh -c script` that first blocks on a line from stdin, so it can
/// be moved into the cgroup before doing anything. `tag` goes into argv so
/// leak checks can find it.
fn spawn_gated(script: &str, tag: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _gate; {script}"))
        .arg(tag)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

fn release(child: &mut Child) {
    child
        .stdin
        .as_mut()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("release gate");
}

/// Waits for the child with a bound; kills it on timeout and panics.
fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes, when a test panics before its own `destroy`, every cgroup
/// directory whose path contains the test's unique name (deepest first), so
/// a failed assertion does not leave directories behind for later runs.
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut dirs = cgroups_containing(&self.0);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(&d);
        }
    }
}

fn assert_clean(name: &str) {
    let left = cgroups_containing(name);
    assert!(left.is_empty(), "cgroup dirs leaked: {left:?}");
    let procs = processes_containing(name);
    assert!(procs.is_empty(), "processes leaked: {procs:?}");
}

/// An absolute cgroupsPath unique to the test (a shared parent would
/// outlive the tests whenever two of them overlap).
fn abs(name: &str) -> String {
    format!("/{name}/ctr")
}

#[test]
fn create_apply_destroy_in_every_hierarchy() {
    require_root();
    let name = unique("basic");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    assert_eq!(cg.layout(), Layout::Hybrid, "this machine is hybrid");
    for key in [
        "memory",
        "cpu",
        "cpuacct",
        "cpuset",
        "pids",
        "freezer",
        "devices",
        "blkio",
        "name=systemd",
        UNIFIED,
    ] {
        let p = cg
            .path_of(key)
            .unwrap_or_else(|| panic!("no path for {key:?}"));
        assert!(p.ends_with(format!("{name}/ctr")), "{key}: {}", p.display());
    }
    cg.create().unwrap();
    cg.create().unwrap(); // idempotent
    for p in cg.paths().values() {
        assert!(p.is_dir(), "{} missing", p.display());
    }
    // cpuset inherited from the parent, not empty.
    let cpuset = cg.path_of("cpuset").unwrap();
    assert!(!read(&cpuset.join("cpuset.cpus")).is_empty());
    assert!(!read(&cpuset.join("cpuset.mems")).is_empty());

    let mut child = spawn_gated("sleep 30", &name);
    let pid = child.id() as i32;
    cg.apply(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in own.lines() {
        assert!(line.ends_with(&format!("/{name}/ctr")), "not moved: {line}");
    }
    cg.kill_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    let st = wait_bounded(&mut child, Duration::from_secs(10));
    assert!(!st.success());
    cg.destroy().unwrap();
    for p in cg.paths().values() {
        assert!(!p.exists(), "{} still there", p.display());
    }
    assert_clean(&name);
}

#[test]
fn default_and_relative_paths_resolve_like_runc() {
    require_root();
    let name = unique("paths");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new("", &name).unwrap();
    assert_eq!(
        cg.path_of("pids").unwrap(),
        Path::new(&format!("/sys/fs/cgroup/pids/berth-runc/{name}"))
    );
    assert_eq!(
        cg.path_of(UNIFIED).unwrap(),
        Path::new(&format!("/sys/fs/cgroup/unified/berth-runc/{name}"))
    );

    // Relative: under our own cgroup in each hierarchy.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mem_own = own
        .lines()
        .find(|l| l.split(':').nth(1) == Some("memory"))
        .unwrap()
        .splitn(3, ':')
        .nth(2)
        .unwrap();
    let rel = format!("rel/{name}");
    let cg = Cgroup::new(&rel, &name).unwrap();
    let want = Path::new("/sys/fs/cgroup/memory")
        .join(mem_own.trim_start_matches('/'))
        .join(&rel);
    assert_eq!(cg.path_of("memory").unwrap(), want);

    assert!(matches!(
        Cgroup::new("/../../x", &name),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        Cgroup::new("machine.slice:berth:x", &name),
        Err(Error::SystemdPath(_))
    ));
    assert!(matches!(
        Cgroup::load(&abs(&name), &name),
        Err(Error::NotFound(_))
    ));

    // The default path's parent is removed with the container when empty.
    let cg = Cgroup::new("", &name).unwrap();
    cg.create().unwrap();
    let loaded = Cgroup::load("", &name).unwrap();
    assert_eq!(loaded.paths(), cg.paths());
    loaded.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn memory_limits_v1() {
    require_root();
    let name = unique("mem");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    let r = resources(
        r#"{"memory":{"limit":67108864,"reservation":33554432,"swap":134217728,"swappiness":10,"kernelTCP":16777216}}"#,
    );
    cg.set(&r).unwrap();
    let m = cg.path_of("memory").unwrap();
    assert_eq!(read(&m.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(&m.join("memory.soft_limit_in_bytes")), "33554432");
    assert_eq!(read(&m.join("memory.memsw.limit_in_bytes")), "134217728");
    assert_eq!(read(&m.join("memory.swappiness")), "10");
    assert_eq!(read(&m.join("memory.kmem.tcp.limit_in_bytes")), "16777216");
    // Lowering both: limit first, then memsw, keeps memsw >= limit.
    cg.set(&resources(
        r#"{"memory":{"limit":33554432,"swap":33554432}}"#,
    ))
    .unwrap();
    assert_eq!(read(&m.join("memory.limit_in_bytes")), "33554432");
    assert_eq!(read(&m.join("memory.memsw.limit_in_bytes")), "33554432");
    // Raising both: memsw first.
    cg.set(&resources(
        r#"{"memory":{"limit":100663296,"swap":201326592}}"#,
    ))
    .unwrap();
    assert_eq!(read(&m.join("memory.limit_in_bytes")), "100663296");
    assert_eq!(read(&m.join("memory.memsw.limit_in_bytes")), "201326592");
    // Unlimited.
    cg.set(&resources(r#"{"memory":{"limit":-1,"swap":-1}}"#))
        .unwrap();
    assert_eq!(cg.stats().unwrap().memory.limit, None);
    // swap < limit is refused, naming the field.
    let e = cg
        .set(&resources(
            r#"{"memory":{"limit":100663296,"swap":1048576}}"#,
        ))
        .unwrap_err();
    assert!(e.to_string().contains("memory.swap"), "{e}");
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn oom_kill_is_counted_and_exit_is_sigkill() {
    require_root();
    let name = unique("oom");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    cg.set(&resources(
        r#"{"memory":{"limit":16777216,"swap":16777216}}"#,
    ))
    .unwrap();
    assert_eq!(cg.oom_kill_count().unwrap(), 0);
    // `tail` of an endless newline-free stream keeps it all in memory.
    let mut child = spawn_gated("exec tail /dev/zero", &name);
    cg.apply(child.id() as i32).unwrap();
    release(&mut child);
    let st = wait_bounded(&mut child, Duration::from_secs(30));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        st.signal(),
        Some(9),
        "expected SIGKILL from the OOM killer, got {st:?}"
    );
    assert!(cg.oom_kill_count().unwrap() >= 1);
    assert!(cg.stats().unwrap().oom_kills >= 1);
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn cpu_and_cpuset_v1() {
    require_root();
    let name = unique("cpu");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    cg.set(&resources(
        r#"{"cpu":{"shares":512,"quota":10000,"period":100000,"cpus":"0","mems":"0"}}"#,
    ))
    .unwrap();
    let c = cg.path_of("cpu").unwrap();
    assert_eq!(read(&c.join("cpu.shares")), "512");
    assert_eq!(read(&c.join("cpu.cfs_quota_us")), "10000");
    assert_eq!(read(&c.join("cpu.cfs_period_us")), "100000");
    let s = cg.path_of("cpuset").unwrap();
    assert_eq!(read(&s.join("cpuset.cpus")), "0");
    assert_eq!(read(&s.join("cpuset.mems")), "0");

    // A process inside is pinned to CPU 0 and throttled.
    // 10% of one CPU: the ~0.15 s busy loop is throttled even on a loaded host.
    let mut child = spawn_gated("grep Cpus_allowed_list /proc/self/status; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done", &name);
    cg.apply(child.id() as i32).unwrap();
    release(&mut child);
    let st = wait_bounded(&mut child, Duration::from_secs(60));
    assert!(st.success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("Cpus_allowed_list:\t0\n"), "{out:?}");
    let stats = cg.stats().unwrap();
    assert!(stats.cpu.usage_ns > 0, "{stats:?}");
    assert!(
        stats.cpu.nr_periods > 0 && stats.cpu.nr_throttled > 0,
        "{stats:?}"
    );
    assert!(!stats.cpu.percpu_ns.is_empty(), "{stats:?}");

    // An impossible cpuset names the file.
    let e = cg.set(&resources(r#"{"cpu":{"cpus":"97"}}"#)).unwrap_err();
    assert!(e.to_string().contains("cpuset.cpus"), "{e}");
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn pids_limit_is_enforced() {
    require_root();
    let name = unique("pids");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    cg.set(&resources(r#"{"pids":{"limit":4}}"#)).unwrap();
    let p = cg.path_of("pids").unwrap();
    assert_eq!(read(&p.join("pids.max")), "4");
    let mut child = spawn_gated(
        "for i in 1 2 3 4 5 6; do sleep 20 & done; sleep 0.2; echo done",
        &name,
    );
    cg.apply(child.id() as i32).unwrap();
    release(&mut child);
    let start = Instant::now();
    while !read(&p.join("pids.events")).ends_with(|c: char| c != '0')
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = read(&p.join("pids.events"));
    assert!(
        events.starts_with("max ") && events != "max 0",
        "no fork was refused: {events}"
    );
    let stats = cg.stats().unwrap();
    assert!(stats.pids.current <= 4, "{stats:?}");
    assert_eq!(stats.pids.limit, Some(4));
    cg.kill_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_bounded(&mut child, Duration::from_secs(10));
    cg.destroy().unwrap();
    assert_clean(&name);
    // -1 means "max".
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    cg.set(&resources(r#"{"pids":{"limit":-1}}"#)).unwrap();
    assert_eq!(read(&cg.path_of("pids").unwrap().join("pids.max")), "max");
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn freeze_and_thaw_v1() {
    require_root();
    let name = unique("frz");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    // A counter that writes a line every 20ms.
    let mut child = spawn_gated("while :; do echo x; sleep 0.02; done", &name);
    cg.apply(child.id() as i32).unwrap();
    release(&mut child);
    std::thread::sleep(Duration::from_millis(100));
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    assert_eq!(
        read(&cg.path_of("freezer").unwrap().join("freezer.state")),
        "FROZEN"
    );
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    cg.kill_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_bounded(&mut child, Duration::from_secs(10));
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn kill_all_reaches_every_process_and_destroy_waits() {
    require_root();
    let name = unique("kill");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    let mut child = spawn_gated("sleep 40 & sleep 40 & sleep 40 & wait", &name);
    cg.apply(child.id() as i32).unwrap();
    release(&mut child);
    let start = Instant::now();
    while cg.pids().unwrap().len() < 4 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cg.pids().unwrap().len(), 4);
    // destroy with tasks inside fails, naming the dir and the pids.
    let e = cg.destroy().unwrap_err();
    assert!(
        matches!(e, Error::Busy { ref pids, .. } if pids.len() == 4),
        "{e}"
    );
    cg.kill_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_bounded(&mut child, Duration::from_secs(10));
    // The orphaned sleeps are reaped by init; destroy retries meanwhile.
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn device_rules_v1() {
    require_root();
    let name = unique("dev");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    cg.set(&resources(
        r#"{"devices":[{"allow":false,"access":"rwm"}]}"#,
    ))
    .unwrap();
    let list = read(&cg.path_of("devices").unwrap().join("devices.list"));
    assert!(
        list.contains("c 1:3 rwm") && list.contains("c 136:* rwm") && !list.contains("a *:*"),
        "{list}"
    );
    let mut child = spawn_gated("echo ok > /dev/null && echo null-ok; head -c1 /dev/kmsg >/dev/null 2>&1 || echo kmsg-denied", &name);
    cg.apply(child.id() as i32).unwrap();
    release(&mut child);
    wait_bounded(&mut child, Duration::from_secs(10));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "null-ok\nkmsg-denied\n");
    cg.destroy().unwrap();
    assert_clean(&name);
}

/// `linux.devices` get no rule of their own (as with runc: the spec's
/// rules grant access, dockerd writes one per `--device`), and a default
/// node they redefine loses its default rule.
#[test]
fn linux_devices_get_no_rule_and_replace_defaults_v1() {
    require_root();
    let name = unique("devld");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    let Some(dir) = cg.path_of("devices").map(|p| p.to_path_buf()) else {
        return; // cgroup v2 only
    };
    cg.create().unwrap();
    let devs: Vec<oci_spec::runtime::LinuxDevice> = serde_json::from_str(
        r#"[{"path":"/dev/lat","type":"c","major":10,"minor":259},
            {"path":"/dev/null","type":"c","major":1,"minor":11}]"#,
    )
    .unwrap();
    cg.set_with_devices(
        &resources(
            r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":259,"access":"r"}]}"#,
        ),
        &devs,
    )
    .unwrap();
    let list = read(&dir.join("devices.list"));
    assert!(list.contains("c 10:259 r\n"), "{list}");
    assert!(
        !list.contains("c 1:3 ") && !list.contains("c 1:11 "),
        "{list}"
    );
    assert!(list.contains("c 1:5 rwm"), "{list}");
    cg.destroy().unwrap();
    assert_clean(&name);
}

/// Rules apply in order even where one repeats: an allow after a deny of
/// the same device is written again (only a repeat with no rule of the
/// other kind in between is skipped).
#[test]
fn device_rules_v1_keep_order_across_repeats() {
    require_root();
    let name = unique("devord");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    let Some(dir) = cg.path_of("devices").map(|p| p.to_path_buf()) else {
        return; // cgroup v2 only: devices are an eBPF program there
    };
    cg.create().unwrap();
    let rule = |allow: bool, minor: u32| {
        format!(r#"{{"allow":{allow},"type":"c","major":4,"minor":{minor},"access":"rwm"}}"#)
    };
    let spec = format!(
        r#"{{"devices":[{{"allow":false,"access":"rwm"}},{},{},{},{},{},{}]}}"#,
        rule(true, 7),
        rule(false, 7),
        rule(true, 7),
        rule(true, 8),
        rule(true, 8),
        rule(false, 8)
    );
    cg.set(&resources(&spec)).unwrap();
    let list = read(&dir.join("devices.list"));
    assert!(list.contains("c 4:7 rwm"), "{list}");
    assert!(!list.contains("c 4:8 "), "{list}");
    assert!(list.contains("c 1:3 rwm"), "{list}");
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn missing_controllers_are_named_and_hugetlb_uses_cgroup2() {
    require_root();
    let name = unique("miss");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&abs(&name), &name).unwrap();
    cg.create().unwrap();
    // hugetlb is bound to cgroup2 on this hybrid host: the limit goes to
    // the unified dir (v2 file names), enabled through the parents'
    // subtree_control.
    cg.set(&resources(
        r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#,
    ))
    .unwrap();
    let u = cg.path_of(UNIFIED).unwrap();
    assert_eq!(read(&u.join("hugetlb.2MB.max")), "4194304");
    assert_eq!(read(&u.join("hugetlb.2MB.rsvd.max")), "4194304");
    let e = cg
        .set(&resources(r#"{"network":{"classID":1}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("net_cls"), "{e}");
    // A knob this kernel lacks (CFQ's leaf weight) is named as missing.
    let e = cg
        .set(&resources(r#"{"blockIO":{"leafWeight":300}}"#))
        .unwrap_err();
    assert!(
        matches!(e, Error::MissingFile { .. }) && e.to_string().contains("blkio.leaf_weight"),
        "{e}"
    );
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn unified_only_freeze_kill_on_cgroup2() {
    require_root();
    let name = unique("v2");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new_with_layout(&abs(&name), &name, Layout::Unified).unwrap();
    assert_eq!(cg.paths().len(), 1);
    cg.create().unwrap();
    let mut child = spawn_gated("sleep 30", &name);
    let pid = child.id() as i32;
    cg.apply(pid).unwrap();
    // Read before the gate opens: afterwards the shell may have forked its
    // `sleep` into the cgroup too.
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    release(&mut child);
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    cg.kill_all(nix::sys::signal::Signal::SIGKILL).unwrap(); // cgroup.kill
    wait_bounded(&mut child, Duration::from_secs(10));
    cg.destroy().unwrap();
    assert_clean(&name);
}

#[test]
fn serialized_cgroup_round_trips() {
    require_root();
    let name = unique("ser");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&format!("/{name}/nested/c"), &name).unwrap();
    cg.create().unwrap();
    let json = serde_json::to_string(&cg).unwrap();
    let back: Cgroup = serde_json::from_str(&json).unwrap();
    assert_eq!(back.paths(), cg.paths());
    back.destroy().unwrap();
    // The created parents ({name}/nested) went too.
    assert_clean(&name);
}

#[test]
fn remove_if_empty_keeps_cgroups_with_processes_and_lists_children() {
    require_root();
    let name = unique("leftover");
    let _sweep = Sweep(name.clone());
    let parent = format!("/{name}");
    let (a, b) = (format!("{name}-a"), format!("{name}-b"));
    let cga = Cgroup::new(&format!("{parent}/{a}"), &a).unwrap();
    let cgb = Cgroup::new(&format!("{parent}/{b}"), &b).unwrap();
    cga.create().unwrap();
    cgb.create().unwrap();
    // A nested child cgroup (as a container may make itself) in one
    // hierarchy of `a`.
    let nested = cga.path_of("pids").unwrap().join("inner");
    std::fs::create_dir(&nested).unwrap();
    assert_eq!(
        berth_cgroups::list_children(&parent).unwrap(),
        vec![a.clone(), b.clone()]
    );
    let mut child = spawn_gated("sleep 30", &name);
    let pid = child.id() as i32;
    cgb.apply(pid).unwrap();

    // `a` is empty: all of it goes, the nested dir first.
    let r = cga.remove_if_empty().unwrap();
    assert!(r.is_complete(), "{r:?}");
    assert_eq!(r.removed.len(), cga.paths().len() + 1, "{r:?}");
    let at = |d: &Path| r.removed.iter().position(|x| x == d).expect("removed");
    assert!(at(&nested) < at(cga.path_of("pids").unwrap()), "{r:?}");
    assert!(cga.paths().values().all(|p| !p.exists()));
    // Already gone: no error, nothing done.
    assert_eq!(cga.remove_if_empty().unwrap(), Default::default());
    // `b` has a process: kept in every hierarchy.
    let r = cgb.remove_if_empty().unwrap();
    assert!(r.removed.is_empty(), "{r:?}");
    assert_eq!(r.kept.len(), cgb.paths().len(), "{r:?}");
    assert!(r.kept[0].1.contains(&pid.to_string()), "{r:?}");
    assert!(cgb.paths().values().all(|p| p.is_dir()));
    assert_eq!(berth_cgroups::list_children(&parent).unwrap(), vec![b]);

    cgb.kill_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_bounded(&mut child, Duration::from_secs(10));
    let r = cgb.remove_if_empty().unwrap();
    assert!(r.is_complete(), "{r:?}");
    assert!(berth_cgroups::list_children(&parent).unwrap().is_empty());
    assert!(berth_cgroups::list_children("/no-such-parent-bcgt")
        .unwrap()
        .is_empty());
    for p in cgb.paths().values() {
        let _ = std::fs::remove_dir(p.parent().unwrap());
    }
    assert_clean(&name);
}
