//! A TCP proxy in front of a registry that breaks or holds up one blob
//! response (tests of resumed and streamed downloads).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Reads an HTTP/1.1 request head (bounded to 64 KiB and 30 s).
pub async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let fut = async {
        loop {
            let n = s.read(&mut b).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&b[..n]);
            if buf[0] == 0x16 {
                // A TLS ClientHello (the client tries https first, as
                // dockerd does): answer like Go's net/http and close.
                let _ = s
                    .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                    .await;
                return None;
            }
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(String::from_utf8_lossy(&buf).into_owned());
            }
            if buf.len() > 64 << 10 {
                return None;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .ok()?
}

/// What the proxy does to the first whole-blob GET of its path.
#[derive(Clone)]
pub enum Fault {
    /// Drops the connection after this many body bytes.
    Cut(usize),
    /// After this many body bytes, signals `paused` and waits for `resume`
    /// before sending the rest.
    Pause(usize, Arc<Notify>, Arc<Notify>),
}

/// A proxy in front of a registry, one request per connection
/// (`Connection: close`), that applies `fault` to the first whole-blob GET
/// of `cut_path`. Records every request's Range header.
/// With `strip_range` it removes Range headers before forwarding (a
/// registry without range support: the resumed request gets a 200).
/// (path, Range header) of every request, in order.
pub type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

pub struct FaultProxy {
    pub host: String,
    pub ranges: RequestLog,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn fault_proxy(
    upstream: String,
    cut_path: String,
    fault: Fault,
    strip_range: bool,
) -> FaultProxy {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = l.local_addr().unwrap().to_string();
    let ranges: RequestLog = Arc::default();
    let cut_done = Arc::new(AtomicBool::new(false));
    let r2 = ranges.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let (upstream, cut_path, ranges, cut_done, fault) = (
                upstream.clone(),
                cut_path.clone(),
                r2.clone(),
                cut_done.clone(),
                fault.clone(),
            );
            tokio::spawn(async move {
                let Some(head) = read_head(&mut c).await else {
                    return;
                };
                let mut lines: Vec<&str> = head.trim_end().split("\r\n").collect();
                let path = lines[0].split_whitespace().nth(1).unwrap_or("").to_string();
                let range = lines
                    .iter()
                    .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                    .map(|l| l[6..].trim().to_string());
                ranges.lock().unwrap().push((path.clone(), range.clone()));
                lines.retain(|l| {
                    let l = l.to_ascii_lowercase();
                    !(l.starts_with("connection:") || strip_range && l.starts_with("range:"))
                });
                let head = format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"));
                let Ok(mut u) = TcpStream::connect(&upstream).await else {
                    return;
                };
                if u.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let cut = path.starts_with("/v2/")
                    && path.ends_with(&cut_path)
                    && range.is_none()
                    && !cut_done.swap(true, Ordering::SeqCst);
                let mut sent = 0usize;
                let mut header_end: Option<usize> = None;
                let mut seen = Vec::new();
                let mut b = vec![0u8; 16 << 10];
                loop {
                    let n =
                        match tokio::time::timeout(Duration::from_secs(30), u.read(&mut b)).await {
                            Ok(Ok(n)) if n > 0 => n,
                            _ => break,
                        };
                    let mut chunk = &b[..n];
                    if cut {
                        if header_end.is_none() {
                            seen.extend_from_slice(chunk);
                            header_end = seen
                                .windows(4)
                                .position(|w| w == b"\r\n\r\n")
                                .map(|p| p + 4);
                        }
                        if let Some(h) = header_end {
                            let (n, pause) = match &fault {
                                Fault::Cut(n) => (*n, None),
                                Fault::Pause(n, p, r) => (*n, Some((p, r))),
                            };
                            let limit = h + n;
                            if sent < limit && sent + chunk.len() >= limit {
                                let (head, tail) = chunk.split_at(limit - sent);
                                if c.write_all(head).await.is_err() {
                                    return;
                                }
                                sent += head.len();
                                match pause {
                                    // Drop the connection mid-body.
                                    None => return,
                                    Some((paused, resume)) => {
                                        paused.notify_one();
                                        resume.notified().await;
                                        chunk = tail;
                                    }
                                }
                            }
                        }
                    }
                    if c.write_all(chunk).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
                let _ = c.shutdown().await;
            });
        }
    });
    FaultProxy { host, ranges, task }
}
