//! `shopops audit verify` finds an edited and a deleted record; records committed
//! while no linker runs are linked by the next one, and verify says when they wait
//! too long.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};

use crate::support::{run_cli, Server, Store};

async fn exec(url: &str, sql: &str) {
    let db = Database::connect(url).await.expect("connect");
    db.execute(Statement::from_string(
        db.get_database_backend(),
        sql.to_string(),
    ))
    .await
    .expect(sql);
    db.close().await.ok();
}

async fn count(url: &str, sql: &str) -> i64 {
    let db = Database::connect(url).await.expect("connect");
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .expect(sql)
        .expect("a row");
    db.close().await.ok();
    row.try_get_by_index::<i64>(0).expect("a count")
}

const UNLINKED: &str = "SELECT COUNT(*) FROM audit_logs WHERE seq IS NULL";

/// Waits until the running server's linker has linked every committed record.
async fn linked(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while count(&store.direct_url(), UNLINKED).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the audit linker did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify(store: &Store) -> (i32, Value) {
    verify_with(store, &[])
}

fn verify_with(store: &Store, extra: &[&str]) -> (i32, Value) {
    let args = [&["audit", "verify"][..], extra].concat();
    let (code, out, err) = run_cli(store, &args, None);
    let report =
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("verify output: {out} {err}"));
    (code, report)
}

#[tokio::test]
async fn verify_reports_the_first_edited_or_deleted_record() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (tenant, admin) = server.tenant(&root, "chain").await;
    for name in ["c1", "c2", "c3"] {
        server.user(&admin, name, &["viewer"]).await;
    }
    linked(&store).await;
    drop(server);

    let (code, report) = verify(&store);
    assert_eq!(code, 0, "{report}");
    assert!(report["broken"].is_null());
    assert!(report["records"].as_u64().unwrap() >= 6);

    // Edit one record of the tenant chain (seq 2: the creation of c1).
    let url = store.direct_url();
    exec(
        &url,
        &format!(
            "UPDATE audit_logs SET actor_name = 'mallory' WHERE tenant_id = {tenant} AND seq = 2"
        ),
    )
    .await;
    let (code, report) = verify(&store);
    assert_eq!(code, 1);
    assert_eq!(report["broken"]["tenant_id"], tenant);
    assert_eq!(report["broken"]["seq"], 2);
    assert!(report["broken"]["reason"]
        .as_str()
        .unwrap()
        .contains("edited"));
    exec(
        &url,
        &format!(
            "UPDATE audit_logs SET actor_name = 'admin' WHERE tenant_id = {tenant} AND seq = 2"
        ),
    )
    .await;
    assert_eq!(
        verify(&store).0,
        0,
        "restoring the value restores the chain"
    );

    // Delete a record in the middle, then one at the end.
    exec(
        &url,
        &format!("DELETE FROM audit_logs WHERE tenant_id = {tenant} AND seq = 3"),
    )
    .await;
    let (code, report) = verify(&store);
    assert_eq!(code, 1);
    assert_eq!(report["broken"]["seq"], 3);
    assert!(
        report["broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{report}"
    );

    let store2 = Store::new().await;
    let server = Server::start(&store2).await;
    let root = server.root_token().await;
    let (tenant, admin) = server.tenant(&root, "tail").await;
    server.user(&admin, "t1", &[]).await;
    linked(&store2).await;
    drop(server);
    let last = format!("DELETE FROM audit_logs WHERE tenant_id = {tenant} AND seq = (SELECT MAX(seq) FROM audit_logs WHERE tenant_id = {tenant})");
    exec(&store2.direct_url(), &last).await;
    let (code, report) = verify(&store2);
    assert_eq!(code, 1);
    assert!(
        report["broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("deleted at the end"),
        "{report}"
    );
}

/// The linker behind (not running: servers with SHOPOPS_JOBS=off and no keepalive
/// worker), a stream of earns and spends, `kill -9` of the server: nothing
/// acknowledged is lost, every change kept its audit record, verify says the records
/// wait, and the next server links them into a chain that verifies.
#[tokio::test]
async fn records_left_unlinked_by_a_killed_server_are_linked_by_the_next() {
    let store = Store::new().await;
    let behind = [
        ("SHOPOPS_RATE_LIMIT_ENABLED", "false"),
        ("SHOPOPS_JOBS", "off"),
    ];
    let server = Server::start_with(&store, &behind).await;
    let root = server.root_token().await;
    let (tenant, admin) = server.tenant(&root, "unlinked").await;

    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let writers = (0..4).map(|c| {
        let (base, admin, stop) = (base.clone(), admin.clone(), stop.clone());
        tokio::spawn(async move {
            let http = crate::support::http_client();
            let mut acked = vec![];
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let member = format!("m{}", i % 3);
                let (path, body) = if i % 3 == 2 {
                    ("spend", json!({ "member_id": member, "points_amount": 2 }))
                } else {
                    (
                        "earn",
                        json!({ "member_id": member, "points_amount": 5, "category": "payment" }),
                    )
                };
                let key = format!("u{c}-{i}");
                let sent = http
                    .post(format!("{base}/api/v1/points/{path}"))
                    .bearer_auth(&admin)
                    .header("Idempotency-Key", &key)
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 201 => acked.push(key),
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
            acked
        })
    });
    let writers: Vec<_> = writers.collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    stop.store(true, Ordering::Relaxed);
    let mut acked = vec![];
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    drop(server);
    assert!(acked.len() > 5, "the stream was under way: {}", acked.len());

    let url = store.direct_url();
    let waiting = count(&url, UNLINKED).await;
    assert!(waiting as usize >= acked.len(), "{waiting} unlinked");
    // A change and its audit record committed together: one record per ledger entry.
    let entries = format!("SELECT COUNT(*) FROM points_entries WHERE tenant_id = {tenant}");
    let audited = format!(
        "SELECT COUNT(*) FROM audit_logs WHERE tenant_id = {tenant} \
         AND action IN ('points.earn', 'points.spend')"
    );
    let applied = count(&url, &entries).await;
    assert!(applied as usize >= acked.len());
    assert_eq!(count(&url, &audited).await, applied);
    // The chains hold; the records wait (an error once they wait longer than allowed).
    let (code, report) = verify_with(&store, &["--max-unlinked-secs", "3600"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["unlinked"], waiting);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, report) = verify_with(&store, &["--max-unlinked-secs", "1"]);
    assert_eq!(code, 1, "{report}");
    let reason = report["broken"]["reason"].as_str().unwrap();
    assert!(reason.contains("not linked"), "{report}");

    // The next server (jobs on) links them; the chain verifies and no write was lost.
    let server = Server::start_with(&store, &behind[..1]).await;
    linked(&store).await;
    let (code, report) = verify(&store);
    assert_eq!(code, 0, "{report}");
    assert!(report["records"].as_i64().unwrap() >= applied, "{report}");
    let admin = server
        .token(Some("unlinked"), "admin", "admin-password")
        .await;
    for key in &acked {
        let q = format!(
            "SELECT COUNT(*) FROM points_entries WHERE tenant_id = {tenant} AND idempotency_key = '{key}'"
        );
        assert_eq!(count(&url, &q).await, 1, "acknowledged {key}");
    }
    let integrity = server.get("/api/v1/points/integrity", &admin).await.body;
    assert_eq!(integrity["consistent"], true, "{integrity}");
    let records = server
        .get("/api/v1/audit-logs?action=points.earn&limit=1", &admin)
        .await
        .body;
    assert!(records["data"][0]["seq"].is_i64(), "{records}");
    assert_eq!(records["data"][0]["hash"].as_str().unwrap().len(), 64);
}
