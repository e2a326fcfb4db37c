//! All database access: queries and writes over SeaORM, always scoped by partner.

mod buckets;
mod customer_search;
mod customer_walk;
mod customers;
mod events;
mod failures;
mod liveness;
mod partners;
mod reads;
mod renewal_list;
mod renewals;
mod rows;
pub mod seed;
mod setup;
mod tallies;
mod tokens;
mod warm;

use std::{sync::Arc, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnAcquireErr, ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

pub use customers::{EndServicesError, SetOwnerError, customer_owner, owner_override};
pub use events::{EventKind, HistoryPage};
pub use failures::{Failure, classify, passes_by_itself};
pub use partners::default_owner;
pub use renewal_list::{
    Direction, PageRequest, Position, RenewalFilter, RenewalList, RenewalPage, SortField, SortValue,
};
pub use tokens::{NewToken, TokenInfo};

use liveness::Liveness;
use reads::{Meter, Pooled, Reads};
use setup::SetupLock;

/// How long a request waits for a pooled connection before failing: a database
/// that cannot be reached makes requests fail fast instead of hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a write waits for SQLite's single writer connection. Writers queue
/// there by design, so under a burst of writes this wait is not an outage.
const SQLITE_WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long SQLite waits for a lock held by another process.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database, with a read pool and a write pool.
///
/// On SQLite the write pool has a single connection, so writers queue in the
/// process instead of fighting over the file lock, and readers (WAL mode)
/// never wait for writers. On PostgreSQL both are the same pool, and a
/// request's store ([`Store::for_request`]) reads through one connection.
#[derive(Clone, Debug)]
pub struct Store {
    pool: DatabaseConnection,
    read: Reads,
    write: DatabaseConnection,
    meter: Meter,
    /// PostgreSQL's, whether the database answers ([`Store::answers`]).
    liveness: Option<Arc<Liveness>>,
}

/// How a [`Store`] connects, beyond its URL.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOptions<'a> {
    /// The PostgreSQL schema to use (tests isolate by schema).
    pub pg_schema: Option<&'a str>,
    /// PostgreSQL cancels a statement that runs longer (`statement_timeout`;
    /// migrations are not bound by it). A request that times out stops waiting
    /// for its statements, but without this the database runs them to the end.
    pub statement_timeout: Option<Duration>,
    /// How many connections the PostgreSQL pool opens at most
    /// ([`PG_CONNECTIONS`] when unset). A request holds one while it runs
    /// (see [`Store::for_request`]), so this many requests use the database
    /// at once; the others wait for a connection, up to 3 s.
    pub pg_connections: Option<u32>,
}

/// The PostgreSQL pool's size unless [`StoreOptions::pg_connections`] says.
pub const PG_CONNECTIONS: u32 = 16;

