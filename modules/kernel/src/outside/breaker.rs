//! A per-target circuit breaker.
//!
//! Written here rather than taken from a crate: the maintained Rust breakers (e.g.
//! `failsafe`) let every call through while half-open and have no half-open timeout,
//! and both are required here — a limited number of trial calls, and a half-open state
//! that cannot stick when a trial never reports back.
//!
//! Closed → Open when `failure_threshold` calls fail in a row, or when the failure rate
//! over the last `window` calls reaches `failure_rate`. Open → HalfOpen after
//! `open_for`. HalfOpen lets `half_open_max_calls` trials through: all succeed →
//! Closed; one fails → Open again; none reports within `half_open_timeout` → Open.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub failure_rate: f64,
    pub window: u32,
    pub open_for: Duration,
    pub half_open_max_calls: u32,
    pub half_open_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    /// The value of the `circuit_state` gauge.
    pub fn gauge(self) -> i64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        since: Instant,
        admitted: u32,
        succeeded: u32,
    },
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// Outcomes of the last `window` calls while closed (true = failure).
    recent: VecDeque<bool>,
    consecutive_failures: u32,
    /// Bumped on every transition, so a permit from an earlier phase is ignored.
    generation: u64,
}

/// Permission for one call; report its outcome with [`CircuitBreaker::record`].
#[derive(Debug, Clone, Copy)]
pub struct Permit {
    generation: u64,
}

pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner {
                state: State::Closed,
                recent: VecDeque::new(),
                consecutive_failures: 0,
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state stays consistent even if a holder panicked: every update is a
        // plain assignment.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A permit, or how long the circuit stays open.
    pub fn try_acquire(&self) -> Result<Permit, Duration> {
        let now = Instant::now();
        let mut inner = self.lock();
        if let State::Open { until } = inner.state {
            if now < until {
                return Err(until - now);
            }
            transition(
                &mut inner,
                State::HalfOpen {
                    since: now,
                    admitted: 0,
                    succeeded: 0,
                },
            );
        }
        if let State::HalfOpen { since, .. } = inner.state {
            if now.duration_since(since) >= self.config.half_open_timeout {
                // Trials that never reported back: assume the target is still bad.
                transition(
                    &mut inner,
                    State::Open {
                        until: now + self.config.open_for,
                    },
                );
                return Err(self.config.open_for);
            }
        }
        let generation = inner.generation;
        if let State::HalfOpen { admitted, .. } = &mut inner.state {
            if *admitted >= self.config.half_open_max_calls {
                return Err(Duration::from_secs(1));
            }
            *admitted += 1;
        }
        Ok(Permit { generation })
    }

    /// Reports the outcome of a permitted call.
    pub fn record(&self, permit: Permit, success: bool) {
        let now = Instant::now();
        let mut inner = self.lock();
        if permit.generation != inner.generation {
            return;
        }
        let open = State::Open {
            until: now + self.config.open_for,
        };
        let next = match &mut inner.state {
            State::Open { .. } => None,
            State::HalfOpen { succeeded, .. } => {
                if !success {
                    Some(open)
                } else {
                    *succeeded += 1;
                    (*succeeded >= self.config.half_open_max_calls).then_some(State::Closed)
                }
            }
            State::Closed => {
                inner.recent.push_back(!success);
                while inner.recent.len() > self.config.window as usize {
                    inner.recent.pop_front();
                }
                inner.consecutive_failures = if success {
                    0
                } else {
                    inner.consecutive_failures + 1
                };
                let calls = inner.recent.len();
                let failures = inner.recent.iter().filter(|f| **f).count();
                let rate_tripped = calls >= self.config.window as usize
                    && failures as f64 / calls as f64 >= self.config.failure_rate;
                (inner.consecutive_failures >= self.config.failure_threshold || rate_tripped)
                    .then_some(open)
            }
        };
        if let Some(next) = next {
            transition(&mut inner, next);
        }
    }

    pub fn state(&self) -> CircuitState {
        match self.lock().state {
            State::Closed => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.lock().consecutive_failures
    }
}

fn transition(inner: &mut Inner, to: State) {
    if matches!(to, State::Closed | State::Open { .. }) {
        inner.recent.clear();
    }
    if matches!(to, State::Closed) {
        inner.consecutive_failures = 0;
    }
    inner.state = to;
    inner.generation += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(open_ms: u64, half_open_timeout_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            failure_rate: 0.5,
            window: 10,
            open_for: Duration::from_millis(open_ms),
            half_open_max_calls: 2,
            half_open_timeout: Duration::from_millis(half_open_timeout_ms),
        })
    }

    fn call(b: &CircuitBreaker, ok: bool) -> bool {
        match b.try_acquire() {
            Ok(p) => {
                b.record(p, ok);
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn opens_after_consecutive_failures_and_rejects_while_open() {
        let b = breaker(60_000, 60_000);
        assert!(call(&b, false) && call(&b, false));
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(call(&b, false));
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.try_acquire().is_err());
    }

    #[test]
    fn opens_on_failure_rate_over_a_full_window() {
        let b = breaker(60_000, 60_000);
        for i in 0..10 {
            call(&b, i % 2 == 0); // alternate: never 3 in a row, but 50 %
        }
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[test]
    fn half_open_admits_limited_trials_and_closes_when_they_succeed() {
        let b = breaker(20, 60_000);
        for _ in 0..3 {
            call(&b, false);
        }
        std::thread::sleep(Duration::from_millis(30));
        let p1 = b.try_acquire().expect("trial 1");
        let p2 = b.try_acquire().expect("trial 2");
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert!(b.try_acquire().is_err(), "only two trials");
        b.record(p1, true);
        b.record(p2, true);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn a_failed_trial_reopens_and_a_silent_half_open_times_out() {
        let b = breaker(20, 40);
        for _ in 0..3 {
            call(&b, false);
        }
        std::thread::sleep(Duration::from_millis(30));
        let p = b.try_acquire().expect("trial");
        b.record(p, false);
        assert_eq!(b.state(), CircuitState::Open);

        std::thread::sleep(Duration::from_millis(30));
        let _lost = b.try_acquire().expect("trial whose outcome never comes");
        std::thread::sleep(Duration::from_millis(50));
        assert!(b.try_acquire().is_err(), "half-open timed out");
        assert_eq!(b.state(), CircuitState::Open);
    }
}
