//! `shopops points …`: the operator's tools. Both open the existing, migrated database
//! (never create one), so a tool run in the wrong folder says where it looked instead
//! of reporting on an empty ledger.

use std::process::ExitCode;

use clap::{ArgMatches, FromArgMatches, Subcommand};
use shopops_kernel::cli::CliContext;

use crate::service::{expiry, integrity};
use crate::store::Scope;

#[derive(Debug, Subcommand)]
pub enum PointsCommand {
    /// Compare every balance with its ledger and lots (all tenants); print the report
    /// as JSON; exit 1 on any difference.
    Verify,
    /// Expire every lot that is due now (the server also does this every minute).
    Expire,
}

/// `shopops {name}` (`points`) and its subcommands.
pub fn command(name: &'static str, about: &'static str) -> clap::Command {
    PointsCommand::augment_subcommands(
        clap::Command::new(name)
            .about(about)
            .subcommand_required(true),
    )
}

/// Runs the subcommand in `matches` (those of `shopops points`).
pub async fn run(matches: &ArgMatches, ctx: &CliContext) -> anyhow::Result<ExitCode> {
    match PointsCommand::from_arg_matches(matches)? {
        PointsCommand::Verify => verify(ctx).await,
        PointsCommand::Expire => expire(ctx).await,
    }
}

async fn verify(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let db = ctx.database().await?;
    let report = integrity::check(&db, Scope::AllTenants)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.consistent {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn expire(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let kernel = ctx.kernel().await?;
    let expired = expiry::expire_due(&kernel)
        .await
        .map_err(anyhow::Error::msg)?;
    println!("expired {expired} lots");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommands_parse() {
        let cmd = command("points", "tools");
        cmd.clone().debug_assert();
        let matches = cmd
            .clone()
            .try_get_matches_from(["points", "verify"])
            .unwrap();
        assert!(matches!(
            PointsCommand::from_arg_matches(&matches),
            Ok(PointsCommand::Verify)
        ));
        assert!(
            cmd.try_get_matches_from(["points"]).is_err(),
            "a subcommand is required"
        );
    }
}
