//! Every migration applies, rolls back and applies again — on SQLite, and on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

use sea_orm_migration::sea_orm::{ConnectionTrait, Database, Statement};
use shopops_migrations::{Migrator, MigratorTrait};

async fn round_trip(url: &str) {
    let db = Database::connect(url).await.expect("connect");
    Migrator::up(&db, None).await.expect("up");
    let applied = Migrator::get_applied_migrations(&db)
        .await
        .expect("status")
        .len();
    assert_eq!(applied, Migrator::migrations().len());
    Migrator::down(&db, None).await.expect("down to nothing");
    assert!(Migrator::get_applied_migrations(&db)
        .await
        .expect("status")
        .is_empty());
    Migrator::up(&db, None).await.expect("up again");
    // The grants are made at start from the declared permissions, never by migrations.
    let grants = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM role_permissions",
        ))
        .await
        .expect("count")
        .expect("row");
    let n: i64 = grants.try_get("", "n").expect("n");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn sqlite_round_trip() {
    round_trip("sqlite::memory:").await;
}

#[tokio::test]
async fn postgres_round_trip() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!(
            "TEST_DATABASE_URL not set: the PostgreSQL round trip runs in make test-services"
        );
        return;
    };
    let name = format!("shopops_mig_{}", std::process::id());
    let server = Database::connect(&admin).await.expect("connect admin");
    server
        .execute(Statement::from_string(
            server.get_database_backend(),
            format!("CREATE DATABASE {name}"),
        ))
        .await
        .expect("create");
    let (base, _) = admin.rsplit_once('/').expect("url ends in /db");
    round_trip(&format!("{base}/{name}")).await;
    server
        .execute(Statement::from_string(
            server.get_database_backend(),
            format!("DROP DATABASE {name} WITH (FORCE)"),
        ))
        .await
        .expect("drop");
}
