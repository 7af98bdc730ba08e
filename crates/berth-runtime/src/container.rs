//! The operations of runtime-spec `runtime.md` ("Operations"): create,
//! start, state, kill, delete; plus run, exec, list, ps, pause, resume as
//! runc has them.

use crate::error::{io_err, Context, Error, Result};
use crate::rootfs::RootfsPlan;
use crate::state::{now_rfc3339, proc_start_time, ContainerState, Saved, Status, START_SOCK};
use crate::{hooks, process, rootfs, validate_id, Runtime};
use berth_sys::Fork;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{
    recv, send, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the runtime waits for a container process to report a setup
/// step (hooks included) before giving up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Standard streams for the container process. `None` inherits the
/// caller's descriptor.
#[derive(Debug, Default)]
pub struct Stdio {
    /// Becomes fd 0.
    pub stdin: Option<OwnedFd>,
    /// Becomes fd 1.
    pub stdout: Option<OwnedFd>,
    /// Becomes fd 2.
    pub stderr: Option<OwnedFd>,
}

/// Options of [`Runtime::create`] and [`Runtime::run`] (runc `create`).
#[derive(Debug, Default)]
pub struct CreateOptions {
    /// Write the init process's PID (decimal, no newline) here.
    pub pid_file: Option<PathBuf>,
    /// With `process.terminal`, the UNIX socket the pty master is sent to
    /// (SCM_RIGHTS, one descriptor, data = the pty's name), as runc's
    /// `--console-socket`. Required for a terminal, except in
    /// [`Runtime::run`] in the foreground, which then proxies the pty to
    /// the caller's stdin/stdout itself.
    pub console_socket: Option<PathBuf>,
    /// Descriptors for the init process's stdin/stdout/stderr.
    pub stdio: Stdio,
    /// Descriptors 3..3+N of the caller stay open in the container
    /// (runc's `--preserve-fds`); every other one above 2 is closed.
    pub preserve_fds: u32,
    /// Use MS_MOVE + chroot instead of pivot_root(2) (rootfs on ramfs).
    pub no_pivot: bool,
    /// [`Runtime::run`] only: return once the user program runs instead of
    /// waiting for it (runc `run --detach`).
    pub detach: bool,
}

/// Options of [`Runtime::exec`] (runc `exec`).
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// As [`CreateOptions::console_socket`], for `process.terminal`.
    pub console_socket: Option<PathBuf>,
    /// Instead of `console_socket`: an already connected UNIX stream socket
    /// the pty master is sent on (e.g. one end of a socketpair whose other
    /// end the caller reads with [`berth_sys::recv_fd`]).
    pub console_stream: Option<OwnedFd>,
    /// Standard streams of the exec process.
    pub stdio: Stdio,
    /// Write the exec process's PID here.
    pub pid_file: Option<PathBuf>,
    /// As [`CreateOptions::preserve_fds`].
    pub preserve_fds: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Create,
    Run,
    Exec,
}

/// Parses a signal as runc's kill does: `TERM`, `SIGTERM`, or `15`.
///
/// # Errors
/// [`Error::Invalid`] naming the signal.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let bad = || Error::Invalid(format!("unknown signal {s:?}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

// ---------------------------------------------------------------------
// The sync channel between the runtime and a container process: a
// SOCK_SEQPACKET pair; a message is one tag byte and a payload.

const T_GO: u8 = b'G';
const T_MAPPED: u8 = b'M';
const T_HOOKS: u8 = b'H';
const T_HOOKS_DONE: u8 = b'h';
const T_READY: u8 = b'R';
const T_ERR: u8 = b'E';
const T_PID: u8 = b'P';

fn send_msg(fd: BorrowedFd<'_>, tag: u8, payload: &[u8]) -> Result<()> {
    let mut m = Vec::with_capacity(1 + payload.len());
    m.push(tag);
    m.extend_from_slice(payload);
    send(fd.as_raw_fd(), &m, MsgFlags::MSG_NOSIGNAL).ctx(|| "send on the sync socket".into())?;
    Ok(())
}

/// Receives one message; `Ok(None)` on EOF (the peer exited or exec'd).
fn recv_msg(fd: BorrowedFd<'_>, timeout: Duration) -> Result<Option<(u8, Vec<u8>)>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
    loop {
        match poll(
            &mut pfd,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => {
                return Err(Error::Setup(format!(
                    "container process did not answer within {}s",
                    timeout.as_secs()
                )))
            }
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io_err("poll the sync socket", std::io::Error::from(e))),
        }
    }
    let mut buf = vec![0u8; 8192];
    let n = loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            // A peer that exits with a message of ours unread leaves
            // ECONNRESET pending on this end, and a datagram-style
            // receive (SEQPACKET) reports it before the messages still
            // queued here (the child's error report among them): the
            // error is cleared by that report, so look again, without
            // waiting; nothing queued is the peer's end of file.
            Err(nix::errno::Errno::ECONNRESET) => {
                match recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                    Ok(n) => break n,
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::ECONNRESET) => break 0,
                    r => break r.ctx(|| "receive on the sync socket".into())?,
                }
            }
            r => break r.ctx(|| "receive on the sync socket".into())?,
        }
    };
    if n == 0 {
        return Ok(None);
    }
    buf.truncate(n);
    let tag = buf.remove(0);
    Ok(Some((tag, buf)))
}

/// Sends to a child that may already have failed: if the send fails, the
/// child's own error report (waiting on the socket) is the error returned.
fn send_to_child(fd: BorrowedFd<'_>, tag: u8) -> Result<()> {
    match send_msg(fd, tag, b"") {
        Ok(()) => Ok(()),
        Err(e) => match recv_msg(fd, Duration::from_millis(100)) {
            Ok(Some((T_ERR, m))) => Err(Error::Setup(String::from_utf8_lossy(&m).into_owned())),
            _ => Err(e),
        },
    }
}

/// Waits for message `want`; an error report or EOF becomes an error.
fn expect(fd: BorrowedFd<'_>, want: u8, what: &str) -> Result<Vec<u8>> {
    match recv_msg(fd, SETUP_TIMEOUT)? {
        Some((t, p)) if t == want => Ok(p),
        Some((T_ERR, p)) => Err(Error::Setup(String::from_utf8_lossy(&p).into_owned())),
        Some((t, _)) => Err(Error::Setup(format!(
            "unexpected message {:?} while waiting for {what}",
            t as char
        ))),
        None => Err(Error::Setup(format!(
            "container process exited before {what}"
        ))),
    }
}

/// The descriptors a launch hands to the child, each raised to `min` or
/// above so that none collides with the fds the spec preserves (3 up to
/// `min`): the parent and child ends of the sync socketpair, the sealed
/// dmz memfd, and the pty master when there is one.
struct LaunchFds {
    psync: OwnedFd,
    csync: OwnedFd,
    dmz: OwnedFd,
    console: Option<OwnedFd>,
}

fn launch_fds(min: i32, console: Option<OwnedFd>) -> Result<LaunchFds> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair".into())?;
    Ok(LaunchFds {
        psync: raise_fd(a, min)?,
        csync: raise_fd(b, min)?,
        dmz: raise_fd(crate::dmz::sealed_dmz()?, min)?,
        console: console.map(|c| raise_fd(c, min)).transpose()?,
    })
}

/// Moves `fd` to a number `>= min`, close-on-exec.
fn raise_fd(fd: OwnedFd, min: i32) -> Result<OwnedFd> {
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    berth_sys::dup_at_least(fd.as_fd(), min).ctx(|| "F_DUPFD_CLOEXEC".into())
}

// ---------------------------------------------------------------------

