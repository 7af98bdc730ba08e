//! Output formatting shared by the commands: docker's tab-aligned tables,
//! humanised durations and sizes (go-units), and `--format` Go templates
//! rendered with gtmpl plus docker's template functions.

use std::collections::HashMap;

use gtmpl::{Context, Template};
use gtmpl_value::{FuncError, Value};

/// Aligns tab-separated cells like Go's `text/tabwriter` as docker's
/// tables configure it: `minwidth` 10, padding 3, spaces. Every cell but
/// the last of a line is padded to `max(minwidth, widest cell + padding)`
/// of its column; the last cell is written as is.
pub fn tabwrite(lines: &[String], minwidth: usize, padding: usize) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let ncols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max(c.chars().count() + padding);
            }
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let w = widths[i].max(minwidth);
                for _ in c.chars().count()..w {
                    line.push(' ');
                }
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// go-units `HumanDuration`: "Less than a second", "1 second",
/// "N seconds", "About a minute", "N minutes", "About an hour", "N hours",
/// "N days", "N weeks", "N months", "N years". `secs` is a duration in
/// (fractional) seconds.
pub fn human_duration(secs: f64) -> String {
    let s = secs as i64;
    let minutes = (secs / 60.0) as i64;
    let hours = (secs / 3600.0 + 0.5) as i64;
    if s < 1 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
    }
}

/// Go's `%.{prec}g` of `v` (shortest of %e/%f, trailing zeros removed).
pub fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let prec = prec.max(1);
    let e = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = e.split_once('e').expect("exp format");
    let exp: i32 = exp.parse().expect("exponent");
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units `HumanSizeWithPrecision(size, prec)`: decimal (1000-based)
/// units B, kB, MB, GB, TB, PB, EB, ZB, YB, e.g. 4261234 → "4.26MB" with
/// precision 3 (docker images, ps -s) or "4.261MB" with 4 (HumanSize).
pub fn human_size_prec(size: f64, prec: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1000.0 && i < UNITS.len() - 1 {
        s /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(s, prec), UNITS[i])
}

/// go-units `HumanSize` (precision 4).
pub fn human_size(size: f64) -> String {
    human_size_prec(size, 4)
}

/// go-units `BytesSize`: binary units (1024-based) B, KiB, MiB, GiB...
/// with precision 4, as `docker info`'s "Total Memory".
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1024.0 && i < UNITS.len() - 1 {
        s /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(s, 4), UNITS[i])
}

/// Parses docker's size syntax for `-m`/`--memory`: a number with an
/// optional unit b, k, m, g, t, p (binary, case-insensitive, optional
/// trailing "b"/"ib"), e.g. "64m" → 67108864. Errors with docker's text.
pub fn parse_ram(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    let mult: f64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0f64.powi(3),
        "t" => 1024.0f64.powi(4),
        "p" => 1024.0f64.powi(5),
        u => {
            return Err(format!(
                "invalid suffix: '{}'",
                u.chars().next().unwrap_or(' ')
            ))
        }
    };
    Ok((n * mult) as i64)
}

/// Parses a Go duration ("42m", "1h30m", "10s", "1.5h") to seconds.
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * mult;
        rest = &rest[u..];
    }
    Some(total)
}

/// Converts `--since`/`--until` values to the API's seconds-since-epoch
/// string: an RFC 3339 timestamp, a Unix timestamp ("1690000000[.5]") or a
/// Go duration relative to now ("42m" = 42 minutes ago).
pub fn timestamp_arg(v: &str, now: f64) -> Result<String, String> {
    if let Some(d) = parse_go_duration(v).filter(|_| v != "0") {
        // docker sends whole seconds for relative times
        return Ok(((now - d).floor() as i64).to_string());
    }
    if v.chars().all(|c| c.is_ascii_digit() || c == '.') && !v.is_empty() {
        return Ok(v.to_string());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%:z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(v, f) {
            return Ok(t.timestamp().to_string());
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp().to_string());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, f) {
            return Ok(t.and_utc().timestamp().to_string());
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(v, f) {
            return Ok(d
                .and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc()
                .timestamp()
                .to_string());
        }
    }
    Err(format!(
        "failed to parse value as time or duration: \"{v}\""
    ))
}

/// Now, in seconds since the epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Go's `time.Time.String()` of a Unix time, as docker prints `CreatedAt`:
/// "2026-12-01 18:26:03 +0000 UTC".
pub fn go_time_string(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}

/// Converts JSON to a template value. Objects become gtmpl `Object`s so
/// `{{.Field}}` works; numbers keep their integer-ness. The objects under
/// a `Labels` or `Options` key are Go `map[string]string`s in docker's
/// types and become gtmpl `Map`s: a missing key there is Go's zero value
/// (`{{.Config.Labels.zz}}` prints `<no value>`, `index` gives "") where a
/// missing struct field is an error.
pub fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Object(o) => Value::Object(object_fields(o)),
        other => to_value_inner(other),
    }
}

/// The fields of a JSON object as template values (see [`to_value`]).
fn object_fields(o: &serde_json::Map<String, serde_json::Value>) -> HashMap<String, Value> {
    let mut m: HashMap<String, Value> = o
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Object(inner) if MAP_FIELDS.contains(&k.as_str()) => Value::Map(
                    inner
                        .iter()
                        .map(|(k, v)| (k.clone(), to_value(v)))
                        .collect(),
                ),
                v => to_value(v),
            };
            (k.clone(), v)
        })
        .collect();
    // gtmpl's objects are hash maps: remember the daemon's key order
    // (Go's struct order) for `json`, unless it is sorted anyway
    // (Go maps such as Labels), so `range` over maps sees no extra key.
    if !o.keys().zip(o.keys().skip(1)).all(|(a, b)| a <= b) {
        let order = o.keys().map(|k| Value::String(k.clone())).collect();
        m.insert(ORDER_KEY.to_string(), Value::Array(order));
    }
    m
}

/// Keys whose object values are Go maps of strings in docker's types
/// (container, image, volume and network Labels; volume, network and
/// IPAM Options).
const MAP_FIELDS: [&str; 2] = ["Labels", "Options"];

fn to_value_inner(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        serde_json::Value::Object(o) => Value::Object(object_fields(o)),
    }
}

