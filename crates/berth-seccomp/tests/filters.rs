//! Real filters in real processes: each case writes a profile, runs
//! `berth-seccomp-probe` (which compiles it with berth-seccomp, loads it
//! into itself and performs syscalls), and checks the errno or the signal.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const EPERM: i32 = 1;
const EACCES: i32 = 13;
const ENOSYS: i32 = 38;
const SIGSYS: i32 = 31;
const AF_INET6: u64 = 10;
const SOCK_CLOEXEC: u64 = 0o2000000;

struct Outcome {
    stdout: String,
    stderr: String,
    status: std::process::ExitStatus,
}

fn probe(profile: &Value, ops: &[&str]) -> Outcome {
    probe_env(profile, ops, &[])
}

fn probe_env(profile: &Value, ops: &[&str], env: &[(&str, &std::path::Path)]) -> Outcome {
    berth_testutil::require_root();
    let dir = berth_testutil::tempdir();
    let path = dir.path().join("seccomp.json");
    std::fs::write(&path, serde_json::to_vec_pretty(profile).unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth-seccomp-probe"))
        .envs(env.iter().copied())
        .arg(&path)
        .args(ops)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn probe");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("probe did not exit within 20s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    Outcome {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status,
    }
}

/// Runs the probe and asserts a clean exit; returns stdout.
fn probe_ok(profile: &Value, ops: &[&str]) -> String {
    let o = probe(profile, ops);
    assert!(
        o.status.success(),
        "probe failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        o.stdout,
        o.stderr
    );
    o.stdout
}

fn allow_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

#[test]
fn errno_rule_returns_errno_ret_and_mode_is_filter() {
    let p = allow_but(
        json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES}]),
    );
    let out = probe_ok(&p, &["mkdir:d1", "kill:0", "status"]);
    assert!(out.contains(&format!("mkdir:d1 errno={EACCES}\n")), "{out}");
    assert!(out.contains("kill:0 ok\n"), "{out}");
    assert!(out.contains("Seccomp: 2\n"), "{out}");
}

#[test]
fn errno_without_errno_ret_is_eperm() {
    let p = allow_but(json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO"}]));
    let out = probe_ok(&p, &["kill:0", "mkdir:d"]);
    assert_eq!(out, format!("kill:0 errno={EPERM}\nmkdir:d ok\n"));
}

/// Each comparison operator on kill(2)'s signal argument (index 1).
#[test]
fn all_seven_comparison_operators() {
    let cases: [(&str, u64, Option<u64>, [bool; 5]); 7] = [
        // denied for signals         0      17     18     23     28
        ("SCMP_CMP_EQ", 18, None, [false, false, true, false, false]),
        ("SCMP_CMP_NE", 18, None, [true, true, false, true, true]),
        ("SCMP_CMP_LT", 18, None, [true, true, false, false, false]),
        ("SCMP_CMP_LE", 18, None, [true, true, true, false, false]),
        ("SCMP_CMP_GT", 18, None, [false, false, false, true, true]),
        ("SCMP_CMP_GE", 18, None, [false, false, true, true, true]),
        // (sig & 0x10) == 0x10: 17, 18, 23, 28 have bit 4 set, 0 not.
        (
            "SCMP_CMP_MASKED_EQ",
            0x10,
            Some(0x10),
            [false, true, true, true, true],
        ),
    ];
    for (op, value, value_two, denied) in cases {
        let mut arg = json!({"index": 1, "value": value, "op": op});
        if let Some(v2) = value_two {
            arg["valueTwo"] = json!(v2);
        }
        let p = allow_but(
            json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77, "args": [arg]}]),
        );
        let out = probe_ok(&p, &["kill:0", "kill:17", "kill:18", "kill:23", "kill:28"]);
        for (sig, d) in [0, 17, 18, 23, 28].iter().zip(denied) {
            let want = if d {
                format!("kill:{sig} errno=77")
            } else {
                format!("kill:{sig} ok")
            };
            assert!(
                out.lines().any(|l| l == want),
                "{op}: want {want:?} in\n{out}"
            );
        }
    }
}

