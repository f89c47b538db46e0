//! Round-4 calibration data ("buyer" data): natural buyer phrasings asked of shop
//! knowledge bases that hold one question per entry, and messages those knowledge
//! bases do not answer — all from the calibration corpus written for this project
//! (`fixtures/calibration_faq.txt`, `fixtures/calibration_negatives.txt`).
//!
//! A shop's knowledge base is the `[common]` section plus the shop's own section;
//! it indexes each entry's FAQ question only, as an imported FAQ does. Then:
//! - **positives**: every other phrasing of the entry, as written (no character
//!   edits): real paraphrases the index has not seen. Right when the top hit is
//!   the entry;
//! - **near-domain negatives**: the shop's written near-domain questions, and its
//!   share of the `[common]` ones;
//! - **unrelated negatives**: its share of the `[unrelated]` messages;
//! - **hidden-entry negatives**: for every [`HIDDEN_EVERY`]-th asked entry, one of
//!   its phrasings (seeded pick) searched with the entry hidden: a question about
//!   a topic the shop has no entry for, next to entries that are close to it.
//!
//! `[common]` entries and messages are in every shop's index, but each one is
//! *asked* in one shop per round (round-robin, moving on each round), so every
//! written text is asked once per round, against a different shop's entries.

use std::collections::HashMap;

use super::{embed_all, ranking_profile, top_sample, Kind, Sample, Setup};
use crate::retrieval::synth::{Rng, Section};
use crate::retrieval::{Encoder, Entry, FlatVectors, LexicalIndex};

/// One hidden-entry negative per this many asked entries, per round.
pub const HIDDEN_EVERY: usize = 2;

/// Name of the section every shop's knowledge base includes.
pub const COMMON: &str = "common";
/// Name of the negatives section shared round-robin by all shops.
pub const UNRELATED: &str = "unrelated";

struct KbEntry {
    id: i64,
    texts: Vec<&'static str>,
}

/// Generates the buyer data (see the module doc) from `shops` (sections of entries;
/// `[common]` joins every other section's knowledge base) and `negatives` (sections
/// named after shops, `[common]` and `[unrelated]`). A sample's `group` is its shop
/// (1-based, in `shops` order without `[common]`).
pub fn generate_buyer(
    shops: &[Section],
    negatives: &[Section],
    encoder: Option<&dyn Encoder>,
    setup: &Setup,
) -> anyhow::Result<Vec<Sample>> {
    let mut rng = Rng::new(setup.seed);
    let mut next_id = 0i64;
    let mut section = |s: &Section| -> Vec<KbEntry> {
        s.items
            .iter()
            .filter(|texts| !texts.is_empty())
            .map(|texts| {
                next_id += 1;
                KbEntry {
                    id: next_id,
                    texts: texts.clone(),
                }
            })
            .collect()
    };
    let common: Vec<KbEntry> = shops
        .iter()
        .filter(|s| s.name == COMMON)
        .flat_map(&mut section)
        .collect();
    let domains: Vec<(&Section, Vec<KbEntry>)> = shops
        .iter()
        .filter(|s| s.name != COMMON)
        .map(|s| (s, section(s)))
        .collect();
    anyhow::ensure!(!domains.is_empty(), "no shop section");
    let nd = domains.len();
    let negatives_of = |name: &str| -> Vec<&'static str> {
        negatives
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| s.items.iter().filter_map(|i| i.first().copied()))
            .collect()
    };
    let (shared_near, unrelated) = (negatives_of(COMMON), negatives_of(UNRELATED));

    // Every text embedded once.
    let vectors: HashMap<&str, Vec<f32>> = match encoder {
        None => HashMap::new(),
        Some(enc) => {
            let mut texts: Vec<&str> = common
                .iter()
                .chain(domains.iter().flat_map(|(_, e)| e))
                .flat_map(|e| e.texts.iter().copied())
                .chain(
                    negatives
                        .iter()
                        .flat_map(|s| s.items.iter().flatten().copied()),
                )
                .collect();
            texts.sort_unstable();
            texts.dedup();
            let v = embed_all(enc, &texts)?;
            texts.into_iter().zip(v).collect()
        }
    };
    let profile = ranking_profile(setup, encoder.is_some());

    let mut samples = Vec::new();
    for round in 0..setup.rounds.max(1) {
        for (si, (shop, own)) in domains.iter().enumerate() {
            let asked_here = |k: usize| (k + round) % nd == si;
            let mut index = LexicalIndex::new(setup.params);
            let mut flat = encoder.map(|enc| FlatVectors::new(enc.dim()));
            for e in common.iter().chain(own) {
                index.upsert(Entry {
                    id: e.id,
                    shop_id: None,
                    texts: vec![e.texts[0].to_owned()],
                    enabled: true,
                });
                if let Some(flat) = flat.as_mut() {
                    flat.upsert(e.id, None, true, &[vectors[e.texts[0]].clone()])?;
                }
            }
            let asked = common
                .iter()
                .enumerate()
                .filter(|&(k, _)| asked_here(k))
                .map(|(_, e)| e)
                .chain(own);
            let mut queries: Vec<(&str, Kind, i64)> = Vec::new();
            for (n, e) in asked.enumerate() {
                let held = &e.texts[1..];
                queries.extend(held.iter().map(|t| (*t, Kind::Paraphrase, e.id)));
                if (n + round) % HIDDEN_EVERY == 0 && !held.is_empty() {
                    queries.push((*rng.pick(held), Kind::HardNegative, e.id));
                }
            }
            queries.extend(
                negatives_of(shop.name)
                    .into_iter()
                    .map(|t| (t, Kind::NearNegative, 0)),
            );
            for (k, t) in shared_near.iter().enumerate() {
                if asked_here(k) {
                    queries.push((t, Kind::NearNegative, 0));
                }
            }
            for (k, t) in unrelated.iter().enumerate() {
                if asked_here(k) {
                    queries.push((t, Kind::Unrelated, 0));
                }
            }
            for (text, kind, entry) in queries {
                let dense = flat
                    .as_ref()
                    .map(|f| (f, vectors.get(text).map_or(&[][..], Vec::as_slice)));
                if let Some(mut s) = top_sample(&profile, &index, dense, text, kind, entry) {
                    s.group = si + 1;
                    samples.push(s);
                }
            }
        }
    }
    Ok(samples)
}
