//! `make bench`: what the desktop agent spends per frame (docs/performance.md). On the
//! 480 × 420 chat panels of the OCR tests: the unread score and fingerprint every frame
//! pays, the first read of a new region size (planning the networks), and a read of an
//! unread frame (detection and recognition). Needs the models (`make models`) and the
//! CJK font the tests use.
//!
//! Usage: cargo bench -p shopops-agent --bench ocr -- MODELS_DIR

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/panel.rs"]
mod panel;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use panel::Bubble;
use shopops_agent::frame::Fingerprint;
use shopops_agent::ocr::Ocr;
use shopops_agent::unread::{red_share, BadgeRed, Region};

const READS: usize = 10;

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let models = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| "data/models/pp-ocr".into());
    let font = panel::font();
    let panels: Vec<_> = [
        [
            ("tb_buyer88 10:21:33", "你好，这件衣服有货吗？"),
            ("店小二 10:22:01", "有的亲，L码和XL码都有货"),
        ],
        [
            ("Alice 09:00:15", "Is this jacket waterproof?"),
            ("Shop 09:01:02", "Yes, rated to 10000 mm."),
        ],
        [
            ("小王同学 14:05:11", "订单号20261202153是我的，帮我改个地址"),
            ("客服小美 14:06:00", "好的，请发新地址给我"),
        ],
    ]
    .iter()
    .map(|pair| {
        let bubbles: Vec<Bubble> = pair
            .iter()
            .enumerate()
            .map(|(i, (header, text))| Bubble {
                buyer: i == 0,
                header,
                text,
            })
            .collect();
        panel::render(&font, &bubbles, 480, 420, true)
    })
    .collect();

    let started = Instant::now();
    let ocr = Ocr::load(&models).unwrap();
    let load = started.elapsed();
    let started = Instant::now();
    let first_lines = ocr.read(&panels[0]).unwrap().len();
    let first = started.elapsed();

    let whole = Region {
        x: 0,
        y: 0,
        width: 480,
        height: 420,
    };
    let started = Instant::now();
    for _ in 0..100 {
        for frame in &panels {
            std::hint::black_box(red_share(frame, whole, &BadgeRed::default()));
            std::hint::black_box(Fingerprint::of(frame));
        }
    }
    let per_frame = started.elapsed() / (100 * panels.len() as u32);

    // Planned for every line width these panels need, then timed.
    for frame in &panels {
        ocr.read(frame).unwrap();
    }
    let (mut reads, mut lines) = (Vec::new(), 0);
    for _ in 0..READS {
        for frame in &panels {
            let started = Instant::now();
            lines += ocr.read(frame).unwrap().len();
            reads.push(millis(started.elapsed()));
        }
    }
    reads.sort_by(f64::total_cmp);
    let mean = reads.iter().sum::<f64>() / reads.len() as f64;
    println!(
        "desktop agent, 480 × 420 chat panels ({} reads of {} panels)",
        reads.len(),
        panels.len()
    );
    println!("  load both networks            {:8.1} ms", millis(load));
    println!(
        "  first read (plans the region) {:8.1} ms ({first_lines} lines)",
        millis(first)
    );
    println!(
        "  every frame: unread + fingerprint {:6.2} ms",
        millis(per_frame)
    );
    println!(
        "  read an unread frame: p50 {:.1} ms, p95 {:.1} ms, mean {:.1} ms, {:.1} ms per line",
        percentile(&reads, 0.5),
        percentile(&reads, 0.95),
        mean,
        mean * reads.len() as f64 / lines as f64
    );
}
