//! Text recognition: PP-OCRv4's recognition network reads one line, 48 pixels high, as
//! per-step character probabilities (softmax included), decoded by greedy CTC. Its
//! 6 623 characters are in the ONNX file's metadata (`character`, one per line); the
//! class list is the CTC blank, those characters, then a space.

use std::path::Path;

use anyhow::Context;
use image::imageops::{self, FilterType};
use image::RgbImage;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

use super::{normalised_bgr, Plans};

const HEIGHT: usize = 48;
/// Lines narrower than 320 / 48 of their height are padded to it, as the reference
/// batches them.
const MIN_WIDTH: usize = 320;
/// No screen line is wider than this many heights; wider crops are squeezed.
const MAX_WIDTH_PER_HEIGHT: usize = 64;

pub struct Recognizer {
    plans: Plans,
    /// Class index → text; 0 is the CTC blank.
    classes: Vec<String>,
}

impl Recognizer {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let onnx = tract_onnx::onnx();
        let proto: ModelProto = onnx
            .proto_model_for_path(path)
            .with_context(|| format!("loading {}", path.display()))?;
        let characters = proto
            .metadata_props
            .iter()
            .find(|p| p.key == "character")
            .with_context(|| format!("{} has no `character` metadata", path.display()))?;
        let mut classes = vec![String::new()];
        classes.extend(characters.value.lines().map(str::to_owned));
        classes.push(" ".into());
        // The narrowest lines' plan, from the network already read, checks the classes.
        let shape = [1, 3, HEIGHT, MIN_WIDTH];
        let plan = super::plan(onnx.model_for_proto_model(&proto)?, shape)?;
        let plans = Plans::new(path);
        plans.keep(shape, plan.clone());
        let outputs = plan
            .model()
            .output_fact(0)?
            .shape
            .last()
            .and_then(TDim::as_i64);
        anyhow::ensure!(
            outputs == i64::try_from(classes.len()).ok(),
            "{} has {outputs:?} classes but its metadata lists {}",
            path.display(),
            classes.len()
        );
        Ok(Self { plans, classes })
    }

    /// Reads one line: its text and the mean probability of its characters.
    pub fn read(&self, line: &RgbImage) -> anyhow::Result<(String, f32)> {
        let (w, h) = (line.width() as usize, line.height().max(1) as usize);
        let scaled_width = (HEIGHT * w)
            .div_ceil(h)
            .clamp(1, HEIGHT * MAX_WIDTH_PER_HEIGHT);
        let input_width = input_width(scaled_width);
        let scaled = imageops::resize(
            line,
            scaled_width as u32,
            HEIGHT as u32,
            FilterType::Triangle,
        );
        let input = Tensor::from_shape(
            &[1, 3, HEIGHT, input_width],
            &normalised_bgr(&scaled, input_width),
        )?;
        let output = self
            .plans
            .get([1, 3, HEIGHT, input_width])?
            .run(tvec!(input.into()))?;
        let probabilities = output[0].to_plain_array_view::<f32>()?;
        anyhow::ensure!(
            probabilities.ndim() == 3 && probabilities.shape()[2] == self.classes.len(),
            "unexpected recognition output shape {:?}",
            probabilities.shape()
        );
        let steps = probabilities
            .as_slice()
            .context("recognition output is not contiguous")?;
        Ok(ctc_decode(steps, &self.classes))
    }
}

/// The network's input width for a line scaled to `width`: at least `MIN_WIDTH`, then
/// the next of a few sizes, each about 1.4 times the last (320, 480, 640, 960, …),
/// the rest padded with zeros as the reference pads a batch. Each size is one plan
/// (about 11 MiB of packed weights): tract 0.23 plans this network for a symbolic
/// width only once the int32 casts of its reshapes' shapes are read as int64, and that
/// plan runs 11 times slower (a 960 line: 1.4 s against 0.12 s; its depthwise
/// convolutions and fused element-wise chains need the width). Few sizes, few plans,
/// at most half of a line's cost wasted on padding; doubling sizes (fewer plans) was
/// measured 5–20 % slower for no lower peak memory (docs/performance.md).
fn input_width(width: usize) -> usize {
    let mut size = MIN_WIDTH;
    let mut step = 0;
    while size < width {
        size = if step % 2 == 0 {
            size * 3 / 2
        } else {
            size * 4 / 3
        };
        step += 1;
    }
    size
}

/// Greedy CTC over softmax outputs: each step's most likely class, repeats collapsed,
/// blanks dropped; the confidence is the mean of the kept steps' probabilities (0 for
/// nothing read), as the reference computes it.
fn ctc_decode(steps: &[f32], classes: &[String]) -> (String, f32) {
    let (mut text, mut kept) = (String::new(), Vec::new());
    let mut previous = usize::MAX;
    for step in steps.chunks_exact(classes.len()) {
        let mut best = 0;
        for (class, p) in step.iter().enumerate() {
            // `>` keeps the first of equal maxima, like numpy's argmax.
            if *p > step[best] {
                best = class;
            }
        }
        if best != 0 && best != previous {
            text.push_str(&classes[best]);
            kept.push(step[best]);
        }
        previous = best;
    }
    let confidence = kept.iter().sum::<f32>() / kept.len().max(1) as f32;
    (text, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_padded_to_a_few_widths() {
        let widths: Vec<usize> = [1, 320, 321, 480, 500, 700, 1000, 3000]
            .map(input_width)
            .to_vec();
        assert_eq!(widths, [320, 320, 480, 480, 640, 960, 1280, 3840]);
    }

    #[test]
    fn ctc_collapses_repeats_and_drops_blanks() {
        let classes: Vec<String> = ["", "好", "的", " "].map(String::from).to_vec();
        // 好 好 blank 好 的 的 blank
        let one_hot = |class: usize, p: f32| {
            let mut step = vec![(1.0 - p) / 3.0; 4];
            step[class] = p;
            step
        };
        let steps: Vec<f32> = [
            (1, 0.9),
            (1, 0.8),
            (0, 0.99),
            (1, 0.7),
            (2, 0.6),
            (2, 0.9),
            (0, 0.9),
        ]
        .iter()
        .flat_map(|(c, p)| one_hot(*c, *p))
        .collect();
        let (text, confidence) = ctc_decode(&steps, &classes);
        assert_eq!(text, "好好的");
        // The first step of each run counts, as in the reference: 0.9, 0.7, 0.6.
        assert!((confidence - (0.9 + 0.7 + 0.6) / 3.0).abs() < 1e-6);
        assert_eq!(ctc_decode(&one_hot(0, 0.9), &classes), (String::new(), 0.0));
    }
}
