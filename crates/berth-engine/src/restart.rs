//! Restart policies (`HostConfig.RestartPolicy`: `no`, `always`,
//! `unless-stopped`, `on-failure[:N]`), decided as moby's restart manager
//! decides (`restartmanager/restartmanager.go`):
//!
//! * after an exit the container is restarted when the policy says so:
//!   `always`; `unless-stopped`; `on-failure` with a non-zero exit code
//!   while fewer than N restarts were made (N = 0: no limit) — unless a
//!   user stopped or killed it (`docker stop` / `docker kill` cancel the
//!   policy until the next start);
//! * the delay before a restart starts at 100 ms and doubles with every
//!   restart, at most 1 minute; a run of 10 s or more resets it;
//! * while it waits the container is `restarting` (State.Restarting,
//!   State.Status), `RestartCount` counts the policy's restarts, and a
//!   user's `start` / `restart` resets the count;
//! * when berthd starts, stopped containers whose policy is `always`, or
//!   `unless-stopped` and not stopped by a user, or `on-failure` after a
//!   failure, are started (moby `daemon.restore`); containers that exited
//!   while berthd was down go through the exit path above.

use crate::container::{Container, Status};
use crate::Engine;
use berth_api::models::RestartPolicy;
use berth_api::ApiError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// First back-off delay.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest back-off delay.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
const RESET_AFTER: Duration = Duration::from_secs(10);

/// Per-container restart state (in memory, as moby's restart manager).
#[derive(Default)]
pub struct Manager {
    state: Mutex<HashMap<String, Entry>>,
}

#[derive(Default, Clone, Copy)]
struct Entry {
    /// Current back-off (zero: none yet).
    delay: Duration,
    /// Restarts made by the policy since the last user start.
    retries: i64,
    /// Bumped to cancel a pending restart.
    generation: u64,
}

/// Validates a restart policy as dockerd does at create (400 errors in
/// its words).
pub fn validate(p: &RestartPolicy) -> Result<(), ApiError> {
    match p.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if p.maximum_retry_count != 0 {
                return Err(ApiError::invalid(
                    "invalid restart policy: maximum retry count can only be used with 'on-failure'",
                ));
            }
        }
        "on-failure" => {
            if p.maximum_retry_count < 0 {
                return Err(ApiError::invalid(
                    "invalid restart policy: maximum retry count cannot be negative",
                ));
            }
        }
        other => {
            return Err(ApiError::invalid(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            )))
        }
    }
    Ok(())
}

impl Manager {
    /// A user's start/restart: the count and back-off start over and any
    /// pending policy restart is cancelled.
    pub fn reset(&self, id: &str) {
        let mut m = self.state.lock().expect("restart state");
        let e = m.entry(id.to_string()).or_default();
        e.delay = Duration::ZERO;
        e.retries = 0;
        e.generation += 1;
    }

    /// Cancels a pending policy restart (stop, kill, rm).
    pub fn cancel(&self, id: &str) {
        self.state
            .lock()
            .expect("restart state")
            .entry(id.to_string())
            .or_default()
            .generation += 1;
    }

    /// Forgets a removed container.
    pub fn forget(&self, id: &str) {
        self.state.lock().expect("restart state").remove(id);
    }

    fn generation(&self, id: &str) -> u64 {
        self.state
            .lock()
            .expect("restart state")
            .get(id)
            .map_or(0, |e| e.generation)
    }

    /// moby's ShouldRestart: `Some((delay, generation))` when the policy
    /// restarts a container that exited with `exit_code` after running
    /// for `ran`.
    fn decide(
        &self,
        id: &str,
        p: &RestartPolicy,
        exit_code: i64,
        ran: Duration,
    ) -> Option<(Duration, u64)> {
        let mut m = self.state.lock().expect("restart state");
        let e = m.entry(id.to_string()).or_default();
        if ran >= RESET_AFTER {
            e.delay = Duration::ZERO;
        }
        e.delay = if e.delay.is_zero() {
            FIRST_DELAY
        } else {
            (e.delay * 2).min(MAX_DELAY)
        };
        let restart = match p.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                exit_code != 0 && (p.maximum_retry_count == 0 || e.retries < p.maximum_retry_count)
            }
            _ => false,
        };
        if !restart {
            return None;
        }
        e.retries += 1;
        Some((e.delay, e.generation))
    }
}

