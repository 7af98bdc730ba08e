//! Credentials and the registry authentication protocols.
//!
//! - [`AuthConfig`]: what the docker CLI sends in `X-Registry-Auth` (pull,
//!   push) and as the body of `POST /auth`: base64url of the JSON
//!   `{"username","password","auth","email","serveraddress","identitytoken","registrytoken"}`.
//! - [`DockerConfigFile`]: the docker CLI's `~/.docker/config.json`:
//!   `auths` (base64 `user:password` in `auth`, or `identitytoken`),
//!   `credsStore` and `credHelpers` (the credential helper protocol: run
//!   `docker-credential-<name> get`, write the server address on stdin,
//!   read `{"ServerURL","Username","Secret"}`; a `Username` of `<token>`
//!   makes `Secret` an identity token).
//! - [`Challenge`]: a `WWW-Authenticate` header (RFC 7235), `Basic
//!   realm=...` or `Bearer realm=...,service=...,scope=...` (Docker's
//!   registry token authentication spec).
//! - [`TokenResponse`]: the token endpoint's answer (`token` or
//!   `access_token`, `expires_in` seconds, default 60).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{DistributionError, Result};

/// Credentials for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name (Basic auth, and the token request's `account`).
    pub username: String,
    /// Password.
    pub password: String,
    /// An OAuth2 refresh token from an earlier login (`identitytoken`):
    /// exchanged at the token endpoint with `grant_type=refresh_token`.
    pub identity_token: Option<String>,
    /// A bearer token to send as is (`registrytoken`).
    pub registry_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "***"),
            )
            .field(
                "registry_token",
                &self.registry_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl Credentials {
    /// Username and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
            ..Default::default()
        }
    }

    /// True when there is nothing to authenticate with.
    pub fn is_anonymous(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_none()
            && self.registry_token.is_none()
    }

    /// The `Authorization: Basic ...` value.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The docker CLI's auth configuration (moby `api/types/registry.AuthConfig`),
/// as sent base64url-encoded in `X-Registry-Auth` and as JSON in `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// User name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// base64 of `username:password` (used when username is empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    /// Deprecated, ignored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// The registry (`https://index.docker.io/v1/`, `localhost:5000`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    /// OAuth2 refresh token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    /// Bearer token to use as is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

impl AuthConfig {
    /// Decodes an `X-Registry-Auth` header: base64url (padded or not; plain
    /// base64 accepted too) of the JSON. An empty header, `{}` or `null`
    /// means anonymous (like dockerd, which ignores what it cannot decode
    /// only for an empty value; anything else that does not decode is an
    /// error: 400).
    pub fn from_header(value: &str) -> Result<AuthConfig> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(AuthConfig::default());
        }
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let bytes = [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
            .iter()
            .find_map(|e| e.decode(v).ok())
            .ok_or_else(|| {
                DistributionError::InvalidArgument(
                    "invalid X-Registry-Auth header: not base64url".into(),
                )
            })?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) || bytes == b"null" {
            return Ok(AuthConfig::default());
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            DistributionError::InvalidArgument(format!("invalid X-Registry-Auth header: {e}"))
        })
    }

    /// Encodes as the docker CLI does (base64url of the JSON).
    pub fn to_header(&self) -> String {
        base64::engine::general_purpose::URL_SAFE
            .encode(serde_json::to_vec(self).expect("auth config serialises"))
    }

    /// The credentials it carries (`auth` split when `username` is empty).
    pub fn credentials(&self) -> Credentials {
        let (mut username, mut password) = (self.username.clone(), self.password.clone());
        if username.is_empty() && !self.auth.is_empty() {
            if let Some((u, p)) = decode_auth_field(&self.auth) {
                username = u;
                password = p;
            }
        }
        Credentials {
            username,
            password,
            identity_token: Some(self.identitytoken.clone()).filter(|s| !s.is_empty()),
            registry_token: Some(self.registrytoken.clone()).filter(|s| !s.is_empty()),
        }
    }
}

fn decode_auth_field(a: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(a.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.trim_end_matches('\0').to_string()))
}

