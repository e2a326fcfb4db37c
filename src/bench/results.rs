//! What one run of the benchmark measured, for the [report](super::report).

use super::{client::Outcome, pgbench::Floor};

/// How the data set came to be there.
#[derive(Clone, Debug, Default)]
pub struct Seeding {
    pub reused: bool,
    pub seconds: f64,
}

/// One measured workload.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub clients: usize,
    pub outcome: Outcome,
    /// CPU time of the server process per request (SQLite: its database work included).
    pub server_cpu_ms: f64,
    /// CPU time of the PostgreSQL backends per request.
    pub database_cpu_ms: Option<f64>,
    /// CPU time of the load generator's process per request.
    pub generator_cpu_ms: f64,
    pub statements: f64,
}

impl Scenario {
    /// This and `other` (the same workload, measured twice) as one: their
    /// requests over their time, their CPU and statements per request
    /// weighted by requests. Each latency percentile is the slower half's,
    /// which bounds the whole's from above.
    pub fn merged(&self, other: &Self) -> Self {
        let (a, b) = (&self.outcome, &other.outcome);
        let (na, nb) = (a.requests as f64, other.outcome.requests as f64);
        let total = (na + nb).max(1.0);
        let mean = |x: f64, y: f64| (x * na + y * nb) / total;
        Self {
            clients: self.clients,
            outcome: Outcome {
                name: a.name.clone(),
                requests: a.requests + b.requests,
                errors: a.errors + b.errors,
                first_error: a.first_error.clone().or_else(|| b.first_error.clone()),
                elapsed_s: a.elapsed_s + b.elapsed_s,
                p50_ms: a.p50_ms.max(b.p50_ms),
                p90_ms: a.p90_ms.max(b.p90_ms),
                p99_ms: a.p99_ms.max(b.p99_ms),
                max_ms: a.max_ms.max(b.max_ms),
            },
            server_cpu_ms: mean(self.server_cpu_ms, other.server_cpu_ms),
            database_cpu_ms: self
                .database_cpu_ms
                .zip(other.database_cpu_ms)
                .map(|(x, y)| mean(x, y)),
            generator_cpu_ms: mean(self.generator_cpu_ms, other.generator_cpu_ms),
            statements: mean(self.statements, other.statements),
        }
    }
}

/// Everything measured for one database at one size.
#[derive(Clone, Debug)]
pub struct SizeResult {
    pub backend: &'static str,
    pub renewals: u64,
    pub clients: usize,
    pub seeding: Seeding,
    /// The dashboard's `totalCount`.
    pub total_count: u64,
    pub statements_by_page_size: Vec<(u64, u64)>,
    /// The dashboard first, then the other reads, then the mutations.
    pub scenarios: Vec<Scenario>,
    /// Reads and paced writes side by side.
    pub mixed: Vec<Outcome>,
    pub write_rate: f64,
    pub pgbench: Option<Floor>,
    /// The dashboard's statements run raw through the server's stack
    /// ([`transport`](super::transport)), beside the pgbench floor.
    pub transport: Option<Scenario>,
    /// The dashboard measured again for its comparison with the floors, in
    /// two halves: just before the transport floor and just after pgbench
    /// ([`Scenario::merged`]). The host's speed drifts by tens of percent
    /// within a run; bracketed so, the floors and the dashboard share it.
    pub beside_floors: Option<Scenario>,
    pub dashboard_sql: Vec<String>,
    pub peak_rss_mib: f64,
    /// Instructions the server executes per dashboard request (callgrind), if valgrind is here.
    pub instructions_per_request: Option<u64>,
}

impl SizeResult {
    pub(super) fn dashboard(&self) -> Option<&Scenario> {
        self.scenarios.first()
    }

    /// The dashboard as compared with the floors.
    pub(super) fn dashboard_beside_floors(&self) -> Option<&Scenario> {
        self.beside_floors.as_ref().or_else(|| self.dashboard())
    }

    pub(super) fn errors(&self) -> u64 {
        self.scenarios.iter().map(|s| s.outcome.errors).sum::<u64>()
            + self.mixed.iter().map(|o| o.errors).sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two halves merged: requests over time, CPU weighted by requests, each
    /// percentile the slower half's.
    #[test]
    fn merges_two_halves_of_a_scenario() {
        let half = |requests, p50_ms, server_cpu_ms| Scenario {
            clients: 4,
            outcome: Outcome {
                requests,
                elapsed_s: 5.0,
                p50_ms,
                ..Outcome::default()
            },
            server_cpu_ms,
            database_cpu_ms: None,
            generator_cpu_ms: 0.0,
            statements: 5.0,
        };
        let merged = half(1_000, 3.0, 0.4).merged(&half(3_000, 1.0, 0.8));
        assert_eq!(merged.outcome.requests, 4_000);
        assert_eq!(merged.outcome.per_second(), 400.0);
        assert_eq!(merged.outcome.p50_ms, 3.0);
        assert!((merged.server_cpu_ms - 0.7).abs() < 1e-9);
    }
}
