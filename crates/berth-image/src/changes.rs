//! `--change` instructions of `docker import` / `docker commit`, in
//! Dockerfile syntax (Dockerfile reference: CMD, ENTRYPOINT, ENV, WORKDIR,
//! USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL, ONBUILD), applied to an image's
//! run config.

use serde_json::Value;

use crate::oci::RunConfig;
use crate::{ImageError, Result};

fn err(msg: String) -> ImageError {
    ImageError::InvalidArgument(msg)
}

/// Splits shell-like words: whitespace separates, `"..."` and `'...'`
/// group, `\` escapes.
fn words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                have = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => {
                            if let Some(n) = chars.next() {
                                cur.push(n)
                            }
                        }
                        Some(x) => cur.push(x),
                        None => return Err(err(format!("unterminated quote in {s:?}"))),
                    }
                }
            }
            '\\' => {
                have = true;
                if let Some(n) = chars.next() {
                    cur.push(n)
                }
            }
            c if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                have = true;
                cur.push(c)
            }
        }
    }
    if have {
        out.push(cur);
    }
    Ok(out)
}

/// Exec form (`["a","b"]`) or shell form (`/bin/sh -c "..."`).
fn exec_or_shell(rest: &str) -> Vec<String> {
    if rest.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest.trim()) {
            return v;
        }
    }
    vec!["/bin/sh".to_string(), "-c".to_string(), rest.to_string()]
}

/// `k=v k2="v 2"` pairs; with `legacy_space`, also `KEY value with spaces`.
fn pairs(inst: &str, rest: &str, legacy_space: bool) -> Result<Vec<(String, String)>> {
    let first = rest.split_whitespace().next().unwrap_or("");
    if legacy_space && !first.contains('=') {
        let value = rest.trim_start()[first.len()..].trim();
        if first.is_empty() || value.is_empty() {
            return Err(err(format!("{inst} requires at least one argument")));
        }
        return Ok(vec![(first.to_string(), value.to_string())]);
    }
    let ws = words(rest)?;
    if ws.is_empty() {
        return Err(err(format!("{inst} requires at least one argument")));
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(err(format!(
                "{inst} names can not be blank / must be key=value: {w:?}"
            ))),
        })
        .collect()
}

/// Applies one `--change` line to `cfg`.
///
/// Errors (400): an instruction Docker does not allow in a change (`FROM
/// is not a valid change command`), or a malformed argument.
pub fn apply(cfg: &mut RunConfig, line: &str) -> Result<()> {
    let line = line.trim();
    let (inst, rest) = match line.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (line, ""),
    };
    let up = inst.to_ascii_uppercase();
    match up.as_str() {
        "CMD" => cfg.cmd = Some(exec_or_shell(rest)),
        "ENTRYPOINT" => cfg.entrypoint = Some(exec_or_shell(rest)),
        "ENV" => {
            let kv = pairs("ENV", rest, true)?;
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in kv {
                env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()) && *e != k);
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let kv = pairs("LABEL", rest, true)?;
            let labels = cfg.labels.get_or_insert_with(Default::default);
            for (k, v) in kv {
                labels.insert(k, v);
            }
        }
        "WORKDIR" => {
            if rest.is_empty() {
                return Err(err("WORKDIR requires exactly one argument".into()));
            }
            let w = words(rest)?.join(" ");
            cfg.working_dir = Some(if w.starts_with('/') {
                w
            } else {
                let base = cfg.working_dir.clone().unwrap_or_else(|| "/".into());
                format!("{}/{}", base.trim_end_matches('/'), w)
            });
        }
        "USER" => {
            if rest.is_empty() {
                return Err(err("USER requires exactly one argument".into()));
            }
            cfg.user = Some(rest.to_string());
        }
        "EXPOSE" => {
            let ws = words(rest)?;
            if ws.is_empty() {
                return Err(err("EXPOSE requires at least one argument".into()));
            }
            let mut add = Vec::new();
            for p in ws {
                let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                let ok_num = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
                let nums_ok = match num.split_once('-') {
                    Some((a, b)) => ok_num(a) && ok_num(b),
                    None => ok_num(num),
                };
                if !nums_ok
                    || !matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp")
                {
                    return Err(err(format!("invalid containerPort: {p}")));
                }
                add.push(format!("{num}/{}", proto.to_ascii_lowercase()));
            }
            let ports = cfg.exposed_ports.get_or_insert_with(Default::default);
            for p in add {
                ports.insert(p, Value::Object(Default::default()));
            }
        }
        "VOLUME" => {
            let list = if rest.starts_with('[') {
                serde_json::from_str::<Vec<String>>(rest)
                    .map_err(|e| err(format!("VOLUME: {e}")))?
            } else {
                words(rest)?
            };
            if list.is_empty() {
                return Err(err("VOLUME requires at least one argument".into()));
            }
            if list.iter().any(|v| v.is_empty()) {
                return Err(err("VOLUME specified can not be an empty string".into()));
            }
            let vols = cfg.volumes.get_or_insert_with(Default::default);
            for v in list {
                vols.insert(v, Value::Object(Default::default()));
            }
        }
        "STOPSIGNAL" => {
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(err("STOPSIGNAL requires exactly one argument".into()));
            }
            cfg.stop_signal = Some(rest.to_string());
        }
        "ONBUILD" => {
            if rest.is_empty() {
                return Err(err("ONBUILD requires at least one argument".into()));
            }
            let e = cfg
                .extra
                .entry("OnBuild".to_string())
                .or_insert(Value::Array(vec![]));
            if let Value::Array(a) = e {
                a.push(Value::String(rest.to_string()));
            }
        }
        "" => return Err(err("empty change command".into())),
        // dockerd names the instruction in lower case
        _ => {
            return Err(err(format!(
                "{} is not a valid change command",
                up.to_ascii_lowercase()
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_every_instruction() {
        let mut c = RunConfig::default();
        for l in [
            r#"CMD ["sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /bin/echo",
            "ENV A=1 B=\"two words\"",
            "ENV LEGACY value with spaces",
            "ENV A=3",
            "WORKDIR /srv",
            "WORKDIR app",
            "USER nobody:nogroup",
            "EXPOSE 80 53/udp",
            "LABEL a=b \"c d\"=e",
            "VOLUME /data /cache",
            r#"VOLUME ["/x"]"#,
            "STOPSIGNAL SIGTERM",
            "onbuild RUN true",
        ] {
            apply(&mut c, l).unwrap();
        }
        assert_eq!(c.cmd.as_deref().unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(
            c.entrypoint.as_deref().unwrap(),
            ["/bin/sh", "-c", "/bin/echo"]
        );
        assert_eq!(
            c.env.as_deref().unwrap(),
            ["B=two words", "LEGACY=value with spaces", "A=3"]
        );
        assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
        assert_eq!(c.user.as_deref(), Some("nobody:nogroup"));
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["c d"], "e");
        assert_eq!(c.volumes.unwrap().len(), 3);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGTERM"));
        assert!(c.extra.contains_key("OnBuild"));
    }

    #[test]
    fn rejects_bad_changes() {
        let mut c = RunConfig::default();
        assert_eq!(
            apply(&mut c, "FROM busybox").unwrap_err().to_string(),
            "from is not a valid change command"
        );
        assert!(apply(&mut c, "RUN true").is_err());
        assert!(apply(&mut c, "EXPOSE eighty").is_err());
        assert!(apply(&mut c, "USER").is_err());
        assert!(apply(&mut c, "LABEL novalue").is_err());
        assert_eq!(c, RunConfig::default());
    }
}
