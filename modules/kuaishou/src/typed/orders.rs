//! Orders: cursor list, seller pcursor list, detail, seller detail, note, close.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::tr;

use super::{lenient_i64, CursorPaged, KsRequest, Raw};

/// `open.order.cursor.list` (GET): orders created or updated in `[beginTime, endTime)`
/// (epoch ms), one cursor page at a time; `queryType` 1 = by create time, 2 = by
/// update time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCursorList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_view_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_type: Option<i32>,
    pub begin_time: i64,
    pub end_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cps_type: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl KsRequest for OrderCursorList {
    const METHOD: &'static str = "open.order.cursor.list";
    type Response = OrderCursorPage;

    fn validate(&self, errors: &mut FieldErrors) {
        time_window(errors, self.begin_time, self.end_time);
        page_size(errors, self.page_size, 100);
    }
}

impl CursorPaged for OrderCursorList {
    fn cursor(&self) -> Option<String> {
        self.cursor.clone()
    }

    fn at_cursor(&self, cursor: Option<String>) -> Self {
        Self {
            cursor,
            ..self.clone()
        }
    }

    fn page_info(page: &OrderCursorPage) -> (usize, Option<String>) {
        (page.order_list.len(), page.cursor.clone())
    }
}

/// One page of `open.order.cursor.list`: `cursor` is `"nomore"` on the last page.
/// Each order is kept with the exact text it came in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderCursorPage {
    #[serde(alias = "orderInfoList")]
    pub order_list: Vec<Order>,
    #[serde(alias = "pcursor")]
    pub cursor: Option<String>,
}

/// An order: its typed parts and the JSON it was read from.
pub type Order = Raw<OrderInfo>;

/// `open.seller.order.pcursor.list` (GET): the seller's orders, `pcursor` pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerOrderPcursorList {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_type: Option<i32>,
    pub begin_time: i64,
    pub end_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cps_type: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcursor: Option<String>,
}

impl KsRequest for SellerOrderPcursorList {
    const METHOD: &'static str = "open.seller.order.pcursor.list";
    type Response = OrderCursorPage;

    fn validate(&self, errors: &mut FieldErrors) {
        time_window(errors, self.begin_time, self.end_time);
        page_size(errors, self.page_size, 100);
    }
}

/// `open.order.detail` (GET).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderDetail {
    pub oid: i64,
}

impl KsRequest for OrderDetail {
    const METHOD: &'static str = "open.order.detail";
    type Response = Order;
}

/// `open.seller.order.detail` (GET).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerOrderDetail {
    pub order_id: i64,
}

impl KsRequest for SellerOrderDetail {
    const METHOD: &'static str = "open.seller.order.detail";
    type Response = Order;
}

/// `open.seller.order.note.add` (POST): a seller note (≤ 500 characters) and flag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderNoteAdd {
    pub order_id: i64,
    pub note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<i32>,
}

impl KsRequest for OrderNoteAdd {
    const METHOD: &'static str = "open.seller.order.note.add";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        if self.note.chars().count() > 500 {
            errors.add("note", tr!("最多 500 个字符", "at most 500 characters"));
        }
    }
}

/// `open.seller.order.close` (POST): close an unpaid order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderClose {
    pub order_id: i64,
}

impl KsRequest for OrderClose {
    const METHOD: &'static str = "open.seller.order.close";
    type Response = serde_json::Value;
}

/// An order as the platform describes it: `orderBaseInfo` + `orderItemInfo` (delivery,
/// address and refund parts stay in the [`Order`]'s JSON). Some answers put the base
/// fields at the top level; [`Order::base`] reads both.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_base_info: Option<OrderBaseInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_item_info: Option<OrderItemInfo>,
    #[serde(alias = "itemList", skip_serializing_if = "Vec::is_empty")]
    pub order_item_list: Vec<OrderItemInfo>,
}

impl Order {
    /// The base fields, from `orderBaseInfo` or from the top level.
    pub fn base(&self) -> Option<Cow<'_, OrderBaseInfo>> {
        if let Some(base) = &self.value.order_base_info {
            return Some(Cow::Borrowed(base));
        }
        serde_json::from_str::<OrderBaseInfo>(self.json.get())
            .ok()
            .filter(|b| b.oid.is_some())
            .map(Cow::Owned)
    }

    /// Every item line (`orderItemInfo` or a list).
    pub fn items(&self) -> impl Iterator<Item = &OrderItemInfo> {
        self.value
            .order_item_info
            .iter()
            .chain(self.value.order_item_list.iter())
    }
}

/// `orderBaseInfo`: amounts in fen, times in epoch ms.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderBaseInfo {
    #[serde(deserialize_with = "lenient_i64", alias = "orderId")]
    pub oid: Option<i64>,
    /// 10 unpaid, 30 paid, 40 shipped, 50 received, 70 succeeded, 80 failed.
    #[serde(deserialize_with = "lenient_i64")]
    pub status: Option<i64>,
    pub buyer_open_id: Option<String>,
    pub buyer_nick: Option<String>,
    pub seller_open_id: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub total_fee: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub express_fee: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub discount_fee: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub pay_time: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub create_time: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub update_time: Option<i64>,
    pub remark: Option<String>,
}

/// `orderItemInfo`: one item line; prices in fen.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderItemInfo {
    #[serde(deserialize_with = "lenient_i64")]
    pub item_id: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub sku_id: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub rel_sku_id: Option<i64>,
    #[serde(alias = "title")]
    pub item_title: Option<String>,
    pub sku_desc: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub num: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub price: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub original_price: Option<i64>,
    pub item_pic_url: Option<String>,
}

pub(crate) fn time_window(errors: &mut FieldErrors, begin: i64, end: i64) {
    if begin < 0 {
        errors.add(
            "beginTime",
            tr!("毫秒时间戳，不能为负数", "epoch milliseconds, not negative"),
        );
    }
    if end <= begin {
        errors.add(
            "endTime",
            tr!("必须晚于 beginTime", "must be after beginTime"),
        );
    }
}

pub(crate) fn page_size(errors: &mut FieldErrors, size: Option<u32>, max: u32) {
    if size.is_some_and(|s| s == 0 || s > max) {
        errors.add("pageSize", tr!("1 到 {max} 之间", "between 1 and {max}"));
    }
}
