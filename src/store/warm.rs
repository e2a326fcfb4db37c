//! The read pool's connections, kept warm between statements.
//!
//! sqlx tests a connection each time it goes back to its pool: a round trip
//! (on PostgreSQL a message to the backend and its answer, on SQLite a command
//! to the connection's thread and its reply) and a task spawned to wait for
//! it. A dashboard request paid that once on PostgreSQL and once per statement
//! on SQLite, more than the statements' own hand-offs on SQLite. The test is
//! there for connections left mid-statement by a dropped future; the reads
//! know when theirs finished, and give those back here instead, untested.
//! The last given back is the next taken, its caches (and its backend's)
//! still warm.
//!
//! A connection that sat here for a second or more is tested before it is
//! taken again ([`TESTED_AFTER_IDLE`]), and so is one taken from the pool,
//! which hands out its own idle connections untested. The pool's limits still
//! hold, as far as it can tell them: a connection idle here for the pool's
//! idle timeout goes back to it, as does one out of the pool for its maximum
//! lifetime; the pool tests what comes back, and closes what is past its
//! lifetime.

use std::{
    ops::{Deref, DerefMut},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{
    DbErr,
    sqlx::{self, Connection, Database, Pool, pool::PoolConnection},
};

use super::{failures, liveness::Liveness, reads::acquire_error};

/// How long a request that waited in vain for a connection waits for
/// [`Liveness`] to tell whether the database answers at all.
const LIVENESS_PATIENCE: Duration = Duration::from_millis(500);

/// A connection given back this long ago or more is tested before it is
/// taken again. Kept warm untested, a connection whose backend went away while
/// it sat (the database restarted in a quiet spell) failed a statement of the
/// next request; under load, none sits this long.
const TESTED_AFTER_IDLE: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct Warm<DB: Database> {
    pool: Pool<DB>,
    /// Connections given back, the last on top, with when they were.
    idle: Mutex<Vec<(Lease<DB>, Instant)>>,
    /// How many idle connections are kept out of the pool at most: what is
    /// kept here is checked out as far as the pool knows, and on PostgreSQL
    /// the pool's other users (writes) must still find connections there.
    keep: usize,
    /// The pool's idle timeout.
    idle_limit: Option<Duration>,
    /// How long a connection given back is taken again untested: the
    /// shorter of [`TESTED_AFTER_IDLE`] and the idle timeout.
    untested_for: Duration,
    /// The pool's maximum lifetime of a connection.
    lease_limit: Option<Duration>,
    /// When a statement on one of the pool's connections last ran to its end
    /// ([`Warm::note_answer`]), and when one last failed in transport or no
    /// connection could be had ([`Warm::note_loss`]). In milliseconds after
    /// `born`, plus one; 0 if never.
    answered: AtomicU64,
    lost: AtomicU64,
    born: Instant,
    /// Asked when no connection came in time and no statement answered
    /// meanwhile (PostgreSQL's: statements waiting for a lock answer nothing,
    /// and the database does).
    liveness: Option<Arc<Liveness>>,
    /// How many are waiting for a connection of the pool: while any is, a
    /// connection given back goes to the pool, which serves them in turn
    /// (kept here, the next request took it, and those waiting timed out).
    waiting: AtomicUsize,
}

/// A connection of the pool, out of it since `since`.
#[derive(Debug)]
pub(super) struct Lease<DB: Database> {
    connection: PoolConnection<DB>,
    since: Instant,
}

impl<DB: Database> Deref for Lease<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        &self.connection
    }
}

impl<DB: Database> DerefMut for Lease<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.connection
    }
}

impl<DB: Database> Lease<DB> {
    /// This lease, if its connection answers a ping; if not, it goes back to
    /// the pool, which closes it.
    async fn tested(mut self) -> Option<Self> {
        self.connection.ping().await.ok().map(|()| self)
    }
}

