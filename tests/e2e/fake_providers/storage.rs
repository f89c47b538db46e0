//! Object storage stand-ins: Tencent COS (q-* signature) and S3 (SigV4, header or
//! presigned query), each keeping the objects it was given.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use shopops_integrations::client::{cos, digest, sigv4};

use super::{header, nonce, serve, Shared};

// ---------------------------------------------------------------- COS

#[derive(Default)]
pub struct Cos {
    pub down: bool,
    pub objects: HashMap<String, (String, Vec<u8>)>,
    pub refused_signatures: usize,
}

pub const COS_ID: &str = "AKIDe2eCosSecretId";
pub const COS_KEY: &str = "e2e-cos-secret-key";

/// Verifies a COS signature from the `Authorization` header or the query.
fn cos_signed(req: &HttpRequest) -> bool {
    let from_header = header(req, "Authorization").to_string();
    let source = if from_header.is_empty() {
        req.query_string().to_string()
    } else {
        from_header
    };
    let fields: HashMap<String, String> = form_urlencoded::parse(source.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let header_list = fields.get("q-header-list").cloned().unwrap_or_default();
    let headers: Vec<(String, String)> = header_list
        .split(';')
        .filter(|n| !n.is_empty())
        .map(|n| (n.to_string(), header(req, n).to_string()))
        .collect();
    let path = percent_decode(req.path());
    let signed = cos::sign(
        COS_ID,
        COS_KEY,
        req.method().as_str(),
        &path,
        &[],
        &headers,
        fields
            .get("q-key-time")
            .map(String::as_str)
            .unwrap_or_default(),
    );
    let end: i64 = fields
        .get("q-key-time")
        .and_then(|t| t.split(';').nth(1))
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    fields.get("q-signature") == Some(&signed.signature) && end >= chrono::Utc::now().timestamp()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

async fn cos_api(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Shared<Cos>>,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    if s.down {
        return HttpResponse::ServiceUnavailable()
            .body("<Error><Code>ServiceUnavailable</Code></Error>");
    }
    if !cos_signed(&req) {
        s.refused_signatures += 1;
        return HttpResponse::Forbidden().body("<Error><Code>SignatureDoesNotMatch</Code></Error>");
    }
    let key = percent_decode(req.path());
    match req.method().as_str() {
        "PUT" => {
            s.objects.insert(
                key,
                (header(&req, "Content-Type").to_string(), body.to_vec()),
            );
            HttpResponse::Ok()
                .insert_header(("ETag", "\"e2e\""))
                .finish()
        }
        "GET" => match s.objects.get(&key) {
            Some((ct, bytes)) => HttpResponse::Ok()
                .content_type(ct.clone())
                .body(bytes.clone()),
            None => HttpResponse::NotFound().body("<Error><Code>NoSuchKey</Code></Error>"),
        },
        "HEAD" if s.objects.contains_key(&key) => HttpResponse::Ok().finish(),
        "HEAD" => HttpResponse::NotFound().finish(),
        "DELETE" => {
            s.objects.remove(&key);
            HttpResponse::NoContent().finish()
        }
        _ => HttpResponse::Ok().finish(),
    }
}

pub async fn cos(state: Shared<Cos>) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone())
            .default_service(web::to(cos_api));
    })
    .await
}

// ---------------------------------------------------------------- S3

#[derive(Default)]
pub struct S3 {
    /// Path-style keys (`/bucket/key`, decoded) → (content type, bytes).
    pub objects: HashMap<String, (String, Vec<u8>)>,
    pub refused_signatures: usize,
}

pub const S3_ID: &str = "AKIAE2ES3ACCESSKEYID";
pub const S3_SECRET: &str = "e2e/s3+secret-access-key";
pub const S3_REGION: &str = "ap-guangzhou";

