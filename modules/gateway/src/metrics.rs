//! The module's Prometheus series, on the kernel's registry (`/metrics`): logins,
//! calls, captcha answers and heartbeats by outcome. No tenant or platform label:
//! tenants are unbounded; the logs and `GET …/sessions` tell which platform.

use prometheus::{IntCounterVec, Registry};
use shopops_kernel::telemetry::metrics::counter_vec;

pub struct GatewayMetrics {
    /// `outcome`: `ok`, `captcha_failed`, `refused`, `unavailable`.
    pub logins: IntCounterVec,
    /// `outcome`: `ok`, `refreshed` (after an expiry), `expired`, `unavailable`,
    /// `platform_error`.
    pub calls: IntCounterVec,
    /// `solver`, `outcome`: `accepted`, `rejected` (the platform said wrong),
    /// `unreadable`, `unavailable`.
    pub captchas: IntCounterVec,
    /// `outcome`: `ok`, `refreshed`, `failed`.
    pub heartbeats: IntCounterVec,
}

impl GatewayMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            logins: counter_vec(
                registry,
                "gateway_logins_total",
                "Platform logins by outcome",
                &["outcome"],
            ),
            calls: counter_vec(
                registry,
                "gateway_calls_total",
                "Calls through platform sessions by outcome",
                &["outcome"],
            ),
            captchas: counter_vec(
                registry,
                "gateway_captchas_total",
                "Captcha answers by solver and outcome",
                &["solver", "outcome"],
            ),
            heartbeats: counter_vec(
                registry,
                "gateway_heartbeats_total",
                "Keepalive heartbeats by outcome",
                &["outcome"],
            ),
        }
    }
}
