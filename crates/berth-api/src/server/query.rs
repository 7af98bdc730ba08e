//! Query-string helpers with Docker's conventions.

use crate::backend::Filters;
use crate::ApiError;

/// Decoded query parameters (the last value wins, except [`Query::all`]).
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let pairs = q
            .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default())
            .unwrap_or_default();
        Query { pairs }
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's `httputils.BoolValue`: anything but "", "0", "no", "false",
    /// "none" (case-insensitive) is true.
    pub fn bool(&self, k: &str) -> bool {
        match self.get(k) {
            None => false,
            Some(v) => !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            ),
        }
    }

    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(format!("invalid value for {k}: {v:?}"))),
        }
    }

    /// `filters=` in either encoding: `{"k":{"v":true}}` or `{"k":["v"]}`.
    pub fn filters(&self) -> Result<Filters, ApiError> {
        let Some(raw) = self.get("filters") else {
            return Ok(Filters::new());
        };
        parse_filters(raw)
    }
}

pub fn parse_filters(raw: &str) -> Result<Filters, ApiError> {
    if raw.trim().is_empty() {
        return Ok(Filters::new());
    }
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::invalid("invalid filter: expected an object"))?;
    let mut out = Filters::new();
    for (k, v) in obj {
        let vals: Vec<String> = match v {
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(_, b)| b.as_bool() != Some(false))
                .map(|(s, _)| s.clone())
                .collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => return Err(ApiError::invalid(format!("invalid filter value for {k}"))),
        };
        out.insert(k.clone(), vals);
    }
    Ok(out)
}

/// Unix time as Docker's API takes it (`since`, `until`): seconds with an
/// optional `.nanoseconds` fraction, or an RFC 3339 timestamp. Returns
/// nanoseconds.
pub fn parse_time_ns(s: &str) -> Result<i128, ApiError> {
    let bad = || ApiError::invalid(format!("invalid timestamp: {s:?}"));
    if let Some((a, b)) = s.split_once('.') {
        let secs: i128 = a.parse().map_err(|_| bad())?;
        let mut frac = b.to_string();
        if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        while frac.len() < 9 {
            frac.push('0');
        }
        return Ok(secs * 1_000_000_000 + frac.parse::<i128>().map_err(|_| bad())?);
    }
    if let Ok(secs) = s.parse::<i128>() {
        return Ok(secs * 1_000_000_000);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_both_encodings() {
        let f = parse_filters(r#"{"label":{"a=b":true},"status":["exited"]}"#).unwrap();
        assert_eq!(f["label"], ["a=b"]);
        assert_eq!(f["status"], ["exited"]);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_ns("12").unwrap(), 12_000_000_000);
        assert_eq!(parse_time_ns("12.5").unwrap(), 12_500_000_000);
        assert!(parse_time_ns("x").is_err());
    }
}