impl Store {
    /// Connects to `url` (SQLite or PostgreSQL) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, DbErr> {
        Self::open(url, StoreOptions::default()).await
    }

    /// Like [`Store::connect`], with the PostgreSQL schema to use (tests isolate by schema).
    pub async fn connect_with(url: &str, pg_schema: Option<&str>) -> Result<Self, DbErr> {
        let options = StoreOptions {
            pg_schema,
            ..StoreOptions::default()
        };
        Self::open(url, options).await
    }

    /// Connects to `url` as `options` say and brings the schema up to date.
    pub async fn open(url: &str, options: StoreOptions<'_>) -> Result<Self, DbErr> {
        let StoreOptions {
            pg_schema,
            statement_timeout,
            pg_connections,
        } = options;
        // Migrations may take longer than a request (an index on a big
        // table): PostgreSQL's run on a session without the statement timeout.
        let session = connect_pool(url, 1, ACQUIRE_TIMEOUT, pg_schema, None, None);
        let setup = SetupLock::take(url, session).await?;
        let (read, write) = if url.starts_with("sqlite:") {
            let readers = sqlite_read_connections();
            let cache = Some(SQLITE_READER_CACHE_KIB);
            let read = connect_pool(url, readers, ACQUIRE_TIMEOUT, pg_schema, cache, None).await?;
            let write =
                connect_pool(url, 1, SQLITE_WRITE_QUEUE_TIMEOUT, pg_schema, None, None).await?;
            (read, write)
        } else {
            let size = pg_connections.unwrap_or(PG_CONNECTIONS);
            let pool = connect_pool(
                url,
                size,
                ACQUIRE_TIMEOUT,
                pg_schema,
                None,
                statement_timeout,
            )
            .await?;
            (pool.clone(), pool)
        };
        let liveness = match read.get_database_backend() {
            DatabaseBackend::Postgres => {
                let options = url
                    .parse()
                    .map_err(|error| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(error))))?;
                Some(Arc::new(Liveness::open(options, ACQUIRE_TIMEOUT).await))
            }
            _ => None,
        };
        let meter = Meter::default();
        let (pool, write) = (meter.counting(read), meter.counting(write));
        let read = match pool.get_database_backend() {
            // One of SQLite's readers stays in the pool for its other users
            // ([`Store::reader`], [`Store::ping`]).
            DatabaseBackend::Sqlite => {
                let pool = pool.get_sqlite_connection_pool().clone();
                let keep = pool.options().get_max_connections() as usize - 1;
                Reads::Sqlite(Pooled::new(pool, keep, meter.clone(), None))
            }
            // Writes share PostgreSQL's pool: half of it stays there for them.
            _ => {
                let pool = pool.get_postgres_connection_pool().clone();
                let keep = pool.options().get_max_connections() as usize / 2;
                Reads::Postgres(Pooled::new(pool, keep, meter.clone(), liveness.clone()))
            }
        };
        let store = Self {
            read,
            pool,
            write,
            meter,
            liveness,
        };
        match &setup {
            SetupLock::Postgres(session) => Migrator::up(session, None).await?,
            SetupLock::Sqlite(_) => Migrator::up(&store.write, None).await?,
        }
        setup.release().await?;
        store.refresh_statistics().await?;
        Ok(store)
    }

    /// Lets SQLite refresh its planner statistics where they are missing or
    /// stale (`PRAGMA optimize`, which SQLite recommends on open and from time
    /// to time; it analyses only the tables that need it, approximately).
    /// Without statistics, `orderBy: MRR_CHANGE` pages sorted every matching
    /// renewal: 12x slower at 100k renewals. PostgreSQL's autovacuum keeps its
    /// own statistics.
    pub async fn refresh_statistics(&self) -> Result<(), DbErr> {
        if self.backend() == DatabaseBackend::Sqlite {
            self.write
                .execute_unprepared("PRAGMA optimize = 0x10002")
                .await?;
        }
        Ok(())
    }

    /// This store for one request. On PostgreSQL, the request's reads (and its
    /// rate-limit charge) run on one pooled connection, taken at the first
    /// statement and given back by [`Store::release`], by [`Store::begin_write`],
    /// or when the last clone is dropped. On SQLite, the same store.
    pub fn for_request(&self) -> Self {
        let mut store = self.clone();
        if let Reads::Postgres(reads) = &self.read {
            store.read = Reads::Held(Arc::new(reads.hold()));
        }
        store
    }

    /// Gives back the connection this request's store holds, if any.
    pub async fn release(&self) {
        if let Reads::Held(held) = &self.read {
            held.release().await;
        }
    }

    /// How many SQL statements this store has executed (transaction control excluded).
    pub fn statement_count(&self) -> u64 {
        self.meter.count()
    }

    /// Starts recording the text (values inlined) of every statement executed.
    pub fn start_capture(&self) {
        self.meter.start_capture();
    }

    /// Stops recording and returns the statements recorded since [`Store::start_capture`].
    pub fn stop_capture(&self) -> Vec<String> {
        self.meter.stop_capture()
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.pool.get_database_backend()
    }

    /// [`opaque`] for this store's database.
    pub fn opaque(&self, value: impl Into<sea_orm::Value>) -> sea_orm::sea_query::Expr {
        opaque(self.backend(), value)
    }

    /// Runs `sql` as this store's reads run (on PostgreSQL, a request's store
    /// runs them on its connection) and returns how many rows it returned.
    /// For the benchmark's transport floor, which runs captured statements.
    pub async fn read_raw(&self, sql: &str) -> Result<usize, DbErr> {
        let statement = Statement::from_string(self.backend(), sql);
        Ok(self.read.query_all_raw(statement).await?.len())
    }

    /// The read pool.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite, so that a
    /// read-then-write never fails half-way on a lock upgrade). A request's
    /// store first gives back the connection it reads through: a request
    /// never waits for a second connection while it holds one, so requests
    /// cannot starve each other of the pool.
    ///
    /// The pool hands out its idle connections untested
    /// (`test_before_acquire(false)`): after the database restarted, a
    /// connection's `BEGIN` may find it gone, having run nothing, and sqlx
    /// closes it as it goes back. The write is then begun on the next one,
    /// at most once for each connection the pool holds.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.release().await;
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let mut tries_left = self.write_connections();
        loop {
            match self.write.begin_with_options(options).await {
                Err(error) if tries_left > 0 && failures::gone(&error) => tries_left -= 1,
                Ok(begun) => {
                    self.read.note_answer();
                    return Ok(begun);
                }
                Err(error) => return Err(self.write_failure(error).await),
            }
        }
    }

    /// A write's failure to begin. On PostgreSQL, writes share the reads'
    /// pool: a timeout there is told apart as the reads' are
    /// ([`Reads::busy`]), SeaORM's timeout reading [`Failure::Busy`]. SQLite's
    /// writes queue for their one connection: a timeout there is always busy.
    async fn write_failure(&self, error: DbErr) -> DbErr {
        match error {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)
                if self.backend() == DatabaseBackend::Postgres && !self.read.busy().await =>
            {
                failures::unanswered()
            }
            error => error,
        }
    }

    /// Whether the database answered a statement within `window` (a read's,
    /// or a write's `BEGIN`).
    pub fn answered_within(&self, window: Duration) -> bool {
        self.read.answered_within(window)
    }

    /// How many connections the write pool holds at most.
    fn write_connections(&self) -> u32 {
        match self.backend() {
            DatabaseBackend::Postgres => {
                let pool = self.write.get_postgres_connection_pool();
                pool.options().get_max_connections()
            }
            _ => {
                let pool = self.write.get_sqlite_connection_pool();
                pool.options().get_max_connections()
            }
        }
    }

    /// Whether the database answers a ping within `patience`. PostgreSQL is
    /// asked on a connection of its own (`store::liveness`): the pool's may all be
    /// busy, or waiting for a lock, and a new one may be refused
    /// (`max_connections`), while the database answers.
    pub async fn answers(&self, patience: Duration) -> bool {
        match &self.liveness {
            Some(liveness) => liveness.answers(patience).await,
            None => matches!(
                tokio::time::timeout(patience, self.pool.ping()).await,
                Ok(Ok(()))
            ),
        }
    }

    /// Gives the connections kept warm for reads back to the pool (which
    /// tests each, from a task of its own). For what must reach every
    /// connection of the pool (tests), and before it closes.
    pub fn return_warm_connections(&self) {
        self.read.drain();
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.return_warm_connections();
        self.pool.close().await?;
        self.write.close().await
    }
}

