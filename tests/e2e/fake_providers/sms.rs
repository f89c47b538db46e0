//! Tencent Cloud and Aliyun SMS stand-ins: each recomputes the provider's HMAC
//! signature (TC3 / ACS3) and records sent messages and delivery-report queries.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use shopops_integrations::client::{aliyun, tc3};

use super::{header, nonce, serve, Shared};

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
