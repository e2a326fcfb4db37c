//! What a database error means for the caller: the database is unreachable,
//! the transaction lost a race and can simply run again, or something else.

use std::{future::Future, sync::Arc, time::Duration};

use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, sqlx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The database cannot be reached (connection refused, dropped, no answer).
    Unavailable,
    /// No connection came free in time, while the database answered: the
    /// server has more requests than connections (or SQLite's writes queue).
    Busy,
    /// A lock conflict: SQLite `BUSY`/`LOCKED`, PostgreSQL serialization failure
    /// or deadlock. Running the transaction again is safe.
    Transient,
    Other,
}

pub fn classify(err: &DbErr) -> Failure {
    let runtime = match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => return Failure::Busy,
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return Failure::Unavailable,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return Failure::Other,
    };
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return Failure::Other;
    };
    match &**sqlx_err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Failure::Unavailable,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // PostgreSQL: serialization failure, deadlock.
            Some("40001" | "40P01") => Failure::Transient,
            // SQLite: BUSY, LOCKED, BUSY_SNAPSHOT.
            Some("5" | "6" | "517") => Failure::Transient,
            // PostgreSQL: connection exceptions, shutting down, and a statement
            // cancelled (`statement_timeout`: the request has timed out too).
            Some(code) if code.starts_with("08") || code.starts_with("57P") => Failure::Unavailable,
            Some("57014") => Failure::Unavailable,
            _ => Failure::Other,
        },
        _ => Failure::Other,
    }
}

/// Whether connecting failed for a reason that passes by itself: the database
/// is not reachable yet, is starting or shutting down, or has no connection
/// slot free. A wrong password or database name is not one.
pub fn passes_by_itself(err: &DbErr) -> bool {
    if let DbErr::Conn(RuntimeErr::SqlxError(error)) = err
        && let sqlx::Error::Database(error) = &**error
    {
        return error.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        });
    }
    matches!(classify(err), Failure::Unavailable | Failure::Busy)
}

/// A pool's timeout while the database answered no statement: it cannot be
/// reached (it stopped answering, or no connection to it can be opened).
/// Reported as SeaORM reports one (`ConnectionAcquire(Timeout)`), a timeout
/// is [`Failure::Busy`].
pub(super) fn unanswered() -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::PoolTimedOut)))
}

/// Whether `err`, a statement's failure, says its connection was gone: its
/// socket closed, or its backend ended (by an administrator, or with the
/// database: `57P01`–`57P03`). On a connection just taken, the statement
/// never ran. (A connection that could not be had at all is not this.)
pub(super) fn gone(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            connection_gone(error)
        }
        _ => false,
    }
}

/// [`gone`], for sqlx's error.
pub(super) fn connection_gone(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(error) => {
            matches!(error.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}

/// How often a write transaction is tried when it keeps losing lock races.
const ATTEMPTS: u32 = 6;

/// Runs `transaction` again (with a growing pause) while it fails transiently.
pub async fn with_retries<T, F, Fut>(mut transaction: F) -> Result<T, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    let mut pause = Duration::from_millis(5);
    let mut attempt = 1;
    loop {
        match transaction().await {
            Err(err) if attempt < ATTEMPTS && classify(&err) == Failure::Transient => {
                tracing::debug!(attempt, error = %err, "write transaction lost a race; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use sea_orm::{
        ConnectOptions, Database, DatabaseConnection, SqliteTransactionMode, TransactionOptions,
        TransactionTrait,
    };

    use super::*;

    const IMMEDIATE: TransactionOptions = TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    };

    /// A connection to `url` that gives up at once on a lock (no busy timeout).
    async fn impatient(url: &str) -> DatabaseConnection {
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::ZERO));
        Database::connect(options).await.unwrap()
    }

    #[tokio::test]
    async fn a_real_sqlite_busy_is_transient_and_retried_until_the_lock_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/busy.db?mode=rwc", dir.path().display());
        let holder = impatient(&url).await;
        let contender = impatient(&url).await;
        let lock = holder.begin_with_options(IMMEDIATE).await.unwrap();

        let busy = contender.begin_with_options(IMMEDIATE).await.unwrap_err();
        assert_eq!(classify(&busy), Failure::Transient, "{busy}");

        // The lock is released during the retries: the write then goes through.
        let attempts = AtomicU32::new(0);
        let lock = std::sync::Mutex::new(Some(lock));
        let result = with_retries(|| async {
            if attempts.fetch_add(1, Ordering::SeqCst) == 2 {
                let held = lock.lock().unwrap().take();
                if let Some(held) = held {
                    held.rollback().await.unwrap();
                }
            }
            let txn = contender.begin_with_options(IMMEDIATE).await?;
            txn.commit().await
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert!(attempts.load(Ordering::SeqCst) >= 3);
    }

    #[tokio::test]
    async fn unavailable_busy_and_other_failures_are_not_retried() {
        let unavailable = unanswered;
        let busy = || DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        let other = || DbErr::Custom("x".into());
        assert_eq!(classify(&unavailable()), Failure::Unavailable);
        assert_eq!(classify(&busy()), Failure::Busy);
        assert_eq!(classify(&other()), Failure::Other);
        for make in [unavailable, busy, other] {
            let calls = AtomicU32::new(0);
            let result: Result<(), DbErr> = with_retries(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(make())
            })
            .await;
            assert!(result.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        }
    }
}
