//! Kernel: permission to read operations views (outside targets), for superadmins.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RolePermissions {
    Table,
    Role,
    Permission,
}

const GRANTS: &[(&str, &str)] = &[("superadmin", "ops:read")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut insert = Query::insert()
            .into_table(RolePermissions::Table)
            .columns([RolePermissions::Role, RolePermissions::Permission])
            .to_owned();
        for (role, permission) in GRANTS {
            insert.values_panic([(*role).into(), (*permission).into()]);
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (role, permission) in GRANTS {
            manager
                .exec_stmt(
                    Query::delete()
                        .from_table(RolePermissions::Table)
                        .and_where(Expr::col(RolePermissions::Role).eq(*role))
                        .and_where(Expr::col(RolePermissions::Permission).eq(*permission))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
