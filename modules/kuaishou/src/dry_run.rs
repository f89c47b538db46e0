//! `shopops kuaishou sign --vector FILE`: the request we would send for a vector-format
//! `inputs` object — the tool to reach for when the platform answers "sign error".

use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalogue::HttpMethod;
use crate::client::{sign_call, AppCredentials, Call, SignMethod};

#[derive(Debug, Deserialize)]
struct Inputs {
    app_key: String,
    sign_secret: String,
    sign_method: SignMethod,
    access_token: String,
    method: String,
    param_json: Option<String>,
    timestamp: String,
}

#[derive(Debug, Deserialize)]
struct VectorFile {
    inputs: Value,
}

/// The signed request as JSON: `{http_method, path, query | form, sign_string, sign, encoded}`.
pub fn sign_vector(text: &str) -> Result<Value, String> {
    let file: VectorFile =
        serde_json::from_str(text).map_err(|e| format!("not a vector file: {e}"))?;
    let inputs: Inputs = serde_json::from_value(file.inputs).map_err(|e| format!("inputs: {e}"))?;
    let app = AppCredentials {
        app_key: inputs.app_key,
        sign_secret: inputs.sign_secret,
        sign_method: inputs.sign_method,
    };
    let call = Call {
        method: &inputs.method,
        access_token: &inputs.access_token,
        param_json: inputs.param_json.as_deref(),
        timestamp: inputs.timestamp,
    };
    let req = sign_call(&app, &call).map_err(|e| e.to_string())?;
    let pairs: serde_json::Map<String, Value> = req
        .pairs
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let (key, encoded_key) = match req.http_method {
        HttpMethod::Get => ("query", "raw_query"),
        HttpMethod::Post => ("form", "raw_body"),
    };
    let mut out = json!({
        "http_method": req.http_method,
        "path": req.path,
        "sign_string": req.sign_string,
        "sign": req.sign,
    });
    out[key] = Value::Object(pairs);
    out[encoded_key] = json!(req.encoded());
    Ok(out)
}
