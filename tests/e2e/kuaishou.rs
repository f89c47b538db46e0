//! The Kuaishou bridge against a fake platform that checks every request the way the
//! platform does (form-decoded pairs, HMAC-SHA256 sign over the sorted pairs, the
//! access token), serves single-use codes and rotating refresh tokens, and accepts both
//! path styles.

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
struct Platform {
    codes: Vec<String>,
    access: String,
    refresh: String,
    refreshes: usize,
    expire_next_call: bool,
    api_calls: Vec<String>,
    orders: Vec<Value>,
    refunds: Vec<Value>,
    /// Answer this many API calls with 503 first.
    fail_next: usize,
    /// Answer this many API calls with 429 first.
    throttle_next: usize,
    /// The seller each code belongs to (default `seller-1`).
    open_ids: HashMap<String, String>,
    /// Refresh-token lifetime the token answers give (default 180 days).
    refresh_expires_in: Option<i64>,
}

type Shared = Arc<Mutex<Platform>>;

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

async fn fake(state: Shared) -> String {
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
    let db = sea_orm::Database::connect(store.direct_url())
        .await
        .unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT access_token_enc, refresh_token_enc FROM kuaishou_shops",
        ))
        .await
        .unwrap()
        .unwrap();
    let (a, rt): (String, String) = (
        row.try_get("", "access_token_enc").unwrap(),
        row.try_get("", "refresh_token_enc").unwrap(),
    );
    assert!(
        !a.contains("AT-1") && !rt.contains("RT-1"),
        "tokens stored in clear"
    );
    db.close().await.ok();

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
async fn message_push_is_verified_decrypted_stored_once_and_scoped_to_the_shop_tenant() {
    use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
    let b64 = base64::engine::general_purpose::STANDARD;
    let msg_key = [5u8; 32];
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-9".into()],
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
            ("KUAISHOU_WEBHOOK_SECRET", "push-secret"),
            ("KUAISHOU_MSG_SECRET", &b64.encode(msg_key)),
        ],
    )
    .await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "push").await;
    let st = server
        .get(
            "/api/v1/kuaishou/shops/authorize-url?redirect_uri=https://x.example/cb",
            &admin,
        )
        .await
        .body["state"]
        .as_str()
        .unwrap()
        .to_string();
    let r = server
        .call(
            Method::GET,
            &format!("/api/v1/kuaishou/oauth/callback?code=code-9&state={st}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let message = json!({ "eventId": "ev-1", "msgId": "msg-1", "openId": "seller-1", "event": "kwaishop_order_paySuccess", "info": "{\"oid\":2419800012345678}", "createTime": 1735689600000_i64 });
    let sealed = cbc::Encryptor::<aes::Aes256>::new_from_slices(&msg_key, &[0u8; 16])
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(message.to_string().as_bytes());
    let body = b64.encode(sealed);
    let sign = |ts: &str, body: &str, secret: &str| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{ts}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let push = |ts: String, sig: String, body: String| {
        let server = &server;
        async move {
            let res = server
                .http
                .post(format!("{}/api/v1/kuaishou/webhooks", server.base))
                .header("X-Kuaishou-Timestamp", ts)
                .header("X-Kuaishou-Signature", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            crate::support::Reply::from_response(res).await
        }
    };
    let now = chrono::Utc::now().timestamp().to_string();
    let first = push(now.clone(), sign(&now, &body, "push-secret"), body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body, json!({ "result": 1, "duplicate": false }));
    let again = push(now.clone(), sign(&now, &body, "push-secret"), body.clone()).await;
    assert_eq!(
        again.body,
        json!({ "result": 1, "duplicate": true }),
        "stored once"
    );

    push(now.clone(), sign(&now, &body, "wrong-secret"), body.clone())
        .await
        .assert_error(401, "INVALID_WEBHOOK_SIGNATURE");
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    push(old.clone(), sign(&old, &body, "push-secret"), body.clone())
        .await
        .assert_error(401, "WEBHOOK_TIMESTAMP_OUT_OF_WINDOW");
    let garbage = "not base64 !!".to_string();
    push(now.clone(), sign(&now, &garbage, "push-secret"), garbage)
        .await
        .assert_error(400, "INVALID_WEBHOOK_BODY");

    let events = server.get("/api/v1/kuaishou/events", &admin).await.body;
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events["data"][0]["event"], "kwaishop_order_paySuccess");
    assert_eq!(events["data"][0]["payload"]["eventId"], "ev-1");
    let (_, other) = server.tenant(&root, "push-2").await;
    assert_eq!(
        server.get("/api/v1/kuaishou/events", &other).await.body["data"],
        json!([])
    );
}

