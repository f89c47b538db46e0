//! Items: list, get, stock and price updates, shelf status.

use serde::{Deserialize, Serialize};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::tr;

use super::{lenient_i64, Extra, KsRequest};

/// `open.item.list.get` (GET): `pageNumber` and `pageSize` are always sent (SDK
/// defaults 1 and 20).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kwai_item_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rel_item_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_type: Option<i32>,
    pub page_number: u32,
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_offline_status: Option<i32>,
}

impl Default for ItemList {
    fn default() -> Self {
        Self {
            kwai_item_id: None,
            rel_item_id: None,
            item_status: None,
            item_type: None,
            page_number: 1,
            page_size: 20,
            on_offline_status: None,
        }
    }
}

impl KsRequest for ItemList {
    const METHOD: &'static str = "open.item.list.get";
    type Response = ItemPage;

    fn validate(&self, errors: &mut FieldErrors) {
        if self.page_number == 0 {
            errors.add("pageNumber", tr!("从 1 开始", "starts at 1"));
        }
        if self.page_size == 0 || self.page_size > 100 {
            errors.add("pageSize", tr!("1 到 100 之间", "between 1 and 100"));
        }
    }
}

/// One page of items.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ItemPage {
    #[serde(alias = "itemList")]
    pub items: Vec<ItemInfo>,
    #[serde(deserialize_with = "lenient_i64", alias = "totalCount")]
    pub total: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `open.item.get` (GET).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemGet {
    pub kwai_item_id: i64,
}

impl KsRequest for ItemGet {
    const METHOD: &'static str = "open.item.get";
    type Response = ItemInfo;
}

/// `open.item.sku.stock.update` (POST): change a SKU's stock by `skuChangeStock`
/// (`changeType` 1 add, 2 subtract).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuStockUpdate {
    pub kwai_item_id: i64,
    pub sku_id: i64,
    pub sku_change_stock: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_type: Option<i32>,
}

impl KsRequest for SkuStockUpdate {
    const METHOD: &'static str = "open.item.sku.stock.update";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        if self.sku_change_stock < 0 {
            errors.add(
                "skuChangeStock",
                tr!(
                    "不能为负数；减库存请用 changeType 2",
                    "not negative; use changeType 2 to subtract"
                ),
            );
        }
        if self.change_type.is_some_and(|t| t != 1 && t != 2) {
            errors.add(
                "changeType",
                tr!("1（增加）或 2（减少）", "1 (add) or 2 (subtract)"),
            );
        }
    }
}

/// `open.item.sku.price.update` (POST): a SKU's price in fen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuPriceUpdate {
    pub item_id: i64,
    pub price: i64,
    pub sku_id: i64,
}

impl KsRequest for SkuPriceUpdate {
    const METHOD: &'static str = "open.item.sku.price.update";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        if self.price <= 0 {
            errors.add(
                "price",
                tr!("以分为单位的正数价格", "a positive price in fen"),
            );
        }
    }
}

/// `open.item.shelf.status.update` (POST): 1 on the shelf, 0 off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShelfStatusUpdate {
    pub kwai_item_id: i64,
    pub shelf_status: i32,
}

impl KsRequest for ShelfStatusUpdate {
    const METHOD: &'static str = "open.item.shelf.status.update";
    type Response = serde_json::Value;

    fn validate(&self, errors: &mut FieldErrors) {
        if self.shelf_status != 0 && self.shelf_status != 1 {
            errors.add(
                "shelfStatus",
                tr!("1（上架）或 0（下架）", "1 (on the shelf) or 0 (off)"),
            );
        }
    }
}

/// An item; prices in fen.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ItemInfo {
    #[serde(deserialize_with = "lenient_i64", alias = "itemId")]
    pub kwai_item_id: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub rel_item_id: Option<i64>,
    pub title: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub item_status: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub shelf_status: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub category_id: Option<i64>,
    #[serde(alias = "skuInfos")]
    pub sku_list: Vec<serde_json::Value>,
    #[serde(flatten)]
    pub extra: Extra,
}
