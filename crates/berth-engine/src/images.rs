//! Image endpoints: thin delegation to `berth-image` (synchronous, run on
//! the blocking pool), with its results converted to the API models.

use crate::Engine;
use berth_api::backend::{BodyReader, BoxStream, Filters};
use berth_api::models::*;
use berth_api::{ApiError, ErrorKind};
use berth_image::{ImageError, ImageService};
use std::collections::HashMap;
use std::sync::Arc;

/// An image error with Docker's status and message.
pub fn err(e: ImageError) -> ApiError {
    let kind = match e.status() {
        404 => ErrorKind::NotFound,
        400 => ErrorKind::InvalidParameter,
        409 => ErrorKind::Conflict,
        _ => ErrorKind::System,
    };
    ApiError::new(kind, e.to_string())
}

/// Converts between serde shapes with the same JSON (berth-image's output
/// types and the API models).
fn conv<T: serde::Serialize, U: serde::de::DeserializeOwned>(t: &T) -> Result<U, ApiError> {
    let v = serde_json::to_value(t)
        .map_err(|e| ApiError::system(format!("image service output: {e}")))?;
    serde_json::from_value(v).map_err(|e| ApiError::system(format!("image service output: {e}")))
}

/// `GET /system/df`'s image sizes: [`ImageService::shared_sizes`].
pub(crate) async fn shared_sizes(
    e: &Engine,
) -> Result<(std::collections::HashMap<String, i64>, i64), ApiError> {
    blocking(&e.images, |s| s.shared_sizes()).await
}

async fn blocking<T: Send + 'static>(
    svc: &Arc<ImageService>,
    f: impl FnOnce(&ImageService) -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ApiError> {
    let svc = svc.clone();
    tokio::task::spawn_blocking(move || f(&svc))
        .await
        .map_err(|e| ApiError::system(e.to_string()))?
        .map_err(err)
}

fn hm(f: Filters) -> HashMap<String, Vec<String>> {
    f.into_iter().collect()
}

impl Engine {
    /// Image inspect as the API model.
    pub(crate) async fn image_inspect_raw(&self, name: &str) -> Result<ImageInspect, ApiError> {
        let n = name.to_string();
        let i = blocking(&self.images, move |s| s.inspect(&n)).await?;
        conv(&i)
    }
}

pub async fn list(e: &Engine, all: bool, filters: Filters) -> Result<Vec<ImageSummary>, ApiError> {
    let opts = berth_image::ListOptions {
        all,
        filters: hm(filters),
    };
    let v = blocking(&e.images, move |s| s.list(&opts)).await?;
    let mut out: Vec<ImageSummary> = conv(&v)?;
    let uses = e.container_uses();
    for i in &mut out {
        i.containers = uses
            .iter()
            .filter(|u| u.image_id.to_string() == i.id)
            .count() as i64;
    }
    Ok(out)
}

pub async fn history(e: &Engine, name: &str) -> Result<Vec<HistoryItem>, ApiError> {
    let n = name.to_string();
    let v = blocking(&e.images, move |s| s.history(&n)).await?;
    conv(&v)
}

pub async fn tag(e: &Engine, name: &str, repo: &str, tag: &str) -> Result<(), ApiError> {
    if repo.is_empty() {
        return Err(ApiError::invalid(
            "repository name must have at least one component",
        ));
    }
    let target = if tag.is_empty() {
        repo.to_string()
    } else {
        format!("{repo}:{tag}")
    };
    let n = name.to_string();
    let t = target.clone();
    blocking(&e.images, move |s| s.tag(&n, &t)).await?;
    e.events.publish(
        "image",
        "tag",
        name,
        std::collections::BTreeMap::from([("name".to_string(), target)]),
    );
    Ok(())
}

pub async fn remove(
    e: &Engine,
    name: &str,
    force: bool,
    noprune: bool,
) -> Result<Vec<ImageDeleteItem>, ApiError> {
    let uses = e.container_uses();
    let n = name.to_string();
    let v = blocking(&e.images, move |s| {
        s.remove(&n, berth_image::RemoveOptions { force, noprune }, &uses)
    })
    .await?;
    let items: Vec<ImageDeleteItem> = conv(&v)?;
    for i in &items {
        if let Some(u) = &i.untagged {
            e.events.publish("image", "untag", u, Default::default());
        }
        if let Some(d) = &i.deleted {
            e.events.publish("image", "delete", d, Default::default());
        }
    }
    Ok(items)
}