fn order(oid: i64, status: i64, update_time: i64) -> Value {
    json!({
        "orderBaseInfo": { "oid": oid, "status": status, "updateTime": update_time, "payTime": update_time - 1000, "totalFee": 1999, "buyerOpenId": "buyer-x" },
        "orderItemInfo": { "itemId": 77, "skuId": 88, "itemTitle": "保温杯", "num": 2, "price": 999 }
    })
}

#[tokio::test]
async fn order_sync_is_incremental_idempotent_and_survives_a_503_burst() {
    let now = chrono::Utc::now().timestamp_millis();
    let orders: Vec<Value> = (0..250)
        .map(|i| order(2_419_800_000_000_000 + i, 30, now - 3_600_000 + i * 1000))
        .collect();
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-s".into()],
        orders,
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let env = [
        ("KUAISHOU_APP_KEY", APP_KEY),
        ("KUAISHOU_APP_SECRET", APP_SECRET),
        ("KUAISHOU_SIGN_SECRET", SIGN_SECRET),
        ("KUAISHOU_BASE_URL", base.as_str()),
    ];
    let server = Server::start_with(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "sync").await;
    let st = server
        .get(
            "/api/v1/kuaishou/shops/authorize-url?redirect_uri=https://x.example/cb",
            &admin,
        )
        .await
        .body["state"]
        .as_str()
        .unwrap()
        .to_string();
    let shop = server
        .call(
            Method::GET,
            &format!("/api/v1/kuaishou/oauth/callback?code=code-s&state={st}"),
            None,
            None,
        )
        .await
        .body;
    let id = shop["id"].as_i64().unwrap();
    let path = format!("/api/v1/kuaishou/shops/{id}/sync");
    let sync = || server.call(Method::POST, &path, Some(&admin), None);

    let r = sync().await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["orders_written"], 250);
    assert_eq!(r.body["pages"], 3, "pages of 100");
    let count = || async {
        let db = sea_orm::Database::connect(store.direct_url())
            .await
            .unwrap();
        use sea_orm::{ConnectionTrait, Statement};
        let row = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM kuaishou_orders",
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        db.close().await.ok();
        n
    };
    assert_eq!(count().await, 250);

    // A re-run changes nothing; a changed order is written again.
    let r = sync().await;
    assert_eq!(r.body["orders_written"], 0, "{}", r.body);
    state.lock().unwrap().orders[7] = order(
        2_419_800_000_000_007,
        40,
        chrono::Utc::now().timestamp_millis(),
    );
    let r = sync().await;
    assert_eq!(r.body["orders_written"], 1, "{}", r.body);
    assert_eq!(count().await, 250, "no duplicates");
    let listed = server
        .get(
            &format!("/api/v1/kuaishou/orders?shop_id={id}&status=40"),
            &admin,
        )
        .await
        .body;
    assert_eq!(
        listed["data"][0]["oid"], "2419800000000007",
        "oids beyond 2^53 are kept exactly, as text"
    );

    // A 503 burst is ridden out by the retries (the same signed request resent).
    state.lock().unwrap().fail_next = 2;
    let r = sync().await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(state.lock().unwrap().fail_next, 0);

    // Another tenant sees no orders.
    let (_, other) = server.tenant(&root, "sync-2").await;
    assert_eq!(
        server.get("/api/v1/kuaishou/orders", &other).await.body["data"],
        json!([])
    );
    drop(server);

    // The command-line sync, with progress, from an explicit start.
    let since = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let mut cmd = crate::support::command(&store);
    cmd.envs(env).args([
        "kuaishou",
        "sync",
        "--shop",
        &id.to_string(),
        "--since",
        &since,
    ]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["orders_seen"], 250);
    assert_eq!(report["orders_written"], 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("250 orders seen"));
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

