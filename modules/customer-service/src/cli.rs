//! `shopops cs …`: importing a knowledge-base file on the server's database with a
//! progress bar (`kb import`), the daily statistics of a day (`stats`), and the
//! retrieval evaluation (`eval`), which needs no database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::FromArgMatches;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use shopops_kernel::audit::Actor;
use shopops_kernel::cli::{CliContext, UsageError};
use shopops_kernel::entities::tenant;

use std::io::Write;
use std::sync::Arc;

use shopops_kernel::outside::{OutsideCalls, TargetConfig};
use shopops_kernel::telemetry::metrics::Metrics;

use crate::config::CsConfig;
use crate::retrieval::encoder::BuiltinEncoder;
use crate::retrieval::Encoder;
use crate::service::embedder::{Embedder, HttpEmbeddings};
use crate::service::imports::{self, ImportFormat};
use crate::service::{settings, stats};

/// The subcommands, as clap parses them.
#[derive(clap::Parser)]
pub struct CsCli {
    #[command(subcommand)]
    command: CsCommand,
}

#[derive(clap::Subcommand)]
enum CsCommand {
    /// The knowledge base.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// Rank a knowledge base's entries for a file of questions, as the server would,
    /// and print one JSON line per question (`{"query", "ranked_ids", "scores"}`, the
    /// top 10, scores being the routing confidence) — cs-eval's prediction format.
    Eval {
        /// JSONL of `{"id", "question", "answer"}`.
        #[arg(long)]
        kb: PathBuf,
        /// JSONL of `{"query", …}`.
        #[arg(long)]
        queries: PathBuf,
        /// `lexical`, `builtin` (the sentence encoder in `cs.models_dir`) or `openai`
        /// (the configured embeddings provider).
        #[arg(long, default_value = "lexical")]
        encoder: String,
    },
    /// Compute (again) one day's statistics, as the hourly job does, and print the
    /// tenants' figures as JSON lines. Re-running replaces the day's rows.
    Stats {
        /// The day, `YYYY-MM-DD`, in each tenant's time zone.
        #[arg(long)]
        date: chrono::NaiveDate,
        /// Only this tenant (code or id); default: every tenant with messages that day.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(clap::Subcommand)]
enum KbCommand {
    /// Import a CSV, JSONL or XLSX file of entries into a tenant's knowledge base now,
    /// with a progress bar; rows that cannot be stored are listed with their line and
    /// reason (exit 1 when any was).
    Import {
        /// The file; its extension gives the format unless `--format` does.
        file: PathBuf,
        /// The tenant, by code or id.
        #[arg(long)]
        tenant: String,
        /// The shop every row answers for (unless the row names one); default: every
        /// shop of the tenant.
        #[arg(long)]
        shop: Option<i64>,
        /// `csv`, `jsonl` or `xlsx`.
        #[arg(long)]
        format: Option<String>,
    },
}

/// `shopops cs` and its subcommands.
pub fn command(about: &'static str) -> clap::Command {
    <CsCli as clap::CommandFactory>::command()
        .name("cs")
        .about(about)
}

/// Runs the subcommand in `matches` (those of `shopops cs`).
pub async fn run(matches: &clap::ArgMatches, ctx: &CliContext) -> anyhow::Result<ExitCode> {
    match CsCli::from_arg_matches(matches)?.command {
        CsCommand::Kb {
            command:
                KbCommand::Import {
                    file,
                    tenant,
                    shop,
                    format,
                },
        } => import(ctx, file, &tenant, shop, format.as_deref()).await,
        CsCommand::Eval {
            kb,
            queries,
            encoder,
        } => eval(ctx, &kb, &queries, &encoder).await,
        CsCommand::Stats { date, tenant } => stats(ctx, date, tenant.as_deref()).await,
    }
}

/// The tenant named by code or id.
async fn find_tenant(
    db: &sea_orm::DatabaseConnection,
    name: &str,
) -> anyhow::Result<tenant::Model> {
    Ok(match name.parse::<i64>() {
        Ok(id) => tenant::Entity::find_by_id(id).one(db).await?,
        Err(_) => {
            tenant::Entity::find()
                .filter(tenant::Column::Code.eq(name))
                .one(db)
                .await?
        }
    }
    .ok_or_else(|| UsageError(format!("no tenant `{name}`")))?)
}

async fn stats(
    ctx: &CliContext,
    date: chrono::NaiveDate,
    tenant: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let kernel = ctx.kernel().await?;
    let config = CsConfig::load(ctx.config())?;
    let tenants = match tenant {
        Some(name) => vec![find_tenant(&kernel.db, name).await?.id],
        // A day in any time zone lies within a day and a half of its UTC midnight.
        None => {
            let since = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
                - chrono::Duration::hours(36);
            stats::active_tenants(&kernel.db, since).await?
        }
    };
    for id in tenants {
        let tz = settings::get(&kernel.db, id, &config.time_zone).await?.tz();
        let figures = stats::compute(&kernel.db, id, date, tz).await?;
        println!(
            "{}",
            serde_json::json!({ "tenant_id": id, "day": date, "time_zone": tz.name(), "figures": figures })
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(
    ctx: &CliContext,
    file: PathBuf,
    tenant: &str,
    shop: Option<i64>,
    format: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let format = match format {
        Some(name) => ImportFormat::of_name(&format!("x.{name}")),
        None => ImportFormat::of_name(&file.to_string_lossy()),
    }
    .ok_or_else(|| {
        UsageError("the file's format must be csv, jsonl or xlsx (use --format)".into())
    })?;
    let bytes = std::fs::read(&file)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
    let kernel = ctx.kernel().await?;
    let config = CsConfig::load(ctx.config())?;
    let found = find_tenant(&kernel.db, tenant).await?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let created = imports::create(
        &kernel.db,
        &config,
        found.id,
        shop,
        &name,
        format,
        bytes,
        "shopops cs kb import",
        true,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e} {}", e.details))?;
    let bar = indicatif::ProgressBar::new(created.total as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = imports::run(
        &kernel,
        created,
        Actor::system("shopops cs kb import"),
        &|done, _| bar.set_position(done as u64),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e} {}", e.details))?;
    bar.finish();
    let mut errors = done.errors.clone();
    shopops_kernel::error::localize(&mut errors, shopops_kernel::error::Lang::En);
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "import": done.id,
            "rows": done.total,
            "stored": done.total - done.failed,
            "failed": done.failed,
            "errors": errors,
        }))?
    );
    Ok(if done.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints the predictions of [`crate::eval::run`], one JSON line per query. Needs no
/// database: `builtin` loads the encoder from `cs.models_dir`, `openai` calls the
/// configured embeddings provider through the outside-call toolkit.
async fn eval(
    ctx: &CliContext,
    kb: &std::path::Path,
    queries: &std::path::Path,
    encoder: &str,
) -> anyhow::Result<ExitCode> {
    let config = CsConfig::load(ctx.config())?;
    let embedder = match encoder {
        "lexical" => None,
        "builtin" => {
            let dir = config.models_dir.join(BuiltinEncoder::DIR_NAME);
            if !BuiltinEncoder::is_installed(&dir) {
                return Err(UsageError(format!(
                    "no built-in encoder in {} (run `make models`)",
                    dir.display()
                ))
                .into());
            }
            Some(Embedder::Builtin(Arc::new(BuiltinEncoder::load(&dir)?)))
        }
        "openai" => {
            let outside = OutsideCalls::new(
                TargetConfig::from_config(ctx.config()),
                Arc::new(Metrics::new()),
            );
            Some(Embedder::Http(Arc::new(HttpEmbeddings::new(
                &outside, &config,
            )?)))
        }
        other => {
            return Err(UsageError(format!(
                "unknown encoder `{other}`: lexical, builtin or openai"
            ))
            .into())
        }
    };
    let (kb, queries) = (kb.to_path_buf(), queries.to_path_buf());
    // The evaluation is synchronous CPU work; an HTTP encoder is driven from it by
    // blocking on this runtime, which `spawn_blocking` threads may do.
    let runtime = tokio::runtime::Handle::current();
    let predictions = tokio::task::spawn_blocking(move || {
        let blocking = embedder.map(|e| BlockingEncoder {
            embedder: e,
            runtime,
        });
        crate::eval::run(&kb, &queries, blocking.as_ref().map(|e| e as &dyn Encoder))
    })
    .await??;
    let mut out = std::io::stdout().lock();
    for line in predictions {
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// An [`Embedder`] seen as the synchronous [`Encoder`] the evaluation takes.
struct BlockingEncoder {
    embedder: Embedder,
    runtime: tokio::runtime::Handle,
}

impl Encoder for BlockingEncoder {
    fn name(&self) -> &str {
        match &self.embedder {
            Embedder::Builtin(e) => e.name(),
            Embedder::Http(_) => "openai",
        }
    }

    fn dim(&self) -> usize {
        self.embedder.dim()
    }

    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let texts = texts.iter().map(|t| t.to_string()).collect();
        self.runtime.block_on(self.embedder.embed(texts))
    }
}
