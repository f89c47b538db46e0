//! WeChat Pay and Alipay stand-ins: each checks the merchant's RSA signature and
//! answers (and notifies) signed with the vectors' test-only platform keys.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use shopops_integrations::client::rsa::{RsaSigner, RsaVerifier};
use shopops_integrations::client::wechatpay;

use super::{header, nonce, serve, vector, vector_keys, Shared};

// ---------------------------------------------------------------- WeChat Pay

#[derive(Default)]
pub struct Wechat {
    /// Order creation answers 503 SYSTEM_ERROR (queries still work).
    pub down: bool,
    /// Order creation never answers in time (and creates nothing).
    pub hang: bool,
    /// Order creation takes the order but answers too late.
    pub takes_then_hangs: bool,
    /// Order queries answer 503.
    pub queries_down: bool,
    /// Certificate mode: answers signed with the platform certificate's key and serial
    /// (not the platform public key), certificates served at `/v3/certificates`. Read
    /// when the stand-in starts.
    pub certificate_mode: bool,
    pub certificate_downloads: usize,
    /// The `/v3/certificates` answer signed with a key that is not the certificate's.
    pub forge_certificate_list: bool,
    pub orders: HashMap<String, Value>,
    pub refunds: Vec<Value>,
    /// Refunds are answered `PROCESSING` (accepted, money not back yet), not `SUCCESS`.
    pub refunds_processing: bool,
    pub refused_signatures: usize,
    pub calls: usize,
}

pub struct WechatKeys {
    pub merchant: RsaVerifier,
    /// What answers and notifications are signed with, and the serial they name.
    pub platform: Arc<RsaSigner>,
    pub serial: String,
    /// The `/v3/certificates` answer of vector 13 (the certificate encrypted with the
    /// APIv3 key).
    pub certificate_list: String,
    /// A key of nobody's certificate, for forged answers.
    pub forger: RsaSigner,
}

fn wechat_reply(keys: &WechatKeys, status: u16, body: &str) -> HttpResponse {
    wechat_reply_signed(&keys.platform, keys, status, body)
}

/// An answer signed with `signer` under the stand-in's serial.
fn wechat_reply_signed(
    signer: &RsaSigner,
    keys: &WechatKeys,
    status: u16,
    body: &str,
) -> HttpResponse {
    let ts = chrono::Utc::now().timestamp().to_string();
    let n = nonce();
    let signature = signer.sign_b64(wechatpay::verification_message(&ts, &n, body).as_bytes());
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("Wechatpay-Timestamp", ts))
        .insert_header(("Wechatpay-Nonce", n))
        .insert_header(("Wechatpay-Signature", signature))
        .insert_header(("Wechatpay-Serial", keys.serial.clone()))
        .insert_header(("Wechatpay-Signature-Type", wechatpay::SIGNATURE_TYPE))
        .content_type("application/json")
        .body(body.to_string())
}

fn wechat_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({ "code": code, "message": message }))
}

/// The Authorization fields, in any order.
fn wechat_auth_fields(auth: &str) -> HashMap<String, String> {
    auth.trim_start_matches(wechatpay::SIGNATURE_TYPE)
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            Some((k.to_string(), v.trim_matches('"').to_string()))
        })
        .collect()
}

async fn wechat_api(
    req: HttpRequest,
    body: String,
    state: web::Data<Shared<Wechat>>,
    keys: web::Data<WechatKeys>,
) -> HttpResponse {
    let auth = wechat_auth_fields(header(&req, "Authorization"));
    let url = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("")
        .to_string();
    let message = format!(
        "{}\n{url}\n{}\n{}\n{body}\n",
        req.method(),
        auth.get("timestamp").cloned().unwrap_or_default(),
        auth.get("nonce_str").cloned().unwrap_or_default()
    );
    let signed = auth
        .get("signature")
        .is_some_and(|s| keys.merchant.verify_b64(message.as_bytes(), s));
    if !signed {
        state.lock().unwrap().refused_signatures += 1;
        return wechat_error(401, "SIGN_ERROR", "签名错误");
    }
    let path = req.path().to_string();
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    if path.starts_with("/v3/pay/transactions/")
        && req.method() == "POST"
        && !path.ends_with("/close")
    {
        let (down, hang, takes_then_hangs) = {
            let mut s = state.lock().unwrap();
            s.calls += 1;
            (s.down, s.hang, s.takes_then_hangs)
        };
        if hang {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            return wechat_error(500, "SYSTEM_ERROR", "too late");
        }
        if down {
            return wechat_error(503, "SYSTEM_ERROR", "系统繁忙");
        }
        let no = request["out_trade_no"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        state.lock().unwrap().orders.insert(no.clone(), json!({ "mchid": request["mchid"], "appid": request["appid"], "out_trade_no": no, "trade_state": "NOTPAY", "amount": { "total": request["amount"]["total"] } }));
        if takes_then_hangs {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            return wechat_error(500, "SYSTEM_ERROR", "too late");
        }
        let answer = match path.rsplit('/').next().unwrap_or_default() {
            "native" => json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={no}") }),
            "h5" => {
                json!({ "h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={no}") })
            }
            _ => json!({ "prepay_id": format!("wx{no}") }),
        };
        return wechat_reply(&keys, 200, &answer.to_string());
    }
    if let Some(no) = path.strip_prefix("/v3/pay/transactions/out-trade-no/") {
        if let Some(no) = no.strip_suffix("/close") {
            let mut s = state.lock().unwrap();
            if let Some(o) = s.orders.get_mut(no) {
                o["trade_state"] = json!("CLOSED");
            }
            return wechat_reply(&keys, 204, "");
        }
        let s = state.lock().unwrap();
        if s.queries_down {
            return wechat_error(503, "SYSTEM_ERROR", "系统繁忙");
        }
        return match s.orders.get(no) {
            Some(o) => wechat_reply(&keys, 200, &o.to_string()),
            None => wechat_error(404, "ORDER_NOT_EXIST", "订单不存在"),
        };
    }
    if path == "/v3/certificates" && req.method() == "GET" {
        let forge = {
            let mut s = state.lock().unwrap();
            s.certificate_downloads += 1;
            s.forge_certificate_list
        };
        let signer = if forge { &keys.forger } else { &*keys.platform };
        return wechat_reply_signed(signer, &keys, 200, &keys.certificate_list);
    }
    if path == "/v3/refund/domestic/refunds" {
        let mut s = state.lock().unwrap();
        s.refunds.push(request.clone());
        let status = if s.refunds_processing {
            "PROCESSING"
        } else {
            "SUCCESS"
        };
        let answer = json!({ "refund_id": format!("50000{}", s.refunds.len()), "out_refund_no": request["out_refund_no"], "status": status });
        return wechat_reply(&keys, 200, &answer.to_string());
    }
    wechat_error(404, "NOT_FOUND", "no such API")
}

