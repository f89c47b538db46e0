//! Telemetry: log output (JSON lines in production, pretty in a terminal) and
//! Prometheus metrics ([`metrics`]).

pub mod metrics;

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber; `RUST_LOG` overrides `log_level` when set.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.log_level.clone()));
    let json = match config.log_format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = fmt().with_env_filter(filter).with_target(true);
    // A second init (tests, subcommands) keeps the first subscriber.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
