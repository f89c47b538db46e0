//! Customer service, the conversation loop: shops (the chat windows the desktop agent
//! watches, their reply rules and routing bands), the agents assigned to them, each
//! tenant's settings, buyer messages with their routing, reply, review and delivery
//! (one row per message, its history in events), desktop agents' heartbeats, and the
//! daily statistics.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CsShops {
    Table,
    Id,
    TenantId,
    Name,
    QianniuTitle,
    OcrRegion,
    UnreadThreshold,
    AiModel,
    AutoMode,
    Blacklist,
    Whitelist,
    BusinessHours,
    ReplyDelay,
    KbAutoThreshold,
    KbAssistThreshold,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CsShopAgents {
    Table,
    ShopId,
    UserId,
    TenantId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CsSettings {
    Table,
    TenantId,
    SystemPrompt,
    TimeZone,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CsMessages {
    Table,
    Id,
    TenantId,
    ShopId,
    CustomerId,
    Content,
    ContentKey,
    Source,
    IdempotencyKey,
    RequestHash,
    ReceivedAt,
    CreatedAt,
    Status,
    DecidedBy,
    Confidence,
    KbEntryId,
    ReplyText,
    ReplySource,
    ReplyModel,
    AutoSend,
    DraftFailure,
    ClaimedBy,
    ClaimUntil,
    ReviewedBy,
    ReviewedAt,
    Edited,
    HandoffReason,
    Delivery,
    ReadyAt,
    LeaseHolder,
    LeaseUntil,
    DeliveryAttempts,
    DeliveryError,
    SentAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CsMessageEvents {
    Table,
    Id,
    TenantId,
    MessageId,
    Kind,
    Actor,
    Details,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CsAgents {
    Table,
    Id,
    TenantId,
    UserId,
    Host,
    Version,
    ShopIds,
    LastSeen,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CsStatisticsDaily {
    Table,
    Id,
    TenantId,
    ShopId,
    Day,
    Messages,
    AutoSent,
    Reviewed,
    ApprovedUnedited,
    ApprovedEdited,
    Rejected,
    KbAnswered,
    KbHitRate,
    AiAccuracy,
    MedianSecs,
    P95Secs,
    ComputedAt,
}

fn json_col(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).json().not_null().to_owned()
}

fn double(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).double().not_null().to_owned()
}

fn double_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).double().null().to_owned()
}

fn big_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}

