//! Generated text for calibration, tests and benches (never used to serve).
//!
//! - [`seller_faq`] / [`unrelated`]: a small seller knowledge base and a list of
//!   messages no shop answers, both written for this project (`fixtures/`).
//! - [`calibration_shops`] / [`calibration_negatives`]: the larger calibration
//!   corpus (`fixtures/calibration_*.txt`, written for this project): several
//!   shops' knowledge bases with natural buyer phrasings of every entry, and
//!   near-domain and unrelated messages they do not answer.
//! - [`perturb`]: buyer-style rewrites of a question (greetings, particles,
//!   synonyms, dropped or swapped characters, reordered halves, context clauses,
//!   truncation) — the positives of the calibration data.
//! - [`synthetic_kb`]: any number of FAQ-like entries from combinatorial fragments,
//!   for the benches.
//!
//! Everything is driven by [`Rng`], a seeded SplitMix64, so a seed gives the same
//! text on every machine.

use super::Entry;

const SELLER_FAQ: &str = include_str!("fixtures/seller_faq.txt");
const UNRELATED: &str = include_str!("fixtures/unrelated.txt");
const CALIBRATION_FAQ: &str = include_str!("fixtures/calibration_faq.txt");
const CALIBRATION_NEGATIVES: &str = include_str!("fixtures/calibration_negatives.txt");

/// SplitMix64: tiny, seedable, good enough for sampling test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; 0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// [`Rng::pick`] for word lists (spares callers a type annotation).
    pub fn word(&mut self, words: &[&'static str]) -> &'static str {
        words[self.below(words.len())]
    }
}

/// The seller FAQ fixture: one `Vec` of texts per entry, question first.
pub fn seller_faq() -> Vec<Vec<&'static str>> {
    lines(SELLER_FAQ)
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .collect()
}

/// The unrelated-messages fixture.
pub fn unrelated() -> Vec<&'static str> {
    lines(UNRELATED).collect()
}

/// One `[name]` section of a calibration fixture: its lines, each split at `|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: &'static str,
    pub items: Vec<Vec<&'static str>>,
}

/// The calibration knowledge bases (`fixtures/calibration_faq.txt`): `[common]`
/// first (what every shop is asked), then one section per kind of shop. Each item
/// is an entry: its FAQ question, then buyer phrasings of the same intent.
pub fn calibration_shops() -> Vec<Section> {
    sections(CALIBRATION_FAQ)
}

/// The calibration negatives (`fixtures/calibration_negatives.txt`): per shop
/// section (and `[common]`) near-domain questions its knowledge base does not
/// answer, and `[unrelated]` messages. Each item has one text.
pub fn calibration_negatives() -> Vec<Section> {
    sections(CALIBRATION_NEGATIVES)
}

fn sections(s: &'static str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for l in lines(s) {
        if let Some(name) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push(Section {
                name,
                items: Vec::new(),
            });
        } else if let Some(section) = out.last_mut() {
            section.items.push(
                l.split('|')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .collect(),
            );
        }
    }
    out
}

