//! Registry commands: `pull`, `push`, `login`, `logout`, `search`, and the
//! pull `run`/`create` do for a missing image.
//!
//! Credentials live where the docker CLI keeps them: `config.json` in
//! `--config DIR`, else `$DOCKER_CONFIG`, else `~/.docker` (`auths` with
//! base64 `user:password` or an `identitytoken`; `credsStore` and
//! `credHelpers` naming `docker-credential-<name>` programs that speak
//! the credential-helper protocol: `get`/`store`/`erase` with JSON or the
//! server URL on stdin). Requests carry them as `X-Registry-Auth`:
//! base64url (padded) of the auth config JSON, `e30=` (`{}`) when there
//! are none — what docker's client sends.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine;
use berth_client::{qs, Client, Method, ReqBody};
use serde_json::{json, Map, Value};

use crate::cli::*;
use crate::fmt as f;
use crate::{out, CmdResult, Fail};

/// The key Docker Hub's credentials are stored under.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

static CONFIG_DIR: OnceLock<Option<String>> = OnceLock::new();

/// Records the global `--config DIR` flag (call once, before any command).
pub fn set_config_dir(dir: Option<String>) {
    let _ = CONFIG_DIR.set(dir);
}

/// The docker CLI's config directory: `--config`, `$DOCKER_CONFIG`, else
/// `$HOME/.docker`.
pub fn config_dir() -> PathBuf {
    if let Some(Some(d)) = CONFIG_DIR.get() {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

/// A normalized image reference (docker's `reference.ParseNormalizedNamed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (`docker.io` for Docker Hub), with `:port`.
    pub domain: String,
    /// Repository path (`library/busybox`).
    pub path: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest (`sha256:...`), if given.
    pub digest: Option<String>,
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_lowercase() || b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok || sep.is_empty() {
            return false;
        }
    }
    true
}

