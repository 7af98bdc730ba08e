//! `berth diff`, `berth export`, `berth commit` (and their `berth
//! container ...` forms), as the docker CLI does them:
//!
//! - `diff CONTAINER`: `GET /containers/{id}/changes`, one `C|A|D PATH`
//!   line per change, in the daemon's order;
//! - `export [-o FILE] CONTAINER`: `GET /containers/{id}/export` to the
//!   file (written beside it, renamed when complete) or to stdout, which
//!   must not be a terminal;
//! - `commit [-a AUTHOR] [-c CHANGE]... [-m MESSAGE] [-p[=false]]
//!   CONTAINER [REPOSITORY[:TAG]]`: `POST /commit`, the reference checked
//!   and split as the docker client does (familiar repository, tag
//!   `latest` by default, a digest refused), prints the new image ID.

use std::io::{IsTerminal, Write};

use berth_client::{qs, Client, Method, ReqBody};
use clap::{ArgAction, Args};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::{out, CmdResult, Fail};

/// `diff` arguments.
#[derive(Args, Debug, Clone)]
pub struct DiffArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
}

/// `export` arguments.
#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub output: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
}

/// `commit` arguments.
#[derive(Args, Debug, Clone)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long = "author", value_name = "string")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long = "message", value_name = "string")]
    pub message: Option<String>,
    /// Pause container during commit (default true)
    #[arg(
        short = 'p',
        long = "pause",
        num_args = 0..=1,
        require_equals = true,
        default_value = "true",
        default_missing_value = "true",
        value_parser = go_bool,
        hide_default_value = true
    )]
    pub pause: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
    /// REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// Go's `strconv.ParseBool`, as a boolean flag's `=value` takes it.
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("parse error on {s:?}")),
    }
}

/// `berth diff`.
pub async fn diff(c: &mut Client, a: DiffArgs) -> CmdResult {
    let v: Value = c
        .get_json(&format!("/containers/{}/changes", qs(&a.container)))
        .await?;
    let mut s = String::new();
    for ch in v.as_array().into_iter().flatten() {
        let kind = match ch["Kind"].as_u64() {
            Some(0) => "C",
            Some(1) => "A",
            Some(2) => "D",
            _ => "?",
        };
        s.push_str(&format!("{kind} {}\n", ch["Path"].as_str().unwrap_or("")));
    }
    out(&s);
    Ok(())
}

/// `berth export`.
pub async fn export(c: &mut Client, a: ExportArgs) -> CmdResult {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Fail::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let mut body = c
        .request(
            Method::GET,
            &format!("/containers/{}/export", qs(&a.container)),
            ReqBody::empty(),
            None,
        )
        .await?;
    match &a.output {
        Some(p) => {
            let tmp = format!("{p}.berth-tmp");
            let res = async {
                let mut f = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| Fail::msg(format!("failed to export container: {e}")))?;
                while let Some(ch) = body.chunk().await? {
                    f.write_all(&ch).await?;
                }
                f.sync_all().await?;
                tokio::fs::rename(&tmp, p).await?;
                Ok::<(), Fail>(())
            }
            .await;
            if res.is_err() {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
            res
        }
        None => {
            let mut o = std::io::stdout().lock();
            while let Some(ch) = body.chunk().await? {
                o.write_all(&ch)?;
            }
            o.flush()?;
            Ok(())
        }
    }
}

/// `berth commit`.
pub async fn commit(c: &mut Client, a: CommitArgs) -> CmdResult {
    let mut q = vec![format!("container={}", qs(&a.container))];
    if let Some(r) = a.reference.as_deref().filter(|r| !r.is_empty()) {
        let parsed = crate::registry::Reference::parse(r).map_err(Fail::msg)?;
        if parsed.digest.is_some() {
            return Err(Fail::msg(
                "refusing to create a tag with a digest reference",
            ));
        }
        let repo = parsed.familiar_name();
        let tag = parsed.tag.clone().unwrap_or_else(|| "latest".into());
        q.push(format!("repo={}", qs(&repo)));
        q.push(format!("tag={}", qs(&tag)));
    } else {
        q.push("repo=".into());
        q.push("tag=".into());
    }
    q.push(format!(
        "comment={}",
        qs(a.message.as_deref().unwrap_or(""))
    ));
    q.push(format!("author={}", qs(a.author.as_deref().unwrap_or(""))));
    for ch in &a.change {
        q.push(format!("changes={}", qs(ch)));
    }
    if !a.pause {
        q.push("pause=0".into());
    }
    let b = c.post(&format!("/commit?{}", q.join("&")), None).await?;
    let v: Value = serde_json::from_slice(&b).map_err(|e| Fail::msg(e.to_string()))?;
    out(&format!("{}\n", v["Id"].as_str().unwrap_or("")));
    Ok(())
}