/// The page cache of each SQLite reader. SQLite's default, 2 MiB, is smaller
/// than what a dashboard request reads at 100k renewals: pages were read again
/// from the file on every request, and the dashboard took 2.2–2.6 ms of CPU
/// against 1.5 with 3–4 MiB (`renewals bench`). Peak RSS at 1M stays under 100 MB.
const SQLITE_READER_CACHE_KIB: u32 = 3 * 1024;

/// SQLite's read pool: two readers per core (at least four) kept warm for
/// requests, and one more for the pool's other users.
fn sqlite_read_connections() -> u32 {
    std::thread::available_parallelism().map_or(4, |n| (n.get() as u32 * 2).max(4)) + 1
}

async fn connect_pool(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
    pg_schema: Option<&str>,
    sqlite_cache_kib: Option<u32>,
    pg_statement_timeout: Option<Duration>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false)
        .test_before_acquire(false)
        .map_sqlx_sqlite_opts(move |opts| {
            let opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .row_buffer_size(1024);
            match sqlite_cache_kib {
                // A negative size is in KiB.
                Some(kib) => opts.pragma("cache_size", format!("-{kib}")),
                None => opts,
            }
        });
    if let Some(schema) = pg_schema {
        options.set_schema_search_path(schema);
    }
    options.map_sqlx_postgres_opts(move |opts| {
        // No parallel query: requests run side by side, and a search's
        // workers took the CPU of other requests. At 1M renewals a search for
        // `maple` cost 169 ms of CPU in backends and workers, 113 ms without
        // workers, and it even answered sooner (117 ms against 135).
        //
        // Generic plans only: a statement is planned once per connection, for
        // its parameters whatever their values. The values a plan depends on
        // are written into the text instead (`inline`, `search_pattern`). In
        // the default mode PostgreSQL planned a next page for its cursor on
        // every execution, its generic plan (the same plan) being estimated
        // dearer: the backends' CPU for a 3rd dashboard page fell by 8–20 %
        // (sequential requests at 100k and 1M; searches unchanged).
        // `tests/api/plans.rs` checks the generic plans for full scans.
        //
        // Random reads priced as the cache makes them, not as a spinning disk
        // would (PostgreSQL's default is 4, sequential reads costing 1): what a
        // request reads is in memory. At the default, a page of one user's
        // renewals at 100k read all the partner's customers and hashed them
        // (20 ms of its statement) rather than walk the window and look up
        // each renewal's customer (2–4 ms): 118 such pages a second against
        // 415, and 252 against 349 at 1M (`renewals bench`, 4 clients).
        let opts = opts.options([
            ("max_parallel_workers_per_gather", "0"),
            ("plan_cache_mode", "force_generic_plan"),
            ("random_page_cost", "1.1"),
        ]);
        match pg_statement_timeout {
            Some(timeout) => {
                opts.options([("statement_timeout", format!("{}ms", timeout.as_millis()))])
            }
            None => opts,
        }
    });
    Database::connect(options).await
}

