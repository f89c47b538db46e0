//! Local stand-ins for the providers no machine here can reach. Each checks every
//! request the way the provider does — WeChat Pay the RSA signature over
//! `METHOD\nURL\nTS\nNONCE\nBODY\n` with the merchant's public key, Alipay the RSA2 sign
//! over the sorted parameters with the app's public key, Tencent Cloud and Aliyun their
//! HMAC signatures recomputed from the request as received, COS its q-* signature, S3
//! its SigV4 (header or presigned query, the payload hash against the body),
//! Chaojiying the MD5 password — and answers in the provider's documented shapes,
//! signed with the test-only "platform" keys of the vectors where the provider signs.
//! A `down` switch makes one fail (503) to exercise failover.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use shopops_integrations::client::rsa::{RsaSigner, RsaVerifier};
use shopops_integrations::client::{aliyun, cos, digest, sigv4, tc3, wechatpay};

/// A vector file of the integrations module's fixtures.
pub fn vector(provider: &str, file: &str) -> Value {
    let path = format!(
        "{}/../../modules/integrations/tests/fixtures/vectors/{provider}/{file}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The keys of the vectors (merchant side and the test-only provider side).
pub fn vector_keys(provider: &str, file: &str) -> Value {
    vector(provider, file)["keys"].clone()
}

pub async fn serve(app: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static) -> String {
    let server = HttpServer::new(move || App::new().configure(app.clone()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    url
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

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

pub type Shared<T> = Arc<Mutex<T>>;

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

// ---------------------------------------------------------------- SMS

#[derive(Default)]
pub struct Sms {
    pub down: bool,
    /// How long each answer takes.
    pub delay: std::time::Duration,
    /// (message id, phone) of every accepted message.
    pub sent: Vec<(String, String)>,
    /// The provider's id of each, in the same order; every one is reported delivered.
    pub serials: Vec<String>,
    pub refused_signatures: usize,
    pub attempts: usize,
    /// Delivery-report queries answered.
    pub report_queries: usize,
}

pub const TENCENT_ID: &str = "AKIDe2eSmsSecretId";
pub const TENCENT_KEY: &str = "e2e-tencent-sms-secret-key";
pub const ALIYUN_ID: &str = "LTAIe2eAccessKeyId";
pub const ALIYUN_SECRET: &str = "e2e-aliyun-access-key-secret";

async fn tencent_api(
    req: HttpRequest,
    body: String,
    state: web::Data<Shared<Sms>>,
) -> HttpResponse {
    let auth = header(&req, "Authorization");
    let names = ["content-type".to_string(), "host".to_string()];
    let signed = tc3::Request {
        secret_id: TENCENT_ID,
        secret_key: TENCENT_KEY,
        service: "sms",
        host: header(&req, "Host"),
        action: header(&req, "X-TC-Action"),
        version: header(&req, "X-TC-Version"),
        region: Some(header(&req, "X-TC-Region")),
        language: None,
        token: None,
        timestamp: header(&req, "X-TC-Timestamp").parse().unwrap_or(0),
        http_method: req.method().as_str(),
        canonical_uri: req.path(),
        canonical_query_string: req.query_string(),
        content_type: header(&req, "Content-Type"),
        signed_header_names: &names,
        payload: &body,
    }
    .sign();
    let delay = state.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut s = state.lock().unwrap();
    s.attempts += 1;
    if s.down {
        return HttpResponse::ServiceUnavailable().body("upstream busy");
    }
    if signed.authorization != auth {
        s.refused_signatures += 1;
        return HttpResponse::Ok().json(json!({ "Response": { "Error": { "Code": "AuthFailure.SignatureFailure", "Message": "signature mismatch" }, "RequestId": nonce() } }));
    }
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    if header(&req, "X-TC-Action") == "PullSmsSendStatusByPhoneNumber" {
        let phone = request["PhoneNumber"].as_str().unwrap_or_default();
        if request["SmsSdkAppId"].as_str().is_none()
            || !request["BeginTime"].is_i64()
            || !request["Limit"].is_i64()
        {
            return HttpResponse::Ok().json(json!({ "Response": { "Error": { "Code": "MissingParameter", "Message": "SmsSdkAppId, BeginTime and Limit are required" }, "RequestId": nonce() } }));
        }
        s.report_queries += 1;
        let receipts: Vec<Value> = s
            .sent
            .iter()
            .zip(&s.serials)
            .filter(|((_, p), _)| p == phone)
            .map(|(_, serial)| json!({ "UserReceiveTime": "2026-12-01 12:00:05", "CountryCode": "86", "PhoneNumber": phone, "SerialNo": serial, "ReportStatus": "SUCCESS", "Description": "DELIVRD", "SessionContext": "" }))
            .collect();
        return HttpResponse::Ok().json(
            json!({ "Response": { "PullSmsSendStatusSet": receipts, "RequestId": nonce() } }),
        );
    }
    let phone = request["PhoneNumberSet"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    s.sent.push((
        request["SessionContext"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        phone.clone(),
    ));
    let serial = format!("2433:{}", nonce());
    s.serials.push(serial.clone());
    HttpResponse::Ok().json(json!({ "Response": { "SendStatusSet": [{ "SerialNo": serial, "PhoneNumber": phone, "Fee": 1, "SessionContext": request["SessionContext"], "Code": "Ok", "Message": "send success", "IsoCode": "CN" }], "RequestId": nonce() } }))
}

pub async fn tencent_sms(state: Shared<Sms>) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone())
            .default_service(web::to(tencent_api));
    })
    .await
}

async fn aliyun_api(req: HttpRequest, body: String, state: web::Data<Shared<Sms>>) -> HttpResponse {
    let auth = header(&req, "Authorization");
    let signed_names: Vec<String> = auth
        .split(',')
        .find_map(|p| p.trim().strip_prefix("SignedHeaders="))
        .unwrap_or_default()
        .split(';')
        .map(str::to_string)
        .collect();
    let headers: Vec<(String, String)> = signed_names
        .iter()
        .map(|n| (n.clone(), header(&req, n).to_string()))
        .collect();
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let signed = aliyun::acs3_sign(
        req.method().as_str(),
        req.path(),
        &query,
        &headers,
        body.as_bytes(),
        ALIYUN_ID,
        ALIYUN_SECRET,
    );
    let mut s = state.lock().unwrap();
    s.attempts += 1;
    if s.down {
        return HttpResponse::ServiceUnavailable()
            .json(json!({ "Code": "ServiceUnavailable", "Message": "busy" }));
    }
    if signed.authorization != auth {
        s.refused_signatures += 1;
        return HttpResponse::BadRequest().json(json!({ "Code": "SignatureDoesNotMatch", "Message": "Specified signature does not match our calculation." }));
    }
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if header(&req, "x-acs-action") == "QuerySendDetails" {
        let date_ok =
            get("SendDate").len() == 8 && get("SendDate").bytes().all(|b| b.is_ascii_digit());
        if !date_ok || get("PhoneNumber").is_empty() {
            return HttpResponse::Ok().json(json!({ "Code": "isv.INVALID_PARAMETERS", "Message": "PhoneNumber and SendDate (yyyyMMdd) are required" }));
        }
        s.report_queries += 1;
        let known = s
            .serials
            .iter()
            .zip(&s.sent)
            .any(|(id, (_, phone))| *id == get("BizId") && *phone == get("PhoneNumber"));
        let details: Vec<Value> = if known {
            vec![
                json!({ "SendStatus": 3, "ErrCode": "DELIVERED", "ReceiveDate": "2026-12-01 12:00:05", "PhoneNum": get("PhoneNumber") }),
            ]
        } else {
            vec![]
        };
        return HttpResponse::Ok().json(json!({ "Code": "OK", "Message": "OK", "TotalCount": details.len(), "SmsSendDetailDTOs": { "SmsSendDetailDTO": details }, "RequestId": nonce() }));
    }
    let serial = format!("9006^{}", nonce());
    s.sent.push((get("OutId"), get("PhoneNumbers")));
    s.serials.push(serial.clone());
    HttpResponse::Ok()
        .json(json!({ "Code": "OK", "Message": "OK", "BizId": serial, "RequestId": nonce() }))
}

pub async fn aliyun_sms(state: Shared<Sms>) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone())
            .default_service(web::to(aliyun_api));
    })
    .await
}

