//! `/containers/{id}/archive` (`docker cp`): parsing and formatting only.
//!
//! - `HEAD ?path=`: 200 with `X-Docker-Container-Path-Stat` (base64 of the
//!   [`ContainerPathStat`] JSON), no body.
//! - `GET ?path=`: the same header and the tar (`application/x-tar`).
//! - `PUT ?path=&noOverwriteDirNonDir=&copyUIDGID=`: the request body is a
//!   tar, extracted into the directory; 200 with no body.
//!
//! Errors are the [`Backend`]'s, as `{"message": ...}` with its status.

use super::query::Query;
use super::ErrorReply;
use crate::backend::{ArchivePutOptions, Backend, BodyReader};
use crate::models::ContainerPathStat;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt;
use std::sync::Arc;

type B = State<Arc<dyn Backend>>;
type R = Result<Response, ErrorReply>;

/// The header dockerd puts the stat in.
pub const PATH_STAT_HEADER: &str = "x-docker-container-path-stat";

fn path(req: &Request) -> String {
    Query::parse(req.uri().query())
        .get("path")
        .unwrap_or("")
        .to_string()
}

fn with_stat(mut r: Response, st: &ContainerPathStat) -> Response {
    let json = serde_json::to_vec(st).unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD.encode(json);
    if let Ok(v) = HeaderValue::from_str(&b64) {
        r.headers_mut().insert(PATH_STAT_HEADER, v);
    }
    r
}

/// `HEAD /containers/{id}/archive`.
pub async fn head(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let st = b.container_archive_stat(&id, &path(&req)).await?;
    Ok(with_stat(StatusCode::OK.into_response(), &st))
}

/// `GET /containers/{id}/archive`.
pub async fn get(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let (st, tar) = b.container_archive_get(&id, &path(&req)).await?;
    let mut r = Response::new(Body::from_stream(tar));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(with_stat(r, &st))
}

/// `PUT /containers/{id}/archive`.
pub async fn put(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let q = Query::parse(req.uri().query());
    let opts = ArchivePutOptions {
        no_overwrite_dir_non_dir: q.bool("noOverwriteDirNonDir"),
        copy_uid_gid: q.bool("copyUIDGID"),
    };
    let p = q.get("path").unwrap_or("").to_string();
    // The backend stops reading at the tar's end-of-archive blocks (or at
    // an error), but clients send the rest (the docker CLI pads to a whole
    // record): the request body is pumped through a channel and read to
    // its end before the answer goes out, or the client's upload fails
    // with a broken pipe although the copy succeeded.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    let mut upload = req.into_body().into_data_stream();
    let pump = tokio::spawn(async move {
        let mut tx = Some(tx);
        while let Some(chunk) = upload.next().await {
            let chunk = chunk.map_err(std::io::Error::other);
            let failed = chunk.is_err();
            if let Some(t) = &tx {
                if t.send(chunk).await.is_err() {
                    tx = None; // the backend is done: drain the rest
                }
            }
            if failed {
                break;
            }
        }
    });
    let s =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let body: BodyReader = Box::new(tokio_util::io::StreamReader::new(Box::pin(s)));
    let r = b.container_archive_put(&id, &p, opts, body).await;
    let _ = pump.await;
    r?;
    Ok(StatusCode::OK.into_response())
}
