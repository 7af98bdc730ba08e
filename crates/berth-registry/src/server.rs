//! The HTTP side: listener (plain or TLS), routing of the distribution
//! spec's endpoints (spec.md "Endpoints", end-1 to end-13 plus the
//! `/v2/_catalog` extension), auth checks, and one log line per request.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_types::{Digest, Digester};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::auth::{self, Access, Auth, Decision, Htpasswd, TokenAuth};
use crate::config::{AuthConfig, Config};
use crate::error::{Code, RegistryError, Result};
use crate::manifest::{MAX_MANIFEST_BYTES, OCI_INDEX};
use crate::storage::{self, Reference, Storage};

/// Response body type: streamed file bytes or small buffers.
pub type Body = BoxBody<Bytes, io::Error>;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding the listen address failed.
    #[error("listening on {0}: {1}")]
    Bind(SocketAddr, io::Error),
    /// The storage root could not be opened.
    #[error("opening storage root {0}: {1}")]
    Storage(std::path::PathBuf, io::Error),
    /// TLS or auth configuration is unusable.
    #[error("{0}")]
    Config(String),
}

pub(crate) struct App {
    storage: Storage,
    tls: bool,
    /// [`Config::sendfile_loopback`].
    sendfile_loopback: bool,
    pub(crate) auth: Auth,
    /// Path of the built-in token endpoint, in token mode.
    token_path: Option<String>,
}

/// A running registry server.
///
/// Start it with [`Server::start`]; it serves until [`Server::shutdown`]
/// (or until dropped, which also stops it).
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Opens storage, binds `config.listen` and starts serving on the
    /// current tokio runtime. Returns once the socket is bound.
    ///
    /// Errors: [`StartError`] for an unusable address, root, TLS files or
    /// auth files.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let storage =
            Storage::open(&config.root).map_err(|e| StartError::Storage(config.root.clone(), e))?;
        storage.clean_tmp();
        let (auth, token_path) = build_auth(&config.auth)?;
        let tls = match &config.tls {
            Some(t) => Some(tls_acceptor(&t.cert, &t.key)?),
            None => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Bind(config.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(config.listen, e))?;
        let app = Arc::new(App {
            storage,
            tls: tls.is_some(),
            sendfile_loopback: config.sendfile_loopback,
            auth,
            token_path,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let is_tls = tls.is_some();
        let task = tokio::spawn(accept_loop(listener, tls, app, stop_rx));
        tracing::info!(%addr, tls = is_tls, root = %config.root.display(), "berth-registry listening");
        Ok(Server {
            addr,
            tls: is_tls,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Stops accepting, closes every connection, and waits for the accept
    /// loop to end.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Waits until the server stops (it only stops via `shutdown`).
    pub async fn wait(mut self) {
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Runs a registry with `config` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let server = Server::start(config).await?;
    shutdown.await;
    server.shutdown().await;
    Ok(())
}

fn build_auth(cfg: &AuthConfig) -> Result<(Auth, Option<String>), StartError> {
    Ok(match cfg {
        AuthConfig::None => (Auth::None, None),
        AuthConfig::Htpasswd(p) => (
            Auth::Basic(
                Htpasswd::load(p).map_err(StartError::Config)?,
                "berth-registry".to_string(),
            ),
            None,
        ),
        AuthConfig::Token(t) => {
            let users = match &t.htpasswd {
                Some(p) => Some(Htpasswd::load(p).map_err(StartError::Config)?),
                None => None,
            };
            let key = match &t.key_file {
                Some(p) => std::fs::read(p).map_err(|e| {
                    StartError::Config(format!("reading token key {}: {e}", p.display()))
                })?,
                None => {
                    let mut k = vec![0u8; 32];
                    getrandom::getrandom(&mut k)
                        .map_err(|e| StartError::Config(format!("random key: {e}")))?;
                    k
                }
            };
            let path = realm_path(&t.realm).ok_or_else(|| {
                StartError::Config(format!("token realm {:?} is not an http(s) URL", t.realm))
            })?;
            (
                Auth::Token(TokenAuth::new(
                    t.realm.clone(),
                    t.service.clone(),
                    t.issuer.clone(),
                    t.ttl,
                    t.anonymous_pull,
                    users,
                    &key,
                )),
                Some(path),
            )
        }
    })
}

fn realm_path(realm: &str) -> Option<String> {
    if realm.starts_with('/') {
        return Some(realm.split('?').next().unwrap_or(realm).to_string());
    }
    let rest = realm
        .strip_prefix("http://")
        .or_else(|| realm.strip_prefix("https://"))?;
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    let path = path.split('?').next().unwrap_or("/");
    Some(path.to_string())
}

fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    let cfg_err = |m: String| StartError::Config(m);
    let mut cert_rd = io::BufReader::new(
        std::fs::File::open(cert)
            .map_err(|e| cfg_err(format!("opening {}: {e}", cert.display())))?,
    );
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_rd)
        .collect::<Result<_, _>>()
        .map_err(|e| cfg_err(format!("reading certificates {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(cfg_err(format!("no certificate in {}", cert.display())));
    }
    let mut key_rd = io::BufReader::new(
        std::fs::File::open(key).map_err(|e| cfg_err(format!("opening {}: {e}", key.display())))?,
    );
    let key = rustls_pemfile::private_key(&mut key_rd)
        .map_err(|e| cfg_err(format!("reading key {}: {e}", key.display())))?
        .ok_or_else(|| cfg_err(format!("no private key in {}", key.display())))?;
    let mut sc = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| cfg_err(format!("TLS versions: {e}")))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| cfg_err(format!("TLS certificate/key: {e}")))?;
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(sc)))
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<App>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let zero_copy = app.zero_copy(peer);
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(app, req, peer).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            // Drop clients that never finish sending their headers.
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(60));
            let res = match tls {
                Some(acc) => {
                    match tokio::time::timeout(Duration::from_secs(30), acc.accept(stream)).await {
                        Ok(Ok(s)) => builder.serve_connection(TokioIo::new(s), svc).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "TLS handshake: {e}");
                            return;
                        }
                        Err(_) => return,
                    }
                }
                // Plain TCP: blob bodies go out with sendfile(2); the
                // vectored ("queue") writer keeps their frames intact.
                None if zero_copy => {
                    builder.writev(true);
                    let io = crate::zerocopy::SendfileStream::new(stream);
                    builder.serve_connection(TokioIo::new(io), svc).await
                }
                None => builder.serve_connection(TokioIo::new(stream), svc).await,
            };
            if let Err(e) = res {
                tracing::debug!(%peer, "connection: {e}");
            }
        });
    }
    conns.shutdown().await;
}

