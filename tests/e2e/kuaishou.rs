//! The Kuaishou bridge against a fake platform that checks every request the way the
//! platform does (form-decoded pairs, HMAC-SHA256 sign over the sorted pairs, the
//! access token), serves single-use codes and rotating refresh tokens, and accepts both
//! path styles.
//!
//! Here: the shop tests (OAuth, signed calls, token refresh, readiness, the expiry
//! alert), with the fake and the helpers `kuaishou_orders` and `kuaishou_push` share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{Server, Store};

const APP_KEY: &str = "ks_app_e2e";
const APP_SECRET: &str = "as_e2e_secret";
const SIGN_SECRET: &str = "ss_e2e_sign";

#[derive(Default)]
pub(crate) struct Platform {
    pub(crate) codes: Vec<String>,
    pub(crate) access: String,
    pub(crate) refresh: String,
    pub(crate) refreshes: usize,
    pub(crate) expire_next_call: bool,
    pub(crate) api_calls: Vec<String>,
    pub(crate) orders: Vec<Value>,
    pub(crate) refunds: Vec<Value>,
    /// Answer this many API calls with 503 first.
    pub(crate) fail_next: usize,
    /// Answer this many API calls with 429 first.
    pub(crate) throttle_next: usize,
    /// The seller each code belongs to (default `seller-1`).
    pub(crate) open_ids: HashMap<String, String>,
    /// Refresh-token lifetime the token answers give (default 180 days).
    pub(crate) refresh_expires_in: Option<i64>,
}

pub(crate) type Shared = Arc<Mutex<Platform>>;

fn form(text: &str) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(text)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

fn signed_ok(pairs: &[(String, String)]) -> bool {
    let mut sorted: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "sign").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let text = format!(
        "{}&signSecret={SIGN_SECRET}",
        sorted
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SIGN_SECRET.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    pairs.iter().any(|(k, v)| k == "sign" && *v == want)
}