/// Environment of a server that talks to the fake platform at `base`.
fn platform_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("KUAISHOU_APP_KEY", APP_KEY.into()),
        ("KUAISHOU_APP_SECRET", APP_SECRET.into()),
        ("KUAISHOU_SIGN_SECRET", SIGN_SECRET.into()),
        ("KUAISHOU_BASE_URL", base.into()),
    ]
}

async fn start(store: &Store, env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with(store, &env).await
}

/// Authorises a shop with `code` through the OAuth callback; its id.
async fn authorise(server: &Server, admin: &str, code: &str) -> i64 {
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
async fn eventually(
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

fn signed_push(message: &Value) -> (String, String, String) {
    let body = message.to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"push-secret").unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    (ts, hex::encode(mac.finalize().into_bytes()), body)
}

async fn push(server: &Server, message: &Value) -> crate::support::Reply {
    let (ts, sig, body) = signed_push(message);
    let res = server
        .http
        .post(format!("{}/api/v1/kuaishou/webhooks", server.base))
        .header("X-Kuaishou-Timestamp", ts)
        .header("X-Kuaishou-Signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    crate::support::Reply::from_response(res).await
}

#[tokio::test]
async fn pushed_events_reach_their_handlers_and_failed_ones_are_retried() {
    let now = chrono::Utc::now().timestamp_millis();
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-e".into()],
        orders: vec![order(2_419_800_000_000_101, 30, now)],
        refunds: vec![
            json!({ "refundId": 1120000123456789_i64, "orderId": 2_419_800_000_000_101_i64, "status": 10, "handlingWay": 10, "refundFee": 999, "updateTime": now }),
        ],
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let mut env = platform_env(&base);
    env.push(("KUAISHOU_WEBHOOK_SECRET", "push-secret".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "events").await;
    let shop = authorise(&server, &admin, "code-e").await;

    // Order paid: the handler reads the order from the platform and stores it.
    let paid = json!({ "eventId": "ev-p", "msgId": "m-paid", "bizId": 2_419_800_000_000_101_i64, "openId": "seller-1", "event": "kwaishop_order_paySuccess",
        "info": "{\"oid\":2419800000000101,\"status\":30}" });
    assert_eq!(push(&server, &paid).await.body["duplicate"], false);
    let orders = eventually(&server, "/api/v1/kuaishou/orders", &admin, |b| {
        b["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    assert_eq!(orders["data"][0]["oid"], "2419800000000101");
    assert_eq!(orders["data"][0]["shop_id"], shop);

    // A refund opened: the handler stores the refund.
    let refund = json!({ "msgId": "m-refund", "openId": "seller-1", "event": "kwaishop_aftersales_addRefund",
        "info": "{\"orderId\":2419800000000101,\"refundId\":1120000123456789,\"handlingWay\":10,\"status\":10}" });
    push(&server, &refund).await;
    let refunds = eventually(&server, "/api/v1/kuaishou/refunds", &admin, |b| {
        b["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    assert_eq!(refunds["data"][0]["refund_id"], "1120000123456789");
    assert_eq!(refunds["data"][0]["refund_fee"], 999);

    // An event whose order the platform does not know yet: the handler fails, the
    // event stays pending with its error, and a later attempt (the sweep, after the
    // backoff) succeeds once the order exists.
    let early = json!({ "msgId": "m-early", "openId": "seller-1", "event": "kwaishop_order_addOrder", "info": "{\"oid\":2419800000000202}" });
    push(&server, &early).await;
    let failed = eventually(&server, "/api/v1/kuaishou/events", &admin, |b| {
        b["data"][0]["dispatch"]["attempts"] == 1
            && !b["data"][0]["dispatch"]["last_error"].is_null()
    })
    .await;
    assert_eq!(failed["data"][0]["dispatch"]["status"], "pending");
    assert!(
        failed["data"][0]["dispatch"]["last_error"]
            .as_str()
            .unwrap()
            .contains("KUAISHOU_API_ERROR"),
        "{failed}"
    );
    state
        .lock()
        .unwrap()
        .orders
        .push(order(2_419_800_000_000_202, 10, now));
    eventually(&server, "/api/v1/kuaishou/events", &admin, |b| {
        b["data"][0]["dispatch"]["status"] == "done"
    })
    .await;
    let orders = server.get("/api/v1/kuaishou/orders", &admin).await.body;
    assert_eq!(orders["data"].as_array().unwrap().len(), 2, "{orders}");

    // A heartbeat and a seller with no shop here are kept but not dispatched.
    push(&server, &json!({ "msgId": "m-beat", "openId": "seller-1", "event": "kwaishop_order_paySuccess", "test": true })).await;
    push(&server, &json!({ "msgId": "m-stranger", "openId": "nobody", "event": "kwaishop_order_paySuccess", "info": "{\"oid\":1}" })).await;
    let events = server.get("/api/v1/kuaishou/events", &admin).await.body;
    assert_eq!(events["data"][0]["message_id"], "m-beat");
    assert_eq!(events["data"][0]["dispatch"]["status"], "skipped");
    assert_eq!(
        events["data"].as_array().unwrap().len(),
        4,
        "the stranger's event is not this tenant's"
    );

    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            r#"kuaishou_push_events_total{event="kwaishop_order_paySuccess",outcome="handled"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"kuaishou_push_events_total{event="kwaishop_order_addOrder",outcome="retry"} 1"#
        ),
        "{metrics}"
    );
}

/// The ids of the events a tenant sees.
async fn event_ids(server: &Server, token: &str) -> Vec<String> {
    let events = server.get("/api/v1/kuaishou/events", token).await.body;
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_push_goes_to_every_tenant_that_holds_the_seller_and_never_to_one_that_let_it_go() {
    // Every code belongs to the same seller (`seller-1`); tenants A and B connect it.
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-a".into(), "code-b".into(), "code-a2".into()],
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let mut env = platform_env(&base);
    env.push(("KUAISHOU_WEBHOOK_SECRET", "push-secret".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, a) = server.tenant(&root, "holder-a").await;
    let (_, b) = server.tenant(&root, "holder-b").await;
    let heartbeat = |id: &str| json!({ "msgId": id, "openId": "seller-1", "event": "kwaishop_order_paySuccess", "test": true });

    // A connects the seller, then disconnects it; B connects the same seller.
    let shop_a = authorise(&server, &a, "code-a").await;
    push(&server, &heartbeat("m-held-by-a")).await;
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/kuaishou/shops/{shop_a}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let shop_b = authorise(&server, &b, "code-b").await;
    let first = push(&server, &heartbeat("m-after-handover")).await;
    assert_eq!(first.body, json!({ "result": 1, "duplicate": false }));
    assert_eq!(
        event_ids(&server, &a).await,
        ["m-held-by-a"],
        "A let the seller go"
    );
    assert_eq!(event_ids(&server, &b).await, ["m-after-handover"]);
    let events = server.get("/api/v1/kuaishou/events", &b).await.body;
    assert_eq!(events["data"][0]["shop_id"], shop_b);

    // A connects the seller again: both hold it, each gets its own copy once.
    authorise(&server, &a, "code-a2").await;
    assert_eq!(
        push(&server, &heartbeat("m-both")).await.body["duplicate"],
        false
    );
    assert_eq!(
        push(&server, &heartbeat("m-both")).await.body["duplicate"],
        true
    );
    assert_eq!(event_ids(&server, &a).await, ["m-both", "m-held-by-a"]);
    assert_eq!(event_ids(&server, &b).await, ["m-both", "m-after-handover"]);

    // A seller nobody holds: acknowledged, dropped, counted, and logged without secrets.
    let stranger = json!({ "msgId": "m-stranger", "openId": "seller-nobody", "event": "kwaishop_order_paySuccess" });
    assert_eq!(
        push(&server, &stranger).await.body,
        json!({ "result": 1, "duplicate": false })
    );
    for token in [&a, &b] {
        assert!(!event_ids(&server, token)
            .await
            .contains(&"m-stranger".to_string()));
    }
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            r#"kuaishou_push_events_total{event="kwaishop_order_paySuccess",outcome="unowned"} 1"#
        ),
        "{metrics}"
    );
    let logs = server.logs();
    assert!(logs.contains("no shop here holds"), "{logs}");
    assert!(!logs.contains("push-secret"));
}

#[tokio::test]
async fn several_shops_orders_at_once_each_failure_reported_beside_the_others() {
    let now = chrono::Utc::now().timestamp_millis();
    let orders: Vec<Value> = (0..130)
        .map(|i| order(2_419_800_000_100_000 + i, 30, now - 60_000 + i))
        .collect();
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-a".into(), "code-b".into()],
        open_ids: HashMap::from([("code-b".to_string(), "seller-2".to_string())]),
        orders,
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let server = start(&store, &platform_env(&base)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "batch").await;
    let a = authorise(&server, &admin, "code-a").await;
    let b = authorise(&server, &admin, "code-b").await;
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/kuaishou/shops/{b}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let (_, other) = server.tenant(&root, "batch-2").await;

    let query = json!({ "shop_ids": [a, b, 999_999], "begin_time": now - 3_600_000, "end_time": now + 1, "query_type": 2, "max_orders_per_shop": 120 });
    let r = server
        .post("/api/v1/kuaishou/orders/query", &admin, query.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shops = r.body["shops"].as_array().unwrap();
    assert_eq!(r.body["failed"], 2);
    assert_eq!(
        (shops[0]["shop_id"].as_i64(), shops[0]["ok"].as_bool()),
        (Some(a), Some(true))
    );
    assert_eq!(shops[0]["orders"].as_array().unwrap().len(), 120, "capped");
    assert_eq!(shops[0]["truncated"], true);
    assert_eq!(
        shops[0]["orders"][0]["orderBaseInfo"]["oid"],
        2_419_800_000_100_000_i64
    );
    assert_eq!(shops[1]["error"]["code"], "KUAISHOU_SHOP_REVOKED");
    assert_eq!(shops[2]["error"]["code"], "RESOURCE_NOT_FOUND");
    // Another tenant's query for the same shop: not found, no orders.
    let r = server
        .post("/api/v1/kuaishou/orders/query", &other, query)
        .await;
    assert_eq!(
        r.body["shops"][0]["error"]["code"], "RESOURCE_NOT_FOUND",
        "{}",
        r.body
    );
    let bad = server
        .post(
            "/api/v1/kuaishou/orders/query",
            &admin,
            json!({ "shop_ids": [], "begin_time": 5, "end_time": 1 }),
        )
        .await;
    let d = bad.assert_error(422, "VALIDATION_ERROR");
    assert!(
        d["field_errors"]["shop_ids"].is_array() && d["field_errors"]["end_time"].is_array(),
        "{d}"
    );

    // Per-method call counts and latencies are exported.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            r#"kuaishou_api_calls_total{method="open.order.cursor.list",outcome="ok"} 2"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "kuaishou_api_call_duration_seconds_count{method=\"open.order.cursor.list\"} 2"
        ),
        "{metrics}"
    );

    // A throttling platform (429 on every retry too) is a 429 for the caller.
    state.lock().unwrap().throttle_next = 100;
    server
        .get(&format!("/api/v1/kuaishou/shops/{a}/info"), &admin)
        .await
        .assert_error(429, "KUAISHOU_RATE_LIMITED");
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
