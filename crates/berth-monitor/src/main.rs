//! `berth-monitor <state-dir>`: see the crate docs and [`berth_monitor::proto`].

use berth_monitor::jsonlog::{now_ns, LogWriter};
use berth_monitor::proto::*;
use berth_runtime::{CreateOptions, ExecOptions, Runtime, Stdio};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The zygote's last argument is padding: room for the command line of
    // the monitors it forks (see zygote_child_stdio).
    if (args.len() == 3 || args.len() == 4) && args[1] == "--zygote" {
        zygote(Path::new(&args[2]));
    }
    if args.len() != 2 || args[1].starts_with('-') {
        eprintln!(
            "usage: berth-monitor STATE_DIR | berth-monitor --zygote SOCKET\n(started by berthd; see the berth-monitor crate docs)"
        );
        std::process::exit(2);
    }
    run_monitor(Path::new(&args[1]))
}

/// The monitor proper, for the container whose state dir is `dir`. The
/// ready line (`ok <pid>` or `error <message>`) goes to stdout, which
/// berthd reads; later diagnostics go to stderr (monitor.log).
fn run_monitor(dir: &Path) -> ! {
    let code = match Monitor::setup(dir) {
        Ok(mut m) => {
            println!("ok {}", m.init_pid);
            let _ = std::io::stdout().flush();
            if let Ok(null) = File::options().write(true).open("/dev/null") {
                let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
            }
            // What create allocated and the stack it used are not needed
            // while the container runs: give the pages back.
            berth_sys::release_unused_memory();
            m.run();
            0
        }
        Err(e) => {
            println!("error {}", e.replace('\n', " "));
            1
        }
    };
    std::process::exit(code);
}

/// `berth-monitor --zygote SOCKET`: a pre-started monitor that forks one
/// monitor per request instead of berthd executing the binary for every
/// container (see the crate docs, "Zygote").
///
/// Protocol: berthd connects to SOCKET and sends one line, the state dir;
/// the forked monitor answers on that connection with the ready line, as
/// an executed monitor does on its stdout. Only root peers are served.
/// The zygote exits when its stdin (a pipe berthd holds) reaches EOF, so
/// it never outlives the daemon; the monitors it forked do.
fn zygote(sock: &Path) -> ! {
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("berth-monitor zygote: {what}: {e}");
        std::process::exit(1)
    };
    let _ = std::fs::remove_file(sock);
    let listener = UnixListener::bind(sock).unwrap_or_else(|e| fail("bind", &e));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| fail("nonblocking", &e));
    println!("ready");
    let _ = std::io::stdout().flush();
    let stdin = std::io::stdin();
    loop {
        let (mut hup, mut pending) = (false, false);
        {
            let mut fds = [
                PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
                PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::from(1000u16)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => fail("poll", &e),
            }
            if fds[0].any().unwrap_or(false) {
                hup = true;
            }
            if fds[1].any().unwrap_or(false) {
                pending = true;
            }
        }
        if hup {
            // berthd only ever closes the pipe: any readiness is EOF.
            let mut b = [0u8; 64];
            if !matches!(nix::unistd::read(stdin.as_raw_fd(), &mut b), Ok(n) if n > 0) {
                let _ = std::fs::remove_file(sock);
                std::process::exit(0);
            }
        }
        // Monitors that ended (they are our children until then).
        while let Ok(ws) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            if ws == WaitStatus::StillAlive {
                break;
            }
        }
        if !pending {
            continue;
        }
        let Ok((conn, _)) = listener.accept() else {
            continue;
        };
        let root = nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials)
            .map(|c| c.uid() == 0)
            .unwrap_or(false);
        if !root {
            continue;
        }
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let mut line = Vec::new();
        let mut r = std::io::BufReader::new(&conn);
        if std::io::BufRead::read_until(&mut r, b'\n', &mut line).is_err() || line.is_empty() {
            continue;
        }
        drop(r);
        let dir = PathBuf::from(String::from_utf8_lossy(&line).trim_end().to_string());
        match berth_sys::clone_fork(0) {
            Ok(berth_sys::Fork::Child) => {
                drop(listener);
                zygote_child_stdio(&dir, &conn);
                drop(conn);
                run_monitor(&dir)
            }
            Ok(berth_sys::Fork::Parent(_)) => {}
            Err(e) => {
                let mut c = &conn;
                let _ = writeln!(c, "error fork a monitor: {e}");
            }
        }
    }
}

