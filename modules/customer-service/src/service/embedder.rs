//! Sentence embeddings for dense retrieval: the built-in encoder (in process, when its
//! weights are present) or an OpenAI-compatible `/v1/embeddings` provider (OpenAI,
//! DashScope/Qwen, Ollama, vLLM, TEI) through the kernel's outside-call toolkit
//! (timeouts, retries, circuit breaker, metrics).

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::{json, Value};
use shopops_kernel::outside::{OutsideCalls, Repeat, Target};

use crate::config::{CsConfig, EncoderChoice};
use crate::retrieval::encoder::BuiltinEncoder;
use crate::retrieval::Encoder;

/// Where embeddings come from.
#[derive(Clone)]
pub enum Embedder {
    Builtin(Arc<BuiltinEncoder>),
    Http(Arc<HttpEmbeddings>),
}

impl Embedder {
    /// The embedder the configuration asks for; `None` for lexical retrieval only.
    /// `auto` uses the built-in encoder when `make models` has installed its weights.
    pub fn from_config(outside: &OutsideCalls, config: &CsConfig) -> anyhow::Result<Option<Self>> {
        let dir = config.models_dir.join(BuiltinEncoder::DIR_NAME);
        let builtin = || anyhow::Ok(Self::Builtin(Arc::new(BuiltinEncoder::load(&dir)?)));
        match config.encoder {
            EncoderChoice::Lexical => Ok(None),
            EncoderChoice::Builtin => Ok(Some(builtin()?)),
            EncoderChoice::Auto if BuiltinEncoder::is_installed(&dir) => Ok(Some(builtin()?)),
            EncoderChoice::Auto => Ok(None),
            EncoderChoice::Openai => Ok(Some(Self::Http(Arc::new(HttpEmbeddings::new(
                outside, config,
            )?)))),
        }
    }

    /// Vectors of different encoders are not comparable: stored vectors carry this name.
    pub fn name(&self) -> String {
        match self {
            Embedder::Builtin(e) => e.name().to_string(),
            Embedder::Http(h) => format!("openai:{}", h.model),
        }
    }

    /// What `/readyz` says of it (no key, no secret).
    pub fn describe(&self, config: &CsConfig) -> String {
        match self {
            Embedder::Builtin(e) => format!(
                "built-in encoder {} loaded from {}",
                e.name(),
                config.models_dir.join(BuiltinEncoder::DIR_NAME).display()
            ),
            // Not the URL: /readyz is anonymous and a URL may carry credentials.
            Embedder::Http(h) => format!("embeddings provider, model {}", h.model),
        }
    }

    /// Length of every vector.
    pub fn dim(&self) -> usize {
        match self {
            Embedder::Builtin(e) => e.dim(),
            Embedder::Http(h) => h.dim,
        }
    }

    /// One vector per text.
    pub async fn embed(&self, texts: Vec<String>) -> anyhow::Result<Vec<Vec<f32>>> {
        match self {
            Embedder::Builtin(encoder) => {
                let encoder = encoder.clone();
                // The forward pass is CPU work: off the async workers.
                tokio::task::spawn_blocking(move || {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    encoder.embed(&refs)
                })
                .await?
            }
            Embedder::Http(http) => http.embed(&texts).await,
        }
    }
}

/// An OpenAI-compatible embeddings endpoint.
pub struct HttpEmbeddings {
    target: Arc<Target>,
    url: String,
    api_key: Option<secrecy::SecretString>,
    model: String,
    dim: usize,
    batch: usize,
}

impl HttpEmbeddings {
    pub fn new(outside: &OutsideCalls, config: &CsConfig) -> anyhow::Result<Self> {
        let base = config.embeddings_url.clone().unwrap_or_default();
        Ok(Self {
            target: outside.target("cs-embeddings")?,
            url: format!(
                "{}/v1/embeddings",
                base.trim_end_matches('/').trim_end_matches("/v1")
            ),
            api_key: config.embeddings_api_key.clone(),
            model: config.embeddings_model.clone(),
            dim: config.embeddings_dim,
            batch: config.embeddings_batch,
        })
    }

    /// Embeds in batches of `embeddings_batch`. An embeddings request changes nothing,
    /// so it is safe to repeat: the toolkit retries it on 429/5xx and network errors.
    pub async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch) {
            let mut request = self
                .target
                .client()
                .post(&self.url)
                .json(&json!({ "model": self.model, "input": chunk }));
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key.expose_secret());
            }
            let response = self.target.send(request.build()?, Repeat::Always).await?;
            let status = response.status();
            let body: Value = response.json().await?;
            if !status.is_success() {
                anyhow::bail!("the embeddings provider answered {status}");
            }
            out.extend(parse_answer(&body, chunk.len(), self.dim)?);
        }
        Ok(out)
    }
}

/// `{"data": [{"index": i, "embedding": [..]}, …]}`, in input order.
fn parse_answer(body: &Value, expected: usize, dim: usize) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut items: Vec<(usize, Vec<f32>)> = body["data"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the embeddings answer has no `data`"))?
        .iter()
        .enumerate()
        .map(|(position, item)| {
            let index = item["index"]
                .as_u64()
                .map(|i| i as usize)
                .unwrap_or(position);
            let vector = item["embedding"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_f64().map(|f| f as f32))
                        .collect()
                })
                .unwrap_or_default();
            (index, vector)
        })
        .collect();
    items.sort_by_key(|(i, _)| *i);
    if items.len() != expected || items.iter().any(|(_, v)| v.is_empty()) {
        anyhow::bail!(
            "the embeddings answer has {} vectors for {expected} texts",
            items.len()
        );
    }
    if let Some((_, v)) = items.iter().find(|(_, v)| v.len() != dim) {
        anyhow::bail!(
            "the embeddings provider answered vectors of {} values; cs.embeddings_dim is {dim}",
            v.len()
        );
    }
    Ok(items.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_in_input_order() {
        let body = json!({ "data": [
            { "index": 1, "embedding": [0.5, 0.5] },
            { "index": 0, "embedding": [1.0, 0.0] },
        ]});
        assert_eq!(
            parse_answer(&body, 2, 2).unwrap(),
            vec![vec![1.0, 0.0], vec![0.5, 0.5]]
        );
        assert!(parse_answer(&body, 3, 2).is_err());
        assert!(
            parse_answer(&body, 2, 3).is_err(),
            "vectors of another length"
        );
        assert!(parse_answer(&json!({ "error": "x" }), 1, 2).is_err());
    }
}
