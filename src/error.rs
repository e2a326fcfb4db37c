//! The one error type of the API, with stable codes for clients.

use std::{borrow::Cow, sync::Arc, time::Duration};

use sea_orm::DbErr;

use crate::store::{Failure, classify};

/// Everything that can go wrong in a request, as a client should see it.
///
/// Business failures of mutations are not errors: they are `userErrors` in the
/// payload. These are request-level failures, reported as GraphQL errors with
/// `extensions.code` set to [`Error::code`].
///
/// It deliberately does not implement `Display`: async-graphql converts anything
/// displayable into an error *without* a code, so `?` in a resolver must go
/// through the `From` impl below, which always sets one.
#[derive(Debug)]
pub enum Error {
    /// No token was sent, and the field needs one.
    Unauthenticated,
    /// A token was sent, but it is wrong or revoked.
    InvalidToken,
    BadUserInput(String),
    /// The partner's rate-limit bucket cannot pay for this query yet.
    RateLimited {
        retry_after: Duration,
    },
    DatabaseUnavailable(Arc<DbErr>),
    /// No database connection came free in time while the database answered
    /// others: the server has more requests than connections.
    Busy(Arc<DbErr>),
    Internal(Arc<DbErr>),
}

impl Error {
    /// The message clients see. Never contains database text.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::Unauthenticated => {
                "a valid API token is required: send `Authorization: Bearer <token>`".into()
            }
            Self::InvalidToken => "the API token is not valid (wrong, or revoked)".into(),
            Self::BadUserInput(message) => message.as_str().into(),
            Self::RateLimited { retry_after } => format!(
                "rate limit exceeded: this query costs more than the points left; retry in {} s",
                retry_after.as_secs_f64().ceil()
            )
            .into(),
            Self::DatabaseUnavailable(_) => "the database is unavailable; try again shortly".into(),
            Self::Busy(_) => {
                "the server is busy: no database connection came free in time; try again shortly"
                    .into()
            }
            Self::Internal(_) => "internal server error".into(),
        }
    }

    /// The stable code clients can match on (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::InvalidToken => "UNAUTHENTICATED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::DatabaseUnavailable(_) => "DATABASE_UNAVAILABLE",
            Self::Busy(_) => "SERVER_BUSY",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }
}

impl From<Arc<DbErr>> for Error {
    fn from(err: Arc<DbErr>) -> Self {
        match classify(&err) {
            Failure::Unavailable => Self::DatabaseUnavailable(err),
            Failure::Busy => Self::Busy(err),
            Failure::Transient | Failure::Other => Self::Internal(err),
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        Arc::new(err).into()
    }
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        use async_graphql::ErrorExtensions;
        match &err {
            Error::Internal(source) | Error::DatabaseUnavailable(source) => {
                // The client sees only the generic message; the cause goes to the log.
                tracing::error!(code = err.code(), error = %source, "request failed");
            }
            Error::Busy(_) => {
                tracing::warn!(
                    code = err.code(),
                    "request refused: every database connection stayed in use while it waited"
                );
            }
            _ => {}
        }
        let retry_after = match &err {
            Error::RateLimited { retry_after } => Some(retry_after.as_secs_f64().ceil() as u64),
            Error::Busy(_) => Some(BUSY_RETRY_AFTER_SECS),
            Error::DatabaseUnavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", err.code());
            if let Some(seconds) = retry_after {
                ext.set("retryAfterSeconds", seconds);
            }
        })
    }
}

/// Seconds a client is asked to wait (`Retry-After`) after `SERVER_BUSY`: a
/// connection comes free as soon as a request ends.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Seconds a client is asked to wait (`Retry-After`) after
/// `DATABASE_UNAVAILABLE`: a database restarting or failing over takes
/// seconds, and clients retrying at once would only add to the wait.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_stable_code() {
        let cases = [
            (Error::Unauthenticated, "UNAUTHENTICATED"),
            (Error::InvalidToken, "UNAUTHENTICATED"),
            (
                Error::RateLimited {
                    retry_after: Duration::from_secs(2),
                },
                "RATE_LIMITED",
            ),
            (Error::bad_input("x"), "BAD_USER_INPUT"),
            (
                Error::from(DbErr::Conn(sea_orm::RuntimeErr::Internal("down".into()))),
                "DATABASE_UNAVAILABLE",
            ),
            (
                Error::from(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)),
                "SERVER_BUSY",
            ),
            (
                Error::from(DbErr::Custom("boom".into())),
                "INTERNAL_SERVER_ERROR",
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
            let gql: async_graphql::Error = err.into();
            let ext = gql.extensions.expect("extensions are set");
            assert_eq!(ext.get("code"), Some(&async_graphql::Value::from(code)));
        }
    }

    #[test]
    fn database_text_never_reaches_the_client() {
        let err = Error::from(DbErr::Custom("SELECT secret FROM partner".into()));
        let gql: async_graphql::Error = err.into();
        assert_eq!(gql.message, "internal server error");
    }
}
