//! Connectivity of the platform, for `/readyz` details: healthy — it answers within
//! 1 s and calls succeed; degraded — slow, the circuit is half-open, or fewer than
//! 90 % of recent calls succeed; unhealthy — unreachable or the circuit is open. Probed
//! at most every 30 s, so readiness probes never load it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shopops_kernel::health::{ComponentHealth, HealthCheck};
use shopops_kernel::outside::CircuitState;
use tokio::sync::Mutex;

use crate::platform::Platform;

const EVERY: Duration = Duration::from_secs(30);

pub struct Connectivity {
    platform: Arc<Platform>,
    last: Mutex<Option<(Instant, ComponentHealth)>>,
}

impl Connectivity {
    pub fn new(platform: Arc<Platform>) -> Self {
        Self {
            platform,
            last: Mutex::new(None),
        }
    }

    async fn probe(&self) -> ComponentHealth {
        let status = self.platform.api_status();
        let started = Instant::now();
        // Any HTTP answer proves the platform is there; only transport failures count.
        let reached = self.platform.reachable(Duration::from_secs(3)).await;
        let latency_ms = Some((started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0);
        let (state, reason) = match (reached, status.state) {
            (Err(e), _) => ("unhealthy", Some(e)),
            (_, CircuitState::Open) => (
                "unhealthy",
                Some("circuit open: recent calls failed".to_string()),
            ),
            (_, CircuitState::HalfOpen) => (
                "degraded",
                Some("circuit half-open: trial calls".to_string()),
            ),
            _ if status.recent_calls >= 10 && status.success_rate.is_some_and(|r| r < 0.9) => (
                "degraded",
                Some(format!(
                    "{:.0} % of recent calls succeeded",
                    status.success_rate.unwrap_or(0.0) * 100.0
                )),
            ),
            _ if started.elapsed() > Duration::from_secs(1) => {
                ("degraded", Some("slow to answer".to_string()))
            }
            _ => ("healthy", None),
        };
        ComponentHealth {
            state,
            latency_ms,
            reason,
            detail: None,
        }
    }
}

#[async_trait::async_trait]
impl HealthCheck for Connectivity {
    fn name(&self) -> &str {
        "kuaishou"
    }

    async fn check(&self) -> ComponentHealth {
        let mut last = self.last.lock().await;
        if let Some((at, health)) = last.as_ref() {
            if at.elapsed() < EVERY {
                return health.clone();
            }
        }
        let health = self.probe().await;
        *last = Some((Instant::now(), health.clone()));
        health
    }
}
