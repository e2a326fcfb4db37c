//! Per-partner rate limiting on query cost: a token bucket per partner.
//!
//! Each request costs its computed query complexity. A bucket holds at most
//! `capacity` points and refills at `restore_rate` points per second. The
//! buckets live in this process: with several server processes, each enforces
//! the limit on the requests it receives.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

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

#[derive(Debug)]
struct Bucket {
    points: f64,
    updated: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes `cost` points from the partner's bucket at `now`, or refuses.
    pub fn take(
        &self,
        partner_id: i64,
        cost: u64,
        now: Instant,
    ) -> Result<ThrottleStatus, Throttled> {
        let limit = self.limit;
        if limit.is_off() {
            return Ok(ThrottleStatus {
                maximum_available: limit.capacity,
                currently_available: limit.capacity,
                restore_rate: 0,
            });
        }
        let capacity = limit.capacity as f64;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(partner_id).or_insert(Bucket {
            points: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.points = (bucket.points + elapsed * limit.restore_rate as f64).min(capacity);
        bucket.updated = now;
        let status = |points: f64| ThrottleStatus {
            maximum_available: limit.capacity,
            currently_available: points.max(0.0) as u64,
            restore_rate: limit.restore_rate,
        };
        let cost = cost as f64;
        if cost <= bucket.points {
            bucket.points -= cost;
            Ok(status(bucket.points))
        } else {
            let missing = cost.min(capacity) - bucket.points;
            Err(Throttled {
                status: status(bucket.points),
                retry_after: Duration::from_secs_f64(
                    (missing / limit.restore_rate as f64).max(0.0),
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        capacity: 100,
        restore_rate: 10,
    };

    #[test]
    fn a_bucket_allows_bursts_up_to_its_capacity_then_refills() {
        let limiter = RateLimiter::new(LIMIT);
        let start = Instant::now();
        assert_eq!(limiter.take(1, 60, start).unwrap().currently_available, 40);
        let refused = limiter.take(1, 60, start).unwrap_err();
        assert_eq!(refused.status.currently_available, 40);
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        let later = start + Duration::from_secs(2);
        assert_eq!(limiter.take(1, 60, later).unwrap().currently_available, 0);
        let much_later = start + Duration::from_secs(3600);
        assert_eq!(
            limiter.take(1, 0, much_later).unwrap().currently_available,
            100
        );
    }

    #[test]
    fn partners_have_separate_buckets() {
        let limiter = RateLimiter::new(LIMIT);
        let now = Instant::now();
        limiter.take(1, 100, now).unwrap();
        assert!(limiter.take(1, 1, now).is_err());
        assert!(limiter.take(2, 100, now).is_ok());
    }

    #[test]
    fn a_zero_restore_rate_turns_limiting_off() {
        let limiter = RateLimiter::new(RateLimit {
            capacity: 10,
            restore_rate: 0,
        });
        for _ in 0..100 {
            assert!(limiter.take(1, 1_000, Instant::now()).is_ok());
        }
    }
}
