//! Refunds (after-sales): list, detail, approve, reject, approve a return.

use serde::{Deserialize, Serialize};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::tr;

use super::orders::time_window;
use super::{lenient_i64, CursorPaged, Extra, KsRequest};

fn default_refund_page_size() -> u32 {
    20
}

/// `open.seller.order.refund.pcursor.list` (GET): refunds in `[beginTime, endTime)`.
/// `pageSize` is always sent (the SDK's default is 20).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundPcursorList {
    pub begin_time: i64,
    pub end_time: i64,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<i32>,
    #[serde(default = "default_refund_page_size")]
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_type: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negotiate_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
}

impl RefundPcursorList {
    pub fn new(begin_time: i64, end_time: i64) -> Self {
        Self {
            begin_time,
            end_time,
            kind: None,
            page_size: default_refund_page_size(),
            current_page: None,
            sort: None,
            query_type: None,
            negotiate_status: None,
            pcursor: None,
            status: None,
            option: None,
            order_id: None,
        }
    }
}

impl KsRequest for RefundPcursorList {
    const METHOD: &'static str = "open.seller.order.refund.pcursor.list";
    type Response = RefundPage;

    fn validate(&self, errors: &mut FieldErrors) {
        time_window(errors, self.begin_time, self.end_time);
        if self.page_size == 0 || self.page_size > 100 {
            errors.add("pageSize", tr!("1 到 100 之间", "between 1 and 100"));
        }
    }
}

impl CursorPaged for RefundPcursorList {
    fn cursor(&self) -> Option<String> {
        self.pcursor.clone()
    }

    fn at_cursor(&self, pcursor: Option<String>) -> Self {
        Self {
            pcursor,
            ..self.clone()
        }
    }

    fn page_info(page: &RefundPage) -> (usize, Option<String>) {
        (page.refund_order_list.len(), page.pcursor.clone())
    }
}

/// One page of refunds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RefundPage {
    #[serde(alias = "refundOrderInfoList", alias = "refundList")]
    pub refund_order_list: Vec<RefundInfo>,
    #[serde(alias = "cursor")]
    pub pcursor: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `open.seller.order.refund.detail` (GET).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundDetail {
    pub refund_id: i64,
}

impl KsRequest for RefundDetail {
    const METHOD: &'static str = "open.seller.order.refund.detail";
    type Response = RefundInfo;
}

/// `open.seller.order.refund.approve` (POST): agree to a refund of `refundAmount` fen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundApprove {
    pub refund_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    pub refund_amount: i64,
    pub status: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negotiate_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_handing_way: Option<i32>,
}

impl KsRequest for RefundApprove {
    const METHOD: &'static str = "open.seller.order.refund.approve";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        positive_amount(errors, self.refund_amount);
    }
}

/// `open.refund.reject` (POST): refuse a refund, with a reason and evidence images.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundReject {
    pub refund_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_desc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_images: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_handling_way: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_return_address_id: Option<i64>,
}

impl KsRequest for RefundReject {
    const METHOD: &'static str = "open.refund.reject";
    type Response = serde_json::Value;
}

/// `open.seller.order.refund.returngoods.approve` (POST): agree to a return to
/// `addressId`, refunding `refundAmount` fen once the goods arrive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnGoodsApprove {
    pub refund_id: i64,
    pub refund_amount: i64,
    pub address_id: i64,
}

impl KsRequest for ReturnGoodsApprove {
    const METHOD: &'static str = "open.seller.order.refund.returngoods.approve";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        positive_amount(errors, self.refund_amount);
    }
}

fn positive_amount(errors: &mut FieldErrors, amount: i64) {
    if amount <= 0 {
        errors.add(
            "refundAmount",
            tr!("以分为单位的正数金额", "a positive amount in fen"),
        );
    }
}

/// A refund (after-sales order); amounts in fen, times in epoch ms.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RefundInfo {
    #[serde(deserialize_with = "lenient_i64")]
    pub refund_id: Option<i64>,
    #[serde(deserialize_with = "lenient_i64", alias = "oid")]
    pub order_id: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub status: Option<i64>,
    /// 1 return and refund, 10 refund only, 3 exchange, 4 resend, 5 repair.
    #[serde(deserialize_with = "lenient_i64")]
    pub handling_way: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub negotiate_status: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub refund_fee: Option<i64>,
    pub refund_reason_desc: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub create_time: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub update_time: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}