// ---- responses ---------------------------------------------------------

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

fn resp(status: StatusCode) -> http::response::Builder {
    Response::builder()
        .status(status)
        .header("Docker-Distribution-API-Version", "registry/2.0")
}

pub(crate) fn json_resp(status: StatusCode, v: &Value) -> Response<Body> {
    let b = serde_json::to_vec(v).expect("serialise json");
    resp(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, b.len())
        .body(full(b))
        .expect("response")
}

pub(crate) fn error_resp(e: &RegistryError) -> Response<Body> {
    if let RegistryError::Internal(err) = e {
        tracing::error!("internal error: {err}");
    }
    json_resp(e.status(), &e.body())
}

fn no_content(status: StatusCode) -> http::response::Builder {
    resp(status).header(header::CONTENT_LENGTH, "0")
}

// ---- request plumbing -------------------------------------------------------

/// A routed request.
#[derive(Debug)]
enum Route {
    Base,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    Uploads(String),
    Upload(String, String),
    Referrers(String, String),
    Token,
    NotFound,
}

fn route(path: &str, token_path: Option<&str>) -> Route {
    if Some(path) == token_path {
        return Route::Token;
    }
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let Some(rest) = decoded
        .strip_prefix("/v2/")
        .or_else(|| (decoded == "/v2").then_some(""))
    else {
        return Route::NotFound;
    };
    if rest.is_empty() {
        return Route::Base;
    }
    if rest == "_catalog" {
        return Route::Catalog;
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Route::Tags(name.to_string());
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Route::Uploads(name.to_string());
    }
    if let Some(i) = rest.rfind("/blobs/uploads/") {
        return Route::Upload(rest[..i].to_string(), rest[i + 15..].to_string());
    }
    if let Some((name, r)) = rest.rsplit_once("/manifests/") {
        return Route::Manifest(name.to_string(), r.to_string());
    }
    if let Some((name, d)) = rest.rsplit_once("/blobs/") {
        return Route::Blob(name.to_string(), d.to_string());
    }
    if let Some((name, d)) = rest.rsplit_once("/referrers/") {
        return Route::Referrers(name.to_string(), d.to_string());
    }
    Route::NotFound
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn query_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    header_str(h, "content-length").and_then(|v| v.trim().parse().ok())
}

fn parse_digest(s: &str) -> Result<Digest> {
    s.parse::<Digest>()
        .map_err(|e| RegistryError::new(Code::DigestInvalid, e.to_string()))
}

fn check_name(name: &str) -> Result<()> {
    if storage::valid_repo_name(name) {
        Ok(())
    } else {
        Err(RegistryError::new(
            Code::NameInvalid,
            format!("invalid repository name {name:?}"),
        ))
    }
}

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking task panicked")
}

fn repo_access(name: &str, actions: &[&str]) -> Access {
    Access {
        kind: "repository".into(),
        name: name.into(),
        actions: actions.iter().map(|a| a.to_string()).collect(),
    }
}