// ---------------------------------------------------------------- COS

#[derive(Default)]
pub struct Cos {
    pub down: bool,
    pub objects: HashMap<String, (String, Vec<u8>)>,
    pub refused_signatures: usize,
}

pub const COS_ID: &str = "AKIDe2eCosSecretId";
pub const COS_KEY: &str = "e2e-cos-secret-key";

/// Verifies a COS signature from the `Authorization` header or the query.
fn cos_signed(req: &HttpRequest) -> bool {
    let from_header = header(req, "Authorization").to_string();
    let source = if from_header.is_empty() {
        req.query_string().to_string()
    } else {
        from_header
    };
    let fields: HashMap<String, String> = form_urlencoded::parse(source.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let header_list = fields.get("q-header-list").cloned().unwrap_or_default();
    let headers: Vec<(String, String)> = header_list
        .split(';')
        .filter(|n| !n.is_empty())
        .map(|n| (n.to_string(), header(req, n).to_string()))
        .collect();
    let path = percent_decode(req.path());
    let signed = cos::sign(
        COS_ID,
        COS_KEY,
        req.method().as_str(),
        &path,
        &[],
        &headers,
        fields
            .get("q-key-time")
            .map(String::as_str)
            .unwrap_or_default(),
    );
    let end: i64 = fields
        .get("q-key-time")
        .and_then(|t| t.split(';').nth(1))
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    fields.get("q-signature") == Some(&signed.signature) && end >= chrono::Utc::now().timestamp()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

async fn cos_api(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Shared<Cos>>,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    if s.down {
        return HttpResponse::ServiceUnavailable()
            .body("<Error><Code>ServiceUnavailable</Code></Error>");
    }
    if !cos_signed(&req) {
        s.refused_signatures += 1;
        return HttpResponse::Forbidden().body("<Error><Code>SignatureDoesNotMatch</Code></Error>");
    }
    let key = percent_decode(req.path());
    match req.method().as_str() {
        "PUT" => {
            s.objects.insert(
                key,
                (header(&req, "Content-Type").to_string(), body.to_vec()),
            );
            HttpResponse::Ok()
                .insert_header(("ETag", "\"e2e\""))
                .finish()
        }
        "GET" => match s.objects.get(&key) {
            Some((ct, bytes)) => HttpResponse::Ok()
                .content_type(ct.clone())
                .body(bytes.clone()),
            None => HttpResponse::NotFound().body("<Error><Code>NoSuchKey</Code></Error>"),
        },
        "HEAD" if s.objects.contains_key(&key) => HttpResponse::Ok().finish(),
        "HEAD" => HttpResponse::NotFound().finish(),
        "DELETE" => {
            s.objects.remove(&key);
            HttpResponse::NoContent().finish()
        }
        _ => HttpResponse::Ok().finish(),
    }
}

pub async fn cos(state: Shared<Cos>) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone())
            .default_service(web::to(cos_api));
    })
    .await
}

