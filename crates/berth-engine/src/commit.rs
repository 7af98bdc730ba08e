//! `docker commit` (`POST /commit`): a new image from a container's rw
//! layer, as dockerd's `CreateImageFromContainer` does it:
//!
//! 1. the reference (`repo`, `tag`) and the `changes` are checked first
//!    (400, nothing paused or written);
//! 2. the config: the request body's config, or the container's own when
//!    there is none, with the `changes` (Dockerfile instructions) applied,
//!    then merged with the container's config
//!    ([`berth_image::merge_run_config`]); only the image config's fields
//!    are kept (`User`, `ExposedPorts`, `Env`, `Entrypoint`, `Cmd`,
//!    `Volumes`, `WorkingDir`, `Labels`, `StopSignal`, `Healthcheck`,
//!    `OnBuild`, `Shell`, `ArgsEscaped`);
//! 3. a running container is paused (`pause`, default true; a paused one
//!    stays paused), with the `pause`/`unpause` events dockerd sends;
//! 4. the image service writes the upper directory as a layer tar (minus
//!    the runtime's mount points, [`crate::changes::INIT_PATHS`]), stores
//!    and extracts it, writes config and manifest, and tags;
//! 5. the container is resumed, whatever happened, and a `commit` event
//!    (attributes `comment`, `imageID`, `imageRef`) is sent.

use crate::Engine;
use berth_api::backend::ApiResult;
use berth_api::backend::Backend;
use berth_api::models::{ContainerCommitOptions, IdResponse};
use berth_api::ApiError;
use berth_image::oci::RunConfig;
use serde_json::Value;

/// The container-config fields that an image config has.
const IMAGE_CONFIG_FIELDS: &[&str] = &[
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
    "ArgsEscaped",
];

/// A container config (JSON, Docker's field names) cut down to the image
/// config's fields, nulls and empty strings dropped.
fn run_config_of(v: &Value) -> ApiResult<RunConfig> {
    let mut m = serde_json::Map::new();
    if let Value::Object(o) = v {
        for k in IMAGE_CONFIG_FIELDS {
            match o.get(*k) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.is_empty() => {}
                Some(x) => {
                    m.insert(k.to_string(), x.clone());
                }
            }
        }
    }
    serde_json::from_value(Value::Object(m))
        .map_err(|e| ApiError::invalid(format!("invalid config: {e}")))
}

/// `POST /commit`. Errors: `No such container` (404), a bad reference or
/// change (400), a container being removed (409), the store (500).
pub(crate) async fn commit(e: &Engine, o: ContainerCommitOptions) -> ApiResult<IdResponse> {
    let c = e.find(&o.container)?;
    let rec = c.get();
    if matches!(
        rec.state.status,
        crate::container::Status::Removing | crate::container::Status::Dead
    ) {
        return Err(ApiError::conflict(format!(
            "You cannot commit container {} which is being removed or is dead",
            c.id
        )));
    }
    let reference = match (o.repo.is_empty(), o.tag.is_empty()) {
        (true, _) => None,
        (false, true) => Some(o.repo.clone()),
        (false, false) => Some(format!("{}:{}", o.repo, o.tag)),
    };
    let reference = reference
        .map(|r| {
            berth_image::Reference::parse(&r)
                .map(|p| p.to_string())
                .map_err(crate::images::err)
        })
        .transpose()?;
    let base = run_config_of(
        &serde_json::to_value(&rec.config).map_err(|e| ApiError::system(e.to_string()))?,
    )?;
    let mut config = match &o.config {
        Some(v) => run_config_of(v)?,
        None => base.clone(),
    };
    berth_image::apply_changes(&mut config, &o.changes).map_err(crate::images::err)?;
    berth_image::merge_run_config(&mut config, &base);
    let mut created_by = rec.path.clone();
    for a in &rec.args {
        created_by.push(' ');
        created_by.push_str(a);
    }
    let opts = berth_image::CommitOptions {
        parent: rec.image_id.clone(),
        config,
        reference: reference.clone(),
        comment: Some(o.comment.clone()),
        author: Some(o.author.clone()),
        created_by,
        container_id: c.id.clone(),
    };

    let paused = o.pause && rec.state.status == crate::container::Status::Running;
    if paused {
        e.container_pause(&c.id).await?;
    }
    let images = e.images.clone();
    let cid = c.id.clone();
    let res = tokio::task::spawn_blocking(move || {
        let m = images.snapshot_mount(&cid)?;
        images.commit_layer_diff(&m.upperdir, &|p| crate::changes::is_init_path(p), &opts)
    })
    .await;
    if paused {
        if let Err(err) = e.container_unpause(&c.id).await {
            tracing::warn!("commit: unpause {}: {}", c.id, err.message);
        }
    }
    let id = res
        .map_err(|err| ApiError::system(err.to_string()))?
        .map_err(crate::images::err)?;
    let image_ref = reference
        .as_deref()
        .and_then(|r| berth_image::Reference::parse(r).ok())
        .map(|r| r.familiar())
        .unwrap_or_default();
    e.event(
        &c,
        "commit",
        &[
            ("comment", o.comment.clone()),
            ("imageID", id.to_string()),
            ("imageRef", image_ref),
        ],
    );
    Ok(IdResponse { id: id.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_image_config_fields_are_kept() {
        let v = serde_json::json!({
            "Hostname": "abc", "Image": "busybox", "Env": ["A=1"], "User": "",
            "Cmd": ["sh"], "Healthcheck": null, "Labels": {"a": "b"}
        });
        let r = run_config_of(&v).unwrap();
        assert_eq!(r.env.as_deref().unwrap(), ["A=1"]);
        assert_eq!(r.cmd.as_deref().unwrap(), ["sh"]);
        assert_eq!(r.user, None);
        assert!(r.extra.is_empty(), "{:?}", r.extra);
    }
}
