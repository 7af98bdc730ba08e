//! Authentication and authorization.
//!
//! Three modes (spec.md leaves the scheme to the registry; the de-facto
//! standard is Docker's "token authentication specification"):
//!
//! - none: every request is allowed;
//! - basic: `Authorization: Basic` checked against an htpasswd file of
//!   bcrypt hashes (`htpasswd -B`); a valid user may do everything;
//! - token: requests carry `Authorization: Bearer <JWT>`; without a token
//!   allowing the action the answer is 401 with
//!   `WWW-Authenticate: Bearer realm="…",service="…",scope="repository:<name>:<actions>"`.
//!   The registry's own token endpoint (the realm's path, e.g. `/token`)
//!   checks Basic credentials against the htpasswd file and issues a token
//!   scoped to the requested repositories and actions (`pull`, `push`,
//!   `delete`), signed with HMAC-SHA256. HMAC suffices because the issuer
//!   and the verifier are the same process; the key is random per start
//!   unless a key file is configured.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// An htpasswd file: `user:hash` lines with bcrypt hashes (`$2y$`, `$2b$`,
/// `$2a$`). Other hash schemes are rejected when loading.
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// Successful checks, keyed by sha256(user ":" password), so a client
    /// sending Basic credentials on every request does not pay bcrypt's
    /// cost each time.
    verified: Mutex<HashMap<String, Instant>>,
}

/// How long a successful bcrypt check is remembered.
const VERIFIED_TTL: Duration = Duration::from_secs(300);

impl Htpasswd {
    /// Loads `path`. Errors: unreadable file, or a line that is not
    /// `user:bcrypt-hash`.
    pub fn load(path: &Path) -> Result<Htpasswd, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading htpasswd file {}: {e}", path.display()))?;
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("{}:{}: not user:hash", path.display(), i + 1))?;
            if !(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
                return Err(format!(
                    "{}:{}: only bcrypt hashes are supported (htpasswd -B)",
                    path.display(),
                    i + 1
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// True when `user` is in the file.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// True when `user` exists and `password` matches its bcrypt hash.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let key =
            berth_types::Digest::sha256_of(format!("{user}:{password}").as_bytes()).to_string();
        {
            let cache = self.verified.lock().expect("htpasswd cache");
            if let Some(t) = cache.get(&key) {
                if t.elapsed() < VERIFIED_TTL {
                    return true;
                }
            }
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            let mut cache = self.verified.lock().expect("htpasswd cache");
            cache.retain(|_, t| t.elapsed() < VERIFIED_TTL);
            cache.insert(key, Instant::now());
        }
        ok
    }
}

/// Decodes an `Authorization: Basic …` header value into user and password.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let b64 = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// One access right: `type:name:actions`, e.g. `repository:library/busybox:pull,push`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository name, or `catalog`.
    pub name: String,
    /// `pull`, `push`, `delete`, or `*`.
    pub actions: Vec<String>,
}

impl Access {
    /// Parses a `scope` parameter (`type:name:action,action`); the name may
    /// itself contain `:` only in a registry host part, which we do not
    /// serve, so the first and last `:` split it.
    pub fn parse_scope(s: &str) -> Option<Access> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some(Access {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    /// The scope string, as used in `WWW-Authenticate`.
    pub fn scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }

    fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        self.kind == kind
            && self.name == name
            && self.actions.iter().any(|a| a == action || a == "*")
    }
}

/// Lifetime of refresh tokens ([`TokenAuth::issue_refresh`]): 30 days.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The JWT claims of an issued token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// The authenticated user ("" for anonymous).
    pub sub: String,
    /// Audience: the registry's service name.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Not before, seconds since the epoch.
    pub nbf: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Unique token id.
    pub jti: String,
    /// What the token allows.
    pub access: Vec<Access>,
}