impl Reference {
    /// Parses and normalizes `s` as docker does; errors are docker's
    /// texts ("invalid reference format", "... must be lowercase").
    pub fn parse(s: &str) -> Result<Reference, String> {
        let bad = || "invalid reference format".to_string();
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let (alg, hex) = d.split_once(':').ok_or_else(bad)?;
                if alg.is_empty() || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad());
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let tb = t.as_bytes();
            if t.is_empty()
                || t.len() > 128
                || !(tb[0].is_ascii_alphanumeric() || tb[0] == b'_')
                || !tb
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            {
                return Err(bad());
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((d, p))
                if d.contains('.')
                    || d.contains(':')
                    || d == "localhost"
                    || d.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (d.to_string(), p.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            "docker.io".to_string()
        } else {
            domain
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.is_empty() {
            return Err(bad());
        }
        if !path.split('/').all(valid_component) {
            if path.to_lowercase().split('/').all(valid_component) {
                return Err(format!(
                    "invalid reference format: repository name ({path}) must be lowercase"
                ));
            }
            return Err(bad());
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `domain/path` (`docker.io/library/busybox`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form (`busybox`, `user/x`, `127.0.0.1:5000/x`).
    pub fn familiar_name(&self) -> String {
        if self.domain == "docker.io" {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.tag {
            s += &format!(":{t}");
        }
        if let Some(d) = &self.digest {
            s += &format!("@{d}");
        }
        s
    }

    /// The full string (`docker.io/library/busybox:latest`).
    pub fn full(&self) -> String {
        format!("{}{}", self.name(), self.suffix())
    }

    /// The short string (`busybox:latest`).
    pub fn familiar(&self) -> String {
        format!("{}{}", self.familiar_name(), self.suffix())
    }

    /// The key credentials of this reference's registry are stored under.
    pub fn auth_key(&self) -> String {
        if self.domain == "docker.io" {
            INDEX_SERVER.to_string()
        } else {
            self.domain.clone()
        }
    }
}

/// docker's `ConvertToHostname`: a stored key without scheme and path.
pub fn to_hostname(url: &str) -> String {
    let s = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    s.split('/').next().unwrap_or(s).to_string()
}

/// Credentials for one registry (docker's `AuthConfig`, the JSON fields
/// of `X-Registry-Auth` and `POST /auth`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Creds {
    /// User name.
    pub username: String,
    /// Password (empty when an identity token is used).
    pub password: String,
    /// The registry's key (`127.0.0.1:5000`, `https://index.docker.io/v1/`).
    pub server: String,
    /// OAuth2 identity (refresh) token.
    pub identity_token: String,
}

impl Creds {
    /// The auth config as docker serializes it (fields in Go's order,
    /// empty ones omitted).
    pub fn json(&self) -> Value {
        let mut m = Map::new();
        if !self.username.is_empty() {
            m.insert("username".into(), json!(self.username));
        }
        if !self.password.is_empty() {
            m.insert("password".into(), json!(self.password));
        }
        if !self.server.is_empty() {
            m.insert("serveraddress".into(), json!(self.server));
        }
        if !self.identity_token.is_empty() {
            m.insert("identitytoken".into(), json!(self.identity_token));
        }
        Value::Object(m)
    }

    /// The `X-Registry-Auth` header value.
    pub fn header(&self) -> String {
        base64::engine::general_purpose::URL_SAFE.encode(self.json().to_string())
    }
}

fn config_path() -> PathBuf {
    config_dir().join("config.json")
}

/// The config file as JSON (an empty object when it does not exist).
pub fn load_config() -> Result<Map<String, Value>, String> {
    let p = config_path();
    match std::fs::read(&p) {
        Ok(b) if b.iter().all(|c| c.is_ascii_whitespace()) => Ok(Map::new()),
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| format!("loading config file: {}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(format!("loading config file: {}: {e}", p.display())),
    }
}

/// Writes the config file as docker does: tab-indented JSON, mode 0600,
/// through a temporary file renamed over the old one.
pub fn save_config(cfg: &Map<String, Value>) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = config_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // docker writes its ConfigFile struct: known keys in the struct's
    // order (`auths` always), then the rest as they were
    const ORDER: &[&str] = &[
        "auths",
        "HttpHeaders",
        "psFormat",
        "imagesFormat",
        "networksFormat",
        "pluginsFormat",
        "volumesFormat",
        "statsFormat",
        "detachKeys",
        "credsStore",
        "credHelpers",
        "serviceInspectFormat",
        "servicesFormat",
        "tasksFormat",
        "secretFormat",
        "configFormat",
        "nodesFormat",
        "pruneFilters",
        "proxies",
        "experimental",
        "currentContext",
        "cliPluginsExtraDirs",
        "plugins",
        "aliases",
        "features",
    ];
    let mut ordered = Map::new();
    ordered.insert(
        "auths".into(),
        cfg.get("auths").cloned().unwrap_or_else(|| json!({})),
    );
    for k in &ORDER[1..] {
        if let Some(v) = cfg.get(*k) {
            ordered.insert(k.to_string(), v.clone());
        }
    }
    for (k, v) in cfg {
        if !ordered.contains_key(k) {
            ordered.insert(k.clone(), v.clone());
        }
    }
    let cfg = &ordered;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(cfg, &mut ser).map_err(|e| e.to_string())?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut fh = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        fh.write_all(&buf)?;
        fh.sync_all()?;
        std::fs::rename(&tmp, config_path())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(|e| format!("Error saving credentials: {e}"))
}

/// The credential helper for `key`: `credHelpers[hostname]`, else
/// `credsStore`, else none (the file itself).
fn helper_for(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    let host = to_hostname(key);
    cfg.get("credHelpers")
        .and_then(|h| h.get(&host).or_else(|| h.get(key)))
        .and_then(|v| v.as_str())
        .or_else(|| cfg.get("credsStore").and_then(|v| v.as_str()))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin;
/// returns its stdout, or its output text as the error.
fn run_helper(helper: &str, action: &str, input: &str) -> Result<String, String> {
    let prog = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&prog)
        .arg(action)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("exec: \"{prog}\": {e}"))?;
    if let Some(mut si) = child.stdin.take() {
        let _ = si.write_all(input.as_bytes());
    }
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    if o.status.success() {
        Ok(stdout)
    } else {
        let msg = stdout.trim().to_string();
        Err(if msg.is_empty() {
            String::from_utf8_lossy(&o.stderr).trim().to_string()
        } else {
            msg
        })
    }
}

/// The stored credentials for `key` (empty when none; a helper's
/// "credentials not found" counts as none).
pub fn get_creds(key: &str) -> Result<Creds, String> {
    let cfg = load_config()?;
    if let Some(h) = helper_for(&cfg, key) {
        return match run_helper(&h, "get", key) {
            Ok(o) => {
                let v: Value = serde_json::from_str(&o).map_err(|e| e.to_string())?;
                let user = v["Username"].as_str().unwrap_or("").to_string();
                let secret = v["Secret"].as_str().unwrap_or("").to_string();
                Ok(if user == "<token>" {
                    Creds {
                        server: key.into(),
                        identity_token: secret,
                        ..Default::default()
                    }
                } else {
                    Creds {
                        username: user,
                        password: secret,
                        server: key.into(),
                        ..Default::default()
                    }
                })
            }
            Err(e) if e.contains("credentials not found") => Ok(Creds {
                server: key.into(),
                ..Default::default()
            }),
            Err(e) => Err(e),
        };
    }
    let auths = cfg.get("auths").and_then(|a| a.as_object());
    let host = to_hostname(key);
    let entry = auths.and_then(|a| {
        a.get(key).or_else(|| {
            a.iter()
                .find(|(k, _)| to_hostname(k) == host)
                .map(|(_, v)| v)
        })
    });
    let mut c = Creds {
        server: key.into(),
        ..Default::default()
    };
    if let Some(e) = entry {
        if let Some(a) = e["auth"].as_str().filter(|a| !a.is_empty()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a)
                .map_err(|e| e.to_string())?;
            let raw = String::from_utf8_lossy(&raw).into_owned();
            let (u, p) = raw
                .split_once(':')
                .ok_or("invalid auth configuration file")?;
            c.username = u.into();
            c.password = p.into();
        }
        c.identity_token = e["identitytoken"].as_str().unwrap_or("").into();
    }
    Ok(c)
}

/// Stores `c` under its server key: through the helper when one is
/// configured (the file then keeps an empty entry, as docker's native
/// store does), else in `auths` as base64 `user:password`.
pub fn store_creds(c: &Creds) -> Result<bool, String> {
    let mut cfg = load_config()?;
    let helper = helper_for(&cfg, &c.server);
    if let Some(h) = &helper {
        let (user, secret) = if c.identity_token.is_empty() {
            (c.username.clone(), c.password.clone())
        } else {
            ("<token>".to_string(), c.identity_token.clone())
        };
        let payload = json!({"ServerURL": c.server, "Username": user, "Secret": secret});
        run_helper(h, "store", &payload.to_string())
            .map_err(|e| format!("Error saving credentials: {e}"))?;
    }
    let auths = cfg
        .entry("auths")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("invalid auth configuration file")?;
    let mut e = Map::new();
    if helper.is_none() {
        if !c.username.is_empty() || !c.password.is_empty() {
            e.insert(
                "auth".into(),
                json!(base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password))),
            );
        }
        if !c.identity_token.is_empty() {
            e.insert("identitytoken".into(), json!(c.identity_token));
        }
    }
    auths.insert(c.server.clone(), Value::Object(e));
    save_config(&cfg)?;
    Ok(helper.is_none())
}