#[test]
fn masked_eq_on_socket_flags() {
    // Deny datagram sockets opened with SOCK_CLOEXEC.
    let p = allow_but(
        json!([{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES,
        "args": [{"index": 1, "value": SOCK_CLOEXEC, "valueTwo": SOCK_CLOEXEC, "op": "SCMP_CMP_MASKED_EQ"}]}]),
    );
    let out = probe_ok(&p, &["socket:unix:cloexec", "socket:unix"]);
    assert_eq!(
        out,
        format!("socket:unix:cloexec errno={EACCES}\nsocket:unix ok\n")
    );
}

#[test]
fn args_on_different_indexes_are_anded() {
    let p = allow_but(
        json!([{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": AF_INET6, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": SOCK_CLOEXEC, "valueTwo": SOCK_CLOEXEC, "op": "SCMP_CMP_MASKED_EQ"}]}]),
    );
    let out = probe_ok(
        &p,
        &[
            "socket:inet6:cloexec",
            "socket:inet6",
            "socket:unix:cloexec",
        ],
    );
    assert_eq!(
        out,
        "socket:inet6:cloexec errno=1\nsocket:inet6 ok\nsocket:unix:cloexec ok\n"
    );
}

#[test]
fn args_on_the_same_index_are_ored() {
    let p = allow_but(
        json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 1, "value": 17, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 23, "op": "SCMP_CMP_EQ"}]}]),
    );
    let out = probe_ok(&p, &["kill:17", "kill:18", "kill:23"]);
    assert_eq!(out, "kill:17 errno=1\nkill:18 ok\nkill:23 errno=1\n");
}

#[test]
fn kill_and_trap_actions_end_the_process_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let p = allow_but(json!([{"names": ["unshare"], "action": action}]));
        let o = probe(&p, &["kill:0", "unshare:uts", "kill:0"]);
        assert_eq!(
            o.status.signal(),
            Some(SIGSYS),
            "{action}: {:?} {}",
            o.status,
            o.stderr
        );
        assert_eq!(o.stdout, "kill:0 ok\n", "{action}");
    }
}

#[test]
fn trace_without_tracer_is_enosys_and_log_allows() {
    let p = allow_but(json!([
        {"names": ["unshare"], "action": "SCMP_ACT_TRACE"},
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}]));
    let out = probe_ok(&p, &["unshare:uts", "mkdir:logged"]);
    assert_eq!(
        out,
        format!("unshare:uts errno={ENOSYS}\nmkdir:logged ok\n")
    );
}

#[test]
fn flags_and_extra_architectures_load() {
    let p = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["kill", "not_a_syscall_on_any_arch"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}]});
    let out = probe_ok(&p, &["kill:0", "status"]);
    assert!(out.starts_with("kill:0 errno=5\n"), "{out}");
    // Compiled in-process: three architectures make a longer program.
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p.clone()).unwrap();
    let f = berth_seccomp::compile(&profile).unwrap();
    assert_eq!(f.skipped(), ["not_a_syscall_on_any_arch"]);
    let mut native = p;
    native.as_object_mut().unwrap().remove("architectures");
    let native: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(native).unwrap();
    let n = berth_seccomp::compile(&native).unwrap();
    assert!(f.bpf().unwrap().len() > n.bpf().unwrap().len());
}

#[test]
fn filter_survives_exec() {
    let p = allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]));
    let out = probe_ok(
        &p,
        &[
            "exec",
            "/bin/sh",
            "-c",
            "grep Seccomp: /proc/self/status; mkdir x 2>&1 || echo denied",
        ],
    );
    assert!(out.contains("Seccomp:\t2\n"), "{out}");
    assert!(
        out.contains("Operation not permitted") && out.contains("denied"),
        "{out}"
    );
}

