//! Starting monitors (from the dedicated spawner thread) and talking to
//! them over their sockets (see `berth_monitor::proto`).

use berth_monitor::proto::{Reply, Request, SOCKET_FILE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

type Job = Box<dyn FnOnce() + Send>;

/// One std thread that does every fork/exec of the daemon, so no tokio
/// worker thread ever forks. It also keeps the monitor zygote (see
/// [`launch`]).
#[derive(Clone)]
pub struct Spawner {
    tx: std::sync::mpsc::Sender<Job>,
    zygote: std::sync::Arc<tokio::sync::Mutex<Option<Zygote>>>,
}

/// A running `berth-monitor --zygote SOCKET`: berthd holds its stdin pipe
/// (the zygote exits at EOF, so when berthd exits) and its process.
struct Zygote {
    sock: PathBuf,
    _stdin: std::process::ChildStdin,
    child: Child,
}

impl Drop for Zygote {
    fn drop(&mut self) {
        // Closing stdin ends it; do not leave a zombie behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawner {
    /// Starts the thread.
    pub fn new() -> Spawner {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("berth-spawner".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .expect("spawn the spawner thread");
        Spawner {
            tx,
            zygote: Default::default(),
        }
    }

    /// Runs `f` on the spawner thread and returns its result.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.tx.send(job).expect("spawner thread alive");
        rx.await.expect("spawner job ran")
    }

    /// Runs a command to completion on the spawner thread; returns
    /// (status code, stdout, stderr).
    pub async fn output(&self, mut cmd: Command) -> std::io::Result<(i32, Vec<u8>, Vec<u8>)> {
        self.run(move || {
            cmd.output()
                .map(|o| (o.status.code().unwrap_or(-1), o.stdout, o.stderr))
        })
        .await
    }
}

impl Default for Spawner {
    fn default() -> Self {
        Spawner::new()
    }
}

/// Starts the monitor of the container whose state dir is `state_dir` and
/// waits for its ready line. Returns the monitor process when berthd is
/// its parent (to reap later; `None` for a monitor forked by the zygote)
/// and the init PID.
///
/// A monitor is forked by the zygote, a `berth-monitor --zygote` started
/// once per daemon (at the first container start) that has the binary
/// loaded and relocated: that saves each start the exec, the dynamic
/// loading and the relocation of the monitor (~2-3 ms), and the monitors
/// share the zygote's relocated read-only data pages copy-on-write (~280
/// KiB per container that an executed monitor would have to itself).
/// When the zygote cannot be started or reached, `berth-monitor
/// <state_dir>` is executed instead.
///
/// # Errors
/// The monitor's `error ...` line (runtime create failed), or a spawn error.
pub async fn launch(
    spawner: &Spawner,
    bin: &Path,
    state_dir: &Path,
) -> Result<(Option<Child>, i32), String> {
    let zsock = match zygote_socket(spawner, bin, state_dir).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("monitor zygote unavailable, executing monitors: {e}");
            None
        }
    };
    if let Some(zsock) = zsock {
        match UnixStream::connect(&zsock).await {
            Ok(mut conn) => {
                let mut req = state_dir.as_os_str().as_encoded_bytes().to_vec();
                req.push(b'\n');
                conn.write_all(&req)
                    .await
                    .map_err(|e| format!("send to the monitor zygote: {e}"))?;
                let mut line = String::new();
                let r = BufReader::new(conn).read_line(&mut line).await;
                return ready_line(&line, r, state_dir).map(|pid| (None, pid));
            }
            Err(e) => {
                // It died: start a new one next time; execute this monitor.
                tracing::warn!("monitor zygote {}: {e}", zsock.display());
                *spawner.zygote.lock().await = None;
            }
        }
    }
    let mut cmd = Command::new(bin);
    cmd.arg(state_dir).stdin(Stdio::null());
    let (mut child, rx) = spawn_reporting(spawner, cmd, state_dir.join("monitor.log"))
        .await
        .map_err(|e| format!("start monitor {}: {e}", state_dir.display()))?;
    let mut line = String::new();
    let r = BufReader::new(rx).read_line(&mut line).await;
    match ready_line(&line, r, state_dir) {
        Ok(pid) => Ok((Some(child), pid)),
        Err(msg) => {
            spawner.run(move || child.wait()).await.ok();
            Err(msg)
        }
    }
}

/// Runs `cmd` on the spawner thread in its own process group, stdout a
/// pipe it reports on (returned as an async reader), stderr the file
/// `log` (created or truncated); stdin as `cmd` sets it.
async fn spawn_reporting(
    spawner: &Spawner,
    mut cmd: Command,
    log: PathBuf,
) -> std::io::Result<(Child, tokio::net::unix::pipe::Receiver)> {
    let (child, out) = spawner
        .run(move || -> std::io::Result<(Child, std::os::fd::OwnedFd)> {
            use std::os::unix::process::CommandExt;
            let log = std::fs::File::create(log)?;
            let mut child = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log))
                .process_group(0)
                .spawn()?;
            let out = child.stdout.take().expect("piped stdout");
            Ok((child, out.into()))
        })
        .await?;
    Ok((child, tokio::net::unix::pipe::Receiver::from_owned_fd(out)?))
}

