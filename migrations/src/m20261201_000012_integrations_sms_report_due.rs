//! Integrations: when a sent SMS is next due for a delivery-report check (null: not
//! followed — a final report came, or it is past the reporting window), indexed for the
//! job that checks them.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntegrationSmsOutbox {
    Table,
    DeliveryNextCheckAt,
}

const INDEX: &str = "ix_integration_sms_outbox_report_due";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationSmsOutbox::Table)
                    .add_column(time_null(IntegrationSmsOutbox::DeliveryNextCheckAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(IntegrationSmsOutbox::Table)
                    .col(IntegrationSmsOutbox::DeliveryNextCheckAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(IntegrationSmsOutbox::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationSmsOutbox::Table)
                    .drop_column(IntegrationSmsOutbox::DeliveryNextCheckAt)
                    .to_owned(),
            )
            .await
    }
}
