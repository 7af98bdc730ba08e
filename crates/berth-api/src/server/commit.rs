//! `docker diff`, `docker export` and `docker commit`: parsing and
//! formatting only.
//!
//! - `GET /containers/{id}/changes`: 200, a JSON array of
//!   [`FilesystemChange`], or `null` when nothing changed (as dockerd
//!   answers).
//! - `GET /containers/{id}/export`: 200, `application/x-tar`, streamed.
//! - `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`
//!   with an optional container config as body: 201 `{"Id": "sha256:..."}`.

use super::query::Query;
use super::ErrorReply;
use crate::backend::Backend;
use crate::models::{ContainerCommitOptions, FilesystemChange};
use crate::ApiError;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

type B = State<Arc<dyn Backend>>;
type R = Result<Response, ErrorReply>;

/// `GET /containers/{id}/changes`.
pub async fn changes(State(b): B, Path(id): Path<String>) -> R {
    let v = b.container_changes(&id).await?;
    let body: Option<Vec<FilesystemChange>> = (!v.is_empty()).then_some(v);
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `GET /containers/{id}/export`.
pub async fn export(State(b): B, Path(id): Path<String>) -> R {
    let s = b.container_export(&id).await?;
    let mut r = Response::new(Body::from_stream(s));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(r)
}

/// Go's `httputils.BoolValueOrDefault`: absent gives `default`; otherwise
/// false only for "", "0", "no", "false", "none" (any case).
fn bool_or(q: &Query, key: &str, default: bool) -> bool {
    match q.get(key) {
        None => default,
        Some(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "no" | "false" | "none"
        ),
    }
}

/// `POST /commit`.
pub async fn commit(State(b): B, req: Request) -> R {
    let q = Query::parse(req.uri().query());
    let s = |k: &str| q.get(k).unwrap_or("").to_string();
    let mut opts = ContainerCommitOptions {
        container: s("container"),
        repo: s("repo"),
        tag: s("tag"),
        comment: s("comment"),
        author: s("author"),
        pause: bool_or(&q, "pause", true),
        changes: q.all("changes"),
        config: None,
    };
    let bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .map_err(|e| ApiError::invalid(format!("reading request body: {e}")))?;
    if !bytes.iter().all(|b| b.is_ascii_whitespace()) {
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Object(_) => opts.config = Some(v),
            _ => return Err(ApiError::invalid("invalid JSON: config must be an object").into()),
        }
    }
    let id = b.container_commit(opts).await?;
    Ok((StatusCode::CREATED, Json(id)).into_response())
}
