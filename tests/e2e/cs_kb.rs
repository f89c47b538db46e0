//! Customer service, the knowledge base: entries, imports as jobs, the hit test and its
//! history, limits, permissions and tenant isolation — against the real binary.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::cs_support::kb_search;
use crate::support::{Server, Store};

/// A small shop FAQ of our own.
fn faq() -> Vec<Value> {
    vec![
        json!({ "question": "什么时候发货", "answer": "付款后48小时内发货，节假日顺延。", "category": "物流",
                "similar_questions": ["几天能发货", "多久发货"] }),
        json!({ "question": "可以开发票吗", "answer": "可以，下单时填写抬头即可。", "category": "发票" }),
        json!({ "question": "支持七天无理由退货吗", "answer": "支持，商品完好即可退货。", "category": "售后",
                "keywords": ["退货"] }),
        json!({ "question": "能用花呗付款吗", "answer": "支持花呗分期。", "category": "支付" }),
    ]
}

async fn seed(server: &Server, token: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for entry in faq() {
        let r = server.post("/api/v1/cs/kb/entries", token, entry).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    ids
}

#[tokio::test]
async fn entries_are_written_found_and_kept_to_their_tenant() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "kb-a").await;
    let (_, other) = server.tenant(&root, "kb-b").await;
    let ids = seed(&server, &admin).await;

    // The hit test finds the entry a buyer's phrasing means, with its confidence.
    let found = kb_search(&server, &admin, "请问几天能发货？").await;
    assert_eq!(found["hits"][0]["entry_id"], ids[0], "{found}");
    let confidence = found["hits"][0]["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence), "{found}");
    assert!(
        ["lexical", "dense", "both"].contains(&found["hits"][0]["matched_by"].as_str().unwrap())
    );
    // An unrelated question is not confidently answered.
    let unrelated = kb_search(&server, &admin, "明天北京会下雨吗").await;
    let best = unrelated["hits"][0]["confidence"].as_f64().unwrap_or(0.0);
    assert!(best < 0.9, "{unrelated}");

    // Filters, paging and a change: the index follows at once.
    let page = server
        .get("/api/v1/cs/kb/entries?category=发票", &admin)
        .await;
    assert_eq!(
        page.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        page.body
    );
    let page = server.get("/api/v1/cs/kb/entries?limit=2", &admin).await;
    assert_eq!(page.body["has_more"], true);
    let r = server
        .call(
            Method::PATCH,
            &format!("/api/v1/cs/kb/entries/{}", ids[1]),
            Some(&admin),
            Some(json!({ "similar_questions": ["能开专票吗"], "enabled": false })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["similar_questions"], json!(["能开专票吗"]));
    let disabled = kb_search(&server, &admin, "可以开发票吗").await;
    assert_ne!(
        disabled["hits"][0]["entry_id"], ids[1],
        "a disabled entry is not found"
    );
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/cs/kb/entries/{}", ids[3]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let gone = kb_search(&server, &admin, "能用花呗付款吗").await;
    assert!(gone["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["entry_id"] != ids[3]));

    // Another tenant sees none of it.
    server
        .get(&format!("/api/v1/cs/kb/entries/{}", ids[0]), &other)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let theirs = kb_search(&server, &other, "什么时候发货").await;
    assert_eq!(theirs["hits"], json!([]), "{theirs}");
    server
        .call(
            Method::DELETE,
            &format!("/api/v1/cs/kb/entries/{}", ids[0]),
            Some(&other),
            None,
        )
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    // Limits and rules are 422 naming the field; a viewer reads but cannot write.
    for bad in [
        json!({ "question": "长".repeat(501), "answer": "x" }),
        json!({ "question": "ok", "answer": "" }),
        json!({ "question": "a\u{0}b", "answer": "x" }),
        json!({ "question": "ok", "answer": "x",
                "similar_questions": (0..21).map(|i| format!("问法{i}")).collect::<Vec<_>>() }),
    ] {
        server
            .post("/api/v1/cs/kb/entries", &admin, bad)
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }
    server.user(&admin, "reader", &["viewer"]).await;
    let viewer = server.token(Some("kb-a"), "reader", "user-password").await;
    assert_eq!(
        server.get("/api/v1/cs/kb/entries", &viewer).await.status,
        200
    );
    server
        .post("/api/v1/cs/kb/entries", &viewer, faq()[0].clone())
        .await
        .assert_error(403, "INSUFFICIENT_PERMISSIONS");

    // The search history keeps the tenant's last 100 tests, newest first.
    for i in 0..103 {
        kb_search(&server, &admin, &format!("第{i}个问题")).await;
    }
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/cs/kb/search-history?limit=100&cursor={c}"),
            None => "/api/v1/cs/kb/search-history?limit=100".into(),
        };
        let page = server.get(&path, &admin).await.body;
        if seen == 0 {
            assert_eq!(page["data"][0]["query"], "第102个问题");
        }
        seen += page["data"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 100);
    // The other tenant's history holds its own one test, nothing of this tenant's.
    let theirs = server
        .get("/api/v1/cs/kb/search-history", &other)
        .await
        .body;
    let queries: Vec<&str> = theirs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["query"].as_str().unwrap())
        .collect();
    assert_eq!(queries, ["什么时候发货"], "{theirs}");
}

async fn wait_import(server: &Server, token: &str, id: i64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = server
            .get(&format!("/api/v1/cs/kb/imports/{id}"), token)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["status"] == "done" {
            return r.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "import did not finish: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn upload(
    server: &Server,
    token: &str,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> crate::support::Reply {
    let res = server
        .http
        .post(format!("{}/api/v1/cs/kb/import?{query}", server.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    crate::support::Reply::from_response(res).await
}

#[tokio::test]
async fn imports_run_as_jobs_and_one_bad_row_never_stops_the_rest() {
    let store = Store::new().await;
    let server = Server::start_with(&store, &[("CS_IMPORT_MAX_BYTES", "4096")]).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "kb-import").await;

    let csv = "question,answer,category,similar_questions\n\
               什么时候发货,付款后48小时内发货,物流,几天发货|多久发货\n\
               ,没有问题的答案,物流,\n\
               可以开发票吗,可以,发票,\n";
    let r = upload(
        &server,
        &admin,
        "file_name=faq.csv",
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["total"], 3);
    let done = wait_import(&server, &admin, r.body["id"].as_i64().unwrap()).await;
    assert_eq!(
        (done["done"].as_i64(), done["failed"].as_i64()),
        (Some(3), Some(1)),
        "{done}"
    );
    assert_eq!(done["errors"][0]["line"], 3, "{done}");
    assert!(
        done["errors"][0]["field_errors"]["question"].is_array(),
        "{done}"
    );

    // A shop's import: rows for a shop the tenant does not have are refused.
    let shop = server
        .post("/api/v1/cs/shops", &admin, json!({ "name": "旗舰店" }))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let jsonl = "{\"question\":\"包邮吗\",\"answer\":\"满99包邮\"}\nnot json\n{\"question\":\"q\",\"answer\":\"a\",\"shop_id\":999}\n";
    let refused = upload(
        &server,
        &admin,
        "format=jsonl&shop_id=999",
        "application/octet-stream",
        jsonl.as_bytes().to_vec(),
    )
    .await;
    assert!(refused.assert_error(422, "VALIDATION_ERROR")["field_errors"]["shop_id"].is_array());
    let r = upload(
        &server,
        &admin,
        &format!("format=jsonl&shop_id={shop}"),
        "application/octet-stream",
        jsonl.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let done = wait_import(&server, &admin, r.body["id"].as_i64().unwrap()).await;
    assert_eq!(done["failed"], 2, "{done}");
    assert_eq!(done["errors"][0]["line"], 2);
    assert!(
        done["errors"][1]["field_errors"]["shop_id"].is_array(),
        "{done}"
    );
    let shop_entries = server
        .get("/api/v1/cs/kb/entries?text=包邮", &admin)
        .await
        .body;
    assert_eq!(shop_entries["data"][0]["shop_id"], shop, "{shop_entries}");
    assert_eq!(shop_entries["data"][0]["source"], "import");

    // The imported entries are searchable.
    let found = kb_search(&server, &admin, "多久发货").await;
    assert_eq!(found["hits"][0]["question"], "什么时候发货", "{found}");

    // Refused files: unknown format, too large, unreadable.
    upload(
        &server,
        &admin,
        "file_name=faq.txt",
        "text/plain",
        b"x".to_vec(),
    )
    .await
    .assert_error(415, "CS_IMPORT_FORMAT_UNSUPPORTED");
    upload(&server, &admin, "format=csv", "text/csv", vec![b'a'; 5000])
        .await
        .assert_error(413, "CS_IMPORT_TOO_LARGE");
    upload(
        &server,
        &admin,
        "format=csv",
        "text/csv",
        b"q,a\n1,2\n".to_vec(),
    )
    .await
    .assert_error(422, "CS_IMPORT_UNREADABLE");
}
