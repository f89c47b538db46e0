//! `integration_payments`: one payment order at one provider.
use sea_orm::entity::prelude::*;

use crate::service::states::PaymentStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub provider: String,
    /// qr, jsapi, h5 or page.
    pub channel: String,
    #[sea_orm(unique)]
    pub out_trade_no: String,
    /// In fen.
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub status: PaymentStatus,
    pub provider_trade_no: Option<String>,
    /// What the payer's client needs (code URL, JSAPI parameters, page URL …).
    pub client_data: Json,
    pub refunded_amount: i64,
    pub paid_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
