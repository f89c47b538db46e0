//! Probes: `GET /healthz` (liveness: the process answers) and `GET /readyz`
//! (readiness: every configured dependency answers; 503 naming the ones that fail).

use std::time::Instant;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::context::Kernel;
use crate::db;

/// The state of a component that does not decide readiness (an outside platform):
/// reported in `/readyz` under `details`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentHealth {
    /// `healthy`, `degraded` or `unhealthy`.
    pub state: &'static str,
    pub latency_ms: Option<f64>,
    /// Why it is not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What it is (a model loaded from where, a store of how many vectors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An informational check a module registers with the kernel.
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync {
    fn name(&self) -> &str;
    async fn check(&self) -> ComponentHealth;
}

/// The registered informational checks.
#[derive(Default)]
pub struct HealthRegistry {
    checks: std::sync::RwLock<Vec<std::sync::Arc<dyn HealthCheck>>>,
}

impl HealthRegistry {
    pub fn register(&self, check: std::sync::Arc<dyn HealthCheck>) {
        self.checks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(check);
    }

    async fn run(&self) -> BTreeMap<String, ComponentHealth> {
        let checks: Vec<_> = self
            .checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let results = futures_util::future::join_all(checks.iter().map(|c| c.check())).await;
        checks
            .iter()
            .map(|c| c.name().to_string())
            .zip(results)
            .collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    pub status: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyCheck {
    /// `up` or `down`.
    pub status: &'static str,
    pub latency_ms: f64,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub checks: BTreeMap<String, DependencyCheck>,
    /// Names of the dependencies that are down.
    pub failed: Vec<String>,
    /// Outside platforms and other components that do not decide readiness.
    pub details: BTreeMap<String, ComponentHealth>,
}

/// Liveness: answers while the process can serve HTTP. Never checks dependencies.
#[utoipa::path(get, path = "/healthz", tag = "probes", responses((status = 200, body = Liveness)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

fn check(started: Instant, result: Result<(), String>) -> DependencyCheck {
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    match result {
        Ok(()) => DependencyCheck {
            status: "up",
            latency_ms,
            error: None,
        },
        Err(error) => DependencyCheck {
            status: "down",
            latency_ms,
            error: Some(error),
        },
    }
}

/// Readiness: 200 when the database (and Redis, when configured) answer; 503 naming
/// the failed dependency otherwise, and 503 (`shutdown`) from the moment a shutdown
/// signal arrives. `details` reports outside platforms (healthy / degraded / unhealthy)
/// without affecting readiness: a platform outage must not take our pods out of service.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness))
)]
pub async fn readyz(kernel: web::Data<Kernel>) -> HttpResponse {
    let mut checks = BTreeMap::new();
    if kernel.lifecycle.is_draining() {
        checks.insert(
            "shutdown".to_string(),
            DependencyCheck {
                status: "down",
                latency_ms: 0.0,
                error: Some("draining for shutdown".into()),
            },
        );
    }
    let started = Instant::now();
    checks.insert(
        "database".to_string(),
        check(started, db::ping(&kernel.db).await),
    );
    if let Some(redis) = &kernel.cache.redis {
        let started = Instant::now();
        let result = redis.ping().await.map_err(|e| e.to_string());
        checks.insert("redis".to_string(), check(started, result));
    }
    let failed: Vec<String> = checks
        .iter()
        .filter(|(_, c)| c.status != "up")
        .map(|(name, _)| name.clone())
        .collect();
    let ready = failed.is_empty();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks,
        failed,
        details: kernel.health.run().await,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        // A probe body, not an error envelope: Kubernetes and operators read `failed`.
        let mut res = HttpResponse::ServiceUnavailable().json(body);
        res.extensions_mut().insert(crate::http::KeepBody);
        res
    }
}
