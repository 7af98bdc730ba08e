//! Docker's seccomp profile format, and Docker's default profile.
//!
//! Docker (moby `profiles/seccomp`) does not hand OCI `linux.seccomp` to
//! the runtime directly: a profile is a superset of it, and the daemon
//! filters it for the container being started:
//!
//! * `architectures` *or* `archMap` (`[{architecture, subArchitectures}]`,
//!   of which only the entry of the native architecture is used);
//! * `syscalls[]` with `names` (or the older single `name`), `action`,
//!   `errnoRet`, `args`, `comment`, and `includes` / `excludes` conditions
//!   `{caps, arches, minKernel}`: a rule is kept when every included
//!   capability is in the container's bounding set, the native
//!   architecture (Go's names: `amd64`, `arm64`, `s390x`...) is among the
//!   included ones, and the kernel is at least `minKernel`; it is dropped
//!   when any excluded capability is held, the architecture is excluded,
//!   or the kernel is at least the excluded `minKernel`;
//! * `defaultAction`, `defaultErrnoRet`, `flags`, `listenerPath`,
//!   `listenerMetadata` pass through.
//!
//! [`Profile::to_oci`] does that filtering; [`default_profile`] is Docker's
//! default profile (docs.docker.com "Seccomp security profiles for
//! Docker"), written here as Berth's own tables: the syscalls every
//! container may make, plus those granted with a capability.
//!
//! The daemon's wording is Docker's: a profile that does not decode is
//! `Decoding seccomp profile failed: <reason>`, and `architectures` with
//! `archMap` is refused as dockerd refuses it.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};
use serde::Deserialize;

/// A seccomp profile in Docker's JSON format (what
/// `--security-opt seccomp=<file>` sends, compacted, in
/// `HostConfig.SecurityOpt` as `seccomp=<json>`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Action for syscalls no rule matches; empty (with no syscalls)
    /// means "no filter", as in Docker.
    #[serde(default)]
    pub default_action: String,
    /// errno for an `SCMP_ACT_ERRNO` / `SCMP_ACT_TRACE` default action.
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// Explicit architectures (`SCMP_ARCH_X86_64`...).
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    /// Architectures per native architecture.
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    /// Rules, in order.
    #[serde(default)]
    pub syscalls: Option<Vec<Rule>>,
    /// `SECCOMP_FILTER_FLAG_*` names.
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    /// Seccomp agent socket (for `SCMP_ACT_NOTIFY`; passed through).
    #[serde(default)]
    pub listener_path: Option<String>,
    /// Opaque data for the agent (passed through).
    #[serde(default)]
    pub listener_metadata: Option<String>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// The native architecture this entry applies to (`SCMP_ARCH_X86_64`).
    pub architecture: String,
    /// Further architectures allowed with it (`SCMP_ARCH_X86`, `SCMP_ARCH_X32`).
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

/// One rule of `syscalls`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// A single syscall (the format before `names`).
    #[serde(default)]
    pub name: String,
    /// Syscall names.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// `SCMP_ACT_*`.
    #[serde(default)]
    pub action: String,
    /// errno for `SCMP_ACT_ERRNO` / `SCMP_ACT_TRACE`.
    #[serde(default)]
    pub errno_ret: Option<u32>,
    /// Argument comparisons, ANDed.
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    /// Free text.
    #[serde(default)]
    pub comment: String,
    /// Conditions under which the rule is kept.
    #[serde(default)]
    pub includes: Filter,
    /// Conditions under which the rule is dropped.
    #[serde(default)]
    pub excludes: Filter,
}

/// An argument comparison (`SCMP_CMP_*`; for `SCMP_CMP_MASKED_EQ`,
/// `value` is the mask and `valueTwo` the expected masked value).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    /// Argument index, 0..=5.
    pub index: u32,
    /// Operand.
    #[serde(default)]
    pub value: u64,
    /// Second operand.
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`...
    pub op: String,
}

/// `includes` / `excludes` of a rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Go architecture names (`amd64`, `arm64`, `x86`, `s390x`...).
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    /// Capability names (`CAP_SYS_ADMIN`).
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    /// Kernel release, `major.minor`.
    #[serde(default)]
    pub min_kernel: String,
}

/// Parses a profile from the JSON text of `seccomp=<json>`.
///
/// Errors: `Decoding seccomp profile failed: <serde's reason>` (dockerd's
/// prefix).
pub fn parse(json: &str) -> Result<Profile, String> {
    serde_json::from_str(json).map_err(|e| format!("Decoding seccomp profile failed: {e}"))
}

