//! The module as the binaries see it, on a real (SQLite) database: what it declares,
//! what `start` hands back (routes with their app data, jobs), its subcommands, and
//! the stored states read back as the types they are (shop status, event dispatch).

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{test, web, App};
use hmac::{Hmac, Mac};
use sea_orm::{ConnectOptions, Database};
use serde_json::{json, Value};
use sha2::Sha256;
use shopops_kernel::cli::{CliContext, UsageError};
use shopops_kernel::config::Config;
use shopops_kernel::http::context::request_context;
use shopops_kernel::http::pagination::PageQuery;
use shopops_kernel::module::Declarations;
use shopops_kernel::{Kernel, Module};
use shopops_kuaishou::config::{KuaishouConfig, SECTION};
use shopops_kuaishou::platform::Platform;
use shopops_kuaishou::service::events::DispatchStatus;
use shopops_kuaishou::service::push::{self, PushHeaders};
use shopops_kuaishou::service::shops::{self, ShopStatus};
use shopops_kuaishou::store::{self, across_tenants, RecordFilter, SealedTokens};
use shopops_kuaishou::typed::orders::Order;
use shopops_kuaishou::KuaishouModule;
use shopops_migrations::{Migrator, MigratorTrait};

/// A kernel on a fresh, migrated SQLite database (kept while the directory lives).
async fn kernel() -> (tempfile::TempDir, Kernel) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let config = Config::load(&[SECTION]).unwrap();
    let declarations = Declarations::of(&[&KuaishouModule]);
    let kernel = Kernel::build(config, db, &declarations).await.unwrap();
    (dir, kernel)
}

fn platform(kernel: &Kernel, settings: Value) -> Platform {
    let config: KuaishouConfig = serde_json::from_value(settings).unwrap();
    Platform::new(kernel, config).unwrap()
}

fn sealed(kernel: &Kernel) -> SealedTokens {
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    SealedTokens {
        access_token: kernel.pii.encrypt("AT"),
        refresh_token: kernel.pii.encrypt("RT"),
        access_expires_at: later,
        refresh_expires_at: later,
    }
}

#[actix_web::test]
async fn the_face_declares_starts_and_serves_its_routes() {
    let module = KuaishouModule;
    assert_eq!(module.name(), "kuaishou");
    assert_eq!(module.config_env_prefix(), Some("KUAISHOU_"));
    let names: Vec<_> = module.permissions().iter().map(|p| p.name).collect();
    assert_eq!(names, ["kuaishou:read", "kuaishou:manage"]);
    assert_eq!(module.errors().codes.len(), 14);
    let openapi = module.openapi();
    assert!(openapi.paths.paths.contains_key("/shops/{id}/call"));
    let schemas = openapi.components.unwrap().schemas;
    for name in [
        "ShopView",
        "ShopStatus",
        "TokenHealth",
        "EventView",
        "DispatchStatus",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }

    let (_dir, kernel) = kernel().await;
    let grants = kernel.declarations.grants();
    assert!(grants.contains(&("viewer", "kuaishou:read")));
    assert!(!grants.contains(&("agent", "kuaishou:manage")));
    let started = module.start(&kernel).await.unwrap();
    let jobs: Vec<_> = started
        .jobs
        .iter()
        .map(|j| (j.name, j.period.as_secs()))
        .collect();
    assert_eq!(
        jobs,
        [
            ("kuaishou_order_sync", 300),
            ("kuaishou_event_dispatch", 10)
        ]
    );

    let routes = started.routes.clone();
    let app = test::init_service(
        App::new()
            .wrap(from_fn(request_context))
            .app_data(web::Data::new(kernel.clone()))
            .service(web::scope("/api/v1/kuaishou").configure(move |cfg| routes(cfg))),
    )
    .await;
    let call = |req: test::TestRequest| {
        let app = &app;
        async move {
            let res = test::call_service(app, req.to_request()).await;
            let status = res.status().as_u16();
            let body: Value = test::read_body_json(res).await;
            (status, body)
        }
    };
    // No webhook secret in this environment: the push route (which needs the
    // platform's app data) says what to set.
    let (status, body) = call(test::TestRequest::post().uri("/api/v1/kuaishou/webhooks")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "KUAISHOU_NOT_CONFIGURED");
    assert_eq!(
        body["error"]["details"]["missing"],
        json!(["KUAISHOU_WEBHOOK_SECRET"])
    );
    let (status, body) =
        call(test::TestRequest::get().uri("/api/v1/kuaishou/oauth/callback?code=c")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("INVALID_OAUTH_STATE"))
    );
    let (status, _) = call(test::TestRequest::get().uri("/api/v1/kuaishou/shops")).await;
    assert_eq!(status, 401, "the route exists and wants a token");
}