/// A default-deny allowlist in the shape of Docker's default profile
/// (moby profiles/seccomp/default.json: defaultAction ERRNO with
/// defaultErrnoRet 1, the x86 family of architectures, one big ALLOW rule,
/// arg-restricted personality(2), clone(2) allowed only without namespace
/// flags through MASKED_EQ, clone3 answered with ENOSYS so libc falls
/// back to clone). The name list is ours, written for this test.
fn docker_like_profile() -> Value {
    let allowed = "accept accept4 access alarm bind brk capget capset chdir chmod chown clock_getres \
        clock_gettime clock_nanosleep close close_range connect copy_file_range creat dup dup2 dup3 \
        epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_wait eventfd eventfd2 execve execveat exit \
        exit_group faccessat faccessat2 fadvise64 fallocate fchdir fchmod fchmodat fchown fchownat fcntl \
        fdatasync flock fork fstat fstatfs fsync ftruncate futex getcwd getdents getdents64 getegid geteuid \
        getgid getgroups getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom \
        getresgid getresuid getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid \
        getxattr inotify_add_watch inotify_init1 inotify_rm_watch ioctl kill lchown lgetxattr link linkat \
        listen lseek lstat madvise membarrier memfd_create mincore mkdir mkdirat mknod mknodat mlock mmap \
        mprotect mremap msync munlock munmap nanosleep newfstatat open openat openat2 pause pipe pipe2 \
        poll ppoll prctl pread64 preadv prlimit64 pselect6 pwrite64 pwritev read readahead readlink \
        readlinkat readv recvfrom recvmmsg recvmsg rename renameat renameat2 restart_syscall rmdir rseq \
        rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend \
        rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity sched_getparam sched_get_priority_max \
        sched_get_priority_min sched_getscheduler sched_yield select sendfile sendmmsg sendmsg sendto \
        setgid setgroups setitimer setpgid setpriority setregid setresgid setresuid setreuid setsid \
        setsockopt set_robust_list set_tid_address setuid shutdown sigaltstack socketpair splice stat \
        statfs statx symlink symlinkat sync sysinfo tee tgkill time timer_create timer_delete \
        timerfd_create timerfd_gettime timerfd_settime times tkill truncate umask uname unlink unlinkat \
        utime utimensat utimes vfork wait4 waitid write writev arch_prctl";
    let names: Vec<&str> = allowed.split_whitespace().collect();
    let personality = [0u64, 8, 0x20000, 0x20008, 0xffff_ffff].map(|v| {
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]})
    });
    let mut syscalls = vec![
        json!({"names": names, "action": "SCMP_ACT_ALLOW"}),
        // AF_VSOCK (40) refused, every other family allowed.
        json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}),
        // Namespace flags of clone: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET = 0x7E020000.
        json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}),
        json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}),
    ];
    syscalls.extend(personality);
    json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM,
           "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
           "syscalls": syscalls})
}

#[test]
fn docker_like_default_profile_compiles_and_confines() {
    let p = docker_like_profile();
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p.clone()).unwrap();
    let f = berth_seccomp::compile(&profile).expect("compile the docker-like profile");
    assert!(
        f.skipped().is_empty(),
        "skipped on x86_64: {:?}",
        f.skipped()
    );
    assert!(f.bpf().unwrap().len() > 8 * 100);

    let out = probe_ok(
        &p,
        &[
            "mkdir:allowed",
            "unshare:uts",
            "personality:0",
            "personality:8",
            "personality-get",
            "personality:400000",
            "socket:inet6",
            "status",
            // A shell that forks a pipeline (clone without namespace flags)
            // and tries to mount (denied by the default action).
            "exec",
            "/bin/sh",
            "-c",
            "echo piped | cat; mount -t tmpfs none /mnt 2>&1; echo mount=$?",
        ],
    );
    let want_prefix = format!(
        "mkdir:allowed ok\nunshare:uts errno={EPERM}\npersonality:0 ok\npersonality:8 ok\npersonality-get ok\n\
         personality:400000 errno={EPERM}\nsocket:inet6 ok\nSeccomp: 2\n"
    );
    assert!(out.starts_with(&want_prefix), "{out}");
    assert!(out.contains("piped\n"), "{out}");
    assert!(out.contains("mount=") && !out.contains("mount=0"), "{out}");
}