/// The host as Docker's conditions see it.
#[derive(Debug, Clone)]
pub struct Host {
    /// Go's name of the native architecture (`amd64`).
    pub go_arch: String,
    /// libseccomp's name of it (`SCMP_ARCH_X86_64`), if known.
    pub seccomp_arch: Option<String>,
    /// Kernel release `(major, minor)`.
    pub kernel: (u32, u32),
}

impl Host {
    /// This machine: the compile-time architecture and the running
    /// kernel (`/proc/sys/kernel/osrelease`; `(0, 0)` if unreadable).
    pub fn current() -> Host {
        let (go, scmp) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", Some("SCMP_ARCH_X86_64")),
            "x86" => ("x86", Some("SCMP_ARCH_X86")),
            "aarch64" => ("arm64", Some("SCMP_ARCH_AARCH64")),
            "arm" => ("arm", Some("SCMP_ARCH_ARM")),
            "s390x" => ("s390x", Some("SCMP_ARCH_S390X")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", Some("SCMP_ARCH_PPC64LE")),
            "powerpc64" => ("ppc64", Some("SCMP_ARCH_PPC64")),
            "riscv64" => ("riscv64", Some("SCMP_ARCH_RISCV64")),
            "mips64" if cfg!(target_endian = "little") => ("mipsel64", Some("SCMP_ARCH_MIPSEL64")),
            "mips64" => ("mips64", Some("SCMP_ARCH_MIPS64")),
            "loongarch64" => ("loong64", Some("SCMP_ARCH_LOONGARCH64")),
            other => (other, None),
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|r| parse_kernel(&r))
            .unwrap_or((0, 0));
        Host {
            go_arch: go.to_string(),
            seccomp_arch: scmp.map(str::to_string),
            kernel,
        }
    }
}

/// `major.minor[.patch][-suffix]` -> `(major, minor)`.
fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut it = s.trim().split(['.', '-', '+']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn enum_from_name<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| format!("seccomp profile: invalid {what} {v:?}"))
}

impl Profile {
    /// Filters the profile for a container whose bounding capability set
    /// is `caps` (`CAP_*` names) on `host`, as dockerd does before handing
    /// the OCI `linux.seccomp` to the runtime. `None`: the profile asks
    /// for no filter (no `defaultAction` and no syscalls).
    ///
    /// Errors (Docker's words where dockerd has them): both
    /// `architectures` and `archMap`; `name` with `names`; a bad
    /// `minKernel`; an unknown action, architecture, operator or flag.
    pub fn to_oci(&self, caps: &[String], host: &Host) -> Result<Option<LinuxSeccomp>, String> {
        let syscalls = self.syscalls.as_deref().unwrap_or_default();
        if self.default_action.is_empty() && syscalls.is_empty() {
            return Ok(None);
        }
        let explicit = self.architectures.as_deref().unwrap_or_default();
        let map = self.arch_map.as_deref().unwrap_or_default();
        if !explicit.is_empty() && !map.is_empty() {
            return Err("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'".into());
        }
        let mut arches: Vec<String> = explicit.to_vec();
        if let Some(native) = &host.seccomp_arch {
            if let Some(m) = map.iter().find(|m| &m.architecture == native) {
                arches.push(m.architecture.clone());
                arches.extend(m.sub_architectures.iter().flatten().cloned());
            }
        }
        let arches: Vec<Arch> = arches
            .iter()
            .map(|a| enum_from_name("architecture", a))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (i, r) in syscalls.iter().enumerate() {
            if !r.applies(caps, host)? {
                continue;
            }
            let names = r.names.as_deref().unwrap_or_default();
            if !r.name.is_empty() && !names.is_empty() {
                return Err("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'".into());
            }
            let names = if r.name.is_empty() {
                names.to_vec()
            } else {
                vec![r.name.clone()]
            };
            let action: LinuxSeccompAction =
                enum_from_name("action", &r.action).map_err(|e| format!("{e} in syscalls[{i}]"))?;
            let mut args = Vec::new();
            for a in r.args.iter().flatten() {
                let op: LinuxSeccompOperator = enum_from_name("operator", &a.op)
                    .map_err(|e| format!("{e} in syscalls[{i}]"))?;
                let mut b = LinuxSeccompArgBuilder::default()
                    .index(a.index as usize)
                    .value(a.value)
                    .op(op);
                if a.value_two != 0 {
                    b = b.value_two(a.value_two);
                }
                args.push(b.build().map_err(|e| format!("seccomp profile: {e}"))?);
            }
            let mut b = LinuxSyscallBuilder::default().names(names).action(action);
            if let Some(e) = r.errno_ret {
                b = b.errno_ret(e);
            }
            if !args.is_empty() {
                b = b.args(args);
            }
            out.push(b.build().map_err(|e| format!("seccomp profile: {e}"))?);
        }
        let default: LinuxSeccompAction = enum_from_name("defaultAction", &self.default_action)?;
        let mut b = LinuxSeccompBuilder::default()
            .default_action(default)
            .syscalls(out);
        if let Some(e) = self.default_errno_ret {
            b = b.default_errno_ret(e);
        }
        if !arches.is_empty() {
            b = b.architectures(arches);
        }
        if let Some(f) = &self.flags {
            let flags: Vec<LinuxSeccompFilterFlag> = f
                .iter()
                .map(|x| enum_from_name("flag", x))
                .collect::<Result<_, _>>()?;
            b = b.flags(flags);
        }
        if let Some(p) = &self.listener_path {
            b = b.listener_path(p);
        }
        if let Some(m) = &self.listener_metadata {
            b = b.listener_metadata(m.clone());
        }
        b.build()
            .map(Some)
            .map_err(|e| format!("seccomp profile: {e}"))
    }
}

