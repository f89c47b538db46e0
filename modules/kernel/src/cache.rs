//! One cache trait with two implementations: in-process (moka) for the embedded
//! default, Redis when `REDIS_URL` is set so that every replica shares the same state
//! (login throttles, revoked sessions, module caches).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::future::Cache as MokaInner;
use moka::Expiry;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("cache backend unavailable: {0}")]
pub struct CacheError(pub String);

impl From<CacheError> for crate::error::AppError {
    fn from(err: CacheError) -> Self {
        tracing::error!(cause = %err, "cache unavailable");
        crate::error::AppError::unavailable("redis")
    }
}

#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Several values in one round trip (Redis `MGET`), in the order of `keys`.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, CacheError>;
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Adds one to a counter and returns the new value; a new counter lives for `ttl`
    /// (the window starts at the first increment).
    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, CacheError>;
    /// Backend name for probes and logs.
    fn backend(&self) -> &'static str;
}

/// A value and the instant it dies; counters keep their deadline across increments.
#[derive(Clone)]
struct Entry {
    value: String,
    deadline: Instant,
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.deadline.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.deadline.saturating_duration_since(now))
    }
}

/// In-process cache, bounded to `capacity` entries.
pub struct MemoryCache {
    inner: MokaInner<String, Entry>,
}

impl MemoryCache {
    pub fn new(capacity: u64) -> Self {
        Self {
            inner: MokaInner::builder()
                .max_capacity(capacity)
                .expire_after(EntryExpiry)
                .build(),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(self.inner.get(key).await.map(|e| e.value))
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, CacheError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.inner.get(*key).await.map(|e| e.value));
        }
        Ok(values)
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        self.inner
            .insert(
                key.to_string(),
                Entry {
                    value: value.to_string(),
                    deadline: Instant::now() + ttl,
                },
            )
            .await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.inner.invalidate(key).await;
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, CacheError> {
        // moka's entry API makes the read-modify-write atomic per key.
        let entry = self
            .inner
            .entry(key.to_string())
            .and_compute_with(|current| {
                let next = match current {
                    Some(e) => {
                        let e = e.into_value();
                        let n = e.value.parse::<i64>().unwrap_or(0) + 1;
                        Entry {
                            value: n.to_string(),
                            deadline: e.deadline,
                        }
                    }
                    None => Entry {
                        value: "1".into(),
                        deadline: Instant::now() + ttl,
                    },
                };
                std::future::ready(moka::ops::compute::Op::Put(next))
            })
            .await;
        Ok(entry
            .into_entry()
            .map(|e| e.into_value().value.parse().unwrap_or(1))
            .unwrap_or(1))
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// Redis cache. The connection is made lazily and re-made after failures, so the
/// server starts (and reports not-ready) while Redis is down.
pub struct RedisCache {
    client: redis::Client,
    prefix: String,
    conn: Mutex<Option<ConnectionManager>>,
}

impl RedisCache {
    pub fn new(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError(e.to_string()))?;
        Ok(Self {
            client,
            prefix: prefix.to_string(),
            conn: Mutex::new(None),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn connection(&self) -> Result<ConnectionManager, CacheError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(|e| CacheError(e.to_string()))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs one command; on failure the connection is dropped so the next call redials.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(Duration::from_secs(2), f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.conn.lock().await.take();
                Err(CacheError(e.to_string()))
            }
            Err(_) => {
                self.conn.lock().await.take();
                Err(CacheError("redis command timed out".into()))
            }
        }
    }

    /// Runs a Lua script on keys of this cache's namespace (the prefix is added here):
    /// the leases' atomic compare-and-set steps.
    pub(crate) async fn eval<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: &'static str,
        keys: &[&str],
        args: &[String],
    ) -> Result<T, CacheError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len());
        for key in keys {
            cmd.arg(self.key(key));
        }
        for arg in args {
            cmd.arg(arg);
        }
        self.run(|mut c| async move { cmd.query_async::<T>(&mut c).await })
            .await
    }

    pub async fn ping(&self) -> Result<(), CacheError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let key = self.key(key);
        self.run(|mut c| async move { c.get(key).await }).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, CacheError> {
        let mut cmd = redis::cmd("MGET");
        for key in keys {
            cmd.arg(self.key(key));
        }
        self.run(|mut c| async move { cmd.query_async::<Vec<Option<String>>>(&mut c).await })
            .await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let key = self.key(key);
        let value = value.to_string();
        let secs = ttl.as_secs().max(1);
        self.run(|mut c| async move { c.set_ex(key, value, secs).await })
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let key = self.key(key);
        self.run(|mut c| async move { c.del(key).await }).await
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, CacheError> {
        let key = self.key(key);
        let secs = ttl.as_secs().max(1) as i64;
        // INCR and EXPIRE NX in one round trip: the window starts at the first hit.
        self.run(|mut c| async move {
            let (n,): (i64,) = redis::pipe()
                .atomic()
                .incr(&key, 1)
                .cmd("EXPIRE")
                .arg(&key)
                .arg(secs)
                .arg("NX")
                .ignore()
                .query_async(&mut c)
                .await?;
            Ok(n)
        })
        .await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

/// The cache in use, plus direct access to Redis for readiness checks.
#[derive(Clone)]
pub struct CacheHandle {
    pub cache: Arc<dyn Cache>,
    pub redis: Option<Arc<RedisCache>>,
}

impl CacheHandle {
    pub fn memory() -> Self {
        Self {
            cache: Arc::new(MemoryCache::new(100_000)),
            redis: None,
        }
    }

    pub fn redis(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let redis = Arc::new(RedisCache::new(url, prefix)?);
        Ok(Self {
            cache: redis.clone(),
            redis: Some(redis),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_cache_expires_entries_and_counts() {
        let cache = MemoryCache::new(100);
        cache
            .set("a", "1", Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(cache.get("a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(
            cache.get_many(&["a", "b"]).await.unwrap(),
            vec![Some("1".to_string()), None]
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cache.get("a").await.unwrap(), None);

        for expected in 1..=3 {
            assert_eq!(
                cache.incr("n", Duration::from_secs(60)).await.unwrap(),
                expected
            );
        }
        cache.delete("n").await.unwrap();
        assert_eq!(cache.incr("n", Duration::from_secs(60)).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn memory_counter_window_is_not_extended_by_hits() {
        let cache = MemoryCache::new(100);
        cache.incr("w", Duration::from_millis(150)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        cache.incr("w", Duration::from_millis(150)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // 200 ms after the first hit the window of 150 ms has passed.
        assert_eq!(
            cache.incr("w", Duration::from_millis(150)).await.unwrap(),
            1
        );
    }

    /// Runs against the real Redis when TEST_REDIS_URL is set (make test-services).
    #[tokio::test]
    async fn redis_cache_behaves_like_memory_cache() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            eprintln!("TEST_REDIS_URL not set: redis cache test runs in make test-services");
            return;
        };
        let prefix = format!("test:{}:", uuid::Uuid::new_v4());
        let cache = RedisCache::new(&url, &prefix).unwrap();
        cache.ping().await.unwrap();
        cache.set("a", "1", Duration::from_secs(5)).await.unwrap();
        assert_eq!(cache.get("a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(
            cache.get_many(&["missing", "a"]).await.unwrap(),
            vec![None, Some("1".to_string())]
        );
        cache.delete("a").await.unwrap();
        assert_eq!(cache.get("a").await.unwrap(), None);
        assert_eq!(cache.incr("n", Duration::from_secs(5)).await.unwrap(), 1);
        assert_eq!(cache.incr("n", Duration::from_secs(5)).await.unwrap(), 2);
    }
}
