//! The partners' rate-limit buckets on PostgreSQL (`rate_limit_bucket`; see
//! `crate::ratelimit` for what a bucket's `full_at` means).

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

use super::Store;
use crate::ratelimit::{Micros, RateLimit};

/// [`RateLimit::take`] in one statement, a partner's first request included
/// (its bucket starts full). No row comes back when the bucket holds too little.
const TAKE: &str = "INSERT INTO rate_limit_bucket AS b (partner_id, full_at) VALUES ($1, $2 + $3)
    ON CONFLICT (partner_id) DO UPDATE SET full_at = GREATEST(b.full_at, $2) + $3
    WHERE GREATEST(b.full_at, $2) + $3 - $2 <= $4
    RETURNING full_at";

const FULL_AT: &str = "SELECT full_at FROM rate_limit_bucket WHERE partner_id = $1";

impl Store {
    /// Takes `cost` points at `now` from the partner's bucket, atomically:
    /// `Ok` with the bucket's new `full_at`, or `Err` with its unchanged one.
    /// It runs on the connection the request reads through (a statement of
    /// its own, outside any transaction).
    pub async fn take_from_bucket(
        &self,
        partner_id: i64,
        now: Micros,
        limit: RateLimit,
        cost: u64,
    ) -> Result<Result<Micros, Micros>, DbErr> {
        // A new bucket is full, so it admits whatever fits in the capacity.
        if limit.take(now, now, cost).is_some() {
            let values: [Value; 4] = [
                partner_id.into(),
                now.into(),
                limit.refill_time(cost).into(),
                limit.full_refill_time().into(),
            ];
            let statement = Statement::from_sql_and_values(DatabaseBackend::Postgres, TAKE, values);
            if let Some(row) = self.read.query_one_raw(statement).await? {
                return Ok(Ok(row.try_get("", "full_at")?));
            }
        }
        let statement =
            Statement::from_sql_and_values(DatabaseBackend::Postgres, FULL_AT, [partner_id.into()]);
        let full_at = match self.read.query_one_raw(statement).await? {
            Some(row) => row.try_get("", "full_at")?,
            None => now,
        };
        Ok(Err(full_at))
    }
}
