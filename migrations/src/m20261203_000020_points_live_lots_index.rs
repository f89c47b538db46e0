//! Points: a member's live lots (remaining > 0) indexed in the order a spend consumes
//! them (expiry, nulls last, then id), replacing the index on (profile, expiry). A spend
//! then reads the first few lots from the index instead of reading and sorting every
//! live lot of the member, which a member who earns often has thousands of
//! (docs/performance.md, "Points write path"). The soon-expiring lots of a member's
//! profile are served by the same index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const LIVE: &str = "ix_points_lots_live";
const BY_PROFILE: &str = "ix_points_lots_profile";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        // Raw SQL: a partial index, same syntax on both backends. PostgreSQL sorts NULL
        // expiries last in an ascending index, as the spend orders them.
        conn.execute_unprepared(&format!(
            "CREATE INDEX {LIVE} ON points_lots (profile_id, expires_at, id) WHERE remaining_points > 0"
        ))
        .await?;
        conn.execute_unprepared(&format!("DROP INDEX {BY_PROFILE}"))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared(&format!(
            "CREATE INDEX {BY_PROFILE} ON points_lots (profile_id, expires_at)"
        ))
        .await?;
        conn.execute_unprepared(&format!("DROP INDEX {LIVE}"))
            .await?;
        Ok(())
    }
}
