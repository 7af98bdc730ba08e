//! Differential suite for linux.resources (cgroups), OOM, freezer and
//! seccomp: the same busybox bundle under runc 1.1 and under berth-runc,
//! observed through the cgroup files inside the container (runc's default
//! spec mounts the container's own cgroup dirs at /sys/fs/cgroup), from
//! the host (/sys/fs/cgroup/<controller>/<cgroupsPath>), and through
//! /proc/self/status. Root only; each case asserts no leftovers.

#[path = "../../berth-runtime/tests/harness/mod.rs"]
mod harness;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{differential, run_cmd, Case, Outcome, Rt};
use serde_json::{json, Value};

const MIB: i64 = 1024 * 1024;

fn resources(c: &mut Case, r: Value) -> &mut Case {
    c.edit(|v| {
        let devices = v["linux"]["resources"]["devices"].clone();
        v["linux"]["resources"] = r;
        if v["linux"]["resources"]["devices"].is_null() {
            v["linux"]["resources"]["devices"] = devices;
        }
    })
}

/// `<runtime> --root ... <args>` (for commands that do not hold stdio).
fn rt(c: &Case, which: Rt, args: &[&str]) -> Outcome {
    let mut cmd = c.cmd(which);
    cmd.args(args);
    run_cmd(&mut cmd, b"")
}

/// `create` with the container's stdio on files (a pipe would stay open
/// as long as the container runs).
fn create(c: &Case, which: Rt) {
    let b = c.bundle(which);
    let id = c.id(which);
    let out = std::fs::File::create(c.tmp.path().join(format!("{id}.out"))).unwrap();
    let err = std::fs::File::create(c.tmp.path().join(format!("{id}.err"))).unwrap();
    let mut cmd = c.cmd(which);
    cmd.arg("create")
        .arg("-b")
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut child = cmd.spawn().expect("spawn create");
    let deadline = Instant::now() + harness::TIMEOUT;
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{which:?} create did not finish");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let e = std::fs::read_to_string(c.tmp.path().join(format!("{id}.err"))).unwrap_or_default();
    assert!(st.success(), "{which:?} create failed: {e}");
}

/// The container's stdout file (see [`create`]).
fn created_stdout(c: &Case, which: Rt) -> String {
    std::fs::read_to_string(c.tmp.path().join(format!("{}.out", c.id(which)))).unwrap_or_default()
}

fn state(c: &Case, which: Rt) -> Value {
    let o = rt(c, which, &["state", &c.id(which)]);
    assert_eq!(o.code, 0, "{which:?} state: {o:?}");
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("{which:?} state JSON: {e}: {}", o.stdout))
}

