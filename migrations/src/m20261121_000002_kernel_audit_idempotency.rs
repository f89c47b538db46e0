//! Kernel: hash-chained audit log and the idempotency-key store.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
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

#[derive(DeriveIden)]
enum AuditChainHeads {
    Table,
    TenantId,
    LastSeq,
    LastHash,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    Scope,
    IdemKey,
    RequestHash,
    State,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(id(AuditLogs::Id))
                    .col(big(AuditLogs::TenantId))
                    .col(big(AuditLogs::Seq))
                    .col(ColumnDef::new(AuditLogs::ActorId).big_integer().null())
                    .col(text(AuditLogs::ActorName))
                    .col(text(AuditLogs::Action))
                    .col(text(AuditLogs::TargetType))
                    .col(text(AuditLogs::TargetId))
                    .col(text(AuditLogs::RequestId))
                    .col(text_null(AuditLogs::Ip))
                    .col(text_null(AuditLogs::UserAgent))
                    .col(ColumnDef::new(AuditLogs::Summary).json().not_null())
                    .col(time(AuditLogs::CreatedAt))
                    .col(text(AuditLogs::PrevHash))
                    .col(text(AuditLogs::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_logs_tenant_seq")
                    .table(AuditLogs::Table)
                    .col(AuditLogs::TenantId)
                    .col(AuditLogs::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_logs_tenant_action")
                    .table(AuditLogs::Table)
                    .col(AuditLogs::TenantId)
                    .col(AuditLogs::Action)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditChainHeads::Table)
                    .col(big(AuditChainHeads::TenantId).primary_key())
                    .col(big(AuditChainHeads::LastSeq))
                    .col(text(AuditChainHeads::LastHash))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(id(IdempotencyKeys::Id))
                    .col(text(IdempotencyKeys::Scope))
                    .col(text(IdempotencyKeys::IdemKey))
                    .col(text(IdempotencyKeys::RequestHash))
                    .col(text(IdempotencyKeys::State))
                    .col(
                        ColumnDef::new(IdempotencyKeys::ResponseStatus)
                            .integer()
                            .null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::ResponseBody).text().null())
                    .col(time(IdempotencyKeys::CreatedAt))
                    .col(time(IdempotencyKeys::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idempotency_scope_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::Scope)
                    .col(IdempotencyKeys::IdemKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_expires")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyKeys::Table.into_iden(),
            AuditChainHeads::Table.into_iden(),
            AuditLogs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
