//! Hijacked sessions: attach and exec, proxied between the client's
//! upgraded connection and the monitor socket.
//!
//! The monitor sends `[kind, 0, 0, 0, len]` frames — Docker's multiplexed
//! format — so without a TTY they pass through unchanged; with a TTY the
//! headers are stripped (raw stream). Client bytes go to the process's
//! stdin, watching for the detach keys (default ctrl-p,ctrl-q).

use crate::container::{Container, Status};
use crate::{bundle, monitor, Engine, ExecEntry};
use berth_api::backend::{AttachOptions, HijackedIo, StdStream};
use berth_api::models::ExecStartConfig;
use berth_api::ApiError;
use berth_monitor::proto::{Reply, Request, FRAME_EXIT};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Parses Docker's detach keys: `ctrl-p,ctrl-q`, `a`, `ctrl-@`, ... Empty
/// gives the default ctrl-p,ctrl-q.
///
/// # Errors
/// 400 `Invalid detach keys (x) provided`.
pub fn detach_keys(s: &str) -> Result<Vec<u8>, ApiError> {
    if s.is_empty() {
        return Ok(vec![16, 17]);
    }
    let bad = || ApiError::invalid(format!("Invalid detach keys ({s}) provided"));
    let mut out = Vec::new();
    for k in s.split(',') {
        if let Some(c) = k.strip_prefix("ctrl-") {
            let c = c.as_bytes();
            if c.len() != 1 {
                return Err(bad());
            }
            let b = c[0].to_ascii_lowercase();
            out.push(match b {
                b'a'..=b'z' => b - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad()),
            });
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

enum End {
    Output,
    Detached,
}

/// Copies monitor frames to the client (raw for a TTY) until the monitor
/// closes or sends an exit frame; returns that exit code.
async fn pump_out(
    mut mr: tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    cw: &mut (impl tokio::io::AsyncWrite + Unpin),
    tty: bool,
    want: (bool, bool),
) -> Option<i64> {
    let mut hdr = [0u8; 8];
    let mut buf = Vec::new();
    loop {
        if mr.read_exact(&mut hdr).await.is_err() {
            return None;
        }
        let len = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
        buf.resize(len, 0);
        if mr.read_exact(&mut buf).await.is_err() {
            return None;
        }
        if hdr[0] == FRAME_EXIT {
            return String::from_utf8_lossy(&buf).trim().parse().ok();
        }
        let wanted = if hdr[0] == StdStream::Stderr as u8 {
            want.1
        } else {
            want.0
        };
        if !wanted {
            continue;
        }
        let r = if tty {
            cw.write_all(&buf).await
        } else {
            match cw.write_all(&hdr).await {
                Ok(()) => cw.write_all(&buf).await,
                Err(e) => Err(e),
            }
        };
        if r.is_err() || cw.flush().await.is_err() {
            return None;
        }
    }
}

/// Copies client bytes to the monitor, watching for the detach keys.
/// Returns `Detached` when they are typed; on client EOF half-closes the
/// monitor side and waits forever (the output side ends the session).
async fn pump_in(
    cr: &mut (impl tokio::io::AsyncRead + Unpin),
    mw: &mut tokio::net::unix::OwnedWriteHalf,
    keys: &[u8],
) -> End {
    let mut buf = vec![0u8; 32 * 1024];
    let mut matched = 0usize;
    loop {
        let n = match cr.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = mw.shutdown().await;
                return std::future::pending().await;
            }
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            if !keys.is_empty() && b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    if !out.is_empty() {
                        let _ = mw.write_all(&out).await;
                    }
                    return End::Detached;
                }
                continue;
            }
            if matched > 0 {
                out.extend_from_slice(&keys[..matched]);
                matched = 0;
                if b == keys[0] {
                    matched = 1;
                    continue;
                }
            }
            out.push(b);
        }
        if !out.is_empty() && mw.write_all(&out).await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Replays the log for `logs=1`.