pub async fn prune(e: &Engine, mut filters: Filters) -> Result<ImagePruneResponse, ApiError> {
    let all = filters
        .remove("dangling")
        .is_some_and(|v| v.iter().any(|x| x == "false" || x == "0"));
    let uses = e.container_uses();
    let f = hm(filters);
    let r = blocking(&e.images, move |s| s.prune(all, &f, &uses)).await?;
    conv(&r)
}

fn stream_of(rx: tokio::sync::mpsc::Receiver<JsonMessage>) -> BoxStream<JsonMessage> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }))
}

fn error_message(m: String) -> JsonMessage {
    JsonMessage {
        error: Some(m.clone()),
        error_detail: Some(ErrorDetail { message: m }),
        ..Default::default()
    }
}

pub async fn load(
    e: &Engine,
    body: BodyReader,
    quiet: bool,
) -> Result<BoxStream<JsonMessage>, ApiError> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let svc = e.images.clone();
    let engine = e.arc();
    // The request body goes straight into the loader: a blocking task reads
    // it through SyncIoBridge (which blocks on this runtime's handle from
    // the blocking thread, never from a worker), 1 MiB at a time.
    let body = tokio_util::io::SyncIoBridge::new(body);
    tokio::task::spawn_blocking(move || {
        let ptx = tx.clone();
        let mut progress = |p: &berth_image::Progress| {
            if !quiet {
                let _ = ptx.blocking_send(JsonMessage {
                    status: Some(p.status.to_string()),
                    id: Some(p.id.clone()),
                    progress: Some(format!("{}/{}", p.current, p.total)),
                    ..Default::default()
                });
            }
        };
        let r = svc.load(
            std::io::BufReader::with_capacity(1 << 20, body),
            &mut progress,
        );
        match r {
            Ok(loaded) => {
                for l in loaded {
                    engine
                        .events
                        .publish("image", "load", &l.id.to_string(), Default::default());
                    let _ = tx.blocking_send(JsonMessage {
                        stream: Some(format!("{l}\n")),
                        ..Default::default()
                    });
                }
            }
            Err(err) => {
                let _ = tx.blocking_send(error_message(err.to_string()));
            }
        }
    });
    Ok(stream_of(rx))
}

pub async fn save(
    e: &Engine,
    names: Vec<String>,
) -> Result<BoxStream<std::io::Result<bytes::Bytes>>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::invalid("no images to save"));
    }
    for n in &names {
        let n = n.clone();
        blocking(&e.images, move |s| s.resolve(&n)).await?;
    }
    let (r, w) = tokio::io::duplex(256 * 1024);
    let svc = e.images.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = tokio_util::io::SyncIoBridge::new(w);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Err(err) = svc.save(&refs, &mut w) {
            tracing::warn!("save: {err}");
        }
        let _ = std::io::Write::flush(&mut w);
        let _ = w.shutdown();
    });
    Ok(Box::pin(tokio_util::io::ReaderStream::new(r)))
}

