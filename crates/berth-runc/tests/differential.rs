//! Differential suite: the same busybox bundle under runc and under
//! berth-runc; what the process inside sees must be the same (after the
//! harness's normalisation). Root only; each case asserts no leftovers.

#[path = "../../berth-runtime/tests/harness/mod.rs"]
mod harness;

use harness::{differential, Case, Rt};
use serde_json::json;

#[test]
fn exit_code_zero() {
    let mut c = Case::new("exit0");
    c.args(&["true"]);
    assert_eq!(differential(&c).code, 0);
}

#[test]
fn exit_code_42() {
    let mut c = Case::new("exit42");
    c.sh("exit 42");
    assert_eq!(differential(&c).code, 42);
}

#[test]
fn exit_code_signal_without_pid_namespace() {
    // Without its own PID namespace the shell is not an init process, so
    // a signal it sends itself kills it: exit status 128+15.
    let mut c = Case::new("sigexit");
    c.sh("kill -TERM $$; sleep 5").edit(|v| {
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    assert_eq!(differential(&c).code, 143);
}

#[test]
fn identity_default() {
    let mut c = Case::new("id0");
    c.sh("id; grep -E '^(Uid|Gid|Groups)' /proc/self/status");
    differential(&c);
}

#[test]
fn identity_user_and_groups() {
    let mut c = Case::new("iduser");
    c.sh("id; grep -E '^(Uid|Gid|Groups)' /proc/self/status")
        .edit(|v| {
            v["process"]["user"] =
                json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20, 1001]});
        });
    differential(&c);
}

#[test]
fn capabilities_default() {
    let mut c = Case::new("capdef");
    c.sh("grep -E '^Cap' /proc/self/status");
    differential(&c);
}

#[test]
fn capabilities_all_five_sets_non_root() {
    let mut c = Case::new("capfive");
    c.sh("grep -E '^Cap' /proc/self/status").edit(|v| {
        v["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        let caps = json!(["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL", "CAP_SYS_ADMIN"]);
        v["process"]["capabilities"] = json!({
            "bounding": caps, "effective": ["CAP_CHOWN", "CAP_KILL"], "permitted": caps,
            "inheritable": ["CAP_KILL", "CAP_NET_RAW"], "ambient": ["CAP_KILL"]
        });
    });
    differential(&c);
}

/// runtime-spec config.md, `capabilities`: a name that cannot be mapped to
/// a kernel capability "MUST be logged as a warning", and runtimes "SHOULD
/// NOT fail". runc 1.1 ignores it with a warning; so does berth-runc.
#[test]
fn capabilities_unknown_name_is_a_warning() {
    let mut c = Case::new("capunknown");
    c.sh("grep -E '^Cap' /proc/self/status").edit(|v| {
        let caps = json!(["CAP_KILL", "CAP_TEST"]);
        v["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps
        });
    });
    let b = differential(&c);
    assert_eq!(b.code, 0);
    assert!(
        b.stderr.contains("CAP_TEST") && b.stderr.contains("warning"),
        "berth-runc must warn about CAP_TEST: {:?}",
        b.stderr
    );
}

#[test]
fn capabilities_root_full_bounding() {
    let mut c = Case::new("capfull");
    c.sh("grep -E '^Cap' /proc/self/status").edit(|v| {
        let all: Vec<String> = [
            "CHOWN",
            "DAC_OVERRIDE",
            "FOWNER",
            "FSETID",
            "KILL",
            "SETGID",
            "SETUID",
            "SETPCAP",
            "NET_BIND_SERVICE",
            "NET_RAW",
            "SYS_CHROOT",
            "MKNOD",
            "AUDIT_WRITE",
            "SETFCAP",
        ]
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
        v["process"]["capabilities"] =
            json!({"bounding": all, "effective": all, "permitted": all, "inheritable": all});
    });
    differential(&c);
}

