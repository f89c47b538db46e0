//! The payment providers' operations: WeChat Pay (request signing, `paySign`,
//! callbacks, AEAD) and Alipay (request signing, sign-content rules, notifications).

use serde_json::{json, Value};

use super::{merge, opt, s, signer, Out};
use crate::client::rsa::{Certificate, RsaSigner, RsaVerifier};
use crate::client::{alipay, digest, wechatpay};

const WECHATPAY_HOST: &str = "https://api.mch.weixin.qq.com";

pub(super) fn wechatpay_request(keys: &Value, i: &Value) -> Out {
    let signer = signer(keys, &["merchant_private_key_pem"])?;
    let method = s(i, "http_method")?;
    let url = s(i, "canonical_url")?;
    let body = opt(i, "body").unwrap_or("");
    let timestamp = i["timestamp"]
        .as_i64()
        .ok_or("inputs.timestamp: Unix seconds are required")?;
    let merchant = wechatpay::Merchant {
        mchid: s(keys, "mchid")?,
        serial_no: s(keys, "merchant_serial_no")?,
        signer: &signer,
    };
    let signed = merchant.sign(method, url, timestamp, s(i, "nonce_str")?, body);
    let mut out = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
    let headers = vec![
        json!(["Accept", "application/json"]),
        json!(["Content-Type", "application/json"]),
        json!(["Authorization", signed.authorization]),
    ];
    merge(
        &mut out,
        json!({ "wire_request": { "method": method, "target": url, "url": format!("{WECHATPAY_HOST}{url}"), "body": body,
            "body_sha256": digest::sha256_hex(body.as_bytes()), "body_length": body.len(), "headers": headers } }),
    );
    Ok(out)
}

pub(super) fn wechatpay_pay_sign(keys: &Value, i: &Value) -> Out {
    let signer = signer(keys, &["merchant_private_key_pem"])?;
    let p = wechatpay::pay_sign(
        &signer,
        s(i, "appId")?,
        s(i, "timeStamp")?,
        s(i, "nonceStr")?,
        s(i, "package")?,
    );
    serde_json::to_value(p).map_err(|e| e.to_string())
}

/// The platform keys a vector file carries: the WeChat Pay public key and certificate.
pub fn wechatpay_platform_keys(keys: &Value) -> Result<wechatpay::PlatformKeys, String> {
    let mut out = wechatpay::PlatformKeys {
        public_key_id: opt(keys, "platform_public_key_id").map(str::to_string),
        ..Default::default()
    };
    if let Some(pem) = opt(keys, "platform_public_key_pem") {
        out.public_key = Some(RsaVerifier::from_pem_or_base64(pem).map_err(|e| e.to_string())?);
    }
    if let Some(pem) = opt(keys, "platform_certificate_pem") {
        let cert = Certificate::from_pem(pem).map_err(|e| e.to_string())?;
        out.certificates
            .insert(cert.serial_no.clone(), cert.verifier);
    }
    Ok(out)
}

