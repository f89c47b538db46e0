//! The local captcha model: ddddocr 1.6.1's OCR network `common.onnx` (what its
//! `DdddOcr(beta=True)` runs) in pure Rust with tract; `make models` extracts it and
//! its charset. ddddocr's default, `common_old.onnx`, is dynamically quantised with
//! onnxruntime's own `DynamicQuantizeLSTM`, which tract does not have.
//!
//! The network was trained on Pillow's pixels, so ddddocr's pre-processing is done as
//! Pillow does it, to the bit: resize to 64 rows keeping the aspect ratio (fixed-point
//! Lanczos; nearest neighbour for palette images; premultiplied when there is alpha),
//! ITU-R 601 luma, 0..1. Its logits `[steps, 1, classes]` are decoded as greedy CTC.

use std::f64::consts::PI;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{ensure, Context};
use image::ImageFormat;
use shopops_kernel::captcha::{CaptchaError, CaptchaImage, CaptchaSolution, CaptchaSolver};
use tract_onnx::prelude::*;

/// The rows the network was trained on; the width follows the image's aspect ratio.
const HEIGHT: usize = 64;
/// Wider than 16 heights is no captcha, and the network's cost grows with the width.
const MAX_WIDTH: usize = 16 * HEIGHT;
/// Pillow's fixed-point precision for 8-bit resampling (Resample.c).
const PRECISION_BITS: u32 = 32 - 8 - 2;

pub struct LocalModel {
    plan: Arc<TypedSimplePlan>,
    /// Class index → text; index 0 is the CTC blank `""`.
    charset: Vec<String>,
}

impl LocalModel {
    /// Loads `dir/common.onnx` and `dir/charset.json` (the files `make models` extracts).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let charset_path = dir.join("charset.json");
        let charset: Vec<String> = serde_json::from_slice(
            &std::fs::read(&charset_path)
                .with_context(|| format!("reading {}", charset_path.display()))?,
        )
        .with_context(|| format!("{} is not a JSON array of strings", charset_path.display()))?;
        ensure!(
            charset.first().is_some_and(String::is_empty),
            "{} does not start with the CTC blank \"\"",
            charset_path.display()
        );
        let onnx = dir.join("common.onnx");
        // The width stays symbolic, so one optimised plan serves every image width.
        let model = tract_onnx::onnx()
            .model_for_path(&onnx)
            .with_context(|| format!("loading {}", onnx.display()))?
            // The file declares its output as [1, seqlen]; it is [seqlen, 1, classes].
            .with_output_fact(0, InferenceFact::default())?
            .into_optimized()
            .with_context(|| format!("optimising {}", onnx.display()))?;
        let classes = model.output_fact(0)?.shape.last().and_then(TDim::as_i64);
        ensure!(
            classes == i64::try_from(charset.len()).ok(),
            "{} has {classes:?} classes but the charset {} entries",
            onnx.display(),
            charset.len()
        );
        Ok(Self {
            plan: model.into_runnable()?,
            charset,
        })
    }

    /// Reads one captcha image (PNG/JPEG/GIF bytes). `charset`: when Some, only those
    /// characters may be output. Returns the text and a confidence in 0..1 (mean of
    /// per-character max probabilities; 0 for empty).
    pub fn read(&self, image: &[u8], charset: Option<&str>) -> anyhow::Result<(String, f32)> {
        let (width, pixels) = preprocess(image)?;
        let input = Tensor::from_shape(&[1, 1, HEIGHT, width], &pixels)?;
        let output = self.plan.run(tvec!(input.into()))?;
        let logits = output[0].to_plain_array_view::<f32>()?;
        ensure!(
            logits.ndim() == 3 && logits.shape()[1..] == [1, self.charset.len()],
            "unexpected model output shape {:?}",
            logits.shape()
        );
        let logits = logits
            .as_slice()
            .context("model output is not contiguous")?;
        Ok(ctc_decode(logits, &self.charset, charset))
    }
}