fn kernel_at_least(host: &Host, v: &str) -> Result<bool, String> {
    let want = parse_kernel(v).ok_or_else(|| format!("invalid kernel version {v:?}"))?;
    Ok(host.kernel >= want)
}

impl Rule {
    /// Whether the rule's `includes` / `excludes` keep it for a container
    /// with bounding set `caps` on `host` (moby's order of checks).
    fn applies(&self, caps: &[String], host: &Host) -> Result<bool, String> {
        let has = |c: &String| caps.iter().any(|x| x == c);
        let ex = &self.excludes;
        if ex.arches.iter().flatten().any(|a| *a == host.go_arch)
            || ex.caps.iter().flatten().any(has)
        {
            return Ok(false);
        }
        if !ex.min_kernel.is_empty() && kernel_at_least(host, &ex.min_kernel)? {
            return Ok(false);
        }
        let inc = &self.includes;
        if let Some(a) = inc.arches.as_ref().filter(|a| !a.is_empty()) {
            if !a.contains(&host.go_arch) {
                return Ok(false);
            }
        }
        if !inc.caps.iter().flatten().all(has) {
            return Ok(false);
        }
        if !inc.min_kernel.is_empty() && !kernel_at_least(host, &inc.min_kernel)? {
            return Ok(false);
        }
        Ok(true)
    }
}

/// Syscalls every container may make under Docker's default profile
/// (its unconditional allow list), whitespace-separated.
const ALWAYS: &str = "
    accept accept4 access adjtimex alarm bind brk capget capset chdir chmod
    chown chown32 clock_adjtime clock_adjtime64 clock_getres
    clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
    clock_nanosleep_time64 close close_range connect copy_file_range creat
    dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
    epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
    execve execveat exit exit_group faccessat faccessat2 fadvise64
    fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown
    fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock
    fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
    fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat
    getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
    getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid
    getpgrp getpid getppid getpriority getrandom getresgid getresgid32
    getresuid getresuid32 getrlimit get_robust_list getrusage getsid
    getsockname getsockopt get_thread_area gettid gettimeofday getuid
    getuid32 getxattr inotify_add_watch inotify_init inotify_init1
    inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
    io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
    io_uring_enter io_uring_register io_uring_setup ipc kill
    landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
    lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek
    lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier
    memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
    mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
    mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
    mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall
    munmap name_to_handle_at nanosleep newfstatat _newselect open openat
    openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc
    pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv
    preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64
    pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom
    recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
    renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
    rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
    rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
    sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
    sched_get_priority_min sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr
    sched_setparam sched_setscheduler sched_yield seccomp select semctl
    semget semop semtimedop semtimedop_time64 send sendfile sendfile64
    sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid
    setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
    setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
    setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
    set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget
    shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
    socketcall socketpair splice stat stat64 statfs statfs64 statx symlink
    symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
    timer_settime timer_settime64 timerfd_create timerfd_gettime
    timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate
    truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat
    utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
";

/// Syscalls allowed with a capability in the bounding set:
/// `(capability, syscalls)`.
const WITH_CAP: &[(&str, &str)] = &[
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick
         lookup_dcookie mount mount_setattr move_mount open_tree
         perf_event_open quotactl quotactl_fd setdomainname sethostname
         setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    (
        "CAP_SYS_NICE",
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    ),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
];

