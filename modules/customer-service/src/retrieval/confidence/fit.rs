//! Fitting a [`Calibration`] offline: the logistic step, then the curve — an
//! isotonic regression (a probability, [`fit`]) or error-rate levels
//! ([`fit_rates`]).

use std::borrow::Cow;

use super::{Calibration, FeatureSet, Features, MAX_FEATURES};

/// Fewest samples behind one point of the isotonic curve.
pub const MIN_BIN: usize = 50;

/// Fits a calibration on `(features, answered correctly)` samples: a logistic
/// regression by Newton's method (iteratively reweighted least squares) with an L2
/// penalty `l2` on the weights (not the bias), then an isotonic regression of the
/// outcomes on its linear score (pool-adjacent-violators over bins of at least
/// [`MIN_BIN`] samples; each point's share is shrunk as (right + 1) / (n + 2), so
/// no point claims certainty). Deterministic.
pub fn fit(set: FeatureSet, samples: &[(Features, bool)], l2: f64) -> Calibration {
    let n = set.len() + 1; // bias first
    let rows: Vec<([f64; MAX_FEATURES + 1], f64)> = samples
        .iter()
        .map(|(f, y)| {
            let v = set.vector(f);
            let mut x = [0f64; MAX_FEATURES + 1];
            x[0] = 1.0;
            for i in 0..set.len() {
                x[i + 1] = f64::from(v[i]);
            }
            (x, if *y { 1.0 } else { 0.0 })
        })
        .collect();
    let mut w = [0f64; MAX_FEATURES + 1];
    for _ in 0..50 {
        let mut grad = [0f64; MAX_FEATURES + 1];
        let mut hess = [[0f64; MAX_FEATURES + 1]; MAX_FEATURES + 1];
        for (x, y) in &rows {
            let z: f64 = (0..n).map(|i| w[i] * x[i]).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let s = (p * (1.0 - p)).max(1e-9);
            for i in 0..n {
                grad[i] += (p - y) * x[i];
                for j in 0..n {
                    hess[i][j] += s * x[i] * x[j];
                }
            }
        }
        for i in 1..n {
            grad[i] += l2 * w[i];
            hess[i][i] += l2;
        }
        let step = solve(hess, grad, n);
        let mut max = 0f64;
        for i in 0..n {
            w[i] -= step[i];
            max = max.max(step[i].abs());
        }
        if max < 1e-9 {
            break;
        }
    }
    let mut weights = [0f32; MAX_FEATURES];
    for i in 0..set.len() {
        weights[i] = w[i + 1] as f32;
    }
    let mut cal = Calibration {
        set,
        bias: w[0] as f32,
        weights,
        curve: Cow::Borrowed(&[]),
    };
    let mut scored: Vec<(f32, bool)> = samples.iter().map(|(f, y)| (cal.z(f), *y)).collect();
    cal.curve = Cow::Owned(isotonic(&mut scored));
    cal
}

/// What the top hit of one calibration query did (see [`fit_rates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The knowledge base answers the query, and the top hit is that entry.
    Right,
    /// The knowledge base answers the query, but the top hit is another entry.
    Wrong,
    /// The knowledge base does not answer the query (any hit is a false match).
    Unanswerable,
    /// Not answered either, but only for the logistic step: it does not count in
    /// the rates that place the levels.
    Unscored,
}

/// The confidence levels a rate calibration places (see [`fit_rates`]).
pub const RATE_LEVELS: &[f32] = &[
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99,
];

/// Fits a calibration whose levels are error rates, the way the routing bands are
/// specified: answering every message with confidence ≥ c answers at most
/// (1 − c)/2 of the messages the knowledge base does not answer (false matches)
/// and gives a wrong entry to at most (1 − c)/2 of those it does answer (wrong
/// answers) — on the calibration data. So at 0.9 both rates are ≤ 5 %, at 0.6
/// both are ≤ 20 %.
///
/// The linear score is the same logistic regression as [`fit`] (right vs not
/// right). The curve then has one point per [`RATE_LEVELS`] level c: the lowest
/// linear score whose answered set keeps both rates within (1 − c)/2 (a level no
/// score reaches is left out, so the confidence never exceeds 0.99); between
/// points it is linear. Deterministic.
pub fn fit_rates(set: FeatureSet, samples: &[(Features, Outcome)], l2: f64) -> Calibration {
    let right: Vec<(Features, bool)> = samples
        .iter()
        .map(|(f, o)| (*f, *o == Outcome::Right))
        .collect();
    let mut cal = fit(set, &right, l2);
    let mut scored: Vec<(f32, Outcome)> = samples.iter().map(|(f, o)| (cal.z(f), *o)).collect();
    cal.curve = Cow::Owned(rate_curve(&mut scored));
    cal
}

