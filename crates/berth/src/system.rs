//! version, info, system df, events, inspect.

use berth_client::progress::JsonStream;
use berth_client::{qs, Client, Method, ReqBody, MAX_API_VERSION};
use serde_json::{json, Map, Value};

use crate::cli::*;
use crate::containers::filters_json;
use crate::fmt as f;
use crate::{out, CmdResult, Fail};

/// A `Key:<pad>value` line as docker's version/info tabwriter aligns it
/// (minwidth 20, padding 1).
fn kv(key: &str, val: &str) -> String {
    let w = (key.chars().count() + 1).max(20);
    format!("{key:<w$}{val}\n")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// `berth version`: the client section, then `GET /version`'s
/// components in docker's layout; `--format` renders `{Client, Server}`.
pub async fn version(c: &mut Client, a: VersionArgs) -> CmdResult {
    let api = c.api_version().await;
    let server: Result<Value, String> = match &api {
        Ok(_) => c.get_json("/version").await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let api = api.unwrap_or_else(|_| MAX_API_VERSION.to_string());
    let client = json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api,
        "DefaultAPIVersion": MAX_API_VERSION,
        "GoVersion": "n/a (Rust)",
        "GitCommit": option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown"),
        "BuildTime": "",
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "Context": "default",
    });
    if let Some(fm) = &a.format {
        let t = f::Tmpl::parse(fm).map_err(Fail::msg)?;
        let data = json!({"Client": client, "Server": server.clone().unwrap_or(Value::Null)});
        out(&format!("{}\n", t.render(&data).map_err(Fail::msg)?));
        return server.map(|_| ()).map_err(Fail::msg);
    }
    let mut o = String::from("Client:\n");
    o += &kv(" Version:", s(&client, "Version"));
    let apiv = if api != MAX_API_VERSION {
        format!("{api} (downgraded from {MAX_API_VERSION})")
    } else {
        api.clone()
    };
    o += &kv(" API version:", &apiv);
    o += &kv(" Go version:", s(&client, "GoVersion"));
    o += &kv(" Git commit:", s(&client, "GitCommit"));
    o += &kv(" Built:", s(&client, "BuildTime"));
    o += &kv(
        " OS/Arch:",
        &format!("{}/{}", std::env::consts::OS, go_arch()),
    );
    o += &kv(" Context:", "default");
    match &server {
        Ok(v) => {
            let pname = v["Platform"]["Name"].as_str().unwrap_or("");
            o += &format!(
                "\nServer:{}\n",
                if pname.is_empty() {
                    String::new()
                } else {
                    format!(" {pname}")
                }
            );
            let comps = v["Components"].as_array().cloned().unwrap_or_else(|| {
                vec![json!({"Name": "Engine", "Version": v["Version"], "Details": {"ApiVersion": v["ApiVersion"], "MinAPIVersion": v["MinAPIVersion"], "GoVersion": v["GoVersion"], "GitCommit": v["GitCommit"], "BuildTime": v["BuildTime"], "Os": v["Os"], "Arch": v["Arch"], "Experimental": v["Experimental"].to_string()}})]
            });
            for comp in comps {
                let name = s(&comp, "Name");
                o += &format!(" {name}:\n");
                let d = &comp["Details"];
                if name == "Engine" {
                    o += &kv("  Version:", s(&comp, "Version"));
                    o += &kv(
                        "  API version:",
                        &format!(
                            "{} (minimum version {})",
                            s(d, "ApiVersion"),
                            s(d, "MinAPIVersion")
                        ),
                    );
                    o += &kv("  Go version:", s(d, "GoVersion"));
                    o += &kv("  Git commit:", s(d, "GitCommit"));
                    o += &kv("  Built:", &ansic(s(d, "BuildTime")));
                    o += &kv("  OS/Arch:", &format!("{}/{}", s(d, "Os"), s(d, "Arch")));
                    let exp = match &d["Experimental"] {
                        Value::String(x) => x.clone(),
                        Value::Bool(b) => b.to_string(),
                        _ => "false".into(),
                    };
                    o += &kv("  Experimental:", &exp);
                } else {
                    o += &kv("  Version:", s(&comp, "Version"));
                    let mut keys: Vec<&String> = d
                        .as_object()
                        .map(|m| m.keys().collect())
                        .unwrap_or_default();
                    keys.sort();
                    for k in keys {
                        o += &kv(&format!("  {k}:"), d[k].as_str().unwrap_or(""));
                    }
                }
            }
            out(&o);
            Ok(())
        }
        Err(e) => {
            out(&o);
            Err(Fail::msg(e.clone()))
        }
    }
}