fn wait_status(c: &Case, which: Rt, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = state(c, which);
        if s["status"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{which:?}: status stayed {} (want {want})",
            s["status"]
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A host-side cgroup file of the case's container (harness cgroupsPath).
fn host_cg(c: &Case, which: Rt, controller: &str, file: &str) -> PathBuf {
    PathBuf::from(format!(
        "/sys/fs/cgroup/{controller}/berth-difftest/{}/{file}",
        c.id(which)
    ))
}

fn read_host(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

fn delete(c: &Case, which: Rt) {
    let o = rt(c, which, &["delete", "--force", &c.id(which)]);
    assert_eq!(o.code, 0, "{which:?} delete: {o:?}");
}

/// Runs `f` for runc then berth-runc and asserts both returned the same.
fn both<T: PartialEq + std::fmt::Debug>(c: &Case, mut f: impl FnMut(Rt) -> T) -> T {
    let r = f(Rt::Runc);
    c.assert_no_leftovers(Rt::Runc);
    let b = f(Rt::Berth);
    c.assert_no_leftovers(Rt::Berth);
    assert_eq!(
        r, b,
        "case {}: runc (left) and berth-runc (right) differ",
        c.name
    );
    b
}

#[test]
fn memory_limit_and_reservation_inside() {
    let mut c = Case::new("memlim");
    resources(
        &mut c,
        json!({"memory": {"limit": 64 * MIB, "reservation": 32 * MIB}}),
    )
    .sh("cd /sys/fs/cgroup/memory && cat memory.limit_in_bytes memory.soft_limit_in_bytes");
    let o = differential(&c);
    assert_eq!(o.stdout, format!("{}\n{}\n", 64 * MIB, 32 * MIB));
}

#[test]
fn memory_and_swap_inside() {
    let mut c = Case::new("memswap");
    resources(
        &mut c,
        json!({"memory": {"limit": 48 * MIB, "swap": 96 * MIB}}),
    )
    .sh("cd /sys/fs/cgroup/memory && cat memory.limit_in_bytes memory.memsw.limit_in_bytes");
    let o = differential(&c);
    assert_eq!(o.stdout, format!("{}\n{}\n", 48 * MIB, 96 * MIB));
}

#[test]
fn memory_swappiness_and_oom_killer_disable_inside() {
    let mut c = Case::new("memmisc");
    resources(&mut c, json!({"memory": {"limit": 64 * MIB, "swappiness": 7, "disableOOMKiller": true}}))
        .sh("cd /sys/fs/cgroup/memory && cat memory.swappiness && grep oom_kill_disable memory.oom_control");
    let o = differential(&c);
    assert_eq!(o.stdout, "7\noom_kill_disable 1\n");
}

#[test]
fn cpu_shares_quota_period_inside() {
    let mut c = Case::new("cpuq");
    resources(
        &mut c,
        json!({"cpu": {"shares": 512, "quota": 25000, "period": 50000}}),
    )
    .sh("cd /sys/fs/cgroup/cpu && cat cpu.shares cpu.cfs_quota_us cpu.cfs_period_us");
    let o = differential(&c);
    assert_eq!(o.stdout, "512\n25000\n50000\n");
}

#[test]
fn cpuset_cpus_and_mems_inside() {
    let mut c = Case::new("cpuset");
    resources(&mut c, json!({"cpu": {"cpus": "1", "mems": "0"}}))
        .sh("cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems; grep Cpus_allowed_list /proc/self/status");
    let o = differential(&c);
    assert_eq!(o.stdout, "1\n0\nCpus_allowed_list:\t1\n");
}

#[test]
fn pids_limit_refuses_forks() {
    let mut c = Case::new("pids");
    // A sacrificial shell forks sleeps until pids.max (8) refuses one; ash
    // gives up on a failed fork, so it exits 2 leaving 6 sleeps: then
    // init sh + 6 sleeps = 7 (busybox runs cat in-process).
    resources(&mut c, json!({"pids": {"limit": 8}})).sh(
        "cd /sys/fs/cgroup/pids; sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done' 2>/dev/null; \
         echo child-exit=$?; cat pids.max pids.current pids.events",
    );
    let o = differential(&c);
    assert_eq!(o.stdout, "child-exit=2\n8\n7\nmax 1\n");
    assert_ne!(o.stdout.lines().last(), Some("max 0"), "{o:?}");
}

#[test]
fn devices_cgroup_rules_inside() {
    let mut c = Case::new("devcg");
    resources(
        &mut c,
        json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"},
            {"allow": true, "type": "b", "major": 7, "access": "rw"}
        ]}),
    )
    .sh("sort /sys/fs/cgroup/devices/devices.list; head -c1 /dev/null && echo null-ok");
    let o = differential(&c);
    assert!(
        o.stdout.contains("c 1:11 r\n") && o.stdout.contains("b 7:* rw\n"),
        "{o:?}"
    );
}

#[test]
fn init_joins_every_hierarchy_including_unified() {
    let mut c = Case::new("cgjoin");
    c.sh("sort -t: -k2 /proc/self/cgroup");
    let o = differential(&c);
    for ctrl in [
        "memory",
        "cpu",
        "cpuacct",
        "cpuset",
        "pids",
        "freezer",
        "devices",
        "blkio",
        "name=systemd",
    ] {
        assert!(
            o.stdout
                .contains(&format!(":{ctrl}:/berth-difftest/<ID>\n")),
            "{ctrl} not joined: {}",
            o.stdout
        );
    }
}

#[test]
fn relative_cgroups_path_is_under_the_runtime_cgroup() {
    let mut c = Case::new("cgrel");
    let rel = format!("bdr-{}-cgrel", std::process::id());
    let relc = rel.clone();
    c.sh("grep -E ':(memory|pids):' /proc/self/cgroup")
        .edit(move |v| {
            v["linux"]["cgroupsPath"] = json!(relc);
        });
    let o = differential(&c);
    // Our own memory cgroup (the runtimes inherit it) is the parent.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mem_own = own
        .lines()
        .find(|l| l.split(':').nth(1) == Some("memory"))
        .unwrap()
        .splitn(3, ':')
        .nth(2)
        .unwrap();
    let want = format!("{}/{rel}", mem_own.trim_end_matches('/'));
    assert!(
        o.stdout.contains(&format!(":memory:{want}\n")),
        "{o:?} (want {want})"
    );
    let left = berth_testutil::cgroups_containing(&rel);
    assert!(left.is_empty(), "relative cgroups leaked: {left:?}");
}

