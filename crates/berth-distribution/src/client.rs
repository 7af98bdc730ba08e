//! The HTTP side: endpoints (https, insecure https, plain http, mirrors),
//! the `/v2/` ping, authentication (Basic, Bearer tokens per scope), and
//! the distribution-spec requests a pull or push makes.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_types::Digest;
use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use crate::auth::{Challenge, Credentials, TokenResponse};
use crate::error::{status_text, DistributionError, RegistryFailure, Result};
use crate::manifest::{MANIFEST_ACCEPT, MANIFEST_MAX};

/// Docker Hub's API host (`docker.io` references go there).
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";

/// Client-wide settings (dockerd's daemon.json names in brackets).
#[derive(Debug, Clone)]
pub struct Options {
    /// Registries reached over plain HTTP or unverified HTTPS
    /// (daemon.json `insecure-registries`): `host[:port]` or a CIDR (`10.0.0.0/8`).
    /// Loopback (127.0.0.0/8, ::1, `localhost`) is always insecure, as in
    /// dockerd.
    pub insecure_registries: Vec<String>,
    /// Mirrors of Docker Hub, tried in order before it for pulls
    /// (daemon.json `registry-mirrors`): base URLs (`https://mirror.example`,
    /// `http://127.0.0.1:5001`).
    pub registry_mirrors: Vec<String>,
    /// Mirrors of any other registry, by its domain (`localhost:5000` ->
    /// `http://127.0.0.1:5001`), tried first for pulls.
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// Layers downloaded at once [`max-concurrent-downloads`, default 3].
    pub max_concurrent_downloads: usize,
    /// Layers uploaded at once [`max-concurrent-uploads`, default 5].
    pub max_concurrent_uploads: usize,
    /// Attempts per blob download, the first included
    /// [`max-download-attempts`, default 5]; later attempts resume with a
    /// `Range` request where the registry supports it.
    pub max_download_attempts: u32,
    /// Push blobs in chunks of this many bytes (`PATCH` with
    /// `Content-Range`, then `PUT`); `None`: one monolithic `PUT`.
    pub upload_chunk_size: Option<u64>,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Longest wait for a read on a connection before it counts as
    /// dropped (and a download resumes).
    pub read_timeout: Duration,
    /// Pause before a download retry (doubled each time, capped at 10 s).
    pub retry_delay: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            mirrors: BTreeMap::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            max_download_attempts: 5,
            upload_chunk_size: None,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            retry_delay: Duration::from_millis(500),
        }
    }
}

/// One way to reach a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host[:port]`, no trailing slash.
    pub base: String,
    /// Skip TLS verification (insecure registry over https).
    pub skip_verify: bool,
    /// A mirror (pull only; failures fall back to the next endpoint).
    pub mirror: bool,
}

/// The registry client: HTTP connection pools, the token cache and
/// settings. Cheap to clone (an `Arc` inside); one per daemon.
#[derive(Clone)]
pub struct Distribution {
    inner: Arc<Inner>,
}

