//! Regenerates the routing-confidence calibrations of `src/retrieval/confidence.rs`.
//!
//! ```text
//! cargo run --release -p shopops-customer-service --example calibrate -- \
//!     --recipe L3 [--encoder-dir DIR] [--extra-kb KB.jsonl] [--seed N] [--cross-shops]
//! ```
//!
//! A recipe (`retrieval::calibrate::RECIPES`, declared in docs/customer-service.md)
//! fixes the analysis, the features, the fusion weight, the data and what the levels
//! mean. Rounds 1–3 use the seller FAQ and unrelated messages of
//! `src/retrieval/fixtures/` and, for pooled recipes, the questions of `--extra-kb`
//! (`{"question": …}` per line; only the questions are read — never a query or a
//! label). Round 4 (L7, L8, H9, H10) uses the calibration corpus of the same folder
//! only. Hybrid recipes need `--encoder-dir` (the built-in encoder's `sp.model` +
//! `weights.npz`). Prints the fitted constants as Rust, and per kind of generated
//! query how many are answered at 0.6 and 0.9, and the reliability table. Same
//! recipe, files and seed: same numbers.
//!
//! On the calibration data only (never evaluation data): `--cross-shops` adds the
//! table held out by shop (fit on four shops, score the fifth; round-4 data), and
//! `--target`, `--set`, `--weight` override the recipe's.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use shopops_customer_service::retrieval::calibrate::{self, RECIPES};
use shopops_customer_service::retrieval::confidence::FeatureSet;
use shopops_customer_service::retrieval::encoder::BuiltinEncoder;
use shopops_customer_service::retrieval::Encoder;

fn main() -> Result<()> {
    let mut recipe = None;
    let mut encoder_dir: Option<PathBuf> = None;
    let mut extra_kb: Option<PathBuf> = None;
    let mut seed = calibrate::SEED;
    let (mut set, mut weight, mut cross, mut dump) = (None, None, false, None::<PathBuf>);
    let mut apply_to: Option<String> = None;
    let mut target = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--recipe" => {
                let name = value()?;
                recipe = Some(
                    RECIPES
                        .iter()
                        .find(|r| r.name == name)
                        .with_context(|| format!("no recipe {name}"))?,
                );
            }
            "--encoder-dir" => encoder_dir = Some(value()?.into()),
            "--extra-kb" => extra_kb = Some(value()?.into()),
            "--seed" => seed = value()?.parse()?,
            // Exploration on the calibration data itself (never evaluation data).
            "--set" => set = Some(feature_set(&value()?)?),
            "--weight" => weight = Some(value()?.parse()?),
            "--target" => {
                target = Some(match value()?.as_str() {
                    "Probability" => calibrate::Target::Probability,
                    "Rates" => calibrate::Target::Rates,
                    "RatesWritten" => calibrate::Target::RatesWritten,
                    other => bail!("unknown target {other}"),
                })
            }
            "--cross-shops" => cross = true,
            "--dump" => dump = Some(PathBuf::from(value()?)),
            "--apply-to" => apply_to = Some(value()?),
            other => bail!("unknown argument {other}"),
        }
    }
    let recipe = recipe.context("--recipe NAME is required")?;
    let recipe = &calibrate::Recipe {
        set: set.unwrap_or(recipe.set),
        dense_weight: weight.unwrap_or(recipe.dense_weight),
        target: target.unwrap_or(recipe.target),
        ..*recipe
    };
    let encoder = encoder_dir
        .as_deref()
        .map(BuiltinEncoder::load)
        .transpose()?;
    let encoder: Option<&dyn Encoder> = encoder.as_ref().map(|e| e as &dyn Encoder);
    let extra = extra_kb.as_deref().map(read_questions).transpose()?;

    let (profile, samples) = calibrate::fit_recipe(recipe, extra.as_deref(), encoder, seed)?;
    let cal = &profile.calibration;
    println!(
        "// recipe {recipe:?}\n// encoder {}, extra kb {}, seed {seed}, {} samples",
        encoder.map_or("none", |e| e.name()),
        extra_kb
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string()),
        samples.len()
    );
    let w: Vec<String> = cal.weights.iter().map(|w| format!("{w:.4}")).collect();
    let curve: Vec<String> = cal
        .curve
        .iter()
        .map(|(z, p)| format!("({z:.4}, {p:.4})"))
        .collect();
    println!(
        "Calibration {{\n    set: FeatureSet::{:?},\n    bias: {:.4},\n    weights: [{}],\n    curve: Cow::Borrowed(&[{}]),\n}}",
        cal.set,
        cal.bias,
        w.join(", "),
        curve.join(", ")
    );
    print!("{}", calibrate::report(&samples, cal));
    if let Some(other) = apply_to {
        let r = RECIPES
            .iter()
            .find(|r| r.name == other)
            .with_context(|| format!("no recipe {other}"))?;
        let r = calibrate::Recipe {
            dense_weight: recipe.dense_weight,
            ..*r
        };
        let (_, theirs) = calibrate::fit_recipe(&r, extra.as_deref(), encoder, seed + 100)?;
        println!("-- this calibration on the data of {other}:");
        print!("{}", calibrate::report(&theirs, cal));
    }
    if cross {
        print!("{}", calibrate::cross_groups(recipe, &samples));
    }
    if let Some(path) = dump {
        let mut out = String::from(
            "query,matched,group,kind,correct,qc,tc,sim,gap,score,agree,lgap,dgap,conf\n",
        );
        for s in &samples {
            let f = &s.features;
            out.push_str(&format!(
                "{},{},{},{:?},{},{},{},{},{},{},{},{},{},{}\n",
                s.query.replace(',', " "),
                s.matched_text.as_deref().unwrap_or("").replace(',', " "),
                s.group,
                s.kind,
                u8::from(s.correct),
                f.query_coverage,
                f.text_coverage,
                f.similarity,
                f.gap,
                f.score,
                f.agree,
                f.lexical_gap,
                f.dense_gap,
                cal.apply(f)
            ));
        }
        std::fs::write(&path, out)?;
    }
    Ok(())
}

fn feature_set(name: &str) -> Result<FeatureSet> {
    Ok(match name {
        "Mix" => FeatureSet::Mix,
        "Lexical" => FeatureSet::Lexical,
        "Hybrid" => FeatureSet::Hybrid,
        "FusedMix" => FeatureSet::FusedMix,
        "Agreement" => FeatureSet::Agreement,
        other => bail!("unknown feature set {other}"),
    })
}

/// The questions of a `{"question": …}` JSONL file, one entry each.
fn read_questions(path: &Path) -> Result<Vec<Vec<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut kb = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let q = v
            .get("question")
            .and_then(|q| q.as_str())
            .context("a line without \"question\"")?;
        kb.push(vec![q.to_owned()]);
    }
    Ok(kb)
}
