//! What a database error means for the caller: the database is unreachable,
//! the transaction lost a race and can simply run again, or something else.

use std::{future::Future, time::Duration};

use sea_orm::{DbErr, RuntimeErr, sqlx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The database cannot be reached (connection refused, dropped, pool timeout).
    Unavailable,
    /// A lock conflict: SQLite `BUSY`/`LOCKED`, PostgreSQL serialization failure
    /// or deadlock. Running the transaction again is safe.
    Transient,
    Other,
}

pub fn classify(err: &DbErr) -> Failure {
    let runtime = match err {
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
            // PostgreSQL: connection exceptions, shutting down.
            Some(code) if code.starts_with("08") || code.starts_with("57P") => Failure::Unavailable,
            _ => Failure::Other,
        },
        _ => Failure::Other,
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
    use super::*;

    #[tokio::test]
    async fn transient_failures_are_retried_and_others_are_not() {
        let mut calls = 0;
        let result: Result<u32, DbErr> = with_retries(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(DbErr::ConnectionAcquire(
                        sea_orm::error::ConnAcquireErr::Timeout,
                    ))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        // Unavailable is not transient: no retry.
        assert!(result.is_err());
        assert_eq!(calls, 1);
        assert_eq!(classify(&DbErr::Custom("x".into())), Failure::Other);
    }
}
