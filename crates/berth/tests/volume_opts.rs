//! `docker volume create -o` for the local driver (`type`, `device`, `o`)
//! on berthd and, for reference, Debian's dockerd, through the docker CLI
//! and berth's: the options in inspect, the mount made when the first
//! container using the volume starts and undone when the last one stops
//! (one mount for two users), a tmpfs with its options and a bind of a
//! host directory, dockerd's errors for bad options at create and for a
//! mount that fails at start, and nothing left mounted (the bind's host
//! directory keeps its content after `volume rm`). `--mount
//! type=volume,...,volume-opt=...,volume-label=...` creates a missing
//! volume with those options and labels, through either CLI.

mod common;

use common::Daemon;

macro_rules! both {
    ($($name:ident),*) => {
        mod berthd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )* }
        mod dockerd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )* }
    };
}
both!(local_driver_mount_options, mount_flag_volume_options);

fn ok(d: &Daemon, args: &[&str]) -> String {
    let r = d.docker(args);
    assert_eq!(r.code, 0, "{} docker {args:?}: {r:?}\n{}", d.kind, d.log());
    r.out.trim().to_string()
}

/// How many mounts are on `path` in this (the host's) mount namespace.
fn mounts_on(path: &str) -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(path))
        .count()
}

/// Runs `args` through both CLIs; both must fail with exit code `code` and
/// an error containing `want` (which names paths with "berth" in them, so
/// [`Daemon::same`]'s renaming cannot be used).
fn both_fail(d: &Daemon, args: &[&str], code: i32, want: &str) {
    for r in [d.docker(args), d.berth(args)] {
        assert_eq!(r.code, code, "{}: {args:?}: {r:?}", d.kind);
        assert!(
            r.err.contains(want),
            "{}: {args:?}: {r:?}\nwant {want}",
            d.kind
        );
    }
}