pub(crate) async fn fake(state: Shared) -> String {
    let data = web::Data::new(state);
    async fn token(q: web::Query<HashMap<String, String>>, s: web::Data<Shared>) -> HttpResponse {
        let mut p = s.lock().unwrap();
        let code = q.get("code").cloned().unwrap_or_default();
        let creds = q.get("app_id").map(String::as_str) == Some(APP_KEY)
            && q.get("app_secret").map(String::as_str) == Some(APP_SECRET);
        if !creds
            || q.get("grant_type").map(String::as_str) != Some("code")
            || !p.codes.contains(&code)
        {
            return HttpResponse::Ok().json(json!({ "result": 100200102, "error": "invalid_grant", "error_msg": "code invalid or used" }));
        }
        p.codes.retain(|c| *c != code);
        p.access = "AT-1".into();
        p.refresh = "RT-1".into();
        let open_id = p
            .open_ids
            .get(&code)
            .cloned()
            .unwrap_or_else(|| "seller-1".into());
        let refresh_life = p.refresh_expires_in.unwrap_or(15552000);
        HttpResponse::Ok().json(json!({ "result": 1, "access_token": "AT-1", "expires_in": 172800, "refresh_token": "RT-1", "refresh_token_expires_in": refresh_life, "open_id": open_id, "scopes": ["merchant_order", "merchant_item"] }))
    }
    async fn refresh(body: String, s: web::Data<Shared>) -> HttpResponse {
        // Slow, like a real token service: overlapping refreshes would show.
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let pairs: HashMap<String, String> = form(&body).into_iter().collect();
        let mut p = s.lock().unwrap();
        if pairs.get("refresh_token") != Some(&p.refresh)
            || pairs.get("app_secret").map(String::as_str) != Some(APP_SECRET)
        {
            return HttpResponse::Ok().json(json!({ "result": 100200102, "error": "invalid_grant", "error_msg": "refreshToken.discarded" }));
        }
        p.refreshes += 1;
        p.access = format!("AT-{}", p.refreshes + 1);
        p.refresh = format!("RT-{}", p.refreshes + 1);
        HttpResponse::Ok().json(json!({ "result": 1, "access_token": p.access, "expires_in": 172800, "refresh_token": p.refresh, "refresh_token_expires_in": 15552000, "open_id": "seller-1" }))
    }
    async fn api(req: HttpRequest, body: String, s: web::Data<Shared>) -> HttpResponse {
        let pairs = if req.method() == Method::GET.as_str() {
            form(req.query_string())
        } else {
            form(&body)
        };
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut p = s.lock().unwrap();
        p.api_calls.push(req.path().to_string());
        if !signed_ok(&pairs) || get("appkey") != APP_KEY {
            return HttpResponse::Ok()
                .json(json!({ "result": 100200001, "error_msg": "sign error" }));
        }
        if get("access_token") != p.access || std::mem::take(&mut p.expire_next_call) {
            return HttpResponse::Ok()
                .json(json!({ "result": 28, "error_msg": "access_token已过期" }));
        }
        if p.fail_next > 0 {
            p.fail_next -= 1;
            return HttpResponse::ServiceUnavailable().body("busy");
        }
        if p.throttle_next > 0 {
            p.throttle_next -= 1;
            return HttpResponse::TooManyRequests().body("slow down");
        }
        let param: Value = serde_json::from_str(&get("param")).unwrap_or_default();
        if get("method") == "open.order.detail" {
            let oid = param["oid"].as_i64().unwrap_or_default();
            return match p.orders.iter().find(|o| o["orderBaseInfo"]["oid"] == oid) {
                Some(o) => HttpResponse::Ok()
                    .json(json!({ "result": 1, "data": o, "requestId": "rq-detail" })),
                None => {
                    HttpResponse::Ok().json(json!({ "result": 10002, "error_msg": "订单不存在" }))
                }
            };
        }
        if get("method") == "open.seller.order.refund.detail" {
            let id = param["refundId"].as_i64().unwrap_or_default();
            return match p.refunds.iter().find(|r| r["refundId"] == id) {
                Some(r) => HttpResponse::Ok().json(json!({ "result": 1, "data": r })),
                None => {
                    HttpResponse::Ok().json(json!({ "result": 10003, "error_msg": "售后单不存在" }))
                }
            };
        }
        if get("method") == "open.order.cursor.list" {
            let (begin, end) = (
                param["beginTime"].as_i64().unwrap_or(0),
                param["endTime"].as_i64().unwrap_or(0),
            );
            let size = param["pageSize"].as_u64().unwrap_or(20) as usize;
            let from: usize = param["cursor"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let mut hits: Vec<&Value> = p
                .orders
                .iter()
                .filter(|o| {
                    let t = o["orderBaseInfo"]["updateTime"].as_i64().unwrap();
                    t >= begin && t < end
                })
                .collect();
            hits.sort_by_key(|o| o["orderBaseInfo"]["oid"].as_i64());
            let page: Vec<&Value> = hits.iter().skip(from).take(size).copied().collect();
            let next = if from + size < hits.len() {
                (from + size).to_string()
            } else {
                "nomore".to_string()
            };
            return HttpResponse::Ok().json(json!({ "result": 1, "data": { "orderList": page, "cursor": next }, "requestId": "rq-orders" }));
        }
        HttpResponse::Ok().json(json!({ "result": 1, "error_msg": "", "data": { "shopName": "测试小店", "method": get("method") }, "requestId": "rq-1" }))
    }
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/oauth2/access_token", web::get().to(token))
            .route("/oauth2/refresh_token", web::post().to(refresh))
            .default_service(web::to(api))
    })
    .workers(2)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    url
}

pub(crate) fn order(oid: i64, status: i64, update_time: i64) -> Value {
    json!({
        "orderBaseInfo": { "oid": oid, "status": status, "updateTime": update_time, "payTime": update_time - 1000, "totalFee": 1999, "buyerOpenId": "buyer-x" },
        "orderItemInfo": { "itemId": 77, "skuId": 88, "itemTitle": "保温杯", "num": 2, "price": 999 }
    })
}

/// Environment of a server that talks to the fake platform at `base`.
pub(crate) fn platform_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("KUAISHOU_APP_KEY", APP_KEY.into()),
        ("KUAISHOU_APP_SECRET", APP_SECRET.into()),
        ("KUAISHOU_SIGN_SECRET", SIGN_SECRET.into()),
        ("KUAISHOU_BASE_URL", base.into()),
    ]
}

pub(crate) async fn start(store: &Store, env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with(store, &env).await
}