/// Parses a monitor's ready line: `ok <pid>` or `error <message>`.
fn ready_line(line: &str, r: std::io::Result<usize>, state_dir: &Path) -> Result<i32, String> {
    if let Some(pid) = line.trim().strip_prefix("ok ") {
        return pid
            .parse()
            .map_err(|_| format!("bad monitor line {line:?}"));
    }
    Err(match line.trim().strip_prefix("error ") {
        Some(m) => m.to_string(),
        None => format!(
            "monitor exited without a status ({r:?}): {}",
            std::fs::read_to_string(state_dir.join("monitor.log"))
                .unwrap_or_default()
                .trim()
        ),
    })
}

/// The socket of the daemon's monitor zygote, started if it is not
/// running: `<exec-root>/s/zygote.sock` for a state dir
/// `<exec-root>/containers/<id>`.
async fn zygote_socket(spawner: &Spawner, bin: &Path, state_dir: &Path) -> Result<PathBuf, String> {
    let mut slot = spawner.zygote.lock().await;
    if let Some(z) = slot.as_mut() {
        if matches!(z.child.try_wait(), Ok(None)) {
            return Ok(z.sock.clone());
        }
        *slot = None;
    }
    let root = state_dir
        .parent()
        .and_then(Path::parent)
        .ok_or("state dir without an exec root")?;
    let sdir = root.join("s");
    let sock = sdir.join("zygote.sock");
    let log = root.join("monitor-zygote.log");
    std::fs::create_dir_all(&sdir).map_err(|e| format!("create {}: {e}", sdir.display()))?;
    let mut cmd = Command::new(bin);
    cmd.arg("--zygote")
        .arg(&sock)
        // Room for the command line of each forked monitor,
        // `berth-monitor <state-dir>` (berth_sys::set_cmdline).
        .arg(" ".repeat(sock.as_os_str().len() + 100))
        .stdin(Stdio::piped());
    let (mut child, rx) = spawn_reporting(spawner, cmd, log)
        .await
        .map_err(|e| format!("start berth-monitor --zygote: {e}"))?;
    let mut line = String::new();
    let ready = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        BufReader::new(rx).read_line(&mut line),
    )
    .await;
    let stdin = child.stdin.take().expect("piped stdin");
    let z = Zygote {
        sock: sock.clone(),
        _stdin: stdin,
        child,
    };
    if !matches!(ready, Ok(Ok(_))) || line.trim() != "ready" {
        return Err(format!("the zygote did not get ready ({line:?})"));
    }
    *slot = Some(z);
    Ok(sock)
}

/// The monitor socket of a container whose state dir is
/// `<exec-root>/containers/<id>`: `<exec-root>/s/<id[..16]>.sock`, short
/// enough for `sun_path` (108 bytes) under deep exec roots.
pub fn socket(state_dir: &Path) -> PathBuf {
    let id = state_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match state_dir.parent().and_then(Path::parent) {
        Some(root) => root
            .join("s")
            .join(format!("{}.sock", &id[..id.len().min(16)])),
        None => state_dir.join(SOCKET_FILE),
    }
}

/// Waits until the monitor of the container with state dir `state_dir`
/// has finished its teardown, at most `limit`. A monitor answers the exit
/// before it deletes the container in the runtime (cgroups, runtime state)
/// and removes its socket last (berth-monitor's `finish`), so a start
/// right after an exit waits here for those few milliseconds. A socket
/// nobody listens on any more (a killed monitor) counts as finished.
/// Returns false on timeout.
pub async fn wait_finished(state_dir: &Path, limit: std::time::Duration) -> bool {
    let sock = socket(state_dir);
    let deadline = tokio::time::Instant::now() + limit;
    while std::os::unix::net::UnixStream::connect(&sock).is_ok() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    true
}

/// A connection after its request line: the buffered read half (frames or
/// the reply) and the write half.
pub struct Conn {
    /// Read side.
    pub r: BufReader<OwnedReadHalf>,
    /// Write side.
    pub w: OwnedWriteHalf,
}

/// Connects and sends `req`.
pub async fn connect(sock: &Path, req: &Request) -> std::io::Result<Conn> {
    let s = UnixStream::connect(sock).await?;
    let (r, mut w) = s.into_split();
    let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    Ok(Conn {
        r: BufReader::new(r),
        w,
    })
}

impl Conn {
    /// Reads one JSON reply line.
    pub async fn reply<T: serde::de::DeserializeOwned>(&mut self) -> std::io::Result<T> {
        let mut line = String::new();
        let n = self.r.read_line(&mut line).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "monitor closed the connection",
            ));
        }
        serde_json::from_str(&line).map_err(std::io::Error::other)
    }
}

/// One request, one [`Reply`]; an `error` in it becomes `Err`.
pub async fn call(sock: &Path, req: &Request) -> Result<Reply, String> {
    let mut c = connect(sock, req)
        .await
        .map_err(|e| format!("connect to monitor: {e}"))?;
    let r: Reply = c.reply().await.map_err(|e| format!("monitor: {e}"))?;
    match r.error {
        Some(e) => Err(e),
        None => Ok(r),
    }
}
