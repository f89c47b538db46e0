//! Behaviour of the public API on the seller FAQ fixture.

use super::*;

fn ask(ix: &LexicalIndex, q: &str) -> Vec<Hit> {
    rank(q, ix.search(q, None, CANDIDATES), None, 10)
}

#[test]
fn a_kb_question_asked_as_is_is_auto_sent() {
    let ix = synth::seller_faq_index();
    for q in [
        "下单后多久发货",
        "可以开增值税专用发票吗",
        "退货运费谁出",
        "怎么注销账号",
    ] {
        let hits = ask(&ix, q);
        assert_eq!(hits[0].id, synth::seller_faq_id(q), "{q}");
        assert!(hits[0].confidence > 0.9, "{q}: {:?}", hits[0]);
        assert_eq!(hits[0].matched_by, MatchedBy::Lexical);
        assert_eq!(hits[0].matched_text.as_deref(), Some(q));
    }
}

#[test]
fn unrelated_messages_are_not_answered() {
    // None is auto-sent; hardly any reaches the LLM-with-KB band (a few share real
    // words with an entry: "洗衣机怎么清洗" vs "可以用洗衣机洗吗").
    let ix = synth::seller_faq_index();
    let unrelated = synth::unrelated();
    let mut banded = Vec::new();
    for q in &unrelated {
        let c = ask(&ix, q).first().map_or(0.0, |h| h.confidence);
        assert!(c < 0.9, "{q}: {c}");
        if c >= 0.6 {
            banded.push((q, c));
        }
    }
    assert!(banded.len() * 50 <= unrelated.len(), "{banded:?}");
}

#[test]
fn greetings_alone_get_no_hits() {
    let ix = synth::seller_faq_index();
    for q in ["在吗", "亲，你好", "？？", "谢谢"] {
        assert!(ask(&ix, q).is_empty(), "{q}");
    }
}

#[test]
fn hits_are_ordered_and_only_a_clear_winner_is_confident() {
    let ix = synth::seller_faq_index();
    let hits = ask(&ix, "退款");
    assert!(hits.len() > 1);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(hits
        .iter()
        .all(|h| (0.0..=1.0).contains(&h.confidence) && (0.0..=1.0).contains(&h.score)));
    // "退款" alone fits several entries equally: no auto-send.
    assert!(hits[0].confidence < 0.9, "{:?}", hits[0]);
    // A runner-up is never more confident than a clear winner.
    let clear = ask(&ix, "退款要几天");
    assert!(clear[0].confidence > clear[1].confidence);
}

/// A test double: embeds by a fixed table (texts not in it get a far vector).
struct TableEncoder(Vec<(&'static str, [f32; 3])>, &'static str);

impl Encoder for TableEncoder {
    fn name(&self) -> &str {
        self.1
    }
    fn dim(&self) -> usize {
        3
    }
    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                self.0
                    .iter()
                    .find(|(k, _)| k == t)
                    .map_or(vec![0.0, 0.0, 1.0], |(_, v)| v.to_vec())
            })
            .collect())
    }
}

fn hybrid_setup(name: &'static str) -> (LexicalIndex, FlatVectors, TableEncoder) {
    // "退钱" shares no character with entry 1's text but means the same.
    let enc = TableEncoder(
        vec![
            ("退款什么时候到账", [1.0, 0.0, 0.0]),
            ("怎么开发票", [0.0, 1.0, 0.0]),
            ("资金几天返还", [0.99, 0.1, 0.0]),
            ("开发票什么时候到账", [0.3, 0.95, 0.0]),
        ],
        name,
    );
    let mut ix = LexicalIndex::default();
    let mut vs = FlatVectors::new(enc.dim());
    for (id, t) in [(1, "退款什么时候到账"), (2, "怎么开发票")] {
        ix.upsert(Entry {
            id,
            shop_id: None,
            texts: vec![t.into()],
            enabled: true,
        });
        vs.upsert(id, None, true, &enc.embed(&[t]).unwrap())
            .unwrap();
    }
    (ix, vs, enc)
}

fn ask_hybrid(ix: &LexicalIndex, vs: &FlatVectors, enc: &TableEncoder, q: &str) -> Vec<Hit> {
    let qv = enc.embed(&[q]).unwrap();
    let dense = Dense {
        encoder: enc.name(),
        hits: vs.search(&qv[0], None, CANDIDATES),
    };
    rank(q, ix.search(q, None, CANDIDATES), Some(dense), 10)
}

#[test]
fn dense_hits_rescue_a_lexical_miss_and_are_labelled() {
    let (ix, vs, enc) = hybrid_setup("use-multilingual-v3");
    let hits = ask_hybrid(&ix, &vs, &enc, "资金几天返还");
    assert_eq!(hits[0].id, 1);
    assert_eq!(hits[0].matched_by, MatchedBy::Dense);
    assert_eq!(hits[0].matched_text, None);
    // Lexically "到账" pulls towards entry 1, the meaning towards entry 2.
    let hits = ask_hybrid(&ix, &vs, &enc, "开发票什么时候到账");
    assert_eq!(hits[0].id, 2);
    assert_eq!(hits[0].matched_by, MatchedBy::Both);
}

#[test]
fn an_uncalibrated_encoder_reorders_but_never_raises_confidence() {
    let (ix, vs, enc) = hybrid_setup("some-provider-embedding");
    let hits = ask_hybrid(&ix, &vs, &enc, "资金几天返还");
    assert_eq!(hits[0].id, 1);
    assert_eq!(
        hits[0].confidence, 0.0,
        "dense-only hit of an uncalibrated encoder"
    );
    let q = "开发票什么时候到账";
    let lexical_only: Vec<Hit> = rank(q, ix.search(q, None, CANDIDATES), None, 10);
    for h in ask_hybrid(&ix, &vs, &enc, q) {
        let l = lexical_only
            .iter()
            .find(|l| l.id == h.id)
            .map_or(0.0, |l| l.confidence);
        assert_eq!(h.confidence, l);
    }
}
