//! Leases: "one holder at a time" across every process that shares the Redis (or
//! within the process without Redis). Modules' login locks and the scheduled
//! jobs' leaders use them (docs/ARCHITECTURE.md "Leases").
//!
//! A lease has an expiry, so a holder that dies frees it after `ttl`, and a fencing
//! token that grows with every grant, so a write made by a holder whose lease lapsed
//! (a long pause, a lost network) is refused: [`Leases::set_if_held`] writes only
//! while the lease is still the caller's. Written by hand on three short Lua scripts
//! because the lock crates on the registry (Redlock ports) want several independent
//! Redis masters and give no fencing token; one Redis is what this product runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::cache::{Cache, CacheError, CacheHandle, RedisCache};

/// A granted lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    /// Grows with every grant of this name: the later holder has the larger token.
    pub fence: u64,
    /// Unique per grant (`{process id}|{fence}`), what renew and release compare.
    value: String,
    pub ttl: Duration,
}

enum Backend {
    Memory {
        held: Mutex<MemoryLeases>,
        cache: Arc<dyn Cache>,
    },
    Redis(Arc<RedisCache>),
}

#[derive(Default)]
struct MemoryLeases {
    held: HashMap<String, (String, Instant)>,
    fences: HashMap<String, u64>,
}

impl MemoryLeases {
    fn holds(&self, lease: &Lease) -> bool {
        self.held
            .get(&lease.name)
            .is_some_and(|(v, deadline)| *v == lease.value && *deadline > Instant::now())
    }
}

pub struct Leases {
    backend: Backend,
    /// Identifies this process in lease values (logs, `holder`).
    process: String,
}

const ACQUIRE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. fence, 'PX', ARGV[2])
return fence";

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0";

const SET_IF_HELD: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

fn lease_key(name: &str) -> String {
    format!("lease:{name}")
}

fn fence_key(name: &str) -> String {
    format!("lease:{name}:fence")
}

fn millis(ttl: Duration) -> String {
    ttl.as_millis().max(1).to_string()
}

impl Leases {
    pub fn new(cache: &CacheHandle) -> Self {
        let backend = match &cache.redis {
            Some(redis) => Backend::Redis(redis.clone()),
            None => Backend::Memory {
                held: Mutex::default(),
                cache: cache.cache.clone(),
            },
        };
        Self {
            backend,
            process: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        }
    }

