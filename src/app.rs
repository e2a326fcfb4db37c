//! Builds the application from its configuration: used by `serve`, the tests
//! and the benchmark alike.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::{net::TcpListener, sync::oneshot};

use crate::{
    config::Today,
    graphql::{self, Guard},
    http::{self, AppState, Draining},
    ratelimit::{RateLimit, RateLimiter},
    seed,
    store::{Store, StoreOptions, passes_by_itself},
};

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub database_url: String,
    pub bind: SocketAddr,
    pub demo: bool,
    /// The PostgreSQL pool's size (see [`StoreOptions::pg_connections`]).
    pub pg_connections: u32,
    /// How long to wait at start for a database that cannot be reached yet.
    pub database_wait: Duration,
    pub settings: Settings,
}

/// How the application behaves, whatever the database.
#[derive(Clone, Debug)]
pub struct Settings {
    pub today: Today,
    /// The token GraphiQL is prefilled with (demo mode only).
    pub demo_token: Option<String>,
    pub rate_limit: RateLimit,
    pub request_timeout: Duration,
    /// How long a connection may take to send a request's headers, and stay
    /// idle between requests.
    pub header_timeout: Duration,
    /// Origins whose browser pages may call the API (none by default).
    pub cors_origins: Vec<http::CorsOrigin>,
    /// How long a stopping server goes on serving, `/ready` answering 503,
    /// before it closes its listener (none by default).
    pub shutdown_delay: Duration,
}

impl Settings {
    /// The defaults, with "today" as given.
    pub fn new(today: Today) -> Self {
        Self {
            today,
            demo_token: None,
            rate_limit: RateLimit::DEFAULT,
            request_timeout: http::DEFAULT_REQUEST_TIMEOUT,
            header_timeout: http::DEFAULT_HEADER_TIMEOUT,
            cors_origins: Vec::new(),
            shutdown_delay: Duration::ZERO,
        }
    }
}

/// Demo data: this many customers per partner.
pub const DEMO_CUSTOMERS: u32 = 60;
/// Demo data: this seed.
pub const DEMO_SEED: u64 = 42;
/// The partner whose token `--demo` creates.
pub const DEMO_PARTNER: &str = "northwind";
/// The name of the token `--demo` creates (its `actor` in histories).
pub const DEMO_TOKEN_NAME: &str = "demo";

/// A bound, ready-to-serve application.
pub struct App {
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown_delay: Duration,
    draining: Draining,
    pub store: Store,
    /// The token created by `--demo`.
    pub demo_token: Option<String>,
    /// Whether GraphiQL's page carries the demo token: only on a loopback
    /// address.
    pub graphiql_prefilled: bool,
}

/// The application's router over a store.
pub fn router(store: Store, settings: Settings) -> Router {
    router_draining(store, settings, Draining::default())
}

/// [`router`], its readiness turned off by `draining`.
fn router_draining(store: Store, settings: Settings, draining: Draining) -> Router {
    let guard = Guard::new(
        store.clone(),
        RateLimiter::new(settings.rate_limit, &store),
        settings.today,
    );
    let state = AppState {
        api: graphql::Api::new(guard),
        store,
        demo_token: settings.demo_token.map(Arc::from),
        draining,
    };
    http::router(state, settings.request_timeout, &settings.cors_origins)
}

impl App {
    /// Binds the address, then connects and migrates the database, and seeds
    /// it in demo mode. An address in use is found before the database is
    /// touched (in demo mode, a token nobody would see was made first).
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        // A second handle on the socket, to answer on while waiting.
        let std_listener = listener.into_std()?;
        let waiting_listener = std_listener.try_clone()?;
        let listener = TcpListener::from_std(std_listener)?;
        let mut starting = None;
        let options = StoreOptions {
            statement_timeout: Some(config.settings.request_timeout),
            pg_connections: Some(config.pg_connections),
            ..StoreOptions::default()
        };
        let store = open_store(&config.database_url, options, config.database_wait, || {
            starting = serve_while_waiting(waiting_listener, &config.settings);
        })
        .await?;
        let mut settings = config.settings;
        let demo_token = match config.demo {
            true => Some(prepare_demo(&store, settings.today).await?),
            false => None,
        };
        // GraphiQL's page is served to whoever asks: it carries the token
        // only where nobody but this machine can ask.
        let graphiql_prefilled = demo_token.is_some() && config.bind.ip().is_loopback();
        if graphiql_prefilled {
            settings.demo_token = demo_token.clone();
        }
        drop(starting);
        let header_timeout = settings.header_timeout;
        let shutdown_delay = settings.shutdown_delay;
        let draining = Draining::default();
        let router = router_draining(store.clone(), settings, draining.clone());
        Ok(Self {
            listener,
            router,
            header_timeout,
            shutdown_delay,
            draining,
            store,
            demo_token,
            graphiql_prefilled,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves and the shutdown delay has passed
    /// (`/ready` answering 503 meanwhile), then lets in-flight requests finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let statistics = tokio::spawn(refresh_statistics_every(
            self.store.clone(),
            STATISTICS_INTERVAL,
        ));
        let (draining, delay) = (self.draining, self.shutdown_delay);
        let shutdown = async move {
            shutdown.await;
            if !delay.is_zero() {
                draining.start();
                tracing::info!(
                    ?delay,
                    "stopping: /ready answers 503, requests are served meanwhile"
                );
                tokio::time::sleep(delay).await;
            }
            tracing::info!("closing the listener: finishing in-flight requests");
        };
        http::serve(self.listener, self.router, self.header_timeout, shutdown).await;
        statistics.abort();
    }
}