impl<DB: Database> Warm<DB> {
    pub(super) fn new(pool: Pool<DB>, keep: usize, liveness: Option<Arc<Liveness>>) -> Self {
        let idle_limit = pool.options().get_idle_timeout();
        let lease_limit = pool.options().get_max_lifetime();
        Self {
            pool,
            idle: Mutex::new(Vec::with_capacity(keep)),
            keep,
            idle_limit,
            untested_for: idle_limit.map_or(TESTED_AFTER_IDLE, |l| l.min(TESTED_AFTER_IDLE)),
            lease_limit,
            answered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            born: Instant::now(),
            liveness,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Notes that a statement on one of the pool's connections ran to its end
    /// (it succeeded or the database refused it): the database answered.
    pub(super) fn note_answer(&self) {
        self.answered
            .fetch_max(self.since_born(), Ordering::Relaxed);
    }

    /// Notes that a statement failed in transport, or that no connection
    /// could be had but for the pool being busy: the database may be gone.
    pub(super) fn note_loss(&self) {
        self.lost.fetch_max(self.since_born(), Ordering::Relaxed);
    }

    /// Whether the database answered within `window` ([`Warm::note_answer`]),
    /// with no loss since ([`Warm::note_loss`]).
    pub(super) fn answered_within(&self, window: Duration) -> bool {
        let answered = self.answered.load(Ordering::Relaxed);
        answered != 0
            && answered > self.lost.load(Ordering::Relaxed)
            && self.since_born().saturating_sub(answered) <= millis(window)
    }

    fn since_born(&self) -> u64 {
        millis(self.born.elapsed()) + 1
    }

    /// The connection given back last, or else one from the pool; tested
    /// first if it sat idle for [`TESTED_AFTER_IDLE`] (or the idle timeout).
    pub(super) async fn take(&self) -> Result<Lease<DB>, DbErr> {
        let last = self.idle().pop();
        match last {
            Some((lease, given_back)) if given_back.elapsed() < self.untested_for => Ok(lease),
            // Boxed: sqlx's acquiring future is 4 KB, which every statement's
            // future would hold (and move) otherwise; a warm connection is the
            // common case.
            last => Box::pin(self.take_tested_after(last)).await,
        }
    }

    /// A connection that answers a test: the last given back, or else one
    /// of the pool.
    pub(super) async fn take_tested(&self) -> Result<Lease<DB>, DbErr> {
        let last = self.idle().pop();
        Box::pin(self.take_tested_after(last)).await
    }

    /// `last` (with when it was given back) if it answers, or else a
    /// connection of the pool that does.
    async fn take_tested_after(
        &self,
        last: Option<(Lease<DB>, Instant)>,
    ) -> Result<Lease<DB>, DbErr> {
        if let Some((lease, given_back)) = last {
            let idle_for = given_back.elapsed();
            if self.idle_limit.is_none_or(|limit| idle_for < limit)
                && let Some(lease) = lease.tested().await
            {
                return Ok(lease);
            }
            // Those below it sat idle longer still: all go back to the pool,
            // which tests them.
            self.drain();
        }
        // The pool hands out its idle connections untested
        // (`test_before_acquire(false)`), and they may have sat there as
        // long: each is tested, and one the pool opens last is not.
        for _ in 0..self.pool.size() {
            if let Some(lease) = self.acquire().await?.tested().await {
                return Ok(lease);
            }
        }
        self.acquire().await
    }

    /// A connection of the pool. One that did not come in time is told
    /// apart by what the database did meanwhile: while it answered others'
    /// statements, or answers [`Liveness`], every connection was busy; if
    /// not, it cannot be reached.
    async fn acquire(&self) -> Result<Lease<DB>, DbErr> {
        let acquired = {
            let _waiting = Waiting::on(&self.waiting);
            self.pool.acquire().await
        };
        let connection = match acquired {
            Ok(connection) => connection,
            Err(sqlx::Error::PoolTimedOut) if self.busy().await => {
                return Err(acquire_error(sqlx::Error::PoolTimedOut));
            }
            Err(error) => {
                self.note_loss();
                return Err(match error {
                    sqlx::Error::PoolTimedOut => failures::unanswered(),
                    error => acquire_error(error),
                });
            }
        };
        Ok(Lease {
            connection,
            since: Instant::now(),
        })
    }

    /// Whether the database answered while a connection was waited for in
    /// vain: the pool's connections were all busy.
    pub(super) async fn busy(&self) -> bool {
        if self.answered_within(self.pool.options().get_acquire_timeout()) {
            return true;
        }
        match &self.liveness {
            Some(liveness) => liveness.answers(LIVENESS_PATIENCE).await,
            None => false,
        }
    }

    /// Keeps `lease`, whose last statement ran to its end (it succeeded or
    /// the database refused it), for the next [`Warm::take`]; beyond
    /// [`Warm::keep`], or out of the pool for the pool's maximum lifetime, it
    /// goes back to the pool.
    pub(super) fn give_back(&self, lease: Lease<DB>) {
        let now = Instant::now();
        if self
            .lease_limit
            .is_some_and(|limit| now.duration_since(lease.since) >= limit)
        {
            return;
        }
        if self.waiting.load(Ordering::Relaxed) > 0 {
            return;
        }
        let mut idle = self.idle();
        if idle.len() < self.keep {
            idle.push((lease, now));
        } else {
            drop(idle);
            drop(lease);
        }
    }

    /// Gives every kept connection back to the pool (which waits for all of
    /// them when it closes).
    pub(super) fn drain(&self) {
        let idle = std::mem::take(&mut *self.idle());
        drop(idle);
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<(Lease<DB>, Instant)>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<DB: Database> Drop for Warm<DB> {
    /// sqlx gives a dropped connection back to its pool from a task, which
    /// needs a Tokio runtime; without one (a store dropped outside its
    /// runtime), each connection kept is closed where it is instead. (sqlx
    /// would spawn even for those, to open new ones, if its pools kept a
    /// minimum of connections open; they keep none.)
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err() {
            let idle = self.idle.get_mut().unwrap_or_else(PoisonError::into_inner);
            for (lease, _) in idle.drain(..) {
                drop(lease.connection.leak());
            }
        }
    }
}

/// One more waiting for a connection, until dropped (also when the wait is
/// given up: a request cancelled, or timed out).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Whether a connection is ready for its next statement after `result`: a
/// statement that ran to its end, or that the database refused, leaves it
/// ready; one that failed in transport may have left it anywhere.
pub(super) fn ready_after<T>(result: &Result<T, sqlx::Error>) -> bool {
    matches!(result, Ok(_) | Err(sqlx::Error::Database(_)))
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::{Sqlite, sqlite::SqlitePoolOptions};

    use super::*;

    /// Long enough that no test stalls for it between two steps.
    const LIMIT: Duration = Duration::from_millis(500);

    async fn warm(options: SqlitePoolOptions) -> Warm<Sqlite> {
        let pool = options
            .max_connections(2)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        Warm::new(pool, 2, None)
    }

    /// A lease is told by when it left the pool.
    #[tokio::test]
    async fn connections_idle_for_the_pools_idle_timeout_go_back_to_it() {
        let warm = warm(SqlitePoolOptions::new().idle_timeout(LIMIT)).await;
        let (first, last) = (warm.take().await.unwrap(), warm.take().await.unwrap());
        let last_since = last.since;
        warm.give_back(first);
        warm.give_back(last);
        let again = warm.take().await.unwrap();
        assert_eq!(again.since, last_since, "not the last given back");
        warm.give_back(again);

        tokio::time::sleep(LIMIT).await;
        let taken = warm.take().await.unwrap();
        assert!(taken.since >= last_since + LIMIT, "an idle one was taken");
        assert!(warm.idle().is_empty(), "an idle one was kept");
    }

    /// A connection given back while another is waited for goes to the pool,
    /// which hands it to the one waiting (kept warm, it waited in vain); a
    /// wait given up counts no more, and connections are kept warm again.
    #[tokio::test]
    async fn connections_given_back_go_to_those_waiting_first() {
        let warm = warm(SqlitePoolOptions::new()).await;
        let (first, second) = (warm.take().await.unwrap(), warm.take().await.unwrap());
        let given_back = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            warm.give_back(second);
        };
        let patience = Duration::from_secs(2);
        let (waited, ()) = tokio::join!(tokio::time::timeout(patience, warm.take()), given_back);
        let taken = waited.expect("the waiting one got the connection").unwrap();
        assert!(warm.idle().is_empty());

        let given_up = tokio::time::timeout(Duration::from_millis(50), warm.take()).await;
        assert!(given_up.is_err(), "the pool has no third connection");
        assert_eq!(warm.waiting.load(Ordering::Relaxed), 0);
        warm.give_back(first);
        warm.give_back(taken);
        assert_eq!(warm.idle().len(), 2, "kept warm: nobody waits");
    }

    #[tokio::test]
    async fn a_connection_out_of_the_pool_for_its_lifetime_goes_back_to_it() {
        let warm = warm(SqlitePoolOptions::new().max_lifetime(LIMIT)).await;
        let lease = warm.take().await.unwrap();
        warm.give_back(lease);
        assert_eq!(warm.idle().len(), 1, "not kept within its lifetime");
        let lease = warm.take().await.unwrap();

        tokio::time::sleep(LIMIT).await;
        warm.give_back(lease);
        assert!(warm.idle().is_empty(), "kept beyond its lifetime");
    }
}
