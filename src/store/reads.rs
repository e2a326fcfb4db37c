//! The connection a store reads through: on SQLite the read pool, on
//! PostgreSQL one pooled connection held for a whole request (or the pool,
//! outside requests).
//!
//! Taken from the pool statement by statement, a request's statements went
//! each to a different PostgreSQL backend, since the pool hands out its idle
//! connections in turn: a dashboard request woke six backend processes, each
//! with cold caches. Held for the request, they all run on one.

use std::sync::{
    Arc, Mutex as SyncMutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, ExecResult,
    QueryResult, RuntimeErr, Statement, Values,
    sqlx::{self, PgPool, Postgres, Sqlite, SqlitePool, pool::PoolConnection},
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

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

/// Where a store's reads go.
#[derive(Clone, Debug)]
pub(super) enum Reads {
    /// Each statement takes a connection from the pool.
    Pool(DatabaseConnection),
    /// Each statement takes a connection from SQLite's read pool.
    Sqlite(SqliteReads),
    /// Every statement runs on one PostgreSQL connection (a request's).
    Held(Arc<Held>),
}

/// One pooled PostgreSQL connection, taken at the first statement and kept
/// until [`Held::release`], or until the last clone of the store is dropped.
/// Statements of the request that overlap wait for each other.
#[derive(Debug)]
pub(super) struct Held {
    pool: PgPool,
    connection: Mutex<Option<PoolConnection<Postgres>>>,
    meter: Meter,
}

impl Held {
    pub(super) fn new(pool: &DatabaseConnection, meter: Meter) -> Self {
        Self {
            pool: pool.get_postgres_connection_pool().clone(),
            connection: Mutex::default(),
            meter,
        }
    }

    /// Gives the connection back to the pool (the next statement takes one again).
    pub(super) async fn release(&self) {
        self.connection.lock().await.take();
    }

    /// The held connection, taken from the pool first if none is held, for
    /// `statement` (which is counted).
    async fn connection(
        &self,
        statement: &Statement,
    ) -> Result<MappedMutexGuard<'_, sqlx::PgConnection>, DbErr> {
        let mut held = self.connection.lock().await;
        if held.is_none() {
            *held = Some(self.pool.acquire().await.map_err(acquire_error)?);
        }
        self.meter.record(statement);
        MutexGuard::try_map(held, |held| held.as_deref_mut())
            .map_err(|_| DbErr::Custom("the request's connection is gone".to_owned()))
    }
}

/// SQLite's read pool, whose statements sqlx runs directly, as the held
/// connection's. Through SeaORM's connection, each statement's future was
/// boxed twice and copied whole (15 KB, twice): a dashboard request at 100k
/// renewals ran 6.29 M instructions that way, 6.13 M this way (callgrind).
#[derive(Clone, Debug)]
pub(super) struct SqliteReads {
    pool: SqlitePool,
    meter: Meter,
}

impl SqliteReads {
    pub(super) fn new(pool: &DatabaseConnection, meter: Meter) -> Self {
        Self {
            pool: pool.get_sqlite_connection_pool().clone(),
            meter,
        }
    }

    /// A connection of the pool, for `statement` (which is counted).
    async fn connection(&self, statement: &Statement) -> Result<PoolConnection<Sqlite>, DbErr> {
        let connection = self.pool.acquire().await.map_err(acquire_error)?;
        self.meter.record(statement);
        Ok(connection)
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        execute::<Sqlite>(&mut *self.connection(&statement).await?, statement).await
    }

    async fn fetch_optional(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        fetch_optional::<Sqlite>(&mut *self.connection(&statement).await?, statement).await
    }

    async fn fetch_all(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        fetch_all::<Sqlite>(&mut *self.connection(&statement).await?, statement).await
    }
}

async fn execute<DB>(
    connection: &mut DB::Connection,
    statement: Statement,
) -> Result<ExecResult, DbErr>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    ExecResult: From<DB::QueryResult>,
{
    let done = query(statement).execute(connection).await;
    Ok(done.map_err(query_error)?.into())
}

