//! What a command-line tool (`shopops audit verify`, a module's subcommand) gets: the
//! configuration, and the database only when it already exists and is migrated.
//!
//! Only `serve` and `migrate up` create a database. A tool that reads data from the
//! wrong folder must say where it looked instead of creating an empty database there
//! and reporting that it found nothing.

use std::future::Future;
use std::pin::Pin;

use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::context::Kernel;
use crate::module::Declarations;

/// A refusal that is the operator's to fix (no database here, a bad option): printed
/// as it is and the process exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

type PendingCheck = dyn Fn(DatabaseConnection) -> Pin<Box<dyn Future<Output = anyhow::Result<usize>> + Send>>
    + Send
    + Sync;

/// Given to CLI commands by the binary.
pub struct CliContext {
    config: Config,
    declarations: Declarations,
    pending_migrations: Box<PendingCheck>,
}

impl CliContext {
    /// `pending_migrations` counts the migrations a database still lacks (the binary
    /// knows the migrator; the kernel does not).
    pub fn new<F, Fut>(config: Config, declarations: Declarations, pending_migrations: F) -> Self
    where
        F: Fn(DatabaseConnection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<usize>> + Send + 'static,
    {
        Self {
            config,
            declarations,
            pending_migrations: Box::new(move |db| Box::pin(pending_migrations(db))),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the data lives, in words an operator can act on.
    pub fn location(&self) -> String {
        if self.config.is_sqlite() {
            format!(
                "the SQLite database {} (data directory from SHOPOPS_DATA_DIR, default ./data; or set DATABASE_URL)",
                self.config.sqlite_path().display()
            )
        } else {
            "the database at DATABASE_URL".to_string()
        }
    }

    /// The database, only if it exists (migrated or not); a [`UsageError`] naming where
    /// it looked otherwise.
    pub async fn existing_database(&self) -> anyhow::Result<DatabaseConnection> {
        if self.config.is_sqlite() && !self.config.sqlite_path().exists() {
            return Err(UsageError(format!(
                "no database: {} does not exist. Run this where the server keeps its data, or create it with `shopops migrate up`",
                self.location()
            ))
            .into());
        }
        crate::db::connect(&self.config)
            .await
            .map_err(|e| UsageError(format!("cannot open {}: {e}", self.location())).into())
    }

    /// The existing, fully migrated database; a [`UsageError`] naming where it looked
    /// otherwise.
    pub async fn database(&self) -> anyhow::Result<DatabaseConnection> {
        let db = self.existing_database().await?;
        let pending = (self.pending_migrations)(db.clone()).await?;
        if pending > 0 {
            return Err(UsageError(format!(
                "{} lacks {pending} migration(s); run `shopops migrate up` first",
                self.location()
            ))
            .into());
        }
        Ok(db)
    }

    /// The kernel on the existing database (for tools that act like the server).
    pub async fn kernel(&self) -> anyhow::Result<Kernel> {
        let db = self.database().await?;
        Kernel::build(self.config.clone(), db, &self.declarations).await
    }
}
