//! Points: member profiles, the immutable ledger, lots (for expiry), levels, VIP tags,
//! per-tenant settings; permissions `points:*`.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PointsProfiles {
    Table,
    Id,
    TenantId,
    MemberId,
    TotalPoints,
    FrozenPoints,
    LifetimePoints,
    LevelId,
    EmailEnc,
    EmailHash,
    PhoneEnc,
    PhoneHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PointsEntries {
    Table,
    Id,
    TenantId,
    ProfileId,
    MemberId,
    EntryType,
    PointsDelta,
    FrozenDelta,
    BalanceAfter,
    Category,
    Reason,
    OperatorId,
    OperatorName,
    RequestId,
    IdempotencyKey,
    ReversesEntryId,
    ReversedByEntryId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PointsLots {
    Table,
    Id,
    TenantId,
    ProfileId,
    EntryId,
    OriginalPoints,
    RemainingPoints,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PointsLevels {
    Table,
    Id,
    TenantId,
    Name,
    Threshold,
    Benefits,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VipTags {
    Table,
    Id,
    TenantId,
    TagType,
    TagName,
    Rank,
    DurationDays,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MemberVipTags {
    Table,
    Id,
    TenantId,
    ProfileId,
    TagId,
    TagType,
    GrantedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum PointsSettings {
    Table,
    TenantId,
    MinPerOperation,
    MaxPerOperation,
    AllowOverdraft,
    UpdatedAt,
}

fn index(name: &str, table: impl IntoIden + 'static, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut i = Index::create().name(name).table(table).to_owned();
    for c in cols {
        i.col(c);
    }
    i
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PointsProfiles::Table)
                    .col(id(PointsProfiles::Id))
                    .col(big(PointsProfiles::TenantId))
                    .col(text(PointsProfiles::MemberId))
                    .col(big(PointsProfiles::TotalPoints).default(0))
                    .col(big(PointsProfiles::FrozenPoints).default(0))
                    .col(big(PointsProfiles::LifetimePoints).default(0))
                    .col(ColumnDef::new(PointsProfiles::LevelId).big_integer().null())
                    .col(text_null(PointsProfiles::EmailEnc))
                    .col(text_null(PointsProfiles::EmailHash))
                    .col(text_null(PointsProfiles::PhoneEnc))
                    .col(text_null(PointsProfiles::PhoneHash))
                    .col(time(PointsProfiles::CreatedAt))
                    .col(time(PointsProfiles::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let p = |c: PointsProfiles| -> DynIden { c.into_iden() };
        manager
            .create_index(
                index(
                    "ux_points_profiles_member",
                    PointsProfiles::Table,
                    vec![p(PointsProfiles::TenantId), p(PointsProfiles::MemberId)],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_points_profiles_email",
                PointsProfiles::Table,
                vec![p(PointsProfiles::TenantId), p(PointsProfiles::EmailHash)],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_points_profiles_phone",
                PointsProfiles::Table,
                vec![p(PointsProfiles::TenantId), p(PointsProfiles::PhoneHash)],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PointsEntries::Table)
                    .col(id(PointsEntries::Id))
                    .col(big(PointsEntries::TenantId))
                    .col(big(PointsEntries::ProfileId))
                    .col(text(PointsEntries::MemberId))
                    .col(text(PointsEntries::EntryType))
                    .col(big(PointsEntries::PointsDelta))
                    .col(big(PointsEntries::FrozenDelta))
                    .col(big(PointsEntries::BalanceAfter))
                    .col(text(PointsEntries::Category))
                    .col(text(PointsEntries::Reason))
                    .col(
                        ColumnDef::new(PointsEntries::OperatorId)
                            .big_integer()
                            .null(),
                    )
                    .col(text(PointsEntries::OperatorName))
                    .col(text(PointsEntries::RequestId))
                    .col(text_null(PointsEntries::IdempotencyKey))
                    .col(
                        ColumnDef::new(PointsEntries::ReversesEntryId)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(PointsEntries::ReversedByEntryId)
                            .big_integer()
                            .null(),
                    )
                    .col(time(PointsEntries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        let e = |c: PointsEntries| -> DynIden { c.into_iden() };
        // What the record lists filter on: tenant + member + created_at, tenant + type + category.
        manager
            .create_index(index(
                "ix_points_entries_member",
                PointsEntries::Table,
                vec![
                    e(PointsEntries::TenantId),
                    e(PointsEntries::MemberId),
                    e(PointsEntries::Id),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_points_entries_type_category",
                PointsEntries::Table,
                vec![
                    e(PointsEntries::TenantId),
                    e(PointsEntries::EntryType),
                    e(PointsEntries::Category),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_points_entries_profile",
                PointsEntries::Table,
                vec![e(PointsEntries::ProfileId)],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PointsLots::Table)
                    .col(id(PointsLots::Id))
                    .col(big(PointsLots::TenantId))
                    .col(big(PointsLots::ProfileId))
                    .col(big(PointsLots::EntryId))
                    .col(big(PointsLots::OriginalPoints))
                    .col(big(PointsLots::RemainingPoints))
                    .col(time_null(PointsLots::ExpiresAt))
                    .col(time(PointsLots::CreatedAt))
                    .to_owned(),
            )
            .await?;
        let l = |c: PointsLots| -> DynIden { c.into_iden() };
        manager
            .create_index(index(
                "ix_points_lots_profile",
                PointsLots::Table,
                vec![l(PointsLots::ProfileId), l(PointsLots::ExpiresAt)],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_points_lots_expiry",
                PointsLots::Table,
                vec![l(PointsLots::ExpiresAt)],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PointsLevels::Table)
                    .col(id(PointsLevels::Id))
                    .col(big(PointsLevels::TenantId))
                    .col(text(PointsLevels::Name))
                    .col(big(PointsLevels::Threshold))
                    .col(ColumnDef::new(PointsLevels::Benefits).json().not_null())
                    .col(time(PointsLevels::CreatedAt))
                    .col(time(PointsLevels::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let v = |c: PointsLevels| -> DynIden { c.into_iden() };
        manager
            .create_index(
                index(
                    "ux_points_levels_name",
                    PointsLevels::Table,
                    vec![v(PointsLevels::TenantId), v(PointsLevels::Name)],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_points_levels_threshold",
                    PointsLevels::Table,
                    vec![v(PointsLevels::TenantId), v(PointsLevels::Threshold)],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VipTags::Table)
                    .col(id(VipTags::Id))
                    .col(big(VipTags::TenantId))
                    .col(text(VipTags::TagType))
                    .col(text(VipTags::TagName))
                    .col(ColumnDef::new(VipTags::Rank).integer().not_null())
                    .col(ColumnDef::new(VipTags::DurationDays).integer().null())
                    .col(time(VipTags::CreatedAt))
                    .to_owned(),
            )
            .await?;
        let t = |c: VipTags| -> DynIden { c.into_iden() };
        manager
            .create_index(
                index(
                    "ux_vip_tags_name",
                    VipTags::Table,
                    vec![t(VipTags::TenantId), t(VipTags::TagName)],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MemberVipTags::Table)
                    .col(id(MemberVipTags::Id))
                    .col(big(MemberVipTags::TenantId))
                    .col(big(MemberVipTags::ProfileId))
                    .col(big(MemberVipTags::TagId))
                    .col(text(MemberVipTags::TagType))
                    .col(time(MemberVipTags::GrantedAt))
                    .col(time_null(MemberVipTags::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        let m = |c: MemberVipTags| -> DynIden { c.into_iden() };
        // One tag per type per member: concurrent grants cannot both win.
        manager
            .create_index(
                index(
                    "ux_member_vip_tags_type",
                    MemberVipTags::Table,
                    vec![m(MemberVipTags::ProfileId), m(MemberVipTags::TagType)],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PointsSettings::Table)
                    .col(big(PointsSettings::TenantId).primary_key())
                    .col(big(PointsSettings::MinPerOperation))
                    .col(big(PointsSettings::MaxPerOperation))
                    .col(
                        ColumnDef::new(PointsSettings::AllowOverdraft)
                            .boolean()
                            .not_null(),
                    )
                    .col(time(PointsSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PointsSettings::Table.into_iden(),
            MemberVipTags::Table.into_iden(),
            VipTags::Table.into_iden(),
            PointsLevels::Table.into_iden(),
            PointsLots::Table.into_iden(),
            PointsEntries::Table.into_iden(),
            PointsProfiles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
