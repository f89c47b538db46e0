//! Database connection for both backends, and the kernel's key/value settings.

use std::time::Duration;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, Set, Statement, TransactionTrait,
};

use crate::config::Config;
use crate::entities::kernel_setting;

/// Every SQLite connection's settings: WAL (readers never block the writer), a busy
/// timeout (a writer waits for the other's lock instead of failing), foreign keys on.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA foreign_keys = ON",
];

/// Connects to the configured database. SQLite gets WAL, a busy timeout and a single
/// connection: SQLite allows one writer at a time, and one connection turns what
/// would be `SQLITE_BUSY` failures under concurrency into an orderly queue.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let url = config.effective_database_url();
    if config.is_sqlite() && config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    let mut options = ConnectOptions::new(url.clone());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if config.is_sqlite() {
        options.max_connections(1).min_connections(1);
    } else {
        options
            .max_connections(config.database_max_connections)
            .min_connections(1);
    }
    let db = Database::connect(options).await?;
    if config.is_sqlite() {
        for pragma in SQLITE_PRAGMAS {
            db.execute(Statement::from_string(db.get_database_backend(), pragma))
                .await?;
        }
    }
    Ok(db)
}

/// Begins a transaction that will write. Every writing transaction starts here.
///
/// On SQLite it takes the write lock before its first read, as `BEGIN IMMEDIATE` would
/// (sea-orm only issues a plain `BEGIN`): a deferred transaction that reads and then
/// writes after another process committed fails at once with `SQLITE_BUSY_SNAPSHOT`,
/// which `busy_timeout` does not wait out, while a transaction that holds the lock from
/// the start only ever waits for it. Two processes on one file (a replica and the
/// `shopops` CLI, or two test replicas) therefore queue instead of failing. The no-op
/// `UPDATE` is what takes the lock. PostgreSQL needs nothing: its writers lock rows.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<DatabaseTransaction, DbErr> {
    #[allow(clippy::disallowed_methods)] // the one place a transaction begins
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE kernel_settings SET value = value WHERE 0")
            .await?;
    }
    Ok(txn)
}

/// `SELECT 1` with a deadline, for readiness.
pub async fn ping(db: &DatabaseConnection) -> Result<(), String> {
    let probe = db.execute(Statement::from_string(
        db.get_database_backend(),
        "SELECT 1",
    ));
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out after 2 s".into()),
    }
}

pub async fn get_setting<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<String>, DbErr> {
    Ok(kernel_setting::Entity::find_by_id(key.to_string())
        .one(db)
        .await?
        .map(|m| m.value))
}

/// Stores `value` under `key` unless the key already exists; returns the stored value.
/// Replicas racing to create the same setting all end up with the first one's value.
pub async fn get_or_init_setting<C: ConnectionTrait>(
    db: &C,
    key: &str,
    value: &str,
) -> Result<String, DbErr> {
    let row = kernel_setting::ActiveModel {
        key: Set(key.to_string()),
        value: Set(value.to_string()),
        updated_at: Set(chrono::Utc::now()),
    };
    kernel_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(kernel_setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(db)
        .await?;
    get_setting(db, key)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(key.to_string()))
}

pub async fn set_setting<C: ConnectionTrait>(db: &C, key: &str, value: &str) -> Result<(), DbErr> {
    let row = kernel_setting::ActiveModel {
        key: Set(key.to_string()),
        value: Set(value.to_string()),
        updated_at: Set(chrono::Utc::now()),
    };
    kernel_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(kernel_setting::Column::Key)
                .update_columns([
                    kernel_setting::Column::Value,
                    kernel_setting::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two connections to one SQLite file, as two processes on it have.
    async fn two_connections(dir: &std::path::Path) -> (DatabaseConnection, DatabaseConnection) {
        let url = format!("sqlite://{}?mode=rwc", dir.join("shared.db").display());
        let mut connections = Vec::new();
        for _ in 0..2 {
            let mut options = ConnectOptions::new(url.clone());
            options.max_connections(1).sqlx_logging(false);
            let db = Database::connect(options).await.unwrap();
            for pragma in SQLITE_PRAGMAS {
                db.execute_unprepared(pragma).await.unwrap();
            }
            connections.push(db);
        }
        let second = connections.pop().unwrap();
        (connections.pop().unwrap(), second)
    }

    async fn counter<C: ConnectionTrait>(db: &C) -> i64 {
        db.query_one(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT value FROM kernel_settings WHERE key = 'n'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "value")
        .unwrap()
    }

    #[tokio::test]
    async fn a_sqlite_writer_that_reads_first_waits_for_another_process_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = two_connections(dir.path()).await;
        first
            .execute_unprepared(
                "CREATE TABLE kernel_settings (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            )
            .await
            .unwrap();
        first
            .execute_unprepared("INSERT INTO kernel_settings VALUES ('n', 0)")
            .await
            .unwrap();

        // The first process reads; the second writes meanwhile; the first writes what
        // it read plus one. With a plain BEGIN the second commits in between and the
        // first one's write fails with SQLITE_BUSY_SNAPSHOT.
        let txn = begin_write(&first).await.unwrap();
        let read = counter(&txn).await;
        let other = tokio::spawn(async move {
            second
                .execute_unprepared("UPDATE kernel_settings SET value = value + 10 WHERE key = 'n'")
                .await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        txn.execute_unprepared(&format!(
            "UPDATE kernel_settings SET value = {} WHERE key = 'n'",
            read + 1
        ))
        .await
        .unwrap();
        txn.commit().await.unwrap();
        other.await.unwrap().unwrap();
        assert_eq!(
            counter(&first).await,
            11,
            "both writes, one after the other"
        );
    }
}
