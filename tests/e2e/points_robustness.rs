//! Ledger invariants under random concurrent traffic with retries, and after a crash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Server, Store};

/// xorshift64*: deterministic, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One operation as sent: path and body (with its operation_id).
#[derive(Clone)]
struct Op {
    path: &'static str,
    body: Value,
}

fn random_op(rng: &mut Rng, key: String) -> Op {
    let member = format!("r{}", rng.below(5));
    let points = 1 + rng.below(60) as i64;
    match rng.below(5) {
        0 | 1 => Op {
            path: "/api/v1/points/earn",
            body: json!({ "member_id": member, "points_amount": points, "category": "login", "operation_id": key }),
        },
        2 => Op {
            path: "/api/v1/points/spend",
            body: json!({ "member_id": member, "points_amount": points, "operation_id": key }),
        },
        3 => Op {
            path: "/api/v1/points/adjust",
            body: json!({ "member_id": member, "points_delta": if rng.below(2) == 0 { points } else { -points }, "reason": "random", "operation_id": key }),
        },
        _ => Op {
            path: if rng.below(2) == 0 {
                "/api/v1/points/freeze"
            } else {
                "/api/v1/points/unfreeze"
            },
            body: json!({ "member_id": member, "points_amount": points, "operation_id": key }),
        },
    }
}