/// The accesses a request needs (token mode scopes).
fn needed_access(route: &Route, method: &Method, query: &[(String, String)]) -> Vec<Access> {
    let read = matches!(*method, Method::GET | Method::HEAD);
    match route {
        Route::Base | Route::Token | Route::NotFound => vec![],
        Route::Catalog => vec![Access {
            kind: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }],
        Route::Tags(n) | Route::Referrers(n, _) => vec![repo_access(n, &["pull"])],
        Route::Manifest(n, _) | Route::Blob(n, _) => {
            if read {
                vec![repo_access(n, &["pull"])]
            } else if *method == Method::DELETE {
                vec![repo_access(n, &["delete"])]
            } else {
                vec![repo_access(n, &["pull", "push"])]
            }
        }
        Route::Uploads(n) | Route::Upload(n, _) => {
            let mut v = vec![repo_access(n, &["pull", "push"])];
            if let Some(from) = query_get(query, "from") {
                if from != n {
                    v.push(repo_access(from, &["pull"]));
                }
            }
            v
        }
    }
}

/// Whether a GET's blob body goes out with `sendfile(2)`
/// ([`crate::zerocopy`]), per connection (a request extension).
#[derive(Clone, Copy)]
struct ZeroCopy(bool);

impl App {
    /// Blob bodies to `peer` go out with `sendfile(2)`: plain HTTP, and
    /// the peer not on loopback unless [`Config::sendfile_loopback`].
    fn zero_copy(&self, peer: SocketAddr) -> bool {
        !self.tls && (self.sendfile_loopback || !peer.ip().is_loopback())
    }
}