/// Erases the credentials stored under `key` (helper and file).
fn erase_creds(key: &str) -> Result<(), String> {
    let mut cfg = load_config()?;
    if let Some(h) = helper_for(&cfg, key) {
        match run_helper(&h, "erase", key) {
            Err(e) if !e.contains("credentials not found") => return Err(e),
            _ => {}
        }
    }
    let removed = cfg
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(key))
        .is_some();
    if removed {
        save_config(&cfg)?;
    }
    Ok(())
}

/// The `X-Registry-Auth` value for an image reference.
pub fn auth_header_for(r: &Reference) -> String {
    match get_creds(&r.auth_key()) {
        Ok(c) if !c.username.is_empty() || !c.identity_token.is_empty() => c.header(),
        _ => Creds::default().header(),
    }
}

/// `POST /images/create?fromImage=&tag=&platform=` with the image's
/// credentials; the progress is rendered to stdout or stderr.
pub async fn pull_stream(
    c: &mut Client,
    r: &Reference,
    all: bool,
    platform: Option<&str>,
    to_stderr: bool,
    quiet: bool,
) -> CmdResult {
    let mut q = vec![format!("fromImage={}", qs(&r.name()))];
    if !all {
        let tag = r
            .digest
            .clone()
            .or_else(|| r.tag.clone())
            .unwrap_or_else(|| "latest".into());
        q.push(format!("tag={}", qs(&tag)));
    }
    if let Some(p) = platform.filter(|p| !p.is_empty()) {
        q.push(format!("platform={}", qs(p)));
    }
    let auth = auth_header_for(r);
    let mut body = c
        .request_with_headers(
            Method::POST,
            &format!("/images/create?{}", q.join("&")),
            ReqBody::empty(),
            None,
            &[("X-Registry-Auth", &auth)],
        )
        .await?;
    if quiet {
        let mut js = berth_client::progress::JsonStream::new();
        while let Some(ch) = body.chunk().await? {
            let msgs: Vec<berth_client::progress::JsonMessage> =
                js.push(&ch).map_err(|e| Fail::msg(e.to_string()))?;
            if let Some(e) = msgs.iter().find_map(|m| m.error_message()) {
                return Err(Fail::msg(e));
            }
        }
        return Ok(());
    }
    crate::jsonmsg::show(&mut body, to_stderr).await
}

