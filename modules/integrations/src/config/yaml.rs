//! `integrations.yaml`: providers per capability, `${ENV}` expansion, validation that
//! names the key, masking of secrets (docs/integrations.md).
//!
//! ```yaml
//! sms:
//!   tencent:                       # the provider's name; `kind` defaults to it
//!     priority: 1                  # lower first
//!     enabled: true
//!     secret_id: "${TENCENT_SECRET_ID}"
//!     secret_key: "${TENCENT_SECRET_KEY:-}"   # `:-` gives a default
//!     …
//! ```
//!
//! Where the file lives is a module setting (`[integrations] config`,
//! [`super::IntegrationsSettings`]). Without a file, the embedded default is one
//! local-filesystem store under the data directory, so storage works with nothing set.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The four capabilities.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Payment,
    Sms,
    Storage,
    Captcha,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::Payment,
        Capability::Sms,
        Capability::Storage,
        Capability::Captcha,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Payment => "payment",
            Capability::Sms => "sms",
            Capability::Storage => "storage",
            Capability::Captcha => "captcha",
        }
    }

    pub fn parse(s: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The provider kinds of this capability.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Capability::Payment => &["wechatpay", "alipay"],
            Capability::Sms => &["tencent", "aliyun"],
            Capability::Storage => &["cos", "s3", "local"],
            Capability::Captcha => &["chaojiying"],
        }
    }
}

/// One configured provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub capability: Capability,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    /// Lower is tried first.
    pub priority: u32,
    pub timeout: Duration,
    /// SMS sending limits of this provider (0 = none).
    pub per_minute: u32,
    pub per_day: u32,
    /// The provider's own settings, `${ENV}` expanded (secrets among them).
    pub settings: Map<String, Value>,
}

impl ProviderConfig {
    /// `sms.tencent` — how errors and the API name it.
    pub fn path(&self) -> String {
        format!("{}.{}", self.capability.as_str(), self.name)
    }

    /// The provider's settings as `T`; errors name the key.
    pub fn settings<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(Value::Object(self.settings.clone()))
            .map_err(|e| format!("{}: {e}", self.path()))
    }
}

/// Throttles on one phone number, across providers.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneThrottle {
    pub per_minute: u32,
    pub per_day: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationsConfig {
    pub providers: Vec<ProviderConfig>,
    pub phone_throttle: PhoneThrottle,
}

/// Common keys every provider section may carry; the rest are the provider's own.
const COMMON: &[&str] = &["kind", "enabled", "priority", "timeout_secs", "limits"];

/// Replaces `${VAR}` / `${VAR:-default}` in every string; an unset variable without a
/// default is an error naming the key.
pub fn expand(
    value: &mut Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    match value {
        Value::String(s) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("{path}: unclosed `${{` in {s:?}"))?;
                let expr = &after[..end];
                let (name, default) = match expr.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (expr, None),
                };
                match (env(name), default) {
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        return Err(format!("{path}: environment variable `{name}` is not set"))
                    }
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *s = out;
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                expand(v, &format!("{path}.{k}"), env)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                expand(v, &format!("{path}[{i}]"), env)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn uint(section: &Map<String, Value>, key: &str, path: &str, default: u64) -> Result<u64, String> {
    match section.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{path}.{key}: a whole number ≥ 0")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{path}.{key}: a whole number ≥ 0, not {s:?}")),
        Some(other) => Err(format!("{path}.{key}: a whole number ≥ 0, not {other}")),
    }
}

fn boolean(
    section: &Map<String, Value>,
    key: &str,
    path: &str,
    default: bool,
) -> Result<bool, String> {
    match section.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(format!("{path}.{key}: true or false, not {other}")),
    }
}

/// Parses and validates the YAML text. `env` resolves `${…}`.
pub fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<IntegrationsConfig, String> {
    let mut root: Value =
        serde_saphyr::from_str(text).map_err(|e| format!("integrations.yaml: {e}"))?;
    if root.is_null() {
        root = Value::Object(Map::new());
    }
    let Value::Object(mut root) = root else {
        return Err("integrations.yaml: the top level must be a map of capabilities".into());
    };
    let mut throttle = PhoneThrottle {
        per_minute: 1,
        per_day: 10,
    };
    if let Some(mut t) = root.remove("sms_phone_throttle") {
        expand(&mut t, "sms_phone_throttle", env)?;
        let t = t
            .as_object()
            .ok_or("sms_phone_throttle: a map with per_minute and per_day")?;
        throttle.per_minute = uint(t, "per_minute", "sms_phone_throttle", 1)? as u32;
        throttle.per_day = uint(t, "per_day", "sms_phone_throttle", 10)? as u32;
    }
    let mut providers = Vec::new();
    for (cap_name, section) in root {
        let capability = Capability::parse(&cap_name).ok_or_else(|| {
            format!("{cap_name}: unknown capability (payment, sms, storage, captcha, sms_phone_throttle)")
        })?;
        let Value::Object(section) = section else {
            return Err(format!("{cap_name}: a map of providers"));
        };
        for (name, mut entry) in section {
            let path = format!("{cap_name}.{name}");
            expand(&mut entry, &path, env)?;
            let Value::Object(mut entry) = entry else {
                return Err(format!("{path}: a map of settings"));
            };
            let kind = match entry.get("kind") {
                Some(Value::String(k)) => k.clone(),
                None => name.clone(),
                Some(other) => return Err(format!("{path}.kind: a provider kind, not {other}")),
            };
            if !capability.kinds().contains(&kind.as_str()) {
                return Err(format!(
                    "{path}.kind: `{kind}` is not a {cap_name} provider ({})",
                    capability.kinds().join(", ")
                ));
            }
            let limits = entry
                .get("limits")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let config = ProviderConfig {
                capability,
                enabled: boolean(&entry, "enabled", &path, true)?,
                priority: uint(&entry, "priority", &path, 100)? as u32,
                timeout: Duration::from_secs(
                    uint(&entry, "timeout_secs", &path, 10)?.clamp(1, 120),
                ),
                per_minute: uint(&limits, "per_minute", &format!("{path}.limits"), 0)? as u32,
                per_day: uint(&limits, "per_day", &format!("{path}.limits"), 0)? as u32,
                settings: {
                    entry.retain(|k, _| !COMMON.contains(&k.as_str()));
                    entry
                },
                kind,
                name: name.clone(),
            };
            providers.push(config);
        }
    }
    Ok(IntegrationsConfig {
        providers,
        phone_throttle: throttle,
    })
}

