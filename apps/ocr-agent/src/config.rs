//! The agent's own settings: where the server is, the token, which shops it serves and
//! where it keeps its files. Everything about a shop's window (its title, the region to
//! read, the unread threshold, the reply delay) comes from the server, so an admin
//! changes it in one place (docs/desktop-agent.md, "Configuration").

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::unread::BadgeRed;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The ShopOps server, e.g. `https://shopops.example.com`.
    pub server_url: String,
    /// A file holding the API token (its first line). The token is never taken from
    /// the command line, where other users of the machine can read it.
    pub token_file: PathBuf,
    /// The shops this agent watches (their ids on the server).
    pub shop_ids: Vec<i64>,
    /// Milliseconds between two looks at the screen.
    #[serde(default = "defaults::interval_ms")]
    pub interval_ms: u64,
    /// Seconds between two heartbeats.
    #[serde(default = "defaults::heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// Seconds between two refreshes of the shops' settings.
    #[serde(default = "defaults::settings_secs")]
    pub settings_secs: u64,
    /// Where the agent keeps what it read and typed, and its logs.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// The OCR models (`make models` puts them in `data/models/pp-ocr`).
    #[serde(default = "defaults::models_dir")]
    pub models_dir: PathBuf,
    /// What counts as an unread badge's red.
    #[serde(default)]
    pub badge: BadgeRed,
    /// What `run` logs (a tracing filter: `info`, `debug`, `shopops_agent=debug`);
    /// buyers' text only appears at `debug`.
    #[serde(default = "defaults::log_level")]
    pub log_level: String,
}

mod defaults {
    use std::path::PathBuf;
    pub fn interval_ms() -> u64 {
        1000
    }
    pub fn heartbeat_secs() -> u64 {
        30
    }
    pub fn settings_secs() -> u64 {
        60
    }
    pub fn data_dir() -> PathBuf {
        "agent-data".into()
    }
    pub fn log_level() -> String {
        "info".into()
    }
    pub fn models_dir() -> PathBuf {
        "data/models/pp-ocr".into()
    }
}

impl AgentConfig {
    /// Reads `path` (TOML); `SHOPOPS_AGENT_*` variables override its keys.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(path.is_file(), "no configuration file {}", path.display());
        let config: Self = Figment::new()
            .merge(Toml::file(path))
            .merge(Env::prefixed("SHOPOPS_AGENT_"))
            .extract()
            .with_context(|| format!("reading {}", path.display()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        let url = &self.server_url;
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "server_url must start with http:// or https://, not `{url}`"
        );
        anyhow::ensure!(!self.shop_ids.is_empty(), "shop_ids names no shop");
        anyhow::ensure!(
            self.shop_ids.len() <= 100,
            "shop_ids names more than 100 shops"
        );
        anyhow::ensure!(
            (100..=60_000).contains(&self.interval_ms),
            "interval_ms must be 100 to 60000"
        );
        anyhow::ensure!(
            self.heartbeat_secs >= 5,
            "heartbeat_secs must be at least 5"
        );
        Ok(())
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    /// The token: the first line of `token_file`, trimmed.
    pub fn token(&self) -> anyhow::Result<String> {
        let path = &self.token_file;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?;
        let token = text.lines().next().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(
            !token.is_empty(),
            "the token file {} is empty",
            path.display()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    "the token file can be read by other users: chmod 600 it"
                );
            }
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_read_checked_and_defaulted() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            "server_url = \"http://127.0.0.1:8080\"\ntoken_file = \"t\"\nshop_ids = [3]\n[badge]\nmin_red = 220\n",
        )
        .expect("write");
        let config = AgentConfig::load(&path).expect("load");
        assert_eq!(
            (config.shop_ids.as_slice(), config.interval_ms),
            (&[3][..], 1000)
        );
        assert_eq!((config.badge.min_red, config.badge.max_green), (220, 90));
        for (bad, says) in [
            (
                "server_url = \"ftp://x\"\ntoken_file = \"t\"\nshop_ids = [3]\n",
                "http",
            ),
            (
                "server_url = \"http://x\"\ntoken_file = \"t\"\nshop_ids = []\n",
                "no shop",
            ),
            (
                "server_url = \"http://x\"\ntoken_file = \"t\"\nshop_ids = [1]\ntoken = \"x\"\n",
                "token",
            ),
        ] {
            std::fs::write(&path, bad).expect("write");
            let error = format!("{:#}", AgentConfig::load(&path).expect_err(bad));
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn the_token_is_the_first_line_of_its_file() {
        let dir = tempfile::tempdir().expect("dir");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "  sk_agent_123  \nsecond line\n").expect("write");
        let config = AgentConfig {
            server_url: "http://x".into(),
            token_file: token_file.clone(),
            shop_ids: vec![1],
            interval_ms: 1000,
            heartbeat_secs: 30,
            settings_secs: 60,
            data_dir: dir.path().into(),
            models_dir: dir.path().into(),
            badge: BadgeRed::default(),
            log_level: "info".into(),
        };
        assert_eq!(config.token().expect("token"), "sk_agent_123");
        std::fs::write(&token_file, "\n").expect("write");
        assert!(config.token().is_err());
    }
}
