//! Speed and memory of the built-in sentence encoder, for docs/performance.md:
//! load time, resident memory, and per-query encoding time on one thread (p50/p95),
//! one query per call as a live buyer message is encoded, then in batches as an
//! index build encodes knowledge-base entries.
//!
//! ```text
//! make models
//! cargo run --release -p shopops-customer-service --example encoder_bench -- [MODEL_DIR] [ROUNDS]
//! ```
//! `MODEL_DIR` defaults to `./data/models/use-multilingual-v3`, `ROUNDS` to 50.

use std::path::PathBuf;
use std::time::Instant;

use shopops_customer_service::retrieval::encoder::BuiltinEncoder;
use shopops_customer_service::retrieval::Encoder;

/// Buyer messages of typical lengths (written for this benchmark).
const QUERIES: [&str; 16] = [
    "我的订单什么时候发货？",
    "下单三天了还没发货，怎么回事",
    "能不能改一下收货地址？我填错了",
    "包裹显示已签收但是我没收到",
    "怎么申请退款",
    "衣服尺码不合适可以换吗，运费谁出",
    "花呗能用吗",
    "这个颜色和图片上的一样吗",
    "优惠券为什么用不了",
    "在吗？",
    "收到的商品有破损，外包装也压坏了，能补发一个吗",
    "请问这款有没有现货，今天下单明天能到上海吗",
    "发票抬头写错了能重开吗",
    "When will my order be shipped?",
    "用 Alipay 付款失败了",
    "我想买一台性价比高、续航长、拍照好的手机，两千元左右，有没有推荐的型号",
];

/// A field of /proc/self/status (Linux), such as `VmRSS:`.
fn process_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "n/a".into())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(
        || PathBuf::from("data/models").join(BuiltinEncoder::DIR_NAME),
        PathBuf::from,
    );
    let rounds: usize = args.next().map_or(Ok(50), |r| r.parse())?;

    println!("RSS before load: {}", process_status("VmRSS:"));
    let start = Instant::now();
    let encoder = BuiltinEncoder::load(&dir)?;
    println!("load: {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
    println!(
        "RSS after load: {} (peak {})",
        process_status("VmRSS:"),
        process_status("VmHWM:")
    );

    let tokens: usize = QUERIES.iter().map(|q| encoder.token_ids(q).len()).sum();
    println!(
        "{} queries, {:.1} tokens each on average (with <s> and </s>)",
        QUERIES.len(),
        tokens as f64 / QUERIES.len() as f64
    );
    encoder.embed(&QUERIES)?; // warm-up

    let mut per_query_ms = Vec::with_capacity(rounds * QUERIES.len());
    for _ in 0..rounds {
        for query in QUERIES {
            let start = Instant::now();
            let embedding = encoder.embed(&[query])?;
            per_query_ms.push(start.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(embedding);
        }
    }
    per_query_ms.sort_by(f64::total_cmp);
    println!(
        "one query per call, 1 thread: p50 {:.2} ms, p95 {:.2} ms, mean {:.2} ms ({} calls)",
        percentile(&per_query_ms, 0.50),
        percentile(&per_query_ms, 0.95),
        per_query_ms.iter().sum::<f64>() / per_query_ms.len() as f64,
        per_query_ms.len()
    );

    let batch: Vec<&str> = QUERIES.iter().copied().cycle().take(256).collect();
    let start = Instant::now();
    for _ in 0..rounds.div_ceil(8) {
        std::hint::black_box(encoder.embed(&batch)?);
    }
    let texts = batch.len() * rounds.div_ceil(8);
    println!(
        "batches of {}, 1 thread: {:.2} ms per text",
        batch.len(),
        start.elapsed().as_secs_f64() * 1e3 / texts as f64
    );
    println!(
        "RSS at end: {} (peak {})",
        process_status("VmRSS:"),
        process_status("VmHWM:")
    );
    Ok(())
}