/// Docker shows the daemon's RFC 3339 build time in Go's ANSIC layout
/// ("Thu May  7 21:09:36 2026"); other text is shown as is.
fn ansic(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(t) => t.format("%a %b %e %H:%M:%S %Y").to_string(),
        Err(_) => t.to_string(),
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

/// `berth info`: `GET /info` in docker's layout (the server part).
pub async fn info(c: &mut Client, a: FormatOnly) -> CmdResult {
    let v: Result<Value, _> = c.get_json("/info").await;
    if let Some(fm) = &a.format {
        let v = v?;
        let t = f::Tmpl::parse(fm).map_err(Fail::msg)?;
        out(&format!("{}\n", t.render(&v).map_err(Fail::msg)?));
        return Ok(());
    }
    let mut o = String::from("Client:\n");
    o += &format!(
        " Version:    {}\n Context:    default\n Debug Mode: false\n",
        env!("CARGO_PKG_VERSION")
    );
    let v = match v {
        Ok(v) => v,
        Err(e) => {
            out(&o);
            out("\nServer:\n");
            return Err(Fail::msg(format!(
                "ERROR: {e}\nerrors pretty printing info"
            )));
        }
    };
    o += "\nServer:\n";
    let n = |k: &str| v[k].as_i64().unwrap_or(0).to_string();
    o += &format!(
        " Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n",
        n("Containers"),
        n("ContainersRunning"),
        n("ContainersPaused"),
        n("ContainersStopped")
    );
    o += &format!(" Images: {}\n", n("Images"));
    o += &format!(" Server Version: {}\n", s(&v, "ServerVersion"));
    o += &format!(" Storage Driver: {}\n", s(&v, "Driver"));
    for pair in v["DriverStatus"].as_array().into_iter().flatten() {
        if let (Some(k), Some(val)) = (pair[0].as_str(), pair[1].as_str()) {
            o += &format!("  {k}: {val}\n");
        }
    }
    o += &format!(" Logging Driver: {}\n", s(&v, "LoggingDriver"));
    o += &format!(" Cgroup Driver: {}\n", s(&v, "CgroupDriver"));
    o += &format!(" Cgroup Version: {}\n", s(&v, "CgroupVersion"));
    let list = |x: &Value| {
        x.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    o += " Plugins:\n";
    o += &format!(
        "  Volume: {}\n  Network: {}\n  Log: {}\n",
        list(&v["Plugins"]["Volume"]),
        list(&v["Plugins"]["Network"]),
        list(&v["Plugins"]["Log"])
    );
    o += &format!(
        " Swarm: {}\n",
        v["Swarm"]["LocalNodeState"].as_str().unwrap_or("inactive")
    );
    let mut runtimes: Vec<&String> = v["Runtimes"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    runtimes.sort();
    o += &format!(
        " Runtimes: {}\n",
        runtimes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    o += &format!(" Default Runtime: {}\n", s(&v, "DefaultRuntime"));
    o += &format!(" Init Binary: {}\n", s(&v, "InitBinary"));
    for (label, key) in [
        ("containerd", "ContainerdCommit"),
        ("runc", "RuncCommit"),
        ("init", "InitCommit"),
    ] {
        if v[key].is_object() {
            o += &format!(
                " {label} version: {}\n",
                v[key]["ID"].as_str().unwrap_or("")
            );
        }
    }
    let so: Vec<&str> = v["SecurityOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str())
        .collect();
    if !so.is_empty() {
        o += " Security Options:\n";
        for opt in so {
            let mut name = "";
            let mut rest = Vec::new();
            for kvp in opt.split(',') {
                if let Some(n) = kvp.strip_prefix("name=") {
                    name = n;
                } else if let Some((k, val)) = kvp.split_once('=') {
                    rest.push((k, val));
                }
            }
            o += &format!("  {name}\n");
            for (k, val) in rest {
                let mut kc = k.to_string();
                if let Some(first) = kc.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                o += &format!("   {kc}: {val}\n");
            }
        }
    }
    o += &format!(" Kernel Version: {}\n", s(&v, "KernelVersion"));
    o += &format!(" Operating System: {}\n", s(&v, "OperatingSystem"));
    o += &format!(" OSType: {}\n", s(&v, "OSType"));
    o += &format!(" Architecture: {}\n", s(&v, "Architecture"));
    o += &format!(" CPUs: {}\n", n("NCPU"));
    o += &format!(
        " Total Memory: {}\n",
        f::bytes_size(v["MemTotal"].as_f64().unwrap_or(0.0))
    );
    o += &format!(" Name: {}\n", s(&v, "Name"));
    o += &format!(" ID: {}\n", s(&v, "ID"));
    o += &format!(" Docker Root Dir: {}\n", s(&v, "DockerRootDir"));
    o += &format!(" Debug Mode: {}\n", v["Debug"].as_bool().unwrap_or(false));
    o += &format!(
        " Experimental: {}\n",
        v["ExperimentalBuild"].as_bool().unwrap_or(false)
    );
    let insecure: Vec<&str> = v["RegistryConfig"]["InsecureRegistryCIDRs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str())
        .collect();
    if !insecure.is_empty() {
        o += " Insecure Registries:\n";
        for i in insecure {
            o += &format!("  {i}\n");
        }
    }
    o += &format!(
        " Live Restore Enabled: {}\n",
        v["LiveRestoreEnabled"].as_bool().unwrap_or(false)
    );
    o += "\n";
    for w in v["Warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str())
    {
        eprintln!("{w}");
    }
    out(&o);
    Ok(())
}

/// `berth system df`: `GET /system/df` summarised as docker's table.
pub async fn df(c: &mut Client, a: DfArgs) -> CmdResult {
    let v: Value = c.get_json("/system/df").await?;
    if a.verbose {
        out(&df_verbose(&v));
        return Ok(());
    }
    let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let images = arr("Images");
    let containers = arr("Containers");
    let volumes = arr("Volumes");
    let cache = arr("BuildCache");
    let mut rows = Vec::new();
    let pct = |r: f64, t: f64| {
        if t > 0.0 {
            format!("{} ({}%)", f::human_size(r), ((r / t) * 100.0) as i64)
        } else {
            f::human_size(r)
        }
    };
    {
        let total = v["LayersSize"].as_f64().unwrap_or_else(|| {
            images
                .iter()
                .map(|i| i["Size"].as_f64().unwrap_or(0.0))
                .sum()
        });
        let active = images
            .iter()
            .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
            .count();
        let used: f64 = images
            .iter()
            .filter(|i| i["Containers"].as_i64().unwrap_or(0) != 0)
            // docker skips images whose sizes the daemon did not compute (-1)
            .filter(|i| i["Size"].as_f64() != Some(-1.0) && i["SharedSize"].as_f64() != Some(-1.0))
            .map(|i| i["Size"].as_f64().unwrap_or(0.0) - i["SharedSize"].as_f64().unwrap_or(0.0))
            .sum();
        rows.push(row(
            "Images",
            images.len(),
            active,
            f::human_size(total),
            pct((total - used).max(0.0), total),
        ));
    }
    {
        let total: f64 = containers
            .iter()
            .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
            .sum();
        let active = containers
            .iter()
            .filter(|c| c["State"] == "running")
            .count();
        let recl: f64 = containers
            .iter()
            .filter(|c| c["State"] != "running")
            .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
            .sum();
        rows.push(row(
            "Containers",
            containers.len(),
            active,
            f::human_size(total),
            pct(recl, total).replace(" (0%)", ""),
        ));
    }
    {
        let size = |x: &Value| x["UsageData"]["Size"].as_f64().unwrap_or(0.0).max(0.0);
        let total: f64 = volumes.iter().map(size).sum();
        let active = volumes
            .iter()
            .filter(|x| x["UsageData"]["RefCount"].as_i64().unwrap_or(0) > 0)
            .count();
        let recl: f64 = volumes
            .iter()
            .filter(|x| x["UsageData"]["RefCount"].as_i64().unwrap_or(0) == 0)
            .map(size)
            .sum();
        rows.push(row(
            "Local Volumes",
            volumes.len(),
            active,
            f::human_size(total),
            pct(recl, total).replace(" (0%)", ""),
        ));
    }
    {
        let total: f64 = cache
            .iter()
            .map(|x| x["Size"].as_f64().unwrap_or(0.0))
            .sum();
        let active = cache.iter().filter(|x| x["InUse"] == true).count();
        rows.push(row(
            "Build Cache",
            cache.len(),
            active,
            f::human_size(total),
            f::human_size(0.0),
        ));
    }
    let fmt = f::ListFormat::from_flag(
        a.format.as_deref(),
        "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    );
    let headers = [
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ];
    out(&f::print_list(&fmt, &rows, &headers).map_err(Fail::msg)?);
    Ok(())
}

/// `system df -v`: the per-object tables docker prints.
fn df_verbose(v: &Value) -> String {
    let now = f::now();
    let ago = |t: i64| format!("{} ago", f::human_duration(now - t as f64));
    let mut o = String::from("Images space usage:\n\n");
    let mut lines = vec![
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS"
            .to_string(),
    ];
    for im in v["Images"].as_array().into_iter().flatten() {
        let size = im["Size"].as_f64().unwrap_or(0.0);
        let shared = im["SharedSize"].as_f64().unwrap_or(-1.0);
        let (sh, uniq) = if shared < 0.0 {
            ("N/A".to_string(), "N/A".to_string())
        } else {
            (f::human_size(shared), f::human_size(size - shared))
        };
        for r in crate::images::image_rows(std::slice::from_ref(im), true, false, now) {
            lines.push(format!(
                "{}\t{}\t{}\t{}\t{}\t{sh}\t{uniq}\t{}",
                r["Repository"].as_str().unwrap_or(""),
                r["Tag"].as_str().unwrap_or(""),
                r["ID"].as_str().unwrap_or(""),
                ago(im["Created"].as_i64().unwrap_or(0)),
                f::human_size_prec(size, 3),
                im["Containers"].as_i64().unwrap_or(0)
            ));
        }
    }
    o += &f::tabwrite(&lines, 10, 3);
    o += "\nContainers space usage:\n\n";
    let mut lines = vec![
        "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES".to_string(),
    ];
    for ct in v["Containers"].as_array().into_iter().flatten() {
        let r = crate::containers::ps_row(ct, true, now);
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r["ID"].as_str().unwrap_or(""),
            r["Image"].as_str().unwrap_or(""),
            r["Command"].as_str().unwrap_or(""),
            r["LocalVolumes"].as_str().unwrap_or(""),
            f::human_size_prec(ct["SizeRw"].as_f64().unwrap_or(0.0), 3),
            r["RunningFor"].as_str().unwrap_or(""),
            r["Status"].as_str().unwrap_or(""),
            r["Names"].as_str().unwrap_or("")
        ));
    }
    o += &f::tabwrite(&lines, 10, 3);
    o += "\nLocal Volumes space usage:\n\n";
    let mut lines = vec!["VOLUME NAME\tLINKS\tSIZE".to_string()];
    for vol in v["Volumes"].as_array().into_iter().flatten() {
        let size = vol["UsageData"]["Size"].as_f64().unwrap_or(-1.0);
        lines.push(format!(
            "{}\t{}\t{}",
            vol["Name"].as_str().unwrap_or(""),
            vol["UsageData"]["RefCount"].as_i64().unwrap_or(0),
            if size < 0.0 {
                "N/A".to_string()
            } else {
                f::human_size(size)
            }
        ));
    }
    o += &f::tabwrite(&lines, 10, 3);
    let cache = v["BuildCache"].as_array().cloned().unwrap_or_default();
    let total: f64 = cache
        .iter()
        .map(|x| x["Size"].as_f64().unwrap_or(0.0))
        .sum();
    o += &format!("\nBuild cache usage: {}\n\n", f::human_size(total));
    let mut lines =
        vec!["CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED".to_string()];
    for b in &cache {
        let t = |k: &str| {
            b[k].as_str()
                .and_then(|x| chrono::DateTime::parse_from_rfc3339(x).ok())
                .map(|x| ago(x.timestamp()))
                .unwrap_or_default()
        };
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            f::trunc(b["ID"].as_str().unwrap_or(""), 12),
            b["Type"].as_str().unwrap_or(""),
            f::human_size(b["Size"].as_f64().unwrap_or(0.0)),
            t("CreatedAt"),
            t("LastUsedAt"),
            b["UsageCount"].as_i64().unwrap_or(0),
            b["Shared"].as_bool().unwrap_or(false)
        ));
    }
    o += &f::tabwrite(&lines, 10, 3);
    o
}

fn row(t: &str, total: usize, active: usize, size: String, recl: String) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("Type".into(), json!(t));
    r.insert("TotalCount".into(), json!(total.to_string()));
    r.insert("Active".into(), json!(active.to_string()));
    r.insert("Size".into(), json!(size));
    r.insert("Reclaimable".into(), json!(recl));
    r
}

/// Docker's default event line: `TIME TYPE ACTION ID (k=v, ...)` with
/// TIME in RFC 3339 with fixed nanoseconds (UTC shown as "Z"... docker
/// prints the local zone; berth prints UTC as `+00:00`-free "Z").
pub fn event_line(e: &Value) -> String {
    let nanos = e["timeNano"]
        .as_i64()
        .unwrap_or_else(|| e["time"].as_i64().unwrap_or(0) * 1_000_000_000);
    let t = chrono::DateTime::from_timestamp(
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000) as u32,
    )
    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
    .unwrap_or_default();
    let ty = e["Type"].as_str().unwrap_or("");
    let action = e["Action"].as_str().unwrap_or("");
    let id = e["Actor"]["ID"].as_str().unwrap_or("");
    let mut attrs: Vec<(String, String)> = e["Actor"]["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    attrs.sort();
    let mut line = format!("{t} {ty} {action} {id}");
    if !attrs.is_empty() {
        line += &format!(
            " ({})",
            attrs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    line
}

/// `berth events`: streams `GET /events?since=&until=&filters=`.
pub async fn events(c: &mut Client, a: EventsArgs) -> CmdResult {
    let now = f::now();
    let mut q = Vec::new();
    if let Some(s_) = &a.since {
        q.push(format!(
            "since={}",
            qs(&f::timestamp_arg(s_, now).map_err(Fail::msg)?)
        ));
    }
    if let Some(u) = &a.until {
        q.push(format!(
            "until={}",
            qs(&f::timestamp_arg(u, now).map_err(Fail::msg)?)
        ));
    }
    if let Some(fj) = filters_json(&a.filter).map_err(Fail::msg)? {
        q.push(format!("filters={}", qs(&fj)));
    }
    let path = if q.is_empty() {
        "/events".into()
    } else {
        format!("/events?{}", q.join("&"))
    };
    let tmpl = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(None),
        Some(t) => Some(Some(f::Tmpl::parse(t).map_err(Fail::msg)?)),
    };
    let mut body = c
        .request(Method::GET, &path, ReqBody::empty(), None)
        .await?;
    let mut js = JsonStream::new();
    while let Some(ch) = body.chunk().await? {
        let evs: Vec<Value> = js.push(&ch).map_err(|e| Fail::msg(e.to_string()))?;
        for e in evs {
            let line = match &tmpl {
                None => event_line(&e),
                Some(None) => e.to_string(),
                Some(Some(t)) => t.render(&e).map_err(Fail::msg)?,
            };
            out(&format!("{line}\n"));
        }
    }
    Ok(())
}

/// Docker's `inspect` JSON layout: an array, 4-space indentation.
pub fn pretty(v: &[Value]) -> String {
    let mut buf = Vec::new();
    let fmtr = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmtr);
    serde::Serialize::serialize(&v, &mut ser).expect("serialize");
    crate::fmt::go_json(String::from_utf8(buf).expect("utf8"))
}

/// `berth inspect` / `container inspect` / `image inspect`:
/// `GET /containers/{id}/json` (then `/images/{id}/json` for a generic
/// inspect), printed as docker's indented JSON array or per `--format`.
/// A volume document in the order docker's CLI prints it: it decodes into
/// Go's `volume.Volume` and encodes again, so the fields come in that
/// struct's order (alphabetical) and the maps (Labels, Options, Status)
/// with sorted keys; UsageData keeps its own order (Size, RefCount).
fn go_volume_order(v: Value) -> Value {
    let Value::Object(m) = v else { return v };
    let mut keys: Vec<String> = m.keys().cloned().collect();
    keys.sort();
    let mut o = serde_json::Map::new();
    for k in keys {
        let mut x = m[&k].clone();
        if matches!(k.as_str(), "Labels" | "Options" | "Status") {
            if let Value::Object(inner) = &x {
                let mut ik: Vec<&String> = inner.keys().collect();
                ik.sort();
                x = Value::Object(
                    ik.into_iter()
                        .map(|k| (k.clone(), inner[k].clone()))
                        .collect(),
                );
            }
        }
        o.insert(k, x);
    }
    Value::Object(o)
}

pub async fn inspect(c: &mut Client, a: InspectArgs, kind: Option<&str>) -> CmdResult {
    let tmpl = match &a.format {
        Some(t) if !t.is_empty() && t != "json" => Some(f::Tmpl::parse(t).map_err(Fail::msg)?),
        _ => None,
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        let cpath = format!(
            "/containers/{}/json{}",
            qs(n),
            if a.size { "?size=1" } else { "" }
        );
        let ipath = format!("/images/{}/json", qs(n));
        let npath = format!("/networks/{}", qs(n));
        let r = match kind {
            Some("container") => c.get_json::<Value>(&cpath).await.map_err(|e| e.to_string()),
            Some("image") => c.get_json::<Value>(&ipath).await.map_err(|e| e.to_string()),
            Some("network") => c.get_json::<Value>(&npath).await.map_err(|e| e.to_string()),
            Some("volume") => c
                .get_json::<Value>(&format!("/volumes/{}", qs(n)))
                .await
                .map(go_volume_order)
                .map_err(|e| e.to_string()),
            Some(other) => {
                return Err(Fail::msg(format!(
                    "unknown type: \"{other}\": must be one of \"config\", \"container\", \"image\", \"network\", \"node\", \"plugin\", \"secret\", \"service\", \"task\", \"volume\""
                )))
            }
            None => match c.get_json::<Value>(&cpath).await {
                Ok(v) => Ok(v),
                Err(e) if e.status() == Some(404) => match c.get_json::<Value>(&ipath).await {
                    Ok(v) => Ok(v),
                    Err(e) if e.status() == Some(404) => {
                        match c.get_json::<Value>(&npath).await {
                            Ok(v) => Ok(v),
                            Err(e) if matches!(e.status(), Some(404) | Some(400)) => {
                                Err(format!("Error: No such object: {n}"))
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            },
        };
        match r {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e),
        }
    }
    match &tmpl {
        Some(t) => {
            let mut o = String::new();
            for v in &found {
                match t.render(v) {
                    Ok(line) => {
                        o += &line;
                        o.push('\n');
                    }
                    Err(e) => {
                        // gtmpl quotes the whole object in "no field X for {...}"
                        let short = e.split(" for {").next().unwrap_or(&e).to_string();
                        errors.push(
                            short.replace("failed to execute template", "template parsing error"),
                        );
                    }
                }
            }
            out(&o);
        }
        None => out(&format!("{}\n", pretty(&found))),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Fail::msg(errors.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines_align_like_docker() {
        assert_eq!(kv(" Version:", "28.2.2"), " Version:           28.2.2\n");
        assert_eq!(kv("  API version:", "1.41"), "  API version:      1.41\n");
    }

    #[test]
    fn inspect_json_is_indented_by_four() {
        let v = vec![json!({"Id": "x", "Args": [], "Config": {"Env": ["A=1"]}})];
        assert_eq!(pretty(&v), "[\n    {\n        \"Id\": \"x\",\n        \"Args\": [],\n        \"Config\": {\n            \"Env\": [\n                \"A=1\"\n            ]\n        }\n    }\n]");
        assert_eq!(pretty(&[]), "[]");
    }

    #[test]
    fn build_time_in_ansic() {
        assert_eq!(
            ansic("2026-05-07T21:09:36.000000000+00:00"),
            "Thu May  7 21:09:36 2026"
        );
        assert_eq!(ansic("unknown"), "unknown");
    }

    #[test]
    fn event_lines() {
        let e = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "x", "image": "busybox"}}, "timeNano": 1_700_000_000_123_456_789i64});
        assert_eq!(
            event_line(&e),
            "2023-11-14T22:13:20.123456789Z container start abc (image=busybox, name=x)"
        );
    }
}
