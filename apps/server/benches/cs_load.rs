//! `make bench` (customer service): the release server on its embedded defaults
//! (SQLite in a temporary folder, lexical retrieval), measured over HTTP with auth,
//! RBAC and the search history included:
//!
//! - import throughput: a `CS_BENCH_ENTRIES`-row CSV (default 10 000; synthetic FAQ
//!   entries with 0–2 similar questions, seeded) through `POST /cs/kb/import` until
//!   the job reports it done;
//! - the first search after a restart (the tenant's index built from the database);
//! - `POST /cs/kb/search` latency, one client, 2 000 queries;
//! - buyer messages (`POST /cs/messages`, routed before the answer, stub LLM): ingest
//!   to decision latency at a paced 100 messages/s for 20 s (open loop: each message
//!   leaves on schedule, whatever the previous ones do), half of them KB questions
//!   (sent from the KB) and half unrelated (drafted for review); then the most
//!   messages/s 16 concurrent clients reach in 10 s, and that per core.
//!
//! Prints a Markdown table for docs/performance.md.

// A bench tool: a failed unwrap is a failed run, reported by the panic.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shopops_customer_service::retrieval::synth::synthetic_kb;

mod support;
use support::{bench_tenant, free_port, get, login, wait_ready};

const SEARCHES: usize = 2000;

fn start(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shopops"))
        .env("SHOPOPS_DATA_DIR", dir)
        .env("SHOPOPS_BIND", format!("127.0.0.1:{port}"))
        .env("SHOPOPS_BOOTSTRAP_ADMIN", support::ROOT)
        .env("SHOPOPS_RATE_LIMIT_ENABLED", "false")
        .env("SHOPOPS_LOG_LEVEL", "warn")
        .env("CS_ENCODER", "lexical")
        .env("CS_IMPORT_MAX_BYTES", (100 * 1024 * 1024).to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("release shopops")
}

fn csv_of(n: usize) -> (Vec<u8>, Vec<String>) {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["question", "answer", "similar_questions"])
        .unwrap();
    let mut questions = Vec::with_capacity(n);
    for e in synthetic_kb(n, 20261202) {
        let answer = format!("答复 {}", e.id);
        out.write_record([&e.texts[0], &answer, &e.texts[1..].join("|")])
            .unwrap();
        questions.push(e.texts.last().unwrap().clone());
    }
    (out.into_inner().unwrap(), questions)
}

async fn search(http: &reqwest::Client, base: &str, token: &str, query: &str) -> f64 {
    let t = Instant::now();
    let r = http
        .post(format!("{base}/api/v1/cs/kb/search"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "top_k": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;
    t.elapsed().as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    shopops_kernel::outside::install_crypto_provider();
    let n: usize = std::env::var("CS_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = start(dir.path(), port);
    wait_ready(&http, &base).await;
    let token = bench_tenant(&http, &base).await;

    // Import.
    let (file, questions) = csv_of(n);
    let started = Instant::now();
    let created: Value = http
        .post(format!("{base}/api/v1/cs/kb/import?format=csv"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"));
    loop {
        let state = get(&http, &format!("{base}/api/v1/cs/kb/imports/{id}"), &token).await;
        if state["status"] == "done" {
            assert_eq!(state["failed"], 0, "{state}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let import_secs = started.elapsed().as_secs_f64();

    // Restart: the first search builds the tenant's index from the database.
    server.kill().unwrap();
    server.wait().unwrap();
    let mut server = start(dir.path(), port);
    wait_ready(&http, &base).await;
    let token = login(&http, &base, Some("bench"), "admin", "bench-admin-password").await;
    let first_ms = search(&http, &base, &token, &questions[0]).await;

    let mut latencies: Vec<f64> = Vec::with_capacity(SEARCHES);
    for i in 0..SEARCHES {
        let q = &questions[(i * 7919) % questions.len()];
        latencies.push(search(&http, &base, &token, q).await);
    }
    let search = percentiles(latencies);
    let messages = messages(&http, &base, &token, &questions).await;
    server.kill().unwrap();
    server.wait().unwrap();

    println!("| entries | import | import rows/s | first search after restart (index build) | search p50 / p95 / p99 over HTTP |");
    println!("|---|---|---|---|---|");
    println!(
        "| {n} | {import_secs:.1} s | {:.0} | {first_ms:.0} ms | {:.2} / {:.2} / {:.2} ms |",
        n as f64 / import_secs,
        search[0],
        search[1],
        search[2]
    );
    println!();
    println!("| KB entries | paced rate | messages | ingest → decision p50 / p95 / p99 | most messages/s (16 clients) | per core |");
    println!("|---|---|---|---|---|---|");
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "| {n} | {PACED_RATE}/s | {} | {:.1} / {:.1} / {:.1} ms | {:.0} | {:.0} ({cores} cores, load generator included) |",
        messages.paced,
        messages.latency[0],
        messages.latency[1],
        messages.latency[2],
        messages.throughput,
        messages.throughput / cores as f64
    );
}

/// p50, p95 and p99 of `samples`.
fn percentiles(mut samples: Vec<f64>) -> [f64; 3] {
    samples.sort_by(f64::total_cmp);
    [0.50, 0.95, 0.99]
        .map(|p| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)])
}

const PACED_RATE: u64 = 100;
const PACED_SECS: u64 = 20;

struct MessageFigures {
    paced: usize,
    latency: [f64; 3],
    throughput: f64,
}

/// Posts message `i` (unique customer, so never a duplicate): a KB question when `i`
/// is even, an unrelated one when odd. Returns the latency in ms.
async fn post_message(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    shop: i64,
    questions: &[String],
    i: usize,
) -> f64 {
    let content = if i % 2 == 0 {
        questions[(i * 7919) % questions.len()].clone()
    } else {
        format!("第{i}号包裹的快递员电话是多少")
    };
    let t = Instant::now();
    let r = http
        .post(format!("{base}/api/v1/cs/messages"))
        .bearer_auth(token)
        .json(&json!({ "shop_id": shop, "customer_id": format!("buyer-{i}"), "content": content, "source": "api" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let _ = r.bytes().await;
    t.elapsed().as_secs_f64() * 1000.0
}

async fn messages(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    questions: &[String],
) -> MessageFigures {
    let shop = support::post(
        http,
        &format!("{base}/api/v1/cs/shops"),
        Some(token),
        &json!({ "name": "bench", "ai_model": "stub", "auto_mode": true }),
    )
    .await;
    let shop = shop["id"].as_i64().unwrap_or_else(|| panic!("{shop}"));
    let questions = std::sync::Arc::new(questions.to_vec());

    // Paced: one message every 10 ms, each on its own task.
    let total = (PACED_RATE * PACED_SECS) as usize;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / PACED_RATE));
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tick.tick().await;
        let (http, base, token, questions) = (
            http.clone(),
            base.to_string(),
            token.to_string(),
            questions.clone(),
        );
        tasks.push(tokio::spawn(async move {
            post_message(&http, &base, &token, shop, &questions, i).await
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        latencies.push(t.await.unwrap());
    }

    // Closed loop: 16 clients as fast as answers come.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(10);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(total));
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (http, base, token, questions, next) = (
            http.clone(),
            base.to_string(),
            token.to_string(),
            questions.clone(),
            next.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut done = 0usize;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                post_message(&http, &base, &token, shop, &questions, i).await;
                done += 1;
            }
            done
        }));
    }
    let mut done = 0;
    for c in clients {
        done += c.await.unwrap();
    }
    MessageFigures {
        paced: total,
        latency: percentiles(latencies),
        throughput: done as f64 / started.elapsed().as_secs_f64(),
    }
}
