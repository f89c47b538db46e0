//! What the customer-service message tests share: an OpenAI-compatible chat stand-in
//! that checks each request as the provider does (path, bearer key, model, message
//! shape, the KB context read back from the user message) and can fail, answer 429
//! or answer slowly; a server configured to use it; shops, agents and messages.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use shopops_customer_service::service::llm::conformance::{self, OpenAiServer, Seen};

use crate::fake_providers::serve;
use crate::support::{Reply, Server};

pub const LLM_KEY: &str = "sk-e2e-llm-key";
pub const LLM_MODEL: &str = "qwen-plus";

/// How the stand-in answers chat calls.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Normal = 0,
    /// 500 with an OpenAI error body.
    Down = 1,
    /// 429 rate limited.
    Limited = 2,
    /// Answers after 3 s (over the provider's 1 s timeout).
    Slow = 3,
}

#[derive(Default)]
pub struct Llm {
    mode: AtomicU8,
    pub calls: AtomicUsize,
    pub seen: Mutex<Vec<Seen>>,
}

impl Llm {
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a chat call")
    }
}

/// The draft the stand-in writes: recognisable, and naming the KB answer it was given.
pub fn draft_for(seen: &Seen) -> String {
    match &seen.kb_context {
        Some(kb) => format!("亲，{}（参考）", kb.answer),
        None => "亲，您的问题已收到，这就为您查询。".to_string(),
    }
}

async fn chat(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Arc<Llm>>,
) -> HttpResponse {
    state.calls.fetch_add(1, Ordering::SeqCst);
    match state.mode.load(Ordering::SeqCst) {
        1 => {
            return HttpResponse::InternalServerError()
                .json(json!({ "error": { "message": "The server had an error", "type": "server_error", "code": "internal_error" } }))
        }
        2 => {
            return HttpResponse::TooManyRequests()
                .json(json!({ "error": { "message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded" } }))
        }
        3 => tokio::time::sleep(Duration::from_secs(3)).await,
        _ => {}
    }
    let server = OpenAiServer {
        path: "/v1/chat/completions",
        api_key: Some(LLM_KEY),
        model: LLM_MODEL,
    };
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    match conformance::check_openai_chat(&server, req.path(), auth, &body) {
        Ok(seen) => {
            let text = draft_for(&seen);
            state.seen.lock().unwrap().push(seen);
            HttpResponse::Ok().json(conformance::openai_answer(LLM_MODEL, &text))
        }
        Err(refusal) => {
            let status = actix_web::http::StatusCode::from_u16(refusal.status).unwrap();
            HttpResponse::build(status).json(refusal.body)
        }
    }
}

/// The stand-in's base URL (our provider adds `/v1/chat/completions`).
pub async fn llm_stand_in() -> (String, Arc<Llm>) {
    let state = Arc::new(Llm::default());
    let data = web::Data::new(state.clone());
    let url = serve(move |cfg| {
        cfg.app_data(data.clone())
            .route("/{tail:.*}", web::post().to(chat));
    })
    .await;
    (url, state)
}

/// Environment naming the stand-in as provider `qwen` (1 s timeout, no retry), with
/// alerts evaluated every second after 3 calls.
pub fn llm_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CS_LLM__PROVIDERS__QWEN__KIND", "openai".into()),
        ("CS_LLM__PROVIDERS__QWEN__BASE_URL", url.into()),
        ("CS_LLM__PROVIDERS__QWEN__API_KEY", LLM_KEY.into()),
        ("CS_LLM__PROVIDERS__QWEN__MODEL", LLM_MODEL.into()),
        ("CS_LLM__PROVIDERS__QWEN__TIMEOUT_SECS", "1".into()),
        ("CS_LLM__PROVIDERS__QWEN__MAX_RETRIES", "0".into()),
        ("SHOPOPS_ALERT_EVAL_SECS", "1".into()),
        ("SHOPOPS_ALERT_OUTSIDE_MIN_CALLS", "3".into()),
    ]
}

/// The shop FAQ of these tests (ours).
pub const FAQ: [(&str, &str); 3] = [
    ("什么时候发货", "付款后48小时内发货，节假日顺延。"),
    ("可以开发票吗", "可以，下单时填写发票抬头即可。"),
    (
        "支持七天无理由退货吗",
        "支持，商品完好、不影响二次销售即可退货。",
    ),
];

/// A shop with `fields` over the defaults of these tests (LLM `qwen`, auto mode on,
/// no delay), and the FAQ as its entries; returns the shop's id.
pub async fn shop(server: &Server, admin: &str, name: &str, fields: Value) -> i64 {
    let mut body = json!({ "name": name, "qianniu_title": format!("{name} - 千牛接待台"),
        "ai_model": "qwen", "auto_mode": true, "reply_delay": 0 });
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = server.post("/api/v1/cs/shops", admin, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    for (question, answer) in FAQ {
        let r = server
            .post(
                "/api/v1/cs/kb/entries",
                admin,
                json!({ "question": question, "answer": answer, "shop_id": id }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    id
}

pub async fn post_message(
    server: &Server,
    token: &str,
    shop: i64,
    customer: &str,
    content: &str,
) -> Reply {
    server
        .post(
            "/api/v1/cs/messages",
            token,
            json!({ "shop_id": shop, "customer_id": customer, "content": content, "source": "qianniu" }),
        )
        .await
}

/// Posts a new message and returns it routed (201).
pub async fn routed(
    server: &Server,
    token: &str,
    shop: i64,
    customer: &str,
    content: &str,
) -> Value {
    let r = post_message(server, token, shop, customer, content).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// An agent user of the tenant assigned to `shops`, and its login token.
pub async fn agent(
    server: &Server,
    admin: &str,
    tenant: &str,
    name: &str,
    shops: &[i64],
) -> (i64, String) {
    let id = server.user(admin, name, &["agent"]).await;
    for shop in shops {
        let current = server
            .get(&format!("/api/v1/cs/shops/{shop}/agents"), admin)
            .await;
        let mut ids: Vec<i64> = current.body["user_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        ids.push(id);
        let r = server
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/cs/shops/{shop}/agents"),
                Some(admin),
                Some(json!({ "user_ids": ids })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    (id, server.token(Some(tenant), name, "user-password").await)
}

/// An API token of the user behind `login` with the desktop agent's scopes.
pub async fn agent_token(server: &Server, login: &str, name: &str) -> String {
    let r = server
        .post(
            "/api/v1/api-tokens",
            login,
            json!({ "name": name, "scopes": ["cs:agent", "cs:messages:write"] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["token"].as_str().unwrap().to_string()
}

/// The hit test (`POST /cs/kb/search`, top 3), answered 200.
pub async fn kb_search(server: &Server, token: &str, query: &str) -> Value {
    let r = server
        .post(
            "/api/v1/cs/kb/search",
            token,
            json!({ "query": query, "top_k": 3 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}
