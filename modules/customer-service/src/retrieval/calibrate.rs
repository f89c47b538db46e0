//! Calibration data: what the routing confidence is fitted on (offline, by
//! `examples/calibrate.rs`). No evaluation query or label goes in; only a knowledge
//! base's own questions and sentences written for this project.
//!
//! From a knowledge base (each entry: question, then similar questions) and a list
//! of unrelated messages, seeded:
//! - the entry's last similar question (when it has two texts or more) is held out
//!   of the index: it is a real paraphrase the index has not seen;
//! - **positives** (4 per entry): 2 perturbed copies ([`synth::perturb`], 1–3
//!   edits) of an indexed text, and the held-out paraphrase as is and with 1–2 edits
//!   (2 more perturbed copies with 2–4 edits when there is none). A positive is
//!   answered correctly when the top hit is its own entry;
//! - **hard negatives** (2 per entry): a text of the entry with 0–2 edits, searched
//!   with that entry hidden from the results — a question in the shop's domain that
//!   the knowledge base does not answer;
//! - **easy negatives** (as many as hard ones): the unrelated messages, cycled, with
//!   0–1 edits.
//!
//! The queries are generated [`ROUNDS`] times (fresh edits each round); the held-out
//! paraphrase therefore repeats as is once per round.
//!
//! So positives : hard : easy negatives = 2 : 1 : 1. Each query is searched and
//! ranked exactly as the service does ([`super::rank_features`]); the top hit's
//! [`Features`] and whether it is right make one sample.

mod buyer;
mod report;

pub use buyer::{generate_buyer, HIDDEN_EVERY};
pub use report::{cross_groups, report};

use super::confidence::{Calibration, FeatureSet, Features, Outcome, Profile};
use super::synth::{self, perturb, Rng};
use super::text::Folding;
use super::{fusion, Bm25Params, Encoder, Entry, FlatVectors, LexicalIndex, CANDIDATES};

/// What a generated query is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Perturbed,
    Paraphrase,
    HardNegative,
    /// A written question in the shop's domain that its knowledge base does not
    /// answer (buyer data).
    NearNegative,
    Unrelated,
}

impl Kind {
    pub fn is_positive(self) -> bool {
        matches!(self, Kind::Perturbed | Kind::Paraphrase)
    }
}

/// One generated query after ranking.
#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: Kind,
    pub query: String,
    /// Features of the top hit.
    pub features: Features,
    /// Whether the top hit is the query's own entry (never for negatives).
    pub correct: bool,
    /// Which knowledge base the query was asked of (buyer data: the shop, 1..;
    /// other data: 0).
    pub group: usize,
    /// The text of the top hit that matched lexically (`None` for a dense-only hit).
    pub matched_text: Option<String>,
}

/// The settings features depend on.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub seed: u64,
    pub params: Bm25Params,
    /// Fusion weight of the cosine (0 = lexical only).
    pub dense_weight: f32,
    /// See [`super::confidence::Profile::cosine_floor`].
    pub cosine_floor: f32,
    /// How many times each entry's queries are generated (fresh random edits each
    /// round; the unrelated messages are cycled as often).
    pub rounds: usize,
}

/// Rounds used for the shipped calibrations.
pub const ROUNDS: usize = 3;

struct Query {
    text: String,
    kind: Kind,
    entry: i64,
}