/// What a new container process is told to do.
struct Launch<'a> {
    mode: Mode,
    id: &'a str,
    spec: &'a Spec,
    process: &'a Process,
    rootfs: &'a Path,
    bundle: &'a Path,
    /// New namespaces (CLONE_NEW* except CLONE_NEWCGROUP, which the child
    /// unshares itself once it is in its cgroup).
    clone_flags: u64,
    new_cgroupns: bool,
    new_userns: bool,
    new_mountns: bool,
    new_utsns: bool,
    /// Namespaces to join, in order (user first).
    joins: Vec<(OwnedFd, CloneFlags, String)>,
    console: Option<OwnedFd>,
    /// create: the start socket, bound by the runtime in the state
    /// directory before the fork (with a user namespace the init's root is
    /// not the owner of that directory and could not bind there itself).
    start_listener: Option<OwnedFd>,
    preserve_fds: u32,
    no_pivot: bool,
    /// The compiled linux.seccomp filter.
    seccomp: Option<&'a berth_seccomp::Program>,
    /// The cgroup to be born in and to join without a migration (see
    /// [`berth_cgroups::SelfAttach`]); `None`: the runtime migrates the
    /// process with [`berth_cgroups::Cgroup::apply`].
    attach: Option<&'a berth_cgroups::SelfAttach>,
}

fn ns_flag(t: LinuxNamespaceType) -> Result<u64> {
    use berth_sys::*;
    Ok(match t {
        LinuxNamespaceType::Mount => CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CLONE_NEWIPC,
        LinuxNamespaceType::User => CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CLONE_NEWPID,
        LinuxNamespaceType::Network => CLONE_NEWNET,
        LinuxNamespaceType::Time => return Err(Error::Unsupported("time namespaces".into())),
    })
}

/// The text a child sends for its error: the parent wraps it in
/// [`Error::Setup`], so a `Setup` error's own message goes without its
/// "container process setup:" prefix (which would otherwise appear twice).
fn child_message(e: &Error) -> String {
    match e {
        Error::Setup(m) => m.clone(),
        e => e.to_string(),
    }
}

/// Child side: report `r`'s error on `chan` and end the process.
fn child_exit(chan: BorrowedFd<'_>, r: Result<std::convert::Infallible>) -> ! {
    let Err(e) = r;
    let _ = send_msg(chan, T_ERR, child_message(&e).as_bytes());
    berth_sys::exit_now(1)
}

fn write_maps(pid: i32, spec: &Spec) -> Result<()> {
    let l = spec.linux().as_ref();
    let fmt = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.map(|v| {
            v.iter()
                .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
                .collect::<String>()
        })
        .unwrap_or_default()
    };
    let u = fmt(l.and_then(|l| l.uid_mappings().as_ref()));
    let g = fmt(l.and_then(|l| l.gid_mappings().as_ref()));
    if u.is_empty() || g.is_empty() {
        return Err(Error::Config {
            path: "linux.uidMappings".into(),
            msg: "a new user namespace needs linux.uidMappings and linux.gidMappings".into(),
        });
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), &u).ctx(|| format!("write uid_map {u:?}"))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), &g).ctx(|| format!("write gid_map {g:?}"))?;
    Ok(())
}

fn set_stdio(stdio: &Stdio) -> Result<()> {
    for (fd, target) in [(&stdio.stdin, 0), (&stdio.stdout, 1), (&stdio.stderr, 2)] {
        if let Some(fd) = fd {
            if fd.as_raw_fd() != target {
                nix::unistd::dup2(fd.as_raw_fd(), target)
                    .ctx(|| format!("dup2 onto fd {target}"))?;
            } else {
                // keep it, but clear close-on-exec
                nix::fcntl::fcntl(
                    target,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                )
                .ctx(|| "clear FD_CLOEXEC".into())?;
            }
        }
    }
    Ok(())
}

/// Makes the process the leader of a new session and process group (as
/// runc's init and exec processes are, terminal or not), so that a
/// container program signalling its own group (`kill 0`, a shell's
/// `trap 'kill 0' EXIT`) reaches its own processes and never the
/// monitor or runtime that started it.
fn new_session() -> Result<()> {
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    Ok(())
}

/// Opens a pty in the container's devpts, sends the master over
/// `console`, and makes the slave the process's controlling terminal and
/// stdio. Returns the slave's path.
fn setup_terminal(console: &OwnedFd, p: &Process, bind_console: bool) -> Result<()> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx".into())?;
    nix::pty::grantpt(&master).ctx(|| "grantpt".into())?;
    nix::pty::unlockpt(&master).ctx(|| "unlockpt".into())?;
    let slave_path = nix::pty::ptsname_r(&master).ctx(|| "ptsname".into())?;
    if let Some(sz) = p.console_size() {
        let _ = berth_sys::set_window_size(master.as_fd(), sz.height() as u16, sz.width() as u16);
    }
    if bind_console {
        let dst = Path::new("/dev/console");
        if std::fs::symlink_metadata(dst).is_err() {
            std::fs::File::create(dst).ctx(|| "create /dev/console".into())?;
        }
        nix::mount::mount(
            Some(slave_path.as_str()),
            dst,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("bind {slave_path} on /dev/console"))?;
    }
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let name = slave_path.as_bytes();
    let iov = [std::io::IoSlice::new(name)];
    nix::sys::socket::sendmsg::<()>(console.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .ctx(|| "send the pty master over the console socket".into())?;
    drop(master);
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave_path)
        .ctx(|| format!("open {slave_path}"))?;
    berth_sys::set_controlling_terminal(slave.as_fd()).ctx(|| "TIOCSCTTY".into())?;
    for t in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), t).ctx(|| "dup2 the pty slave".into())?;
    }
    Ok(())
}

