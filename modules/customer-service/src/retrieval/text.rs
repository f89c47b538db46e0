//! Text analysis shared by indexing and search: normalisation, then character
//! unigrams + bigrams.
//!
//! Why characters and not words: Chinese has no spaces, buyer messages are short,
//! informal and full of typos, and word segmenters (jieba) split the same phrase
//! differently in a question and its paraphrase. Overlapping character bigrams keep
//! the word-order signal, unigrams keep partial matches alive when one character
//! of a bigram differs ("退款" vs "退钱" still share "退"). Prototyped on the cs-eval
//! set, uni+bigrams beat bigrams alone and jieba words.
//!
//! Normalisation (in this order, see [`normalize`]):
//! 1. NFKC (full-width Latin, digits and punctuation become half-width, compatibility
//!    forms are unified) and lower case;
//! 2. everything that is not a letter or a digit is dropped (punctuation, spaces,
//!    emoji, the `***` masks of redacted numbers);
//! 3. one left-to-right, longest-first pass over [`FOLDS`] (a few common typos of
//!    seller-domain words; words that carry no intent — 的, 了, pronouns, "请问" —
//!    dropped) and, by default, [`QUESTION_FOLDS`] (yes/no question forms and
//!    interrogative synonyms folded to one spelling);
//! 4. greetings and attention words at the start ("亲", "你好", "在吗") and
//!    sentence-final particles at the end (吗 呢 啊 吧 呀 嘛 …) are stripped.
//!
//! A message made only of greetings and particles normalises to the empty string and
//! therefore matches nothing, which is what the routing wants.
//!
//! Traditional/simplified conversion is deliberately not done (not required, and a
//! full table is large); the fold table covers the one traditional character buyers
//! commonly type in this domain (唄).

use unicode_normalization::UnicodeNormalization;

/// Which fold tables [`normalize_with`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Folding {
    /// [`FOLDS`] only: typos of domain words and words without intent (the issue's
    /// prototype).
    Basic,
    /// [`FOLDS`] + [`QUESTION_FOLDS`] (the default).
    #[default]
    Full,
}

/// Fold table: `(from, to)`; `to` empty = drop. Applied in one left-to-right pass,
/// longest `from` first at each position, so an entry can also protect a word from a
/// shorter rule (`了解` stays, although `了` alone is dropped).
///
/// Kept deliberately small and generic; every line is a rule a Chinese reader would
/// accept without data:
/// - typos and variants of payment/shop words buyers type (homophones, the
///   traditional 唄): 花呗, 借呗, 包邮, 尺码, 快递, 发票, 退货;
/// - words without intent: 的, 了, personal pronouns, "请问", "你好", "谢谢", "一下".
pub const FOLDS: &[(&str, &str)] = &[
    // protected words (identity) that contain a dropped character
    ("了解", "了解"),
    ("的确", "的确"),
    ("目的", "目的"),
    ("为了", "为了"),
    ("除了", "除了"),
    // typos / variants of domain words
    ("花唄", "花呗"),
    ("花贝", "花呗"),
    ("花被", "花呗"),
    ("借唄", "借呗"),
    ("借贝", "借呗"),
    ("借被", "借呗"),
    ("包油", "包邮"),
    ("尺吗", "尺码"),
    ("快第", "快递"),
    ("发漂", "发票"),
    ("退贷", "退货"),
    // no intent
    ("请问", ""),
    ("你好", ""),
    ("您好", ""),
    ("谢谢", ""),
    ("一下", ""),
    ("的话", ""),
    ("我们", ""),
    ("你们", ""),
    ("我", ""),
    ("你", ""),
    ("您", ""),
    ("的", ""),
    ("了", ""),
];

/// Question forms folded to one spelling ([`Folding::Full`]):
/// - yes/no forms ("能不能", "可不可以", "是否") mean the plain verb followed by 吗,
///   which the final-particle step strips: fold them to the plain verb;
/// - interrogative synonyms (如何/怎样/咋 → 怎么, 为啥/为何 → 为什么, 何时/啥时候 →
///   什么时候, 啥 → 什么).
pub const QUESTION_FOLDS: &[(&str, &str)] = &[
    ("可不可以", "能"),
    ("能不能够", "能"),
    ("能不能", "能"),
    ("能否", "能"),
    ("可否", "能"),
    ("可以", "能"),
    ("能够", "能"),
    ("是不是", "是"),
    ("是否", "是"),
    ("有没有", "有"),
    ("会不会", "会"),
    ("要不要", "要"),
    ("支不支持", "支持"),
    ("怎么样", "怎么"),
    ("怎样", "怎么"),
    ("如何", "怎么"),
    ("咋样", "怎么"),
    ("咋", "怎么"),
    ("为啥", "为什么"),
    ("为何", "为什么"),
    ("何时", "什么时候"),
    ("啥时候", "什么时候"),
    ("几时", "什么时候"),
    ("啥", "什么"),
];