/// Token-mode settings and signing key.
pub struct TokenAuth {
    /// Realm URL advertised in challenges (`--token-realm`), or a bare
    /// path made absolute with each request's `Host`.
    pub realm: String,
    /// Service name (`aud` claim, `service` challenge parameter).
    pub service: String,
    /// Issuer name (`iss` claim).
    pub issuer: String,
    /// Lifetime of issued tokens.
    pub ttl: Duration,
    /// Whether anonymous clients get `pull` tokens.
    pub anonymous_pull: bool,
    /// Users allowed to obtain tokens.
    pub users: Option<Htpasswd>,
    enc: EncodingKey,
    dec: DecodingKey,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenAuth {
    /// Builds token settings; `key` is the HMAC key (at least 32 bytes
    /// recommended).
    pub fn new(
        realm: String,
        service: String,
        issuer: String,
        ttl: Duration,
        anonymous_pull: bool,
        users: Option<Htpasswd>,
        key: &[u8],
    ) -> TokenAuth {
        TokenAuth {
            realm,
            service,
            issuer,
            ttl,
            anonymous_pull,
            users,
            enc: EncodingKey::from_secret(key),
            dec: DecodingKey::from_secret(key),
        }
    }

    /// Issues a token for `user` (None: anonymous) covering the requested
    /// scopes, granting only what the user may have: authenticated users
    /// get every action on every repository and the catalog; anonymous
    /// users get `pull` when `anonymous_pull` is set, otherwise nothing.
    /// Returns the JWT and its lifetime in seconds.
    pub fn issue(&self, user: Option<&str>, requested: &[Access]) -> (String, u64) {
        let granted = requested
            .iter()
            .filter_map(|a| {
                let actions: Vec<String> = a
                    .actions
                    .iter()
                    .filter(|act| match user {
                        Some(_) => matches!(act.as_str(), "pull" | "push" | "delete" | "*"),
                        None => {
                            self.anonymous_pull && act.as_str() == "pull" && a.kind == "repository"
                        }
                    })
                    .cloned()
                    .collect();
                (!actions.is_empty()).then(|| Access {
                    kind: a.kind.clone(),
                    name: a.name.clone(),
                    actions,
                })
            })
            .collect();
        let now = unix_now();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user.unwrap_or("").to_string(),
            aud: self.service.clone(),
            exp: now + self.ttl.as_secs(),
            nbf: now.saturating_sub(5),
            iat: now,
            jti: berth_types::new_id()[..32].to_string(),
            access: granted,
        };
        let tok = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &self.enc,
        )
        .expect("HS256 signing cannot fail");
        (tok, self.ttl.as_secs())
    }

    /// Issues an OAuth2 refresh token for `user` (the `refresh_token` of
    /// Docker's token specification, which dockerd's login hands to the
    /// docker CLI as `IdentityToken`): a JWT signed with the same key, for
    /// the audience `<service> refresh` so that it is never accepted as a
    /// bearer token, with no access of its own, valid for
    /// [`REFRESH_TTL`]. It stays valid across restarts only with a
    /// configured key file (the default key is random per start).
    pub fn issue_refresh(&self, user: &str) -> String {
        let now = unix_now();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user.to_string(),
            aud: format!("{} refresh", self.service),
            exp: now + REFRESH_TTL.as_secs(),
            nbf: now.saturating_sub(5),
            iat: now,
            jti: berth_types::new_id()[..32].to_string(),
            access: Vec::new(),
        };
        jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &self.enc,
        )
        .expect("HS256 signing cannot fail")
    }

    /// The user of a refresh token from [`TokenAuth::issue_refresh`]:
    /// signature, expiry, issuer and the refresh audience checked, and the
    /// user still in the htpasswd file. None otherwise.
    pub fn verify_refresh(&self, token: &str) -> Option<String> {
        let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&[format!("{} refresh", self.service)]);
        v.set_issuer(&[&self.issuer]);
        v.validate_nbf = true;
        let c = jsonwebtoken::decode::<Claims>(token, &self.dec, &v)
            .ok()?
            .claims;
        let known = self.users.as_ref().is_some_and(|h| h.has_user(&c.sub));
        (known && !c.sub.is_empty()).then_some(c.sub)
    }

    /// Verifies a bearer token: signature, expiry, issuer, audience.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&[&self.service]);
        v.set_issuer(&[&self.issuer]);
        v.validate_nbf = true;
        jsonwebtoken::decode::<Claims>(token, &self.dec, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// The `WWW-Authenticate` challenge for `needed`. A realm configured
    /// as a bare path (`/token`) is made absolute with `origin`
    /// (`https://host:port`, from the request).
    pub fn challenge(&self, needed: &[Access], error: Option<&str>, origin: &str) -> String {
        let realm = if self.realm.starts_with('/') {
            format!("{origin}{}", self.realm)
        } else {
            self.realm.clone()
        };
        let mut s = format!("Bearer realm=\"{realm}\",service=\"{}\"", self.service);
        if !needed.is_empty() {
            let scopes: Vec<String> = needed.iter().map(Access::scope).collect();
            s.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
        }
        if let Some(e) = error {
            s.push_str(&format!(",error=\"{e}\""));
        }
        s
    }
}

