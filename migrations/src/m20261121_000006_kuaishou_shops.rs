//! Kuaishou: authorised shops with encrypted tokens; permissions `kuaishou:*`.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KuaishouShops {
    Table,
    Id,
    TenantId,
    OpenId,
    Status,
    AccessTokenEnc,
    RefreshTokenEnc,
    AccessExpiresAt,
    RefreshExpiresAt,
    Scopes,
    RefreshLockUntil,
    LastRefreshedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KuaishouShops::Table)
                    .col(id(KuaishouShops::Id))
                    .col(big(KuaishouShops::TenantId))
                    .col(text(KuaishouShops::OpenId))
                    .col(text(KuaishouShops::Status))
                    .col(text_null(KuaishouShops::AccessTokenEnc))
                    .col(text_null(KuaishouShops::RefreshTokenEnc))
                    .col(time_null(KuaishouShops::AccessExpiresAt))
                    .col(time_null(KuaishouShops::RefreshExpiresAt))
                    .col(ColumnDef::new(KuaishouShops::Scopes).json().not_null())
                    .col(time_null(KuaishouShops::RefreshLockUntil))
                    .col(time_null(KuaishouShops::LastRefreshedAt))
                    .col(time(KuaishouShops::CreatedAt))
                    .col(time(KuaishouShops::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_kuaishou_shops_open_id")
                    .table(KuaishouShops::Table)
                    .col(KuaishouShops::TenantId)
                    .col(KuaishouShops::OpenId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KuaishouShops::Table).to_owned())
            .await
    }
}
