//! `berth-runc`: runc's command line over `berth-runtime`, so the same
//! bundle runs under runc and under Berth's runtime and the two can be
//! compared (and the OCI runtime-tools validation suite can drive it).
//!
//! Commands: spec, create, start, state, kill, delete, run, exec, list,
//! ps, pause, resume; global `--root` (default `/run/berth-runc`).
//! Errors go to stderr as `berth-runc: <message>` with exit status 1;
//! `run` and foreground `exec` exit with the container process's status
//! (128+signal when killed by one).

use berth_runtime::{parse_signal, CreateOptions, ExecOptions, Runtime};
use clap::{Parser, Subcommand};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "berth-runc",
    version,
    about = "OCI runtime with runc's command line (Berth)"
)]
struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = "/run/berth-runc")]
    root: PathBuf,
    /// Accepted for runc compatibility; logs go to stderr.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Accepted for runc compatibility.
    #[arg(long = "log-format", global = true)]
    log_format: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long, global = true)]
    debug: bool,
    /// systemd cgroup driver: not supported (an error if given).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// Bundle directory (config.json + rootfs).
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// File to write the init process's PID to.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// UNIX socket that receives the pty master (process.terminal).
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Accepted for runc compatibility (no session keyring is created).
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass N extra descriptors (3..3+N) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a template config.json in the bundle directory.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Accepted; rootless templates are not generated.
        #[arg(long)]
        rootless: bool,
    },
    /// Create a container (its init process waits for start).
    Create {
        id: String,
        #[command(flatten)]
        a: CreateArgs,
    },
    /// Start a created container.
    Start { id: String },
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal (name or number, default TERM) to a container.
    Kill {
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
        /// Signal every process of the container.
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a stopped container (with --force, any container).
    Delete {
        id: String,
        #[arg(short, long)]
        force: bool,
    },
    /// Create and start a container, and wait for it (unless --detach).
    Run {
        id: String,
        #[command(flatten)]
        a: CreateArgs,
        /// Return once the container runs.
        #[arg(short, long)]
        detach: bool,
        /// Accepted for runc compatibility.
        #[arg(long)]
        keep: bool,
    },
    /// Run a new process in a running container.
    Exec {
        id: String,
        /// Command and arguments (unless --process); everything after the
        /// first word belongs to the command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
        /// Allocate a pseudo-terminal.
        #[arg(short, long)]
        tty: bool,
        /// Extra environment variables (KEY=VALUE).
        #[arg(short, long = "env")]
        env: Vec<String>,
        /// Working directory in the container.
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// UID[:GID] to run as.
        #[arg(short, long)]
        user: Option<String>,
        /// Additional gids.
        #[arg(short = 'g', long = "additional-gids")]
        additional_gids: Vec<u32>,
        /// process.json with the whole process.
        #[arg(short, long)]
        process: Option<PathBuf>,
        /// Return at once with the process running.
        #[arg(short, long)]
        detach: bool,
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        /// Add a capability to the process's bounding, effective, permitted sets.
        #[arg(short, long = "cap")]
        cap: Vec<String>,
        /// Set no_new_privs.
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        #[arg(long = "preserve-fds", default_value_t = 0)]
        preserve_fds: u32,
    },
    /// List containers.
    List {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Only ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Processes of a container.
    Ps {
        id: String,
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Freeze a container's processes.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
}

fn main() {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("berth-runc: {e}");
            std::process::exit(1);
        }
    }
}

fn create_opts(a: &CreateArgs) -> CreateOptions {
    let _ = a.no_new_keyring;
    CreateOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        ..Default::default()
    }
}

