//! `make bench` (points): in one run on one PostgreSQL, standard `pgbench` (TPC-B-like,
//! `-M prepared`, scale 32) for the machine's yardstick; then the release server on a
//! fresh database, 32 concurrent HTTP clients doing an earn/spend mix (auth, RBAC,
//! idempotency and audit included) over 1000 members and over one hot member; then
//! `pgbench` running the same SQL as one operation with the same concurrency. Reports
//! ops/s, p50/p99, CPU per operation, the audit linker's backlog, and checks the
//! ledger and the audit chain afterwards. Prints Markdown for docs/performance.md.
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

/// "0", or each refusal's error code with its count.
fn refused(errors: &std::collections::BTreeMap<String, usize>) -> String {
    if errors.is_empty() {
        return "0".to_string();
    }
    errors
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs pgbench with `args` against `url`; its tps and average latency (ms).
fn pgbench(url: &str, args: &[&str]) -> (f64, f64) {
    let out = Command::new("pgbench")
        .args(args)
        .arg(url)
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

/// pgbench running one earn or spend as the server does, over `members` members.
fn pgbench_same_sql(url: &str, clients: usize, secs: u64, members: u64) -> (f64, f64) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/points_sql");
    let (clients, secs) = (clients.to_string(), secs.to_string());
    let members = format!("members={members}");
    let (earn, spend) = (format!("{dir}/earn.sql@1"), format!("{dir}/spend.sql@1"));
    pgbench(
        url,
        &[
            "-n", "-c", &clients, "-j", "2", "-T", &secs, "-D", &members, "-f", &earn, "-f", &spend,
        ],
    )
}

/// Standard pgbench (TPC-B-like, prepared statements, scale 32) on a database of its own.
async fn pgbench_standard(
    admin: &sea_orm::DatabaseConnection,
    base_url: &str,
    name: &str,
    clients: usize,
    secs: u64,
) -> (f64, f64) {
    let db = format!("{name}_tpcb");
    exec(admin, &format!("CREATE DATABASE {db}")).await;
    let url = format!("{base_url}/{db}");
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "32", &url])
        .output()
        .expect("pgbench -i");
    assert!(
        init.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let (clients, secs) = (clients.to_string(), secs.to_string());
    let result = pgbench(
        &url,
        &["-M", "prepared", "-c", &clients, "-j", "2", "-T", &secs],
    );
    exec(admin, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
    result
}

async fn exec(db: &sea_orm::DatabaseConnection, sql: &str) {
    db.execute(Statement::from_string(
        db.get_database_backend(),
        sql.to_string(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// CPU time (user + system) a process has used, in seconds (Linux clock ticks are
/// 1/100 s).
fn process_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: state is the 1st, utime the 12th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

/// CPU time the whole machine has spent busy (not idle or waiting), in seconds.
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
    (ticks.iter().take(8).sum::<f64>() - idle) / 100.0
}

/// Audit records committed but not linked into their chain yet.
async fn unlinked(db: &sea_orm::DatabaseConnection) -> i64 {
    db.query_one(Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM audit_logs WHERE seq IS NULL",
    ))
    .await
    .ok()
    .flatten()
    .and_then(|row| row.try_get::<i64>("", "n").ok())
    .unwrap_or(-1)
}

/// One HTTP case with what it cost: ops, latencies, CPU, the linker's largest backlog.
struct Case {
    stats: Stats,
    server_cpu_ms: f64,
    machine_cpu_ms: f64,
    max_backlog: i64,
}

async fn http_case(
    base: &str,
    token: &str,
    clients: usize,
    secs: u64,
    hot: bool,
    pid: u32,
    db: &sea_orm::DatabaseConnection,
) -> Case {
    let (server0, machine0) = (process_cpu_secs(pid), machine_busy_secs());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = {
        let (db, done) = (db.clone(), done.clone());
        tokio::spawn(async move {
            let mut max = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(unlinked(&db).await);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            max
        })
    };
    let stats = http_load(base, token, clients, secs, hot).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let max_backlog = watch.await.unwrap();
    let per_op = |secs: f64| 1000.0 * secs / stats.ops.max(1) as f64;
    Case {
        server_cpu_ms: per_op(process_cpu_secs(pid) - server0),
        machine_cpu_ms: per_op(machine_busy_secs() - machine0),
        max_backlog,
        stats,
    }
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
    let (base_url, _) = admin_url.rsplit_once('/').unwrap();
    // The yardstick first, on the idle machine, before our database exists.
    let (std_tps, std_latency) = pgbench_standard(&admin, base_url, &name, clients, secs).await;
    exec(&admin, &format!("CREATE DATABASE {name}")).await;
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

    let db = Database::connect(&db_url).await.unwrap();
    let pid = server.id();
    let spread = http_case(&base, &token, clients, secs, false, pid, &db).await;
    let hot = http_case(&base, &token, clients, secs, true, pid, &db).await;
    // How long the linker takes to catch up once the writes stop.
    let caught_up = Instant::now();
    while unlinked(&db).await > 0 && caught_up.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let catch_up = caught_up.elapsed();
    let rss = rss_mib(pid);
    let tool = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shopops"))
            .args(args)
            .env("DATABASE_URL", &db_url)
            .output()
            .unwrap()
    };
    // The server's own work, checked before pgbench writes beside it.
    let ledger_ok_http = tool(&["points", "verify"]).status.success();
    let (pg_tps, pg_latency) = pgbench_same_sql(&db_url, clients, secs, MEMBERS);
    let (pg_hot_tps, pg_hot_latency) = pgbench_same_sql(&db_url, clients, secs, 1);
    // Stopped gracefully: the server links what the last pgbench run left.
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = server.wait();
    db.close().await.ok();
    let ledger_ok_all = tool(&["points", "verify"]).status.success();
    let chain = tool(&["audit", "verify"]);
    let chain_ok = chain.status.success();
    let chain_report: Value = serde_json::from_slice(&chain.stdout).unwrap_or_default();
    exec(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;

    let ops = |c: &Case| c.stats.ops as f64 / c.stats.secs;
    println!("points write path, PostgreSQL, {clients} concurrent clients, {secs} s per case, earn/spend 50/50\n");
    println!("standard pgbench (TPC-B-like, -M prepared, scale 32, {clients} clients): {std_tps:.0} tps, {std_latency:.1} ms average\n");
    println!("| case | ShopOps over HTTP (ops/s) | p50 | p99 | refused | ÷ standard pgbench | server CPU / op | machine CPU / op | linker backlog (max) | pgbench, same SQL (tps) | ÷ same SQL |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (label, case, same_sql) in [
        (format!("{MEMBERS} members"), &spread, pg_tps),
        ("hot account (1 member)".to_string(), &hot, pg_hot_tps),
    ] {
        println!(
            "| {label} | {:.0} | {:.1} ms | {:.1} ms | {} | {:.2} | {:.2} ms | {:.2} ms | {} records | {same_sql:.0} | {:.2} |",
            ops(case),
            case.stats.p50_ms,
            case.stats.p99_ms,
            refused(&case.stats.errors),
            ops(case) / std_tps,
            case.server_cpu_ms,
            case.machine_cpu_ms,
            case.max_backlog,
            ops(case) / same_sql,
        );
    }
    println!("\npgbench same SQL latency average: {pg_latency:.1} ms (1000 members), {pg_hot_latency:.1} ms (hot)");
    println!(
        "linker caught up {:.0} ms after the writes stopped; server RSS after the run: {rss:.0} MiB",
        catch_up.as_secs_f64() * 1000.0
    );
    println!(
        "ledger consistent after the HTTP cases: {ledger_ok_http}; after the same-SQL runs too: {ledger_ok_all}; audit chain verified: {chain_ok} ({} records)",
        chain_report["records"]
    );
}
