//! Per-partner rate limiting on query cost: a token bucket per partner.
//!
//! Each request costs its computed query complexity. A bucket holds at most
//! `capacity` points and refills at `restore_rate` points per second. It is
//! kept as one number, the instant at which it will be full again (the generic
//! cell rate algorithm): taking `cost` points moves that instant `cost /
//! restore_rate` seconds later, and is refused if it would then lie more than
//! a full refill ahead. One number updates in one SQL statement.
//!
//! Where the buckets live follows the database. On PostgreSQL, which several
//! server processes may share, they are in the database
//! (`rate_limit_bucket`), so that the partners' budgets are shared too: the
//! server keeps no state of its own between requests. On SQLite, which one
//! server process owns, they are in that process, and reads never wait for
//! SQLite's single writer.
//!
//! The instants come from each server's own clock. Hosts that share a
//! database keep their clocks in step (NTP): a clock one second ahead would
//! give the requests it serves `restore_rate` points more.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use entity::{api_token, partner};
use sea_orm::{DatabaseBackend, DbErr};

use crate::store::Store;

/// An instant as microseconds since the Unix epoch, or a span of microseconds:
/// the buckets' clock.
pub type Micros = i64;

/// The longest span the buckets count with (about 36,000 years), so that
/// sums of instants and spans never overflow.
const LONGEST: Micros = 1 << 60;

/// The current instant on the buckets' clock.
fn now() -> Micros {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros().min(LONGEST as u128) as Micros)
}

/// The limit: bucket size and refill rate. A `restore_rate` of 0 turns limiting off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub capacity: u64,
    pub restore_rate: u64,
}

impl RateLimit {
    pub const DEFAULT: Self = Self {
        capacity: 100_000,
        restore_rate: 10_000,
    };

    pub fn is_off(&self) -> bool {
        self.restore_rate == 0
    }

    /// How long the bucket takes to refill `points`, rounded up.
    pub fn refill_time(&self, points: u64) -> Micros {
        let micros = (u128::from(points) * 1_000_000).div_ceil(u128::from(self.restore_rate));
        micros.min(LONGEST as u128) as Micros
    }

    /// How long an empty bucket takes to fill up.
    pub fn full_refill_time(&self) -> Micros {
        self.refill_time(self.capacity)
    }

    /// Takes `cost` points at `now` from a bucket full at `full_at`: the
    /// instant it will be full after that, or `None` if it holds too little.
    /// `store::Store::authenticate_and_take` does the same in SQL.
    pub fn take(&self, full_at: Micros, now: Micros, cost: u64) -> Option<Micros> {
        let after = full_at.max(now) + self.refill_time(cost);
        (after - now <= self.full_refill_time()).then_some(after)
    }

    /// What a bucket full at `full_at` holds at `now`.
    pub fn status(&self, full_at: Micros, now: Micros) -> ThrottleStatus {
        let empty = (full_at - now).max(0) as u128;
        let missing = (empty * u128::from(self.restore_rate)).div_ceil(1_000_000);
        ThrottleStatus {
            maximum_available: self.capacity,
            currently_available: self
                .capacity
                .saturating_sub(missing.min(u64::MAX.into()) as u64),
            restore_rate: self.restore_rate,
        }
    }

    /// Why a bucket full at `full_at` refuses `cost` points at `now`, and how
    /// long until it would not. A cost above the capacity is never admitted;
    /// it is told to wait for a full bucket.
    pub fn refusal(&self, full_at: Micros, now: Micros, cost: u64) -> Throttled {
        let admitted_from =
            full_at.max(now) + self.refill_time(cost.min(self.capacity)) - self.full_refill_time();
        Throttled {
            status: self.status(full_at, now),
            retry_after: Duration::from_micros((admitted_from - now).max(0) as u64),
        }
    }

    fn unlimited(&self) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: self.capacity,
            currently_available: self.capacity,
            restore_rate: 0,
        }
    }
}

/// What a partner has left after a request, as reported in `extensions.cost`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThrottleStatus {
    pub maximum_available: u64,
    pub currently_available: u64,
    pub restore_rate: u64,
}

/// The request was refused; it may succeed after `retry_after`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttled {
    pub status: ThrottleStatus,
    pub retry_after: Duration,
}

/// The partners' buckets, where the database says (see the module's docs).
#[derive(Debug)]
enum Buckets {
    /// Limiting is off: no buckets.
    Off,
    /// Each partner's `full_at`; a partner without one has a full bucket.
    InProcess(Mutex<HashMap<i64, Micros>>),
    /// In the database, charged by the statement that authenticates.
    InDatabase,
}

/// A request whose token is live: its token and partner, and the status of
/// the partner's bucket after the charge, or why the charge was refused.
pub struct Admitted {
    pub token: api_token::Model,
    pub partner: partner::Model,
    pub throttle: Result<ThrottleStatus, Throttled>,
}

#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Buckets,
}

