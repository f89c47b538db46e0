//! OCR of chat panels in pure Rust: the PP-OCRv4 text detection and recognition
//! networks (ONNX, from the PyPI wheel `rapidocr_onnxruntime` 1.4.4, Apache-2.0, which
//! `make models` downloads and checks) run on tract. The pre- and post-processing follow
//! that package's pipeline (docs/desktop-agent.md, "OCR"): scale the image into the
//! detector's range, find text boxes on the detector's probability map, cut each box
//! out, and read it with greedy CTC decoding. Lines read with a confidence under 0.5 are
//! dropped, as the package does.
//!
//! The package's third network, the 0°/180° angle classifier, is not used: text on a
//! screen is never upside down.

mod detect;
mod recognize;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};
use serde::Serialize;
use tract_onnx::prelude::*;

use detect::{Detector, TextBox};
use recognize::Recognizer;

/// The files `make models` puts in the models folder (`models_dir`).
pub const DETECTION_MODEL: &str = "ch_PP-OCRv4_det_infer.onnx";
pub const RECOGNITION_MODEL: &str = "ch_PP-OCRv4_rec_infer.onnx";

/// Lines read with less confidence are dropped (the package's `text_score`).
const MIN_CONFIDENCE: f32 = 0.5;
/// Images are scaled into these bounds before detection (`max_side_len`,
/// `min_side_len`) …
const MAX_SIDE: u32 = 2000;
const MIN_SIDE: u32 = 30;
/// … and a single low or very wide line gets black bands above and below, so the
/// detector sees it as a line in a page (`min_height`, `width_height_ratio`).
const MIN_HEIGHT: u32 = 30;
const MAX_WIDTH_PER_HEIGHT: u32 = 8;

/// One line of text read off an image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub text: String,
    /// `[x, y, w, h]` in the image's pixels.
    #[serde(rename = "box")]
    pub bounds: [u32; 4],
    /// The mean probability of the line's characters (0..1).
    pub confidence: f32,
}

impl Line {
    pub fn x(&self) -> u32 {
        self.bounds[0]
    }
    pub fn y(&self) -> u32 {
        self.bounds[1]
    }
    pub fn width(&self) -> u32 {
        self.bounds[2]
    }
    pub fn height(&self) -> u32 {
        self.bounds[3]
    }
}

pub struct Ocr {
    detector: Detector,
    recognizer: Recognizer,
}

impl Ocr {
    /// Loads both networks from `dir` (seconds: tract optimises them once).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let file = |name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            anyhow::ensure!(
                path.is_file(),
                "{} is missing: run `make models` (or set models_dir)",
                path.display()
            );
            Ok(path)
        };
        Ok(Self {
            detector: Detector::load(&file(DETECTION_MODEL)?)?,
            recognizer: Recognizer::load(&file(RECOGNITION_MODEL)?)?,
        })
    }

    /// Reads every line of text in `image`, top to bottom, left to right.
    pub fn read(&self, image: &RgbImage) -> anyhow::Result<Vec<Line>> {
        let (raw_width, raw_height) = image.dimensions();
        if raw_width == 0 || raw_height == 0 {
            return Ok(Vec::new());
        }
        let (scaled, ratio_x, ratio_y) = fit_sides(image);
        let (page, top) = letterbox(scaled);
        let boxes = self.detector.detect(&page).context("text detection")?;
        let mut lines = Vec::with_capacity(boxes.len());
        for text_box in boxes {
            let crop = cut(&page, &text_box);
            let (text, confidence) = self.recognizer.read(&crop).context("text recognition")?;
            if confidence < MIN_CONFIDENCE || text.trim().is_empty() {
                continue;
            }
            // Back to the caller's pixels: undo the bands, then the scaling.
            let to_x = |x: u32| ((x as f32 * ratio_x) as u32).min(raw_width);
            let to_y = |y: u32| ((y.saturating_sub(top) as f32 * ratio_y) as u32).min(raw_height);
            let (x0, y0) = (to_x(text_box.x0), to_y(text_box.y0));
            let (x1, y1) = (to_x(text_box.x1), to_y(text_box.y1));
            lines.push(Line {
                text,
                bounds: [x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0)],
                confidence,
            });
        }
        Ok(lines)
    }
}

/// A network with an optimised plan per input shape, made on first use. tract plans
/// these networks only for known sizes (their reshapes and upsampled branches need
/// them); the agent reads regions of a fixed size, so it needs few.
///
/// The network itself is not kept: each plan holds its own optimised copy of the
/// weights, and the parsed network would be one more (22 MiB for recognition). A new
/// shape reads the file again (about 0.2 s, once per region size and window width).
struct Plans {
    path: PathBuf,
    plans: Mutex<HashMap<[usize; 4], Arc<TypedSimplePlan>>>,
}

/// Plans kept per network; a new shape beyond them starts the cache afresh.
const MAX_PLANS: usize = 8;

impl Plans {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            plans: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, shape: [usize; 4]) -> anyhow::Result<Arc<TypedSimplePlan>> {
        if let Some(plan) = self.cached().get(&shape) {
            return Ok(plan.clone());
        }
        // Planned outside the lock: it takes a while and two reads need not wait on it.
        let plan = plan_file(&self.path, shape)?;
        self.keep(shape, plan.clone());
        Ok(plan)
    }

    fn keep(&self, shape: [usize; 4], plan: Arc<TypedSimplePlan>) {
        let mut plans = self.cached();
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(shape, plan);
    }

    fn cached(&self) -> MutexGuard<'_, HashMap<[usize; 4], Arc<TypedSimplePlan>>> {
        self.plans.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The network in `path` planned for an input of `shape`.
