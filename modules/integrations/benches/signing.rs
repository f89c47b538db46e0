//! `make bench`: how many requests per second one core signs (or, for notifications,
//! verifies) for each provider, with the vectors' keys and inputs. These bound what a
//! replica can send: RSA-2048 signing is the cost of every WeChat Pay and Alipay call,
//! HMAC the cost of the others. Prints one JSON object of operations per second.

// A benchmark fails loudly.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::Value;
use shopops_integrations::client::rsa::RsaSigner;
use shopops_integrations::client::{alipay, aliyun, cos, sigv4, tc3, wechatpay};
use shopops_integrations::dry_run::wechatpay_platform_keys;

fn vector(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Operations per second of `op`, run for about a second after a short warm-up.
fn rate(mut op: impl FnMut()) -> u64 {
    for _ in 0..50 {
        op();
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        for _ in 0..50 {
            op();
        }
        n += 50;
    }
    (n as f64 / started.elapsed().as_secs_f64()) as u64
}

fn main() {
    let mut out = serde_json::Map::new();
    let mut record = |name: &str, per_s: u64| {
        out.insert(name.into(), per_s.into());
    };

    let wx = vector("wechatpay/01-native-prepay");
    let signer =
        RsaSigner::from_pem(wx["keys"]["merchant_private_key_pem"].as_str().unwrap()).unwrap();
    let merchant = wechatpay::Merchant {
        mchid: "1900000109",
        serial_no: wx["keys"]["merchant_serial_no"].as_str().unwrap(),
        signer: &signer,
    };
    let body = wx["inputs"]["body"].as_str().unwrap_or("{}").to_string();
    record(
        "wechatpay_sign_request",
        rate(|| {
            black_box(merchant.sign(
                "POST",
                "/v3/pay/transactions/native",
                1_700_000_000,
                "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
                &body,
            ));
        }),
    );

    let cb = vector("wechatpay/09-callback-transaction-success");
    let platform = wechatpay_platform_keys(&cb["keys"]).unwrap();
    let headers = wechatpay::SignatureHeaders::from_pairs(
        cb["inputs"]["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
    );
    let cb_body = cb["inputs"]["body"].as_str().unwrap();
    let apiv3 = cb["inputs"]["apiv3_key"].as_str().unwrap();
    let now = cb["inputs"]["verify_at_unix"].as_i64().unwrap();
    assert!(wechatpay::open_callback(&platform, apiv3.as_bytes(), &headers, cb_body, now).accept);
    record(
        "wechatpay_verify_and_decrypt_notification",
        rate(|| {
            black_box(wechatpay::open_callback(
                &platform,
                apiv3.as_bytes(),
                &headers,
                cb_body,
                now,
            ));
        }),
    );

    let ali = vector("alipay/01-trade-precreate");
    let app =
        RsaSigner::from_pem(ali["keys"]["app_private_key_pkcs8_pem"].as_str().unwrap()).unwrap();
    let biz = r#"{"out_trade_no":"ORD20231114000001","subject":"Iphone6 16G","timeout_express":"90m","total_amount":"88.88"}"#;
    let call = alipay::Call {
        gateway: "https://openapi.alipay.com/gateway.do",
        app_id: "2021000123456789",
        method: "alipay.trade.precreate",
        charset: "utf-8",
        format: "json",
        sign_type: "RSA2",
        version: "1.0",
        timestamp: "2023-11-15 06:13:20",
        notify_url: Some("https://shop.example.com/pay/alipay/notify"),
        return_url: None,
        app_auth_token: None,
        biz_content: biz,
    };
    record(
        "alipay_sign_call",
        rate(|| {
            black_box(call.sign(&app));
        }),
    );

    let names = ["content-type".to_string(), "host".to_string()];
    let payload = r#"{"PhoneNumberSet":["+8613800000000"],"SmsSdkAppId":"1400006666","SignName":"店铺通知","TemplateId":"1234567","TemplateParamSet":["8848","5"]}"#;
    record(
        "tencent_sms_tc3_sign",
        rate(|| {
            black_box(
                tc3::Request {
                    secret_id: "AKIDtestSecretId0000000000000000000a",
                    secret_key: "testSecretKey0000000000000000000",
                    service: "sms",
                    host: "sms.tencentcloudapi.com",
                    action: "SendSms",
                    version: "2021-01-11",
                    region: Some("ap-guangzhou"),
                    language: None,
                    token: None,
                    timestamp: 1_700_000_000,
                    http_method: "POST",
                    canonical_uri: "/",
                    canonical_query_string: "",
                    content_type: "application/json",
                    signed_header_names: &names,
                    payload,
                }
                .sign(),
            );
        }),
    );

    let query: Vec<(String, String)> = [
        ("PhoneNumbers", "13800000000"),
        ("SignName", "店铺通知"),
        ("TemplateCode", "SMS_154950909"),
        ("TemplateParam", r#"{"code":"8848"}"#),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let acs_headers: Vec<(String, String)> = [
        ("host", "dysmsapi.aliyuncs.com"),
        ("x-acs-action", "SendSms"),
        ("x-acs-version", "2017-05-25"),
        ("x-acs-date", "2023-11-14T22:13:20Z"),
        ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
        (
            "x-acs-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    record(
        "aliyun_sms_acs3_sign",
        rate(|| {
            black_box(aliyun::acs3_sign(
                "POST",
                "/",
                &query,
                &acs_headers,
                b"",
                "LTAI5tTESTACCESSKEYID0001",
                "testAccessKeySecret000000000001",
            ));
        }),
    );

    let host = vec![(
        "host".to_string(),
        "examplebucket-1250000000.cos.ap-beijing.myqcloud.com".to_string(),
    )];
    record(
        "cos_sign",
        rate(|| {
            black_box(cos::sign(
                "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q",
                "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz",
                "PUT",
                "/商品/主图 1.png",
                &[],
                &host,
                "1557989151;1557996351",
            ));
        }),
    );

    let s3_headers: Vec<(String, String)> = vec![
        ("host".into(), "examplebucket.s3.amazonaws.com".into()),
        ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
        ("x-amz-date".into(), "20130524T000000Z".into()),
    ];
    record(
        "s3_sigv4_sign",
        rate(|| {
            black_box(
                sigv4::Request {
                    access_key_id: "AKIAIOSFODNN7EXAMPLE",
                    secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    region: "us-east-1",
                    service: "s3",
                    amz_date: "20130524T000000Z",
                    http_method: "PUT",
                    canonical_uri: "/test%24file.text",
                    query: &[],
                    headers: &s3_headers,
                    payload_sha256: "UNSIGNED-PAYLOAD",
                }
                .sign(),
            );
        }),
    );

    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