/// A running WeChat Pay stand-in and what it signs with.
pub struct WechatStandIn {
    pub url: String,
    pub platform: Arc<RsaSigner>,
    pub serial: String,
}

pub async fn wechat(state: Shared<Wechat>) -> WechatStandIn {
    let certificate_mode = state.lock().unwrap().certificate_mode;
    let v = vector("wechatpay", "13-platform-certificate-mode");
    let k = &v["keys"];
    let (key, serial) = if certificate_mode {
        (
            "_test_only_platform_cert_private_key_pem",
            "platform_certificate_serial_no",
        )
    } else {
        (
            "_test_only_platform_private_key_pem",
            "platform_public_key_id",
        )
    };
    let platform = Arc::new(RsaSigner::from_pem(k[key].as_str().unwrap()).unwrap());
    let serial = k[serial].as_str().unwrap().to_string();
    let keys = web::Data::new(WechatKeys {
        merchant: RsaVerifier::from_pem_or_base64(k["merchant_public_key_pem"].as_str().unwrap())
            .unwrap(),
        platform: platform.clone(),
        serial: serial.clone(),
        certificate_list: v["expected"]["certificate_download"]["response_body"]
            .as_str()
            .unwrap()
            .to_string(),
        forger: RsaSigner::from_pem(k["merchant_private_key_pem"].as_str().unwrap()).unwrap(),
    });
    let state = web::Data::new(state);
    let url = serve(move |cfg| {
        cfg.app_data(state.clone())
            .app_data(keys.clone())
            .default_service(web::to(wechat_api));
    })
    .await;
    WechatStandIn {
        url,
        platform,
        serial,
    }
}

/// The decrypted resource of a WeChat Pay `TRANSACTION.SUCCESS` notification.
pub fn wechat_paid(out_trade_no: &str, transaction_id: &str, total: i64) -> Value {
    json!({ "mchid": "1900000109", "appid": "wxd678efh567hg6787", "out_trade_no": out_trade_no, "transaction_id": transaction_id,
        "trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "success_time": "2026-12-01T10:00:00+08:00",
        "amount": { "total": total, "payer_total": total, "currency": "CNY" } })
}

impl WechatStandIn {
    /// A notification for `resource`, encrypted with the vectors' APIv3 key and signed
    /// as this stand-in signs: (headers, body).
    pub fn notification(
        &self,
        event_type: &str,
        resource: &Value,
    ) -> (Vec<(String, String)>, String) {
        self.notification_as(&self.serial, event_type, resource)
    }

    /// The same, naming `serial` as the signing key.
    pub fn notification_as(
        &self,
        serial: &str,
        event_type: &str,
        resource: &Value,
    ) -> (Vec<(String, String)>, String) {
        wechat_notification(&self.platform, serial, event_type, resource)
    }
}

