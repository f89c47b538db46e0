//! A cookie+session web platform as the gateway meets them (docs/gateway.md), and a
//! captcha service that reads its captchas. The platform serves captcha images with
//! a known text under a pre-session cookie, checks the login form and the captcha
//! against that cookie (once), issues a session cookie that expires after an idle
//! time, redirects to the login page when it did, answers a heartbeat, fails with 5xx
//! bursts on request, and counts everything. The captcha service speaks Chaojiying's
//! protocol (as integrations' fake does) and reads the text these images carry; it
//! can be told to answer wrong.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::fake_providers::{chaojiying_signed_in, serve};

pub const USER_NO: &str = "1001";
pub const USERNAME: &str = "ops-user";
pub const PASSWORD: &str = "平台-s3cret-pass";

/// What the platform saw and how it behaves.
pub struct Platform {
    /// Captcha text by pre-session cookie (used once).
    captchas: HashMap<String, String>,
    /// Last use by session cookie.
    sessions: HashMap<String, Instant>,
    pub idle_timeout: Duration,
    pub captcha_fetches: usize,
    pub login_posts: usize,
    pub logins: usize,
    pub heartbeats: usize,
    pub api_calls: usize,
    /// The next this-many API calls answer 503.
    pub fail_next: usize,
    /// The text of the last captcha served (a person reads it).
    pub last_captcha: String,
    /// Cookies of the last login form, for secrecy checks.
    pub session_cookies: Vec<String>,
    /// Real captcha images with their text, served in turn instead of the readable
    /// stand-ins (the local-model test).
    pub images: Vec<(Vec<u8>, String)>,
    next: u64,
}

impl Default for Platform {
    fn default() -> Self {
        Self {
            captchas: HashMap::new(),
            sessions: HashMap::new(),
            idle_timeout: Duration::from_secs(3600),
            captcha_fetches: 0,
            login_posts: 0,
            logins: 0,
            heartbeats: 0,
            api_calls: 0,
            fail_next: 0,
            last_captcha: String::new(),
            session_cookies: Vec::new(),
            images: Vec::new(),
            next: 0,
        }
    }
}

impl Platform {
    /// Every session dies (the platform restarted, or timed them out).
    pub fn expire_all(&mut self) {
        self.sessions.clear();
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

pub type SharedPlatform = Arc<Mutex<Platform>>;

fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    let header = req.headers().get("cookie")?.to_str().ok()?;
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The image: PNG magic, then the text (`FAKE:abcd`) the captcha service reads.
fn image_of(text: &str) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(format!("FAKE:{text};").as_bytes());
    bytes
}

async fn captcha(req: HttpRequest, state: web::Data<SharedPlatform>) -> HttpResponse {
    // The cache-buster must be there: `t` = milliseconds + 1000..9999.
    let t = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("t").and_then(|t| t.parse::<i64>().ok()));
    if t.is_none_or(|t| t < 1_600_000_000_000) {
        return HttpResponse::BadRequest().body("t missing");
    }
    let mut p = state.lock().unwrap();
    p.captcha_fetches += 1;
    let id = p.id();
    let (image, text) = if p.images.is_empty() {
        let alphabet = b"abcdefghjkmnpqrstuvwxyz23456789";
        let text: String = (0..4)
            .map(|i| alphabet[((id * 7 + i * 13) % alphabet.len() as u64) as usize] as char)
            .collect();
        (image_of(&text), text)
    } else {
        // Like most PHP captchas, the answer is compared ignoring case.
        let (image, text) = &p.images[(id as usize - 1) % p.images.len()];
        (image.clone(), text.to_lowercase())
    };
    let pre = format!("pre{id}");
    p.captchas.insert(pre.clone(), text.clone());
    p.last_captcha = text;
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Set-Cookie", format!("PHPSESSID={pre}; path=/")))
        .body(image)
}

