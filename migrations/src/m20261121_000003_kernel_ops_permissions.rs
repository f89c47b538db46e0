//! Kernel: permission to read operations views (outside targets), for superadmins.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const GRANTS: &[(&str, &str)] = &[("superadmin", "ops:read")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        grant(manager, GRANTS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        revoke(manager, GRANTS).await
    }
}