/// A `value` the planner should see, written into the statement's text.
///
/// For the values a list's plan depends on: a partner, the days of its window,
/// a status (and the page size, which `renewal_page` writes as `LIMIT n`).
/// Written into the text, they are planned once per connection, and the
/// prepared statement stays in the connection's statement cache for as long as
/// the text recurs (a day, for a dashboard). Bound, they were planned on every
/// execution, by both databases:
/// - SQLite plans with the values of the parameters it compares to indexed
///   columns (STAT4), and so prepared the page query again each time they were
///   bound (7 % of a dashboard request's instructions);
/// - PostgreSQL found the page query's generic plan dearer than a plan for the
///   values, and so never settled on it (a fifth of its backends' CPU per
///   dashboard request at 100k renewals).
///
/// Only typed values: the query builder writes them as SQL literals, strings
/// escaped.
pub fn inline(value: impl Into<sea_orm::Value>) -> sea_orm::sea_query::Expr {
    sea_orm::sea_query::Expr::Constant(value.into())
}

/// A search pattern, written into the statement's text.
///
/// PostgreSQL plans a search for the words searched: a common word counts
/// best by scanning the partner's renewals, a rare one through the trigram
/// indexes. With the pattern bound, PostgreSQL settled on a generic plan after
/// five executions of the same statement, which suits rare words only: a
/// search for `e` at 1M renewals took 590 ms of backend CPU instead of 200
/// (for `maple`, 115 ms either way). Written as a dollar-quoted literal
/// ([`postgres_text_literal`]), the pattern is planned for what it is.
///
/// SQLite's plan does not depend on a pattern that starts with `%`, but its
/// `LIKE` analysis looks at a bound pattern all the same, and so it prepared
/// a search's page and count again on every run. Written as a string literal
/// ([`inline`]), a search repeated is prepared once per connection (the
/// dashboard's search at 10k renewals: 11.5 M instructions per request
/// instead of 12.2; at 100k the search itself dominates). Each needle is then
/// a statement of its own in the connection's cache, as on PostgreSQL.
pub fn search_pattern(backend: DatabaseBackend, pattern: String) -> sea_orm::sea_query::Expr {
    match backend {
        DatabaseBackend::Postgres => {
            sea_orm::sea_query::Expr::cust(postgres_text_literal(&pattern))
        }
        _ => inline(pattern),
    }
}

