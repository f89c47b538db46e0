//! Ranking: lexical hits alone, or fused with dense hits, and the confidence of each.
//!
//! Fusion is a weighted sum of two scores that already live in [0, 1]:
//! `fused = (1 − w)·query_coverage + w·max(cosine, 0)`. `query_coverage` (BM25 over
//! the query's self-score) is comparable across queries, unlike raw BM25, so no
//! per-query min-max or rank-based fusion (RRF) is needed, and the fused score keeps
//! its absolute meaning for the confidence. A candidate seen by one side only gets 0
//! lexical coverage (it was below the lexical candidates) or, on the dense side, the
//! lowest cosine the store returned (an upper bound of its true cosine).
//!
//! Without dense hits the ranking is by raw BM25 (`score` reported as the query
//! coverage). The confidence of a hit is its profile's calibration of [`Features`];
//! the gap compares a hit with the best *other* entry, so only a clear winner can
//! be confident.

use std::collections::HashMap;

use super::confidence::{self, Features, Profile};
use super::{text, DenseHit, LexicalHit};

/// Which retrieval found a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    Lexical,
    Dense,
    Both,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Lexical => "lexical",
            MatchedBy::Dense => "dense",
            MatchedBy::Both => "both",
        }
    }
}

/// One ranked knowledge-base entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: i64,
    /// The ranking score in [0, 1] (see the module doc).
    pub score: f32,
    /// The routing confidence in [0, 1].
    pub confidence: f32,
    pub matched_by: MatchedBy,
    /// The entry text that matched lexically (question or similar question); `None`
    /// for a dense-only hit (the store does not say which text).
    pub matched_text: Option<String>,
}

/// The dense side of a query: the store's hits and the encoder that made the
/// vectors (its [`super::Encoder::name`]; it selects the calibration).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense<'a> {
    pub encoder: &'a str,
    pub hits: Vec<DenseHit>,
}

/// Ranks the candidates for `query` and returns the best `k` with their confidence.
/// Give it at least [`super::CANDIDATES`] hits of each kind. A query that normalises
/// to nothing (greetings, particles, punctuation) gets no hits.
///
/// - no dense side: the [`confidence::LEXICAL`] profile;
/// - dense hits from a calibrated encoder ([`confidence::profile_for`]): that
///   profile's fusion weight and calibration;
/// - dense hits from any other encoder: fused with weight 0.5 for the order, but
///   each hit's confidence is its lexical-only confidence, so an encoder nobody
///   calibrated can improve the ranking but never auto-send on its own.
pub fn rank(query: &str, lexical: Vec<LexicalHit>, dense: Option<Dense<'_>>, k: usize) -> Vec<Hit> {
    let Some(dense) = dense else {
        return rank_with(&confidence::LEXICAL, query, lexical, None, k);
    };
    if let Some(profile) = confidence::profile_for(Some(dense.encoder)) {
        return rank_with(profile, query, lexical, Some(dense.hits), k);
    }
    let lexical_only: HashMap<i64, f32> = rank_with(
        &confidence::LEXICAL,
        query,
        lexical.clone(),
        None,
        usize::MAX,
    )
    .into_iter()
    .map(|h| (h.id, h.confidence))
    .collect();
    let uncalibrated = Profile {
        name: "uncalibrated",
        dense_weight: 0.5,
        ..confidence::LEXICAL
    };
    let mut hits = rank_with(&uncalibrated, query, lexical, Some(dense.hits), k);
    for h in &mut hits {
        h.confidence = lexical_only.get(&h.id).copied().unwrap_or(0.0);
    }
    hits
}

/// [`rank`] with an explicit profile (evaluation and calibration use it to compare
/// profiles; the service calls [`rank`]).
pub fn rank_with(
    profile: &Profile,
    query: &str,
    lexical: Vec<LexicalHit>,
    dense: Option<Vec<DenseHit>>,
    k: usize,
) -> Vec<Hit> {
    rank_features(profile, query, lexical, dense, k)
        .into_iter()
        .map(|(h, _)| h)
        .collect()
}

