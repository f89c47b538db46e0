//! The answer side of every vector that carries one: WeChat Pay and Alipay response
//! signatures (and the certificate download), the SMS providers' answers read as the
//! adapters read them, COS/S3 error bodies, Chaojiying's interpretations.

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use shopops_integrations::client::rsa::{RsaSigner, RsaVerifier};
use shopops_integrations::client::{alipay, chaojiying, wechatpay};
use shopops_integrations::dry_run::wechatpay_platform_keys;
use shopops_integrations::providers::{aliyun_sms, object_store, tencent_sms, ProviderError};

fn vector(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A vector's recorded answer: HTTP status and JSON body.
fn answer(name: &str) -> (u16, Value) {
    let v = vector(name);
    let r = &v["expected"]["response"];
    (
        r["http_status"].as_u64().unwrap() as u16,
        serde_json::from_str(r["body"].as_str().unwrap()).unwrap(),
    )
}

fn names(provider: &str) -> Vec<String> {
    let dir = format!(
        "{}/tests/fixtures/vectors/{provider}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .map(|n| format!("{provider}/{n}"))
        .collect();
    out.sort();
    out
}

#[test]
fn wechatpay_responses_are_verified_with_the_key_their_serial_names() {
    let mut checked = 0;
    for name in names("wechatpay") {
        let v = vector(&name);
        let response = &v["expected"]["response"];
        if !response.is_object() {
            continue;
        }
        let keys = wechatpay_platform_keys(&v["keys"]).unwrap();
        let headers = wechatpay::SignatureHeaders::from_pairs(
            response["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap())),
        );
        let body = response["body"].as_str().unwrap();
        let status = response["http_status"].as_u64().unwrap();
        if !(200..300).contains(&status) {
            // Errors come unsigned; nothing to verify (the SDKs do the same).
            assert!(response["signature_valid"].is_null(), "{name}");
            checked += 1;
            continue;
        }
        let now = response["verify_at_unix"].as_i64().unwrap();
        let message = wechatpay::verification_message(
            headers.timestamp.as_deref().unwrap(),
            headers.nonce.as_deref().unwrap(),
            body,
        );
        assert_eq!(
            message,
            response["verification_message"].as_str().unwrap(),
            "{name}"
        );
        let verdict = wechatpay::verify(&keys, &headers, body, now);
        assert_eq!(
            verdict.is_ok(),
            response["signature_valid"].as_bool().unwrap(),
            "{name}: {verdict:?}"
        );
        // Five minutes later the same answer is stale.
        assert_eq!(
            wechatpay::verify(&keys, &headers, body, now + 400),
            Err(wechatpay::Refusal::Stale),
            "{name}"
        );
        // A changed body no longer verifies.
        assert!(
            wechatpay::verify(&keys, &headers, &format!("{body} "), now).is_err(),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn wechatpay_certificate_download_is_signed_and_decrypted() {
    let v = vector("wechatpay/13-platform-certificate-mode");
    let d = &v["expected"]["certificate_download"];
    let keys = &v["keys"];
    let signer = RsaSigner::from_pem(keys["merchant_private_key_pem"].as_str().unwrap()).unwrap();
    let merchant = wechatpay::Merchant {
        mchid: keys["mchid"].as_str().unwrap(),
        serial_no: keys["merchant_serial_no"].as_str().unwrap(),
        signer: &signer,
    };
    let r = &d["request"];
    let signed = merchant.sign(
        "GET",
        "/v3/certificates",
        r["timestamp"].as_i64().unwrap(),
        r["nonce_str"].as_str().unwrap(),
        "",
    );
    assert_eq!(
        signed.signing_message,
        r["signing_message"].as_str().unwrap()
    );
    assert_eq!(signed.signature, r["signature"].as_str().unwrap());
    assert_eq!(signed.authorization, r["authorization"].as_str().unwrap());
    let c = &d["encrypt_certificate"];
    let pem = wechatpay::decrypt(
        keys["apiv3_key"].as_str().unwrap().as_bytes(),
        c["nonce"].as_str().unwrap(),
        c["associated_data"].as_str().unwrap(),
        c["ciphertext"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(pem, d["decrypted_certificate_pem"].as_str().unwrap());
    let cert = shopops_integrations::client::rsa::Certificate::from_pem(&pem).unwrap();
    assert_eq!(
        cert.serial_no,
        keys["platform_certificate_serial_no"].as_str().unwrap()
    );
}

#[test]
fn alipay_answers_are_verified_over_their_raw_text() {
    let mut checked = 0;
    for name in names("alipay") {
        let v = vector(&name);
        let response = &v["expected"]["response"];
        if !response.is_object() {
            continue;
        }
        let verifier =
            RsaVerifier::from_pem_or_base64(v["keys"]["alipay_public_key_pem"].as_str().unwrap())
                .unwrap();
        let bare = RsaVerifier::from_pem_or_base64(
            v["keys"]["alipay_public_key_bare_base64"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(verifier, bare, "PEM and bare Base64 are the same key");
        let method = v["inputs"]["method"].as_str().unwrap();
        let got =
            alipay::verify_response(&verifier, method, response["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            got.response_key,
            response["response_key"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            got.signed_content,
            response["signed_content"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(got.sign.as_deref(), response["sign"].as_str(), "{name}");
        assert_eq!(
            got.signature_valid,
            response["signature_valid"].as_bool().unwrap(),
            "{name}"
        );
        assert_eq!(got.parsed, response["parsed"], "{name}");
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn sms_answers_are_read_as_the_providers_mean_them() {
    // Tencent: per-number `Code`, `Response.Error` with HTTP 200.
    for name in [
        "tencent-sms/04-sdk-sendsms-basic",
        "tencent-sms/07-sdk-sendsms-temporary-credentials",
        "tencent-sms/08-sdk-sendsms-get-method",
        "tencent-sms/09-sdk-sendsms-utc-date-boundary",
    ] {
        let (_, b) = answer(name);
        let accepted = tencent_sms::read_send(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            accepted.provider_message_id,
            b["Response"]["SendStatusSet"][0]["SerialNo"]
                .as_str()
                .unwrap(),
            "{name}"
        );
    }
    let (_, b) = answer("tencent-sms/05-sdk-sendsms-multi-partial-failure");
    assert!(
        tencent_sms::read_send(&b).is_ok(),
        "the first number was accepted"
    );
    let (_, b) = answer("tencent-sms/06-sdk-sendsms-error-signature-failure");
    assert!(
        matches!(tencent_sms::read_send(&b), Err(ProviderError::Unavailable(m)) if m.starts_with("AuthFailure.SignatureFailure")),
        "our credentials failing is the provider being unusable, not the message's fault"
    );
    let mut rejected = b.clone();
    rejected["Response"]["Error"]["Code"] = "InvalidParameterValue.IncorrectPhoneNumber".into();
    assert!(matches!(
        tencent_sms::read_send(&rejected),
        Err(ProviderError::Rejected { .. })
    ));

    // Aliyun: `Code == "OK"` in the body, business errors with HTTP 200, gateway errors 4xx.
    for name in [
        "aliyun-sms/04-sdk-legacy-sendsms-rpc",
        "aliyun-sms/05-sdk-legacy-sendsms-special-chars",
        "aliyun-sms/06-sdk-tea-sendsms-acs3",
        "aliyun-sms/07-sdk-tea-sendsms-rpc-v2",
        "aliyun-sms/08-sdk-tea-sendsms-acs3-sts-token",
    ] {
        let (status, b) = answer(name);
        let accepted = aliyun_sms::read_send(status, &b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            accepted.provider_message_id,
            b["BizId"].as_str().unwrap(),
            "{name}"
        );
    }
    let (status, b) = answer("aliyun-sms/09-sdk-tea-sendsms-business-error-http200");
    assert!(
        matches!(aliyun_sms::read_send(status, &b), Err(ProviderError::Rejected { code, .. }) if code == "isv.BUSINESS_LIMIT_CONTROL")
    );
    let (status, b) = answer("aliyun-sms/10-sdk-tea-sendsms-signature-mismatch-http400");
    assert!(
        matches!(aliyun_sms::read_send(status, &b), Err(ProviderError::Unavailable(m)) if m.contains("SignatureDoesNotMatch"))
    );
}

#[test]
fn sms_delivery_reports_are_read() {
    // Tencent: the receipt whose SerialNo is the one SendSms returned.
    let (_, b) = answer("tencent-sms/10-sdk-pullsmssendstatus");
    let report = tencent_sms::read_delivery(&b, "2433:108422963915225017822830021")
        .unwrap()
        .expect("a receipt for this serial number");
    assert!(report.delivered);
    assert_eq!(report.detail, "SUCCESS DELIVRD at 2023-11-14 22:14:00");
    assert_eq!(
        tencent_sms::read_delivery(&b, "2433:another").unwrap(),
        None,
        "no receipt yet"
    );
    // Aliyun: SendStatus 3 is delivered.
    let (status, b) = answer("aliyun-sms/11-sdk-legacy-querysenddetails");
    let report = aliyun_sms::read_delivery(status, &b)
        .unwrap()
        .expect("a report");
    assert!(report.delivered);
    assert_eq!(report.detail, "DELIVERED at 2023-11-14 22:13:25");
    let failed = serde_json::json!({ "Code": "OK", "SmsSendDetailDTOs": { "SmsSendDetailDTO": [
        { "SendStatus": 2, "ErrCode": "MOBILE_NOT_ON_SERVICE", "ReceiveDate": "2023-11-14 22:13:30" } ] } });
    assert!(
        !aliyun_sms::read_delivery(200, &failed)
            .unwrap()
            .unwrap()
            .delivered
    );
    let waiting = serde_json::json!({ "Code": "OK", "SmsSendDetailDTOs": { "SmsSendDetailDTO": [ { "SendStatus": 1 } ] } });
    assert_eq!(aliyun_sms::read_delivery(200, &waiting).unwrap(), None);
}

#[test]
fn storage_error_bodies_are_read() {
    let v = vector("tencent-cos/09-sdk-error-signature-does-not-match");
    let r = &v["expected"]["response"];
    let body = r["body"].as_str().unwrap();
    assert_eq!(
        object_store::error_code(body),
        Some("SignatureDoesNotMatch")
    );
    let answer = shopops_integrations::providers::Answer {
        status: r["http_status"].as_u64().unwrap() as u16,
        headers: vec![],
        body: body.to_string().into(),
    };
    assert!(
        matches!(
            object_store::error_of(&answer),
            ProviderError::Unavailable(_)
        ),
        "our signature failing: try the next store"
    );
    let missing = shopops_integrations::providers::Answer {
        status: 400,
        headers: vec![],
        body: "<Error><Code>InvalidArgument</Code></Error>"
            .to_string()
            .into(),
    };
    assert!(
        matches!(object_store::error_of(&missing), ProviderError::Rejected { code, .. } if code == "InvalidArgument")
    );
}

#[test]
fn chaojiying_answers_are_interpreted() {
    let mut checked = 0;
    for name in names("chaojiying") {
        let v = vector(&name);
        let e = &v["expected"];
        let op = match v["operation"].as_str().unwrap() {
            "chaojiying_postpic" | "chaojiying_postpic_base64" => "postpic",
            "chaojiying_report_error" => "report_error",
            "chaojiying_get_score" => "get_score",
            other => panic!("{other}"),
        };
        let codetype = v["inputs"]["codetype"].as_i64().map(|c| c.to_string());
        let ours = serde_json::to_value(chaojiying::interpret(
            op,
            codetype.as_deref(),
            &e["response"]["parsed"],
        ))
        .unwrap();
        for (k, want) in e["interpretation"].as_object().unwrap() {
            assert_eq!(&ours[k], want, "{name}: interpretation.{k}");
        }
        checked += 1;
    }
    assert_eq!(checked, 9);
}