/// `berth pull [-a] [-q] [--platform] NAME[:TAG|@DIGEST]`: docker's
/// "Using default tag" line, the progress, then the full reference.
pub async fn pull(c: &mut Client, a: PullArgs) -> CmdResult {
    let mut r = Reference::parse(&a.name).map_err(Fail::msg)?;
    if a.all_tags && (r.tag.is_some() || r.digest.is_some()) {
        return Err(Fail::msg("tag can't be used with --all-tags/-a"));
    }
    if !a.all_tags && r.tag.is_none() && r.digest.is_none() {
        r.tag = Some("latest".into());
        if !a.quiet {
            out("Using default tag: latest\n");
        }
    }
    pull_stream(c, &r, a.all_tags, a.platform.as_deref(), false, a.quiet).await?;
    out(&format!("{}\n", r.full()));
    Ok(())
}

/// `berth push [-a] [-q] NAME[:TAG]`: `POST /images/{name}/push?tag=`.
pub async fn push(c: &mut Client, a: PushArgs) -> CmdResult {
    let mut r = Reference::parse(&a.name).map_err(Fail::msg)?;
    if a.all_tags && r.tag.is_some() {
        return Err(Fail::msg("tag can't be used with --all-tags/-a"));
    }
    if !a.all_tags && r.tag.is_none() && r.digest.is_none() {
        r.tag = Some("latest".into());
        if !a.quiet {
            out("Using default tag: latest\n");
        }
    }
    let mut q = Vec::new();
    if let Some(t) = &r.tag {
        q.push(format!("tag={}", qs(t)));
    }
    if let Some(p) = a.platform.as_deref().filter(|p| !p.is_empty()) {
        q.push(format!("platform={}", qs(&json!({"os": p.split('/').next().unwrap_or(""), "architecture": p.split('/').nth(1).unwrap_or("")}).to_string())));
    }
    let path = format!(
        "/images/{}/push{}{}",
        r.familiar_name(),
        if q.is_empty() { "" } else { "?" },
        q.join("&")
    );
    let auth = auth_header_for(&r);
    let mut body = c
        .request_with_headers(
            Method::POST,
            &path,
            ReqBody::empty(),
            None,
            &[("X-Registry-Auth", &auth)],
        )
        .await?;
    if a.quiet {
        let mut js = berth_client::progress::JsonStream::new();
        while let Some(ch) = body.chunk().await? {
            let msgs: Vec<berth_client::progress::JsonMessage> =
                js.push(&ch).map_err(|e| Fail::msg(e.to_string()))?;
            if let Some(e) = msgs.iter().find_map(|m| m.error_message()) {
                return Err(Fail::msg(e));
            }
        }
        out(&format!("{}\n", r.full()));
        return Ok(());
    }
    crate::jsonmsg::show(&mut body, false).await
}

