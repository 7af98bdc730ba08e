//! Request parsing and response formatting for each endpoint; no logic.

use super::hijack;
use super::query::{parse_time_ns, Query};
use super::ErrorReply;
use crate::backend::*;
use crate::models::*;
use crate::ApiError;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Serialize;
use std::sync::Arc;

type B = State<Arc<dyn Backend>>;
type R = Result<Response, ErrorReply>;

pub fn router(backend: Arc<dyn Backend>) -> Router {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/events", get(events))
        .route("/system/df", get(system_df))
        .route("/containers/create", post(container_create))
        .route("/containers/json", get(container_list))
        .route("/containers/prune", post(container_prune))
        .route("/containers/{id}/json", get(container_inspect))
        .route("/containers/{id}/start", post(container_start))
        .route("/containers/{id}/stop", post(container_stop))
        .route("/containers/{id}/restart", post(container_restart))
        .route("/containers/{id}/kill", post(container_kill))
        .route("/containers/{id}/wait", post(container_wait))
        .route("/containers/{id}/attach", post(container_attach))
        .route("/containers/{id}/logs", get(container_logs))
        .route("/containers/{id}/resize", post(container_resize))
        .route("/containers/{id}/pause", post(container_pause))
        .route("/containers/{id}/unpause", post(container_unpause))
        .route("/containers/{id}/rename", post(container_rename))
        .route("/containers/{id}/top", get(container_top))
        .route("/containers/{id}/stats", get(container_stats))
        .route("/containers/{id}/update", post(container_update))
        .route("/containers/{id}/changes", get(super::commit::changes))
        .route("/containers/{id}/export", get(super::commit::export))
        .route("/commit", post(super::commit::commit))
        .route(
            "/containers/{id}/archive",
            axum::routing::head(super::archive::head)
                .get(super::archive::get)
                .put(super::archive::put),
        )
        .route("/containers/{id}/exec", post(exec_create))
        .route("/containers/{id}", delete(container_remove))
        .route("/exec/{id}/start", post(exec_start))
        .route("/exec/{id}/resize", post(exec_resize))
        .route("/exec/{id}/json", get(exec_inspect))
        .route("/images/json", get(image_list))
        .route("/images/load", post(image_load))
        .route("/build", post(build))
        .route("/images/get", get(image_save_many))
        .route("/images/create", post(image_create))
        .route("/auth", post(auth))
        .route("/images/search", get(image_search))
        .route("/images/prune", post(image_prune))
        .route("/images/{*rest}", any(image_dispatch))
        .route("/networks", get(network_list))
        .route("/networks/create", post(network_create))
        .route("/networks/prune", post(network_prune))
        .route(
            "/networks/{id}",
            get(network_inspect).delete(network_remove),
        )
        .route("/networks/{id}/connect", post(network_connect))
        .route("/networks/{id}/disconnect", post(network_disconnect))
        .route("/volumes", get(volume_list))
        .route("/volumes/create", post(volume_create))
        .route("/volumes/prune", post(volume_prune))
        .route("/volumes/{name}", get(volume_inspect).delete(volume_remove))
        .fallback(not_found)
        .with_state(backend)
}

/// `POST /build`: Berth has no image builder yet. The build context the
/// docker CLI uploads is read to its end first, so the client gets this
/// answer rather than a broken pipe in the middle of its upload.
async fn build(req: Request) -> ErrorReply {
    let mut body = req.into_body().into_data_stream();
    while let Some(Ok(_)) = body.next().await {}
    ErrorReply(ApiError::new(
        crate::ErrorKind::NotImplemented,
        "Berth has no image builder yet: docker build is not supported; \
         build the image elsewhere and bring it in with docker load or docker import",
    ))
}

async fn not_found() -> ErrorReply {
    ErrorReply(ApiError::not_found("page not found"))
}