#[test]
fn resources_seen_from_the_host() {
    let mut c = Case::new("hostview");
    resources(
        &mut c,
        json!({"memory": {"limit": 40 * MIB, "reservation": 20 * MIB, "swap": 80 * MIB},
               "cpu": {"shares": 300, "quota": 30000, "period": 60000, "cpus": "0", "mems": "0"},
               "pids": {"limit": 33}}),
    )
    .sh("sleep 30");
    both(&c, |which| {
        create(&c, which);
        let files = [
            ("memory", "memory.limit_in_bytes"),
            ("memory", "memory.soft_limit_in_bytes"),
            ("memory", "memory.memsw.limit_in_bytes"),
            ("cpu", "cpu.shares"),
            ("cpu", "cpu.cfs_quota_us"),
            ("cpu", "cpu.cfs_period_us"),
            ("cpuset", "cpuset.cpus"),
            ("cpuset", "cpuset.mems"),
            ("pids", "pids.max"),
        ];
        let mut seen: Vec<String> = files
            .iter()
            .map(|(ctrl, f)| format!("{f}={}", read_host(&host_cg(&c, which, ctrl, f))))
            .collect();
        let pid = state(&c, which)["pid"].as_i64().expect("pid");
        let procs = read_host(&host_cg(&c, which, "pids", "cgroup.procs"));
        seen.push(format!(
            "init-in-procs={}",
            procs.lines().any(|l| l == pid.to_string())
        ));
        delete(&c, which);
        seen
    });
}

#[test]
fn oom_killed_init_exits_137() {
    let mut c = Case::new("oom137");
    // dd touches a 64 MiB buffer under a 16 MiB (memory+swap) limit.
    resources(
        &mut c,
        json!({"memory": {"limit": 16 * MIB, "swap": 16 * MIB}}),
    )
    .args(&["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    let o = differential(&c);
    assert_eq!(o.code, 137, "{o:?}");
}

#[test]
fn oom_kill_is_recorded_in_the_container_cgroup() {
    let mut c = Case::new("oomhost");
    resources(
        &mut c,
        json!({"memory": {"limit": 16 * MIB, "swap": 16 * MIB}}),
    )
    .sh("dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd-exit=$?");
    both(&c, |which| {
        create(&c, which);
        let o = rt(&c, which, &["start", &c.id(which)]);
        assert_eq!(o.code, 0, "{which:?} start: {o:?}");
        wait_status(&c, which, "stopped");
        let oc = read_host(&host_cg(&c, which, "memory", "memory.oom_control"));
        let kills = oc
            .lines()
            .find(|l| l.starts_with("oom_kill "))
            .map(str::to_string);
        let out = created_stdout(&c, which);
        delete(&c, which);
        (kills, out)
    });
}

#[test]
fn pause_and_resume_use_the_freezer() {
    let mut c = Case::new("pause");
    c.sh("sleep 30");
    both(&c, |which| {
        let id = c.id(which);
        create(&c, which);
        assert_eq!(rt(&c, which, &["start", &id]).code, 0);
        wait_status(&c, which, "running");
        let mut seen = Vec::new();
        let p = rt(&c, which, &["pause", &id]);
        seen.push(format!("pause={}", p.code));
        seen.push(format!("status={}", state(&c, which)["status"]));
        seen.push(format!(
            "freezer={}",
            read_host(&host_cg(&c, which, "freezer", "freezer.state"))
        ));
        let r = rt(&c, which, &["resume", &id]);
        seen.push(format!("resume={}", r.code));
        seen.push(format!("status={}", state(&c, which)["status"]));
        seen.push(format!(
            "freezer={}",
            read_host(&host_cg(&c, which, "freezer", "freezer.state"))
        ));
        assert_eq!(rt(&c, which, &["kill", &id, "KILL"]).code, 0);
        wait_status(&c, which, "stopped");
        delete(&c, which);
        seen
    });
}

#[test]
fn kill_reaches_a_paused_container_after_resume() {
    // SIGKILL sent while frozen is delivered once thawed; delete --force
    // of a paused container must leave nothing behind.
    let mut c = Case::new("pausedel");
    c.sh("sleep 30");
    both(&c, |which| {
        let id = c.id(which);
        create(&c, which);
        assert_eq!(rt(&c, which, &["start", &id]).code, 0);
        wait_status(&c, which, "running");
        assert_eq!(rt(&c, which, &["pause", &id]).code, 0);
        let st = state(&c, which)["status"].clone();
        delete(&c, which);
        st
    });
}

#[test]
fn blkio_throttles_inside() {
    // Throttles on the root disk (this machine has no CFQ/BFQ weights).
    let dev = std::fs::read_to_string("/sys/block/vda/dev").expect("/sys/block/vda/dev");
    let (major, minor) = dev.trim().split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let mut c = Case::new("blkio");
    resources(
        &mut c,
        json!({"blockIO": {
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 10_485_760}],
            "throttleWriteBpsDevice": [{"major": major, "minor": minor, "rate": 5_242_880}],
            "throttleReadIOPSDevice": [{"major": major, "minor": minor, "rate": 1000}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 500}]}}),
    )
    .sh("cd /sys/fs/cgroup/blkio && cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device \
         blkio.throttle.read_iops_device blkio.throttle.write_iops_device");
    let o = differential(&c);
    assert_eq!(o.stdout, format!("{major}:{minor} 10485760\n{major}:{minor} 5242880\n{major}:{minor} 1000\n{major}:{minor} 500\n"));
}