/// seccomp(2) refuses a filter from an unprivileged process without
/// no_new_privs (the filter does not set it: the runtime decides), and
/// accepts it once no_new_privs is set.
#[test]
fn unprivileged_load_needs_no_new_privs() {
    berth_testutil::require_root();
    let dir = berth_testutil::tempdir();
    let path = dir.path().join("p.json");
    let p = allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]));
    std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let run = |nnp: bool| {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]);
        if nnp {
            cmd.arg("--no-new-privs");
        }
        let out = cmd
            .arg(env!("CARGO_BIN_EXE_berth-seccomp-probe"))
            .arg(&path)
            .arg("status")
            .output()
            .expect("run setpriv");
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (st, _, err) = run(false);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("no_new_privs"), "{err}");
    let (st, out, err) = run(true);
    assert!(st.success(), "{err}");
    assert!(out.contains("Seccomp: 2\n"), "{out}");
}

/// Like runc: under a blocking default action, syscalls newer than every
/// syscall the profile names answer ENOSYS (so callers fall back), older
/// unnamed ones get the default action.
#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let allowed =
        "write exit_group exit kill getpid sigaltstack munmap rt_sigprocmask rt_sigaction \
        rt_sigreturn brk mmap mprotect futex close read openat fstat newfstatat";
    let names: Vec<&str> = allowed.split_whitespace().collect();
    let p = json!({"defaultAction": "SCMP_ACT_ERRNO",
                   "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]});
    // newfstatat (262) is the newest named; unshare is 272, mkdir 83.
    let out = probe_ok(&p, &["kill:0", "mkdir:x", "unshare:uts"]);
    assert_eq!(
        out,
        format!("kill:0 ok\nmkdir:x errno={EPERM}\nunshare:uts errno={ENOSYS}\n")
    );
    // With an ALLOW default there is nothing to stub.
    let p = allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]));
    assert_eq!(probe_ok(&p, &["unshare:uts"]), "unshare:uts ok\n");
}

/// A program compiled once and installed from the cache file (the
/// runtime's path) filters exactly as the freshly compiled filter does:
/// the first run compiles and stores it, the second only reads it.
#[test]
fn cached_program_filters_like_a_fresh_compile() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": AF_INET6, "op": "SCMP_CMP_EQ"}]}
        ]
    });
    let ops = ["mkdir:d", "socket:inet6", "socket:inet", "kill:0"];
    let fresh = probe_ok(&profile, &ops);
    assert_eq!(
        fresh,
        format!("mkdir:d errno={EACCES}\nsocket:inet6 errno={EPERM}\nsocket:inet ok\nkill:0 ok\n")
    );
    let cache = berth_testutil::tempdir();
    let env = [("BERTH_SECCOMP_CACHE", cache.path())];
    for round in ["compile and store", "read from the cache"] {
        let o = probe_env(&profile, &ops, &env);
        assert!(o.status.success(), "{round}: {:?} {}", o.status, o.stderr);
        assert_eq!(o.stdout, fresh, "{round}");
        let files: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "{round}: one program in the cache");
    }
    // A default action that kills is enforced from the cached program too.
    let kill = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]});
    for _ in 0..2 {
        let o = probe_env(&kill, &["mkdir:d"], &env);
        assert_eq!(o.status.signal(), Some(SIGSYS), "{}", o.stderr);
    }
}
