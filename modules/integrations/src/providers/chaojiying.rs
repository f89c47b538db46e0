//! Chaojiying captcha recognition: recognise (multipart upload), report a wrong
//! answer, the account's points. The platform gateway solves login captchas with it.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use shopops_kernel::outside::{Repeat, Target};

use super::{send, CaptchaAnswer, CaptchaProvider, ProviderError};
use crate::client::chaojiying::{self as cjy, Body};

fn default_endpoint() -> String {
    "http://upload.chaojiying.net".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub user: String,
    pub password: SecretString,
    pub softid: String,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

pub struct Chaojiying {
    settings: Settings,
    target: Arc<Target>,
}

impl Chaojiying {
    pub fn new(settings: Settings, target: Arc<Target>) -> Self {
        Self { settings, target }
    }

    async fn post(&self, path: &str, body: Body, write: bool) -> Result<Value, ProviderError> {
        let request = self
            .target
            .client()
            .post(format!(
                "{}{path}",
                self.settings.endpoint.trim_end_matches('/')
            ))
            .header("User-Agent", cjy::USER_AGENT)
            .header("Content-Type", body.content_type)
            .body(body.bytes)
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let repeat = if write { Repeat::Never } else { Repeat::Always };
        let answer = send(&self.target, request, repeat, write).await?;
        if answer.status != 200 {
            return Err(ProviderError::Unavailable(format!(
                "HTTP {}",
                answer.status
            )));
        }
        serde_json::from_slice(&answer.body)
            .map_err(|_| ProviderError::Unavailable("unreadable answer".into()))
    }

    fn failure(i: &cjy::Interpretation) -> ProviderError {
        let code = format!("CHAOJIYING_{}", i.err_no.unwrap_or(-1));
        let message = i.err_str.clone().unwrap_or_default();
        if i.retryable == Some(true)
            || i.category == Some("credentials")
            || i.category == Some("balance")
        {
            // The service's or our account's trouble: another provider could answer.
            ProviderError::Unavailable(format!("{code}: {message}"))
        } else {
            ProviderError::rejected(code, message)
        }
    }
}

#[async_trait::async_trait]
impl CaptchaProvider for Chaojiying {
    async fn recognize(
        &self,
        image: &[u8],
        codetype: &str,
    ) -> Result<CaptchaAnswer, ProviderError> {
        let s = &self.settings;
        let boundary = uuid::Uuid::new_v4().simple().to_string();
        let body = cjy::postpic_multipart(
            &s.user,
            s.password.expose_secret(),
            &s.softid,
            codetype,
            image,
            &boundary,
        );
        // A recognition costs points: not repeated on the transport's own.
        let answer = self.post("/Upload/Processing.php", body, true).await?;
        let i = cjy::interpret("postpic", Some(codetype), &answer);
        if !i.ok {
            return Err(Self::failure(&i));
        }
        Ok(CaptchaAnswer {
            answer: i.answer,
            points: i.points,
            pic_id: i.pic_id_for_report,
        })
    }

    async fn report_error(&self, pic_id: &str) -> Result<(), ProviderError> {
        let s = &self.settings;
        let body = cjy::report_error(&s.user, s.password.expose_secret(), &s.softid, pic_id);
        let answer = self.post("/Upload/ReportError.php", body, false).await?;
        let i = cjy::interpret("report_error", None, &answer);
        if i.ok {
            Ok(())
        } else {
            Err(Self::failure(&i))
        }
    }

    async fn balance(&self) -> Result<i64, ProviderError> {
        let s = &self.settings;
        let body = cjy::get_score(&s.user, s.password.expose_secret());
        let answer = self.post("/Upload/GetScore.php", body, false).await?;
        let i = cjy::interpret("get_score", None, &answer);
        if i.ok {
            Ok(i.balance_points.unwrap_or(0))
        } else {
            Err(Self::failure(&i))
        }
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.settings.endpoint).await
    }
}
