//! `make bench` (points): the release server on a fresh PostgreSQL database, 32
//! concurrent HTTP clients doing an earn/spend mix (auth, RBAC, idempotency and audit
//! included), beside `pgbench` running the same SQL of one operation with the same
//! concurrency on the same server. Then the hot-account case (every client on one
//! member). Prints a Markdown table for docs/performance.md.
//!
//! Needs PostgreSQL (`BENCH_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/postgres)
//! and pgbench. `BENCH_SECONDS` (default 15), `BENCH_CLIENTS` (default 32).

// A bench tool: a failed unwrap is a failed run, reported by the panic.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};

mod support;

const MEMBERS: u64 = 1000;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

struct Stats {
    ops: usize,
    /// Refusals by error code (a spend of a drained hot account is a correct 409).
    errors: std::collections::BTreeMap<String, usize>,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn http_load(base: &str, token: &str, clients: usize, secs: u64, hot: bool) -> Stats {
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let errors: Arc<Mutex<std::collections::BTreeMap<String, usize>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks = (0..clients).map(|c| {
        let (base, token, latencies, errors) = (base.to_string(), token.to_string(), latencies.clone(), errors.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ (c as u64 + 1);
            let mut i = 0u64;
            let mut mine = Vec::with_capacity(4096);
            while Instant::now() < deadline {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let member = if hot { 1 } else { 1 + seed % MEMBERS };
                let (path, body) = if seed % 2 == 0 {
                    ("earn", json!({ "member_id": format!("m{member}"), "points_amount": 5, "category": "login" }))
                } else {
                    ("spend", json!({ "member_id": format!("m{member}"), "points_amount": 3 }))
                };
                i += 1;
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/points/{path}"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("bench-{}-{c}-{i}", if hot { "hot" } else { "spread" }))
                    .json(&body)
                    .send()
                    .await;
                let outcome = match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let _ = r.bytes().await;
                        None
                    }
                    Ok(r) => {
                        let body: Value = r.json().await.unwrap_or_default();
                        Some(body["error"]["code"].as_str().unwrap_or("?").to_string())
                    }
                    Err(e) => Some(format!("transport: {e}")),
                };
                match outcome {
                    None => mine.push(t.elapsed().as_secs_f64() * 1000.0),
                    Some(code) => *errors.lock().unwrap().entry(code).or_default() += 1,
                }
            }
            latencies.lock().unwrap().extend(mine);
        })
    });
    for t in tasks.collect::<Vec<_>>() {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let errors = errors.lock().unwrap().clone();
    Stats {
        ops: l.len(),
        errors,
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn pgbench(url: &str, clients: usize, secs: u64, members: u64) -> (f64, f64) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/points_sql");
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-r",
            "-D",
            &format!("members={members}"),
        ])
        .args([
            "-f",
            &format!("{dir}/earn.sql@1"),
            "-f",
            &format!("{dir}/spend.sql@1"),
            url,
        ])
        .output()
        .expect("pgbench (Debian package postgresql-contrib)");
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let latency = text
        .lines()
        .find_map(|l| l.strip_prefix("latency average = "))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    if tps == 0.0 {
        eprintln!(
            "pgbench said:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (tps, latency)
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| {
                    l.strip_prefix("VmRSS:")
                        .map(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
                })
                .flatten()
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    shopops_kernel::outside::install_crypto_provider();
    let admin_url = env_or(
        "BENCH_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let secs: u64 = env_or("BENCH_SECONDS", "15").parse().unwrap_or(15);
    let clients: usize = env_or("BENCH_CLIENTS", "32").parse().unwrap_or(32);
    let name = format!("shopops_bench_{}", std::process::id());
    let admin = Database::connect(&admin_url)
        .await
        .expect("PostgreSQL for the bench (BENCH_DATABASE_URL)");
    admin
        .execute(Statement::from_string(
            admin.get_database_backend(),
            format!("CREATE DATABASE {name}"),
        ))
        .await
        .unwrap();
    let (base_url, _) = admin_url.rsplit_once('/').unwrap();
    let db_url = format!("{base_url}/{name}");

    let port = support::free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_shopops"))
        .env("DATABASE_URL", &db_url)
        .env("SHOPOPS_BIND", format!("127.0.0.1:{port}"))
        .env("SHOPOPS_BOOTSTRAP_ADMIN", support::ROOT)
        .env("SHOPOPS_RATE_LIMIT_ENABLED", "false")
        .env("SHOPOPS_ACCESS_TOKEN_TTL_SECS", "7200")
        .env(
            "SHOPOPS_DATABASE_MAX_CONNECTIONS",
            (clients + 8).to_string(),
        )
        .env("SHOPOPS_LOG_LEVEL", "warn")
        .env("SHOPOPS_DATA_DIR", std::env::temp_dir())
        .stdout(Stdio::null())
        .spawn()
        .expect("release shopops");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    support::wait_ready(&http, &base).await;
    let token = support::bench_tenant(&http, &base).await;
    // Every member starts with enough points for the spends.
    for chunk in (1..=MEMBERS).collect::<Vec<_>>().chunks(500) {
        let ops: Vec<Value> = chunk.iter().map(|m| json!({ "member_id": format!("m{m}"), "points_amount": 10000, "category": "payment" })).collect();
        let r = http
            .post(format!("{base}/api/v1/points/batch-earn"))
            .bearer_auth(&token)
            .json(&json!({ "operations": ops, "atomic": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    let spread = http_load(&base, &token, clients, secs, false).await;
    let hot = http_load(&base, &token, clients, secs, true).await;
    let rss = rss_mib(server.id());
    let (pg_tps, pg_latency) = pgbench(&db_url, clients, secs, MEMBERS);
    let (pg_hot_tps, pg_hot_latency) = pgbench(&db_url, clients, secs, 1);
    let _ = server.kill();
    let _ = server.wait();
    let integrity = Command::new(env!("CARGO_BIN_EXE_shopops"))
        .args(["points", "verify"])
        .env("DATABASE_URL", &db_url)
        .output()
        .unwrap();
    let consistent = integrity.status.success();
    admin
        .execute(Statement::from_string(
            admin.get_database_backend(),
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ))
        .await
        .ok();

    let ops = |s: &Stats| s.ops as f64 / s.secs;
    println!("points write path, PostgreSQL, {clients} concurrent clients, {secs} s per case, earn/spend 50/50\n");
    println!("| case | ShopOps over HTTP (ops/s) | p50 | p99 | refused | pgbench, same SQL (tps) | pgbench latency avg | ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    println!("| {MEMBERS} members | {:.0} | {:.1} ms | {:.1} ms | {:?} | {pg_tps:.0} | {pg_latency:.1} ms | {:.0} % |", ops(&spread), spread.p50_ms, spread.p99_ms, spread.errors, 100.0 * ops(&spread) / pg_tps);
    println!("| hot account (1 member) | {:.0} | {:.1} ms | {:.1} ms | {:?} | {pg_hot_tps:.0} | {pg_hot_latency:.1} ms | {:.0} % |", ops(&hot), hot.p50_ms, hot.p99_ms, hot.errors, 100.0 * ops(&hot) / pg_hot_tps);
    println!(
        "\nserver RSS after the run: {rss:.0} MiB; ledger consistent afterwards: {consistent}"
    );
}