/// The container's init process (create/run): everything between clone
/// and the user program.
fn init_child(
    l: &Launch,
    stdio: &Stdio,
    sync: &OwnedFd,
    dmz: &OwnedFd,
) -> Result<std::convert::Infallible> {
    // Still single-threaded, before anything else: into the cgroup.
    if let Some(a) = l.attach {
        a.join_v1().map_err(Error::Cgroup)?;
    }
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).ctx(|| "PR_SET_PDEATHSIG".into())?;
    nix::sys::prctl::set_dumpable(false).ctx(|| "PR_SET_DUMPABLE".into())?;
    set_stdio(stdio)?;
    berth_sys::cloexec_range(3 + l.preserve_fds, u32::MAX)
        .ctx(|| "mark inherited fds close-on-exec".into())?;
    // The runtime moves us into our cgroup meanwhile: a cgroup migration
    // waits for an RCU grace period (~10 ms), so everything that does not
    // need the cgroup happens before we wait for it.
    if l.new_userns {
        expect(sync.as_fd(), T_MAPPED, "the uid/gid mappings")?;
        let root = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(root, root, root)
            .ctx(|| "setresgid 0 in the user namespace".into())?;
        let root = nix::unistd::Uid::from_raw(0);
        nix::unistd::setresuid(root, root, root)
            .ctx(|| "setresuid 0 in the user namespace".into())?;
    }
    if let Some(h) = l.spec.hostname() {
        if !l.new_utsns {
            return Err(Error::Config {
                path: "hostname".into(),
                msg: "needs a new uts namespace".into(),
            });
        }
        nix::unistd::sethostname(h).ctx(|| format!("sethostname {h}"))?;
    }
    if let Some(d) = l.spec.domainname() {
        if !l.new_utsns {
            return Err(Error::Config {
                path: "domainname".into(),
                msg: "needs a new uts namespace".into(),
            });
        }
        berth_sys::set_domainname(d).ctx(|| format!("setdomainname {d}"))?;
    }
    let plan = RootfsPlan {
        spec: l.spec,
        rootfs: l.rootfs,
        bundle: l.bundle,
        in_userns: l.new_userns,
        cgroupns: l.new_cgroupns,
        console: None,
    };
    if l.new_mountns {
        rootfs::prepare(&plan)?;
    }
    expect(sync.as_fd(), T_GO, "the go signal")?;
    if l.new_cgroupns {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace".into())?;
    }
    if l.new_mountns {
        rootfs::prepare_cgroups(&plan)?;
    }
    let hooks = l.spec.hooks().as_ref();
    let has_runtime_hooks =
        hooks.is_some_and(|h| h.prestart().is_some() || h.create_runtime().is_some());
    if has_runtime_hooks {
        send_msg(sync.as_fd(), T_HOOKS, b"")?;
        expect(sync.as_fd(), T_HOOKS_DONE, "the createRuntime hooks")?;
    }
    if let Some(h) = hooks.and_then(|h| h.create_container().as_ref()) {
        let st = hook_state(l, std::process::id() as i32, Status::Creating);
        hooks::run_hooks("createContainer", Some(h), &st)?;
    }
    let listener = match &l.start_listener {
        Some(fd) => Some(UnixListener::from(
            fd.try_clone().ctx(|| "dup the start socket".into())?,
        )),
        None => None,
    };
    if l.new_mountns {
        rootfs::enter(l.rootfs, l.no_pivot)?;
    } else {
        nix::unistd::chroot(l.rootfs).ctx(|| "chroot".into())?;
    }
    if let Some(c) = &l.console {
        setup_terminal(c, l.process, l.new_mountns)?;
    } else {
        new_session()?;
    }
    process::enter_cwd(l.process.cwd())?;
    if l.new_mountns {
        rootfs::finish(l.spec)?;
    }
    process::set_rlimits(l.process)?;
    let proc_home = process::with_home(l.process);
    // Checked here so that create fails on a missing program; resolved
    // again with the process's own credentials right before exec.
    process::find_program(&proc_home)?;
    // From here on the container outlives the runtime process (create
    // returns; run -d returns).
    nix::sys::prctl::set_pdeathsig(None).ctx(|| "clear PR_SET_PDEATHSIG".into())?;
    send_msg(sync.as_fd(), T_READY, b"")?;
    // Wait for start: a byte on the start socket (create) or the sync socket (run).
    let chan: OwnedFd = match listener {
        Some(lis) => {
            let (mut conn, _) = lis.accept().ctx(|| "accept on the start socket".into())?;
            drop(lis);
            let mut b = [0u8; 1];
            conn.read_exact(&mut b)
                .ctx(|| "read the start request".into())?;
            OwnedFd::from(conn)
        }
        // run: no separate start; go on at once (one process hand-off
        // less), reporting any later failure on the sync socket.
        None => sync.try_clone().ctx(|| "dup sync".into())?,
    };
    let r = finish_and_exec(l.spec, &proc_home, dmz, l.preserve_fds, &chan, l);
    child_exit_stream(&chan, r)
}

fn child_exit_stream(chan: &OwnedFd, r: Result<std::convert::Infallible>) -> ! {
    let Err(e) = r;
    let mut m = vec![T_ERR];
    m.extend_from_slice(child_message(&e).as_bytes());
    let _ = nix::unistd::write(chan, &m);
    berth_sys::exit_now(1)
}

fn finish_and_exec(
    spec: &Spec,
    p: &Process,
    dmz: &OwnedFd,
    preserve: u32,
    chan: &OwnedFd,
    l: &Launch,
) -> Result<std::convert::Infallible> {
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        let st = hook_state(l, std::process::id() as i32, Status::Created);
        hooks::run_hooks("startContainer", Some(h), &st)?;
    }
    let exec = final_steps(
        p,
        l.seccomp,
        3 + preserve,
        &[chan.as_raw_fd(), dmz.as_raw_fd()],
    )?;
    Err(process::exec_dmz(&exec, dmz))
}

/// Credentials, capabilities, no_new_privs, seccomp, signals.
/// Returns the exec plan, the program resolved with the final credentials.
///
/// The seccomp filter is the last thing installed when no_new_privs is set
/// (seccomp(2) then needs no privilege); without no_new_privs it needs
/// CAP_SYS_ADMIN, so it goes in before the capabilities are dropped, as
/// runc does.
///
/// First of all, every descriptor from `first_closed` up is closed except
/// `keep` (close-on-exec ones the exec closes): nothing of the host may
/// reach the container (CVE-2024-21626), and a seccomp profile may deny
/// close_range(2) once loaded.
fn final_steps(
    p: &Process,
    filter: Option<&berth_seccomp::Program>,
    first_closed: u32,
    keep: &[i32],
) -> Result<process::ExecPlan> {
    berth_sys::close_fds_from_except(first_closed, keep)
        .map_err(|e| io_err("close inherited descriptors", e))?;
    let nnp = p.no_new_privileges() == Some(true);
    let load = |f: &berth_seccomp::Program| {
        f.load()
            .map_err(|e| Error::Setup(format!("linux.seccomp: {e}")))
    };
    if !nnp {
        if let Some(f) = filter {
            load(f)?;
        }
    }
    process::set_user_and_caps(p)?;
    let prog = process::find_program(p)?;
    let exec = process::ExecPlan::new(p, &prog)?;
    if nnp {
        nix::sys::prctl::set_no_new_privs().ctx(|| "PR_SET_NO_NEW_PRIVS".into())?;
        if let Some(f) = filter {
            load(f)?;
        }
    }
    process::reset_signals();
    Ok(exec)
}

/// Compiles the config's linux.seccomp, if any (before anything is created,
/// so that a bad profile fails early and names its field), reusing the
/// program of an earlier container with the same profile from `cache`
/// (see [`berth_seccomp::cache`]).
fn compile_seccomp(spec: &Spec, cache: &Path) -> Result<Option<berth_seccomp::Program>> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|p| berth_seccomp::compile_cached(p, cache))
        .transpose()
        .map_err(|e| Error::Config {
            path: "linux.seccomp".into(),
            msg: e.to_string(),
        })
}

fn hook_state(l: &Launch, pid: i32, status: Status) -> oci_spec::runtime::State {
    ContainerState {
        oci_version: l.spec.version().clone(),
        id: l.id.to_string(),
        pid,
        status,
        bundle: l.bundle.to_path_buf(),
        rootfs: l.rootfs.to_path_buf(),
        created: String::new(),
        owner: String::new(),
        annotations: l.spec.annotations().clone().unwrap_or_default(),
    }
    .oci()
}

/// An exec process: joins the init's namespaces (done by the intermediate
/// child), then the process's own settings.
fn exec_child(
    l: &Launch,
    stdio: &Stdio,
    sync: &OwnedFd,
    dmz: &OwnedFd,
) -> Result<std::convert::Infallible> {
    if let Some(a) = l.attach {
        a.join_v1().map_err(Error::Cgroup)?;
    }
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).ctx(|| "PR_SET_PDEATHSIG".into())?;
    nix::sys::prctl::set_dumpable(false).ctx(|| "PR_SET_DUMPABLE".into())?;
    set_stdio(stdio)?;
    berth_sys::cloexec_range(3 + l.preserve_fds, u32::MAX)
        .ctx(|| "mark inherited fds close-on-exec".into())?;
    expect(sync.as_fd(), T_GO, "the go signal")?;
    if let Some(c) = &l.console {
        setup_terminal(c, l.process, false)?;
    } else {
        new_session()?;
    }
    process::enter_cwd(l.process.cwd())?;
    process::set_rlimits(l.process)?;
    let proc_home = process::with_home(l.process);
    nix::sys::prctl::set_pdeathsig(None).ctx(|| "clear PR_SET_PDEATHSIG".into())?;
    let exec = final_steps(
        &proc_home,
        l.seccomp,
        3 + l.preserve_fds,
        &[sync.as_raw_fd(), dmz.as_raw_fd()],
    )?;
    send_msg(sync.as_fd(), T_READY, b"")?;
    Err(process::exec_dmz(&exec, dmz))
}

