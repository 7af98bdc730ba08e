//! `berth volume create|ls|inspect|rm|prune` over the Engine API's
//! `/volumes` endpoints, with docker's output and exit codes.

use berth_client::{qs, Client};
use serde_json::{json, Map, Value};

use crate::cli::*;
use crate::containers::{confirm, filters_json};
use crate::fmt as f;
use crate::net::natural_cmp;
use crate::{out, CmdResult, Fail};

/// Column titles of `volume ls` (docker's volume formatter).
pub const VOLUME_HEADERS: &[(&str, &str)] = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Group", "GROUP"),
    ("Availability", "AVAILABILITY"),
    ("Status", "STATUS"),
];

fn kv_map(list: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    for l in list {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        m.insert(k.to_string(), json!(v));
    }
    m
}

/// `berth volume create`: `POST /volumes/create` (Name, Driver,
/// DriverOpts, Labels), printing the volume's name.
pub async fn create(c: &mut Client, a: VolumeCreateArgs) -> CmdResult {
    let name = match (&a.name_flag, &a.name) {
        (Some(x), Some(y)) if x != y => {
            return Err(Fail::msg(
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
            ))
        }
        (Some(x), _) | (None, Some(x)) => x.clone(),
        (None, None) => String::new(),
    };
    let body = json!({
        "Name": name,
        "Driver": a.driver,
        "DriverOpts": kv_map(&a.opt),
        "Labels": kv_map(&a.label),
    });
    let v: Value = c.post_json("/volumes/create", &body).await?;
    out(&format!("{}\n", v["Name"].as_str().unwrap_or("")));
    Ok(())
}

/// One `volume ls` row: the fields of docker's volume format context
/// ("N/A" where the daemon did not compute usage, and for the cluster
/// volume fields Group, Availability, Status).
pub fn volume_row(v: &Value) -> Map<String, Value> {
    let s = |k: &str| json!(v[k].as_str().unwrap_or(""));
    let mut r = Map::new();
    r.insert("Name".into(), s("Name"));
    r.insert("Driver".into(), s("Driver"));
    r.insert("Scope".into(), s("Scope"));
    r.insert("Mountpoint".into(), s("Mountpoint"));
    let mut labels: Vec<String> = v["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    r.insert("Labels".into(), json!(labels.join(",")));
    crate::fmt::with_labels(&mut r, &v["Labels"]);
    let usage = |k: &str| v["UsageData"][k].as_i64().filter(|n| *n >= 0);
    r.insert(
        "Links".into(),
        json!(usage("RefCount")
            .map(|n| n.to_string())
            .unwrap_or_else(|| "N/A".into())),
    );
    r.insert(
        "Size".into(),
        json!(usage("Size")
            .map(|n| f::human_size(n as f64))
            .unwrap_or_else(|| "N/A".into())),
    );
    r.insert("Group".into(), json!("N/A"));
    r.insert("Availability".into(), json!("N/A"));
    r.insert("Status".into(), json!("N/A"));
    r
}

/// `berth volume ls`: `GET /volumes?filters=`, sorted by name.
pub async fn ls(c: &mut Client, a: VolumeLsArgs) -> CmdResult {
    // a malformed filter is a flag error for docker (usage, status 125)
    let fj = filters_json(&a.filter).map_err(|e| Fail {
        msg: Some(format!("{e}\n\nUsage:  berth volume ls [OPTIONS]\n\nRun 'berth volume ls --help' for more information")),
        code: 125,
    })?;
    let path = match fj {
        Some(fj) => format!("/volumes?filters={}", qs(&fj)),
        None => "/volumes".to_string(),
    };
    let v: Value = c.get_json(&path).await?;
    let mut list: Vec<Value> = v["Volumes"].as_array().cloned().unwrap_or_default();
    list.sort_by(|x, y| {
        natural_cmp(
            x["Name"].as_str().unwrap_or(""),
            y["Name"].as_str().unwrap_or(""),
        )
    });
    if let Some(w) = v["Warnings"].as_array() {
        for w in w.iter().filter_map(|w| w.as_str()) {
            eprintln!("{w}");
        }
    }
    if a.quiet {
        let s: String = list
            .iter()
            .map(|n| format!("{}\n", n["Name"].as_str().unwrap_or("")))
            .collect();
        out(&s);
        return Ok(());
    }
    let fmt = f::ListFormat::from_flag(a.format.as_deref(), "{{.Driver}}\t{{.Name}}");
    let rows: Vec<Map<String, Value>> = list.iter().map(volume_row).collect();
    out(&f::print_list(&fmt, &rows, VOLUME_HEADERS).map_err(Fail::msg)?);
    Ok(())
}

/// `berth volume rm`: `DELETE /volumes/{name}?force=` for each, printing
/// the names removed; the errors come after, and the status is 1.
pub async fn rm(c: &mut Client, a: VolumeRmArgs) -> CmdResult {
    let mut errs = Vec::new();
    let q = if a.force { "?force=1" } else { "" };
    for n in &a.volumes {
        match c.delete(&format!("/volumes/{}{q}", qs(n))).await {
            Ok(_) => out(&format!("{n}\n")),
            Err(e) if a.force && e.status() == Some(404) => {}
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Fail::msg(errs.join("\n")))
    }
}

/// `berth volume prune`: `POST /volumes/prune?filters=` after docker's
/// prompt (unless `-f`); `-a` is the `all=true` filter (API 1.42+).
pub async fn prune(c: &mut Client, a: VolumePruneArgs) -> CmdResult {
    // API < 1.42 prunes named volumes too and has no `all` filter
    let api = c.api_version().await?;
    let old_api = berth_client::version_lt(&api, "1.42");
    if old_api && a.all {
        return Err(Fail::msg(format!(
            "\"--all\" requires API version 1.42, but the Docker daemon API version is {api}"
        )));
    }
    let warning = if a.all || old_api {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !a.force && !confirm(warning) {
        return Ok(());
    }
    let mut filters = a.filter.clone();
    if a.all {
        if filters.iter().any(|f| f.starts_with("all=")) {
            return Err(Fail::msg(
                "conflicting options: cannot specify both --all and --filter all=1",
            ));
        }
        filters.push("all=true".into());
    }
    let path = match filters_json(&filters).map_err(Fail::msg)? {
        Some(fj) => format!("/volumes/prune?filters={}", qs(&fj)),
        None => "/volumes/prune".to_string(),
    };
    let b = c.post(&path, None).await?;
    let v: Value = serde_json::from_slice(&b).unwrap_or_default();
    out(&crate::containers::prune_report(
        &v,
        "VolumesDeleted",
        "Volumes",
    ));
    Ok(())
}
