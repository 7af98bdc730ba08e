//! Copying a hijacked attach/exec connection to and from the terminal:
//! output raw (TTY) or stdcopy-demultiplexed to stdout/stderr, stdin
//! forwarded with the detach sequence intercepted, EOF on stdin sent as a
//! half-close, as docker's `holdHijackedConnection` does.

use std::io::Write;

use berth_client::stdcopy::{Demuxer, StreamKind};
use berth_client::Upgraded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::term::DetachScanner;

/// How an attach session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The daemon closed the output stream (the process exited or the
    /// container's streams closed).
    Eof,
    /// The user typed the detach sequence.
    Detached,
}

/// Pumps `conn` until its output ends or the user detaches. With
/// `stdin`, the local stdin is forwarded (through the detach scanner when
/// `detach_keys` is given); at stdin EOF the write half is shut down.
pub async fn pump(
    conn: Upgraded,
    tty: bool,
    stdin: bool,
    detach_keys: Option<Vec<u8>>,
) -> std::io::Result<Outcome> {
    let (mut rd, mut wr) = tokio::io::split(conn);
    let output = async move {
        let mut buf = vec![0u8; 32 * 1024];
        let mut demux = Demuxer::new();
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        loop {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            if tty {
                let mut o = stdout.lock();
                o.write_all(&buf[..n])?;
                o.flush()?;
                continue;
            }
            demux.push(&buf[..n]);
            loop {
                match demux.next_frame() {
                    Ok(Some((StreamKind::Stderr | StreamKind::SystemErr, p))) => {
                        let mut e = stderr.lock();
                        e.write_all(&p)?;
                        e.flush()?;
                    }
                    Ok(Some((_, p))) => {
                        let mut o = stdout.lock();
                        o.write_all(&p)?;
                        o.flush()?;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            e.to_string(),
                        ))
                    }
                }
            }
        }
    };
    let input = async move {
        if !stdin {
            return std::future::pending::<std::io::Result<Outcome>>().await;
        }
        let mut scanner = DetachScanner::new(detach_keys.unwrap_or_default());
        let mut inp = tokio::io::stdin();
        let mut buf = vec![0u8; 8 * 1024];
        loop {
            let n = inp.read(&mut buf).await?;
            if n == 0 {
                let _ = wr.shutdown().await;
                return std::future::pending::<std::io::Result<Outcome>>().await;
            }
            let (fwd, detach) = scanner.feed(&buf[..n]);
            if !fwd.is_empty() {
                wr.write_all(&fwd).await?;
                wr.flush().await?;
            }
            if detach {
                return Ok(Outcome::Detached);
            }
        }
    };
    tokio::select! {
        r = output => { r?; Ok(Outcome::Eof) }
        r = input => r,
    }
}
