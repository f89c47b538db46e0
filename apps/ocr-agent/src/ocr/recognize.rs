//! Text recognition: PP-OCRv4's recognition network reads one line, 48 pixels high, as
//! character probabilities per 8 columns (softmax included), decoded by greedy CTC; a
//! long line in windows of 480 columns, joined where both read a blank. Its
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
/// The network reads at most this many columns at once (a line 48 px high); a wider line
/// is read in overlapping windows of this width. Each input width is one plan with its
/// own packed weights (about 11 MiB), so two widths (320 and 480) rather than one per
/// line length; tract 0.23 plans this network for a symbolic width only once the int32
/// casts of its reshapes' shapes are read as int64, and that plan runs 11 times slower
/// (a 960 line: 1.4 s against 0.12 s; its depthwise convolutions and fused element-wise
/// chains need the width; docs/performance.md).
const WINDOW: usize = 480;
/// Adjacent windows share this many columns (12 output steps); the text is
/// joined inside the shared part, where both windows see the glyphs whole.
const WINDOW_OVERLAP: usize = 96;
/// The network gives one output step per this many input columns.
const STEP: usize = 8;
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
        // The narrowest lines' plan, from the network already read, checks the classes
        // and the steps per column.
        let shape = [1, 3, HEIGHT, MIN_WIDTH];
        let plan = super::plan(onnx.model_for_proto_model(&proto)?, shape)?;
        let plans = Plans::new(path);
        plans.keep(shape, plan.clone());
        let output: Vec<Option<i64>> = plan
            .model()
            .output_fact(0)?
            .shape
            .iter()
            .map(|d| d.as_i64())
            .collect();
        let expected = [1, MIN_WIDTH / STEP, classes.len()].map(|d| i64::try_from(d).ok());
        anyhow::ensure!(
            output == expected,
            "{} gives {output:?} (batch, steps, classes) for a line of {MIN_WIDTH} columns, \
             where {expected:?} is expected ({} classes in its metadata)",
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
        let scaled = imageops::resize(
            line,
            scaled_width as u32,
            HEIGHT as u32,
            FilterType::Triangle,
        );
        // Each output step's most likely class and its probability, over the whole line.
        let mut steps: Vec<(usize, f32)> = Vec::new();
        for left in windows(scaled_width) {
            let columns = (scaled_width - left).min(WINDOW);
            let window = imageops::crop_imm(&scaled, left as u32, 0, columns as u32, HEIGHT as u32);
            let read = self.best_steps(&window.to_image())?;
            let first = left / STEP;
            let join = join_step(&steps, &read, first);
            steps.truncate(join);
            steps.extend_from_slice(&read[join - first..]);
        }
        Ok(ctc_decode(&steps, &self.classes))
    }

    /// Each output step's most likely class and its probability, for a line at most
    /// `WINDOW` columns wide, padded to the next input width.
    fn best_steps(&self, line: &RgbImage) -> anyhow::Result<Vec<(usize, f32)>> {
        let width = if line.width() as usize <= MIN_WIDTH {
            MIN_WIDTH
        } else {
            WINDOW
        };
        let input = Tensor::from_shape(&[1, 3, HEIGHT, width], &normalised_bgr(line, width))?;
        let output = self
            .plans
            .get([1, 3, HEIGHT, width])?
            .run(tvec!(input.into()))?;
        let probabilities = output[0].to_plain_array_view::<f32>()?;
        anyhow::ensure!(
            probabilities.shape() == [1, width / STEP, self.classes.len()],
            "unexpected recognition output shape {:?}",
            probabilities.shape()
        );
        let probabilities = probabilities
            .as_slice()
            .context("recognition output is not contiguous")?;
        Ok(probabilities
            .chunks_exact(self.classes.len())
            .map(best_class)
            .collect())
    }
}

/// The left columns of the windows a line `width` columns wide is read in: every
/// `WINDOW − WINDOW_OVERLAP` columns until one reaches the end. The last one is often
/// narrower, and then read at the narrower input width when it fits.
fn windows(width: usize) -> Vec<usize> {
    (0..)
        .map(|i| i * (WINDOW - WINDOW_OVERLAP))
        .take_while(|&left| left == 0 || left + WINDOW_OVERLAP < width)
        .collect()
}

