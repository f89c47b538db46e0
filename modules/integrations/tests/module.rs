//! The module as the binaries see it, on a real (SQLite) database: what it declares,
//! what `start` hands back (routes with their app data, jobs), its settings and its
//! subcommand; and the stored states read back as the types they are, per tenant.

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::ExitCode;

use actix_web::middleware::from_fn;
use actix_web::{test, web, App};
use sea_orm::{ConnectOptions, Database};
use serde_json::{json, Value};
use shopops_integrations::config::IntegrationsSettings;
use shopops_integrations::manager::Manager;
use shopops_integrations::providers::Channel;
use shopops_integrations::service::states::{PaymentStatus, RefundStatus, SmsStatus};
use shopops_integrations::service::{captcha, payments, refunds, sms};
use shopops_integrations::store::{self, payments::NewPaymentRow, Unique};
use shopops_integrations::IntegrationsModule;
use shopops_kernel::cli::CliContext;
use shopops_kernel::config::Config;
use shopops_kernel::http::context::request_context;
use shopops_kernel::http::pagination::PageQuery;
use shopops_kernel::module::Declarations;
use shopops_kernel::{Kernel, Module};
use shopops_migrations::{Migrator, MigratorTrait};

/// The configuration of a server whose TOML file has `section` as its
/// `[integrations]` section, its data under `dir`.
fn config(dir: &Path, section: &str) -> Config {
    let toml = dir.join("shopops.toml");
    std::fs::write(&toml, format!("[integrations]\n{section}")).unwrap();
    let mut config = Config::load(&["integrations"]).unwrap();
    config.file = Some(toml);
    config.data_dir = dir.to_path_buf();
    config
}

/// A kernel on a fresh, migrated SQLite database in `dir`.
async fn kernel(dir: &Path, section: &str) -> Kernel {
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let declarations = Declarations::of(&[&IntegrationsModule]);
    Kernel::build(config(dir, section), db, &declarations)
        .await
        .unwrap()
}

/// A kernel with one local store under `dir` and no other provider (`extra`: more of
/// integrations.yaml).
async fn local_only(dir: &Path, extra: &str) -> Kernel {
    let yaml = dir.join("integrations.yaml");
    let root = dir.join("files");
    std::fs::write(
        &yaml,
        format!(
            "storage:\n  local:\n    root: \"{}\"\n{extra}",
            root.display()
        ),
    )
    .unwrap();
    kernel(dir, &format!("config = \"{}\"\n", yaml.display())).await
}

#[actix_web::test]
async fn the_face_declares_starts_and_serves_its_routes() {
    let module = IntegrationsModule;
    assert_eq!(module.name(), "integrations");
    assert_eq!(module.config_env_prefix(), Some("INTEGRATIONS_"));
    let names: Vec<_> = module.permissions().iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "integrations:read",
            "integrations:pay",
            "integrations:refund",
            "integrations:sms",
            "integrations:storage",
            "integrations:captcha",
            "integrations:manage"
        ]
    );
    assert_eq!(module.errors().codes.len(), 18);
    let openapi = module.openapi();
    assert!(openapi.paths.paths.contains_key("/payments/{id}/refunds"));
    let schemas = openapi.components.unwrap().schemas;
    for name in [
        "PaymentView",
        "PaymentStatus",
        "RefundStatus",
        "SmsStatus",
        "Delivery",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }

    let dir = tempfile::tempdir().unwrap();
    let kernel = local_only(dir.path(), "").await;
    let started = module.start(&kernel).await.unwrap();
    let jobs: Vec<_> = started
        .jobs
        .iter()
        .map(|j| (j.name, j.period.as_secs()))
        .collect();
    assert_eq!(
        jobs,
        [
            ("integrations_sms_outbox", 5),
            ("integrations_sms_reports", 30),
            ("integrations_captcha_purge", 3600),
            ("integrations_config_reload", 2)
        ]
    );
    for job in &started.jobs {
        job.run_once(kernel.clone()).await.unwrap();
    }

    let routes = started.routes.clone();
    let app = test::init_service(
        App::new()
            .wrap(from_fn(request_context))
            .app_data(web::Data::new(kernel.clone()))
            .service(web::scope("/api/v1/integrations").configure(move |cfg| routes(cfg))),
    )
    .await;
    let call = |req: test::TestRequest| {
        let app = &app;
        async move {
            let res = test::call_service(app, req.to_request()).await;
            let status = res.status().as_u16();
            let body = test::read_body(res).await;
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
    };
    let (status, _) = call(test::TestRequest::get().uri("/api/v1/integrations/payments")).await;
    assert_eq!(status, 401, "the route exists and wants a token");
    // The routes that need the module's state (its app data) reach it.
    let (status, body) = call(test::TestRequest::get().uri(
        "/api/v1/integrations/storage/signed/tenants/1/a?method=GET&expires=9999999999&signature=00",
    ))
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_SIGNED_URL");
    let (status, body) =
        call(test::TestRequest::post().uri("/api/v1/integrations/callbacks/alipay")).await;
    assert_eq!(status, 404, "no Alipay account is configured: {body}");
    assert_eq!(body["error"]["code"], "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn settings_are_read_from_the_section_and_a_misspelt_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = IntegrationsSettings::load(&config(
        dir.path(),
        "sms_report_secs = 5\npublic_base_url = \"https://shop.example.com\"\n",
    ))
    .unwrap();
    assert_eq!(settings.sms_report_secs, 5);
    assert_eq!(settings.public_base_url, "https://shop.example.com");
    assert_eq!(settings.reload_secs, 2);

    let err = IntegrationsSettings::load(&config(dir.path(), "reload_sec = 5\n")).unwrap_err();
    assert!(err.contains("integrations.reload_sec"), "{err}");
    let err = IntegrationsSettings::load(&config(dir.path(), "sms_retry_secs = 0\n")).unwrap_err();
    assert!(err.contains("INTEGRATIONS_SMS_RETRY_SECS"), "{err}");
}

