//! `make bench` (scripts/bench-kuaishou.sh): the Kuaishou client against the Python SDK.
//!
//! - `sign [N]`: signing throughput on one core (MD5 and HMAC-SHA256, the order-list
//!   request of the vectors), JSON `{"md5_per_s", "hmac_per_s"}`.
//! - `serve PORT ORDERS`: a fake open platform holding ORDERS orders, which checks
//!   every request's HMAC-SHA256 sign as the platform does (form-decoded, sorted) and
//!   answers `open.order.cursor.list` pages on both path styles: the platform's
//!   envelope and order shape on `/open/...`, the shape the SDK can read (`result`
//!   list, `pcursor`, its `Order` model) on the SDK's `/open/open/...`.
//! - `pull URL ORDERS PAGE CONCURRENCY`: our client (signing, the outside-call toolkit
//!   with pool and breaker, answer classification, typed pages as a stream) pulls every
//!   order on one thread, CONCURRENCY time windows at a time; JSON with requests/s and
//!   peak RSS.

// A benchmark fails loudly.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shopops_kernel::outside::{OutsideCalls, TargetConfig};
use shopops_kernel::telemetry::metrics::Metrics;
use shopops_kuaishou::client::paging::cursor_pages;
use shopops_kuaishou::client::{sign_call, AppCredentials, Call, SignMethod};
use shopops_kuaishou::config::KuaishouConfig;
use shopops_kuaishou::platform::{decode, into_data, Platform};
use shopops_kuaishou::typed::orders::{OrderCursorList, OrderCursorPage};
use shopops_kuaishou::typed::{param_json, KsRequest};

const APP_KEY: &str = "ks_bench_app";
const APP_SECRET: &str = "as_bench_secret";
const SIGN_SECRET: &str = "ss_bench_sign";
const TOKEN: &str = "bench-access-token";
/// Orders are spread one second apart from this instant (epoch ms).
const T0: i64 = 1_735_689_600_000;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    match arg(0, "sign").as_str() {
        "sign" => sign(arg(1, "200000").parse().unwrap()),
        "serve" => serve(
            arg(1, "18090").parse().unwrap(),
            arg(2, "100000").parse().unwrap(),
        ),
        "pull" => pull(
            &arg(1, "http://127.0.0.1:18090"),
            arg(2, "100000").parse().unwrap(),
            arg(3, "100").parse().unwrap(),
            arg(4, "8").parse().unwrap(),
        ),
        other => panic!("unknown mode {other}: sign | serve | pull"),
    }
}

fn sign(n: usize) {
    let request = OrderCursorList {
        page_size: Some(100),
        begin_time: T0,
        end_time: T0 + 86_400_000,
        cursor: Some("MjAyNS0wMS0wMVQwMDowMDowMA==".into()),
        ..Default::default()
    };
    let rate = |method: SignMethod| {
        let app = AppCredentials {
            app_key: APP_KEY.into(),
            sign_secret: SIGN_SECRET.into(),
            sign_method: method,
        };
        let started = Instant::now();
        let mut bytes = 0usize;
        for i in 0..n {
            // The whole request as sent: param JSON, sign string, sign, encoding.
            let param = param_json(&request).unwrap();
            let signed = sign_call(
                &app,
                &Call {
                    method: OrderCursorList::METHOD,
                    access_token: TOKEN,
                    param_json: param.as_deref(),
                    timestamp: (T0 + i as i64).to_string(),
                },
            )
            .unwrap();
            bytes += signed.encoded().len();
        }
        assert!(bytes > 0);
        n as f64 / started.elapsed().as_secs_f64()
    };
    let md5 = rate(SignMethod::Md5);
    let hmac = rate(SignMethod::HmacSha256);
    println!(
        "{}",
        json!({ "signed_requests": n, "md5_per_s": md5.round(), "hmac_per_s": hmac.round() })
    );
}

/// One order in the platform's shape.
fn platform_order(i: i64) -> Value {
    json!({
        "orderBaseInfo": { "oid": 2_419_800_000_000_000_i64 + i, "status": 30, "buyerOpenId": format!("buyer-{i}"), "buyerNick": "买家", "sellerOpenId": "seller-bench",
            "totalFee": 5990, "expressFee": 0, "discountFee": 100, "payTime": T0 + i * 1000 - 500, "createTime": T0 + i * 1000 - 900, "updateTime": T0 + i * 1000, "remark": "尽快发货" },
        "orderItemInfo": { "itemId": 22573648291_i64, "skuId": 88001, "relSkuId": 1, "itemTitle": "【新品】纯棉T恤", "skuDesc": "白色 L", "num": 1, "price": 5990, "originalPrice": 6990, "itemPicUrl": "https://img.example.com/a.jpg" }
    })
}

