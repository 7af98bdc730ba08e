//! The last steps of a container process before it runs the user
//! program (runtime-spec `config.md` "Process"; `config-linux.md`
//! "Capabilities", "rlimits", `noNewPrivileges`): working directory,
//! rlimits, user and groups, the five capability sets, no_new_privs,
//! seccomp, closing inherited descriptors, exec.

use crate::error::{Context, Error, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{PosixRlimitType, Process};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The `PATH` used when the process environment has none (runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds the program to run as the container sees it: `args[0]` when it
/// contains a `/`, else the first executable file named so in the `PATH`
/// of the process environment.
///
/// # Errors
/// [`Error::Setup`] naming the program when nothing executable is found.
pub fn find_program(p: &Process) -> Result<PathBuf> {
    let arg0 = p
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .map(String::as_str)
        .unwrap_or("");
    if arg0.contains('/') {
        let path = if Path::new(arg0).is_absolute() {
            PathBuf::from(arg0)
        } else {
            p.cwd().join(arg0)
        };
        // runc's words (Go's exec.LookPath on a name with a slash), which
        // the docker CLI reads for run's exit status: 127 for "no such
        // file or directory", 126 for "permission denied" / "is a
        // directory".
        let why = match std::fs::metadata(&path) {
            Err(e) => format!("stat {arg0}: {}", go_errno_text(&e)),
            Ok(m) if m.is_dir() => "is a directory".to_string(),
            Ok(_) if nix::unistd::access(&path, nix::unistd::AccessFlags::X_OK).is_ok() => {
                return Ok(path)
            }
            Ok(_) => "permission denied".to_string(),
        };
        return Err(Error::Setup(format!("exec: {arg0:?}: {why}")));
    }
    let env = p.env().as_deref().unwrap_or(&[]);
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && nix::unistd::access(&cand, nix::unistd::AccessFlags::X_OK).is_ok() {
                return Ok(cand);
            }
        }
    }
    Err(Error::Setup(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

/// An OS error as Go's syscall.Errno prints it: the C library's text
/// with a lower-case first letter ("no such file or directory"), without
/// Rust's " (os error N)".
fn go_errno_text(e: &std::io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let desc = nix::errno::Errno::from_raw(code).desc();
    let mut c = desc.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => desc.to_string(),
    }
}

/// The process with `HOME` added to its environment when it has none:
/// the home directory of `process.user.uid` in the container's
/// /etc/passwd, else `/` (as runc does).
pub fn with_home(p: &Process) -> Process {
    let env = p.env().clone().unwrap_or_default();
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return p.clone();
    }
    let uid = p.user().uid().to_string();
    let home = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|pw| {
            pw.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2] == uid).then(|| f[5].to_string())
            })
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    let mut q = p.clone();
    let mut env = env;
    env.push(format!("HOME={home}"));
    q.set_env(Some(env));
    q
}

/// Enters `cwd` (creating it if missing, as runc does) and checks that it
/// resolves inside the container's root: a working directory reached
/// through a leaked host descriptor (`/proc/self/fd/N`) reads back as
/// `(unreachable)/...` from getcwd(2) (CVE-2024-21626).
pub(crate) fn enter_cwd(cwd: &Path) -> Result<()> {
    if let Err(e) = nix::unistd::chdir(cwd) {
        if e == nix::errno::Errno::ENOENT {
            crate::rootfs::mkdir_all(cwd)?;
            nix::unistd::chdir(cwd).ctx(|| format!("chdir {}", cwd.display()))?;
        } else {
            return Err(crate::error::io_err(
                format!("chdir {}", cwd.display()),
                std::io::Error::from(e),
            ));
        }
    }
    let now = nix::unistd::getcwd().ctx(|| "getcwd".into())?;
    if !now.is_absolute() || now.starts_with("(unreachable)") {
        return Err(Error::Setup(format!(
            "process.cwd {} resolves outside the container root (possible fd leak, CVE-2024-21626)",
            cwd.display()
        )));
    }
    Ok(())
}

