//! Docker's json-file log format: one JSON object per line,
//! `{"log":"hi\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`,
//! with max-size/max-file rotation (`<path>`, `<path>.1`, ... oldest last).
//!
//! As Docker's json-file driver, output is split at newlines; a line
//! longer than [`MAX_LINE`] bytes, or the rest at end of output, is written
//! without its trailing newline (a partial entry). Bytes that are not UTF-8
//! become U+FFFD, as Go's JSON encoder does.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest entry before a line is split (Docker's 16 KiB buffer).
pub const MAX_LINE: usize = 16 * 1024;

/// One log entry as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// The text, with its newline when it had one.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

/// Unix nanoseconds now.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// `2026-01-02T03:04:05.123456789Z` for Unix nanoseconds `ns` (fixed nine
/// digits, Docker's `RFC3339NanoFixed`).
pub fn rfc3339_nano(ns: i128) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

/// Parses an RFC 3339 timestamp to Unix nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<i128> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
}

/// Appends entries to a json-file log, rotating it.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
    pending: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (appending) `path`; `max_size` 0 never rotates; `max_file` is
    /// the number of files kept, current included.
    ///
    /// # Errors
    /// Opening the file.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_file: max_file.max(1),
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Feeds output of `stream` (0 stdout, 1 stderr); complete lines are
    /// written now.
    pub fn write(&mut self, stream: usize, data: &[u8]) {
        self.pending[stream].extend_from_slice(data);
        loop {
            let buf = &self.pending[stream];
            let cut = match buf.iter().position(|&b| b == b'\n') {
                Some(i) if i < MAX_LINE => i + 1,
                _ if buf.len() >= MAX_LINE => MAX_LINE,
                _ => break,
            };
            let line: Vec<u8> = self.pending[stream].drain(..cut).collect();
            self.entry(stream, &line);
        }
    }

    /// Writes what is left of both streams (end of output).
    pub fn flush_partial(&mut self) {
        for s in 0..2 {
            if !self.pending[s].is_empty() {
                let line = std::mem::take(&mut self.pending[s]);
                self.entry(s, &line);
            }
        }
    }

    fn entry(&mut self, stream: usize, line: &[u8]) {
        let e = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
            time: rfc3339_nano(now_ns()),
        };
        let mut v = serde_json::to_vec(&e).unwrap_or_default();
        v.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + v.len() as u64 > self.max_size {
            if let Err(e) = self.rotate() {
                eprintln!("berth-monitor: rotate {}: {e}", self.path.display());
            }
        }
        if self.file.write_all(&v).is_ok() {
            self.size += v.len() as u64;
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let name = |i: u32| PathBuf::from(format!("{}.{i}", self.path.display()));
        let _ = std::fs::remove_file(name(self.max_file - 1));
        for i in (1..self.max_file - 1).rev() {
            let _ = std::fs::rename(name(i), name(i + 1));
        }
        std::fs::rename(&self.path, name(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// The files of a log, oldest first: `<path>.N` .. `<path>.1`, `<path>`.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut rotated = Vec::new();
    for i in 1.. {
        let p = PathBuf::from(format!("{}.{i}", path.display()));
        if !p.exists() {
            break;
        }
        rotated.push(p);
    }
    rotated.reverse();
    rotated.push(path.to_path_buf());
    rotated
}

/// Reads every entry of the log (rotated files first); unreadable lines
/// are skipped.
pub fn read_all(path: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for p in log_files(path) {
        let Ok(f) = File::open(&p) else { continue };
        for line in io::BufReader::new(f).split(b'\n').map_while(Result::ok) {
            if let Ok(e) = serde_json::from_slice::<Entry>(&line) {
                out.push(e);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_rotation() {
        let d = std::env::temp_dir().join(format!("berth-jsonlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("c-json.log");
        let mut w = LogWriter::open(&p, 300, 3).unwrap();
        w.write(0, b"hel");
        w.write(0, b"lo\nwor");
        w.write(1, b"err\n");
        w.flush_partial();
        let e = read_all(&p);
        assert_eq!(
            e.iter().map(|e| e.log.as_str()).collect::<Vec<_>>(),
            ["hello\n", "err\n", "wor"]
        );
        assert_eq!(e[1].stream, "stderr");
        assert!(parse_rfc3339(&e[0].time).is_some());
        for i in 0..50 {
            w.write(0, format!("line {i}\n").as_bytes());
        }
        assert_eq!(log_files(&p).len(), 3);
        let e = read_all(&p);
        assert_eq!(e.last().unwrap().log, "line 49\n");
        assert!(e.len() < 53);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn time_format() {
        assert_eq!(
            rfc3339_nano(1_000_000_000_123),
            "1970-01-01T00:16:40.000000123Z"
        );
        assert_eq!(
            parse_rfc3339("1970-01-01T00:16:40.000000123Z"),
            Some(1_000_000_000_123)
        );
    }
}
