//! The shop's and the seller's own information (no business parameters: no `param`).

use serde::{Deserialize, Serialize};

use super::{lenient_i64, Extra, KsRequest};

/// `open.shop.info.get` (GET).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShopInfo {}

impl KsRequest for ShopInfo {
    const METHOD: &'static str = "open.shop.info.get";
    type Response = ShopInfoData;
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ShopInfoData {
    #[serde(deserialize_with = "lenient_i64")]
    pub shop_id: Option<i64>,
    pub shop_name: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub shop_type: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `open.user.seller.get` (GET).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SellerInfo {}

impl KsRequest for SellerInfo {
    const METHOD: &'static str = "open.user.seller.get";
    type Response = SellerInfoData;
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SellerInfoData {
    #[serde(deserialize_with = "lenient_i64")]
    pub seller_id: Option<i64>,
    pub name: Option<String>,
    pub open_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}