fn resource_of(t: PosixRlimitType) -> nix::sys::resource::Resource {
    use nix::sys::resource::Resource as R;
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => R::RLIMIT_CPU,
        T::RlimitFsize => R::RLIMIT_FSIZE,
        T::RlimitData => R::RLIMIT_DATA,
        T::RlimitStack => R::RLIMIT_STACK,
        T::RlimitCore => R::RLIMIT_CORE,
        T::RlimitRss => R::RLIMIT_RSS,
        T::RlimitNproc => R::RLIMIT_NPROC,
        T::RlimitNofile => R::RLIMIT_NOFILE,
        T::RlimitMemlock => R::RLIMIT_MEMLOCK,
        T::RlimitAs => R::RLIMIT_AS,
        T::RlimitLocks => R::RLIMIT_LOCKS,
        T::RlimitSigpending => R::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => R::RLIMIT_MSGQUEUE,
        T::RlimitNice => R::RLIMIT_NICE,
        T::RlimitRtprio => R::RLIMIT_RTPRIO,
        T::RlimitRttime => R::RLIMIT_RTTIME,
    }
}

/// Applies `process.rlimits` (setrlimit(2) for each).
pub(crate) fn set_rlimits(p: &Process) -> Result<()> {
    for r in p.rlimits().as_deref().unwrap_or(&[]) {
        nix::sys::resource::setrlimit(resource_of(r.typ()), r.soft(), r.hard())
            .ctx(|| format!("setrlimit {} soft={} hard={}", r.typ(), r.soft(), r.hard()))?;
    }
    Ok(())
}

fn to_caps(list: &Option<oci_spec::runtime::Capabilities>) -> Result<caps::CapsHashSet> {
    let mut out = caps::CapsHashSet::new();
    for c in list.iter().flatten() {
        let name = format!("CAP_{c}");
        match name.parse::<caps::Capability>() {
            Ok(cap) => {
                out.insert(cap);
            }
            Err(_) => eprintln!("warning: capability {name} unknown to this runtime, ignored"),
        }
    }
    Ok(out)
}

/// Drops the bounding set to `process.capabilities.bounding`, switches to
/// `process.user` (additional gids, gid, uid, keeping capabilities across
/// the uid change), then sets the effective, inheritable, permitted and
/// ambient sets (capabilities(7)), and the umask.
pub(crate) fn set_user_and_caps(p: &Process) -> Result<()> {
    let c = p.capabilities().as_ref();
    let bounding = to_caps(&c.and_then(|c| c.bounding().clone()))?;
    let effective = to_caps(&c.and_then(|c| c.effective().clone()))?;
    let inheritable = to_caps(&c.and_then(|c| c.inheritable().clone()))?;
    let permitted = to_caps(&c.and_then(|c| c.permitted().clone()))?;
    let ambient = to_caps(&c.and_then(|c| c.ambient().clone()))?;
    let supported = caps::runtime::thread_all_supported();
    for cap in &supported {
        if !bounding.contains(cap) {
            caps::drop(None, caps::CapSet::Bounding, *cap)
                .map_err(|e| Error::Setup(format!("drop {cap} from bounding set: {e}")))?;
        }
    }
    let u = p.user();
    nix::sys::prctl::set_keepcaps(true).ctx(|| "PR_SET_KEEPCAPS".into())?;
    let mut groups: Vec<Gid> = u
        .additional_gids()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    groups.dedup();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // setgroups is denied in a user namespace whose /proc/<pid>/setgroups says deny
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        Err(e) => {
            return Err(crate::error::io_err(
                format!("setgroups {groups:?}"),
                std::io::Error::from(e),
            ))
        }
    }
    let gid = Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setresgid {gid}"))?;
    let uid = Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setresuid {uid}"))?;
    nix::sys::prctl::set_keepcaps(false).ctx(|| "PR_SET_KEEPCAPS off".into())?;
    let set = |s: caps::CapSet, v: &caps::CapsHashSet| {
        caps::set(None, s, v).map_err(|e| Error::Setup(format!("set {s:?} capabilities: {e}")))
    };
    // Effective must stay within permitted at every step: widen effective
    // first only within what permitted allows, then narrow permitted.
    set(caps::CapSet::Effective, &effective)?;
    set(caps::CapSet::Inheritable, &inheritable)?;
    set(caps::CapSet::Permitted, &permitted)?;
    caps::clear(None, caps::CapSet::Ambient).ok();
    // An ambient capability needs to be both permitted and inheritable
    // (capabilities(7)); like runc, skip those that are not rather than fail.
    for cap in &ambient {
        if permitted.contains(cap) && inheritable.contains(cap) {
            caps::raise(None, caps::CapSet::Ambient, *cap)
                .map_err(|e| Error::Setup(format!("raise ambient {cap}: {e}")))?;
        }
    }
    if let Some(m) = u.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m));
    }
    Ok(())
}