struct Inner {
    opts: Options,
    verified: reqwest::Client,
    unverified: reqwest::Client,
    /// (realm, service, scope, account) -> (token, expiry).
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

pub(crate) fn transport(method: &Method, url: &str, e: &reqwest::Error) -> DistributionError {
    // Go's url.Error form: `Get "http://host/v2/": dial tcp ...: connection
    // refused`. The URL is said once: the wrappers that only repeat it or
    // name the layer (`error sending request for url (...)`, `client error
    // (Connect)`) are left out of the cause chain.
    let m = method.as_str();
    let m = format!("{}{}", &m[..1], m[1..].to_ascii_lowercase());
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        let t = c.to_string();
        if !(t.starts_with("error sending request") || t.starts_with("client error (")) {
            parts.push(t);
        }
        cur = c.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    DistributionError::Transport(format!("{m} \"{url}\": {}", parts.join(": ")))
}

impl Distribution {
    /// A client with `opts`.
    pub fn new(opts: Options) -> Result<Distribution> {
        let build = |skip: bool| {
            reqwest::Client::builder()
                .connect_timeout(opts.connect_timeout)
                .read_timeout(opts.read_timeout)
                .redirect(reqwest::redirect::Policy::limited(10))
                .danger_accept_invalid_certs(skip)
                .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| DistributionError::Transport(format!("http client: {e}")))
        };
        Ok(Distribution {
            inner: Arc::new(Inner {
                verified: build(false)?,
                unverified: build(true)?,
                opts,
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The settings.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    pub(crate) fn http(&self, skip_verify: bool) -> &reqwest::Client {
        if skip_verify {
            &self.inner.unverified
        } else {
            &self.inner.verified
        }
    }

    /// True when `domain` (`host[:port]`) may be reached over plain HTTP or
    /// unverified HTTPS: loopback, or listed in `insecure_registries`
    /// (exactly, or by CIDR for an IP literal).
    pub fn is_insecure(&self, domain: &str) -> bool {
        let host = host_of(domain);
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        let ip: Option<IpAddr> = host.parse().ok();
        if ip.is_some_and(|i| i.is_loopback()) {
            return true;
        }
        self.inner.opts.insecure_registries.iter().any(|entry| {
            let e = entry
                .trim()
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            if e.eq_ignore_ascii_case(domain) || e.eq_ignore_ascii_case(host) {
                return true;
            }
            match (ip, e.split_once('/')) {
                (Some(ip), Some((net, bits))) => cidr_contains(net, bits, ip),
                _ => false,
            }
        })
    }

    /// The endpoints to try for `domain`, in order: mirrors first when
    /// pulling, then https (verified, or unverified for an insecure
    /// registry), then plain http for an insecure registry.
    pub fn endpoints(&self, domain: &str, pull: bool) -> Vec<Endpoint> {
        let mut out = Vec::new();
        if pull {
            let mut mirrors: Vec<&String> = Vec::new();
            if domain == "docker.io" {
                mirrors.extend(self.inner.opts.registry_mirrors.iter());
            }
            if let Some(m) = self.inner.opts.mirrors.get(domain) {
                mirrors.extend(m.iter());
            }
            for m in mirrors {
                let m = m.trim_end_matches('/');
                let base = if m.contains("://") {
                    m.to_string()
                } else {
                    format!("https://{m}")
                };
                let host = base.split("://").nth(1).unwrap_or("").to_string();
                out.push(Endpoint {
                    skip_verify: self.is_insecure(&host),
                    base,
                    mirror: true,
                });
            }
        }
        let host = if domain == "docker.io" {
            DOCKER_HUB_HOST
        } else {
            domain
        };
        let insecure = self.is_insecure(domain);
        out.push(Endpoint {
            base: format!("https://{host}"),
            skip_verify: insecure,
            mirror: false,
        });
        if insecure {
            out.push(Endpoint {
                base: format!("http://{host}"),
                skip_verify: false,
                mirror: false,
            });
        }
        out
    }

    /// Pings `/v2/` on each endpoint of `domain` in turn and returns a
    /// handle on repository `path` at the first one that answers (after
    /// getting a token for `actions`, e.g. `["pull"]` or `["pull",
    /// "push"]`, when the registry challenges with Bearer).
    /// `extra_scopes` are added to the token request (cross-repository
    /// mounts ask `repository:<from>:pull` too).
    pub async fn repository(
        &self,
        domain: &str,
        path: &str,
        creds: &Credentials,
        actions: &[&str],
        pull: bool,
        extra_scopes: &[String],
    ) -> Result<Repository> {
        let mut last_err = None;
        for ep in self.endpoints(domain, pull) {
            match self
                .open(&ep, domain, path, creds, actions, extra_scopes)
                .await
            {
                Ok(r) => return Ok(r),
                Err(e @ DistributionError::Transport(_)) => last_err = Some(e),
                Err(e) if ep.mirror => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err
            .unwrap_or_else(|| DistributionError::Transport(format!("no endpoint for {domain}"))))
    }

    /// Opens repository `path` at one endpoint: pings `/v2/`, then
    /// authorises for `actions` (and `extra_scopes`). Transport errors mean
    /// "try the next endpoint".
    pub async fn open(
        &self,
        ep: &Endpoint,
        domain: &str,
        path: &str,
        creds: &Credentials,
        actions: &[&str],
        extra_scopes: &[String],
    ) -> Result<Repository> {
        let challenge = self.ping(ep).await?;
        let mut scopes = vec![format!("repository:{path}:{}", actions.join(","))];
        scopes.extend(extra_scopes.iter().cloned());
        let repo = Repository {
            dist: self.clone(),
            endpoint: ep.clone(),
            domain: domain.to_string(),
            path: path.to_string(),
            creds: creds.clone(),
            challenge,
            scopes,
            auth: Mutex::new(None),
        };
        repo.authorize(false).await?;
        Ok(repo)
    }

    /// `GET /v2/` on one endpoint: `Ok(None)` when it needs no auth,
    /// `Ok(Some(challenge))` on 401. Transport errors (refused, TLS) are
    /// errors so the caller moves on to the next endpoint.
    pub async fn ping(&self, ep: &Endpoint) -> Result<Option<Challenge>> {
        let url = format!("{}/v2/", ep.base);
        let resp = self
            .http(ep.skip_verify)
            .get(&url)
            .timeout(self.inner.opts.connect_timeout + Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| transport(&Method::GET, &url, &e))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let ch = resp
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(Challenge::parse)
                .find(|c| c.scheme == "bearer" || c.scheme == "basic");
            return Ok(ch);
        }
        Ok(None)
    }

    /// A Bearer token for `scopes` (cached until shortly before expiry).
    pub(crate) async fn token(
        &self,
        base: &str,
        skip_verify: bool,
        ch: &Challenge,
        scopes: &[String],
        creds: &Credentials,
        force: bool,
    ) -> Result<String> {
        self.token_offline(base, skip_verify, ch, scopes, creds, force, false)
            .await
            .map(|(t, _)| t)
    }

    /// [`Distribution::token`]; with `offline` (login with a username and
    /// password) the GET also asks for a refresh token
    /// (`offline_token=true&client_id=docker`, as dockerd's login does) and
    /// returns the one the token server hands out, if any: `POST /auth`
    /// answers it as `IdentityToken`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn token_offline(
        &self,
        base: &str,
        skip_verify: bool,
        ch: &Challenge,
        scopes: &[String],
        creds: &Credentials,
        force: bool,
        offline: bool,
    ) -> Result<(String, Option<String>)> {
        if let Some(t) = &creds.registry_token {
            return Ok((t.clone(), None));
        }
        let realm = ch.param("realm").unwrap_or_default();
        let realm = if realm.starts_with('/') {
            format!("{base}{realm}")
        } else {
            realm.to_string()
        };
        let service = ch.param("service").unwrap_or_default().to_string();
        let key = format!("{realm}|{service}|{}|{}", scopes.join(" "), creds.username);
        if !force && !offline {
            if let Some((t, exp)) = self.inner.tokens.lock().expect("tokens").get(&key) {
                if Instant::now() < *exp {
                    return Ok((t.clone(), None));
                }
            }
        }
        let mut url = Url::parse(&realm).map_err(|e| {
            DistributionError::Protocol(format!("invalid token realm {realm:?}: {e}"))
        })?;
        let client = self.http(skip_verify || self.is_insecure(url.host_str().unwrap_or("")));
        let req = if let Some(refresh) = &creds.identity_token {
            let mut form: Vec<(&str, &str)> = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("service", &service),
                ("client_id", "docker"),
            ];
            for s in scopes {
                form.push(("scope", s));
            }
            client.post(url.clone()).form(&form)
        } else {
            {
                let mut q = url.query_pairs_mut();
                if !service.is_empty() {
                    q.append_pair("service", &service);
                }
                for s in scopes {
                    q.append_pair("scope", s);
                }
                if !creds.username.is_empty() {
                    q.append_pair("account", &creds.username);
                }
                if offline && !creds.username.is_empty() {
                    q.append_pair("offline_token", "true");
                    q.append_pair("client_id", "docker");
                }
            }
            let mut r = client.get(url.clone());
            if !creds.username.is_empty() || !creds.password.is_empty() {
                r = r.basic_auth(&creds.username, Some(&creds.password));
            }
            r
        };
        let method = if creds.identity_token.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let resp = req
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| transport(&method, url.as_str(), &e))?;
        let status = resp.status();
        let body = read_limited(resp, 1 << 20).await?;
        if !status.is_success() {
            let f = RegistryFailure::from_body(status.as_u16(), &body);
            return Err(match status.as_u16() {
                401 => DistributionError::Unauthorized(f.docker_text()),
                403 => DistributionError::Denied(f.docker_text()),
                _ => DistributionError::Registry(format!(
                    "token request to {realm} failed: {}",
                    f.docker_text()
                )),
            });
        }
        let tr: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| DistributionError::Protocol(format!("invalid token response: {e}")))?;
        let Some(t) = tr.bearer() else {
            return Err(DistributionError::Protocol(
                "token response has no token".into(),
            ));
        };
        self.inner
            .tokens
            .lock()
            .expect("tokens")
            .insert(key, (t.to_string(), Instant::now() + tr.lifetime()));
        let refresh = Some(tr.refresh_token.clone()).filter(|r| !r.is_empty());
        Ok((t.to_string(), refresh))
    }
}

fn host_of(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match domain.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => domain,
    }
}

