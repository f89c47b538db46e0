//! Text detection: PP-OCRv4's DB (differentiable binarisation) network gives each pixel
//! a probability of being text; boxes are the connected regions of that map, scored,
//! grown back to the glyphs' full extent ("unclipped") and scaled to the image.
//!
//! The reference finds the regions with OpenCV's contours and fits each a rotated
//! minimum-area rectangle. Text on a screen is horizontal, so here a region's box is its
//! axis-aligned bounding rectangle, which is what the rotated fit gives for it; that
//! keeps the post-processing to a labelling pass instead of a computational-geometry
//! crate. Growing an axis-aligned rectangle by the unclip distance with round joins,
//! then fitting a rectangle again, is the same rectangle grown by that distance.

use std::path::Path;

use anyhow::Context;
use image::imageops::{self, FilterType};
use image::RgbImage;
use tract_onnx::prelude::*;

use super::{normalised_bgr, Plans};

/// The shorter side is scaled up to this many pixels (`limit_side_len`, `limit_type:
/// min`): the network was trained on text of that scale.
const MIN_SIDE: u32 = 736;
/// A pixel is text above this probability (`thresh`) …
const PIXEL_THRESHOLD: f32 = 0.3;
/// … and a region is a text box when its mean probability is at least this
/// (`box_thresh`).
const BOX_THRESHOLD: f32 = 0.5;
const UNCLIP_RATIO: f32 = 1.6;
const MIN_BOX_SIDE: f32 = 3.0;
const MAX_CANDIDATES: usize = 1000;
/// The network runs on at most this many pixels at once (736 × 576): a taller image is
/// read in horizontal strips. The activations of one run grow with its pixels (about
/// 85 bytes each), and they were half of the agent's memory when a 600 × 800 region ran
/// whole (736 × 992, 62 MiB; docs/performance.md).
const MAX_RUN_PIXELS: usize = 736 * 576;
/// Adjacent strips overlap by at least this many rows, and each gives the map up to the
/// middle of the overlap: a pixel's probability then comes from a strip that sees at
/// least 48 rows (one and a half cells of the network's coarsest, 1/32 scale) beyond it.
const STRIP_OVERLAP: usize = 96;

/// A text box's corners in the detected image's pixels (`x1`, `y1` excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextBox {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

pub struct Detector {
    plans: Plans,
}

impl Detector {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        // Fail at load, not at the first frame, when the file is no detection network.
        // The plan is not kept: the regions read are seldom this size.
        super::plan_file(path, [1, 3, MIN_SIDE as usize, MIN_SIDE as usize])?;
        Ok(Self {
            plans: Plans::new(path),
        })
    }

    /// The text boxes of `image`, top to bottom, and left to right within a row.
    pub fn detect(&self, image: &RgbImage) -> anyhow::Result<Vec<TextBox>> {
        let (width, height) = image.dimensions();
        let ratio = if width.min(height) < MIN_SIDE {
            MIN_SIDE as f32 / width.min(height) as f32
        } else {
            1.0
        };
        let side = |v: u32| super::round_to_32((v as f32 * ratio) as u32);
        let (net_w, net_h) = (side(width), side(height));
        if net_w == 0 || net_h == 0 {
            return Ok(Vec::new());
        }
        let resized = imageops::resize(image, net_w, net_h, FilterType::Triangle);
        let (nw, nh) = (net_w as usize, net_h as usize);
        let mut map = vec![0f32; nw * nh];
        let strips = strips(nw, nh);
        for (i, strip) in strips.iter().enumerate() {
            let rows = imageops::crop_imm(&resized, 0, strip.top as u32, net_w, strip.rows as u32);
            let output = self.probabilities(&rows.to_image())?;
            let view = output.to_plain_array_view::<f32>()?;
            let part = view
                .as_slice()
                .context("detection output is not contiguous")?;
            // This strip gives the rows from the middle of its overlap with the one
            // above to the middle of its overlap with the one below.
            let from = i
                .checked_sub(1)
                .map_or(0, |above| (strips[above].bottom() + strip.top) / 2);
            let to = strips
                .get(i + 1)
                .map_or(nh, |next| (next.top + strip.bottom()) / 2);
            map[from * nw..to * nw]
                .copy_from_slice(&part[(from - strip.top) * nw..(to - strip.top) * nw]);
        }
        let mut boxes = boxes(&map, nw, nh, width, height);
        sort_reading_order(&mut boxes);
        Ok(boxes)
    }

    /// The network's text probability for each pixel of `image` (`[1, 1, h, w]`).
    fn probabilities(&self, image: &RgbImage) -> anyhow::Result<TValue> {
        let (nw, nh) = (image.width() as usize, image.height() as usize);
        let input = Tensor::from_shape(&[1, 3, nh, nw], &normalised_bgr(image, nw))?;
        let mut output = self.plans.get([1, 3, nh, nw])?.run(tvec!(input.into()))?;
        let map = output.swap_remove(0);
        anyhow::ensure!(
            map.shape() == [1, 1, nh, nw],
            "unexpected detection output shape {:?}",
            map.shape()
        );
        Ok(map)
    }
}

