//! The request guard: an async-graphql extension. It lets async-graphql parse
//! and validate the request (after the rules it lacks, in
//! [`typecheck`](super::typecheck)); only a request within the depth, complexity and
//! directive limits gets further. The guard then authenticates the token,
//! charges the query's cost to the partner's rate-limit bucket, and opens the
//! [`Session`] before any resolver runs: a request refused for its shape
//! costs no SQL, one refused by the rate limit no more than the token lookup
//! and the charge.
//!
//! The guard has no `resolve` hook: async-graphql puts every field of a
//! derived object on a slower path when a schema has extensions, but the
//! objects of a dashboard page are [`Eager`](super::eager::Eager), which call
//! no extension per field.
//!
//! [`Ticket::finish`] then gives every error a stable `extensions.code` and
//! reports the cost in `extensions.cost`.
//!
//! Validation is a function of the request's text, operation name and
//! variables alone (the schema and its limits are fixed), and a dashboard
//! sends the same request on every visit. The guard keeps the results of
//! requests that passed, by a SHA-256 of those three ([`ValidationKey`]), and
//! skips validating them again. Failures are not kept.

use std::sync::{
    Arc, Mutex, OnceLock,
    atomic::{AtomicU64, Ordering},
};

use async_graphql::{
    CacheControl, Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
    },
    parser::types::ExecutableDocument,
};
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use super::{
    MAX_COST, MAX_DEPTH, nulls,
    refusals::{
        codes, from_cost, request_error, scalar_form, syntax_error_in_brief, validation_code,
        with_code,
    },
    session::Session,
    typecheck,
};
use crate::{
    config::Today,
    error::Error,
    ratelimit::{Admitted, RateLimiter, ThrottleStatus},
    store::Store,
};

/// The API token a request came with (the secret after `Bearer `).
pub struct Credentials(pub String);

/// What the guard learnt about one request.
pub struct Ticket {
    /// What the request's validation depends on; `None` if it cannot be told.
    validation_key: Option<ValidationKey>,
    /// The query's complexity, known once it has been validated.
    cost: AtomicU64,
    /// What its introspections cost beyond their fields
    /// ([`documents::introspection_cost`](super::documents::introspection_cost)).
    introspection_cost: AtomicU64,
    throttle: Mutex<Option<ThrottleStatus>>,
    /// The partner's session; none for a request without a token.
    session: OnceLock<Session>,
    /// The parsed document, for the checks async-graphql's validation lacks.
    document: OnceLock<Arc<ExecutableDocument>>,
    /// The operation to run, as named by the request.
    operation_name: Option<String>,
    /// The variables the request gives `null`.
    null_variables: Vec<String>,
}

/// Marks a request that validates every operation of its document and runs
/// nothing: a request names the operation it runs, and only that one is
/// given to async-graphql, whose rules would otherwise never see the others
/// (§6.1 validates the whole document). Nothing is kept or charged for it.
pub(super) struct WholeDocument;

impl Ticket {
    pub fn new(request: &Request) -> Self {
        Self {
            validation_key: ValidationKey::of(request),
            cost: AtomicU64::default(),
            introspection_cost: AtomicU64::default(),
            throttle: Mutex::default(),
            session: OnceLock::default(),
            document: OnceLock::default(),
            operation_name: request.operation_name.clone(),
            null_variables: request
                .variables
                .iter()
                .filter(|(_, value)| matches!(value, Value::Null))
                .map(|(name, _)| name.to_string())
                .collect(),
        }
    }

    /// Keeps the request's parsed document, for validation.
    pub fn keep_document(&self, document: Arc<ExecutableDocument>) {
        let _ = self.document.set(document);
    }

    /// Sets what the introspections of the operation to run add to its cost.
    pub fn charge_introspection(&self, points: usize) {
        self.introspection_cost
            .store(points as u64, Ordering::Relaxed);
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.get()
    }