/// In a monitor forked by the zygote: the command line an executed
/// monitor has (`berth-monitor <state-dir>`, for ps and for tools that find
/// a container's monitor by it), its own process group (signals to
/// berthd's group do not reach it), stdin /dev/null, stdout the request's
/// connection (the ready line), stderr the state dir's monitor.log.
fn zygote_child_stdio(dir: &Path, conn: &UnixStream) {
    let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    if let Ok(null) = File::open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
    }
    let _ = nix::unistd::dup2(conn.as_raw_fd(), 1);
    if let Ok(log) = File::create(dir.join("monitor.log")) {
        let _ = nix::unistd::dup2(log.as_raw_fd(), 2);
    }
    let exe = std::env::args()
        .next()
        .unwrap_or_else(|| "berth-monitor".into());
    if let Err(e) = berth_sys::set_cmdline(&[&exe, &dir.to_string_lossy()]) {
        // The padding ran short (a very deep state dir): ps shows the
        // zygote's command line for this monitor.
        eprintln!("berth-monitor: set the command line: {e}");
    }
}

/// Bytes read from a container output or a client at a time (on the
/// stack: 4 pages).
const READ_BUF: usize = 16 * 1024;

/// After this long without events the monitor returns the memory its last
/// burst of work used (`berth_sys::release_unused_memory`), so an idle
/// container's monitor holds only its steady state.
const QUIET_MS: u16 = 1000;

#[derive(PartialEq)]
enum ClientKind {
    /// Waiting for the request line.
    Pending(Vec<u8>),
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Waiter,
    Exec(i32),
}

struct Client {
    sock: UnixStream,
    kind: ClientKind,
    /// The client ended its input: no longer polled for reading.
    read_closed: bool,
}

struct ExecProc {
    id: String,
    /// stdout, stderr (or pty master as stdout).
    outs: Vec<(File, u8)>,
    stdin: Option<File>,
    master: Option<File>,
    client: Option<usize>,
    status: Option<i32>,
}

struct Monitor {
    cfg: MonitorConfig,
    dir: PathBuf,
    sock_path: PathBuf,
    rt: Runtime,
    init_pid: i32,
    /// Container output: (reader, frame kind); with a TTY only the master.
    outs: Vec<(File, u8)>,
    /// Container stdin (pipe write end, or a dup of the pty master).
    stdin: Option<File>,
    master: Option<File>,
    log: Option<LogWriter>,
    listener: UnixListener,
    sig: UnixStream,
    clients: HashMap<usize, Client>,
    next_client: usize,
    execs: HashMap<i32, ExecProc>,
    exit: Option<i32>,
    stdin_closed_once: bool,
}

fn pipe() -> Result<(File, File), String> {
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    Ok((File::from(r), File::from(w)))
}

fn exit_code(ws: WaitStatus) -> Option<(i32, i32)> {
    match ws {
        WaitStatus::Exited(p, c) => Some((p.as_raw(), c)),
        WaitStatus::Signaled(p, s, _) => Some((p.as_raw(), 128 + s as i32)),
        _ => None,
    }
}

/// Replaces `path` with `data` (temp file + rename). Not fsynced: the exit
/// record is for a berthd that died or was restarted while the container
/// ran, which the page cache serves; after a power loss no container is
/// running anyway. (The fsync cost ~0.5 ms at every container exit.)
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
    }
    std::fs::rename(&tmp, path)
}

fn send_line(s: &mut UnixStream, v: &impl serde::Serialize) -> bool {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    s.write_all(&b).is_ok()
}

fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + data.len());
    v.push(kind);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// A console socket in `dir` for the runtime to send a pty master on.
struct Console {
    path: PathBuf,
    listener: UnixListener,
}

