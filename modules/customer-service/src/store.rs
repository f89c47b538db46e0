//! The module's queries. Every query of tenant-owned rows takes the tenant.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    Set, Statement,
};

use crate::entities::{kb_embedding, kb_entry, kb_import, kb_search, kb_version};

/// The tenant's next knowledge-base change number. The version row stays locked until
/// the transaction ends, so a tenant's writes take numbers in commit order and an index
/// that has seen number N has seen every change up to N.
pub async fn next_seq<C: ConnectionTrait>(db: &C, tenant: i64) -> Result<i64, DbErr> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO cs_kb_versions (tenant_id, seq) VALUES ($1, 1) \
             ON CONFLICT (tenant_id) DO UPDATE SET seq = cs_kb_versions.seq + 1 RETURNING seq",
            [tenant.into()],
        ))
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    row.try_get("", "seq")
}

/// The tenant's last change number (0 before any write).
pub async fn current_seq<C: ConnectionTrait>(db: &C, tenant: i64) -> Result<i64, DbErr> {
    Ok(kb_version::Entity::find_by_id(tenant)
        .one(db)
        .await?
        .map(|v| v.seq)
        .unwrap_or(0))
}

/// Every tenant's last change number.
pub async fn all_seqs<C: ConnectionTrait>(db: &C) -> Result<Vec<kb_version::Model>, DbErr> {
    kb_version::Entity::find().all(db).await
}

/// The tenant's entry, unless deleted.
pub async fn entry<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
) -> Result<Option<kb_entry::Model>, DbErr> {
    kb_entry::Entity::find_by_id(id)
        .filter(kb_entry::Column::TenantId.eq(tenant))
        .filter(kb_entry::Column::DeletedAt.is_null())
        .one(db)
        .await
}

/// What a list of entries may be narrowed by.
#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    /// Entries of this shop (and those of every shop).
    pub shop_id: Option<i64>,
    pub category: Option<String>,
    /// Question, answer or a similar question contains this text.
    pub text: Option<String>,
}

/// The tenant's live entries matching `filter`, for paging.
pub fn entries(tenant: i64, filter: &EntryFilter) -> Select<kb_entry::Entity> {
    let mut select = kb_entry::Entity::find()
        .filter(kb_entry::Column::TenantId.eq(tenant))
        .filter(kb_entry::Column::DeletedAt.is_null());
    if let Some(shop) = filter.shop_id {
        select = select.filter(
            kb_entry::Column::ShopId
                .eq(shop)
                .or(kb_entry::Column::ShopId.is_null()),
        );
    }
    if let Some(category) = &filter.category {
        select = select.filter(kb_entry::Column::Category.eq(category.as_str()));
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        select = select.filter(
            kb_entry::Column::Question
                .contains(text)
                .or(kb_entry::Column::Answer.contains(text))
                .or(
                    // A JSON column: compared as its text (PostgreSQL has no LIKE on json).
                    Expr::expr(
                        Expr::col(kb_entry::Column::SimilarQuestions).cast_as(Alias::new("text")),
                    )
                    .like(format!("%{text}%")),
                ),
        );
    }
    select
}

/// The tenant's entries (deleted ones too, as tombstones) changed after `seq`, oldest
/// change first, at most `limit`.
pub async fn changes<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    seq: i64,
    limit: u64,
) -> Result<Vec<kb_entry::Model>, DbErr> {
    kb_entry::Entity::find()
        .filter(kb_entry::Column::TenantId.eq(tenant))
        .filter(kb_entry::Column::ChangeSeq.gt(seq))
        .order_by_asc(kb_entry::Column::ChangeSeq)
        .limit(limit)
        .all(db)
        .await
}

/// Tombstones older than `before` (every index has refreshed since).
pub async fn purge_tombstones<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let gone = kb_entry::Entity::delete_many()
        .filter(kb_entry::Column::DeletedAt.lt(before))
        .exec(db)
        .await?;
    Ok(gone.rows_affected)
}

/// The stored vectors of these entries by the named encoder: per entry, in text order.
pub async fn embeddings<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    entries: Vec<i64>,
    encoder: &str,
) -> Result<std::collections::HashMap<i64, Vec<Vec<f32>>>, DbErr> {
    let rows = kb_embedding::Entity::find()
        .filter(kb_embedding::Column::TenantId.eq(tenant))
        .filter(kb_embedding::Column::EntryId.is_in(entries))
        .filter(kb_embedding::Column::Encoder.eq(encoder))
        .order_by_asc(kb_embedding::Column::EntryId)
        .order_by_asc(kb_embedding::Column::TextIndex)
        .all(db)
        .await?;
    let mut by_entry: std::collections::HashMap<i64, Vec<Vec<f32>>> = Default::default();
    for row in rows {
        by_entry
            .entry(row.entry_id)
            .or_default()
            .push(vector_of(&row.vector));
    }
    Ok(by_entry)
}