fn wechat_notification(
    platform: &RsaSigner,
    serial: &str,
    event_type: &str,
    resource: &Value,
) -> (Vec<(String, String)>, String) {
    use aes_gcm::aead::{Aead, Payload};
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
    use base64::Engine;
    let apiv3_key = vector_keys("wechatpay", "01-native-prepay")["apiv3_key"]
        .as_str()
        .unwrap()
        .to_string();
    let n12 = &nonce()[..12];
    let cipher = Aes256Gcm::new_from_slice(apiv3_key.as_bytes()).unwrap();
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(n12.as_bytes()),
            Payload {
                msg: resource.to_string().as_bytes(),
                aad: b"transaction",
            },
        )
        .unwrap();
    let body = json!({
        "id": format!("EV-{}", nonce()), "create_time": "2026-12-01T10:00:00+08:00", "resource_type": "encrypt-resource",
        "event_type": event_type, "summary": "支付成功",
        "resource": { "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64::engine::general_purpose::STANDARD.encode(sealed), "associated_data": "transaction", "nonce": n12 },
    })
    .to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let n = nonce();
    let signature = platform.sign_b64(wechatpay::verification_message(&ts, &n, &body).as_bytes());
    let headers = vec![
        ("Wechatpay-Timestamp".into(), ts),
        ("Wechatpay-Nonce".into(), n),
        ("Wechatpay-Signature".into(), signature),
        ("Wechatpay-Serial".into(), serial.to_string()),
        (
            "Wechatpay-Signature-Type".into(),
            wechatpay::SIGNATURE_TYPE.into(),
        ),
        ("Content-Type".into(), "application/json".into()),
    ];
    (headers, body)
}

// ---------------------------------------------------------------- Alipay

#[derive(Default)]
pub struct Alipay {
    pub orders: HashMap<String, Value>,
    pub refused_signatures: usize,
    pub calls: Vec<String>,
}

struct AlipayKeys {
    app: RsaVerifier,
    alipay: Arc<RsaSigner>,
}

async fn alipay_api(
    req: HttpRequest,
    body: String,
    state: web::Data<Shared<Alipay>>,
    keys: web::Data<AlipayKeys>,
) -> HttpResponse {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.extend(
        form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let content = shopops_integrations::client::alipay::sign_content(
        params.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))),
    );
    let method = get("method");
    let key = shopops_integrations::client::alipay::response_key(&method);
    let respond = |inner: Value| {
        let text = inner.to_string();
        let sign = keys.alipay.sign_b64(text.as_bytes());
        HttpResponse::Ok()
            .content_type("application/json;charset=utf-8")
            .body(format!("{{\"{key}\":{text},\"sign\":\"{sign}\"}}"))
    };
    if !keys.app.verify_b64(content.as_bytes(), &get("sign")) {
        state.lock().unwrap().refused_signatures += 1;
        return respond(
            json!({ "code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错" }),
        );
    }
    let biz: Value = serde_json::from_str(&get("biz_content")).unwrap_or_default();
    let no = biz["out_trade_no"].as_str().unwrap_or_default().to_string();
    let mut s = state.lock().unwrap();
    s.calls.push(method.clone());
    match method.as_str() {
        "alipay.trade.precreate" => {
            s.orders.insert(no.clone(), json!({ "out_trade_no": no, "total_amount": biz["total_amount"], "trade_status": "WAIT_BUYER_PAY", "trade_no": format!("2026{no}") }));
            respond(
                json!({ "code": "10000", "msg": "Success", "out_trade_no": no, "qr_code": format!("https://qr.alipay.com/{no}") }),
            )
        }
        "alipay.trade.query" => match s.orders.get(&no) {
            Some(o) => respond(
                json!({ "code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": o["trade_no"], "trade_status": o["trade_status"], "total_amount": o["total_amount"] }),
            ),
            None => respond(
                json!({ "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在" }),
            ),
        },
        "alipay.trade.close" => {
            if let Some(o) = s.orders.get_mut(&no) {
                o["trade_status"] = json!("TRADE_CLOSED");
            }
            respond(json!({ "code": "10000", "msg": "Success", "out_trade_no": no }))
        }
        "alipay.trade.refund" => respond(
            json!({ "code": "10000", "msg": "Success", "out_trade_no": no, "fund_change": "Y", "refund_fee": biz["refund_amount"] }),
        ),
        _ => respond(
            json!({ "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.INVALID_METHOD", "sub_msg": method }),
        ),
    }
}

pub async fn alipay(state: Shared<Alipay>) -> (String, Arc<RsaSigner>) {
    let k = vector_keys("alipay", "01-trade-precreate");
    let signer = Arc::new(
        RsaSigner::from_pem(k["_test_only_alipay_private_key_pem"].as_str().unwrap()).unwrap(),
    );
    let keys = web::Data::new(AlipayKeys {
        app: RsaVerifier::from_pem_or_base64(k["app_public_key_pem"].as_str().unwrap()).unwrap(),
        alipay: signer.clone(),
    });
    let state = web::Data::new(state);
    let url = serve(move |cfg| {
        cfg.app_data(state.clone())
            .app_data(keys.clone())
            .default_service(web::to(alipay_api));
    })
    .await;
    (format!("{url}/gateway.do"), signer)
}

/// An Alipay async notification form, signed with the test Alipay key.
pub fn alipay_notification(signer: &RsaSigner, fields: &[(&str, &str)]) -> String {
    let content = shopops_integrations::client::alipay::notify_content(fields.iter().copied());
    let sign = signer.sign_b64(content.as_bytes());
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("sign_type", "RSA2"));
    all.push(("sign", &sign));
    shopops_kernel::encoding::form(&all)
}