impl Engine {
    /// After an exit (`was_started`: the container had been running):
    /// schedules the policy's restart, marking the container `restarting`.
    pub(crate) fn after_exit(&self, c: &Arc<Container>, exit_code: i64, was_started: bool) {
        let r = c.get();
        if !was_started || r.manually_stopped || self.get_by_id(&c.id).is_none() {
            return;
        }
        let ran = if r.state.finished_ns > r.state.started_ns && r.state.started_ns > 0 {
            Duration::from_nanos((r.state.finished_ns - r.state.started_ns) as u64)
        } else {
            Duration::ZERO
        };
        let Some((delay, generation)) =
            self.restarts
                .decide(&c.id, &r.host_config.restart_policy, exit_code, ran)
        else {
            return;
        };
        c.update(|r| {
            r.state.status = Status::Restarting;
            r.restart_count += 1;
        });
        let engine = self.arc();
        let c = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Checked under the container's operation lock, so a stop,
            // kill or rm that got there first wins.
            let _g = c.op.lock().await;
            let current = engine.restarts.generation(&c.id) == generation
                && engine.get_by_id(&c.id).is_some()
                && !c.get().manually_stopped
                && c.get().state.status == Status::Restarting;
            if !current {
                engine.leave_restarting(&c);
                return;
            }
            if let Err(e) = engine.start_locked(&c).await {
                tracing::warn!("restart {}: {}", c.id, e.message);
                engine.leave_restarting(&c);
            }
        });
    }

    /// A cancelled or failed restart leaves the container `exited`.
    pub(crate) fn leave_restarting(&self, c: &Container) {
        c.update(|r| {
            if r.state.status == Status::Restarting {
                r.state.status = Status::Exited;
            }
        });
    }

    /// At berthd's start: starts the stopped containers their policy
    /// would have kept running (see the module docs).
    pub(crate) async fn restart_on_boot(&self) {
        let list: Vec<Arc<Container>> = self
            .containers
            .read()
            .expect("containers")
            .values()
            .cloned()
            .collect();
        for c in list {
            let r = c.get();
            if r.state.status.is_live()
                || r.state.status == Status::Removing
                || r.state.status == Status::Restarting
                || r.state.started_ns == 0
            {
                continue;
            }
            let p = &r.host_config.restart_policy;
            let start = match p.name.as_str() {
                "always" => true,
                "unless-stopped" => !r.manually_stopped,
                "on-failure" => {
                    !r.manually_stopped
                        && r.state.exit_code != 0
                        && (p.maximum_retry_count == 0 || r.restart_count < p.maximum_retry_count)
                }
                _ => false,
            };
            if start {
                if let Err(e) = self.start(&c).await {
                    tracing::warn!("restart {} at daemon start: {}", c.id, e.message);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pol(name: &str, n: i64) -> RestartPolicy {
        RestartPolicy {
            name: name.into(),
            maximum_retry_count: n,
        }
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let m = Manager::default();
        let p = pol("always", 0);
        let d: Vec<u128> = (0..12)
            .map(|_| m.decide("a", &p, 0, Duration::ZERO).unwrap().0.as_millis())
            .collect();
        assert_eq!(&d[..5], [100, 200, 400, 800, 1600]);
        assert_eq!(d[11], 60_000);
        assert_eq!(
            m.decide("a", &p, 0, Duration::from_secs(11)).unwrap().0,
            FIRST_DELAY
        );
    }

    #[test]
    fn on_failure_counts() {
        let m = Manager::default();
        let p = pol("on-failure", 2);
        assert!(m.decide("b", &p, 0, Duration::ZERO).is_none());
        assert!(m.decide("b", &p, 1, Duration::ZERO).is_some());
        assert!(m.decide("b", &p, 1, Duration::ZERO).is_some());
        assert!(m.decide("b", &p, 1, Duration::ZERO).is_none());
        m.reset("b");
        assert!(m.decide("b", &p, 1, Duration::ZERO).is_some());
        assert!(m.decide("c", &pol("no", 0), 1, Duration::ZERO).is_none());
    }

    #[test]
    fn validation_words() {
        assert!(validate(&pol("on-failure", 3)).is_ok());
        assert!(validate(&pol("", 0)).is_ok());
        let e = validate(&pol("bogus", 0)).unwrap_err().message;
        assert!(e.contains("unknown policy 'bogus'"), "{e}");
        assert!(validate(&pol("always", 2)).is_err());
        assert!(validate(&pol("on-failure", -1)).is_err());
    }
}