/// Rows `top..top + rows` of the network's input, run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Strip {
    top: usize,
    rows: usize,
}

impl Strip {
    fn bottom(&self) -> usize {
        self.top + self.rows
    }
}

/// How an input of `nw × nh` (multiples of 32) is run: whole when it fits
/// `MAX_RUN_PIXELS`, else in the fewest strips that do, all of one height (one plan),
/// on rows that are multiples of 32, each overlapping the next by `STRIP_OVERLAP` rows
/// (the last one, which ends at the bottom, by at least that).
fn strips(nw: usize, nh: usize) -> Vec<Strip> {
    // At least 8 cells of the coarsest scale high, however wide the image.
    let max_rows = (MAX_RUN_PIXELS / nw.max(1) / 32 * 32).max(256);
    if nh <= max_rows {
        return vec![Strip { top: 0, rows: nh }];
    }
    let count = (nh - STRIP_OVERLAP).div_ceil(max_rows - STRIP_OVERLAP);
    // As low as `count` strips allow: no more rows run than needed.
    let rows = (nh + (count - 1) * STRIP_OVERLAP)
        .div_ceil(count)
        .next_multiple_of(32)
        .min(max_rows);
    let mut strips: Vec<Strip> = (0..)
        .map(|i| i * (rows - STRIP_OVERLAP))
        .take_while(|top| top + rows < nh)
        .map(|top| Strip { top, rows })
        .collect();
    strips.push(Strip {
        top: nh - rows,
        rows,
    });
    strips
}

/// The boxes of a probability map of `nw × nh`, scaled to an image of `width × height`.
fn boxes(map: &[f32], nw: usize, nh: usize, width: u32, height: u32) -> Vec<TextBox> {
    let text: Vec<bool> = map.iter().map(|p| *p > PIXEL_THRESHOLD).collect();
    let mask = dilate(&text, nw, nh);
    let mut found = Vec::new();
    for region in regions(&mask, nw, nh).into_iter().take(MAX_CANDIDATES) {
        let (x0, y0, x1, y1) = region;
        // The reference's rectangle runs through the pixel centres of the outline.
        let (w, h) = ((x1 - x0) as f32, (y1 - y0) as f32);
        if w.min(h) < MIN_BOX_SIDE {
            continue;
        }
        let mut sum = 0f32;
        for y in y0..=y1 {
            sum += map[y * nw + x0..=y * nw + x1].iter().sum::<f32>();
        }
        let score = sum / ((x1 - x0 + 1) * (y1 - y0 + 1)) as f32;
        if score < BOX_THRESHOLD {
            continue;
        }
        // The network shrinks each text region by this distance; grow it back.
        let grow = w * h * UNCLIP_RATIO / (2.0 * (w + h));
        if (w + 2.0 * grow).min(h + 2.0 * grow) < MIN_BOX_SIDE + 2.0 {
            continue;
        }
        let scale = |v: f32, from: usize, to: u32| {
            (v / from as f32 * to as f32)
                .round()
                .clamp(0.0, to as f32 - 1.0) as u32
        };
        let text_box = TextBox {
            x0: scale(x0 as f32 - grow, nw, width),
            y0: scale(y0 as f32 - grow, nh, height),
            x1: scale(x1 as f32 + grow, nw, width),
            y1: scale(y1 as f32 + grow, nh, height),
        };
        if text_box.x1 - text_box.x0 > 3 && text_box.y1 - text_box.y0 > 3 {
            found.push(text_box);
        }
    }
    found
}

