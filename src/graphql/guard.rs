//! The request guard: an async-graphql extension. It lets async-graphql parse
//! and validate the request; only a request within the depth, complexity and
//! directive limits gets further. The guard then authenticates the token,
//! charges the query's cost to the partner's rate-limit bucket, and opens the
//! [`Session`] before any resolver runs, so a refused request costs no SQL
//! beyond the token lookup.
//!
//! The guard has no `resolve` hook: async-graphql puts every field of a
//! derived object on a slower path when a schema has extensions, but the
//! objects of a dashboard page are [`Eager`](super::eager::Eager), which call
//! no extension per field.
//!
//! [`Ticket::finish`] then gives every error a stable `extensions.code` and
//! reports the cost in `extensions.cost`.

use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
    },
    parser::types::ExecutableDocument,
};

use super::session::Session;
use crate::{
    config::Today,
    error::Error,
    ratelimit::{RateLimiter, ThrottleStatus},
    store::Store,
};

/// The API token a request came with (the secret after `Bearer `).
pub struct Credentials(pub String);

/// What the guard learnt about one request.
#[derive(Default)]
pub struct Ticket {
    /// The query's complexity, known once it has been validated.
    cost: AtomicU64,
    throttle: Mutex<Option<ThrottleStatus>>,
    /// The partner's session; none for a request without a token.
    session: OnceLock<Session>,
}

impl Ticket {
    pub fn session(&self) -> Option<&Session> {
        self.session.get()
    }

    /// The response as sent: every error with a code, and the cost report.
    pub fn finish(&self, mut response: Response) -> Response {
        // Anything async-graphql reports without a code: errors at a field are
        // bad arguments; errors without a path stopped the request before execution.
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| {
                let code = if e.path.is_empty() {
                    codes::VALIDATION_FAILED
                } else {
                    "BAD_USER_INPUT"
                };
                with_code(e, code)
            })
            .collect();
        let mut report = async_graphql::indexmap::IndexMap::new();
        report.insert(
            async_graphql::Name::new("requestedQueryCost"),
            Value::from(self.cost.load(Ordering::Relaxed)),
        );
        let throttle = *self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(status) = throttle {
            let mut t = async_graphql::indexmap::IndexMap::new();
            t.insert(
                async_graphql::Name::new("maximumAvailable"),
                Value::from(status.maximum_available),
            );
            t.insert(
                async_graphql::Name::new("currentlyAvailable"),
                Value::from(status.currently_available),
            );
            t.insert(
                async_graphql::Name::new("restoreRate"),
                Value::from(status.restore_rate),
            );
            report.insert(async_graphql::Name::new("throttleStatus"), Value::Object(t));
        }
        response
            .extensions
            .insert("cost".to_owned(), Value::Object(report));
        response
    }
}

/// Error codes of requests refused before execution.
pub mod codes {
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const TOO_DEEP: &str = "QUERY_TOO_DEEP";
    pub const TOO_MANY_DIRECTIVES: &str = "TOO_MANY_DIRECTIVES";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
}

/// The guard extension. It keeps no state of its own: what it learns about
/// a request goes into the request's [`Ticket`].
#[derive(Clone)]
pub struct Guard(Arc<GuardExtension>);

struct GuardExtension {
    store: Store,
    limiter: RateLimiter,
    today: Today,
}

impl Guard {
    pub fn new(store: Store, limiter: RateLimiter, today: Today) -> Self {
        Self(Arc::new(GuardExtension {
            store,
            limiter,
            today,
        }))
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::clone(&self.0) as Arc<dyn Extension>
    }
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some());
    if !has_code {
        error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("code", code);
    }
    error
}

/// A request-level error (no location, no path) with a code.
fn request_error(error: Error) -> ServerError {
    let gql: async_graphql::Error = error.into();
    let mut server = ServerError::new(gql.message, None);
    server.extensions = gql.extensions;
    server
}

fn validation_code(message: &str) -> &'static str {
    if message.starts_with("Query is too complex") {
        codes::TOO_COMPLEX
    } else if message.starts_with("Query is nested too deep")
        || message.starts_with("The recursion depth")
    {
        codes::TOO_DEEP
    } else if message.starts_with("The number of directives") {
        codes::TOO_MANY_DIRECTIVES
    } else if [
        "Invalid value for argument",
        "Expected input type",
        "Failed to parse",
        "Variable \"",
    ]
    .iter()
    .any(|prefix| message.starts_with(prefix))
    {
        // Values that do not fit their types: the request is fine, the input is not.
        "BAD_USER_INPUT"
    } else {
        codes::VALIDATION_FAILED
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| {
            let code = match validation_code(&e.message) {
                codes::VALIDATION_FAILED => codes::PARSE_FAILED,
                other => other,
            };
            with_code(e, code)
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        match next.run(ctx).await {
            Ok(result) => {
                if let Some(ticket) = ctx.data_opt::<Arc<Ticket>>() {
                    ticket
                        .cost
                        .store(result.complexity as u64, Ordering::Relaxed);
                }
                Ok(result)
            }
            Err(errors) => Err(errors
                .into_iter()
                .map(|e| {
                    let code = validation_code(&e.message);
                    with_code(e, code)
                })
                .collect()),
        }
    }

    /// Admits the request and runs it, or refuses it without running anything.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let Some(ticket) = ctx.data_opt::<Arc<Ticket>>() else {
            // Only `Api::execute` runs this schema, and it always gives a ticket.
            return Response::from_errors(vec![request_error(Error::Unauthenticated)]);
        };
        match self.admit(ticket, ctx.data_opt::<Credentials>()).await {
            Ok(()) => next.run(ctx, operation_name).await,
            Err(error) => Response::from_errors(vec![request_error(error)]),
        }
    }
}

impl GuardExtension {
    /// Authenticates the token, charges the cost and opens the session. Without
    /// a token, only what needs no partner (introspection) can succeed later.
    async fn admit(&self, ticket: &Ticket, credentials: Option<&Credentials>) -> Result<(), Error> {
        let Some(Credentials(secret)) = credentials else {
            return Ok(());
        };
        let (token, partner) = self
            .store
            .authenticate(secret)
            .await?
            .ok_or(Error::InvalidToken)?;
        tracing::Span::current().record("partner", partner.slug.as_str());
        let cost = ticket.cost.load(Ordering::Relaxed);
        let taken = self.limiter.take(partner.id, cost, Instant::now());
        let status = match taken {
            Ok(status) => status,
            Err(throttled) => throttled.status,
        };
        *ticket.throttle.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
        if let Err(throttled) = taken {
            return Err(Error::RateLimited {
                retry_after: throttled.retry_after,
            });
        }
        let session = Session::new(self.store.clone(), partner, token.name, self.today.get());
        // A ticket is new for every request, so its session is always unset here.
        let _ = ticket.session.set(session);
        Ok(())
    }
}
