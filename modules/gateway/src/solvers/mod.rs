//! Captcha solvers the gateway brings to the kernel's port: [`local_model`] (ddddocr's
//! OCR model run by tract, when `make models` fetched it). The manual solver lives
//! with its queue in [`crate::service::solving`]; Chaojiying is registered by the
//! integrations module.

pub mod local_model;

use std::sync::Arc;

use shopops_kernel::captcha::CaptchaSolvers;
use shopops_kernel::health::{ComponentHealth, HealthCheck};

/// `/readyz` details (`gateway-captcha`): which solvers are registered and whether the
/// local model is loaded. Informational: platforms list their own order.
pub struct SolversHealth {
    solvers: Arc<CaptchaSolvers>,
    local_model: bool,
}

impl SolversHealth {
    pub fn new(solvers: Arc<CaptchaSolvers>, local_model: bool) -> Self {
        Self {
            solvers,
            local_model,
        }
    }
}

#[async_trait::async_trait]
impl HealthCheck for SolversHealth {
    fn name(&self) -> &str {
        "gateway-captcha"
    }

    async fn check(&self) -> ComponentHealth {
        let model = if self.local_model {
            "local captcha model loaded"
        } else {
            "no local captcha model (`make models` fetches it)"
        };
        ComponentHealth {
            state: "healthy",
            latency_ms: None,
            reason: None,
            detail: Some(format!(
                "solvers: {}; {model}",
                self.solvers.names().join(", ")
            )),
        }
    }
}
