//! Local stand-ins for the providers no machine here can reach. Each checks every
//! request the way the provider does — WeChat Pay the RSA signature over
//! `METHOD\nURL\nTS\nNONCE\nBODY\n` with the merchant's public key, Alipay the RSA2 sign
//! over the sorted parameters with the app's public key, Tencent Cloud and Aliyun their
//! HMAC signatures recomputed from the request as received, COS its q-* signature, S3
//! its SigV4 (header or presigned query, the payload hash against the body),
//! Chaojiying the MD5 password — and answers in the provider's documented shapes,
//! signed with the test-only "platform" keys of the vectors where the provider signs.
//! A `down` switch makes one fail (503) to exercise failover.

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpServer};
use serde_json::Value;

mod captcha;
mod payments;
mod sms;
mod storage;

pub use captcha::{chaojiying, chaojiying_signed_in, CJY_PASSWORD, CJY_USER};
pub use payments::{alipay, alipay_notification, wechat, wechat_paid, Alipay, Wechat};
pub use sms::{aliyun_sms, tencent_sms, Sms, ALIYUN_ID, ALIYUN_SECRET, TENCENT_ID, TENCENT_KEY};
pub use storage::{cos, s3, Cos, COS_ID, COS_KEY, S3, S3_ID, S3_REGION, S3_SECRET};

pub type Shared<T> = Arc<Mutex<T>>;

/// A vector file of the integrations module's fixtures.
pub fn vector(provider: &str, file: &str) -> Value {
    let path = format!(
        "{}/../../modules/integrations/tests/fixtures/vectors/{provider}/{file}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The keys of the vectors (merchant side and the test-only provider side).
pub fn vector_keys(provider: &str, file: &str) -> Value {
    vector(provider, file)["keys"].clone()
}

pub async fn serve(app: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static) -> String {
    let server = HttpServer::new(move || App::new().configure(app.clone()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    url
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
