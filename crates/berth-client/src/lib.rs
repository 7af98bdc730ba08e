//! Docker Engine API client over a UNIX socket.
//!
//! [`Client`] speaks HTTP/1.1 (hyper 1) to a daemon at `unix:///path`,
//! settles the API version (the lower of the daemon's and
//! [`MAX_API_VERSION`]) from the first answer — a daemon older than this
//! client says "too new" and names its version — or, before a streamed
//! body, from `GET /_ping`'s `Api-Version` header; prefixes every path
//! with `/v{version}`, keeps one keep-alive connection for consecutive
//! requests, and turns answers of 400 and above into [`Error::Daemon`]
//! carrying the daemon's `{"message": ...}` text (or [`Error::EmptyAnswer`]
//! when there is no body). As in docker's client, 3xx answers are success:
//! dockerd and berthd answer `304 Not Modified` to a stop of a stopped
//! container or a start of a running one. Streams: [`Body`] for chunked bodies
//! (logs, events, progress), [`Client::hijack`] for `attach`/`exec start`
//! (HTTP Upgrade `tcp`, status 101), [`stdcopy`] to demultiplex them and
//! [`progress`] for JSON progress messages.
//!
//! Everything is async on tokio; callers are expected to run a
//! current-thread runtime (the CLI does) — connection tasks are spawned
//! with `tokio::spawn`.

pub mod progress;
pub mod stdcopy;

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// Response headers ([`Client::request_with_response_headers`]).
pub use hyper::HeaderMap;
/// HTTP methods for [`Client::request`].
pub use hyper::Method;

/// The highest Engine API version this client speaks; the negotiated
/// version is `min(this, daemon's Api-Version)`.
pub const MAX_API_VERSION: &str = "1.47";

/// Default daemon address when neither `-H` nor `DOCKER_HOST` is given.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A connection that was upgraded for attach/exec: read the container's
/// output from it, write its stdin to it, shut down the write half to send
/// EOF on stdin.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// Errors of every client call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be reached (docker's wording).
    #[error("Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")]
    Connect {
        /// The `-H` address, e.g. `unix:///run/berth/berth.sock`.
        host: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The daemon answered with a non-2xx status; `message` is the body's
    /// `message` field (or the trimmed body text when it is not JSON).
    #[error("Error response from daemon: {message}")]
    Daemon {
        /// HTTP status code (404 for "No such container", 409 conflict...).
        status: u16,
        /// The daemon's message text.
        message: String,
    },
    /// An `-H` value this client cannot use.
    #[error("{0}")]
    BadHost(String),
    /// HTTP-level failure (connection reset mid-request...).
    #[error("error during connect: {0}")]
    Http(#[from] hyper::Error),
    /// The daemon's body was not the JSON expected.
    #[error("error decoding response body: {0}")]
    Json(#[from] serde_json::Error),
    /// Local I/O (reading an input file, the socket after upgrade).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The daemon did not switch protocols for a hijack request.
    #[error("the daemon did not upgrade the connection (status {0})")]
    NoUpgrade(u16),
    /// The daemon answered an error status with an empty body; worded as
    /// docker's client words it (without "Error response from daemon").
    #[error(
        "request returned {} for API route and version {url}, check if the server supports the requested API version",
        status_text(.status)
    )]
    EmptyAnswer {
        /// HTTP status code.
        status: u16,
        /// The request's URL as docker's client shows it:
        /// `http://<socket path, %-escaped>/v<version><path>`.
        url: String,
    },
}