// ---------------------------------------------------------------- S3

#[derive(Default)]
pub struct S3 {
    /// Path-style keys (`/bucket/key`, decoded) → (content type, bytes).
    pub objects: HashMap<String, (String, Vec<u8>)>,
    pub refused_signatures: usize,
}

pub const S3_ID: &str = "AKIAE2ES3ACCESSKEYID";
pub const S3_SECRET: &str = "e2e/s3+secret-access-key";
pub const S3_REGION: &str = "ap-guangzhou";

/// Verifies SigV4 as S3 does: the `Authorization` header (with `x-amz-content-sha256`
/// matching the body, `x-amz-date` within 15 minutes) or a presigned query (not
/// expired); the signature recomputed from the request as received.
fn s3_signed(req: &HttpRequest, body: &[u8]) -> bool {
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let field = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let date_of = |d: &str| {
        chrono::NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ")
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0)
    };
    let now = chrono::Utc::now().timestamp();
    let auth = header(req, "Authorization");
    let (credential, signed_headers, signature, amz_date, payload, signed_query) =
        if auth.is_empty() {
            let date = field("X-Amz-Date");
            let expires: i64 = field("X-Amz-Expires").parse().unwrap_or(0);
            if now > date_of(&date) + expires {
                return false;
            }
            let rest: Vec<_> = query
                .iter()
                .filter(|(k, _)| k != "X-Amz-Signature")
                .cloned()
                .collect();
            (
                field("X-Amz-Credential"),
                field("X-Amz-SignedHeaders"),
                field("X-Amz-Signature"),
                date,
                sigv4::UNSIGNED_PAYLOAD.to_string(),
                rest,
            )
        } else {
            let fields: HashMap<&str, &str> = auth
                .trim_start_matches("AWS4-HMAC-SHA256 ")
                .split(", ")
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let payload = header(req, "x-amz-content-sha256").to_string();
            let date = header(req, "x-amz-date").to_string();
            if payload != digest::sha256_hex(body) || (now - date_of(&date)).abs() > 900 {
                return false;
            }
            let get = |k| fields.get(k).copied().unwrap_or_default().to_string();
            (
                get("Credential"),
                get("SignedHeaders"),
                get("Signature"),
                date,
                payload,
                query.clone(),
            )
        };
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[0] != S3_ID || !amz_date.starts_with(scope[1]) {
        return false;
    }
    let headers: Vec<(String, String)> = signed_headers
        .split(';')
        .map(|n| (n.to_string(), header(req, n).to_string()))
        .collect();
    let expected = sigv4::Request {
        access_key_id: S3_ID,
        secret_access_key: S3_SECRET,
        region: scope[2],
        service: scope[3],
        amz_date: &amz_date,
        http_method: req.method().as_str(),
        canonical_uri: req.uri().path(),
        query: &signed_query,
        headers: &headers,
        payload_sha256: &payload,
    }
    .sign();
    scope[2] == S3_REGION && !signature.is_empty() && expected.signature == signature
}