async fn handle(app: Arc<App>, mut req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    req.extensions_mut().insert(ZeroCopy(app.zero_copy(peer)));
    let start = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let route = route(uri.path(), app.token_path.as_deref());
    let query = query_pairs(uri.query());
    let authz = header_str(req.headers(), "authorization").map(str::to_string);
    let needed = needed_access(&route, &method, &query);
    let origin = format!(
        "{}://{}",
        if app.tls { "https" } else { "http" },
        header_str(req.headers(), "host").unwrap_or("127.0.0.1")
    );
    let (response, user) = if matches!(route, Route::Token) {
        if method == Method::POST {
            (crate::oauth::token_post(&app, req).await, String::new())
        } else {
            (
                token_endpoint(app.clone(), authz.as_deref(), &query).await,
                String::new(),
            )
        }
    } else {
        let decision = {
            let app = app.clone();
            let needed = needed.clone();
            let authz = authz.clone();
            if matches!(app.auth, Auth::Basic(..)) {
                // bcrypt is slow: keep it off the async workers.
                blocking(move || app.auth.decide(authz.as_deref(), &needed, &origin)).await
            } else {
                app.auth.decide(authz.as_deref(), &needed, &origin)
            }
        };
        match decision {
            Decision::Allow(user) => {
                let r = match dispatch(&app, route, req, &query, &user).await {
                    Ok(r) => r,
                    Err(e) => error_resp(&e),
                };
                (r, user)
            }
            Decision::Challenge(www) => {
                let e = RegistryError::new(Code::Unauthorized, "authentication required")
                    .with_detail(json!(needed
                    .iter()
                    .map(|a| json!({"Type": a.kind, "Name": a.name, "Action": a.actions.join(",")}))
                    .collect::<Vec<_>>()));
                let mut r = error_resp(&e);
                if let Ok(v) = HeaderValue::from_str(&www) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                (r, String::new())
            }
        }
    };
    tracing::info!(
        target: "berth_registry::access",
        peer = %peer,
        user = %user,
        method = %method,
        uri = %uri,
        status = response.status().as_u16(),
        elapsed_ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

async fn token_endpoint(
    app: Arc<App>,
    authz: Option<&str>,
    query: &[(String, String)],
) -> Response<Body> {
    let Auth::Token(t) = &app.auth else {
        return error_resp(&RegistryError::new(Code::Unsupported, "no token endpoint"));
    };
    let creds = authz.and_then(auth::parse_basic);
    let user = match creds {
        Some((u, p)) => {
            let app2 = app.clone();
            let u2 = u.clone();
            // bcrypt is slow: keep it off the async workers.
            let ok = blocking(move || match &app2.auth {
                Auth::Token(TokenAuth { users: Some(h), .. }) => h.verify(&u2, &p),
                _ => false,
            })
            .await;
            if !ok {
                let mut r = error_resp(&RegistryError::new(
                    Code::Unauthorized,
                    "invalid username or password",
                ));
                if let Ok(v) = HeaderValue::from_str("Basic realm=\"berth-registry token\"") {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return r;
            }
            Some(u)
        }
        None => None,
    };
    let requested: Vec<Access> = query
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            v.split(' ')
                .filter_map(Access::parse_scope)
                .collect::<Vec<_>>()
        })
        .collect();
    let (token, ttl) = t.issue(user.as_deref(), &requested);
    let mut body = json!({
        "token": token,
        "access_token": token,
        "expires_in": ttl,
        "issued_at": auth::now_rfc3339(),
    });
    // Docker's token spec: `offline_token=true` with credentials asks for a
    // refresh token too (dockerd's login does, and returns it to the CLI
    // as IdentityToken).
    if let Some(u) = &user {
        if query_get(query, "offline_token") == Some("true") {
            body["refresh_token"] = json!(t.issue_refresh(u));
        }
    }
    json_resp(StatusCode::OK, &body)
}

async fn dispatch(
    app: &Arc<App>,
    route: Route,
    req: Request<Incoming>,
    query: &[(String, String)],
    _user: &str,
) -> Result<Response<Body>> {
    let method = req.method().clone();
    let not_allowed = || {
        Err(
            RegistryError::new(Code::Unsupported, format!("method {method} not allowed"))
                .with_status(StatusCode::METHOD_NOT_ALLOWED),
        )
    };
    match route {
        Route::Base => match method {
            Method::GET | Method::HEAD => Ok(json_resp(StatusCode::OK, &json!({}))),
            _ => not_allowed(),
        },
        Route::Catalog => match method {
            Method::GET => catalog(app, query).await,
            _ => not_allowed(),
        },
        Route::Tags(name) => {
            check_name(&name)?;
            match method {
                Method::GET => tags_list(app, &name, query).await,
                _ => not_allowed(),
            }
        }
        Route::Manifest(name, r) => {
            check_name(&name)?;
            match method {
                Method::GET | Method::HEAD => {
                    get_manifest(app, &name, &r, method == Method::HEAD).await
                }
                Method::PUT => put_manifest(app, &name, &r, req, query).await,
                Method::DELETE => delete_manifest(app, &name, &r).await,
                _ => not_allowed(),
            }
        }
        Route::Blob(name, d) => {
            check_name(&name)?;
            match method {
                Method::GET | Method::HEAD => {
                    let zero_copy = req.extensions().get::<ZeroCopy>().is_some_and(|z| z.0);
                    let head = method == Method::HEAD;
                    get_blob(app, &name, &d, req.headers(), head, zero_copy).await
                }
                Method::DELETE => delete_blob(app, &name, &d).await,
                _ => not_allowed(),
            }
        }
        Route::Uploads(name) => {
            check_name(&name)?;
            match method {
                Method::POST => start_upload(app, &name, req, query).await,
                _ => not_allowed(),
            }
        }
        Route::Upload(name, id) => {
            check_name(&name)?;
            match method {
                Method::GET => upload_status(app, &name, &id).await,
                Method::PATCH => patch_upload(app, &name, &id, req).await,
                Method::PUT => put_upload(app, &name, &id, req, query).await,
                Method::DELETE => cancel_upload(app, &name, &id).await,
                _ => not_allowed(),
            }
        }
        Route::Referrers(name, d) => {
            check_name(&name)?;
            match method {
                Method::GET => referrers(app, &name, &d, query).await,
                _ => not_allowed(),
            }
        }
        Route::Token | Route::NotFound => {
            Err(RegistryError::new(Code::NameUnknown, "no such endpoint")
                .with_status(StatusCode::NOT_FOUND))
        }
    }
}

// ---- listings ----------------------------------------------------------

fn parse_n(query: &[(String, String)]) -> Result<Option<usize>> {
    match query_get(query, "n") {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<usize>()
            .map(Some)
            .map_err(|_| RegistryError::new(Code::SizeInvalid, format!("invalid n {s:?}"))),
    }
}

fn link_next(path: &str, n: Option<usize>, last: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(n) = n {
        q.append_pair("n", &n.to_string());
    }
    q.append_pair("last", last);
    format!("<{path}?{}>; rel=\"next\"", q.finish())
}

async fn tags_list(
    app: &Arc<App>,
    name: &str,
    query: &[(String, String)],
) -> Result<Response<Body>> {
    let n = parse_n(query)?;
    let last = query_get(query, "last").map(str::to_string);
    let (tags, more) = {
        let app = app.clone();
        let name = name.to_string();
        blocking(move || app.storage.tags(&name, n, last.as_deref())).await?
    };
    let mut r = json_resp(StatusCode::OK, &json!({"name": name, "tags": tags}));
    if more {
        if let Some(l) = tags.last() {
            let link = link_next(&format!("/v2/{name}/tags/list"), n, l);
            r.headers_mut().insert(
                header::LINK,
                HeaderValue::from_str(&link).expect("link header"),
            );
        }
    }
    Ok(r)
}

async fn catalog(app: &Arc<App>, query: &[(String, String)]) -> Result<Response<Body>> {
    let n = parse_n(query)?;
    let last = query_get(query, "last").map(str::to_string);
    let (repos, more) = {
        let app = app.clone();
        blocking(move || app.storage.catalog(n, last.as_deref())).await?
    };
    let mut r = json_resp(StatusCode::OK, &json!({"repositories": repos}));
    if more {
        if let Some(l) = repos.last() {
            let link = link_next("/v2/_catalog", n, l);
            r.headers_mut().insert(
                header::LINK,
                HeaderValue::from_str(&link).expect("link header"),
            );
        }
    }
    Ok(r)
}

async fn referrers(
    app: &Arc<App>,
    name: &str,
    d: &str,
    query: &[(String, String)],
) -> Result<Response<Body>> {
    let subject = parse_digest(d)?;
    let at = query_get(query, "artifactType")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let list = {
        let app = app.clone();
        let name = name.to_string();
        let at = at.clone();
        blocking(move || app.storage.referrers(&name, &subject, at.as_deref())).await?
    };
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": list,
    }))
    .expect("serialise index");
    let mut b = resp(StatusCode::OK)
        .header(header::CONTENT_TYPE, OCI_INDEX)
        .header(header::CONTENT_LENGTH, body.len());
    if at.is_some() {
        b = b.header("OCI-Filters-Applied", "artifactType");
    }
    Ok(b.body(full(body)).expect("response"))
}