/// Greetings and attention words stripped from the start (repeatedly).
/// "亲" (the seller-chat "dear") is handled apart: it also starts 亲子 (parent-child
/// products) and a few other words.
const LEADING: &[&str] = &[
    "在不在",
    "在吗",
    "老板",
    "客服",
    "掌柜",
    "亲爱",
    "亲亲",
    "hello",
    "hi",
    "哈喽",
    "嗨",
    "喂",
    "那个",
    "就是",
];

/// Words that start with 亲 and must keep it.
const QIN_WORDS: &[char] = &['子', '戚', '自', '手', '人', '友', '情', '密', '肤'];

/// Sentence-final particles stripped from the end (repeatedly).
const TRAILING: &[char] = &[
    '吗', '呢', '啊', '吧', '呀', '嘛', '哦', '哈', '啦', '呐', '哇', '喔', '噢',
];

/// 么 ends "能用么" (= 吗) but also 什么, 怎么, 这么, 那么, 多么: strip it only after
/// any other character.
const ME_KEEPERS: &[char] = &['什', '怎', '这', '那', '多', '要', '干'];

/// Normalises `text` for matching with [`Folding::Full`] (see the module doc).
pub fn normalize(text: &str) -> String {
    normalize_with(text, Folding::Full)
}

/// Normalises `text` for matching with the given fold tables.
pub fn normalize_with(text: &str, folding: Folding) -> String {
    let mut kept = String::with_capacity(text.len());
    for c in text.nfkc() {
        for l in c.to_lowercase() {
            if l.is_alphanumeric() {
                kept.push(l);
            }
        }
    }
    let folded = fold(&kept, folding);
    strip_edges(&folded).to_owned()
}

