//! The one error type of the API, with stable codes for clients.

use std::sync::Arc;

use sea_orm::DbErr;

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
    Unauthenticated,
    BadUserInput(String),
    DatabaseUnavailable(Arc<DbErr>),
    Internal(Arc<DbErr>),
}

impl Error {
    /// The message clients see. Never contains database text.
    pub fn message(&self) -> &str {
        match self {
            Self::Unauthenticated => {
                "a valid API token is required: send `Authorization: Bearer <token>`"
            }
            Self::BadUserInput(message) => message,
            Self::DatabaseUnavailable(_) => "the database is unavailable; try again shortly",
            Self::Internal(_) => "internal server error",
        }
    }

    /// The stable code clients can match on (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::DatabaseUnavailable(_) => "DATABASE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }
}

impl From<Arc<DbErr>> for Error {
    fn from(err: Arc<DbErr>) -> Self {
        match *err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::DatabaseUnavailable(err),
            _ => Self::Internal(err),
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
            Error::Unauthenticated | Error::BadUserInput(_) => {}
        }
        async_graphql::Error::new(err.message()).extend_with(|_, ext| ext.set("code", err.code()))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_stable_code() {
        let cases = [
            (Error::Unauthenticated, "UNAUTHENTICATED"),
            (Error::bad_input("x"), "BAD_USER_INPUT"),
            (
                Error::from(DbErr::Conn(sea_orm::RuntimeErr::Internal("down".into()))),
                "DATABASE_UNAVAILABLE",
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