fn lines(s: &'static str) -> impl Iterator<Item = &'static str> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The seller FAQ as index entries (ids 1.., no shop, enabled).
pub fn seller_faq_entries() -> Vec<Entry> {
    seller_faq()
        .into_iter()
        .enumerate()
        .map(|(i, texts)| Entry {
            id: i as i64 + 1,
            shop_id: None,
            texts: texts.into_iter().map(String::from).collect(),
            enabled: true,
        })
        .collect()
}

/// A lexical index of the seller FAQ, and the id of one of its questions (tests).
#[cfg(test)]
pub fn seller_faq_index() -> super::LexicalIndex {
    let mut ix = super::LexicalIndex::default();
    for e in seller_faq_entries() {
        ix.upsert(e);
    }
    ix
}

#[cfg(test)]
pub fn seller_faq_id(question: &str) -> i64 {
    seller_faq_entries()
        .into_iter()
        .find(|e| e.texts[0] == question)
        .map(|e| e.id)
        .unwrap_or_else(|| panic!("no FAQ question {question}"))
}

const PREFIXES: &[&str] = &[
    "亲，",
    "你好，",
    "请问",
    "在吗？",
    "老板，",
    "我想问一下，",
    "麻烦问下",
    "客服你好，",
    "hello，",
    "您好，请问",
];
const SUFFIXES: &[&str] = &["吗", "呢", "？", "啊", "呀", "？？", "。", "的呢", "啊？"];
const CONTEXTS: &[&str] = &[
    "我昨天下的单，",
    "刚买的，",
    "第一次在你们家买，",
    "朋友推荐来的，",
    "之前买过一次，",
    "着急用，",
    "请帮我看看，",
    "我看了详情页，",
    "想给家里人买，",
];
const FILLERS: &[&str] = &["还", "就", "都", "这个", "那个", "我", "的", "也", "一下"];

/// Interchangeable words (generic buyer phrasing, written for this project).
const SYNONYMS: &[&[&str]] = &[
    &["怎么", "如何", "怎样", "咋"],
    &["什么时候", "多久", "啥时候", "几时"],
    &["可以", "能", "能不能", "可不可以"],
    &["为什么", "为啥", "怎么"],
    &["没有", "没", "还没"],
    &["退款", "退钱"],
    &["发货", "发出", "寄出"],
    &["快递", "物流"],
    &["收到", "拿到"],
    &["买", "购买", "拍"],
    &["商品", "东西", "宝贝"],
    &["付款", "支付", "付钱"],
    &["取消", "撤销"],
    &["修改", "更改", "改"],
    &["申请", "提交"],
    &["多少", "几"],
    &["不能", "无法", "不可以"],
    &["衣服", "衣物"],
    &["订单", "单子"],
    &["优惠", "折扣"],
    &["客服", "人工"],
    &["尺码", "码数", "号码"],
    &["退货", "退回"],
    &["换货", "更换"],
    &["运费", "邮费"],
    &["查", "查看", "看"],
    &["用", "使用"],
];

/// A buyer-style rewrite of `text` with `ops` random edits (see the module doc).
pub fn perturb(text: &str, rng: &mut Rng, ops: usize) -> String {
    let mut t: Vec<char> = text.chars().collect();
    for _ in 0..ops {
        match rng.below(9) {
            0 => insert(&mut t, 0, rng.word(PREFIXES)),
            1 => t.extend(rng.pick(SUFFIXES).chars()),
            2 => {
                if !swap_synonym(&mut t, rng) {
                    t.extend(rng.pick(SUFFIXES).chars());
                }
            }
            3 if t.len() > 3 => {
                let i = 1 + rng.below(t.len() - 1);
                t.remove(i);
            }
            4 => {
                let i = rng.below(t.len() + 1);
                insert(&mut t, i, rng.word(FILLERS));
            }
            5 if t.len() > 2 => {
                let i = rng.below(t.len() - 1);
                t.swap(i, i + 1);
            }
            6 if t.len() > 5 => {
                let cut = t.len() / 3 + rng.below(t.len() / 3 + 1);
                t.rotate_left(cut);
            }
            7 => insert(&mut t, 0, rng.word(CONTEXTS)),
            8 if t.len() > 5 => {
                let keep = (t.len() * (70 + rng.below(16)) / 100).max(3);
                t.truncate(keep);
            }
            _ => t.extend(rng.pick(SUFFIXES).chars()),
        }
    }
    t.into_iter().collect()
}

fn insert(t: &mut Vec<char>, at: usize, s: &str) {
    let tail = t.split_off(at);
    t.extend(s.chars());
    t.extend(tail);
}

/// Replaces one occurrence of a synonym-group word with another word of its group.
fn swap_synonym(t: &mut Vec<char>, rng: &mut Rng) -> bool {
    let s: String = t.iter().collect();
    let mut found: Vec<(usize, &str, &[&str])> = Vec::new();
    for group in SYNONYMS {
        for w in group.iter() {
            if let Some(at) = s.find(w) {
                found.push((at, w, group));
            }
        }
    }
    if found.is_empty() {
        return false;
    }
    let (at, w, group) = found[rng.below(found.len())];
    let others: Vec<&str> = group.iter().copied().filter(|g| g != &w).collect();
    let new = format!("{}{}{}", &s[..at], rng.pick(&others), &s[at + w.len()..]);
    *t = new.chars().collect();
    true
}

const ITEMS: &[&str] = &[
    "连衣裙",
    "羽绒服",
    "运动鞋",
    "手机壳",
    "保温杯",
    "床单",
    "台灯",
    "背包",
    "牛仔裤",
    "衬衫",
    "卫衣",
    "围巾",
    "帽子",
    "袜子",
    "拖鞋",
    "枕头",
    "被子",
    "毛巾",
    "水杯",
    "餐具",
    "锅具",
    "收纳盒",
    "行李箱",
    "耳机",
    "充电器",
    "数据线",
    "键盘",
    "鼠标",
    "音箱",
    "手表",
    "项链",
    "耳环",
    "口红",
    "面霜",
    "洗发水",
    "沐浴露",
    "牙刷",
    "玩具",
    "积木",
    "绘本",
    "奶瓶",
    "童装",
    "狗粮",
    "猫砂",
    "茶叶",
    "咖啡",
    "坚果",
    "零食",
    "大米",
    "食用油",
    "窗帘",
    "地毯",
    "沙发套",
    "衣架",
    "雨伞",
    "墨镜",
    "钱包",
    "皮带",
];
const ASPECTS: &[&str] = &[
    "发货",
    "退货",
    "换货",
    "尺码",
    "材质",
    "颜色",
    "价格",
    "保修",
    "安装",
    "包装",
    "赠品",
    "库存",
    "运费",
    "发票",
    "优惠",
    "质量",
    "清洗",
    "尺寸",
    "重量",
    "产地",
    "保质期",
    "使用方法",
    "售后",
    "物流",
    "预售",
];
const TEMPLATES: &[&str] = &[
    "{i}的{a}怎么处理",
    "{i}{a}有什么要求",
    "买的{i}{a}多久",
    "{i}可以{v}吗",
    "{i}{a}能不能{v}",
    "为什么{i}的{a}还没有{v}",
    "{i}{a}是什么标准",
    "请问{i}支持{v}吗",
    "{i}怎么{v}",
    "{i}{a}问题找谁",
    "{i}和{j}可以一起{v}吗",
    "{i}的{a}和{j}一样吗",
    "收到的{i}{a}不对怎么办",
    "{i}{a}可以改吗",
];
const VERBS: &[&str] = &[
    "退", "换", "发", "寄", "修", "开票", "包邮", "定制", "分期", "自提", "加急", "保价", "验货",
    "试用",
];

/// `n` FAQ-like entries (ids 1..=n, no shop, enabled), each with a question and
/// 0–2 similar questions, from combinatorial fragments; seeded.
pub fn synthetic_kb(n: usize, seed: u64) -> Vec<Entry> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let (item, other) = (*rng.pick(ITEMS), *rng.pick(ITEMS));
            let (aspect, verb) = (*rng.pick(ASPECTS), *rng.pick(VERBS));
            let make = |rng: &mut Rng| {
                rng.pick(TEMPLATES)
                    .replace("{i}", item)
                    .replace("{j}", other)
                    .replace("{a}", aspect)
                    .replace("{v}", verb)
            };
            let q = make(&mut rng);
            let mut texts = vec![format!("{q}{}", i % 97)];
            for _ in 0..rng.below(3) {
                let s = make(&mut rng);
                texts.push(perturb(&s, &mut rng, 1));
            }
            Entry {
                id: i as i64 + 1,
                shop_id: None,
                texts,
                enabled: true,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_parse() {
        let faq = seller_faq();
        assert!(faq.len() >= 100, "{}", faq.len());
        assert!(faq
            .iter()
            .all(|e| !e.is_empty() && e.iter().all(|t| !t.contains('|'))));
        assert!(unrelated().len() >= 100);
    }

    #[test]
    fn calibration_fixtures_parse_into_shops() {
        let shops = calibration_shops();
        let names: Vec<&str> = shops.iter().map(|s| s.name).collect();
        assert_eq!(names[0], "common");
        assert!(shops.len() >= 4, "{names:?}");
        let entries: usize = shops.iter().map(|s| s.items.len()).sum();
        assert!(entries >= 300, "{entries}");
        // Every entry has its question and at least two more phrasings, no text is
        // in two entries of the same knowledge base, and no line is left outside a
        // section.
        let mut seen = std::collections::HashMap::new();
        for (si, s) in shops.iter().enumerate() {
            for e in &s.items {
                assert!(e.len() >= 3, "{e:?}");
                for t in e {
                    let prev = seen.insert(*t, si);
                    assert!(prev.is_none_or(|p| p != si && p != 0 && si != 0), "{t}");
                }
            }
        }
        let negatives = calibration_negatives();
        for n in &negatives {
            assert!(
                n.name == "unrelated" || names.contains(&n.name),
                "{}",
                n.name
            );
            assert!(n.items.iter().all(|i| i.len() == 1));
        }
        let count: usize = negatives.iter().map(|s| s.items.len()).sum();
        assert!(count >= 400, "{count}");
    }

    #[test]
    fn generation_is_seeded() {
        let a: Vec<String> = (0..20)
            .map(|i| perturb("下单后多久发货", &mut Rng::new(i), 3))
            .collect();
        let b: Vec<String> = (0..20)
            .map(|i| perturb("下单后多久发货", &mut Rng::new(i), 3))
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|p| p != "下单后多久发货"));
        assert_eq!(synthetic_kb(50, 7), synthetic_kb(50, 7));
        assert_ne!(synthetic_kb(50, 7), synthetic_kb(50, 8));
    }
}