/// Greedy CTC: per time step the most likely class (among the blank and `allowed`
/// characters when given), repeats of a class collapsed, blanks dropped. The
/// restriction comes before the argmax, as in ddddocr's README recipe (`set_ranges`,
/// then the argmax of each step's `probability=True` row), so a step whose best class
/// is not allowed gives the best allowed one, not nothing; 1.6.1's `classification`
/// drops disallowed characters after decoding instead. A character's confidence is its
/// softmax probability, the highest over the steps it spans.
fn ctc_decode(logits: &[f32], charset: &[String], allowed: Option<&str>) -> (String, f32) {
    // The classes that may win: the blank and those of one allowed character.
    let allowed: Option<Vec<bool>> = allowed.map(|chars| {
        let single = |class: &str| class.chars().count() == 1 && chars.contains(class);
        charset
            .iter()
            .enumerate()
            .map(|(i, c)| i == 0 || single(c))
            .collect()
    });
    let (mut text, mut probabilities) = (String::new(), Vec::<f32>::new());
    let mut previous = 0;
    for step in logits.chunks_exact(charset.len()) {
        let mut best = 0;
        for (class, &logit) in step.iter().enumerate() {
            // `>` keeps the first of equal maxima, like numpy's argmax.
            if allowed.as_ref().is_none_or(|a| a[class]) && logit > step[best] {
                best = class;
            }
        }
        let max = step.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let probability =
            (step[best] - max).exp() / step.iter().map(|l| (l - max).exp()).sum::<f32>();
        if best != 0 && best == previous {
            if let Some(last) = probabilities.last_mut() {
                *last = last.max(probability);
            }
        } else if best != 0 {
            text.push_str(&charset[best]);
            probabilities.push(probability);
        }
        previous = best;
    }
    let confidence = probabilities.iter().sum::<f32>() / probabilities.len().max(1) as f32;
    (text, confidence)
}

/// The image as ddddocr feeds it to the network: (width, `HEIGHT × width` values).
fn preprocess(bytes: &[u8]) -> anyhow::Result<(usize, Vec<f32>)> {
    let format = image::guess_format(bytes).context("not a PNG, JPEG or GIF image")?;
    // Pillow opens GIFs and indexed PNGs (IHDR colour type 3) in mode "P", which it
    // always resizes nearest-neighbour; the image crate expands their palette.
    let indexed_png = bytes.get(12..16) == Some(b"IHDR") && bytes.get(25) == Some(&3);
    let palette = format == ImageFormat::Gif || (format == ImageFormat::Png && indexed_png);
    let decoded =
        image::load_from_memory_with_format(bytes, format).context("decoding the captcha")?;
    let size = (decoded.width() as usize, decoded.height() as usize);
    // ddddocr: int(width * (64 / height)), in double precision like Python.
    let width = (size.0 as f64 * (HEIGHT as f64 / size.1 as f64)) as usize;
    ensure!(
        (1..=MAX_WIDTH).contains(&width),
        "a {size:?} image is no captcha"
    );
    let alpha = decoded.color().has_alpha() && !palette;
    let (channels, mut pixels) = if alpha {
        (4, decoded.into_rgba8().into_raw())
    } else {
        (3, decoded.into_rgb8().into_raw())
    };
    // At the right size Pillow returns a copy, without even the premultiplied round trip.
    if size != (width, HEIGHT) && palette {
        pixels = nearest(&pixels, size, channels, width);
    } else if size != (width, HEIGHT) {
        // Pillow resizes RGBA as premultiplied "RGBa", so transparent pixels' colour
        // does not bleed into their neighbours.
        premultiply(&mut pixels, channels, true);
        pixels = lanczos(&pixels, size, channels, true, width);
        pixels = lanczos(&pixels, (width, size.1), channels, false, HEIGHT);
        premultiply(&mut pixels, channels, false);
    }
    // Pillow's "L" conversion (L24 in Convert.c) ignores alpha.
    let luma = pixels
        .chunks_exact(channels)
        .map(|p| {
            let [r, g, b] = [p[0], p[1], p[2]].map(u32::from);
            ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as f32 / 255.0
        })
        .collect();
    Ok((width, luma))
}

