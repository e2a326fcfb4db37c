//! `/graphql` over HTTP, following GraphQL-over-HTTP: JSON bodies only, no
//! batches, no mutations over GET, a body limit, and `Accept` negotiation.

use async_graphql::parser::{parse_query, types::OperationType};
use axum::{
    body::{Body, to_bytes},
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{AppState, MAX_BODY_BYTES, problem};
use crate::graphql::{Credentials, codes, json};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";
/// How every JSON answer is typed, GraphQL responses and HTTP-level refusals alike.
pub(super) const JSON_UTF8: &str = "application/json; charset=utf-8";

/// The media type of the response, chosen from the request's `Accept`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    /// The type to answer with, or `None` if the client accepts neither
    /// (RFC 9110 §12.5.1): each type takes the quality of the most specific
    /// range that matches it, in any case; `q=0` refuses it. At equal
    /// quality, `application/graphql-response+json` when named, else
    /// `application/json` (`*/*`, as curl sends, and no `Accept` at all).
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(Self::Json);
        };
        let ranges: Vec<(&str, f32)> = accept.split(',').filter_map(media_range).collect();
        let (graphql, graphql_named) = quality(&ranges, GRAPHQL_RESPONSE_JSON);
        let (json, _) = quality(&ranges, JSON);
        if graphql > 0.0 && (graphql > json || (graphql == json && graphql_named)) {
            Some(Self::GraphqlResponseJson)
        } else if json > 0.0 {
            Some(Self::Json)
        } else {
            None
        }
    }

    fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => JSON_UTF8,
        })
    }
}

/// A media range of `Accept` with its quality (1 unless `q` says).
fn media_range(part: &str) -> Option<(&str, f32)> {
    let mut parameters = part.split(';');
    let range = parameters.next()?.trim();
    let quality = parameters
        .filter_map(|parameter| parameter.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
        .map_or(Some(1.0), |(_, q)| q.trim().parse::<f32>().ok())?;
    (!range.is_empty()).then_some((range, quality))
}

/// The quality `ranges` give `media` (that of the most specific range that
/// matches it; 0 if none does), and whether a range names it exactly.
fn quality(ranges: &[(&str, f32)], media: &str) -> (f32, bool) {
    let kind = media.split('/').next().unwrap_or_default();
    let best = ranges
        .iter()
        .filter_map(|&(range, q)| {
            let specificity = if range.eq_ignore_ascii_case(media) {
                2
            } else if range
                .split_once('/')
                .is_some_and(|(k, sub)| sub == "*" && k.eq_ignore_ascii_case(kind))
            {
                1
            } else if range == "*/*" {
                0
            } else {
                return None;
            };
            Some((specificity, q))
        })
        .max_by_key(|&(specificity, _)| specificity);
    best.map_or((0.0, false), |(specificity, q)| (q, specificity == 2))
}

fn not_acceptable() -> Response {
    problem(
        StatusCode::NOT_ACCEPTABLE,
        "NOT_ACCEPTABLE",
        "this endpoint answers with application/graphql-response+json or application/json",
    )
}

fn payload_too_large() -> Response {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        &format!("the request body must be at most {MAX_BODY_BYTES} bytes"),
    )
}

