//! Customer service: the knowledge base (entries per tenant, optionally per shop),
//! its change sequence (every replica's in-memory index follows it), imports run as
//! jobs, stored embeddings (the embedded vector store), and the operators' search tests.

use sea_orm_migration::prelude::*;

use crate::cols::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CsKbEntries {
    Table,
    Id,
    TenantId,
    ShopId,
    Question,
    Answer,
    Category,
    Keywords,
    SimilarQuestions,
    Enabled,
    Source,
    ImportId,
    ImportLine,
    ChangeSeq,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CsKbVersions {
    Table,
    TenantId,
    Seq,
}

#[derive(DeriveIden)]
enum CsKbImports {
    Table,
    Id,
    TenantId,
    ShopId,
    FileName,
    Format,
    Payload,
    Status,
    Total,
    Done,
    Failed,
    Errors,
    LeaseUntil,
    CreatedBy,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum CsKbEmbeddings {
    Table,
    EntryId,
    TextIndex,
    TenantId,
    Encoder,
    Vector,
}

#[derive(DeriveIden)]
enum CsKbSearches {
    Table,
    Id,
    TenantId,
    UserId,
    Query,
    ShopId,
    Results,
    CreatedAt,
}

fn json_col(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).json().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use CsKbEntries as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(id(E::Id))
                    .col(big(E::TenantId))
                    .col(ColumnDef::new(E::ShopId).big_integer().null())
                    .col(ColumnDef::new(E::Question).text().not_null())
                    .col(ColumnDef::new(E::Answer).text().not_null())
                    .col(text(E::Category))
                    .col(json_col(E::Keywords))
                    .col(json_col(E::SimilarQuestions))
                    .col(ColumnDef::new(E::Enabled).boolean().not_null())
                    .col(text(E::Source))
                    .col(ColumnDef::new(E::ImportId).big_integer().null())
                    .col(ColumnDef::new(E::ImportLine).big_integer().null())
                    .col(big(E::ChangeSeq))
                    .col(time_null(E::DeletedAt))
                    .col(time(E::CreatedAt))
                    .col(time(E::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_cs_kb_entries_tenant", vec![E::TenantId, E::Id]),
            ("ix_cs_kb_entries_changes", vec![E::TenantId, E::ChangeSeq]),
        ] {
            let mut index = Index::create().name(name).table(E::Table).to_owned();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index).await?;
        }
        // An import's row is stored once, even when a replica resumes the import.
        manager
            .create_index(
                Index::create()
                    .name("ux_cs_kb_entries_import_line")
                    .table(E::Table)
                    .col(E::ImportId)
                    .col(E::ImportLine)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CsKbVersions::Table)
                    .col(big(CsKbVersions::TenantId).primary_key())
                    .col(big(CsKbVersions::Seq))
                    .to_owned(),
            )
            .await?;
        use CsKbImports as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(id(I::Id))
                    .col(big(I::TenantId))
                    .col(ColumnDef::new(I::ShopId).big_integer().null())
                    .col(text(I::FileName))
                    .col(text(I::Format))
                    .col(ColumnDef::new(I::Payload).binary().not_null())
                    .col(text(I::Status))
                    .col(big(I::Total))
                    .col(big(I::Done))
                    .col(big(I::Failed))
                    .col(json_col(I::Errors))
                    .col(time_null(I::LeaseUntil))
                    .col(text(I::CreatedBy))
                    .col(time(I::CreatedAt))
                    .col(time_null(I::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_cs_kb_imports_status")
                    .table(I::Table)
                    .col(I::Status)
                    .to_owned(),
            )
            .await?;
        use CsKbEmbeddings as V;
        manager
            .create_table(
                Table::create()
                    .table(V::Table)
                    .col(big(V::EntryId))
                    .col(big(V::TextIndex))
                    .col(big(V::TenantId))
                    .col(text(V::Encoder))
                    .col(ColumnDef::new(V::Vector).binary().not_null())
                    .primary_key(Index::create().col(V::EntryId).col(V::TextIndex))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_cs_kb_embeddings_tenant")
                    .table(V::Table)
                    .col(V::TenantId)
                    .col(V::Encoder)
                    .to_owned(),
            )
            .await?;
        use CsKbSearches as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(id(S::Id))
                    .col(big(S::TenantId))
                    .col(big(S::UserId))
                    .col(ColumnDef::new(S::Query).text().not_null())
                    .col(ColumnDef::new(S::ShopId).big_integer().null())
                    .col(json_col(S::Results))
                    .col(time(S::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_cs_kb_searches_tenant")
                    .table(S::Table)
                    .col(S::TenantId)
                    .col(S::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CsKbSearches::Table.into_iden(),
            CsKbEmbeddings::Table.into_iden(),
            CsKbImports::Table.into_iden(),
            CsKbVersions::Table.into_iden(),
            CsKbEntries::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
