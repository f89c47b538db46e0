//! Kuaishou: message-push events are dispatched to handlers after they are stored
//! (status, attempts, a lease/backoff time, the last error), and refunds the handlers
//! fetch are kept per shop.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KuaishouEvents {
    Table,
    DispatchStatus,
    Attempts,
    NextAttemptAt,
    LastError,
}

#[derive(DeriveIden)]
enum KuaishouRefunds {
    Table,
    Id,
    TenantId,
    ShopId,
    RefundId,
    OrderId,
    Status,
    HandlingWay,
    RefundFee,
    UpdateTime,
    Raw,
    SyncedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time. Events stored
        // before dispatch existed count as handled.
        let columns = [
            ColumnDef::new(KuaishouEvents::DispatchStatus)
                .string()
                .not_null()
                .default("done")
                .to_owned(),
            ColumnDef::new(KuaishouEvents::Attempts)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            time_null(KuaishouEvents::NextAttemptAt),
            text_null(KuaishouEvents::LastError),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(KuaishouEvents::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_kuaishou_events_dispatch")
                    .table(KuaishouEvents::Table)
                    .col(KuaishouEvents::DispatchStatus)
                    .col(KuaishouEvents::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KuaishouRefunds::Table)
                    .col(id(KuaishouRefunds::Id))
                    .col(big(KuaishouRefunds::TenantId))
                    .col(big(KuaishouRefunds::ShopId))
                    .col(text(KuaishouRefunds::RefundId))
                    .col(text(KuaishouRefunds::OrderId))
                    .col(big(KuaishouRefunds::Status))
                    .col(
                        ColumnDef::new(KuaishouRefunds::HandlingWay)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(KuaishouRefunds::RefundFee)
                            .big_integer()
                            .null(),
                    )
                    .col(big(KuaishouRefunds::UpdateTime))
                    .col(ColumnDef::new(KuaishouRefunds::Raw).json().not_null())
                    .col(time(KuaishouRefunds::SyncedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_kuaishou_refunds_shop_refund")
                    .table(KuaishouRefunds::Table)
                    .col(KuaishouRefunds::ShopId)
                    .col(KuaishouRefunds::RefundId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_kuaishou_refunds_tenant")
                    .table(KuaishouRefunds::Table)
                    .col(KuaishouRefunds::TenantId)
                    .col(KuaishouRefunds::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KuaishouRefunds::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_kuaishou_events_dispatch")
                    .table(KuaishouEvents::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            KuaishouEvents::LastError,
            KuaishouEvents::NextAttemptAt,
            KuaishouEvents::Attempts,
            KuaishouEvents::DispatchStatus,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(KuaishouEvents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
