//! The OAuth requests (unsigned) in the platform's form, and the token answer.
//!
//! The SDK differs from the platform's documentation here; we follow the platform
//! and keep the SDK's encoding (`quote_plus`). Field by field, as the vector test
//! checks ([`SDK_DIFFERENCES`]):
//!
//! | flow | SDK | platform (ours) |
//! |---|---|---|
//! | authorize URL | `{api}/oauth2/authorize?response_type&client_id&redirect_uri&scope&state` | `{open}/oauth/authorize?app_id&redirect_uri&scope&response_type&state` |
//! | code → token | POST form `grant_type=authorization_code, client_id, client_secret, code[, redirect_uri]` | GET `?app_id&app_secret&grant_type=code&code` |
//! | refresh | POST form `grant_type, client_id, client_secret, refresh_token` | POST form `grant_type, refresh_token, app_id, app_secret` |
//! | app token | POST form `grant_type=client_credentials, client_id, client_secret` | GET `?app_id&app_secret&grant_type=client_credentials` |

use serde::{Deserialize, Serialize};

use crate::catalogue::HttpMethod;
use shopops_kernel::encoding::form as urlencode;

/// SDK field name → the platform's, and SDK value → the platform's, as applied by the
/// platform form of each request.
pub const SDK_DIFFERENCES: &[(&str, &str)] = &[
    ("client_id", "app_id"),
    ("client_secret", "app_secret"),
    ("grant_type=authorization_code", "grant_type=code"),
];

/// One OAuth request: pairs in wire order, in the query of a GET or the form body of
/// a POST.
#[derive(Debug, Clone, Serialize)]
pub struct OAuthRequest {
    pub http_method: HttpMethod,
    pub path: &'static str,
    pub pairs: Vec<(String, String)>,
}

impl OAuthRequest {
    pub fn encoded(&self) -> String {
        urlencode(&self.pairs)
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Where a seller authorises the app: `{authorize_base}?app_id&redirect_uri&scope&
/// response_type=code&state`; `scopes` comma-separated.
pub fn authorize_url(
    authorize_base: &str,
    app_key: &str,
    redirect_uri: &str,
    scopes: &str,
    state: &str,
) -> String {
    let query = urlencode(&pairs(&[
        ("app_id", app_key),
        ("redirect_uri", redirect_uri),
        ("scope", scopes),
        ("response_type", "code"),
        ("state", state),
    ]));
    format!("{authorize_base}?{query}")
}

/// Authorisation code → tokens. Never repeated: a code works once.
pub fn code_exchange(app_key: &str, app_secret: &str, code: &str) -> OAuthRequest {
    OAuthRequest {
        http_method: HttpMethod::Get,
        path: "/oauth2/access_token",
        pairs: pairs(&[
            ("app_id", app_key),
            ("app_secret", app_secret),
            ("grant_type", "code"),
            ("code", code),
        ]),
    }
}

/// Refresh token → new tokens (the refresh token rotates). Never repeated.
pub fn refresh(app_key: &str, app_secret: &str, refresh_token: &str) -> OAuthRequest {
    OAuthRequest {
        http_method: HttpMethod::Post,
        path: "/oauth2/refresh_token",
        pairs: pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("app_id", app_key),
            ("app_secret", app_secret),
        ]),
    }
}

/// The app's own token (no seller).
pub fn client_credentials(app_key: &str, app_secret: &str) -> OAuthRequest {
    OAuthRequest {
        http_method: HttpMethod::Get,
        path: "/oauth2/access_token",
        pairs: pairs(&[
            ("app_id", app_key),
            ("app_secret", app_secret),
            ("grant_type", "client_credentials"),
        ]),
    }
}

/// A token answer that succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub refresh_token_expires_in: Option<i64>,
    pub open_id: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
struct TokenReply {
    result: Option<i64>,
    error: Option<String>,
    error_msg: Option<String>,
    error_description: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    refresh_token_expires_in: Option<i64>,
    open_id: Option<String>,
    /// The platform sends a list; the SDK reads only the comma string `scope`.
    scopes: Option<Vec<String>>,
    scope: Option<String>,
}

/// Why the platform refused (or we could not read) a token answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct TokenRefused {
    pub status: u16,
    /// The platform's `error` (`invalid_grant`, `access_denied` …) when it gave one.
    pub error: Option<String>,
    pub reason: String,
}

/// Reads a token answer: an HTTP status other than 200, an `error` key or a `result`
/// other than 1 is a refusal; success needs `access_token` and `expires_in`.
pub fn read_token_answer(status: u16, body: &str) -> Result<TokenGrant, TokenRefused> {
    let refused = |error: Option<String>, reason: String| TokenRefused {
        status,
        error,
        reason,
    };
    let reply: TokenReply = serde_json::from_str(body)
        .map_err(|_| refused(None, format!("unreadable answer (HTTP {status})")))?;
    if status != 200 || reply.error.is_some() || reply.result.is_some_and(|r| r != 1) {
        let reason = reply
            .error_description
            .clone()
            .or(reply.error_msg.clone())
            .or(reply.error.clone())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(refused(reply.error, reason));
    }
    let (Some(access_token), Some(expires_in)) = (reply.access_token, reply.expires_in) else {
        return Err(refused(
            None,
            "the answer lacks access_token or expires_in".into(),
        ));
    };
    let scopes = reply.scopes.unwrap_or_else(|| {
        reply
            .scope
            .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_default()
    });
    Ok(TokenGrant {
        access_token,
        refresh_token: reply.refresh_token,
        expires_in,
        refresh_token_expires_in: reply.refresh_token_expires_in,
        open_id: reply.open_id,
        scopes,
    })
}
