//! Every raw syscall and `unsafe` block of Berth, behind safe functions.
//!
//! Most system calls Berth makes go through `nix` or `rustix`, which are
//! already safe. What lands here is what those crates do not offer safely:
//! a `fork(2)`-like `clone(2)`/`clone3(2)` taking namespace flags (and a
//! cgroup to be born in), `close_range(2)`, the terminal ioctls,
//! `setdomainname(2)`, `seccomp(2)` with a ready-made BPF program,
//! read-only `mmap(2)` of immutable files and `sync_file_range(2)`.
//! Each `unsafe` block carries a `// SAFETY:` comment saying why it is
//! sound.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

mod mmap;
pub use mmap::{
    map_file, map_file_for_send, mapped_file_of, start_writeback, FileMap, MappedRange,
};

/// `CLONE_PARENT`: the child's parent is the caller's parent (clone(2)).
pub const CLONE_PARENT: u64 = libc::CLONE_PARENT as u64;
/// `CLONE_NEWNS`: new mount namespace.
pub const CLONE_NEWNS: u64 = libc::CLONE_NEWNS as u64;
/// `CLONE_NEWUTS`: new UTS namespace.
pub const CLONE_NEWUTS: u64 = libc::CLONE_NEWUTS as u64;
/// `CLONE_NEWIPC`: new IPC namespace.
pub const CLONE_NEWIPC: u64 = libc::CLONE_NEWIPC as u64;
/// `CLONE_NEWUSER`: new user namespace.
pub const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
/// `CLONE_NEWPID`: new PID namespace (the child becomes its PID 1).
pub const CLONE_NEWPID: u64 = libc::CLONE_NEWPID as u64;
/// `CLONE_NEWNET`: new network namespace.
pub const CLONE_NEWNET: u64 = libc::CLONE_NEWNET as u64;
/// `CLONE_NEWCGROUP`: new cgroup namespace.
pub const CLONE_NEWCGROUP: u64 = libc::CLONE_NEWCGROUP as u64;

/// The flags [`clone_fork`] and [`clone_fork_into`] accept: namespaces and
/// `CLONE_PARENT`, nothing that would share memory or threads.
const FORK_FLAGS: u64 = CLONE_PARENT
    | CLONE_NEWNS
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWCGROUP;

/// Which side of a [`clone_fork`] the caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// In the parent: the child's PID (as seen from the parent's PID namespace).
    Parent(i32),
    /// In the child.
    Child,
}

/// `fork(2)` with extra `clone(2)` flags: `CLONE_NEW*` namespaces and/or
/// `CLONE_PARENT`. The child runs on a copy-on-write copy of the caller's
/// stack (no new stack, like `fork`) and receives `SIGCHLD` semantics
/// (its parent is notified with SIGCHLD when it exits).
///
/// `flags` is a bit set of the `CLONE_*` constants of this crate; other bits
/// are rejected with `EINVAL` so that no caller can ask for `CLONE_VM` or
/// `CLONE_THREAD`, which would break the fork semantics this relies on.
///
/// # Requirements (why this is sound)
/// The calling process must be single-threaded: the child gets a copy of
/// only the calling thread, so a lock held by another thread (malloc's,
/// stdio's) would stay locked for ever in the child. Berth's callers (the
/// `berth-runc` binary and the daemon's per-container monitor) are.
///
/// # Errors
/// The `clone(2)` errno: `EINVAL` for a bad flag combination, `EPERM`
/// without the privilege for a namespace, `ENOSPC`/`EUSERS` over a
/// namespace limit, `EAGAIN` over `RLIMIT_NPROC`.
pub fn clone_fork(flags: u64) -> io::Result<Fork> {
    if flags & !FORK_FLAGS != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let full = flags | libc::SIGCHLD as u64;
    // SAFETY: clone(2) with a null stack and none of CLONE_VM/CLONE_THREAD/
    // CLONE_SETTLS is fork(2) with extra flags: the child gets a private
    // copy-on-write address space, so no Rust invariant is shared between
    // the two processes. The x86_64/aarch64 argument order is
    // (flags, stack, parent_tid, child_tid, tls); the pointer arguments are
    // null and unused without the matching flags. The single-thread
    // requirement documented above rules out locks held by other threads.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            full as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid as i32)),
    }
}

