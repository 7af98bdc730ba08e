//! `--security-opt` of `run`/`create`, handled on the client as the docker
//! CLI does (docker/cli `cli/command/container/opts.go`
//! `parseSecurityOpts` then `parseSystemPaths`):
//!
//! - every option needs a value (`key=value`, or the older `key:value`)
//!   except `no-new-privileges`; else `Invalid --security-opt: "<opt>"`;
//! - `seccomp=<file>` (anything but `builtin` and `unconfined`) reads the
//!   file here and sends its JSON, compacted, as `seccomp=<json>`;
//! - `systempaths=unconfined` is not sent: it becomes empty
//!   `HostConfig.MaskedPaths` and `ReadonlyPaths`.
//!
//! Everything else (`apparmor=`, `label=`, `no-new-privileges=<bool>`,
//! unknown keys) goes to the daemon, which judges it.

/// What `--security-opt` puts into the create request's HostConfig.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    /// `HostConfig.SecurityOpt`.
    pub security_opt: Vec<String>,
    /// `Some(vec![])` for `systempaths=unconfined` (`MaskedPaths` and
    /// `ReadonlyPaths` both), else `None` (the daemon's defaults).
    pub system_paths: Option<Vec<String>>,
}

/// `json.Compact`: the same JSON text without insignificant whitespace
/// (keys, order and number spellings kept). Errors: the parser's message
/// for text that is not JSON.
fn compact(text: &str) -> Result<String, String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut esc) = (false, false);
    for ch in text.chars() {
        if in_str {
            out.push(ch);
            if esc {
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else if ch == '"' {
                in_str = false;
            }
        } else if !matches!(ch, ' ' | '\t' | '\n' | '\r') {
            if ch == '"' {
                in_str = true;
            }
            out.push(ch);
        }
    }
    Ok(out)
}

/// Parses the `--security-opt` values, reading seccomp profile files.
/// Errors are the docker CLI's texts: `Invalid --security-opt: "<opt>"`,
/// `opening seccomp profile (<path>) failed: open <path>: <reason>`,
/// `compacting json for seccomp profile (<path>) failed: <reason>`.
pub fn parse(opts: &[String]) -> Result<SecurityOpts, String> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        let (mut k, mut v) = opt
            .split_once('=')
            .map_or((opt.as_str(), None), |(k, v)| (k, Some(v)));
        if v.is_none() && k != "no-new-privileges" {
            if let Some((a, b)) = opt.split_once(':') {
                (k, v) = (a, Some(b));
            }
        }
        if v.is_none_or(str::is_empty) && k != "no-new-privileges" {
            return Err(format!("Invalid --security-opt: {opt:?}"));
        }
        let v = v.unwrap_or("");
        if k == "seccomp" && v != "builtin" && v != "unconfined" {
            let text = std::fs::read_to_string(v).map_err(|e| {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => e.to_string(),
                };
                format!("opening seccomp profile ({v}) failed: open {v}: {why}")
            })?;
            let json = compact(&text)
                .map_err(|e| format!("compacting json for seccomp profile ({v}) failed: {e}"))?;
            out.security_opt.push(format!("seccomp={json}"));
            continue;
        }
        if opt == "systempaths=unconfined" {
            out.system_paths = Some(Vec::new());
            continue;
        }
        out.security_opt.push(opt.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(o: &[&str]) -> Result<SecurityOpts, String> {
        parse(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn as_the_docker_cli() {
        let o = p(&[
            "no-new-privileges",
            "apparmor=x",
            "label:disable",
            "seccomp=unconfined",
            "seccomp=builtin",
            "foo=bar",
        ])
        .unwrap();
        assert_eq!(
            o.security_opt,
            [
                "no-new-privileges",
                "apparmor=x",
                "label:disable",
                "seccomp=unconfined",
                "seccomp=builtin",
                "foo=bar"
            ]
        );
        assert_eq!(o.system_paths, None);
        let o = p(&["systempaths=unconfined"]).unwrap();
        assert!(o.security_opt.is_empty());
        assert_eq!(o.system_paths, Some(vec![]));
        for bad in ["foo", "disable", "seccomp=", "apparmor=", "label:"] {
            assert_eq!(
                p(&[bad]).unwrap_err(),
                format!("Invalid --security-opt: {bad:?}")
            );
        }
        assert_eq!(
            p(&["seccomp=/nonexistent/x.json"]).unwrap_err(),
            "opening seccomp profile (/nonexistent/x.json) failed: open /nonexistent/x.json: no such file or directory"
        );
    }

    #[test]
    fn seccomp_file_is_sent_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(
            &f,
            "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [ {\"names\": [\"a b\", \"c\\\" d\"], \"action\": \"SCMP_ACT_ERRNO\"} ]\n}\n",
        )
        .unwrap();
        let o = p(&[&format!("seccomp={}", f.display())]).unwrap();
        assert_eq!(
            o.security_opt,
            [
                r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a b","c\" d"],"action":"SCMP_ACT_ERRNO"}]}"#
            ]
        );
        std::fs::write(&f, "{nope").unwrap();
        let e = p(&[&format!("seccomp:{}", f.display())]).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "compacting json for seccomp profile ({}) failed: ",
                f.display()
            )),
            "{e}"
        );
    }
}
