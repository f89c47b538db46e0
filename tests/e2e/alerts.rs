//! Alerting end to end: an injected fault (Redis stopped) gives exactly one notice on
//! every routed channel — real SMTP to a local aiosmtpd, robot webhooks to local
//! receivers that check signatures as DingTalk and Feishu do — then one resolved
//! notice; silences hold notices back; channel tests report delivery.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{free_port, start_redis, Server, Store};

const DING_SECRET: &str = "SEC-ding-e2e";
const FEISHU_SECRET: &str = "feishu-e2e-secret";

type Inbox = Arc<Mutex<HashMap<String, Vec<Value>>>>;

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Robot stand-ins answering in each platform's shape, refusing bad signatures.
async fn robots() -> (String, Inbox) {
    let inbox: Inbox = Arc::new(Mutex::new(HashMap::new()));
    let data = web::Data::new(inbox.clone());
    async fn receive(
        req: HttpRequest,
        body: web::Json<Value>,
        inbox: web::Data<Inbox>,
        name: web::Path<String>,
    ) -> HttpResponse {
        let name = name.into_inner();
        let body = body.into_inner();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let reply = match name.as_str() {
            "dingtalk" => {
                let q: HashMap<String, String> = web::Query::from_query(req.query_string())
                    .map(|q: web::Query<HashMap<String, String>>| q.into_inner())
                    .unwrap_or_default();
                let ts: i64 = q.get("timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
                let expected = hmac_b64(
                    DING_SECRET.as_bytes(),
                    format!("{ts}\n{DING_SECRET}").as_bytes(),
                );
                if (now_ms - ts).abs() > 3_600_000 || q.get("sign") != Some(&expected) {
                    return HttpResponse::Ok()
                        .json(json!({ "errcode": 310000, "errmsg": "sign not match" }));
                }
                json!({ "errcode": 0, "errmsg": "ok" })
            }
            "feishu" => {
                let ts: i64 = body["timestamp"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let expected = hmac_b64(format!("{ts}\n{FEISHU_SECRET}").as_bytes(), b"");
                if (now_ms / 1000 - ts).abs() > 3600
                    || body["sign"].as_str() != Some(expected.as_str())
                {
                    return HttpResponse::Ok()
                        .json(json!({ "code": 19021, "msg": "sign match fail" }));
                }
                json!({ "code": 0, "msg": "success" })
            }
            "wecom" => json!({ "errcode": 0, "errmsg": "ok" }),
            _ => json!({ "received": true }),
        };
        inbox.lock().unwrap().entry(name).or_default().push(body);
        HttpResponse::Ok().json(reply)
    }
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/{name}", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    (url, inbox)
}

struct Smtp {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Smtp {
    fn start() -> Smtp {
        Smtp::start_with(&[])
    }

    /// aiosmtpd with extra options (`--tlscert`… for STARTTLS, `--smtpscert`… for SMTPS).
    fn start_with(options: &[&str]) -> Smtp {
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(options)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (make test installs it)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// Subjects of every message received.
    fn subjects(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return vec![];
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter_map(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
            })
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(inbox: &Inbox, channel: &str, needle: &str) -> usize {
    inbox
        .lock()
        .unwrap()
        .get(channel)
        .map(|v| v.iter().filter(|m| m.to_string().contains(needle)).count())
        .unwrap_or(0)
}

async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn one_fault_is_one_alert_per_channel_then_one_resolved_notice() {
    let (robots_url, inbox) = robots().await;
    let smtp = Smtp::start();
    let redis_port = free_port();
    let mut redis = start_redis(redis_port);
    let store = Store::new().await;
    let env = [
        ("REDIS_URL", format!("redis://127.0.0.1:{redis_port}")),
        ("SHOPOPS_ALERT_EVAL_SECS", "1".into()),
        ("ALERT_SMTP_SERVER", "127.0.0.1".into()),
        ("ALERT_SMTP_PORT", smtp.port.to_string()),
        ("SHOPOPS_ALERT_SMTP_TLS", "none".into()),
        (
            "ALERT_EMAIL_TO",
            "oncall@shop.example, lead@shop.example".into(),
        ),
        ("SHOPOPS_ALERT_EMAIL_FROM", "alerts@shop.example".into()),
        (
            "SHOPOPS_ALERT_WECOM_URL",
            format!("{robots_url}/wecom?key=wecom-key"),
        ),
        (
            "SHOPOPS_ALERT_DINGTALK_URL",
            format!("{robots_url}/dingtalk?access_token=ding-token"),
        ),
        ("SHOPOPS_ALERT_DINGTALK_SECRET", DING_SECRET.into()),
        ("SHOPOPS_ALERT_FEISHU_URL", format!("{robots_url}/feishu")),
        ("SHOPOPS_ALERT_FEISHU_SECRET", FEISHU_SECRET.into()),
        ("ALERT_WEBHOOK_URL", format!("{robots_url}/webhook")),
        ("ALERT_WEBHOOK_TYPE", "generic".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with(&store, &env).await;
    let root = server.root_token().await;

    // Every channel works on its own.
    for channel in ["email", "wecom", "dingtalk", "feishu", "webhook"] {
        let r = server
            .post(
                &format!("/api/v1/alerts/channels/{channel}/test"),
                &root,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{channel}: {}", r.body);
        assert_eq!(r.body["delivered"], true);
    }

    // The fault: Redis stops. Critical → all five channels, once.
    redis.stop();
    let firing = "[CRITICAL] redis_down";
    eventually(
        "a firing notice everywhere",
        Duration::from_secs(20),
        || {
            ["wecom", "dingtalk", "feishu"]
                .iter()
                .all(|c| count(&inbox, c, firing) == 1)
                && count(&inbox, "webhook", "redis_down") == 1
                && smtp
                    .subjects()
                    .iter()
                    .filter(|s| s.contains(firing))
                    .count()
                    == 1
        },
    )
    .await;
    // Several more evaluations: still one each.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for c in ["wecom", "dingtalk", "feishu"] {
        assert_eq!(count(&inbox, c, firing), 1, "{c}");
    }
    assert_eq!(
        smtp.subjects()
            .iter()
            .filter(|s| s.contains(firing))
            .count(),
        1
    );

    // Redis returns: one resolved notice on each channel.
    let mut redis = start_redis(redis_port);
    let resolved = "[RESOLVED] redis_down";
    eventually(
        "a resolved notice everywhere",
        Duration::from_secs(20),
        || {
            ["wecom", "dingtalk", "feishu"]
                .iter()
                .all(|c| count(&inbox, c, resolved) == 1)
                && smtp
                    .subjects()
                    .iter()
                    .filter(|s| s.contains(resolved))
                    .count()
                    == 1
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&inbox, "wecom", resolved), 1);
    assert_eq!(count(&inbox, "webhook", "\"resolved\""), 1);

    // History: firing and resolved, delivered on all five.
    let history = server
        .get("/api/v1/alerts?rule=redis_down", &root)
        .await
        .body;
    let events = history["data"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{history}");
    for e in events {
        for c in ["email", "wecom", "dingtalk", "feishu", "webhook"] {
            assert_eq!(e["deliveries"][c], "sent", "{e}");
        }
    }
    assert_eq!(events[0]["status"], "resolved");
    assert_eq!(events[1]["status"], "firing");

    // A silenced rule announces nothing.
    let r = server
        .post(
            "/api/v1/alerts/rules/redis_down/silence",
            &root,
            json!({ "duration_secs": 600, "reason": "maintenance" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    redis.stop();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(count(&inbox, "wecom", firing), 1, "silenced: no new notice");
    let _redis = start_redis(redis_port);

    let text = server.metrics().await;
    assert!(
        text.contains(r#"alert_notifications_total{channel="dingtalk",outcome="sent"} 3"#),
        "{text}"
    );
}

#[tokio::test]
async fn channel_tests_report_refusals_and_unconfigured_channels() {
    let (robots_url, _inbox) = robots().await;
    let store = Store::new().await;
    let server = Server::start_with(
        &store,
        &[
            (
                "SHOPOPS_ALERT_DINGTALK_URL",
                &format!("{robots_url}/dingtalk?access_token=t"),
            ),
            ("SHOPOPS_ALERT_DINGTALK_SECRET", "not-the-robot-secret"),
        ],
    )
    .await;
    let root = server.root_token().await;
    let r = server
        .post("/api/v1/alerts/channels/dingtalk/test", &root, json!({}))
        .await;
    let d = r.assert_error(502, "CHANNEL_DELIVERY_FAILED");
    assert!(d["error"].as_str().unwrap().contains("310000"), "{d}");
    let r = server
        .post("/api/v1/alerts/channels/email/test", &root, json!({}))
        .await;
    let d = r.assert_error(404, "CHANNEL_NOT_CONFIGURED");
    assert_eq!(d["configured_channels"], json!(["dingtalk"]));
    // Only superadmins manage alerts.
    let (_, admin) = server.tenant(&root, "alerts-t").await;
    server
        .call(Method::GET, "/api/v1/alerts", Some(&admin), None)
        .await
        .assert_error(403, "INSUFFICIENT_PERMISSIONS");
    // The robot is an outside target like any other: its failures are visible.
    let targets = server.get("/api/v1/ops/outside-targets", &root).await.body;
    let ding = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "alert-dingtalk")
        .expect("target listed");
    assert_eq!(ding["state"], "closed");
    assert_eq!(ding["total_calls"], 1);
    server
        .get("/api/v1/ops/outside-targets", &admin)
        .await
        .assert_error(403, "INSUFFICIENT_PERMISSIONS");
    let rules = server.get("/api/v1/alerts/rules", &root).await.body;
    assert!(rules
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["rule"] == "api_error_rate" && r["severity"] == "critical"));
}

/// A private CA and a server certificate for 127.0.0.1 it signed (openssl CLI).
fn private_ca(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl {args:?}");
    };
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=ShopOps Test CA",
        "-days",
        "1",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
}

#[tokio::test]
async fn smtp_over_starttls_and_implicit_tls_trusts_only_the_configured_ca() {
    let certs = tempfile::tempdir().unwrap();
    private_ca(certs.path());
    let cert = certs.path().join("server.pem").display().to_string();
    let key = certs.path().join("server.key").display().to_string();
    let ca = certs.path().join("ca.pem").display().to_string();

    for (mode, options) in [
        ("starttls", ["--tlscert", &cert, "--tlskey", &key]),
        ("implicit", ["--smtpscert", &cert, "--smtpskey", &key]),
    ] {
        let smtp = Smtp::start_with(&options);
        let port = smtp.port.to_string();
        let base = [
            ("ALERT_SMTP_SERVER", "127.0.0.1"),
            ("ALERT_SMTP_PORT", port.as_str()),
            ("SHOPOPS_ALERT_SMTP_TLS", mode),
            ("ALERT_EMAIL_TO", "oncall@shop.example"),
        ];
        // Without the CA the server's certificate is not trusted: nothing is sent.
        let store = Store::new().await;
        let server = Server::start_with(&store, &base).await;
        let root = server.root_token().await;
        let r = server
            .post("/api/v1/alerts/channels/email/test", &root, json!({}))
            .await;
        r.assert_error(502, "CHANNEL_DELIVERY_FAILED");
        assert!(
            smtp.subjects().is_empty(),
            "{mode}: mail went out over an untrusted TLS connection"
        );
        drop(server);

        let mut with_ca = base.to_vec();
        with_ca.push(("SHOPOPS_ALERT_SMTP_CA_FILE", ca.as_str()));
        let store = Store::new().await;
        let server = Server::start_with(&store, &with_ca).await;
        let root = server.root_token().await;
        let r = server
            .post("/api/v1/alerts/channels/email/test", &root, json!({}))
            .await;
        assert_eq!(r.status, 200, "{mode}: {}", r.body);
        assert_eq!(smtp.subjects().len(), 1, "{mode}");
        assert!(smtp.subjects()[0].starts_with("[TEST]"));
    }
}