impl Error {
    /// The HTTP status of a daemon error, `None` for other errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Daemon { status, .. } | Error::EmptyAnswer { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `500 Internal Server Error`: the code and its reason phrase.
fn status_text(status: &u16) -> String {
    match StatusCode::from_u16(*status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(r) => format!("{status} {r}"),
        None => status.to_string(),
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A request body: empty, a whole buffer, or a stream of chunks fed
/// through [`BodySender`] (for `POST /images/load` of a large archive).
pub struct ReqBody {
    inner: ReqInner,
    len: Option<u64>,
}

enum ReqInner {
    Full(Option<Bytes>),
    Channel(tokio::sync::mpsc::Receiver<io::Result<Bytes>>),
}

/// The sending end of a streamed request body: `send` chunks in order,
/// drop it to end the body.
pub type BodySender = tokio::sync::mpsc::Sender<io::Result<Bytes>>;

impl ReqBody {
    /// No body.
    pub fn empty() -> Self {
        ReqBody {
            inner: ReqInner::Full(None),
            len: Some(0),
        }
    }
    /// A body of these bytes.
    pub fn bytes(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        ReqBody {
            len: Some(b.len() as u64),
            inner: ReqInner::Full(Some(b)),
        }
    }
    /// A second body of the same bytes; `None` for a streamed body, which
    /// can be sent only once.
    fn try_clone(&self) -> Option<Self> {
        match &self.inner {
            ReqInner::Full(b) => Some(ReqBody {
                inner: ReqInner::Full(b.clone()),
                len: self.len,
            }),
            ReqInner::Channel(_) => None,
        }
    }
    /// A JSON body of `v`.
    pub fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Self> {
        Ok(Self::bytes(serde_json::to_vec(v)?))
    }
    /// A streamed body; `len` (when known) is sent as Content-Length,
    /// else the body goes chunked.
    pub fn channel(len: Option<u64>) -> (BodySender, Self) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        (
            tx,
            ReqBody {
                inner: ReqInner::Channel(rx),
                len,
            },
        )
    }
}

impl hyper::body::Body for ReqBody {
    type Data = Bytes;
    type Error = io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        match &mut self.inner {
            ReqInner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqInner::Channel(rx) => rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }
    fn is_end_stream(&self) -> bool {
        matches!(&self.inner, ReqInner::Full(None))
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        match self.len {
            Some(n) => hyper::body::SizeHint::with_exact(n),
            None => hyper::body::SizeHint::default(),
        }
    }
}

/// A streamed response body (logs, events, JSON progress, wait result).
pub struct Body {
    inner: Incoming,
}

impl Body {
    /// The next data chunk, `None` at the end of the body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            match self.inner.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        return Ok(Some(d));
                    }
                }
            }
        }
    }
    /// The whole remaining body.
    pub async fn bytes(self) -> Result<Bytes> {
        Ok(self.inner.collect().await?.to_bytes())
    }
    /// The whole remaining body parsed as JSON.
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        Ok(serde_json::from_slice(&self.bytes().await?)?)
    }
}

/// Engine API client bound to one daemon address.
pub struct Client {
    host: String,
    path: PathBuf,
    api: Option<String>,
    sender: Option<SendRequest<ReqBody>>,
}

/// Parses an `-H`/`DOCKER_HOST` value into a socket path. Accepts
/// `unix:///path` and a bare absolute path; `tcp://`, `ssh://`, `npipe://`
/// are refused with docker-like text.
pub fn parse_host(host: &str) -> Result<PathBuf> {
    if let Some(p) = host.strip_prefix("unix://") {
        if p.is_empty() {
            return Err(Error::BadHost(format!(
                "invalid bind address ({host}): empty path"
            )));
        }
        Ok(PathBuf::from(p))
    } else if host.starts_with('/') {
        Ok(PathBuf::from(host))
    } else if host.contains("://") {
        Err(Error::BadHost(format!(
            "unsupported protocol in host {host}: berth speaks to unix:// sockets only"
        )))
    } else {
        Err(Error::BadHost(format!(
            "unable to parse docker host `{host}`"
        )))
    }
}