async fn all_records(server: &Server, token: &str, member: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/points/profiles/{member}/records?limit=100&cursor={c}"),
            None => format!("/api/v1/points/profiles/{member}/records?limit=100"),
        };
        let page = server.get(&path, token).await;
        if page.status == 404 {
            return out;
        }
        out.extend(page.body["data"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn random_concurrent_traffic_with_retries_keeps_every_invariant() {
    let seed = 0x5eed_0001_u64;
    let store = Store::new().await;
    let server =
        Arc::new(Server::start_with(&store, &[("SHOPOPS_RATE_LIMIT_ENABLED", "false")]).await);
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "rnd").await;
    // Acknowledged outcomes by key: (status, body).
    let outcomes: Arc<Mutex<HashMap<String, (u16, Value)>>> = Arc::default();

    let clients = (0..8u64).map(|c| {
        let (server, admin, outcomes) = (server.clone(), admin.clone(), outcomes.clone());
        tokio::spawn(async move {
            let mut rng = Rng(seed ^ (c + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut sent: Vec<(String, Op)> = vec![];
            for i in 0..40 {
                // 20 % of the time, retry an operation already sent (same key, same body).
                let (key, op) = if !sent.is_empty() && rng.below(5) == 0 {
                    sent[rng.below(sent.len() as u64) as usize].clone()
                } else {
                    let key = format!("c{c}-{i}");
                    let op = random_op(&mut rng, key.clone());
                    sent.push((key.clone(), op.clone()));
                    (key, op)
                };
                let r = server
                    .call(Method::POST, op.path, Some(&admin), Some(op.body))
                    .await;
                let status = r.status.as_u16();
                assert!(matches!(status, 201 | 409), "{key}: {status} {}", r.body);
                if status == 409 && r.body["error"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS" {
                    continue;
                }
                // An envelope's request id and time are the retry's own; the rest must match.
                let mut body = r.body;
                if let Some(error) = body.get_mut("error").and_then(Value::as_object_mut) {
                    error.remove("request_id");
                    error.remove("timestamp");
                }
                let mut seen = outcomes.lock().unwrap();
                match seen.get(&key) {
                    // A retry must replay exactly what the first call answered.
                    Some(first) => assert_eq!(first, &(status, body), "{key} replayed differently"),
                    None => {
                        seen.insert(key, (status, body));
                    }
                }
            }
        })
    });
    for c in futures_util::future::join_all(clients).await {
        c.unwrap();
    }

    let report = server.get("/api/v1/points/integrity", &admin).await.body;
    assert_eq!(report["consistent"], true, "{report}");
    let outcomes = outcomes.lock().unwrap().clone();
    for m in 0..5 {
        let member = format!("r{m}");
        let records = all_records(&server, &admin, &member).await;
        // No key applied twice, and every acknowledged write is in the ledger.
        let mut keys: Vec<&str> = records
            .iter()
            .filter_map(|e| e["idempotency_key"].as_str())
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "{member}: a key was applied twice");
        for (key, (status, body)) in &outcomes {
            if *status == 201 && body["member_id"] == member.as_str() {
                assert!(
                    keys.contains(&key.as_str()),
                    "{key} acknowledged but missing"
                );
            }
        }
        if let Value::Object(p) = server
            .get(&format!("/api/v1/points/profiles/{member}"), &admin)
            .await
            .body
        {
            if p.contains_key("total_points") {
                assert!(
                    p["total_points"].as_i64().unwrap() >= 0,
                    "{member} went negative"
                );
                assert!(p["frozen_points"].as_i64().unwrap() >= 0);
                let sum: i64 = records
                    .iter()
                    .map(|e| e["points_delta"].as_i64().unwrap())
                    .sum();
                assert_eq!(
                    sum,
                    p["total_points"].as_i64().unwrap(),
                    "{member}: ledger ≠ balance"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_killed_server_loses_no_acknowledged_write_and_applies_none_twice() {
    let store = Store::new().await;
    let env = [
        ("SHOPOPS_RATE_LIMIT_ENABLED", "false"),
        ("SHOPOPS_IDEMPOTENCY_STALE_SECS", "1"),
    ];
    let server = Server::start_with(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "crash").await;

    // A stream of earns from 4 clients; kill -9 the server in the middle of it.
    let base = server.base.clone();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers = (0..4).map(|c| {
        let (base, admin, acked) = (base.clone(), admin.clone(), acked.clone());
        tokio::spawn(async move {
            let http = crate::support::http_client();
            for i in 0.. {
                let key = format!("k{c}-{i}");
                let body = json!({ "member_id": "crash", "points_amount": 7, "category": "payment", "operation_id": key });
                match http.post(format!("{base}/api/v1/points/earn")).bearer_auth(&admin).json(&body).send().await {
                    Ok(r) if r.status() == 201 => acked.lock().unwrap().push(key),
                    Ok(_) => {}
                    Err(_) => return i, // the server is gone
                }
            }
            0
        })
    });
    let writers: Vec<_> = writers.collect();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut sent_per_client = vec![];
    for w in writers {
        sent_per_client.push(w.await.unwrap());
    }
    drop(server);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 5,
        "the stream should have been under way: {}",
        acked.len()
    );

    let server = Server::start_with(&store, &env).await;
    let admin = server.token(Some("crash"), "admin", "admin-password").await;
    let records = all_records(&server, &admin, "crash").await;
    let applied: Vec<String> = records
        .iter()
        .filter_map(|e| e["idempotency_key"].as_str().map(str::to_string))
        .collect();
    for key in &acked {
        assert!(
            applied.contains(key),
            "acknowledged {key} lost in the crash"
        );
    }
    // Retrying every key that was ever sent: acknowledged ones replay, unknown ones
    // apply once (an in-flight claim is taken over once it is stale).
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for (c, sent) in sent_per_client.iter().enumerate() {
        for i in 0..=*sent {
            let key = format!("k{c}-{i}");
            let body = json!({ "member_id": "crash", "points_amount": 7, "category": "payment", "operation_id": key });
            let r = server.post("/api/v1/points/earn", &admin, body).await;
            assert_eq!(r.status, 201, "{key}: {}", r.body);
            if acked.contains(&key) {
                assert_eq!(
                    r.header("idempotent-replayed"),
                    Some("true"),
                    "{key} applied again"
                );
            }
        }
    }
    let records = all_records(&server, &admin, "crash").await;
    let total: usize = sent_per_client.iter().map(|s| s + 1).sum();
    assert_eq!(records.len(), total, "every key applied exactly once");
    let p = server
        .get("/api/v1/points/profiles/crash", &admin)
        .await
        .body;
    assert_eq!(p["total_points"], json!(7 * total as i64));
    assert_eq!(
        server.get("/api/v1/points/integrity", &admin).await.body["consistent"],
        true
    );
}