/// The `X-Registry-Auth` header ("" when absent).
fn registry_auth(req: &Request) -> String {
    req.headers()
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn auth(State(b): B, req: Request) -> R {
    let cfg: AuthRequest = body_json(req).await?;
    Ok(json(StatusCode::OK, &b.auth(cfg).await?))
}

async fn image_search(State(b): B, req: Request) -> R {
    let q = q(&req);
    let term = q.get("term").unwrap_or("").to_string();
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        None => 25,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(format!(
                    "limit {l} is outside the range of [1, 100]"
                ))
                .into())
            }
        },
    };
    let filters = q.filters()?;
    Ok(json(
        StatusCode::OK,
        &b.image_search(&term, limit, filters).await?,
    ))
}

fn q(req: &Request) -> Query {
    Query::parse(req.uri().query())
}

fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    (status, Json(v)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Newline-delimited JSON stream (`application/json`).
fn json_stream<T: Serialize + Send + 'static>(s: BoxStream<T>) -> Response {
    let body = Body::from_stream(s.map(|m| {
        let mut v = serde_json::to_vec(&m).unwrap_or_default();
        v.extend_from_slice(b"\r\n");
        Ok::<_, std::io::Error>(Bytes::from(v))
    }));
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// One multiplexed frame: `[stream, 0, 0, 0, len(u32 BE)]` then the data.
pub fn frame(stream: StdStream, data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + data.len());
    b.put_u8(stream as u8);
    b.put_bytes(0, 3);
    b.put_u32(data.len() as u32);
    b.put_slice(data);
    b.freeze()
}

async fn body_json<T: serde::de::DeserializeOwned + Default>(req: Request) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .map_err(|e| ApiError::invalid(format!("reading request body: {e}")))?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
}

fn body_reader(req: Request) -> BodyReader {
    let s = req
        .into_body()
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other));
    Box::new(tokio_util::io::StreamReader::new(s))
}

// ---- system ----

async fn ping(method: Method) -> Response {
    let mut r = if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from("OK"))
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("builder-version", HeaderValue::from_static("1"));
    h.insert("swarm", HeaderValue::from_static("inactive"));
    if method == Method::HEAD {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    r
}

async fn version(State(b): B) -> R {
    Ok(json(StatusCode::OK, &b.version().await?))
}

async fn info(State(b): B) -> R {
    Ok(json(StatusCode::OK, &b.info().await?))
}

async fn events(State(b): B, req: Request) -> R {
    let q = q(&req);
    let opts = EventsOptions {
        since_ns: q
            .get("since")
            .filter(|s| !s.is_empty())
            .map(parse_time_ns)
            .transpose()?,
        until_ns: q
            .get("until")
            .filter(|s| !s.is_empty())
            .map(parse_time_ns)
            .transpose()?,
        filters: q.filters()?,
    };
    Ok(json_stream(b.events(opts).await?))
}

async fn system_df(State(b): B) -> R {
    Ok(json(StatusCode::OK, &b.system_df().await?))
}

// ---- containers ----

async fn container_create(State(b): B, req: Request) -> R {
    let q = q(&req);
    let name = q.get("name").filter(|s| !s.is_empty()).map(str::to_string);
    let body: ContainerCreateRequest = body_json(req).await?;
    Ok(json(
        StatusCode::CREATED,
        &b.container_create(name, body).await?,
    ))
}

async fn container_list(State(b): B, req: Request) -> R {
    let q = q(&req);
    let opts = ListOptions {
        all: q.bool("all"),
        limit: q.int("limit")?.unwrap_or(0),
        size: q.bool("size"),
        filters: q.filters()?,
    };
    Ok(json(StatusCode::OK, &b.container_list(opts).await?))
}

async fn container_prune(State(b): B, req: Request) -> R {
    Ok(json(
        StatusCode::OK,
        &b.container_prune(q(&req).filters()?).await?,
    ))
}

async fn container_inspect(State(b): B, Path(id): Path<String>, req: Request) -> R {
    Ok(json(
        StatusCode::OK,
        &b.container_inspect(&id, q(&req).bool("size")).await?,
    ))
}

