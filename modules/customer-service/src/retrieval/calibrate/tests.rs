//! Tests of the calibration data and of the shipped constants.

use super::*;
use crate::retrieval::synth;

#[test]
fn generated_data_has_the_declared_mix_and_separates() {
    let kb: Vec<Vec<String>> = synth::seller_faq()
        .into_iter()
        .map(|e| e.into_iter().map(String::from).collect())
        .collect();
    let setup = Setup {
        seed: 1,
        params: Bm25Params::default(),
        dense_weight: 0.0,
        cosine_floor: 0.0,
        rounds: 1,
    };
    let samples = generate(&kb, &synth::unrelated(), None, &setup).unwrap();
    let count = |k: Kind| samples.iter().filter(|s| s.kind == k).count();
    let pos = count(Kind::Perturbed) + count(Kind::Paraphrase);
    let hard = count(Kind::HardNegative);
    // A few queries find nothing at all (no sample); the mix stays ~2:1:1.
    assert!(
        pos > 4 * kb.len() * 9 / 10 && hard > 2 * kb.len() * 8 / 10,
        "{pos} {hard}"
    );
    assert!(count(Kind::Unrelated) > hard / 2);
    assert!(samples.iter().all(|s| !s.correct || s.kind.is_positive()));
    // Most positives are found, and a fitted calibration ranks them above negatives.
    let right = samples.iter().filter(|s| s.correct).count();
    assert!(right * 10 > pos * 6, "{right} of {pos}");
    let cal = fit(Target::Probability, FeatureSet::Lexical, &samples);
    let mean = |f: &dyn Fn(&Sample) -> bool| {
        let v: Vec<f32> = samples
            .iter()
            .filter(|s| f(s))
            .map(|s| cal.apply(&s.features))
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    assert!(mean(&|s| s.correct) > mean(&|s| !s.kind.is_positive()) + 0.3);
    // Same seed, same data.
    let again = generate(&kb, &synth::unrelated(), None, &setup).unwrap();
    assert_eq!(samples.len(), again.len());
    assert!(samples
        .iter()
        .zip(&again)
        .all(|(a, b)| a.features == b.features && a.query == b.query));
}

#[test]
fn buyer_data_asks_every_phrasing_and_rate_levels_hold_on_it() {
    let (shops, negatives) = (synth::calibration_shops(), synth::calibration_negatives());
    let setup = Setup {
        seed: 1,
        params: Bm25Params::default(),
        dense_weight: 0.0,
        cosine_floor: 0.0,
        rounds: 1,
    };
    let samples = generate_buyer(&shops, &negatives, None, &setup).unwrap();
    let count = |k: Kind| samples.iter().filter(|s| s.kind == k).count();
    // Every phrasing but the indexed question is asked once per round (a few find
    // nothing and make no sample); one hidden-entry negative per two entries.
    let phrasings: usize = shops
        .iter()
        .flat_map(|s| &s.items)
        .map(|e| e.len() - 1)
        .sum();
    let entries: usize = shops.iter().map(|s| s.items.len()).sum();
    let near: usize = negatives
        .iter()
        .filter(|s| s.name != "unrelated")
        .map(|s| s.items.len())
        .sum();
    assert!(
        count(Kind::Paraphrase) * 100 >= phrasings * 98,
        "{phrasings}"
    );
    assert!(count(Kind::Paraphrase) <= phrasings);
    let hidden = count(Kind::HardNegative);
    assert!(
        hidden * 2 >= entries - 10 && hidden * 2 <= entries + 12,
        "{hidden}"
    );
    assert!(count(Kind::NearNegative) * 100 >= near * 95, "{near}");
    assert!(count(Kind::Unrelated) > 100 && count(Kind::Perturbed) == 0);
    let groups: std::collections::BTreeSet<usize> = samples.iter().map(|s| s.group).collect();
    assert_eq!(groups.len(), shops.len() - 1);
    // Rate levels: at 0.9, at most 5 % of the negatives answered and 5 % of the
    // positives answered wrongly, on the data they were fitted on; some answered.
    let cal = fit(Target::Rates, FeatureSet::Lexical, &samples);
    let share = |f: &dyn Fn(&Sample) -> bool, of: &dyn Fn(&Sample) -> bool| {
        let n = samples.iter().filter(|s| of(s)).count();
        let k = samples
            .iter()
            .filter(|s| of(s) && f(s) && cal.apply(&s.features) >= 0.9)
            .count();
        k as f64 / n as f64
    };
    let negative = |s: &Sample| !s.kind.is_positive();
    let positive = |s: &Sample| s.kind.is_positive();
    assert!(share(&|_| true, &negative) <= 0.05);
    assert!(share(&|s| !s.correct, &positive) <= 0.05);
    assert!(share(&|s| s.correct, &positive) > 0.15);
    // Same seed, same data.
    let again = generate_buyer(&shops, &negatives, None, &setup).unwrap();
    assert!(samples
        .iter()
        .zip(&again)
        .all(|(a, b)| a.features == b.features && a.query == b.query));
}

/// Regenerates the shipped calibrations ([`SHIPPED`]) and compares them with the
/// constants in `confidence.rs` (printed with 4 decimals).
#[test]
#[ignore = "slow; needs CS_ENCODER_DIR (the built-in encoder's files) for the hybrid profile, and cs-eval's public kb.jsonl (CS_EVAL_KB) only if a shipped recipe pools it"]
fn shipped_calibrations_regenerate() {
    use crate::retrieval::confidence::{Profile, HYBRID_USE, LEXICAL};
    let recipe = |name: &str| RECIPES.iter().find(|r| r.name == name).unwrap();
    let kb: Option<Vec<Vec<String>>> = SHIPPED.iter().any(|n| recipe(n).uses_kb()).then(|| {
        let path = std::env::var("CS_EVAL_KB").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/cs-eval/public/kb.jsonl"
            )
            .to_owned()
        });
        let text = std::fs::read_to_string(&path).expect("the public kb.jsonl");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                vec![v["question"].as_str().unwrap().to_owned()]
            })
            .collect()
    });
    let same = |fitted: &Profile, shipped: &Profile| {
        let (a, b) = (&fitted.calibration, &shipped.calibration);
        assert_eq!(a.set, b.set);
        assert!(
            (a.bias - b.bias).abs() < 1e-3,
            "{} bias {} vs {}",
            shipped.name,
            a.bias,
            b.bias
        );
        assert!(
            a.weights
                .iter()
                .zip(&b.weights)
                .all(|(x, y)| (x - y).abs() < 1e-3),
            "{a:?}"
        );
        assert_eq!(a.curve.len(), b.curve.len(), "{a:?}");
        assert!(
            a.curve
                .iter()
                .zip(b.curve.iter())
                .all(|(x, y)| (x.0 - y.0).abs() < 1e-3 && (x.1 - y.1).abs() < 1e-3),
            "{a:?}"
        );
        assert_eq!(
            (fitted.dense_weight, fitted.cosine_floor),
            (shipped.dense_weight, shipped.cosine_floor)
        );
    };
    let [lexical, hybrid] = SHIPPED;
    let (fitted, _) = fit_recipe(recipe(lexical), kb.as_deref(), None, SEED).unwrap();
    same(&fitted, &LEXICAL);
    if let Ok(dir) = std::env::var("CS_ENCODER_DIR") {
        let enc =
            crate::retrieval::encoder::BuiltinEncoder::load(std::path::Path::new(&dir)).unwrap();
        let (fitted, _) = fit_recipe(recipe(hybrid), kb.as_deref(), Some(&enc), SEED).unwrap();
        same(&fitted, &HYBRID_USE);
    }
}
