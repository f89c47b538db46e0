//! Kernel: once granted `ops:read` to superadmins. Grants are now made at start from
//! the declared permissions (`rbac::sync_grants`), so this step changes nothing; it stays
//! so that databases that applied it keep a consistent history.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