/// One pass of Pillow's separable Lanczos resampling (`precompute_coeffs`,
/// `normalize_coeffs_8bpc`, `ImagingResample{Horizontal,Vertical}_8bpc`), along the
/// width when `horizontal`, else the height, to `out` pixels.
fn lanczos(src: &[u8], size: (usize, usize), ch: usize, horizontal: bool, out: usize) -> Vec<u8> {
    let (w, h) = size;
    let in_len = if horizontal { w } else { h };
    if in_len == out {
        // Pillow skips the pass along an axis whose size does not change.
        return src.to_vec();
    }
    let scale = in_len as f64 / out as f64;
    let filter_scale = scale.max(1.0);
    let support = 3.0 * filter_scale;
    // Pillow's truncated sinc, support 3.
    let sinc = |x: f64| {
        if x == 0.0 {
            1.0
        } else {
            (x * PI).sin() / (x * PI)
        }
    };
    let filter = |x: f64| {
        if (-3.0..3.0).contains(&x) {
            sinc(x) * sinc(x / 3.0)
        } else {
            0.0
        }
    };
    let windows: Vec<(usize, Vec<i32>)> = (0..out)
        .map(|o| {
            let center = (o as f64 + 0.5) * scale;
            // C's (int) truncates towards zero, as `as` does.
            let min = ((center - support + 0.5) as i64).max(0) as usize;
            let max = ((center + support + 0.5) as i64).min(in_len as i64) as usize;
            let weights: Vec<f64> = (min..max)
                .map(|x| filter((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let k = if total != 0.0 { w / total } else { *w }
                        * f64::from(1u32 << PRECISION_BITS);
                    (if k < 0.0 { k - 0.5 } else { k + 0.5 }) as i32
                })
                .collect();
            (min, fixed)
        })
        .collect();
    let (out_w, out_h) = if horizontal { (out, h) } else { (w, out) };
    let mut dst = vec![0u8; out_w * out_h * ch];
    for (i, value) in dst.iter_mut().enumerate() {
        let (c, x, y) = (i % ch, i / ch % out_w, i / ch / out_w);
        let (first, weights) = &windows[if horizontal { x } else { y }];
        // The window's first source value and the distance between its values.
        let (at, stride) = match horizontal {
            true => ((y * w + first) * ch + c, ch),
            false => ((first * w + x) * ch + c, w * ch),
        };
        let mut sum = 1i32 << (PRECISION_BITS - 1);
        for (j, k) in weights.iter().enumerate() {
            sum += i32::from(src[at + j * stride]) * k;
        }
        *value = (sum.max(0) >> PRECISION_BITS).min(255) as u8;
    }
    dst
}

/// Pillow's nearest-neighbour resize (`ImagingScaleAffine`) to `out_w` × `HEIGHT`:
/// source positions are accumulated in steps from the first pixel's centre, as Pillow
/// adds them.
fn nearest(src: &[u8], (w, h): (usize, usize), ch: usize, out_w: usize) -> Vec<u8> {
    let positions = |in_len: usize, out: usize| {
        let step = in_len as f64 / out as f64;
        let mut at = step * 0.5;
        (0..out)
            .map(|_| {
                let i = (at as usize).min(in_len - 1);
                at += step;
                i
            })
            .collect::<Vec<_>>()
    };
    let (xs, ys) = (positions(w, out_w), positions(h, HEIGHT));
    let mut dst = Vec::with_capacity(out_w * HEIGHT * ch);
    for &y in &ys {
        for &x in &xs {
            dst.extend_from_slice(&src[(y * w + x) * ch..][..ch]);
        }
    }
    dst
}

/// RGBA → Pillow's "RGBa" (`rgbA2rgba`, MULDIV255 with rounding) when `forward`,
/// else back (`rgba2rgbA`); nothing for RGB.
fn premultiply(pixels: &mut [u8], channels: usize, forward: bool) {
    for p in pixels.chunks_exact_mut(4).filter(|_| channels == 4) {
        let alpha = u32::from(p[3]);
        for c in &mut p[..3] {
            let (v, t) = (u32::from(*c), u32::from(*c) * alpha + 128);
            *c = match (forward, alpha) {
                (true, _) => (((t >> 8) + t) >> 8) as u8,
                (false, 1..=254) => (255 * v / alpha).min(255) as u8,
                (false, _) => *c,
            };
        }
    }
}

/// The kernel port adapter, name "local".
pub struct LocalSolver {
    model: Arc<LocalModel>,
    /// Answers the platform refused: the model's error rate, for metrics.
    wrong: AtomicU64,
}

impl LocalSolver {
    pub fn new(model: LocalModel) -> Self {
        Self {
            model: Arc::new(model),
            wrong: AtomicU64::new(0),
        }
    }

    /// How many of this solver's answers were reported wrong since start.
    pub fn wrong_reports(&self) -> u64 {
        self.wrong.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl CaptchaSolver for LocalSolver {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn solve(&self, captcha: CaptchaImage<'_>) -> Result<CaptchaSolution, CaptchaError> {
        let model = Arc::clone(&self.model);
        let image = captcha.image.to_vec();
        let charset = captcha.charset.map(str::to_owned);
        // Tens of milliseconds of CPU: off the async workers.
        let read = tokio::task::spawn_blocking(move || model.read(&image, charset.as_deref()))
            .await
            // A panicked task says nothing about this captcha: let the next solver try.
            .map_err(|e| CaptchaError::Unavailable(format!("local model: {e}")))?;
        match read {
            Ok((text, _)) if !text.is_empty() => Ok(CaptchaSolution {
                text,
                solver: "local",
                report_id: None,
            }),
            Ok(_) => Err(CaptchaError::Unreadable(
                "the local model read nothing".into(),
            )),
            Err(e) => Err(CaptchaError::Unreadable(format!("local model: {e:#}"))),
        }
    }

    async fn report_wrong(&self, _tenant_id: i64, _solution: &CaptchaSolution) {
        self.wrong.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_collapses_repeats_drops_blanks_and_honours_the_charset() {
        let charset: Vec<String> = ["", "a", "b", "7"].iter().map(|s| s.to_string()).collect();
        // Time steps: a, a, blank, a, b (7 close behind), 7, 7.
        #[rustfmt::skip]
        let logits = [
            0.0, 5.0, 0.0, 0.0,
            0.0, 6.0, 0.0, 0.0,
            4.0, 0.0, 0.0, 0.0,
            0.0, 4.0, 0.0, 0.0,
            0.0, 0.0, 3.0, 2.5,
            0.0, 0.0, 0.0, 5.0,
            0.0, 0.0, 0.0, 5.0,
        ];
        // Softmax of a logit `x` in a step whose others are 0 (but for `rest`).
        let p = |x: f32, rest: f32| x.exp() / (x.exp() + rest);
        let (text, confidence) = ctc_decode(&logits, &charset, None);
        assert_eq!(text, "aab7");
        // A character's best step: a 6, a 4, b 3 (beside 2.5), 7 5.
        let expected = (p(6.0, 3.0) + p(4.0, 3.0) + p(3.0, 2.5f32.exp() + 2.0) + p(5.0, 3.0)) / 4.0;
        assert!(
            (confidence - expected).abs() < 1e-6,
            "{confidence} vs {expected}"
        );
        // Restricted to digits, each step takes its best allowed class: the `a` steps
        // tie 7 with the blank and take the blank (the first, as numpy's argmax), the
        // `b` step takes 7, which runs on into the 7s.
        let (digits, digits_confidence) = ctc_decode(&logits, &charset, Some("0123456789"));
        assert_eq!(digits, "7");
        assert!((digits_confidence - p(5.0, 3.0)).abs() < 1e-6);
        // Nothing allowed but the blank: no text, confidence 0.
        assert_eq!(
            ctc_decode(&logits, &charset, Some("xyz")),
            (String::new(), 0.0)
        );
    }

    #[test]
    fn preprocessing_keeps_the_aspect_ratio_at_64_rows() {
        let mut png = Vec::new();
        let grey = image::RgbImage::from_pixel(150, 50, image::Rgb([100, 100, 100]));
        grey.write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
            .expect("encode");
        let (width, pixels) = preprocess(&png).expect("preprocess");
        assert_eq!(width, 192);
        assert_eq!(pixels.len(), 64 * 192);
        assert!(pixels.iter().all(|&p| p == 100.0 / 255.0));
        assert!(preprocess(b"not an image").is_err());
    }
}
