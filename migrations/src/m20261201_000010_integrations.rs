//! Integrations: payments and refunds, provider callbacks (once per provider event),
//! the durable SMS outbox, live provider overrides, and the permissions.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntegrationPayments {
    Table,
    Id,
    TenantId,
    Provider,
    Channel,
    OutTradeNo,
    Amount,
    Currency,
    Description,
    Status,
    ProviderTradeNo,
    ClientData,
    RefundedAmount,
    PaidAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IntegrationRefunds {
    Table,
    Id,
    TenantId,
    PaymentId,
    OutRefundNo,
    Amount,
    Reason,
    Status,
    ProviderRefundId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IntegrationCallbackEvents {
    Table,
    Id,
    Provider,
    EventKey,
    TenantId,
    PaymentId,
    Kind,
    Payload,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum IntegrationSmsOutbox {
    Table,
    Id,
    TenantId,
    MessageId,
    PhoneEnc,
    PhoneIndex,
    Template,
    Params,
    Status,
    Attempts,
    NextAttemptAt,
    Provider,
    ProviderMessageId,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum IntegrationProviderOverrides {
    Table,
    Capability,
    Name,
    Enabled,
    Priority,
    PerMinute,
    PerDay,
    UpdatedBy,
    UpdatedAt,
}

fn nullable_big(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IntegrationPayments::Table)
                    .col(id(IntegrationPayments::Id))
                    .col(big(IntegrationPayments::TenantId))
                    .col(text(IntegrationPayments::Provider))
                    .col(text(IntegrationPayments::Channel))
                    .col(text(IntegrationPayments::OutTradeNo).unique_key())
                    .col(big(IntegrationPayments::Amount))
                    .col(text(IntegrationPayments::Currency))
                    .col(text(IntegrationPayments::Description))
                    .col(text(IntegrationPayments::Status))
                    .col(text_null(IntegrationPayments::ProviderTradeNo))
                    .col(
                        ColumnDef::new(IntegrationPayments::ClientData)
                            .json()
                            .not_null(),
                    )
                    .col(big(IntegrationPayments::RefundedAmount).default(0))
                    .col(time_null(IntegrationPayments::PaidAt))
                    .col(time(IntegrationPayments::CreatedAt))
                    .col(time(IntegrationPayments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_payments_tenant")
                    .table(IntegrationPayments::Table)
                    .col(IntegrationPayments::TenantId)
                    .col(IntegrationPayments::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationRefunds::Table)
                    .col(id(IntegrationRefunds::Id))
                    .col(big(IntegrationRefunds::TenantId))
                    .col(big(IntegrationRefunds::PaymentId))
                    .col(text(IntegrationRefunds::OutRefundNo).unique_key())
                    .col(big(IntegrationRefunds::Amount))
                    .col(text_null(IntegrationRefunds::Reason))
                    .col(text(IntegrationRefunds::Status))
                    .col(text_null(IntegrationRefunds::ProviderRefundId))
                    .col(time(IntegrationRefunds::CreatedAt))
                    .col(time(IntegrationRefunds::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationCallbackEvents::Table)
                    .col(id(IntegrationCallbackEvents::Id))
                    .col(text(IntegrationCallbackEvents::Provider))
                    .col(text(IntegrationCallbackEvents::EventKey).unique_key())
                    .col(big(IntegrationCallbackEvents::TenantId))
                    .col(nullable_big(IntegrationCallbackEvents::PaymentId))
                    .col(text(IntegrationCallbackEvents::Kind))
                    .col(
                        ColumnDef::new(IntegrationCallbackEvents::Payload)
                            .json()
                            .not_null(),
                    )
                    .col(time(IntegrationCallbackEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationSmsOutbox::Table)
                    .col(id(IntegrationSmsOutbox::Id))
                    .col(big(IntegrationSmsOutbox::TenantId))
                    .col(text(IntegrationSmsOutbox::MessageId).unique_key())
                    .col(text(IntegrationSmsOutbox::PhoneEnc))
                    .col(text(IntegrationSmsOutbox::PhoneIndex))
                    .col(text(IntegrationSmsOutbox::Template))
                    .col(
                        ColumnDef::new(IntegrationSmsOutbox::Params)
                            .json()
                            .not_null(),
                    )
                    .col(text(IntegrationSmsOutbox::Status))
                    .col(big(IntegrationSmsOutbox::Attempts).default(0))
                    .col(time_null(IntegrationSmsOutbox::NextAttemptAt))
                    .col(text_null(IntegrationSmsOutbox::Provider))
                    .col(text_null(IntegrationSmsOutbox::ProviderMessageId))
                    .col(text_null(IntegrationSmsOutbox::LastError))
                    .col(time(IntegrationSmsOutbox::CreatedAt))
                    .col(time_null(IntegrationSmsOutbox::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_sms_outbox_due")
                    .table(IntegrationSmsOutbox::Table)
                    .col(IntegrationSmsOutbox::Status)
                    .col(IntegrationSmsOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationProviderOverrides::Table)
                    .col(text(IntegrationProviderOverrides::Capability))
                    .col(text(IntegrationProviderOverrides::Name))
                    .col(
                        ColumnDef::new(IntegrationProviderOverrides::Enabled)
                            .boolean()
                            .null(),
                    )
                    .col(nullable_big(IntegrationProviderOverrides::Priority))
                    .col(nullable_big(IntegrationProviderOverrides::PerMinute))
                    .col(nullable_big(IntegrationProviderOverrides::PerDay))
                    .col(text(IntegrationProviderOverrides::UpdatedBy))
                    .col(time(IntegrationProviderOverrides::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(IntegrationProviderOverrides::Capability)
                            .col(IntegrationProviderOverrides::Name),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IntegrationProviderOverrides::Table.into_iden(),
            IntegrationSmsOutbox::Table.into_iden(),
            IntegrationCallbackEvents::Table.into_iden(),
            IntegrationRefunds::Table.into_iden(),
            IntegrationPayments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
