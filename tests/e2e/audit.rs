//! `shopops audit verify` finds an edited and a deleted record.

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;

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

fn verify(store: &Store) -> (i32, Value) {
    let (code, out, err) = run_cli(store, &["audit", "verify"], None);
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
