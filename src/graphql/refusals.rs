//! The errors of requests refused before they run, and their codes: what
//! async-graphql's parser and validation say, told with a stable code and,
//! where its words do not say what to fix, in others.

use async_graphql::{ErrorExtensionValues, Pos, ServerError};

use super::{MAX_FIELDS_SPREAD, scalars};
use crate::error::Error;

/// Error codes of requests refused before execution.
pub mod codes {
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const TOO_DEEP: &str = "QUERY_TOO_DEEP";
    pub const TOO_MANY_DIRECTIVES: &str = "TOO_MANY_DIRECTIVES";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
}

/// `error` with the code `code`, unless it has one already.
pub(super) fn with_code(mut error: ServerError, code: &str) -> ServerError {
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

/// The error for a document that selects more than [`MAX_FIELDS_SPREAD`]
/// fields once its fragments are spread.
pub(super) fn too_many_fields() -> ServerError {
    let message = format!(
        "Query is too complex: with its fragments spread it selects more than \
         {MAX_FIELDS_SPREAD} fields"
    );
    with_code(ServerError::new(message, None), codes::TOO_COMPLEX)
}

/// The error for a document whose brackets nest deeper than
/// [`MAX_NESTING`](super::text::MAX_NESTING), refused before it is parsed.
pub(super) fn nested_too_deep() -> ServerError {
    let message = format!(
        "Query is nested too deep: its brackets nest more than {} levels",
        super::text::MAX_NESTING
    );
    with_code(ServerError::new(message, None), codes::TOO_DEEP)
}

/// A document refused before validation, as validation would have.
pub(super) fn invalid_document(message: String, at: Option<Pos>) -> ServerError {
    with_code(ServerError::new(message, at), codes::VALIDATION_FAILED)
}

/// A request-level error (no location, no path) with a code.
pub(super) fn request_error(error: Error) -> ServerError {
    let gql: async_graphql::Error = error.into();
    let mut server = ServerError::new(gql.message, None);
    server.extensions = gql.extensions;
    server
}

/// Whether async-graphql reported `error` while computing a cost, which
/// parses `first`/`last` (with the variables) again: a variable not given, or
/// a value that is not an Int.
pub(super) fn from_cost(error: &ServerError) -> bool {
    let message = &error.message;
    message.starts_with("Failed to parse")
        || message.starts_with("Expected input type")
        || (message.starts_with("Variable ") && message.ends_with(" is not defined."))
}

/// What a custom scalar's value must look like, when `message` (validation's)
/// says a value is not of its type.
pub(super) fn scalar_form(message: &str) -> Option<&'static str> {
    let (_, name) = message.strip_suffix('"')?.rsplit_once("expected type \"")?;
    scalars::expected_form(name)
}

pub(super) fn validation_code(message: &str) -> &'static str {
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

/// The parser's syntax error in one line: `Syntax error at 1:18: expected
/// selection`. It draws the place instead, over several lines, with the
/// document's line in full (all of a document sent on one line).
pub(super) fn syntax_error_in_brief(message: &str) -> Option<String> {
    let position = message.trim_start().strip_prefix("--> ")?.lines().next()?;
    let expected = message.lines().last()?.trim_start().strip_prefix("= ")?;
    let expected = expected
        .replace("EOI", "the end of the document")
        .replace('_', " ");
    Some(format!("Syntax error at {position}: {expected}"))
}
