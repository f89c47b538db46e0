//! The providers against local stand-ins that check each request the way the real
//! service does ([`super::conformance`]): a reply passes only when the provider would
//! have accepted what we sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use shopops_kernel::config::Config;
use shopops_kernel::outside::{OutsideCalls, TargetConfig};
use shopops_kernel::telemetry::metrics::Metrics;

use super::conformance::{self, ErnieServer, OpenAiServer, Refusal};
use super::*;

/// What a stand-in does with each request, and what it saw.
#[derive(Default)]
struct StandIn {
    /// Answer 500 to this many chat calls before behaving.
    fail_next: AtomicUsize,
    chats: AtomicUsize,
    tokens: AtomicUsize,
    seen: Mutex<Vec<conformance::Seen>>,
    /// ERNIE: the token it accepts; earlier ones are "expired".
    valid_token: Mutex<String>,
    expired: Mutex<Vec<String>>,
}

fn answer(r: Result<Value, Refusal>) -> HttpResponse {
    match r {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(refusal) => {
            let status = actix_web::http::StatusCode::from_u16(refusal.status).unwrap();
            HttpResponse::build(status).json(refusal.body)
        }
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, state: web::Data<StandIn>) -> HttpResponse {
    let path = req.path().to_string();
    let query: HashMap<String, String> =
        web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    if path == "/oauth/2.0/token" {
        state.tokens.fetch_add(1, Ordering::SeqCst);
        let server = ErnieServer {
            api_key: "ak",
            secret_key: "sk",
            endpoint: "completions_pro",
        };
        let token = format!("tok-{}", state.tokens.load(Ordering::SeqCst));
        let r = conformance::check_ernie_token(&server, &path, &query).map(|()| {
            *state.valid_token.lock().unwrap() = token.clone();
            conformance::ernie_token_answer(&token, 2_592_000)
        });
        return answer(r);
    }
    state.chats.fetch_add(1, Ordering::SeqCst);
    if state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return HttpResponse::InternalServerError()
            .json(json!({ "error": { "code": "internal_error" } }));
    }
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let r = if path.starts_with("/rpc/") {
        let server = ErnieServer {
            api_key: "ak",
            secret_key: "sk",
            endpoint: "completions_pro",
        };
        let valid = state.valid_token.lock().unwrap().clone();
        let expired = state.expired.lock().unwrap().clone();
        conformance::check_ernie_chat(&server, &path, &query, &valid, &expired, &json)
            .map(|seen| (seen, conformance::ernie_answer("亲，48小时内发货哦。")))
    } else {
        let server = OpenAiServer {
            path: "/v1/chat/completions",
            api_key: Some("sk-good"),
            model: "qwen-plus",
        };
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        conformance::check_openai_chat(&server, &path, auth, &json).map(|seen| {
            (
                seen,
                conformance::openai_answer("qwen-plus", "  亲，48小时内发货哦。  "),
            )
        })
    };
    answer(r.map(|(seen, body)| {
        state.seen.lock().unwrap().push(seen);
        body
    }))
}

async fn stand_in() -> (String, web::Data<StandIn>) {
    let state = web::Data::new(StandIn::default());
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(handle))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    (url, state)
}

fn llm(providers: Value) -> Llm {
    let settings: LlmSettings = serde_json::from_value(json!({ "providers": providers })).unwrap();
    settings.validate("cs", "CS_").unwrap();
    let mut limits = TargetConfig::from_config(&Config::load(&["cs"]).unwrap());
    limits.retry.first_delay = Duration::from_millis(1);
    limits.retry.max_delay = Duration::from_millis(5);
    let outside = OutsideCalls::new(limits, Arc::new(Metrics::new()));
    Llm::from_config(&outside, &settings).unwrap()
}

fn request(kb: bool) -> ChatRequest {
    ChatRequest {
        system: String::new(),
        kb_context: kb.then(|| KbContext {
            question: "什么时候发货".into(),
            answer: "下单后48小时内发货".into(),
        }),
        message: "亲 几天能发货".into(),
    }
}

