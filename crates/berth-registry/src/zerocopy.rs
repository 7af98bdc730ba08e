//! Zero-copy blob bodies on plain-HTTP connections: a TCP stream for
//! hyper whose writes send the parts of a buffer that are slices of a
//! blob-file map ([`berth_sys::map_file_for_send`]) with `sendfile(2)`
//! from the file, so the kernel hands the page cache's pages to the socket
//! without copying them, and writes everything else (status line, headers,
//! small bodies) as usual.
//!
//! This works because hyper's HTTP/1 writer, for an IO that says it writes
//! vectored (its "queue" write strategy, which `http1::Builder::writev(true)`
//! forces), keeps each body frame as its own buffer and passes the frames'
//! slices, unchanged, to `poll_write_vectored` (hyper 1.x
//! `proto/h1/io.rs`: `WriteBuf::buffer` queues the frame and
//! `Buffered::poll_flush` hands out `chunks_vectored`). A Content-Length
//! body's frames are sent as they are (no chunk framing). Should a frame
//! ever be copied (a flattening writer, TLS), the copy reads the map and
//! is still the file's bytes.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{ready, Context, Poll};

use berth_sys::MappedRange;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Bytes sent with `sendfile(2)` by every [`SendfileStream`] of this
/// process since it started.
static SENDFILE_BYTES: AtomicU64 = AtomicU64::new(0);

/// Total bytes this process has sent to clients with `sendfile(2)` (the
/// zero-copy path of plain-HTTP blob GETs), since it started. For tests
/// and diagnostics: a GET of a blob larger than 1 MiB over plain HTTP adds
/// its body's length; TLS connections and small bodies add nothing.
pub fn sendfile_bytes() -> u64 {
    SENDFILE_BYTES.load(Ordering::Relaxed)
}

/// An accepted plain TCP connection whose writes send slices of
/// registered blob-file maps with `sendfile(2)` (see the module docs).
/// Reads, flushes and shutdown are the stream's own.
#[derive(Debug)]
pub(crate) struct SendfileStream {
    inner: TcpStream,
}

impl SendfileStream {
    pub(crate) fn new(inner: TcpStream) -> SendfileStream {
        SendfileStream { inner }
    }

    /// One non-blocking `sendfile(2)` of `m` to the socket, inside tokio's
    /// readiness bookkeeping (`WouldBlock` clears the write readiness).
    fn try_sendfile(&self, m: &MappedRange) -> io::Result<usize> {
        self.inner.try_io(Interest::WRITABLE, || {
            let mut off = m.offset;
            let n = rustix::fs::sendfile(&self.inner, &*m.file, Some(&mut off), m.len)?;
            SENDFILE_BYTES.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        })
    }

    /// Sends (a prefix of) `m`, waiting for the socket to be writable.
    /// Returns the bytes sent (0 only if the file ended early, which hyper
    /// reports as a failed write). If the kernel cannot `sendfile` from
    /// this file (`EINVAL`, `ENOSYS`, `EOPNOTSUPP`: a file system without
    /// splice support), writes the mapped bytes `buf` instead.
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        m: &MappedRange,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            match self.try_sendfile(m) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if cannot_sendfile(&e) => {
                    return Pin::new(&mut self.inner).poll_write(cx, &buf[..m.len]);
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Errors of `sendfile(2)` that mean "not from this file", not a broken
/// connection.
fn cannot_sendfile(e: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(e),
        Some(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP)
    )
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes the buffers before the first slice of a registered map as
    /// usual; if they all went, sends that slice with `sendfile(2)` in the
    /// same call when the socket takes it without waiting. A call that
    /// starts with such a slice sends (a prefix of) it only. The count is
    /// exactly the bytes the kernel took.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some((i, m)) = bufs
            .iter()
            .enumerate()
            .find_map(|(i, b)| berth_sys::mapped_file_of(b).map(|m| (i, m)))
        else {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        };
        let before: usize = bufs[..i].iter().map(|b| b.len()).sum();
        if before == 0 {
            return this.poll_sendfile(cx, &m, &bufs[i]);
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, &bufs[..i]))?;
        if n < before {
            return Poll::Ready(Ok(n));
        }
        // Bytes are written, so this call must succeed with their count
        // whatever the file part does; an error of that part comes back on
        // the next call, which starts with it.
        Poll::Ready(Ok(n + this.try_sendfile(&m).unwrap_or(0)))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
