//! The typed requests of the core methods write the SDK's `param` byte for byte and
//! sign to the recorded sign (the vectors in `tests/fixtures/vectors`); typed answers
//! read the recorded bodies; the SDK's pre-send checks refuse what it refuses.

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use shopops_kuaishou::client::response::{classify, Outcome};
use shopops_kuaishou::client::{sign_call, AppCredentials, Call, SignMethod};
use shopops_kuaishou::platform::decode;
use shopops_kuaishou::typed::cs::CsMessageSend;
use shopops_kuaishou::typed::items::{ItemGet, ItemList, ShelfStatusUpdate, SkuStockUpdate};
use shopops_kuaishou::typed::logistics::{LogisticsUpdate, OrderShip};
use shopops_kuaishou::typed::orders::{
    Order, OrderCursorList, OrderDetail, OrderNoteAdd, SellerOrderDetail, SellerOrderPcursorList,
};
use shopops_kuaishou::typed::refunds::{
    RefundApprove, RefundDetail, RefundPcursorList, RefundReject,
};
use shopops_kuaishou::typed::shop::{SellerInfo, SellerInfoData, ShopInfo};
use shopops_kuaishou::typed::{check, param_json, KsRequest};

fn vector(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The typed request's `param` and sign equal the vector's.
fn same_as_vector<R: KsRequest>(name: &str, request: R) {
    let v = vector(name);
    let inputs = &v["inputs"];
    assert_eq!(inputs["method"], R::METHOD, "{name}: method");
    check(&request).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let param = param_json(&request).unwrap();
    assert_eq!(
        param.as_deref(),
        inputs["param_json"].as_str(),
        "{name}: param"
    );
    let app = AppCredentials {
        app_key: inputs["app_key"].as_str().unwrap().into(),
        sign_secret: inputs["sign_secret"].as_str().unwrap().into(),
        sign_method: serde_json::from_value::<SignMethod>(inputs["sign_method"].clone()).unwrap(),
    };
    let signed = sign_call(
        &app,
        &Call {
            method: R::METHOD,
            access_token: inputs["access_token"].as_str().unwrap(),
            param_json: param.as_deref(),
            timestamp: inputs["timestamp"].as_str().unwrap().into(),
        },
    )
    .unwrap();
    assert_eq!(signed.sign, v["sign"].as_str().unwrap(), "{name}: sign");
}

#[test]
fn orders_and_logistics() {
    let (begin, end) = (1735603200000, 1735689599000);
    same_as_vector(
        "order_cursor_list_hmac",
        OrderCursorList {
            page_size: Some(50),
            begin_time: begin,
            end_time: end,
            ..Default::default()
        },
    );
    same_as_vector(
        "order_cursor_list_md5",
        OrderCursorList {
            page_size: Some(100),
            begin_time: begin,
            end_time: end,
            cursor: Some("MjAyNS0wMS0wMVQwMDowMDowMA==".into()),
            ..Default::default()
        },
    );
    same_as_vector(
        "seller_order_pcursor_list_hmac",
        SellerOrderPcursorList {
            kind: Some(1),
            current_page: Some(1),
            page_size: Some(20),
            sort: Some(1),
            query_type: Some(2),
            begin_time: begin,
            end_time: end,
            cps_type: Some(0),
            pcursor: Some(String::new()),
        },
    );
    same_as_vector(
        "order_detail_md5_string_id",
        OrderDetail {
            oid: 2419800012345678,
        },
    );
    same_as_vector(
        "access_token_special_chars",
        SellerOrderDetail {
            order_id: 2419800012345678,
        },
    );
    same_as_vector(
        "order_note_add_chinese",
        OrderNoteAdd {
            order_id: 2419800012345678,
            note: "客户要求周末送达，包装加固！联系人：王先生".into(),
            staff_id: None,
            flag: Some(2),
        },
    );
    same_as_vector(
        "order_ship_post_lists",
        OrderShip {
            order_id: 2419800012345678,
            express_no: "SF1234567890123".into(),
            express_code: 4,
            serial_number_list: Some(vec!["SN-0001".into(), "SN 0002".into()]),
            imei_list: Some(vec![]),
            ..Default::default()
        },
    );
    same_as_vector(
        "logistics_order_logistics_update",
        LogisticsUpdate {
            order_id: 2419800012345678,
            express_code: 4,
            express_no: "SF7777777777777".into(),
            logistics_id: Some(1),
        },
    );
}

#[test]
fn refunds() {
    let mut list = RefundPcursorList::new(1735603200000, 1735689599000);
    list.kind = Some(1);
    list.status = Some(10);
    list.pcursor = Some("abc".into());
    same_as_vector("refund_pcursor_list_get", list);
    same_as_vector(
        "refund_detail_md5",
        RefundDetail {
            refund_id: 1120000123456789,
        },
    );
    same_as_vector(
        "refund_approve_post",
        RefundApprove {
            refund_id: 1120000123456789,
            desc: Some("同意退款，请尽快寄回".into()),
            refund_amount: 5990,
            status: 10,
            negotiate_status: Some(1),
            refund_handing_way: None,
        },
    );
    same_as_vector(
        "refund_reject_special_chars",
        RefundReject {
            refund_id: 1120000123456789,
            reason_code: Some(3),
            reject_desc: Some("A&B=C+D 100% ok? #1 / 商品完好".into()),
            reject_images: Some(vec![
                "https://cdn.example.com/p.png?w=100&h=200&sig=a+b/c=".into(),
                "https://cdn.example.com/q.png".into(),
            ]),
            ..Default::default()
        },
    );
}

#[test]
fn items_shop_seller_and_messages() {
    same_as_vector("item_list_defaults", ItemList::default());
    same_as_vector(
        "item_get_md5",
        ItemGet {
            kwai_item_id: 22573648291,
        },
    );
    same_as_vector(
        "item_stock_update_md5",
        SkuStockUpdate {
            kwai_item_id: 22573648291,
            sku_id: 88001,
            sku_change_stock: 15,
            change_type: Some(2),
        },
    );
    same_as_vector(
        "item_shelf_status_async",
        ShelfStatusUpdate {
            kwai_item_id: 22573648291,
            shelf_status: 1,
        },
    );
    same_as_vector("shop_info_empty_params_hmac", ShopInfo {});
    same_as_vector("shop_info_empty_params_md5", ShopInfo {});
    same_as_vector("user_seller_get_success", SellerInfo {});
    same_as_vector(
        "cs_message_send_nested_escapes",
        CsMessageSend {
            to_user: Some(json!({ "nickName": "买家A", "role": 1 })),
            message_list: Some(vec![
                json!({ "contentType": 1, "content": "您好！\n订单已发货\t请查收 \"顺丰\" C:\\path 😀" }),
            ]),
            generator: Some(1),
            kind: Some(0),
            request_id: Some("cs-req-0001".into()),
            from_user: Some(json!({ "nickName": "客服小美", "role": 2 })),
            ..Default::default()
        },
    );
}

#[test]
fn typed_answers_read_the_recorded_bodies() {
    let v = vector("user_seller_get_success");
    let Outcome::Ok { data, .. } = classify(200, v["response_body"].as_str().unwrap()) else {
        panic!("not ok");
    };
    let seller: SellerInfoData = decode("open.user.seller.get", &data).unwrap();
    assert_eq!(seller.seller_id, Some(1234567890));
    assert_eq!(seller.name.as_deref(), Some("小店测试号"));
    assert_eq!(seller.open_id.as_deref(), Some("f0a1b2c3d4"));
    assert_eq!(seller.extra["sex"], "F", "unnamed fields are kept");
    // Ids as numbers or strings, the order's text kept whole; the answer of an empty
    // `data` is all defaults.
    let raw = |v: Value| serde_json::value::RawValue::from_string(v.to_string()).unwrap();
    let sent = json!({ "orderBaseInfo": { "oid": "2419800012345678", "status": 30, "totalFee": 5990 }, "orderItemInfo": { "itemId": 1, "num": 2 }, "orderAddress": { "province": "浙江省" } });
    let order: Order = decode("open.order.detail", &raw(sent.clone())).unwrap();
    let base = order.base().unwrap();
    assert_eq!(
        (base.oid, base.status, base.total_fee),
        (Some(2419800012345678), Some(30), Some(5990))
    );
    assert_eq!(order.items().next().unwrap().num, Some(2));
    assert_eq!(
        serde_json::to_value(&order).unwrap(),
        sent,
        "nothing the platform sent is lost"
    );
    let flat: Order = decode(
        "open.order.detail",
        &raw(json!({ "oid": 7, "updateTime": 5 })),
    )
    .unwrap();
    assert_eq!(flat.base().unwrap().update_time, Some(5));
    let empty: SellerInfoData = decode("open.user.seller.get", &raw(Value::Null)).unwrap();
    assert_eq!(empty.seller_id, None);
    let nothing: Value = decode("open.seller.order.note.add", &raw(Value::Null)).unwrap();
    assert_eq!(nothing, Value::Null);
    let wrong = decode::<SellerInfoData>("open.user.seller.get", &raw(json!([1, 2])));
    assert_eq!(wrong.unwrap_err().code, "KUAISHOU_UNEXPECTED_ANSWER");
}

#[test]
fn the_sdks_checks_refuse_before_sending() {
    let fields = |r: Result<(), shopops_kernel::error::FieldErrors>| {
        shopops_kernel::AppError::validation(r.unwrap_err()).details["field_errors"].clone()
    };
    let e = fields(check(&SkuStockUpdate {
        kwai_item_id: 1,
        sku_id: 1,
        sku_change_stock: -1,
        change_type: None,
    }));
    assert!(e.get("skuChangeStock").is_some(), "{e}");
    let e = fields(check(&RefundApprove {
        refund_id: 1,
        desc: None,
        refund_amount: 0,
        status: 10,
        negotiate_status: None,
        refund_handing_way: None,
    }));
    assert!(e.get("refundAmount").is_some(), "{e}");
    let e = fields(check(&OrderNoteAdd {
        order_id: 1,
        note: "长".repeat(501),
        staff_id: None,
        flag: None,
    }));
    assert!(e.get("note").is_some(), "{e}");
    let e = fields(check(&OrderCursorList {
        begin_time: 10,
        end_time: 10,
        page_size: Some(500),
        ..Default::default()
    }));
    assert!(
        e.get("endTime").is_some() && e.get("pageSize").is_some(),
        "{e}"
    );
    assert!(check(&OrderNoteAdd {
        order_id: 1,
        note: "长".repeat(500),
        staff_id: None,
        flag: None,
    })
    .is_ok());
}
