//! The module's settings: a `[cs]` section of the config file, or `CS_*` variables
//! (docs/configuration.md, "Customer service").

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;
use shopops_kernel::config::{Config, ConfigError};

use crate::service::llm::LlmSettings;

pub const SECTION: &str = "cs";
pub const ENV_PREFIX: &str = "CS_";

/// Which sentence encoder the knowledge base's dense retrieval uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderChoice {
    /// The built-in encoder when its weights are in `models_dir`, else lexical only.
    Auto,
    /// Lexical retrieval only (character n-gram BM25).
    Lexical,
    /// The built-in encoder; the start fails when its weights are missing.
    Builtin,
    /// An OpenAI-compatible `/v1/embeddings` provider (`embeddings_*`).
    Openai,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsConfig {
    pub encoder: EncoderChoice,
    /// Where `make models` puts model weights.
    pub models_dir: PathBuf,
    /// OpenAI-compatible embeddings: base URL (`https://api.openai.com`,
    /// `https://dashscope.aliyuncs.com/compatible-mode`, `http://ollama:11434` …).
    pub embeddings_url: Option<String>,
    pub embeddings_api_key: Option<SecretString>,
    pub embeddings_model: String,
    /// Length of the model's vectors (1536 for `text-embedding-3-small`, 1024 for
    /// DashScope `text-embedding-v3` …); an answer of another length is an error.
    pub embeddings_dim: usize,
    /// Texts per embeddings request.
    pub embeddings_batch: usize,
    /// Qdrant's gRPC address (`http://qdrant:6334`); none: the embedded vector store.
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<SecretString>,
    /// The one collection every tenant's vectors live in (filtered by tenant).
    pub qdrant_collection: String,
    /// Largest import file, in bytes.
    pub import_max_bytes: usize,
    /// Most rows in one import.
    pub import_max_rows: usize,
    /// IANA time zone of business hours and statistics days for tenants that set none.
    pub time_zone: String,
    /// The same shop, customer and normalised text within this many seconds is one
    /// message (the agent reads the screen again).
    pub duplicate_window_secs: u64,
    /// How long a reviewer's claim holds.
    pub review_claim_secs: u64,
    /// How long a reply offered to a desktop agent is kept from the others.
    pub outbox_lease_secs: u64,
    /// Failed typing attempts before a reply is handed to a person.
    pub delivery_max_attempts: i64,
    /// A desktop agent silent this long is offline (and alerted on).
    pub agent_offline_secs: u64,
    /// How long an LLM draft is reused for the same question, shop and KB version.
    pub reply_cache_secs: u64,
    /// A message still unrouted this long after it arrived is routed by a job.
    pub reroute_after_secs: u64,
    /// `[cs.llm]`: reply length and the LLM providers by name.
    pub llm: LlmSettings,
}

impl Default for CsConfig {
    fn default() -> Self {
        Self {
            encoder: EncoderChoice::Auto,
            models_dir: PathBuf::from("./data/models"),
            embeddings_url: None,
            embeddings_api_key: None,
            embeddings_model: "text-embedding-3-small".into(),
            embeddings_dim: 1536,
            embeddings_batch: 32,
            qdrant_url: None,
            qdrant_api_key: None,
            qdrant_collection: "shopops_kb".into(),
            import_max_bytes: 10 * 1024 * 1024,
            import_max_rows: 50_000,
            time_zone: "Asia/Shanghai".into(),
            duplicate_window_secs: 60,
            review_claim_secs: 600,
            outbox_lease_secs: 60,
            delivery_max_attempts: 3,
            agent_offline_secs: 120,
            reply_cache_secs: 3600,
            reroute_after_secs: 120,
            llm: LlmSettings::default(),
        }
    }
}

impl CsConfig {
    /// The section from the kernel's configuration (file, then environment), checked.
    pub fn load(config: &Config) -> Result<Self, ConfigError> {
        let mut c: Self = config.section(SECTION, ENV_PREFIX)?;
        // `QDRANT_URL`, the name Qdrant's own tools and our compose file use, like
        // `DATABASE_URL` and `REDIS_URL` for the kernel.
        if c.qdrant_url.is_none() {
            c.qdrant_url = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty());
        }
        let bad = |key: &str, why: &str| {
            Err(ConfigError::Invalid(format!(
                "key `{SECTION}.{key}` (env {ENV_PREFIX}{}): {why}",
                key.to_ascii_uppercase()
            )))
        };
        if !(1..=2048).contains(&c.embeddings_batch) {
            return bad("embeddings_batch", "must be 1 to 2048");
        }
        if !(1..=8192).contains(&c.embeddings_dim) {
            return bad("embeddings_dim", "must be 1 to 8192");
        }
        if c.encoder == EncoderChoice::Openai
            && c.embeddings_url.as_deref().is_none_or(str::is_empty)
        {
            return bad("embeddings_url", "is required when encoder = \"openai\"");
        }
        if !(1024..=100 * 1024 * 1024).contains(&c.import_max_bytes) {
            return bad("import_max_bytes", "must be 1 KiB to 100 MiB");
        }
        if !(1..=1_000_000).contains(&c.import_max_rows) {
            return bad("import_max_rows", "must be 1 to 1000000");
        }
        if c.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return bad(
                "time_zone",
                "must be an IANA time zone name, e.g. Asia/Shanghai",
            );
        }
        for (key, value, range) in [
            ("duplicate_window_secs", c.duplicate_window_secs, 1..=3600),
            ("review_claim_secs", c.review_claim_secs, 10..=86_400),
            ("outbox_lease_secs", c.outbox_lease_secs, 5..=3600),
            ("agent_offline_secs", c.agent_offline_secs, 10..=86_400),
            ("reply_cache_secs", c.reply_cache_secs, 0..=604_800),
            ("reroute_after_secs", c.reroute_after_secs, 30..=86_400),
        ] {
            if !range.contains(&value) {
                return bad(
                    key,
                    &format!("must be {} to {}", range.start(), range.end()),
                );
            }
        }
        if !(1..=20).contains(&c.delivery_max_attempts) {
            return bad("delivery_max_attempts", "must be 1 to 20");
        }
        c.llm.validate(SECTION, ENV_PREFIX)?;
        // A message still being drafted must not look abandoned to the reroute job,
        // or every replica would draft it again.
        let longest = c
            .llm
            .providers
            .values()
            .map(|p| p.timeout_secs.saturating_mul(p.max_retries as u64 + 1))
            .max()
            .unwrap_or(0);
        if c.reroute_after_secs <= longest {
            return bad(
                "reroute_after_secs",
                &format!("must exceed the longest LLM call, {longest} s (a provider's timeout_secs × (max_retries + 1))"),
            );
        }
        Ok(c)
    }
}
