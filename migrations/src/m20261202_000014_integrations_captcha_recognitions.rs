//! Integrations: which tenant each captcha answer was given to, so only that tenant
//! can report it wrong (the provider account is shared by every tenant).

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntegrationCaptchaRecognitions {
    Table,
    Id,
    TenantId,
    PicId,
    Provider,
    CreatedAt,
    ReportedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use IntegrationCaptchaRecognitions as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(id(C::Id))
                    .col(big(C::TenantId))
                    .col(text(C::PicId).unique_key())
                    .col(text(C::Provider))
                    .col(time(C::CreatedAt))
                    .col(time_null(C::ReportedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_captcha_recognitions_created")
                    .table(C::Table)
                    .col(C::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(IntegrationCaptchaRecognitions::Table)
                    .to_owned(),
            )
            .await
    }
}
