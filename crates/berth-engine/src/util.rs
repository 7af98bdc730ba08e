//! Small helpers: timestamps, Docker's human durations, atomic writes.

use std::io::Write;
use std::path::Path;

pub use berth_monitor::jsonlog::{now_ns, parse_rfc3339, rfc3339_nano};

/// Docker's zero time in JSON (`0001-01-01T00:00:00Z`).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// RFC 3339 nano for a Unix-nanosecond time, or [`ZERO_TIME`] for 0.
pub fn time_or_zero(ns: i128) -> String {
    if ns == 0 {
        ZERO_TIME.to_string()
    } else {
        rfc3339_nano(ns)
    }
}

/// Writes `data` to `path` crash-safely: temp file in the same directory,
/// fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_replace(path, data, true)
}

/// Temp file + rename, with or without fsync. Without it the replacement is
/// still atomic for readers and across a daemon crash (the restart-survival
/// case); only a power loss can lose the newest version.
pub fn write_replace(path: &Path, data: &[u8], sync: bool) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_data()?;
        }
    }
    std::fs::rename(&tmp, path)
}

/// Docker's `units.HumanDuration`: "Less than a second", "5 seconds",
/// "About a minute", "3 minutes", "About an hour", "2 hours", "3 days",
/// "2 weeks", "4 months", "2 years".
pub fn human_duration(ns: i128) -> String {
    let secs = (ns / 1_000_000_000).max(0) as i64;
    let hours = secs / 3600;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if secs / 60 == 1 {
        "About a minute".into()
    } else if secs / 60 < 60 {
        format!("{} minutes", secs / 60)
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
        format!("{} years", hours / 24 / 365)
    }
}

/// Parses a signal as Docker does: `SIGTERM`, `TERM`, `15`. Returns the number.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok().map(|s| s as i32);
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_signals() {
        assert_eq!(human_duration(500_000_000), "Less than a second");
        assert_eq!(human_duration(5_000_000_000), "5 seconds");
        assert_eq!(human_duration(61_000_000_000), "About a minute");
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("2"), Some(2));
        assert_eq!(parse_signal("NOPE"), None);
    }
}
