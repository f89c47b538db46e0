//! Command-line interface: `serve` (default), `migrate`, `admin`, `openapi`, `audit`,
//! and the modules' tools (`points`, `kuaishou`, `integrations`).

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sea_orm::{DatabaseConnection, EntityTrait};
use shopops_kernel::config::Config;
use shopops_kernel::{audit, db, identity, telemetry, Kernel};
use shopops_migrations::{Migrator, MigratorTrait};

#[derive(Parser)]
#[command(
    name = "shopops",
    version,
    about = "ShopOps: e-commerce seller operations server"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply, roll back or list database migrations.
    Migrate {
        #[arg(value_enum, default_value = "up")]
        action: MigrateAction,
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
    /// Points ledger tools.
    Points {
        #[command(subcommand)]
        command: PointsCommand,
    },
    /// Kuaishou open-platform tools.
    Kuaishou {
        #[command(subcommand)]
        command: KuaishouCommand,
    },
    /// Payment, SMS, storage and captcha provider tools.
    Integrations {
        #[command(subcommand)]
        command: IntegrationsCommand,
    },
}

#[derive(Subcommand)]
enum IntegrationsCommand {
    /// Print what our code computes for a vector-format file (`provider`, `operation`,
    /// `keys`, `inputs`; `expected` is ignored): signatures, canonical strings, URLs,
    /// verdicts, plaintexts, under the vectors' names, as JSON.
    Sign {
        #[arg(long)]
        vector: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum KuaishouCommand {
    /// Print the request we would send for a vector-format file (`inputs` object):
    /// verb, path, query or form, sign string and sign, as JSON.
    Sign {
        #[arg(long)]
        vector: std::path::PathBuf,
    },
    /// Pull a shop's orders now (from its checkpoint, or from `--since`).
    Sync {
        /// The shop's id (`GET /api/v1/kuaishou/shops`).
        #[arg(long)]
        shop: i64,
        /// Start of the window, RFC 3339 (default: the shop's checkpoint).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// List every open-platform method with its verb, version and parameters.
    Methods {
        /// Print JSON (`[{method, http_method, version, ...}]`) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PointsCommand {
    /// Compare every balance with its ledger and lots; exit 1 on any difference.
    Verify,
    /// Expire every lot that is due now (the server also does this every minute).
    Expire,
}

#[derive(Clone, Copy, ValueEnum)]
enum MigrateAction {
    Up,
    Down,
    Status,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; the password is read from the first line of stdin.
    Create {
        /// Create a platform superadmin (the only kind this command creates).
        #[arg(long, required = true)]
        superadmin: bool,
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every tenant's hash chain; exit 1 at the first broken link.
    Verify,
}

pub async fn run(cli: Cli) -> ExitCode {
    // Offline tools need no configuration (and must work with none).
    if let Some(Command::Kuaishou {
        command: command @ (KuaishouCommand::Sign { .. } | KuaishouCommand::Methods { .. }),
    }) = cli.command
    {
        return kuaishou(command).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        });
    }
    if let Some(Command::Integrations {
        command: IntegrationsCommand::Sign { vector },
    }) = &cli.command
    {
        return integrations_sign(vector).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        });
    }
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = telemetry::init(&config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve::serve(config).await,
        Command::Openapi => {
            println!("{}", openapi_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { action } => migrate(&config, action).await,
        Command::Admin {
            command: AdminCommand::Create { username, .. },
        } => create_superadmin(config, &username).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit_verify(&config).await,
        Command::Points {
            command: PointsCommand::Verify,
        } => points_verify(&config).await,
        Command::Points {
            command: PointsCommand::Expire,
        } => points_expire(config).await,
        Command::Kuaishou {
            command: KuaishouCommand::Sync { shop, since },
        } => kuaishou_sync(config, shop, since).await,
        Command::Kuaishou { command } => kuaishou(command),
        Command::Integrations {
            command: IntegrationsCommand::Sign { vector },
        } => integrations_sign(&vector),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(1)
    })
}

pub fn openapi_json() -> String {
    crate::openapi::document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

async fn connect_migrated(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let conn = db::connect(config).await?;
    Migrator::up(&conn, None).await?;
    Ok(conn)
}

async fn migrate(config: &Config, action: MigrateAction) -> anyhow::Result<ExitCode> {
    let conn = db::connect(config).await?;
    match action {
        MigrateAction::Up => {
            Migrator::up(&conn, None).await?;
            println!("migrations applied");
        }
        MigrateAction::Down => {
            Migrator::down(&conn, Some(1)).await?;
            println!("last migration rolled back");
        }
        MigrateAction::Status => {
            let applied = Migrator::get_applied_migrations(&conn).await?;
            let pending = Migrator::get_pending_migrations(&conn).await?;
            for m in applied {
                println!("applied  {}", m.name());
            }
            for m in pending {
                println!("pending  {}", m.name());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn create_superadmin(config: Config, username: &str) -> anyhow::Result<ExitCode> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let conn = connect_migrated(&config).await?;
    let kernel = Kernel::build(config, conn).await?;
    match identity::users::create_superadmin(&kernel, username, password).await {
        Ok(user) => {
            println!("created superadmin {} (id {})", user.username, user.id);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}: {} {}", e.code, e.message, e.details);
            Ok(ExitCode::from(1))
        }
    }
}

async fn audit_verify(config: &Config) -> anyhow::Result<ExitCode> {
    let conn = db::connect(config).await?;
    let report = audit::verify(&conn).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.broken.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn points_verify(config: &Config) -> anyhow::Result<ExitCode> {
    let conn = db::connect(config).await?;
    let report = shopops_points::verify(&conn)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.consistent {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn points_expire(config: Config) -> anyhow::Result<ExitCode> {
    let conn = connect_migrated(&config).await?;
    let kernel = Kernel::build(config, conn).await?;
    let expired = shopops_points::jobs::expire_due(&kernel)
        .await
        .map_err(anyhow::Error::msg)?;
    println!("expired {expired} lots");
    Ok(ExitCode::SUCCESS)
}

fn integrations_sign(vector: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(vector)
        .map_err(|e| anyhow::anyhow!("{}: {e}", vector.display()))?;
    let values = shopops_integrations::dry_run::sign_vector(&text).map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&values)?);
    Ok(ExitCode::SUCCESS)
}

fn kuaishou(command: KuaishouCommand) -> anyhow::Result<ExitCode> {
    match command {
        KuaishouCommand::Sign { vector } => {
            let text = std::fs::read_to_string(&vector)
                .map_err(|e| anyhow::anyhow!("{}: {e}", vector.display()))?;
            let request =
                shopops_kuaishou::dry_run::sign_vector(&text).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&request)?);
        }
        KuaishouCommand::Methods { json: true } => {
            println!(
                "{}",
                serde_json::to_string_pretty(shopops_kuaishou::catalogue::all())?
            );
        }
        KuaishouCommand::Sync { .. } => anyhow::bail!("sync needs the server configuration"),
        KuaishouCommand::Methods { json: false } => {
            for m in shopops_kuaishou::catalogue::all() {
                let verb = serde_json::to_value(m.http_method)?;
                println!(
                    "{:<4} {:<60} {}",
                    verb.as_str().unwrap_or(""),
                    m.method,
                    m.service
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn kuaishou_sync(
    config: Config,
    shop: i64,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<ExitCode> {
    let conn = connect_migrated(&config).await?;
    let kernel = Kernel::build(config, conn).await?;
    let platform = shopops_kuaishou::platform::Platform::new(
        &kernel,
        shopops_kuaishou::config::KuaishouConfig::load().map_err(anyhow::Error::msg)?,
    )?;
    let target = shopops_kuaishou::entities::shop::Entity::find_by_id(shop)
        .one(&kernel.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no Kuaishou shop {shop}"))?;
    let progress = |r: &shopops_kuaishou::sync::SyncReport| {
        eprint!(
            "\rshop {}: window {} page {} — {} orders seen, {} written",
            r.shop_id,
            r.windows + 1,
            r.pages,
            r.orders_seen,
            r.orders_written
        );
    };
    let report = shopops_kuaishou::sync::sync_shop(
        &kernel,
        &platform,
        &target,
        since.map(|t| t.timestamp_millis()),
        &progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    eprintln!();
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