async fn container_start(State(b): B, Path(id): Path<String>) -> R {
    b.container_start(&id).await?;
    Ok(no_content())
}

fn stop_args(q: &Query) -> Result<(Option<String>, Option<i64>), ApiError> {
    let signal = q
        .get("signal")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((signal, q.int("t")?))
}

async fn container_stop(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let (s, t) = stop_args(&q(&req))?;
    b.container_stop(&id, s, t).await?;
    Ok(no_content())
}

async fn container_restart(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let (s, t) = stop_args(&q(&req))?;
    b.container_restart(&id, s, t).await?;
    Ok(no_content())
}

async fn container_kill(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let s = q(&req)
        .get("signal")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    b.container_kill(&id, s).await?;
    Ok(no_content())
}

async fn container_wait(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let q = q(&req);
    let cond = q.get("condition").unwrap_or("").to_string();
    let fut = b.container_wait(&id, &cond).await?;
    // Headers go out now (the wait is registered); the body when it ends.
    let s = futures_util::stream::once(async move {
        let mut v = serde_json::to_vec(&fut.await).unwrap_or_default();
        v.push(b'\n');
        Ok::<_, std::io::Error>(Bytes::from(v))
    });
    let mut r = Response::new(Body::from_stream(s));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

async fn container_attach(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let q = q(&req);
    let opts = AttachOptions {
        stream: q.bool("stream"),
        logs: q.bool("logs"),
        stdin: q.bool("stdin"),
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        detach_keys: q.get("detachKeys").unwrap_or("").to_string(),
    };
    let hj = b.container_attach(&id, opts).await?;
    Ok(hijack::respond(req, hj))
}

async fn container_logs(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let q = q(&req);
    let stdout = q.bool("stdout");
    let stderr = q.bool("stderr");
    if !stdout && !stderr {
        return Err(
            ApiError::invalid("Bad parameters: you must choose at least one stream").into(),
        );
    }
    let tail = match q.get("tail") {
        None | Some("") | Some("all") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("invalid tail value: {t}")))?
                .max(0) as usize,
        ),
    };
    let opts = LogsOptions {
        follow: q.bool("follow"),
        stdout,
        stderr,
        since_ns: q
            .get("since")
            .filter(|s| !s.is_empty() && *s != "0")
            .map(parse_time_ns)
            .transpose()?,
        until_ns: q
            .get("until")
            .filter(|s| !s.is_empty() && *s != "0")
            .map(parse_time_ns)
            .transpose()?,
        timestamps: q.bool("timestamps"),
        tail,
    };
    let ls = b.container_logs(&id, opts).await?;
    let tty = ls.tty;
    let body = Body::from_stream(ls.chunks.map(move |c| {
        Ok::<_, std::io::Error>(if tty {
            c.data
        } else {
            frame(c.stream, &c.data)
        })
    }));
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        }),
    );
    Ok(r)
}

fn hw(q: &Query) -> Result<(u16, u16), ApiError> {
    let h = q.int("h")?.unwrap_or(0);
    let w = q.int("w")?.unwrap_or(0);
    if !(0..=u16::MAX as i64).contains(&h) || !(0..=u16::MAX as i64).contains(&w) {
        return Err(ApiError::invalid("invalid terminal size"));
    }
    Ok((h as u16, w as u16))
}