    /// Takes `name` for `ttl` when nobody holds it.
    pub async fn try_acquire(
        &self,
        name: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, CacheError> {
        let fence = match &self.backend {
            Backend::Redis(redis) => {
                let (key, fences) = (lease_key(name), fence_key(name));
                let args = [self.process.clone(), millis(ttl)];
                redis.eval::<u64>(ACQUIRE, &[&key, &fences], &args).await?
            }
            Backend::Memory { held, .. } => {
                let mut state = held.lock().await;
                let now = Instant::now();
                if state.held.get(name).is_some_and(|(_, d)| *d > now) {
                    0
                } else {
                    let fence = state.fences.entry(name.to_string()).or_default();
                    *fence += 1;
                    let fence = *fence;
                    let value = format!("{}|{fence}", self.process);
                    state.held.insert(name.to_string(), (value, now + ttl));
                    fence
                }
            }
        };
        Ok((fence > 0).then(|| Lease {
            name: name.to_string(),
            fence,
            value: format!("{}|{fence}", self.process),
            ttl,
        }))
    }

    /// Extends a lease still held; `false` when it lapsed or another took it.
    pub async fn renew(&self, lease: &Lease) -> Result<bool, CacheError> {
        match &self.backend {
            Backend::Redis(redis) => {
                let args = [lease.value.clone(), millis(lease.ttl)];
                let renewed = redis
                    .eval::<i64>(RENEW, &[&lease_key(&lease.name)], &args)
                    .await?;
                Ok(renewed == 1)
            }
            Backend::Memory { held, .. } => {
                let mut state = held.lock().await;
                if !state.holds(lease) {
                    return Ok(false);
                }
                state.held.insert(
                    lease.name.clone(),
                    (lease.value.clone(), Instant::now() + lease.ttl),
                );
                Ok(true)
            }
        }
    }

    /// Gives a lease back (a no-op when it already lapsed).
    pub async fn release(&self, lease: &Lease) -> Result<(), CacheError> {
        match &self.backend {
            Backend::Redis(redis) => {
                let args = [lease.value.clone()];
                redis
                    .eval::<i64>(RELEASE, &[&lease_key(&lease.name)], &args)
                    .await?;
            }
            Backend::Memory { held, .. } => {
                let mut state = held.lock().await;
                if state.holds(lease) {
                    state.held.remove(&lease.name);
                }
            }
        }
        Ok(())
    }

    /// Writes `key` (a cache key) only while `lease` is still held: the fenced write.
    pub async fn set_if_held(
        &self,
        lease: &Lease,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        match &self.backend {
            Backend::Redis(redis) => {
                let args = [lease.value.clone(), value.to_string(), millis(ttl)];
                let set = redis
                    .eval::<i64>(SET_IF_HELD, &[&lease_key(&lease.name), key], &args)
                    .await?;
                Ok(set == 1)
            }
            Backend::Memory { held, cache } => {
                let state = held.lock().await;
                if !state.holds(lease) {
                    return Ok(false);
                }
                cache.set(key, value, ttl).await?;
                Ok(true)
            }
        }
    }

    /// Whether anyone holds `name` now.
    pub async fn is_held(&self, name: &str) -> Result<bool, CacheError> {
        match &self.backend {
            Backend::Redis(redis) => {
                let held = redis
                    .eval::<i64>(
                        "return redis.call('EXISTS', KEYS[1])",
                        &[&lease_key(name)],
                        &[],
                    )
                    .await?;
                Ok(held == 1)
            }
            Backend::Memory { held, .. } => {
                let state = held.lock().await;
                Ok(state
                    .held
                    .get(name)
                    .is_some_and(|(_, d)| *d > Instant::now()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a` and `b` play two processes (in memory: one process's table, shared).
    async fn exercise(a: Arc<Leases>, b: Arc<Leases>, cache: Arc<dyn Cache>) {
        let ttl = Duration::from_millis(300);
        let long = Duration::from_secs(5);
        let first = a
            .try_acquire("job", ttl)
            .await
            .unwrap()
            .expect("free lease");
        assert!(b.try_acquire("job", ttl).await.unwrap().is_none());
        assert!(a.is_held("job").await.unwrap());
        assert!(a.renew(&first).await.unwrap());
        assert!(a.set_if_held(&first, "k", "1", long).await.unwrap());
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("1"));

        // The holder stalls past its ttl: the other takes over with a larger fence,
        // and the stale holder can neither renew, nor write, nor release it.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let second = b.try_acquire("job", ttl).await.unwrap().expect("lapsed");
        assert!(second.fence > first.fence);
        assert!(!a.renew(&first).await.unwrap());
        assert!(!a.set_if_held(&first, "k", "stale", long).await.unwrap());
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("1"));
        a.release(&first).await.unwrap();
        assert!(
            b.is_held("job").await.unwrap(),
            "a stale release frees nothing"
        );

        b.release(&second).await.unwrap();
        assert!(!b.is_held("job").await.unwrap());
        let third = a.try_acquire("job", ttl).await.unwrap().expect("released");
        assert!(third.fence > second.fence);
    }

    #[tokio::test]
    async fn memory_leases_are_exclusive_expire_and_fence() {
        let handle = CacheHandle::memory();
        let leases = Arc::new(Leases::new(&handle));
        exercise(leases.clone(), leases, handle.cache.clone()).await;
    }

    /// Two processes on the real Redis when TEST_REDIS_URL is set (make test-services).
    #[tokio::test]
    async fn redis_leases_are_exclusive_expire_and_fence() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            eprintln!("TEST_REDIS_URL not set: redis lease test runs in make test-services");
            return;
        };
        let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
        let handle = CacheHandle::redis(&url, &prefix).unwrap();
        let other = CacheHandle::redis(&url, &prefix).unwrap();
        let (a, b) = (Leases::new(&handle), Leases::new(&other));
        exercise(Arc::new(a), Arc::new(b), handle.cache.clone()).await;
    }
}
