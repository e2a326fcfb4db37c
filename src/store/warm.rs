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

use std::sync::{Mutex, PoisonError};

use sea_orm::{
    DbErr,
    sqlx::{self, Database, Pool, pool::PoolConnection},
};

use super::reads::acquire_error;

#[derive(Debug)]
pub(super) struct Warm<DB: Database> {
    pool: Pool<DB>,
    idle: Mutex<Vec<PoolConnection<DB>>>,
    /// How many idle connections are kept out of the pool at most: what is
    /// kept here is checked out as far as the pool knows, and on PostgreSQL
    /// the pool's other users (writes) must still find connections there.
    keep: usize,
}

impl<DB: Database> Warm<DB> {
    pub(super) fn new(pool: Pool<DB>, keep: usize) -> Self {
        Self {
            pool,
            idle: Mutex::new(Vec::with_capacity(keep)),
            keep,
        }
    }

    /// The connection given back last, or else one from the pool.
    pub(super) async fn take(&self) -> Result<PoolConnection<DB>, DbErr> {
        let last = self.idle().pop();
        match last {
            Some(connection) => Ok(connection),
            None => self.pool.acquire().await.map_err(acquire_error),
        }
    }

    /// Keeps `connection`, whose last statement ran to its end (it succeeded
    /// or the database refused it), for the next [`Warm::take`]; beyond
    /// [`Warm::keep`], it goes back to the pool.
    pub(super) fn give_back(&self, connection: PoolConnection<DB>) {
        let mut idle = self.idle();
        if idle.len() < self.keep {
            idle.push(connection);
        } else {
            drop(idle);
            drop(connection);
        }
    }

    /// Gives every kept connection back to the pool (which waits for all of
    /// them when it closes).
    pub(super) fn drain(&self) {
        let idle = std::mem::take(&mut *self.idle());
        drop(idle);
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PoolConnection<DB>>> {
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
            for connection in idle.drain(..) {
                drop(connection.leak());
            }
        }
    }
}

/// Whether a connection is ready for its next statement after `result`: a
/// statement that ran to its end, or that the database refused, leaves it
/// ready; one that failed in transport may have left it anywhere.
pub(super) fn ready_after<T>(result: &Result<T, sqlx::Error>) -> bool {
    matches!(result, Ok(_) | Err(sqlx::Error::Database(_)))
}