// ---- manifests ---------------------------------------------------------

async fn get_manifest(app: &Arc<App>, name: &str, r: &str, head: bool) -> Result<Response<Body>> {
    let r = Reference::parse(r)?;
    let m = {
        let app = app.clone();
        let name = name.to_string();
        blocking(move || app.storage.get_manifest(&name, &r)).await?
    };
    let b = resp(StatusCode::OK)
        .header(header::CONTENT_TYPE, m.media_type.as_str())
        .header(header::CONTENT_LENGTH, m.body.len())
        .header("Docker-Content-Digest", m.digest.to_string())
        .header(header::ETAG, format!("\"{}\"", m.digest));
    Ok(b.body(if head { empty() } else { full(m.body) })
        .expect("response"))
}

async fn put_manifest(
    app: &Arc<App>,
    name: &str,
    r: &str,
    req: Request<Incoming>,
    query: &[(String, String)],
) -> Result<Response<Body>> {
    let r = Reference::parse(r)?;
    let extra_tags: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.clone())
        .collect();
    for t in &extra_tags {
        if !storage::valid_tag(t) {
            return Err(RegistryError::new(
                Code::ManifestInvalid,
                format!("invalid tag {t:?}"),
            ));
        }
    }
    let too_big = || {
        RegistryError::new(
            Code::SizeInvalid,
            format!("manifest larger than {MAX_MANIFEST_BYTES} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    if content_length(req.headers()).is_some_and(|l| l > MAX_MANIFEST_BYTES as u64) {
        return Err(too_big());
    }
    let ct = header_str(req.headers(), "content-type").map(str::to_string);
    let body = Limited::new(req.into_body(), MAX_MANIFEST_BYTES)
        .collect()
        .await
        .map_err(|_| too_big())?
        .to_bytes();
    let (digest, subject) = {
        let app = app.clone();
        let name = name.to_string();
        let tags = extra_tags.clone();
        blocking(move || {
            app.storage
                .put_manifest(&name, &r, ct.as_deref(), &body, &tags)
        })
        .await?
    };
    let mut b = no_content(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/manifests/{digest}"))
        .header("Docker-Content-Digest", digest.to_string());
    if let Some(s) = subject {
        b = b.header("OCI-Subject", s.to_string());
    }
    // Tags pushed as `?tag=` parameters (spec.md "Pushing Manifests"):
    // one OCI-Tag header per accepted tag.
    for t in &extra_tags {
        b = b.header("OCI-Tag", t.as_str());
    }
    Ok(b.body(empty()).expect("response"))
}

async fn delete_manifest(app: &Arc<App>, name: &str, r: &str) -> Result<Response<Body>> {
    let r = Reference::parse(r)?;
    let app2 = app.clone();
    let name2 = name.to_string();
    blocking(move || app2.storage.delete_manifest(&name2, &r)).await?;
    Ok(no_content(StatusCode::ACCEPTED)
        .body(empty())
        .expect("response"))
}

// ---- blobs -------------------------------------------------------------

/// A satisfiable byte range (first, last; inclusive), or unsatisfiable.
type RangeResult = std::result::Result<(u64, u64), ()>;

/// Parses `Range: bytes=a-b | a- | -n` against `size`; `None` when absent
/// or not a single byte range (then the whole blob is sent), `Some(Err)`
/// when unsatisfiable.
fn parse_range(h: Option<&str>, size: u64) -> Option<RangeResult> {
    let v = h?.trim();
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return Some(Err(()));
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Some(Err(()));
        }
        (start, end)
    };
    Some(Ok(r))
}

/// Blobs up to this size are read whole in the request's one blocking
/// call (stat, open, read); larger ones are streamed.
const SMALL_BLOB: u64 = 1024 * 1024;

/// Bytes per step of a streamed blob: large enough that the blocking
/// pool is visited once per 4 MiB, small enough to bound what is mapped
/// (at most two steps per download: one being sent, one mapped ahead).
const READ_CHUNK: u64 = 4 * 1024 * 1024;

/// What GET's blocking step finds: the blob's size, the range asked for,
/// and its data (none for HEAD or an unsatisfiable range).
type OpenedBlob = (u64, Option<RangeResult>, Option<BlobData>);