pub async fn import(
    e: &Engine,
    body: BodyReader,
    repo: String,
    tag: String,
    changes: Vec<String>,
    message: String,
) -> Result<BoxStream<JsonMessage>, ApiError> {
    let reference = match (repo.is_empty(), tag.is_empty()) {
        (true, _) => None,
        (false, true) => Some(repo),
        (false, false) => Some(format!("{repo}:{tag}")),
    };
    let opts = berth_image::ImportOptions {
        changes,
        message: (!message.is_empty()).then_some(message),
        reference,
        platform: None,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let svc = e.images.clone();
    let engine = e.arc();
    tokio::task::spawn_blocking(move || {
        let reader = tokio_util::io::SyncIoBridge::new(body);
        match svc.import(reader, &opts) {
            Ok(id) => {
                engine
                    .events
                    .publish("image", "import", &id.to_string(), Default::default());
                let _ = tx.blocking_send(JsonMessage {
                    status: Some(format!("{id}")),
                    ..Default::default()
                });
            }
            Err(err) => {
                let _ = tx.blocking_send(error_message(err.to_string()));
            }
        }
    });
    Ok(stream_of(rx))
}

// ------------------------------------------------------------ registries

/// A registry error with dockerd's status and words.
fn dist_err(e: berth_distribution::DistributionError) -> ApiError {
    let kind = match e.status() {
        400 => ErrorKind::InvalidParameter,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        _ => ErrorKind::System,
    };
    ApiError::new(kind, e.to_string())
}

/// berth-distribution's message -> the API model (same JSON).
fn api_message(m: berth_distribution::JsonMessage) -> JsonMessage {
    serde_json::to_value(&m)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// `POST /images/create?fromImage=&tag=&platform=`.
pub async fn pull(
    e: &Engine,
    from_image: &str,
    tag: &str,
    platform: &str,
    registry_auth: &str,
) -> Result<BoxStream<JsonMessage>, ApiError> {
    use futures_util::StreamExt;
    let credentials = berth_distribution::AuthConfig::from_header(registry_auth)
        .map_err(dist_err)?
        .credentials();
    let platform = match platform {
        "" => None,
        p => Some(p.parse().map_err(dist_err)?),
    };
    let opts = berth_distribution::PullOptions {
        platform,
        credentials,
    };
    let reference = berth_distribution::join_from_image(from_image, tag);
    let (dist, svc, engine) = (e.dist.clone(), e.images.clone(), e.arc());
    let s = berth_distribution::run_streamed(move |sink| async move {
        let out = berth_distribution::pull(&dist, &svc, &reference, &opts, &sink).await?;
        engine.events.publish(
            "image",
            "pull",
            &out.reference.familiar(),
            Default::default(),
        );
        Ok(())
    })
    .await
    .map_err(dist_err)?;
    Ok(Box::pin(s.map(api_message)))
}

/// `POST /images/{name}/push?tag=`.
pub async fn push(
    e: &Engine,
    name: &str,
    tag: &str,
    registry_auth: &str,
) -> Result<BoxStream<JsonMessage>, ApiError> {
    use futures_util::StreamExt;
    let credentials = berth_distribution::AuthConfig::from_header(registry_auth)
        .map_err(dist_err)?
        .credentials();
    let opts = berth_distribution::PushOptions { credentials };
    let (dist, svc, name, tag) = (
        e.dist.clone(),
        e.images.clone(),
        name.to_string(),
        tag.to_string(),
    );
    let s = berth_distribution::run_streamed(move |sink| async move {
        berth_distribution::push(&dist, &svc, &name, &tag, &opts, &sink)
            .await
            .map(|_| ())
    })
    .await
    .map_err(dist_err)?;
    Ok(Box::pin(s.map(api_message)))
}

/// `POST /auth`.
pub async fn login(e: &Engine, req: AuthRequest) -> Result<AuthResponse, ApiError> {
    let cfg = berth_distribution::AuthConfig {
        username: req.username,
        password: req.password,
        auth: req.auth,
        email: req.email,
        serveraddress: req.serveraddress,
        identitytoken: req.identitytoken,
        registrytoken: req.registrytoken,
    };
    let out = berth_distribution::login(&e.dist, &cfg)
        .await
        .map_err(dist_err)?;
    Ok(AuthResponse {
        identity_token: out.identity_token,
        status: out.status,
    })
}

/// `GET /images/search`: a term `host[:port]/name` searches that
/// registry's index, any other term Docker Hub's (as dockerd's
/// `registry.ParseSearchIndexInfo`); then dockerd's filters `stars=N`,
/// `is-official=bool`, `is-automated=bool`.
pub async fn search(
    e: &Engine,
    term: &str,
    limit: u32,
    filters: Filters,
) -> Result<Vec<serde_json::Value>, ApiError> {
    for k in filters.keys() {
        if !["stars", "is-official", "is-automated"].contains(&k.as_str()) {
            return Err(ApiError::invalid(format!("invalid filter '{k}'")));
        }
    }
    let bool_filter = |k: &str| -> Result<Option<bool>, ApiError> {
        match filters.get(k).and_then(|v| v.last()) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(ApiError::invalid(format!("invalid filter '{k}={v}'"))),
            },
        }
    };
    let official = bool_filter("is-official")?;
    let automated = bool_filter("is-automated")?;
    let stars = match filters.get("stars").and_then(|v| v.last()) {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| ApiError::invalid(format!("invalid filter 'stars={v}'")))?,
    };
    let (domain, query) = match term.split_once('/') {
        Some((h, rest)) if h.contains('.') || h.contains(':') || h == "localhost" => (h, rest),
        _ => ("docker.io", term),
    };
    let results = e
        .dist
        .search(domain, query, limit)
        .await
        .map_err(dist_err)?;
    Ok(results
        .into_iter()
        .filter(|r| official.is_none_or(|o| r.is_official == o))
        .filter(|r| automated.is_none_or(|a| r.is_automated == a))
        .filter(|r| r.star_count >= stars)
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect())
}