pub(super) fn wechatpay_callback(keys: &Value, i: &Value) -> Out {
    let platform = wechatpay_platform_keys(keys)?;
    let headers = wechatpay::SignatureHeaders::from_pairs(
        i["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
    );
    let body = s(i, "body")?;
    let key = opt(i, "apiv3_key")
        .or_else(|| opt(keys, "apiv3_key"))
        .ok_or("inputs.apiv3_key is required")?;
    let now = i["verify_at_unix"]
        .as_i64()
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let outcome = wechatpay::open_callback(&platform, key.as_bytes(), &headers, body, now);
    let mut out = serde_json::to_value(&outcome).map_err(|e| e.to_string())?;
    let notification: Value = serde_json::from_str(body).unwrap_or_default();
    let r = &notification["resource"];
    merge(
        &mut out,
        json!({ "aead": { "nonce_utf8": r["nonce"], "associated_data_utf8": r["associated_data"],
            "ciphertext_b64": r["ciphertext"], "tag_is_last_16_bytes_of_ciphertext": true } }),
    );
    Ok(out)
}

pub(super) fn aead(i: &Value) -> Out {
    let plaintext = wechatpay::decrypt(
        s(i, "key_utf8")?.as_bytes(),
        s(i, "nonce_utf8")?,
        opt(i, "associated_data_utf8").unwrap_or(""),
        s(i, "ciphertext_b64")?,
    );
    Ok(match plaintext {
        Ok(p) => json!({ "plaintext": p, "decrypt_ok": true }),
        Err(e) => json!({ "plaintext": null, "decrypt_ok": false, "error": e.to_string() }),
    })
}

fn alipay_signer(keys: &Value) -> Result<RsaSigner, String> {
    signer(
        keys,
        &[
            "app_private_key_pkcs1_pem",
            "app_private_key_pkcs8_pem",
            "app_private_key_pem",
        ],
    )
}

pub(super) fn alipay_request(keys: &Value, i: &Value) -> Out {
    let signer = alipay_signer(keys)?;
    let call = alipay::Call {
        gateway: opt(i, "gateway").unwrap_or("https://openapi.alipay.com/gateway.do"),
        app_id: s(i, "app_id")?,
        method: s(i, "method")?,
        charset: opt(i, "charset").unwrap_or("utf-8"),
        format: opt(i, "format").unwrap_or("json"),
        sign_type: opt(i, "sign_type").unwrap_or("RSA2"),
        version: opt(i, "version").unwrap_or("1.0"),
        timestamp: s(i, "timestamp")?,
        notify_url: opt(i, "notify_url"),
        return_url: opt(i, "return_url"),
        app_auth_token: opt(i, "app_auth_token"),
        biz_content: s(i, "biz_content")?,
    };
    let signed = call.sign(&signer);
    let target = signed
        .post_url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_default();
    let mut page_query = signed.query_params.clone();
    page_query.insert("biz_content".into(), json!(call.biz_content));
    Ok(json!({
        "sign_content": signed.sign_content,
        "sign": signed.sign,
        "query_params": signed.query_params,
        "body_params": signed.body_params,
        // Page pay as a GET redirect carries biz_content in the URL too.
        "page_query_params": page_query,
        "wire_request": {
            "method": "POST", "target": target, "body": signed.post_body,
            "body_sha256": digest::sha256_hex(signed.post_body.as_bytes()), "body_length": signed.post_body.len(),
            "url": if call.method.ends_with(".page.pay") || call.method.ends_with(".wap.pay") { &signed.page_url } else { &signed.post_url },
            "form_action": signed.post_url, "form_fields": signed.body_params,
            "headers": [["Content-type", "application/x-www-form-urlencoded;charset=utf-8"]],
        },
    }))
}

pub(super) fn alipay_rules(keys: &Value, i: &Value) -> Out {
    let signer = alipay_signer(keys)?;
    let params = i["params"].as_object().ok_or("inputs.params is required")?;
    let content = alipay::sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok(json!({ "sign_content": content, "sign": signer.sign_b64(content.as_bytes()) }))
}

pub(super) fn alipay_notify(keys: &Value, i: &Value) -> Out {
    let verifier = RsaVerifier::from_pem_or_base64(
        opt(keys, "alipay_public_key_pem")
            .or_else(|| opt(keys, "alipay_public_key_bare_base64"))
            .ok_or("keys.alipay_public_key_pem is required")?,
    )
    .map_err(|e| e.to_string())?;
    let outcome = alipay::verify_notify(&verifier, s(i, "form_body")?, None);
    let mut out = serde_json::to_value(&outcome).map_err(|e| e.to_string())?;
    if !outcome.signature_valid {
        // What Alipay signed is unknown when the signature does not hold.
        if let Some(o) = out.as_object_mut() {
            o.remove("signed_sign_content");
        }
    }
    merge(
        &mut out,
        json!({ "sign_content": outcome.signed_sign_content, "excluded_keys": ["sign", "sign_type"], "params_decoded": outcome.params }),
    );
    Ok(out)
}
