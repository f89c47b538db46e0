//! Frame fingerprints: the agent reads (OCRs) a region only when it looks different from
//! the last time it was read, so an unchanged chat costs one capture a second, not one
//! OCR.
//!
//! The fingerprint is a difference hash (dHash): the frame shrunk to a grid of grey
//! cells, one bit per cell saying whether it is brighter than its right neighbour.
//! Small-grid perceptual hashes (64 bits, as image-hashing crates make them) are too
//! coarse here: one new line of 13-pixel text in a 400 × 600 chat panel may not flip a
//! single bit of an 8 × 8 grid, and a missed frame is a missed buyer message. One cell
//! per 4 × 4 pixels keeps every text line visible while still ignoring what a perceptual
//! hash should ignore: sub-cell noise and colour shifts that keep the brightness order.

use image::imageops::{self, FilterType};
use image::RgbImage;

/// Pixels per cell side.
const CELL: u32 = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    width: u32,
    height: u32,
    bits: Vec<u64>,
}

impl Fingerprint {
    pub fn of(frame: &RgbImage) -> Self {
        let width = (frame.width() / CELL).max(1) + 1;
        let height = (frame.height() / CELL).max(1);
        let grey = imageops::grayscale(frame);
        let cells = imageops::resize(&grey, width, height, FilterType::Triangle);
        let mut bits = vec![0u64; ((width - 1) * height).div_ceil(64) as usize];
        let mut bit = 0usize;
        for y in 0..height {
            for x in 0..width - 1 {
                if cells.get_pixel(x, y).0[0] > cells.get_pixel(x + 1, y).0[0] {
                    bits[bit / 64] |= 1 << (bit % 64);
                }
                bit += 1;
            }
        }
        Self {
            width,
            height,
            bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A white panel with dark "text" bars at the given rows (13 px high).
    fn panel(lines: &[u32]) -> RgbImage {
        RgbImage::from_fn(400, 600, |x, y| {
            let in_line = lines.iter().any(|top| (*top..top + 13).contains(&y));
            // Alternating strokes, like glyphs.
            if in_line && (20..300).contains(&x) && (x / 3) % 2 == 0 {
                Rgb([30, 30, 30])
            } else {
                Rgb([255, 255, 255])
            }
        })
    }

    #[test]
    fn one_new_line_changes_the_fingerprint_an_identical_frame_does_not() {
        let before = panel(&[40, 80, 120]);
        assert_eq!(Fingerprint::of(&before), Fingerprint::of(&before.clone()));
        assert_ne!(
            Fingerprint::of(&before),
            Fingerprint::of(&panel(&[40, 80, 120, 560]))
        );
    }

    #[test]
    fn a_uniform_brightness_shift_keeps_the_fingerprint() {
        let before = panel(&[40, 80]);
        let mut dimmer = before.clone();
        for p in dimmer.pixels_mut() {
            p.0 = p.0.map(|c| c.saturating_sub(10));
        }
        assert_eq!(Fingerprint::of(&before), Fingerprint::of(&dimmer));
    }
}