impl Console {
    fn new(_dir: &Path, name: &str) -> Result<Console, String> {
        let path = PathBuf::from(name);
        let _ = std::fs::remove_file(&path);
        let listener =
            UnixListener::bind(&path).map_err(|e| format!("bind {}: {e}", path.display()))?;
        Ok(Console { path, listener })
    }
    fn receive(self) -> Result<File, String> {
        self.listener.set_nonblocking(true).ok();
        let r = self.listener.accept();
        let _ = std::fs::remove_file(&self.path);
        let (s, _) = r.map_err(|e| format!("no pty master from the runtime: {e}"))?;
        s.set_nonblocking(false).ok();
        let (fd, _) =
            berth_sys::recv_fd(s.as_fd()).map_err(|e| format!("receive pty master: {e}"))?;
        fd.map(File::from)
            .ok_or_else(|| "runtime sent no pty master".to_string())
    }
}

impl Monitor {
    fn setup(dir: &Path) -> Result<Monitor, String> {
        let raw = std::fs::read(dir.join(CONFIG_FILE))
            .map_err(|e| format!("read {}: {e}", CONFIG_FILE))?;
        let cfg: MonitorConfig =
            serde_json::from_slice(&raw).map_err(|e| format!("parse {CONFIG_FILE}: {e}"))?;
        // Relative socket paths keep sun_path short however deep the state dir is.
        std::env::set_current_dir(dir).map_err(|e| format!("chdir {}: {e}", dir.display()))?;
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;
        // A handler (not SIG_IGN) for SIGPIPE: writes to gone clients fail
        // with EPIPE, and exec resets handlers, so containers get SIG_DFL.
        let pipe_flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGPIPE, pipe_flag)
            .map_err(|e| format!("SIGPIPE: {e}"))?;
        let (sig_r, sig_w) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        sig_r.set_nonblocking(true).ok();
        sig_w.set_nonblocking(true).ok();
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, sig_w)
            .map_err(|e| format!("SIGCHLD: {e}"))?;

        let log = match &cfg.log_path {
            Some(p) => Some(
                LogWriter::open(p, cfg.log_max_size, cfg.log_max_file)
                    .map_err(|e| format!("open log {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let sock_path = cfg.socket.clone().unwrap_or_else(|| dir.join(SOCKET_FILE));
        let _ = std::fs::remove_file(&sock_path);
        let listener = UnixListener::bind(&sock_path)
            .map_err(|e| format!("bind {}: {e}", sock_path.display()))?;
        listener.set_nonblocking(true).ok();
        if let Some(ov) = &cfg.rootfs {
            if let Err(e) = mount_overlay(ov) {
                let _ = std::fs::remove_file(&sock_path);
                return Err(e);
            }
        }
        let rt = Runtime::new(&cfg.runtime_root);
        let mut opts = CreateOptions::default();
        let (mut outs, mut stdin, mut master, mut console) = (Vec::new(), None, None, None);
        if cfg.tty {
            let c = Console::new(dir, "console.sock")?;
            opts.console_socket = Some(c.path.clone());
            console = Some(c);
        } else {
            let (or, ow) = pipe()?;
            let (er, ew) = pipe()?;
            outs.push((or, FRAME_STDOUT));
            outs.push((er, FRAME_STDERR));
            opts.stdio.stdout = Some(OwnedFd::from(ow));
            opts.stdio.stderr = Some(OwnedFd::from(ew));
            if cfg.open_stdin {
                let (ir, iw) = pipe()?;
                opts.stdio.stdin = Some(OwnedFd::from(ir));
                stdin = Some(iw);
            } else if let Ok(null) = File::open("/dev/null") {
                opts.stdio.stdin = Some(OwnedFd::from(null));
            }
        }
        let init_pid = match rt.create(&cfg.id, &cfg.bundle, &opts) {
            Ok(p) => p,
            Err(e) => {
                if let Some(ov) = &cfg.rootfs {
                    unmount(&ov.target);
                }
                let _ = std::fs::remove_file(&sock_path);
                return Err(e.to_string());
            }
        };
        drop(opts);
        if let Err(e) = loopback_up_if_own_netns(init_pid) {
            let _ = rt.delete(&cfg.id, true);
            if let Some(ov) = &cfg.rootfs {
                unmount(&ov.target);
            }
            let _ = std::fs::remove_file(&sock_path);
            return Err(e);
        }
        if let Some(c) = console {
            let m = match c.receive() {
                Ok(m) => m,
                Err(e) => {
                    let _ = rt.delete(&cfg.id, true);
                    if let Some(ov) = &cfg.rootfs {
                        unmount(&ov.target);
                    }
                    let _ = std::fs::remove_file(&sock_path);
                    return Err(e);
                }
            };
            if let Some([h, w]) = cfg.console_size {
                let _ = berth_sys::set_window_size(m.as_fd(), h, w);
            }
            let out = m.try_clone().map_err(|e| format!("dup pty: {e}"))?;
            stdin = Some(m.try_clone().map_err(|e| format!("dup pty: {e}"))?);
            outs.push((out, FRAME_STDOUT));
            master = Some(m);
        }
        Ok(Monitor {
            cfg,
            dir: dir.to_path_buf(),
            sock_path,
            rt,
            init_pid,
            outs,
            stdin,
            master,
            log,
            listener,
            sig: sig_r,
            clients: HashMap::new(),
            next_client: 0,
            execs: HashMap::new(),
            exit: None,
            stdin_closed_once: false,
        })
    }

    fn run(&mut self) {
        let mut drain_deadline: Option<Instant> = None;
        // Work was done since memory was last given back.
        let mut touched = true;
        loop {
            if self.exit.is_some() {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(2));
                if self.outs.is_empty() || Instant::now() >= deadline {
                    break;
                }
            }
            // Poll set: 0 signal pipe, 1 listener, then outputs, clients, exec outputs.
            #[derive(Clone, Copy)]
            enum Tag {
                Sig,
                Listen,
                Out(usize),
                Client(usize),
                ExecOut(i32, usize),
            }
            let mut tags = vec![Tag::Sig, Tag::Listen];
            let mut fds = vec![
                PollFd::new(self.sig.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
            ];
            for (i, (f, _)) in self.outs.iter().enumerate() {
                tags.push(Tag::Out(i));
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            }
            for (k, c) in self.clients.iter().filter(|(_, c)| !c.read_closed) {
                tags.push(Tag::Client(*k));
                fds.push(PollFd::new(c.sock.as_fd(), PollFlags::POLLIN));
            }
            for (pid, e) in &self.execs {
                for (i, (f, _)) in e.outs.iter().enumerate() {
                    tags.push(Tag::ExecOut(*pid, i));
                    fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                }
            }
            let timeout = if self.exit.is_some() {
                PollTimeout::from(100u16)
            } else if touched {
                PollTimeout::from(QUIET_MS)
            } else {
                PollTimeout::NONE
            };
            match poll(&mut fds, timeout) {
                Ok(0) if touched && self.exit.is_none() => {
                    // Quiet for a second: give back the stack and heap the
                    // last burst of work (a request, an exec) used.
                    berth_sys::release_unused_memory();
                    touched = false;
                    continue;
                }
                Ok(_) => touched = true,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    eprintln!("berth-monitor: poll: {e}");
                    break;
                }
            }
            let ready: Vec<(Tag, bool)> = fds
                .iter()
                .zip(tags.iter())
                .filter_map(|(p, t)| {
                    let r = p.revents().unwrap_or(PollFlags::empty());
                    (!r.is_empty()).then_some((*t, r.contains(PollFlags::POLLIN)))
                })
                .collect();
            drop(fds);
            // Outputs first. When stdout and stderr are both readable in
            // one round, which bytes came first is not knowable (pipes
            // carry no timestamps): stdout is read before stderr, a fixed
            // order instead of a race; ended outputs are removed after.
            let mut out_ready: Vec<usize> = ready
                .iter()
                .filter_map(|(t, _)| if let Tag::Out(i) = t { Some(*i) } else { None })
                .collect();
            out_ready.sort_unstable();
            let mut ended = Vec::new();
            for i in out_ready {
                if self.read_output(i) {
                    ended.push(i);
                }
            }
            for i in ended.into_iter().rev() {
                self.outs.remove(i);
            }
            let mut exec_ready: Vec<(i32, usize)> = ready
                .iter()
                .filter_map(|(t, _)| {
                    if let Tag::ExecOut(p, i) = t {
                        Some((*p, *i))
                    } else {
                        None
                    }
                })
                .collect();
            exec_ready.sort_unstable_by_key(|e| std::cmp::Reverse(e.1));
            for (pid, i) in exec_ready {
                self.read_exec_output(pid, i);
            }
            for (t, _) in &ready {
                match *t {
                    Tag::Sig => self.reap(),
                    Tag::Listen => self.accept(),
                    Tag::Client(k) => self.client_readable(k),
                    _ => {}
                }
            }
            self.finish_execs();
        }
        self.finish();
    }

    /// Reads what output `i` has and hands it to the log and attached
    /// clients; true when the output ended (the caller removes it).
    ///
    /// The read handlers are never inlined, so that their buffers (one
    /// live at a time) do not add up in `run`'s frame: each stack page the
    /// loop touches stays resident for the container's life.
    #[inline(never)]
    fn read_output(&mut self, i: usize) -> bool {
        let mut buf = [0u8; READ_BUF];
        let (n, kind) = {
            let (f, kind) = &mut self.outs[i];
            (f.read(&mut buf), *kind)
        };
        match n {
            Ok(0) | Err(_) => {
                // EOF, or EIO on a pty master whose last slave closed.
                if let Ok(0) = n {
                } else if let Err(e) = &n {
                    if e.kind() == std::io::ErrorKind::Interrupted {
                        return false;
                    }
                }
                true
            }
            Ok(n) => {
                let data = &buf[..n];
                if let Some(l) = &mut self.log {
                    l.write(if kind == FRAME_STDERR { 1 } else { 0 }, data);
                }
                let fr = frame(kind, data);
                let mut dead = Vec::new();
                for (k, c) in self.clients.iter_mut() {
                    if let ClientKind::Attach { stdout, stderr, .. } = c.kind {
                        let want = if kind == FRAME_STDERR { stderr } else { stdout };
                        if want && c.sock.write_all(&fr).is_err() {
                            dead.push(*k);
                        }
                    }
                }
                for k in dead {
                    self.clients.remove(&k);
                }
                false
            }
        }
    }

    #[inline(never)]
    fn read_exec_output(&mut self, pid: i32, i: usize) {
        let mut buf = [0u8; READ_BUF];
        let Some(e) = self.execs.get_mut(&pid) else {
            return;
        };
        let (f, kind) = &mut e.outs[i];
        let kind = *kind;
        match f.read(&mut buf) {
            Ok(0) | Err(_) => {
                e.outs.remove(i);
            }
            Ok(n) => {
                if let Some(k) = e.client {
                    if let Some(c) = self.clients.get_mut(&k) {
                        if c.sock.write_all(&frame(kind, &buf[..n])).is_err() {
                            self.clients.remove(&k);
                            e.client = None;
                        }
                    }
                }
            }
        }
    }

    fn reap(&mut self) {
        let mut b = [0u8; 64];
        while let Ok(n) = self.sig.read(&mut b) {
            if n == 0 {
                break;
            }
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(ws) => {
                    if let Some((pid, code)) = exit_code(ws) {
                        if pid == self.init_pid {
                            self.exit = Some(code);
                        } else if let Some(e) = self.execs.get_mut(&pid) {
                            e.status = Some(code);
                        }
                    }
                }
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((s, _)) = self.listener.accept() {
            s.set_nonblocking(false).ok();
            s.set_write_timeout(Some(Duration::from_secs(10))).ok();
            let k = self.next_client;
            self.next_client += 1;
            self.clients.insert(
                k,
                Client {
                    sock: s,
                    kind: ClientKind::Pending(Vec::new()),
                    read_closed: false,
                },
            );
        }
    }

    #[inline(never)]
    fn client_readable(&mut self, k: usize) {
        let Some(c) = self.clients.get_mut(&k) else {
            return;
        };
        let mut buf = [0u8; READ_BUF];
        let n = match c.sock.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(_) => 0,
        };
        match &mut c.kind {
            ClientKind::Pending(line) => {
                if n == 0 {
                    self.clients.remove(&k);
                    return;
                }
                line.extend_from_slice(&buf[..n]);
                if let Some(pos) = line.iter().position(|&b| b == b'\n') {
                    let rest = line.split_off(pos + 1);
                    let req = serde_json::from_slice::<Request>(&line[..pos]);
                    match req {
                        Ok(r) => self.handle(k, r, rest),
                        Err(e) => {
                            let mut c = self.clients.remove(&k).expect("client");
                            send_line(
                                &mut c.sock,
                                &Reply {
                                    error: Some(format!("bad request: {e}")),
                                    ..Default::default()
                                },
                            );
                        }
                    }
                } else if line.len() > 1 << 20 {
                    self.clients.remove(&k);
                }
            }
            ClientKind::Attach { stdin, .. } => {
                let stdin = *stdin;
                if n == 0 {
                    // The client ended its input (maybe a half-close):
                    // keep streaming output until a write fails.
                    if stdin && self.cfg.stdin_once && !self.cfg.tty && !self.stdin_closed_once {
                        self.stdin = None;
                        self.stdin_closed_once = true;
                    }
                    c.read_closed = true;
                    return;
                }
                if stdin {
                    if let Some(w) = &mut self.stdin {
                        if w.write_all(&buf[..n]).is_err() {
                            self.stdin = None;
                        }
                    }
                }
            }
            ClientKind::Exec(pid) => {
                let pid = *pid;
                if let Some(e) = self.execs.get_mut(&pid) {
                    if n == 0 {
                        if e.master.is_none() {
                            e.stdin = None;
                        }
                        if let Some(c) = self.clients.get_mut(&k) {
                            c.read_closed = true;
                        }
                    } else if let Some(w) = &mut e.stdin {
                        if w.write_all(&buf[..n]).is_err() {
                            e.stdin = None;
                        }
                    }
                } else if n == 0 {
                    self.clients.remove(&k);
                }
            }
            ClientKind::Waiter => {
                if n == 0 {
                    self.clients.remove(&k);
                }
            }
        }
    }

    fn handle(&mut self, k: usize, req: Request, rest: Vec<u8>) {
        let ok = Reply::default();
        let err = |e: String| Reply {
            error: Some(e),
            ..Default::default()
        };
        let reply = match req {
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                let c = self.clients.get_mut(&k).expect("client");
                if !send_line(&mut c.sock, &ok) {
                    self.clients.remove(&k);
                    return;
                }
                c.kind = ClientKind::Attach {
                    stdin: stdin && self.stdin.is_some(),
                    stdout,
                    stderr,
                };
                if stdin && !rest.is_empty() {
                    if let Some(w) = &mut self.stdin {
                        let _ = w.write_all(&rest);
                    }
                }
                return;
            }
            Request::Start => match self.rt.start(&self.cfg.id) {
                Ok(()) => Reply {
                    pid: Some(self.init_pid),
                    ..Default::default()
                },
                Err(e) => err(e.to_string()),
            },
            Request::Wait => {
                let c = self.clients.get_mut(&k).expect("client");
                c.kind = ClientKind::Waiter;
                return;
            }
            Request::Kill { signal, all } => match Signal::try_from(signal) {
                Ok(s) => match self.rt.kill(&self.cfg.id, s, all) {
                    Ok(()) => ok,
                    Err(e) => err(e.to_string()),
                },
                Err(_) => err(format!("invalid signal {signal}")),
            },
            Request::Resize {
                height,
                width,
                exec_id,
            } => {
                let m = match &exec_id {
                    None => self.master.as_ref(),
                    Some(id) => self
                        .execs
                        .values()
                        .find(|e| &e.id == id)
                        .and_then(|e| e.master.as_ref()),
                };
                match m {
                    Some(m) => match berth_sys::set_window_size(m.as_fd(), height, width) {
                        Ok(()) => ok,
                        Err(e) => err(format!("resize: {e}")),
                    },
                    None => err("the process has no terminal".into()),
                }
            }
            Request::Pause => match self.rt.pause(&self.cfg.id) {
                Ok(()) => ok,
                Err(e) => err(e.to_string()),
            },
            Request::Resume => match self.rt.resume(&self.cfg.id) {
                Ok(()) => ok,
                Err(e) => err(e.to_string()),
            },
            Request::Ps => match self.rt.ps(&self.cfg.id) {
                Ok(p) => Reply {
                    pids: Some(p),
                    ..Default::default()
                },
                Err(e) => err(e.to_string()),
            },
            Request::Exec {
                exec_id,
                process,
                stdin,
                console_size,
            } => match self.exec(&exec_id, process, stdin, console_size) {
                Ok(pid) => {
                    let c = self.clients.get_mut(&k).expect("client");
                    if !send_line(
                        &mut c.sock,
                        &Reply {
                            pid: Some(pid),
                            ..Default::default()
                        },
                    ) {
                        self.clients.remove(&k);
                        if let Some(e) = self.execs.get_mut(&pid) {
                            e.client = None;
                        }
                        return;
                    }
                    c.kind = ClientKind::Exec(pid);
                    if let Some(e) = self.execs.get_mut(&pid) {
                        e.client = Some(k);
                        if let (Some(w), false) = (&mut e.stdin, rest.is_empty()) {
                            let _ = w.write_all(&rest);
                        }
                    }
                    return;
                }
                Err(e) => err(e),
            },
        };
        if let Some(mut c) = self.clients.remove(&k) {
            send_line(&mut c.sock, &reply);
        }
    }

    fn exec(
        &mut self,
        exec_id: &str,
        process: serde_json::Value,
        stdin: bool,
        size: Option<[u16; 2]>,
    ) -> Result<i32, String> {
        let p: oci_spec::runtime::Process =
            serde_json::from_value(process).map_err(|e| format!("exec process: {e}"))?;
        let tty = p.terminal() == Some(true);
        let mut opts = ExecOptions::default();
        let (mut outs, mut w_in, mut master, mut console) = (Vec::new(), None, None, None);
        if tty {
            let c = Console::new(
                &self.dir,
                &format!("exec-{}.sock", &exec_id[..exec_id.len().min(12)]),
            )?;
            opts.console_socket = Some(c.path.clone());
            console = Some(c);
        } else {
            let (or, ow) = pipe()?;
            let (er, ew) = pipe()?;
            outs.push((or, FRAME_STDOUT));
            outs.push((er, FRAME_STDERR));
            opts.stdio = Stdio {
                stdin: None,
                stdout: Some(ow.into()),
                stderr: Some(ew.into()),
            };
            if stdin {
                let (ir, iw) = pipe()?;
                opts.stdio.stdin = Some(ir.into());
                w_in = Some(iw);
            } else if let Ok(null) = File::open("/dev/null") {
                opts.stdio.stdin = Some(null.into());
            }
        }
        let pid = self
            .rt
            .exec(&self.cfg.id, &p, &opts)
            .map_err(|e| e.to_string());
        drop(opts);
        let pid = match pid {
            Ok(p) => p,
            Err(e) => {
                if let Some(c) = console {
                    let _ = std::fs::remove_file(&c.path);
                }
                return Err(e);
            }
        };
        if let Some(c) = console {
            let m = c.receive()?;
            if let Some([h, w]) = size {
                let _ = berth_sys::set_window_size(m.as_fd(), h, w);
            }
            outs.push((m.try_clone().map_err(|e| e.to_string())?, FRAME_STDOUT));
            w_in = Some(m.try_clone().map_err(|e| e.to_string())?);
            master = Some(m);
        }
        self.execs.insert(
            pid,
            ExecProc {
                id: exec_id.to_string(),
                outs,
                stdin: w_in,
                master,
                client: None,
                status: None,
            },
        );
        Ok(pid)
    }

    /// Execs whose process exited and whose output is drained: send the
    /// exit frame and close.
    fn finish_execs(&mut self) {
        let done: Vec<i32> = self
            .execs
            .iter()
            .filter(|(_, e)| {
                e.status.is_some()
                    && (e.outs.is_empty()
                        || e.master.is_some() && e.outs.len() <= 1 && self.exit.is_some())
            })
            .map(|(p, _)| *p)
            .collect();
        for pid in done {
            let e = self.execs.remove(&pid).expect("exec");
            if let Some(k) = e.client {
                if let Some(mut c) = self.clients.remove(&k) {
                    let _ = c.sock.write_all(&frame(
                        FRAME_EXIT,
                        e.status.unwrap_or(0).to_string().as_bytes(),
                    ));
                }
            }
        }
    }

    /// After the init's exit: the exit record goes out as soon as the
    /// rootfs is off the mount table, and the rest of the teardown follows
    /// it (berthd waits for this monitor's socket to go before it starts
    /// the container again):
    /// 1. flush the log, read the OOM count (the cgroup still exists);
    /// 2. detach the overlay rootfs (`MNT_DETACH`) while holding a
    ///    descriptor of it: its superblock lives on until step 5, because
    ///    an overlay's last unmount syncs the whole upper filesystem
    ///    (`ovl_sync_fs` → `sync_filesystem`), which took 1–15 ms here
    ///    depending on the host's other writers;
    /// 3. write the exit record and answer the waiters;
    /// 4. delete the container in the runtime (kill what is left, remove
    ///    its cgroups and state);
    /// 5. drop the overlay, remove the socket.
    fn finish(&mut self) {
        let code = self.exit.unwrap_or(137);
        if let Some(l) = &mut self.log {
            l.flush_partial();
        }
        let oom = self.oom_killed();
        let mut keep_rootfs = None;
        if let Some(ov) = &self.cfg.rootfs {
            keep_rootfs = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_PATH | nix::libc::O_DIRECTORY)
                .open(&ov.target)
                .ok();
            unmount(&ov.target);
        }
        let rec = ExitRecord {
            exit_code: code,
            finished_at_ns: now_ns(),
            oom_killed: oom,
            error: String::new(),
        };
        let _ = write_atomic(
            &self.dir.join(EXIT_FILE),
            &serde_json::to_vec(&rec).unwrap_or_default(),
        );
        for (_, mut c) in self.clients.drain() {
            if c.kind == ClientKind::Waiter {
                send_line(&mut c.sock, &rec);
            }
        }
        if let Err(e) = self.rt.delete(&self.cfg.id, true) {
            eprintln!("berth-monitor: {}: runtime delete: {e}", self.cfg.id);
        }
        drop(keep_rootfs);
        let _ = std::fs::remove_file(&self.sock_path);
    }

    fn oom_killed(&self) -> bool {
        let Some(path) = &self.cfg.cgroups_path else {
            return false;
        };
        berth_cgroups::Cgroup::load(path, &self.cfg.id)
            .and_then(|c| c.oom_kill_count())
            .map(|n| n > 0)
            .unwrap_or(false)
    }
}