/// Compares dotted API versions ("1.9" < "1.41").
pub fn version_lt(a: &str, b: &str) -> bool {
    let p = |s: &str| {
        s.split('.')
            .map(|x| x.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    p(a) < p(b)
}

impl Client {
    /// A client for `host` (`unix:///path`). Connects lazily. If
    /// `DOCKER_API_VERSION` is set, that version is used without `/_ping`.
    pub fn new(host: &str) -> Result<Self> {
        let path = parse_host(host)?;
        let host = if host.starts_with('/') {
            format!("unix://{host}")
        } else {
            host.to_string()
        };
        let api = std::env::var("DOCKER_API_VERSION")
            .ok()
            .filter(|v| !v.is_empty());
        Ok(Client {
            host,
            path,
            api,
            sender: None,
        })
    }

    /// A second client to the same daemon with the same negotiated version
    /// and its own connection (for requests that must run concurrently,
    /// e.g. `wait` while `start`).
    pub fn sibling(&self) -> Client {
        Client {
            host: self.host.clone(),
            path: self.path.clone(),
            api: self.api.clone(),
            sender: None,
        }
    }

    /// The daemon address this client uses.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The URL of `path` at the version in use, as docker's client prints
    /// it in errors: `http://%2Frun%2Fberth%2Fberth.sock/v1.47/containers/x/stop`.
    fn route_url(&self, path: &str) -> String {
        let mut host = String::new();
        for b in self.path.to_string_lossy().bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:".contains(&b) {
                host.push(b as char);
            } else {
                host.push_str(&format!("%{b:02X}"));
            }
        }
        let v = self.api.as_deref().unwrap_or(MAX_API_VERSION);
        format!("http://{host}/v{v}{path}")
    }

    async fn connect(&self) -> Result<SendRequest<ReqBody>> {
        let stream = UnixStream::connect(&self.path)
            .await
            .map_err(|source| Error::Connect {
                host: self.host.clone(),
                source,
            })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    async fn send(&mut self, req: Request<ReqBody>) -> Result<Response<Incoming>> {
        let mut sender = match self.sender.take() {
            Some(mut s) => match s.ready().await {
                Ok(()) => s,
                Err(_) => self.connect().await?,
            },
            None => self.connect().await?,
        };
        let resp = sender.send_request(req).await?;
        self.sender = Some(sender);
        Ok(resp)
    }

    /// `GET /_ping` and adopt `min(Api-Version, MAX_API_VERSION)`.
    /// Returns the negotiated version. Called implicitly by the first
    /// versioned request.
    pub async fn negotiate(&mut self) -> Result<String> {
        if let Some(v) = &self.api {
            return Ok(v.clone());
        }
        let req = Request::get("/_ping")
            .header("host", "api")
            .body(ReqBody::empty())
            .expect("request");
        let resp = self.send(req).await?;
        let server = resp
            .headers()
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        let v = match server {
            Some(s) if version_lt(&s, MAX_API_VERSION) => s,
            Some(_) => MAX_API_VERSION.to_string(),
            None if status.is_success() => MAX_API_VERSION.to_string(),
            None => "1.24".to_string(),
        };
        self.api = Some(v.clone());
        Ok(v)
    }

    /// The negotiated API version (negotiating first if needed).
    pub async fn api_version(&mut self) -> Result<String> {
        self.negotiate().await
    }

    fn build(
        &self,
        v: &str,
        method: Method,
        path: &str,
        body: ReqBody,
        ctype: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Request<ReqBody>> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("/v{v}{path}"))
            .header("host", "api");
        if let Some(ct) = ctype {
            b = b.header("content-type", ct);
        }
        for (k, val) in headers {
            let name = hyper::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
            let value = hyper::header::HeaderValue::from_str(val)
                .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
            b = b.header(name, value);
        }
        Ok(b.body(body).expect("valid request"))
    }

    /// Sends `method /v{version}{path}`. Before the version is known, a
    /// request whose body can be sent twice goes out at once at
    /// [`MAX_API_VERSION`] instead of after a `GET /_ping` (one round trip
    /// less per command): a daemon that speaks it answers and the version
    /// is settled; an older one answers 400 `client version X is too new.
    /// Maximum supported API version is Y` (dockerd's and berthd's words)
    /// and the request is sent again at Y. A streamed body negotiates
    /// with `/_ping` first, as docker's client always does.
    async fn send_api(
        &mut self,
        method: Method,
        path: &str,
        body: ReqBody,
        ctype: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>> {
        let again = match (&self.api, body.try_clone()) {
            (None, Some(copy)) => copy,
            _ => {
                let v = self.negotiate().await?;
                let req = self.build(&v, method, path, body, ctype, headers)?;
                return self.send(req).await;
            }
        };
        let req = self.build(MAX_API_VERSION, method.clone(), path, body, ctype, headers)?;
        let resp = self.send(req).await?;
        if resp.status() != StatusCode::BAD_REQUEST {
            self.api = Some(MAX_API_VERSION.to_string());
            return Ok(resp);
        }
        let json = is_json(&resp);
        let bytes = resp.into_body().collect().await?.to_bytes();
        let message = daemon_message(&bytes);
        let v = match too_new_max(&message) {
            Some(max) => {
                self.api = Some(max.clone());
                max
            }
            // A 400 that names no version: the answer to a HEAD has no
            // body to name it in (cp's stat), or the request was bad.
            // `/_ping` tells which.
            None => self.negotiate().await?,
        };
        if v == MAX_API_VERSION {
            return Err(error_of(400, json, &bytes, || self.route_url(path)));
        }
        let req = self.build(&v, method, path, again, ctype, headers)?;
        self.send(req).await
    }

    /// Sends `method path` (path includes the query, without the version
    /// prefix) and returns the streamed body of a 2xx answer; other
    /// statuses become [`Error::Daemon`].
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: ReqBody,
        ctype: Option<&str>,
    ) -> Result<Body> {
        self.request_with_headers(method, path, body, ctype, &[])
            .await
    }

    /// Like [`Client::request`], also returning the answer's headers (the
    /// `X-Docker-Container-Path-Stat` of `/containers/{id}/archive`).
    pub async fn request_with_response_headers(
        &mut self,
        method: Method,
        path: &str,
        body: ReqBody,
        ctype: Option<&str>,
    ) -> Result<(hyper::HeaderMap, Body)> {
        let resp = self.send_api(method, path, body, ctype, &[]).await?;
        let headers = resp.headers().clone();
        Ok((headers, check(resp, || self.route_url(path)).await?))
    }

    /// Like [`Client::request`], with extra request headers (e.g.
    /// `X-Registry-Auth` for pull, push and search: base64url of the
    /// JSON auth config, as docker's client sends it).
    pub async fn request_with_headers(
        &mut self,
        method: Method,
        path: &str,
        body: ReqBody,
        ctype: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Body> {
        let resp = self.send_api(method, path, body, ctype, headers).await?;
        check(resp, || self.route_url(path)).await
    }

    /// `GET path`, body parsed as JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        self.request(Method::GET, path, ReqBody::empty(), None)
            .await?
            .json()
            .await
    }

    /// `POST path` with an optional JSON body; the answer's body is
    /// returned raw (often empty: 204).
    pub async fn post(&mut self, path: &str, json: Option<&serde_json::Value>) -> Result<Bytes> {
        let (body, ct) = match json {
            Some(v) => (ReqBody::json(v)?, Some("application/json")),
            None => (ReqBody::empty(), None),
        };
        self.request(Method::POST, path, body, ct)
            .await?
            .bytes()
            .await
    }

    /// `POST path` with a JSON body, answer parsed as JSON.
    pub async fn post_json<T: serde::de::DeserializeOwned>(
        &mut self,
        path: &str,
        json: &serde_json::Value,
    ) -> Result<T> {
        let b = self.post(path, Some(json)).await?;
        Ok(serde_json::from_slice(&b)?)
    }

    /// `DELETE path`; the raw answer body.
    pub async fn delete(&mut self, path: &str) -> Result<Bytes> {
        self.request(Method::DELETE, path, ReqBody::empty(), None)
            .await?
            .bytes()
            .await
    }

    /// Sends a request asking for a protocol switch (`Connection: Upgrade`,
    /// `Upgrade: tcp`), as docker does for `POST /containers/{id}/attach`
    /// and `POST /exec/{id}/start`, and returns the raw bidirectional
    /// stream once the daemon answers 101. A daemon that answers 200
    /// without upgrading is refused with [`Error::NoUpgrade`]; other
    /// statuses become [`Error::Daemon`]. Uses this client's connection,
    /// which is consumed: the next request opens a new one.
    pub async fn hijack(
        &mut self,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Upgraded> {
        let (body, ct) = match json {
            Some(v) => (ReqBody::json(v)?, Some("application/json")),
            None => (ReqBody::empty(), None),
        };
        let resp = self
            .send_api(
                Method::POST,
                path,
                body,
                ct,
                &[("connection", "Upgrade"), ("upgrade", "tcp")],
            )
            .await?;
        self.sender = None;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = resp.status().as_u16();
            check(resp, || self.route_url(path)).await?;
            return Err(Error::NoUpgrade(status));
        }
        let up = hyper::upgrade::on(resp).await?;
        Ok(TokioIo::new(up))
    }
}