#[test]
fn no_new_privileges_on_and_off() {
    for (name, on) in [("nnp1", true), ("nnp0", false)] {
        let mut c = Case::new(name);
        c.sh("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status")
            .edit(|v| {
                v["process"]["noNewPrivileges"] = json!(on);
            });
        differential(&c);
    }
}

#[test]
fn hostname_and_domainname() {
    let mut c = Case::new("hostname");
    c.sh("hostname").edit(|v| {
        v["hostname"] = json!("diff-host");
    });
    let o = differential(&c);
    assert_eq!(o.stdout, "diff-host\n");
    // runc 1.1.5 predates `domainname` (runtime-spec 1.1): berth only.
    let mut c = Case::new("domainname");
    c.sh("cat /proc/sys/kernel/domainname").edit(|v| {
        v["domainname"] = json!("diff.example");
    });
    let o = c.run(Rt::Berth);
    assert_eq!((o.code, o.stdout.as_str()), (0, "diff.example\n"), "{o:?}");
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn environment() {
    let mut c = Case::new("env");
    c.sh("env | sort").edit(|v| {
        v["process"]["env"] = json!(["PATH=/bin:/usr/bin", "A=1", "B=two words", "EMPTY="]);
    });
    differential(&c);
}

#[test]
fn cwd_is_created_when_missing() {
    let mut c = Case::new("cwd");
    c.sh("pwd; ls -ld . | cut -c1-10").edit(|v| {
        v["process"]["cwd"] = json!("/work/dir");
        v["root"]["readonly"] = json!(false);
    });
    let o = differential(&c);
    assert!(o.stdout.starts_with("/work/dir\n"), "{o:?}");
}

#[test]
fn rlimits() {
    let mut c = Case::new("rlimits");
    c.sh("cat /proc/self/limits").edit(|v| {
        v["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 512},
            {"type": "RLIMIT_NPROC", "hard": 300, "soft": 200},
            {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
            {"type": "RLIMIT_STACK", "hard": 16777216, "soft": 8388608}
        ]);
    });
    differential(&c);
}

#[test]
fn mount_table_default() {
    let mut c = Case::new("mountinfo");
    c.sh("cat /proc/self/mountinfo");
    differential(&c);
}

#[test]
fn mount_options_tmpfs_bind_ro_propagation() {
    let mut c = Case::new("mountopts");
    let host = c.tmp.path().join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "data\n").unwrap();
    c.sh("grep -E ' /(t1|t2|b1|b2) ' /proc/self/mountinfo | cut -d' ' -f4-; cat /b1/f; touch /b1/x 2>&1 | sed 's/.*: //'; stat -c '%a' /t1")
        .edit(|v| {
            let m = v["mounts"].as_array_mut().unwrap();
            m.push(json!({"destination": "/t1", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=1770"]}));
            m.push(json!({"destination": "/t2", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "relatime", "rprivate"]}));
            m.push(json!({"destination": "/b1", "type": "bind", "source": host, "options": ["rbind", "ro", "nosuid"]}));
            m.push(json!({"destination": "/b2", "type": "none", "source": host, "options": ["bind", "rslave", "noexec"]}));
        });
    differential(&c);
}

#[test]
fn devices_in_dev() {
    let mut c = Case::new("devs");
    c.sh("cd /dev && for f in *; do if [ -L $f ]; then echo \"$f -> $(readlink $f)\"; else stat -c '%n %F %a %u %g %t %T' $f; fi; done");
    differential(&c);
}

#[test]
fn extra_linux_devices() {
    let mut c = Case::new("linuxdevs");
    c.sh("stat -c '%n %F %a %u %g %t %T' /dev/kmsg2 /dev/fuse2").edit(|v| {
        v["linux"]["devices"] = json!([
            {"path": "/dev/kmsg2", "type": "c", "major": 1, "minor": 11, "fileMode": 0o640, "uid": 0, "gid": 0},
            {"path": "/dev/fuse2", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666, "uid": 1000, "gid": 1000}
        ]);
    });
    differential(&c);
}

#[test]
fn masked_paths() {
    let mut c = Case::new("masked");
    c.sh("for p in /proc/kcore /proc/keys /proc/timer_list /proc/acpi /sys/firmware /proc/scsi; do printf '%s ' $p; if [ -d $p ]; then ls -A $p | wc -l; else wc -c < $p 2>&1; fi; done");
    differential(&c);
}

#[test]
fn readonly_paths() {
    let mut c = Case::new("ropaths");
    c.sh("for p in /proc/sys/kernel/hostname /proc/sysrq-trigger; do (echo x > $p) 2>&1 | sed 's/.*: //'; done; grep -E ' /proc/(bus|fs|irq|sys|sysrq-trigger) ' /proc/self/mountinfo | cut -d' ' -f4-");
    differential(&c);
}

#[test]
fn root_readonly_and_writable() {
    for (name, ro) in [("rootro", true), ("rootrw", false)] {
        let mut c = Case::new(name);
        c.sh("touch /newfile 2>&1 | sed 's/.*: //'; ls /newfile 2>&1 | sed 's/.*: //'")
            .edit(|v| {
                v["root"]["readonly"] = json!(ro);
            });
        differential(&c);
    }
}

#[test]
fn stdin_stdout_stderr_pass_through() {
    let mut c = Case::new("stdio");
    c.sh("read line; echo \"out:$line\"; echo \"err:$line\" >&2; cat");
    c.stdin = b"hello\nrest of input\n".to_vec();
    let (r, b) = c.run_both();
    harness::assert_same("stdio", &r, &b);
    assert_eq!(b.stdout, "out:hello\nrest of input\n");
    assert!(b.stderr.contains("err:hello"), "{b:?}");
    assert!(r.stderr.contains("err:hello"), "{r:?}");
}

#[test]
fn umask() {
    let mut c = Case::new("umask");
    c.sh("umask").edit(|v| {
        v["process"]["user"]["umask"] = json!(0o077);
    });
    differential(&c);
}

#[test]
fn sysctl_in_network_namespace() {
    let mut c = Case::new("sysctl");
    c.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ping_group_range")
        .edit(|v| {
            v["linux"]["sysctl"] =
                json!({"net.ipv4.ip_forward": "1", "net.ipv4.ping_group_range": "0 100"});
        });
    differential(&c);
}

#[test]
fn oom_score_adj() {
    let mut c = Case::new("oomadj");
    c.sh("cat /proc/self/oom_score_adj").edit(|v| {
        v["process"]["oomScoreAdj"] = json!(321);
    });
    let o = differential(&c);
    assert_eq!(o.stdout, "321\n");
}

#[test]
fn network_namespace_has_only_loopback() {
    let mut c = Case::new("netns");
    c.sh("cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '");
    differential(&c);
}

/// linux.rootfsPropagation (config-linux.md "Rootfs Mount Propagation"):
/// the container's rootfs mount gets the requested propagation; shared is
/// a new peer group, not the host's (runtime-tools'
/// linux_rootfs_propagation). Berth only: runc 1.1.5 fails to create the
/// unbindable variant and its shared root does not propagate (wrong per
/// the spec). The optional fields of the root's mountinfo line are checked.
#[test]
fn rootfs_propagation_is_applied_to_the_root_mount() {
    for (prop, want) in [
        ("shared", "shared:"),
        ("unbindable", "unbindable"),
        // slave of the host's mount: "master:N" when that one is shared,
        // nothing when it is private; never shared or unbindable
        ("slave", ""),
        ("private", ""),
    ] {
        let mut c = Case::new(&format!("rprop{prop}"));
        c.sh("awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++) printf \"%s \", $i; print \"end\" }' /proc/self/mountinfo")
            .edit(|v| v["linux"]["rootfsPropagation"] = json!(prop));
        let o = c.run(Rt::Berth);
        c.assert_no_leftovers(Rt::Berth);
        assert_eq!(o.code, 0, "{prop}: {o:?}");
        let line = o.stdout.trim();
        assert!(line.ends_with("end"), "{prop}: {line:?}");
        if want.is_empty() {
            assert!(
                !line.contains("shared:") && !line.contains("unbindable"),
                "{prop}: {line:?}"
            );
            if prop == "private" {
                assert_eq!(line, "end", "{prop}: no propagation field expected");
            }
        } else {
            assert!(line.contains(want), "{prop}: want {want} in {line:?}");
        }
        if prop == "shared" {
            // a new peer group: not one the host's mounts are in
            let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let group = line.split(' ').find(|f| f.starts_with("shared:")).unwrap();
            assert!(
                !host.split_whitespace().any(|f| f == group),
                "{prop}: peer group {group} is the host's"
            );
        }
    }
}

/// An AppArmor profile or SELinux label that cannot be applied (this
/// host has no LSM; berth-runtime applies none) is refused at create,
/// naming the field, instead of running the container unconfined. runc
/// 1.1.5 refuses all three on this host too (selinuxLabel at create, the
/// AppArmor profile in its init, the mount label when mounting /dev).
#[test]
fn lsm_labels_that_cannot_be_applied_are_refused() {
    for (field, edit) in [
        (
            "process.apparmorProfile",
            (|v: &mut serde_json::Value| v["process"]["apparmorProfile"] = json!("acme_default"))
                as fn(&mut serde_json::Value),
        ),
        ("process.selinuxLabel", |v| {
            v["process"]["selinuxLabel"] = json!("system_u:system_r:svirt_lxc_net_t:s0:c124,c675")
        }),
        ("linux.mountLabel", |v| {
            v["linux"]["mountLabel"] = json!("system_u:object_r:svirt_sandbox_file_t:s0:c715,c811")
        }),
    ] {
        let mut c = Case::new("lsm");
        c.sh("echo ran").edit(edit);
        let (r, o) = c.run_both();
        assert_ne!(r.code, 0, "runc {field}: {r:?}");
        assert_ne!(o.code, 0, "{field}: must be refused: {o:?}");
        assert!(
            o.stderr.contains(field) && o.stderr.contains("cannot be applied"),
            "{field}: {o:?}"
        );
        assert!(
            !o.stdout.contains("ran"),
            "{field}: the container ran: {o:?}"
        );
    }
}

#[test]
fn cgroup_namespace() {
    let mut c = Case::new("cgns");
    c.sh("cat /proc/self/cgroup; grep cgroup /proc/self/mountinfo | cut -d' ' -f4-")
        .edit(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "cgroup"}));
        });
    differential(&c);
}

