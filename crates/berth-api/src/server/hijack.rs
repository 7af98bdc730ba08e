//! Hijacked streams (attach, exec start): `101 UPGRADED` then raw bytes.

use crate::backend::Hijack;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};

/// `application/vnd.docker.raw-stream` (TTY) or `.multiplexed-stream`.
fn content_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

fn wants_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE).is_some()
        || h.get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
}

/// Answers `req` with `101 UPGRADED` and runs the session on the upgraded
/// connection. A client that did not ask to upgrade gets `200` and the
/// output as the response body (no stdin), as older clients expect.
pub fn respond(mut req: Request<Body>, hj: Hijack) -> Response<Body> {
    let ct = content_type(hj.tty);
    if wants_upgrade(req.headers()) {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(up) => {
                    let io = hyper_util::rt::TokioIo::new(up);
                    (hj.run)(Box::new(io)).await;
                }
                Err(e) => tracing::debug!("upgrade failed: {e}"),
            }
        });
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
        resp
    } else {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn((hj.run)(Box::new(ours)));
        let stream = tokio_util::io::ReaderStream::new(theirs);
        let mut resp = Response::new(Body::from_stream(stream));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        resp
    }
}
