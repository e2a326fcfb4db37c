//! The request guard: an async-graphql extension that runs after a request has
//! been parsed and validated, and before any resolver.
//!
//! Only a request that passed the depth, complexity and directive limits
//! touches the database: the guard then authenticates the token, charges the
//! query's cost to the partner's rate-limit bucket, and opens the [`Session`].
//! It also gives every error a stable `extensions.code` and reports the cost
//! in `extensions.cost`.

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
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
        NextValidation,
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

/// Where the guard puts the request's session for the resolvers.
#[derive(Default)]
pub struct SessionSlot(OnceLock<Session>);

impl SessionSlot {
    pub fn get(&self) -> Option<&Session> {
        self.0.get()
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

/// The extension factory, shared by all requests.
#[derive(Clone)]
pub struct Guard(Arc<Shared>);

struct Shared {
    store: Store,
    limiter: RateLimiter,
    today: Today,
}

impl Guard {
    pub fn new(store: Store, limiter: RateLimiter, today: Today) -> Self {
        Self(Arc::new(Shared {
            store,
            limiter,
            today,
        }))
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            shared: Arc::clone(&self.0),
            cost: AtomicU64::new(0),
            throttle: Mutex::new(None),
        })
    }
}

struct GuardExtension {
    shared: Arc<Shared>,
    /// The query's complexity, known once it has been validated.
    cost: AtomicU64,
    throttle: Mutex<Option<ThrottleStatus>>,
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
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
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
        let cost = self.cost.load(Ordering::Relaxed);
        let throttle = *self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = async_graphql::indexmap::IndexMap::new();
        report.insert(
            async_graphql::Name::new("requestedQueryCost"),
            Value::from(cost),
        );
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
                self.cost.store(result.complexity as u64, Ordering::Relaxed);
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

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let (Some(slot), Some(Credentials(secret))) =
            (ctx.data_opt::<SessionSlot>(), ctx.data_opt::<Credentials>())
        else {
            // No token: only what needs no partner (introspection) can succeed.
            return next.run(ctx, operation_name).await;
        };
        let shared = &self.shared;
        let (token, partner) = match shared.store.authenticate(secret).await {
            Ok(Some(found)) => found,
            Ok(None) => return Response::from_errors(vec![request_error(Error::InvalidToken)]),
            Err(err) => return Response::from_errors(vec![request_error(err.into())]),
        };
        tracing::Span::current().record("partner", partner.slug.as_str());
        let cost = self.cost.load(Ordering::Relaxed);
        let taken = shared.limiter.take(partner.id, cost, Instant::now());
        let status = match taken {
            Ok(status) => status,
            Err(throttled) => throttled.status,
        };
        *self.throttle.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
        if let Err(throttled) = taken {
            return Response::from_errors(vec![request_error(Error::RateLimited {
                retry_after: throttled.retry_after,
            })]);
        }
        let session = Session::new(
            shared.store.clone(),
            partner,
            token.name,
            shared.today.get(),
        );
        // The slot is new for every request, so it is always empty here.
        let _ = slot.0.set(session);
        next.run(ctx, operation_name).await
    }
}