fn plan_file(path: &Path, shape: [usize; 4]) -> anyhow::Result<Arc<TypedSimplePlan>> {
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .with_context(|| format!("loading {}", path.display()))?;
    plan(model, shape).with_context(|| format!("{}", path.display()))
}

/// `model` planned for an input of `shape`.
fn plan(model: InferenceModel, shape: [usize; 4]) -> anyhow::Result<Arc<TypedSimplePlan>> {
    model
        .with_input_fact(0, f32::fact(shape).into())?
        .into_optimized()
        .with_context(|| format!("planning the network for {shape:?}"))?
        .into_runnable()
}

/// Scales an image whose longer side is over `MAX_SIDE`, or whose shorter side is under
/// `MIN_SIDE`, to sides that are multiples of 32. Returns it with the factors that take
/// its coordinates back to the original's.
fn fit_sides(image: &RgbImage) -> (RgbImage, f32, f32) {
    let (w, h) = image.dimensions();
    let ratio = if w.max(h) > MAX_SIDE {
        MAX_SIDE as f32 / w.max(h) as f32
    } else if w.min(h) < MIN_SIDE {
        MIN_SIDE as f32 / w.min(h) as f32
    } else {
        return (image.clone(), 1.0, 1.0);
    };
    let side = |v: u32| (round_to_32((v as f32 * ratio) as u32)).max(32);
    let (sw, sh) = (side(w), side(h));
    let scaled = imageops::resize(image, sw, sh, FilterType::Triangle);
    (scaled, w as f32 / sw as f32, h as f32 / sh as f32)
}

/// `v` to the nearest multiple of 32, halves to even as Python's `round` does.
fn round_to_32(v: u32) -> u32 {
    ((v as f64 / 32.0).round_ties_even() as u32) * 32
}

/// Adds black bands above and below a low or very wide image; returns it and the
/// height of the top band.
fn letterbox(image: RgbImage) -> (RgbImage, u32) {
    let (w, h) = image.dimensions();
    if h > MIN_HEIGHT && w / h <= MAX_WIDTH_PER_HEIGHT {
        return (image, 0);
    }
    let wanted = (w / MAX_WIDTH_PER_HEIGHT).max(MIN_HEIGHT) * 2;
    let band = wanted.abs_diff(h) / 2;
    let mut page = RgbImage::from_pixel(w, h + 2 * band, Rgb([0, 0, 0]));
    imageops::replace(&mut page, &image, 0, i64::from(band));
    (page, band)
}

/// The box's pixels; turned a quarter when it is much taller than wide (vertical text).
fn cut(page: &RgbImage, text_box: &TextBox) -> RgbImage {
    let width = (text_box.x1 - text_box.x0).max(1);
    let height = (text_box.y1 - text_box.y0).max(1);
    let crop = imageops::crop_imm(page, text_box.x0, text_box.y0, width, height).to_image();
    if height as f32 / width as f32 >= 1.5 {
        imageops::rotate270(&crop)
    } else {
        crop
    }
}

/// The network input for `image`: (value − 0.5) / 0.5 of each channel scaled to 0..1,
/// planes in blue, green, red order (the networks were trained on OpenCV's BGR),
/// `width` columns, those past the image's own width left 0.
fn normalised_bgr(image: &RgbImage, width: usize) -> Vec<f32> {
    let h = image.height() as usize;
    let mut planes = vec![0f32; 3 * h * width];
    for (x, y, pixel) in image.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        if x >= width {
            continue;
        }
        for (plane, channel) in [2, 1, 0].into_iter().enumerate() {
            planes[plane * h * width + y * width + x] = pixel.0[channel] as f32 / 127.5 - 1.0;
        }
    }
    planes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_are_fitted_like_the_reference() {
        assert_eq!(round_to_32(48), 64); // 1.5 → 2
        assert_eq!(round_to_32(80), 64); // 2.5 → 2 (halves to even)
        assert_eq!(round_to_32(112), 128); // 3.5 → 4
        let small = RgbImage::new(300, 20);
        let (scaled, rx, ry) = fit_sides(&small);
        // 20 → 30 px high: 300 × 1.5 = 450 → 448, 30 → 32.
        assert_eq!(scaled.dimensions(), (448, 32));
        assert!((rx - 300.0 / 448.0).abs() < 1e-6 && (ry - 20.0 / 32.0).abs() < 1e-6);
        let normal = RgbImage::new(400, 600);
        assert_eq!(fit_sides(&normal).0.dimensions(), (400, 600));
    }

    #[test]
    fn a_single_line_gets_bands_a_page_does_not() {
        let (page, top) = letterbox(RgbImage::from_pixel(448, 32, Rgb([255, 255, 255])));
        // max(448 / 8, 30) × 2 = 112 rows wanted: (112 − 32) / 2 = 40 above and below.
        assert_eq!((page.dimensions(), top), ((448, 112), 40));
        assert_eq!(page.get_pixel(0, 39).0, [0, 0, 0]);
        assert_eq!(page.get_pixel(0, 40).0, [255, 255, 255]);
        let (same, top) = letterbox(RgbImage::new(400, 600));
        assert_eq!((same.dimensions(), top), ((400, 600), 0));
    }

    #[test]
    fn inputs_are_bgr_planes_scaled_to_minus_one_one() {
        let image = RgbImage::from_pixel(2, 1, Rgb([255, 0, 51]));
        let planes = normalised_bgr(&image, 3);
        // Blue plane, then green, then red; the third column is padding.
        let expected = [-0.6, -0.6, 0.0, -1.0, -1.0, 0.0, 1.0, 1.0, 0.0];
        for (got, want) in planes.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{planes:?}");
        }
    }
}