/// `CLONE_INTO_CGROUP` (linux/sched.h, Linux >= 5.7): the clone3(2) child
/// starts in the cgroup v2 directory given as `clone_args.cgroup`.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of linux/sched.h up to `cgroup` (CLONE_ARGS_SIZE_VER2,
/// 88 bytes); every field a `__aligned_u64`.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// [`clone_fork`] through `clone3(2)` with `CLONE_INTO_CGROUP`: the child
/// is born in the cgroup v2 directory `cgroup` (an `O_DIRECTORY` descriptor
/// of a cgroup2 directory), so nothing has to migrate it there. A
/// migration (a write to `cgroup.procs`) takes the kernel's global
/// `cgroup_threadgroup_rwsem` for writing, which waits for an RCU grace
/// period when no migration happened recently (~8 ms on a quiet machine);
/// a clone into a cgroup does not take it (cgroup-v2.rst, "favordynmods").
///
/// Same flags and single-thread requirement as [`clone_fork`].
///
/// # Errors
/// The `clone3(2)` errno: `ENOSYS` before Linux 5.3, `E2BIG`/`EINVAL`
/// when the kernel lacks `CLONE_INTO_CGROUP` (before 5.7) or `cgroup` is
/// not a cgroup2 directory, `EBUSY` when that cgroup has controllers
/// enabled for its children (it is not a leaf), `EOPNOTSUPP` for a
/// threaded cgroup, and those of [`clone_fork`].
pub fn clone_fork_into(flags: u64, cgroup: BorrowedFd<'_>) -> io::Result<Fork> {
    if flags & !FORK_FLAGS != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let args = CloneArgs {
        flags: flags | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: clone3(2) with a zero stack (and stack_size) and none of
    // CLONE_VM/CLONE_THREAD/CLONE_SETTLS/CLONE_PIDFD/CLONE_*_SETTID is
    // fork(2) with extra flags: the child runs on a private copy-on-write
    // copy of the caller's address space and stack, so no Rust invariant
    // is shared between the two processes. The kernel reads `args`
    // (`size_of::<CloneArgs>()` bytes, a valid, initialized struct that
    // outlives the call) and writes nothing back without the *_SETTID or
    // PIDFD flags. `cgroup` is a descriptor borrowed for the call. The
    // single-thread requirement documented on clone_fork rules out locks
    // held by other threads.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid as i32)),
    }
}

/// `close_range(first, last, CLOSE_RANGE_CLOEXEC)` (Linux >= 5.11): marks
/// every descriptor in `first..=last` close-on-exec without closing it.
///
/// # Errors
/// `EINVAL` when `first > last`; `ENOSYS` on kernels without it.
pub fn cloexec_range(first: u32, last: u32) -> io::Result<()> {
    close_range_raw(first, last, libc::CLOSE_RANGE_CLOEXEC)
}

/// `close_range(first, last, 0)`: closes every descriptor in `first..=last`
/// (Linux >= 5.9).
///
/// This invalidates any `OwnedFd`/`File` of the caller whose number is in
/// the range (their later drop closes a number that may have been reused),
/// so call it only where nothing of the kind is alive or is dropped again:
/// right before `execve(2)`.
///
/// # Errors
/// `EINVAL` when `first > last`; `ENOSYS` on kernels without it.
pub fn close_range(first: u32, last: u32) -> io::Result<()> {
    close_range_raw(first, last, 0)
}

