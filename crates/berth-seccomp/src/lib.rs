//! OCI `linux.seccomp` profiles compiled to a BPF filter with libseccomp.
//!
//! Implements the OCI runtime spec's `config-linux.md` section "Seccomp"
//! (`defaultAction`, `defaultErrnoRet`, `architectures`, `flags`,
//! `syscalls[].names/action/errnoRet/args`) on top of libseccomp (the
//! library runc uses, through its well-kept Rust binding `libseccomp`
//! 0.4), so the generated BPF matches runc's for the same profile. The
//! kernel side is `Documentation/userspace-api/seccomp_filter.rst` and
//! seccomp(2).
//!
//! Behaviour shared with runc 1.1:
//! * syscall names unknown on this architecture are skipped (listed in
//!   [`Filter::skipped`]), not an error;
//! * a rule whose action equals the default action is dropped (libseccomp
//!   refuses such rules);
//! * `ERRNO` and `TRACE` without `errnoRet` return `EPERM`;
//! * `SCMP_ACT_KILL` means kill the thread;
//! * the args of one rule are ANDed into one libseccomp rule, unless two
//!   of them test the same argument index, in which case each arg becomes
//!   its own rule (ORed);
//! * `SCMP_CMP_MASKED_EQ` takes `value` as the mask and `valueTwo` as the
//!   value the masked argument must equal;
//! * the filter does not set `no_new_privs` itself: the runtime does that
//!   from `process.noNewPrivileges`, so [`Filter::load`] needs either
//!   `no_new_privs` or `CAP_SYS_ADMIN` (seccomp(2), EACCES);
//! * libseccomp's binary-tree optimisation is used above 8 rules.
//!
//! * like runc's "ENOSYS stub", syscalls that are newer (higher-numbered
//!   on the native architecture) than every syscall the profile names
//!   return `ENOSYS` instead of a blocking default action, so libc and the
//!   runtime fall back from syscalls an older profile does not know
//!   (close_range, clone3, faccessat2...) instead of failing with EPERM.
//!   runc patches the BPF per architecture; we add ERRNO(ENOSYS) rules by
//!   name for the native numbering, which libseccomp translates to the
//!   profile's other architectures.
//!
//! [`docker`] reads Docker's profile format (`archMap`, `includes` /
//! `excludes` by capability, architecture and kernel) and holds Docker's
//! default profile; it yields the `linux.seccomp` compiled here.
//!
//! Not done: `SCMP_ACT_NOTIFY` (needs a seccomp agent at `listenerPath`)
//! is rejected with [`Error::Unsupported`].

pub mod cache;
pub mod docker;

pub use cache::{compile_cached, Program};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

