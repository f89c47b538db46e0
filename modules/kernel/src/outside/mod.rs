//! Calls to outside systems (shop platforms, payment, SMS, storage, chat robots): one pooled
//! HTTP client per target with the configured limits (docs/configuration.md), retries with backoff and jitter for
//! requests that are safe to repeat, a circuit breaker per target, metrics, and the
//! state each target is in for `GET /api/v1/ops/outside-targets`.
//!
//! ```text
//! let target = kernel.outside.target("shop-platform");
//! let response = target.send(target.client().get(url).build()?, Repeat::IfSafe).await?;
//! ```

pub mod api;
pub mod breaker;
mod retry;
mod stats;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

pub use breaker::{BreakerConfig, CircuitBreaker, CircuitState};
pub use retry::RetryPolicy;
pub use stats::{CallStats, TargetStatus};

use crate::config::Config;
use crate::error::{AppError, Code};
use crate::telemetry::metrics::Metrics;

/// Limits and policies for one target.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub timeout: Duration,
    pub max_connections: usize,
    pub max_idle: usize,
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerConfig,
    /// Whether the kernel's `outside_*` alert rules watch this target. A module that
    /// alerts on the same calls at its own level (with business failures counted)
    /// turns it off, so one fault is one alert.
    pub kernel_alerts: bool,
}

impl TargetConfig {
    pub fn from_config(c: &Config) -> Self {
        Self {
            timeout: Duration::from_secs(c.outside_timeout_secs),
            max_connections: c.outside_max_connections,
            max_idle: c.outside_max_idle_per_target,
            idle_timeout: Duration::from_secs(c.outside_idle_timeout_secs),
            retry: RetryPolicy {
                max_retries: c.outside_max_retries,
                first_delay: Duration::from_millis(c.outside_backoff_ms),
                max_delay: Duration::from_secs(c.outside_max_backoff_secs),
            },
            breaker: BreakerConfig {
                failure_threshold: c.breaker_failure_threshold,
                failure_rate: c.breaker_failure_rate,
                window: c.breaker_window,
                open_for: Duration::from_secs(c.breaker_open_secs),
                half_open_max_calls: c.breaker_half_open_max_calls,
                half_open_timeout: Duration::from_secs(c.breaker_half_open_timeout_secs),
            },
            kernel_alerts: true,
        }
    }
}

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Retry GET, HEAD, PUT, DELETE and OPTIONS; never POST or PATCH.
    IfSafe,
    /// The caller knows the request is idempotent (a signed query, a request with an
    /// idempotency key the provider honours).
    Always,
    Never,
}

#[derive(Debug, thiserror::Error)]
pub enum OutsideError {
    #[error("{target}: circuit open, retry in {retry_after:?}")]
    CircuitOpen {
        target: String,
        retry_after: Duration,
    },
    #[error("{target}: timed out")]
    Timeout {
        target: String,
        /// While connecting: the request never left.
        connect: bool,
    },
    #[error("{target}: {message}")]
    Network {
        target: String,
        message: String,
        /// The connection was never made: the request never left.
        connect: bool,
    },
    #[error("{target}: request cannot be sent: {message}")]
    Request { target: String, message: String },
}

impl OutsideError {
    /// Whether the target may have received (and acted on) the request: false only
    /// when it certainly did not (circuit open, not sendable, no connection). A write
    /// that may have arrived must not be sent elsewhere before it is checked.
    pub fn may_have_reached(&self) -> bool {
        match self {
            OutsideError::CircuitOpen { .. } | OutsideError::Request { .. } => false,
            OutsideError::Timeout { connect, .. } | OutsideError::Network { connect, .. } => {
                !connect
            }
        }
    }
}

impl From<OutsideError> for AppError {
    fn from(err: OutsideError) -> Self {
        match &err {
            OutsideError::CircuitOpen {
                target,
                retry_after,
            } => Code::ServiceUnavailable.err().with_details(
                json!({ "dependency": target, "retry_after": retry_after.as_secs().max(1) }),
            ),
            OutsideError::Timeout { target, .. } => Code::GatewayTimeout
                .err()
                .with_details(json!({ "dependency": target })),
            OutsideError::Network { target, .. } | OutsideError::Request { target, .. } => {
                tracing::warn!(error = %err, "outside call failed");
                Code::BadGateway
                    .err()
                    .with_details(json!({ "dependency": target }))
            }
        }
    }
}

/// One outside system.
pub struct Target {
    name: String,
    kernel_alerts: bool,
    client: reqwest::Client,
    connections: Semaphore,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    stats: Mutex<CallStats>,
    metrics: Arc<Metrics>,
}

/// What one attempt produced, as the retry loop sees it.
enum Attempt {
    Done(reqwest::Response),
    /// 429 or 5xx: maybe worth repeating.
    Retryable {
        response: reqwest::Response,
        retry_after: Option<Duration>,
    },
    Failed(OutsideError),
}