fn close_range_raw(first: u32, last: u32, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range takes plain integers and touches only the fd table;
    // the caller-facing contract about live owners is documented above.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            last as libc::c_uint,
            flags,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Closes every descriptor `>= first` except those in `keep`, which stay
/// open (see [`close_range`] for the caveat about live owners).
///
/// # Errors
/// As [`close_range`].
pub fn close_fds_from_except(first: u32, keep: &[i32]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&k| k >= 0 && k as u32 >= first)
        .map(|&k| k as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut lo = first;
    for k in keep {
        if k > lo {
            close_range(lo, k - 1)?;
        }
        lo = k + 1;
    }
    close_range(lo, u32::MAX)
}

/// `ioctl(fd, TIOCSCTTY, 0)`: makes the terminal `fd` the controlling
/// terminal of the calling process, which must be a session leader
/// without one (tty_ioctl(4)).
///
/// # Errors
/// `EPERM` when the caller is not a session leader or already has one.
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `ioctl(fd, TIOCSWINSZ)`: sets a terminal's size in character cells.
///
/// # Errors
/// `ENOTTY` when `fd` is not a terminal.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `struct winsize` that lives for the call.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCSWINSZ,
            &ws as *const libc::winsize,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `ioctl(fd, TIOCGWINSZ)`: a terminal's size as `(rows, cols)`.
///
/// # Errors
/// `ENOTTY` when `fd` is not a terminal.
pub fn window_size(fd: impl AsFd) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a `struct winsize` into our local.
    let r = unsafe {
        libc::ioctl(
            fd.as_fd().as_raw_fd(),
            libc::TIOCGWINSZ,
            &mut ws as *mut libc::winsize,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok((ws.ws_row, ws.ws_col))
    }
}

/// `setdomainname(2)`: sets the NIS domain name of the calling process's
/// UTS namespace (the OCI `domainname`).
///
/// # Errors
/// `EINVAL` when longer than 64 bytes; `EPERM` without CAP_SYS_ADMIN.
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes for the call.
    let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `_exit(2)`: ends the calling process at once with `code`, running no
/// atexit handlers and flushing no stdio buffers: what a forked child that
/// failed must do so that it does not run its parent's exit-time code.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// Sets the disposition of every catchable signal (1..=64 but SIGKILL and
/// SIGSTOP) back to `SIG_DFL`. An exec keeps ignored dispositions, and
/// Rust's runtime ignores SIGPIPE, so a container process must call this
/// before its execve to start the user program with default signals.
/// Signals 32 and 33, which glibc reserves for itself (its `sigaction`
/// refuses them with EINVAL), are reset with the raw `rt_sigaction(2)`:
/// an engine started with them ignored must not hand that on to
/// containers (dockerd's containers start with `SigIgn: 0`).
pub fn reset_signal_dispositions() {
    /// The kernel's `struct sigaction` (x86_64 and aarch64 layout).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads one kernel sigaction from `dfl`, which
        // outlives the call, and writes nothing (old action pointer null);
        // SIG_DFL registers no handler code, so no Rust function can be
        // entered asynchronously. The size argument is the kernel's
        // sigset size (8 bytes). Errors (none expected) are ignored.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig as libc::c_long,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8 as libc::c_long,
            );
        }
    }
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a close-on-exec duplicate of `fd`
/// numbered `>= min`.
///
/// # Errors
/// `EMFILE` / `EINVAL` (min over RLIMIT_NOFILE).
pub fn dup_at_least(fd: BorrowedFd<'_>, min: i32) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an int and returns a new descriptor.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `r` was just created by the kernel for us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Receives one message on a UNIX socket with at most one descriptor
/// attached (SCM_RIGHTS), close-on-exec. Returns the descriptor, if any,
/// and the data bytes (up to 4096).
///
/// # Errors
/// The recvmsg(2) errno.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<(Option<OwnedFd>, Vec<u8>)> {
    let mut data = vec![0u8; 4096];
    // room for one cmsghdr with one int, aligned
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty header; we fill the
    // pointers below with buffers that outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: msg points at live buffers of the sizes it states.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    data.truncate(n as usize);
    let mut fds = Vec::new();
    // SAFETY: CMSG_* walk the control buffer the kernel just filled, bounded
    // by msg_controllen; every SCM_RIGHTS int is a descriptor installed
    // for us by the kernel, which we take ownership of exactly once.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(c) as *const libc::c_int;
                for i in 0..len / std::mem::size_of::<libc::c_int>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(p.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let first = if fds.is_empty() {
        None
    } else {
        Some(fds.remove(0))
    };
    Ok((first, data))
}

/// Longest classic-BPF program the kernel accepts (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`: installs the classic
/// BPF program `bpf` (an array of `struct sock_filter`, 8 bytes each in
/// native byte order, as libseccomp's `seccomp_export_bpf` writes it) on
/// the calling thread (every thread with `SECCOMP_FILTER_FLAG_TSYNC`).
///
/// Requires `no_new_privs` or `CAP_SYS_ADMIN` (seccomp(2)).
///
/// # Errors
/// `EINVAL` when `bpf` is empty, not a whole number of instructions or
/// longer than [`BPF_MAXINSNS`] (checked here), or for a flag or program
/// the kernel refuses; `EACCES` without the privilege; `ESRCH` when
/// another thread cannot be synchronised (TSYNC).
pub fn seccomp_set_mode_filter(bpf: &[u8], flags: u32) -> io::Result<()> {
    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    if bpf.is_empty() || !bpf.len().is_multiple_of(INSN) || bpf.len() / INSN > BPF_MAXINSNS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Copy into properly aligned instructions: the byte slice has no
    // alignment guarantee.
    let insns: Vec<libc::sock_filter> = bpf
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        // Bounded by BPF_MAXINSNS above, so it fits in u16.
        len: insns.len() as libc::c_ushort,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `insns`, a live, aligned array of exactly
    // `prog.len` sock_filter structs, which outlives the call; the kernel
    // only reads it (and copies it) during the syscall.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Gives memory the process no longer uses back to the kernel, for a
/// long-lived process after a start-up that used much more than its
/// steady state (berth-monitor after creating the container):
/// `malloc_trim(0)` returns freed heap pages (glibc), and the main
/// thread's stack pages below the current frame (a start-up deep in
/// serde and the runtime touches ~100 KiB of stack) are dropped with
/// `madvise(MADV_DONTNEED)`; they read as zeros if touched again.
///
/// Only for single-threaded processes, called from `main`'s own frame or
/// close to it: it must be the main thread, and nothing below the caller's
/// frame may be live (no other thread, no signal handler running on this
/// stack). Errors are ignored: the memory just stays resident.
pub fn release_unused_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it
    // takes malloc's own lock and touches no memory a caller owns.
    unsafe {
        libc::malloc_trim(0);
    }
    let Some(low) = main_stack_low() else {
        return;
    };
    let here = 0u8;
    let sp = std::ptr::addr_of!(here) as usize;
    let page = 4096usize;
    // Keep the page this frame is on and the one below it: madvise's libc
    // wrapper pushes a few bytes below this frame; whatever the caller
    // calls next faults in fresh zero pages as it goes deeper.
    let end = (sp & !(page - 1)).saturating_sub(page);
    if end <= low {
        return;
    }
    // SAFETY: [low, end) is inside this process's main-thread stack mapping
    // ("[stack]" in /proc/self/maps) and entirely below the current stack
    // pointer with a one-page margin, so no live frame is in it (the caller
    // guarantees a single thread, so no other thread's data either).
    // MADV_DONTNEED on private anonymous memory only drops pages; the
    // mapping stays and later touches fault in zero pages.
    unsafe {
        libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
    }
}

/// Start (lowest address) of the main thread's stack mapping, from the
/// `[stack]` line of /proc/self/maps.
fn main_stack_low() -> Option<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with("[stack]"))?;
    let range = line.split_whitespace().next()?;
    let (lo, _) = range.split_once('-')?;
    usize::from_str_radix(lo, 16).ok()
}

