//! The providers' operational settings changed through the API. The providers are the
//! platform's, shared by every tenant: these rows belong to no tenant.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::entities::provider_override;

/// Every override, in a stable order (the manager compares them with the last seen).
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<provider_override::Model>, DbErr> {
    let mut rows = provider_override::Entity::find().all(db).await?;
    rows.sort_by(|a, b| (&a.capability, &a.name).cmp(&(&b.capability, &b.name)));
    Ok(rows)
}

/// One provider's override, if it has one.
pub async fn of<C: ConnectionTrait>(
    db: &C,
    capability: &str,
    name: &str,
) -> Result<Option<provider_override::Model>, DbErr> {
    provider_override::Entity::find_by_id((capability.to_string(), name.to_string()))
        .one(db)
        .await
}

/// What an override sets (none: as in the file).
pub struct Values {
    pub enabled: Option<bool>,
    pub priority: Option<i64>,
    pub per_minute: Option<i64>,
    pub per_day: Option<i64>,
}

/// Writes a provider's override, by `updated_by`.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    capability: &str,
    name: &str,
    values: Values,
    updated_by: &str,
) -> Result<(), DbErr> {
    let row = provider_override::ActiveModel {
        capability: Set(capability.into()),
        name: Set(name.into()),
        enabled: Set(values.enabled),
        priority: Set(values.priority),
        per_minute: Set(values.per_minute),
        per_day: Set(values.per_day),
        updated_by: Set(updated_by.into()),
        updated_at: Set(Utc::now()),
    };
    provider_override::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                provider_override::Column::Capability,
                provider_override::Column::Name,
            ])
            .update_columns([
                provider_override::Column::Enabled,
                provider_override::Column::Priority,
                provider_override::Column::PerMinute,
                provider_override::Column::PerDay,
                provider_override::Column::UpdatedBy,
                provider_override::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