/// Whether the body is `application/json`, in UTF-8: JSON's one encoding
/// (RFC 8259 §8.1), so a `charset` may only say so.
fn is_json_body(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default();
    media.trim().eq_ignore_ascii_case(JSON)
        && parts.all(|parameter| match parameter.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// `POST /graphql` with a JSON body `{query, operationName?, variables?}`.
pub async fn post_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(media) = MediaType::negotiate(&headers) else {
        return not_acceptable();
    };
    if !is_json_body(&headers) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as Content-Type: application/json (UTF-8)",
        );
    }
    // A body is read as sent: a compressed one was taken for JSON, and
    // refused as unreadable, or read as plain when it was not compressed.
    if headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|encoding| !encoding.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        let mut response = problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body without Content-Encoding: it is read as sent",
        );
        // The codings it would take (RFC 9110 §15.5.16): none but identity.
        response.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        return response;
    }
    // A body announced too large is refused before any of it is read (and
    // before `100 Continue` asks for it): the connection was held until the
    // request timed out, waiting for bytes that were never to be read.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .and_then(|length| length.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return payload_too_large();
    }
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return payload_too_large(),
    };
    let json: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(json) => json,
        Err(error) => {
            // serde_json says where, and what: a syntax error, or nesting
            // deeper than 128 levels ("recursion limit exceeded").
            return problem(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not JSON that can be read: {error}"),
            );
        }
    };
    // A key given twice was read as its last: a proxy or log reading the
    // first would see another query than the one run.
    if json.is_object()
        && let Err(error) = serde_json::from_slice::<BodyKeys>(&bytes)
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("the body cannot be read: {error}"),
        );
    }
    if json.is_array() {
        return problem(
            StatusCode::BAD_REQUEST,
            "BATCH_NOT_SUPPORTED",
            "batched requests are not supported; send one operation per request",
        );
    }
    let has_query = json.get("query").is_some_and(serde_json::Value::is_string);
    if !has_query && names_persisted_query(json.get("extensions")) {
        return persisted_query_not_supported();
    }
    match serde_json::from_value::<async_graphql::Request>(json) {
        Ok(request) if has_query => execute(&state, &headers, request, media).await,
        _ => problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the body must be an object with a string `query`, and optional `operationName` and `variables`",
        ),
    }
}

/// The keys of a request body, read to refuse one given twice (serde
/// refuses a struct's field given twice; the values are skipped).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct BodyKeys {
    query: Option<serde::de::IgnoredAny>,
    operation_name: Option<serde::de::IgnoredAny>,
    variables: Option<serde::de::IgnoredAny>,
    extensions: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    /// Read as a POST body's `extensions` is: a JSON object, which no
    /// extension of this server uses.
    extensions: Option<String>,
}

/// Whether the client asks for a page first (`Accept: text/html, …`), as a
/// browser following a link does.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| accept.split([',', ';']).next())
        .is_some_and(|first| first.trim().eq_ignore_ascii_case("text/html"))
}

/// `GET /graphql`: GraphiQL for browsers (a link's `query`, `variables` and
/// `operationName` open in it), or a query (never a mutation) in the URL.
pub async fn get_graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    if wants_html(&headers) {
        return graphiql(&state);
    }
    let Query(GetParams {
        query,
        operation_name,
        variables,
        extensions,
    }) = match params {
        Ok(params) => params,
        // A parameter given twice, or not UTF-8: a script sent it, and gets
        // an error it can read rather than the page.
        Err(rejection) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the query string cannot be read: {}", rejection.body_text()),
            );
        }
    };
    let Some(query) = query else {
        let extensions = extensions.and_then(|e| serde_json::from_str(&e).ok());
        if names_persisted_query(extensions.as_ref()) {
            return persisted_query_not_supported();
        }
        return problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "a GET needs a `query` parameter (browsers, asking for text/html, get GraphiQL)",
        );
    };
    let Some(media) = MediaType::negotiate(&headers) else {
        return not_acceptable();
    };
    if is_mutation(&query, operation_name.as_deref()) {
        let mut response = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = variables {
        match serde_json::from_str(&variables) {
            Ok(variables) => request = request.variables(variables),
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "variables must be a JSON object",
                );
            }
        }
    }
    let object = |text: &str| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).is_ok()
    };
    if extensions.is_some_and(|extensions| !object(&extensions)) {
        return problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "extensions must be a JSON object",
        );
    }
    execute(&state, &headers, request, media).await
}

/// Whether a request's `extensions` name a persisted query (Apollo's
/// automatic persisted queries: a hash sent in place of the document).
fn names_persisted_query(extensions: Option<&serde_json::Value>) -> bool {
    extensions.is_some_and(|e| e.get("persistedQuery").is_some())
}

/// The answer to a persisted query sent without its document: the code
/// Apollo's clients read to send the document from then on.
fn persisted_query_not_supported() -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "persisted queries are not supported; send the document in `query`",
    )
}