/// Generates the samples for one knowledge base (see the module doc). With an
/// encoder the queries are also searched densely and fused with `dense_weight`.
pub fn generate(
    kb: &[Vec<String>],
    unrelated: &[&str],
    encoder: Option<&dyn Encoder>,
    setup: &Setup,
) -> anyhow::Result<Vec<Sample>> {
    let mut rng = Rng::new(setup.seed);
    let mut index = LexicalIndex::new(setup.params);
    let mut indexed_texts: Vec<(i64, String)> = Vec::new();
    let mut queries: Vec<Query> = Vec::new();
    let split = |texts: &[String]| match texts.len() {
        1 => (texts.to_vec(), None),
        n => (texts[..n - 1].to_vec(), Some(texts[n - 1].clone())),
    };
    for (i, texts) in kb.iter().enumerate() {
        if texts.is_empty() {
            continue;
        }
        let id = i as i64 + 1;
        let (indexed, _) = split(texts);
        index.upsert(Entry {
            id,
            shop_id: None,
            texts: indexed.clone(),
            enabled: true,
        });
        indexed_texts.extend(indexed.into_iter().map(|t| (id, t)));
    }
    for (i, texts) in kb
        .iter()
        .enumerate()
        .cycle()
        .take(kb.len() * setup.rounds.max(1))
    {
        if texts.is_empty() {
            continue;
        }
        let id = i as i64 + 1;
        let (indexed, held_out) = split(texts);
        let indexed = &indexed[..];
        let mut add = |text: String, kind| {
            queries.push(Query {
                text,
                kind,
                entry: id,
            })
        };
        for _ in 0..2 {
            let ops = 1 + rng.below(3);
            add(
                perturb(rng.pick(indexed).as_str(), &mut rng, ops),
                Kind::Perturbed,
            );
        }
        match held_out {
            Some(h) => {
                add(h.clone(), Kind::Paraphrase);
                let ops = 1 + rng.below(2);
                add(perturb(&h, &mut rng, ops), Kind::Paraphrase);
            }
            None => {
                for _ in 0..2 {
                    let ops = 2 + rng.below(3);
                    add(
                        perturb(rng.pick(indexed).as_str(), &mut rng, ops),
                        Kind::Perturbed,
                    );
                }
            }
        }
        for _ in 0..2 {
            let ops = rng.below(3);
            add(
                perturb(rng.pick(texts).as_str(), &mut rng, ops),
                Kind::HardNegative,
            );
        }
    }
    let hard = queries
        .iter()
        .filter(|q| q.kind == Kind::HardNegative)
        .count();
    for i in 0..hard {
        let ops = rng.below(2);
        let text = perturb(unrelated[i % unrelated.len()], &mut rng, ops);
        queries.push(Query {
            text,
            kind: Kind::Unrelated,
            entry: 0,
        });
    }

    let dense = match encoder {
        None => None,
        Some(enc) => {
            let mut flat = FlatVectors::new(enc.dim());
            let texts: Vec<&str> = indexed_texts.iter().map(|(_, t)| t.as_str()).collect();
            let vectors = embed_all(enc, &texts)?;
            let mut by_entry: Vec<(i64, Vec<Vec<f32>>)> = Vec::new();
            for ((id, _), v) in indexed_texts.iter().zip(vectors) {
                match by_entry.last_mut() {
                    Some((last, vs)) if last == id => vs.push(v),
                    _ => by_entry.push((*id, vec![v])),
                }
            }
            for (id, vs) in by_entry {
                flat.upsert(id, None, true, &vs)?;
            }
            let qtexts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
            Some((flat, embed_all(enc, &qtexts)?))
        }
    };

    let profile = ranking_profile(setup, dense.is_some());
    let mut samples = Vec::with_capacity(queries.len());
    for (qi, q) in queries.iter().enumerate() {
        let d = dense.as_ref().map(|(flat, qv)| (flat, qv[qi].as_slice()));
        samples.extend(top_sample(&profile, &index, d, &q.text, q.kind, q.entry));
    }
    Ok(samples)
}

/// The profile the data is ranked with: the setup's fusion, no calibration (the
/// features do not depend on it).
fn ranking_profile(setup: &Setup, dense: bool) -> Profile {
    Profile {
        name: "calibration",
        dense_weight: if dense { setup.dense_weight } else { 0.0 },
        cosine_floor: setup.cosine_floor,
        calibration: Calibration {
            set: FeatureSet::Mix,
            bias: 0.0,
            weights: [0.0; super::confidence::MAX_FEATURES],
            curve: std::borrow::Cow::Borrowed(&[]),
        },
    }
}

/// Searches and ranks one query exactly as the service does and returns its top
/// hit as a sample. A hard negative hides its own entry (one candidate more, then
/// drop it). `None` when nothing is found.
fn top_sample(
    profile: &Profile,
    index: &LexicalIndex,
    dense: Option<(&FlatVectors, &[f32])>,
    text: &str,
    kind: Kind,
    entry: i64,
) -> Option<Sample> {
    let hide = |id: i64| kind == Kind::HardNegative && id == entry;
    let mut lexical = index.search(text, None, CANDIDATES + 1);
    lexical.retain(|h| !hide(h.id));
    lexical.truncate(CANDIDATES);
    let dense_hits = dense.map(|(flat, qv)| {
        let mut d = flat.search(qv, None, CANDIDATES + 1);
        d.retain(|h| !hide(h.id));
        d.truncate(CANDIDATES);
        d
    });
    let ranked = fusion::rank_features(profile, text, lexical, dense_hits, 1);
    let (hit, features) = ranked.into_iter().next()?;
    Some(Sample {
        kind,
        query: text.to_owned(),
        features,
        correct: kind.is_positive() && hit.id == entry,
        group: 0,
        matched_text: hit.matched_text,
    })
}

