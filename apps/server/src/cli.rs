//! Command-line interface: `serve` (default), `migrate`, `admin`, `openapi`, `audit`,
//! `docs`, and each module's subcommands (`shopops points …`, from its `Module::cli`).

use std::io::BufRead;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use shopops_kernel::cli::{CliContext, UsageError};
use shopops_kernel::config::Config;
use shopops_kernel::{audit, db, identity, telemetry, Kernel};
use shopops_migrations::{Migrator, MigratorTrait};

use crate::modules::MODULES;

/// Where the data is, for every command's help.
const DATA_HELP: &str = "Data: SQLite in the data directory (SHOPOPS_DATA_DIR, default ./data), \
or the database at DATABASE_URL. Settings: SHOPOPS_* variables or the TOML file named by \
SHOPOPS_CONFIG (docs/configuration.md). Only `serve` and `migrate up` create a database; every \
other command refuses (exit 2) when it finds none.";

#[derive(Parser)]
#[command(
    name = "shopops",
    version,
    about = "ShopOps: e-commerce seller operations server",
    after_help = DATA_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default). Creates and migrates the database unless
    /// SHOPOPS_MIGRATE_ON_START=false.
    Serve,
    /// Apply, roll back or list database migrations (default: up).
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateCommand>,
    },
    /// Administer users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Documentation generated from the code.
    Docs {
        #[command(subcommand)]
        command: DocsCommand,
    },
    /// The configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Read the settings (defaults, the SHOPOPS_CONFIG file, the environment) as the
    /// server would, every module's section included, and say whether they are valid;
    /// exit 2 naming the first bad or unknown key.
    Check,
}

#[derive(Subcommand, Clone, Copy)]
enum MigrateCommand {
    /// Apply every pending migration, creating the database if there is none.
    Up,
    /// Roll back the most recent migration of an existing database.
    Down,
    /// List applied and pending migrations of an existing database.
    Status,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user in an existing database; the password is read from the first
    /// line of stdin (never from the command line, which other users can see).
    Create {
        /// Create a platform superadmin (the only kind this command creates).
        #[arg(long, required = true)]
        superadmin: bool,
        /// The new user's name (letters, digits and . _ - @; 1 to 64 characters).
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every tenant's hash chain; exit 1 at the first broken link, or when a
    /// committed record has waited too long to be linked into its chain.
    Verify {
        /// Seconds a committed record may wait for the audit_link job before it counts
        /// as an error.
        #[arg(long, default_value_t = 5)]
        max_unlinked_secs: u64,
    },
}

#[derive(Subcommand)]
enum DocsCommand {
    /// Print docs/errors.md: every error code of the kernel and the modules.
    Errors,
}

/// The full command line: the kernel's commands and every module's.
pub fn command() -> clap::Command {
    MODULES
        .iter()
        .filter_map(|m| m.cli().map(|c| c.after_help(DATA_HELP)))
        .fold(Cli::command(), |cli, sub| cli.subcommand(sub))
}

pub async fn run(matches: clap::ArgMatches) -> ExitCode {
    let result = dispatch(matches).await;
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        if e.downcast_ref::<UsageError>().is_some() {
            ExitCode::from(2)
        } else {
            ExitCode::from(1)
        }
    })
}

async fn dispatch(matches: clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let config =
        Config::load(&crate::modules::config_sections()).map_err(|e| UsageError(e.to_string()))?;
    let _telemetry = telemetry::init(&config);
    if let Some((name, sub)) = matches.subcommand() {
        if let Some(module) = MODULES.iter().find(|m| m.name() == name) {
            let ctx = context(config);
            return module.run_cli(sub, &ctx).await;
        }
    }
    let cli = Cli::from_arg_matches(&matches)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve::serve(config).await,
        Command::Openapi => {
            println!("{}", openapi_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Docs {
            command: DocsCommand::Errors,
        } => {
            print!("{}", crate::docs_pages::errors_markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            check_modules_config(&config)?;
            match &config.file {
                Some(file) => println!("configuration valid (file {})", file.display()),
                None => println!(
                    "configuration valid (defaults and environment; no SHOPOPS_CONFIG file)"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { action } => migrate(config, action.unwrap_or(MigrateCommand::Up)).await,
        Command::Admin {
            command: AdminCommand::Create { username, .. },
        } => create_superadmin(&context(config), &username).await,
        Command::Audit {
            command: AuditCommand::Verify { max_unlinked_secs },
        } => audit_verify(&context(config), max_unlinked_secs).await,
    }
}

/// Every module's settings, read as its `start` will: a refusal names the key.
pub fn check_modules_config(config: &Config) -> anyhow::Result<()> {
    for module in MODULES {
        module
            .check_config(config)
            .map_err(|e| UsageError(format!("{e:#}")))?;
    }
    Ok(())
}

/// What a command gets: the configuration and, on demand, the existing database.
fn context(config: Config) -> CliContext {
    CliContext::new(config, crate::modules::declarations(), |db| async move {
        Ok(Migrator::get_pending_migrations(&db).await?.len())
    })
}

pub fn openapi_json() -> String {
    crate::openapi::document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

async fn migrate(config: Config, action: MigrateCommand) -> anyhow::Result<ExitCode> {
    let conn = match action {
        MigrateCommand::Up => db::connect(&config).await?,
        // Rolling back or listing needs a database that exists: never create one.
        MigrateCommand::Down | MigrateCommand::Status => {
            context(config).existing_database().await?
        }
    };
    match action {
        MigrateCommand::Up => {
            Migrator::up(&conn, None).await?;
            println!("migrations applied");
        }
        MigrateCommand::Down => {
            Migrator::down(&conn, Some(1)).await?;
            println!("last migration rolled back");
        }
        MigrateCommand::Status => {
            for m in Migrator::get_applied_migrations(&conn).await? {
                println!("applied  {}", m.name());
            }
            for m in Migrator::get_pending_migrations(&conn).await? {
                println!("pending  {}", m.name());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn create_superadmin(ctx: &CliContext, username: &str) -> anyhow::Result<ExitCode> {
    let kernel: Kernel = ctx.kernel().await?;
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    match identity::users::create_superadmin(&kernel, username, password).await {
        Ok(user) => {
            println!("created superadmin {} (id {})", user.username, user.id);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let details = shopops_kernel::error::rendered(&e, shopops_kernel::error::Lang::En);
            eprintln!("error: {} ({}) {details}", e.message.en, e.code);
            Ok(ExitCode::from(1))
        }
    }
}

async fn audit_verify(ctx: &CliContext, max_unlinked_secs: u64) -> anyhow::Result<ExitCode> {
    let conn = ctx.database().await?;
    let report = audit::verify(&conn, std::time::Duration::from_secs(max_unlinked_secs)).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.broken.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
