//! The registry's command line (`serve`, `gc`) as a library, so that the
//! `berth-registry` binary and `berth registry` share one implementation:
//! [`Cmd`] is a clap subcommand enum, [`run`] executes one on its own
//! multi-threaded tokio runtime (request logs on stderr via tracing,
//! `RUST_LOG` filter, `info` by default).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::FileConfig;
use crate::{AuthConfig, Config, GcOptions, TlsPaths, TokenConfig};
use clap::Subcommand;

/// The registry's commands (`serve`, `gc`), shared by the
/// `berth-registry` binary and `berth registry`.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Serve the registry until SIGINT/SIGTERM.
    Serve(Box<ServeArgs>),
    /// Delete blobs no manifest references (safe while serving).
    Gc(GcArgs),
}

/// `serve` flags (a TOML `--config` file, overridden by flags).
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file; flags override its values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:5000].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Storage root directory.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// htpasswd file (bcrypt): Basic auth, or the token endpoint's users.
    #[arg(long)]
    pub htpasswd: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Enable Bearer token auth; this URL's path is served as the token endpoint.
    #[arg(long)]
    pub token_realm: Option<String>,
    /// Token service name (JWT aud) [default: berth-registry].
    #[arg(long)]
    pub token_service: Option<String>,
    /// Token issuer (JWT iss) [default: berth-registry].
    #[arg(long)]
    pub token_issuer: Option<String>,
    /// HMAC key file for tokens [default: random per start].
    #[arg(long)]
    pub token_key_file: Option<PathBuf>,
    /// Token lifetime in seconds [default: 300].
    #[arg(long)]
    pub token_ttl: Option<u64>,
    /// Let anonymous clients obtain pull tokens.
    #[arg(long)]
    pub anonymous_pull: bool,
}

/// `gc` flags.
#[derive(clap::Args, Debug)]
pub struct GcArgs {
    /// Storage root directory.
    #[arg(long)]
    pub root: PathBuf,
    /// Keep unreferenced blobs younger than this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub grace: u64,
    /// Remove upload sessions older than this many seconds.
    #[arg(long, default_value_t = 86400)]
    pub upload_ttl: u64,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The server configuration of `serve`'s flags and config file.
pub fn build_config(a: ServeArgs) -> Result<Config, String> {
    let file = match &a.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let listen = match (a.listen, &file.listen) {
        (Some(l), _) => l,
        (None, Some(s)) => s.parse().map_err(|e| format!("listen {s:?}: {e}"))?,
        (None, None) => "127.0.0.1:5000".parse().expect("default address"),
    };
    let root = a
        .root
        .or(file.root.clone())
        .ok_or("--root (or root = in the config file) is required")?;
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsPaths { cert, key }),
        _ => file.tls.clone(),
    };
    let htpasswd = a.htpasswd.or(file.auth.htpasswd.clone());
    let ftok = file.auth.token.clone();
    let realm = a.token_realm.or(ftok.as_ref().map(|t| t.realm.clone()));
    let auth = match realm {
        Some(realm) => AuthConfig::Token(TokenConfig {
            realm,
            service: a
                .token_service
                .or(ftok.as_ref().and_then(|t| t.service.clone()))
                .unwrap_or_else(|| "berth-registry".into()),
            issuer: a
                .token_issuer
                .or(ftok.as_ref().and_then(|t| t.issuer.clone()))
                .unwrap_or_else(|| "berth-registry".into()),
            htpasswd,
            key_file: a
                .token_key_file
                .or(ftok.as_ref().and_then(|t| t.key_file.clone())),
            ttl: Duration::from_secs(
                a.token_ttl
                    .or(ftok.as_ref().and_then(|t| t.ttl_secs))
                    .unwrap_or(300),
            ),
            anonymous_pull: a.anonymous_pull
                || ftok
                    .as_ref()
                    .and_then(|t| t.anonymous_pull)
                    .unwrap_or(false),
        }),
        None => match htpasswd {
            Some(h) => AuthConfig::Htpasswd(h),
            None => AuthConfig::None,
        },
    };
    Ok(Config {
        listen,
        root,
        tls,
        auth,
        sendfile_loopback: false,
    })
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Installs the stderr log subscriber (once per process).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs `cmd`: `serve` until SIGINT/SIGTERM, or one `gc` pass. Exit
/// status 2 for a bad configuration, 1 for a failure.
pub fn run(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Serve(a) => {
            let cfg = match build_config(*a) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("berth-registry: {e}");
                    return ExitCode::from(2);
                }
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            match rt.block_on(crate::serve(cfg, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("berth-registry: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Gc(a) => {
            let opts = GcOptions {
                grace: Duration::from_secs(a.grace),
                upload_ttl: Duration::from_secs(a.upload_ttl),
                dry_run: a.dry_run,
            };
            match crate::gc_collect(&a.root, &opts) {
                Ok(r) => {
                    for d in &r.deleted {
                        println!("deleted {d}");
                    }
                    println!(
                        "live {} young {} deleted {} ({} bytes) links {} uploads {}{}",
                        r.live,
                        r.young,
                        r.deleted.len(),
                        r.bytes_freed,
                        r.links_removed,
                        r.uploads_removed,
                        if opts.dry_run { " (dry run)" } else { "" }
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("berth-registry gc: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
