//! Kuaishou: synced orders and their items, and a sync checkpoint per shop.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KuaishouOrders {
    Table,
    Id,
    TenantId,
    ShopId,
    Oid,
    Status,
    BuyerOpenId,
    TotalFee,
    PayTime,
    UpdateTime,
    Raw,
    SyncedAt,
}

#[derive(DeriveIden)]
enum KuaishouOrderItems {
    Table,
    Id,
    TenantId,
    OrderId,
    ItemId,
    SkuId,
    Title,
    Num,
    Price,
}

#[derive(DeriveIden)]
enum KuaishouSyncCheckpoints {
    Table,
    ShopId,
    TenantId,
    SyncedUntilMs,
    LastRunAt,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KuaishouOrders::Table)
                    .col(id(KuaishouOrders::Id))
                    .col(big(KuaishouOrders::TenantId))
                    .col(big(KuaishouOrders::ShopId))
                    .col(text(KuaishouOrders::Oid))
                    .col(big(KuaishouOrders::Status))
                    .col(text_null(KuaishouOrders::BuyerOpenId))
                    .col(big(KuaishouOrders::TotalFee))
                    .col(ColumnDef::new(KuaishouOrders::PayTime).big_integer().null())
                    .col(big(KuaishouOrders::UpdateTime))
                    .col(ColumnDef::new(KuaishouOrders::Raw).json().not_null())
                    .col(time(KuaishouOrders::SyncedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_kuaishou_orders_shop_oid")
                    .table(KuaishouOrders::Table)
                    .col(KuaishouOrders::ShopId)
                    .col(KuaishouOrders::Oid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_kuaishou_orders_tenant")
                    .table(KuaishouOrders::Table)
                    .col(KuaishouOrders::TenantId)
                    .col(KuaishouOrders::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KuaishouOrderItems::Table)
                    .col(id(KuaishouOrderItems::Id))
                    .col(big(KuaishouOrderItems::TenantId))
                    .col(big(KuaishouOrderItems::OrderId))
                    .col(text(KuaishouOrderItems::ItemId))
                    .col(text(KuaishouOrderItems::SkuId))
                    .col(text(KuaishouOrderItems::Title))
                    .col(big(KuaishouOrderItems::Num))
                    .col(big(KuaishouOrderItems::Price))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_kuaishou_order_items_order")
                    .table(KuaishouOrderItems::Table)
                    .col(KuaishouOrderItems::OrderId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KuaishouSyncCheckpoints::Table)
                    .col(big(KuaishouSyncCheckpoints::ShopId).primary_key())
                    .col(big(KuaishouSyncCheckpoints::TenantId))
                    .col(big(KuaishouSyncCheckpoints::SyncedUntilMs))
                    .col(time(KuaishouSyncCheckpoints::LastRunAt))
                    .col(text_null(KuaishouSyncCheckpoints::LastError))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            KuaishouSyncCheckpoints::Table.into_iden(),
            KuaishouOrderItems::Table.into_iden(),
            KuaishouOrders::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
