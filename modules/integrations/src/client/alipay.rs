//! Alipay OpenAPI 2.0 gateway, RSA2 (`PROTOCOLS.md` §2): the sign content, signed
//! requests (execute POST, page pay as a GET URL or an auto-submitting form), response
//! verification over the raw `…_response` text, and async-notify verification.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use shopops_kernel::encoding::form;

use super::rsa::{RsaSigner, RsaVerifier};

/// The request sign content: every parameter but `sign` with a non-empty value, sorted
/// by key (bytes: upper-case first), `k=v` joined with `&`, values raw.
pub fn sign_content<'a>(params: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .filter(|(k, _)| *k != "sign")
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    join(&kept)
}

/// The async-notify check content: every parameter but `sign` and `sign_type`, empty
/// values kept (`body=`), sorted by key.
pub fn notify_content<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, _)| *k != "sign" && *k != "sign_type")
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    join(&kept)
}

fn join(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The common parameters of one gateway call.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub gateway: &'a str,
    pub app_id: &'a str,
    pub method: &'a str,
    pub charset: &'a str,
    pub format: &'a str,
    pub sign_type: &'a str,
    pub version: &'a str,
    /// `yyyy-MM-dd HH:mm:ss`, Beijing time.
    pub timestamp: &'a str,
    pub notify_url: Option<&'a str>,
    pub return_url: Option<&'a str>,
    pub app_auth_token: Option<&'a str>,
    /// The business JSON as one string.
    pub biz_content: &'a str,
}

/// A signed call in all the forms it is sent in.
#[derive(Debug, Clone, Serialize)]
pub struct SignedCall {
    pub sign_content: String,
    pub sign: String,
    /// The common parameters and `sign`, in the SDK's order (URL query of a POST).
    pub query_params: serde_json::Map<String, Value>,
    /// `biz_content`, the form body of a POST.
    pub body_params: serde_json::Map<String, Value>,
    /// Where a POST goes: the gateway with the common parameters.
    pub post_url: String,
    /// The form body of a POST.
    pub post_body: String,
    /// Page pay as a redirect: every parameter, `biz_content` last, in the URL.
    pub page_url: String,
}

impl Call<'_> {
    /// The common parameters in the order the official SDK writes them.
    fn common(&self) -> Vec<(&str, &str)> {
        let mut out = vec![
            ("timestamp", self.timestamp),
            ("app_id", self.app_id),
            ("method", self.method),
            ("charset", self.charset),
            ("format", self.format),
            ("version", self.version),
            ("sign_type", self.sign_type),
        ];
        for (k, v) in [
            ("notify_url", self.notify_url),
            ("return_url", self.return_url),
            ("app_auth_token", self.app_auth_token),
        ] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                out.push((k, v));
            }
        }
        out
    }

    pub fn sign(&self, signer: &RsaSigner) -> SignedCall {
        let mut all = self.common();
        all.push(("biz_content", self.biz_content));
        let sign_content = sign_content(all.iter().map(|(k, v)| (*k, Some(*v))));
        let sign = signer.sign_b64(sign_content.as_bytes());
        let mut query = self.common();
        query.push(("sign", &sign));
        let post_url = format!("{}?{}", self.gateway, form(&query));
        let post_body = form(&[("biz_content", self.biz_content)]);
        let mut page = query.clone();
        page.push(("biz_content", self.biz_content));
        let page_url = format!("{}?{}", self.gateway, form(&page));
        let to_map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect()
        };
        SignedCall {
            sign_content,
            query_params: to_map(&query),
            body_params: to_map(&[("biz_content", self.biz_content)]),
            sign,
            post_url,
            post_body,
            page_url,
        }
    }
}

/// The key of a method's answer: `alipay.trade.query` → `alipay_trade_query_response`.
pub fn response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// A gateway answer, verified.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedResponse {
    pub response_key: String,
    /// The raw text of the `…_response` value, exactly as it appears in the body.
    pub signed_content: String,
    pub sign: Option<String>,
    pub signature_valid: bool,
    pub parsed: Value,
}

/// Reads and verifies an answer over the raw `…_response` text (never re-serialised).
/// None when the body has no such value.
pub fn verify_response(
    verifier: &RsaVerifier,
    method: &str,
    body: &str,
) -> Option<VerifiedResponse> {
    let fields: BTreeMap<String, &RawValue> = serde_json::from_str(body).ok()?;
    let key = response_key(method);
    let content = fields
        .get(&key)
        .or_else(|| fields.get("error_response"))?
        .get()
        .to_string();
    let sign: Option<String> = fields
        .get("sign")
        .and_then(|s| serde_json::from_str(s.get()).ok());
    let signature_valid = sign
        .as_deref()
        .is_some_and(|s| verifier.verify_b64(content.as_bytes(), s));
    Some(VerifiedResponse {
        response_key: key,
        parsed: serde_json::from_str(&content).unwrap_or(Value::Null),
        signed_content: content,
        sign,
        signature_valid,
    })
}

/// An async notification, checked.
#[derive(Debug, Clone, Serialize)]
pub struct NotifyOutcome {
    pub signed_sign_content: String,
    pub signature_valid: bool,
    /// Signed by Alipay (and for our app, when `app_id` is given).
    pub accept: bool,
    /// `success` acknowledges; anything else makes Alipay resend.
    pub http_reply_to_alipay: &'static str,
    /// The notification's fields, form-decoded once.
    pub params: BTreeMap<String, String>,
}

/// Verifies a notify body (`application/x-www-form-urlencoded`, decoded exactly once).
pub fn verify_notify(
    verifier: &RsaVerifier,
    form_body: &str,
    app_id: Option<&str>,
) -> NotifyOutcome {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(form_body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let content = notify_content(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let sign = pairs
        .iter()
        .find(|(k, _)| k == "sign")
        .map(|(_, v)| v.as_str());
    let signature_valid = sign.is_some_and(|s| verifier.verify_b64(content.as_bytes(), s));
    let params: BTreeMap<String, String> = pairs.into_iter().collect();
    let ours = app_id.is_none_or(|id| params.get("app_id").map(String::as_str) == Some(id));
    let accept = signature_valid && ours;
    NotifyOutcome {
        signed_sign_content: content,
        signature_valid,
        accept,
        http_reply_to_alipay: if accept { "success" } else { "fail" },
        params,
    }
}
