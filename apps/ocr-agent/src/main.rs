//! `shopops-agent`: the desktop agent's command line (docs/desktop-agent.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use shopops_agent::client::Server;
use shopops_agent::config::AgentConfig;
use shopops_agent::ocr::Ocr;
use shopops_agent::unread::{self, BadgeRed, Region};

#[derive(Parser)]
#[command(
    name = "shopops-agent",
    version,
    about = "ShopOps desktop agent: reads buyer messages off the chat window, types approved replies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the shops' chat windows and type the approved replies (desktop builds).
    Run {
        #[arg(long, default_value = "shopops-agent.toml")]
        config: PathBuf,
    },
    /// Check the configuration, the token, the server, the shops, the OCR models and
    /// (desktop builds) the chat windows; exits 1 when something is wrong.
    Check {
        #[arg(long, default_value = "shopops-agent.toml")]
        config: PathBuf,
    },
    /// Read the text of an image file: JSON {"lines": [{"text", "box": [x, y, w, h], "confidence"}]}.
    Ocr {
        image: PathBuf,
        #[arg(long, default_value = "data/models/pp-ocr")]
        models: PathBuf,
    },
    /// The unread score of a region of an image file: JSON {"red_share", "unread"}.
    Unread {
        image: PathBuf,
        /// x,y,w,h in pixels.
        #[arg(long)]
        region: Region,
        /// Unread from this share of badge-red pixels on.
        #[arg(long, default_value_t = 0.02)]
        threshold: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Ocr { image, models } => read_image(&image, &models),
        Command::Unread {
            image,
            region,
            threshold,
        } => unread_score(&image, region, threshold),
        Command::Check { config } => runtime().and_then(|rt| rt.block_on(check(&config))),
        Command::Run { config } => runtime().and_then(|rt| rt.block_on(run(&config))),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("shopops-agent: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn open_image(path: &Path) -> anyhow::Result<image::RgbImage> {
    Ok(image::open(path)
        .with_context(|| format!("reading the image {}", path.display()))?
        .into_rgb8())
}

fn read_image(image: &Path, models: &Path) -> anyhow::Result<ExitCode> {
    let frame = open_image(image)?;
    let ocr = Ocr::load(models)?;
    let lines = ocr.read(&frame)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "lines": lines }))?
    );
    Ok(ExitCode::SUCCESS)
}

fn unread_score(image: &Path, region: Region, threshold: f64) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&threshold),
        "--threshold must be 0 to 1"
    );
    let frame = open_image(image)?;
    let share = unread::red_share(&frame, region, &BadgeRed::default()).with_context(|| {
        format!(
            "the region {region} lies outside the {}×{} image",
            frame.width(),
            frame.height()
        )
    })?;
    println!(
        "{}",
        json!({ "red_share": share, "unread": share >= threshold })
    );
    Ok(ExitCode::SUCCESS)
}

async fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut report = |what: &str, outcome: anyhow::Result<String>| match outcome {
        Ok(detail) => println!("ok    {what}: {detail}"),
        Err(error) => {
            failed = true;
            println!("FAIL  {what}: {error:#}");
        }
    };
    let config = AgentConfig::load(path)?;
    report("configuration", Ok(path.display().to_string()));
    let token = config.token();
    report(
        "token",
        token
            .as_ref()
            .map(|_| config.token_file.display().to_string())
            .map_err(|e| anyhow::anyhow!("{e:#}")),
    );
    let Ok(token) = token else {
        return Ok(ExitCode::FAILURE);
    };
    let server = Server::new(&config.server_url, token)?;
    let mut titles = Vec::new();
    for shop_id in &config.shop_ids {
        let shop = server.shop(*shop_id).await.map_err(anyhow::Error::from);
        if let Ok(shop) = &shop {
            titles.push(shop.qianniu_title.clone());
        }
        report(
            &format!("shop {shop_id}"),
            shop.and_then(|s| {
                let region = Region::from_setting(&s.ocr_region).map_err(anyhow::Error::msg)?;
                anyhow::ensure!(
                    !s.qianniu_title.trim().is_empty(),
                    "{}: qianniu_title is not set",
                    s.name
                );
                Ok(format!(
                    "{} (window \"{}\", region {region})",
                    s.name, s.qianniu_title
                ))
            }),
        );
    }
    report(
        "OCR models",
        Ocr::load(&config.models_dir).map(|_| config.models_dir.display().to_string()),
    );
    report("chat windows", windows_check(&titles));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What the agent says where the desktop feature is missing.
#[cfg(not(feature = "desktop"))]
const NO_DESKTOP: &str =
    "this build has no screen access: build shopops-agent with `--features desktop` (Linux X11 or Windows)";

#[cfg(feature = "desktop")]
fn windows_check(titles: &[String]) -> anyhow::Result<String> {
    use shopops_agent::desktop::{Desktop, PlatformDesktop};
    let mut desktop = PlatformDesktop::connect()?;
    let missing: Vec<&String> = titles
        .iter()
        .filter(|t| !desktop.window_exists(t).unwrap_or(false))
        .collect();
    anyhow::ensure!(missing.is_empty(), "no window titled like {missing:?}");
    Ok(format!("{} window(s) found", titles.len()))
}

#[cfg(not(feature = "desktop"))]
fn windows_check(_: &[String]) -> anyhow::Result<String> {
    anyhow::bail!(NO_DESKTOP)
}

#[cfg(feature = "desktop")]
async fn run(path: &Path) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;

    use shopops_agent::agent::Agent;
    use shopops_agent::desktop::PlatformDesktop;

    let config = AgentConfig::load(path)?;
    let _flush_on_exit = logging(&config)?;
    let server = Server::new(&config.server_url, config.token()?)?;
    let desktop = PlatformDesktop::connect()?;
    let ocr = Arc::new(Ocr::load(&config.models_dir)?);
    tracing::info!(shops = ?config.shop_ids, server = %config.server_url, "agent started");
    let mut agent = Agent::new(config, server, desktop, ocr)?;
    agent.run(stop_signal()).await;
    tracing::info!("agent stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "desktop"))]
async fn run(path: &Path) -> anyhow::Result<ExitCode> {
    AgentConfig::load(path)?;
    anyhow::bail!(NO_DESKTOP)
}

/// Ctrl-C, or SIGTERM where there is one.
#[cfg(feature = "desktop")]
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs to stderr and to `data_dir/logs/shopops-agent.YYYY-MM-DD.log`, a file a day,
/// the last 14 kept. Buyers' text is logged at `debug` only.
#[cfg(feature = "desktop")]
fn logging(config: &AgentConfig) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_appender::rolling::{Builder, Rotation};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter};

    let dir = config.data_dir.join("logs");
    let files = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("shopops-agent")
        .filename_suffix("log")
        .max_log_files(14)
        .build(&dir)
        .with_context(|| format!("logging to {}", dir.display()))?;
    let (file, guard) = tracing_appender::non_blocking(files);
    let filter = EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("log_level `{}`", config.log_level))?;
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(file).with_ansi(false))
        .with(fmt::layer().with_writer(std::io::stderr))
        .init();
    Ok(guard)
}
