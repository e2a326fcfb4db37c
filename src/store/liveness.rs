//! Whether PostgreSQL answers, asked on a connection of its own.
//!
//! The pool's connections cannot tell: when all are busy (requests, or
//! statements waiting for a lock), a ping waits behind them; and when the
//! database's `max_connections` is reached, a ping that needs a new one is
//! refused. Readiness said "unavailable" in both cases, and a load balancer
//! would have taken out a server whose database answers.

use std::{
    fmt,
    time::{Duration, Instant},
};

use sea_orm::sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use tokio::sync::Mutex;

/// How long an answer is reused: readiness probes and requests that waited in
/// vain, many a second under load, ask once.
const REUSED_FOR: Duration = Duration::from_secs(1);

pub(super) struct Liveness {
    options: PgConnectOptions,
    state: Mutex<State>,
}

struct State {
    /// Opened at start, and again after a ping failed.
    connection: Option<PgConnection>,
    /// The last answer, and when it was had.
    checked: Option<(Instant, bool)>,
}

impl fmt::Debug for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Liveness").finish_non_exhaustive()
    }
}

impl Liveness {
    /// A liveness check for the database at `options`, its connection opened
    /// now if it can be within `patience` (it is opened when next asked
    /// otherwise).
    pub(super) async fn open(options: PgConnectOptions, patience: Duration) -> Self {
        let connection = tokio::time::timeout(patience, PgConnection::connect_with(&options))
            .await
            .ok()
            .and_then(Result::ok);
        Self {
            options,
            state: Mutex::new(State {
                connection,
                checked: None,
            }),
        }
    }

    /// Whether the database answers a ping within `patience` (an answer of
    /// the last second is reused).
    pub(super) async fn answers(&self, patience: Duration) -> bool {
        tokio::time::timeout(patience, self.check())
            .await
            .unwrap_or(false)
    }

    async fn check(&self) -> bool {
        let mut state = self.state.lock().await;
        if let Some((at, answered)) = state.checked
            && at.elapsed() < REUSED_FOR
        {
            return answered;
        }
        // Should this check be given up mid-way, "no answer" is what it had.
        state.checked = Some((Instant::now(), false));
        // Taken out while in use: given up mid-ping, it is dropped, not kept
        // mid-protocol.
        let connection = match state.connection.take() {
            Some(connection) => Some(connection),
            None => PgConnection::connect_with(&self.options).await.ok(),
        };
        let answered = match connection {
            Some(mut connection) => {
                let answered = connection.ping().await.is_ok();
                if answered {
                    state.connection = Some(connection);
                }
                answered
            }
            None => false,
        };
        state.checked = Some((Instant::now(), answered));
        answered
    }
}