#[tokio::test]
async fn the_sign_command_needs_neither_configuration_nor_database() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = CliContext::new(
        config(dir.path(), ""),
        Declarations::of(&[&IntegrationsModule]),
        |_| async { anyhow::bail!("the database was opened") },
    );
    let vector = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/alipay/01-trade-precreate.json"
    );
    let command = IntegrationsModule.cli().unwrap();
    let matches = command
        .try_get_matches_from(["integrations", "sign", "--vector", vector])
        .unwrap();
    let code = IntegrationsModule.run_cli(&matches, &ctx).await.unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let missing = IntegrationsModule
        .cli()
        .unwrap()
        .try_get_matches_from(["integrations", "sign", "--vector", "/nonexistent.json"])
        .unwrap();
    let err = IntegrationsModule
        .run_cli(&missing, &ctx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent.json"), "{err}");
}

async fn manager(kernel: &Kernel) -> std::sync::Arc<Manager> {
    let settings = IntegrationsSettings::load(&kernel.config).unwrap();
    Manager::start(kernel, b"url-key".to_vec(), settings)
        .await
        .unwrap()
}

#[tokio::test]
async fn payments_are_read_back_as_their_states_and_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = local_only(dir.path(), "").await;
    let db = &kernel.db;
    let row = store::payments::insert_payment(
        db,
        NewPaymentRow {
            tenant: 1,
            channel: Channel::Qr,
            out_trade_no: "ORDER-0001",
            amount: 100,
            description: "a test",
        },
    )
    .await
    .unwrap();
    assert_eq!(row.status, PaymentStatus::Creating);
    store::payments::set_status(db, &row, PaymentStatus::Unknown, Some("wechatpay"))
        .await
        .unwrap();
    let Unique::Mine(mine) = store::payments::payment_by_order_no(db, 1, "ORDER-0001")
        .await
        .unwrap()
    else {
        panic!("the tenant's own order");
    };
    assert_eq!(
        (mine.status, mine.provider.as_str()),
        (PaymentStatus::Unknown, "wechatpay")
    );
    assert!(matches!(
        store::payments::payment_by_order_no(db, 2, "ORDER-0001")
            .await
            .unwrap(),
        Unique::Taken
    ));
    assert!(store::payments::payment(db, 2, row.id)
        .await
        .unwrap()
        .is_none());

    let page = PageQuery::default().resolve().unwrap();
    let unknown = payments::list(&kernel, 1, Some("unknown"), page)
        .await
        .unwrap();
    assert_eq!(unknown.data.len(), 1);
    assert_eq!(
        serde_json::to_value(&unknown.data[0]).unwrap()["status"],
        "unknown"
    );
    assert!(payments::list(&kernel, 1, Some("paid"), page)
        .await
        .unwrap()
        .data
        .is_empty());
    assert!(payments::list(&kernel, 1, Some("no-such-status"), page)
        .await
        .unwrap()
        .data
        .is_empty());
    assert!(payments::list(&kernel, 2, None, page)
        .await
        .unwrap()
        .data
        .is_empty());

    // No payment provider is configured: a create fails over to nothing, and the
    // order, still not at any provider, is marked failed.
    let manager = manager(&kernel).await;
    let request: payments::NewPayment =
        serde_json::from_value(json!({ "channel": "qr", "amount": 100, "description": "a test" }))
            .unwrap();
    let err = payments::start(&kernel, &manager, 1, &request, "ORDER-0002".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, "PAYMENT_SERVICE_UNAVAILABLE");
    let Unique::Mine(failed) = store::payments::payment_by_order_no(db, 1, "ORDER-0002")
        .await
        .unwrap()
    else {
        panic!("the order row is written before any provider is asked");
    };
    assert_eq!(failed.status, PaymentStatus::Failed);
    let err = payments::start(&kernel, &manager, 2, &request, "ORDER-0002".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, "OUT_TRADE_NO_TAKEN");

    // Refunds: checked against the payment before any provider is asked, numbered
    // per tenant and payment.
    let refund = |amount: i64, no: &str| -> refunds::NewRefund {
        serde_json::from_value(json!({ "amount": amount, "out_refund_no": no })).unwrap()
    };
    let err = refunds::start(
        &kernel,
        &manager,
        &failed,
        &refund(10, "REFUND-01"),
        "REFUND-01".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "PAYMENT_NOT_PAID");
    assert_eq!(err.details["status"], "failed");
    let paid = store::payments::save_state(db, &mine, PaymentStatus::Paid, Some("T-1"))
        .await
        .unwrap();
    assert!(paid.paid_at.is_some());
    let err = refunds::start(
        &kernel,
        &manager,
        &paid,
        &refund(101, "REFUND-01"),
        "REFUND-01".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code.as_ref(), &err.details["refundable"]),
        ("REFUND_EXCEEDS_PAYMENT", &json!(100))
    );
    // Its provider is gone: the refund row stays, processing, for a retry.
    let err = refunds::start(
        &kernel,
        &manager,
        &paid,
        &refund(40, "REFUND-01"),
        "REFUND-01".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "PAYMENT_SERVICE_UNAVAILABLE");
    let Unique::Mine(kept) = store::payments::refund_by_no(db, 1, "REFUND-01")
        .await
        .unwrap()
    else {
        panic!("the refund row is written before the provider is asked");
    };
    assert_eq!((kept.status, kept.amount), (RefundStatus::Processing, 40));
    let err = refunds::start(
        &kernel,
        &manager,
        &paid,
        &refund(41, "REFUND-01"),
        "REFUND-01".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "OUT_REFUND_NO_TAKEN");
    assert!(matches!(
        store::payments::refund_by_no(db, 2, "REFUND-01")
            .await
            .unwrap(),
        Unique::Taken
    ));
}

