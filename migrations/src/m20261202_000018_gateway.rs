//! Platform gateway: the cookie+session platforms each tenant configured (login form,
//! success and expiry rules, keepalive), the accounts that log in to them (passwords
//! encrypted by the kernel's vault), and captchas waiting for a person to read them.
//! Sessions themselves live in the cache (Redis), not here.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum GatewayPlatforms {
    Table,
    Id,
    TenantId,
    Name,
    Enabled,
    /// The whole validated configuration (URLs, form, rules, timings) as JSON.
    Settings,
    KeepaliveFailures,
    KeepaliveNextAt,
    LastKeepaliveAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum GatewayAccounts {
    Table,
    Id,
    TenantId,
    PlatformId,
    Position,
    UserNo,
    Username,
    Password,
    State,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum GatewayCaptchas {
    Table,
    Id,
    TenantId,
    Label,
    Image,
    ContentType,
    Status,
    Answer,
    AnsweredBy,
    CreatedAt,
    ExpiresAt,
}

fn long_text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use GatewayPlatforms as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(id(P::Id))
                    .col(big(P::TenantId))
                    .col(text(P::Name))
                    .col(ColumnDef::new(P::Enabled).boolean().not_null())
                    .col(ColumnDef::new(P::Settings).json().not_null())
                    .col(ColumnDef::new(P::KeepaliveFailures).integer().not_null())
                    .col(time_null(P::KeepaliveNextAt))
                    .col(time_null(P::LastKeepaliveAt))
                    .col(text_null(P::LastError))
                    .col(time(P::CreatedAt))
                    .col(time(P::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_gateway_platforms_tenant_name")
                    .table(P::Table)
                    .col(P::TenantId)
                    .col(P::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        use GatewayAccounts as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(id(A::Id))
                    .col(big(A::TenantId))
                    .col(big(A::PlatformId))
                    .col(ColumnDef::new(A::Position).integer().not_null())
                    .col(long_text(A::UserNo))
                    .col(long_text(A::Username))
                    .col(long_text(A::Password))
                    .col(text(A::State))
                    .col(text_null(A::LastError))
                    .col(time(A::CreatedAt))
                    .col(time(A::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_gateway_accounts_platform")
                    .table(A::Table)
                    .col(A::PlatformId)
                    .col(A::Position)
                    .to_owned(),
            )
            .await?;

        use GatewayCaptchas as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(id(C::Id))
                    .col(big(C::TenantId))
                    .col(text(C::Label))
                    .col(long_text(C::Image))
                    .col(text(C::ContentType))
                    .col(text(C::Status))
                    .col(text_null(C::Answer))
                    .col(ColumnDef::new(C::AnsweredBy).big_integer().null())
                    .col(time(C::CreatedAt))
                    .col(time(C::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_gateway_captchas_tenant_status")
                    .table(C::Table)
                    .col(C::TenantId)
                    .col(C::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            GatewayCaptchas::Table.into_iden(),
            GatewayAccounts::Table.into_iden(),
            GatewayPlatforms::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