fn real_main(cli: Cli) -> Result<i32, Box<dyn std::error::Error>> {
    if cli.systemd_cgroup {
        return Err("--systemd-cgroup is not supported".into());
    }
    let _ = (&cli.log, &cli.log_format, cli.debug);
    let rt = Runtime::new(cli.root);
    match cli.cmd {
        Cmd::Spec { bundle, rootless } => {
            let _ = rootless;
            let p = bundle.join("config.json");
            if p.exists() {
                return Err(format!("{} already exists", p.display()).into());
            }
            std::fs::write(&p, serde_json::to_string_pretty(&template())?)?;
        }
        Cmd::Create { id, a } => {
            rt.create(&id, &a.bundle, &create_opts(&a))?;
        }
        Cmd::Start { id } => rt.start(&id)?,
        Cmd::State { id } => println!("{}", serde_json::to_string_pretty(&rt.state(&id)?)?),
        Cmd::Kill { id, signal, all } => rt.kill(&id, parse_signal(&signal)?, all)?,
        Cmd::Delete { id, force } => match rt.delete(&id, force) {
            Err(berth_runtime::Error::NotFound(_)) if force => {}
            r => r?,
        },
        Cmd::Run {
            id,
            a,
            detach,
            keep,
        } => {
            let _ = keep;
            let mut o = create_opts(&a);
            o.detach = detach;
            return Ok(rt.run(&id, &a.bundle, &o)?);
        }
        Cmd::Exec {
            id,
            command,
            tty,
            env,
            cwd,
            user,
            additional_gids,
            process,
            detach,
            pid_file,
            console_socket,
            cap,
            no_new_privs,
            preserve_fds,
        } => {
            let p = match process {
                Some(f) => {
                    let data =
                        std::fs::read(&f).map_err(|e| format!("read {}: {e}", f.display()))?;
                    let (p, ignored) =
                        berth_runtime::parse_process(&data).map_err(|e| match e {
                            berth_runtime::Error::Config { path, msg } => {
                                format!("{}: field {path}: {msg}", f.display())
                            }
                            e => format!("{}: {e}", f.display()),
                        })?;
                    for c in ignored {
                        eprintln!(
                            "warning: {}: process.capabilities.{c}: unknown capability ignored",
                            f.display()
                        );
                    }
                    p
                }
                None => {
                    let spec = rt.config(&id)?;
                    let mut p = spec
                        .process()
                        .clone()
                        .ok_or("the container has no process")?;
                    if command.is_empty() {
                        return Err("exec: a command is required (or --process)".into());
                    }
                    p.set_args(Some(command));
                    let mut e = p.env().clone().unwrap_or_default();
                    e.extend(env);
                    p.set_env(Some(e));
                    if let Some(c) = cwd {
                        p.set_cwd(c);
                    }
                    if let Some(u) = user {
                        let (uid, gid) = match u.split_once(':') {
                            Some((a, b)) => (a.parse::<u32>()?, Some(b.parse::<u32>()?)),
                            None => (u.parse::<u32>()?, None),
                        };
                        let us = p.user_mut();
                        us.set_uid(uid);
                        if let Some(g) = gid {
                            us.set_gid(g);
                        }
                    }
                    if !additional_gids.is_empty() {
                        p.user_mut().set_additional_gids(Some(additional_gids));
                    }
                    p.set_terminal(Some(tty));
                    if no_new_privs {
                        p.set_no_new_privileges(Some(true));
                    }
                    if !cap.is_empty() {
                        let mut c = p.capabilities().clone().unwrap_or_default();
                        for name in &cap {
                            let n = name.trim_start_matches("CAP_");
                            let v: oci_spec::runtime::Capability = n
                                .parse()
                                .map_err(|_| format!("unknown capability {name}"))?;
                            let add = |s: &Option<oci_spec::runtime::Capabilities>| {
                                let mut s = s.clone().unwrap_or_default();
                                s.insert(v);
                                Some(s)
                            };
                            let (b, e, pm) =
                                (add(c.bounding()), add(c.effective()), add(c.permitted()));
                            c.set_bounding(b);
                            c.set_effective(e);
                            c.set_permitted(pm);
                        }
                        p.set_capabilities(Some(c));
                    }
                    p
                }
            };
            let terminal = p.terminal() == Some(true);
            let mut opts = ExecOptions {
                console_socket,
                pid_file,
                preserve_fds,
                ..Default::default()
            };
            let mut ours: Option<std::os::unix::net::UnixStream> = None;
            if terminal && opts.console_socket.is_none() {
                if detach {
                    return Err("exec -t -d needs --console-socket".into());
                }
                let (a, b) = std::os::unix::net::UnixStream::pair()?;
                ours = Some(a);
                opts.console_stream = Some(OwnedFd::from(b));
            }
            let pid = rt.exec(&id, &p, &opts)?;
            drop(opts);
            if detach {
                return Ok(0);
            }
            let master = match &ours {
                Some(s) => {
                    use std::os::fd::AsFd;
                    berth_runtime::recv_fd(s.as_fd())?.0
                }
                None => None,
            };
            return Ok(rt.wait_forwarding(pid, master)?);
        }
        Cmd::List { format, quiet } => {
            let l = rt.list()?;
            if quiet {
                for c in &l {
                    println!("{}", c.id);
                }
            } else if format == "json" {
                println!("{}", serde_json::to_string(&l)?);
            } else {
                println!(
                    "{:<20} {:<8} {:<10} {:<40} {:<31} OWNER",
                    "ID", "PID", "STATUS", "BUNDLE", "CREATED"
                );
                for c in &l {
                    println!(
                        "{:<20} {:<8} {:<10} {:<40} {:<31} {}",
                        c.id,
                        c.pid,
                        c.status,
                        c.bundle.display(),
                        c.created,
                        if c.owner.is_empty() { "root" } else { &c.owner }
                    );
                }
            }
        }
        Cmd::Ps { id, format } => {
            let pids = rt.ps(&id)?;
            if format == "json" {
                println!("{}", serde_json::to_string(&pids)?);
            } else {
                println!("PID");
                for p in pids {
                    println!("{p}");
                }
            }
        }
        Cmd::Pause { id } => rt.pause(&id)?,
        Cmd::Resume { id } => rt.resume(&id)?,
    }
    Ok(0)
}

/// The template `spec` writes: runc's defaults (a busybox-friendly `sh`
/// with a terminal, the default mounts, masked and read-only paths).
fn template() -> serde_json::Value {
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    serde_json::json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}