/// The version Y of a daemon's `client version X is too new. Maximum
/// supported API version is Y` (400; moby api/server/middleware/version.go
/// words it so, as does berthd).
fn too_new_max(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("is too new. Maximum supported API version is ")?;
    let v = rest.trim();
    let ok = !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| v.to_string())
}

/// The body of a successful answer, or the error of a failed one. As in
/// docker's client, every status from 200 to 399 is success (a `304 Not
/// Modified` answers a stop of a stopped container), and so is 101 (a
/// hijack). `url` names the request in the error for an empty body.
async fn check(resp: Response<Incoming>, url: impl FnOnce() -> String) -> Result<Body> {
    let status = resp.status();
    if status.is_success() || status.is_redirection() || status == StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Body {
            inner: resp.into_body(),
        });
    }
    let json = is_json(&resp);
    let body = resp.into_body().collect().await?.to_bytes();
    Err(error_of(status.as_u16(), json, &body, url))
}

/// Whether an answer says its body is JSON.
fn is_json(resp: &Response<Incoming>) -> bool {
    resp.headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json")
}

/// The error for a failed answer's `status` and `body` (`json`: its
/// Content-Type is application/json). Never a blank message: an empty
/// body is [`Error::EmptyAnswer`] naming the status and `url()`, a JSON
/// body without a message (or a blank text) says so with the status, as
/// docker's client does (`API returned a 404 (Not Found) but provided no
/// error-message`).
fn error_of(status: u16, json: bool, body: &[u8], url: impl FnOnce() -> String) -> Error {
    if body.is_empty() {
        return Error::EmptyAnswer { status, url: url() };
    }
    let json_message = || {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        v.as_object()?;
        Some(v["message"].as_str().unwrap_or("").trim().to_string())
    };
    let message = match json.then(json_message).flatten() {
        Some(m) => m,
        None => daemon_message(body),
    };
    let message = if message.is_empty() {
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        format!("API returned a {status} ({reason}) but provided no error-message")
    } else {
        message
    };
    Error::Daemon { status, message }
}