#[tokio::test]
async fn an_sms_no_provider_can_send_is_queued_for_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    // One message a day per number: a minute's window could turn during the test.
    let kernel = local_only(
        dir.path(),
        "sms_phone_throttle: { per_minute: 0, per_day: 1 }\n",
    )
    .await;
    let manager = manager(&kernel).await;
    let request: sms::NewSms = serde_json::from_value(
        json!({ "phone": "13800000000", "template": "verify_code", "params": { "code": "1234" } }),
    )
    .unwrap();
    let phone = sms::validate(&request).unwrap();
    let queued = sms::submit(&kernel, &manager, 1, &phone, &request, "m-1".into())
        .await
        .unwrap();
    assert_eq!((queued.status, queued.attempts), (SmsStatus::Pending, 1));
    assert!(queued
        .next_attempt_at
        .is_some_and(|at| at > chrono::Utc::now()));
    assert!(queued
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("no enabled provider")));
    let view = serde_json::to_value(sms::view(&kernel, queued)).unwrap();
    assert_eq!(
        (view["status"].clone(), view["phone"].clone()),
        (json!("pending"), json!("+86138****0000"))
    );
    // Not due yet: the job leaves it alone.
    assert_eq!(sms::deliver_due(&kernel, &manager).await.unwrap(), 0);

    // The same id: the stored message for its tenant, taken for another.
    let again = sms::submit(&kernel, &manager, 1, &phone, &request, "m-1".into())
        .await
        .unwrap();
    assert_eq!(again.attempts, 1, "not sent again before its time");
    let err = sms::submit(&kernel, &manager, 2, &phone, &request, "m-1".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, "MESSAGE_ID_TAKEN");
    assert_eq!(
        sms::find(&kernel, 2, "m-1").await.unwrap_err().code,
        "RESOURCE_NOT_FOUND"
    );
    // The number's throttle counts new messages only.
    let err = sms::submit(&kernel, &manager, 1, &phone, &request, "m-2".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, "SMS_THROTTLED");
}

#[tokio::test]
async fn only_the_tenant_an_answer_went_to_may_report_it() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = local_only(dir.path(), "").await;
    let manager = manager(&kernel).await;
    store::captcha::insert(&kernel.db, 1, "gone:42", "gone")
        .await
        .unwrap();
    let report = |tenant, pic_id: &'static str| {
        let (kernel, manager) = (&kernel, &manager);
        async move { captcha::report_error(kernel, manager, tenant, pic_id).await }
    };
    assert_eq!(report(1, "42").await.unwrap_err().code, "INVALID_PIC_ID");
    assert_eq!(
        report(2, "gone:42").await.unwrap_err().code,
        "RESOURCE_NOT_FOUND"
    );
    // Its provider is no longer configured: not reported, so the claim is released.
    let err = report(1, "gone:42").await.unwrap_err();
    assert_eq!(err.details["resource"], "captcha_provider");
    let err = report(1, "gone:42").await.unwrap_err();
    assert_eq!(
        err.details["resource"], "captcha_provider",
        "not CAPTCHA_ALREADY_REPORTED"
    );
    assert_eq!(captcha::purge_expired(&kernel).await.unwrap(), 0);
}