/// The curve of [`fit_rates`]: `(z, level)` points, increasing in both.
fn rate_curve(scored: &mut [(f32, Outcome)]) -> Vec<(f32, f32)> {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let count =
        |f: &dyn Fn(Outcome) -> bool| scored.iter().filter(|s| f(s.1)).count().max(1) as f64;
    let n_neg = count(&|o| o == Outcome::Unanswerable);
    let n_pos = count(&|o| matches!(o, Outcome::Right | Outcome::Wrong));
    // Best first: for each distinct z, the worse of the two rates when every
    // query scoring ≥ z is answered (non-decreasing as z falls).
    let (mut false_matches, mut wrong) = (0usize, 0usize);
    let mut cuts: Vec<(f32, f64)> = Vec::new();
    for (i, &(z, o)) in scored.iter().enumerate() {
        match o {
            Outcome::Unanswerable => false_matches += 1,
            Outcome::Wrong => wrong += 1,
            Outcome::Right | Outcome::Unscored => {}
        }
        if scored.get(i + 1).is_none_or(|next| next.0 < z) {
            let rate = (false_matches as f64 / n_neg).max(wrong as f64 / n_pos);
            cuts.push((z, rate));
        }
    }
    let mut curve: Vec<(f32, f32)> = Vec::new();
    for &level in RATE_LEVELS {
        let budget = f64::from(1.0 - level) / 2.0 + 1e-9;
        let Some(&(z, _)) = cuts.iter().take_while(|c| c.1 <= budget).last() else {
            continue;
        };
        match curve.last_mut() {
            Some(last) if last.0 >= z => last.1 = level,
            _ => curve.push((z, level)),
        }
    }
    curve
}

/// Isotonic regression of outcomes on `z` (see [`fit`]): returns `(mean z, shrunk
/// share right)` per pooled block, increasing in both.
fn isotonic(scored: &mut [(f32, bool)]) -> Vec<(f32, f32)> {
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Blocks: (sum z, right, n). Start from bins of MIN_BIN, then pool violators.
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for chunk in scored.chunks(MIN_BIN) {
        let sz: f64 = chunk.iter().map(|(z, _)| f64::from(*z)).sum();
        let r = chunk.iter().filter(|(_, y)| *y).count() as f64;
        blocks.push((sz, r, chunk.len() as f64));
    }
    // A short last bin joins its neighbour.
    if blocks.len() > 1 && blocks.last().is_some_and(|b| (b.2 as usize) < MIN_BIN) {
        if let Some(last) = blocks.pop() {
            if let Some(prev) = blocks.last_mut() {
                *prev = (prev.0 + last.0, prev.1 + last.1, prev.2 + last.2);
            }
        }
    }
    let mut pooled: Vec<(f64, f64, f64)> = Vec::new();
    for b in blocks {
        pooled.push(b);
        while pooled.len() > 1 {
            let k = pooled.len();
            let (a, c) = (pooled[k - 2], pooled[k - 1]);
            if a.1 / a.2 >= c.1 / c.2 {
                pooled.truncate(k - 2);
                pooled.push((a.0 + c.0, a.1 + c.1, a.2 + c.2));
            } else {
                break;
            }
        }
    }
    let mut out: Vec<(f32, f32)> = Vec::with_capacity(pooled.len());
    let mut floor = 0f32;
    for (sz, r, n) in pooled {
        let p = (((r + 1.0) / (n + 2.0)) as f32).max(floor);
        floor = p;
        out.push(((sz / n) as f32, p));
    }
    out
}