async fn s3_api(req: HttpRequest, body: web::Bytes, state: web::Data<Shared<S3>>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let error = |status: u16, code: &str| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/xml")
            .body(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message><RequestId>{}</RequestId></Error>", nonce()))
    };
    if !s3_signed(&req, &body) {
        s.refused_signatures += 1;
        return error(403, "SignatureDoesNotMatch");
    }
    let key = percent_decode(req.path());
    match req.method().as_str() {
        "PUT" => {
            let content_type = match header(&req, "Content-Type") {
                "" => "binary/octet-stream",
                ct => ct,
            };
            s.objects
                .insert(key, (content_type.to_string(), body.to_vec()));
            HttpResponse::Ok()
                .insert_header(("ETag", format!("\"{}\"", nonce())))
                .finish()
        }
        "GET" => match s.objects.get(&key) {
            Some((ct, bytes)) => HttpResponse::Ok()
                .content_type(ct.clone())
                .body(bytes.clone()),
            None => error(404, "NoSuchKey"),
        },
        "HEAD" if s.objects.contains_key(&key) => HttpResponse::Ok().finish(),
        "HEAD" => HttpResponse::NotFound().finish(),
        "DELETE" => {
            s.objects.remove(&key);
            HttpResponse::NoContent().finish()
        }
        _ => error(405, "MethodNotAllowed"),
    }
}

pub async fn s3(state: Shared<S3>) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone()).default_service(web::to(s3_api));
    })
    .await
}

// ---------------------------------------------------------------- Chaojiying

pub const CJY_USER: &str = "e2e-user";
pub const CJY_PASSWORD: &str = "e2e-密码";

/// Whether a Chaojiying request carries the account's `user` and `pass2`, in a
/// multipart body (recognise) or a form (the others).
pub fn chaojiying_signed_in(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let pass2 = shopops_integrations::client::chaojiying::pass2(CJY_PASSWORD);
    let has = |name: &str, value: &str| {
        text.contains(&format!("name=\"{name}\"\r\n\r\n{value}\r\n"))
            || form_urlencoded::parse(body).any(|(k, v)| k == name && v == value)
    };
    has("user", CJY_USER) && has("pass2", &pass2)
}

async fn chaojiying_api(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !chaojiying_signed_in(&body) {
        return HttpResponse::Ok().json(json!({ "err_no": -10023, "err_str": "密码错误" }));
    }
    match req.path() {
        "/Upload/Processing.php" => HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK", "pic_id": "1662228516102", "pic_str": "8vka", "md5": "" })),
        "/Upload/ReportError.php" => HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK" })),
        _ => HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK", "tifen": 821690, "tifen_lock": 0 })),
    }
}

pub async fn chaojiying() -> String {
    serve(|cfg| {
        cfg.default_service(web::to(chaojiying_api));
    })
    .await
}