/// Errors; each names the profile field or syscall concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// libseccomp refused something.
    #[error("seccomp: {what}: {source}")]
    Libseccomp {
        /// What was being done, e.g. `add rule for "ptrace"`.
        what: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// A profile value is invalid.
    #[error("seccomp: invalid {field}: {reason}")]
    Invalid {
        /// The field, e.g. `syscalls[3].args[0].index`.
        field: String,
        /// Why.
        reason: String,
    },
    /// A feature the profile asks for is not supported.
    #[error("seccomp: {0}")]
    Unsupported(String),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

fn lib_err(what: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> Error {
    let what = what.into();
    move |source| Error::Libseccomp { what, source }
}

/// The kernel's `SECCOMP_FILTER_FLAG_TSYNC` (seccomp(2)).
pub const FLAG_TSYNC: u32 = 1;
/// The kernel's `SECCOMP_FILTER_FLAG_LOG` (Linux 4.14).
pub const FLAG_LOG: u32 = 2;
/// The kernel's `SECCOMP_FILTER_FLAG_SPEC_ALLOW` (Linux 4.17).
pub const FLAG_SPEC_ALLOW: u32 = 4;
/// The kernel's `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19).
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// A compiled filter, ready to load into the calling thread.
///
/// Not `Send` (it owns a libseccomp context): compile it in the process
/// that loads it, or take [`Filter::bpf`] across a fork and install it
/// with seccomp(2) directly.
#[derive(Debug)]
pub struct Filter {
    ctx: ScmpFilterContext,
    skipped: Vec<String>,
    flags: u32,
}

impl Filter {
    /// Installs the filter on the calling thread (all threads with the
    /// TSYNC flag) via `seccomp_load(3)`. It allocates, so call it before
    /// `exec`, not between `fork` and `exec` of a multi-threaded parent.
    ///
    /// Errors: EACCES from the kernel when neither `no_new_privs` is set
    /// nor `CAP_SYS_ADMIN` is held; EINVAL for a flag the kernel lacks.
    pub fn load(&self) -> Result<()> {
        // libseccomp 2.5 reports any kernel refusal as ECANCELED, so name
        // the usual cause.
        self.ctx.load().map_err(lib_err(
            "load filter (seccomp(2) needs no_new_privs or CAP_SYS_ADMIN)",
        ))
    }

    /// The compiled program: an array of `struct sock_filter` (8 bytes
    /// each, native endianness: u16 code, u8 jt, u8 jf, u32 k), as
    /// `seccomp(SECCOMP_SET_MODE_FILTER, flags(), &sock_fprog)` takes it.
    pub fn bpf(&self) -> Result<Vec<u8>> {
        // seccomp_export_bpf_mem needs libseccomp 2.6; Debian 12 has 2.5.4,
        // so export through an anonymous temporary file.
        use std::io::{Read, Seek};
        let io = |e: std::io::Error| {
            Error::Unsupported(format!("export BPF through a temporary file: {e}"))
        };
        let mut f = tempfile::tempfile().map_err(io)?;
        self.ctx.export_bpf(&f).map_err(lib_err("export BPF"))?;
        f.rewind().map_err(io)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(io)?;
        Ok(buf)
    }

    /// `SECCOMP_FILTER_FLAG_*` bits the profile's `flags` ask for
    /// ([`FLAG_TSYNC`], [`FLAG_LOG`], [`FLAG_SPEC_ALLOW`],
    /// [`FLAG_WAIT_KILLABLE_RECV`]); [`Filter::load`] applies them itself.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Syscall names of the profile that do not exist on this architecture
    /// and were skipped (as runc skips them).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

/// Compiles `profile` and loads it into the calling thread: the one call
/// a runtime needs ([`compile`] then [`Filter::load`]). Returns the names
/// skipped as unknown on this architecture.
pub fn compile_and_load(profile: &LinuxSeccomp) -> Result<Vec<String>> {
    let f = compile(profile)?;
    f.load()?;
    Ok(f.skipped)
}

/// Maps an OCI action (with its errnoRet) to libseccomp's.
///
/// Errors: [`Error::Unsupported`] for `SCMP_ACT_NOTIFY`;
/// [`Error::Invalid`] for an errnoRet above 65535 (`field` names where).
pub fn action(a: LinuxSeccompAction, errno_ret: Option<u32>, field: &str) -> Result<ScmpAction> {
    let ret = |field: &str| -> Result<u16> {
        match errno_ret {
            None => Ok(libc_eperm()),
            Some(v) => u16::try_from(v).map_err(|_| Error::Invalid {
                field: field.to_string(),
                reason: format!("errnoRet {v} exceeds 65535"),
            }),
        }
    };
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(ret(field)?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret(field)?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(Error::Unsupported(format!(
                "{field}: SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which Berth does not support"
            )))
        }
    })
}

const fn libc_eperm() -> u16 {
    1
}

/// `ENOSYS`.
const ENOSYS: i32 = 38;

/// Highest native syscall number looked at for the ENOSYS rules (x86_64
/// is in the 460s in 2025; the x32 range at 0x40000000 is another ABI).
const MAX_SCANNED_SYSCALL: i32 = 1023;

/// Maps an OCI architecture to libseccomp's.
pub fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn compare_op(
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> (ScmpCompareOp, u64) {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0))
        }
    }
}