/// `text` as a PostgreSQL dollar-quoted string constant: `$s$text$s$`, with a
/// tag that does not occur in the text. Nothing inside is an escape, whatever
/// the server's settings (`standard_conforming_strings`). `text` holds no NUL
/// (searches are checked for it), which PostgreSQL's text cannot hold.
pub fn postgres_text_literal(text: &str) -> String {
    let mut tag = String::from("$s$");
    let mut n = 0u32;
    loop {
        let quoted = format!("{tag}{text}{tag}");
        // PostgreSQL ends the constant at the first occurrence of its tag.
        if quoted[tag.len()..].find(tag.as_str()) == Some(text.len()) {
            return quoted;
        }
        n += 1;
        tag = format!("$s{n}$");
    }
}

/// `column` is one of `ids`, all of them bound as one value: a JSON array read
/// by `json_each` on SQLite, an `int8[]` compared with `= ANY` on PostgreSQL.
/// The statement's text is the same whatever the number of ids, and a page's
/// ids are neither written out as parameters by the query builder nor bound
/// one by one (−1 % of a dashboard request's instructions on PostgreSQL; even
/// on SQLite, where `json_each` costs what the builder saves). SQLite's
/// planner does not look at the array (see [`opaque`]).
pub fn one_of(
    backend: DatabaseBackend,
    column: sea_orm::sea_query::Expr,
    ids: &[i64],
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, extension::postgres::PgFunc};
    match backend {
        DatabaseBackend::Postgres => column.eq(PgFunc::any(Expr::val(ids.to_vec()))),
        _ => {
            let mut json = String::with_capacity(2 + ids.len() * 8);
            json.push('[');
            let mut digits = itoa::Buffer::new();
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                json.push_str(digits.format(*id));
            }
            json.push(']');
            let ids = Query::select()
                .column(Alias::new("value"))
                .from_function(
                    Func::cust(Alias::new("json_each")).arg(json),
                    Alias::new("ids"),
                )
                .to_owned();
            column.in_subquery(ids)
        }
    }
}

/// A bound `value` that SQLite's planner does not look at.
///
/// With STAT4 statistics, SQLite plans with the values of the parameters it
/// compares to indexed columns, and so prepares the statement again each time
/// they are bound: on every execution (about a tenth of a dashboard request's
/// CPU). `+?` hides the value from the planner, and the index is still used.
/// It suits the lookups whose plan does not depend on the value (a partner, a
/// token, a keyset cursor); the values a plan does depend on are [`inline`]d.
/// PostgreSQL gets the plain parameter, and plans for it once per connection
/// (the server's sessions use generic plans only, see `connect_pool`).
pub fn opaque(
    backend: DatabaseBackend,
    value: impl Into<sea_orm::Value>,
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::Expr;
    match backend {
        DatabaseBackend::Sqlite => Expr::cust_with_values("+?", [value.into()]),
        _ => Expr::val(value),
    }
}