/// Gaussian elimination with partial pivoting on the leading `n`×`n` system.
fn solve(
    mut a: [[f64; MAX_FEATURES + 1]; MAX_FEATURES + 1],
    mut b: [f64; MAX_FEATURES + 1],
    n: usize,
) -> [f64; MAX_FEATURES + 1] {
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        b.swap(c, p);
        if a[c][c].abs() < 1e-12 {
            continue;
        }
        let pivot = a[c];
        for r in c + 1..n {
            let f = a[r][c] / pivot[c];
            for (x, p) in a[r][c..n].iter_mut().zip(&pivot[c..n]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0f64; MAX_FEATURES + 1];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = if a[r][r].abs() < 1e-12 {
            0.0
        } else {
            (b[r] - s) / a[r][r]
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::super::interpolate;
    use super::super::tests::feats;
    use super::*;

    #[test]
    fn fit_recovers_a_separating_direction() {
        // y depends on the gap only: the fitted gap weight dominates.
        let mut s = Vec::new();
        for i in 0..200 {
            let g = i as f32 / 200.0;
            let q = ((i * 37) % 200) as f32 / 200.0;
            s.push((feats(q, g), (i * 7919) % 200 < i));
        }
        let c = fit(FeatureSet::Lexical, &s, 1e-3);
        assert!(c.weights[2] > 2.0 * c.weights[0].abs(), "{c:?}");
        assert!(c.apply(&feats(0.5, 0.95)) > c.apply(&feats(0.5, 0.05)));
    }

    #[test]
    fn isotonic_step_is_monotone_and_never_certain() {
        // Outcome certain above 0.5, impossible below: the curve steps there, and its
        // top stays below 1 (shrinkage).
        let s: Vec<(Features, bool)> = (0..400)
            .map(|i| (feats(i as f32 / 400.0, 0.5), i >= 200))
            .collect();
        let c = fit(FeatureSet::Lexical, &s, 1e-3);
        assert!(
            c.curve
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
            "{c:?}"
        );
        let top = c.apply(&feats(1.0, 0.5));
        assert!(top > 0.95 && top < 1.0, "{top}");
        assert!(c.apply(&feats(0.0, 0.5)) < 0.05);
        assert!((interpolate(&[(0.0, 0.2), (1.0, 0.6)], 0.5) - 0.4).abs() < 1e-6);
        assert_eq!(interpolate(&[(0.0, 0.2), (1.0, 0.6)], -3.0), 0.2);
        assert_eq!(interpolate(&[(0.0, 0.2), (1.0, 0.6)], 3.0), 0.6);
    }

    #[test]
    fn rate_levels_bound_the_error_rates_of_the_answered_set() {
        // 100 right answers scoring 0.5..1, 100 unanswerable messages scoring
        // 0..0.6 and 20 wrong answers scoring 0..0.8, in a single feature.
        let mut s: Vec<(Features, Outcome)> = Vec::new();
        for i in 0..100 {
            s.push((feats(0.5 + i as f32 / 200.0, 0.5), Outcome::Right));
            s.push((feats(i as f32 * 0.006, 0.5), Outcome::Unanswerable));
        }
        for i in 0..20 {
            s.push((feats(i as f32 * 0.04, 0.5), Outcome::Wrong));
        }
        let c = fit_rates(FeatureSet::Lexical, &s, 1e-3);
        assert!(
            c.curve
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
            "{c:?}"
        );
        for level in [0.6f32, 0.9] {
            let answered: Vec<&(Features, Outcome)> =
                s.iter().filter(|(f, _)| c.apply(f) >= level).collect();
            let share = |o: Outcome, n: usize| {
                answered.iter().filter(|(_, x)| *x == o).count() as f32 / n as f32
            };
            let budget = (1.0 - level) / 2.0 + 1e-6;
            assert!(share(Outcome::Unanswerable, 100) <= budget, "{level} {c:?}");
            assert!(share(Outcome::Wrong, 120) <= budget, "{level} {c:?}");
            assert!(share(Outcome::Right, 120) > 0.3, "{level} {c:?}");
        }
        assert!(c.apply(&feats(1.0, 0.5)) <= 0.99);
        assert_eq!(c.apply(&feats(0.0, 0.5)), 0.0);
    }
}
