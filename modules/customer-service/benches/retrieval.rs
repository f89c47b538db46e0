//! Retrieval figures for docs/performance.md (no criterion: it prints a table).
//!
//! ```text
//! cargo bench -p shopops-customer-service --bench retrieval [-- SIZES]   # default 1000,10000,100000
//! ```
//!
//! Per knowledge-base size, on synthetic FAQ-like entries (`synth::synthetic_kb`,
//! question + 0–2 similar questions, seeded):
//! - build: time to `upsert` every entry into an empty index, per 10k entries;
//! - memory: the index's own estimate of its heap, and the process's resident-set
//!   growth while building (Linux), per 10k entries;
//! - lexical search + rank (top 30 candidates → 10 hits): p50 / p95 / max over 500
//!   queries (perturbed questions and unrelated messages);
//! - one incremental `upsert` into the full index (p50 / p95);
//! - dense: `FlatVectors` of one 512-float vector per entry (random: a flat scan
//!   costs the same for any vectors), search p50 / p95, memory; and hybrid = lexical
//!   + dense + fused rank, excluding the query encoding;
//! - with `CS_ENCODER_DIR` set to the built-in encoder's files: query encoding time.
//!
//! Single thread; the numbers are per core.

use std::time::{Duration, Instant};

use shopops_customer_service::retrieval::synth::{self, Rng};
use shopops_customer_service::retrieval::{
    rank, Dense, Encoder, FlatVectors, LexicalIndex, CANDIDATES,
};

const QUERIES: usize = 500;
const DIM: usize = 512;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    println!(
        "{:>8} {:>12} {:>14} {:>14} {:>22} {:>18} {:>22} {:>12} {:>18}",
        "entries",
        "build/10k",
        "heap/10k",
        "rss/10k",
        "lexical p50/p95/max",
        "upsert p50/p95",
        "dense p50/p95/max",
        "dense heap",
        "hybrid p50/p95"
    );
    for n in sizes {
        bench_size(n);
    }
    if let Some(dir) = std::env::var_os("CS_ENCODER_DIR") {
        bench_encoder(std::path::Path::new(&dir));
    }
}

fn bench_size(n: usize) {
    let entries = synth::synthetic_kb(n, 42);
    let texts: usize = entries.iter().map(|e| e.texts.len()).sum();
    let rss0 = rss_bytes();
    let t = Instant::now();
    let mut index = LexicalIndex::default();
    for e in entries.iter().cloned() {
        index.upsert(e);
    }
    let build = t.elapsed();
    let rss = rss_bytes().saturating_sub(rss0);
    let per10k = |x: f64| x * 10_000.0 / n as f64;

    // Queries: 80 % perturbed questions of random entries, 20 % unrelated messages.
    let mut rng = Rng::new(7);
    let unrelated = synth::unrelated();
    let queries: Vec<String> = (0..QUERIES)
        .map(|i| {
            if i % 5 == 4 {
                unrelated[rng.below(unrelated.len())].to_owned()
            } else {
                let e = &entries[rng.below(entries.len())];
                let ops = 1 + rng.below(2);
                synth::perturb(&e.texts[0], &mut rng, ops)
            }
        })
        .collect();
    let lexical = time_each(&queries, |q| {
        let hits = index.search(q, None, CANDIDATES);
        std::hint::black_box(rank(q, hits, None, 10));
    });

    // Incremental writes into the full index.
    let fresh = synth::synthetic_kb(200, 4242);
    let mut upserts = Vec::with_capacity(fresh.len());
    for (i, mut e) in fresh.into_iter().enumerate() {
        e.id = (n + i + 1) as i64;
        let t = Instant::now();
        index.upsert(e);
        upserts.push(t.elapsed());
    }
    upserts.sort();

    // Dense side: one random unit vector per entry.
    let mut flat = FlatVectors::new(DIM);
    for e in &entries {
        flat.upsert(e.id, None, true, &[random_vector(&mut rng)])
            .unwrap_or_default();
    }
    let qvecs: Vec<Vec<f32>> = (0..QUERIES).map(|_| random_vector(&mut rng)).collect();
    let mut qi = 0usize;
    let dense = time_each(&qvecs, |v| {
        std::hint::black_box(flat.search(v, None, CANDIDATES));
    });
    let hybrid = time_each(&queries, |q| {
        let lex = index.search(q, None, CANDIDATES);
        let hits = flat.search(&qvecs[qi % QUERIES], None, CANDIDATES);
        qi += 1;
        std::hint::black_box(rank(
            q,
            lex,
            Some(Dense {
                encoder: "use-multilingual-v3",
                hits,
            }),
            10,
        ));
    });

    println!(
        "{:>8} {:>12} {:>14} {:>14} {:>22} {:>18} {:>22} {:>12} {:>18}",
        n,
        format!("{:.0} ms", per10k(build.as_secs_f64() * 1e3)),
        mib(per10k(index.heap_bytes() as f64)),
        if rss > 0 {
            mib(per10k(rss as f64))
        } else {
            "-".into()
        },
        format!("{}/{}/{}", ms(lexical.0), ms(lexical.1), ms(lexical.2)),
        format!(
            "{}/{}",
            ms(upserts[upserts.len() / 2]),
            ms(upserts[upserts.len() * 95 / 100])
        ),
        format!("{}/{}/{}", ms(dense.0), ms(dense.1), ms(dense.2)),
        mib(flat.heap_bytes() as f64),
        format!("{}/{}", ms(hybrid.0), ms(hybrid.1)),
    );
    println!("{:>8} ({texts} texts)", "");
}

fn bench_encoder(dir: &std::path::Path) {
    let Ok(enc) = shopops_customer_service::retrieval::encoder::BuiltinEncoder::load(dir) else {
        println!(
            "CS_ENCODER_DIR: cannot load the encoder from {}",
            dir.display()
        );
        return;
    };
    let mut rng = Rng::new(9);
    let faq = synth::seller_faq();
    let queries: Vec<String> = (0..300)
        .map(|_| synth::perturb(rng.pick(&faq)[0], &mut rng, 1))
        .collect();
    let t = time_each(&queries, |q| {
        std::hint::black_box(enc.embed(&[q]).unwrap_or_default());
    });
    println!(
        "query encoding ({}): p50 {} p95 {} max {}",
        enc.name(),
        ms(t.0),
        ms(t.1),
        ms(t.2)
    );
}

/// p50, p95 and max of `f` over `items` (after a warm-up pass over 50 of them).
fn time_each<T>(items: &[T], mut f: impl FnMut(&T)) -> (Duration, Duration, Duration) {
    for x in items.iter().take(50) {
        f(x);
    }
    let mut times: Vec<Duration> = items
        .iter()
        .map(|x| {
            let t = Instant::now();
            f(x);
            t.elapsed()
        })
        .collect();
    times.sort();
    (
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        times[times.len() - 1],
    )
}

fn random_vector(rng: &mut Rng) -> Vec<f32> {
    (0..DIM)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        .collect()
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}
