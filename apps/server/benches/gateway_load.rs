//! `make bench` (platform gateway): the release server on its embedded defaults in
//! front of the e2e suite's fake platform (tests/e2e/fake_platform.rs, in this
//! process), captchas read by its Chaojiying-speaking reader through the integrations
//! module:
//!
//! - a call through the gateway (`POST /gateway/platforms/{id}/request`, auth, RBAC,
//!   session lookup, audit record included) against the same call made directly with
//!   the session cookie: p50/p99 of 2 000 sequential calls each, and the overhead;
//! - the most proxied calls/s 16 concurrent clients reach in 10 s, and per core;
//! - a session-expiry storm: 10 rounds of "the platform forgets every session, 50
//!   calls arrive at once": logins per expiry (must be 1) and the round's time;
//! - the local captcha model's time per image, when `make models` fetched it and
//!   `make test-models` drew its captchas (target/test-models/captchas).
//!
//! Prints a Markdown table for docs/performance.md.

// A bench tool: a failed unwrap is a failed run, reported by the panic.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

mod support;
use support::{bench_tenant, free_port, post, wait_ready};

/// What tests/e2e/fake_platform.rs takes from the e2e suite's provider stand-ins.
mod fake_providers {
    pub const CJY_USER: &str = "bench-user";
    pub const CJY_PASSWORD: &str = "bench-密码";

    /// The reader takes any request as the bench's (the e2e suite checks the account).
    pub fn chaojiying_signed_in(_body: &[u8]) -> bool {
        true
    }

    pub async fn serve(
        app: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    ) -> String {
        let server =
            actix_web::HttpServer::new(move || actix_web::App::new().configure(app.clone()))
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
        let url = format!("http://{}", server.addrs()[0]);
        tokio::spawn(server.run());
        url
    }
}

// The e2e suite's fake platform itself, so the bench measures against what the tests
// check; the bench uses only part of it.
#[path = "../../../tests/e2e/fake_platform.rs"]
#[allow(dead_code)]
mod fake_platform;

use fake_platform::{Platform, Reader, PASSWORD, USERNAME, USER_NO};

const CALLS: usize = 2000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn summary(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99))
}

fn start(dir: &std::path::Path, port: u16, config: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shopops"))
        .env("SHOPOPS_DATA_DIR", dir)
        .env("SHOPOPS_BIND", format!("127.0.0.1:{port}"))
        .env("SHOPOPS_BOOTSTRAP_ADMIN", support::ROOT)
        .env("SHOPOPS_RATE_LIMIT_ENABLED", "false")
        .env("SHOPOPS_LOG_LEVEL", "warn")
        .env("INTEGRATIONS_CONFIG", config)
        .stdout(Stdio::null())
        .spawn()
        .expect("release shopops")
}

/// A session made by hand (captcha text read from the fake image), for the direct calls.
async fn direct_session(http: &reqwest::Client, base: &str) -> String {
    let t = chrono::Utc::now().timestamp_millis() + 1234;
    let res = http
        .get(format!("{base}/img.php?t={t}"))
        .send()
        .await
        .unwrap();
    let pre = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body = res.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    let captcha = text
        .split_once("FAKE:")
        .unwrap()
        .1
        .split_once(';')
        .unwrap()
        .0
        .to_string();
    let form = [
        ("user_no", USER_NO),
        ("username", USERNAME),
        ("password", PASSWORD),
        ("captcha", captcha.as_str()),
    ];
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirect
        .post(format!("{base}/login.php"))
        .header("cookie", pre)
        .form(&form)
        .send()
        .await
        .unwrap();
    res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::main]
