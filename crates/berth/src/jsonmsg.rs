//! Docker's rendering of a JSON progress stream (moby's `jsonmessage.
//! DisplayJSONMessagesStream`), for `pull`, `push` and `run`'s pull.
//!
//! Not on a terminal: one line per message (`id: status`), messages that
//! carry byte counts skipped. On a terminal: every layer ID that reports
//! progress gets a line of its own, redrawn in place with plain ANSI
//! sequences (erase line `ESC[2K`, cursor up/down `ESC[nA`/`ESC[nB`),
//! with docker's 50-column bar (`[===>   ] 1.2MB/3.4MB`) when the
//! terminal is wider than 110 columns; a message without an ID starts a
//! new block.

use std::collections::HashMap;
use std::io::Write;

use berth_client::progress::{JsonMessage, ProgressDetail};

use crate::fmt as f;

/// go-connections' `JSONProgress.String()` for a terminal `width`
/// columns wide: empty without counts, the size alone without a total,
/// else an optional bar and `current/total` in go-units' decimal sizes.
pub fn progress_text(d: &ProgressDetail, width: usize) -> String {
    let cur = d.current.unwrap_or(0);
    let total = d.total.unwrap_or(0);
    if cur <= 0 && total <= 0 {
        return String::new();
    }
    if total <= 0 {
        return format!("{:>8}", f::human_size(cur as f64));
    }
    let pct = ((((cur as f64) / (total as f64)) * 100.0) as i64 / 2).clamp(0, 50) as usize;
    let bar = if width > 110 {
        format!("[{}>{}] ", "=".repeat(pct), " ".repeat(50 - pct))
    } else {
        String::new()
    };
    let numbers = if cur > total {
        format!("{:>8}", f::human_size(cur as f64))
    } else {
        format!(
            "{:>8}/{}",
            f::human_size(cur as f64),
            f::human_size(total as f64)
        )
    };
    bar + &numbers
}

/// A renderer of one stream to `out`.
pub struct Display<W: Write> {
    out: W,
    term: bool,
    width: usize,
    ids: HashMap<String, usize>,
}

impl<W: Write> Display<W> {
    /// A renderer; `term` selects in-place redrawing (pass whether `out`
    /// is a terminal), `width` the terminal's columns (docker assumes 200
    /// when it cannot tell).
    pub fn new(out: W, term: bool, width: Option<usize>) -> Self {
        Display {
            out,
            term,
            width: width.unwrap_or(200),
            ids: HashMap::new(),
        }
    }

    /// Renders one message. A message carrying an error is not printed:
    /// its text is returned as `Err` (docker prints it to stderr and
    /// exits 1). Auxiliary messages (`aux`) print nothing.
    pub fn message(&mut self, m: &JsonMessage) -> Result<(), String> {
        if m.aux.is_some() {
            return Ok(());
        }
        let id = m.id.clone().unwrap_or_default();
        let has_progress = m.progress_detail.is_some();
        let mut diff = 0;
        if !id.is_empty() && (has_progress || m.progress.as_deref().is_some_and(|p| !p.is_empty()))
        {
            let line = match self.ids.get(&id) {
                Some(l) => *l,
                None => {
                    let l = self.ids.len();
                    self.ids.insert(id.clone(), l);
                    if self.term {
                        let _ = self.out.write_all(b"\n");
                    }
                    l
                }
            };
            diff = self.ids.len() - line;
            if self.term && diff > 0 {
                let _ = write!(self.out, "\x1b[{diff}A");
            }
        } else {
            self.ids.clear();
        }
        let r = self.display(m, &id);
        if !id.is_empty() && self.term && diff > 0 {
            let _ = write!(self.out, "\x1b[{diff}B");
        }
        let _ = self.out.flush();
        r
    }

