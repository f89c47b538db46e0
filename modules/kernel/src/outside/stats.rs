//! Recent calls of one target (or provider): success rate and latency over the last
//! calls.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use super::CircuitState;

/// How many recent calls the success rate and latency are computed over.
const WINDOW: usize = 200;
/// Calls older than this no longer count.
const MAX_AGE: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct CallStats {
    recent: VecDeque<(Instant, Duration, bool)>,
    total: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TargetStatus {
    pub target: String,
    pub state: CircuitState,
    /// Calls in the window (the last 200, at most 15 minutes old).
    pub recent_calls: usize,
    /// Share of successful calls in the window, 0..1; null without calls.
    pub success_rate: Option<f64>,
    pub average_latency_ms: Option<f64>,
    pub consecutive_failures: u32,
    /// Calls since start.
    pub total_calls: u64,
    /// Whether the kernel's outside-call alert rules watch it (false when its module
    /// alerts on it).
    pub kernel_alerts: bool,
}

impl CallStats {
    pub fn push(&mut self, latency: Duration, ok: bool) {
        self.recent.push_back((Instant::now(), latency, ok));
        if self.recent.len() > WINDOW {
            self.recent.pop_front();
        }
        self.total += 1;
    }

    pub fn status(
        &self,
        target: &str,
        state: CircuitState,
        consecutive_failures: u32,
    ) -> TargetStatus {
        let now = Instant::now();
        let live: Vec<_> = self
            .recent
            .iter()
            .filter(|(at, _, _)| now.duration_since(*at) <= MAX_AGE)
            .collect();
        let n = live.len();
        let (success_rate, average_latency_ms) = if n == 0 {
            (None, None)
        } else {
            let ok = live.iter().filter(|(_, _, ok)| *ok).count();
            let total_ms: f64 = live.iter().map(|(_, d, _)| d.as_secs_f64() * 1000.0).sum();
            (
                Some(ok as f64 / n as f64),
                Some((total_ms / n as f64 * 100.0).round() / 100.0),
            )
        };
        TargetStatus {
            target: target.to_string(),
            state,
            recent_calls: n,
            success_rate,
            average_latency_ms,
            consecutive_failures,
            total_calls: self.total,
            kernel_alerts: true,
        }
    }
}