impl RateLimiter {
    /// A limiter whose buckets live where `store`'s database calls for.
    pub fn new(limit: RateLimit, store: &Store) -> Self {
        let buckets = match store.backend() {
            _ if limit.is_off() => Buckets::Off,
            DatabaseBackend::Postgres => Buckets::InDatabase,
            _ => Buckets::InProcess(Mutex::default()),
        };
        Self { limit, buckets }
    }

    /// Authenticates `secret` and takes `cost` points from its partner's
    /// bucket, or refuses: `None` if `secret` is no live token's. `store` is
    /// the request's: on PostgreSQL, both are one statement on its connection,
    /// so a request costs no round trip for its charge.
    pub async fn admit(
        &self,
        store: &Store,
        secret: &str,
        cost: u64,
    ) -> Result<Option<Admitted>, DbErr> {
        let limit = self.limit;
        let now = now();
        let (token, partner, taken) = match &self.buckets {
            Buckets::InDatabase => match store
                .authenticate_and_take(secret, now, limit, cost)
                .await?
            {
                Some(charged) => charged,
                None => return Ok(None),
            },
            Buckets::InProcess(buckets) => match store.authenticate(secret).await? {
                Some((token, partner)) => {
                    let mut buckets = buckets.lock().unwrap_or_else(|p| p.into_inner());
                    let full_at = buckets.entry(partner.id).or_insert(now);
                    let taken = match limit.take(*full_at, now, cost) {
                        Some(after) => {
                            *full_at = after;
                            Ok(after)
                        }
                        None => Err(*full_at),
                    };
                    (token, partner, taken)
                }
                None => return Ok(None),
            },
            Buckets::Off => {
                return Ok(store
                    .authenticate(secret)
                    .await?
                    .map(|(token, partner)| Admitted {
                        token,
                        partner,
                        throttle: Ok(limit.unlimited()),
                    }));
            }
        };
        let throttle = match taken {
            Ok(full_at) => Ok(limit.status(full_at, now)),
            Err(full_at) => Err(limit.refusal(full_at, now, cost)),
        };
        Ok(Some(Admitted {
            token,
            partner,
            throttle,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        capacity: 100,
        restore_rate: 10,
    };
    const SECOND: Micros = 1_000_000;

    /// Takes `cost` from `full_at`, moving it on success, as the limiter does.
    fn take(full_at: &mut Micros, now: Micros, cost: u64) -> Result<ThrottleStatus, Throttled> {
        match LIMIT.take(*full_at, now, cost) {
            Some(after) => {
                *full_at = after;
                Ok(LIMIT.status(after, now))
            }
            None => Err(LIMIT.refusal(*full_at, now, cost)),
        }
    }

    #[test]
    fn a_bucket_allows_bursts_up_to_its_capacity_then_refills() {
        let start = 1_800_000_000 * SECOND;
        let mut full_at = start;
        assert_eq!(
            take(&mut full_at, start, 60).unwrap().currently_available,
            40
        );
        let refused = take(&mut full_at, start, 60).unwrap_err();
        assert_eq!(refused.status.currently_available, 40);
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        assert_eq!(full_at, start + 6 * SECOND, "a refusal takes nothing");
        let later = start + 2 * SECOND;
        assert_eq!(
            take(&mut full_at, later, 60).unwrap().currently_available,
            0
        );
        assert!(take(&mut full_at, later, 1).is_err());
        let much_later = start + 3600 * SECOND;
        assert_eq!(
            take(&mut full_at, much_later, 0)
                .unwrap()
                .currently_available,
            100
        );
    }

    #[test]
    fn partial_refills_count_to_the_microsecond() {
        let start = 1_800_000_000 * SECOND;
        let mut full_at = start;
        take(&mut full_at, start, 100).unwrap();
        // 10 points a second: 1 point after 100 ms, not before.
        assert!(take(&mut full_at, start + 99_999, 1).is_err());
        let status = take(&mut full_at, start + 100_000, 1).unwrap();
        assert_eq!(status.currently_available, 0);
        assert_eq!(
            LIMIT.status(full_at, start + 350_000).currently_available,
            2
        );
    }

    #[test]
    fn a_cost_above_the_capacity_is_refused_even_from_a_full_bucket() {
        let now = 1_800_000_000 * SECOND;
        let refused = LIMIT.refusal(now - SECOND, now, 1_000);
        assert_eq!(refused.status.currently_available, 100);
        assert_eq!(refused.retry_after, Duration::ZERO);
        assert_eq!(LIMIT.take(now - SECOND, now, 101), None);
    }

    #[test]
    fn huge_limits_neither_overflow_nor_panic() {
        let huge = RateLimit {
            capacity: u64::MAX,
            restore_rate: 1,
        };
        let now = now();
        let after = huge.take(now, now, u64::MAX).expect("within the capacity");
        assert!(after > now);
        assert_eq!(huge.status(after, now).maximum_available, u64::MAX);
        let fast = RateLimit {
            capacity: 1,
            restore_rate: u64::MAX,
        };
        assert_eq!(fast.take(now, now, 1), Some(now + 1));
    }
}