fn embed_all(enc: &dyn Encoder, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        let v = enc.embed(chunk)?;
        anyhow::ensure!(
            v.len() == chunk.len(),
            "encoder returned {} vectors for {} texts",
            v.len(),
            chunk.len()
        );
        out.extend(v);
    }
    Ok(out)
}

/// One configuration declared in docs/customer-service.md before measuring: the
/// analysis, the calibration features, the fusion weight and the calibration data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    pub name: &'static str,
    pub folding: Folding,
    pub set: FeatureSet,
    /// 0 = lexical only.
    pub dense_weight: f32,
    /// Which knowledge bases the calibration data is generated from.
    pub data: Data,
    /// Rescale cosines by the encoder's [`super::confidence::cosine_floor`].
    pub rescale: bool,
    /// What the confidence levels mean (rounds 1–3: probabilities).
    pub target: Target,
}

/// What a calibration's confidence levels mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The share of right answers among hits with this confidence: a logistic
    /// regression, then an isotonic regression ([`confidence::fit`]).
    ///
    /// [`confidence::fit`]: super::confidence::fit
    Probability,
    /// Error rates of the answered set, as the routing bands are specified: at
    /// confidence ≥ c, at most (1 − c)/2 false matches and (1 − c)/2 wrong answers
    /// ([`confidence::fit_rates`]).
    ///
    /// [`confidence::fit_rates`]: super::confidence::fit_rates
    Rates,
    /// [`Target::Rates`], with the false-match rate counted over the written
    /// negatives only: hidden-entry negatives still train the logistic step but do
    /// not set the levels.
    RatesWritten,
}

/// Sources of calibration data (always with the unrelated-messages fixture).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// The seller FAQ fixture.
    Own,
    /// The seller FAQ and the questions of the knowledge base being served (the
    /// `--extra-kb` file: questions only, never queries or labels).
    Pooled,
    /// Only the questions of the knowledge base being served.
    Kb,
    /// Round 4: the calibration corpus written for this project
    /// ([`generate_buyer`] on [`synth::calibration_shops`] and
    /// [`synth::calibration_negatives`]); nothing else.
    Buyer,
}

impl Recipe {
    pub fn uses_kb(&self) -> bool {
        matches!(self.data, Data::Pooled | Data::Kb)
    }
}

/// The declared configurations: round 1 (L1–L4, H1–H3), round 2 (L5, L6, H4–H6),
/// round 3 (H7, H8) and round 4 (L7, L8, H9, H10), each declared after the
/// previous one was measured (docs/customer-service.md).
pub const RECIPES: &[Recipe] = &[
    recipe("L1", Folding::Basic, FeatureSet::Mix, 0.0, Data::Own),
    recipe("L2", Folding::Full, FeatureSet::Mix, 0.0, Data::Own),
    recipe("L3", Folding::Full, FeatureSet::Lexical, 0.0, Data::Own),
    recipe("L4", Folding::Full, FeatureSet::Lexical, 0.0, Data::Pooled),
    recipe("H1", Folding::Full, FeatureSet::Hybrid, 0.5, Data::Own),
    recipe("H2", Folding::Full, FeatureSet::Hybrid, 0.7, Data::Own),
    recipe("H3", Folding::Full, FeatureSet::Hybrid, 0.7, Data::Pooled),
    recipe("L5", Folding::Full, FeatureSet::Lexical, 0.0, Data::Kb),
    recipe("L6", Folding::Full, FeatureSet::Mix, 0.0, Data::Kb),
    recipe("H4", Folding::Full, FeatureSet::FusedMix, 0.7, Data::Pooled),
    recipe(
        "H5",
        Folding::Full,
        FeatureSet::Agreement,
        0.7,
        Data::Pooled,
    ),
    recipe("H6", Folding::Full, FeatureSet::Agreement, 0.7, Data::Kb),
    Recipe {
        rescale: true,
        ..recipe("H7", Folding::Full, FeatureSet::FusedMix, 0.7, Data::Pooled)
    },
    Recipe {
        rescale: true,
        ..recipe(
            "H8",
            Folding::Full,
            FeatureSet::Agreement,
            0.7,
            Data::Pooled,
        )
    },
    // Round 4: the calibration corpus (docs/customer-service.md, "Round 4").
    rates("L7", FeatureSet::Lexical, 0.0, Target::Rates),
    rates("L8", FeatureSet::Lexical, 0.0, Target::RatesWritten),
    rates("H9", FeatureSet::Hybrid, 0.7, Target::Rates),
    rates("H10", FeatureSet::Hybrid, 0.7, Target::RatesWritten),
];

