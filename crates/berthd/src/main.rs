//! `berthd`: the Berth daemon. Serves the Docker Engine API on a UNIX
//! socket with dockerd's flags; containers run under per-container
//! monitors and keep running when berthd stops or crashes (Docker's
//! live-restore).
//!
//! Flags (dockerd's): `-H/--host unix:///run/berth/berth.sock`,
//! `--data-root /var/lib/berth`, `--exec-root /run/berth`, `--pidfile`,
//! `--log-level debug|info|warn|error|fatal`, `--config-file` (JSON with
//! `hosts`, `data-root`, `exec-root`, `pidfile`, `log-level`, `bridge`,
//! `bip`, `default-address-pools`, `mtu`, as daemon.json). Flags override
//! the file.
//!
//! Networking (dockerd's): `-b/--bridge NAME|none`, `--bip CIDR`,
//! `--default-address-pool base=CIDR,size=N`, `--mtu`; Berth's own
//! `--nft-table NAME` and `--veth-prefix P` let several daemons share a
//! host (tests give each daemon its own bridge, subnets, tables, prefix).

use berth_engine::{Engine, EngineConfig};
use clap::Parser;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "berthd",
    version,
    about = "Berth daemon: the Docker Engine API on a UNIX socket"
)]
struct Args {
    /// Daemon socket to listen on (unix://PATH or PATH).
    #[arg(short = 'H', long = "host")]
    host: Vec<String>,
    /// Root of persistent state.
    #[arg(long = "data-root")]
    data_root: Option<PathBuf>,
    /// Root of runtime state (sockets, monitor state).
    #[arg(long = "exec-root")]
    exec_root: Option<PathBuf>,
    /// File to write the daemon's PID to.
    #[arg(short = 'p', long = "pidfile")]
    pidfile: Option<PathBuf>,
    /// debug, info, warn, error, fatal.
    #[arg(short = 'l', long = "log-level")]
    log_level: Option<String>,
    /// JSON configuration file (daemon.json keys).
    #[arg(long = "config-file")]
    config_file: Option<PathBuf>,
    /// Enable debug output (same as --log-level debug).
    #[arg(short = 'D', long = "debug")]
    debug: bool,
    /// A registry reached over plain HTTP or unverified HTTPS (repeatable).
    #[arg(long = "insecure-registry")]
    insecure_registry: Vec<String>,
    /// A Docker Hub mirror, tried before it (repeatable).
    #[arg(long = "registry-mirror")]
    registry_mirror: Vec<String>,
    /// Layers downloaded at once per pull (default 3).
    #[arg(long = "max-concurrent-downloads")]
    max_concurrent_downloads: Option<usize>,
    /// Layers uploaded at once per push (default 5).
    #[arg(long = "max-concurrent-uploads")]
    max_concurrent_uploads: Option<usize>,
    /// Attempts per layer download (default 5).
    #[arg(long = "max-download-attempts")]
    max_download_attempts: Option<u32>,
    /// Interface of the default `bridge` network (default berth0; created
    /// if missing); `none` disables the bridge network (containers then
    /// default to `--network none`).
    #[arg(short = 'b', long = "bridge")]
    bridge: Option<String>,
    /// The default bridge's address and prefix, e.g. 172.30.0.1/16
    /// (default: 172.30.0.1/16).
    #[arg(long = "bip")]
    bip: Option<String>,
    /// Pool user-defined networks get subnets from: base=CIDR,size=N
    /// (repeatable; default dockerd's: 172.17-31.0.0/16, then
    /// 192.168.0.0/16 as /20s).
    #[arg(long = "default-address-pool")]
    default_address_pool: Vec<String>,
    /// MTU of bridges and veths (default 1500).
    #[arg(long = "mtu")]
    mtu: Option<u32>,
    /// Berth: name of its nftables tables (`inet NAME`, `ip NAME-nat`;
    /// default berth). One daemon per name on a host.
    #[arg(long = "nft-table")]
    nft_table: Option<String>,
    /// Berth: prefix of host-side veth names (default vb). One daemon per
    /// prefix on a host: each deletes unowned veths with its prefix.
    #[arg(long = "veth-prefix")]
    veth_prefix: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    #[serde(default)]
    hosts: Vec<String>,
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    pidfile: Option<PathBuf>,
    log_level: Option<String>,
    #[serde(default)]
    debug: bool,
    #[serde(default)]
    insecure_registries: Vec<String>,
    #[serde(default)]
    registry_mirrors: Vec<String>,
    max_concurrent_downloads: Option<usize>,
    max_concurrent_uploads: Option<usize>,
    max_download_attempts: Option<u32>,
    bridge: Option<String>,
    bip: Option<String>,
    #[serde(default)]
    default_address_pools: Vec<FilePool>,
    mtu: Option<u32>,
}