fn prompt(label: &str, echo: bool) -> Result<String, Fail> {
    use rustix::termios::{self, LocalModes, OptionalActions};
    use std::os::fd::AsFd;
    eprint!("{label}");
    let stdin = std::io::stdin();
    let saved = if echo {
        None
    } else {
        termios::tcgetattr(stdin.as_fd()).ok().inspect(|t| {
            let mut n = t.clone();
            n.local_modes.remove(LocalModes::ECHO);
            let _ = termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &n);
        })
    };
    let mut line = String::new();
    let r = stdin.read_line(&mut line);
    if let Some(t) = saved {
        let _ = termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &t);
        eprintln!();
    }
    r?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`:
/// `POST /auth` through the daemon, then the credentials are stored
/// (identity token instead of the password when the registry gives one).
pub async fn login(c: &mut Client, a: LoginArgs) -> CmdResult {
    let mut password = a.password.clone().unwrap_or_default();
    if a.password.is_some() && a.password_stdin {
        return Err(Fail::msg(
            "conflicting options: cannot specify both --password and --password-stdin",
        ));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if a.password_stdin {
        if a.username.is_none() {
            return Err(Fail::msg(
                "the --password-stdin option requires --username to be set",
            ));
        }
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        password = s
            .strip_suffix('\n')
            .unwrap_or(&s)
            .strip_suffix('\r')
            .unwrap_or(s.strip_suffix('\n').unwrap_or(&s))
            .to_string();
    }
    let server = match a.server.as_deref() {
        Some(s) if !s.is_empty() && s != "docker.io" => s.to_string(),
        _ => INDEX_SERVER.to_string(),
    };
    let mut user = a.username.clone().unwrap_or_default();
    let stored = get_creds(&server).unwrap_or_default();
    if user.is_empty()
        && password.is_empty()
        && !stored.username.is_empty()
        && !stored.password.is_empty()
    {
        eprintln!(
            "Authenticating with existing credentials... [Username: {}]",
            stored.username
        );
        if let Ok(msg) = auth(c, &stored).await {
            eprintln!("\n Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n");
            out(&format!("{msg}\n"));
            return Ok(());
        }
    }
    if user.is_empty() || password.is_empty() {
        if !std::io::stdin().is_terminal() {
            return Err(Fail::msg(
                "Error: Cannot perform an interactive login from a non TTY device",
            ));
        }
        if user.is_empty() {
            let def = &stored.username;
            let label = if def.is_empty() {
                "Username: ".to_string()
            } else {
                format!("Username ({def}): ")
            };
            user = prompt(&label, true)?;
            if user.is_empty() {
                user = def.clone();
            }
            if user.is_empty() {
                return Err(Fail::msg("Error: Non-null Username Required"));
            }
        }
        if password.is_empty() {
            password = prompt("Password: ", false)?;
            if password.is_empty() {
                return Err(Fail::msg("Error: Password Required"));
            }
        }
    }
    let mut creds = Creds {
        username: user,
        password,
        server: server.clone(),
        ..Default::default()
    };
    let resp = auth_full(c, &creds).await?;
    if let Some(t) = resp["IdentityToken"].as_str().filter(|t| !t.is_empty()) {
        creds.password.clear();
        creds.identity_token = t.to_string();
    }
    // docker warns only when the stored credentials change
    let before = get_creds(&server).unwrap_or_default();
    let in_file = store_creds(&creds).map_err(Fail::msg)?;
    if in_file && !creds.password.is_empty() && before != creds {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            config_path().display()
        );
    }
    out(&format!(
        "{}\n",
        resp["Status"].as_str().unwrap_or("Login Succeeded")
    ));
    Ok(())
}

async fn auth_full(c: &mut Client, creds: &Creds) -> Result<Value, Fail> {
    let mut body = creds.json();
    body.as_object_mut().map(|m| m.remove("identitytoken"));
    Ok(c.post_json("/auth", &body).await?)
}

async fn auth(c: &mut Client, creds: &Creds) -> Result<String, Fail> {
    let v = auth_full(c, creds).await?;
    Ok(v["Status"]
        .as_str()
        .unwrap_or("Login Succeeded")
        .to_string())
}

/// `berth logout [SERVER]`: erases the stored credentials (under the key
/// given and its hostname forms, as docker does).
pub async fn logout(a: LogoutArgs) -> CmdResult {
    let (server, default) = match a.server.as_deref() {
        Some(s) if !s.is_empty() => (s.to_string(), false),
        _ => (INDEX_SERVER.to_string(), true),
    };
    let mut keys = vec![server.clone()];
    let mut host = server.clone();
    if !default {
        host = to_hostname(&server);
        keys.extend([
            host.clone(),
            format!("http://{host}"),
            format!("https://{host}"),
        ]);
    }
    out(&format!("Removing login credentials for {host}\n"));
    let mut errs = Vec::new();
    for k in &keys {
        if let Err(e) = erase_creds(k) {
            errs.push((k.clone(), e));
        }
    }
    if errs.len() == keys.len() {
        eprintln!("WARNING: could not erase credentials:");
        for (k, e) in errs {
            out(&format!("{k}: {e}\n"));
        }
    }
    Ok(())
}

/// `berth search TERM`: `GET /images/search?term=&limit=&filters=`, as
/// docker's table (NAME, DESCRIPTION, STARS, OFFICIAL); a daemon error is
/// printed as docker prints it, exit 1.
pub async fn search(c: &mut Client, a: SearchArgs) -> CmdResult {
    let mut q = Vec::new();
    if let Some(l) = a.limit {
        q.push(format!("limit={l}"));
    }
    q.push(format!("term={}", qs(&a.term)));
    if let Some(fj) = crate::containers::filters_json(&a.filter).map_err(Fail::msg)? {
        q.push(format!("filters={}", qs(&fj)));
    }
    let auth = match Reference::parse(&a.term) {
        Ok(r) if r.domain != "docker.io" => auth_header_for(&r),
        _ => match get_creds(INDEX_SERVER) {
            Ok(c) if !c.username.is_empty() => c.header(),
            _ => Creds::default().header(),
        },
    };
    let body = c
        .request_with_headers(
            Method::GET,
            &format!("/images/search?{}", q.join("&")),
            ReqBody::empty(),
            None,
            &[("X-Registry-Auth", &auth)],
        )
        .await?;
    let list: Vec<Value> = body.json().await?;
    let rows: Vec<Map<String, Value>> = list
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("Name".into(), json!(r["name"].as_str().unwrap_or("")));
            let d = r["description"].as_str().unwrap_or("").replace('\n', " ");
            m.insert(
                "Description".into(),
                json!(if a.no_trunc { d } else { f::ellipsis(&d, 45) }),
            );
            m.insert(
                "StarCount".into(),
                json!(r["star_count"].as_i64().unwrap_or(0).to_string()),
            );
            m.insert(
                "IsOfficial".into(),
                json!(if r["is_official"].as_bool().unwrap_or(false) {
                    "[OK]"
                } else {
                    ""
                }),
            );
            m
        })
        .collect();
    let fmt = f::ListFormat::from_flag(
        a.format.as_deref(),
        "{{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
    );
    out(&f::print_list(
        &fmt,
        &rows,
        &[
            ("Name", "NAME"),
            ("Description", "DESCRIPTION"),
            ("StarCount", "STARS"),
            ("IsOfficial", "OFFICIAL"),
        ],
    )
    .map_err(Fail::msg)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalize_like_docker() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(
            (r.name(), r.familiar_name()),
            ("docker.io/library/busybox".into(), "busybox".into())
        );
        let r = Reference::parse("127.0.0.1:5000/busybox:v1").unwrap();
        assert_eq!(
            (r.domain.as_str(), r.path.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "busybox", Some("v1"))
        );
        assert_eq!(r.full(), "127.0.0.1:5000/busybox:v1");
        let r = Reference::parse("user/app").unwrap();
        assert_eq!(r.name(), "docker.io/user/app");
        assert_eq!(r.familiar_name(), "user/app");
        let d = "sha256:0123456789012345678901234567890123456789012345678901234567890123";
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.full(), format!("docker.io/library/busybox@{d}"));
        assert_eq!(
            Reference::parse("Busybox").unwrap_err(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(
            Reference::parse("a b").unwrap_err(),
            "invalid reference format"
        );
        assert_eq!(Reference::parse("localhost/x").unwrap().domain, "localhost");
    }

    #[test]
    fn registry_auth_header_is_base64url_json() {
        assert_eq!(Creds::default().header(), "e30=");
        let c = Creds {
            username: "a".into(),
            password: "b".into(),
            server: "127.0.0.1:5000".into(),
            ..Default::default()
        };
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(c.header())
            .unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            r#"{"username":"a","password":"b","serveraddress":"127.0.0.1:5000"}"#
        );
    }

    #[test]
    fn hostnames_of_stored_keys() {
        assert_eq!(to_hostname("https://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(to_hostname("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
