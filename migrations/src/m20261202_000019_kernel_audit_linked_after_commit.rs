//! Kernel: audit records are linked into their tenant's hash chain after they commit,
//! by one linker (docs/ARCHITECTURE.md "Audit in the same transaction, linked after"),
//! instead of inside every writing transaction. So a record is inserted with its chain
//! fields (`seq`, `prev_hash`, `hash`) empty, and the linker finds the records still to
//! link through a partial index on them.
//!
//! PostgreSQL drops the columns' NOT NULL in place. SQLite cannot change a column's
//! constraints, so the table is rebuilt (create, copy, drop, rename — SQLite's
//! documented procedure for changes `ALTER TABLE` cannot make).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AuditLogs {
    Table,
    Id,
    TenantId,
    Seq,
    ActorId,
    ActorName,
    Action,
    TargetType,
    TargetId,
    RequestId,
    Ip,
    UserAgent,
    Summary,
    CreatedAt,
    PrevHash,
    Hash,
}

const REBUILT: &str = "audit_logs_rebuilt";
const UNLINKED: &str = "ix_audit_logs_unlinked";
const CHAIN_COLUMNS: &str = "seq, prev_hash, hash";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => rebuild_sqlite(manager, true).await?,
            _ => {
                for column in CHAIN_COLUMNS.split(", ") {
                    let sql = format!("ALTER TABLE audit_logs ALTER COLUMN {column} DROP NOT NULL");
                    conn.execute_unprepared(&sql).await?;
                }
            }
        }
        // Raw SQL: a partial index (same syntax on both backends) keeps the linker's
        // search as small as the backlog, whatever the size of the log.
        conn.execute_unprepared(&format!(
            "CREATE INDEX {UNLINKED} ON audit_logs (tenant_id, id) WHERE seq IS NULL"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let waiting = conn
            .query_one(sea_orm_migration::sea_orm::Statement::from_string(
                manager.get_database_backend(),
                "SELECT COUNT(*) AS n FROM audit_logs WHERE seq IS NULL",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if waiting > 0 {
            return Err(DbErr::Migration(format!(
                "{waiting} audit records are not linked into their chain yet: start the server \
                 (or the keepalive worker) until `shopops audit verify` passes, then roll back"
            )));
        }
        conn.execute_unprepared(&format!("DROP INDEX {UNLINKED}"))
            .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => rebuild_sqlite(manager, false).await,
            _ => {
                for column in CHAIN_COLUMNS.split(", ") {
                    let sql = format!("ALTER TABLE audit_logs ALTER COLUMN {column} SET NOT NULL");
                    conn.execute_unprepared(&sql).await?;
                }
                Ok(())
            }
        }
    }
}

/// Recreates `audit_logs` with the columns of migration 000002, the chain fields
/// nullable or not, keeping every row and both indexes.
async fn rebuild_sqlite(manager: &SchemaManager<'_>, chain_nullable: bool) -> Result<(), DbErr> {
    use AuditLogs as A;
    let chain_column = |name: A, integer: bool| {
        let mut column = ColumnDef::new(name);
        if integer {
            column.big_integer();
        } else {
            column.string();
        }
        if chain_nullable {
            column.null();
        } else {
            column.not_null();
        }
        column
    };
    manager
        .create_table(
            Table::create()
                .table(Alias::new(REBUILT))
                .col(id(A::Id))
                .col(big(A::TenantId))
                .col(chain_column(A::Seq, true))
                .col(ColumnDef::new(A::ActorId).big_integer().null())
                .col(text(A::ActorName))
                .col(text(A::Action))
                .col(text(A::TargetType))
                .col(text(A::TargetId))
                .col(text(A::RequestId))
                .col(text_null(A::Ip))
                .col(text_null(A::UserAgent))
                .col(ColumnDef::new(A::Summary).json().not_null())
                .col(time(A::CreatedAt))
                .col(chain_column(A::PrevHash, false))
                .col(chain_column(A::Hash, false))
                .to_owned(),
        )
        .await?;
    let columns = [
        A::Id,
        A::TenantId,
        A::Seq,
        A::ActorId,
        A::ActorName,
        A::Action,
        A::TargetType,
        A::TargetId,
        A::RequestId,
        A::Ip,
        A::UserAgent,
        A::Summary,
        A::CreatedAt,
        A::PrevHash,
        A::Hash,
    ];
    let copy = Query::insert()
        .into_table(Alias::new(REBUILT))
        .columns(columns)
        .select_from(Query::select().columns(columns).from(A::Table).to_owned())
        .map_err(|e| DbErr::Migration(e.to_string()))?
        .to_owned();
    manager.exec_stmt(copy).await?;
    manager
        .drop_table(Table::drop().table(A::Table).to_owned())
        .await?;
    manager
        .rename_table(
            Table::rename()
                .table(Alias::new(REBUILT), A::Table)
                .to_owned(),
        )
        .await?;
    // The indexes of 000002 went with the old table.
    manager
        .create_index(
            Index::create()
                .name("ux_audit_logs_tenant_seq")
                .table(A::Table)
                .col(A::TenantId)
                .col(A::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_audit_logs_tenant_action")
                .table(A::Table)
                .col(A::TenantId)
                .col(A::Action)
                .to_owned(),
        )
        .await
}