/// The key the docker CLI files Docker Hub credentials under.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// `host[:port]` of a config.json key or server address: scheme and path
/// stripped (`https://localhost:5000/v2/` -> `localhost:5000`); Docker
/// Hub's aliases map to `docker.io`.
pub fn normalize_server(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or("").to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

/// One `auths` entry of config.json.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConfigAuthEntry {
    /// base64 `user:password`.
    #[serde(default)]
    pub auth: String,
    /// User name (older files).
    #[serde(default)]
    pub username: String,
    /// Password (older files).
    #[serde(default)]
    pub password: String,
    /// OAuth2 refresh token.
    #[serde(default)]
    pub identitytoken: String,
    /// Bearer token.
    #[serde(default)]
    pub registrytoken: String,
}

/// The docker CLI's `config.json` (the parts that carry credentials).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DockerConfigFile {
    /// Inline credentials by server.
    #[serde(default)]
    pub auths: BTreeMap<String, ConfigAuthEntry>,
    /// Default credential helper: `docker-credential-<credsStore>`.
    #[serde(default, rename = "credsStore")]
    pub creds_store: Option<String>,
    /// Per-registry credential helpers: server -> helper suffix.
    #[serde(default, rename = "credHelpers")]
    pub cred_helpers: BTreeMap<String, String>,
    /// Where helper executables are looked up (`None`: `$PATH`).
    #[serde(skip)]
    pub helper_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

impl DockerConfigFile {
    /// Reads a config.json. A missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<DockerConfigFile> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| DistributionError::Credentials(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerConfigFile::default()),
            Err(e) => Err(DistributionError::Credentials(format!(
                "{}: {e}",
                path.display()
            ))),
        }
    }

    /// The credentials for `registry` (a reference's domain: `docker.io`,
    /// `localhost:5000`): `credHelpers[registry]`, else `credsStore`, else
    /// `auths`. `Ok(None)` when nothing is configured. A helper that
    /// reports "credentials not found in native keychain" is `Ok(None)`;
    /// any other helper failure is an error.
    pub fn credentials_for(&self, registry: &str) -> Result<Option<Credentials>> {
        let want = normalize_server(registry);
        let key_of = |k: &str| normalize_server(k) == want;
        let server_arg = if want == "docker.io" {
            DOCKER_HUB_AUTH_KEY.to_string()
        } else {
            want.clone()
        };
        if let Some((_, helper)) = self.cred_helpers.iter().find(|(k, _)| key_of(k)) {
            return self.run_helper(helper, &server_arg);
        }
        if let Some(store) = self.creds_store.as_deref().filter(|s| !s.is_empty()) {
            if let Some(c) = self.run_helper(store, &server_arg)? {
                return Ok(Some(c));
            }
        }
        // An exact key first, then any that normalises the same.
        let entry = self
            .auths
            .get(&server_arg)
            .or_else(|| self.auths.iter().find(|(k, _)| key_of(k)).map(|(_, v)| v));
        Ok(entry.map(|e| {
            let (mut u, mut p) = (e.username.clone(), e.password.clone());
            if !e.auth.is_empty() {
                if let Some((du, dp)) = decode_auth_field(&e.auth) {
                    u = du;
                    p = dp;
                }
            }
            Credentials {
                username: u,
                password: p,
                identity_token: Some(e.identitytoken.clone()).filter(|s| !s.is_empty()),
                registry_token: Some(e.registrytoken.clone()).filter(|s| !s.is_empty()),
            }
        }))
    }

    /// Runs `docker-credential-<helper> get` with `server` on stdin
    /// (bounded to 30 s).
    fn run_helper(&self, helper: &str, server: &str) -> Result<Option<Credentials>> {
        let exe = format!("docker-credential-{helper}");
        let path = match &self.helper_dir {
            Some(d) => d.join(&exe),
            None => PathBuf::from(&exe),
        };
        let mut child = Command::new(&path)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                DistributionError::Credentials(format!(
                    "error getting credentials - err: exec: \"{exe}\": {e}"
                ))
            })?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("piped stdin");
            let _ = stdin.write_all(server.as_bytes());
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if std::time::Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(DistributionError::Credentials(format!(
                        "error getting credentials - {exe} timed out"
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(DistributionError::Credentials(format!("{exe}: {e}"))),
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| DistributionError::Credentials(format!("{exe}: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            if stdout.contains("credentials not found") {
                return Ok(None);
            }
            return Err(DistributionError::Credentials(format!(
                "error getting credentials - err: exit status {}, out: `{}`",
                out.status.code().unwrap_or(-1),
                stdout.trim()
            )));
        }
        let a: HelperAnswer = serde_json::from_slice(&out.stdout).map_err(|e| {
            DistributionError::Credentials(format!("error getting credentials - {exe}: {e}"))
        })?;
        if a.username == "<token>" {
            return Ok(Some(Credentials {
                identity_token: Some(a.secret),
                ..Default::default()
            }));
        }
        Ok(Some(Credentials::basic(a.username, a.secret)))
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-cased: `basic`, `bearer`.
    pub scheme: String,
    /// Parameters, keys lower-cased: `realm`, `service`, `scope`, `error`.
    pub params: HashMap<String, String>,
}

impl Challenge {
    /// Parses one header value (`Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"`).
    pub fn parse(h: &str) -> Option<Challenge> {
        let h = h.trim();
        let (scheme, rest) = match h.find(' ') {
            Some(i) => (&h[..i], &h[i + 1..]),
            None => (h, ""),
        };
        if scheme.is_empty() {
            return None;
        }
        let mut params = HashMap::new();
        let b = rest.as_bytes();
        let mut i = 0;
        while i < b.len() {
            while i < b.len() && (b[i] == b' ' || b[i] == b',') {
                i += 1;
            }
            let ks = i;
            while i < b.len() && b[i] != b'=' && b[i] != b',' {
                i += 1;
            }
            let key = rest[ks..i].trim().to_ascii_lowercase();
            if i >= b.len() || b[i] != b'=' {
                continue;
            }
            i += 1;
            let mut val = String::new();
            if i < b.len() && b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch_len = rest[i..].chars().next().map(char::len_utf8).unwrap_or(1);
                    val.push_str(&rest[i..i + ch_len]);
                    i += ch_len;
                }
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && b[i] != b',' {
                    i += 1;
                }
                val = rest[vs..i].trim().to_string();
            }
            if !key.is_empty() {
                params.insert(key, val);
            }
        }
        Some(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }

    /// A parameter's value.
    pub fn param(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str)
    }
}

