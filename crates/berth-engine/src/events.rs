//! The event bus behind `GET /events`: a ring of recent events (for
//! `since`) and a broadcast channel for live ones.

use crate::util::now_ns;
use berth_api::backend::{BoxStream, EventsOptions, Filters};
use berth_api::models::{EventActor, EventMessage};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::broadcast;

const KEEP: usize = 1024;

/// Recent and live events.
pub struct Events {
    ring: Mutex<VecDeque<EventMessage>>,
    tx: broadcast::Sender<EventMessage>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            ring: Mutex::new(VecDeque::new()),
            tx: broadcast::channel(KEEP).0,
        }
    }
}

impl Events {
    /// Publishes an event of `kind` (`container`, `image`, ...) and
    /// `action` about `id` with `attributes`.
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let ns = now_ns();
        let legacy = kind == "container" || kind == "image";
        let ev = EventMessage {
            kind: kind.into(),
            action: action.into(),
            actor: EventActor {
                id: id.into(),
                attributes: attributes.clone(),
            },
            scope: "local".into(),
            time: (ns / 1_000_000_000) as i64,
            time_nano: ns as i64,
            id: legacy.then(|| id.to_string()),
            status: legacy.then(|| action.to_string()),
            from: if kind == "container" {
                attributes.get("image").cloned()
            } else {
                None
            },
        };
        {
            let mut r = self.ring.lock().expect("events lock");
            if r.len() >= KEEP {
                r.pop_front();
            }
            r.push_back(ev.clone());
        }
        let _ = self.tx.send(ev);
    }

    /// Number of live subscribers.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    /// The stream for `GET /events`.
    pub fn subscribe(&self, opts: EventsOptions) -> BoxStream<EventMessage> {
        let mut rx = self.tx.subscribe();
        let now = now_ns();
        let past: Vec<EventMessage> = match opts.since_ns {
            Some(since) => self
                .ring
                .lock()
                .expect("events lock")
                .iter()
                .filter(|e| {
                    (e.time_nano as i128) >= since
                        && opts.until_ns.is_none_or(|u| (e.time_nano as i128) <= u)
                })
                .filter(|e| matches(&opts.filters, e))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let until = opts.until_ns;
        let filters = opts.filters;
        Box::pin(async_stream(past, move |tx_out| async move {
            if until.is_some_and(|u| u <= now) {
                return;
            }
            let deadline = until.map(|u| {
                tokio::time::Instant::now()
                    + std::time::Duration::from_nanos((u - now).max(0) as u64)
            });
            loop {
                let next = async {
                    loop {
                        match rx.recv().await {
                            Ok(e) => return Some(e),
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return None,
                        }
                    }
                };
                let ev = match deadline {
                    Some(d) => tokio::time::timeout_at(d, next).await.unwrap_or_default(),
                    None => next.await,
                };
                let Some(ev) = ev else { return };
                if matches(&filters, &ev) && tx_out.send(ev).await.is_err() {
                    return;
                }
            }
        }))
    }
}

/// A stream that yields `first`, then what `producer` sends.
fn async_stream<F, Fut>(
    first: Vec<EventMessage>,
    producer: F,
) -> impl futures_util::Stream<Item = EventMessage> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<EventMessage>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(producer(tx));
    let head = futures_util::stream::iter(first);
    let tail =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    futures_util::StreamExt::chain(head, tail)
}

fn matches(f: &Filters, e: &EventMessage) -> bool {
    let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
        f.get(key)
            .is_none_or(|vs| vs.is_empty() || vs.iter().any(|v| pred(v)))
    };
    let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str).unwrap_or("");
    any("type", &|v| v == e.kind)
        && any("event", &|v| {
            v == e.action || e.action.starts_with(&format!("{v}:"))
        })
        && any("container", &|v| {
            e.kind == "container" && (e.actor.id.starts_with(v) || attr("name") == v)
        })
        && any("image", &|v| {
            attr("image") == v || (e.kind == "image" && (e.actor.id == v || attr("name") == v))
        })
        && any("label", &|v| match v.split_once('=') {
            Some((k, val)) => attr(k) == val,
            None => e.actor.attributes.contains_key(v),
        })
}