/// Whether the operation a GET would run is a mutation. Unparseable documents are
/// left to GraphQL execution, which reports them (and those nested too deep
/// for the parser to be given).
fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    if crate::graphql::nests_too_deep(query) {
        return false;
    }
    let Ok(document) = parse_query(query) else {
        return false;
    };
    document.operations.iter().any(|(name, op)| {
        op.node.ty == OperationType::Mutation
            && (operation_name.is_none() || name.map(|n| n.as_str()) == operation_name)
    })
}

fn graphiql(state: &AppState) -> Response {
    let authorization = state.demo_token.as_ref().map(|t| format!("Bearer {t}"));
    super::playground::page("/graphql", authorization.as_deref())
}

/// The `Authorization` header is there but is not one `Bearer <token>`.
struct MalformedAuthorization;

/// The token in the `Authorization` header, if any: its scheme `Bearer` in
/// any case (RFC 7235), sent once (two could name two partners, and a proxy
/// or log reading the other would disagree with the server). The token itself
/// is checked by the [`Guard`](crate::graphql::Guard), once the query has
/// been validated.
fn credentials(headers: &HeaderMap) -> Result<Option<Credentials>, MalformedAuthorization> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(MalformedAuthorization);
    }
    let (scheme, token) = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .ok_or(MalformedAuthorization)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("Bearer") || token.is_empty() {
        return Err(MalformedAuthorization);
    }
    Ok(Some(Credentials(token.to_owned())))
}

/// The `WWW-Authenticate` header of a 401 (RFC 6750 §3) whose `Authorization`
/// was malformed.
const MALFORMED_CHALLENGE: &str = r#"Bearer error="invalid_request""#;
/// The `WWW-Authenticate` header of a 401 whose token is not a live one.
const REFUSED_CHALLENGE: &str = r#"Bearer error="invalid_token""#;

/// The HTTP status of a GraphQL response. Requests refused before execution by
/// the guard get the status that says why; a document that could not run is a
/// 400 under `application/graphql-response+json` (and 200 under `application/json`).
fn status_of(response: &async_graphql::Response, media: MediaType) -> StatusCode {
    let not_executed = response.data == async_graphql::Value::Null && response.is_err();
    if !not_executed {
        return StatusCode::OK;
    }
    let request_error = response.errors.iter().find(|e| e.path.is_empty());
    let code = request_error
        .and_then(|e| e.extensions.as_ref())
        .and_then(|ext| ext.get("code"))
        .and_then(|code| match code {
            async_graphql::Value::String(code) => Some(code.as_str()),
            _ => None,
        });
    match code {
        Some("UNAUTHENTICATED") => StatusCode::UNAUTHORIZED,
        Some(codes::RATE_LIMITED) => StatusCode::TOO_MANY_REQUESTS,
        Some("DATABASE_UNAVAILABLE" | "SERVER_BUSY") => StatusCode::SERVICE_UNAVAILABLE,
        Some("INTERNAL_SERVER_ERROR") => StatusCode::INTERNAL_SERVER_ERROR,
        Some(_) if media == MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

fn retry_after(response: &async_graphql::Response) -> Option<HeaderValue> {
    response
        .errors
        .iter()
        .find_map(|e| match e.extensions.as_ref()?.get("retryAfterSeconds")? {
            async_graphql::Value::Number(n) => HeaderValue::from_str(&n.to_string()).ok(),
            _ => None,
        })
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    media: MediaType,
) -> Response {
    let credentials = match credentials(headers) {
        Ok(credentials) => credentials,
        Err(MalformedAuthorization) => {
            let mut response = problem(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "send the API token as one `Authorization: Bearer <token>` header",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(MALFORMED_CHALLENGE),
            );
            return response;
        }
    };
    if let Some(name) = &request.operation_name {
        tracing::Span::current().record("operation", name.as_str());
    }
    let response = state.api.execute(request, credentials).await;
    let status = status_of(&response, media);
    let retry_after = retry_after(&response);
    let body = match json::to_vec(&response) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "a response could not be written as JSON");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "internal server error",
            );
        }
    };
    let mut http = (status, body).into_response();
    http.headers_mut()
        .insert(header::CONTENT_TYPE, media.header_value());
    if let Some(seconds) = retry_after {
        http.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    if status == StatusCode::UNAUTHORIZED {
        http.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(REFUSED_CHALLENGE),
        );
    }
    http
}