async fn replay_logs(
    c: &Container,
    opts: &AttachOptions,
    tty: bool,
    cw: &mut (impl tokio::io::AsyncWrite + Unpin),
) {
    let entries = berth_monitor::jsonlog::read_all(&c.log_path());
    for e in entries {
        let stream = if e.stream == "stderr" { 2u8 } else { 1u8 };
        if (stream == 1 && !opts.stdout) || (stream == 2 && !opts.stderr) {
            continue;
        }
        let data = e.log.as_bytes();
        if !tty {
            let mut hdr = [stream, 0, 0, 0, 0, 0, 0, 0];
            hdr[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
            if cw.write_all(&hdr).await.is_err() {
                return;
            }
        }
        if cw.write_all(data).await.is_err() {
            return;
        }
    }
}

/// `POST /containers/{id}/attach` session.
pub async fn attach(
    engine: Arc<Engine>,
    c: Arc<Container>,
    opts: AttachOptions,
    keys: Vec<u8>,
    io: Box<dyn HijackedIo>,
) {
    let _ = &engine;
    let tty = c.get().config.tty;
    let (mut cr, mut cw) = tokio::io::split(io);
    if opts.logs {
        replay_logs(&c, &opts, tty, &mut cw).await;
    }
    if !opts.stream {
        let _ = cw.shutdown().await;
        return;
    }
    // Connect now if the monitor is up; else wait for the start.
    let mut ack: Option<tokio::sync::oneshot::Sender<()>> = None;
    let waiter = {
        let mut st = c.pending_attach.lock().expect("attach lock");
        let status = c.get().state.status;
        if st.live {
            Ok(None)
        } else if matches!(
            status,
            Status::Created | Status::Exited | Status::Restarting
        ) {
            let (tx, rx) = tokio::sync::oneshot::channel();
            st.pending.push(tx);
            Ok(Some(rx))
        } else {
            Err(())
        }
    };
    let Ok(waiter) = waiter else {
        let _ = cw.shutdown().await;
        return;
    };
    if let Some(rx) = waiter {
        let mut snap = c.snap.subscribe();
        tokio::select! {
            r = rx => match r {
                Ok(a) => ack = Some(a),
                Err(_) => { let _ = cw.shutdown().await; return; }
            },
            _ = async { loop { if snap.borrow_and_update().removed || snap.changed().await.is_err() { return; } } } => {
                let _ = cw.shutdown().await;
                return;
            }
        }
    }
    let req = Request::Attach {
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
    };
    let conn = monitor::connect(&monitor::socket(&c.run_dir), &req).await;
    let mut conn = match conn {
        Ok(c) => c,
        Err(_) => {
            let _ = cw.shutdown().await;
            return;
        }
    };
    let ok: Result<Reply, _> = conn.reply().await;
    if let Some(a) = ack {
        let _ = a.send(());
    }
    if ok.is_err() {
        let _ = cw.shutdown().await;
        return;
    }
    let monitor::Conn { r: mr, w: mut mw } = conn;
    let want = (opts.stdout, opts.stderr);
    let out = async {
        pump_out(mr, &mut cw, tty, want).await;
        let _ = cw.flush().await;
        End::Output
    };
    let inp = async {
        if opts.stdin {
            pump_in(&mut cr, &mut mw, &keys).await
        } else {
            std::future::pending().await
        }
    };
    let end = tokio::select! { e = out => e, e = inp => e };
    if let End::Detached = end {
        engine.event(&c, "detach", &[]);
    }
    // Dropping both halves closes the client connection.
}

/// An exec request ready to go to the monitor.
pub struct PendingExec {
    pub(crate) req: Request,
    pub(crate) sock: std::path::PathBuf,
}

impl Engine {
    /// Validates and launches an exec process in its container's monitor;
    /// returns the entry, the streaming connection, TTY and detach keys.
    pub(crate) async fn exec_begin(
        &self,
        id: &str,
        start: &ExecStartConfig,
    ) -> Result<(Arc<Mutex<ExecEntry>>, PendingExec, bool, Vec<u8>), ApiError> {
        let entry = self
            .execs
            .lock()
            .expect("execs")
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
        let (c, cfg) = {
            let mut e = entry.lock().expect("exec");
            if e.started {
                return Err(ApiError::conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            e.started = true;
            (e.container.clone(), e.cfg.clone())
        };
        let rec = c.get();
        if rec.state.status != Status::Running {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let keys = crate::detach_keys(&cfg.detach_keys)?;
        let tty = cfg.tty || start.tty;
        let base: serde_json::Value =
            std::fs::read(bundle::bundle_dir(&c.run_dir).join("config.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
        let cmd = cfg.cmd.clone().unwrap_or_default();
        let mut process = bundle::exec_process(
            &rec,
            &base,
            &cmd,
            &cfg.env,
            &cfg.user,
            &cfg.working_dir,
            tty,
            cfg.privileged,
        )?;
        let size = start
            .console_size
            .or(cfg.console_size)
            .map(|[h, w]| [h as u16, w as u16]);
        // The size goes into the process (runtime-spec `consoleSize`), so
        // the runtime sets it on the pty before the program starts; the
        // monitor's resize after receiving the master would race with a
        // program that reads its size at once (`stty size`).
        if let (true, Some([h, w])) = (tty, size) {
            process["consoleSize"] = serde_json::json!({"height": h, "width": w});
        }
        let req = Request::Exec {
            exec_id: id.to_string(),
            process,
            stdin: cfg.attach_stdin,
            console_size: size,
        };
        let sock = monitor::socket(&c.run_dir);
        let _ = cmd;
        Ok((entry, PendingExec { req, sock }, tty, keys))
    }

    /// Sends the exec request to the monitor after the hijack (as Docker
    /// starts the process only once the client's stream is in place).
    pub(crate) async fn exec_launch(
        &self,
        id: &str,
        entry: &Mutex<ExecEntry>,
        p: PendingExec,
    ) -> Result<monitor::Conn, String> {
        let mut conn = monitor::connect(&p.sock, &p.req)
            .await
            .map_err(|e| format!("connect to monitor: {e}"))?;
        let r: Reply = conn.reply().await.map_err(|e| format!("monitor: {e}"))?;
        if let Some(err) = r.error {
            let code = if err.contains("not found") || err.contains("no such file") {
                127
            } else {
                126
            };
            entry.lock().expect("exec").exit_code = Some(code);
            return Err(format!("OCI runtime exec failed: {err}"));
        }
        let (c, cmd) = {
            let mut e = entry.lock().expect("exec");
            e.running = true;
            e.pid = r.pid.unwrap_or(0) as i64;
            (e.container.clone(), e.cfg.cmd.clone().unwrap_or_default())
        };
        self.event(
            &c,
            &format!("exec_start: {}", cmd.join(" ")),
            &[("execID", id.to_string())],
        );
        Ok(conn)
    }

    pub(crate) fn exec_done(&self, id: &str, entry: &Mutex<ExecEntry>, code: Option<i64>) {
        let c = {
            let mut e = entry.lock().expect("exec");
            e.running = false;
            e.exit_code = Some(code.unwrap_or(e.exit_code.unwrap_or(137)));
            e.container.clone()
        };
        let code = entry.lock().expect("exec").exit_code.unwrap_or(0);
        self.event(
            &c,
            "exec_die",
            &[("execID", id.to_string()), ("exitCode", code.to_string())],
        );
    }
}

/// `POST /exec/{id}/start` session.
pub async fn exec(
    engine: Arc<Engine>,
    id: String,
    entry: Arc<Mutex<ExecEntry>>,
    pending: PendingExec,
    keys: Vec<u8>,
    io: Box<dyn HijackedIo>,
) {
    let (tty, stdin, want) = {
        let e = entry.lock().expect("exec");
        (
            e.cfg.tty,
            e.cfg.attach_stdin,
            (e.cfg.attach_stdout, e.cfg.attach_stderr),
        )
    };
    let (mut cr, mut cw) = tokio::io::split(io);
    let conn = match engine.exec_launch(&id, &entry, pending).await {
        Ok(c) => c,
        Err(msg) => {
            // As Docker: the error goes into the stream (as stdout, framed
            // unless there is a TTY); the exit code is in exec inspect.
            let text = format!("{msg}\r\n");
            let r = if tty {
                cw.write_all(text.as_bytes()).await
            } else {
                let mut framed = Vec::with_capacity(8 + text.len());
                framed.push(StdStream::Stdout as u8);
                framed.extend_from_slice(&[0, 0, 0]);
                framed.extend_from_slice(&(text.len() as u32).to_be_bytes());
                framed.extend_from_slice(text.as_bytes());
                cw.write_all(&framed).await
            };
            let _ = r;
            engine.exec_done(&id, &entry, None);
            close_hijacked(&mut cr, &mut cw).await;
            return;
        }
    };
    let monitor::Conn { r: mr, w: mut mw } = conn;
    let mut code = None;
    {
        let out = async {
            let c = pump_out(mr, &mut cw, tty, want).await;
            let _ = cw.flush().await;
            c
        };
        let inp = async {
            if stdin {
                pump_in(&mut cr, &mut mw, &keys).await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            c = out => code = c,
            _ = inp => {}
        }
    }
    engine.exec_done(&id, &entry, code);
    close_hijacked(&mut cr, &mut cw).await;
}

/// Ends a hijacked session: half-closes the client's side, then reads what
/// the client still sends until it closes too (at most 2 s). Closing with
/// unread input makes the kernel answer with a reset, which the docker CLI
/// reports as "connection reset by peer" instead of the output it got.
async fn close_hijacked(
    cr: &mut (impl tokio::io::AsyncRead + Unpin),
    cw: &mut (impl tokio::io::AsyncWrite + Unpin),
) {
    let _ = cw.flush().await;
    let _ = cw.shutdown().await;
    let drain = async {
        let mut b = [0u8; 4096];
        while matches!(cr.read(&mut b).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}

/// A detached exec: drain its output, record the exit code.
pub async fn exec_detached(
    engine: Arc<Engine>,
    id: String,
    entry: Arc<Mutex<ExecEntry>>,
    pending: PendingExec,
) {
    let conn = match engine.exec_launch(&id, &entry, pending).await {
        Ok(c) => c,
        Err(_) => {
            engine.exec_done(&id, &entry, None);
            return;
        }
    };
    let mut sink = tokio::io::sink();
    let code = pump_out(conn.r, &mut sink, true, (false, false)).await;
    engine.exec_done(&id, &entry, code);
}