fn cidr_contains(net: &str, bits: &str, ip: IpAddr) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Reads at most `max` bytes of a body (error bodies, manifests, tokens).
pub(crate) async fn read_limited(mut resp: Response, max: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() + c.len() > max {
                    return Err(DistributionError::Protocol(format!(
                        "response body larger than {max} bytes"
                    )));
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(DistributionError::Transport(format!(
                    "reading response: {e}"
                )))
            }
        }
    }
}

/// A repository on one endpoint, authorised for some actions.
pub struct Repository {
    dist: Distribution,
    endpoint: Endpoint,
    domain: String,
    path: String,
    creds: Credentials,
    challenge: Option<Challenge>,
    scopes: Vec<String>,
    /// The `Authorization` value in use.
    auth: Mutex<Option<String>>,
}

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct ManifestResponse {
    /// Its bytes, exactly as served (they are what the digest covers).
    pub bytes: Vec<u8>,
    /// Its media type (`Content-Type`, else the body's `mediaType`).
    pub media_type: String,
    /// The digest of the bytes (verified against the requested digest).
    pub digest: Digest,
}

impl Repository {
    /// True when the registry asks for Basic auth and there are no
    /// credentials (dockerd: `no basic auth credentials`).
    pub fn needs_basic_credentials(&self) -> bool {
        self.challenge.as_ref().is_some_and(|c| c.scheme == "basic") && self.creds.is_anonymous()
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The reference's domain (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `<base>/v2/<path>/<rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.endpoint.base, self.path)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        self.dist.http(self.endpoint.skip_verify)
    }

