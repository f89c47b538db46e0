//! Tables of the calibration data for the docs: per kind of query, and per held-out
//! shop.

use super::{fit, Kind, Recipe, Sample};
use crate::retrieval::confidence::Calibration;

/// Per kind: top-1 right, and per threshold how many samples are answered
/// (confidence ≥ t) and how many of those correctly; then the reliability of the
/// confidence (mean confidence vs share correct, per band) — tables for the docs.
pub fn report(samples: &[Sample], cal: &Calibration) -> String {
    let mut out = String::from(
        "kind             n  top1-right  ≥0.6 answered/correct  ≥0.9 answered/correct\n",
    );
    for kind in [
        Kind::Perturbed,
        Kind::Paraphrase,
        Kind::HardNegative,
        Kind::NearNegative,
        Kind::Unrelated,
    ] {
        let s: Vec<&Sample> = samples.iter().filter(|s| s.kind == kind).collect();
        if s.is_empty() {
            continue;
        }
        let share = |n: usize| n as f64 / s.len() as f64;
        let at = |t: f32| {
            let a: Vec<&&Sample> = s.iter().filter(|x| cal.apply(&x.features) >= t).collect();
            let c = a.iter().filter(|x| x.correct).count();
            format!("{:.3}/{:.3}", share(a.len()), share(c))
        };
        let right = s.iter().filter(|x| x.correct).count();
        out.push_str(&format!(
            "{:<13} {:>4}  {:>10.3}  {:>21}  {:>21}\n",
            format!("{kind:?}"),
            s.len(),
            share(right),
            at(0.6),
            at(0.9)
        ));
    }
    out.push_str("confidence band    n  mean conf  share correct\n");
    for b in 0..10 {
        let (lo, hi) = (b as f32 / 10.0, (b + 1) as f32 / 10.0);
        let in_band: Vec<(f32, bool)> = samples
            .iter()
            .map(|s| (cal.apply(&s.features), s.correct))
            .filter(|(c, _)| *c >= lo && (*c < hi || b == 9))
            .collect();
        if in_band.is_empty() {
            continue;
        }
        let n = in_band.len() as f64;
        let mean = in_band.iter().map(|(c, _)| f64::from(*c)).sum::<f64>() / n;
        let right = in_band.iter().filter(|(_, r)| *r).count() as f64 / n;
        out.push_str(&format!(
            "[{lo:.1}, {hi:.1})  {:>5}  {mean:>9.3}  {right:>13.3}\n",
            in_band.len()
        ));
    }
    out
}

/// Held-out check on the buyer data itself: for each shop (sample group), fits
/// the recipe's calibration on the other shops' samples and scores this shop's; prints, summed over
/// shops, what the evaluation reports — at 0.6 and 0.9 the share of written
/// negatives answered (FM), of positives answered right (C) and wrong (W) — and
/// the share of hidden-entry negatives answered (H).
pub fn cross_groups(recipe: &Recipe, samples: &[Sample]) -> String {
    let groups: std::collections::BTreeSet<usize> = samples.iter().map(|s| s.group).collect();
    // [t][0: written neg n, 1: answered, 2: pos n, 3: right, 4: wrong, 5: hidden n, 6: answered]
    let mut c = [[0usize; 7]; 2];
    for &g in groups.iter().filter(|&&g| g > 0) {
        let train: Vec<Sample> = samples.iter().filter(|s| s.group != g).cloned().collect();
        let cal = fit(recipe.target, recipe.set, &train);
        for s in samples.iter().filter(|s| s.group == g) {
            let conf = cal.apply(&s.features);
            for (ti, t) in [0.6f32, 0.9].into_iter().enumerate() {
                let a = usize::from(conf >= t);
                let row = &mut c[ti];
                match s.kind {
                    Kind::NearNegative | Kind::Unrelated => {
                        row[0] += 1;
                        row[1] += a;
                    }
                    Kind::HardNegative => {
                        row[5] += 1;
                        row[6] += a;
                    }
                    _ => {
                        row[2] += 1;
                        row[3] += a * usize::from(s.correct);
                        row[4] += a * usize::from(!s.correct);
                    }
                }
            }
        }
    }
    let r = |a: usize, n: usize| a as f64 / n.max(1) as f64;
    let mut out = String::from("held-out shops  FM      C      W      H\n");
    for (ti, t) in ["0.6", "0.9"].iter().enumerate() {
        let x = &c[ti];
        out.push_str(&format!(
            "  >= {t}        {:.3}  {:.3}  {:.3}  {:.3}\n",
            r(x[1], x[0]),
            r(x[3], x[2]),
            r(x[4], x[2]),
            r(x[6], x[5])
        ));
    }
    out
}
