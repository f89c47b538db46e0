use super::*;

fn minimal() -> PlatformFields {
    PlatformFields {
        name: Some("crm".into()),
        base_url: Some("https://crm.example.com".into()),
        captcha_url: Some("/img.php".into()),
        accounts: Some(vec![AccountInput {
            user_no: "7".into(),
            username: "u".into(),
            password: "p".into(),
        }]),
        ..Default::default()
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let p = apply(None, minimal()).unwrap();
    let s = &p.settings;
    assert_eq!(
        (s.login_url.as_str(), s.captcha_type, s.captcha_max_retries),
        ("/login", 1004, 3)
    );
    assert_eq!(
        (s.keepalive_interval, s.session_timeout, s.max_retries),
        (300, 3600, 3)
    );
    assert_eq!(s.heartbeat_path, "/api/heartbeat");
    assert_eq!(s.form_fields.user_no, "user_no");
    assert_eq!(s.expiry.statuses, vec![401, 403]);
    assert_eq!(key_prefix(9, &p.name, s), "gateway:9:crm:");
    assert!(p.enabled);
}

#[test]
fn every_bad_field_is_named() {
    let fields = PlatformFields {
        name: Some("CRM!".into()),
        base_url: Some("ftp://x".into()),
        captcha_url: Some("http://elsewhere/img".into()),
        solvers: Some(vec!["local".into(), "local".into()]),
        keepalive_interval: Some(0),
        accounts: Some(vec![]),
        ..Default::default()
    };
    let err = apply(None, fields).unwrap_err();
    let details = err.to_stored().to_string();
    for field in [
        "name",
        "base_url",
        "captcha_url",
        "solvers",
        "keepalive_interval",
        "accounts",
    ] {
        assert!(details.contains(field), "{field} not named in {details}");
    }
}

#[test]
fn a_patch_keeps_what_it_does_not_name() {
    let created = apply(None, minimal()).unwrap();
    let patch = PlatformFields {
        keepalive_interval: Some(60),
        ..Default::default()
    };
    let patched = apply(Some(("crm", false, &created.settings)), patch).unwrap();
    assert_eq!(patched.settings.keepalive_interval, 60);
    assert_eq!(patched.settings.base_url, "https://crm.example.com");
    assert!(!patched.enabled);
    assert!(patched.accounts.is_none());
}
