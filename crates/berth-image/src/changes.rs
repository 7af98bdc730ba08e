//! `--change` instructions of `docker import` / `docker commit`, in
//! Dockerfile syntax (Dockerfile reference: CMD, ENTRYPOINT, ENV, WORKDIR,
//! USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL, ONBUILD, HEALTHCHECK), applied to
//! an image's run config.

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

/// Go's `time.ParseDuration`: `1m30s`, `1.5s`, `500ms`, `2h`; nanoseconds.
fn go_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * mult;
    }
    Some(total as i64)
}

/// `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D]
/// [--start-interval=D] [--retries=N] CMD ...` or `HEALTHCHECK NONE`, as
/// the Dockerfile reference and dockerd's builder give it: `Test`
/// (`["NONE"]`, `["CMD", ...]` for the exec form, `["CMD-SHELL", "..."]`),
/// durations in nanoseconds, zero fields left out.
fn healthcheck(rest: &str) -> Result<Value> {
    let mut rest = rest.trim();
    if rest.is_empty() {
        return Err(err("HEALTHCHECK requires at least one argument".into()));
    }
    let mut hc = serde_json::Map::new();
    while let Some(flag) = rest.strip_prefix("--") {
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (kv, after) = flag.split_at(end);
        rest = after.trim_start();
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let (field, what) = match k {
            "interval" => ("Interval", "Interval"),
            "timeout" => ("Timeout", "Timeout"),
            "start-period" => ("StartPeriod", "StartPeriod"),
            "start-interval" => ("StartInterval", "StartInterval"),
            "retries" => ("Retries", ""),
            other => return Err(err(format!("Unknown flag: {other}"))),
        };
        if field == "Retries" {
            let n: i64 = v
                .parse()
                .map_err(|_| err(format!("strconv.ParseInt: parsing {v:?}: invalid syntax")))?;
            if n < 0 {
                return Err(err("--retries cannot be negative".into()));
            }
            if n > 0 {
                hc.insert(field.into(), Value::from(n));
            }
            continue;
        }
        let d = go_duration(v).ok_or_else(|| err(format!("time: invalid duration {v:?}")))?;
        if d != 0 && d < 1_000_000 {
            return Err(err(format!("{what} {k:?} cannot be less than 1ms")));
        }
        if d > 0 {
            hc.insert(field.into(), Value::from(d));
        }
    }
    let (kind, cmd) = match rest.split_once(char::is_whitespace) {
        Some((k, c)) => (k, c.trim()),
        None => (rest, ""),
    };
    let test: Vec<String> = match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !cmd.is_empty() || !hc.is_empty() {
                return Err(err("HEALTHCHECK NONE takes no arguments".into()));
            }
            vec!["NONE".into()]
        }
        "CMD" => {
            if cmd.is_empty() {
                return Err(err("Missing command after HEALTHCHECK CMD".into()));
            }
            let form = exec_or_shell(cmd);
            if cmd.trim_start().starts_with('[')
                && form.first().map(String::as_str) != Some("/bin/sh")
            {
                std::iter::once("CMD".to_string()).chain(form).collect()
            } else {
                vec!["CMD-SHELL".into(), cmd.to_string()]
            }
        }
        other => {
            return Err(err(format!(
                "Unknown type \"{other}\" in HEALTHCHECK (try CMD)"
            )))
        }
    };
    let mut out = serde_json::Map::new();
    out.insert("Test".into(), Value::from(test));
    out.extend(hc);
    Ok(Value::Object(out))
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
        "HEALTHCHECK" => {
            cfg.extra
                .insert("Healthcheck".to_string(), healthcheck(rest)?);
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
    fn healthcheck_as_dockerd_writes_it() {
        let hc = |l: &str| {
            let mut c = RunConfig::default();
            apply(&mut c, l).map(|_| c.extra["Healthcheck"].clone())
        };
        let j = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(
            hc("HEALTHCHECK --interval=5s --retries=2 CMD true").unwrap(),
            j(r#"{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2}"#)
        );
        assert_eq!(
            hc(r#"HEALTHCHECK CMD ["cat","/x"]"#).unwrap(),
            j(r#"{"Test":["CMD","cat","/x"]}"#)
        );
        assert_eq!(hc("HEALTHCHECK NONE").unwrap(), j(r#"{"Test":["NONE"]}"#));
        assert_eq!(
            hc("HEALTHCHECK --timeout=1m30s --start-period=1.5s CMD curl -f x || exit 1").unwrap(),
            j(
                r#"{"Test":["CMD-SHELL","curl -f x || exit 1"],"Timeout":90000000000,"StartPeriod":1500000000}"#
            )
        );
        for (l, e) in [
            (
                "HEALTHCHECK FOO x",
                r#"Unknown type "FOO" in HEALTHCHECK (try CMD)"#,
            ),
            ("HEALTHCHECK --bogus=1 CMD x", "Unknown flag: bogus"),
            ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
            (
                "HEALTHCHECK --interval=0.5ms CMD x",
                r#"Interval "interval" cannot be less than 1ms"#,
            ),
        ] {
            assert_eq!(hc(l).unwrap_err().to_string(), e, "{l}");
        }
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