fn flag(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: DynIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create().name(name).table(table).to_owned();
    for c in cols {
        index.col(c);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use CsShops as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(id(S::Id))
                    .col(big(S::TenantId))
                    .col(text(S::Name))
                    .col(text(S::QianniuTitle))
                    .col(json_col(S::OcrRegion))
                    .col(double(S::UnreadThreshold))
                    .col(text(S::AiModel))
                    .col(flag(S::AutoMode))
                    .col(json_col(S::Blacklist))
                    .col(json_col(S::Whitelist))
                    .col(text(S::BusinessHours))
                    .col(big(S::ReplyDelay))
                    .col(double(S::KbAutoThreshold))
                    .col(double(S::KbAssistThreshold))
                    .col(time(S::CreatedAt))
                    .col(time(S::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_cs_shops_name",
            S::Table.into_iden(),
            vec![S::TenantId.into_iden(), S::Name.into_iden()],
            true,
        )
        .await?;

        use CsShopAgents as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(big(A::ShopId))
                    .col(big(A::UserId))
                    .col(big(A::TenantId))
                    .col(time(A::CreatedAt))
                    .primary_key(Index::create().col(A::ShopId).col(A::UserId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_cs_shop_agents_user",
            A::Table.into_iden(),
            vec![A::TenantId.into_iden(), A::UserId.into_iden()],
            false,
        )
        .await?;

        use CsSettings as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(big(T::TenantId).primary_key())
                    .col(ColumnDef::new(T::SystemPrompt).text().null())
                    .col(text(T::TimeZone))
                    .col(time(T::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        use CsMessages as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(id(M::Id))
                    .col(big(M::TenantId))
                    .col(big(M::ShopId))
                    .col(text(M::CustomerId))
                    .col(ColumnDef::new(M::Content).text().not_null())
                    .col(text(M::ContentKey))
                    .col(text(M::Source))
                    .col(text_null(M::IdempotencyKey))
                    .col(text_null(M::RequestHash))
                    .col(time(M::ReceivedAt))
                    .col(time(M::CreatedAt))
                    .col(text(M::Status))
                    .col(text(M::DecidedBy))
                    .col(double_null(M::Confidence))
                    .col(big_null(M::KbEntryId))
                    .col(ColumnDef::new(M::ReplyText).text().null())
                    .col(text_null(M::ReplySource))
                    .col(text_null(M::ReplyModel))
                    .col(flag(M::AutoSend))
                    .col(text_null(M::DraftFailure))
                    .col(big_null(M::ClaimedBy))
                    .col(time_null(M::ClaimUntil))
                    .col(big_null(M::ReviewedBy))
                    .col(time_null(M::ReviewedAt))
                    .col(ColumnDef::new(M::Edited).boolean().null())
                    .col(text_null(M::HandoffReason))
                    .col(text(M::Delivery))
                    .col(time_null(M::ReadyAt))
                    .col(text_null(M::LeaseHolder))
                    .col(time_null(M::LeaseUntil))
                    .col(big(M::DeliveryAttempts))
                    .col(text_null(M::DeliveryError))
                    .col(time_null(M::SentAt))
                    .col(time(M::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let m = |c: M| c.into_iden();
        index(
            manager,
            "ix_cs_messages_shop_status",
            M::Table.into_iden(),
            vec![m(M::TenantId), m(M::ShopId), m(M::Status), m(M::Id)],
            false,
        )
        .await?;
        index(
            manager,
            "ix_cs_messages_duplicate",
            M::Table.into_iden(),
            vec![
                m(M::TenantId),
                m(M::ShopId),
                m(M::CustomerId),
                m(M::ContentKey),
                m(M::ReceivedAt),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "ix_cs_messages_delivery",
            M::Table.into_iden(),
            vec![m(M::TenantId), m(M::ShopId), m(M::Delivery), m(M::ReadyAt)],
            false,
        )
        .await?;
        index(
            manager,
            "ix_cs_messages_received",
            M::Table.into_iden(),
            vec![m(M::TenantId), m(M::ReceivedAt)],
            false,
        )
        .await?;
        // A tenant's Idempotency-Key names one message (NULLs never collide).
        index(
            manager,
            "ux_cs_messages_idempotency",
            M::Table.into_iden(),
            vec![m(M::TenantId), m(M::IdempotencyKey)],
            true,
        )
        .await?;

        use CsMessageEvents as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(id(E::Id))
                    .col(big(E::TenantId))
                    .col(big(E::MessageId))
                    .col(text(E::Kind))
                    .col(text(E::Actor))
                    .col(json_col(E::Details))
                    .col(time(E::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_cs_message_events_message",
            E::Table.into_iden(),
            vec![E::MessageId.into_iden(), E::Id.into_iden()],
            false,
        )
        .await?;

        use CsAgents as G;
        manager
            .create_table(
                Table::create()
                    .table(G::Table)
                    .col(id(G::Id))
                    .col(big(G::TenantId))
                    .col(big(G::UserId))
                    .col(text(G::Host))
                    .col(text(G::Version))
                    .col(json_col(G::ShopIds))
                    .col(time(G::LastSeen))
                    .col(time(G::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_cs_agents_host",
            G::Table.into_iden(),
            vec![
                G::TenantId.into_iden(),
                G::UserId.into_iden(),
                G::Host.into_iden(),
            ],
            true,
        )
        .await?;

        use CsStatisticsDaily as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(id(D::Id))
                    .col(big(D::TenantId))
                    .col(big(D::ShopId))
                    .col(text(D::Day))
                    .col(big(D::Messages))
                    .col(big(D::AutoSent))
                    .col(big(D::Reviewed))
                    .col(big(D::ApprovedUnedited))
                    .col(big(D::ApprovedEdited))
                    .col(big(D::Rejected))
                    .col(big(D::KbAnswered))
                    .col(double(D::KbHitRate))
                    .col(double_null(D::AiAccuracy))
                    .col(double_null(D::MedianSecs))
                    .col(double_null(D::P95Secs))
                    .col(time(D::ComputedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_cs_statistics_daily",
            D::Table.into_iden(),
            vec![
                D::TenantId.into_iden(),
                D::ShopId.into_iden(),
                D::Day.into_iden(),
            ],
            true,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CsStatisticsDaily::Table.into_iden(),
            CsAgents::Table.into_iden(),
            CsMessageEvents::Table.into_iden(),
            CsMessages::Table.into_iden(),
            CsSettings::Table.into_iden(),
            CsShopAgents::Table.into_iden(),
            CsShops::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
