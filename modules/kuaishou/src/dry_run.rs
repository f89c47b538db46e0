//! `shopops kuaishou sign --vector FILE`: the request we would send for a vector-format
//! `inputs` object — the tool to reach for when the platform answers "sign error".
//! Signed API calls give `{http_method, path, query | form, raw_query | raw_body,
//! sign_string, sign}`; OAuth flows (`inputs.op`) give the unsigned platform request
//! and how it differs from the SDK's.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalogue::HttpMethod;
use crate::client::oauth::{self, OAuthRequest, SDK_DIFFERENCES};
use crate::client::{sign_call, AppCredentials, Call, SignMethod};

#[derive(Debug, Deserialize)]
struct SignedInputs {
    app_key: String,
    sign_secret: String,
    sign_method: SignMethod,
    access_token: String,
    method: String,
    param_json: Option<String>,
    timestamp: String,
}

#[derive(Debug, Deserialize)]
struct OAuthInputs {
    app_key: String,
    app_secret: String,
    op: String,
    code: Option<String>,
    refresh_token: Option<String>,
    redirect_uri: Option<String>,
    #[serde(default)]
    scope: Vec<String>,
    state: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VectorFile {
    inputs: Value,
}

/// Where sellers authorise, in the platform's form (the SDK builds it on the API host).
const AUTHORIZE_BASE: &str = "https://open.kwaixiaodian.com/oauth/authorize";

/// The request for a vector file's `inputs`, as JSON.
pub fn sign_vector(text: &str) -> Result<Value, String> {
    let file: VectorFile =
        serde_json::from_str(text).map_err(|e| format!("not a vector file: {e}"))?;
    if file.inputs.get("op").is_some() {
        let inputs: OAuthInputs =
            serde_json::from_value(file.inputs).map_err(|e| format!("inputs: {e}"))?;
        return oauth_request(&inputs);
    }
    let inputs: SignedInputs =
        serde_json::from_value(file.inputs).map_err(|e| format!("inputs: {e}"))?;
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
    let mut out = json!({
        "http_method": req.http_method,
        "path": req.path,
        "sign_string": req.sign_string,
        "sign": req.sign,
    });
    put_pairs(&mut out, req.http_method, &req.pairs, req.encoded());
    Ok(out)
}

fn put_pairs(out: &mut Value, verb: HttpMethod, pairs: &[(String, String)], encoded: String) {
    let fields: serde_json::Map<String, Value> =
        pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let (key, encoded_key) = match verb {
        HttpMethod::Get => ("query", "raw_query"),
        HttpMethod::Post => ("form", "raw_body"),
    };
    out[key] = Value::Object(fields);
    out[encoded_key] = json!(encoded);
}

fn oauth_request(i: &OAuthInputs) -> Result<Value, String> {
    let need = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| format!("inputs: `{name}` is needed for {}", i.op))
    };
    let request: OAuthRequest = match i.op.as_str() {
        "get_authorize_url" => {
            let url = oauth::authorize_url(
                AUTHORIZE_BASE,
                &i.app_key,
                &need(&i.redirect_uri, "redirect_uri")?,
                &i.scope.join(","),
                i.state.as_deref().unwrap_or(""),
            );
            return Ok(
                json!({ "http_method": "GET", "url": url, "differs_from_sdk": differences() }),
            );
        }
        "get_access_token" => {
            oauth::code_exchange(&i.app_key, &i.app_secret, &need(&i.code, "code")?)
        }
        "refresh_access_token" => oauth::refresh(
            &i.app_key,
            &i.app_secret,
            &need(&i.refresh_token, "refresh_token")?,
        ),
        "get_client_credentials_token" => oauth::client_credentials(&i.app_key, &i.app_secret),
        other => return Err(format!("inputs: unknown OAuth op `{other}`")),
    };
    let mut out = json!({
        "http_method": request.http_method,
        "path": request.path,
        "sign_string": null,
        "differs_from_sdk": differences(),
    });
    put_pairs(
        &mut out,
        request.http_method,
        &request.pairs,
        request.encoded(),
    );
    Ok(out)
}

fn differences() -> Value {
    json!(SDK_DIFFERENCES
        .iter()
        .map(|(sdk, ours)| format!("{sdk} → {ours}"))
        .collect::<Vec<_>>())
}
