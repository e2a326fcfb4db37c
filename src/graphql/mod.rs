//! The GraphQL schema: roots, types, loaders, the request guard and the session.

mod cursor;
mod documents;
mod eager;
mod guard;
pub mod ids;
pub mod json;
mod listing;
mod loaders;
mod merge;
mod mutation;
mod nulls;
mod order;
mod overlaps;
mod query;
mod refusals;
mod rewrite;
mod scalars;
mod session;
mod text;
mod typecheck;
mod types;

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
};

use async_graphql::{
    EmptySubscription, Request, Response, Schema, ServerError,
    parser::{
        parse_schema,
        types::{ExecutableDocument, TypeKind, TypeSystemDefinition},
    },
};

use crate::error::Error;
use documents::{Documents, Unparsed};
use eager::WriteJson;
pub use guard::{Credentials, Guard, MAX_ERRORS, Ticket};
pub use listing::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEARCH_LEN};
pub use mutation::{MAX_CUSTOMERS_PER_CHANGE, MAX_REASON_LEN, Mutation};
pub use query::{MAX_NODES, Query};
pub use refusals::codes;
pub use session::Session;

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The deepest query accepted; GraphiQL's full introspection query needs about 15.
/// The [`Guard`] checks it, after validation.
pub const MAX_DEPTH: usize = 20;
/// The highest query cost accepted (see `extensions.cost.requestedQueryCost`):
/// each field costs 1, and a list costs its page size times its children.
/// The [`Guard`] checks it, after validation.
pub const MAX_COST: usize = 25_000;
/// The most fields a document may select once its fragments are spread where
/// they are named. Checked before validation, which walks each spread: a
/// kilobyte of fragments spreading each other twice over selects 2^31 fields,
/// and took validation minutes.
pub const MAX_FIELDS_SPREAD: usize = 10_000;
/// The most directives on one field.
pub const MAX_DIRECTIVES_PER_FIELD: usize = 5;

/// Whether `text` nests brackets too deep for any parser to be given it
/// (over 128 deep: see `text::MAX_NESTING`).
pub fn nests_too_deep(text: &str) -> bool {
    text::nests_deeper_than(text, text::MAX_NESTING)
}

/// The GraphQL API: the schema behind the request [`Guard`].
#[derive(Clone)]
pub struct Api {
    schema: AppSchema,
    documents: Documents,
}

impl Api {
    pub fn new(guard: Guard) -> Self {
        Self {
            schema: Schema::build(Query, Mutation, EmptySubscription)
                .extension(guard)
                .limit_directives(MAX_DIRECTIVES_PER_FIELD)
                .disable_suggestions()
                .finish(),
            documents: Documents::default(),
        }
    }

