//! `shopops integrations …`: the module's operator commands. `sign` is offline: it needs
//! no configuration and no database, so it works on a laptop with nothing set.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Payment, SMS, storage and captcha provider tools.
#[derive(Debug, Parser)]
pub struct IntegrationsCli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print what our code computes for a vector-format file (`provider`, `operation`,
    /// `keys`, `inputs`; `expected` is ignored): signatures, canonical strings, URLs,
    /// verdicts, plaintexts, under the vectors' names, as JSON.
    Sign {
        #[arg(long)]
        vector: PathBuf,
    },
}

/// Runs a parsed command.
pub fn run(cli: IntegrationsCli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sign { vector } => sign(&vector),
    }
}

fn sign(vector: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(vector)
        .map_err(|e| anyhow::anyhow!("{}: {e}", vector.display()))?;
    let values = crate::dry_run::sign_vector(&text).map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&values)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};
    use shopops_kernel::Module;

    use super::*;

    #[test]
    fn sign_takes_a_vector_file() {
        IntegrationsCli::command().debug_assert();
        let command = crate::IntegrationsModule.cli().expect("a subcommand");
        assert_eq!(command.get_name(), "integrations");
        let matches = command
            .try_get_matches_from(["integrations", "sign", "--vector", "v.json"])
            .expect("parses");
        let parsed = IntegrationsCli::from_arg_matches(&matches).expect("parses");
        assert!(
            matches!(parsed.command, Command::Sign { vector } if vector == Path::new("v.json"))
        );
        assert!(IntegrationsCli::command()
            .try_get_matches_from(["integrations", "sign"])
            .is_err());
    }
}
