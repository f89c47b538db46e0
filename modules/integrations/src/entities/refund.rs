//! `integration_refunds`: refunds of a payment, idempotent on `out_refund_no`.
use sea_orm::entity::prelude::*;

use crate::service::states::RefundStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub payment_id: i64,
    #[sea_orm(unique)]
    pub out_refund_no: String,
    /// In fen.
    pub amount: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub provider_refund_id: Option<String>,
    /// When its amount was counted on the payment (once; see `store::count_refund`).
    pub counted_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