/// Where the steps of a window starting at step `first` take over from those already
/// read (`steps`, which end inside the window): the step of the shared part nearest its
/// middle at which both read the CTC blank, so that no character is cut; the middle
/// itself when there is none. Only the middle half of the shared part is considered:
/// near its edges one of the two sees glyphs cut by the window's border.
fn join_step(steps: &[(usize, f32)], read: &[(usize, f32)], first: usize) -> usize {
    if steps.len() <= first {
        return first;
    }
    let shared = steps.len() - first;
    let middle = first + shared / 2;
    let reach = shared / 4;
    let blank_in_both = |step: usize| steps[step].0 == 0 && read[step - first].0 == 0;
    (0..=reach)
        .flat_map(|d| [middle - d, middle + d])
        .find(|&step| step < steps.len() && blank_in_both(step))
        .unwrap_or(middle)
}

/// A step's most likely class and its probability; `>` keeps the first of equal
/// maxima, like numpy's argmax.
fn best_class(step: &[f32]) -> (usize, f32) {
    let mut best = 0;
    for (class, p) in step.iter().enumerate() {
        if *p > step[best] {
            best = class;
        }
    }
    (best, step[best])
}

/// Greedy CTC over each step's most likely class: repeats collapsed, blanks dropped; the
/// confidence is the mean of the kept steps' probabilities (0 for nothing read), as the
/// reference computes it.
fn ctc_decode(steps: &[(usize, f32)], classes: &[String]) -> (String, f32) {
    let (mut text, mut kept) = (String::new(), Vec::new());
    let mut previous = usize::MAX;
    for &(best, p) in steps {
        if best != 0 && best != previous {
            text.push_str(&classes[best]);
            kept.push(p);
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
    fn wide_lines_are_read_in_overlapping_windows() {
        assert_eq!(windows(1), [0]);
        assert_eq!(windows(480), [0]);
        // The second window shares 96 columns and reads the one left over.
        assert_eq!(windows(481), [0, 384]);
        assert_eq!(windows(960), [0, 384, 768]);
        assert_eq!(windows(3072).len(), 8);
        for width in [481, 700, 1000, 3072] {
            let lefts = windows(width);
            assert!(lefts.iter().all(|left| left % STEP == 0));
            assert!(lefts.last().unwrap() + WINDOW >= width);
        }
    }

    #[test]
    fn windows_are_joined_where_both_read_a_blank() {
        let (a, b, blank) = ((5, 0.9), (6, 0.8), (0, 0.99));
        // Steps 0..10 read; the next window starts at step 4 and shares 4..10.
        let steps = [a, blank, a, blank, b, b, blank, a, blank, b];
        let read = [b, b, blank, a, a, blank, b, b];
        // The middle of 4..10 is 7 (a in both); 6 is blank in both, so the join is at 6.
        assert_eq!(join_step(&steps, &read, 4), 6);
        // Nothing blank in both near the middle: the middle.
        let busy = [b; 8];
        assert_eq!(join_step(&steps, &busy, 4), 7);
        // The first window, or one that starts after what was read, joins at its start.
        assert_eq!(join_step(&[], &read, 0), 0);
        assert_eq!(join_step(&steps, &read, 10), 10);
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
        let steps: Vec<(usize, f32)> = [
            (1, 0.9),
            (1, 0.8),
            (0, 0.99),
            (1, 0.7),
            (2, 0.6),
            (2, 0.9),
            (0, 0.9),
        ]
        .iter()
        .map(|(c, p)| best_class(&one_hot(*c, *p)))
        .collect();
        assert_eq!(steps[3], (1, 0.7));
        let (text, confidence) = ctc_decode(&steps, &classes);
        assert_eq!(text, "好好的");
        // The first step of each run counts, as in the reference: 0.9, 0.7, 0.6.
        assert!((confidence - (0.9 + 0.7 + 0.6) / 3.0).abs() < 1e-6);
        assert_eq!(ctc_decode(&[(0, 0.9)], &classes), (String::new(), 0.0));
        // Equal maxima: the first class, as numpy's argmax.
        assert_eq!(best_class(&[0.25; 4]), (0, 0.25));
    }
}