    fn display(&mut self, m: &JsonMessage, id: &str) -> Result<(), String> {
        if let Some(e) = m.error_message() {
            return Err(e.to_string());
        }
        let stream = m.stream.as_deref().unwrap_or("");
        let prog = m
            .progress_detail
            .as_ref()
            .map(|d| progress_text(d, self.width));
        let mut endl = "";
        if self.term && stream.is_empty() && prog.is_some() {
            let _ = self.out.write_all(b"\x1b[2K\r");
            endl = "\r";
        } else if prog.as_deref().is_some_and(|p| !p.is_empty()) {
            // no progress bars off a terminal
            return Ok(());
        }
        if !id.is_empty() {
            let _ = write!(self.out, "{id}: ");
        }
        let status = m.status.as_deref().unwrap_or("");
        let pmsg = m.progress.as_deref().unwrap_or("");
        let _ = match (&prog, self.term) {
            (Some(p), true) => write!(self.out, "{status} {p}{endl}"),
            _ if !pmsg.is_empty() => write!(self.out, "{status} {pmsg}{endl}"),
            _ if !stream.is_empty() => write!(self.out, "{stream}{endl}"),
            _ => writeln!(self.out, "{status}{endl}"),
        };
        Ok(())
    }
}

/// Renders a whole progress body to stdout (`to_stderr` false) or
/// stderr; the first error message of the stream is returned as `Err`.
pub async fn show(body: &mut berth_client::Body, to_stderr: bool) -> Result<(), crate::Fail> {
    use std::io::IsTerminal;
    let term = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let width = crate::term::size().map(|(_, w)| w as usize);
    let w: Box<dyn Write> = if to_stderr {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let mut d = Display::new(w, term, width);
    let mut js = berth_client::progress::JsonStream::new();
    while let Some(chunk) = body.chunk().await? {
        let msgs: Vec<JsonMessage> = js
            .push(&chunk)
            .map_err(|e| crate::Fail::msg(e.to_string()))?;
        for m in msgs {
            d.message(&m).map_err(crate::Fail::msg)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(j: &str) -> JsonMessage {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn plain_output_skips_byte_counts() {
        let mut buf = Vec::new();
        let mut d = Display::new(&mut buf, false, None);
        for j in [
            r#"{"status":"Pulling from busybox","id":"latest"}"#,
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"abc"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":10,"total":100},"progress":"[>  ]","id":"abc"}"#,
            r#"{"status":"Download complete","progressDetail":{},"id":"abc"}"#,
            r#"{"status":"Pull complete","progressDetail":{},"id":"abc"}"#,
            r#"{"status":"Digest: sha256:00"}"#,
        ] {
            d.message(&msg(j)).unwrap();
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "latest: Pulling from busybox\nabc: Pulling fs layer\nabc: Download complete\nabc: Pull complete\nDigest: sha256:00\n"
        );
    }

    #[test]
    fn terminal_output_redraws_layer_lines() {
        let mut buf = Vec::new();
        let mut d = Display::new(&mut buf, true, Some(120));
        d.message(&msg(
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"a"}"#,
        ))
        .unwrap();
        d.message(&msg(
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"b"}"#,
        ))
        .unwrap();
        d.message(&msg(
            r#"{"status":"Downloading","progressDetail":{"current":500,"total":1000},"id":"a"}"#,
        ))
        .unwrap();
        let s = String::from_utf8(buf).unwrap();
        let bar = format!("[{}>{}] ", "=".repeat(25), " ".repeat(25));
        assert_eq!(
            s,
            format!("\n\x1b[1A\x1b[2K\ra: Pulling fs layer \r\x1b[1B\n\x1b[1A\x1b[2K\rb: Pulling fs layer \r\x1b[1B\x1b[2A\x1b[2K\ra: Downloading {bar}    500B/1kB\r\x1b[2B")
        );
    }

    #[test]
    fn errors_are_returned() {
        let mut buf = Vec::new();
        let mut d = Display::new(&mut buf, false, None);
        assert_eq!(
            d.message(&msg(r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#)),
            Err("boom".to_string())
        );
    }
}
