//! Picking the buyer's messages out of the lines read off a chat panel
//! (docs/desktop-agent.md, "Reading a chat panel").
//!
//! A chat panel shows each message as a header line — the sender's name and the time —
//! above one or more lines of bubble text; the buyer's on the left of the panel, the
//! seller's on the right. So:
//! - a line that ends with a time (`10:21`, `10:21:33`, optionally after a date) is a
//!   header, and what comes before the time is the sender's name;
//! - a line is on the buyer's side when it is nearer the panel's left edge than its
//!   right edge; lines centred in the panel (notices such as "以下为新消息") are neither;
//! - the buyer's lines under a buyer header belong to that buyer, and lines closer than
//!   a line's height belong to one bubble, joined into one message.
//!
//! Buyer text with no buyer header above it on the panel cannot be attributed and is
//! left out (counted in [`Extraction::unattributed`]).

use crate::ocr::Line;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyerMessage {
    /// The buyer's name as the chat shows it.
    pub customer_id: String,
    pub text: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Extraction {
    pub messages: Vec<BuyerMessage>,
    /// Buyer-side lines with no buyer header above them.
    pub unattributed: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Buyer,
    Seller,
    Centre,
}

fn side(line: &Line, panel_width: u32) -> Side {
    let left = line.x();
    let right = panel_width.saturating_sub(line.x() + line.width());
    // Centred within 5 % of the panel's width.
    if left.abs_diff(right) * 20 <= panel_width && left > panel_width / 10 {
        Side::Centre
    } else if left <= right {
        Side::Buyer
    } else {
        Side::Seller
    }
}

/// When `text` ends with a time, the text before it (and before any date), trimmed.
pub fn header_name(text: &str) -> Option<String> {
    // OCR reads a colon full-width at times, and puts spaces around it.
    let mut chars: Vec<char> = Vec::new();
    for c in text.trim().chars() {
        let c = if c == '：' { ':' } else { c };
        if c == ':' {
            while chars.last().is_some_and(|c| c.is_whitespace()) {
                chars.pop();
            }
        } else if c.is_whitespace() && chars.last() == Some(&':') {
            continue;
        }
        chars.push(c);
    }
    // H:MM or HH:MM, optionally followed by :SS.
    let mut end = chars.len();
    let two_digits = |at: usize| at >= 2 && chars[at - 2..at].iter().all(char::is_ascii_digit);
    let clock = |end: usize| end >= 3 && chars[end - 3] == ':' && two_digits(end);
    if !clock(end) {
        return None;
    }
    end -= 3;
    if clock(end) {
        end -= 3;
    }
    let hour_digits = chars[..end]
        .iter()
        .rev()
        .take(2)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if hour_digits == 0 {
        return None;
    }
    end -= hour_digits;
    // A date before the time: digits and -, / or . (2026-12-02, 12/02, 12.02).
    let mut name_end = end;
    let date_char = |c: &char| c.is_ascii_digit() || matches!(c, '-' | '/' | '.' | ' ');
    let date_len = chars[..name_end]
        .iter()
        .rev()
        .take_while(|c| date_char(c))
        .count();
    if chars[name_end - date_len..name_end]
        .iter()
        .any(|c| matches!(c, '-' | '/' | '.'))
    {
        name_end -= date_len;
    }
    Some(
        chars[..name_end]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned(),
    )
}

/// The buyer messages of a panel `panel_width` pixels wide, given its lines in reading
/// order.
pub fn buyer_messages(lines: &[Line], panel_width: u32) -> Extraction {
    let mut out = Extraction::default();
    // The buyer of the block being read, if the block is the buyer's.
    let mut buyer: Option<String> = None;
    // The bubble being read: its text and the bottom of its last line.
    let mut bubble: Option<(String, u32, u32)> = None;
    fn finish(
        bubble: &mut Option<(String, u32, u32)>,
        buyer: &Option<String>,
        out: &mut Extraction,
    ) {
        if let (Some((text, _, _)), Some(name)) = (bubble.take(), buyer) {
            out.messages.push(BuyerMessage {
                customer_id: name.clone(),
                text,
            });
        }
    }
    for line in lines {
        let side = side(line, panel_width);
        if let Some(name) = header_name(&line.text) {
            finish(&mut bubble, &buyer, &mut out);
            buyer = (side == Side::Buyer && !name.is_empty()).then_some(name);
            continue;
        }
        match side {
            Side::Buyer if buyer.is_none() => out.unattributed += 1,
            Side::Buyer => {
                let text = line.text.trim();
                match &mut bubble {
                    // The next line of the same bubble: closer than a line's height.
                    Some((so_far, bottom, height))
                        if line.y() < *bottom + (*height).max(line.height()) =>
                    {
                        join(so_far, text);
                        *bottom = line.y() + line.height();
                        *height = line.height();
                    }
                    _ => {
                        finish(&mut bubble, &buyer, &mut out);
                        bubble = Some((text.to_owned(), line.y() + line.height(), line.height()));
                    }
                }
            }
            Side::Seller | Side::Centre => {
                finish(&mut bubble, &buyer, &mut out);
                if side == Side::Seller {
                    buyer = None;
                }
            }
        }
    }
    finish(&mut bubble, &buyer, &mut out);
    out
}

/// Appends a wrapped line: with a space between two Latin words, directly otherwise.
fn join(so_far: &mut String, next: &str) {
    let latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if latin(so_far.chars().last()) && latin(next.chars().next()) {
        so_far.push(' ');
    }
    so_far.push_str(next);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, x: u32, y: u32, w: u32) -> Line {
        Line {
            text: text.into(),
            bounds: [x, y, w, 16],
            confidence: 0.99,
        }
    }

    #[test]
    fn headers_give_the_senders_name() {
        assert_eq!(
            header_name("tb_buyer88 10:21:33").as_deref(),
            Some("tb_buyer88")
        );
        assert_eq!(header_name("小王 2026-12-02 9:05").as_deref(), Some("小王"));
        assert_eq!(header_name("小王 12/02 09:05:10").as_deref(), Some("小王"));
        assert_eq!(header_name("10:21").as_deref(), Some(""));
        // As OCR reads them: spaces around the colons, a full-width colon.
        assert_eq!(
            header_name("tb_buyer88 10: 25: 02").as_deref(),
            Some("tb_buyer88")
        );
        assert_eq!(header_name("店小二10：22：01").as_deref(), Some("店小二"));
        for not_a_header in [
            "什么时候发货",
            "明天10:30能发吗？",
            "比分 3:2",
            "10:2",
            ":30",
        ] {
            assert_eq!(header_name(not_a_header), None, "{not_a_header}");
        }
    }

    #[test]
    fn the_buyers_bubbles_are_kept_the_sellers_and_notices_dropped() {
        let w = 600;
        let lines = vec![
            line("tb_buyer88 10:21:33", 20, 10, 180),
            line("你好，这件衣服有货吗", 20, 32, 200),
            line("还有L码吗", 20, 80, 100),
            line("店小二 10:22:01", 420, 120, 160),
            line("有的亲，L码有货", 400, 142, 180),
            line("以下为新消息", 250, 180, 100),
            line("tb_buyer88 10:23:40", 20, 210, 180),
            line("什么时候发货？我急用，", 20, 232, 240),
            line("今天能发吗", 20, 250, 120),
        ];
        let found = buyer_messages(&lines, w);
        let texts: Vec<_> = found.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "你好，这件衣服有货吗",
                "还有L码吗",
                "什么时候发货？我急用，今天能发吗"
            ]
        );
        assert!(found.messages.iter().all(|m| m.customer_id == "tb_buyer88"));
        assert_eq!(found.unattributed, 0);
    }

    #[test]
    fn buyer_text_without_a_header_is_counted_not_guessed() {
        let lines = vec![
            line("（上一页的消息）", 20, 0, 200),
            line("Alice 09:00", 20, 40, 100),
            line("is this in stock", 20, 62, 200),
            line("in size M", 20, 80, 120),
        ];
        let found = buyer_messages(&lines, 600);
        assert_eq!(found.unattributed, 1);
        assert_eq!(
            found.messages,
            vec![BuyerMessage {
                customer_id: "Alice".into(),
                text: "is this in stock in size M".into()
            }]
        );
    }
}
