//! Setting a database up when several servers start on it at once: one
//! migrates it, or seeds it, while the others wait, then find it done.
//!
//! Without this, servers started together on a database with migrations
//! pending each ran them: all but one failed (`relation already exists`,
//! `duplicate key`), and a deploy of several replicas lost all but one.

use std::{fs::File, path::Path, str::FromStr};

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    sqlx::sqlite::SqliteConnectOptions,
};

/// PostgreSQL's advisory lock for setting up the current schema: its two keys.
const PG_LOCK_KEYS: &str = "hashtext('renewals setup'), hashtext(current_schema())";

/// The right to set the database up, until released.
pub(super) enum SetupLock {
    /// A PostgreSQL session of its own (no statement timeout: migrations may
    /// take long) holding the advisory lock. Migrations run on it. Its end,
    /// however it ends, releases the lock.
    Postgres(DatabaseConnection),
    /// An exclusive lock on `<database file>-setup.lock`, released when the
    /// file is closed; none for a database in memory, which no other process
    /// opens.
    Sqlite(Option<File>),
}

impl SetupLock {
    /// Waits for the lock on the database at `url` (`session` opens a
    /// PostgreSQL session of one connection).
    pub(super) async fn take(
        url: &str,
        session: impl Future<Output = Result<DatabaseConnection, DbErr>>,
    ) -> Result<Self, DbErr> {
        if !url.starts_with("sqlite:") {
            let session = session.await?;
            session
                .execute_unprepared(&format!("SELECT pg_advisory_lock({PG_LOCK_KEYS})"))
                .await?;
            return Ok(Self::Postgres(session));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| DbErr::Custom(format!("not a SQLite URL: {error}")))?;
        let database = options.get_filename();
        if database == Path::new(":memory:") || url.contains("mode=memory") {
            return Ok(Self::Sqlite(None));
        }
        let mut lock = database.as_os_str().to_owned();
        lock.push("-setup.lock");
        let locked = tokio::task::spawn_blocking(move || {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock)?;
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .map_err(|error| {
            DbErr::Custom(format!("cannot lock the database to set it up: {error}"))
        })?;
        Ok(Self::Sqlite(Some(locked)))
    }

    pub(super) async fn release(self) -> Result<(), DbErr> {
        match self {
            Self::Postgres(session) => session.close().await,
            Self::Sqlite(file) => {
                drop(file);
                Ok(())
            }
        }
    }
}

/// Holds, in `txn`, the lock that setting the database up takes, until the
/// transaction ends: on PostgreSQL the advisory lock; SQLite's write
/// transactions (`BEGIN IMMEDIATE`) take turns already.
pub(super) async fn hold_in(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({PG_LOCK_KEYS})"))
            .await?;
    }
    Ok(())
}