/// [`rank_with`], also returning the features each confidence was computed from
/// (the calibration tool fits on them).
pub fn rank_features(
    profile: &Profile,
    query: &str,
    lexical: Vec<LexicalHit>,
    dense: Option<Vec<DenseHit>>,
    k: usize,
) -> Vec<(Hit, Features)> {
    if k == 0 || text::normalize(query).is_empty() {
        return Vec::new();
    }
    let dense = dense.filter(|_| profile.dense_weight > 0.0);
    let scored = match dense {
        None => lexical_order(lexical),
        Some(d) => fused_order(profile.dense_weight, profile.cosine_floor, lexical, d),
    };
    // `scored` is best first; the gap of hit i is against the best other entry.
    let order: Vec<f32> = scored.iter().map(|c| c.order).collect();
    scored
        .into_iter()
        .enumerate()
        .take(k)
        .map(|(i, c)| {
            let other = if i == 0 {
                order.get(1).copied().unwrap_or(0.0)
            } else {
                order[0]
            };
            let gap = if c.order > 0.0 {
                (1.0 - other / c.order).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let f = Features { gap, ..c.features };
            let hit = Hit {
                id: c.id,
                score: c.features.score,
                confidence: profile.calibration.apply(&f),
                matched_by: c.matched_by,
                matched_text: c.matched_text,
            };
            (hit, f)
        })
        .collect()
}

/// A candidate before its gap is known; `order` is what it is sorted by.
struct Candidate {
    id: i64,
    order: f32,
    /// Raw lexical score (0 when lexical missed it).
    lexical: f32,
    features: Features,
    matched_by: MatchedBy,
    matched_text: Option<String>,
}

fn best_first(v: &mut [Candidate]) {
    v.sort_by(|a, b| b.order.total_cmp(&a.order).then(a.id.cmp(&b.id)));
}

fn lexical_order(lexical: Vec<LexicalHit>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::with_capacity(lexical.len());
    for h in lexical {
        if out.iter().any(|c| c.id == h.id) {
            continue; // an index returns each entry once; keep the first if not
        }
        out.push(Candidate {
            id: h.id,
            order: h.score,
            lexical: h.score,
            features: lexical_features(&h),
            matched_by: MatchedBy::Lexical,
            matched_text: Some(h.matched_text),
        });
    }
    best_first(&mut out);
    out
}

fn lexical_features(h: &LexicalHit) -> Features {
    Features {
        query_coverage: h.query_coverage,
        text_coverage: h.text_coverage,
        score: h.query_coverage,
        ..Features::default()
    }
}

fn fused_order(
    w: f32,
    floor: f32,
    lexical: Vec<LexicalHit>,
    dense: Vec<DenseHit>,
) -> Vec<Candidate> {
    // Best (rescaled) cosine per id (a store may return one row per text).
    let mut sims: HashMap<i64, f32> = HashMap::with_capacity(dense.len());
    let floor = floor.clamp(0.0, 0.99);
    for d in &dense {
        let s = if d.similarity.is_finite() {
            ((d.similarity - floor) / (1.0 - floor)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let e = sims.entry(d.id).or_insert(s);
        *e = e.max(s);
    }
    let floor = sims.values().copied().fold(f32::INFINITY, f32::min);
    let floor = if floor.is_finite() { floor } else { 0.0 };

    let mut out: Vec<Candidate> = Vec::with_capacity(lexical.len() + sims.len());
    let mut index: HashMap<i64, usize> = HashMap::new();
    for h in lexical {
        if index.contains_key(&h.id) {
            continue; // first (best) hit of an id wins
        }
        let (sim, by) = match sims.get(&h.id) {
            Some(&s) => (s, MatchedBy::Both),
            None => (floor, MatchedBy::Lexical),
        };
        let mut f = lexical_features(&h);
        f.similarity = sim;
        index.insert(h.id, out.len());
        out.push(Candidate {
            id: h.id,
            order: 0.0,
            lexical: h.score,
            features: f,
            matched_by: by,
            matched_text: Some(h.matched_text),
        });
    }
    let mut dense_only: Vec<(i64, f32)> = sims
        .into_iter()
        .filter(|(id, _)| !index.contains_key(id))
        .collect();
    dense_only.sort_by_key(|&(id, _)| id);
    for (id, sim) in dense_only {
        out.push(Candidate {
            id,
            order: 0.0,
            lexical: 0.0,
            features: Features {
                similarity: sim,
                ..Features::default()
            },
            matched_by: MatchedBy::Dense,
            matched_text: None,
        });
    }
    // Each side's own gap, and whether both sides put the same entry first.
    let lex = top_two(out.iter().map(|c| (c.id, c.lexical)));
    let den = top_two(
        out.iter()
            .filter(|c| c.matched_by != MatchedBy::Lexical)
            .map(|c| (c.id, c.features.similarity)),
    );
    for c in &mut out {
        let fused = (1.0 - w) * c.features.query_coverage + w * c.features.similarity;
        c.order = fused;
        c.features.score = fused;
        c.features.lexical_gap = side_gap(lex, c.id, c.lexical);
        c.features.dense_gap = side_gap(den, c.id, c.features.similarity);
        let first =
            |t: Option<((i64, f32), f32)>| t.is_some_and(|((id, s), _)| id == c.id && s > 0.0);
        c.features.agree = if first(lex) && first(den) { 1.0 } else { 0.0 };
    }
    best_first(&mut out);
    out
}

/// The best `(id, score)` and the second-best score (ties by lower id first).
fn top_two(items: impl Iterator<Item = (i64, f32)>) -> Option<((i64, f32), f32)> {
    let mut best: Option<(i64, f32)> = None;
    let mut second = 0f32;
    for (id, s) in items {
        match best {
            Some((bid, bs)) if s < bs || (s == bs && id > bid) => second = second.max(s),
            Some((_, bs)) => {
                second = second.max(bs);
                best = Some((id, s));
            }
            None => best = Some((id, s)),
        }
    }
    best.map(|b| (b, second))
}

/// `1 − best other / score` on one side, in [0, 1].
fn side_gap(top: Option<((i64, f32), f32)>, id: i64, score: f32) -> f32 {
    let Some(((top_id, top_score), second)) = top else {
        return 0.0;
    };
    let other = if top_id == id { second } else { top_score };
    if score > 0.0 {
        (1.0 - other / score).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::confidence::HYBRID_USE;

    fn lex(id: i64, score: f32, coverage: f32) -> LexicalHit {
        LexicalHit {
            id,
            score,
            query_coverage: coverage,
            text_coverage: coverage,
            matched_text: format!("问题{id}"),
        }
    }

    fn dense(id: i64, similarity: f32) -> DenseHit {
        DenseHit { id, similarity }
    }

    #[test]
    fn fused_features_see_each_side_and_their_agreement() {
        let lexical = vec![lex(1, 8.0, 0.8), lex(2, 4.0, 0.4)];
        let dense_hits = vec![dense(1, 0.9), dense(3, 0.6)];
        let ranked = rank_features(&HYBRID_USE, "退款多久到账", lexical, Some(dense_hits), 10);
        let (top, f) = &ranked[0];
        assert_eq!((top.id, top.matched_by), (1, MatchedBy::Both));
        assert_eq!(f.agree, 1.0);
        assert!((f.score - (0.3 * 0.8 + 0.7 * 0.9)).abs() < 1e-6);
        assert!((f.lexical_gap - 0.5).abs() < 1e-6, "{f:?}");
        assert!((f.dense_gap - (1.0 - 0.6 / 0.9)).abs() < 1e-6, "{f:?}");
        // Entry 2 was not returned by the store: it gets the lowest returned cosine.
        let (h2, f2) = ranked.iter().find(|(h, _)| h.id == 2).unwrap();
        assert_eq!(h2.matched_by, MatchedBy::Lexical);
        assert!((f2.similarity - 0.6).abs() < 1e-6 && f2.agree == 0.0);
        let (h3, f3) = ranked.iter().find(|(h, _)| h.id == 3).unwrap();
        assert_eq!(
            (h3.matched_by, f3.query_coverage, h3.matched_text.as_deref()),
            (MatchedBy::Dense, 0.0, None)
        );
        // Best first; a runner-up has no gap.
        assert!(ranked.windows(2).all(|w| w[0].0.score >= w[1].0.score));
        assert!(ranked[1..].iter().all(|(_, f)| f.gap == 0.0));
    }

    #[test]
    fn cosines_are_rescaled_by_the_profile_floor() {
        let profile = Profile {
            cosine_floor: 0.8,
            ..HYBRID_USE
        };
        let ranked = rank_features(
            &profile,
            "发票",
            vec![],
            Some(vec![dense(1, 0.9), dense(2, 0.7)]),
            10,
        );
        assert!(
            (ranked[0].1.similarity - 0.5).abs() < 1e-5,
            "{:?}",
            ranked[0].1
        );
        assert_eq!(ranked[1].1.similarity, 0.0);
    }

    #[test]
    fn a_lone_candidate_has_the_full_gap_and_k_truncates() {
        let ranked = rank_features(
            &confidence::LEXICAL,
            "包邮",
            vec![lex(5, 3.0, 0.9)],
            None,
            10,
        );
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].1.gap, 1.0);
        let many: Vec<LexicalHit> = (1..=20).map(|i| lex(i, 21.0 - i as f32, 0.5)).collect();
        assert_eq!(rank("包邮", many, None, 3).len(), 3);
        assert!(rank("包邮", vec![lex(5, 3.0, 0.9)], None, 0).is_empty());
    }
}