/// Serves [`http::starting_router`] on `listener`, a second handle of the
/// application's socket, until the returned sender is dropped; the
/// application takes over the socket then (nothing queued on it is lost).
fn serve_while_waiting(
    listener: std::net::TcpListener,
    settings: &Settings,
) -> Option<oneshot::Sender<()>> {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot answer while waiting for the database");
            return None;
        }
    };
    let router = http::starting_router(settings.request_timeout, &settings.cors_origins);
    let (started, until_started) = oneshot::channel::<()>();
    let until_started = async move {
        // Resolves when the sender is sent to or dropped.
        let _ = until_started.await;
    };
    tokio::spawn(http::serve(
        listener,
        router,
        settings.header_timeout,
        until_started,
    ));
    Some(started)
}

/// Opens the store at `url`, trying again for up to `wait` while a PostgreSQL
/// database cannot be reached (not started yet, restarting, refusing
/// connections): a server started beside its database, or while it fails over,
/// comes up when the database does. Anything else fails at once: a wrong URL,
/// password or database name, a migration that fails, a SQLite file.
/// `on_waiting` is called once the first attempt has failed and another is due.
pub async fn open_store(
    url: &str,
    options: StoreOptions<'_>,
    wait: Duration,
    on_waiting: impl FnOnce(),
) -> anyhow::Result<Store> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(500);
    let mut on_waiting = Some(on_waiting);
    loop {
        let err = match Store::open(url, options).await {
            Ok(store) => return Ok(store),
            Err(err) => err,
        };
        let unreachable = passes_by_itself(&err);
        let waited = started.elapsed();
        if !unreachable || url.starts_with("sqlite:") || waited + pause > wait {
            return Err(err).with_context(|| {
                let waited = if unreachable && !wait.is_zero() {
                    format!(" (tried for {} s)", waited.as_secs())
                } else {
                    String::new()
                };
                format!("cannot open the database at {}{waited}", redact(url))
            });
        }
        tracing::warn!(
            error = %err,
            retry_in = ?pause,
            waited = ?waited,
            "the database cannot be reached yet; trying again"
        );
        if let Some(on_waiting) = on_waiting.take() {
            on_waiting();
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_DATABASE_WAIT_PAUSE);
    }
}

/// The longest pause between two attempts of [`open_store`].
const MAX_DATABASE_WAIT_PAUSE: Duration = Duration::from_secs(5);

/// How often a serving process lets SQLite refresh its planner statistics.
const STATISTICS_INTERVAL: Duration = Duration::from_secs(3600);

/// Refreshes the store's planner statistics every `interval`, starting one
/// interval from now (connecting refreshed them). A database that started
/// empty gets statistics as it grows; see [`Store::refresh_statistics`].
pub async fn refresh_statistics_every(store: Store, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(err) = store.refresh_statistics().await {
            tracing::warn!(error = %err, "could not refresh the planner's statistics");
        }
    }
}

/// Seeds an empty database and creates a token for the demo partner,
/// revoking those of earlier starts: they were shown once, on a terminal
/// since closed, and would otherwise pile up alive, all named alike.
async fn prepare_demo(store: &Store, today: Today) -> anyhow::Result<String> {
    // Seeds a database without partners only.
    let data = seed::generate(DEMO_CUSTOMERS, DEMO_SEED, today.get());
    store
        .insert_dataset(&data)
        .await
        .context("cannot seed the demo data")?;
    let token = store
        .create_token(DEMO_PARTNER, DEMO_TOKEN_NAME)
        .await?
        .with_context(|| {
            format!("the database has no partner `{DEMO_PARTNER}` for the demo token")
        })?;
    let revoked = store
        .revoke_tokens_named_before(DEMO_PARTNER, DEMO_TOKEN_NAME, token.id)
        .await?;
    if revoked > 0 {
        tracing::info!(revoked, "revoked the demo tokens of earlier starts");
    }
    Ok(token.secret)
}

/// The URL without its password, for messages: the one of its user
/// (`user:***@`), and a `password` parameter (`password=***`).
pub fn redact(url: &str) -> String {
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (url, None),
    };
    let mut redacted = match (address.find("://"), address.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &address[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:***{}", &address[..scheme + 3], &address[at..])
                }
                None => address.to_owned(),
            }
        }
        _ => address.to_owned(),
    };
    if let Some(query) = query {
        let parameters: Vec<&str> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => "password=***",
                _ => parameter,
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&parameters.join("&"));
    }
    redacted
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/renewals"),
            "postgres://app:***@db:5432/renewals"
        );
        assert_eq!(
            super::redact("sqlite://renewals.db?mode=rwc"),
            "sqlite://renewals.db?mode=rwc"
        );
        assert_eq!(
            super::redact("postgres://app@db/renewals?sslmode=disable&password=s3cret&x=1"),
            "postgres://app@db/renewals?sslmode=disable&password=***&x=1"
        );
        assert_eq!(
            super::redact("postgres://app:s3cret@db/r?password=again"),
            "postgres://app:***@db/r?password=***"
        );
    }
}
