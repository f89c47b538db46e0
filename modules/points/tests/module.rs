//! The module as the binaries see it, on a real (SQLite) database: what it declares,
//! what `start` hands back, its routes end to end (refusals in both languages), the
//! expiry job and the `shopops points` subcommands.

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use std::process::ExitCode;

use actix_web::middleware::from_fn;
use actix_web::{test, web, App};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, EntityTrait, Set};
use serde_json::{json, Value};
use shopops_kernel::audit::Actor;
use shopops_kernel::cli::{CliContext, UsageError};
use shopops_kernel::config::Config;
use shopops_kernel::entities::user_role;
use shopops_kernel::http::context::request_context;
use shopops_kernel::http::RequestContext;
use shopops_kernel::module::Declarations;
use shopops_kernel::{Kernel, Module};
use shopops_migrations::{Migrator, MigratorTrait};
use shopops_points::service::domain::{Category, MemberId, Points, Reason};
use shopops_points::service::ledger::{self, Earn};
use shopops_points::service::{expiry, integrity, Operator};
use shopops_points::store::{Scope, MAX_BALANCE};
use shopops_points::PointsModule;

/// A kernel on a fresh, migrated SQLite database where the configuration says the
/// data is (kept while the directory lives).
async fn kernel() -> (tempfile::TempDir, Kernel) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(&[]).unwrap();
    config.data_dir = dir.path().to_path_buf();
    let url = format!("sqlite://{}?mode=rwc", config.sqlite_path().display());
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let declarations = Declarations::of(&[&PointsModule]);
    let kernel = Kernel::build(config, db, &declarations).await.unwrap();
    (dir, kernel)
}

/// An access token of `user` with `role` in `tenant`.
async fn token(kernel: &Kernel, user: i64, tenant: i64, role: &str) -> String {
    user_role::Entity::insert(user_role::ActiveModel {
        user_id: Set(user),
        role: Set(role.to_string()),
        tenant_id: Set(tenant),
    })
    .exec(&kernel.db)
    .await
    .unwrap();
    kernel.rbac.reload(&kernel.db).await.unwrap();
    kernel
        .tokens
        .issue(user, tenant, &format!("user{user}"), "session")
}

#[actix_web::test]
async fn the_face_declares_its_parts_and_starts() {
    let module = PointsModule;
    assert_eq!(module.name(), "points");
    assert_eq!(module.config_env_prefix(), None);
    let names: Vec<_> = module.permissions().iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "points:read",
            "points:earn",
            "points:spend",
            "points:adjust",
            "points:manage"
        ]
    );
    let codes: Vec<_> = module.errors().codes.iter().map(|c| c.code).collect();
    assert!(codes.contains(&"BALANCE_LIMIT_EXCEEDED") && codes.len() == 9);
    assert!(module.openapi().paths.paths.contains_key("/batch-earn"));
    let (_dir, kernel) = kernel().await;
    let started = module.start(&kernel).await.unwrap();
    let jobs: Vec<_> = started
        .jobs
        .iter()
        .map(|j| (j.name, j.period.as_secs()))
        .collect();
    assert_eq!(jobs, [("points_expiry", 60)]);
}