/// The message of a daemon error body: the `message` field of
/// `{"message": "..."}` (trimmed, as docker's client does), else the
/// trimmed text.
pub fn daemon_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        message: String,
    }
    // docker's client trims the message (some daemon texts end in a space)
    match serde_json::from_slice::<E>(body) {
        Ok(e) => e.message.trim().to_string(),
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    }
}

/// Percent-encodes a query-string component (RFC 3986 unreserved kept).
pub fn qs(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_new_answers_name_the_daemon_version() {
        assert_eq!(
            too_new_max("client version 1.47 is too new. Maximum supported API version is 1.41")
                .as_deref(),
            Some("1.41")
        );
        assert_eq!(too_new_max("No such container: x"), None);
        assert_eq!(
            too_new_max("client version 1.47 is too new. Maximum supported API version is "),
            None
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///run/x.sock").unwrap(),
            PathBuf::from("/run/x.sock")
        );
        assert_eq!(
            parse_host("/tmp/d.sock").unwrap(),
            PathBuf::from("/tmp/d.sock")
        );
        assert!(parse_host("tcp://1.2.3.4:2375").is_err());
        assert!(parse_host("unix://").is_err());
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_lt("1.9", "1.41"));
        assert!(version_lt("1.41", "1.47"));
        assert!(!version_lt("1.47", "1.47"));
        assert!(!version_lt("1.50", "1.47"));
    }

    #[test]
    fn daemon_messages() {
        assert_eq!(
            daemon_message(br#"{"message":"No such container: x"}"#),
            "No such container: x"
        );
        assert_eq!(daemon_message(b"page not found\n"), "page not found");
    }

    #[test]
    fn query_escaping() {
        assert_eq!(
            qs(r#"{"status":["exited"]}"#),
            "%7B%22status%22%3A%5B%22exited%22%5D%7D"
        );
        assert_eq!(qs("a-b_c.d~"), "a-b_c.d~");
    }

    #[test]
    fn error_texts_match_docker() {
        let e = Error::Daemon {
            status: 404,
            message: "No such container: x".into(),
        };
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such container: x"
        );
        let e = Error::Connect {
            host: "unix:///x.sock".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(
            e.to_string(),
            "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?"
        );
    }

    /// A fake daemon on a UNIX socket under a fresh temp dir named after
    /// `name`: it answers one connection's requests with `answers` in
    /// order and returns the request lines' paths (after a 200 ms grace
    /// for anything more), then removes its dir.
    fn fake_daemon(
        name: &str,
        answers: Vec<&'static [u8]>,
    ) -> (PathBuf, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let dir = std::env::temp_dir().join(format!("berth-client-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("d.sock");
        let _ = std::fs::remove_file(&sock);
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut r = BufReader::new(s);
            let mut paths = Vec::new();
            for resp in answers {
                let mut line = String::new();
                r.read_line(&mut line).await.unwrap();
                paths.push(line.split(' ').nth(1).unwrap().to_string());
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).await.unwrap();
                    if h == "\r\n" {
                        break;
                    }
                }
                r.get_mut().write_all(resp).await.unwrap();
            }
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(200),
                r.read_to_end(&mut rest),
            )
            .await;
            std::fs::remove_dir_all(&dir).unwrap();
            paths
        });
        (sock, server)
    }

    async fn paths_of(server: tokio::task::JoinHandle<Vec<String>>) -> Vec<String> {
        tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap()
    }

    /// A real exchange over a UNIX socket with a tiny fake daemon older
    /// than this client: the first request goes out at MAX_API_VERSION
    /// without a ping, the daemon's "too new" answer settles the version
    /// and the request is sent again; then keep-alive reuse and error
    /// mapping.
    #[tokio::test(flavor = "current_thread")]
    async fn ping_negotiates_and_errors_map() {
        let (sock, server) = fake_daemon(
            "test",
            vec![
                b"HTTP/1.1 400 Bad Request\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\nContent-Length: 84\r\n\r\n{\"message\":\"client version 1.47 is too new. Maximum supported API version is 1.43\"}\n",
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"Version\":1}",
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n{\"message\":\"No such container: x\"}\n",
            ],
        );
        let mut c = Client::new(&format!("unix://{}", sock.display())).unwrap();
        c.api = None;
        let v: serde_json::Value = c.get_json("/version").await.unwrap();
        assert_eq!(v["Version"], 1);
        let e = c
            .get_json::<serde_json::Value>("/containers/x/json")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such container: x"
        );
        drop(c);
        assert_eq!(
            paths_of(server).await,
            vec![
                format!("/v{MAX_API_VERSION}/version"),
                "/v1.43/version".to_string(),
                "/v1.43/containers/x/json".to_string()
            ]
        );
    }

    /// Statuses as docker's client takes them: a 304 (stop of a stopped
    /// container) is success with an empty body; an error with an empty
    /// body names the status and the route instead of a blank message;
    /// a JSON error without a message says so; a text body is the message.
    #[tokio::test(flavor = "current_thread")]
    async fn not_modified_is_success_and_errors_are_never_blank() {
        let (sock, server) = fake_daemon(
            "status",
            vec![
                b"HTTP/1.1 304 Not Modified\r\nApi-Version: 1.47\r\n\r\n",
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"message\":\"\"}",
                b"HTTP/1.1 409 Conflict\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n some text \n",
            ],
        );
        let mut c = Client::new(&format!("unix://{}", sock.display())).unwrap();
        c.api = None;
        let b = c.post("/containers/x/stop", None).await.unwrap();
        assert!(b.is_empty());
        let e = c.post("/containers/x/stop?t=1", None).await.unwrap_err();
        assert_eq!(e.status(), Some(500));
        let escaped = sock.display().to_string().replace('/', "%2F");
        assert_eq!(
            e.to_string(),
            format!(
                "request returned 500 Internal Server Error for API route and version \
                 http://{escaped}/v{MAX_API_VERSION}/containers/x/stop?t=1, check if the \
                 server supports the requested API version"
            )
        );
        let e = c.post("/containers/x/pause", None).await.unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert_eq!(
            e.to_string(),
            "Error response from daemon: API returned a 404 (Not Found) but provided no error-message"
        );
        let e = c.post("/containers/x/start", None).await.unwrap_err();
        assert_eq!(e.to_string(), "Error response from daemon: some text");
        drop(c);
        assert_eq!(paths_of(server).await.len(), 4);
    }

    /// A HEAD first (`cp`'s stat) to an older daemon: its 400 has no body
    /// to name the version in, so `/_ping` settles it and the HEAD is sent
    /// again (dockerd 20.10 answers so; a CI run of `berth cp -L` against
    /// it caught the stat coming back empty).
    #[tokio::test(flavor = "current_thread")]
    async fn head_to_an_older_daemon_negotiates_with_ping() {
        let (sock, server) = fake_daemon(
            "head",
            vec![
                b"HTTP/1.1 400 Bad Request\r\nApi-Version: 1.41\r\nContent-Length: 84\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK",
                b"HTTP/1.1 200 OK\r\nX-Docker-Container-Path-Stat: e30=\r\nContent-Length: 0\r\n\r\n",
            ],
        );
        let mut c = Client::new(&format!("unix://{}", sock.display())).unwrap();
        c.api = None;
        let (h, _) = c
            .request_with_response_headers(
                Method::HEAD,
                "/containers/x/archive?path=%2F",
                ReqBody::empty(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(h["x-docker-container-path-stat"], "e30=");
        drop(c);
        assert_eq!(
            paths_of(server).await,
            vec![
                format!("/v{MAX_API_VERSION}/containers/x/archive?path=%2F"),
                "/_ping".to_string(),
                "/v1.41/containers/x/archive?path=%2F".to_string()
            ]
        );
    }

    /// A hijacked attach over a real UNIX socket: the request carries
    /// `Upgrade: tcp`, the 101 answer switches to raw bytes both ways, and
    /// a half-close of our write side reaches the daemon as EOF.
    #[tokio::test(flavor = "current_thread")]
    async fn hijack_upgrades_and_streams_both_ways() {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let dir = std::env::temp_dir().join(format!("berth-client-hijack-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("d.sock");
        let _ = std::fs::remove_file(&sock);
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut r = BufReader::new(s);
            let mut head = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).await.unwrap();
                if h == "\r\n" {
                    break;
                }
                head.push(h.trim_end().to_ascii_lowercase());
            }
            r.get_mut()
                .write_all(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
                .await
                .unwrap();
            r.get_mut()
                .write_all(&stdcopy::encode_frame(
                    stdcopy::StreamKind::Stdout,
                    b"ready\n",
                ))
                .await
                .unwrap();
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap(); // ends at the client's half-close
            r.get_mut()
                .write_all(&stdcopy::encode_frame(stdcopy::StreamKind::Stderr, &got))
                .await
                .unwrap();
            head
        });
        let mut c = Client::new(&format!("unix://{}", sock.display())).unwrap();
        c.api = Some("1.47".into());
        let mut up = c
            .hijack("/containers/x/attach?stream=1&stdin=1", None)
            .await
            .unwrap();
        let mut d = stdcopy::Demuxer::new();
        let mut buf = [0u8; 64];
        let frame = loop {
            let n = up.read(&mut buf).await.unwrap();
            d.push(&buf[..n]);
            if let Some(f) = d.next_frame().unwrap() {
                break f;
            }
        };
        assert_eq!(
            frame,
            (stdcopy::StreamKind::Stdout, Bytes::from_static(b"ready\n"))
        );
        up.write_all(b"typed input").await.unwrap();
        up.shutdown().await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(5), up.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        d.push(&rest);
        assert_eq!(
            d.next_frame().unwrap(),
            Some((
                stdcopy::StreamKind::Stderr,
                Bytes::from_static(b"typed input")
            ))
        );
        let head = tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            head[0],
            "post /v1.47/containers/x/attach?stream=1&stdin=1 http/1.1"
        );
        assert!(head.contains(&"upgrade: tcp".to_string()), "{head:?}");
        assert!(
            head.contains(&"connection: upgrade".to_string()),
            "{head:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