/// A blob opened for GET: its whole content when small, else the file and
/// the offset of the first byte to send.
enum BlobData {
    Small(Bytes),
    File(std::fs::File, u64),
}

/// `len` bytes of `f` from byte `start` as a response body, one
/// [`READ_CHUNK`] per frame, the next one prepared on the blocking pool
/// while the previous one is written to the socket. A frame is a
/// read-only map of the blob file's page-cache pages. With `zero_copy`
/// (plain-HTTP servers) it is an unpopulated map registered with its file
/// ([`berth_sys::map_file_for_send`]): the connection's writer
/// ([`crate::zerocopy`]) recognises its slices and sends the file's pages
/// with `sendfile(2)`, so the server copies no byte of the body. Without
/// it (TLS, which must read the bytes to encrypt them) the map is
/// populated when made ([`berth_sys::map_file`]), so the bytes go from the
/// page cache to rustls with no read into a buffer first. Committed blobs
/// are immutable (written under a temporary name, fsynced, renamed;
/// afterwards only read or unlinked), which is what mapping them needs. A
/// file shorter than `start + len` ends the body with an error, so the
/// client sees a truncated transfer rather than a short success.
fn file_body(f: std::fs::File, start: u64, len: u64, zero_copy: bool) -> Body {
    type Step = tokio::task::JoinHandle<io::Result<(Arc<std::fs::File>, Bytes)>>;
    fn map_next(f: Arc<std::fs::File>, at: u64, n: u64, zero_copy: bool) -> Step {
        tokio::task::spawn_blocking(move || {
            let size = f.metadata()?.len();
            if size < at + n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob file shorter than its size",
                ));
            }
            let map = if zero_copy {
                berth_sys::map_file_for_send(f.clone(), at, n as usize)?
            } else {
                berth_sys::map_file(&f, at, n as usize)?
            };
            Ok((f, Bytes::from_owner(map)))
        })
    }
    let f = Arc::new(f);
    let first = (len > 0).then(|| map_next(f, start, len.min(READ_CHUNK), zero_copy));
    let state = (first, start, len);
    let stream = futures_util::stream::unfold(state, move |(pending, at, left)| async move {
        let job = pending?;
        let res = job.await.unwrap_or_else(|e| Err(io::Error::other(e)));
        match res {
            Ok((f, chunk)) => {
                let n = chunk.len() as u64;
                let (at, left) = (at + n, left - n);
                let next = (left > 0).then(|| map_next(f, at, left.min(READ_CHUNK), zero_copy));
                Some((Ok(Frame::data(chunk)), (next, at, left)))
            }
            Err(e) => Some((Err(e), (None, at, 0))),
        }
    });
    BodyExt::boxed(StreamBody::new(stream))
}