/// Forks the container process (through an intermediate child when
/// namespaces are joined by path) and returns its PID; the child never
/// returns from here.
///
/// Also returns whether the process was born in the cgroup2 directory of
/// `l.attach` (false: it still has to be migrated there, see
/// [`clone_into`]).
fn spawn(
    l: &Launch,
    stdio: &Stdio,
    child_sync: &OwnedFd,
    parent_sync: &OwnedFd,
    dmz: &OwnedFd,
) -> Result<(i32, bool)> {
    let body = |l: &Launch| -> ! {
        let r = if l.mode == Mode::Exec {
            exec_child(l, stdio, child_sync, dmz)
        } else {
            init_child(l, stdio, child_sync, dmz)
        };
        child_exit(child_sync.as_fd(), r)
    };
    if l.joins.is_empty() {
        return match clone_into(l.clone_flags, l.attach)
            .ctx(|| "clone the container process".into())?
        {
            (Fork::Child, _) => body(l),
            (Fork::Parent(pid), born_in) => Ok((pid, born_in)),
        };
    }
    match berth_sys::clone_fork(0).ctx(|| "fork".into())? {
        Fork::Child => {
            let r = (|| -> Result<(i32, bool)> {
                for (fd, t, path) in &l.joins {
                    nix::sched::setns(fd, *t).ctx(|| format!("join namespace {path}"))?;
                }
                match clone_into(l.clone_flags | berth_sys::CLONE_PARENT, l.attach)
                    .ctx(|| "clone the container process".into())?
                {
                    (Fork::Child, _) => body(l),
                    (Fork::Parent(pid), born_in) => Ok((pid, born_in)),
                }
            })();
            match r {
                Ok((pid, born_in)) => {
                    let mut m = pid.to_le_bytes().to_vec();
                    m.push(born_in as u8);
                    let _ = send_msg(child_sync.as_fd(), T_PID, &m);
                    berth_sys::exit_now(0)
                }
                Err(e) => child_exit(child_sync.as_fd(), Err(e)),
            }
        }
        Fork::Parent(mid) => {
            let r = expect(parent_sync.as_fd(), T_PID, "the container process's pid");
            let _ = waitpid(Pid::from_raw(mid), None);
            let p = r?;
            let pid =
                i32::from_le_bytes(p.get(..4).and_then(|b| b.try_into().ok()).unwrap_or([0; 4]));
            Ok((pid, p.get(4) == Some(&1)))
        }
    }
}

/// Clones the container process, into the cgroup2 directory of `attach`
/// when there is one (`clone3` with `CLONE_INTO_CGROUP`). A kernel without
/// it (ENOSYS, E2BIG, EINVAL: before Linux 5.7) gets a plain clone, and
/// the returned flag says the process was not born in the cgroup.
fn clone_into(
    flags: u64,
    attach: Option<&berth_cgroups::SelfAttach>,
) -> std::io::Result<(Fork, bool)> {
    if let Some(fd) = attach.and_then(|a| a.cgroup_fd()) {
        match berth_sys::clone_fork_into(flags, fd) {
            Ok(f) => return Ok((f, true)),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS) | Some(libc::E2BIG) | Some(libc::EINVAL)
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((berth_sys::clone_fork(flags)?, false))
}

/// Namespace setup of a config: new ones and joined ones.
struct NsPlan {
    flags: u64,
    cgroupns: bool,
    userns: bool,
    mountns: bool,
    utsns: bool,
    joins: Vec<(OwnedFd, CloneFlags, String)>,
}

fn ns_plan(spec: &Spec) -> Result<NsPlan> {
    let mut p = NsPlan {
        flags: 0,
        cgroupns: false,
        userns: false,
        mountns: false,
        utsns: false,
        joins: Vec::new(),
    };
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (i, ns) in list.iter().enumerate() {
        let f = ns_flag(ns.typ())?;
        if f == berth_sys::CLONE_NEWNS {
            p.mountns = true;
        }
        if f == berth_sys::CLONE_NEWUTS {
            p.utsns = true;
        }
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => {
                let fd = std::fs::File::open(path).map_err(|e| Error::Config {
                    path: format!("linux.namespaces[{i}].path"),
                    msg: format!("cannot open {}: {e}", path.display()),
                })?;
                let cf = CloneFlags::from_bits_truncate(f as i32);
                p.joins.push((fd.into(), cf, path.display().to_string()));
                if f == berth_sys::CLONE_NEWUTS {
                    p.utsns = true;
                }
            }
            _ => {
                if f == berth_sys::CLONE_NEWCGROUP {
                    p.cgroupns = true;
                } else {
                    if f == berth_sys::CLONE_NEWUSER {
                        p.userns = true;
                    }
                    p.flags |= f;
                }
            }
        }
    }
    // user namespace first: joining it grants the rights to join the others
    p.joins.sort_by_key(|(_, t, _)| {
        if *t == CloneFlags::CLONE_NEWUSER {
            0
        } else {
            1
        }
    });
    // Without a mount namespace the container inherits the runtime's
    // (config-linux.md "Namespaces"): it is chrooted into its rootfs, and
    // what would change the runtime's mounts is not done (see
    // warn_without_mountns).
    Ok(p)
}

/// Undo of a create that failed half-way.
struct Cleanup<'a> {
    state_dir: Option<&'a Path>,
    pid: Option<i32>,
    cgroup: Option<berth_cgroups::Cgroup>,
}

impl Cleanup<'_> {
    fn disarm(&mut self) {
        self.state_dir = None;
        self.pid = None;
        self.cgroup = None;
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all(Signal::SIGKILL);
            let _ = cg.destroy();
        }
        if let Some(d) = self.state_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Without a mount namespace of its own the container shares the
/// runtime's mounts (config-linux.md "Namespaces": a namespace not listed
/// is inherited), so the config's mounts, masked and read-only paths, a
/// read-only root and /dev/console would be mounted on the host, under the
/// bundle, and outlive the container: they are not done, and a warning
/// says so.
fn warn_without_mountns(spec: &Spec, id: &str) {
    let mut skipped = Vec::new();
    let n = spec.mounts().as_ref().map_or(0, Vec::len);
    if n > 0 {
        skipped.push(format!("{n} mounts"));
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        skipped.push("root.readonly".to_string());
    }
    let linux = spec.linux().as_ref();
    if linux
        .and_then(|l| l.masked_paths().as_ref())
        .is_some_and(|v| !v.is_empty())
    {
        skipped.push("linux.maskedPaths".to_string());
    }
    if linux
        .and_then(|l| l.readonly_paths().as_ref())
        .is_some_and(|v| !v.is_empty())
    {
        skipped.push("linux.readonlyPaths".to_string());
    }
    if !skipped.is_empty() {
        eprintln!(
            "warning: container {id}: no mount namespace in linux.namespaces: \
             the runtime's mounts are shared, not applied: {}",
            skipped.join(", ")
        );
    }
}

/// Binds the start socket in the state directory `dir` (through
/// /proc/self/fd when the path is too long for a socket address).
fn bind_start_socket(dir: &Path) -> Result<UnixListener> {
    let sock = dir.join(START_SOCK);
    let dirf = std::fs::File::open(dir).ctx(|| format!("open {}", dir.display()))?;
    let target = if sock.as_os_str().len() < 100 {
        sock.clone()
    } else {
        PathBuf::from(format!("/proc/self/fd/{}/{START_SOCK}", dirf.as_raw_fd()))
    };
    UnixListener::bind(&target).ctx(|| format!("bind {}", sock.display()))
}

