//! Chaojiying captcha-solving stand-in, checking the account's MD5 password (`pass2`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::serve;

// ---------------------------------------------------------------- Chaojiying

pub const CJY_USER: &str = "e2e-user";
pub const CJY_PASSWORD: &str = "e2e-密码";

/// Whether a Chaojiying request carries the account's `user` and `pass2`, in a
/// multipart body (recognise) or a form (the others).
pub fn chaojiying_signed_in(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let pass2 = shopops_integrations::client::chaojiying::pass2(CJY_PASSWORD);
    let has = |name: &str, value: &str| {
        text.contains(&format!("name=\"{name}\"\r\n\r\n{value}\r\n"))
            || form_urlencoded::parse(body).any(|(k, v)| k == name && v == value)
    };
    has("user", CJY_USER) && has("pass2", &pass2)
}

async fn chaojiying_api(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !chaojiying_signed_in(&body) {
        return HttpResponse::Ok().json(json!({ "err_no": -10023, "err_str": "密码错误" }));
    }
    match req.path() {
        "/Upload/Processing.php" => HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK", "pic_id": "1662228516102", "pic_str": "8vka", "md5": "" })),
        "/Upload/ReportError.php" => HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK" })),
        _ => HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK", "tifen": 821690, "tifen_lock": 0 })),
    }
}

pub async fn chaojiying() -> String {
    serve(|cfg| {
        cfg.default_service(web::to(chaojiying_api));
    })
    .await
}