/// daemon.json `default-address-pools` entry: `{"base": CIDR, "size": N}`.
#[derive(serde::Deserialize)]
struct FilePool {
    base: String,
    size: u8,
}

fn fail(msg: String) -> ! {
    eprintln!("berthd: {msg}");
    std::process::exit(1);
}

/// `base=172.29.0.0/16,size=24` (dockerd's --default-address-pool).
fn parse_pool(s: &str) -> Result<berth_network::AddressPool, String> {
    let (mut base, mut size) = (None, None);
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("base", v)) => base = Some(v),
            Some(("size", v)) => size = Some(v),
            _ => return Err(format!("invalid default address pool: {s}")),
        }
    }
    let (Some(base), Some(size)) = (base, size) else {
        return Err(format!("invalid default address pool: {s}"));
    };
    pool(
        base,
        size.parse()
            .map_err(|_| format!("invalid pool size: {size}"))?,
    )
}

fn pool(base: &str, size: u8) -> Result<berth_network::AddressPool, String> {
    let base = base
        .parse()
        .map_err(|_| format!("invalid CIDR address: {base}"))?;
    let p = berth_network::AddressPool { base, size };
    if size > 30 || size < p.base.prefix_len() {
        return Err(format!("invalid pool size: {size}"));
    }
    Ok(p)
}