fn signed(body: &str, secret: &str) -> (String, String) {
    let ts = chrono::Utc::now().timestamp().to_string();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    (ts, hex::encode(mac.finalize().into_bytes()))
}

async fn receive(kernel: &Kernel, platform: &Arc<Platform>, message: &Value) -> bool {
    let body = message.to_string();
    let (ts, sig) = signed(&body, "push-secret");
    let headers = PushHeaders {
        signature: Some(&sig),
        timestamp: Some(&ts),
    };
    push::receive(kernel, platform, &headers, body.as_bytes())
        .await
        .unwrap()
}

#[tokio::test]
async fn states_are_stored_and_read_back_as_their_types() {
    let (_dir, kernel) = kernel().await;
    let platform = Arc::new(platform(
        &kernel,
        json!({ "webhook_secret": "push-secret" }),
    ));
    let shop = store::upsert_shop(&kernel.db, 1, "seller-1", sealed(&kernel), &[])
        .await
        .unwrap();
    assert_eq!(shop.status, ShopStatus::Active);
    let view = serde_json::to_value(shops::view(shop.clone())).unwrap();
    assert_eq!(
        (view["status"].clone(), view["token_health"].clone()),
        (json!("active"), json!("ok"))
    );

    // A heartbeat is stored once, skipped, and only the shop's tenant sees it.
    let beat = json!({ "msgId": "m-beat", "openId": "seller-1", "event": "kwaishop_order_paySuccess", "test": true });
    assert!(!receive(&kernel, &platform, &beat).await);
    assert!(
        receive(&kernel, &platform, &beat).await,
        "a repeat is a duplicate"
    );
    let page = PageQuery::default().resolve().unwrap();
    let events = store::events(&kernel.db, 1, page).await.unwrap();
    assert_eq!(events.data.len(), 1);
    assert_eq!(events.data[0].dispatch_status, DispatchStatus::Skipped);
    assert!(store::events(&kernel.db, 2, page)
        .await
        .unwrap()
        .data
        .is_empty());

    // An order event is dispatched in the background; the app has no credentials, so
    // the handler fails and the event waits for its retry.
    let paid = json!({ "msgId": "m-paid", "openId": "seller-1", "event": "kwaishop_order_paySuccess", "info": "{\"oid\":5}" });
    assert!(!receive(&kernel, &platform, &paid).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let retried = loop {
        let events = store::events(&kernel.db, 1, page).await.unwrap();
        let row = events
            .data
            .into_iter()
            .find(|e| e.message_id == "m-paid")
            .unwrap();
        if row.attempts == 1 && row.last_error.is_some() {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never attempted: {row:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(retried.dispatch_status, DispatchStatus::Pending);
    assert!(retried
        .last_error
        .unwrap()
        .contains("KUAISHOU_NOT_CONFIGURED"));

    // A refused refresh, then a disconnect: the seller's pushes go nowhere.
    store::set_shop_status(&kernel.db, 1, shop.id, ShopStatus::RefreshFailed)
        .await
        .unwrap();
    let failed = store::shop(&kernel.db, 1, shop.id).await.unwrap();
    assert_eq!(failed.status, ShopStatus::RefreshFailed);
    store::revoke_shop(&kernel.db, 1, shop.id).await.unwrap();
    let revoked = store::shop(&kernel.db, 1, shop.id).await.unwrap();
    assert_eq!(
        (revoked.status, revoked.access_token_enc),
        (ShopStatus::Revoked, None)
    );
    assert!(across_tenants::shops_holding(&kernel.db, "seller-1")
        .await
        .unwrap()
        .is_empty());
    let later = json!({ "msgId": "m-later", "openId": "seller-1", "event": "kwaishop_order_paySuccess", "test": true });
    assert!(!receive(&kernel, &platform, &later).await);
    assert_eq!(
        store::events(&kernel.db, 1, page).await.unwrap().data.len(),
        2
    );
    assert_eq!(
        store::shop(&kernel.db, 2, shop.id).await.unwrap_err().code,
        "RESOURCE_NOT_FOUND",
        "another tenant's shop is not found"
    );
}

#[tokio::test]
async fn orders_are_written_only_when_newer() {
    let (_dir, kernel) = kernel().await;
    let shop = store::upsert_shop(&kernel.db, 1, "seller-1", sealed(&kernel), &[])
        .await
        .unwrap();
    let order = |status: i64, update_time: i64| -> Order {
        serde_json::from_value(json!({
            "orderBaseInfo": { "oid": 2_419_800_000_000_007_i64, "status": status, "updateTime": update_time, "totalFee": 1999 },
            "orderItemInfo": { "itemId": 77, "skuId": 88, "itemTitle": "保温杯", "num": 2, "price": 999 }
        }))
        .unwrap()
    };
    assert!(store::upsert_order(&kernel.db, &shop, &order(30, 10))
        .await
        .unwrap());
    assert!(!store::upsert_order(&kernel.db, &shop, &order(40, 10))
        .await
        .unwrap());
    assert!(store::upsert_order(&kernel.db, &shop, &order(40, 11))
        .await
        .unwrap());
    let page = PageQuery::default().resolve().unwrap();
    let only_40 = RecordFilter {
        shop_id: Some(shop.id),
        status: Some(40),
    };
    let found = store::orders(&kernel.db, 1, only_40, page).await.unwrap();
    assert_eq!(found.data.len(), 1);
    assert_eq!(found.data[0].oid, "2419800000000007");
    let other = store::orders(&kernel.db, 2, RecordFilter::default(), page)
        .await
        .unwrap();
    assert!(other.data.is_empty());
}

#[tokio::test]
async fn subcommands_parse_and_the_offline_ones_need_no_database() {
    let module = KuaishouModule;
    let command = module.cli().unwrap();
    assert_eq!(command.get_name(), "kuaishou");
    let config = Config::load(&[SECTION]).unwrap();
    // The database is never there: `sign` and `methods` must not ask for it.
    let ctx = CliContext::new(config, Declarations::of(&[&KuaishouModule]), |_| async {
        anyhow::bail!("the offline tools opened the database")
    });
    let vector = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/order_note_add_chinese.json"
    );
    for args in [
        vec!["kuaishou", "methods", "--json"],
        vec!["kuaishou", "methods"],
        vec!["kuaishou", "sign", "--vector", vector],
    ] {
        let matches = command.clone().try_get_matches_from(&args).unwrap();
        let code = module.run_cli(&matches, &ctx).await.unwrap();
        assert_eq!(code, std::process::ExitCode::SUCCESS, "{args:?}");
    }
    let missing = command
        .clone()
        .try_get_matches_from(["kuaishou", "sign", "--vector", "/nonexistent.json"])
        .unwrap();
    let err = module.run_cli(&missing, &ctx).await.unwrap_err();
    assert!(err.to_string().contains("/nonexistent.json"));
    assert!(err.downcast_ref::<UsageError>().is_none(), "exit 1, not 2");
    assert!(command
        .clone()
        .try_get_matches_from(["kuaishou", "sync"])
        .is_err());
}

#[tokio::test]
async fn sync_asks_for_the_servers_database_and_says_where_it_looked() {
    let mut config = Config::load(&[SECTION]).unwrap();
    let empty = tempfile::tempdir().unwrap();
    config.data_dir = empty.path().to_path_buf();
    let ctx = CliContext::new(config, Declarations::of(&[&KuaishouModule]), |_| async {
        Ok(0)
    });
    let module = KuaishouModule;
    let matches = module
        .cli()
        .unwrap()
        .try_get_matches_from(["kuaishou", "sync", "--shop", "1"])
        .unwrap();
    let err = module.run_cli(&matches, &ctx).await.unwrap_err();
    assert!(err.downcast_ref::<UsageError>().is_some(), "{err:#}");
    assert!(err.to_string().contains("no database"), "{err:#}");
    assert!(!empty.path().join("shopops.db").exists(), "nothing created");
}