    /// Runs the request if the guard admits it. `request` carries no data.
    pub async fn execute(&self, request: Request, credentials: Option<Credentials>) -> Response {
        let ticket = Arc::new(Ticket::new(&request));
        let mut request = request.data(Arc::clone(&ticket));
        if let Some(credentials) = credentials {
            request = request.data(credentials);
        }
        let mut document = None;
        let parsed = match self.documents.parse(&request.query) {
            Ok(parsed) => Some(parsed),
            Err(Unparsed::Syntax) => None,
            Err(Unparsed::TooDeep) => {
                return ticket.finish(Response::from_errors(vec![refusals::nested_too_deep()]));
            }
        };
        if let Some(parsed) = parsed {
            if parsed.fields_spread > MAX_FIELDS_SPREAD {
                return ticket.finish(Response::from_errors(vec![refusals::too_many_fields()]));
            }
            let several = parsed.document.operations.iter().nth(1).is_some();
            let invalid = parsed.refused.clone().or_else(|| {
                // async-graphql would first validate every operation.
                (request.operation_name.is_none() && several)
                    .then(|| ("Operation name required in request.".to_owned(), None))
            });
            if let Some((message, at)) = invalid {
                return ticket.finish(Response::from_errors(vec![refusals::invalid_document(
                    message, at,
                )]));
            }
            if several && parsed.whole_validated.get().is_none() {
                let errors = self.validate_whole(&parsed.document, &request).await;
                if !errors.is_empty() {
                    return ticket.finish(Response::from_errors(errors));
                }
                let _ = parsed.whole_validated.set(());
            }
            let operation = request.operation_name.as_deref();
            if let Some(name) =
                documents::missing_variable(&parsed.document, operation, &request.variables)
            {
                let error =
                    Error::bad_input(format!("variable ${name} is required: give it a value"));
                return ticket.finish(Response::from_errors(vec![refusals::request_error(error)]));
            }
            documents::fill_defaults(&parsed.document, operation, &mut request.variables);
            if parsed.writes_json {
                request = request.data(WriteJson);
            }
            ticket.keep_document(Arc::clone(&parsed.document));
            let operation = request.operation_name.as_deref();
            let to_run = rewrite::for_request(
                &parsed.document,
                &parsed.variables_in_objects,
                operation,
                &request.variables,
            );
            ticket.charge_introspection(documents::introspection_cost(&to_run));
            request.set_parsed_query(to_run);
            document = Some(parsed);
        }
        let operation_name = request.operation_name.clone();
        // What `@skip`/`@include` read, for the response's order: only
        // documents that have them.
        let variables = document
            .as_ref()
            .filter(|parsed| parsed.selects_conditionally)
            .map(|_| request.variables.clone())
            .unwrap_or_default();
        let mut response = self.schema.execute(request).await;
        if let Some(parsed) = document {
            order::order_as_selected(
                &parsed.document,
                operation_name.as_deref(),
                &variables,
                &mut response.data,
            );
        }
        ticket.finish(response)
    }
}

impl Api {
    /// The errors of every operation of `document` against async-graphql's
    /// validation, and ours; `request` runs one of them. Only the operation
    /// run is given to async-graphql to run and cost (it would check the
    /// others with the request's variables, and add up their costs), so its
    /// rules never saw the others: `query A { nosuchfield } query B { … }`
    /// ran B.
    async fn validate_whole(
        &self,
        document: &Arc<ExecutableDocument>,
        request: &Request,
    ) -> Vec<ServerError> {
        // The document as parsed stands for the text.
        let mut check = Request::new(String::new())
            .variables(request.variables.clone())
            .data(guard::WholeDocument);
        if let Some(name) = &request.operation_name {
            check = check.operation_name(name.clone());
        }
        let ticket = Arc::new(Ticket::new(&check));
        ticket.keep_document(Arc::clone(document));
        check = check.data(ticket);
        check.set_parsed_query(ExecutableDocument::clone(document));
        self.schema.execute(check).await.errors
    }
}

/// Whether an object of type `typename` meets the type condition
/// `condition`: it is that type, implements that interface, or is a member
/// of that union.
fn is_a(typename: &str, condition: &str) -> bool {
    static SUPERTYPES: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
        let mut supertypes: HashMap<String, Vec<String>> = HashMap::new();
        let Ok(schema) = parse_schema(sdl()) else {
            return supertypes;
        };
        for definition in schema.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let name = definition.node.name.node.to_string();
            match definition.node.kind {
                TypeKind::Object(object) => supertypes
                    .entry(name)
                    .or_default()
                    .extend(object.implements.into_iter().map(|i| i.node.to_string())),
                TypeKind::Union(union) => {
                    for member in union.members {
                        supertypes
                            .entry(member.node.to_string())
                            .or_default()
                            .push(name.clone());
                    }
                }
                _ => {}
            }
        }
        supertypes
    });
    typename == condition
        || SUPERTYPES
            .get(typename)
            .is_some_and(|supertypes| supertypes.iter().any(|s| s == condition))
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription)
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

#[cfg(test)]
mod tests {
    use super::is_a;

    #[test]
    fn an_object_is_its_type_and_its_interfaces() {
        assert!(is_a("Customer", "Customer"));
        assert!(is_a("Customer", "Node"));
        assert!(is_a("Renewal", "Node"));
        assert!(!is_a("Customer", "Renewal"));
        assert!(!is_a("Money", "Node"));
    }
}