/// Authorises a shop with `code` through the OAuth callback; its id.
pub(crate) async fn authorise(server: &Server, admin: &str, code: &str) -> i64 {
    let st = server
        .get(
            "/api/v1/kuaishou/shops/authorize-url?redirect_uri=https://x.example/cb",
            admin,
        )
        .await
        .body["state"]
        .as_str()
        .unwrap()
        .to_string();
    let r = server
        .call(
            Method::GET,
            &format!("/api/v1/kuaishou/oauth/callback?code={code}&state={st}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

/// Polls `path` until `done` says yes (30 s at most).
pub(crate) async fn eventually(
    server: &Server,
    path: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let body = server.get(path, token).await.body;
        if done(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never got there: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn authorise_a_shop_call_signed_and_refresh_once_under_concurrency() {
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-1".into()],
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let server = Server::start_with(
        &store,
        &[
            ("KUAISHOU_APP_KEY", APP_KEY),
            ("KUAISHOU_APP_SECRET", APP_SECRET),
            ("KUAISHOU_SIGN_SECRET", SIGN_SECRET),
            ("KUAISHOU_BASE_URL", &base),
            ("KUAISHOU_AUTHORIZE_URL", &format!("{base}/oauth/authorize")),
            (
                "KUAISHOU_REDIRECT_URI",
                "https://ops.example.com/api/v1/kuaishou/oauth/callback",
            ),
        ],
    )
    .await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "ks").await;

    let r = server
        .get("/api/v1/kuaishou/shops/authorize-url", &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.body["url"].as_str().unwrap();
    let st = r.body["state"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!(
            "{base}/oauth/authorize?app_id={APP_KEY}&redirect_uri=https%3A%2F%2Fops.example.com"
        )),
        "{url}"
    );
    assert!(url.contains("response_type=code") && url.contains(&format!("state={st}")));

    // The seller comes back with a code: exchanged once, tokens stored encrypted.
    let callback = |code: &str, st: &str| {
        let path = format!("/api/v1/kuaishou/oauth/callback?code={code}&state={st}");
        let server = &server;
        async move { server.call(Method::GET, &path, None, None).await }
    };
    let shop = callback("code-1", &st).await;
    assert_eq!(shop.status, 200, "{}", shop.body);
    assert_eq!(shop.body["open_id"], "seller-1");
    assert_eq!(shop.body["token_health"], "ok");
    let id = shop.body["id"].as_i64().unwrap();
    callback("code-1", &st)
        .await
        .assert_error(400, "INVALID_OAUTH_STATE");
    callback("code-1", "forged")
        .await
        .assert_error(400, "INVALID_OAUTH_STATE");
    let row = store
        .rows("SELECT access_token_enc, refresh_token_enc FROM kuaishou_shops")
        .await
        .remove(0);
    let (a, rt): (String, String) = (
        row.try_get("", "access_token_enc").unwrap(),
        row.try_get("", "refresh_token_enc").unwrap(),
    );
    assert!(
        !a.contains("AT-1") && !rt.contains("RT-1"),
        "tokens stored in clear"
    );

    // A signed call the fake platform accepts (platform path, verified sign).
    let info = server
        .get(&format!("/api/v1/kuaishou/shops/{id}/info"), &admin)
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["shopName"], "测试小店");
    assert_eq!(
        state.lock().unwrap().api_calls.last().unwrap(),
        "/open/shop/info/get"
    );

    // An expired token: refreshed once and the call retried.
    state.lock().unwrap().expire_next_call = true;
    let info = server
        .get(&format!("/api/v1/kuaishou/shops/{id}/info"), &admin)
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(state.lock().unwrap().refreshes, 1);

    // Ten concurrent refresh requests: one refresh at the platform.
    let path = format!("/api/v1/kuaishou/shops/{id}/refresh");
    let calls = (0..10).map(|_| server.call(Method::POST, &path, Some(&admin), None));
    let replies = futures_util::future::join_all(calls).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(
        state.lock().unwrap().refreshes,
        2,
        "exactly one more refresh"
    );
    assert_eq!(
        server
            .get(&format!("/api/v1/kuaishou/shops/{id}/info"), &admin)
            .await
            .status,
        200,
        "the rotated token works"
    );

    // Any catalogue method by name: verb from the catalogue, params in wire order.
    let r = server
        .post(
            &format!("/api/v1/kuaishou/shops/{id}/call"),
            &admin,
            json!({ "method": "open.item.get", "params": { "kwaiItemId": 123 } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["method"], "open.item.get");
    assert_eq!(
        state.lock().unwrap().api_calls.last().unwrap(),
        "/open/item/get"
    );
    server
        .post(
            &format!("/api/v1/kuaishou/shops/{id}/call"),
            &admin,
            json!({ "method": "open.no.such" }),
        )
        .await
        .assert_error(400, "KUAISHOU_UNKNOWN_METHOD");
    let d = server
        .post(
            &format!("/api/v1/kuaishou/shops/{id}/call"),
            &admin,
            json!({ "method": "open.item.get", "params": { "itemId": 1 } }),
        )
        .await;
    assert_eq!(
        d.assert_error(400, "INVALID_REQUEST_BODY")["valid_params"],
        json!(["kwaiItemId"])
    );

    // The platform's connectivity is reported in readiness details.
    let ready: Value = server
        .http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["details"]["kuaishou"]["state"], "healthy", "{ready}");

    // No token or secret ever reaches the logs.
    let logs = server.logs();
    for secret in [
        "AT-1",
        "AT-2",
        "RT-1",
        "RT-2",
        APP_SECRET,
        SIGN_SECRET,
        "code-1",
    ] {
        assert!(!logs.contains(secret), "`{secret}` leaked into the logs");
    }

    // Another tenant sees nothing; disconnecting erases the tokens.
    let (_, other) = server.tenant(&root, "ks-2").await;
    server
        .get(&format!("/api/v1/kuaishou/shops/{id}/info"), &other)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(
        server.get("/api/v1/kuaishou/shops", &other).await.body,
        json!([])
    );
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/kuaishou/shops/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    server
        .get(&format!("/api/v1/kuaishou/shops/{id}/info"), &admin)
        .await
        .assert_error(409, "KUAISHOU_SHOP_REVOKED");
    let shops: Value = server.get("/api/v1/kuaishou/shops", &admin).await.body;
    assert_eq!(shops[0]["token_health"], "revoked");
}

#[tokio::test]
async fn without_app_credentials_the_shop_routes_say_so() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "ks-none").await;
    let r = server
        .get(
            "/api/v1/kuaishou/shops/authorize-url?redirect_uri=https://x.example/cb",
            &admin,
        )
        .await;
    let d = r.assert_error(503, "KUAISHOU_NOT_CONFIGURED");
    assert_eq!(d["missing"][0], "KUAISHOU_APP_KEY");
}

#[tokio::test]
async fn an_unreachable_platform_is_reported_without_failing_readiness() {
    let (_held, closed) = crate::support::refused_port();
    let store = Store::new().await;
    let server = Server::start_with(
        &store,
        &[
            ("KUAISHOU_APP_KEY", APP_KEY),
            ("KUAISHOU_APP_SECRET", APP_SECRET),
            ("KUAISHOU_SIGN_SECRET", SIGN_SECRET),
            ("KUAISHOU_BASE_URL", &format!("http://127.0.0.1:{closed}")),
        ],
    )
    .await;
    let r = server
        .http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a platform outage must not take the pod out of service"
    );
    let ready: Value = r.json().await.unwrap();
    assert_eq!(
        ready["details"]["kuaishou"]["state"], "unhealthy",
        "{ready}"
    );
    assert_eq!(ready["details"]["kuaishou"]["reason"], "unreachable");
}

#[tokio::test]
async fn a_refresh_token_near_its_end_raises_one_alert() {
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-x".into()],
        refresh_expires_in: Some(3 * 24 * 3600),
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let mut env = platform_env(&base);
    env.push(("SHOPOPS_ALERT_EVAL_SECS", "1".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "expiring").await;
    let shop = authorise(&server, &admin, "code-x").await;
    let shops = server.get("/api/v1/kuaishou/shops", &admin).await.body;
    assert_eq!(shops[0]["token_health"], "refresh_expiring");

    let path = "/api/v1/alerts?rule=kuaishou_refresh_token_expiring";
    let alerts = eventually(&server, path, &root, |b| {
        b["data"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    assert_eq!(
        alerts["data"][0]["key"],
        format!("kuaishou_refresh_token_expiring:{shop}")
    );
    assert_eq!(alerts["data"][0]["status"], "firing");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let later = server.get(path, &root).await.body;
    assert_eq!(
        later["data"].as_array().unwrap().len(),
        1,
        "one fault, one alert: {later}"
    );
    let rules = server.get("/api/v1/alerts/rules", &root).await.body;
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "kuaishou_refresh_failed"),
        "{rules}"
    );
}
