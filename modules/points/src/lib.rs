//! Points: a multi-tenant points ledger that never loses, invents or double-applies a
//! point. Routes under `/api/v1/points`.
//!
//! - [`service`]: earn, spend, adjust, freeze/unfreeze, reverse, expire — one
//!   transaction each, conditional updates, audit record in the same transaction;
//! - [`store`]: the SQL (same on SQLite and PostgreSQL);
//! - [`levels`], [`settings`]: cached per-tenant data;
//! - [`api`]: HTTP handlers; [`jobs`]: the expiry job; [`verify`]: the integrity check.

pub mod api;
pub mod entities;
pub mod error;
pub mod levels;
pub mod service;
pub mod settings;
pub mod store;
pub mod validate;

use actix_web::web;
use utoipa::OpenApi;

/// Routes, to be mounted at `/api/v1/points`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use api::{contact, levels, ops, reads, tags};
    use web::{delete, get, patch, post, put, resource};
    cfg.service(resource("/earn").route(post().to(ops::earn)))
        .service(resource("/spend").route(post().to(ops::spend)))
        .service(resource("/adjust").route(post().to(ops::adjust)))
        .service(resource("/freeze").route(post().to(ops::freeze)))
        .service(resource("/unfreeze").route(post().to(ops::unfreeze)))
        .service(resource("/batch-earn").route(post().to(ops::batch_earn)))
        .service(resource("/entries/{id}/reverse").route(post().to(ops::reverse)))
        .service(resource("/profiles").route(get().to(contact::lookup)))
        .service(resource("/profiles/{member_id}").route(get().to(reads::get_profile)))
        .service(resource("/profiles/{member_id}/contact").route(put().to(contact::put_contact)))
        .service(resource("/profiles/{member_id}/records").route(get().to(reads::list_records)))
        .service(resource("/profiles/{member_id}/vip-tags").route(post().to(tags::grant_tag)))
        .service(
            resource("/profiles/{member_id}/vip-tags/{tag_type}")
                .route(delete().to(tags::revoke_tag)),
        )
        .service(resource("/user-levels").route(get().to(levels::list_levels)))
        .service(resource("/levels").route(post().to(levels::create_level)))
        .service(
            resource("/levels/{id}")
                .route(patch().to(levels::update_level))
                .route(delete().to(levels::delete_level)),
        )
        .service(
            resource("/vip-tags")
                .route(get().to(tags::list_tags))
                .route(post().to(tags::create_tag)),
        )
        .service(
            resource("/settings")
                .route(get().to(reads::get_settings))
                .route(put().to(reads::put_settings)),
        )
        .service(resource("/integrity").route(get().to(reads::get_integrity)));
}

/// The module's part of the OpenAPI document (paths relative to `/api/v1/points`).
#[derive(OpenApi)]
#[openapi(
    paths(
        api::ops::earn,
        api::ops::spend,
        api::ops::adjust,
        api::ops::freeze,
        api::ops::unfreeze,
        api::ops::batch_earn,
        api::ops::reverse,
        api::reads::get_profile,
        api::reads::list_records,
        api::reads::get_integrity,
        api::reads::get_settings,
        api::reads::put_settings,
        api::levels::list_levels,
        api::levels::create_level,
        api::levels::update_level,
        api::levels::delete_level,
        api::tags::list_tags,
        api::tags::create_tag,
        api::tags::grant_tag,
        api::tags::revoke_tag,
        api::contact::put_contact,
        api::contact::lookup,
    ),
    tags((name = "points", description = "Points ledger: earn, spend, adjust, freeze, reverse, levels, VIP tags"))
)]
pub struct ApiDoc;

pub mod jobs {
    //! The expiry job: expires lots past `expires_at`, each in its own transaction.
    //! Safe with several replicas: a lot is claimed by a conditional update, so each is
    //! expired exactly once.

    use std::time::Duration;

    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    use shopops_kernel::audit::Actor;
    use shopops_kernel::http::RequestContext;
    use shopops_kernel::{idempotency, Kernel};

    use crate::entities::lot;
    use crate::service::{self, Operator};

    const BATCH: u64 = 500;

    /// One pass: expires every lot due now, in batches. Returns how many expired.
    pub async fn expire_due(kernel: &Kernel) -> Result<u64, String> {
        let mut expired = 0;
        loop {
            let due = lot::Entity::find()
                .filter(lot::Column::RemainingPoints.gt(0))
                .filter(lot::Column::ExpiresAt.lte(chrono::Utc::now()))
                .order_by_asc(lot::Column::ExpiresAt)
                .limit(BATCH)
                .all(&kernel.db)
                .await
                .map_err(|e| e.to_string())?;
            let n = due.len() as u64;
            for lot in due {
                let ctx = RequestContext {
                    request_id: format!("job-expire-{}", lot.id),
                    ip: None,
                    user_agent: None,
                };
                let op = Operator {
                    ctx: &ctx,
                    actor: Actor::system("points_expiry"),
                    tenant_id: lot.tenant_id,
                    idempotency_key: None,
                };
                let done = idempotency::execute(kernel, None, async |txn| {
                    let applied = service::expire_lot(kernel, txn, &op, &lot).await?;
                    Ok(idempotency::WriteOutcome::ok(serde_json::json!(
                        applied.is_some()
                    )))
                })
                .await;
                match done {
                    Ok(_) => expired += 1,
                    Err(e) => {
                        tracing::warn!(lot = lot.id, error = %e.message, "lot not expired; next run retries")
                    }
                }
            }
            if n < BATCH {
                return Ok(expired);
            }
        }
    }

    /// Runs [`expire_due`] every minute until shutdown.
    pub async fn expiry(kernel: Kernel) {
        shopops_kernel::jobs::every(
            kernel,
            "points_expiry",
            Duration::from_secs(60),
            |k| async move {
                let n = expire_due(&k).await?;
                if n > 0 {
                    tracing::info!(lots = n, "expired points lots");
                }
                Ok(())
            },
        )
        .await
    }
}

/// Every tenant's balances against ledgers and lots (`shopops points verify`).
pub async fn verify(
    db: &sea_orm::DatabaseConnection,
) -> shopops_kernel::AppResult<api::reads::IntegrityReport> {
    api::reads::integrity(db, None).await
}
