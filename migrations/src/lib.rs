//! Database migrations for every backend (SQLite and PostgreSQL run the same files).
//! One file per change, named `m<date>_<n>_<module>_<what>.rs`.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_kernel_identity;
mod m20261121_000002_kernel_audit_idempotency;
mod m20261121_000003_kernel_ops_permissions;
mod m20261121_000004_kernel_alerting;
mod m20261121_000005_points_ledger;
mod m20261121_000006_kuaishou_shops;
mod m20261121_000007_kuaishou_events;
mod m20261121_000008_kuaishou_orders;
mod m20261201_000009_kuaishou_event_dispatch;
mod m20261201_000010_integrations;
mod m20261201_000011_integrations_sms_delivery;
mod m20261201_000012_integrations_sms_report_due;
mod m20261202_000013_kuaishou_event_per_shop;
mod m20261202_000014_integrations_captcha_recognitions;
mod m20261202_000015_integrations_refund_counted;
mod m20261202_000016_cs_knowledge_base;
mod m20261202_000017_cs_conversations;
mod m20261202_000018_gateway;
mod m20261202_000019_kernel_audit_linked_after_commit;
mod m20261203_000020_points_live_lots_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_kernel_identity::Migration),
            Box::new(m20261121_000002_kernel_audit_idempotency::Migration),
            Box::new(m20261121_000003_kernel_ops_permissions::Migration),
            Box::new(m20261121_000004_kernel_alerting::Migration),
            Box::new(m20261121_000005_points_ledger::Migration),
            Box::new(m20261121_000006_kuaishou_shops::Migration),
            Box::new(m20261121_000007_kuaishou_events::Migration),
            Box::new(m20261121_000008_kuaishou_orders::Migration),
            Box::new(m20261201_000009_kuaishou_event_dispatch::Migration),
            Box::new(m20261201_000010_integrations::Migration),
            Box::new(m20261201_000011_integrations_sms_delivery::Migration),
            Box::new(m20261201_000012_integrations_sms_report_due::Migration),
            Box::new(m20261202_000013_kuaishou_event_per_shop::Migration),
            Box::new(m20261202_000014_integrations_captcha_recognitions::Migration),
            Box::new(m20261202_000015_integrations_refund_counted::Migration),
            Box::new(m20261202_000016_cs_knowledge_base::Migration),
            Box::new(m20261202_000017_cs_conversations::Migration),
            Box::new(m20261202_000018_gateway::Migration),
            Box::new(m20261202_000019_kernel_audit_linked_after_commit::Migration),
            Box::new(m20261203_000020_points_live_lots_index::Migration),
        ]
    }
}

/// Shorthands shared by the migration files.
pub(crate) mod cols {
    use sea_orm_migration::prelude::*;

    pub fn id(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name)
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key()
            .to_owned()
    }

    pub fn big(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).big_integer().not_null().to_owned()
    }

    pub fn text(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).string().not_null().to_owned()
    }

    pub fn text_null(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).string().null().to_owned()
    }

    pub fn time(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name)
            .timestamp_with_time_zone()
            .not_null()
            .to_owned()
    }

    pub fn time_null(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name)
            .timestamp_with_time_zone()
            .null()
            .to_owned()
    }
}