/// One longest-first pass of [`FOLDS`] (and [`QUESTION_FOLDS`]) over `s`.
fn fold(s: &str, folding: Folding) -> String {
    let extra: &[(&str, &str)] = match folding {
        Folding::Basic => &[],
        Folding::Full => QUESTION_FOLDS,
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while let Some(c) = rest.chars().next() {
        // Longest `from` first: the table is short, and most characters start no rule.
        let mut best: Option<&(&str, &str)> = None;
        let first = rest.as_bytes()[0];
        for rule in FOLDS.iter().chain(extra) {
            if rule.0.as_bytes()[0] == first
                && rest.starts_with(rule.0)
                && best.is_none_or(|b| rule.0.len() > b.0.len())
            {
                best = Some(rule);
            }
        }
        if let Some((from, to)) = best {
            out.push_str(to);
            rest = &rest[from.len()..];
            continue 'outer;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Strips [`LEADING`] words (and a leading 亲) and [`TRAILING`] particles until
/// none is left at either end.
fn strip_edges(mut s: &str) -> &str {
    loop {
        let before = s.len();
        loop {
            let start = s.len();
            for w in LEADING {
                if let Some(r) = s.strip_prefix(w) {
                    s = r;
                }
            }
            if let Some(r) = s.strip_prefix('亲') {
                if !r.starts_with(QIN_WORDS) {
                    s = r;
                }
            }
            if s.len() == start {
                break;
            }
        }
        if let Some(r) = s.strip_suffix(TRAILING) {
            s = r;
        }
        if let Some(r) = s.strip_suffix('么') {
            if !r.is_empty() && !r.ends_with(ME_KEEPERS) {
                s = r;
            }
        }
        if s.len() == before {
            return s;
        }
    }
}

/// Splits a normalised text into units: each CJK (or other non-ASCII) character is a
/// unit; a run of ASCII letters or a run of ASCII digits is one unit ("xl", "iphone",
/// "15"), because a Latin word or a number means nothing letter by letter.
pub fn units(normalized: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(normalized.len() / 2);
    let mut chars = normalized.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let class = ascii_class(c);
        if class != 0 {
            while let Some(&(_, n)) = chars.peek() {
                if ascii_class(n) != class {
                    break;
                }
                chars.next();
            }
        }
        let end = chars.peek().map_or(normalized.len(), |&(j, _)| j);
        out.push(&normalized[i..end]);
    }
    out
}

/// 1 = ASCII letter, 2 = ASCII digit, 0 = anything else.
fn ascii_class(c: char) -> u8 {
    if c.is_ascii_alphabetic() {
        1
    } else if c.is_ascii_digit() {
        2
    } else {
        0
    }
}

/// A token: one unit, or two adjacent units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gram<'a> {
    Uni(&'a str),
    Bi(&'a str, &'a str),
}

/// Unigrams of every unit and bigrams of every adjacent pair, in text order.
pub fn grams<'a>(units: &[&'a str]) -> Vec<Gram<'a>> {
    let mut out = Vec::with_capacity(units.len() * 2);
    for (i, u) in units.iter().enumerate() {
        out.push(Gram::Uni(u));
        if let Some(next) = units.get(i + 1) {
            out.push(Gram::Bi(u, next));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_case_and_punctuation_are_unified() {
        assert_eq!(normalize("ＸＬ码，有货？"), normalize("xl码 有货?"));
        assert_eq!(normalize("ＸＬ码，有货？"), "xl码有货");
        assert_eq!(normalize("７天无理由！！"), "7天无理由");
        // masks of redacted numbers and emoji are dropped
        assert_eq!(normalize("订单***还没发货😭"), "订单还没发货");
    }

    #[test]
    fn particles_and_greetings_are_stripped() {
        assert_eq!(normalize("亲，在吗？什么时候发货呀"), "什么时候发货");
        assert_eq!(normalize("能退货吗"), "能退货");
        assert_eq!(normalize("发货了吗？"), "发货");
        assert_eq!(normalize("你好，请问我的快递到哪了呢"), "快递到哪");
        // only greetings: nothing left to match
        assert_eq!(normalize("在吗？"), "");
        assert_eq!(normalize("你好呀"), "");
        assert_eq!(normalize("亲在吗"), "");
        // 么 as a particle goes, 么 of 什么/怎么 stays; 亲 of 亲子 stays
        assert_eq!(normalize("能用花呗么"), normalize("能用花呗吗"));
        assert_eq!(normalize("这是什么"), "这是什么");
        assert_eq!(normalize("亲子装有吗"), "亲子装有");
    }

    #[test]
    fn question_forms_and_synonyms_fold_to_one_spelling() {
        assert_eq!(normalize("可不可以开发票"), normalize("能开发票吗"));
        assert_eq!(normalize("是否包邮"), normalize("是包邮吗"));
        assert_eq!(normalize("如何修改地址"), normalize("怎么修改地址"));
        assert_eq!(normalize("啥时候到货"), normalize("什么时候到货"));
        assert_eq!(normalize("为啥还没发货"), normalize("为什么还没发货"));
    }

    #[test]
    fn basic_folding_keeps_question_forms() {
        assert_eq!(
            normalize_with("如何修改地址", Folding::Basic),
            "如何修改地址"
        );
        assert_eq!(normalize_with("可以开发票吗", Folding::Basic), "可以开发票");
        assert_eq!(normalize_with("我的快递到了吗", Folding::Basic), "快递到");
    }

    #[test]
    fn typo_table_folds_domain_words() {
        assert_eq!(normalize("能用花贝吗"), normalize("能用花呗吗"));
        assert_eq!(normalize("包油吗"), "包邮");
        assert_eq!(normalize("尺吗偏大吗"), "尺码偏大");
    }

    #[test]
    fn protected_words_keep_their_particle_character() {
        assert_eq!(normalize("我想了解一下会员"), "想了解会员");
        assert_eq!(normalize("为了安全"), "为了安全");
    }

    #[test]
    fn units_group_ascii_runs() {
        assert_eq!(
            units("iphone15手机壳"),
            vec!["iphone", "15", "手", "机", "壳"]
        );
        assert_eq!(units("xl码"), vec!["xl", "码"]);
        assert!(units("").is_empty());
    }

    #[test]
    fn grams_are_unigrams_and_adjacent_bigrams() {
        let u = units("退货");
        assert_eq!(
            grams(&u),
            vec![Gram::Uni("退"), Gram::Bi("退", "货"), Gram::Uni("货")]
        );
        assert_eq!(grams(&units("退")), vec![Gram::Uni("退")]);
    }
}
