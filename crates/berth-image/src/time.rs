//! Time formats: RFC 3339 in configs, Go's `RFC3339Nano` in inspect
//! output, unix seconds in summaries.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 time (any offset) to UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Unix seconds of an RFC 3339 time, 0 when absent or unparsable.
pub fn unix(s: Option<&str>) -> i64 {
    s.and_then(parse).map(|d| d.timestamp()).unwrap_or(0)
}

/// Go's `time.RFC3339Nano` in UTC: `2024-01-02T03:04:05.123Z`, trailing
/// zeros of the fraction trimmed, no fraction when it is zero.
pub fn rfc3339_nano(d: &DateTime<Utc>) -> String {
    let s = d.to_rfc3339_opts(SecondsFormat::Nanos, true);
    // "....ss.nnnnnnnnnZ"
    let (main, _) = s.split_at(s.len() - 1);
    match main.split_once('.') {
        Some((secs, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{frac}Z")
            }
        }
        None => s,
    }
}

/// Now, in UTC.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Now in unix nanoseconds.
pub fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let d = parse("2024-01-02T03:04:05.120000000+01:00").unwrap();
        assert_eq!(rfc3339_nano(&d), "2024-01-02T02:04:05.12Z");
        let d = parse("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(rfc3339_nano(&d), "2024-01-02T03:04:05Z");
        assert_eq!(unix(Some("1970-01-01T00:01:00Z")), 60);
        assert_eq!(unix(None), 0);
    }
}
