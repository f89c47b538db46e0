//! Logistics: ship an order, correct its tracking number, express subscriptions.

use serde::{Deserialize, Serialize};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::tr;

use super::KsRequest;

/// `open.seller.order.goods.deliver` (POST): ship an order with a tracking number.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderShip {
    pub order_id: i64,
    pub express_no: String,
    pub express_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_address_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imei_list: Option<Vec<String>>,
}

impl KsRequest for OrderShip {
    const METHOD: &'static str = "open.seller.order.goods.deliver";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        express_no(errors, &self.express_no);
    }
}

/// `open.seller.order.logistics.update` (POST): correct a shipped order's tracking.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogisticsUpdate {
    pub order_id: i64,
    pub express_code: i32,
    pub express_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logistics_id: Option<i64>,
}

impl KsRequest for LogisticsUpdate {
    const METHOD: &'static str = "open.seller.order.logistics.update";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        express_no(errors, &self.express_no);
    }
}

/// `open.express.subscribe.query` (POST): the express companies the seller has
/// e-waybill subscriptions with (all, or one `expressCompanyCode`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpressSubscriptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub express_company_code: Option<String>,
}

impl KsRequest for ExpressSubscriptions {
    const METHOD: &'static str = "open.express.subscribe.query";
    type Response = serde_json::Value;
}

fn express_no(errors: &mut FieldErrors, no: &str) {
    if no.trim().is_empty() || no.len() > 64 {
        errors.add("expressNo", tr!("1 到 64 个字符", "1 to 64 characters"));
    }
}
