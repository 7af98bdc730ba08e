//! Terminal handling for interactive attach: raw mode with restore on
//! drop (rustix termios — no `unsafe` here), window size, and docker's
//! detach-key syntax.

use std::io::IsTerminal;
use std::os::fd::AsFd;

use rustix::termios::{self, OptionalActions, Termios};

/// Puts stdin's terminal in raw mode; restores the saved settings when
/// dropped (also on error paths: keep it alive for the attach's lifetime).
pub struct RawGuard {
    saved: Option<Termios>,
}

impl RawGuard {
    /// Enters raw mode if stdin is a terminal; otherwise a no-op guard.
    pub fn new() -> RawGuard {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return RawGuard { saved: None };
        }
        let fd = stdin.as_fd();
        let Ok(saved) = termios::tcgetattr(fd) else {
            return RawGuard { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        if termios::tcsetattr(fd, OptionalActions::Now, &raw).is_err() {
            return RawGuard { saved: None };
        }
        RawGuard { saved: Some(saved) }
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, t);
        }
    }
}

/// The terminal's size as (height, width), from stdout then stdin.
pub fn size() -> Option<(u16, u16)> {
    let out = std::io::stdout();
    let ws = termios::tcgetwinsize(out.as_fd())
        .or_else(|_| termios::tcgetwinsize(std::io::stdin().as_fd()))
        .ok()?;
    if ws.ws_row == 0 && ws.ws_col == 0 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}

/// Docker's default detach sequence, ctrl-p ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[16, 17];

/// Parses docker's `--detach-keys` syntax: comma-separated keys, each a
/// single character or `ctrl-<c>` with `<c>` one of `a`–`z`, `@`, `[`,
/// `\`, `]`, `^`, `_` (ctrl-a = 1 ... ctrl-z = 26, ctrl-@ = 0, ctrl-[ =
/// 27 ... ctrl-_ = 31). Errors with docker's text.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("Invalid detach keys ({s}) provided");
    let mut out = Vec::new();
    for key in s.split(',') {
        if key.chars().count() > 1 {
            let rest = key.strip_prefix("ctrl-").ok_or_else(bad)?;
            let mut cs = rest.chars();
            let (Some(c), None) = (cs.next(), cs.next()) else {
                return Err(bad());
            };
            let c = c.to_ascii_lowercase();
            let code = match c {
                'a'..='z' => c as u8 - b'a' + 1,
                '@' => 0,
                '[' => 27,
                '\\' => 28,
                ']' => 29,
                '^' => 30,
                '_' => 31,
                _ => return Err(bad()),
            };
            out.push(code);
        } else {
            let c = key.chars().next().ok_or_else(bad)?;
            if !c.is_ascii() {
                return Err(bad());
            }
            out.push(c as u8);
        }
    }
    Ok(out)
}

/// Scans typed input for the detach sequence, holding back bytes that may
/// be its beginning (as docker's escape proxy does).
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    /// A scanner for `keys` (empty: never detaches).
    pub fn new(keys: Vec<u8>) -> Self {
        DetachScanner { keys, matched: 0 }
    }

    /// Feeds input; returns the bytes to forward and whether the full
    /// sequence was typed (then nothing after it is forwarded).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                    if self.keys.len() == 1 {
                        return (out, true);
                    }
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_key_syntax() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            vec![0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse_detach_keys("ctrl-Z").unwrap(), vec![26]);
        assert_eq!(
            parse_detach_keys("ctrl-1").unwrap_err(),
            "Invalid detach keys (ctrl-1) provided"
        );
        assert!(parse_detach_keys("alt-x").is_err());
        assert!(parse_detach_keys("").is_err());
    }

    #[test]
    fn scanner_forwards_and_detects() {
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        // a lone ctrl-p is held back, then released when not followed by ctrl-q
        assert_eq!(s.feed(&[16]), (vec![], false));
        assert_eq!(s.feed(b"a"), (vec![16, b'a'], false));
        // split across reads
        assert_eq!(s.feed(&[b'x', 16]), (vec![b'x'], false));
        assert_eq!(s.feed(&[17, b'z']), (vec![], true));
        // ctrl-p ctrl-p ctrl-q
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(&[16, 16, 17]), (vec![16], true));
        let mut s = DetachScanner::new(vec![]);
        assert_eq!(s.feed(&[16, 17]), (vec![16, 17], false));
    }
}
