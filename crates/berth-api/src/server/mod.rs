//! The Engine API router (axum) and its UNIX-socket server.
//!
//! Paths are accepted unversioned or with a `/v1.NN` prefix, 1.24 <= NN <=
//! 1.47; other versions answer 400 with Docker's wording. Every response
//! carries `Api-Version: 1.47`, `Docker-Experimental: false`, `Ostype: linux`
//! and `Server`. Errors are `{"message": ...}` with the status code of the
//! [`ErrorKind`](crate::ErrorKind); unknown paths get 404 `page not found`.
//! Handlers only parse and format: all behaviour is in the [`Backend`].

mod archive;
mod commit;
mod handlers;
mod hijack;
mod query;

use crate::backend::Backend;
use crate::models::{ErrorResponse, API_VERSION, MIN_API_VERSION};
use crate::ApiError;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use std::convert::Infallible;
use std::sync::Arc;
use tower::Service;

/// The API version a request was made with (`/v1.NN/` prefix, or the
/// newest when unversioned), stored in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    /// Parses `1.47`.
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (a, b) = s.split_once('.')?;
        Some(ApiVersion(a.parse().ok()?, b.parse().ok()?))
    }
}

fn parse_const(s: &str) -> ApiVersion {
    ApiVersion::parse(s).expect("constant version")
}

/// An [`ApiError`] as an HTTP response: Docker's status code and
/// `{"message": ...}` (no body for 304).
pub struct ErrorReply(pub ApiError);

impl From<ApiError> for ErrorReply {
    fn from(e: ApiError) -> Self {
        ErrorReply(e)
    }
}

impl IntoResponse for ErrorReply {
    fn into_response(self) -> axum::response::Response {
        let status =
            StatusCode::from_u16(self.0.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        (
            status,
            axum::Json(ErrorResponse {
                message: self.0.message,
            }),
        )
            .into_response()
    }
}

/// Builds the Engine API router over `backend`, as a tower service that
/// strips the version prefix before routing and adds the common headers.
pub fn service(backend: Arc<dyn Backend>) -> ApiService {
    ApiService {
        router: handlers::router(backend),
    }
}

/// The tower service returned by [`service`].
#[derive(Clone)]
pub struct ApiService {
    router: axum::Router,
}

impl Service<Request<hyper::body::Incoming>> for ApiService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let mut router = self.router.clone();
        Box::pin(async move {
            let req = req.map(Body::new);
            let mut resp = match strip_version(req) {
                Ok(req) => router.call(req).await.unwrap_or_else(|e| match e {}),
                Err(e) => ErrorReply(e).into_response(),
            };
            let h = resp.headers_mut();
            h.insert("api-version", HeaderValue::from_static(API_VERSION));
            h.insert("docker-experimental", HeaderValue::from_static("false"));
            h.insert("ostype", HeaderValue::from_static("linux"));
            h.insert(
                "server",
                HeaderValue::from_static(concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
            );
            Ok(resp)
        })
    }
}

/// Removes a `/vX.Y` prefix, checking the version range.
fn strip_version(mut req: Request<Body>) -> Result<Request<Body>, ApiError> {
    let path = req.uri().path();
    let mut version = parse_const(API_VERSION);
    if let Some(rest) = path.strip_prefix("/v") {
        let (ver, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if let Some(v) = ApiVersion::parse(ver) {
            if v < parse_const(MIN_API_VERSION) {
                return Err(ApiError::invalid(format!(
                    "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
                )));
            }
            if v > parse_const(API_VERSION) {
                return Err(ApiError::invalid(format!(
                    "client version {ver} is too new. Maximum supported API version is {API_VERSION}"
                )));
            }
            version = v;
            let new_path = if tail.is_empty() {
                "/".to_string()
            } else {
                tail.to_string()
            };
            let pq = match req.uri().query() {
                Some(q) => format!("{new_path}?{q}"),
                None => new_path,
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(
                pq.parse()
                    .map_err(|_| ApiError::invalid("invalid request path"))?,
            );
            *req.uri_mut() = axum::http::Uri::from_parts(parts)
                .map_err(|_| ApiError::invalid("invalid request path"))?;
        }
    }
    req.extensions_mut().insert(version);
    Ok(req)
}

/// Serves the API on `listener` until `shutdown` resolves; in-flight
/// connections are dropped at shutdown (hijacked sessions end, containers
/// keep running).
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    backend: Arc<dyn Backend>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let svc = service(backend);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let svc = svc.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let hsvc = hyper_util::service::TowerToHyperService::new(svc);
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, hsvc)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!("connection: {e}");
            }
        });
    }
}