async fn get_blob(
    app: &Arc<App>,
    name: &str,
    d: &str,
    h: &HeaderMap,
    head: bool,
    zero_copy: bool,
) -> Result<Response<Body>> {
    let d = parse_digest(d)?;
    let range_header = header_str(h, "range").map(str::to_string);
    // One visit to the blocking pool: stat, range, open, and for a small
    // blob the read itself.
    let opened = {
        let app = app.clone();
        let name = name.to_string();
        let d = d.clone();
        blocking(move || -> io::Result<Option<OpenedBlob>> {
            use std::io::{Read as _, Seek as _};
            let Some((path, size)) = app.storage.stat_blob(&name, &d) else {
                return Ok(None);
            };
            let range = parse_range(range_header.as_deref(), size);
            let (start, len) = match range {
                _ if head => return Ok(Some((size, range, None))),
                None => (0, size),
                Some(Ok((a, b))) => (a, b - a + 1),
                Some(Err(())) => return Ok(Some((size, range, None))),
            };
            let mut f = match std::fs::File::open(&path) {
                Ok(f) => f,
                // Collected between the stat and the open.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            if len <= SMALL_BLOB {
                if start > 0 {
                    f.seek(io::SeekFrom::Start(start))?;
                }
                let mut v = Vec::with_capacity(len as usize);
                (&mut f).take(len).read_to_end(&mut v)?;
                if (v.len() as u64) < len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "blob file shorter than its size",
                    ));
                }
                return Ok(Some((size, range, Some(BlobData::Small(v.into())))));
            }
            Ok(Some((size, range, Some(BlobData::File(f, start)))))
        })
        .await?
    };
    let Some((size, range, data)) = opened else {
        return Err(RegistryError::new(
            Code::BlobUnknown,
            format!("blob {d} unknown to repository"),
        ));
    };
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Ok((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Some(Err(())) => {
            return Ok(resp(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .header(header::CONTENT_LENGTH, "0")
                .body(empty())
                .expect("response"));
        }
    };
    let mut b = resp(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .header(header::ACCEPT_RANGES, "bytes")
        .header("Docker-Content-Digest", d.to_string())
        .header(header::ETAG, format!("\"{d}\""))
        .header(header::CACHE_CONTROL, "max-age=31536000");
    if status == StatusCode::PARTIAL_CONTENT {
        b = b.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    let body = match data {
        None => empty(),
        Some(BlobData::Small(bytes)) => full(bytes),
        Some(BlobData::File(f, start)) => file_body(f, start, len, zero_copy),
    };
    Ok(b.body(body).expect("response"))
}

async fn delete_blob(app: &Arc<App>, name: &str, d: &str) -> Result<Response<Body>> {
    let d = parse_digest(d)?;
    let app2 = app.clone();
    let name2 = name.to_string();
    blocking(move || app2.storage.delete_blob(&name2, &d)).await?;
    Ok(no_content(StatusCode::ACCEPTED)
        .body(empty())
        .expect("response"))
}

// ---- uploads -----------------------------------------------------------

fn blob_created(name: &str, d: &Digest) -> Response<Body> {
    no_content(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/blobs/{d}"))
        .header("Docker-Content-Digest", d.to_string())
        .body(empty())
        .expect("response")
}

fn upload_progress(status: StatusCode, name: &str, id: &str, len: u64) -> Response<Body> {
    let end = len.saturating_sub(1);
    no_content(status)
        .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
        .header(header::RANGE, format!("0-{end}"))
        .header("Docker-Upload-UUID", id)
        .body(empty())
        .expect("response")
}

async fn start_upload(
    app: &Arc<App>,
    name: &str,
    req: Request<Incoming>,
    query: &[(String, String)],
) -> Result<Response<Body>> {
    if let Some(m) = query_get(query, "mount") {
        if let Ok(d) = m.parse::<Digest>() {
            let from = query_get(query, "from").map(str::to_string);
            if let Some(f) = &from {
                check_name(f)?;
            }
            let mounted = {
                let app = app.clone();
                let name = name.to_string();
                let d = d.clone();
                blocking(move || app.storage.mount_blob(&name, from.as_deref(), &d)).await?
            };
            if mounted {
                return Ok(blob_created(name, &d));
            }
        }
    } else if let Some(ds) = query_get(query, "digest") {
        let d = parse_digest(ds)?;
        return monolithic(app, name, &d, req).await;
    }
    let id = {
        let app = app.clone();
        let name = name.to_string();
        blocking(move || app.storage.new_session(&name)).await?
    };
    Ok(upload_progress(StatusCode::ACCEPTED, name, &id, 0))
}

/// POST `?digest=`: the whole blob in one request (spec.md "Single POST").
async fn monolithic(
    app: &Arc<App>,
    name: &str,
    d: &Digest,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let expect = content_length(req.headers());
    let tmp = {
        let app = app.clone();
        blocking(move || app.storage.monolithic_temp()).await?
    };
    let (file, tmp_path) = tmp.into_parts();
    let std_file = file;
    let (f, dg, _) = match storage::write_body(
        std_file,
        Some(Digester::new(d)),
        req.into_body(),
        expect,
    )
    .await
    {
        Ok(x) => x,
        Err(e) => {
            drop(tmp_path);
            return Err(e);
        }
    };
    let actual = dg.expect("digester").finish();
    if &actual != d {
        drop(tmp_path);
        return Err(RegistryError::new(
            Code::DigestInvalid,
            format!("uploaded content has digest {actual}, not {d}"),
        ));
    }
    let app2 = app.clone();
    let name2 = name.to_string();
    let d2 = d.clone();
    blocking(move || -> Result<()> {
        // fdatasync: the bytes and the size (what a reader needs); the
        // rename and directory fsync in commit_blob do the rest.
        f.sync_data()?;
        drop(f);
        let p = tmp_path.keep().map_err(|e| e.error)?;
        let r = app2.storage.commit_blob(&p, &name2, &d2);
        if r.is_err() {
            let _ = std::fs::remove_file(&p);
        }
        r
    })
    .await?;
    Ok(blob_created(name, d))
}

/// Parses `Content-Range: start-end` (optionally with a `bytes ` prefix
/// and `/total` suffix).
fn parse_content_range(h: &HeaderMap) -> Option<Result<(u64, u64), ()>> {
    let v = header_str(h, "content-range")?.trim();
    let v = v.strip_prefix("bytes").map(str::trim_start).unwrap_or(v);
    let v = v.strip_prefix('=').unwrap_or(v);
    let v = v.split('/').next().unwrap_or(v);
    let Some((a, b)) = v.split_once('-') else {
        return Some(Err(()));
    };
    match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
        (Ok(a), Ok(b)) if b >= a => Some(Ok((a, b))),
        _ => Some(Err(())),
    }
}

fn range_error(name: &str, id: &str, len: u64, msg: String) -> Box<Response<Body>> {
    let e = RegistryError::new(Code::BlobUploadInvalid, msg)
        .with_status(StatusCode::RANGE_NOT_SATISFIABLE);
    let mut r = error_resp(&e);
    let h = r.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/v2/{name}/blobs/uploads/{id}")).expect("location"),
    );
    h.insert(
        header::RANGE,
        HeaderValue::from_str(&format!("0-{}", len.saturating_sub(1))).expect("range"),
    );
    h.insert(
        "Docker-Upload-UUID",
        HeaderValue::from_str(id).expect("uuid"),
    );
    Box::new(r)
}

/// Checks a chunk's `Content-Range` against the session length; returns
/// the expected body length, or the 416 response to send.
fn chunk_expectation(
    h: &HeaderMap,
    name: &str,
    id: &str,
    len: u64,
) -> std::result::Result<Option<u64>, Box<Response<Body>>> {
    let cl = content_length(h);
    match parse_content_range(h) {
        None => Ok(cl),
        Some(Err(())) => Err(range_error(name, id, len, "malformed Content-Range".into())),
        Some(Ok((a, b))) => {
            if a != len {
                return Err(range_error(
                    name,
                    id,
                    len,
                    format!("chunk starts at {a}, the upload has {len} bytes"),
                ));
            }
            let want = b - a + 1;
            if cl.is_some_and(|cl| cl != want) {
                return Err(range_error(
                    name,
                    id,
                    len,
                    format!(
                        "Content-Range covers {want} bytes, Content-Length says {}",
                        cl.unwrap_or(0)
                    ),
                ));
            }
            Ok(Some(want))
        }
    }
}

async fn upload_status(app: &Arc<App>, name: &str, id: &str) -> Result<Response<Body>> {
    let len = app.storage.session_progress(name, id).await?;
    Ok(upload_progress(StatusCode::NO_CONTENT, name, id, len))
}

async fn patch_upload(
    app: &Arc<App>,
    name: &str,
    id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let mut s = app.storage.session(name, id).await?;
    let len = app.storage.session_len(&s)?;
    let expect = match chunk_expectation(req.headers(), name, id, len) {
        Ok(e) => e,
        Err(r) => return Ok(*r),
    };
    let new_len = app.storage.append(&mut s, req.into_body(), expect).await?;
    Ok(upload_progress(StatusCode::ACCEPTED, name, id, new_len))
}

async fn put_upload(
    app: &Arc<App>,
    name: &str,
    id: &str,
    req: Request<Incoming>,
    query: &[(String, String)],
) -> Result<Response<Body>> {
    let mut s = app.storage.session(name, id).await?;
    let d = match query_get(query, "digest") {
        Some(ds) => parse_digest(ds)?,
        None => {
            return Err(RegistryError::new(
                Code::DigestInvalid,
                "digest parameter missing",
            ));
        }
    };
    let len = app.storage.session_len(&s)?;
    let has_body = content_length(req.headers()).is_some_and(|l| l > 0)
        || header_str(req.headers(), "transfer-encoding").is_some();
    if has_body || req.headers().contains_key("content-range") {
        let expect = match chunk_expectation(req.headers(), name, id, len) {
            Ok(e) => e,
            Err(r) => return Ok(*r),
        };
        app.storage.append(&mut s, req.into_body(), expect).await?;
    }
    let app2 = app.clone();
    let name2 = name.to_string();
    let d2 = d.clone();
    blocking(move || {
        let r = app2.storage.finish_session(&mut s, &name2, &d2);
        drop(s);
        r
    })
    .await?;
    Ok(blob_created(name, &d))
}

async fn cancel_upload(app: &Arc<App>, name: &str, id: &str) -> Result<Response<Body>> {
    let s = app.storage.session(name, id).await?;
    app.storage.end_session(&s)?;
    Ok(no_content(StatusCode::NO_CONTENT)
        .body(empty())
        .expect("response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_nested_names() {
        assert!(matches!(route("/v2/", None), Route::Base));
        assert!(matches!(route("/v2/a/b/tags/list", None), Route::Tags(n) if n == "a/b"));
        assert!(matches!(route("/v2/a/blobs/uploads/", None), Route::Uploads(n) if n == "a"));
        assert!(
            matches!(route("/v2/a/b/blobs/uploads/xyz", None), Route::Upload(n, i) if n == "a/b" && i == "xyz")
        );
        assert!(
            matches!(route("/v2/a/manifests/latest", None), Route::Manifest(n, r) if n == "a" && r == "latest")
        );
        assert!(matches!(route("/v2/a/blobs/sha256:00", None), Route::Blob(n, _) if n == "a"));
        assert!(
            matches!(route("/v2/a/referrers/sha256:00", None), Route::Referrers(n, _) if n == "a")
        );
        assert!(matches!(route("/token", Some("/token")), Route::Token));
    }

    #[test]
    fn ranges() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_range(Some("bytes=2-4"), 10), Some(Ok((2, 4))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Some(Ok((7, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Some(Err(())));
        assert_eq!(parse_range(None, 10), None);
        h.insert("content-range", HeaderValue::from_static("0-99"));
        assert_eq!(parse_content_range(&h), Some(Ok((0, 99))));
    }
}
