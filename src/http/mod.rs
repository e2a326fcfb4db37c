//! The HTTP surface: `/graphql` (POST, GET and GraphiQL), GraphiQL's files
//! under `/graphiql/`, `/health`, `/ready`.

mod arrival;
mod cors;
mod graphql;
mod playground;
mod problem;
mod server;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnFailure, TraceLayer},
};

use crate::{graphql::Api, store::Store};

pub use cors::CorsOrigin;
pub use problem::problem;
pub use server::{DEFAULT_HEADER_TIMEOUT, serve};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How long a request may take before it is answered with 503, by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub api: Api,
    pub store: Store,
    /// In demo mode, the token GraphiQL is prefilled with.
    pub demo_token: Option<Arc<str>>,
    pub draining: Draining,
}

/// Set once the server is stopping but still serving, for the shutdown
/// delay: readiness says so, and a load balancer stops sending requests
/// before the listener closes.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The routes, with the layers every route gets, and CORS for `cors_origins`.
pub fn router(state: AppState, request_timeout: Duration, cors_origins: &[CorsOrigin]) -> Router {
    let routes = Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route(
            &format!("{}/{{name}}", playground::ASSETS_PATH),
            get(playground::asset),
        )
        .route("/health", get(health))
        .route("/ready", get(ready))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    with_layers_and_cors(routes, request_timeout, cors_origins)
}

/// What a starting server answers while it waits for its database (and
/// then migrates it): alive, not ready, and every other request a 503
/// `DATABASE_UNAVAILABLE` with `Retry-After`, rather than a connection left
/// hanging in the listen queue until the database comes.
pub fn starting_router(request_timeout: Duration, cors_origins: &[CorsOrigin]) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route(
            "/ready",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "starting: opening the database",
                )
            }),
        )
        .fallback(|| async {
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
                "the server is starting: its database is not open yet; try again shortly",
            );
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(crate::error::UNAVAILABLE_RETRY_AFTER_SECS),
            );
            response
        });
    with_layers_and_cors(routes, request_timeout, cors_origins)
}

/// [`with_layers`], and CORS for `cors_origins` outermost, so that every
/// answer a page may read says so: a timeout's or a panic's too.
fn with_layers_and_cors(
    routes: Router,
    request_timeout: Duration,
    cors_origins: &[CorsOrigin],
) -> Router {
    let app = with_layers(routes, request_timeout);
    match cors::layer(cors_origins) {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// The layers every route gets: panics become 500s, slow requests 503s (408s
/// while their body has not all arrived), and each request has an id and a
/// tracing span.
pub fn with_layers(routes: Router, request_timeout: Duration) -> Router {
    routes
        .layer(CatchPanicLayer::custom(problem::panic_response))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                let (request, arrived) = arrival::watched(request);
                match tokio::time::timeout(request_timeout, next.run(request)).await {
                    Ok(response) => response,
                    Err(_) if !arrived.load(std::sync::atomic::Ordering::Relaxed) => {
                        arrival::timed_out(request_timeout)
                    }
                    Err(_) => {
                        tracing::warn!(code = "REQUEST_TIMEOUT", timeout = ?request_timeout, "request timed out");
                        problem(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "REQUEST_TIMEOUT",
                            &format!(
                                "the request took longer than {} s",
                                request_timeout.as_secs_f64()
                            ),
                        )
                    }
                }
            },
        ))
        .layer(
            // Failures are logged where they are known, with their code and
            // level (a busy server's 503 is a warning, not an error): the
            // layer's own line for each 5xx said it again, at error.
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .make_span_with(|request: &axum::http::Request<_>| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id,
                    partner = tracing::field::Empty,
                    operation = tracing::field::Empty,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Liveness: the process answers.
async fn health() -> &'static str {
    "ok"
}

/// How long readiness waits for the database: a probe's answer is due
/// sooner than a request's (a database that stopped answering held it for
/// the whole request timeout).
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness: the database answered a statement within [`READY_TIMEOUT`], or
/// answers a ping within it ([`Store::answers`]). Under load the statements
/// answer for it: a ping would wait behind the requests (and turned the
/// server unready, so that a load balancer took it out, just for being busy).
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if state.draining.is_on() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if state.store.answered_within(READY_TIMEOUT) || state.store.answers(READY_TIMEOUT).await {
        (StatusCode::OK, "ready")
    } else {
        tracing::warn!(timeout = ?READY_TIMEOUT, "database not ready: no answer in time");
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// Any other path: a 404 that says so, shaped like every other error.
pub(super) async fn not_found() -> axum::response::Response {
    problem(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such path; the API is at /graphql",
    )
}

/// A method a path does not take (its `Allow` header lists those it does).
async fn method_not_allowed() -> axum::response::Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this path does not take this method; see the Allow header",
    )
}