#[test]
fn user_namespace_with_mappings() {
    let mut c = Case::new("userns");
    c.sh(
        "id; cat /proc/self/uid_map /proc/self/gid_map; grep -E '^Cap(Eff|Bnd)' /proc/self/status",
    )
    .edit(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // the mapped root cannot mknod: runc and we bind the host devices
        v["root"]["readonly"] = json!(false);
    });
    // the rootfs must be usable by the mapped root
    for rt in [Rt::Runc, Rt::Berth] {
        let b = c.bundle(rt);
        let st = std::process::Command::new("chown")
            .arg("-R")
            .arg("100000:100000")
            .arg(b.join("rootfs"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    differential(&c);
}

#[test]
fn joins_existing_namespace_by_path() {
    // A holder process in a new UTS namespace; both runtimes join it.
    let holder = std::process::Command::new("unshare")
        .args(["--uts", "sh", "-c", "hostname joined-ns; sleep 30"])
        .spawn()
        .expect("unshare");
    let pid = holder.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let child =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(cp) = child.split_whitespace().next() {
            let _ = cp;
        }
        let ns_self = std::fs::read_link("/proc/self/ns/uts").unwrap();
        let ns_h = std::fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap_or_default();
        if ns_self != ns_h {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "unshare did not make its namespace"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut c = Case::new("joinns");
    let path = format!("/proc/{pid}/ns/uts");
    c.sh("hostname").edit(|v| {
        v.as_object_mut().unwrap().remove("hostname");
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "uts" {
                n["path"] = json!(path);
            }
        }
    });
    let o = differential(&c);
    let mut h = holder;
    let _ = h.kill();
    let _ = h.wait();
    assert_eq!(o.stdout, "joined-ns\n");
}

#[test]
fn hooks_receive_state_on_stdin() {
    let mut c = Case::new("hooks");
    let out = c.tmp.path().join("hookout");
    std::fs::create_dir_all(&out).unwrap();
    let hook = |kind: &str| json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{kind}.$RT; echo >> {}/{kind}.$RT", out.display(), out.display()), kind], "env": ["RT=x"]}]);
    c.sh("echo main").edit(|v| {
        v["hooks"] = json!({
            "prestart": hook("prestart"),
            "createRuntime": hook("createRuntime"),
            "poststart": hook("poststart"),
            "poststop": hook("poststop"),
        });
    });
    let mut seen = Vec::new();
    for rt in [Rt::Runc, Rt::Berth] {
        let o = c.run(rt);
        assert_eq!(o.code, 0, "{rt:?}: {o:?}");
        let mut got = Vec::new();
        for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
            let p = out.join(format!("{kind}.x"));
            let s = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("{rt:?}: hook {kind} did not run: {e}"));
            let v: serde_json::Value = serde_json::from_str(s.trim())
                .unwrap_or_else(|e| panic!("{rt:?} {kind}: {e}: {s}"));
            std::fs::remove_file(&p).unwrap();
            // runc 1.1.5 reports poststart with status "created"; the
            // process runs by then, and berth says "running".
            if rt == Rt::Berth && kind == "poststart" {
                assert_eq!(v["status"], json!("running"));
            }
            let status = if kind == "poststart" {
                json!("-")
            } else {
                v["status"].clone()
            };
            got.push((
                kind,
                status,
                v["id"] == json!(c.id(rt)),
                v["bundle"] == json!(c.bundle(rt)),
            ));
        }
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1]);
    c.assert_no_leftovers(Rt::Berth);
}