#[actix_web::test]
async fn writes_refuse_in_the_callers_language_and_keep_the_ledger_whole() {
    let (_dir, kernel) = kernel().await;
    let admin = token(&kernel, 1, 7, "admin").await;
    let viewer = token(&kernel, 2, 7, "viewer").await;
    let stranger = token(&kernel, 3, 8, "admin").await;
    let routes = PointsModule.start(&kernel).await.unwrap().routes;
    let app = test::init_service(
        App::new()
            .wrap(from_fn(request_context))
            .app_data(web::Data::new(kernel.clone()))
            .service(web::scope("/api/v1/points").configure(move |cfg| routes(cfg))),
    )
    .await;
    let call = |method: &str, path: &str, token: &str, body: Option<Value>, lang: &str| {
        let req = match method {
            "GET" => test::TestRequest::get(),
            "PUT" => test::TestRequest::put(),
            _ => test::TestRequest::post(),
        }
        .uri(&format!("/api/v1/points{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Accept-Language", lang.to_string()));
        let req = match body {
            Some(b) => req.set_json(b),
            None => req,
        };
        let app = &app;
        async move {
            let res = test::call_service(app, req.to_request()).await;
            let status = res.status().as_u16();
            let bytes = test::read_body(res).await;
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let post = |path: &'static str, token: &str, body: Value| {
        call("POST", path, token, Some(body), "zh-CN")
    };

    let (status, earned) = post("/earn", &admin, json!({ "member_id": "m1", "points_amount": 100, "category": "payment", "reason": "=<b>welcome</b>\nback" })).await;
    assert_eq!(status, 201, "{earned}");
    assert_eq!(earned["entry_type"], "earn");
    assert_eq!(earned["reason"], "bwelcome/b\nback", "cleaned, lines kept");

    // An over-long or binary reason is refused with the field named, never cut.
    let long = "长".repeat(501);
    let (status, body) = post(
        "/earn",
        &admin,
        json!({ "member_id": "m1", "points_amount": 1, "category": "login", "reason": long }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["details"]["field_errors"]["reason"],
        json!(["最多 500 个字符"])
    );
    assert_eq!(
        body["error"]["details"]["field_constraints"]["reason"]["max_length"],
        500
    );
    let (status, body) = call(
        "POST",
        "/spend",
        &admin,
        Some(json!({ "member_id": "m1", "points_amount": 1, "reason": "a\u{0}b" })),
        "en",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["details"]["field_errors"]["reason"],
        json!(["must not contain control characters other than newline and tab"])
    );

    let (status, body) = post(
        "/spend",
        &admin,
        json!({ "member_id": "m1", "points_amount": 30 }),
    )
    .await;
    assert_eq!((status, &body["total_points"]), (201, &json!(70)), "{body}");
    let (status, body) = call(
        "POST",
        "/spend",
        &admin,
        Some(json!({ "member_id": "m1", "points_amount": 500 })),
        "en",
    )
    .await;
    assert_eq!(status, 409);
    let error = &body["error"];
    assert_eq!(
        (error["code"].as_str(), error["message"].as_str()),
        (Some("INSUFFICIENT_POINTS"), Some("not enough points"))
    );
    assert_eq!(error["details"]["shortage"], 430);
    assert_eq!(
        error["details"]["suggestions"][0],
        "complete daily tasks to earn points"
    );
    let (_, body) = post(
        "/spend",
        &admin,
        json!({ "member_id": "m1", "points_amount": 500 }),
    )
    .await;
    assert_eq!(body["error"]["message"], "积分余额不足");
    assert_eq!(
        body["error"]["details"]["suggestions"][0],
        "完成日常任务获得积分"
    );

    // Overdraft only when the tenant allows it; earned points repay the debt first.
    let debit = json!({ "member_id": "m1", "points_delta": -100, "reason": "chargeback" });
    assert_eq!(post("/adjust", &admin, debit.clone()).await.0, 409);
    let settings =
        json!({ "min_per_operation": 1, "max_per_operation": 10000, "allow_overdraft": true });
    assert_eq!(
        call("PUT", "/settings", &admin, Some(settings), "en")
            .await
            .0,
        200
    );
    let (_, body) = post("/adjust", &admin, debit).await;
    assert_eq!(body["total_points"], -30, "{body}");
    post(
        "/earn",
        &admin,
        json!({ "member_id": "m1", "points_amount": 50, "category": "login" }),
    )
    .await;

    let (status, frozen) = post(
        "/freeze",
        &admin,
        json!({ "member_id": "m1", "points_amount": 10 }),
    )
    .await;
    assert_eq!(
        (status, &frozen["frozen_points"]),
        (201, &json!(10)),
        "{frozen}"
    );
    let (status, body) = post(
        "/unfreeze",
        &admin,
        json!({ "member_id": "m1", "points_amount": 20 }),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("INSUFFICIENT_FROZEN_POINTS"))
    );
    assert_eq!(
        post(
            "/unfreeze",
            &admin,
            json!({ "member_id": "m1", "points_amount": 10 })
        )
        .await
        .0,
        201
    );

    let first = earned["entry_id"].as_i64().unwrap();
    let (status, body) = post_reverse(&call, first, &admin).await;
    assert_eq!(
        (status, &body["entry_type"]),
        (201, &json!("reversal")),
        "{body}"
    );
    assert_eq!(
        body["lifetime_points"], 50,
        "a reversed earn leaves lifetime too"
    );
    assert_eq!(
        post_reverse(&call, first, &admin).await.1["error"]["code"],
        "ENTRY_ALREADY_REVERSED"
    );
    let freeze_entry = frozen["entry_id"].as_i64().unwrap();
    let (status, body) = post_reverse(&call, freeze_entry, &admin).await;
    assert_eq!(
        (status, &body["error"]["details"]["entry_type"]),
        (422, &json!("freeze"))
    );
    assert_eq!(
        post_reverse(&call, freeze_entry, &stranger).await.0,
        404,
        "another tenant's entry"
    );

    let (status, body) = post(
        "/earn",
        &viewer,
        json!({ "member_id": "m1", "points_amount": 1, "category": "login" }),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["details"]["missing_permissions"]),
        (403, &json!(["points:earn"]))
    );
    let (status, records) = call(
        "GET",
        "/profiles/m1/records?entry_type=freeze",
        &viewer,
        None,
        "en",
    )
    .await;
    assert_eq!(
        (status, records["data"][0]["entry_type"].as_str()),
        (200, Some("freeze"))
    );
    let (_, none) = call(
        "GET",
        "/profiles/m1/records?entry_type=bogus",
        &viewer,
        None,
        "en",
    )
    .await;
    assert_eq!(none["data"], json!([]), "an unknown type matches nothing");
    assert_eq!(
        call("GET", "/profiles/m1", &stranger, None, "en").await.0,
        404
    );
    let (_, report) = call("GET", "/integrity", &admin, None, "en").await;
    assert_eq!(
        (
            report["consistent"].as_bool(),
            report["profiles_checked"].as_i64()
        ),
        (Some(true), Some(1)),
        "{report}"
    );

    // A batch item that fails is reported in the caller's language inside the 200.
    post(
        "/earn",
        &stranger,
        json!({ "member_id": "full", "points_amount": 1, "category": "login" }),
    )
    .await;
    kernel
        .db
        .execute_unprepared(&format!(
            "UPDATE points_profiles SET total_points = {MAX_BALANCE} WHERE member_id = 'full'"
        ))
        .await
        .unwrap();
    let ops = json!({ "operations": [
        { "member_id": "b1", "points_amount": 5, "category": "community" },
        { "member_id": "full", "points_amount": 5, "category": "community" },
    ] });
    let (status, body) = call("POST", "/batch-earn", &stranger, Some(ops), "en").await;
    assert_eq!(
        (status, &body["succeeded"], &body["failed"]),
        (200, &json!(1), &json!(1)),
        "{body}"
    );
    let item = &body["results"][1]["error"];
    assert_eq!(item["code"], "BALANCE_LIMIT_EXCEEDED");
    assert_eq!(
        item["message"],
        format!("the balance would pass the largest a member may hold ({MAX_BALANCE})")
    );
    assert_eq!(
        item["details"],
        json!({ "points": 5, "max_balance": MAX_BALANCE })
    );
    let bad =
        json!({ "operations": [{ "member_id": "b2", "points_amount": 0, "category": "gold" }] });
    let (status, body) = post("/batch-earn", &stranger, bad).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["details"]["invalid_operations"][0]["field_errors"]["category"],
        json!(["无效的积分类别"])
    );
    assert_eq!(
        body["error"]["details"]["field_errors"]["operations"],
        json!(["1 条操作中有 1 条无效"])
    );
}

