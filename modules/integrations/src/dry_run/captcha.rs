//! Chaojiying's requests: the multipart and Base64 uploads, error reports, the score.

use serde_json::{json, Map, Value};

use super::{opt, s, scalar, Out};
use crate::client::{chaojiying, digest};

/// The multipart boundary the Chaojiying vectors were recorded with.
const PINNED_BOUNDARY: &str = "0123456789abcdef0123456789abcdef";

pub(super) fn chaojiying(op: &str, i: &Value) -> Out {
    use base64::Engine;
    let user = s(i, "user")?;
    let password = s(i, "password")?;
    let softid = opt(i, "softid").unwrap_or("");
    let codetype = match &i["codetype"] {
        Value::Null => String::new(),
        v => scalar(v),
    };
    let endpoint = s(i, "endpoint")?;
    let body = match op {
        "chaojiying_postpic" => {
            let image = base64::engine::general_purpose::STANDARD
                .decode(s(i, "image_base64")?)
                .map_err(|e| format!("inputs.image_base64: {e}"))?;
            let boundary = opt(i, "boundary").unwrap_or(PINNED_BOUNDARY);
            chaojiying::postpic_multipart(user, password, softid, &codetype, &image, boundary)
        }
        "chaojiying_postpic_base64" => {
            chaojiying::postpic_base64(user, password, softid, &codetype, s(i, "image_base64")?)
        }
        "chaojiying_report_error" => {
            chaojiying::report_error(user, password, softid, s(i, "pic_id")?)
        }
        "chaojiying_get_score" => chaojiying::get_score(user, password),
        other => return Err(format!("unknown operation `{other}`")),
    };
    let target = endpoint
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/".into());
    let form_fields: Map<String, Value> = body
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut wire = json!({ "method": "POST", "target": target, "url": endpoint,
        "body_sha256": digest::sha256_hex(&body.bytes), "body_length": body.bytes.len(),
        "headers": [["User-Agent", chaojiying::USER_AGENT], ["Content-Type", body.content_type]] });
    let mut out = json!({ "pass2": chaojiying::pass2(password), "form_fields": form_fields, "content_type": body.content_type });
    if op == "chaojiying_postpic" {
        wire["body_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(&body.bytes));
        let boundary = opt(i, "boundary").unwrap_or(PINNED_BOUNDARY);
        out["multipart"] = json!({ "boundary": boundary, "file_field": chaojiying::FILE_FIELD,
            "filename": chaojiying::FILENAME, "file_part_has_content_type": false });
    } else {
        wire["body"] = json!(String::from_utf8_lossy(&body.bytes));
    }
    out["wire_request"] = wire;
    Ok(out)
}