#[test]
fn missing_program_fails_both() {
    let mut c = Case::new("noprog");
    c.args(&["/no/such/program"]);
    let (r, b) = c.run_both();
    assert_ne!(r.code, 0);
    assert_ne!(b.code, 0);
    assert!(b.stderr.contains("/no/such/program"), "{b:?}");
}

#[test]
fn proc_self_exe_is_not_the_runtime() {
    // What the container sees as /proc/self/exe in its init is its own
    // program; a script whose interpreter is /proc/self/exe must not run
    // the runtime binary (CVE-2019-5736).
    let mut c = Case::new("selfexe");
    c.edit(|v| v["root"]["readonly"] = json!(false));
    for rt in [Rt::Runc, Rt::Berth] {
        let b = c.bundle(rt);
        std::fs::write(b.join("rootfs/evil"), "#!/proc/self/exe\n").unwrap();
        std::process::Command::new("chmod")
            .arg("755")
            .arg(b.join("rootfs/evil"))
            .status()
            .unwrap();
    }
    c.args(&["/evil"]);
    let b = c.run(Rt::Berth);
    // The kernel runs the interpreter /proc/self/exe, which at that exec is
    // the sealed dmz memfd, not the runtime binary: the dmz sees itself
    // started as an interpreter (argc < 3) and exits 127 without running
    // anything. Had it been the runtime, berth-runc's clap would print a
    // usage error naming berth-runc and exit 2.
    assert_eq!(b.code, 127, "{b:?}");
    assert!(!b.stderr.contains("Usage"), "{b:?}");
    assert!(!b.stdout.contains("berth-runc"), "{b:?}");
    c.assert_no_leftovers(Rt::Berth);
}
