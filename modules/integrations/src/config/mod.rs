//! The module's configuration: its settings (the `[integrations]` section of the
//! server's TOML file and `INTEGRATIONS_*` variables, [`IntegrationsSettings`]) and the
//! providers' file they point at (`integrations.yaml`, [`yaml`]).

pub mod yaml;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use shopops_kernel::config::Config;

pub use yaml::{Capability, IntegrationsConfig, PhoneThrottle, ProviderConfig};

/// The module's settings: `[integrations]` keys, or the variable `INTEGRATIONS_<KEY>`
/// (`INTEGRATIONS_RELOAD_SECS` → `reload_secs`). Read once at start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationsSettings {
    /// Prefix of the local store's presigned URLs (`https://shop.example.com`); empty:
    /// the URLs are relative to this server.
    pub public_base_url: String,
    /// The first SMS retry's delay in seconds, doubled per attempt up to 30 minutes
    /// (1–600).
    pub sms_retry_secs: u64,
    /// Delivery reports: seconds from a send to its first check, and the shortest gap
    /// between two checks (1–3600).
    pub sms_report_secs: u64,
    /// Path of integrations.yaml. Unset or empty: `./integrations.yaml` when there is
    /// one, else the embedded default (one local store under the data directory).
    pub config: Option<PathBuf>,
    /// Seconds between two checks of integrations.yaml and the API's overrides (≥ 1).
    pub reload_secs: u64,
}

impl Default for IntegrationsSettings {
    fn default() -> Self {
        Self {
            public_base_url: String::new(),
            sms_retry_secs: 15,
            sms_report_secs: 60,
            config: None,
            reload_secs: 2,
        }
    }
}

impl IntegrationsSettings {
    /// The settings in `config`; a misspelt key or a value out of range stops the start
    /// with a message naming the key and its variable.
    pub fn load(config: &Config) -> Result<Self, String> {
        let settings: Self = config
            .section("integrations", "INTEGRATIONS_")
            .map_err(|e| e.to_string())?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        for (key, value, range) in [
            ("sms_retry_secs", self.sms_retry_secs, 1..=600),
            ("sms_report_secs", self.sms_report_secs, 1..=3600),
            ("reload_secs", self.reload_secs, 1..=u64::MAX),
        ] {
            if !range.contains(&value) {
                return Err(format!(
                    "key `integrations.{key}` (env INTEGRATIONS_{}): {value} is not in {}..={}",
                    key.to_ascii_uppercase(),
                    range.start(),
                    range.end()
                ));
            }
        }
        Ok(())
    }

    /// Where integrations.yaml is, if anywhere.
    pub fn yaml_path(&self) -> Option<PathBuf> {
        match &self.config {
            Some(path) if !path.as_os_str().is_empty() => Some(path.clone()),
            _ => {
                let here = PathBuf::from("integrations.yaml");
                here.exists().then_some(here)
            }
        }
    }

    /// The file (its text, to see later changes) or the embedded default.
    pub fn load_providers(
        &self,
        data_dir: &str,
    ) -> Result<(IntegrationsConfig, Option<String>), String> {
        match self.yaml_path() {
            Some(path) => yaml::read(&path).map(|(config, text)| (config, Some(text))),
            None => Ok((yaml::embedded_default(data_dir), None)),
        }
    }

    /// How often the file and the overrides are checked for changes.
    ///
    /// Polling the file's content rather than inotify: one small file, a two-second
    /// delay is fine, and Kubernetes updates a mounted ConfigMap by swapping a symlink,
    /// which file watchers miss or report twice.
    pub fn reload_every(&self) -> Duration {
        Duration::from_secs(self.reload_secs)
    }

    /// The first SMS retry's delay.
    pub fn sms_retry(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.sms_retry_secs as i64)
    }

    /// The first delivery-report check after a send, and the shortest gap between two.
    pub fn sms_report_gap(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.sms_report_secs as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_valid() {
        let s = IntegrationsSettings::default();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.reload_every(), Duration::from_secs(2));
        assert_eq!(s.sms_retry(), chrono::Duration::seconds(15));
        assert_eq!(s.sms_report_gap(), chrono::Duration::seconds(60));
        assert_eq!(
            IntegrationsSettings {
                config: Some(PathBuf::new()),
                ..s.clone()
            }
            .yaml_path(),
            s.yaml_path(),
            "an empty path is no path"
        );
    }

    #[test]
    fn a_value_out_of_range_names_its_key_and_variable() {
        let s = IntegrationsSettings {
            reload_secs: 0,
            ..Default::default()
        };
        let err = s.validate().unwrap_err();
        assert!(err.contains("integrations.reload_secs"), "{err}");
        assert!(err.contains("INTEGRATIONS_RELOAD_SECS"), "{err}");
    }

    #[test]
    fn keys_are_read_and_a_misspelt_one_is_refused() {
        let read = |v: serde_json::Value| serde_json::from_value::<IntegrationsSettings>(v);
        let s = read(
            serde_json::json!({ "config": "/etc/shopops/integrations.yaml", "sms_report_secs": 5 }),
        )
        .unwrap();
        assert_eq!(s.yaml_path(), Some("/etc/shopops/integrations.yaml".into()));
        assert_eq!(s.sms_report_secs, 5);
        assert_eq!(s.reload_secs, 2);
        let err = read(serde_json::json!({ "reload_sec": 5 }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("reload_sec"), "{err}");
    }
}
