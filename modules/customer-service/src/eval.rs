//! `shopops cs eval`: runs the retrieval engine on an evaluation set in cs-eval's
//! format and returns its predictions (one JSON object per query:
//! `{"query", "ranked_ids", "scores"}`, top 10, `scores` = the routing confidence).
//!
//! The knowledge base is built in memory, for this run only, from `kb.jsonl`
//! (`{"id", "question", ...}`, optional `"similar": [..]`) through the same
//! [`LexicalIndex`], [`FlatVectors`] and [`rank`] the server uses. Nothing is
//! written anywhere: evaluation data may not be copied (cs-eval has no open licence).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::retrieval::confidence::Profile;
use crate::retrieval::{
    fusion, Bm25Params, DenseHit, Encoder, Entry, FlatVectors, LexicalIndex, CANDIDATES,
};

/// How many ids each prediction lists.
pub const TOP_K: usize = 10;

/// Predictions for every query with the server's defaults: lexical index with the
/// default [`Bm25Params`], fused with `encoder` when given, ranked by [`rank`]
/// (which picks the encoder's calibrated profile).
///
/// [`rank`]: crate::retrieval::rank
pub fn run(
    kb_jsonl: &Path,
    queries_jsonl: &Path,
    encoder: Option<&dyn Encoder>,
) -> Result<Vec<Value>> {
    run_with(
        kb_jsonl,
        queries_jsonl,
        encoder,
        Bm25Params::default(),
        None,
    )
}

/// [`run`] with explicit index parameters and, optionally, an explicit profile
/// (to compare the configurations declared in docs/customer-service.md).
pub fn run_with(
    kb_jsonl: &Path,
    queries_jsonl: &Path,
    encoder: Option<&dyn Encoder>,
    params: Bm25Params,
    profile: Option<&Profile>,
) -> Result<Vec<Value>> {
    let kb = read_jsonl(kb_jsonl)?;
    let queries = read_jsonl(queries_jsonl)?;

    // Evaluation ids are strings; the index keys entries by i64.
    let mut names: Vec<String> = Vec::with_capacity(kb.len());
    let mut entries: Vec<Entry> = Vec::with_capacity(kb.len());
    for (line, row) in kb.iter().enumerate() {
        let name = match row.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => bail!("{}: line {}: no \"id\"", kb_jsonl.display(), line + 1),
        };
        let question = row
            .get("question")
            .and_then(Value::as_str)
            .with_context(|| {
                format!("{}: line {}: no \"question\"", kb_jsonl.display(), line + 1)
            })?;
        let mut texts = vec![question.to_owned()];
        if let Some(Value::Array(similar)) = row.get("similar") {
            texts.extend(similar.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        entries.push(Entry {
            id: names.len() as i64,
            shop_id: None,
            texts,
            enabled: true,
        });
        names.push(name);
    }

    let mut index = LexicalIndex::new(params);
    for e in &entries {
        index.upsert(e.clone());
    }
    let vectors = match encoder {
        None => None,
        Some(enc) => {
            let mut flat = FlatVectors::new(enc.dim());
            for e in &entries {
                let texts: Vec<&str> = e.texts.iter().map(String::as_str).collect();
                let v = enc
                    .embed(&texts)
                    .with_context(|| format!("embedding entry {}", names[e.id as usize]))?;
                flat.upsert(e.id, None, true, &v)?;
            }
            Some((enc, flat))
        }
    };

    let mut out = Vec::with_capacity(queries.len());
    let mut seen: HashMap<String, ()> = HashMap::new();
    for (line, row) in queries.iter().enumerate() {
        let query = row.get("query").and_then(Value::as_str).with_context(|| {
            format!(
                "{}: line {}: no \"query\"",
                queries_jsonl.display(),
                line + 1
            )
        })?;
        if seen.insert(query.to_owned(), ()).is_some() {
            continue; // the scorer keys predictions by query text
        }
        let lexical = index.search(query, None, CANDIDATES);
        let dense: Option<(&str, Vec<DenseHit>)> = match &vectors {
            None => None,
            Some((enc, flat)) => {
                let qv = enc.embed(&[query]).context("embedding a query")?;
                let qv = qv.first().context("the encoder returned no vector")?;
                Some((enc.name(), flat.search(qv, None, CANDIDATES)))
            }
        };
        let hits = match profile {
            Some(p) => fusion::rank_with(p, query, lexical, dense.map(|d| d.1), TOP_K),
            None => fusion::rank(
                query,
                lexical,
                dense.map(|(encoder, hits)| fusion::Dense { encoder, hits }),
                TOP_K,
            ),
        };
        out.push(json!({
            "query": query,
            "ranked_ids": hits.iter().map(|h| names[h.id as usize].clone()).collect::<Vec<_>>(),
            "scores": hits.iter().map(|h| (f64::from(h.confidence) * 1e4).round() / 1e4).collect::<Vec<_>>(),
        }));
    }
    Ok(out)
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}: line {}: not JSON", path.display(), i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::synth;

    #[test]
    fn predicts_in_cs_eval_format_from_a_kb_file() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb.jsonl");
        let queries = dir.path().join("queries.jsonl");
        let mut kb_lines = String::new();
        for (i, e) in synth::seller_faq().iter().enumerate() {
            kb_lines.push_str(
                &json!({"id": format!("S{i:03}"), "question": e[0], "answer": "…"}).to_string(),
            );
            kb_lines.push('\n');
        }
        std::fs::write(&kb, kb_lines).unwrap();
        let q = ["下单以后多久发货呀", "今天天气怎么样", "在吗"];
        let q_lines: String = q
            .iter()
            .map(|q| json!({"query": q, "expected_id": null}).to_string() + "\n")
            .collect();
        std::fs::write(&queries, q_lines).unwrap();

        let out = run(&kb, &queries, None).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0]["query"], "下单以后多久发货呀");
        assert_eq!(out[0]["ranked_ids"][0], "S000");
        let ids = out[0]["ranked_ids"].as_array().unwrap();
        let scores = out[0]["scores"].as_array().unwrap();
        assert!(!ids.is_empty() && ids.len() <= TOP_K && ids.len() == scores.len());
        assert!(scores
            .iter()
            .all(|s| (0.0..=1.0).contains(&s.as_f64().unwrap())));
        assert!(out[1]["scores"][0].as_f64().unwrap_or(0.0) < 0.6);
        assert_eq!(out[2]["ranked_ids"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn a_bad_kb_line_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb.jsonl");
        std::fs::write(
            &kb,
            "{\"id\": \"A\", \"question\": \"包邮吗\"}\n{\"id\": \"B\"}\n",
        )
        .unwrap();
        let err = run(&kb, &kb, None).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