fn mount_overlay(ov: &OverlayRootfs) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    std::fs::create_dir_all(&ov.target)
        .map_err(|e| format!("create {}: {e}", ov.target.display()))?;
    let prev = std::env::current_dir().ok();
    if let Some(cwd) = &ov.cwd {
        std::env::set_current_dir(cwd).map_err(|e| format!("chdir {}: {e}", cwd.display()))?;
    }
    let r = mount(
        Some("overlay"),
        &ov.target,
        Some("overlay"),
        MsFlags::empty(),
        Some(ov.data.as_str()),
    )
    .map_err(|e| format!("mount overlay on {}: {e}", ov.target.display()));
    if let Some(p) = prev {
        let _ = std::env::set_current_dir(p);
    }
    r
}

fn unmount(target: &Path) {
    use nix::mount::{umount2, MntFlags};
    if let Err(e) = umount2(target, MntFlags::MNT_DETACH) {
        if e != nix::errno::Errno::EINVAL && e != nix::errno::Errno::ENOENT {
            eprintln!("berth-monitor: unmount {}: {e}", target.display());
        }
    }
}

/// Docker brings `lo` up in every container that has a network namespace of
/// its own (`--network none` and bridge alike); a fresh namespace's `lo` is
/// DOWN. A container sharing the host's namespace (`--network host`) is left
/// alone. Runs between create and start, before any user process exists.
fn loopback_up_if_own_netns(init_pid: i32) -> Result<(), String> {
    let ns = std::path::PathBuf::from(format!("/proc/{init_pid}/ns/net"));
    let theirs = std::fs::read_link(&ns).map_err(|e| format!("read {}: {e}", ns.display()))?;
    let ours =
        std::fs::read_link("/proc/self/ns/net").map_err(|e| format!("read own netns: {e}"))?;
    if theirs == ours {
        return Ok(());
    }
    berth_network::nl::loopback_up(&ns).map_err(|e| format!("bring up lo in the container: {e}"))
}
