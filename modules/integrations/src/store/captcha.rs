//! Which tenant each captcha answer went to, and whether it was reported wrong.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::entities::captcha_recognition as recognition;

type Time = DateTime<Utc>;

/// Records that answer `pic_id` of `provider` went to `tenant`. A provider's ids are
/// unique; should one ever repeat, the first tenant keeps it.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    pic_id: &str,
    provider: &str,
) -> Result<(), DbErr> {
    let row = recognition::ActiveModel {
        tenant_id: Set(tenant),
        pic_id: Set(pic_id.into()),
        provider: Set(provider.into()),
        created_at: Set(Utc::now()),
        reported_at: Set(None),
        ..Default::default()
    };
    recognition::Entity::insert(row)
        .on_conflict(
            OnConflict::column(recognition::Column::PicId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The tenant's answer `pic_id`, if given after `since`.
pub async fn answer<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    pic_id: &str,
    since: Time,
) -> Result<Option<recognition::Model>, DbErr> {
    recognition::Entity::find()
        .filter(recognition::Column::TenantId.eq(tenant))
        .filter(recognition::Column::PicId.eq(pic_id))
        .filter(recognition::Column::CreatedAt.gt(since))
        .one(db)
        .await
}

/// Marks the answer reported unless it was: true when this caller did.
pub async fn claim_report<C: ConnectionTrait>(
    db: &C,
    row: &recognition::Model,
) -> Result<bool, DbErr> {
    let claimed = recognition::Entity::update_many()
        .col_expr(recognition::Column::ReportedAt, Expr::value(Utc::now()))
        .filter(recognition::Column::Id.eq(row.id))
        .filter(recognition::Column::TenantId.eq(row.tenant_id))
        .filter(recognition::Column::ReportedAt.is_null())
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Undoes [`claim_report`] (the report did not reach the provider).
pub async fn release_report<C: ConnectionTrait>(
    db: &C,
    row: &recognition::Model,
) -> Result<(), DbErr> {
    recognition::Entity::update_many()
        .col_expr(
            recognition::Column::ReportedAt,
            Expr::value(Option::<Time>::None),
        )
        .filter(recognition::Column::Id.eq(row.id))
        .filter(recognition::Column::TenantId.eq(row.tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every tenant's answers given before `before` (the purge job's).
pub async fn purge<C: ConnectionTrait>(db: &C, before: Time) -> Result<u64, DbErr> {
    let deleted = recognition::Entity::delete_many()
        .filter(recognition::Column::CreatedAt.lt(before))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