async fn container_resize(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let (h, w) = hw(&q(&req))?;
    b.container_resize(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

async fn container_pause(State(b): B, Path(id): Path<String>) -> R {
    b.container_pause(&id).await?;
    Ok(no_content())
}

async fn container_unpause(State(b): B, Path(id): Path<String>) -> R {
    b.container_unpause(&id).await?;
    Ok(no_content())
}

async fn container_rename(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let q = q(&req);
    let name = q.get("name").unwrap_or("");
    b.container_rename(&id, name).await?;
    Ok(no_content())
}

async fn container_top(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let args = q(&req)
        .get("ps_args")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(json(StatusCode::OK, &b.container_top(&id, args).await?))
}

/// dockerd: `stream` defaults to true; `one-shot` only with `stream=false`.
async fn container_stats(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let q = q(&req);
    let stream = q.get("stream").is_none() || q.bool("stream");
    let one_shot = q.bool("one-shot");
    if stream && one_shot {
        return Err(ApiError::invalid("cannot have stream=true and one-shot=true").into());
    }
    let mut s = b.container_stats(&id, stream, one_shot).await?;
    if stream {
        return Ok(json_stream(s));
    }
    match s.next().await {
        Some(v) => Ok(json(StatusCode::OK, &v)),
        None => Err(ApiError::system("no stats sample").into()),
    }
}

async fn container_update(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let body: ContainerUpdateRequest = body_json(req).await?;
    Ok(json(StatusCode::OK, &b.container_update(&id, body).await?))
}

async fn container_remove(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let q = q(&req);
    b.container_remove(&id, q.bool("force"), q.bool("v"))
        .await?;
    Ok(no_content())
}

// ---- exec ----

async fn exec_create(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let cfg: ExecConfig = body_json(req).await?;
    Ok(json(StatusCode::CREATED, &b.exec_create(&id, cfg).await?))
}

async fn exec_start(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError::invalid(format!("reading request body: {e}")))?;
    let cfg: ExecStartConfig = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        ExecStartConfig::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?
    };
    if cfg.detach {
        b.exec_start_detached(&id, cfg).await?;
        return Ok(StatusCode::OK.into_response());
    }
    let hj = b.exec_start(&id, cfg).await?;
    Ok(hijack::respond(
        Request::from_parts(parts, Body::empty()),
        hj,
    ))
}