#[test]
fn cpu_usage_is_accounted_in_cpuacct() {
    // cpuacct accounting of a busy container, read from the host before
    // delete: both runtimes must have placed init in the cpuacct hierarchy.
    let mut c = Case::new("cpuacct");
    c.sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done");
    both(&c, |which| {
        create(&c, which);
        assert_eq!(rt(&c, which, &["start", &c.id(which)]).code, 0);
        wait_status(&c, which, "stopped");
        let usage: u64 = read_host(&host_cg(&c, which, "cpuacct", "cpuacct.usage"))
            .parse()
            .unwrap();
        let out = created_stdout(&c, which);
        delete(&c, which);
        (usage > 1_000_000, out)
    });
}
// --- seccomp -----------------------------------------------------------------

fn seccomp(c: &mut Case, profile: Value) -> &mut Case {
    c.edit(|v| v["linux"]["seccomp"] = profile)
}

#[test]
fn seccomp_mode_and_denied_syscall_errno() {
    let mut c = Case::new("scmode");
    seccomp(
        &mut c,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
    )
    .sh("grep -E '^Seccomp' /proc/self/status; mkdir /tmp/d 2>&1; echo mkdir=$?");
    let o = differential(&c);
    assert!(o.stdout.starts_with("Seccomp:\t2\n"), "{o:?}");
    assert!(
        o.stdout.contains("Operation not permitted") && o.stdout.contains("mkdir=1"),
        "{o:?}"
    );
}

#[test]
fn seccomp_errno_ret_and_argument_rule() {
    // kill(2) with signal 0 answers ENOSYS (38); other signals pass.
    let mut c = Case::new("scargs");
    seccomp(
        &mut c,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                             "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
    )
    .sh("kill -0 $$ 2>&1; echo zero=$?; kill -CONT $$; echo cont=$?");
    let o = differential(&c);
    assert!(
        o.stdout.contains("Function not implemented") && o.stdout.contains("zero=1\ncont=0\n"),
        "{o:?}"
    );
}

#[test]
fn seccomp_kill_action_ends_the_process() {
    let mut c = Case::new("sckill");
    seccomp(
        &mut c,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    )
    .args(&["unshare", "-u", "true"]);
    let o = differential(&c);
    assert_eq!(o.code, 128 + 31, "SIGSYS expected: {o:?}");
}

