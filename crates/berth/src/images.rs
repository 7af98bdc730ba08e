//! Image commands: images, history, load, save, import, tag, rmi, prune.

use std::io::{IsTerminal, Write};

use berth_client::progress::{JsonMessage, JsonStream};
use berth_client::{qs, Client, Method, ReqBody};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::*;
use crate::containers::{confirm, filters_json};
use crate::fmt as f;
use crate::{out, CmdResult, Fail};

/// Short image ID: the hex after `sha256:`, 12 characters.
pub fn short_image_id(id: &str) -> String {
    f::trunc(id.strip_prefix("sha256:").unwrap_or(id), 12)
}

/// Splits "repo:tag" (a ':' after the last '/') into (repo, tag).
pub fn split_repo_tag(r: &str) -> (String, String) {
    let slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    match r[slash..].rfind(':') {
        Some(i) => (r[..slash + i].to_string(), r[slash + i + 1..].to_string()),
        None => (r.to_string(), "latest".to_string()),
    }
}

/// `images` rows: one per RepoTag (or one `<none>:<none>`), with docker's
/// image format fields (Repository, Tag, Digest, ID, CreatedSince,
/// CreatedAt, Size, VirtualSize, SharedSize, UniqueSize, Containers).
pub fn image_rows(list: &[Value], trunc: bool, all: bool, now: f64) -> Vec<Map<String, Value>> {
    let mut rows = Vec::new();
    for im in list {
        let id = im["Id"].as_str().unwrap_or("");
        let tags: Vec<String> = im["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "<none>:<none>")
            .map(str::to_string)
            .collect();
        let digests: Vec<String> = im["RepoDigests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .map(str::to_string)
            .collect();
        let mut pairs: Vec<(String, String)> = tags.iter().map(|t| split_repo_tag(t)).collect();
        if pairs.is_empty() {
            if !all && !digests.is_empty() {
                for d in &digests {
                    pairs.push((
                        d.split('@').next().unwrap_or("<none>").to_string(),
                        "<none>".into(),
                    ));
                }
            } else {
                pairs.push(("<none>".into(), "<none>".into()));
            }
        }
        let created = im["Created"].as_i64().unwrap_or(0);
        let size = im["Size"].as_f64().unwrap_or(0.0);
        for (repo, tag) in pairs {
            let mut r = Map::new();
            let digest = digests
                .iter()
                .find(|d| d.starts_with(&format!("{repo}@")))
                .and_then(|d| d.split('@').nth(1))
                .unwrap_or("<none>");
            r.insert("Repository".into(), json!(repo));
            r.insert("Tag".into(), json!(tag));
            r.insert("Digest".into(), json!(digest));
            r.insert(
                "ID".into(),
                json!(if trunc {
                    short_image_id(id)
                } else {
                    id.to_string()
                }),
            );
            r.insert(
                "CreatedSince".into(),
                json!(format!("{} ago", f::human_duration(now - created as f64))),
            );
            r.insert("CreatedAt".into(), json!(f::go_time_string(created)));
            r.insert("Size".into(), json!(f::human_size_prec(size, 3)));
            r.insert("VirtualSize".into(), json!(f::human_size(size)));
            let na = |k: &str| match im[k].as_i64() {
                Some(n) if n >= 0 => f::human_size_prec(n as f64, 3),
                _ => "N/A".to_string(),
            };
            r.insert("SharedSize".into(), json!(na("SharedSize")));
            r.insert("UniqueSize".into(), json!("N/A"));
            r.insert(
                "Containers".into(),
                json!(match im["Containers"].as_i64() {
                    Some(n) if n >= 0 => n.to_string(),
                    _ => "N/A".into(),
                }),
            );
            rows.push(r);
        }
    }
    rows
}

/// Column titles of image fields.
pub const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("Containers", "CONTAINERS"),
];

/// `berth images`: `GET /images/json?all=&filters=`.
pub async fn images(c: &mut Client, a: ImagesArgs) -> CmdResult {
    let mut fl = a.filter.clone();
    if let Some(r) = &a.reference {
        fl.push(format!("reference={r}"));
    }
    let mut q = Vec::new();
    if a.all {
        q.push("all=1".to_string());
    }
    if let Some(fj) = filters_json(&fl).map_err(|m| Fail {
        msg: Some(m),
        code: 125,
    })? {
        q.push(format!("filters={}", qs(&fj)));
    }
    let path = if q.is_empty() {
        "/images/json".into()
    } else {
        format!("/images/json?{}", q.join("&"))
    };
    let list: Vec<Value> = c.get_json(&path).await?;
    if a.quiet {
        let mut seen = Vec::new();
        for im in &list {
            let id = im["Id"].as_str().unwrap_or("");
            let id = if a.no_trunc {
                id.to_string()
            } else {
                short_image_id(id)
            };
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        out(&seen.iter().map(|s| format!("{s}\n")).collect::<String>());
        return Ok(());
    }
    let default = if a.digests {
        "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let fmt = f::ListFormat::from_flag(a.format.as_deref(), default);
    let rows = image_rows(&list, !a.no_trunc, a.all, f::now());
    out(&f::print_list(&fmt, &rows, IMAGE_HEADERS).map_err(Fail::msg)?);
    Ok(())
}

/// `berth history`: `GET /images/{name}/history`.
pub async fn history(c: &mut Client, a: HistoryArgs) -> CmdResult {
    let list: Vec<Value> = c
        .get_json(&format!("/images/{}/history", qs(&a.image)))
        .await?;
    let now = f::now();
    if a.quiet {
        let s: String = list
            .iter()
            .filter_map(|h| h["Id"].as_str())
            .map(|id| {
                if a.no_trunc {
                    format!("{id}\n")
                } else {
                    format!("{}\n", short_image_id(id))
                }
            })
            .collect();
        out(&s);
        return Ok(());
    }
    let rows: Vec<Map<String, Value>> = list
        .iter()
        .map(|h| {
            let mut r = Map::new();
            let id = h["Id"].as_str().unwrap_or("<missing>");
            r.insert(
                "ID".into(),
                json!(if id == "<missing>" || a.no_trunc {
                    id.to_string()
                } else {
                    short_image_id(id)
                }),
            );
            let created = h["Created"].as_i64().unwrap_or(0);
            r.insert(
                "CreatedSince".into(),
                json!(if a.human {
                    format!("{} ago", f::human_duration(now - created as f64))
                } else {
                    chrono::DateTime::from_timestamp(created, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                }),
            );
            r.insert(
                "CreatedAt".into(),
                json!(chrono::DateTime::from_timestamp(created, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()),
            );
            let by = h["CreatedBy"].as_str().unwrap_or("").replace('\t', " ");
            r.insert(
                "CreatedBy".into(),
                json!(if a.no_trunc { by } else { f::ellipsis(&by, 45) }),
            );
            let size = h["Size"].as_f64().unwrap_or(0.0);
            r.insert(
                "Size".into(),
                json!(if a.human {
                    f::human_size_prec(size, 3)
                } else {
                    (size as i64).to_string()
                }),
            );
            r.insert("Comment".into(), json!(h["Comment"].as_str().unwrap_or("")));
            r
        })
        .collect();
    let fmt = f::ListFormat::from_flag(
        a.format.as_deref(),
        "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    );
    let headers = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ];
    out(&f::print_list(&fmt, &rows, &headers).map_err(Fail::msg)?);
    Ok(())
}

/// Feeds a file (or stdin) into a streamed request body.
type Feeder = (
    Option<u64>,
    ReqBody,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

fn spawn_feeder(path: Option<String>) -> Result<Feeder, Fail> {
    let len = match &path {
        Some(p) => Some(
            std::fs::metadata(p)
                .map_err(|e| Fail::msg(format!("open {p}: {}", io_text(&e))))?
                .len(),
        ),
        None => None,
    };
    let file = match &path {
        Some(p) => Some(
            std::fs::File::open(p).map_err(|e| Fail::msg(format!("open {p}: {}", io_text(&e))))?,
        ),
        None => None,
    };
    let (tx, body) = ReqBody::channel(len);
    let h = tokio::spawn(async move {
        let mut rd: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match file {
            Some(f) => Box::new(tokio::fs::File::from_std(f)),
            None => Box::new(tokio::io::stdin()),
        };
        loop {
            let mut buf = vec![0u8; 256 * 1024];
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if tx.send(Ok(buf.into())).await.is_err() {
                return Ok(());
            }
        }
    });
    Ok((len, body, h))
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Renders a JSON progress stream: `stream` text verbatim, `status`
/// lines, and on a terminal (`bars`) an indicatif bar per layer ID from
/// `progressDetail`. Returns the first error message of the stream.
async fn show_progress(body: &mut berth_client::Body, bars: bool) -> Result<(), Fail> {
    let mut js = JsonStream::new();
    let multi = indicatif::MultiProgress::new();
    let mut bar_of: Vec<(String, indicatif::ProgressBar)> = Vec::new();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix}: {msg} [{wide_bar}] {decimal_bytes}/{decimal_total_bytes}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    while let Some(chunk) = body.chunk().await? {
        let msgs: Vec<JsonMessage> = js.push(&chunk).map_err(|e| Fail::msg(e.to_string()))?;
        for m in msgs {
            if let Some(e) = m.error_message() {
                for (_, b) in &bar_of {
                    b.abandon();
                }
                return Err(Fail::msg(e.to_string()));
            }
            if let Some(s) = &m.stream {
                if bar_of.is_empty() {
                    out(s);
                } else {
                    let _ = multi.println(s.trim_end_matches('\n'));
                }
                continue;
            }
            let (Some(status), id) = (&m.status, &m.id) else {
                continue;
            };
            match (bars, id, &m.progress_detail) {
                (true, Some(id), Some(d)) if d.total.is_some() => {
                    let b = match bar_of.iter().find(|(i, _)| i == id) {
                        Some((_, b)) => b.clone(),
                        None => {
                            let b =
                                multi.add(indicatif::ProgressBar::new(d.total.unwrap_or(0) as u64));
                            b.set_style(style.clone());
                            b.set_prefix(id.clone());
                            bar_of.push((id.clone(), b.clone()));
                            b
                        }
                    };
                    b.set_message(status.clone());
                    b.set_length(d.total.unwrap_or(0).max(0) as u64);
                    b.set_position(d.current.unwrap_or(0).max(0) as u64);
                }
                (true, _, _) => {
                    if let Some((_, b)) = id
                        .as_ref()
                        .and_then(|id| bar_of.iter().find(|(i, _)| i == id))
                    {
                        b.finish_with_message(status.clone());
                    } else {
                        let line = match id {
                            Some(id) => format!("{id}: {status}"),
                            None => status.clone(),
                        };
                        if bar_of.is_empty() {
                            out(&format!("{line}\n"));
                        } else {
                            let _ = multi.println(line);
                        }
                    }
                }
                (false, Some(id), None) => out(&format!("{id}: {status}\n")),
                (false, None, _) => out(&format!("{status}\n")),
                _ => {}
            }
        }
    }
    for (_, b) in &bar_of {
        if !b.is_finished() {
            b.finish();
        }
    }
    Ok(())
}

/// `berth load`: streams the archive to `POST /images/load?quiet=`; quiet
/// when `-q` or when stdout is not a terminal (as docker does), with
/// indicatif progress bars on a terminal.
pub async fn load(c: &mut Client, a: LoadArgs) -> CmdResult {
    if a.input.is_none() && std::io::stdin().is_terminal() {
        return Err(Fail::msg("requested load from stdin, but stdin is empty"));
    }
    let quiet = a.quiet || !std::io::stdout().is_terminal();
    let (_, body, feeder) = spawn_feeder(a.input.clone())?;
    let r = c
        .request(
            Method::POST,
            &format!("/images/load?quiet={}", quiet as u8),
            body,
            Some("application/x-tar"),
        )
        .await;
    let res = match r {
        Ok(mut b) => show_progress(&mut b, !quiet).await,
        Err(e) => Err(e.into()),
    };
    feeder.abort();
    res
}

/// `berth save`: `GET /images/get?names=...` to `-o FILE` or stdout
/// (refused when stdout is a terminal, as docker does).
pub async fn save(c: &mut Client, a: SaveArgs) -> CmdResult {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Fail::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let q: Vec<String> = a
        .images
        .iter()
        .map(|n| format!("names={}", qs(n)))
        .collect();
    let mut body = c
        .request(
            Method::GET,
            &format!("/images/get?{}", q.join("&")),
            ReqBody::empty(),
            None,
        )
        .await?;
    match &a.output {
        Some(p) => {
            let tmp = format!("{p}.berth-tmp");
            let mut f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| Fail::msg(format!("failed to save image: {e}")))?;
            while let Some(ch) = body.chunk().await? {
                f.write_all(&ch).await?;
            }
            f.sync_all().await?;
            tokio::fs::rename(&tmp, p).await?;
        }
        None => {
            let mut o = std::io::stdout().lock();
            while let Some(ch) = body.chunk().await? {
                o.write_all(&ch)?;
            }
            o.flush()?;
        }
    }
    Ok(())
}

/// `berth import`: `POST /images/create?fromSrc=-&repo=&tag=&message=&changes=`
/// with the tarball as body; prints the new image ID.
pub async fn import(c: &mut Client, a: ImportArgs) -> CmdResult {
    let mut q = vec!["fromSrc=-".to_string()];
    if let Some(r) = &a.reference {
        let (repo, tag) = split_repo_tag(r);
        q.push(format!("repo={}", qs(&repo)));
        q.push(format!("tag={}", qs(&tag)));
    }
    if let Some(m) = &a.message {
        q.push(format!("message={}", qs(m)));
    }
    for ch in &a.change {
        q.push(format!("changes={}", qs(ch)));
    }
    if let Some(p) = &a.platform {
        q.push(format!("platform={}", qs(p)));
    }
    let src = if a.source == "-" {
        None
    } else {
        Some(a.source.clone())
    };
    if a.source.contains("://") {
        return Err(Fail::msg(
            "berth import: importing from a URL is not supported",
        ));
    }
    let (_, body, feeder) = spawn_feeder(src)?;
    let r = c
        .request(
            Method::POST,
            &format!("/images/create?{}", q.join("&")),
            body,
            Some("application/x-tar"),
        )
        .await;
    let res = match r {
        Ok(mut b) => show_progress(&mut b, false).await,
        Err(e) => Err(e.into()),
    };
    feeder.abort();
    res
}

/// `berth tag`: `POST /images/{source}/tag?repo=&tag=`.
pub async fn tag(c: &mut Client, a: TagArgs) -> CmdResult {
    let (repo, tag) = split_repo_tag(&a.target);
    c.post(
        &format!(
            "/images/{}/tag?repo={}&tag={}",
            qs(&a.source),
            qs(&repo),
            qs(&tag)
        ),
        None,
    )
    .await?;
    Ok(())
}

/// `berth rmi`: `DELETE /images/{name}?force=&noprune=`, printing
/// "Untagged: ..." / "Deleted: ..." lines.
pub async fn rmi(c: &mut Client, a: RmiArgs) -> CmdResult {
    let mut failed = false;
    for n in &a.images {
        match c
            .delete(&format!(
                "/images/{}?force={}&noprune={}",
                qs(n),
                a.force as u8,
                a.no_prune as u8
            ))
            .await
        {
            Ok(b) => {
                let v: Vec<Value> = serde_json::from_slice(&b).unwrap_or_default();
                let mut s = String::new();
                for d in v {
                    if let Some(u) = d["Untagged"].as_str() {
                        s.push_str(&format!("Untagged: {u}\n"));
                    }
                    if let Some(u) = d["Deleted"].as_str() {
                        s.push_str(&format!("Deleted: {u}\n"));
                    }
                }
                out(&s);
            }
            // as docker's CLI: with --force an image that is not there is
            // reported but is no failure (exit 0)
            Err(e) if a.force && e.status() == Some(404) => eprintln!("{e}"),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Fail::code(1))
    } else {
        Ok(())
    }
}

/// `berth image prune`: `POST /images/prune?filters={"dangling":...}`.
pub async fn prune(c: &mut Client, a: ImagePruneArgs) -> CmdResult {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(warning) {
        return Ok(());
    }
    let mut fl = a.filter.clone();
    fl.push(format!("dangling={}", !a.all));
    let fj = filters_json(&fl).map_err(Fail::msg)?.unwrap_or_default();
    let b = c
        .post(&format!("/images/prune?filters={}", qs(&fj)), None)
        .await?;
    let v: Value = serde_json::from_slice(&b).unwrap_or_default();
    let mut s = String::new();
    let del = v["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !del.is_empty() {
        s.push_str("Deleted Images:\n");
        for d in del {
            if let Some(u) = d["Untagged"].as_str() {
                s.push_str(&format!("untagged: {u}\n"));
            }
            if let Some(u) = d["Deleted"].as_str() {
                s.push_str(&format!("deleted: {u}\n"));
            }
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "Total reclaimed space: {}\n",
        f::human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0))
    ));
    out(&s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags() {
        assert_eq!(
            split_repo_tag("busybox"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(split_repo_tag("my/bb:1"), ("my/bb".into(), "1".into()));
        assert_eq!(
            split_repo_tag("localhost:5000/bb"),
            ("localhost:5000/bb".into(), "latest".into())
        );
        assert_eq!(
            split_repo_tag("localhost:5000/bb:v2"),
            ("localhost:5000/bb".into(), "v2".into())
        );
    }

    #[test]
    fn rows_per_tag_and_none() {
        let list = vec![
            json!({"Id": "sha256:a8dd73bd7c7f0123456789", "RepoTags": ["busybox:latest", "my/bb:1"], "Created": 100, "Size": 1986000, "Containers": -1}),
            json!({"Id": "sha256:bbbbbbbbbbbbbbbbbbbb", "RepoTags": [], "Created": 100, "Size": 0}),
        ];
        let rows = image_rows(&list, true, false, 100.0 + 9.0 * 60.0);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0]["Repository"], "busybox");
        assert_eq!(rows[0]["ID"], "a8dd73bd7c7f");
        assert_eq!(rows[0]["Size"], "1.99MB");
        assert_eq!(rows[0]["CreatedSince"], "9 minutes ago");
        assert_eq!(rows[0]["Containers"], "N/A");
        assert_eq!(rows[1]["Tag"], "1");
        assert_eq!(rows[2]["Repository"], "<none>");
        let fmt = f::ListFormat::from_flag(
            None,
            "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
        );
        let t = f::print_list(&fmt, &rows[..1], IMAGE_HEADERS).unwrap();
        assert_eq!(t, "REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\nbusybox      latest    a8dd73bd7c7f   9 minutes ago   1.99MB\n");
    }
}
