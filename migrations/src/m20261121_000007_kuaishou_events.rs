//! Kuaishou: message-push events, stored before they are acknowledged, unique per
//! message id.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
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
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KuaishouEvents::Table)
                    .col(id(KuaishouEvents::Id))
                    .col(big(KuaishouEvents::TenantId))
                    .col(ColumnDef::new(KuaishouEvents::ShopId).big_integer().null())
                    .col(text(KuaishouEvents::MessageId).unique_key())
                    .col(text(KuaishouEvents::Event))
                    .col(text(KuaishouEvents::OpenId))
                    .col(ColumnDef::new(KuaishouEvents::Payload).json().not_null())
                    .col(time(KuaishouEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_kuaishou_events_tenant")
                    .table(KuaishouEvents::Table)
                    .col(KuaishouEvents::TenantId)
                    .col(KuaishouEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KuaishouEvents::Table).to_owned())
            .await
    }
}