/// A default-deny allowlist in the shape of Docker's default profile
/// (defaultAction ERRNO/EPERM, x86 family, one large ALLOW rule,
/// personality(2) restricted by value, clone(2) without namespace flags via
/// MASKED_EQ, clone3 answered ENOSYS). The name list is ours.
fn docker_like() -> Value {
    let allowed = "accept accept4 access alarm arch_prctl bind brk capget capset chdir chmod chown \
        clock_getres clock_gettime clock_nanosleep close close_range connect dup dup2 dup3 epoll_create1 \
        epoll_ctl epoll_pwait epoll_wait eventfd2 execve execveat exit exit_group faccessat faccessat2 \
        fadvise64 fchdir fchmod fchmodat fchown fchownat fcntl fdatasync flock fork fstat fstatfs fsync \
        ftruncate futex getcwd getdents getdents64 getegid geteuid getgid getgroups getitimer getpeername \
        getpgid getpgrp getpid getppid getpriority getrandom getresgid getresuid getrlimit getrusage \
        getsid getsockname getsockopt gettid gettimeofday getuid getxattr ioctl kill lchown lgetxattr \
        link linkat listen lseek lstat madvise membarrier mkdir mkdirat mknodat mmap mprotect mremap \
        munmap nanosleep newfstatat open openat pause pipe pipe2 poll ppoll prctl pread64 prlimit64 \
        pselect6 pwrite64 read readlink readlinkat readv recvfrom recvmsg rename renameat renameat2 \
        restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigreturn rt_sigsuspend \
        rt_sigtimedwait sched_getaffinity sched_yield select sendfile sendmsg sendto setgid setgroups \
        setitimer setpgid setpriority setresgid setresuid setsid setsockopt set_robust_list \
        set_tid_address setuid shutdown sigaltstack socketpair stat statfs statx symlink symlinkat sync \
        sysinfo tgkill time times tkill truncate umask uname unlink unlinkat utimensat vfork wait4 \
        waitid write writev";
    let names: Vec<&str> = allowed.split_whitespace().collect();
    let mut syscalls = vec![
        json!({"names": names, "action": "SCMP_ACT_ALLOW"}),
        json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}),
        json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}),
        json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}),
    ];
    for v in [0u64, 8, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]}));
    }
    json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
           "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
           "syscalls": syscalls})
}

#[test]
fn seccomp_docker_like_default_profile() {
    let mut c = Case::new("scdocker");
    seccomp(&mut c, docker_like()).sh("echo piped | cat; ls / | wc -l; linux32 uname -m; \
         unshare -u true 2>&1; echo unshare=$?; \
         mount -t tmpfs none /tmp 2>&1; echo mount=$?; \
         grep -E '^Seccomp:' /proc/self/status");
    let o = differential(&c);
    assert!(o.stdout.starts_with("piped\n"), "{o:?}");
    assert!(
        o.stdout.contains("unshare=1") && !o.stdout.contains("mount=0"),
        "{o:?}"
    );
    assert!(o.stdout.ends_with("Seccomp:\t2\n"), "{o:?}");
    // The second container with the same profile installs the program the
    // first one compiled (one file in the root's cache) and behaves the same.
    let cache = c.root(Rt::Berth).join("@seccomp-bpf");
    let programs = || std::fs::read_dir(&cache).map_or(0, |d| d.count());
    assert_eq!(programs(), 1, "the first run stored its program");
    let written = || {
        let f = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap();
        (f.file_name(), f.metadata().unwrap().modified().unwrap())
    };
    let before = written();
    let again = c.run(Rt::Berth);
    c.assert_no_leftovers(Rt::Berth);
    assert_eq!(again.stdout, o.stdout, "{again:?}");
    assert_eq!(programs(), 1);
    assert_eq!(written(), before, "the second run read it, not rewrote it");
}

#[test]
fn seccomp_with_no_new_privileges_off_as_root() {
    // Without no_new_privs (and without CAP_SYS_ADMIN in the container's
    // capability sets, as in runc's default spec) the runtime must load
    // the filter before it drops its own capabilities.
    let mut c = Case::new("scnnp0");
    seccomp(
        &mut c,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
    )
    .sh("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; mkdir /tmp/x 2>&1")
    .edit(|v| {
        v["process"]["noNewPrivileges"] = json!(false);
    });
    let o = differential(&c);
    assert!(
        o.stdout.starts_with("NoNewPrivs:\t0\nSeccomp:\t2\n")
            && o.stdout.contains("Operation not permitted"),
        "{o:?}"
    );
}

#[test]
fn seccomp_old_default_deny_profile_without_close_range() {
    // runtime-tools' default profile shape: default ERRNO, an allowlist that
    // names landlock_* (444-446) but not close_range (436), clone3 (435)
    // or faccessat2 (439). The runtime must not need those after the filter
    // is in place, and the container's libc falls back from them.
    let mut v = docker_like();
    let names = v["syscalls"][0]["names"].as_array_mut().unwrap();
    names.retain(|n| !matches!(n.as_str(), Some("close_range" | "faccessat2" | "rseq")));
    for n in [
        "landlock_create_ruleset",
        "landlock_add_rule",
        "landlock_restrict_self",
    ] {
        names.push(json!(n));
    }
    v["syscalls"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["names"][0] != "clone3");
    let mut c = Case::new("scold");
    seccomp(&mut c, v).sh("echo piped | cat; ls /dev/null; grep -E '^Seccomp:' /proc/self/status");
    let o = differential(&c);
    assert_eq!(o.stdout, "piped\n/dev/null\nSeccomp:\t2\n");
}