/// The embedded default: one local store under `data_dir/files`.
pub fn embedded_default(data_dir: &str) -> IntegrationsConfig {
    let mut settings = Map::new();
    settings.insert(
        "root".into(),
        Value::String(format!("{}/files", data_dir.trim_end_matches('/'))),
    );
    IntegrationsConfig {
        providers: vec![ProviderConfig {
            capability: Capability::Storage,
            name: "local".into(),
            kind: "local".into(),
            enabled: true,
            priority: 100,
            timeout: Duration::from_secs(10),
            per_minute: 0,
            per_day: 0,
            settings,
        }],
        phone_throttle: PhoneThrottle {
            per_minute: 1,
            per_day: 10,
        },
    }
}

/// The process environment, read only to fill `${VAR}` in integrations.yaml: that is
/// how the file keeps credentials out of itself (a documented feature of the file, see
/// docs/integrations.md). The module's own settings never come from here.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads the file at `path`: its text and what it configures.
pub fn read(path: &Path) -> Result<(IntegrationsConfig, String), String> {
    let text = read_text(path)?;
    let config = parse(&text, &process_env).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((config, text))
}

/// The file's text, as it is now (the reload compares it with what is in force).
pub fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Keys whose values never leave the process: shown as `***` (set) or null.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "secret",
        "password",
        "private",
        "apiv3",
        "token",
        "access_key",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// The settings with secrets masked, for responses and logs.
pub fn masked(settings: &Map<String, Value>) -> BTreeMap<String, Value> {
    settings
        .iter()
        .map(|(k, v)| {
            let shown = if is_secret_key(k) {
                match v {
                    Value::Null => Value::Null,
                    _ => Value::String("***".into()),
                }
            } else {
                match v {
                    Value::Object(m) => serde_json::to_value(masked(m)).unwrap_or(Value::Null),
                    other => other.clone(),
                }
            };
            (k.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TENCENT_SECRET_ID" => Some("AKIDxyz".into()),
            "TENCENT_SECRET_KEY" => Some("s3cr3t".into()),
            _ => None,
        }
    }

    #[test]
    fn env_expansion_defaults_and_errors_name_the_key() {
        let yaml = "sms:\n  tencent:\n    priority: 2\n    secret_id: \"${TENCENT_SECRET_ID}\"\n    secret_key: \"pre-${TENCENT_SECRET_KEY}-post\"\n    region: \"${REGION:-ap-guangzhou}\"\n    limits: { per_minute: 20, per_day: 1000 }\n";
        let c = parse(yaml, &env).unwrap();
        let p = &c.providers[0];
        assert_eq!(
            (p.capability, p.name.as_str(), p.priority),
            (Capability::Sms, "tencent", 2)
        );
        assert_eq!(p.settings["secret_id"], "AKIDxyz");
        assert_eq!(p.settings["secret_key"], "pre-s3cr3t-post");
        assert_eq!(p.settings["region"], "ap-guangzhou");
        assert_eq!((p.per_minute, p.per_day), (20, 1000));
        assert!(
            p.settings.get("limits").is_none(),
            "common keys are not settings"
        );

        let missing = parse(
            "payment:\n  wechatpay:\n    mchid: \"${WECHAT_MCH_ID}\"\n",
            &env,
        )
        .unwrap_err();
        assert_eq!(
            missing,
            "payment.wechatpay.mchid: environment variable `WECHAT_MCH_ID` is not set"
        );
        let wrong = parse("payment:\n  sms_box:\n    kind: tencent\n", &env).unwrap_err();
        assert!(
            wrong.starts_with("payment.sms_box.kind: `tencent` is not a payment provider"),
            "{wrong}"
        );
        let bad = parse("sms:\n  tencent:\n    priority: high\n", &env).unwrap_err();
        assert!(bad.starts_with("sms.tencent.priority"), "{bad}");
        assert!(parse("mail:\n  x: {}\n", &env)
            .unwrap_err()
            .starts_with("mail: unknown capability"));
    }

    #[test]
    fn secrets_are_masked() {
        let c = parse(
            "storage:\n  cos:\n    secret_id: AKID1\n    secret_key: k\n    bucket: b-1\n",
            &env,
        )
        .unwrap();
        let m = masked(&c.providers[0].settings);
        assert_eq!(m["secret_key"], "***");
        assert_eq!(m["secret_id"], "***");
        assert_eq!(m["bucket"], "b-1");
    }
}