#[actix_web::test]
async fn the_stub_greets_the_kb_answer_or_holds_and_unknown_names_fail() {
    let llm = llm(json!({}));
    assert_eq!(llm.names(), vec!["stub".to_string()]);
    let with_kb = llm.reply("stub", &request(true)).await.unwrap();
    assert_eq!(
        (with_kb.text.as_str(), with_kb.model.as_str()),
        ("您好，下单后48小时内发货", "stub:stub")
    );
    assert_eq!(
        llm.reply("stub", &request(false)).await.unwrap().text,
        STUB_HOLDING_REPLY
    );
    assert!(matches!(
        llm.reply("gpt", &request(false)).await,
        Err(LlmError::UnknownProvider(name)) if name == "gpt"
    ));
    assert!(llm.statuses().is_empty(), "the stub is no outside target");
}

#[actix_web::test]
async fn an_openai_compatible_provider_replies_retries_and_fails_without_leaking() {
    let (url, state) = stand_in().await;
    let provider = |key: &str| json!({ "kind": "openai", "base_url": url, "api_key": key, "model": "qwen-plus", "max_retries": 2 });
    let llm = llm(json!({ "qwen": provider("sk-good"), "badkey": provider("sk-wrong-secret") }));

    let reply = llm.reply("qwen", &request(true)).await.unwrap();
    assert_eq!(
        (reply.text.as_str(), reply.model.as_str()),
        ("亲，48小时内发货哦。", "qwen:qwen-plus")
    );
    let seen = state.seen.lock().unwrap().pop().unwrap();
    assert_eq!(seen.system, DEFAULT_SYSTEM_PROMPT);
    assert_eq!(seen.message, "亲 几天能发货");
    assert_eq!(seen.kb_context.unwrap().answer, "下单后48小时内发货");

    // Two 500s, then an answer: within max_retries, one reply.
    state.fail_next.store(2, Ordering::SeqCst);
    let before = state.chats.load(Ordering::SeqCst);
    llm.reply("qwen", &request(false)).await.unwrap();
    assert_eq!(state.chats.load(Ordering::SeqCst) - before, 3);

    // A refused key is final (one call), and the reason names the fault, not the key.
    let before = state.chats.load(Ordering::SeqCst);
    let Err(LlmError::Failed { provider, reason }) = llm.reply("badkey", &request(false)).await
    else {
        panic!("a refused key must fail");
    };
    assert_eq!(state.chats.load(Ordering::SeqCst) - before, 1);
    assert_eq!(provider, "badkey");
    assert!(
        reason.contains("401") && reason.contains("invalid_api_key"),
        "{reason}"
    );
    assert!(
        !reason.contains("sk-wrong-secret") && !reason.contains("几天"),
        "{reason}"
    );

    let statuses = llm.statuses();
    let rate = |name: &str| {
        statuses
            .iter()
            .find(|s| s.target == name)
            .unwrap()
            .success_rate
    };
    assert_eq!((rate("qwen"), rate("badkey")), (Some(1.0), Some(0.0)));
}

#[actix_web::test]
async fn ernie_fetches_one_token_and_renews_it_once_when_refused() {
    let (url, state) = stand_in().await;
    let llm = llm(
        json!({ "wenxin": { "kind": "ernie", "base_url": url, "api_key": "ak", "secret_key": "sk",
        "model": "completions_pro", "temperature": 0.5 } }),
    );
    for _ in 0..3 {
        let reply = llm.reply("wenxin", &request(true)).await.unwrap();
        assert_eq!(reply.model, "wenxin:completions_pro");
    }
    assert_eq!(llm.ernie_token_fetches("wenxin"), Some(1));
    assert_eq!(
        state.seen.lock().unwrap().last().unwrap().system,
        DEFAULT_SYSTEM_PROMPT
    );

    // The server lets the token lapse early: one refresh, one repeated call, a reply.
    let old = state.valid_token.lock().unwrap().clone();
    state.expired.lock().unwrap().push(old);
    *state.valid_token.lock().unwrap() = "not-issued-yet".into();
    llm.reply("wenxin", &request(false)).await.unwrap();
    assert_eq!(llm.ernie_token_fetches("wenxin"), Some(2));

    // A system prompt over ERNIE's limit is refused here and says nothing of its health.
    let long = ChatRequest {
        system: "长".repeat(1025),
        ..request(false)
    };
    assert!(matches!(
        llm.reply("wenxin", &long).await,
        Err(LlmError::Failed { .. })
    ));
    assert_eq!(llm.statuses()[0].success_rate, Some(1.0));
}