/// Replaces an entry's vectors.
pub async fn save_embeddings<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    entry: i64,
    encoder: &str,
    vectors: &[Vec<f32>],
) -> Result<(), DbErr> {
    delete_embeddings(db, entry).await?;
    for (i, vector) in vectors.iter().enumerate() {
        let bytes = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        kb_embedding::Entity::insert(kb_embedding::ActiveModel {
            entry_id: Set(entry),
            text_index: Set(i as i64),
            tenant_id: Set(tenant),
            encoder: Set(encoder.to_string()),
            vector: Set(bytes),
        })
        .on_conflict(
            OnConflict::columns([
                kb_embedding::Column::EntryId,
                kb_embedding::Column::TextIndex,
            ])
            .update_columns([kb_embedding::Column::Vector, kb_embedding::Column::Encoder])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

pub async fn delete_embeddings<C: ConnectionTrait>(db: &C, entry: i64) -> Result<(), DbErr> {
    kb_embedding::Entity::delete_many()
        .filter(kb_embedding::Column::EntryId.eq(entry))
        .exec(db)
        .await?;
    Ok(())
}

/// Drops the vectors of every KB entry of one shop (the shop is being deleted).
pub async fn delete_shop_embeddings<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    shop: i64,
) -> Result<(), DbErr> {
    let entries = sea_orm::sea_query::Query::select()
        .column(kb_entry::Column::Id)
        .from(kb_entry::Entity)
        .and_where(kb_entry::Column::TenantId.eq(tenant))
        .and_where(kb_entry::Column::ShopId.eq(shop))
        .to_owned();
    kb_embedding::Entity::delete_many()
        .filter(kb_embedding::Column::TenantId.eq(tenant))
        .filter(kb_embedding::Column::EntryId.in_subquery(entries))
        .exec(db)
        .await?;
    Ok(())
}

/// The vector stored as little-endian `f32`s.
pub fn vector_of(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Live entries of any tenant with no vector by `encoder` yet, at most `limit`.
pub async fn entries_without_embeddings<C: ConnectionTrait>(
    db: &C,
    encoder: &str,
    limit: u64,
) -> Result<Vec<kb_entry::Model>, DbErr> {
    kb_entry::Entity::find()
        .filter(kb_entry::Column::DeletedAt.is_null())
        .filter(
            kb_entry::Column::Id.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(kb_embedding::Column::EntryId)
                    .from(kb_embedding::Entity)
                    .and_where(kb_embedding::Column::Encoder.eq(encoder))
                    .to_owned(),
            ),
        )
        .order_by_asc(kb_entry::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Marks an entry changed (its vectors are new), so every index refreshes it.
pub async fn touch<C: ConnectionTrait>(db: &C, tenant: i64, entry: i64) -> Result<(), DbErr> {
    let seq = next_seq(db, tenant).await?;
    kb_entry::Entity::update_many()
        .col_expr(kb_entry::Column::ChangeSeq, Expr::value(seq))
        .filter(kb_entry::Column::Id.eq(entry))
        .filter(kb_entry::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a hit test and keeps the tenant's last `keep`.
pub async fn save_search<C: ConnectionTrait>(
    db: &C,
    row: kb_search::ActiveModel,
    tenant: i64,
    keep: u64,
) -> Result<(), DbErr> {
    kb_search::Entity::insert(row).exec(db).await?;
    let oldest_kept = kb_search::Entity::find()
        .filter(kb_search::Column::TenantId.eq(tenant))
        .order_by_desc(kb_search::Column::Id)
        .offset(keep - 1)
        .limit(1)
        .one(db)
        .await?;
    if let Some(kept) = oldest_kept {
        kb_search::Entity::delete_many()
            .filter(kb_search::Column::TenantId.eq(tenant))
            .filter(kb_search::Column::Id.lt(kept.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The tenant's import `id`.
pub async fn import<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
) -> Result<Option<kb_import::Model>, DbErr> {
    kb_import::Entity::find_by_id(id)
        .filter(kb_import::Column::TenantId.eq(tenant))
        .one(db)
        .await
}
