//! Predictions of one declared configuration on a cs-eval set, to stdout.
//!
//! ```text
//! cargo run --release -p shopops-customer-service --example cs_eval -- \
//!     --kb KB.jsonl --queries QUERIES.jsonl [--recipe L3|shipped] [--encoder-dir DIR] \
//!   | python3 ../shared/cs-eval/score.py QUERIES.jsonl /dev/stdin
//! ```
//!
//! `--recipe NAME` fits that recipe's calibration first (exactly as
//! `examples/calibrate.rs` does; a pooled recipe generates its extra data from the
//! `--kb` questions, never from the queries), then ranks with it; `shipped` (the
//! default) runs `eval::run`, the code path of `shopops cs eval`, with the constants
//! in `confidence.rs`.
//!
//! Encoders: `--encoder-dir DIR` loads the built-in encoder. For an encoder that is
//! not in this crate (the e5 prototype), run once with `--record-texts FILE --dim N`
//! (every text the run would embed, one JSON string per line; predictions are
//! meaningless), embed them elsewhere into `{"t": text, "v": [..]}` lines, and run
//! with `--vectors FILE --vectors-name NAME`. Keep such files outside the
//! repository: they hold evaluation text.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
// `eval.rs` names the library as `crate::retrieval`; give it that name here.
use shopops_customer_service::retrieval;
use shopops_customer_service::retrieval::calibrate::{self, RECIPES};
use shopops_customer_service::retrieval::encoder::BuiltinEncoder;
use shopops_customer_service::retrieval::{Bm25Params, Encoder};

#[path = "../src/eval.rs"]
#[allow(dead_code)]
mod eval;

fn main() -> Result<()> {
    let (mut kb, mut queries, mut recipe, mut encoder_dir) = (None, None, None, None::<PathBuf>);
    let (mut record, mut vectors, mut vectors_name, mut dim) =
        (None::<PathBuf>, None::<PathBuf>, None, 384usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--kb" => kb = Some(PathBuf::from(value()?)),
            "--queries" => queries = Some(PathBuf::from(value()?)),
            "--recipe" => recipe = Some(value()?),
            "--encoder-dir" => encoder_dir = Some(value()?.into()),
            "--record-texts" => record = Some(value()?.into()),
            "--vectors" => vectors = Some(value()?.into()),
            "--vectors-name" => vectors_name = Some(value()?),
            "--dim" => dim = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let kb = kb.context("--kb is required")?;
    let queries = queries.context("--queries is required")?;
    let builtin = encoder_dir
        .as_deref()
        .map(BuiltinEncoder::load)
        .transpose()?;
    let recorder = record.as_ref().map(|_| Recorder {
        dim,
        texts: Mutex::new(Vec::new()),
    });
    let cached = match &vectors {
        Some(path) => Some(Cached::load(
            path,
            vectors_name.unwrap_or_else(|| "cached".into()),
        )?),
        None => None,
    };
    let encoder: Option<&dyn Encoder> = match (&builtin, &recorder, &cached) {
        (Some(b), _, _) => Some(b),
        (_, Some(r), _) => Some(r),
        (_, _, Some(c)) => Some(c),
        _ => None,
    };

    let lines = match recipe.as_deref().unwrap_or("shipped") {
        "shipped" => eval::run(&kb, &queries, encoder)?,
        name => {
            let r = RECIPES
                .iter()
                .find(|r| r.name == name)
                .with_context(|| format!("no recipe {name}"))?;
            let extra = if r.uses_kb() {
                Some(read_questions(&kb)?)
            } else {
                None
            };
            let (profile, _) =
                calibrate::fit_recipe(r, extra.as_deref(), encoder, calibrate::SEED)?;
            let params = Bm25Params {
                folding: r.folding,
                ..Bm25Params::default()
            };
            eval::run_with(&kb, &queries, encoder, params, Some(&profile))?
        }
    };
    if let (Some(path), Some(r)) = (&record, &recorder) {
        let texts = r.texts.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for t in texts.iter() {
            writeln!(f, "{}", serde_json::Value::String(t.clone()))?;
        }
        eprintln!("recorded {} texts", texts.len());
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}")?;
    }
    let _ = retrieval::CANDIDATES;
    Ok(())
}

/// Records the texts it is asked to embed; answers zero vectors.
struct Recorder {
    dim: usize,
    texts: Mutex<Vec<String>>,
}

impl Encoder for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut seen = self.texts.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        seen.extend(texts.iter().map(|t| t.to_string()));
        Ok(texts.iter().map(|_| vec![0.0; self.dim]).collect())
    }
}

/// Answers vectors computed elsewhere (`{"t", "v"}` lines), by text.
struct Cached {
    name: String,
    dim: usize,
    vectors: HashMap<String, Vec<f32>>,
}

impl Cached {
    fn load(path: &Path, name: String) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut vectors = HashMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let t = v["t"].as_str().context("no t")?.to_owned();
            let x: Vec<f32> = v["v"]
                .as_array()
                .context("no v")?
                .iter()
                .filter_map(|x| x.as_f64())
                .map(|x| x as f32)
                .collect();
            vectors.insert(t, x);
        }
        let dim = vectors.values().next().map_or(0, Vec::len);
        Ok(Cached { name, dim, vectors })
    }
}

impl Encoder for Cached {
    fn name(&self) -> &str {
        &self.name
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        texts
            .iter()
            .map(|t| {
                self.vectors
                    .get(*t)
                    .cloned()
                    .with_context(|| format!("no cached vector for {t:?}"))
            })
            .collect()
    }
}

fn read_questions(path: &Path) -> Result<Vec<Vec<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            let q = v
                .get("question")
                .and_then(|q| q.as_str())
                .context("a line without \"question\"")?;
            Ok(vec![q.to_owned()])
        })
        .collect()
}