/// Hidden key holding an object's original key order (see [`to_value`]).
const ORDER_KEY: &str = "\u{1}order";

/// Hidden key of a list row (ps, volume ls, network ls) holding the
/// item's labels as an object, for the `.Label "key"` method docker's
/// formatting contexts have (see [`with_labels`]). Hidden keys start
/// with U+0001 and are never printed.
pub const LABELS_KEY: &str = "\u{1}labels";

/// Whether `k` is one of this module's hidden keys.
fn hidden(k: &str) -> bool {
    k.starts_with('\u{1}')
}

/// Adds `labels` (the daemon's Labels object, or null) to a list row for
/// `{{.Label "key"}}`.
pub fn with_labels(
    row: &mut serde_json::Map<String, serde_json::Value>,
    labels: &serde_json::Value,
) {
    let l = match labels {
        serde_json::Value::Object(_) => labels.clone(),
        _ => serde_json::json!({}),
    };
    row.insert(LABELS_KEY.to_string(), l);
}

fn from_value(v: &Value) -> serde_json::Value {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0))
                    .map(serde_json::Value::Number)
                    .unwrap_or_default()
            }
        }
        Value::Array(a) => serde_json::Value::Array(a.iter().map(from_value).collect()),
        Value::Object(o) | Value::Map(o) => {
            let keys: Vec<String> = match o.get(ORDER_KEY) {
                Some(Value::Array(ks)) => ks
                    .iter()
                    .map(|k| k.to_string())
                    .filter(|k| !hidden(k))
                    .collect(),
                _ => {
                    let mut ks: Vec<String> = o.keys().filter(|k| !hidden(k)).cloned().collect();
                    ks.sort();
                    ks
                }
            };
            serde_json::Value::Object(
                keys.into_iter()
                    .filter_map(|k| o.get(&k).map(|v| (k.clone(), from_value(v))))
                    .collect(),
            )
        }
    }
}

fn str_arg(args: &[Value], i: usize) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Ok(v.to_string()),
        None => Err(FuncError::AtLeastXArgs("function".into(), i + 1)),
    }
}

