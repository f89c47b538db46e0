//! One request to a platform and its answer, with the session's cookies. Cookies are
//! kept as the stored session does (a name → value map shared through the
//! cache), so they are read from `Set-Cookie` here rather than by a per-process
//! cookie store: only the name, the value and a deletion (`Max-Age=0`, a past
//! `Expires`) matter to a session that one server-side login owns.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, COOKIE, LOCATION, SET_COOKIE};
use reqwest::Method;

use super::Gateway;

/// A platform's answer, its body read up to a cap.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than the cap and cut.
    pub truncated: bool,
}

impl Answer {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Applies its `Set-Cookie` headers to `jar`.
    pub fn update_jar(&self, jar: &mut BTreeMap<String, String>) {
        for value in self.headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let mut parts = text.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                continue;
            }
            let deleted = parts.any(|attr| {
                let attr = attr.trim().to_ascii_lowercase();
                attr == "max-age=0"
                    || attr.starts_with("max-age=-")
                    || attr.starts_with("expires=thu, 01 jan 1970")
            });
            if deleted {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    /// Whether the answer sets cookie `name`.
    pub fn sets_cookie(&self, name: &str) -> bool {
        let mut jar = BTreeMap::new();
        self.update_jar(&mut jar);
        jar.contains_key(name)
    }
}

/// Why no answer came.
#[derive(Debug, Clone)]
pub struct NetworkFault(pub String);

/// A request ready to send.
pub struct Outgoing {
    pub method: Method,
    pub url: url::Url,
    pub headers: HeaderMap,
    pub body: Option<(Vec<u8>, HeaderValue)>,
}

impl Outgoing {
    pub fn get(url: url::Url) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// Adds the jar as one `Cookie` header and the session's extra headers.
    pub fn with_session(
        mut self,
        cookies: &BTreeMap<String, String>,
        headers: &BTreeMap<String, String>,
    ) -> Self {
        if !cookies.is_empty() {
            let line = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            if let Ok(v) = HeaderValue::from_str(&line) {
                self.headers.insert(COOKIE, v);
            }
        }
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                self.headers.insert(k, v);
            }
        }
        self
    }
}

impl Gateway {
    /// Sends once; the body is read up to `response_max_bytes`.
    pub async fn send(&self, req: &Outgoing) -> Result<Answer, NetworkFault> {
        let mut builder = self
            .http
            .request(req.method.clone(), req.url.clone())
            .headers(req.headers.clone());
        if let Some((body, content_type)) = &req.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, content_type.clone())
                .body(body.clone());
        }
        let mut resp = builder
            .send()
            .await
            .map_err(|e| NetworkFault(describe(&e)))?;
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let cap = self.config.response_max_bytes;
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = resp.chunk().await.map_err(|e| NetworkFault(describe(&e)))? {
            if body.len() + chunk.len() > cap {
                body.extend_from_slice(&chunk[..cap - body.len()]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
            truncated,
        })
    }

    /// Sends, retrying network failures as docs/gateway.md's table says: 3 times, after 1,
    /// 2 and 4 × `network_backoff_ms`.
    pub async fn send_retrying(&self, req: &Outgoing) -> Result<Answer, NetworkFault> {
        let mut wait = Duration::from_millis(self.config.network_backoff_ms);
        let mut tries = 0;
        loop {
            match self.send(req).await {
                Ok(answer) => return Ok(answer),
                Err(fault) if tries >= 3 => return Err(fault),
                Err(fault) => {
                    tracing::info!(url = %req.url.path(), error = %fault.0, retry_in_ms = wait.as_millis() as u64, "platform unreachable; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    tries += 1;
                }
            }
        }
    }
}

/// The error without the URL's query (which may carry a captcha's `t` or a caller's
/// parameters): kind and cause only.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    let mut cause = std::error::Error::source(e);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(c) => format!("{kind}: {c}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_headers_update_and_delete_jar_entries() {
        let mut headers = HeaderMap::new();
        for v in [
            "PHPSESSID=abc; path=/; HttpOnly",
            "lang=zh",
            "old=x; Max-Age=0",
            "broken",
        ] {
            headers.append(SET_COOKIE, HeaderValue::from_static(v));
        }
        let answer = Answer {
            status: 200,
            headers,
            body: vec![],
            truncated: false,
        };
        let mut jar = BTreeMap::from([("old".to_string(), "1".to_string())]);
        answer.update_jar(&mut jar);
        assert_eq!(jar.get("PHPSESSID").map(String::as_str), Some("abc"));
        assert_eq!(jar.get("lang").map(String::as_str), Some("zh"));
        assert!(!jar.contains_key("old"));
        assert_eq!(jar.len(), 2);
        assert!(answer.sets_cookie("PHPSESSID"));
        assert!(!answer.sets_cookie("old"));

        let out = Outgoing::get(url::Url::parse("http://p/x").unwrap()).with_session(
            &jar,
            &BTreeMap::from([("X-CSRF".to_string(), "t".to_string())]),
        );
        assert_eq!(out.headers.get(COOKIE).unwrap(), "PHPSESSID=abc; lang=zh");
        assert_eq!(out.headers.get("x-csrf").unwrap(), "t");
    }
}
