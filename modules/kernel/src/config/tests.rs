use super::*;

fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(DEFAULTS));
    for (k, v) in pairs {
        figment = figment.merge((*k, *v));
    }
    Config::from_figment(figment, &["orders"])
}

#[test]
fn defaults_are_valid_and_embedded() {
    let c = with(&[]).expect("defaults valid");
    assert_eq!(c.bind.port(), 8080);
    assert!(c.is_sqlite());
    assert!(c
        .effective_database_url()
        .ends_with("data/shopops.db?mode=rwc"));
    assert!(c.redis_url().is_none());
    assert_eq!(c.login_max_failures, 5);
    assert_eq!(c.login_lockout_secs, 900);
}

#[test]
fn a_bad_value_names_its_key_and_env_variable() {
    let err = with(&[("login_max_failures", "many")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("login_max_failures"), "{err}");
    assert!(err.contains("SHOPOPS_LOGIN_MAX_FAILURES"), "{err}");

    let err = with(&[("database_url", "mysql://x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn secrets_never_print() {
    let c = with(&[
        ("jwt_secret", "0123456789abcdef0123456789abcdef-very-secret"),
        ("database_url", "postgres://u:hunter2@db/x"),
    ])
    .expect("valid");
    let printed = format!("{c:?}");
    assert!(!printed.contains("very-secret"));
    assert!(!printed.contains("hunter2"));
    let err = with(&[("jwt_secret", "short-secret")])
        .unwrap_err()
        .to_string();
    assert!(!err.contains("short-secret"), "{err}");
}

#[test]
fn rate_limit_buckets_parse_and_reject_garbage() {
    let c = with(&[("rate_limit_buckets", "orders=500, b = 7")]).expect("valid");
    assert_eq!(
        c.rate_limit_bucket_limits().unwrap(),
        vec![("orders".to_string(), 500), ("b".to_string(), 7)]
    );
    let err = with(&[("rate_limit_buckets", "a=1,b")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("SHOPOPS_RATE_LIMIT_BUCKETS"), "{err}");
    assert!(with(&[("rate_limit_buckets", "a=0")]).is_err());
}

#[test]
fn an_unknown_key_is_refused_by_name_and_a_module_section_is_left_to_its_module() {
    let err = with(&[("rate_limit_enable", "false")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("rate_limit_enable"), "{err}");
    assert!(err.contains("SHOPOPS_RATE_LIMIT_ENABLE"), "{err}");
    assert!(err.contains("unknown key"), "{err}");
    assert!(with(&[("orders", "anything")]).is_ok());
    let err = with(&[("invoices", "x")]).unwrap_err().to_string();
    assert!(err.contains("`invoices`"), "{err}");
}

#[test]
fn bootstrap_admin_must_be_user_colon_password() {
    assert!(with(&[("bootstrap_admin", "root")]).is_err());
    assert!(with(&[("bootstrap_admin", "root:short")]).is_err());
    assert!(with(&[("bootstrap_admin", "root:long-enough")]).is_ok());
}