fn f_json(args: &[Value]) -> Result<Value, FuncError> {
    let v = args
        .first()
        .ok_or(FuncError::ExactlyXArgs("json".into(), 1))?;
    Ok(Value::String(go_json(
        serde_json::to_string(&from_value(v)).map_err(|e| FuncError::Generic(e.to_string()))?,
    )))
}
fn f_upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(str_arg(args, 0)?.to_uppercase()))
}
fn f_lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(str_arg(args, 0)?.to_lowercase()))
}
fn f_title(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0)?;
    let mut out = String::new();
    let mut prev_space = true;
    for c in s.chars() {
        if prev_space {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_space = c.is_whitespace();
    }
    Ok(Value::String(out))
}
fn f_join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = str_arg(args, 1)?;
    match args.first() {
        Some(Value::Array(a)) => Ok(Value::String(
            a.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(&sep),
        )),
        _ => Err(FuncError::Generic(
            "wrong type for value; expected []string".into(),
        )),
    }
}
fn f_split(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0)?;
    let sep = str_arg(args, 1)?;
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect(),
    ))
}
fn f_truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0)?;
    let n = match args.get(1) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0).max(0) as usize,
        _ => return Err(FuncError::ExactlyXArgs("truncate".into(), 2)),
    };
    Ok(Value::String(s.chars().take(n).collect()))
}
fn f_pad(args: &[Value]) -> Result<Value, FuncError> {
    let s = str_arg(args, 0)?;
    let n = |i: usize| match args.get(i) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0).max(0) as usize,
        _ => 0,
    };
    Ok(Value::String(format!(
        "{}{}{}",
        " ".repeat(n(1)),
        s,
        " ".repeat(n(2))
    )))
}
/// Go's `%v` of a value: `[a b]` for lists, `map[k:v]` for objects,
/// `<nil>` for null (gtmpl would print Rust's debug form).
fn go_v(v: &Value) -> String {
    match v {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(o) | Value::Map(o) => {
            let mut ks: Vec<&String> = o.keys().filter(|k| !hidden(k)).collect();
            ks.sort();
            format!(
                "map[{}]",
                ks.iter()
                    .map(|k| format!("{k}:{}", go_v(&o[k.as_str()])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        other => other.to_string(),
    }
}

fn f_gofmt(args: &[Value]) -> Result<Value, FuncError> {
    Ok(match args.first() {
        Some(v @ (Value::Array(_) | Value::Object(_) | Value::Map(_) | Value::Nil)) => {
            Value::String(go_v(v))
        }
        Some(v) => v.clone(),
        None => Value::NoValue,
    })
}

/// The user-visible entries of a gtmpl object or map.
fn visible(o: &HashMap<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    o.iter().filter(|(k, _)| !hidden(k))
}

/// Go's `index`: `index x 1 2` is `x[1][2]`. A missing map key is the
/// zero value of the map's element type, guessed from the JSON: "" for
/// a map of strings (Labels: `index .Config.Labels "zz"` prints an empty
/// line, as docker's does, also for a container without labels), `<nil>`
/// for a map of objects (docker: a nil `*EndpointSettings` of
/// `.NetworkSettings.Networks`), `<no value>` otherwise. An index past
/// a list's end is Go's "index out of range: N"; a null collection is
/// Go's "index of untyped nil" (the raw JSON docker falls back to).
fn f_index(args: &[Value]) -> Result<Value, FuncError> {
    if args.len() < 2 {
        return Err(FuncError::AtLeastXArgs("index".into(), 2));
    }
    let mut col = args[0].clone();
    for key in &args[1..] {
        col = match (&col, key) {
            (Value::Array(a), Value::Number(n)) => match n.as_i64() {
                Some(i) if i >= 0 && (i as usize) < a.len() => a[i as usize].clone(),
                _ => {
                    return Err(FuncError::Generic(format!(
                        "error calling index: index out of range: {n}"
                    )));
                }
            },
            (Value::String(s), Value::Number(n)) => match n.as_i64() {
                Some(i) if i >= 0 && (i as usize) < s.len() => {
                    Value::from(s.as_bytes()[i as usize])
                }
                _ => {
                    return Err(FuncError::Generic(format!(
                        "error calling index: index out of range: {n}"
                    )));
                }
            },
            (Value::Map(o), Value::String(k)) => o
                .get(k)
                .cloned()
                .unwrap_or_else(|| Value::String(String::new())),
            (Value::Object(o), Value::String(k)) => match o.get(k) {
                Some(v) if !hidden(k) => v.clone(),
                _ => {
                    // (an empty map counts as one of strings: Labels)
                    if visible(o).all(|(_, v)| matches!(v, Value::String(_))) {
                        Value::String(String::new())
                    } else if visible(o).all(|(_, v)| matches!(v, Value::Object(_) | Value::Map(_)))
                    {
                        Value::Nil
                    } else {
                        Value::NoValue
                    }
                }
            },
            (Value::Map(_) | Value::Object(_), k) => {
                return Err(FuncError::Generic(format!(
                    "error calling index: value has type {}; should be string",
                    go_type(k)
                )));
            }
            // a null map in docker's typed document: Go's zero value
            (Value::Nil, Value::String(_)) => Value::String(String::new()),
            (Value::Nil | Value::NoValue, _) => {
                return Err(FuncError::Generic(
                    "error calling index: index of untyped nil".into(),
                ));
            }
            (c, _) => {
                return Err(FuncError::Generic(format!(
                    "error calling index: can't index item of type {}",
                    go_type(c)
                )));
            }
        };
    }
    Ok(col)
}

/// The Go type name of a JSON-decoded value (for error texts).
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.as_i64().is_some() || n.as_u64().is_some() => "int",
        Value::Number(_) => "float64",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) | Value::Map(_) => "map[string]interface {}",
        _ => "interface {}",
    }
}

/// Go's `len`, for maps too and without hidden keys.
fn f_len(args: &[Value]) -> Result<Value, FuncError> {
    if args.len() != 1 {
        return Err(FuncError::ExactlyXArgs("len".into(), 1));
    }
    let n = match &args[0] {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        Value::Object(o) | Value::Map(o) => visible(o).count(),
        v => return Err(FuncError::Generic(format!("len of type {}", go_type(v)))),
    };
    Ok(Value::from(n as u64))
}

/// Go's `printf`. Strings, lists and maps are formatted here as Go's
/// fmt does: `%s`/`%v` right-aligned in the width (gtmpl pads them on
/// the right), precision cutting a string, `%q` quoting as
/// `strconv.Quote` (`"/lb"`; `%+q` ASCII only, `%#q` a backquoted raw
/// string where possible; lists and maps of strings element by element),
/// lists and maps as `%v` prints them; numbers and other verbs are
/// gtmpl's. Each verb is formatted on its own with its argument, so
/// explicit argument indexes (`%[2]q`) and `*` widths work as in Go, and
/// a missing, extra or ill-typed argument is reported in Go's words
/// (`%!q(MISSING)`, `%!(EXTRA string=x)`, `%!d(string=x)`).
fn f_printf(args: &[Value]) -> Result<Value, FuncError> {
    let Some(Value::String(format)) = args.first() else {
        return gtmpl::funcs::printf(args);
    };
    let Some(verbs) = parse_verbs(format) else {
        return gtmpl::funcs::printf(args);
    };
    let vals = &args[1..];
    let mut out = String::new();
    let mut next = 0usize;
    let mut reordered = false;
    let mut last = 0usize;
    for v in &verbs {
        out.push_str(&format[last..v.start].replace("%%", "%"));
        last = v.end;
        let mut take = |idx: Option<usize>| -> Option<&Value> {
            if let Some(i) = idx {
                reordered = true;
                next = i;
            }
            let r = vals.get(next);
            next += 1;
            r
        };
        let num = |x: Option<&Value>| match x {
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        let (mut flags, mut width) = (v.flags.clone(), v.width.parse::<usize>().ok());
        if v.width_star {
            match num(take(v.width_index)) {
                Some(w) if w < 0 => {
                    flags.push('-');
                    width = Some(w.unsigned_abs() as usize);
                }
                Some(w) => width = Some(w as usize),
                None => out.push_str("%!(BADWIDTH)"),
            }
        }
        let mut prec = v.prec.as_ref().map(|p| p.parse::<usize>().unwrap_or(0));
        if v.prec.as_deref() == Some("*") {
            match num(take(v.prec_index)) {
                Some(p) if p >= 0 => prec = Some(p as usize),
                _ => {
                    prec = None;
                    out.push_str("%!(BADPREC)");
                }
            }
        }
        let Some(arg) = take(v.index) else {
            out.push_str(&format!("%!{}(MISSING)", v.verb));
            continue;
        };
        let cut = |s: &str| match prec {
            Some(n) => s.chars().take(n).collect(),
            None => s.to_string(),
        };
        let strings = |a: &[Value]| a.iter().all(|x| matches!(x, Value::String(_)));
        let text = match (v.verb, arg) {
            ('d' | 'v', Value::Number(n)) if n.as_i64().is_some() || n.as_u64().is_some() => {
                let (neg, digits) = match n.as_i64() {
                    Some(i) => (i < 0, i.unsigned_abs().to_string()),
                    None => (false, n.to_string()),
                };
                let sign = if neg {
                    "-"
                } else if flags.contains('+') {
                    "+"
                } else if flags.contains(' ') {
                    " "
                } else {
                    ""
                };
                let zeros = match width {
                    Some(w) if flags.contains('0') && !flags.contains('-') => {
                        w.saturating_sub(sign.len() + digits.len())
                    }
                    _ => 0,
                };
                Some(format!("{sign}{}{digits}", "0".repeat(zeros)))
            }
            ('v', Value::String(s)) if flags.contains('#') => Some(go_quote(&cut(s))),
            ('s' | 'v', Value::String(s)) => Some(cut(s)),
            ('q', Value::String(s)) => Some(go_quote_with(&cut(s), &flags)),
            ('q', Value::Array(a)) if strings(a) => Some(format!(
                "[{}]",
                a.iter()
                    .map(|x| go_quote_with(&cut(&x.to_string()), &flags))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            ('q', Value::Object(o) | Value::Map(o))
                if visible(o).all(|(_, x)| matches!(x, Value::String(_))) =>
            {
                let mut ks: Vec<&String> = visible(o).map(|(k, _)| k).collect();
                ks.sort();
                let items: Vec<String> = ks
                    .iter()
                    .map(|k| {
                        format!(
                            "{}:{}",
                            go_quote_with(&cut(k), &flags),
                            go_quote_with(&cut(&o[k.as_str()].to_string()), &flags)
                        )
                    })
                    .collect();
                Some(format!("map[{}]", items.join(" ")))
            }
            ('s' | 'v', Value::Array(_) | Value::Object(_) | Value::Map(_)) => Some(go_v(arg)),
            ('v', Value::Nil | Value::NoValue) => Some("<nil>".to_string()),
            (_, Value::Nil | Value::NoValue) => Some(format!("%!{}(<nil>)", v.verb)),
            _ => None,
        };
        let piece = match text {
            Some(t) => pad(&t, &flags, width),
            None => {
                let mut spec = format!("%{flags}");
                if let Some(w) = width {
                    spec.push_str(&w.to_string());
                }
                if let Some(p) = prec {
                    spec.push_str(&format!(".{p}"));
                }
                spec.push(v.verb);
                match gtmpl::funcs::printf(&[Value::String(spec), arg.clone()]) {
                    Ok(p) => p.to_string(),
                    Err(_) => format!("%!{}({}={})", v.verb, go_type(arg), go_v(arg)),
                }
            }
        };
        out.push_str(&piece);
    }
    out.push_str(&format[last..].replace("%%", "%"));
    if !reordered && next < vals.len() {
        let extra: Vec<String> = vals[next..]
            .iter()
            .map(|x| format!("{}={}", go_type(x), go_v(x)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(Value::String(out))
}

/// Go's padding of a formatted value to `width` characters: on the left
/// (with zeros for the `0` flag), on the right for `-`.
fn pad(s: &str, flags: &str, width: Option<usize>) -> String {
    let n = s.chars().count();
    match width {
        Some(w) if w > n => {
            let fill = w - n;
            if flags.contains('-') {
                format!("{s}{}", " ".repeat(fill))
            } else if flags.contains('0') {
                format!("{}{s}", "0".repeat(fill))
            } else {
                format!("{}{s}", " ".repeat(fill))
            }
        }
        _ => s.to_string(),
    }
}

/// One `%` verb of a printf format: its byte range, flags, width and
/// precision (digits or `*`), explicit argument indexes (0-based) and
/// the verb letter.
struct Verb {
    start: usize,
    end: usize,
    flags: String,
    width: String,
    width_star: bool,
    width_index: Option<usize>,
    prec: Option<String>,
    prec_index: Option<usize>,
    index: Option<usize>,
    verb: char,
}

/// The verbs of a printf format (`%%` is not one); `None` for a format
/// this parser does not follow (a verb cut off at the end, a bad index),
/// left to gtmpl's printf.
fn parse_verbs(f: &str) -> Option<Vec<Verb>> {
    let b = f.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let index = |i: &mut usize| -> Option<Option<usize>> {
        if b.get(*i) != Some(&b'[') {
            return Some(None);
        }
        let close = f[*i..].find(']')? + *i;
        let n: usize = f[*i + 1..close].parse().ok()?;
        *i = close + 1;
        Some(Some(n.checked_sub(1)?))
    };
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if b.get(i) == Some(&b'%') {
            i += 1;
            continue;
        }
        let fs = i;
        while i < b.len() && b"#0+- ".contains(&b[i]) {
            i += 1;
        }
        let flags = f[fs..i].to_string();
        let mut width_index = index(&mut i)?;
        let (mut width, mut width_star) = (String::new(), false);
        if b.get(i) == Some(&b'*') {
            width_star = true;
            i += 1;
        } else {
            let ws = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            width = f[ws..i].to_string();
        }
        let mut index_after = None;
        if !width_star && width_index.is_some() {
            index_after = width_index.take();
        }
        let (mut prec, mut prec_index) = (None, None);
        if b.get(i) == Some(&b'.') {
            i += 1;
            prec_index = index(&mut i)?;
            if b.get(i) == Some(&b'*') {
                prec = Some("*".to_string());
                i += 1;
            } else {
                let ps = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                prec = Some(f[ps..i].to_string());
                if prec_index.is_some() {
                    index_after = prec_index.take();
                }
            }
        }
        if let Some(ix) = index(&mut i)? {
            index_after = Some(ix);
        }
        let verb = f[i..].chars().next()?;
        i += verb.len_utf8();
        out.push(Verb {
            start,
            end: i,
            flags,
            width,
            width_star,
            width_index,
            prec,
            prec_index,
            index: index_after,
            verb,
        });
    }
    Some(out)
}

/// `%q` of a string with printf flags: `#` a backquoted raw string when
/// Go's `strconv.CanBackquote` allows, `+` ASCII-only escapes.
fn go_quote_with(s: &str, flags: &str) -> String {
    let can_backquote = !s.contains('`')
        && s.chars()
            .all(|c| c == '\t' || !(c.is_control() || c == '\u{feff}'));
    if flags.contains('#') && can_backquote {
        return format!("`{s}`");
    }
    go_quote_opts(s, flags.contains('+'))
}

/// `.Label "key"` of docker's list contexts (ps, volume ls, network ls):
/// the row's label value or "". Called as `dlabel RECEIVER KEY` (see
/// [`rewrite_label_calls`]); on a table's header row it gives the
/// column title docker gives: the key's last `.`-separated part with
/// `-` and `_` as spaces.
fn f_label(args: &[Value]) -> Result<Value, FuncError> {
    let labels = match args.first() {
        Some(Value::Object(o) | Value::Map(o)) => o.get(LABELS_KEY),
        _ => None,
    };
    let Some(labels) = labels else {
        return Err(FuncError::Generic("no field Label".into()));
    };
    if args.len() != 2 {
        return Err(FuncError::Generic(format!(
            "wrong number of args for Label: want 1 got {}",
            args.len() - 1
        )));
    }
    let key = args[1].to_string();
    Ok(Value::String(match labels {
        Value::Object(l) | Value::Map(l) => l.get(&key).map(|v| v.to_string()).unwrap_or_default(),
        _ => key
            .rsplit('.')
            .next()
            .unwrap_or("")
            .replace(['-', '_'], " "),
    }))
}

/// Rewrites the method call `.Label ARG` (also `$.Label`, `$x.Label`,
/// `.A.Label`) in the actions of `t` as `dlabel RECEIVER ARG`: gtmpl has
/// no methods with arguments. `.Labels`, `.Label.X` and text outside
/// actions or inside string literals are left alone.
pub fn rewrite_label_calls(t: &str) -> String {
    const NAME: &str = ".Label";
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len() + 8);
    let (mut in_action, mut quote) = (false, None::<u8>);
    let mut copied = 0;
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let c = b[i];
        if !in_action {
            if t[i..].starts_with("{{") {
                in_action = true;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        if let Some(q) = quote {
            if c == b'\\' && q != b'`' {
                i += 1;
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' | b'`' | b'\'' => quote = Some(c),
            b'}' if t[i..].starts_with("}}") => {
                in_action = false;
                i += 2;
                continue;
            }
            b'.' if t[i..].starts_with(NAME)
                && !b
                    .get(i + NAME.len())
                    .is_some_and(|&n| ident(n) || n == b'.') =>
            {
                let mut s = i;
                while s > 0 && (ident(b[s - 1]) || b[s - 1] == b'.' || b[s - 1] == b'$') {
                    s -= 1;
                }
                let recv = if s == i { "." } else { &t[s..i] };
                if recv == "." || recv.starts_with('$') || recv.starts_with('.') {
                    out.push_str(&t[copied..s]);
                    out.push_str("dlabel ");
                    out.push_str(recv);
                    i += NAME.len();
                    copied = i;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&t[copied..]);
    out
}

/// Wraps each printing action `{{ pipeline }}` as `{{ gofmt (pipeline) }}`
/// so lists and maps print as Go prints them; control actions, comments
/// and assignments are left alone.
pub fn wrap_actions(t: &str) -> String {
    const KEYWORDS: [&str; 10] = [
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ];
    let mut out = String::with_capacity(t.len() + 16);
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        // find the closing braces outside string literals
        let bytes = after.as_bytes();
        let (mut i, mut quote) = (0, None::<u8>);
        let mut end = None;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(q) => {
                    if b == b'\\' && q == b'"' {
                        i += 1;
                    } else if b == q {
                        quote = None;
                    }
                }
                None if b == b'"' || b == b'`' || b == b'\'' => quote = Some(b),
                None if b == b'}' && bytes.get(i + 1) == Some(&b'}') => {
                    end = Some(i);
                    break;
                }
                None => {}
            }
            i += 1;
        }
        let Some(end) = end else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (lt, body) = match inner.strip_prefix('-') {
            Some(b) if b.starts_with(char::is_whitespace) => ("- ", b),
            _ => ("", inner),
        };
        let body_t = body.trim_end();
        let (body_t, rt) = match body_t.strip_suffix('-') {
            Some(b) if b.ends_with(char::is_whitespace) => (b, " -"),
            _ => (body_t, ""),
        };
        let core = body_t.trim();
        let first = core
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        let leave = core.is_empty()
            || core.starts_with("/*")
            || KEYWORDS.contains(&first)
            || core.contains(":=")
            || (core.starts_with('$') && core.contains(" = "));
        if leave {
            out.push_str("{{");
            out.push_str(inner);
            out.push_str("}}");
        } else {
            out.push_str(&format!("{{{{{lt}gofmt ({core}){rt}}}}}"));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn f_table(args: &[Value]) -> Result<Value, FuncError> {
    Ok(args.first().cloned().unwrap_or(Value::NoValue))
}

/// A parsed `--format` template with docker's functions: `json`, `upper`,
/// `lower`, `title`, `join`, `split`, `truncate`, `pad` (plus Go's
/// builtins: `index`, `len`, `printf`, `eq`...; `index`, `len` and
/// `printf` are this module's, closer to Go's than gtmpl's), and the
/// `.Label "key"` method of list rows made with [`with_labels`].
pub struct Tmpl {
    t: Template,
}

impl Tmpl {
    /// Parses `text`; the error is docker's "template parsing error: ...".
    pub fn parse(text: &str) -> Result<Tmpl, String> {
        let mut t = Template::default();
        t.add_funcs(&[
            ("json", f_json as gtmpl_value::Func),
            ("upper", f_upper),
            ("lower", f_lower),
            ("title", f_title),
            ("join", f_join),
            ("split", f_split),
            ("truncate", f_truncate),
            ("pad", f_pad),
            ("table", f_table),
            ("gofmt", f_gofmt),
            ("index", f_index),
            ("len", f_len),
            ("printf", f_printf),
            ("dlabel", f_label),
        ]);
        t.parse(wrap_actions(&rewrite_label_calls(text)))
            .map_err(|e| format!("template parsing error: {e}"))?;
        Ok(Tmpl { t })
    }

    /// Renders against `data`; the error is docker's "template: ...".
    pub fn render(&self, data: &serde_json::Value) -> Result<String, String> {
        self.t
            .render(&Context::from(to_value(data)))
            .map_err(|e| format!("failed to execute template: {e}"))
    }

    /// Renders against an already converted value.
    pub fn render_value(&self, data: Value) -> Result<String, String> {
        self.t
            .render(&Context::from(data))
            .map_err(|e| format!("failed to execute template: {e}"))
    }
}

/// How a list command prints, from its `--format`: the default table,
/// `table TEMPLATE`, `json` (one JSON object a line) or a raw template.
pub enum ListFormat {
    /// Tab-aligned table of this template's columns, with a header row.
    Table(String),
    /// One JSON object per line.
    Json,
    /// A template rendered once per item, no header.
    Raw(String),
}

impl ListFormat {
    /// Interprets a `--format` value, with `default` as the table template.
    pub fn from_flag(flag: Option<&str>, default: &str) -> ListFormat {
        match flag.map(str::trim_start) {
            None | Some("") | Some("table") => ListFormat::Table(default.to_string()),
            Some("json") => ListFormat::Json,
            Some(f) if f.starts_with("table ") => {
                ListFormat::Table(f["table ".len()..].to_string())
            }
            Some(f) => ListFormat::Raw(f.to_string()),
        }
    }
}

/// Prints `rows` (objects of string fields, e.g. `{"ID": "...",
/// "Names": "..."}`) in `fmt`. `headers` maps field names to column titles
/// ("ID" → "CONTAINER ID"); the table header is the template rendered
/// against those titles, as docker does.
pub fn print_list(
    fmt: &ListFormat,
    rows: &[serde_json::Map<String, serde_json::Value>],
    headers: &[(&str, &str)],
) -> Result<String, String> {
    match fmt {
        ListFormat::Json => {
            let mut out = String::new();
            for r in rows {
                let mut keys: Vec<_> = r.keys().filter(|k| !hidden(k)).collect();
                keys.sort();
                let sorted: serde_json::Map<_, _> = keys
                    .into_iter()
                    .map(|k| (k.clone(), r[k].clone()))
                    .collect();
                out.push_str(&go_json(
                    serde_json::to_string(&sorted).map_err(|e| e.to_string())?,
                ));
                out.push('\n');
            }
            Ok(out)
        }
        ListFormat::Raw(t) => {
            // docker's error positions count in the flag's text as typed
            let t_raw = t.as_str();
            let src = unescape(t);
            let t = Tmpl::parse(&src)?;
            let mut out = String::new();
            for r in rows {
                out.push_str(
                    &t.render(&serde_json::Value::Object(r.clone()))
                        .map_err(|e| exec_error(t_raw, &e, context_type(headers)))?,
                );
                out.push('\n');
            }
            Ok(out)
        }
        ListFormat::Table(t) => {
            let typed = format!("table {t}");
            let src = unescape(t);
            let t = Tmpl::parse(&src)?;
            let mut hdr: HashMap<String, Value> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            // `.Label "k"` on the header row gives the column title
            if rows.iter().any(|r| r.contains_key(LABELS_KEY)) {
                hdr.insert(LABELS_KEY.to_string(), Value::Bool(true));
            }
            let err = |e: String| exec_error(&typed, &e, context_type(headers));
            let mut lines = vec![t.render_value(Value::Object(hdr)).map_err(err)?];
            for r in rows {
                lines.push(
                    t.render(&serde_json::Value::Object(r.clone()))
                        .map_err(err)?,
                );
            }
            Ok(tabwrite(&lines, 10, 3))
        }
    }
}

/// The Go type docker's formatter executes a list template on, told by
/// the list's header table ("*formatter.ContainerContext" for `ps`).
fn context_type(headers: &[(&str, &str)]) -> &'static str {
    let has = |title: &str| headers.iter().any(|(_, t)| *t == title);
    if has("CPU %") {
        "*container.statsContext"
    } else if has("CONTAINER ID") {
        "*formatter.ContainerContext"
    } else if has("IMAGE ID") {
        "*formatter.imageContext"
    } else if has("NETWORK ID") {
        "*network.networkContext"
    } else if has("VOLUME NAME") {
        "*formatter.volumeContext"
    } else {
        "*formatter.Context"
    }
}

/// A list template's execution error as docker words it (Go's
/// text/template's error after "failed to execute template: "):
/// `template: :LINE:COL: executing "" at <.Nope>: can't evaluate field
/// Nope in type *formatter.ContainerContext` (COL is the byte offset of
/// the field in its line of the flag as typed, `table ` and `\t`
/// escapes included, as docker counts). Never the row's data (gtmpl appends the whole
/// object after " for ").
fn exec_error(src: &str, err: &str, ctx: &str) -> String {
    let e = err.trim_start_matches("failed to execute template: ");
    // docker's ps says "failed to execute template", its other lists
    // (images, volume ls...) "template parsing error"
    let prefix = if ctx == "*formatter.ContainerContext" {
        "failed to execute template"
    } else {
        "template parsing error"
    };
    // LINE:COL of the field `pat` (".Name") in the flag's text
    let at = |pat: &str| {
        let pos = src
            .match_indices(pat)
            .map(|(i, _)| i)
            .find(|&i| {
                !src[i + pat.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
            .unwrap_or(0);
        let line = 1 + src[..pos].matches('\n').count();
        let col = pos - src[..pos].rfind('\n').map(|n| n + 1).unwrap_or(0);
        format!("{line}:{col}")
    };
    if let Some(i) = e.find("wrong number of args for Label: ") {
        let what = e[i..].split(" for {").next().unwrap_or(&e[i..]).trim();
        return format!(
            "{prefix}: template: :{}: executing \"\" at <.Label>: {what}",
            at(".Label")
        );
    }
    if let Some(rest) = e.strip_prefix("no field ").or_else(|| {
        e.find("no field Label")
            .map(|i| &e[i + "no field ".len()..])
    }) {
        let field = rest.split(" for ").next().unwrap_or(rest).trim();
        let pat = format!(".{field}");
        return format!(
            "{prefix}: template: :{}: executing \"\" at <{pat}>: can't evaluate field {field} in type {ctx}",
            at(&pat)
        );
    }
    let short = e.split(" for {").next().unwrap_or(e);
    format!("{prefix}: {short}")
}

/// Docker turns the two-character escapes `\t` and `\n` typed in a shell
/// into real tabs/newlines in `--format`.
pub fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// Go's `encoding/json` escapes `<`, `>` and `&` inside strings as
/// `\u003c`, `\u003e`, `\u0026`; docker's JSON output has them so.
/// (Outside strings these bytes never occur in JSON.)
pub fn go_json(s: String) -> String {
    if !s.contains(['<', '>', '&']) {
        return s;
    }
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Truncates to the first `n` characters.
pub fn trunc(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Go's `strconv.Quote`: double-quoted with `"`, `\\` and control
/// characters escaped (docker's ps COMMAND column, `printf "%q"`).
pub fn go_quote(s: &str) -> String {
    go_quote_opts(s, false)
}

/// [`go_quote`], or with `ascii` Go's `strconv.QuoteToASCII` (every
/// non-ASCII character as `\u` / `\U`). Unprintable characters are
/// escaped as Go does: `\a \b \f \n \r \t \v`, `\xNN` below U+0080,
/// `\uNNNN` / `\UNNNNNNNN` above (controls, format characters, spaces
/// other than U+0020).
pub fn go_quote_opts(s: &str, ascii: bool) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\u{7}' => o.push_str("\\a"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{b}' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) < 0x80 => o.push(c),
            c if ascii || !go_printable(c) => {
                if (c as u32) < 0x10000 {
                    o.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    o.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// An approximation of Go's `strconv.IsPrint` above ASCII: not a
/// control, not a space other than U+0020, not one of the common format
/// characters (soft hyphen, zero-width and bidi marks, BOM).
fn go_printable(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c as u32, 0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff))
}

/// Docker's ps COMMAND column: the quoted command, ellipsised to 20
/// characters ("sleep 1000" → `"sleep 1000"`; longer ones end in "…").
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let mut o: String = s.chars().take(max.saturating_sub(1)).collect();
    o.push('…');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_matches_docker_ps_layout() {
        let out = tabwrite(
            &[
                "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES".to_string(),
                "1c1000c4f251\tbusybox\t\"sleep 1000\"\tLess than a second ago\tUp Less than a second\t\tref1".to_string(),
            ],
            10,
            3,
        );
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE     COMMAND        CREATED                  STATUS                  PORTS     NAMES\n\
             1c1000c4f251   busybox   \"sleep 1000\"   Less than a second ago   Up Less than a second             ref1\n"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(0.4), "Less than a second");
        assert_eq!(human_duration(1.2), "1 second");
        assert_eq!(human_duration(3.0), "3 seconds");
        assert_eq!(human_duration(61.0), "About a minute");
        assert_eq!(human_duration(150.0), "2 minutes");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(5.0 * 3600.0), "5 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(20.0 * 86400.0), "2 weeks");
        assert_eq!(human_duration(90.0 * 86400.0), "3 months");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size_prec(4_261_234.0, 3), "4.26MB");
        assert_eq!(human_size_prec(1_986_000.0, 3), "1.99MB");
        assert_eq!(human_size(1_986_000.0), "1.986MB");
        assert_eq!(human_size_prec(0.0, 3), "0B");
        assert_eq!(human_size_prec(1500.0, 3), "1.5kB");
        assert_eq!(human_size_prec(999.0, 3), "999B");
        assert_eq!(human_size_prec(123_400_000.0, 3), "123MB");
        assert_eq!(bytes_size(24.0 * 1024.0 * 1024.0 * 1024.0), "24GiB");
        assert_eq!(go_g(999.96, 3), "1e+03");
        assert_eq!(go_g(0.000012345, 3), "1.23e-05");
    }

    #[test]
    fn ram_and_durations_parse() {
        assert_eq!(parse_ram("64m").unwrap(), 64 << 20);
        assert_eq!(parse_ram("1g").unwrap(), 1 << 30);
        assert_eq!(parse_ram("512").unwrap(), 512);
        assert_eq!(parse_ram("2KB").unwrap(), 2048);
        assert_eq!(parse_ram("12x").unwrap_err(), "invalid suffix: 'x'");
        assert_eq!(parse_go_duration("42m"), Some(2520.0));
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("1.5s"), Some(1.5));
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(timestamp_arg("10s", 1000.5).unwrap(), "990");
        assert_eq!(
            timestamp_arg("2013-01-02T13:23:37Z", 0.0).unwrap(),
            "1357133017"
        );
        assert_eq!(timestamp_arg("1690000000", 0.0).unwrap(), "1690000000");
        assert!(timestamp_arg("yesterday", 0.0).is_err());
    }

    #[test]
    fn templates_with_docker_functions() {
        let data = serde_json::json!({"ID": "abcdef123456", "Names": "web", "Config": {"Cmd": ["sh", "-c"], "Labels": {}}, "State": {"Running": true, "Pid": 42}});
        let r = |t: &str| Tmpl::parse(t).unwrap().render(&data).unwrap();
        assert_eq!(r("{{.ID}} {{.Names}}"), "abcdef123456 web");
        assert_eq!(r("{{json .Config.Cmd}}"), r#"["sh","-c"]"#);
        assert_eq!(
            r("{{upper .Names}}|{{lower \"AB\"}}|{{truncate .ID 3}}"),
            "WEB|ab|abc"
        );
        assert_eq!(r("{{join .Config.Cmd \",\"}}"), "sh,-c");
        assert_eq!(r("{{.State.Running}} {{.State.Pid}}"), "true 42");
        assert_eq!(r("{{json .State}}"), r#"{"Running":true,"Pid":42}"#);
        assert_eq!(r("{{title \"hello world\"}}"), "Hello World");
        assert_eq!(r("{{range split \"a:b\" \":\"}}[{{.}}]{{end}}"), "[a][b]");
        assert!(Tmpl::parse("{{.ID").is_err());
        // lists and maps print as Go's %v
        assert_eq!(r("{{.Config.Cmd}} {{.Config.Labels}}"), "[sh -c] map[]");
        assert_eq!(r("{{range .Config.Cmd}}<{{.}}>{{end}}"), "<sh><-c>");
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
        assert_eq!(r("{{$n := .Names}}{{$n}}-{{- \"x\" -}}"), "web-x");
        assert_eq!(r("{{/* c */}}{{printf \"%s}}\" .ID}}"), "abcdef123456}}");
    }

    /// What docker 28's CLI printed for these against dockerd 20.10.
    #[test]
    fn index_printf_q_and_label_as_docker() {
        let data = serde_json::json!({"Name": "/lb", "Config": {"Labels": {"a": "1", "b": "x y"},
            "Env": ["P=1"], "Cmd": ["true"]}, "Image": {"Labels": null},
            "Nets": {"bridge": {"IP": ""}}, "Empty": {"Labels": {}}});
        let r = |t: &str| Tmpl::parse(t).unwrap().render(&data);
        assert_eq!(r(r#"{{index .Config.Labels "zz"}}"#).unwrap(), "");
        assert_eq!(r(r#"{{index .Config.Labels "a"}}"#).unwrap(), "1");
        assert_eq!(r(r#"{{index .Empty.Labels "a"}}"#).unwrap(), "");
        assert_eq!(r(r#"{{index .Image.Labels "a"}}"#).unwrap(), "");
        assert_eq!(
            r(r#"{{.Config.Labels.zz}}|{{.Empty.Labels.a}}"#).unwrap(),
            "<no value>|<no value>"
        );
        assert_eq!(r(r#"{{index .Nets "zz"}}"#).unwrap(), "<nil>");
        assert_eq!(
            r(r#"{{len .Config.Labels}} {{.Config.Labels}}"#).unwrap(),
            "2 map[a:1 b:x y]"
        );
        assert_eq!(
            r("{{index .Config.Env 5}}").unwrap_err(),
            "failed to execute template: error calling index: index out of range: 5"
        );
        assert_eq!(r(r#"{{printf "%q" .Name}}"#).unwrap(), r#""/lb""#);
        assert_eq!(
            r(r#"{{printf "%q|%s|%5.2q|%-8q|%*q|%[1]q" .Name .Name .Name .Name 6 .Name}}"#)
                .unwrap(),
            r#""/lb"|/lb| "/l"|"/lb"   | "/lb"|"/lb""#
        );
        assert_eq!(
            r(r#"{{printf "%q %q" .Config.Cmd .Config.Labels}}"#).unwrap(),
            r#"["true"] map["a":"1" "b":"x y"]"#
        );
        assert_eq!(
            r(r#"{{printf "%q" "a\"b\\c\n\té😀 "}}"#).unwrap(),
            r#""a\"b\\c\n\té😀 ""#
        );
        assert_eq!(
            r(r#"{{printf "%+q|%#q" "é" "a\"b"}}"#).unwrap(),
            r#""\u00e9"|`a"b`"#
        );
        assert_eq!(
            r(r#"{{printf "%5s|%-5s|%05d|%-4d|%q %d" "ab" "ab" -42 7 .Name}}"#).unwrap(),
            r#"   ab|ab   |-0042|7   |"/lb" %!d(MISSING)"#
        );
        assert_eq!(
            r(r#"{{printf "%s" .Name .Name}}"#).unwrap(),
            "/lb%!(EXTRA string=/lb)"
        );
        assert_eq!(go_quote("\u{7}\u{1}\u{7f}\u{a0}"), r#""\a\x01\x7f\u00a0""#);

        let mut row = serde_json::Map::new();
        row.insert("Names".into(), "lb".into());
        with_labels(
            &mut row,
            &serde_json::json!({"a": "1", "com.x.foo-bar_z": "2"}),
        );
        let mut bare = serde_json::Map::new();
        bare.insert("Names".into(), "nol".into());
        with_labels(&mut bare, &serde_json::Value::Null);
        let rows = vec![row, bare];
        let hdr = [("Names", "NAMES")];
        let list = |f: &str| print_list(&ListFormat::from_flag(Some(f), ""), &rows, &hdr);
        assert_eq!(
            list(
                r#"{{.Names}} [{{.Label "a"}}] [{{.Label "zz"}}] {{"a" | .Label}} {{$.Label "a"}}"#
            )
            .unwrap(),
            "lb [1] [] 1 1\nnol [] []  \n"
        );
        assert_eq!(
            list(r#"table {{.Names}}\t{{.Label "com.x.foo-bar_z"}}"#).unwrap(),
            "NAMES     foo bar z\nlb        2\nnol       \n"
        );
        assert_eq!(
            list("{{.Label}}").unwrap_err(),
            "template parsing error: template: :1:2: executing \"\" at <.Label>: wrong number of args for Label: want 1 got 0"
        );
        assert_eq!(
            list("json").unwrap(),
            "{\"Names\":\"lb\"}\n{\"Names\":\"nol\"}\n"
        );
        assert_eq!(
            list("{{json .}}").unwrap(),
            "{\"Names\":\"lb\"}\n{\"Names\":\"nol\"}\n"
        );
        assert_eq!(
            rewrite_label_calls(
                r#"{{.Label "a"}} .Label {{.Labels}} {{"x.Label"}} {{$x.Label 1}}"#
            ),
            r#"{{dlabel . "a"}} .Label {{.Labels}} {{"x.Label"}} {{dlabel $x 1}}"#
        );
    }

    #[test]
    fn action_wrapping() {
        assert_eq!(wrap_actions("a {{.X}} b"), "a {{gofmt (.X)}} b");
        assert_eq!(
            wrap_actions("{{- .X | upper -}}"),
            "{{- gofmt (.X | upper) -}}"
        );
        assert_eq!(
            wrap_actions("{{range .L}}{{.}}{{end}}"),
            "{{range .L}}{{gofmt (.)}}{{end}}"
        );
        assert_eq!(
            wrap_actions("{{$x := 1}}{{/* c */}}"),
            "{{$x := 1}}{{/* c */}}"
        );
        assert_eq!(wrap_actions("{{\"}}\"}}"), "{{gofmt (\"}}\")}}");
        assert_eq!(wrap_actions("{{-3}}"), "{{gofmt (-3)}}");
    }

    #[test]
    fn list_formats() {
        let mut row = serde_json::Map::new();
        row.insert("ID".into(), "abc".into());
        row.insert("Names".into(), "web".into());
        let rows = vec![row];
        let hdr = [("ID", "CONTAINER ID"), ("Names", "NAMES")];
        let t = print_list(
            &ListFormat::from_flag(Some("table {{.ID}}\\t{{.Names}}"), ""),
            &rows,
            &hdr,
        )
        .unwrap();
        assert_eq!(t, "CONTAINER ID   NAMES\nabc            web\n");
        let j = print_list(&ListFormat::from_flag(Some("json"), ""), &rows, &hdr).unwrap();
        assert_eq!(j, "{\"ID\":\"abc\",\"Names\":\"web\"}\n");
        assert_eq!(
            go_json(r#"{"D":"<none>&"}"#.to_string()),
            r#"{"D":"\u003cnone\u003e\u0026"}"#
        );
        let raw = print_list(&ListFormat::from_flag(Some("{{.Names}}"), ""), &rows, &hdr).unwrap();
        assert_eq!(raw, "web\n");
    }

    #[test]
    fn command_ellipsis() {
        assert_eq!(ellipsis("\"sleep 1000\"", 20), "\"sleep 1000\"");
        assert_eq!(
            ellipsis("\"sh -c 'while true; do sleep 1; done'\"", 20),
            "\"sh -c 'while true;…"
        );
    }
}