async fn post_reverse<F, Fut>(call: &F, entry: i64, token: &str) -> (u16, Value)
where
    F: Fn(&str, &str, &str, Option<Value>, &str) -> Fut,
    Fut: std::future::Future<Output = (u16, Value)>,
{
    let path = format!("/entries/{entry}/reverse");
    call("POST", &path, token, Some(json!({})), "en").await
}

#[actix_web::test]
async fn levels_tags_and_contact_data() {
    let (_dir, kernel) = kernel().await;
    let admin = token(&kernel, 1, 7, "admin").await;
    let routes = PointsModule.start(&kernel).await.unwrap().routes;
    let app = test::init_service(
        App::new()
            .wrap(from_fn(request_context))
            .app_data(web::Data::new(kernel.clone()))
            .service(web::scope("/api/v1/points").configure(move |cfg| routes(cfg))),
    )
    .await;
    let send = |req: test::TestRequest| {
        let app = &app;
        let req = req.insert_header(("Authorization", format!("Bearer {admin}")));
        async move {
            let res = test::call_service(app, req.to_request()).await;
            let status = res.status().as_u16();
            let bytes = test::read_body(res).await;
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let post = |path: &str, body: Value| {
        send(
            test::TestRequest::post()
                .uri(&format!("/api/v1/points{path}"))
                .set_json(body),
        )
    };

    assert_eq!(
        post("/levels", json!({ "name": "Silver", "threshold": 100 }))
            .await
            .0,
        201
    );
    let (status, body) = post("/levels", json!({ "name": "Other", "threshold": 100 })).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("LEVEL_CONFLICT"))
    );
    let (status, body) = post("/levels", json!({ "name": "Bad\u{7}", "threshold": -1 })).await;
    let fields = &body["error"]["details"]["field_errors"];
    assert_eq!(status, 422);
    assert!(
        fields["name"].is_array() && fields["threshold"].is_array(),
        "{body}"
    );

    let tag = |name: &str, rank: i32| json!({ "tag_type": "vip", "tag_name": name, "rank": rank, "duration_days": 30 });
    let (_, silver) = post("/vip-tags", tag("VIP银牌", 1)).await;
    let (_, gold) = post("/vip-tags", tag("VIP金牌", 2)).await;
    let (status, body) = post("/vip-tags", tag("VIP金牌", 3)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("TAG_NAME_TAKEN"))
    );
    let (status, body) = post(
        "/vip-tags",
        json!({ "tag_type": "a/b", "tag_name": "x", "rank": 1 }),
    )
    .await;
    assert_eq!(
        (
            status,
            body["error"]["details"]["field_errors"]["tag_type"].is_array()
        ),
        (422, true)
    );
    assert_eq!(
        post("/profiles/v1/vip-tags", json!({ "tag_id": silver["id"] }))
            .await
            .0,
        201
    );
    let (status, body) = post("/profiles/v1/vip-tags", json!({ "tag_id": gold["id"] })).await;
    assert_eq!(
        (
            status,
            &body["error"]["details"]["existing_tag"]["tag_name"]
        ),
        (409, &json!("VIP银牌"))
    );
    let (status, body) = post(
        "/profiles/v1/vip-tags",
        json!({ "tag_id": gold["id"], "resolution": "upgrade_existing" }),
    )
    .await;
    assert_eq!(
        (status, &body["tag"]["tag_name"]),
        (200, &json!("VIP金牌")),
        "{body}"
    );
    let (status, body) = post(
        "/profiles/v1/vip-tags",
        json!({ "tag_id": silver["id"], "resolution": "upgrade_existing" }),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("RESOLUTION_NOT_APPLICABLE"))
    );

    let contact = json!({ "email": "Alice@Example.com", "phone": "13812345678" });
    let (status, body) = send(
        test::TestRequest::put()
            .uri("/api/v1/points/profiles/v1/contact")
            .set_json(contact),
    )
    .await;
    assert_eq!(
        (status, &body["email"], &body["tags"][0]["tag_name"]),
        (200, &json!("A***@Example.com"), &json!("VIP金牌")),
        "{body}"
    );
    let (status, body) =
        send(test::TestRequest::get().uri("/api/v1/points/profiles?phone=13812345678")).await;
    assert_eq!((status, &body["member_id"]), (200, &json!("v1")));
    let (status, body) =
        send(test::TestRequest::get().uri("/api/v1/points/profiles?phone=1&email=a@b.c")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("INVALID_QUERY"))
    );
    let (status, _) =
        send(test::TestRequest::delete().uri("/api/v1/points/profiles/v1/vip-tags/vip")).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn lots_expire_once_and_the_subcommands_use_the_existing_database() {
    let (dir, kernel) = kernel().await;
    let ctx = RequestContext {
        request_id: "test".into(),
        ip: None,
        user_agent: None,
    };
    let op = Operator {
        ctx: &ctx,
        actor: Actor::system("test"),
        tenant_id: 7,
        idempotency_key: None,
    };
    // The request check refuses a past expiry; the ledger takes what it is given.
    let earn = Earn {
        member: MemberId::parse("x").unwrap(),
        points: Points::new(80).unwrap(),
        category: Category::Login,
        reason: Reason::default(),
        expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
    };
    let txn = shopops_kernel::db::begin_write(&kernel.db).await.unwrap();
    ledger::earn(&kernel, &txn, &op, &earn).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(expiry::expire_due(&kernel).await, Ok(1));
    assert_eq!(
        expiry::expire_due(&kernel).await,
        Ok(0),
        "a lot expires once"
    );
    let report = integrity::check(&kernel.db, Scope::AllTenants)
        .await
        .unwrap();
    assert!(report.consistent && report.profiles_checked == 1);

    let command = PointsModule.cli().unwrap();
    let run = |config: Config, args: &'static [&'static str]| {
        let ctx = CliContext::new(
            config,
            Declarations::of(&[&PointsModule]),
            |db| async move { Ok(Migrator::get_pending_migrations(&db).await?.len()) },
        );
        let matches = command.clone().try_get_matches_from(args).unwrap();
        async move { PointsModule.run_cli(&matches, &ctx).await }
    };
    let config = (*kernel.config).clone();
    assert_eq!(
        run(config.clone(), &["points", "verify"]).await.unwrap(),
        ExitCode::SUCCESS
    );
    assert_eq!(
        run(config, &["points", "expire"]).await.unwrap(),
        ExitCode::SUCCESS
    );

    // Elsewhere there is no database: the tools say so and create none.
    let empty = tempfile::tempdir().unwrap();
    let mut config = (*kernel.config).clone();
    config.data_dir = empty.path().to_path_buf();
    for args in [&["points", "verify"][..], &["points", "expire"][..]] {
        let err = run(config.clone(), args).await.unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some(), "{err:#}");
        assert!(err.to_string().contains("no database"), "{err:#}");
    }
    assert!(!empty.path().join("shopops.db").exists(), "nothing created");
    drop(dir);
}
