//! Kernel: alert state (one row per fault), silences, history; alert permissions.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AlertStates {
    Table,
    Key,
    Rule,
    Severity,
    Status,
    Message,
    FirstSeenAt,
    LastNotifiedAt,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum AlertSilences {
    Table,
    Rule,
    Until,
    Reason,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AlertEvents {
    Table,
    Id,
    Rule,
    Key,
    Severity,
    Status,
    Message,
    Details,
    Deliveries,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AlertStates::Table)
                    .col(text(AlertStates::Key).primary_key())
                    .col(text(AlertStates::Rule))
                    .col(text(AlertStates::Severity))
                    .col(text(AlertStates::Status))
                    .col(text(AlertStates::Message))
                    .col(time(AlertStates::FirstSeenAt))
                    .col(time(AlertStates::LastNotifiedAt))
                    .col(time_null(AlertStates::ResolvedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AlertSilences::Table)
                    .col(text(AlertSilences::Rule).primary_key())
                    .col(time(AlertSilences::Until))
                    .col(text(AlertSilences::Reason))
                    .col(text(AlertSilences::CreatedBy))
                    .col(time(AlertSilences::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AlertEvents::Table)
                    .col(id(AlertEvents::Id))
                    .col(text(AlertEvents::Rule))
                    .col(text(AlertEvents::Key))
                    .col(text(AlertEvents::Severity))
                    .col(text(AlertEvents::Status))
                    .col(text(AlertEvents::Message))
                    .col(ColumnDef::new(AlertEvents::Details).json().not_null())
                    .col(ColumnDef::new(AlertEvents::Deliveries).json().not_null())
                    .col(time(AlertEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AlertEvents::Table.into_iden(),
            AlertSilences::Table.into_iden(),
            AlertStates::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
