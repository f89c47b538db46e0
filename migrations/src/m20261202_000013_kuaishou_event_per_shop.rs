//! Kuaishou: a pushed message is stored once per shop that holds the seller, not once
//! in all. Several tenants may hold one seller (each connected it), and each must get
//! its own copy; so the message id is unique per shop instead of unique overall.
//!
//! PostgreSQL drops the column's unique constraint in place. SQLite cannot drop a
//! column constraint, so the table is rebuilt (create, copy, drop, rename — SQLite's
//! documented procedure for changes `ALTER TABLE` cannot make).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum KuaishouEvents {
    Table,
    Id,
    TenantId,
    ShopId,
    MessageId,
    Event,
    OpenId,
    Payload,
    ReceivedAt,
    DispatchStatus,
    Attempts,
    NextAttemptAt,
    LastError,
}

const REBUILT: &str = "kuaishou_events_rebuilt";
const PER_SHOP: &str = "ux_kuaishou_events_shop_message";
/// PostgreSQL's name for the column constraint `UNIQUE` that migration 000007 made.
const PG_UNIQUE: &str = "kuaishou_events_message_id_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => rebuild_sqlite(manager, false).await?,
            _ => {
                let sql = format!("ALTER TABLE kuaishou_events DROP CONSTRAINT {PG_UNIQUE}");
                manager.get_connection().execute_unprepared(&sql).await?;
            }
        }
        manager
            .create_index(
                Index::create()
                    .name(PER_SHOP)
                    .table(KuaishouEvents::Table)
                    .col(KuaishouEvents::MessageId)
                    .col(KuaishouEvents::ShopId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(PER_SHOP)
                    .table(KuaishouEvents::Table)
                    .to_owned(),
            )
            .await?;
        // Back to one row per message: the first copy stays.
        let conn = manager.get_connection();
        conn.execute_unprepared(
            "DELETE FROM kuaishou_events WHERE id NOT IN \
             (SELECT MIN(id) FROM kuaishou_events GROUP BY message_id)",
        )
        .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => rebuild_sqlite(manager, true).await,
            _ => {
                let sql = format!(
                    "ALTER TABLE kuaishou_events ADD CONSTRAINT {PG_UNIQUE} UNIQUE (message_id)"
                );
                conn.execute_unprepared(&sql).await.map(|_| ())
            }
        }
    }
}

/// Recreates `kuaishou_events` with the columns of migrations 000007 and 000009,
/// `message_id` unique or not, keeping every row and both indexes.
async fn rebuild_sqlite(manager: &SchemaManager<'_>, unique_message_id: bool) -> Result<(), DbErr> {
    use KuaishouEvents as E;
    let mut message_id = text(E::MessageId);
    if unique_message_id {
        message_id.unique_key();
    }
    manager
        .create_table(
            Table::create()
                .table(Alias::new(REBUILT))
                .col(id(E::Id))
                .col(big(E::TenantId))
                .col(ColumnDef::new(E::ShopId).big_integer().null())
                .col(message_id)
                .col(text(E::Event))
                .col(text(E::OpenId))
                .col(ColumnDef::new(E::Payload).json().not_null())
                .col(time(E::ReceivedAt))
                .col(
                    ColumnDef::new(E::DispatchStatus)
                        .string()
                        .not_null()
                        .default("done"),
                )
                .col(
                    ColumnDef::new(E::Attempts)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(time_null(E::NextAttemptAt))
                .col(text_null(E::LastError))
                .to_owned(),
        )
        .await?;
    let columns = [
        E::Id,
        E::TenantId,
        E::ShopId,
        E::MessageId,
        E::Event,
        E::OpenId,
        E::Payload,
        E::ReceivedAt,
        E::DispatchStatus,
        E::Attempts,
        E::NextAttemptAt,
        E::LastError,
    ];
    let copy = Query::insert()
        .into_table(Alias::new(REBUILT))
        .columns(columns)
        .select_from(Query::select().columns(columns).from(E::Table).to_owned())
        .map_err(|e| DbErr::Migration(e.to_string()))?
        .to_owned();
    manager.exec_stmt(copy).await?;
    manager
        .drop_table(Table::drop().table(E::Table).to_owned())
        .await?;
    manager
        .rename_table(
            Table::rename()
                .table(Alias::new(REBUILT), E::Table)
                .to_owned(),
        )
        .await?;
    // The indexes of 000007 and 000009 went with the old table.
    manager
        .create_index(
            Index::create()
                .name("ix_kuaishou_events_tenant")
                .table(E::Table)
                .col(E::TenantId)
                .col(E::Id)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_kuaishou_events_dispatch")
                .table(E::Table)
                .col(E::DispatchStatus)
                .col(E::NextAttemptAt)
                .to_owned(),
        )
        .await
}