/// The token endpoint's JSON answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The bearer token (Docker's field).
    #[serde(default)]
    pub token: String,
    /// The bearer token (OAuth2's field; either may be present).
    #[serde(default)]
    pub access_token: String,
    /// Lifetime in seconds (the spec's default: 60).
    #[serde(default)]
    pub expires_in: u64,
    /// A refresh token, when one was asked for (`offline_token=true`).
    #[serde(default)]
    pub refresh_token: String,
}

impl TokenResponse {
    /// The token, whichever field has it.
    pub fn bearer(&self) -> Option<&str> {
        [&self.token, &self.access_token]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(String::as_str)
    }

    /// How long to use it: `expires_in` (at least 60 s, the spec's
    /// minimum), minus 10 s of slack.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in.max(60).saturating_sub(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://a/token"));
        assert_eq!(c.param("service"), Some("reg"));
        assert_eq!(c.param("scope"), Some("repository:x/y:pull,push"));
        let b = Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.param("realm"), Some("Registry Realm"));
    }

    #[test]
    fn x_registry_auth_round_trip() {
        let a = AuthConfig {
            username: "u".into(),
            password: "p?>".into(),
            serveraddress: "localhost:5000".into(),
            ..Default::default()
        };
        let h = a.to_header();
        assert!(!h.contains('+') && !h.contains('/'));
        assert_eq!(AuthConfig::from_header(&h).unwrap(), a);
        assert_eq!(AuthConfig::from_header("").unwrap(), AuthConfig::default());
        let e30 = base64::engine::general_purpose::URL_SAFE.encode("{}");
        assert!(AuthConfig::from_header(&e30)
            .unwrap()
            .credentials()
            .is_anonymous());
        let via_auth = AuthConfig {
            auth: base64::engine::general_purpose::STANDARD.encode("alice:s3:cret"),
            ..Default::default()
        };
        assert_eq!(
            via_auth.credentials(),
            Credentials::basic("alice", "s3:cret")
        );
        assert!(AuthConfig::from_header("!!!").is_err());
    }

    #[test]
    fn servers_normalise() {
        assert_eq!(normalize_server("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(
            normalize_server("http://localhost:5000/v2/"),
            "localhost:5000"
        );
        assert_eq!(normalize_server("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