/// The same order in the SDK's `Order` model (the shape its typed parsing accepts).
fn sdk_order(i: i64) -> Value {
    json!({
        "order_id": (2_419_800_000_000_000_i64 + i).to_string(), "order_status": 2, "seller_id": 1234567890, "create_time": (T0 + i * 1000 - 900).to_string(),
        "pay_time": (T0 + i * 1000 - 500).to_string(), "total_amount": 5990, "pay_amount": 5890, "discount_amount": 100, "freight": 0, "remark": "尽快发货",
        "items": [{ "item_id": 22573648291_i64, "sku_id": 88001, "title": "【新品】纯棉T恤", "image": "https://img.example.com/a.jpg", "quantity": 1, "unit_price": 5990, "total_price": 5990, "spec_info": "白色 L" }]
    })
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

/// Every order serialised once, so a page costs the fake server a concatenation and
/// the clients, not the server, are what is measured.
struct Fake {
    platform: Vec<String>,
    sdk: Vec<String>,
}

async fn orders(req: HttpRequest, fake: web::Data<Arc<Fake>>) -> HttpResponse {
    let pairs: Vec<(String, String)> =
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if !signed_ok(&pairs) || get("appkey") != APP_KEY || get("access_token") != TOKEN {
        return HttpResponse::Ok().json(json!({ "result": 100200001, "error_msg": "sign error" }));
    }
    let param: Value = serde_json::from_str(get("param")).unwrap_or_default();
    let (begin, end) = (
        param["beginTime"].as_i64().unwrap_or(0),
        param["endTime"].as_i64().unwrap_or(0),
    );
    let size = param["pageSize"].as_u64().unwrap_or(20) as usize;
    let from: usize = param["cursor"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    // Orders are one second apart from T0: the window is an index range.
    let first = ((begin - T0 + 999).max(0) / 1000) as usize;
    let last = (((end - T0 + 999).max(0) / 1000) as usize).min(fake.platform.len());
    let start = (first + from).min(last);
    let stop = (start + size).min(last);
    let more = stop < last;
    let next = if more {
        (from + size).to_string()
    } else {
        "nomore".into()
    };
    let body = if req.path().starts_with("/open/open/") {
        let page = fake.sdk[start..stop].join(",");
        format!(
            r#"{{"result":[{page}],"pcursor":"{next}","has_more":{more},"request_id":"rq-bench"}}"#
        )
    } else {
        let page = fake.platform[start..stop].join(",");
        format!(
            r#"{{"result":1,"error_msg":"","data":{{"orderList":[{page}],"cursor":"{next}"}},"requestId":"rq-bench"}}"#
        )
    };
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

fn serve(port: u16, n: i64) {
    let fake = Arc::new(Fake {
        platform: (0..n).map(|i| platform_order(i).to_string()).collect(),
        sdk: (0..n).map(|i| sdk_order(i).to_string()).collect(),
    });
    let data = web::Data::new(fake);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(orders))
        })
        .workers(1)
        .bind(("127.0.0.1", port))
        .unwrap()
        .run()
        .await
        .unwrap();
    });
}

/// Peak resident memory of this process, from /proc (KiB).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn pull(base: &str, n: i64, page: u32, concurrency: usize) {
    shopops_kernel::outside::install_crypto_provider();
    // One thread, like the SDK's asyncio loop: the script pins each client to one core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = shopops_kernel::config::Config::load(&[shopops_kuaishou::config::SECTION]).unwrap();
        let outside = OutsideCalls::new(TargetConfig::from_config(&config), Arc::new(Metrics::new()));
        let ks: KuaishouConfig = serde_json::from_value(json!({
            "app_key": APP_KEY, "app_secret": APP_SECRET, "sign_secret": SIGN_SECRET, "base_url": base,
        }))
        .unwrap();
        let platform = Platform::from_parts(&outside, &prometheus::Registry::new(), ks).unwrap();
        let platform = &platform;
        // CONCURRENCY windows of equal length, each paged by its cursor.
        let span = n * 1000 / concurrency as i64;
        let started = Instant::now();
        let windows = (0..concurrency as i64).map(|w| (T0 + w * span, T0 + (w + 1) * span));
        let results: Vec<(usize, usize)> = futures_util::stream::iter(windows)
            .map(|(begin, end)| async move {
                let request = OrderCursorList { page_size: Some(page), begin_time: begin, end_time: end, ..Default::default() };
                let pages = cursor_pages(None, |cursor| {
                    let request = OrderCursorList { cursor, ..request.clone() };
                    async move {
                        let param = param_json(&request).unwrap();
                        let outcome = platform.call(OrderCursorList::METHOD, TOKEN, param.as_deref()).await?;
                        let page: OrderCursorPage = decode(OrderCursorList::METHOD, &into_data(outcome)?)?;
                        let (items, next) = (page.order_list.len(), page.cursor.clone());
                        Ok::<_, shopops_kernel::AppError>((page, items, next))
                    }
                });
                // Each page is read (typed) and dropped, as the sync does after storing it.
                pages
                    .try_fold((0, 0), |(requests, orders), page| async move {
                        let read = page.order_list.iter().filter(|o| o.base().is_some()).count();
                        Ok((requests + 1, orders + read))
                    })
                    .await
                    .unwrap()
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let elapsed = started.elapsed().as_secs_f64();
        let requests: usize = results.iter().map(|r| r.0).sum();
        let orders: usize = results.iter().map(|r| r.1).sum();
        assert_eq!(orders as i64, n, "every order pulled once");
        println!(
            "{}",
            json!({ "client": "shopops", "orders": orders, "requests": requests, "seconds": (elapsed * 1000.0).round() / 1000.0,
                "requests_per_s": (requests as f64 / elapsed).round(), "orders_per_s": (orders as f64 / elapsed).round(), "peak_rss_mib": (peak_rss_kib() as f64 / 1024.0 * 10.0).round() / 10.0 })
        );
    });
}
