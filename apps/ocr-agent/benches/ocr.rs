//! `make bench`: what the desktop agent spends per frame (docs/performance.md). On the
//! 480 × 420 chat panels of the OCR tests: the unread score and fingerprint every frame
//! pays, the first read of a new region size (planning the networks), and a read of an
//! unread frame (detection and recognition); then a full 600 × 800 panel of eight
//! bubbles, the time from a message appearing to its read ending at a 1 s interval, and
//! the process's peak resident memory. Needs the models (`make models`) and the CJK
//! font the tests use.
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
/// The agent's default look interval (docs/desktop-agent.md "Configuration").
const INTERVAL_MS: f64 = 1000.0;

/// A taller panel: four exchanges, as a chat window shows them.
const TALL_PANEL: [(bool, &str, &str); 8] = [
    (true, "tb_buyer88 10:21:33", "你好，这件衣服有货吗？"),
    (false, "店小二 10:22:01", "有的亲，L码和XL码都有货"),
    (true, "tb_buyer88 10:23:10", "什么时候发货？今天能发吗"),
    (false, "店小二 10:23:40", "下午四点前付款当天发货"),
    (true, "tb_buyer88 10:25:02", "Can I pay with Huabei?"),
    (false, "店小二 10:25:30", "可以的，支持花呗分期"),
    (true, "tb_buyer88 10:26:45", "我拍了，订单号20261202153"),
    (false, "店小二 10:27:05", "收到，马上为您安排"),
];

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A field of the process's memory status in MiB (`VmHWM` the peak resident set,
/// `VmRSS` the current one); Linux only.
fn memory_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
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

    let tall_bubbles: Vec<Bubble> = TALL_PANEL
        .iter()
        .map(|(buyer, header, text)| Bubble {
            buyer: *buyer,
            header,
            text,
        })
        .collect();
    let tall = panel::render(&font, &tall_bubbles, 600, 800, true);
    // The agent holds no font: the memory measured below is the agent's own.
    drop(font);

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
    // A message appears at a uniform moment of the interval and is read at the next
    // look: the wait to that look, then the fingerprint, the unread score and the read.
    // Every read paired with phases spread evenly over the interval.
    let phases = 20;
    let mut appear_to_read: Vec<f64> = reads
        .iter()
        .flat_map(|read| {
            (0..phases).map(move |i| {
                (i as f64 + 0.5) / phases as f64 * INTERVAL_MS + millis(per_frame) + read
            })
        })
        .collect();
    appear_to_read.sort_by(f64::total_cmp);
    reads.sort_by(f64::total_cmp);

    let tall_lines = ocr.read(&tall).unwrap().len();
    let mut tall_reads: Vec<f64> = (0..READS)
        .map(|_| {
            let started = Instant::now();
            ocr.read(&tall).unwrap();
            millis(started.elapsed())
        })
        .collect();
    tall_reads.sort_by(f64::total_cmp);

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
    println!(
        "  600 × 800 panel ({tall_lines} lines, {} reads): p50 {:.1} ms, p95 {:.1} ms",
        tall_reads.len(),
        percentile(&tall_reads, 0.5),
        percentile(&tall_reads, 0.95)
    );
    println!(
        "  appearing → read at a {INTERVAL_MS:.0} ms interval: p50 {:.1} ms, p95 {:.1} ms (plus the POST)",
        percentile(&appear_to_read, 0.5),
        percentile(&appear_to_read, 0.95)
    );
    match (memory_mib("VmRSS:"), memory_mib("VmHWM:")) {
        (Some(now), Some(peak)) => println!(
            "  resident memory after the reads {now:.0} MiB, peak {peak:.0} MiB (networks, plans, panels)"
        ),
        _ => println!("  resident memory: not available on this platform"),
    }
}
