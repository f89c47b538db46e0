//! The open-platform client: signed requests byte-compatible with the official SDK
//! (`kwaixiaodian` 1.0.3, see `shared/kuaishou/NOTES.md`), sent to the platform's path.
//! Pairs are form-encoded like Python's `urlencode(quote_via=quote_plus)`
//! (`shopops_kernel::encoding::form`: `~` kept, `*` escaped, space `+`).

pub mod json;
pub mod oauth;
pub mod paging;
pub mod response;
pub mod sign;

use serde::Serialize;

use crate::catalogue::{self, HttpMethod};
pub use sign::SignMethod;

/// The app's credentials. `sign_secret` is the separate signing secret, not the app
/// secret.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app_key: String,
    pub sign_secret: String,
    pub sign_method: SignMethod,
}

/// One call, before signing.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: &'a str,
    pub access_token: &'a str,
    /// The business parameters as the exact JSON text to send; None = no `param`.
    pub param_json: Option<&'a str>,
    /// Unix epoch milliseconds as a decimal string.
    pub timestamp: String,
}

/// A signed request, ready to send (and to show in a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct SignedRequest {
    pub http_method: HttpMethod,
    /// The platform path: `"/" + method.replace('.', '/')` (the SDK doubles `/open`).
    pub path: String,
    /// System parameters and `sign` in wire order.
    pub pairs: Vec<(String, String)>,
    pub sign_string: String,
    pub sign: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("unknown Kuaishou method `{0}`")]
    UnknownMethod(String),
    #[error("an access token is required")]
    MissingToken,
}

/// The platform's path for a method.
pub fn platform_path(method: &str) -> String {
    format!("/{}", method.replace('.', "/"))
}

/// Builds and signs a call: verb and version from the catalogue, system parameters in
/// the SDK's wire order (`method, appkey, access_token, version, timestamp, signMethod,
/// [param], sign`).
pub fn sign_call(app: &AppCredentials, call: &Call<'_>) -> Result<SignedRequest, CallError> {
    let entry = catalogue::find(call.method)
        .ok_or_else(|| CallError::UnknownMethod(call.method.to_string()))?;
    if call.access_token.is_empty() {
        return Err(CallError::MissingToken);
    }
    let mut pairs: Vec<(String, String)> = vec![
        ("method".into(), call.method.into()),
        ("appkey".into(), app.app_key.clone()),
        ("access_token".into(), call.access_token.into()),
        ("version".into(), entry.version.clone()),
        ("timestamp".into(), call.timestamp.clone()),
        ("signMethod".into(), app.sign_method.as_str().into()),
    ];
    if let Some(param) = call.param_json {
        pairs.push(("param".into(), param.into()));
    }
    let sign_string = sign::sign_string(&pairs, &app.sign_secret);
    let sign = sign::sign(app.sign_method, &sign_string, &app.sign_secret);
    pairs.push(("sign".into(), sign.clone()));
    Ok(SignedRequest {
        http_method: entry.http_method,
        path: platform_path(call.method),
        pairs,
        sign_string,
        sign,
    })
}

impl SignedRequest {
    /// The encoded pairs: the query string of a GET, the form body of a POST.
    pub fn encoded(&self) -> String {
        shopops_kernel::encoding::form(&self.pairs)
    }
}