    /// The response as sent: every error with a code, at most [`MAX_ERRORS`]
    /// of them, and the cost report.
    pub fn finish(&self, mut response: Response) -> Response {
        // Anything async-graphql reports without a code: errors at a field are
        // bad arguments; errors without a path stopped the request before execution.
        let mut errors: Vec<ServerError> = std::mem::take(&mut response.errors)
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
        // async-graphql reports some refusals twice over (an operation type
        // the schema lacks, from validation and again from execution).
        errors.dedup_by(|a, b| {
            a.message == b.message && a.locations == b.locations && a.path == b.path
        });
        // One error per field (§6.4.4): a field selected in two places, one
        // through a fragment, runs in each, and failed in each.
        let mut failed = std::collections::HashSet::new();
        errors.retain(|e| {
            e.path.is_empty() || failed.insert(serde_json::to_string(&e.path).unwrap_or_default())
        });
        if errors.len() > MAX_ERRORS {
            let left_out = errors.len() - (MAX_ERRORS - 1);
            errors.truncate(MAX_ERRORS - 1);
            let mut last = ServerError::new(format!("{left_out} more errors, left out"), None);
            // The code of the errors before it, which those left out are like.
            last.extensions = errors.last().and_then(|e| e.extensions.clone());
            errors.push(last);
        }
        response.errors = errors;
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

/// A SHA-256 of what validating a request depends on: its text, operation
/// name and variables, each with its length, so no two requests share one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ValidationKey([u8; 32]);

impl ValidationKey {
    fn of(request: &Request) -> Option<Self> {
        let variables = serde_json::to_vec(&request.variables).ok()?;
        let mut hasher = Sha256::new();
        for part in [
            request.query.as_bytes(),
            request
                .operation_name
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
            &variables,
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        // An absent operation name differs from an empty one.
        hasher.update([u8::from(request.operation_name.is_some())]);
        Some(Self(hasher.finalize().into()))
    }
}

/// The most errors a response lists: a 240 KB document of 120,000 unknown
/// fields got one error each, 17 MB. The last one listed says how many more
/// there were.
pub const MAX_ERRORS: usize = 100;

/// How many validation results the guard keeps (a few dozen bytes each).
const VALIDATED_REQUESTS: usize = 4096;

/// The guard extension. It keeps no state of its own: what it learns about
/// a request goes into the request's [`Ticket`].
#[derive(Clone)]
pub struct Guard(Arc<GuardExtension>);

struct GuardExtension {
    store: Store,
    limiter: RateLimiter,
    today: Today,
    /// Results of requests that passed validation, by their key.
    validated: Cache<ValidationKey, ValidationResult>,
}

impl Guard {
    pub fn new(store: Store, limiter: RateLimiter, today: Today) -> Self {
        Self(Arc::new(GuardExtension {
            store,
            limiter,
            today,
            validated: Cache::new(VALIDATED_REQUESTS),
        }))
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::clone(&self.0) as Arc<dyn Extension>
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
        next.run(ctx, query, variables).await.map_err(|mut e| {
            // The parser refuses an anonymous operation beside others, which
            // parses: it breaks a validation rule (§5.2.2.1).
            if e.message == "document contains multiple operations" {
                e.message = "An anonymous operation must be the only operation in its document: \
                             name each"
                    .to_owned();
                return with_code(e, codes::VALIDATION_FAILED);
            }
            // Two operations or fragments of one name: the document parses,
            // and breaks a rule of uniqueness (§5.2.1.1, §5.5.1.1).
            if e.message.ends_with(" is defined twice") {
                return with_code(e, codes::VALIDATION_FAILED);
            }
            let code = match validation_code(&e.message) {
                codes::VALIDATION_FAILED => codes::PARSE_FAILED,
                other => other,
            };
            if let Some(brief) = syntax_error_in_brief(&e.message) {
                e.message = brief;
            }
            with_code(e, code)
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let ticket = ctx.data_opt::<Arc<Ticket>>();
        let whole = ctx.data_opt::<WholeDocument>().is_some();
        let key = ticket
            .and_then(|ticket| ticket.validation_key)
            .filter(|_| !whole);
        let result = match key.and_then(|key| self.validated.get(&key)) {
            Some(result) => result,
            None => {
                // The document's own rules before async-graphql's, which
                // look at the variables' values too: a mistyped variable is
                // the document's fault, whatever its value.
                if let Some(document) = ticket.and_then(|ticket| ticket.document.get()) {
                    let errors = typecheck::check(&ctx.schema_env.registry, document);
                    if !errors.is_empty() {
                        return Err(errors
                            .into_iter()
                            .map(|e| with_code(e, codes::VALIDATION_FAILED))
                            .collect());
                    }
                    if let Some(ticket) = ticket.filter(|_| !whole) {
                        let errors = typecheck::nulls_for_non_null_variables(
                            document,
                            ticket.operation_name.as_deref(),
                            &ticket.null_variables,
                        );
                        if !errors.is_empty() {
                            return Err(errors
                                .into_iter()
                                .map(|e| with_code(e, "BAD_USER_INPUT"))
                                .collect());
                        }
                    }
                }
                let result = next.run(ctx).await;
                let result = match result {
                    // The cost of the operations not run is no concern of
                    // theirs, nor the variables it reads (which are for the
                    // operation run): only the rules' errors count.
                    Err(errors) if whole => {
                        let errors: Vec<ServerError> =
                            errors.into_iter().filter(|e| !from_cost(e)).collect();
                        if errors.is_empty() {
                            return Ok(ValidationResult {
                                cache_control: CacheControl::default(),
                                complexity: 0,
                                depth: 0,
                            });
                        }
                        Err(errors)
                    }
                    other => other,
                };
                let result = result.map_err(|mut errors| {
                    // The cost is computed from `first`/`last` parsed again:
                    // a value or variable validation found wrong was
                    // reported twice. The cost of an invalid document says
                    // nothing more.
                    if errors.iter().any(|e| !from_cost(e)) {
                        errors.retain(|e| !from_cost(e));
                    }
                    errors
                        .into_iter()
                        .map(|mut e| {
                            let code = validation_code(&e.message);
                            if let Some(form) = scalar_form(&e.message) {
                                e.message = format!("{}: {form}", e.message);
                            }
                            with_code(e, code)
                        })
                        .collect::<Vec<_>>()
                })?;
                if let Some(key) = key {
                    self.validated.insert(key, result);
                }
                result
            }
        };
        if whole {
            // The cost adds up every operation's: only the one run counts.
            return Ok(result);
        }
        let introspection = ticket.map_or(0, |ticket| {
            ticket.introspection_cost.load(Ordering::Relaxed)
        });
        let result = ValidationResult {
            complexity: result
                .complexity
                .saturating_add(usize::try_from(introspection).unwrap_or(usize::MAX)),
            ..result
        };
        if let Some(ticket) = ticket {
            ticket
                .cost
                .store(result.complexity as u64, Ordering::Relaxed);
        }
        // Checked here rather than by async-graphql (`limit_depth`,
        // `limit_complexity`), which refuses without telling the depth or the
        // cost: the response reports it.
        let refused =
            |message: String, code| Err(vec![with_code(ServerError::new(message, None), code)]);
        if result.depth > MAX_DEPTH {
            return refused(
                format!(
                    "Query is nested too deep: its fields nest {} levels, and at most {MAX_DEPTH} are accepted",
                    result.depth
                ),
                codes::TOO_DEEP,
            );
        }
        if result.complexity > MAX_COST {
            return refused(
                format!(
                    "Query is too complex: it costs {} points, and at most {MAX_COST} are accepted",
                    result.complexity
                ),
                codes::TOO_COMPLEX,
            );
        }
        Ok(result)
    }

    /// Admits the request and runs it, or refuses it without running anything.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if ctx.data_opt::<WholeDocument>().is_some() {
            return Response::default();
        }
        let Some(ticket) = ctx.data_opt::<Arc<Ticket>>() else {
            // Only `Api::execute` runs this schema, and it always gives a ticket.
            return Response::from_errors(vec![request_error(Error::Unauthenticated)]);
        };
        let mut response = match self.admit(ticket, ctx.data_opt::<Credentials>()).await {
            Ok(()) => next.run(ctx, operation_name).await,
            Err(error) => Response::from_errors(vec![request_error(error)]),
        };
        if let Some(document) = ticket.document.get()
            && response.errors.iter().any(|error| !error.path.is_empty())
        {
            nulls::propagate(
                &ctx.schema_env.registry,
                document,
                operation_name,
                &mut response.data,
                &response.errors,
            );
        }
        // The response is complete: its connection can serve another request.
        if let Some(session) = ticket.session() {
            session.store.release().await;
        }
        response
    }
}

impl GuardExtension {
    /// Authenticates the token, charges the cost and opens the session. Without
    /// a token, only what needs no partner (introspection) can succeed later.
    async fn admit(&self, ticket: &Ticket, credentials: Option<&Credentials>) -> Result<(), Error> {
        let Some(Credentials(secret)) = credentials else {
            return Ok(());
        };
        let store = self.store.for_request();
        let cost = ticket.cost.load(Ordering::Relaxed);
        let Admitted {
            token,
            partner,
            throttle,
        } = self
            .limiter
            .admit(&store, secret, cost)
            .await?
            .ok_or(Error::InvalidToken)?;
        tracing::Span::current().record("partner", partner.slug.as_str());
        let status = match throttle {
            Ok(status) => status,
            Err(throttled) => throttled.status,
        };
        *ticket.throttle.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
        if let Err(throttled) = throttle {
            return Err(Error::RateLimited {
                retry_after: throttled.retry_after,
            });
        }
        let session = Session::new(store, partner, token.name, self.today.get());
        // A ticket is new for every request, so its session is always unset here.
        let _ = ticket.session.set(session);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{Request, Variables};
    use serde_json::json;

    use super::ValidationKey;

    fn key(query: &str, operation: Option<&str>, variables: serde_json::Value) -> ValidationKey {
        let mut request = Request::new(query).variables(Variables::from_json(variables));
        request.operation_name = operation.map(str::to_owned);
        ValidationKey::of(&request).expect("variables serialise")
    }

    #[test]
    fn validation_keys_tell_apart_whatever_validation_depends_on() {
        let base = key("{ a }", Some("A"), json!({ "x": 1 }));
        assert!(base == key("{ a }", Some("A"), json!({ "x": 1 })));
        for other in [
            key("{ b }", Some("A"), json!({ "x": 1 })),
            key("{ a }", Some("B"), json!({ "x": 1 })),
            key("{ a }", None, json!({ "x": 1 })),
            key("{ a }", Some("A"), json!({ "x": 2 })),
            key("{ a }", Some("A"), json!({ "x": "1" })),
            key("{ a }", Some("A"), json!({})),
        ] {
            assert!(base != other);
        }
        // Parts are length-prefixed: moving text from one part to the next differs.
        assert!(key("{ a }A", Some(""), json!({})) != key("{ a }", Some("A"), json!({})));
        assert!(key("{ a }", Some(""), json!({})) != key("{ a }", None, json!({})));
    }
}