fn local_driver_mount_options(d: &Daemon) {
    let k = &d.kind;
    // ---- tmpfs: options kept, mounted while used, once for two users
    let r = d.berth(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=64m,uid=1000",
        "vo-tmp",
    ]);
    assert_eq!((r.out.as_str(), r.code), ("vo-tmp\n", 0), "{k}: {r:?}");
    let r = d.same(&[
        "volume",
        "inspect",
        "--format",
        "{{json .Options}}",
        "vo-tmp",
    ]);
    assert_eq!(
        r.out, "{\"device\":\"tmpfs\",\"o\":\"size=64m,uid=1000\",\"type\":\"tmpfs\"}\n",
        "{k}"
    );
    let mp = ok(
        d,
        &["volume", "inspect", "--format", "{{.Mountpoint}}", "vo-tmp"],
    );
    assert_eq!(mounts_on(&mp), 0, "{k}: mounted before use");
    let r = d.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "vo-tmp:/v",
        "busybox",
        "sh",
        "-c",
        "grep ' /v ' /proc/self/mountinfo | grep -o 'tmpfs tmpfs rw.*'; stat -c '%u %a' /v",
    ]);
    assert_eq!(
        (r.out.as_str(), r.code),
        ("tmpfs tmpfs rw,size=65536k,uid=1000\n1000 1777\n", 0),
        "{k}: {r:?}"
    );
    assert_eq!(mounts_on(&mp), 0, "{k}: still mounted after run --rm");
    for n in ["vo-a", "vo-b"] {
        ok(
            d,
            &[
                "run",
                "-d",
                "--name",
                n,
                "--network",
                "none",
                "-v",
                "vo-tmp:/v",
                "busybox",
                "sleep",
                "300",
            ],
        );
    }
    assert_eq!(mounts_on(&mp), 1, "{k}: one mount for two users");
    ok(d, &["exec", "vo-a", "sh", "-c", "echo shared > /v/f"]);
    assert_eq!(ok(d, &["exec", "vo-b", "cat", "/v/f"]), "shared", "{k}");
    // the host sees the device's content at the mount point meanwhile
    assert_eq!(
        std::fs::read_to_string(format!("{mp}/f")).expect("host view"),
        "shared\n"
    );
    let r = d.same(&["volume", "rm", "vo-tmp"]);
    assert_eq!(r.code, 1, "{k}: {r:?}");
    ok(d, &["rm", "-f", "vo-a"]);
    assert_eq!(mounts_on(&mp), 1, "{k}: unmounted with a user left");
    ok(d, &["stop", "-t", "0", "vo-b"]);
    assert_eq!(
        mounts_on(&mp),
        0,
        "{k}: mounted after its last user stopped"
    );
    assert!(
        !std::path::Path::new(&format!("{mp}/f")).exists(),
        "{k}: tmpfs content under the mount point"
    );
    // started again: a fresh tmpfs, as dockerd's
    ok(d, &["start", "vo-b"]);
    assert_eq!(mounts_on(&mp), 1, "{k}");
    let r = d.docker(&["exec", "vo-b", "cat", "/v/f"]);
    assert_eq!(r.code, 1, "{k}: {r:?}");
    ok(d, &["rm", "-f", "vo-b"]);
    assert_eq!(mounts_on(&mp), 0, "{k}");
    ok(d, &["volume", "rm", "vo-tmp"]);

    // ---- a bind of a host directory; its content outlives volume rm
    let host = tempfile::Builder::new()
        .prefix("vohost")
        .tempdir_in("/var/tmp")
        .expect("host dir");
    std::fs::write(host.path().join("f"), "from host\n").expect("host file");
    let dev = format!("device={}", host.path().display());
    ok(
        d,
        &[
            "volume",
            "create",
            "-o",
            "type=none",
            "-o",
            "o=bind",
            "-o",
            &dev,
            "vo-bind",
        ],
    );
    let mp = ok(
        d,
        &[
            "volume",
            "inspect",
            "--format",
            "{{.Mountpoint}}",
            "vo-bind",
        ],
    );
    let r = d.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "vo-bind:/v",
        "busybox",
        "sh",
        "-c",
        "cat /v/f; echo c > /v/new",
    ]);
    assert_eq!((r.out.as_str(), r.code), ("from host\n", 0), "{k}: {r:?}");
    assert_eq!(mounts_on(&mp), 0, "{k}");
    assert_eq!(
        std::fs::read_to_string(host.path().join("new")).expect("written through the volume"),
        "c\n"
    );
    ok(d, &["volume", "rm", "vo-bind"]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("f")).expect("host file kept"),
        "from host\n",
        "{k}"
    );

    // ---- errors at create (dockerd's words), nothing created
    for (opts, want) in [
        (&["foo=bar"][..], r#"invalid option: "foo""#),
        (&["type=tmpfs"][..], r#"missing required option: "device""#),
        (&["device=tmpfs"][..], r#"missing required option: "type""#),
        (&["o=size=1m"][..], r#"missing required option: "device""#),
        (
            &["size=1m"][..],
            "quota size requested but no quota support",
        ),
    ] {
        let mut a = vec!["volume", "create"];
        for o in opts {
            a.push("-o");
            a.push(o);
        }
        a.push("vo-bad");
        let r = d.same(&a);
        assert_eq!(
            (r.err.trim(), r.code),
            (
                format!("Error response from daemon: create vo-bad: {want}").as_str(),
                1
            ),
            "{k} {opts:?}"
        );
    }
    assert_eq!(d.same(&["volume", "ls", "-q"]).out, "", "{k}");

    // ---- a mount that fails at start: dockerd's error, nothing left
    ok(
        d,
        &[
            "volume",
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=bogus=1",
            "vo-inval",
        ],
    );
    let mp = ok(
        d,
        &[
            "volume",
            "inspect",
            "--format",
            "{{.Mountpoint}}",
            "vo-inval",
        ],
    );
    both_fail(
        d,
        &["run", "--rm", "--network", "none", "-v", "vo-inval:/v", "busybox", "true"],
        125,
        &format!(
            "error while mounting volume '{mp}': failed to mount local volume: mount tmpfs:{mp}, data: bogus=1: invalid argument"
        ),
    );
    let missing = host.path().join("missing");
    let dev = format!("device={}", missing.display());
    ok(
        d,
        &[
            "volume",
            "create",
            "-o",
            "type=none",
            "-o",
            "o=bind",
            "-o",
            &dev,
            "vo-nodir",
        ],
    );
    let mp2 = ok(
        d,
        &[
            "volume",
            "inspect",
            "--format",
            "{{.Mountpoint}}",
            "vo-nodir",
        ],
    );
    both_fail(
        d,
        &["run", "--rm", "--network", "none", "-v", "vo-nodir:/v", "busybox", "true"],
        // the docker CLI's code for a start error with "no such file"
        127,
        &format!(
            "error while mounting volume '{mp2}': failed to mount local volume: mount {}:{mp2}, flags: 0x1000: no such file or directory",
            missing.display()
        ),
    );
    assert_eq!((mounts_on(&mp), mounts_on(&mp2)), (0, 0), "{k}");
    assert_eq!(d.same(&["ps", "-a", "-q"]).out, "", "{k}");
    ok(d, &["volume", "rm", "vo-inval", "vo-nodir"]);
}

fn mount_flag_volume_options(d: &Daemon) {
    let k = &d.kind;
    for (cli, vol) in [("docker", "mvo-d"), ("berth", "mvo-b")] {
        let mount = format!(
            "type=volume,src={vol},dst=/x,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m,volume-label=mvo={cli}"
        );
        let args = [
            "run",
            "--rm",
            "--mount",
            &mount,
            "busybox",
            "grep",
            " /x ",
            "/proc/mounts",
        ];
        let r = if cli == "docker" {
            d.docker(&args)
        } else {
            d.berth(&args)
        };
        assert_eq!(r.code, 0, "{k} {cli}: {r:?}");
        assert!(r.out.starts_with("tmpfs /x tmpfs rw"), "{k} {cli}: {r:?}");
        assert!(r.out.contains("size=2048k"), "{k} {cli}: {r:?}");
        assert_eq!(
            ok(
                d,
                &[
                    "volume",
                    "inspect",
                    "-f",
                    "{{json .Labels}} {{json .Options}}",
                    vol
                ]
            ),
            format!(r#"{{"mvo":"{cli}"}} {{"device":"tmpfs","o":"size=2m","type":"tmpfs"}}"#),
            "{k} {cli}"
        );
        ok(d, &["volume", "rm", vol]);
    }
    // The CLI's own errors, in docker's words.
    for (m, want) in [
        ("type=volume", "target is required"),
        ("dst=/x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("dst=/x,src", "invalid field 'src' must be a key=value pair"),
        (
            "type=bind,src=/tmp,dst=/x,volume-opt=a=b",
            "cannot mix 'volume-*' options with mount type 'bind'",
        ),
    ] {
        both_fail(d, &["create", "--mount", m, "busybox"], 125, want);
    }
    both_fail(
        d,
        &[
            "create",
            "--pull",
            "never",
            "--mount",
            "type=volume,src=mvo-x,dst=/x,volume-driver=mvo-nope",
            "busybox",
        ],
        1,
        r#"create mvo-x: error looking up volume plugin mvo-nope: plugin "mvo-nope" not found"#,
    );
}