impl Target {
    fn new(name: &str, config: &TargetConfig, metrics: Arc<Metrics>) -> Result<Self, OutsideError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(config.max_idle)
            .pool_idle_timeout(config.idle_timeout)
            .user_agent(concat!("shopops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OutsideError::Request {
                target: name.into(),
                message: e.to_string(),
            })?;
        metrics.circuit_state.with_label_values(&[name]).set(0);
        Ok(Self {
            name: name.to_string(),
            kernel_alerts: config.kernel_alerts,
            client,
            connections: Semaphore::new(config.max_connections),
            retry: config.retry.clone(),
            breaker: CircuitBreaker::new(config.breaker.clone()),
            stats: Mutex::new(CallStats::default()),
            metrics,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pooled client, for building requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// Sends a request through the breaker, retrying as `repeat` allows. Any HTTP
    /// answer is `Ok` (after retries, the last one); the caller reads the status.
    pub async fn send(
        &self,
        request: reqwest::Request,
        repeat: Repeat,
    ) -> Result<reqwest::Response, OutsideError> {
        let may_repeat = match repeat {
            Repeat::Never => false,
            Repeat::Always => true,
            Repeat::IfSafe => request.method().is_idempotent(),
        } && request.try_clone().is_some();
        let span = tracing::info_span!("outside_call", target = %self.name, method = %request.method(), url = %redacted_url(request.url()));
        let attempt = || async {
            let Some(req) = request.try_clone() else {
                return Attempt::Failed(OutsideError::Request {
                    target: self.name.clone(),
                    message: "request body cannot be replayed".into(),
                });
            };
            self.attempt(req).await
        };
        use tracing::Instrument;
        let outcome = if may_repeat {
            retry::run(&self.retry, attempt).instrument(span).await
        } else {
            attempt().instrument(span).await
        };
        match outcome {
            Attempt::Done(r) | Attempt::Retryable { response: r, .. } => Ok(r),
            Attempt::Failed(e) => Err(e),
        }
    }

    async fn attempt(&self, request: reqwest::Request) -> Attempt {
        let permit = match self.breaker.try_acquire() {
            Ok(p) => p,
            Err(retry_after) => {
                self.count("rejected", None);
                return Attempt::Failed(OutsideError::CircuitOpen {
                    target: self.name.clone(),
                    retry_after,
                });
            }
        };
        let Ok(_slot) = self.connections.acquire().await else {
            return Attempt::Failed(OutsideError::Request {
                target: self.name.clone(),
                message: "target closed".into(),
            });
        };
        let started = Instant::now();
        let result = self.client.execute(request).await;
        let elapsed = started.elapsed();
        let attempt = match result {
            Ok(response) => {
                let status = response.status();
                let failure = status.as_u16() == 429 || status.is_server_error();
                self.breaker.record(permit, !failure);
                let outcome = if status.is_success() || status.is_redirection() {
                    "success"
                } else if failure {
                    "server_error"
                } else {
                    "client_error"
                };
                self.count(outcome, Some((elapsed, !failure)));
                if failure {
                    let retry_after = retry::retry_after(response.headers());
                    Attempt::Retryable {
                        response,
                        retry_after,
                    }
                } else {
                    Attempt::Done(response)
                }
            }
            Err(e) => {
                self.breaker.record(permit, false);
                let timeout = e.is_timeout();
                self.count(
                    if timeout { "timeout" } else { "network_error" },
                    Some((elapsed, false)),
                );
                let target = self.name.clone();
                let connect = e.is_connect();
                Attempt::Failed(if timeout {
                    OutsideError::Timeout { target, connect }
                } else {
                    OutsideError::Network {
                        target,
                        message: without_url(&e),
                        connect,
                    }
                })
            }
        };
        self.metrics
            .circuit_state
            .with_label_values(&[&self.name])
            .set(self.breaker.state().gauge());
        attempt
    }

    fn count(&self, outcome: &str, call: Option<(Duration, bool)>) {
        self.metrics
            .outside_calls
            .with_label_values(&[&self.name, outcome])
            .inc();
        if let Some((elapsed, ok)) = call {
            self.metrics
                .outside_duration
                .with_label_values(&[&self.name])
                .observe(elapsed.as_secs_f64());
            self.stats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(elapsed, ok);
        }
    }

    pub fn status(&self) -> TargetStatus {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let mut status = stats.status(
            &self.name,
            self.breaker.state(),
            self.breaker.consecutive_failures(),
        );
        status.kernel_alerts = self.kernel_alerts;
        status
    }
}

/// URLs may carry signatures and tokens in their query: log scheme, host and path only.
fn redacted_url(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}

fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), &redacted_url(url));
    }
    text
}

/// Installs ring as the process's TLS crypto provider (once). reqwest is built without
/// a default provider, so every process that builds an HTTP client calls this first;
/// [`Target`]s do it themselves.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Every outside target of this process, created on first use.
pub struct OutsideCalls {
    defaults: TargetConfig,
    metrics: Arc<Metrics>,
    targets: Mutex<BTreeMap<String, Arc<Target>>>,
}

impl OutsideCalls {
    pub fn new(defaults: TargetConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            defaults,
            metrics,
            targets: Mutex::new(BTreeMap::new()),
        }
    }

    /// The target with the configured defaults.
    pub fn target(&self, name: &str) -> Result<Arc<Target>, OutsideError> {
        self.target_with(name, &self.defaults)
    }

    /// The target with its own limits; the first call for a name decides them.
    pub fn target_with(
        &self,
        name: &str,
        config: &TargetConfig,
    ) -> Result<Arc<Target>, OutsideError> {
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = targets.get(name) {
            return Ok(t.clone());
        }
        let target = Arc::new(Target::new(name, config, self.metrics.clone())?);
        targets.insert(name.to_string(), target.clone());
        Ok(target)
    }

    pub fn defaults(&self) -> &TargetConfig {
        &self.defaults
    }

    pub fn statuses(&self) -> Vec<TargetStatus> {
        let targets: Vec<Arc<Target>> = self
            .targets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        targets.iter().map(|t| t.status()).collect()
    }
}