async fn login(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SharedPlatform>,
) -> HttpResponse {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let mut p = state.lock().unwrap();
    p.login_posts += 1;
    let expected = cookie(&req, "PHPSESSID").and_then(|pre| p.captchas.remove(&pre));
    let given = form.get("captcha").map(|c| c.to_ascii_lowercase());
    if expected.is_none() || expected != given {
        return HttpResponse::Ok().body("<html>验证码错误，请重新输入</html>");
    }
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("user_no") != Some(USER_NO)
        || field("username") != Some(USERNAME)
        || field("password") != Some(PASSWORD)
    {
        return HttpResponse::Ok().body("<html>用户名或密码错误</html>");
    }
    p.logins += 1;
    let sid = format!("sid-{}-{}", p.id(), uuid::Uuid::new_v4().simple());
    p.sessions.insert(sid.clone(), Instant::now());
    p.session_cookies.push(sid.clone());
    HttpResponse::Found()
        .insert_header(("Location", "/index.php"))
        .insert_header(("Set-Cookie", format!("SID={sid}; path=/; HttpOnly")))
        .finish()
}

/// The session's cookie when it is alive (its idle timer restarts).
fn alive(req: &HttpRequest, p: &mut Platform) -> bool {
    let Some(sid) = cookie(req, "SID") else {
        return false;
    };
    let idle = p.idle_timeout;
    match p.sessions.get_mut(&sid) {
        Some(last) if last.elapsed() < idle => {
            *last = Instant::now();
            true
        }
        _ => false,
    }
}

fn to_login() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", "/login.php?expired=1"))
        .finish()
}

async fn heartbeat(req: HttpRequest, state: web::Data<SharedPlatform>) -> HttpResponse {
    let mut p = state.lock().unwrap();
    if !alive(&req, &mut p) {
        return to_login();
    }
    p.heartbeats += 1;
    HttpResponse::Ok().json(json!({ "ok": true }))
}

async fn api(req: HttpRequest, body: web::Bytes, state: web::Data<SharedPlatform>) -> HttpResponse {
    let mut p = state.lock().unwrap();
    p.api_calls += 1;
    if p.fail_next > 0 {
        p.fail_next -= 1;
        return HttpResponse::ServiceUnavailable().body("busy");
    }
    if !alive(&req, &mut p) {
        return to_login();
    }
    HttpResponse::Ok()
        .insert_header(("Set-Cookie", "SID2=rotated; path=/"))
        .insert_header(("X-Platform", "fake"))
        .json(json!({
            "method": req.method().as_str(),
            "path": req.path(),
            "query": req.query_string(),
            "body": String::from_utf8_lossy(&body),
            "content_type": req.headers().get("content-type").and_then(|v| v.to_str().ok()),
            "x_trace": req.headers().get("x-trace").and_then(|v| v.to_str().ok()),
        }))
}

/// Starts the platform; its base URL.
pub async fn platform(state: SharedPlatform) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone())
            .route("/img.php", web::get().to(captcha))
            .route("/login.php", web::post().to(login))
            .route("/api/heartbeat", web::get().to(heartbeat))
            .default_service(web::to(api));
    })
    .await
}

/// The captcha service's state: answers wrong while `wrong_next` > 0; reports seen.
#[derive(Default)]
pub struct Reader {
    pub wrong_next: usize,
    pub read: usize,
    pub reports: usize,
}

pub type SharedReader = Arc<Mutex<Reader>>;

async fn reader_api(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SharedReader>,
) -> HttpResponse {
    if !chaojiying_signed_in(&body) {
        return HttpResponse::Ok().json(json!({ "err_no": -10023, "err_str": "密码错误" }));
    }
    let text = String::from_utf8_lossy(&body);
    let mut r = state.lock().unwrap();
    match req.path() {
        "/Upload/Processing.php" => {
            r.read += 1;
            let read = text
                .split_once("FAKE:")
                .and_then(|(_, rest)| rest.split_once(';'))
                .map(|(t, _)| t.to_string())
                .unwrap_or_default();
            let answer = if r.wrong_next > 0 {
                r.wrong_next -= 1;
                "zzzz".to_string()
            } else {
                read
            };
            HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK", "pic_id": format!("9{}", r.read), "pic_str": answer, "md5": "" }))
        }
        "/Upload/ReportError.php" => {
            r.reports += 1;
            HttpResponse::Ok().json(json!({ "err_no": 0, "err_str": "OK" }))
        }
        _ => HttpResponse::Ok()
            .json(json!({ "err_no": 0, "err_str": "OK", "tifen": 1000, "tifen_lock": 0 })),
    }
}

/// Starts the captcha service; its endpoint for the integrations config.
pub async fn reader(state: SharedReader) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone())
            .default_service(web::to(reader_api));
    })
    .await
}