async fn exec_resize(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let (h, w) = hw(&q(&req))?;
    b.exec_resize(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

async fn exec_inspect(State(b): B, Path(id): Path<String>) -> R {
    Ok(json(StatusCode::OK, &b.exec_inspect(&id).await?))
}

// ---- images ----

async fn image_list(State(b): B, req: Request) -> R {
    let q = q(&req);
    Ok(json(
        StatusCode::OK,
        &b.image_list(q.bool("all"), q.filters()?).await?,
    ))
}

async fn image_load(State(b): B, req: Request) -> R {
    let quiet = q(&req).bool("quiet");
    let s = b.image_load(body_reader(req), quiet).await?;
    Ok(json_stream(s))
}

fn tar_response(s: BoxStream<std::io::Result<Bytes>>) -> Response {
    let mut r = Response::new(Body::from_stream(s));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    r
}

async fn image_save_many(State(b): B, req: Request) -> R {
    let names = q(&req).all("names");
    Ok(tar_response(b.image_save(names).await?))
}

async fn image_create(State(b): B, req: Request) -> R {
    let q = q(&req);
    if let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) {
        if src != "-" {
            return Err(
                ApiError::invalid(format!("importing from a URL is not supported: {src}")).into(),
            );
        }
        let repo = q.get("repo").unwrap_or("").to_string();
        let tag = q.get("tag").unwrap_or("").to_string();
        let changes = q.all("changes");
        let message = q.get("message").unwrap_or("").to_string();
        return Ok(json_stream(
            b.image_import(body_reader(req), repo, tag, changes, message)
                .await?,
        ));
    }
    if let Some(img) = q.get("fromImage").filter(|s| !s.is_empty()) {
        let tag = q.get("tag").unwrap_or("").to_string();
        let platform = q.get("platform").unwrap_or("").to_string();
        let auth = registry_auth(&req);
        return Ok(json_stream(
            b.image_pull(img, &tag, &platform, &auth).await?,
        ));
    }
    Err(ApiError::invalid("fromImage or fromSrc is required").into())
}

async fn image_prune(State(b): B, req: Request) -> R {
    Ok(json(
        StatusCode::OK,
        &b.image_prune(q(&req).filters()?).await?,
    ))
}

/// `/images/{name}/json|history|tag|get|push` and `DELETE /images/{name}`,
/// where `name` may contain slashes.
async fn image_dispatch(State(b): B, Path(rest): Path<String>, req: Request) -> R {
    let q = q(&req);
    let method = req.method().clone();
    let split = |suffix: &str| {
        rest.strip_suffix(suffix)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    };
    if method == Method::DELETE {
        let v = b
            .image_remove(&rest, q.bool("force"), q.bool("noprune"))
            .await?;
        return Ok(json(StatusCode::OK, &v));
    }
    if method == Method::GET {
        if let Some(name) = split("/json") {
            return Ok(json(StatusCode::OK, &b.image_inspect(&name).await?));
        }
        if let Some(name) = split("/history") {
            return Ok(json(StatusCode::OK, &b.image_history(&name).await?));
        }
        if let Some(name) = split("/get") {
            return Ok(tar_response(b.image_save(vec![name]).await?));
        }
    }
    if method == Method::POST {
        if let Some(name) = split("/tag") {
            let repo = q.get("repo").unwrap_or("");
            let tag = q.get("tag").unwrap_or("");
            b.image_tag(&name, repo, tag).await?;
            return Ok(StatusCode::CREATED.into_response());
        }
        if let Some(name) = split("/push") {
            let tag = q.get("tag").unwrap_or("");
            let auth = registry_auth(&req);
            return Ok(json_stream(b.image_push(&name, tag, &auth).await?));
        }
    }
    Err(ApiError::not_found("page not found").into())
}

// ---- networks ----

async fn network_list(State(b): B, req: Request) -> R {
    Ok(json(
        StatusCode::OK,
        &b.network_list(q(&req).filters()?).await?,
    ))
}

async fn network_inspect(State(b): B, Path(id): Path<String>) -> R {
    Ok(json(StatusCode::OK, &b.network_inspect(&id).await?))
}

async fn network_create(State(b): B, req: Request) -> R {
    let body: NetworkCreateRequest = body_json(req).await?;
    Ok(json(StatusCode::CREATED, &b.network_create(body).await?))
}

async fn network_remove(State(b): B, Path(id): Path<String>) -> R {
    b.network_remove(&id).await?;
    Ok(no_content())
}

async fn network_connect(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let body: NetworkConnectRequest = body_json(req).await?;
    b.network_connect(&id, body).await?;
    Ok(StatusCode::OK.into_response())
}

async fn network_disconnect(State(b): B, Path(id): Path<String>, req: Request) -> R {
    let body: NetworkDisconnectRequest = body_json(req).await?;
    b.network_disconnect(&id, body).await?;
    Ok(StatusCode::OK.into_response())
}

async fn network_prune(State(b): B, req: Request) -> R {
    Ok(json(
        StatusCode::OK,
        &b.network_prune(q(&req).filters()?).await?,
    ))
}

async fn volume_list(State(b): B, req: Request) -> R {
    Ok(json(
        StatusCode::OK,
        &b.volume_list(q(&req).filters()?).await?,
    ))
}

async fn volume_create(State(b): B, req: Request) -> R {
    let body: VolumeCreateRequest = body_json(req).await?;
    Ok(json(StatusCode::CREATED, &b.volume_create(body).await?))
}

async fn volume_inspect(State(b): B, Path(name): Path<String>) -> R {
    Ok(json(StatusCode::OK, &b.volume_inspect(&name).await?))
}

async fn volume_remove(State(b): B, Path(name): Path<String>, req: Request) -> R {
    b.volume_remove(&name, q(&req).bool("force")).await?;
    Ok(no_content())
}

async fn volume_prune(State(b): B, req: Request) -> R {
    Ok(json(
        StatusCode::OK,
        &b.volume_prune(q(&req).filters()?).await?,
    ))
}