    async fn authorize(&self, force: bool) -> Result<()> {
        let v = match &self.challenge {
            None => None,
            Some(c) if c.scheme == "basic" => {
                if self.creds.is_anonymous() {
                    None
                } else {
                    Some(self.creds.basic_header())
                }
            }
            Some(c) => {
                let t = self
                    .dist
                    .token(
                        &self.endpoint.base,
                        self.endpoint.skip_verify,
                        c,
                        &self.scopes,
                        &self.creds,
                        force,
                    )
                    .await?;
                Some(format!("Bearer {t}"))
            }
        };
        *self.auth.lock().expect("auth") = v;
        Ok(())
    }

    fn auth_header(&self) -> Option<String> {
        self.auth.lock().expect("auth").clone()
    }

    /// Sends the request `build` makes (called again for the one retry
    /// after a 401 with a fresh token), with the `Authorization` header.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let mut retried = false;
        loop {
            let mut rb = self.http().request(method.clone(), url);
            if let Some(a) = self.auth_header() {
                rb = rb.header(AUTHORIZATION, a);
            }
            let resp = build(rb)
                .send()
                .await
                .map_err(|e| transport(&method, url, &e))?;
            let bearer = self
                .challenge
                .as_ref()
                .is_some_and(|c| c.scheme == "bearer");
            if resp.status() == StatusCode::UNAUTHORIZED && bearer && !retried {
                retried = true;
                self.authorize(true).await?;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Turns a failed response into Docker's error.
    pub async fn failure(resp: Response) -> RegistryFailure {
        let status = resp.status().as_u16();
        let body = read_limited(resp, 64 << 10).await.unwrap_or_default();
        RegistryFailure::from_body(status, &body)
    }

    /// `GET /v2/<name>/manifests/<reference>` with the manifest `Accept`
    /// list. Verifies the bytes against `reference` when it is a digest,
    /// and against `Docker-Content-Digest` when the registry sends it.
    /// Errors: the registry's failure (`Err(Ok(failure))`) so the caller
    /// can word it, or a transport/protocol error.
    pub async fn get_manifest(
        &self,
        reference: &str,
    ) -> Result<std::result::Result<ManifestResponse, RegistryFailure>> {
        let url = self.url(&format!("manifests/{reference}"));
        let resp = self
            .send(Method::GET, &url, |r| r.header(ACCEPT, MANIFEST_ACCEPT))
            .await?;
        if !resp.status().is_success() {
            return Ok(Err(Self::failure(resp).await));
        }
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let announced: Option<Digest> = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok());
        let bytes = read_limited(resp, MANIFEST_MAX).await?;
        let want: Option<Digest> = reference.parse().ok();
        let digest = match want.as_ref().or(announced.as_ref()) {
            Some(d) => {
                let got = Digest::of(d.algorithm(), &bytes);
                if &got != d {
                    return Err(DistributionError::ManifestDigestMismatch(d.clone()));
                }
                if d.algorithm() == berth_types::Algorithm::Sha256 {
                    got
                } else {
                    Digest::sha256_of(&bytes)
                }
            }
            None => Digest::sha256_of(&bytes),
        };
        let media_type = crate::manifest::media_type_of(ct.as_deref(), &bytes)?;
        Ok(Ok(ManifestResponse {
            bytes,
            media_type,
            digest,
        }))
    }

    /// `HEAD /v2/<name>/manifests/<reference>`: `Some((digest, size,
    /// media type))` when it exists, `None` on 404.
    pub async fn head_manifest(
        &self,
        reference: &str,
    ) -> Result<Option<(Option<Digest>, u64, String)>> {
        let url = self.url(&format!("manifests/{reference}"));
        let resp = self
            .send(Method::HEAD, &url, |r| r.header(ACCEPT, MANIFEST_ACCEPT))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            let st = resp.status().as_u16();
            return Err(self.word(
                st,
                &RegistryFailure {
                    status: st,
                    errors: vec![],
                },
            ));
        }
        let h = resp.headers();
        let digest = h
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok());
        let size = h
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mt = h
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok(Some((digest, size, mt)))
    }

    /// `HEAD /v2/<name>/blobs/<digest>`: the size when the blob exists.
    pub async fn head_blob(&self, d: &Digest) -> Result<Option<u64>> {
        let url = self.url(&format!("blobs/{d}"));
        let resp = self.send(Method::HEAD, &url, |r| r).await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(self.word(
                s.as_u16(),
                &RegistryFailure {
                    status: s.as_u16(),
                    errors: vec![],
                },
            )),
        }
    }

    /// `GET /v2/<name>/blobs/<digest>`, from byte `offset` on (a `Range`
    /// request) when it is not 0. The response is returned as is: 200
    /// (whole blob), 206 (from `offset`), or a failure.
    pub async fn get_blob(&self, d: &Digest, offset: u64) -> Result<Response> {
        let url = self.url(&format!("blobs/{d}"));
        self.send(Method::GET, &url, |r| {
            if offset > 0 {
                r.header(reqwest::header::RANGE, format!("bytes={offset}-"))
            } else {
                r
            }
        })
        .await
    }

    /// Words a failure as dockerd does for this repository: 401 ->
    /// `unauthorized: ...`, 403 -> `denied: ...`, else the registry's text.
    pub fn word(&self, status: u16, f: &RegistryFailure) -> DistributionError {
        match status {
            401 => DistributionError::Unauthorized(f.docker_text()),
            403 => DistributionError::Denied(f.docker_text()),
            _ => DistributionError::Registry(f.docker_text()),
        }
    }

    /// `PUT /v2/<name>/manifests/<tag>` with `Content-Type: media_type`.
    /// Returns the digest the registry answers with (`Docker-Content-Digest`),
    /// else the sha256 of `bytes`.
    pub async fn put_manifest(&self, tag: &str, media_type: &str, bytes: Bytes) -> Result<Digest> {
        let url = self.url(&format!("manifests/{tag}"));
        let mt = HeaderValue::from_str(media_type)
            .map_err(|_| DistributionError::Protocol(format!("bad media type {media_type:?}")))?;
        let resp = self
            .send(Method::PUT, &url, |r| {
                r.header(CONTENT_TYPE, mt.clone()).body(bytes.clone())
            })
            .await?;
        if !resp.status().is_success() {
            let st = resp.status().as_u16();
            let f = Self::failure(resp).await;
            return Err(self.word(st, &f));
        }
        let got = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok());
        Ok(got.unwrap_or_else(|| Digest::sha256_of(&bytes)))
    }

    /// Resolves an upload `Location` against the endpoint (it may be a
    /// path or an absolute URL).
    pub(crate) fn location(&self, resp: &Response) -> Result<Url> {
        let loc = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| DistributionError::Protocol("upload response has no Location".into()))?;
        let base = Url::parse(&format!("{}/", self.endpoint.base))
            .map_err(|e| DistributionError::Protocol(e.to_string()))?;
        base.join(loc)
            .map_err(|e| DistributionError::Protocol(format!("bad Location {loc:?}: {e}")))
    }
}

/// Headers helper for tests and callers: an empty map.
pub fn no_headers() -> HeaderMap {
    HeaderMap::new()
}

/// `401 Unauthorized`, `404 Not Found`: the status line's text.
pub fn status_line(s: u16) -> String {
    format!("{s} {}", status_text(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_rules() {
        let d = Distribution::new(Options {
            insecure_registries: vec!["reg.lan:5000".into(), "10.1.0.0/16".into()],
            ..Default::default()
        })
        .unwrap();
        assert!(d.is_insecure("127.0.0.1:5000"));
        assert!(d.is_insecure("127.9.9.9"));
        assert!(d.is_insecure("localhost:5000"));
        assert!(d.is_insecure("[::1]:5000"));
        assert!(d.is_insecure("reg.lan:5000"));
        assert!(d.is_insecure("10.1.2.3:443"));
        assert!(!d.is_insecure("10.2.0.1"));
        assert!(!d.is_insecure("quay.io"));
        assert_eq!(
            d.endpoints("docker.io", true),
            vec![Endpoint {
                base: "https://registry-1.docker.io".into(),
                skip_verify: false,
                mirror: false
            }]
        );
        let e = d.endpoints("127.0.0.1:5000", true);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].base, "http://127.0.0.1:5000");
    }
}
