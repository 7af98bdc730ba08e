//! Host devices in containers, through berthd with the real docker CLI, as
//! Docker does them (compared with dockerd 20.10 and runc on this host):
//! `--device` (permissions enforced by the device cgroup, directories,
//! dockerd's errors), `--device-cgroup-rule`, and `--privileged` seeing
//! the host's devices. /dev/cpu_dma_latency (10:259) is the test device:
//! readable (4 bytes) and writable by root, outside the default allowlist,
//! and no capability check of its own.

mod common;
use common::*;

const LAT: &str = "/dev/cpu_dma_latency";

#[test]
fn device_mappings_permissions_and_errors() {
    let d = Daemon::start();
    d.load_busybox();
    // A renamed node: the host's major/minor, writable (rwm by default).
    let out = d.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/mynull",
        "busybox",
        "sh",
        "-c",
        "ls -l /dev/mynull; echo hi > /dev/mynull && echo wrote",
    ]);
    assert!(
        out.starts_with("crw-rw-rw-") && out.contains(" 1,   3 "),
        "{out}"
    );
    assert!(out.ends_with("wrote"), "{out}");
    if std::path::Path::new(LAT).exists() {
        // Read-only: reading works, a write is refused by the device cgroup.
        let out = d.ok(&[
            "run",
            "--rm",
            "--device",
            &format!("{LAT}:/dev/lat:r"),
            "busybox",
            "sh",
            "-c",
            "ls -l /dev/lat; head -c 4 /dev/lat | wc -c; (echo -n 0 > /dev/lat) 2>&1; echo w=$?",
        ]);
        assert!(out.contains(" 10, 259 "), "{out}");
        assert!(out.contains("\n4\n"), "{out}");
        assert!(out.contains("Operation not permitted"), "{out}");
        assert!(out.ends_with("w=1"), "{out}");
        // rw: the write goes through.
        let out = d.ok(&[
            "run",
            "--rm",
            "--device",
            &format!("{LAT}:/dev/lat:rw"),
            "busybox",
            "sh",
            "-c",
            "echo -n 0 > /dev/lat && echo w-ok",
        ]);
        assert_eq!(out, "w-ok");
    }
    // A directory: every device under it, at the same relative path.
    let out = d.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/net:/dev/mnet",
        "busybox",
        "ls",
        "-l",
        "/dev/mnet",
    ]);
    assert!(out.contains(" 10, 200 ") && out.ends_with("tun"), "{out}");
    // A missing path: dockerd's message; the CLI's exit code for a start
    // error naming "no such file or directory" is 127 (as with dockerd).
    let o = d.docker(&["run", "--rm", "--device", "/dev/nope", "busybox", "true"]);
    let err = stderr(&o);
    assert!(
        err.contains("Error response from daemon: error gathering device information while adding custom device \"/dev/nope\": no such file or directory"),
        "{err}"
    );
    assert_eq!(o.status.code(), Some(127), "{err}");
    // Not a device: exit code 125.
    let o = d.docker(&[
        "run",
        "--rm",
        "--device",
        "/etc/hostname",
        "busybox",
        "true",
    ]);
    let err = stderr(&o);
    assert!(
        err.contains("error gathering device information while adding custom device \"/etc/hostname\": not a device node"),
        "{err}"
    );
    assert_eq!(o.status.code(), Some(125), "{err}");
    // Inspect shows what was given; DeviceCgroupRules null when none.
    d.ok(&[
        "create",
        "--name",
        "insp",
        "--device",
        "/dev/null:/dev/mynull:r",
        "--device-cgroup-rule",
        "c 1:3 rwm",
        "busybox",
    ]);
    d.ok(&["create", "--name", "insp2", "busybox"]);
    let f = "{{json .HostConfig.Devices}} {{json .HostConfig.DeviceCgroupRules}}";
    assert_eq!(
        d.ok(&["inspect", "-f", f, "insp"]),
        r#"[{"PathOnHost":"/dev/null","PathInContainer":"/dev/mynull","CgroupPermissions":"r"}] ["c 1:3 rwm"]"#
    );
    assert_eq!(d.ok(&["inspect", "-f", f, "insp2"]), "[] null");
    d.ok(&["rm", "insp", "insp2"]);
    d.finish();
}

#[test]
fn device_cgroup_rules_and_privileged() {
    let d = Daemon::start();
    d.load_busybox();
    if std::path::Path::new(LAT).exists() {
        let script = "mknod /tmp/l c 10 259 && head -c 4 /tmp/l | wc -c";
        // Without a rule, a mknod'd node of 10:259 cannot be opened...
        let o = d.docker(&["run", "--rm", "busybox", "sh", "-c", script]);
        assert!(
            stderr(&o).contains("Operation not permitted"),
            "{}",
            stderr(&o)
        );
        // ...with one it can.
        let out = d.ok(&[
            "run",
            "--rm",
            "--device-cgroup-rule",
            "c 10:259 rw",
            "busybox",
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(out, "4");
        let out = d.ok(&[
            "run",
            "--rm",
            "--device-cgroup-rule",
            "c *:* rwm",
            "busybox",
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(out, "4");
    }
    // A malformed rule through the API (the CLI checks its flag itself):
    // dockerd's message at start.
    let (st, _, body) = d.http(
        "POST",
        "/containers/create?name=badrule",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"DeviceCgroupRules":["c 1:3 rwx"]}}"#,
    );
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&body));
    let o = d.docker(&["start", "badrule"]);
    assert!(
        stderr(&o).contains("invalid device cgroup rule format: 'c 1:3 rwx'"),
        "{}",
        stderr(&o)
    );
    d.ok(&["rm", "badrule"]);
    // Privileged: the host's devices (not /dev/pts's, /dev/console), and
    // /dev/ptmx still the container's own devpts.
    let out = d.ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "ls /dev; readlink /dev/ptmx; ls /dev/pts",
    ]);
    let names: Vec<&str> = out.lines().collect();
    for host in ["loop-control", "kmsg", "tty0", "full", "net"] {
        if std::path::Path::new("/dev").join(host).exists() {
            assert!(names.contains(&host), "{host} missing: {out}");
        }
    }
    assert!(names.contains(&"pts/ptmx"), "{out}");
    // Without --privileged: only the defaults.
    let out = d.ok(&["run", "--rm", "busybox", "ls", "/dev"]);
    assert!(
        !out.lines().any(|l| l == "kmsg" || l == "loop-control"),
        "{out}"
    );
    d.finish();
}
