//! `run --security-opt` through the berth CLI and the docker CLI on the
//! same daemon (berthd, and Debian's dockerd for reference): a custom
//! seccomp profile read from a file on the client denies a syscall with
//! EPERM inside the container, `seccomp=unconfined`, `no-new-privileges`,
//! `systempaths=unconfined`, `apparmor=`/`label=` on a host without
//! AppArmor/SELinux, and the errors of both the client and the daemon
//! (same stdout, stderr and exit code from both CLIs), with no container
//! left behind.

mod common;

use common::Daemon;

macro_rules! both {
    ($($name:ident),*) => {
        mod berthd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )* }
        mod dockerd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )* }
    };
}
both!(security_opt_as_docker);

/// A profile in Docker's format that allows everything but `mkdir` and
/// `mkdirat`, which fail with EPERM (`SCMP_ACT_ERRNO`'s default errno).
const DENY_MKDIR: &str = r#"{
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }
    ]
}
"#;

fn security_opt_as_docker(d: &Daemon) {
    // not under d.dir(): its name has "berth" in it, which `same` reads
    // as the CLI's name
    let tmp = tempfile::Builder::new()
        .prefix("secopt")
        .tempdir_in("/var/tmp")
        .expect("temp dir");
    let dir = tmp.path().to_path_buf();
    let profile = dir.join("deny-mkdir.json");
    std::fs::write(&profile, DENY_MKDIR).expect("profile");
    let sec = format!("seccomp={}", profile.display());
    let old_sep = format!("seccomp:{}", profile.display());
    let run = |opts: &[&str], cmd: &str| -> Vec<String> {
        let mut a: Vec<String> = ["run", "--rm", "--network", "none"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for o in opts {
            a.push("--security-opt".into());
            a.push(o.to_string());
        }
        a.extend(["busybox", "sh", "-c", cmd].map(String::from));
        a
    };
    let same = |opts: &[&str], cmd: &str| {
        let a = run(opts, cmd);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        d.same(&a)
    };

    // the profile from the file: mkdir is denied with EPERM, the rest not
    let r = same(
        &[&sec],
        "mkdir /tmp/x; echo rc=$?; touch /tmp/f && echo touched",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.err
            .contains("mkdir: can't create directory '/tmp/x': Operation not permitted"),
        "{r:?}"
    );
    assert!(r.out.contains("rc=1\n"), "{r:?}");
    assert!(r.out.contains("touched\n"), "{r:?}");
    let r = same(&[&old_sep], "mkdir /tmp/x");
    assert_eq!(r.code, 1, "{r:?}");
    // without it (Docker's default profile), or unconfined, mkdir works
    let r = same(&[], "mkdir /tmp/x && grep Seccomp: /proc/self/status");
    assert_eq!((r.out.as_str(), r.code), ("Seccomp:\t2\n", 0), "{r:?}");
    let r = same(
        &["seccomp=unconfined"],
        "mkdir /tmp/x && grep Seccomp: /proc/self/status",
    );
    assert_eq!((r.out.as_str(), r.code), ("Seccomp:\t0\n", 0), "{r:?}");

    // no-new-privileges, bare and with Go booleans; the last one wins
    let nnp = "grep NoNewPrivs /proc/self/status";
    for (opts, want) in [
        (&[][..], "0"),
        (&["no-new-privileges"][..], "1"),
        (&["no-new-privileges=true"][..], "1"),
        (&["no-new-privileges:1"][..], "1"),
        (&["no-new-privileges", "no-new-privileges=false"][..], "0"),
    ] {
        let r = same(opts, nnp);
        assert_eq!(
            (r.out.as_str(), r.code),
            (format!("NoNewPrivs:\t{want}\n").as_str(), 0),
            "{opts:?}: {r:?}"
        );
    }

    // systempaths=unconfined: no masked or read-only /proc paths
    let masked = "grep -c -E ' /proc/(keys|sys) ' /proc/self/mountinfo";
    let r = same(&[], masked);
    assert_eq!((r.out.as_str(), r.code), ("2\n", 0), "{r:?}");
    let r = same(&["systempaths=unconfined"], masked);
    assert_eq!((r.out.as_str(), r.code), ("0\n", 1), "{r:?}");

    // AppArmor and SELinux options on a host with neither: accepted, kept
    for o in ["apparmor=secopt-test", "label=disable", "label:type:x"] {
        let r = same(&[o], "true");
        assert_eq!(r.code, 0, "{o}: {r:?}");
    }
    let r = d.berth(&[
        "create",
        "--name",
        "secopt-inspect",
        "--security-opt",
        "apparmor=secopt-test",
        "--security-opt",
        "systempaths=unconfined",
        "--security-opt",
        "label=disable",
        "busybox",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = d.same(&[
        "inspect",
        "--format",
        "{{json .AppArmorProfile}} {{json .HostConfig.SecurityOpt}} {{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}",
        "secopt-inspect",
    ]);
    assert_eq!(
        r.out,
        "\"secopt-test\" [\"apparmor=secopt-test\",\"label=disable\"] [] []\n"
    );
    d.same(&["rm", "secopt-inspect"]);

    // errors: the client's, then the daemon's; both CLIs say the same
    let missing = dir.join("missing.json");
    let bad_json = dir.join("bad.json");
    std::fs::write(&bad_json, "{\"defaultAction\": ").expect("bad profile");
    let client_errors = [
        (
            "foo".to_string(),
            "Invalid --security-opt: \"foo\"".to_string(),
        ),
        (
            "seccomp=".into(),
            "Invalid --security-opt: \"seccomp=\"".into(),
        ),
        (
            "apparmor=".into(),
            "Invalid --security-opt: \"apparmor=\"".into(),
        ),
        (
            format!("seccomp={}", missing.display()),
            format!(
                "opening seccomp profile ({0}) failed: open {0}: no such file or directory",
                missing.display()
            ),
        ),
    ];
    for (o, want) in &client_errors {
        let r = same(&[o], "true");
        assert_eq!(r.code, 125, "{o}: {r:?}");
        assert!(r.err.contains(want), "{o}: {r:?}");
    }
    // Go's and serde's JSON messages differ: only the start is the same
    let a = run(&[&format!("seccomp={}", bad_json.display())], "true");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = d.berth(&a);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.err.contains(&format!(
            "compacting json for seccomp profile ({}) failed: ",
            bad_json.display()
        )),
        "{r:?}"
    );
    for o in [
        "foo=bar",
        "no-new-privileges=maybe",
        "systempaths=foo",
        "writable-cgroups=true",
    ] {
        let r = same(&[o], "true");
        assert_eq!(r.code, 125, "{o}: {r:?}");
        assert!(
            r.err.contains(&format!(
                "Error response from daemon: invalid --security-opt 2: \"{o}\""
            )),
            "{o}: {r:?}"
        );
    }
    // nothing was left: every run was --rm or refused before create
    let r = d.same(&["ps", "-a", "-q"]);
    assert_eq!(r.out, "", "{r:?}");
}
