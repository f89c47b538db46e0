//! Customer service with an OpenAI-compatible embeddings provider: entries embedded
//! once by the job and kept across a restart, hybrid hits, `/readyz` saying what runs,
//! and an outage that leaves search lexical (never failed) and raises one alert.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::cs_support::kb_search;
use crate::fake_providers::serve;
use crate::support::{eventually, Server, Store};

const KEY: &str = "test-embeddings-key";
const MODEL: &str = "test-embed";
const DIM: usize = 64;

/// The provider's state: every text it was asked to embed, and a switch to fail.
#[derive(Default)]
struct Provider {
    inputs: Mutex<Vec<String>>,
    down: AtomicBool,
}

/// A bag of characters hashed into `DIM` buckets: texts sharing characters are near.
fn embedding(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; DIM];
    for c in text.chars() {
        v[(c as usize * 31) % DIM] += 1.0;
    }
    v
}

/// `POST /v1/embeddings` as OpenAI checks it: bearer key, model, `input` as a list of
/// non-empty strings; answers `{data: [{index, embedding}]}`.
async fn embeddings(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Provider>,
) -> HttpResponse {
    if state.down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable()
            .json(json!({ "error": { "message": "overloaded" } }));
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {KEY}")) {
        return HttpResponse::Unauthorized().json(json!({ "error": { "message": "bad key" } }));
    }
    let texts: Option<Vec<String>> = body["input"].as_array().and_then(|a| {
        a.iter()
            .map(|t| t.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect()
    });
    let (Some(texts), true) = (texts, body["model"] == MODEL) else {
        return HttpResponse::BadRequest().json(json!({ "error": { "message": "bad request" } }));
    };
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "object": "embedding", "index": i, "embedding": embedding(t) }))
        .collect();
    state.inputs.lock().unwrap().extend(texts);
    HttpResponse::Ok().json(json!({ "object": "list", "data": data, "model": MODEL,
        "usage": { "prompt_tokens": 1, "total_tokens": 1 } }))
}

async fn provider() -> (String, web::Data<Provider>) {
    let state = web::Data::new(Provider::default());
    let shared = state.clone();
    let url = serve(move |cfg| {
        cfg.app_data(shared.clone())
            .route("/v1/embeddings", web::post().to(embeddings));
    })
    .await;
    (url, state)
}

#[tokio::test]
async fn entries_are_embedded_once_and_an_outage_leaves_search_lexical() {
    let (url, state) = provider().await;
    let store = Store::new().await;
    let env = [
        ("CS_ENCODER", "openai"),
        ("CS_EMBEDDINGS_URL", url.as_str()),
        ("CS_EMBEDDINGS_API_KEY", KEY),
        ("CS_EMBEDDINGS_MODEL", MODEL),
        ("CS_EMBEDDINGS_DIM", "64"),
        ("SHOPOPS_ALERT_EVAL_SECS", "1"),
        ("SHOPOPS_ALERT_OUTSIDE_MIN_CALLS", "3"),
        ("SHOPOPS_OUTSIDE_MAX_RETRIES", "0"),
    ];
    let server = Server::start_with(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "emb").await;
    let mut ids = Vec::new();
    for (q, a) in [("什么时候发货", "48小时内发货"), ("可以开发票吗", "可以开")]
    {
        let r = server
            .post(
                "/api/v1/cs/kb/entries",
                &admin,
                json!({ "question": q, "answer": a }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_i64().unwrap());
    }

    // The job embeds each entry's texts; then hits come from both sides.
    eventually("entries embedded", async || {
        let inputs = state.inputs.lock().unwrap().clone();
        (inputs.contains(&"什么时候发货".to_string())
            && inputs.contains(&"可以开发票吗".to_string()))
        .then_some(())
    })
    .await;
    eventually("a hybrid hit", async || {
        let found = kb_search(&server, &admin, "什么时候能发货").await;
        (found["hits"][0]["entry_id"] == ids[0] && found["hits"][0]["matched_by"] == "both")
            .then_some(())
    })
    .await;
    let ready: Value = server
        .http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let detail = ready["details"]["cs-retrieval"]["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(
        detail.contains("embeddings provider, model test-embed"),
        "{ready}"
    );
    assert!(detail.contains("embedded vector store"), "{ready}");
    assert!(
        !detail.contains(&url),
        "no URL in an anonymous answer: {ready}"
    );

    // A restart computes no vector again: only the query goes to the provider.
    drop(server);
    state.inputs.lock().unwrap().clear();
    let server = Server::start_with(&store, &env).await;
    let admin = server.token(Some("emb"), "admin", "admin-password").await;
    let found = kb_search(&server, &admin, "什么时候能发货").await;
    assert_eq!(found["hits"][0]["matched_by"], "both", "{found}");
    assert_eq!(*state.inputs.lock().unwrap(), ["什么时候能发货"]);

    // The provider goes down: every search still answers, lexically, and the kernel's
    // outside-call rule raises one alert for the target.
    state.down.store(true, Ordering::SeqCst);
    for _ in 0..4 {
        let found = kb_search(&server, &admin, "什么时候能发货").await;
        assert_eq!(found["hits"][0]["entry_id"], ids[0], "{found}");
        assert_eq!(found["hits"][0]["matched_by"], "lexical", "{found}");
    }
    let root = server.root_token().await;
    eventually("an alert for the embeddings provider", async || {
        let alerts = server
            .get("/api/v1/alerts?rule=outside_success_rate", &root)
            .await
            .body;
        alerts["data"]
            .as_array()
            .is_some_and(|a| {
                a.iter().any(|e| {
                    e["key"] == "outside_success_rate:cs-embeddings" && e["status"] == "firing"
                })
            })
            .then_some(())
    })
    .await;
    let found = kb_search(&server, &admin, "什么时候能发货").await;
    assert_eq!(found["retrieval"], "lexical_fallback", "{found}");
    assert!(server
        .metrics()
        .await
        .contains("cs_kb_searches_total{retrieval=\"lexical_fallback\"} 5"));
}