/// Everything the final exec needs, prepared before descriptors are closed.
pub(crate) struct ExecPlan {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
}

impl ExecPlan {
    pub(crate) fn new(p: &Process, path: &Path) -> Result<ExecPlan> {
        let cs = |s: &str, what: &str| {
            CString::new(s).map_err(|_| Error::Config {
                path: what.into(),
                msg: "contains NUL".into(),
            })
        };
        use std::os::unix::ffi::OsStrExt;
        Ok(ExecPlan {
            path: CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Config {
                path: "process.args[0]".into(),
                msg: "contains NUL".into(),
            })?,
            args: p
                .args()
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(|a| cs(a, "process.args"))
                .collect::<Result<_>>()?,
            env: p
                .env()
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(|a| cs(a, "process.env"))
                .collect::<Result<_>>()?,
        })
    }
}

/// Resets every signal disposition and the signal mask to the defaults
/// the user program expects (Rust's runtime ignores SIGPIPE, and ignored
/// dispositions survive execve).
pub(crate) fn reset_signals() {
    berth_sys::reset_signal_dispositions();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// Execs the plan through the dmz. Returns only the error of a failed exec.
pub(crate) fn exec_dmz(plan: &ExecPlan, dmz: &OwnedFd) -> Error {
    let e = crate::dmz::exec_via(dmz, &plan.path, &plan.args, &plan.env);
    crate::error::io_err(format!("exec {:?}", plan.path), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn process(arg0: &str) -> Process {
        let mut p = Process::default();
        p.set_args(Some(vec![arg0.to_string()]));
        p
    }

    fn error_of(arg0: &str) -> String {
        match find_program(&process(arg0)) {
            Err(Error::Setup(m)) => m,
            other => panic!("{arg0}: {other:?}"),
        }
    }

    /// A program named by path fails in runc's words, which the docker
    /// CLI maps to 127 (not found) and 126 (cannot be invoked).
    #[test]
    fn program_paths_fail_in_runcs_words() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let missing = format!("{d}/nonexist");
        assert_eq!(
            error_of(&missing),
            format!("exec: {missing:?}: stat {missing}: no such file or directory")
        );
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let plain = plain.display().to_string();
        // root passes access(X_OK) only when some execute bit is set
        assert_eq!(
            error_of(&plain),
            format!("exec: {plain:?}: permission denied")
        );
        assert_eq!(error_of(&d), format!("exec: {d:?}: is a directory"));
        let exe = dir.path().join("exe");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            find_program(&process(&exe.display().to_string())).unwrap(),
            exe
        );
        assert_eq!(
            error_of("nosuchcmd-berth"),
            "exec: \"nosuchcmd-berth\": executable file not found in $PATH"
        );
    }
}