async fn main() {
    shopops_kernel::outside::install_crypto_provider();
    let platform = Arc::new(Mutex::new(Platform::default()));
    let reader = Arc::new(Mutex::new(Reader::default()));
    let platform_url = fake_platform::platform(platform.clone()).await;
    let reader_url = fake_platform::reader(reader.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("integrations.yaml");
    std::fs::write(
        &config,
        format!(
            "captcha:\n  chaojiying:\n    user: \"{}\"\n    password: \"{}\"\n    softid: \"1\"\n    endpoint: \"{reader_url}\"\n",
            fake_providers::CJY_USER,
            fake_providers::CJY_PASSWORD
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(dir.path(), port, &config.display().to_string());
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let admin = bench_tenant(&http, &base).await;
    let created = post(
        &http,
        &format!("{base}/api/v1/gateway/platforms"),
        Some(&admin),
        &json!({ "name": "bench", "base_url": platform_url, "login_url": "/login.php", "captcha_url": "/img.php",
                 "solvers": ["chaojiying"],
                 "accounts": [{ "user_no": USER_NO, "username": USERNAME, "password": PASSWORD }] }),
    )
    .await;
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"));
    let proxied_url = format!("{base}/api/v1/gateway/platforms/{id}/request");
    let call = json!({ "method": "GET", "path": "/api/ping" });
    let proxied = move |http: reqwest::Client, admin: String| {
        let (url, call) = (proxied_url.clone(), call.clone());
        async move {
            let r = http
                .post(url)
                .bearer_auth(admin)
                .json(&call)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await;
        }
    };
    proxied(http.clone(), admin.clone()).await;

    let cookie = direct_session(&http, &platform_url).await;
    let mut direct = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let r = http
            .get(format!("{platform_url}/api/ping"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        direct.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut through = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        proxied(http.clone(), admin.clone()).await;
        through.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (d50, d99) = summary(direct);
    let (p50, p99) = summary(through);

    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_secs(10);
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (http, admin, done, proxied) =
                (http.clone(), admin.clone(), done.clone(), proxied.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    proxied(http.clone(), admin.clone()).await;
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for c in clients {
        c.await.unwrap();
    }
    let per_sec =
        done.load(std::sync::atomic::Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;

    let mut rounds = Vec::new();
    for _ in 0..10 {
        let before = platform.lock().unwrap().logins;
        platform.lock().unwrap().expire_all();
        let t = Instant::now();
        let storm: Vec<_> = (0..50)
            .map(|_| tokio::spawn(proxied(http.clone(), admin.clone())))
            .collect();
        for s in storm {
            s.await.unwrap();
        }
        rounds.push((
            platform.lock().unwrap().logins - before,
            t.elapsed().as_secs_f64() * 1000.0,
        ));
    }
    let logins: usize = rounds.iter().map(|r| r.0).sum();
    let (storm50, _) = summary(rounds.iter().map(|r| r.1).collect());
    let _ = server.kill();
    let _ = server.wait();

    println!("| gateway (release, embedded defaults, fake platform in process) | value |");
    println!("|---|---|");
    println!("| direct call to the platform, p50 / p99 | {d50:.2} / {d99:.2} ms |");
    println!(
        "| through the gateway (auth, RBAC, session, audit), p50 / p99 | {p50:.2} / {p99:.2} ms |"
    );
    println!("| overhead, p50 | {:.2} ms |", p50 - d50);
    println!(
        "| proxied calls/s, 16 clients, 10 s | {per_sec:.0} ({:.0} per core) |",
        per_sec / cores
    );
    println!("| expiry storm: logins for 10 expiries × 50 concurrent calls | {logins} |");
    println!("| expiry storm: a round (expiry → 50 answers), median | {storm50:.1} ms |");
    captcha_model();
}

/// The local model's time per image on the captchas `make test-models` drew.
fn captcha_model() {
    // `cargo bench` runs in apps/server; the models and captchas are at the root.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = root.join("data/models/ddddocr");
    let images = root.join("target/test-models/captchas");
    let (true, Ok(entries)) = (
        models.join("common.onnx").exists(),
        std::fs::read_dir(images),
    ) else {
        println!(
            "| local captcha model, per image | skipped: run make models and make test-models |"
        );
        return;
    };
    let model = shopops_gateway::solvers::local_model::LocalModel::load(&models).unwrap();
    let files: Vec<Vec<u8>> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    let mut ms = Vec::new();
    for image in &files {
        let t = Instant::now();
        model.read(image, None).unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p99) = summary(ms);
    println!(
        "| local captcha model, per image ({} images), p50 / p99 | {p50:.1} / {p99:.1} ms |",
        files.len()
    );
}
