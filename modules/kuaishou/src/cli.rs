//! `shopops kuaishou …`: the dry run (`sign --vector FILE`) and the method list
//! (`methods [--json]`), which need no configuration and no database, and the order
//! sync of one shop (`sync --shop ID [--since T]`) on the server's database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::FromArgMatches;
use shopops_kernel::cli::{CliContext, UsageError};

use crate::config::KuaishouConfig;
use crate::platform::Platform;
use crate::service::sync::{self, SyncReport};
use crate::store::across_tenants;

/// The subcommands, as clap parses them.
#[derive(clap::Parser)]
pub struct KuaishouCli {
    #[command(subcommand)]
    command: KuaishouCommand,
}

#[derive(clap::Subcommand)]
enum KuaishouCommand {
    /// Print the request we would send for a vector-format file (`inputs` object):
    /// verb, path, query or form, sign string and sign, as JSON.
    Sign {
        #[arg(long)]
        vector: PathBuf,
    },
    /// Pull a shop's orders now (from its checkpoint, or from `--since`).
    Sync {
        /// The shop's id (`GET /api/v1/kuaishou/shops`).
        #[arg(long)]
        shop: i64,
        /// Start of the window, RFC 3339 (default: the shop's checkpoint).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
    },
    /// List every open-platform method with its verb, version and parameters.
    Methods {
        /// Print JSON (`[{method, http_method, version, ...}]`) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the subcommand in `matches` (the `kuaishou` subcommand's own).
pub async fn run(matches: &clap::ArgMatches, ctx: &CliContext) -> anyhow::Result<ExitCode> {
    match KuaishouCli::from_arg_matches(matches)?.command {
        KuaishouCommand::Sign { vector } => sign(&vector),
        KuaishouCommand::Methods { json } => methods(json),
        KuaishouCommand::Sync { shop, since } => sync_shop(ctx, shop, since).await,
    }
}

fn sign(vector: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(vector)
        .map_err(|e| anyhow::anyhow!("{}: {e}", vector.display()))?;
    let request = crate::dry_run::sign_vector(&text).map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&request)?);
    Ok(ExitCode::SUCCESS)
}

fn methods(json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(crate::catalogue::all())?);
    } else {
        for m in crate::catalogue::all() {
            println!(
                "{:<4} {:<60} {}",
                m.http_method.as_str(),
                m.method,
                m.service
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn sync_shop(
    ctx: &CliContext,
    shop: i64,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<ExitCode> {
    let kernel = ctx.kernel().await?;
    let platform = Platform::new(&kernel, KuaishouConfig::load(ctx.config())?)?;
    // The operator names any shop: this tool acts for the platform, not for a tenant.
    let target = across_tenants::shop(&kernel.db, shop)
        .await?
        .ok_or_else(|| UsageError(format!("no Kuaishou shop {shop}")))?;
    let progress = |r: &SyncReport| {
        eprint!(
            "\rshop {}: window {} page {} — {} orders seen, {} written",
            r.shop_id,
            r.windows + 1,
            r.pages,
            r.orders_seen,
            r.orders_written
        );
    };
    let since = since.map(|t| t.timestamp_millis());
    let report = sync::sync_shop(&kernel, &platform, &target, since, &progress).await?;
    eprintln!();
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
