//! The manager: the providers of each capability in priority order, each
//! behind its own circuit breaker, with success rate and latency over its recent calls.
//! A call goes to the highest-priority enabled provider whose breaker lets it through
//! and moves on when a provider is unavailable; a provider that refuses the request
//! ends the call (another would refuse too), and an ambiguous write ends it so the
//! caller can check before going anywhere else.
//!
//! The providers are rebuilt when `integrations.yaml` or the overrides set through the
//! API change (every replica polls both), keeping each provider's breaker and
//! statistics across rebuilds.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use shopops_kernel::outside::{
    BreakerConfig, CallStats, CircuitBreaker, CircuitState, OutsideCalls, TargetConfig,
};
use shopops_kernel::Kernel;
use utoipa::ToSchema;

use crate::config::{
    yaml, Capability, IntegrationsConfig, IntegrationsSettings, PhoneThrottle, ProviderConfig,
};
use crate::entities::provider_override;
use crate::metrics::IntegrationMetrics;
use crate::providers::{self, Adapter, BuildContext, ProviderError};
use crate::store;

/// A provider's breaker and recent calls; kept across configuration reloads.
pub struct ProviderHealth {
    pub breaker: CircuitBreaker,
    stats: Mutex<CallStats>,
}

/// One configured, built provider.
#[derive(Clone)]
pub struct Slot {
    pub config: ProviderConfig,
    pub adapter: Adapter,
    pub health: Arc<ProviderHealth>,
}

impl Slot {
    pub fn payment(&self) -> Option<&Arc<dyn providers::PaymentProvider>> {
        match &self.adapter {
            Adapter::Payment(p) => Some(p),
            _ => None,
        }
    }

    pub fn sms(&self) -> Option<&Arc<dyn providers::SmsProvider>> {
        match &self.adapter {
            Adapter::Sms(p) => Some(p),
            _ => None,
        }
    }

    pub fn storage(&self) -> Option<&Arc<dyn providers::StorageProvider>> {
        match &self.adapter {
            Adapter::Storage(p) => Some(p),
            _ => None,
        }
    }

    pub fn captcha(&self) -> Option<&Arc<dyn providers::CaptchaProvider>> {
        match &self.adapter {
            Adapter::Captcha(p) => Some(p),
            _ => None,
        }
    }
}

/// The providers in force.
pub struct Registry {
    pub slots: Vec<Slot>,
    pub phone_throttle: PhoneThrottle,
}