/// The network service's configuration from flags and daemon.json; for
/// `-b none` its bridge name is empty (no default bridge; user-defined
/// networks still work, as with dockerd).
fn network_config(args: &Args, file: &FileConfig) -> Option<berth_network::ControllerConfig> {
    let bridge = args.bridge.clone().or(file.bridge.clone());
    let mut cfg = berth_network::ControllerConfig::default();
    if bridge.as_deref() == Some("none") {
        cfg.bridge_name = String::new();
    } else if let Some(b) = bridge.filter(|b| !b.is_empty()) {
        if b.len() > 15 {
            fail(format!("bridge name too long: {b}"));
        }
        cfg.bridge_name = b;
    }
    if let Some(b) = args.bip.clone().or(file.bip.clone()) {
        cfg.bip = Some(
            b.parse()
                .unwrap_or_else(|_| fail(format!("invalid --bip: {b}"))),
        );
    }
    let mut pools = Vec::new();
    for p in &args.default_address_pool {
        pools.push(parse_pool(p).unwrap_or_else(|e| fail(e)));
    }
    if pools.is_empty() {
        for p in &file.default_address_pools {
            pools.push(pool(&p.base, p.size).unwrap_or_else(|e| fail(e)));
        }
    }
    if !pools.is_empty() {
        cfg.default_address_pools = pools;
    }
    if let Some(m) = args.mtu.or(file.mtu) {
        if !(68..=65535).contains(&m) {
            fail(format!("invalid MTU: {m}"));
        }
        cfg.mtu = m;
    }
    if let Some(t) = &args.nft_table {
        cfg.nft_table = t.clone();
    }
    if let Some(p) = &args.veth_prefix {
        if p.is_empty() || p.len() > 6 {
            fail(format!("invalid --veth-prefix: {p} (1 to 6 characters)"));
        }
        cfg.veth_prefix = p.clone();
    }
    Some(cfg)
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let here = exe.parent()?.join(name);
    if here.is_file() {
        return Some(here);
    }
    // cargo test binaries live in target/<profile>/deps
    let up = exe.parent()?.parent()?.join(name);
    if up.is_file() {
        return Some(up);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn main() {
    let args = Args::parse();
    let file: FileConfig = match &args.config_file {
        Some(p) => match std::fs::read(p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "berthd: unable to configure the daemon with file {}: {e}",
                    p.display()
                );
                std::process::exit(1);
            }
        },
        None => FileConfig::default(),
    };
    let debug = args.debug || file.debug;
    let level = args
        .log_level
        .clone()
        .or(file.log_level.clone())
        .unwrap_or_else(|| if debug { "debug".into() } else { "info".into() });
    let filter = match level.as_str() {
        "debug" | "info" | "warn" | "error" | "trace" => level.clone(),
        "fatal" | "panic" => "error".into(),
        other => {
            eprintln!("berthd: unable to parse logging level: {other}");
            std::process::exit(1);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let hosts = if !args.host.is_empty() {
        args.host.clone()
    } else {
        file.hosts.clone()
    };
    let host = hosts
        .first()
        .cloned()
        .unwrap_or_else(|| "unix:///run/berth/berth.sock".into());
    let sock = match host.strip_prefix("unix://") {
        Some(p) => PathBuf::from(p),
        None if host.starts_with('/') => PathBuf::from(&host),
        None => {
            eprintln!("berthd: only unix:// hosts are supported: {host}");
            std::process::exit(1);
        }
    };
    let cfg = EngineConfig {
        data_root: args
            .data_root
            .clone()
            .or(file.data_root.clone())
            .unwrap_or_else(|| "/var/lib/berth".into()),
        exec_root: args
            .exec_root
            .clone()
            .or(file.exec_root.clone())
            .unwrap_or_else(|| "/run/berth".into()),
        monitor_bin: std::env::var_os("BERTH_MONITOR")
            .map(PathBuf::from)
            .or_else(|| find_bin("berth-monitor"))
            .unwrap_or_else(|| "berth-monitor".into()),
        init_bin: std::env::var_os("BERTH_INIT")
            .map(PathBuf::from)
            .or_else(|| find_bin("docker-init"))
            .or_else(|| Some(PathBuf::from("/usr/bin/tini-static")).filter(|p| p.is_file())),
        debug: level == "debug",
        insecure_registries: [
            args.insecure_registry.clone(),
            file.insecure_registries.clone(),
        ]
        .concat(),
        registry_mirrors: [args.registry_mirror.clone(), file.registry_mirrors.clone()].concat(),
        max_concurrent_downloads: args
            .max_concurrent_downloads
            .or(file.max_concurrent_downloads),
        max_concurrent_uploads: args.max_concurrent_uploads.or(file.max_concurrent_uploads),
        max_download_attempts: args.max_download_attempts.or(file.max_download_attempts),
        network: network_config(&args, &file),
    };
    let pidfile = args.pidfile.clone().or(file.pidfile.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run(cfg, sock, pidfile));
    std::process::exit(code);
}

async fn run(cfg: EngineConfig, sock: PathBuf, pidfile: Option<PathBuf>) -> i32 {
    if let Some(p) = &pidfile {
        if let Ok(old) = std::fs::read_to_string(p) {
            if let Ok(pid) = old.trim().parse::<u32>() {
                if Path::new(&format!("/proc/{pid}")).exists() && pid != std::process::id() {
                    eprintln!(
                        "berthd: pid file found, ensure berthd is not running or delete {}",
                        p.display()
                    );
                    return 1;
                }
            }
        }
        if let Some(d) = p.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        if let Err(e) = std::fs::write(p, std::process::id().to_string()) {
            eprintln!("berthd: write pid file {}: {e}", p.display());
            return 1;
        }
    }
    let engine = match Engine::open(cfg.clone()).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("berthd: {e}");
            return 1;
        }
    };
    if let Some(d) = sock.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ = std::fs::remove_file(&sock);
    let listener = match tokio::net::UnixListener::bind(&sock) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berthd: listen on {}: {e}", sock.display());
            return 1;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o660));
    }
    tracing::info!(socket = %sock.display(), data_root = %cfg.data_root.display(), exec_root = %cfg.exec_root.display(), "API listen");
    let shutdown = async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    };
    let backend: std::sync::Arc<dyn berth_api::backend::Backend> = engine.clone();
    let r = berth_api::server::serve_unix(listener, backend, shutdown).await;
    tracing::info!(
        running = engine.running_count(),
        "shutting down; containers keep running"
    );
    engine.shutdown();
    let _ = std::fs::remove_file(&sock);
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berthd: {e}");
            1
        }
    }
}