/// Verifies SigV4 as S3 does: the `Authorization` header (with `x-amz-content-sha256`
/// matching the body, `x-amz-date` within 15 minutes) or a presigned query (not
/// expired); the signature recomputed from the request as received.
fn s3_signed(req: &HttpRequest, body: &[u8]) -> bool {
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let field = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let date_of = |d: &str| {
        chrono::NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ")
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0)
    };
    let now = chrono::Utc::now().timestamp();
    let auth = header(req, "Authorization");
    let (credential, signed_headers, signature, amz_date, payload, signed_query) =
        if auth.is_empty() {
            let date = field("X-Amz-Date");
            let expires: i64 = field("X-Amz-Expires").parse().unwrap_or(0);
            if now > date_of(&date) + expires {
                return false;
            }
            let rest: Vec<_> = query
                .iter()
                .filter(|(k, _)| k != "X-Amz-Signature")
                .cloned()
                .collect();
            (
                field("X-Amz-Credential"),
                field("X-Amz-SignedHeaders"),
                field("X-Amz-Signature"),
                date,
                sigv4::UNSIGNED_PAYLOAD.to_string(),
                rest,
            )
        } else {
            let fields: HashMap<&str, &str> = auth
                .trim_start_matches("AWS4-HMAC-SHA256 ")
                .split(", ")
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let payload = header(req, "x-amz-content-sha256").to_string();
            let date = header(req, "x-amz-date").to_string();
            if payload != digest::sha256_hex(body) || (now - date_of(&date)).abs() > 900 {
                return false;
            }
            let get = |k| fields.get(k).copied().unwrap_or_default().to_string();
            (
                get("Credential"),
                get("SignedHeaders"),
                get("Signature"),
                date,
                payload,
                query.clone(),
            )
        };
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[0] != S3_ID || !amz_date.starts_with(scope[1]) {
        return false;
    }
    let headers: Vec<(String, String)> = signed_headers
        .split(';')
        .map(|n| (n.to_string(), header(req, n).to_string()))
        .collect();
    let expected = sigv4::Request {
        access_key_id: S3_ID,
        secret_access_key: S3_SECRET,
        region: scope[2],
        service: scope[3],
        amz_date: &amz_date,
        http_method: req.method().as_str(),
        canonical_uri: req.uri().path(),
        query: &signed_query,
        headers: &headers,
        payload_sha256: &payload,
    }
    .sign();
    scope[2] == S3_REGION && !signature.is_empty() && expected.signature == signature
}

async fn s3_api(req: HttpRequest, body: web::Bytes, state: web::Data<Shared<S3>>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let error = |status: u16, code: &str| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/xml")
            .body(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message><RequestId>{}</RequestId></Error>", nonce()))
    };
    if !s3_signed(&req, &body) {
        s.refused_signatures += 1;
        return error(403, "SignatureDoesNotMatch");
    }
    let key = percent_decode(req.path());
    match req.method().as_str() {
        "PUT" => {
            let content_type = match header(&req, "Content-Type") {
                "" => "binary/octet-stream",
                ct => ct,
            };
            s.objects
                .insert(key, (content_type.to_string(), body.to_vec()));
            HttpResponse::Ok()
                .insert_header(("ETag", format!("\"{}\"", nonce())))
                .finish()
        }
        "GET" => match s.objects.get(&key) {
            Some((ct, bytes)) => HttpResponse::Ok()
                .content_type(ct.clone())
                .body(bytes.clone()),
            None => error(404, "NoSuchKey"),
        },
        "HEAD" if s.objects.contains_key(&key) => HttpResponse::Ok().finish(),
        "HEAD" => HttpResponse::NotFound().finish(),
        "DELETE" => {
            s.objects.remove(&key);
            HttpResponse::NoContent().finish()
        }
        _ => error(405, "MethodNotAllowed"),
    }
}

pub async fn s3(state: Shared<S3>) -> String {
    let state = web::Data::new(state);
    serve(move |cfg| {
        cfg.app_data(state.clone()).default_service(web::to(s3_api));
    })
    .await
}