/// True when `claims` allow every action in `needed`.
pub fn claims_allow(claims: &Claims, needed: &[Access]) -> bool {
    needed.iter().all(|n| {
        n.actions.iter().all(|act| {
            claims
                .access
                .iter()
                .any(|a| a.allows(&n.kind, &n.name, act))
        })
    })
}

/// The configured authentication mode.
pub enum Auth {
    /// Anyone may do anything.
    None,
    /// htpasswd Basic authentication; the realm name for the challenge.
    Basic(Htpasswd, String),
    /// Bearer tokens from the built-in token endpoint.
    Token(TokenAuth),
}

/// A request's authentication outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, as this user ("" for anonymous / no auth).
    Allow(String),
    /// 401: send this `WWW-Authenticate` value.
    Challenge(String),
}

impl Auth {
    /// Decides whether a request with `authorization` (the header value)
    /// may perform `needed` (empty: the `/v2/` base check, which only needs
    /// valid credentials).
    /// `origin` (`scheme://host`) completes a path-only token realm.
    pub fn decide(&self, authorization: Option<&str>, needed: &[Access], origin: &str) -> Decision {
        match self {
            Auth::None => Decision::Allow(String::new()),
            Auth::Basic(h, realm) => match authorization.and_then(parse_basic) {
                Some((u, p)) if h.verify(&u, &p) => Decision::Allow(u),
                _ => Decision::Challenge(format!("Basic realm=\"{realm}\"")),
            },
            Auth::Token(t) => {
                let bearer = authorization.and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                });
                let Some(claims) = bearer.and_then(|b| t.verify(b.trim())) else {
                    return Decision::Challenge(t.challenge(needed, None, origin));
                };
                if claims_allow(&claims, needed) {
                    Decision::Allow(claims.sub)
                } else {
                    Decision::Challenge(t.challenge(needed, Some("insufficient_scope"), origin))
                }
            }
        }
    }
}

/// Formats seconds since the epoch as RFC 3339 UTC (`issued_at`).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (proleptic Gregorian), H. Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Current time, RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn scopes_parse_and_tokens_verify() {
        let a = Access::parse_scope("repository:a/b:pull,push").unwrap();
        assert_eq!(a.name, "a/b");
        assert_eq!(a.actions, vec!["pull", "push"]);
        let t = TokenAuth::new(
            "http://x/token".into(),
            "svc".into(),
            "iss".into(),
            Duration::from_secs(60),
            false,
            None,
            b"0123456789abcdef0123456789abcdef",
        );
        let (tok, _) = t.issue(Some("u"), std::slice::from_ref(&a));
        let c = t.verify(&tok).unwrap();
        assert!(claims_allow(&c, &[a]));
        let other = Access::parse_scope("repository:other:pull").unwrap();
        assert!(!claims_allow(&c, &[other]));
        let (anon, _) = t.issue(None, &[Access::parse_scope("repository:a/b:pull").unwrap()]);
        assert!(t.verify(&anon).unwrap().access.is_empty());
        assert!(t.verify(&format!("{tok}x")).is_none());
    }
}