/// Syscalls allowed only on some architectures (Go names):
/// `(arches, syscalls)`.
const ON_ARCH: &[(&str, &str)] = &[
    ("ppc64le", "sync_file_range2 swapcontext"),
    (
        "arm arm64",
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    ),
    ("amd64 x32", "arch_prctl"),
    ("amd64 x32 x86", "modify_ldt"),
    (
        "s390 s390x",
        "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
    ),
    ("riscv64", "riscv_flush_icache"),
];

/// `personality(2)` personas allowed: PER_LINUX, PER_LINUX32,
/// UNAME26, UNAME26|PER_LINUX32, and the 0xffffffff query.
const PERSONAS: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The `clone(2)` flags that create namespaces (CLONE_NEWNS, NEWCGROUP,
/// NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET): without CAP_SYS_ADMIN a clone
/// must have none of them.
const CLONE_NS_FLAGS: u64 = 0x7E02_0000;

/// `AF_VSOCK`: the one socket family the default profile refuses.
const AF_VSOCK: u64 = 40;

/// `ENOSYS`: what `clone3` answers without CAP_SYS_ADMIN (its flags are
/// in memory seccomp cannot inspect), so libc falls back to `clone`.
const ENOSYS: u32 = 38;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn allow(names: &str) -> Rule {
    Rule {
        names: Some(words(names)),
        action: "SCMP_ACT_ALLOW".into(),
        ..Rule::default()
    }
}

fn arg(index: u32, value: u64, op: &str) -> Option<Vec<Arg>> {
    Some(vec![Arg {
        index,
        value,
        value_two: 0,
        op: op.into(),
    }])
}

/// Docker's default profile: `SCMP_ACT_ERRNO` (EPERM) for everything but
/// the allow lists above, the native architecture with its
/// sub-architectures, ptrace and process_vm_* from Linux 4.8, socket of
/// any family but AF_VSOCK, the common personalities, clone without
/// namespace flags (any clone with CAP_SYS_ADMIN), clone3 answering
/// ENOSYS, and each capability's syscalls.
pub fn default_profile() -> Profile {
    let mut rules = vec![allow(ALWAYS)];
    let mut r = allow("process_vm_readv process_vm_writev ptrace");
    r.includes.min_kernel = "4.8".into();
    rules.push(r);
    let mut r = allow("socket");
    r.args = arg(0, AF_VSOCK, "SCMP_CMP_NE");
    rules.push(r);
    for p in PERSONAS {
        let mut r = allow("personality");
        r.args = arg(0, *p, "SCMP_CMP_EQ");
        rules.push(r);
    }
    for (arches, names) in ON_ARCH {
        let mut r = allow(names);
        r.includes.arches = Some(words(arches));
        rules.push(r);
    }
    let sys_admin = || Some(vec!["CAP_SYS_ADMIN".to_string()]);
    // clone's flags are argument 0, except on s390 where they are 1.
    let mut r = allow("clone");
    r.args = arg(0, CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ");
    r.excludes.caps = sys_admin();
    r.excludes.arches = Some(words("s390 s390x"));
    rules.push(r);
    let mut r = allow("clone");
    r.args = arg(1, CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ");
    r.includes.arches = Some(words("s390 s390x"));
    r.excludes.caps = sys_admin();
    rules.push(r);
    rules.push(Rule {
        names: Some(words("clone3")),
        action: "SCMP_ACT_ERRNO".into(),
        errno_ret: Some(ENOSYS),
        excludes: Filter {
            caps: sys_admin(),
            ..Filter::default()
        },
        ..Rule::default()
    });
    for (cap, names) in WITH_CAP {
        let mut r = allow(names);
        r.includes.caps = Some(vec![cap.to_string()]);
        rules.push(r);
    }
    let arch_map = [
        ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86 SCMP_ARCH_X32"),
        ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
        ("SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS SCMP_ARCH_MIPS64N32"),
        ("SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPS SCMP_ARCH_MIPS64"),
        (
            "SCMP_ARCH_MIPSEL64",
            "SCMP_ARCH_MIPSEL SCMP_ARCH_MIPSEL64N32",
        ),
        (
            "SCMP_ARCH_MIPSEL64N32",
            "SCMP_ARCH_MIPSEL SCMP_ARCH_MIPSEL64",
        ),
        ("SCMP_ARCH_S390X", "SCMP_ARCH_S390"),
        ("SCMP_ARCH_RISCV64", ""),
    ]
    .iter()
    .map(|(a, subs)| ArchMap {
        architecture: a.to_string(),
        sub_architectures: Some(words(subs)),
    })
    .collect();
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(1),
        arch_map: Some(arch_map),
        syscalls: Some(rules),
        ..Profile::default()
    }
}

/// The rules a filtered profile allows or refuses for `name`
/// (diagnostics and tests).
pub fn rules_for<'a>(p: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
    p.syscalls()
        .iter()
        .flatten()
        .filter(|r| r.names().iter().any(|n| n == name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host {
            go_arch: "amd64".into(),
            seccomp_arch: Some("SCMP_ARCH_X86_64".into()),
            kernel: (6, 1),
        }
    }

    fn caps(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_profile_for_default_caps() {
        let p = default_profile()
            .to_oci(&caps(&["CAP_CHOWN", "CAP_SYS_CHROOT"]), &host())
            .unwrap()
            .unwrap();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(1));
        assert_eq!(
            p.architectures().as_deref().unwrap(),
            [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        for denied in ["unshare", "mount", "keyctl", "add_key", "setns", "reboot"] {
            assert!(rules_for(&p, denied).is_empty(), "{denied} allowed");
        }
        assert_eq!(rules_for(&p, "chroot").len(), 1);
        assert_eq!(rules_for(&p, "arch_prctl").len(), 1);
        assert!(rules_for(&p, "s390_runtime_instr").is_empty());
        let clone = rules_for(&p, "clone");
        assert_eq!(clone.len(), 1);
        let a = &clone[0].args().as_ref().unwrap()[0];
        assert_eq!(
            (a.index(), a.value(), a.op()),
            (0, CLONE_NS_FLAGS, LinuxSeccompOperator::ScmpCmpMaskedEq)
        );
        let c3 = rules_for(&p, "clone3");
        assert_eq!(c3[0].errno_ret(), Some(ENOSYS));
        assert_eq!(rules_for(&p, "personality").len(), PERSONAS.len());
        assert_eq!(rules_for(&p, "ptrace").len(), 1);
        // It compiles.
        crate::compile(&p).unwrap();
    }

    #[test]
    fn sys_admin_enables_its_syscalls() {
        let p = default_profile()
            .to_oci(&caps(&["CAP_SYS_ADMIN"]), &host())
            .unwrap()
            .unwrap();
        for allowed in ["unshare", "mount", "setns", "umount2", "clone3"] {
            let r = rules_for(&p, allowed);
            assert!(
                r.iter()
                    .any(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none()),
                "{allowed}: {r:?}"
            );
        }
        // The ENOSYS clone3 rule and the flag-masked clone rule are gone.
        assert!(rules_for(&p, "clone3")
            .iter()
            .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow));
        assert_eq!(rules_for(&p, "clone").len(), 1);
        assert!(rules_for(&p, "keyctl").is_empty());
    }

    #[test]
    fn old_kernel_loses_ptrace() {
        let mut h = host();
        h.kernel = (4, 4);
        let p = default_profile().to_oci(&[], &h).unwrap().unwrap();
        assert!(rules_for(&p, "ptrace").is_empty());
    }

    #[test]
    fn docker_errors() {
        let e = parse(r#"{"defaultAction": 5}"#).unwrap_err();
        assert!(e.starts_with("Decoding seccomp profile failed: "), "{e}");
        let e = parse("not json").unwrap_err();
        assert!(e.starts_with("Decoding seccomp profile failed: "), "{e}");
        let p = parse(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#).unwrap();
        assert_eq!(p.to_oci(&[], &host()).unwrap_err(), "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
        let p = parse(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","names":["rmdir"],"action":"SCMP_ACT_ERRNO"}]}"#).unwrap();
        assert!(p
            .to_oci(&[], &host())
            .unwrap_err()
            .contains("'name' and 'names'"));
        let p = parse(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
        assert!(p
            .to_oci(&[], &host())
            .unwrap_err()
            .contains("SCMP_ACT_NOPE"));
        let p = parse("{}").unwrap();
        assert!(p.to_oci(&[], &host()).unwrap().is_none());
    }

    #[test]
    fn conditions_in_a_custom_profile() {
        let p = parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":13,"excludes":{"caps":["CAP_SYS_ADMIN"]}},
              {"names":["rmdir"],"action":"SCMP_ACT_ERRNO","includes":{"arches":["arm64"]}},
              {"names":["chdir"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"99.0"}}]}"#,
        )
        .unwrap();
        let o = p.to_oci(&[], &host()).unwrap().unwrap();
        assert_eq!(rules_for(&o, "mkdir")[0].errno_ret(), Some(13));
        assert!(rules_for(&o, "rmdir").is_empty() && rules_for(&o, "chdir").is_empty());
        let o = p
            .to_oci(&caps(&["CAP_SYS_ADMIN"]), &host())
            .unwrap()
            .unwrap();
        assert!(rules_for(&o, "mkdir").is_empty());
        assert_eq!(parse_kernel("6.18.44-fc-v657"), Some((6, 18)));
    }
}
