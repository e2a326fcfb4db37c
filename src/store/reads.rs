//! The connections a store reads through: a connection of the read pool per
//! statement, or on PostgreSQL one held for a whole request. Either way, a
//! connection whose statements all ran to their end is kept warm for the
//! next ([`Warm`]).
//!
//! Taken from the pool statement by statement, a request's statements went
//! each to a different PostgreSQL backend, since the pool hands out its idle
//! connections in turn: a dashboard request woke six backend processes, each
//! with cold caches. Held for the request, they all run on one.

use std::{
    sync::{
        Arc, Mutex as SyncMutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, ExecResult,
    QueryResult, RuntimeErr, Statement, Values,
    sqlx::{self, PgConnection, Postgres, Sqlite},
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

use super::failures;
use super::liveness::Liveness;
use super::warm::{Lease, Warm, ready_after};

/// Counts the statements a store executes, and records their text while
/// capturing is on (tests and the benchmark `EXPLAIN` and replay them).
#[derive(Clone, Debug, Default)]
pub(super) struct Meter {
    statements: Arc<AtomicU64>,
    capture: Arc<Capture>,
}

#[derive(Debug, Default)]
struct Capture {
    on: AtomicBool,
    statements: SyncMutex<Vec<String>>,
}

impl Meter {
    /// Counts `statement` (its text, values inlined, if capturing).
    pub(super) fn record(&self, statement: &Statement) {
        self.statements.fetch_add(1, Ordering::Relaxed);
        if self.capture.on.load(Ordering::Relaxed)
            && let Ok(mut list) = self.capture.statements.lock()
        {
            list.push(statement.to_string());
        }
    }

    /// `pool`, its statements counted by this meter.
    pub(super) fn counting(&self, mut pool: DatabaseConnection) -> DatabaseConnection {
        let meter = self.clone();
        pool.set_metric_callback(move |info| meter.record(info.statement));
        pool
    }

    pub(super) fn count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub(super) fn start_capture(&self) {
        if let Ok(mut list) = self.capture.statements.lock() {
            list.clear();
        }
        self.capture.on.store(true, Ordering::Relaxed);
    }

    pub(super) fn stop_capture(&self) -> Vec<String> {
        self.capture.on.store(false, Ordering::Relaxed);
        self.capture
            .statements
            .lock()
            .map(|mut list| std::mem::take(&mut *list))
            .unwrap_or_default()
    }
}

/// Where a store's reads go: each statement on a connection taken from the
/// read pool and given back, or (a request's reads on PostgreSQL) all on one.
#[derive(Clone, Debug)]
pub(super) enum Reads {
    Sqlite(Pooled<Sqlite>),
    Postgres(Pooled<Postgres>),
    /// Every statement runs on one PostgreSQL connection (a request's).
    Held(Arc<Held>),
}

impl Reads {
    /// Notes that the database answered ([`Warm::note_answer`]).
    pub(super) fn note_answer(&self) {
        match self {
            Self::Sqlite(reads) => reads.warm.note_answer(),
            Self::Postgres(reads) => reads.warm.note_answer(),
            Self::Held(held) => held.warm.note_answer(),
        }
    }

    /// Whether a wait for a connection in vain was for busy ones ([`Warm::busy`]).
    pub(super) async fn busy(&self) -> bool {
        match self {
            Self::Sqlite(reads) => reads.warm.busy().await,
            Self::Postgres(reads) => reads.warm.busy().await,
            Self::Held(held) => held.warm.busy().await,
        }
    }

    /// Whether the database answered within `window` ([`Warm::answered_within`]).
    pub(super) fn answered_within(&self, window: Duration) -> bool {
        match self {
            Self::Sqlite(reads) => reads.warm.answered_within(window),
            Self::Postgres(reads) => reads.warm.answered_within(window),
            Self::Held(held) => held.warm.answered_within(window),
        }
    }

    /// Gives the read pool's warm connections back to it (before it closes).
    pub(super) fn drain(&self) {
        match self {
            Self::Sqlite(reads) => reads.warm.drain(),
            Self::Postgres(reads) => reads.warm.drain(),
            Self::Held(held) => held.warm.drain(),
        }
    }
}

/// Statements each on a connection of the read pool, taken for the
/// statement: sqlx runs them directly. Through SeaORM's connection, each
/// statement's future was boxed twice and copied whole (15 KB, twice): a
/// dashboard request at 100k renewals on SQLite ran 6.29 M instructions that
/// way, 6.13 M this way (callgrind).
#[derive(Debug)]
pub(super) struct Pooled<DB: sqlx::Database> {
    warm: Arc<Warm<DB>>,
    meter: Meter,
}

impl<DB: sqlx::Database> Clone for Pooled<DB> {
    fn clone(&self) -> Self {
        Self {
            warm: Arc::clone(&self.warm),
            meter: self.meter.clone(),
        }
    }
}

impl<DB: sqlx::Database> Pooled<DB> {
    /// Reads through `pool`, keeping up to `keep` of its connections warm.
    pub(super) fn new(
        pool: sqlx::Pool<DB>,
        keep: usize,
        meter: Meter,
        liveness: Option<Arc<Liveness>>,
    ) -> Self {
        Self {
            warm: Arc::new(Warm::new(pool, keep, liveness)),
            meter,
        }
    }

    /// Runs `op` with `statement` (which is counted) on a connection of the pool.
    async fn run<T>(
        &self,
        statement: Statement,
        op: impl AsyncFnOnce(&mut DB::Connection, Statement) -> Result<T, sqlx::Error>,
    ) -> Result<T, DbErr> {
        let mut connection = self.warm.take().await?;
        self.meter.record(&statement);
        let result = op(&mut *connection, statement).await;
        if ready_after(&result) {
            self.warm.note_answer();
            self.warm.give_back(connection);
        } else {
            self.warm.note_loss();
        }
        result.map_err(query_error)
    }
}

impl Pooled<Postgres> {
    /// Reads that all run on one connection of this pool, held until released.
    pub(super) fn hold(&self) -> Held {
        Held {
            warm: Arc::clone(&self.warm),
            connection: Mutex::default(),
            meter: self.meter.clone(),
        }
    }
}

/// One pooled PostgreSQL connection, taken at the first statement and kept
/// until [`Held::release`], or until the last clone of the store is dropped.
/// Statements of the request that overlap wait for each other.
#[derive(Debug)]
pub(super) struct Held {
    warm: Arc<Warm<Postgres>>,
    connection: Mutex<Option<Leased>>,
    meter: Meter,
}

#[derive(Debug)]
struct Leased {
    connection: Lease<Postgres>,
    /// False from a statement's start until it has run to its end: a future
    /// dropped in between (a cancelled sibling resolver, a timeout) leaves the
    /// connection wherever the protocol was.
    ready: bool,
}

impl Held {
    /// Gives the connection back (the next statement takes one again).
    pub(super) async fn release(&self) {
        let leased = self.connection.lock().await.take();
        if let Some(Leased {
            connection,
            ready: true,
        }) = leased
        {
            self.warm.give_back(connection);
        }
        // One left mid-statement goes back to the pool, which tests it.
    }

    /// Runs `op` with `statement` (which is counted) on the held connection,
    /// taking one first if none is held, or if the one held was left
    /// mid-statement.
    ///
    /// A connection taken for the statement may turn out gone: kept warm and
    /// taken again untested (`warm`), its backend ended meanwhile (the
    /// database restarted). The statement, which then never ran, runs again
    /// once, on a connection tested first. (Were the backend to end while
    /// the statement ran, a request's first statement, the only one a
    /// connection is taken for, would charge the rate limit twice.)
    async fn run<T>(
        &self,
        statement: Statement,
        op: impl AsyncFn(&mut PgConnection, Statement) -> Result<T, sqlx::Error>,
    ) -> Result<T, DbErr> {
        let mut held = self.connection.lock().await;
        let take_one = !held.as_ref().is_some_and(|leased| leased.ready);
        if take_one {
            // One left mid-statement goes back to the pool first.
            *held = None;
        }
        let again = take_one.then(|| statement.clone());
        let result = self.run_on(&mut held, statement, &op, Warm::take).await?;
        match again {
            Some(statement) if gone(&result) => {
                *held = None;
                self.run_on(&mut held, statement, &op, Warm::take_tested)
                    .await?
                    .map_err(query_error)
            }
            _ => result.map_err(query_error),
        }
    }

    /// [`Held::run`] on the connection in `held`, or on one `take` takes.
    async fn run_on<T>(
        &self,
        held: &mut Option<Leased>,
        statement: Statement,
        op: &impl AsyncFn(&mut PgConnection, Statement) -> Result<T, sqlx::Error>,
        take: impl AsyncFnOnce(&Warm<Postgres>) -> Result<Lease<Postgres>, DbErr>,
    ) -> Result<Result<T, sqlx::Error>, DbErr> {
        let leased = match held {
            Some(leased) => leased,
            slot => slot.insert(Leased {
                connection: take(&self.warm).await?,
                ready: true,
            }),
        };
        self.meter.record(&statement);
        leased.ready = false;
        let result = op(&mut *leased.connection, statement).await;
        leased.ready = ready_after(&result);
        if leased.ready {
            self.warm.note_answer();
        } else {
            self.warm.note_loss();
        }
        Ok(result)
    }
}

/// Whether `result` says the connection was gone before its statement ran
/// ([`failures::connection_gone`]).
fn gone<T>(result: &Result<T, sqlx::Error>) -> bool {
    result.as_ref().is_err_and(failures::connection_gone)
}

async fn execute<DB>(
    connection: &mut DB::Connection,
    statement: Statement,
) -> Result<ExecResult, sqlx::Error>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    ExecResult: From<DB::QueryResult>,
{
    Ok(query(statement).execute(connection).await?.into())
}

async fn fetch_optional<DB>(
    connection: &mut DB::Connection,
    statement: Statement,
) -> Result<Option<QueryResult>, sqlx::Error>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    QueryResult: From<DB::Row>,
{
    Ok(query(statement)
        .fetch_optional(connection)
        .await?
        .map(Into::into))
}

async fn fetch_all<DB>(
    connection: &mut DB::Connection,
    statement: Statement,
) -> Result<Vec<QueryResult>, sqlx::Error>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    QueryResult: From<DB::Row>,
{
    let rows = query(statement).fetch_all(connection).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// `statement` for sqlx, its text and values moved.
fn query<DB: sqlx::Database>(statement: Statement) -> sqlx::query::Query<'static, DB, SqlxValues>
where
    SqlxValues: sqlx::IntoArguments<DB>,
{
    let values = statement.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), SqlxValues(values))
}

/// As SeaORM reports a pool's failures, so that `store::classify` reads them alike.
pub(super) fn acquire_error(error: sqlx::Error) -> DbErr {
    match error {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
}

/// The statements' futures are boxed apart: `async_trait` moves each
/// method's future into a box whole, and sqlx's large futures inside it cost
/// SQLite's pool statements 1 % more instructions per dashboard request.
#[async_graphql::async_trait::async_trait]
impl ConnectionTrait for Reads {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self {
            Self::Sqlite(_) => DatabaseBackend::Sqlite,
            Self::Postgres(_) | Self::Held(_) => DatabaseBackend::Postgres,
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Sqlite(reads) => Box::pin(reads.run(statement, execute::<Sqlite>)).await,
            Self::Postgres(reads) => Box::pin(reads.run(statement, execute::<Postgres>)).await,
            Self::Held(held) => Box::pin(held.run(statement, execute::<Postgres>)).await,
        }
    }

    /// A statement without values runs prepared all the same.
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let statement = Statement::from_string(self.get_database_backend(), sql);
        self.execute_raw(statement).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Sqlite(reads) => Box::pin(reads.run(statement, fetch_optional::<Sqlite>)).await,
            Self::Postgres(reads) => {
                Box::pin(reads.run(statement, fetch_optional::<Postgres>)).await
            }
            Self::Held(held) => Box::pin(held.run(statement, fetch_optional::<Postgres>)).await,
        }
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Sqlite(reads) => Box::pin(reads.run(statement, fetch_all::<Sqlite>)).await,
            Self::Postgres(reads) => Box::pin(reads.run(statement, fetch_all::<Postgres>)).await,
            Self::Held(held) => Box::pin(held.run(statement, fetch_all::<Postgres>)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashSet, time::Duration};

    use sea_orm::{ConnectOptions, Database};

    use super::*;

    async fn backend_pid(reads: &Reads) -> i32 {
        let statement =
            Statement::from_string(DatabaseBackend::Postgres, "SELECT pg_backend_pid()");
        let row = reads.query_one_raw(statement).await.unwrap().unwrap();
        row.try_get_by_index(0).unwrap()
    }

    /// The backends that six statements in a row run on.
    async fn backends(reads: &Reads) -> HashSet<i32> {
        let mut pids = HashSet::new();
        for _ in 0..6 {
            pids.insert(backend_pid(reads).await);
        }
        pids
    }

    /// A statement that is still running after 50 ms, its future dropped then.
    async fn cancel_a_statement(reads: &Reads) {
        let statement = Statement::from_string(DatabaseBackend::Postgres, "SELECT pg_sleep(0.5)");
        let sleep = reads.execute_raw(statement);
        let cut = tokio::time::timeout(Duration::from_millis(50), sleep).await;
        assert!(cut.is_err(), "the statement ended before it was cancelled");
    }

    /// A pool of three PostgreSQL connections, all open and idle, and reads
    /// through it that keep all three warm; `None` without a test database.
    async fn three_connections() -> Option<(DatabaseConnection, Pooled<Postgres>)> {
        let url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let mut options = ConnectOptions::new(url);
        options.max_connections(3).sqlx_logging(false);
        let pool = Database::connect(options).await.unwrap();
        let sleep = || {
            let statement =
                Statement::from_string(DatabaseBackend::Postgres, "SELECT pg_sleep(0.05)");
            pool.execute_raw(statement)
        };
        let (a, b, c) = tokio::join!(sleep(), sleep(), sleep());
        for slept in [a, b, c] {
            slept.unwrap();
        }
        let reads = Pooled::new(
            pool.get_postgres_connection_pool().clone(),
            3,
            Meter::default(),
            None,
        );
        Some((pool, reads))
    }

    /// sqlx's pool hands out its idle connections in turn, so a request's
    /// statements taken from it one by one go to different backends. Held,
    /// they all run on one, until it is given back; given back warm, it is
    /// the next one taken, by statements and by the next request.
    #[tokio::test]
    async fn reads_run_on_the_warmest_postgres_backend() {
        let Some((pool, pooled)) = three_connections().await else {
            return;
        };
        let mut in_turn = HashSet::new();
        for _ in 0..6 {
            let statement =
                Statement::from_string(DatabaseBackend::Postgres, "SELECT pg_backend_pid()");
            let row = pool.query_one_raw(statement).await.unwrap().unwrap();
            in_turn.insert(row.try_get_by_index::<i32>(0).unwrap());
        }
        assert_eq!(in_turn.len(), 3);

        let statement_by_statement = backends(&Reads::Postgres(pooled.clone())).await;
        assert_eq!(statement_by_statement.len(), 1);

        let held = Arc::new(pooled.hold());
        let reads = Reads::Held(Arc::clone(&held));
        assert_eq!(backends(&reads).await, statement_by_statement);
        assert_eq!(held.meter.count(), 12);
        held.release().await;
        assert!(held.connection.lock().await.is_none());
        // The next statement takes a connection again: the same one.
        assert_eq!(backends(&reads).await, statement_by_statement);
        assert!(held.connection.lock().await.is_some());
    }

    /// A connection whose statement's future was dropped mid-statement is
    /// not kept warm: it goes back to sqlx's pool, which tests it.
    #[tokio::test]
    async fn a_connection_left_mid_statement_is_not_kept_warm() {
        let Some((_pool, pooled)) = three_connections().await else {
            return;
        };
        let reads = Reads::Postgres(pooled.clone());
        let warm = backend_pid(&reads).await;
        cancel_a_statement(&reads).await;
        assert_ne!(backend_pid(&reads).await, warm);

        let held = Arc::new(pooled.hold());
        let reads = Reads::Held(Arc::clone(&held));
        let first = backend_pid(&reads).await;
        cancel_a_statement(&reads).await;
        // The request's next statement takes another connection.
        let next = backend_pid(&reads).await;
        assert_ne!(next, first);
        held.release().await;
        assert_eq!(backend_pid(&Reads::Postgres(pooled)).await, next);
    }
}
