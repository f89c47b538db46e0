//! Integrations: when a refund's amount was counted on its payment. A refund is counted
//! once, by a conditional update of this column, however often the provider answers
//! "processing" for it (a retried refund number asks again). Refunds the provider had
//! accepted before this column existed were counted then.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntegrationRefunds {
    Table,
    CountedAt,
    UpdatedAt,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationRefunds::Table)
                    .add_column(time_null(IntegrationRefunds::CountedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(IntegrationRefunds::Table)
                    .value(
                        IntegrationRefunds::CountedAt,
                        Expr::col(IntegrationRefunds::UpdatedAt),
                    )
                    .and_where(
                        Expr::col(IntegrationRefunds::Status).is_in(["processing", "success"]),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationRefunds::Table)
                    .drop_column(IntegrationRefunds::CountedAt)
                    .to_owned(),
            )
            .await
    }
}