/// The text mask dilated by a 2 × 2 square: a pixel is set when it or its left, upper
/// or upper-left neighbour is (OpenCV's anchor for an even kernel).
fn dilate(text: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut out = vec![false; text.len()];
    for y in 0..h {
        for x in 0..w {
            let at = |dx: usize, dy: usize| text[(y - dy) * w + (x - dx)];
            out[y * w + x] = at(0, 0)
                || (x > 0 && at(1, 0))
                || (y > 0 && at(0, 1))
                || (x > 0 && y > 0 && at(1, 1));
        }
    }
    out
}

/// The 8-connected regions of `mask`, each as its bounding pixels `(x0, y0, x1, y1)`
/// (inclusive), in the order a row-major scan first meets them.
fn regions(mask: &[bool], w: usize, h: usize) -> Vec<(usize, usize, usize, usize)> {
    let mut seen = vec![false; mask.len()];
    let mut found = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let n = ny * w + nx;
                    if mask[n] && !seen[n] {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        found.push((x0, y0, x1, y1));
    }
    found
}

/// Top to bottom; boxes whose tops are within 10 pixels are one row, read left to
/// right (the reference's `sorted_boxes`).
fn sort_reading_order(boxes: &mut [TextBox]) {
    boxes.sort_by_key(|b| (b.y0, b.x0));
    for i in 0..boxes.len().saturating_sub(1) {
        for j in (0..=i).rev() {
            let (upper, lower) = (boxes[j], boxes[j + 1]);
            if upper.y0.abs_diff(lower.y0) < 10 && lower.x0 < upper.x0 {
                boxes.swap(j, j + 1);
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_found_dilated_and_scored() {
        // A 40 × 20 map: one confident bar of 20 × 6 and a faint one, and one pixel.
        let (w, h) = (40, 20);
        let mut map = vec![0f32; w * h];
        for y in 2..8 {
            for x in 5..25 {
                map[y * w + x] = 0.9;
            }
        }
        for y in 12..18 {
            for x in 5..25 {
                map[y * w + x] = 0.35;
            }
        }
        map[19 * w + 39] = 0.9;
        // The image is twice the map's size.
        let found = boxes(&map, w, h, 80, 40);
        assert_eq!(found.len(), 1, "{found:?}");
        let b = found[0];
        // Dilated to x 5..=25, y 2..=8: 20 × 6, mean 0.73; grown by 20·6·1.6 / 52 ≈
        // 3.69, doubled, rounded, the top clamped to the image.
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (3, 0, 57, 23));
    }

    #[test]
    fn tall_inputs_run_in_overlapping_strips_of_one_height() {
        let strip = |top, rows| Strip { top, rows };
        // A 480 × 420 region (832 × 736 for the network) and a 600 × 800 one (736 × 992).
        assert_eq!(strips(832, 736), [strip(0, 416), strip(320, 416)]);
        assert_eq!(strips(736, 992), [strip(0, 544), strip(448, 544)]);
        // What fits runs whole.
        assert_eq!(strips(736, 576), [strip(0, 576)]);
        for (nw, nh) in [(2016, 2016), (736, 1504), (1024, 4000), (736, 608)] {
            let found = strips(nw, nh);
            let rows = found[0].rows;
            assert!(found.iter().all(|s| s.rows == rows && s.top % 32 == 0));
            assert!(
                nw * rows <= MAX_RUN_PIXELS || rows == 256,
                "{nw} × {nh}: {found:?}"
            );
            assert_eq!((found[0].top, found.last().unwrap().bottom()), (0, nh));
            for pair in found.windows(2) {
                assert!(pair[0].bottom() >= pair[1].top + STRIP_OVERLAP, "{found:?}");
            }
        }
    }

    #[test]
    fn boxes_read_in_rows() {
        let b = |x0, y0| TextBox {
            x0,
            y0,
            x1: x0 + 10,
            y1: y0 + 10,
        };
        let mut boxes = vec![b(100, 52), b(10, 50), b(10, 5), b(50, 48)];
        sort_reading_order(&mut boxes);
        assert_eq!(boxes, vec![b(10, 5), b(10, 50), b(50, 48), b(100, 52)]);
    }
}
