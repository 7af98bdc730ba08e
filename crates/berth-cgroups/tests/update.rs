//! `Cgroup::update` (docker update) and the block I/O figures of
//! `Cgroup::stats`, on the host's real hierarchies. v1 checks run on v1 and
//! hybrid hosts; the v2 ones on a unified host.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_cgroups::{Cgroup, Error, Layout};
use berth_testutil::{cgroups_containing, require_root};
use oci_spec::runtime::LinuxResources;

fn unique(tag: &str) -> String {
    format!(
        "bcgu-{tag}-{}",
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

/// Removes the test's cgroup dirs (deepest first) if it panics.
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        let mut dirs = cgroups_containing(&self.0);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(&d);
        }
    }
}

/// A directory under /var/tmp, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = Path::new("/var/tmp").join(name);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `sh -c script` inside `cg` (moved in before it starts) and waits.
fn run_in(cg: &Cgroup, script: &str, tag: &str) -> std::process::Output {
    use std::io::Write;
    let mut c = Command::new("sh")
        .arg("-c")
        .arg(format!("read _gate; {script}"))
        .arg(tag)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    cg.apply(c.id() as i32).expect("apply");
    c.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{script} did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    c.wait_with_output().unwrap()
}

/// `MAJ:MIN` of the whole disk holding `p` (the parent of a partition).
fn disk_of(p: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(p).unwrap().dev();
    // glibc's gnu_dev_major/gnu_dev_minor encoding of dev_t
    let maj = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let min = (dev & 0xff) | ((dev >> 12) & !0xff);
    let sys = std::path::PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    if sys.join("partition").exists() {
        let parent = std::fs::canonicalize(&sys).unwrap();
        read(&parent.parent().unwrap().join("dev"))
    } else {
        format!("{maj}:{min}")
    }
}

#[test]
fn update_changes_limits_and_leaves_device_rules() {
    require_root();
    let name = unique("upd");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&format!("/{name}/ctr"), &name).unwrap();
    cg.create().unwrap();
    cg.set(&resources(
        r#"{"devices":[{"allow":false,"access":"rwm"}],
            "memory":{"limit":33554432,"swap":67108864},"pids":{"limit":10}}"#,
    ))
    .unwrap();
    let v1 = cg.layout() != Layout::Unified;
    let devices_before = cg.path_of("devices").map(|d| read(&d.join("devices.list")));
    // An allow-all rule in the update must be ignored.
    cg.update(&resources(
        r#"{"devices":[{"allow":true,"access":"rwm"}],
            "memory":{"limit":67108864,"swap":67108864},
            "cpu":{"quota":50000,"period":100000},"pids":{"limit":20}}"#,
    ))
    .unwrap();
    if v1 {
        let m = cg.path_of("memory").unwrap();
        assert_eq!(read(&m.join("memory.limit_in_bytes")), "67108864");
        if m.join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(read(&m.join("memory.memsw.limit_in_bytes")), "67108864");
        }
        let c = cg.path_of("cpu").unwrap();
        assert_eq!(read(&c.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&cg.path_of("pids").unwrap().join("pids.max")), "20");
        let after = cg.path_of("devices").map(|d| read(&d.join("devices.list")));
        assert_eq!(after, devices_before, "update touched the device rules");
        assert!(after.is_some_and(|l| !l.contains("a *:* rwm")));
    } else {
        let d = cg.path_of("").unwrap();
        assert_eq!(read(&d.join("memory.max")), "67108864");
        assert_eq!(read(&d.join("cpu.max")), "50000 100000");
        assert_eq!(read(&d.join("pids.max")), "20");
    }
    // -1: unlimited pids.
    cg.update(&resources(r#"{"pids":{"limit":-1}}"#)).unwrap();
    let pids_dir = cg.path_of("pids").or_else(|| cg.path_of("")).unwrap();
    assert_eq!(read(&pids_dir.join("pids.max")), "max");

    // Block I/O: a direct write from inside is counted.
    let dir = TempDir::new(&format!("{name}-io"));
    let f = dir.path().join("f");
    if v1 {
        // Since Linux 6.x, v1 blkio.throttle.* count only on a disk whose
        // throttling was ever enabled (any cgroup setting a limit, as
        // `docker run --device-write-bps` does): set a limit no write
        // reaches on the disk under the temp dir.
        let disk = disk_of(dir.path());
        let blk = cg.path_of("blkio").unwrap();
        std::fs::write(
            blk.join("blkio.throttle.write_bps_device"),
            format!("{disk} 1099511627776"),
        )
        .unwrap();
    }
    let o = run_in(
        &cg,
        &format!(
            "dd if=/dev/zero of={} bs=64k count=16 oflag=direct 2>&1",
            f.display()
        ),
        &name,
    );
    assert!(o.status.success(), "{o:?}");
    let st = cg.stats().unwrap();
    let written: u64 = st
        .blkio
        .service_bytes
        .iter()
        .filter(|e| e.op.eq_ignore_ascii_case("write"))
        .map(|e| e.value)
        .sum();
    assert!(written >= 1 << 20, "{:?}", st.blkio);
    if v1 {
        assert!(
            st.blkio
                .serviced
                .iter()
                .any(|e| e.op == "Write" && e.value > 0),
            "{:?}",
            st.blkio
        );
    }
    cg.destroy().unwrap();
    assert!(cgroups_containing(&name).is_empty());
}

/// A v1 memory limit below what the kernel can reclaim (tmpfs pages, no
/// swap room) fails with EBUSY on memory.limit_in_bytes and changes nothing.
#[test]
fn update_below_unreclaimable_usage_is_ebusy() {
    require_root();
    let name = unique("busy");
    let _sweep = Sweep(name.clone());
    let cg = Cgroup::new(&format!("/{name}/ctr"), &name).unwrap();
    if cg.layout() == Layout::Unified {
        // v2 memory.max below usage OOM-kills instead: nothing to check.
        return;
    }
    cg.create().unwrap();
    cg.set(&resources(
        r#"{"memory":{"limit":67108864,"swap":67108864}}"#,
    ))
    .unwrap();
    let dir = TempDir::new(&format!("{name}-tmpfs"));
    let mnt = dir.path().to_str().unwrap().to_string();
    assert!(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs", &mnt])
        .status()
        .unwrap()
        .success());
    let o = run_in(
        &cg,
        &format!("dd if=/dev/zero of={mnt}/f bs=1M count=20 2>&1"),
        &name,
    );
    let m = cg.path_of("memory").unwrap();
    let res = cg.update(&resources(
        r#"{"memory":{"limit":10485760,"swap":10485760}}"#,
    ));
    let limit_after = read(&m.join("memory.limit_in_bytes"));
    let _ = Command::new("umount").arg(&mnt).status();
    assert!(o.status.success(), "{o:?}");
    match res {
        Err(Error::Write { path, source, .. }) => {
            assert!(path.ends_with("memory.limit_in_bytes"), "{path:?}");
            assert_eq!(source.raw_os_error(), Some(nix::libc::EBUSY));
        }
        other => panic!("want EBUSY on memory.limit_in_bytes, got {other:?}"),
    }
    assert_eq!(limit_after, "67108864");
    cg.destroy().unwrap();
    assert!(cgroups_containing(&name).is_empty());
}