async fn fetch_optional<DB>(
    connection: &mut DB::Connection,
    statement: Statement,
) -> Result<Option<QueryResult>, DbErr>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    QueryResult: From<DB::Row>,
{
    let row = query(statement).fetch_optional(connection).await;
    Ok(row.map_err(query_error)?.map(Into::into))
}

async fn fetch_all<DB>(
    connection: &mut DB::Connection,
    statement: Statement,
) -> Result<Vec<QueryResult>, DbErr>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    QueryResult: From<DB::Row>,
{
    let rows = query(statement).fetch_all(connection).await;
    Ok(rows
        .map_err(query_error)?
        .into_iter()
        .map(Into::into)
        .collect())
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
fn acquire_error(error: sqlx::Error) -> DbErr {
    match error {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
}

impl Held {
    async fn execute(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        execute::<Postgres>(&mut *self.connection(&statement).await?, statement).await
    }

    async fn fetch_optional(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        fetch_optional::<Postgres>(&mut *self.connection(&statement).await?, statement).await
    }

    async fn fetch_all(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        fetch_all::<Postgres>(&mut *self.connection(&statement).await?, statement).await
    }
}

/// The held connection's futures are boxed apart: `async_trait` moves each
/// method's future into a box whole, and sqlx's large futures inside it cost
/// SQLite's pool statements 1 % more instructions per dashboard request.
#[async_graphql::async_trait::async_trait]
impl ConnectionTrait for Reads {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self {
            Self::Pool(pool) => pool.get_database_backend(),
            Self::Sqlite(_) => DatabaseBackend::Sqlite,
            Self::Held(_) => DatabaseBackend::Postgres,
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(pool) => pool.execute_raw(statement).await,
            Self::Sqlite(sqlite) => Box::pin(sqlite.execute(statement)).await,
            Self::Held(held) => Box::pin(held.execute(statement)).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(pool) => pool.execute_unprepared(sql).await,
            Self::Sqlite(sqlite) => {
                let statement = Statement::from_string(DatabaseBackend::Sqlite, sql);
                Box::pin(sqlite.execute(statement)).await
            }
            // Nothing reads through this; a statement without values runs
            // prepared all the same.
            Self::Held(held) => {
                let statement = Statement::from_string(DatabaseBackend::Postgres, sql);
                Box::pin(held.execute(statement)).await
            }
        }
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pool(pool) => pool.query_one_raw(statement).await,
            Self::Sqlite(sqlite) => Box::pin(sqlite.fetch_optional(statement)).await,
            Self::Held(held) => Box::pin(held.fetch_optional(statement)).await,
        }
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pool(pool) => pool.query_all_raw(statement).await,
            Self::Sqlite(sqlite) => Box::pin(sqlite.fetch_all(statement)).await,
            Self::Held(held) => Box::pin(held.fetch_all(statement)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

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

    /// Statements taken from the pool one by one go to its idle connections
    /// in turn; held, they all run on one, until it is given back.
    #[tokio::test]
    async fn held_statements_run_on_one_postgres_backend() {
        let Some(url) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return;
        };
        let mut options = ConnectOptions::new(url);
        options.max_connections(3).sqlx_logging(false);
        let pool = Database::connect(options).await.unwrap();
        // Three connections open and idle.
        let sleep = || {
            let statement =
                Statement::from_string(DatabaseBackend::Postgres, "SELECT pg_sleep(0.05)");
            pool.execute_raw(statement)
        };
        let (a, b, c) = tokio::join!(sleep(), sleep(), sleep());
        for slept in [a, b, c] {
            slept.unwrap();
        }

        assert_eq!(backends(&Reads::Pool(pool.clone())).await.len(), 3);

        let held = Arc::new(Held::new(&pool, Meter::default()));
        let reads = Reads::Held(Arc::clone(&held));
        let first = backends(&reads).await;
        assert_eq!(first.len(), 1);
        assert_eq!(held.meter.count(), 6);
        held.release().await;
        assert!(held.connection.lock().await.is_none());
        // The next statement takes a connection again.
        assert_eq!(backends(&reads).await.len(), 1);
        assert!(held.connection.lock().await.is_some());
    }
}
