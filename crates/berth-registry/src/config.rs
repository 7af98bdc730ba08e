//! Server configuration: a TOML file (`--config FILE`) overridden by flags.
//!
//! ```toml
//! listen = "127.0.0.1:5000"
//! root = "/var/lib/berth-registry"
//!
//! [tls]                      # optional: HTTPS with a PEM certificate chain and key
//! cert = "/etc/berth-registry/cert.pem"
//! key = "/etc/berth-registry/key.pem"
//!
//! [auth]
//! htpasswd = "/etc/berth-registry/htpasswd"   # bcrypt users (Basic, or token endpoint users)
//!
//! [auth.token]               # optional: Bearer tokens from the built-in endpoint
//! realm = "https://127.0.0.1:5000/token"      # its path is served by this registry
//! service = "berth-registry"
//! issuer = "berth-registry"
//! key_file = "/etc/berth-registry/token.key"  # HMAC key; random per start when absent
//! ttl_secs = 300
//! anonymous_pull = false
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The registry's runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Storage root directory.
    pub root: PathBuf,
    /// TLS certificate chain and private key (PEM), if serving HTTPS.
    pub tls: Option<TlsPaths>,
    /// Authentication mode.
    pub auth: AuthConfig,
    /// Send plain-HTTP blob bodies with `sendfile(2)` to loopback peers
    /// too. Off by default: on loopback the receiver copies the bytes
    /// anyway, and the kernel's page-by-page splice for `sendfile` moved
    /// 120 MB 20–40 % slower than one `write` from the mapped pages on the
    /// machines here (BENCHMARKS.md, registry, session 6); to other peers
    /// `sendfile` saves the server's copy of every byte.
    pub sendfile_loopback: bool,
}

/// PEM files for TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsPaths {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Authentication mode.
#[derive(Debug, Clone, Default)]
pub enum AuthConfig {
    /// No authentication.
    #[default]
    None,
    /// HTTP Basic against an htpasswd file of bcrypt hashes.
    Htpasswd(PathBuf),
    /// Bearer tokens issued by the built-in token endpoint.
    Token(TokenConfig),
}

/// Token-mode settings.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Realm URL sent in challenges; its path is served as the token
    /// endpoint. A bare path (`/token`) is completed with each request's
    /// scheme and `Host`.
    pub realm: String,
    /// Service name (JWT `aud`).
    pub service: String,
    /// Issuer (JWT `iss`).
    pub issuer: String,
    /// Users who may obtain tokens (htpasswd, bcrypt).
    pub htpasswd: Option<PathBuf>,
    /// HMAC key file; a random key per start when `None`.
    pub key_file: Option<PathBuf>,
    /// Token lifetime.
    pub ttl: Duration,
    /// Whether anonymous clients may pull.
    pub anonymous_pull: bool,
}

impl Config {
    /// Plain HTTP, no auth, on `listen`, storing under `root`.
    pub fn new(listen: SocketAddr, root: impl Into<PathBuf>) -> Config {
        Config {
            listen,
            root: root.into(),
            tls: None,
            auth: AuthConfig::None,
            sendfile_loopback: false,
        }
    }
}

/// The TOML file's shape (every field optional; flags override).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `listen = "127.0.0.1:5000"`
    pub listen: Option<String>,
    /// `root = "/path"`
    pub root: Option<PathBuf>,
    /// `[tls]`
    pub tls: Option<TlsPaths>,
    /// `[auth]`
    #[serde(default)]
    pub auth: FileAuth,
}

/// `[auth]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAuth {
    /// htpasswd file.
    pub htpasswd: Option<PathBuf>,
    /// `[auth.token]`
    pub token: Option<FileToken>,
}

/// `[auth.token]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileToken {
    /// Realm URL.
    pub realm: String,
    /// Service name (default `berth-registry`).
    pub service: Option<String>,
    /// Issuer (default `berth-registry`).
    pub issuer: Option<String>,
    /// HMAC key file.
    pub key_file: Option<PathBuf>,
    /// Lifetime in seconds (default 300).
    pub ttl_secs: Option<u64>,
    /// Anonymous pull (default false).
    pub anonymous_pull: Option<bool>,
}

impl FileConfig {
    /// Reads and parses a TOML config file.
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("parsing config {}: {e}", path.display()))
    }
}
