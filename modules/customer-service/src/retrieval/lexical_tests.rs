use super::*;
use crate::retrieval::synth;

fn entry(id: i64, shop_id: Option<i64>, texts: &[&str]) -> Entry {
    Entry {
        id,
        shop_id,
        texts: texts.iter().map(|t| t.to_string()).collect(),
        enabled: true,
    }
}

fn top(ix: &LexicalIndex, q: &str) -> Option<i64> {
    ix.search(q, None, 1).first().map(|h| h.id)
}

#[test]
fn finds_buyer_phrasings_of_faq_questions() {
    let ix = synth::seller_faq_index();
    assert_eq!(
        top(&ix, "亲，下单以后多久能发货呀？"),
        Some(synth::seller_faq_id("下单后多久发货"))
    );
    assert_eq!(
        top(&ix, "可以开专票吗"),
        Some(synth::seller_faq_id("可以开增值税专用发票吗"))
    );
    assert_eq!(
        top(&ix, "花贝能用不"),
        Some(synth::seller_faq_id("可以用花呗吗"))
    );
    assert_eq!(
        top(&ix, "退货的邮费是谁承担"),
        Some(synth::seller_faq_id("退货运费谁出"))
    );
    assert_eq!(
        top(&ix, "ＸＬ码偏大还是偏小"),
        Some(synth::seller_faq_id("衣服偏大还是偏小"))
    );
}

#[test]
fn an_entry_scores_as_its_best_text() {
    let mut ix = LexicalIndex::default();
    ix.upsert(entry(1, None, &["下单后多久发货", "拍下后几天能发出"]));
    ix.upsert(entry(2, None, &["拍下后能改价吗"]));
    let hits = ix.search("拍下后几天能发出", None, 5);
    assert_eq!(hits[0].id, 1);
    assert_eq!(hits[0].matched_text, "拍下后几天能发出");
    assert!((hits[0].query_coverage - 1.0).abs() < 1e-6, "{hits:?}");
    assert!((hits[0].text_coverage - 1.0).abs() < 1e-6);
    assert!(
        hits.iter()
            .all(|h| (0.0..=1.0).contains(&h.query_coverage)
                && (0.0..=1.0).contains(&h.text_coverage))
    );
    assert!(hits[1].query_coverage < 0.6);
}

#[test]
fn shop_scope_and_enabled_flag_filter_results() {
    let mut ix = LexicalIndex::default();
    ix.upsert(entry(1, None, &["退货运费谁出"]));
    ix.upsert(entry(2, Some(7), &["退货运费商家出"]));
    ix.upsert(entry(3, Some(8), &["退货运费买家出"]));
    ix.upsert(Entry {
        enabled: false,
        ..entry(4, None, &["退货运费谁出呀亲"])
    });
    let ids = |shop| {
        let mut v: Vec<i64> = ix
            .search("退货运费", shop, 10)
            .iter()
            .map(|h| h.id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(Some(7)), vec![1, 2]);
    assert_eq!(ids(Some(8)), vec![1, 3]);
    assert_eq!(ids(Some(9)), vec![1]);
    assert_eq!(ids(None), vec![1, 2, 3]);
    assert_eq!(ix.len(), 4);
}

#[test]
fn upsert_replaces_and_remove_forgets() {
    let mut ix = LexicalIndex::default();
    ix.upsert(entry(1, None, &["可以开发票吗"]));
    ix.upsert(entry(2, None, &["支持七天无理由退货吗"]));
    assert_eq!(top(&ix, "开发票"), Some(1));
    ix.upsert(entry(1, None, &["可以货到付款吗"]));
    assert_eq!(ix.len(), 2);
    assert_eq!(top(&ix, "开发票"), None);
    assert_eq!(top(&ix, "货到付款"), Some(1));
    assert!(ix.remove(1));
    assert!(!ix.remove(1));
    assert_eq!(top(&ix, "付款"), None);
    assert_eq!((ix.len(), ix.text_count()), (1, 1));
}

#[test]
fn incremental_writes_equal_a_fresh_build() {
    // Churn one index with upserts, replacements and removals; build a second one
    // with only the survivors: every score must be the same (IDF, avgdl current).
    let entries = synth::seller_faq_entries();
    let mut churned = LexicalIndex::default();
    for e in entries.iter().rev() {
        churned.upsert(e.clone());
    }
    for e in &entries {
        if e.id % 3 == 0 {
            churned.remove(e.id);
        } else if e.id % 3 == 1 {
            churned.upsert(Entry {
                texts: vec!["临时的文本".into()],
                ..e.clone()
            });
            churned.upsert(e.clone());
        }
    }
    let mut fresh = LexicalIndex::default();
    for e in entries.iter().filter(|e| e.id % 3 != 0) {
        fresh.upsert(e.clone());
    }
    assert_eq!(churned.text_count(), fresh.text_count());
    for q in [
        "多久发货",
        "退款什么时候到账",
        "能开专票吗",
        "尺码偏大吗",
        "积分怎么用",
    ] {
        let a = churned.search(q, None, 10);
        let b = fresh.search(q, None, 10);
        assert_eq!(a.len(), b.len(), "{q}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.id, y.id, "{q}");
            assert!(
                (x.score - y.score).abs() < 1e-4,
                "{q}: {} vs {}",
                x.score,
                y.score
            );
        }
    }
}

#[test]
fn empty_and_unknown_queries_find_nothing() {
    let ix = synth::seller_faq_index();
    assert!(ix.search("", None, 5).is_empty());
    assert!(ix.search("在吗？", None, 5).is_empty());
    assert!(ix.search("🙂🙂", None, 5).is_empty());
    assert!(ix.search("xyzzy", None, 5).is_empty());
    assert!(ix.search("发货", None, 0).is_empty());
    assert!(LexicalIndex::default().search("发货", None, 5).is_empty());
}

#[test]
fn texts_that_normalise_to_nothing_or_repeat_are_not_indexed() {
    let mut ix = LexicalIndex::default();
    ix.upsert(entry(1, None, &["包邮吗", "包邮吗？", "亲在吗", "！！"]));
    assert_eq!(ix.text_count(), 1);
    assert_eq!(top(&ix, "包邮"), Some(1));
}

#[test]
fn ties_are_broken_by_id_and_k_limits() {
    let mut ix = LexicalIndex::default();
    for id in [5, 3, 9] {
        ix.upsert(entry(id, None, &["怎么开发票"]));
    }
    let ids: Vec<i64> = ix.search("开发票", None, 2).iter().map(|h| h.id).collect();
    assert_eq!(ids, vec![3, 5]);
}

#[test]
fn visibility_follows_enabled_shop_and_removal() {
    let mut ix = LexicalIndex::default();
    ix.upsert(entry(1, None, &["包邮吗"]));
    ix.upsert(entry(2, Some(7), &["七号店发什么快递"]));
    let mut off = entry(3, None, &["可以开发票吗"]);
    off.enabled = false;
    ix.upsert(off);
    assert!(ix.is_visible(1, Some(8)) && ix.is_visible(1, None));
    assert!(ix.is_visible(2, Some(7)) && ix.is_visible(2, None));
    assert!(!ix.is_visible(2, Some(8)), "another shop's entry");
    assert!(!ix.is_visible(3, None), "a disabled entry");
    assert!(ix.remove(1));
    assert!(!ix.is_visible(1, None), "a removed entry");
    assert!(!ix.is_visible(99, None), "an unknown entry");
}