/// True when the container's init is the init of a PID namespace of its
/// own (a `pid` namespace listed without a path).
fn own_pid_ns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|list| {
            list.iter().any(|n| {
                n.typ() == LinuxNamespaceType::Pid
                    && n.path().as_ref().is_none_or(|p| p.as_os_str().is_empty())
            })
        })
}

/// How long `kill` waits for a just-started init to be ready for a signal.
const SIGNAL_READY_WAIT: Duration = Duration::from_millis(250);

/// Waits (at most [`SIGNAL_READY_WAIT`]) until the init of a PID
/// namespace has a handler for (or ignores) `signal` and is blocked
/// (state `S`).
///
/// The kernel silently discards a signal sent to a PID namespace's init
/// from outside when the init has no handler for it (pid_namespaces(7)),
/// so a signal sent right after `start`, while the user program is still
/// starting up (e.g. a shell before its `trap`), would be lost, and a
/// program that runs its handler before reaching its main wait would run
/// on. `start` returns when the runtime's last exec happened, which is
/// earlier than the program's first line. Waiting for "handler installed
/// and sleeping" closes that window; a program that never installs a
/// handler would discard the signal anyway and only costs the bounded
/// wait.
fn wait_signal_ready(pid: i32, signal: Signal) {
    let bit = 1u64 << (signal as i32 - 1);
    let deadline = std::time::Instant::now() + SIGNAL_READY_WAIT;
    loop {
        let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return;
        };
        let field = |name: &str| st.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        let mask = |name: &str| {
            field(name)
                .and_then(|v| u64::from_str_radix(v, 16).ok())
                .unwrap_or(0)
        };
        let handled = (mask("SigCgt:") | mask("SigIgn:")) & bit != 0;
        let sleeping = field("State:").is_some_and(|v| v.starts_with('S'));
        if (handled && sleeping) || std::time::Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("write pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("rename pid file {}", path.display()))
}

fn connect_console(path: &Path) -> Result<OwnedFd> {
    let s = UnixStream::connect(path)
        .ctx(|| format!("connect to console socket {}", path.display()))?;
    Ok(s.into())
}

/// Result of [`Runtime::create_inner`].
struct Created {
    pid: i32,
    sync: OwnedFd,
    saved: Saved,
    cgroup: berth_cgroups::Cgroup,
    dir: PathBuf,
}

impl Runtime {
    /// A runtime keeping state under `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    fn dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        Ok(self.root.join(id))
    }

    fn load(&self, id: &str) -> Result<(PathBuf, Saved)> {
        let d = self.dir(id)?;
        let s = Saved::load(&d, id)?;
        Ok((d, s))
    }

    /// OCI `create`: sets up the container's namespaces, cgroup, rootfs
    /// and process, runs the prestart, createRuntime and createContainer
    /// hooks, and leaves the init process waiting for [`Runtime::start`].
    /// Returns the init PID (a child of the caller: see the crate docs on
    /// reaping).
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::AlreadyExists`], [`Error::Bundle`] /
    /// [`Error::Config`] for a bad bundle, [`Error::Setup`] /
    /// [`Error::Hook`] / [`Error::Io`] for a step that failed. On error
    /// nothing is left: no process, cgroup, mount or state directory.
    pub fn create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<i32> {
        let c = self.create_inner(id, bundle, opts, Mode::Create, None)?;
        Ok(c.pid)
    }

    fn create_inner(
        &self,
        id: &str,
        bundle: &Path,
        opts: &CreateOptions,
        mode: Mode,
        console: Option<OwnedFd>,
    ) -> Result<Created> {
        let dir = self.dir(id)?;
        let bundle =
            std::path::absolute(bundle).ctx(|| format!("resolve bundle {}", bundle.display()))?;
        let (spec, rootfs) = crate::config::load_bundle(&bundle)?;
        let proc_ = spec.process().clone().ok_or_else(|| Error::Config {
            path: "process".into(),
            msg: "missing".into(),
        })?;
        let ns = ns_plan(&spec)?;
        if !ns.mountns {
            warn_without_mountns(&spec, id);
        }
        let filter = compile_seccomp(&spec, &self.seccomp_cache())?;
        let terminal = proc_.terminal() == Some(true);
        let console = match (terminal, console, &opts.console_socket) {
            (false, _, Some(_)) => {
                return Err(Error::Invalid(
                    "--console-socket given but process.terminal is false".into(),
                ))
            }
            (false, _, None) => None,
            (true, Some(c), _) => Some(c),
            (true, None, Some(p)) => Some(connect_console(p)?),
            (true, None, None) => {
                return Err(Error::Invalid(
                    "process.terminal is true: a console socket is needed (--console-socket)"
                        .into(),
                ))
            }
        };
        std::fs::create_dir_all(&self.root)
            .ctx(|| format!("create state root {}", self.root.display()))?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(id.into()))
            }
            Err(e) => return Err(io_err(format!("create state dir {}", dir.display()), e)),
        }
        let mut cleanup = Cleanup {
            state_dir: Some(&dir),
            pid: None,
            cgroup: None,
        };
        let linux = spec.linux().as_ref();
        let cg_path = linux
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let cgroup =
            berth_cgroups::Cgroup::new(&cg_path, id).map_err(|e| Error::Cgroup(e.to_string()))?;
        let min = 3 + opts.preserve_fds as i32;
        let LaunchFds {
            psync,
            csync,
            dmz,
            console,
        } = launch_fds(min, console)?;
        let start_listener = if mode == Mode::Create {
            Some(raise_fd(bind_start_socket(&dir)?.into(), min)?)
        } else {
            None
        };
        // The cgroup exists before its init: the init is born in it and
        // joins it without a migration (berth_cgroups::SelfAttach).
        cleanup.cgroup = Some(cgroup.clone());
        cgroup.create().map_err(|e| Error::Cgroup(e.to_string()))?;
        if let Some(res) = linux.and_then(|l| l.resources().as_ref()) {
            let devs = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
            cgroup
                .set_with_devices(res, &devs)
                .map_err(|e| Error::Cgroup(e.to_string()))?;
        }
        let attach = cgroup.self_attach().ok();
        let launch = Launch {
            mode,
            id,
            spec: &spec,
            process: &proc_,
            rootfs: &rootfs,
            bundle: &bundle,
            clone_flags: ns.flags,
            new_cgroupns: ns.cgroupns,
            new_userns: ns.userns,
            new_mountns: ns.mountns,
            new_utsns: ns.utsns,
            joins: ns.joins,
            console,
            start_listener,
            preserve_fds: opts.preserve_fds,
            no_pivot: opts.no_pivot,
            seccomp: filter.as_ref(),
            attach: attach.as_ref(),
        };
        let (pid, born_in) = spawn(&launch, &opts.stdio, &csync, &psync, &dmz)?;
        drop(launch.start_listener);
        cleanup.pid = Some(pid);
        drop(csync);
        drop(dmz);
        drop(launch.console);
        if let Some(adj) = proc_.oom_score_adj() {
            std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
                .ctx(|| format!("set oomScoreAdj {adj}"))?;
        }
        if ns.userns {
            write_maps(pid, &spec)?;
            send_to_child(psync.as_fd(), T_MAPPED)?;
        }
        let joined = match &attach {
            Some(_) if born_in => Ok(()),
            Some(a) => a.migrate_v2(&cgroup, pid),
            None => cgroup.apply(pid),
        };
        if let Err(e) = joined {
            // the child may have failed (and exited) first: its report wins
            return Err(match recv_msg(psync.as_fd(), Duration::from_millis(100)) {
                Ok(Some((T_ERR, m))) => Error::Setup(String::from_utf8_lossy(&m).into_owned()),
                _ => Error::Cgroup(e.to_string()),
            });
        }
        send_to_child(psync.as_fd(), T_GO)?;
        let pid_start = proc_start_time(pid).map(|(s, _)| s).unwrap_or(0);
        let mut saved = Saved {
            id: id.to_string(),
            pid,
            pid_start,
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            created: now_rfc3339(),
            creating: true,
            cgroup: Some(cgroup.clone()),
            spec: spec.clone(),
        };
        saved.save(&dir)?;
        loop {
            match recv_msg(psync.as_fd(), SETUP_TIMEOUT)? {
                Some((T_HOOKS, _)) => {
                    let st = saved.to_state(Status::Creating).oci();
                    let h = spec.hooks().as_ref();
                    hooks::run_hooks("prestart", h.and_then(|h| h.prestart().as_ref()), &st)?;
                    hooks::run_hooks(
                        "createRuntime",
                        h.and_then(|h| h.create_runtime().as_ref()),
                        &st,
                    )?;
                    send_msg(psync.as_fd(), T_HOOKS_DONE, b"")?;
                }
                Some((T_READY, _)) => break,
                Some((T_ERR, msg)) => {
                    return Err(Error::Setup(String::from_utf8_lossy(&msg).into_owned()))
                }
                Some((t, _)) => {
                    return Err(Error::Setup(format!("unexpected message {:?}", t as char)))
                }
                None => {
                    return Err(Error::Setup(
                        "container init process exited during setup".into(),
                    ))
                }
            }
        }
        saved.creating = false;
        saved.save(&dir)?;
        if let Some(pf) = &opts.pid_file {
            write_pid_file(pf, pid)?;
        }
        cleanup.disarm();
        drop(cleanup);
        Ok(Created {
            pid,
            sync: psync,
            saved,
            cgroup,
            dir,
        })
    }

    /// OCI `start`: releases a created container's init process to exec the
    /// user program, then runs the poststart hooks.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::BadState`] unless the container is
    /// `created`; [`Error::Setup`] when the user program could not be
    /// executed (e.g. a startContainer hook failed).
    pub fn start(&self, id: &str) -> Result<()> {
        let (dir, saved) = self.load(id)?;
        let st = self.status_of(&dir, &saved);
        if st != Status::Created {
            return Err(Error::BadState {
                id: id.into(),
                status: st.to_string(),
                msg: "only a created container can be started".into(),
            });
        }
        let sock = dir.join(START_SOCK);
        let dirf = std::fs::File::open(&dir).ctx(|| format!("open {}", dir.display()))?;
        let short = PathBuf::from(format!("/proc/self/fd/{}/{START_SOCK}", dirf.as_raw_fd()));
        let target = if sock.as_os_str().len() < 100 {
            sock.clone()
        } else {
            short
        };
        let mut conn =
            UnixStream::connect(&target).ctx(|| format!("connect to {}", sock.display()))?;
        let _ = std::fs::remove_file(&sock);
        conn.write_all(b"s").ctx(|| "send start".into())?;
        conn.set_read_timeout(Some(SETUP_TIMEOUT)).ok();
        let mut reply = Vec::new();
        let r = conn.read_to_end(&mut reply);
        if let Some(rest) = reply.strip_prefix(&[T_ERR]) {
            return Err(Error::Setup(String::from_utf8_lossy(rest).into_owned()));
        }
        r.ctx(|| "wait for the user program to start".into())?;
        let state = saved.to_state(Status::Running).oci();
        hooks::run_hooks_warn(
            "poststart",
            saved
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.poststart().as_ref()),
            &state,
        );
        Ok(())
    }

    /// `run`: create + start (+ wait + delete unless `opts.detach`),
    /// without the start socket round trip. In the foreground it forwards
    /// the signals it receives (INT, TERM, HUP, QUIT, USR1, USR2) to the init
    /// process, proxies a terminal to its own stdin/stdout when
    /// `process.terminal` is set without a console socket, and returns
    /// the exit code: the program's, or 128+signal. Detached, it returns 0
    /// once the program runs.
    ///
    /// In the foreground it reaps *every* child of the calling process
    /// that exits meanwhile (waitpid(-1)), as a runc-like CLI may: a
    /// library caller with other children should use
    /// [`Runtime::create`] + [`Runtime::start`] and its own waitpid.
    ///
    /// # Errors
    /// As [`Runtime::create`] and [`Runtime::start`].
    pub fn run(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<i32> {
        use nix::sys::signal::{SigSet, SigmaskHow};
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
            Signal::SIGWINCH,
        ] {
            mask.add(s);
        }
        let mut old = SigSet::empty();
        if !opts.detach {
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
                .ctx(|| "sigprocmask".into())?;
        }
        let r = self.run_blocked(id, bundle, opts, &mask);
        if !opts.detach {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
        r
    }

    fn run_blocked(
        &self,
        id: &str,
        bundle: &Path,
        opts: &CreateOptions,
        mask: &nix::sys::signal::SigSet,
    ) -> Result<i32> {
        // A terminal without a console socket: receive the master ourselves.
        let mut proxy_master: Option<UnixStream> = None;
        let mut console = None;
        if opts.console_socket.is_none() && !opts.detach {
            let (ours, theirs) = UnixStream::pair().ctx(|| "socketpair for the terminal".into())?;
            proxy_master = Some(ours);
            console = Some(OwnedFd::from(theirs));
        }
        // (create_inner uses `console` only when process.terminal is set)
        let c = self.create_inner(id, bundle, opts, Mode::Run, console)?;
        let Created {
            pid,
            sync,
            saved,
            cgroup,
            dir,
        } = c;
        let mut cleanup = Cleanup {
            state_dir: Some(&dir),
            pid: Some(pid),
            cgroup: Some(cgroup.clone()),
        };
        let master = match (
            &proxy_master,
            saved.spec.process().as_ref().and_then(|p| p.terminal()),
        ) {
            (Some(s), Some(true)) => Some(recv_fd(s)?),
            _ => None,
        };
        // The init process went on to exec after its ready message: EOF on
        // the sync socket (close-on-exec) means the user program runs.
        match recv_msg(sync.as_fd(), SETUP_TIMEOUT)? {
            None => {}
            Some((T_ERR, m)) => return Err(Error::Setup(String::from_utf8_lossy(&m).into_owned())),
            Some((t, _)) => {
                return Err(Error::Setup(format!("unexpected message {:?}", t as char)))
            }
        }
        drop(sync);
        let state = saved.to_state(Status::Running).oci();
        hooks::run_hooks_warn(
            "poststart",
            saved
                .spec
                .hooks()
                .as_ref()
                .and_then(|h| h.poststart().as_ref()),
            &state,
        );
        if opts.detach {
            cleanup.disarm();
            return Ok(0);
        }
        let code = wait_forwarding(pid, mask, master)?;
        cleanup.pid = None; // reaped
        if cgroup.oom_kill_count().unwrap_or(0) > 0 {
            eprintln!("container {id}: killed by the OOM killer");
        }
        cleanup.disarm();
        self.destroy(&dir, &saved, Some(&cgroup));
        Ok(code)
    }

    /// Status of a container from its saved state and the kernel.
    fn status_of(&self, dir: &Path, s: &Saved) -> Status {
        if !s.init_alive() {
            return Status::Stopped;
        }
        if s.creating {
            return Status::Creating;
        }
        if dir.join(START_SOCK).exists() {
            return Status::Created;
        }
        if s.cgroup
            .as_ref()
            .is_some_and(|c| c.is_frozen().unwrap_or(false))
        {
            return Status::Paused;
        }
        Status::Running
    }

    /// OCI `state`: the container's state now.
    ///
    /// # Errors
    /// [`Error::InvalidId`], [`Error::NotFound`].
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        let (dir, saved) = self.load(id)?;
        let st = self.status_of(&dir, &saved);
        Ok(saved.to_state(st))
    }

    /// Every container under the root, sorted by id.
    ///
    /// # Errors
    /// Reading the root directory; a container whose state cannot be read
    /// is skipped.
    pub fn list(&self) -> Result<Vec<ContainerState>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err(format!("read {}", self.root.display()), e)),
        };
        for e in rd.flatten() {
            if let Some(id) = e.file_name().to_str() {
                if let Ok(s) = self.state(id) {
                    out.push(s);
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// OCI `kill`: sends `signal` to the init process, or with `all` to
    /// every process of the container's cgroup.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::BadState`] when stopped.
    pub fn kill(&self, id: &str, signal: Signal, all: bool) -> Result<()> {
        let (dir, saved) = self.load(id)?;
        let st = self.status_of(&dir, &saved);
        if st == Status::Stopped {
            return Err(Error::BadState {
                id: id.into(),
                status: st.to_string(),
                msg: "cannot signal it".into(),
            });
        }
        if all {
            if let Some(cg) = &saved.cgroup {
                return cg
                    .kill_all(signal)
                    .map_err(|e| Error::Cgroup(e.to_string()));
            }
        }
        if own_pid_ns(&saved.spec) && signal != Signal::SIGKILL && signal != Signal::SIGSTOP {
            wait_signal_ready(saved.pid, signal);
        }
        kill(Pid::from_raw(saved.pid), signal).ctx(|| format!("kill {} {signal}", saved.pid))
    }

    /// OCI `delete`: removes a stopped container: its cgroup, its state,
    /// then runs the poststop hooks. With `force` a container in any other
    /// state (creating, created, running, paused) is killed (SIGKILL to
    /// every process) first. Without `force`, deleting a container that is
    /// not stopped is an error and changes nothing (runtime.md "delete":
    /// it MUST generate an error and MUST have no effect).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::BadState`] when not stopped and not
    /// `force`.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let (dir, saved) = self.load(id)?;
        let st = self.status_of(&dir, &saved);
        match st {
            Status::Stopped => {}
            _ if force => self.kill_and_wait(&saved)?,
            _ => {
                return Err(Error::BadState {
                    id: id.into(),
                    status: st.to_string(),
                    msg: "stop it first or use force".into(),
                })
            }
        }
        self.destroy(&dir, &saved, saved.cgroup.as_ref());
        Ok(())
    }

    fn kill_and_wait(&self, s: &Saved) -> Result<()> {
        if let Some(cg) = &s.cgroup {
            let _ = cg.thaw();
            let _ = cg.kill_all(Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(s.pid), Signal::SIGKILL);
        // We may be its parent: reap it, else wait for whoever is.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while s.init_alive() {
            let _ = waitpid(Pid::from_raw(s.pid), Some(WaitPidFlag::WNOHANG));
            if std::time::Instant::now() > deadline {
                return Err(Error::Setup(format!(
                    "init process {} did not die within 10s of SIGKILL",
                    s.pid
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Removes cgroup and state, runs poststop hooks (warnings only).
    fn destroy(&self, dir: &Path, s: &Saved, cg: Option<&berth_cgroups::Cgroup>) {
        if let Some(cg) = cg {
            let _ = cg.kill_all(Signal::SIGKILL);
            if let Err(e) = cg.destroy() {
                eprintln!("warning: container {}: {e}", s.id);
            }
        }
        let _ = std::fs::remove_dir_all(dir);
        let state = s.to_state(Status::Stopped).oci();
        hooks::run_hooks_warn(
            "poststop",
            s.spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()),
            &state,
        );
    }

    /// Processes of the container (its cgroup's), host PIDs.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Cgroup`].
    pub fn ps(&self, id: &str) -> Result<Vec<i32>> {
        let (_, saved) = self.load(id)?;
        match &saved.cgroup {
            Some(cg) => cg.pids().map_err(|e| Error::Cgroup(e.to_string())),
            None => Ok(vec![saved.pid]),
        }
    }

    /// Freezes every process of the container (cgroup freezer).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::BadState`] unless running.
    pub fn pause(&self, id: &str) -> Result<()> {
        self.freezer(
            id,
            Status::Running,
            "only a running container can be paused",
            |cg| cg.freeze(),
        )
    }

    /// Thaws a paused container.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::BadState`] unless paused.
    pub fn resume(&self, id: &str) -> Result<()> {
        self.freezer(
            id,
            Status::Paused,
            "only a paused container can be resumed",
            |cg| cg.thaw(),
        )
    }

    /// `pause`/`resume`: checks that `id` is in status `want`, then applies
    /// `op` (freeze or thaw) to its cgroup.
    fn freezer<E: std::fmt::Display>(
        &self,
        id: &str,
        want: Status,
        msg: &str,
        op: impl FnOnce(&berth_cgroups::Cgroup) -> std::result::Result<(), E>,
    ) -> Result<()> {
        let (dir, saved) = self.load(id)?;
        let st = self.status_of(&dir, &saved);
        if st != want {
            return Err(Error::BadState {
                id: id.into(),
                status: st.to_string(),
                msg: msg.into(),
            });
        }
        let cg = saved
            .cgroup
            .as_ref()
            .ok_or_else(|| Error::Cgroup("no cgroup".into()))?;
        op(cg).map_err(|e| Error::Cgroup(e.to_string()))
    }

    /// runc `exec`: starts `process` inside the running (or created)
    /// container `id`: it joins the init process's namespaces and cgroup,
    /// and gets its own user, capabilities, rlimits, cwd, env, terminal.
    /// Returns its PID, a child of the caller (reap it to get its exit status).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::BadState`] when the container is
    /// stopped or paused; [`Error::Setup`] when the program cannot be run.
    pub fn exec(&self, id: &str, process: &Process, opts: &ExecOptions) -> Result<i32> {
        crate::config::check_process(process, "process")?;
        let (dir, saved) = self.load(id)?;
        let st = self.status_of(&dir, &saved);
        if st != Status::Running && st != Status::Created {
            return Err(Error::BadState {
                id: id.into(),
                status: st.to_string(),
                msg: "cannot exec into it".into(),
            });
        }
        let console = match (process.terminal() == Some(true), &opts.console_socket) {
            (true, _) if opts.console_stream.is_some() => Some(
                opts.console_stream
                    .as_ref()
                    .map(|f| f.try_clone())
                    .transpose()
                    .ctx(|| "dup console".into())?
                    .unwrap_or_else(|| unreachable!()),
            ),
            (true, Some(p)) => Some(connect_console(p)?),
            (true, None) => {
                return Err(Error::Invalid(
                    "process.terminal is true: a console socket is needed".into(),
                ))
            }
            (false, Some(_)) => {
                return Err(Error::Invalid(
                    "--console-socket given but process.terminal is false".into(),
                ))
            }
            (false, None) => None,
        };
        let mut joins = Vec::new();
        for (name, flag) in [
            ("user", CloneFlags::CLONE_NEWUSER),
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("uts", CloneFlags::CLONE_NEWUTS),
            ("net", CloneFlags::CLONE_NEWNET),
            ("pid", CloneFlags::CLONE_NEWPID),
            ("cgroup", CloneFlags::CLONE_NEWCGROUP),
            ("mnt", CloneFlags::CLONE_NEWNS),
        ] {
            let theirs = format!("/proc/{}/ns/{name}", saved.pid);
            let (a, b) = (
                std::fs::metadata(&theirs),
                std::fs::metadata(format!("/proc/self/ns/{name}")),
            );
            use std::os::unix::fs::MetadataExt;
            if let (Ok(a), Ok(b)) = (&a, &b) {
                if a.ino() == b.ino() && a.dev() == b.dev() {
                    continue;
                }
            }
            let f = std::fs::File::open(&theirs).ctx(|| format!("open {theirs}"))?;
            joins.push((OwnedFd::from(f), flag, theirs));
        }
        if joins.is_empty() {
            return Err(Error::Setup(
                "the container shares every namespace with the runtime".into(),
            ));
        }
        let filter = compile_seccomp(&saved.spec, &self.seccomp_cache())?;
        // Into the init's cgroup without a migration, as at create.
        let attach = saved.cgroup.as_ref().and_then(|c| c.self_attach().ok());
        let min = 3 + opts.preserve_fds as i32;
        let LaunchFds {
            psync,
            csync,
            dmz,
            console,
        } = launch_fds(min, console)?;
        let launch = Launch {
            mode: Mode::Exec,
            id,
            spec: &saved.spec,
            process,
            rootfs: &saved.rootfs,
            bundle: &saved.bundle,
            clone_flags: 0,
            new_cgroupns: false,
            new_userns: false,
            new_mountns: false,
            new_utsns: false,
            joins,
            console,
            start_listener: None,
            preserve_fds: opts.preserve_fds,
            no_pivot: false,
            seccomp: filter.as_ref(),
            attach: attach.as_ref(),
        };
        let (pid, born_in) = spawn(&launch, &opts.stdio, &csync, &psync, &dmz)?;
        drop(csync);
        drop(dmz);
        let guard = Cleanup {
            state_dir: None,
            pid: Some(pid),
            cgroup: None,
        };
        if let Some(cg) = &saved.cgroup {
            match &attach {
                Some(_) if born_in => Ok(()),
                Some(a) => a.migrate_v2(cg, pid),
                None => cg.apply(pid),
            }
            .map_err(|e| Error::Cgroup(e.to_string()))?;
        }
        if let Some(adj) = process.oom_score_adj() {
            std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
                .ctx(|| format!("set oomScoreAdj {adj}"))?;
        }
        send_to_child(psync.as_fd(), T_GO)?;
        expect(psync.as_fd(), T_READY, "the exec process to be ready")?;
        match recv_msg(psync.as_fd(), SETUP_TIMEOUT)? {
            None => {}
            Some((T_ERR, m)) => return Err(Error::Setup(String::from_utf8_lossy(&m).into_owned())),
            Some((t, _)) => {
                return Err(Error::Setup(format!("unexpected message {:?}", t as char)))
            }
        }
        let mut guard = guard;
        guard.disarm();
        if let Some(pf) = &opts.pid_file {
            write_pid_file(pf, pid)?;
        }
        Ok(pid)
    }

    /// The configuration a container was created with (config.json as
    /// parsed at create), e.g. to build an exec process from its `process`.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn config(&self, id: &str) -> Result<Spec> {
        Ok(self.load(id)?.1.spec)
    }

    /// Waits for a child `pid` of the caller (an init or exec process)
    /// while forwarding INT, TERM, HUP, QUIT, USR1, USR2 to it and, with
    /// `master` (a pty master), proxying it to the caller's stdin/stdout
    /// (stdin in raw mode when a terminal). Returns its exit code, or
    /// 128+signal.
    ///
    /// # Errors
    /// [`Error::Io`] when waiting fails (e.g. `pid` is not our child).
    pub fn wait_forwarding(&self, pid: i32, master: Option<OwnedFd>) -> Result<i32> {
        use nix::sys::signal::{SigSet, SigmaskHow};
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ] {
            mask.add(s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
            .ctx(|| "sigprocmask".into())?;
        mask.add(Signal::SIGWINCH);
        let r = wait_forwarding(pid, &mask, master);
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        r
    }
}

fn recv_fd(s: &UnixStream) -> Result<OwnedFd> {
    let (fd, _name) = berth_sys::recv_fd(s.as_fd()).ctx(|| "receive the pty master".into())?;
    fd.ok_or_else(|| Error::Setup("no pty master received".into()))
}

fn exit_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

/// The foreground loop of run: signals (blocked by the caller) arrive on a
/// signalfd; the terminal, if any, is proxied both ways.
fn wait_forwarding(
    pid: i32,
    mask: &nix::sys::signal::SigSet,
    master: Option<OwnedFd>,
) -> Result<i32> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    // Already gone?
    if let Some(c) = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG))
        .ok()
        .and_then(exit_code)
    {
        return Ok(c);
    }
    let sfd = SignalFd::with_flags(mask, SfdFlags::SFD_CLOEXEC).ctx(|| "signalfd".into())?;
    let stdin = std::io::stdin();
    let _raw = master.as_ref().and_then(|_| RawTerm::enter(0));
    if let Some(m) = &master {
        if let Ok((r, c)) = berth_sys::window_size(stdin.as_fd()) {
            let _ = berth_sys::set_window_size(m.as_fd(), r, c);
        }
    }
    let mut stdin_open = master.is_some();
    let mut buf = vec![0u8; 16384];
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &master {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => {
                r.ctx(|| "poll".into())?;
            }
        }
        let revs: Vec<_> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        drop(fds);
        if let Some(m) = &master {
            if revs[1].intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
                match nix::unistd::read(m.as_raw_fd(), &mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = std::io::stdout().write_all(&buf[..n]);
                        let _ = std::io::stdout().flush();
                    }
                    _ => {}
                }
            }
            if stdin_open
                && revs.len() > 2
                && revs[2].intersects(PollFlags::POLLIN | PollFlags::POLLHUP)
            {
                match nix::unistd::read(0, &mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = nix::unistd::write(m, &buf[..n]);
                    }
                    _ => stdin_open = false,
                }
            }
        }
        if revs[0].contains(PollFlags::POLLIN) {
            if let Ok(Some(si)) = sfd.read_signal() {
                let sig = si.ssi_signo as i32;
                if sig == Signal::SIGCHLD as i32 {
                    loop {
                        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                            Ok(WaitStatus::StillAlive) | Err(_) => break,
                            Ok(ws) => {
                                if ws.pid() == Some(Pid::from_raw(pid)) {
                                    if let Some(c) = exit_code(ws) {
                                        // drain what the terminal still holds
                                        if let Some(m) = &master {
                                            while let Ok(n) =
                                                nix::unistd::read(m.as_raw_fd(), &mut buf)
                                            {
                                                if n == 0 {
                                                    break;
                                                }
                                                let _ = std::io::stdout().write_all(&buf[..n]);
                                            }
                                            let _ = std::io::stdout().flush();
                                        }
                                        return Ok(c);
                                    }
                                }
                            }
                        }
                    }
                } else if sig == Signal::SIGWINCH as i32 {
                    if let (Some(m), Ok((r, c))) = (&master, berth_sys::window_size(stdin.as_fd()))
                    {
                        let _ = berth_sys::set_window_size(m.as_fd(), r, c);
                    }
                } else if let Ok(s) = Signal::try_from(sig) {
                    let _ = kill(Pid::from_raw(pid), s);
                }
            }
        }
    }
}

/// Puts a terminal in raw mode for the proxy; restores it on drop.
struct RawTerm {
    fd: i32,
    saved: nix::sys::termios::Termios,
}

impl RawTerm {
    fn enter(fd: i32) -> Option<RawTerm> {
        use nix::sys::termios::*;
        let b = std::io::stdin();
        let bf = b.as_fd();
        let _ = fd;
        let saved = tcgetattr(bf).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(bf, SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerm { fd, saved })
    }
}

impl Drop for RawTerm {
    fn drop(&mut self) {
        let _ = self.fd;
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin().as_fd(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("usr1").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
