//! Chaojiying (超级鹰) captcha recognition (`PROTOCOLS.md` §6): requests as the vendor's
//! demo sends them, answers interpreted. There is no SDK and no reachable
//! documentation; the error table comes from public copies of the vendor's pages.

use serde::Serialize;
use serde_json::Value;
use shopops_kernel::encoding::form;

use super::digest::md5_hex;

/// The demo's `User-Agent`.
pub const USER_AGENT: &str = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)";
/// The file part's name and filename in the demo.
pub const FILE_FIELD: &str = "userfile";
pub const FILENAME: &str = "ccc.jpg";

/// `pass2`: lower-case hex MD5 of the UTF-8 password (the password itself is never
/// sent).
pub fn pass2(password: &str) -> String {
    md5_hex(password.as_bytes())
}

/// A request body and its content type.
#[derive(Debug, Clone)]
pub struct Body {
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// The text fields, in wire order.
    pub fields: Vec<(String, String)>,
}

/// Recognise an image sent as a multipart file (`codetype`, `user`, `pass2`, `softid`,
/// then the file part without a content type). Multipart is written here, not with
/// reqwest's builder, because the byte layout (field order, no part content type,
/// the caller's boundary) is what the vectors pin down.
pub fn postpic_multipart(
    user: &str,
    password: &str,
    softid: &str,
    codetype: &str,
    image: &[u8],
    boundary: &str,
) -> Body {
    let fields = vec![
        ("codetype".to_string(), codetype.to_string()),
        ("user".to_string(), user.to_string()),
        ("pass2".to_string(), pass2(password)),
        ("softid".to_string(), softid.to_string()),
    ];
    let mut bytes = Vec::with_capacity(image.len() + 600);
    for (name, value) in &fields {
        bytes.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    bytes.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{FILE_FIELD}\"; filename=\"{FILENAME}\"\r\n\r\n"
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(image);
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Body {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
        fields,
    }
}

fn form_body(fields: Vec<(String, String)>) -> Body {
    Body {
        content_type: "application/x-www-form-urlencoded".into(),
        bytes: form(&fields).into_bytes(),
        fields,
    }
}

/// Recognise an image sent as bare Base64 in a form field.
pub fn postpic_base64(
    user: &str,
    password: &str,
    softid: &str,
    codetype: &str,
    image_base64: &str,
) -> Body {
    form_body(vec![
        ("codetype".into(), codetype.into()),
        ("file_base64".into(), image_base64.into()),
        ("user".into(), user.into()),
        ("pass2".into(), pass2(password)),
        ("softid".into(), softid.into()),
    ])
}

/// Report a wrong answer (its `pic_id`), so its points are refunded.
pub fn report_error(user: &str, password: &str, softid: &str, pic_id: &str) -> Body {
    form_body(vec![
        ("id".into(), pic_id.into()),
        ("user".into(), user.into()),
        ("pass2".into(), pass2(password)),
        ("softid".into(), softid.into()),
    ])
}

/// The account's points.
pub fn get_score(user: &str, password: &str) -> Body {
    form_body(vec![
        ("user".into(), user.into()),
        ("pass2".into(), pass2(password)),
    ])
}

/// What an answer means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interpretation {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Click captchas (`x1,y1|x2,y2`): the points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<[i64; 2]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pic_id_for_report: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_points: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_points: Option<i64>,
    /// On failure: worth trying again (the service's own trouble) or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// On failure: `credentials`, `balance`, `input`, `rate`, `service`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err_no: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err_str: Option<String>,
}

/// The error table (public copies of the vendor's api-23 page).
fn category(err_no: i64) -> (&'static str, bool) {
    match err_no {
        -1001 | -1002 | -10023 => ("credentials", false),
        -1005 => ("balance", false),
        -10061 | -10062 | -10132 => ("input", false),
        -1013 => ("rate", false),
        _ => ("service", true),
    }
}

/// Interprets an answer of `operation` (`postpic`, `report_error`, `get_score`).
pub fn interpret(operation: &str, codetype: Option<&str>, body: &Value) -> Interpretation {
    let err_no = body["err_no"].as_i64().unwrap_or(-1);
    let mut out = Interpretation {
        ok: err_no == 0,
        answer: None,
        points: None,
        pic_id_for_report: None,
        balance_points: None,
        locked_points: None,
        retryable: None,
        category: None,
        err_no: None,
        err_str: None,
    };
    if err_no != 0 {
        let (category, retryable) = category(err_no);
        out.category = Some(category);
        out.retryable = Some(retryable);
        out.err_no = Some(err_no);
        out.err_str = body["err_str"].as_str().map(str::to_string);
        return out;
    }
    match operation {
        "postpic" => {
            let answer = body["pic_str"].as_str().unwrap_or_default().to_string();
            // Click types (9xxx) answer with coordinates.
            if codetype.is_some_and(|c| c.starts_with('9')) {
                out.points = Some(
                    answer
                        .split('|')
                        .filter_map(|p| {
                            let (x, y) = p.split_once(',')?;
                            Some([x.trim().parse().ok()?, y.trim().parse().ok()?])
                        })
                        .collect(),
                );
            } else {
                out.answer = Some(answer);
            }
            out.pic_id_for_report = body["pic_id"]
                .as_str()
                .filter(|p| !p.is_empty() && *p != "0")
                .map(str::to_string);
        }
        "get_score" => {
            out.balance_points = body["tifen"].as_i64();
            out.locked_points = body["tifen_lock"].as_i64();
        }
        _ => {}
    }
    out
}