const fn recipe(
    name: &'static str,
    folding: Folding,
    set: FeatureSet,
    dense_weight: f32,
    data: Data,
) -> Recipe {
    Recipe {
        name,
        folding,
        set,
        dense_weight,
        data,
        rescale: false,
        target: Target::Probability,
    }
}

/// A round-4 recipe: full folding, buyer data, rate levels.
const fn rates(name: &'static str, set: FeatureSet, dense_weight: f32, target: Target) -> Recipe {
    Recipe {
        target,
        ..recipe(name, Folding::Full, set, dense_weight, Data::Buyer)
    }
}

/// The recipes of the shipped calibrations, lexical then hybrid
/// (`confidence::LEXICAL`, `confidence::HYBRID_USE`; see docs/customer-service.md,
/// "Choice").
pub const SHIPPED: [&str; 2] = ["L4", "H4"];

/// Seed of the shipped calibrations.
pub const SEED: u64 = 20_261_202;

/// Generates the data of `recipe` (from the seller FAQ fixture and/or the
/// `extra_kb` questions, with the unrelated fixture) and fits its calibration. Returns the
/// profile and the samples.
pub fn fit_recipe(
    recipe: &Recipe,
    extra_kb: Option<&[Vec<String>]>,
    encoder: Option<&dyn Encoder>,
    seed: u64,
) -> anyhow::Result<(Profile, Vec<Sample>)> {
    anyhow::ensure!(
        (recipe.dense_weight > 0.0) == encoder.is_some(),
        "recipe {} {} an encoder",
        recipe.name,
        if recipe.dense_weight > 0.0 {
            "needs"
        } else {
            "takes no"
        }
    );
    anyhow::ensure!(
        !recipe.uses_kb() || extra_kb.is_some(),
        "recipe {} needs the served KB",
        recipe.name
    );
    let cosine_floor = match encoder {
        Some(e) if recipe.rescale => super::confidence::cosine_floor(e.name()),
        _ => 0.0,
    };
    let setup = Setup {
        seed,
        params: Bm25Params {
            folding: recipe.folding,
            ..Bm25Params::default()
        },
        dense_weight: recipe.dense_weight,
        cosine_floor,
        rounds: ROUNDS,
    };
    let own: Vec<Vec<String>> = synth::seller_faq()
        .into_iter()
        .map(|e| e.into_iter().map(String::from).collect())
        .collect();
    let unrelated = synth::unrelated();
    let mut samples = Vec::new();
    if recipe.data == Data::Buyer {
        let (shops, negatives) = (synth::calibration_shops(), synth::calibration_negatives());
        samples = generate_buyer(&shops, &negatives, encoder, &setup)?;
    } else if recipe.data != Data::Kb {
        samples = generate(&own, &unrelated, encoder, &setup)?;
    }
    if recipe.uses_kb() {
        if let Some(kb) = extra_kb {
            samples.extend(generate(
                kb,
                &unrelated,
                encoder,
                &Setup {
                    seed: seed + 1,
                    ..setup
                },
            )?);
        }
    }
    let calibration = fit(recipe.target, recipe.set, &samples);
    Ok((
        Profile {
            name: recipe.name,
            dense_weight: recipe.dense_weight,
            cosine_floor,
            calibration,
        },
        samples,
    ))
}

/// L2 penalty of the fit (mild: features are in [0, 1], a few thousand samples).
pub const L2: f64 = 1.0;

/// Fits `set` on the samples, with levels meaning `target`.
pub fn fit(target: Target, set: FeatureSet, samples: &[Sample]) -> Calibration {
    match target {
        Target::Probability => {
            let data: Vec<(Features, bool)> =
                samples.iter().map(|s| (s.features, s.correct)).collect();
            super::confidence::fit(set, &data, L2)
        }
        Target::Rates | Target::RatesWritten => {
            let data: Vec<(Features, Outcome)> = samples
                .iter()
                .map(|s| {
                    let outcome = match (s.kind, s.correct) {
                        (Kind::HardNegative, _) if target == Target::RatesWritten => {
                            Outcome::Unscored
                        }
                        (k, _) if !k.is_positive() => Outcome::Unanswerable,
                        (_, true) => Outcome::Right,
                        (_, false) => Outcome::Wrong,
                    };
                    (s.features, outcome)
                })
                .collect();
            super::confidence::fit_rates(set, &data, L2)
        }
    }
}

#[cfg(test)]
mod tests;
