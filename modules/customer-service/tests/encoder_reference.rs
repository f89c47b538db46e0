//! The built-in encoder against the package it reproduces: for each of the 200
//! sentences of tests/models/sentences.py, the same token ids and an embedding at
//! cosine ≥ 0.999 with the reference package's; and the same token ids for 20,000
//! random strings.
//!
//! Needs the weights and the reference embeddings, so it is ignored by `cargo test`;
//! `make test-models` writes both and runs it with these variables:
//! `SHOPOPS_TEST_MODEL_DIR` (the folder of `sp.model` and `weights.npz`) and
//! `SHOPOPS_TEST_REFERENCE` (the JSON of tests/models/reference_embed.py).

use std::path::PathBuf;

use shopops_customer_service::retrieval::encoder::BuiltinEncoder;
use shopops_customer_service::retrieval::Encoder;

fn path_from_env(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("set {name} (`make test-models` does)"))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
#[ignore = "needs the model weights and reference embeddings: run `make test-models`"]
fn builtin_encoder_matches_the_reference_package() {
    let encoder = BuiltinEncoder::load(&path_from_env("SHOPOPS_TEST_MODEL_DIR")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path_from_env("SHOPOPS_TEST_REFERENCE")).unwrap(),
    )
    .unwrap();
    let items = reference["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        200,
        "the reference holds the 200 test sentences"
    );

    let texts: Vec<&str> = items
        .iter()
        .map(|it| it["text"].as_str().unwrap())
        .collect();
    // All at once, as an index build would; the encoder guarantees the same result as
    // one at a time (checked below on a few).
    let embeddings = encoder.embed(&texts).unwrap();
    let mut failures = Vec::new();
    let mut cosines = Vec::with_capacity(items.len());
    for ((item, text), embedding) in items.iter().zip(&texts).zip(&embeddings) {
        let want_ids: Vec<u32> = serde_json::from_value(item["ids"].clone()).unwrap();
        let ids = encoder.token_ids(text);
        if ids != want_ids {
            failures.push(format!("{text:?}: ids {ids:?}, reference {want_ids:?}"));
        }
        let want: Vec<f32> = serde_json::from_value(item["embedding"].clone()).unwrap();
        assert_eq!(embedding.len(), encoder.dim());
        let c = cosine(embedding, &want);
        if c < 0.999 {
            failures.push(format!("{text:?}: cosine {c:.6}"));
        }
        cosines.push(c);
    }
    for (i, text) in texts.iter().enumerate().step_by(37) {
        assert_eq!(
            encoder.embed(&[text]).unwrap()[0],
            embeddings[i],
            "{text:?} alone"
        );
    }

    let random = reference["random"].as_array().unwrap();
    let mut mismatches = 0;
    for item in random {
        let text = item["text"].as_str().unwrap();
        let want_ids: Vec<u32> = serde_json::from_value(item["ids"].clone()).unwrap();
        if encoder.token_ids(text) != want_ids {
            mismatches += 1;
            if mismatches <= 10 {
                failures.push(format!("random string {text:?}: token ids differ"));
            }
        }
    }
    println!(
        "token ids of {} random strings: {mismatches} differ from the reference",
        random.len()
    );

    let min = cosines.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = cosines.iter().sum::<f64>() / cosines.len() as f64;
    println!(
        "built-in encoder vs {}: {} sentences, cosine min {min:.9} (1 - min = {:.1e}), mean {mean:.9}",
        reference["package"].as_str().unwrap_or("the reference"),
        cosines.len(),
        1.0 - min
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