/// Why a call found no provider to do it.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No enabled provider can do this (none configured, or none for the channel).
    NoProvider,
    /// Every candidate was unavailable or its circuit open.
    AllUnavailable {
        tried: Vec<(String, String)>,
    },
    Rejected {
        provider: String,
        code: String,
        message: String,
    },
    Ambiguous {
        provider: String,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderStatus {
    pub capability: Capability,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub priority: u32,
    pub circuit: CircuitState,
    pub consecutive_failures: u32,
    /// Calls in the window (the last 200, at most 15 minutes old).
    pub recent_calls: usize,
    pub success_rate: Option<f64>,
    pub average_latency_ms: Option<f64>,
    pub total_calls: u64,
}

pub struct Manager {
    current: RwLock<Arc<Registry>>,
    healths: Mutex<HashMap<String, Arc<ProviderHealth>>>,
    breaker: BreakerConfig,
    outside: Arc<OutsideCalls>,
    url_key: Vec<u8>,
    /// The module's settings, read once at start.
    pub settings: IntegrationsSettings,
    pub metrics: IntegrationMetrics,
    /// The file's text last loaded, and the overrides last applied.
    seen: Mutex<(Option<String>, Vec<provider_override::Model>)>,
    /// Why the last reload was refused (the previous providers stay in force).
    pub reload_error: Mutex<Option<String>>,
    data_dir: String,
}

impl Manager {
    /// Loads the configuration and overrides and builds every provider; a bad file
    /// stops the start with a message naming the key.
    pub async fn start(
        kernel: &Kernel,
        url_key: Vec<u8>,
        settings: IntegrationsSettings,
    ) -> Result<Arc<Self>, String> {
        let data_dir = kernel.config.data_dir.display().to_string();
        let (file, text) = settings.load_providers(&data_dir)?;
        let overrides = load_overrides(kernel).await?;
        let manager = Arc::new(Self {
            current: RwLock::new(Arc::new(Registry {
                slots: vec![],
                phone_throttle: file.phone_throttle.clone(),
            })),
            healths: Mutex::default(),
            breaker: TargetConfig::from_config(&kernel.config).breaker,
            outside: kernel.outside.clone(),
            url_key,
            settings,
            metrics: IntegrationMetrics::new(kernel.metrics.registry()),
            seen: Mutex::new((text, overrides.clone())),
            reload_error: Mutex::default(),
            data_dir,
        });
        let registry = manager.build(&file, &overrides)?;
        *manager.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(registry);
        Ok(manager)
    }

    fn health_of(&self, path: &str) -> Arc<ProviderHealth> {
        self.healths
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path.to_string())
            .or_insert_with(|| {
                Arc::new(ProviderHealth {
                    breaker: CircuitBreaker::new(self.breaker.clone()),
                    stats: Mutex::default(),
                })
            })
            .clone()
    }

    fn build(
        &self,
        file: &IntegrationsConfig,
        overrides: &[provider_override::Model],
    ) -> Result<Registry, String> {
        let ctx = BuildContext {
            outside: &self.outside,
            url_key: &self.url_key,
            public_base_url: &self.settings.public_base_url,
        };
        let mut slots = Vec::with_capacity(file.providers.len());
        for provider in &file.providers {
            let mut config = provider.clone();
            if let Some(o) = overrides
                .iter()
                .find(|o| o.capability == config.capability.as_str() && o.name == config.name)
            {
                config.enabled = o.enabled.unwrap_or(config.enabled);
                config.priority = o
                    .priority
                    .map(|p| p.clamp(0, i64::from(u32::MAX)) as u32)
                    .unwrap_or(config.priority);
                config.per_minute = o
                    .per_minute
                    .map(|p| p.max(0) as u32)
                    .unwrap_or(config.per_minute);
                config.per_day = o.per_day.map(|p| p.max(0) as u32).unwrap_or(config.per_day);
            }
            let adapter = providers::build(&config, &ctx)?;
            let health = self.health_of(&config.path());
            slots.push(Slot {
                config,
                adapter,
                health,
            });
        }
        slots.sort_by_key(|s| {
            (
                s.config.capability,
                s.config.priority,
                s.config.name.clone(),
            )
        });
        Ok(Registry {
            slots,
            phone_throttle: file.phone_throttle.clone(),
        })
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Rebuilds when the file or the overrides changed; true when it did. A file that
    /// does not validate leaves the providers as they were and is reported.
    pub async fn reload_if_changed(&self, kernel: &Kernel) -> Result<bool, String> {
        let text = match self.settings.yaml_path() {
            Some(path) => Some(yaml::read_text(&path)?),
            None => None,
        };
        let overrides = load_overrides(kernel).await?;
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.0 == text && seen.1 == overrides {
                return Ok(false);
            }
        }
        let parsed = match &text {
            Some(t) => yaml::parse(t, &yaml::process_env),
            None => Ok(yaml::embedded_default(&self.data_dir)),
        };
        let result = parsed.and_then(|file| self.build(&file, &overrides));
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = (text, overrides);
        match result {
            Ok(registry) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(registry);
                *self.reload_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::info!("integration providers reloaded");
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(error = %e, "integrations configuration refused; the previous one stays in force");
                *self.reload_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The enabled providers of a capability, in priority order.
    pub fn candidates(&self, capability: Capability) -> Vec<Slot> {
        self.registry()
            .slots
            .iter()
            .filter(|s| s.config.capability == capability && s.config.enabled)
            .cloned()
            .collect()
    }

    /// A provider by name (payments return to the provider that took them).
    pub fn provider(&self, capability: Capability, name: &str) -> Option<Slot> {
        self.registry()
            .slots
            .iter()
            .find(|s| s.config.capability == capability && s.config.name == name)
            .cloned()
    }

    /// Runs `op` on one provider, through its breaker, counting the outcome.
    pub async fn attempt<R, Fut>(
        &self,
        slot: &Slot,
        op: impl FnOnce(Slot) -> Fut,
    ) -> Result<R, ProviderError>
    where
        Fut: Future<Output = Result<R, ProviderError>>,
    {
        let cap = slot.config.capability.as_str();
        let name = slot.config.name.as_str();
        let Ok(permit) = slot.health.breaker.try_acquire() else {
            self.metrics
                .calls
                .with_label_values(&[cap, name, "circuit_open"])
                .inc();
            return Err(ProviderError::Unavailable(
                "circuit open: recent calls failed".into(),
            ));
        };
        let started = Instant::now();
        let result = op(slot.clone()).await;
        let elapsed = started.elapsed();
        // A refusal is the provider working; unavailable and ambiguous are failures.
        let healthy = matches!(result, Ok(_) | Err(ProviderError::Rejected { .. }));
        slot.health.breaker.record(permit, healthy);
        slot.health
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(elapsed, healthy);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ProviderError::Rejected { .. }) => "rejected",
            Err(ProviderError::Unavailable(_)) => "unavailable",
            Err(ProviderError::Ambiguous(_)) => "ambiguous",
        };
        self.metrics
            .calls
            .with_label_values(&[cap, name, outcome])
            .inc();
        self.metrics
            .duration
            .with_label_values(&[cap, name])
            .observe(elapsed.as_secs_f64());
        if let Err(ProviderError::Unavailable(e) | ProviderError::Ambiguous(e)) = &result {
            tracing::warn!(capability = cap, provider = name, error = %e, "integration provider failed");
        }
        result
    }

    /// Tries `candidates` in order until one does it (see the module's rules).
    pub async fn failover<R, Fut>(
        &self,
        candidates: Vec<Slot>,
        mut op: impl FnMut(Slot) -> Fut,
    ) -> Result<(Slot, R), Failure>
    where
        Fut: Future<Output = Result<R, ProviderError>>,
    {
        if candidates.is_empty() {
            return Err(Failure::NoProvider);
        }
        let mut tried = Vec::new();
        for (i, slot) in candidates.into_iter().enumerate() {
            if i > 0 {
                self.metrics
                    .failovers
                    .with_label_values(&[slot.config.capability.as_str()])
                    .inc();
            }
            match self.attempt(&slot, &mut op).await {
                Ok(r) => return Ok((slot, r)),
                Err(ProviderError::Rejected { code, message }) => {
                    return Err(Failure::Rejected {
                        provider: slot.config.name.clone(),
                        code,
                        message,
                    })
                }
                Err(ProviderError::Ambiguous(message)) => {
                    return Err(Failure::Ambiguous {
                        provider: slot.config.name.clone(),
                        message,
                    })
                }
                Err(ProviderError::Unavailable(e)) => tried.push((slot.config.name.clone(), e)),
            }
        }
        Err(Failure::AllUnavailable { tried })
    }

    /// Every provider's state, for `GET /integrations/health` and the alerts.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.registry()
            .slots
            .iter()
            .map(|s| {
                let t = s
                    .health
                    .stats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .status(
                        &s.config.path(),
                        s.health.breaker.state(),
                        s.health.breaker.consecutive_failures(),
                    );
                ProviderStatus {
                    capability: s.config.capability,
                    name: s.config.name.clone(),
                    kind: s.config.kind.clone(),
                    enabled: s.config.enabled,
                    priority: s.config.priority,
                    circuit: t.state,
                    consecutive_failures: t.consecutive_failures,
                    recent_calls: t.recent_calls,
                    success_rate: t.success_rate,
                    average_latency_ms: t.average_latency_ms,
                    total_calls: t.total_calls,
                }
            })
            .collect()
    }

    /// Whether a provider may send one more SMS now (its per-minute and per-day
    /// limits, counted in the shared cache so every replica counts together).
    pub async fn sms_budget(&self, kernel: &Kernel, slot: &Slot) -> bool {
        let now = chrono::Utc::now().timestamp();
        for (limit, window, secs) in [
            (slot.config.per_minute, "m", 60),
            (slot.config.per_day, "d", 86_400),
        ] {
            if limit == 0 {
                continue;
            }
            let key = format!(
                "integrations:sms_limit:{}:{window}:{}",
                slot.config.name,
                now / secs
            );
            match kernel
                .cache
                .cache
                .incr(&key, Duration::from_secs(secs as u64 + 5))
                .await
            {
                Ok(n) if n > i64::from(limit) => return false,
                Ok(_) => {}
                // Without the counter, err on the side of sending.
                Err(e) => tracing::warn!(error = %e.0, "SMS limit counter unavailable"),
            }
        }
        true
    }
}

async fn load_overrides(kernel: &Kernel) -> Result<Vec<provider_override::Model>, String> {
    store::overrides::all(&kernel.db)
        .await
        .map_err(|e| e.to_string())
}