/// Compiles `linux.seccomp` into a [`Filter`].
///
/// Errors ([`Error`]): an unsupported action (NOTIFY), an errnoRet above
/// 65535, an empty syscall name, an arg index ≥ 6, or anything libseccomp
/// refuses, each naming `syscalls[i]` / the syscall name.
pub fn compile(profile: &LinuxSeccomp) -> Result<Filter> {
    let default = action(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultAction",
    )?;
    let mut ctx =
        ScmpFilterContext::new(default).map_err(lib_err("create filter with defaultAction"))?;
    ctx.set_ctl_nnp(false)
        .map_err(lib_err("clear the filter's NO_NEW_PRIVS attribute"))?;

    for (i, a) in profile.architectures().iter().flatten().enumerate() {
        ctx.add_arch(arch(*a))
            .map_err(lib_err(format!("architectures[{i}] {a}")))?;
    }

    let mut flags = 0;
    for f in profile.flags().iter().flatten() {
        match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {
                ctx.set_ctl_tsync(true)
                    .map_err(lib_err("flag SECCOMP_FILTER_FLAG_TSYNC"))?;
                flags |= FLAG_TSYNC;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                ctx.set_ctl_log(true)
                    .map_err(lib_err("flag SECCOMP_FILTER_FLAG_LOG"))?;
                flags |= FLAG_LOG;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                ctx.set_ctl_ssb(true)
                    .map_err(lib_err("flag SECCOMP_FILTER_FLAG_SPEC_ALLOW"))?;
                flags |= FLAG_SPEC_ALLOW;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                ctx.set_ctl_waitkill(true)
                    .map_err(lib_err("flag SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"))?;
                flags |= FLAG_WAIT_KILLABLE_RECV;
            }
        }
    }

    let syscalls = profile.syscalls().as_deref().unwrap_or_default();
    if syscalls.len() > 8 {
        ctx.set_ctl_optimize(2)
            .map_err(lib_err("enable binary-tree optimisation"))?;
    }

    let mut skipped = Vec::new();
    // Native numbers of every syscall the profile names (any action).
    let mut named: std::collections::BTreeSet<i32> = std::collections::BTreeSet::new();
    for rule in syscalls {
        for name in rule.names() {
            if let Ok(nr) = ScmpSyscall::from_name(name) {
                named.insert(nr.as_raw_syscall());
            }
        }
    }
    let blocking_default = !matches!(
        default,
        ScmpAction::Allow | ScmpAction::Log | ScmpAction::Errno(ENOSYS)
    );
    if blocking_default {
        if let Some(&newest) = named.last() {
            for nr in (newest + 1)..=MAX_SCANNED_SYSCALL {
                let Ok(name) = ScmpSyscall::from(nr).get_name() else {
                    continue;
                };
                let Ok(sc) = ScmpSyscall::from_name(&name) else {
                    continue;
                };
                ctx.add_rule(ScmpAction::Errno(ENOSYS), sc)
                    .map_err(lib_err(format!(
                        "add ENOSYS rule for {name:?}, newer than the profile"
                    )))?;
            }
        }
    }
    for (i, rule) in syscalls.iter().enumerate() {
        let field = format!("syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret(), &format!("{field}.action"))?;
        if act == default {
            continue;
        }
        let args = rule.args().as_deref().unwrap_or_default();
        let mut conds = Vec::with_capacity(args.len());
        let mut seen = [0u8; 6];
        for (j, a) in args.iter().enumerate() {
            if a.index() >= 6 {
                return Err(Error::Invalid {
                    field: format!("{field}.args[{j}].index"),
                    reason: format!(
                        "{} is not a syscall argument (0..=5) in rule for {:?}",
                        a.index(),
                        rule.names()
                    ),
                });
            }
            seen[a.index()] += 1;
            let (op, datum) = compare_op(a.op(), a.value(), a.value_two());
            conds.push(ScmpArgCompare::new(a.index() as u32, op, datum));
        }
        let separate = seen.iter().any(|n| *n > 1);
        if rule.names().is_empty() {
            return Err(Error::Invalid {
                field: format!("{field}.names"),
                reason: "no syscall names".into(),
            });
        }
        for name in rule.names() {
            if name.is_empty() {
                return Err(Error::Invalid {
                    field: format!("{field}.names"),
                    reason: "empty syscall name".into(),
                });
            }
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                skipped.push(name.clone());
                continue;
            };
            let what = || format!("{field}: add {:?} rule for syscall {name:?}", rule.action());
            if conds.is_empty() {
                ctx.add_rule(act, nr).map_err(lib_err(what()))?;
            } else if separate {
                for c in &conds {
                    ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                        .map_err(lib_err(what()))?;
                }
            } else {
                ctx.add_rule_conditional(act, nr, &conds)
                    .map_err(lib_err(what()))?;
            }
        }
    }
    Ok(Filter {
        ctx,
        skipped,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).expect("profile JSON")
    }

    #[test]
    fn unknown_names_are_skipped() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid","no_such_syscall_xyz"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let f = compile(&p).unwrap();
        assert_eq!(f.skipped(), ["no_such_syscall_xyz"]);
        assert!(f.bpf().unwrap().len().is_multiple_of(8));
    }

    #[test]
    fn notify_is_rejected_and_named() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let e = compile(&p).unwrap_err().to_string();
        assert!(e.contains("syscalls[0]") && e.contains("NOTIFY"), "{e}");
    }

    #[test]
    fn bad_arg_index_is_named() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let e = compile(&p).unwrap_err().to_string();
        assert!(
            e.contains("syscalls[0].args[0].index") && e.contains("mkdir"),
            "{e}"
        );
    }

    #[test]
    fn big_errno_is_rejected() {
        let p = profile(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#);
        let e = compile(&p).unwrap_err().to_string();
        assert!(e.contains("defaultAction") && e.contains("70000"), "{e}");
    }

    #[test]
    fn flags_are_reported() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"],"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]}"#,
        );
        assert_eq!(compile(&p).unwrap().flags(), FLAG_LOG | FLAG_SPEC_ALLOW);
    }
}
