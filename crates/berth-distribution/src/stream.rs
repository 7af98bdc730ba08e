//! Running a pull or push as dockerd answers it: an HTTP error when the
//! operation fails before its first progress message (`docker pull
//! busybox:nope` -> 404 `manifest for busybox:nope not found: ...`),
//! otherwise a 200 stream of [`JsonMessage`]s that ends, on failure, with
//! `{"errorDetail":{"message":...},"error":...}`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};

use crate::error::{DistributionError, Result};
use crate::progress::{JsonMessage, ProgressSink};

/// The messages of a running operation. Dropping it (the client went
/// away) aborts the operation: in-flight blob writes are discarded, never
/// half-visible.
pub struct MessageStream {
    first: Option<JsonMessage>,
    rx: mpsc::UnboundedReceiver<JsonMessage>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MessageStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl futures_util::Stream for MessageStream {
    type Item = JsonMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<JsonMessage>> {
        if let Some(m) = self.first.take() {
            return Poll::Ready(Some(m));
        }
        self.rx.poll_recv(cx)
    }
}

/// Spawns `op(sink)` and waits for its first message. Returns the
/// operation's error when it fails before emitting anything; otherwise a
/// stream of its messages (ending with an error message if it fails
/// later). Must be called within a tokio runtime.
pub async fn run_streamed<F, Fut>(op: F) -> Result<MessageStream>
where
    F: FnOnce(ProgressSink) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<JsonMessage>();
    let started = Arc::new(AtomicBool::new(false));
    let sink: ProgressSink = {
        let tx = tx.clone();
        let started = started.clone();
        Arc::new(move |m| {
            started.store(true, Ordering::SeqCst);
            let _ = tx.send(m);
        })
    };
    let (done_tx, done_rx) = oneshot::channel::<Result<()>>();
    let fut = op(sink);
    let task = tokio::spawn(async move {
        let r = fut.await;
        let r = match r {
            Err(e) if started.load(Ordering::SeqCst) => {
                let _ = tx.send(JsonMessage::error(e.to_string()));
                Ok(())
            }
            other => other,
        };
        let _ = done_tx.send(r);
    });
    // The first message, or the end of the channel (every sender dropped:
    // the operation finished, its result already sent).
    match rx.recv().await {
        Some(m) => Ok(MessageStream {
            first: Some(m),
            rx,
            task,
        }),
        None => match done_rx.await {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Ok(MessageStream {
                first: None,
                rx,
                task,
            }),
            Err(_) => Err(DistributionError::Cancelled),
        },
    }
}