/// Replaces what `/proc/self/cmdline` (and so `ps`) shows for this
/// process with `args`, NUL-separated, by overwriting the original
/// argument strings in place (the kernel shows the bytes between the
/// `arg_start` and `arg_end` of /proc/self/stat, fields 48 and 49), with
/// NUL padding. For a process forked from a zygote, which would otherwise
/// show the zygote's command line; the zygote reserves room by being
/// started with a trailing padding argument. (`prctl(PR_SET_MM)` would
/// not need the room but needs `CAP_SYS_RESOURCE`, which containers and
/// CI sandboxes often drop.)
///
/// After this, `std::env::args()` no longer returns the original
/// arguments: read them before.
///
/// # Errors
/// `ENAMETOOLONG` when `args` do not fit in the original arguments' room;
/// reading /proc/self/stat.
pub fn set_cmdline(args: &[&str]) -> io::Result<()> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/stat");
    // Fields after "(comm)" start at field 3; arg_start is field 48.
    let rest = &stat[stat.rfind(')').ok_or_else(bad)? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> io::Result<usize> {
        f.get(n - 3).and_then(|v| v.parse().ok()).ok_or_else(bad)
    };
    let (start, end) = (field(48)?, field(49)?);
    let mut buf = Vec::new();
    for a in args {
        buf.extend_from_slice(a.as_bytes());
        buf.push(0);
    }
    if end <= start || buf.len() > end - start {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    // SAFETY: [start, end) is where the kernel placed this process's
    // argument strings at exec (the initial stack, read-write and mapped
    // for the process's life); `buf` fits in it, checked above. Nothing
    // but argv points into it; the caller accepts that std::env::args()
    // changes. The process is single-threaded in the callers (a freshly
    // forked monitor), so no one reads the strings concurrently.
    unsafe {
        let dst = start as *mut u8;
        std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, buf.len());
        std::ptr::write_bytes(dst.add(buf.len()), 0, end - start - buf.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_fork_rejects_vm_flags() {
        let e = clone_fork(libc::CLONE_VM as u64).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn clone_fork_child_exit_code_reaches_parent() {
        match clone_fork(0).unwrap() {
            Fork::Child => exit_now(7),
            Fork::Parent(pid) => {
                let mut st = 0;
                // SAFETY: test-only waitpid on our own child into a local.
                let r = unsafe { libc::waitpid(pid, &mut st, 0) };
                assert_eq!(r, pid);
                assert!(libc::WIFEXITED(st));
                assert_eq!(libc::WEXITSTATUS(st), 7);
            }
        }
    }

    #[test]
    fn close_range_rejects_inverted_range() {
        assert!(cloexec_range(10, 5).is_err());
    }
}
