//! Integrations: what the provider reported about a sent SMS reaching the phone
//! (delivered or failed, its code and time), and when it was last asked.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntegrationSmsOutbox {
    Table,
    Delivery,
    DeliveryDetail,
    DeliveryCheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for mut column in [
            text_null(IntegrationSmsOutbox::Delivery),
            text_null(IntegrationSmsOutbox::DeliveryDetail),
            time_null(IntegrationSmsOutbox::DeliveryCheckedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IntegrationSmsOutbox::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            IntegrationSmsOutbox::DeliveryCheckedAt,
            IntegrationSmsOutbox::DeliveryDetail,
            IntegrationSmsOutbox::Delivery,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IntegrationSmsOutbox::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
