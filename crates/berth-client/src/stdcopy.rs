//! Docker's `stdcopy` framing for non-TTY attach, logs and exec streams.
//!
//! When a container has no TTY, the daemon multiplexes stdout and stderr on
//! one byte stream (the hijacked connection of `POST /containers/{id}/attach`
//! or `POST /exec/{id}/start`, and the body of `GET /containers/{id}/logs`).
//! Each frame is an 8-byte header `[stream, 0, 0, 0, size(u32 big-endian)]`
//! followed by `size` payload bytes; `stream` is 0 (stdin), 1 (stdout),
//! 2 (stderr) or 3 (systemerr, an error text from the daemon).

use bytes::{Buf, Bytes, BytesMut};

/// Which stream a demultiplexed frame belongs to (the header's first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// 0: stdin (written back only by the daemon's tty echo; rare).
    Stdin,
    /// 1: the process's standard output.
    Stdout,
    /// 2: the process's standard error.
    Stderr,
    /// 3: an error message from the daemon itself ("systemerr").
    SystemErr,
}

/// Error for a frame header whose stream byte is not 0..=3.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Unrecognized input header: {0}")]
pub struct BadHeader(pub u8);

/// Incremental demultiplexer: feed it the bytes as they arrive with
/// [`Demuxer::push`], take out whole frames with [`Demuxer::next_frame`].
/// A frame split across reads is held until complete.
#[derive(Debug, Default)]
pub struct Demuxer {
    buf: BytesMut,
}

impl Demuxer {
    /// A demuxer with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends raw bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or
    /// [`BadHeader`] if the stream is not stdcopy-framed.
    pub fn next_frame(&mut self) -> Result<Option<(StreamKind, Bytes)>, BadHeader> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let kind = match self.buf[0] {
            0 => StreamKind::Stdin,
            1 => StreamKind::Stdout,
            2 => StreamKind::Stderr,
            3 => StreamKind::SystemErr,
            b => return Err(BadHeader(b)),
        };
        let size =
            u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + size {
            return Ok(None);
        }
        self.buf.advance(8);
        Ok(Some((kind, self.buf.split_to(size).freeze())))
    }

    /// Bytes held that do not yet form a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Encodes one frame (the daemon's side; used by tests and fake servers).
pub fn encode_frame(kind: StreamKind, payload: &[u8]) -> Vec<u8> {
    let b = match kind {
        StreamKind::Stdin => 0,
        StreamKind::Stdout => 1,
        StreamKind::Stderr => 2,
        StreamKind::SystemErr => 3,
    };
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&[b, 0, 0, 0]);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_whole_and_split_frames() {
        let mut data = encode_frame(StreamKind::Stdout, b"hello\n");
        data.extend(encode_frame(StreamKind::Stderr, b"oops"));
        data.extend(encode_frame(StreamKind::Stdout, b""));
        let mut d = Demuxer::new();
        // feed byte by byte: frames appear only when complete
        let mut got = Vec::new();
        for b in &data {
            d.push(&[*b]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![
                (StreamKind::Stdout, Bytes::from_static(b"hello\n")),
                (StreamKind::Stderr, Bytes::from_static(b"oops")),
                (StreamKind::Stdout, Bytes::new()),
            ]
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn demux_large_frame_size_is_big_endian() {
        let payload = vec![b'x'; 70_000];
        let enc = encode_frame(StreamKind::Stderr, &payload);
        assert_eq!(&enc[4..8], &[0, 1, 0x11, 0x70]);
        let mut d = Demuxer::new();
        d.push(&enc[..100]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&enc[100..]);
        let (k, p) = d.next_frame().unwrap().unwrap();
        assert_eq!(k, StreamKind::Stderr);
        assert_eq!(p.len(), 70_000);
    }

    #[test]
    fn demux_rejects_bad_header() {
        let mut d = Demuxer::new();
        d.push(b"hello wo");
        assert_eq!(d.next_frame(), Err(BadHeader(b'h')));
    }

    #[test]
    fn demux_systemerr() {
        let mut d = Demuxer::new();
        d.push(&encode_frame(StreamKind::SystemErr, b"boom"));
        assert_eq!(d.next_frame().unwrap().unwrap().0, StreamKind::SystemErr);
    }
}
