//! The Markdown report: every target of issue 4 with the measured figure
//! beside it, then the detail of each run and how it was measured.

use std::fmt::Write as _;

use super::{
    client::Outcome,
    pgbench::Floor,
    results::{Scenario, SizeResult},
};
use crate::config::BenchArgs;

/// What a request (of the dashboard, or of the transport floor) costs the
/// machine's CPU, all processes counted, beside what a pgbench transaction of
/// the same statements costs it (ms).
struct CpuAllIn {
    server: f64,
    backends: f64,
    generator: f64,
    pgbench_backends: f64,
    pgbench: f64,
}

impl CpuAllIn {
    fn of(scenario: &Scenario, floor: &Floor) -> Option<Self> {
        Some(Self {
            server: scenario.server_cpu_ms,
            backends: scenario.database_cpu_ms?,
            generator: scenario.generator_cpu_ms,
            pgbench_backends: floor.backends_cpu_ms?,
            pgbench: floor.pgbench_cpu_ms,
        })
    }

    fn request(&self) -> f64 {
        self.server + self.backends + self.generator
    }

    fn transaction(&self) -> f64 {
        self.pgbench_backends + self.pgbench
    }
}

/// One line per run on the terminal.
pub fn print_summary(r: &SizeResult) {
    if let Some(d) = r.dashboard() {
        eprintln!(
            "  {} {}: dashboard {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.2} ms CPU/req{}, {:.1} statements/req, peak RSS {:.0} MiB, {} errors",
            r.backend,
            r.renewals,
            d.outcome.per_second(),
            d.outcome.p50_ms,
            d.outcome.p99_ms,
            d.server_cpu_ms,
            instructions(r),
            d.statements,
            r.peak_rss_mib,
            r.errors()
        );
    }
}

/// The instruction count of a dashboard request, for the CPU figures, if measured.
fn instructions(r: &SizeResult) -> String {
    r.instructions_per_request
        .map(|n| format!("; {:.2} M instructions", n as f64 / 1e6))
        .unwrap_or_default()
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn command(args: &BenchArgs) -> String {
    let mut cmd = String::from("cargo run --release -- bench");
    let sizes: Vec<String> = args.renewals.iter().map(u64::to_string).collect();
    let _ = write!(cmd, " --renewals {}", sizes.join(","));
    for url in &args.database_urls {
        let _ = write!(cmd, " --database-url '{}'", crate::app::redact(url));
    }
    let _ = write!(
        cmd,
        " --clients {} --duration {} --output {}",
        args.clients,
        args.duration,
        args.output.display()
    );
    cmd
}

fn sizes(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n.is_multiple_of(1000) => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

/// The whole report.
pub fn markdown(args: &BenchArgs, machine: &str, results: &[SizeResult]) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Produced by `renewals bench` (see README, \"Performance\"); do not edit by hand.\n"
    );
    let _ = writeln!(w, "- Command: `{}`", command(args));
    let _ = writeln!(w, "- Machine: {machine}");
    let _ = writeln!(
        w,
        "- Build: {}; date: {} (UTC); \"today\" of the data set: {}",
        if cfg!(debug_assertions) {
            "**debug** (CPU figures are not comparable with the targets)"
        } else {
            "release"
        },
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        args.today
    );
    let _ = writeln!(
        w,
        "- Load: {} keep-alive clients, {} s per scenario (half for the secondary ones), 2 s warm-up.\n",
        args.clients, args.duration
    );

    targets(w, args, results);
    for r in results {
        detail(w, r);
    }
    method(w);
    md
}

fn targets(w: &mut String, args: &BenchArgs, results: &[SizeResult]) {
    let _ = writeln!(w, "## Targets\n");
    let _ = writeln!(w, "| Target | Database | Renewals | Measured | Verdict |");
    let _ = writeln!(w, "| --- | --- | --- | --- | --- |");
    let mut row = |target: &str, r: &SizeResult, measured: String, met: Option<bool>| {
        let _ = writeln!(
            w,
            "| {target} | {} | {} | {measured} | {} |",
            r.backend,
            sizes(r.renewals),
            met.map_or("not measured", verdict)
        );
    };
    for r in results {
        let counts: Vec<String> = r
            .statements_by_page_size
            .iter()
            .map(|(n, s)| format!("{s} for {n} nodes"))
            .collect();
        let constant = r
            .statements_by_page_size
            .iter()
            .all(|(_, s)| *s == r.statements_by_page_size[0].1);
        let max = r
            .statements_by_page_size
            .iter()
            .map(|(_, s)| *s)
            .max()
            .unwrap_or(0);
        row(
            "Statements per dashboard page ≤ 6, constant",
            r,
            counts.join(", "),
            Some(constant && max <= 6),
        );
    }
    for r in results {
        let Some(d) = r.dashboard() else { continue };
        let (limit, what) = if r.backend == "PostgreSQL" {
            (1.0, "server process alone")
        } else {
            (2.0, "database work included")
        };
        let db = d
            .database_cpu_ms
            .map(|ms| format!("; PostgreSQL backends {ms:.2} ms"))
            .unwrap_or_default();
        row(
            &format!("Server CPU per dashboard request ≤ {limit} ms ({what})"),
            r,
            format!("{:.2} ms{db}{}", d.server_cpu_ms, instructions(r)),
            Some(d.server_cpu_ms <= limit && !cfg!(debug_assertions)),
        );
    }
    for backend in ["SQLite", "PostgreSQL"] {
        let runs: Vec<&SizeResult> = results.iter().filter(|r| r.backend == backend).collect();
        let (Some(small), Some(large)) = (
            runs.iter().min_by_key(|r| r.renewals),
            runs.iter().max_by_key(|r| r.renewals),
        ) else {
            continue;
        };
        if small.renewals == large.renewals {
            continue;
        }
        let (Some(a), Some(b)) = (small.dashboard(), large.dashboard()) else {
            continue;
        };
        let ratio = b.outcome.p50_ms / a.outcome.p50_ms.max(f64::MIN_POSITIVE);
        let full = small.renewals <= 10_000 && large.renewals >= 1_000_000;
        row(
            &format!(
                "Dashboard p50 at {} ≤ 1.5 × p50 at {}",
                sizes(large.renewals),
                sizes(small.renewals)
            ),
            large,
            format!(
                "{:.2} ms vs {:.2} ms: {ratio:.2}×{}",
                b.outcome.p50_ms,
                a.outcome.p50_ms,
                if full {
                    ""
                } else {
                    " (not the 10k → 1M span)"
                }
            ),
            Some(ratio <= 1.5),
        );
    }
    for r in results {
        let (Some(floor), Some(d)) = (&r.pgbench, r.dashboard_beside_floors()) else {
            continue;
        };
        let share = d.outcome.per_second() / floor.tps.max(f64::MIN_POSITIVE);
        let cpu = CpuAllIn::of(d, floor).map_or_else(String::new, |cpu| {
            format!(
                "; CPU all in: {:.2} ms per request, {:.2} ms per pgbench transaction",
                cpu.request(),
                cpu.transaction()
            )
        });
        let transport = r.transport.as_ref().map_or_else(String::new, |t| {
            format!(
                "; the statements alone through the server's stack: {:.0} req/s, {:.0} %",
                t.outcome.per_second(),
                t.outcome.per_second() / floor.tps.max(f64::MIN_POSITIVE) * 100.0
            )
        });
        row(
            &format!(
                "PostgreSQL: throughput at {} clients ≥ 70 % of pgbench",
                r.clients
            ),
            r,
            format!(
                "{:.0} req/s vs pgbench {:.0} tps ({} statements): {:.0} %{cpu}{transport}",
                d.outcome.per_second(),
                floor.tps,
                floor.statements,
                share * 100.0
            ),
            Some(share >= 0.7),
        );
    }
    for r in results.iter().filter(|r| r.backend == "SQLite") {
        let Some(d) = r.dashboard() else { continue };
        let applies = r.renewals == 100_000 && r.clients == 4;
        row(
            "SQLite: ≥ 1500 dashboard req/s at 4 clients at 100k",
            r,
            format!(
                "{:.0} req/s at {} clients",
                d.outcome.per_second(),
                r.clients
            ),
            applies.then(|| d.outcome.per_second() >= 1500.0),
        );
    }
    for r in results {
        row(
            "Server peak RSS under load ≤ 100 MB at 1M",
            r,
            format!("{:.0} MiB", r.peak_rss_mib),
            (r.renewals >= 1_000_000).then_some(r.peak_rss_mib * 1.048_576 <= 100.0),
        );
    }
    for r in results {
        let Some(writes) = r
            .mixed
            .iter()
            .find(|o| o.name.starts_with("setRenewalOwner"))
        else {
            continue;
        };
        let reads = r.mixed.iter().find(|o| o.name.starts_with("dashboard"));
        row(
            &format!(
                "Write path: {:.0} setRenewalOwner/s with reads, no errors",
                r.write_rate
            ),
            r,
            format!(
                "{:.0}/s, {} errors (p99 {:.1} ms); reads meanwhile {:.0} req/s, p99 {:.1} ms, {} errors",
                writes.per_second(),
                writes.errors,
                writes.p99_ms,
                reads.map_or(0.0, Outcome::per_second),
                reads.map_or(0.0, |o| o.p99_ms),
                reads.map_or(0, |o| o.errors)
            ),
            Some(
                writes.per_second() >= r.write_rate * 0.98
                    && writes.errors == 0
                    && reads.is_none_or(|o| o.errors == 0),
            ),
        );
    }
    for r in results {
        row(
            "Every response free of GraphQL errors",
            r,
            format!("{} errors", r.errors()),
            Some(r.errors() == 0),
        );
    }
    let _ = args;
    let _ = writeln!(w);
}

fn detail(w: &mut String, r: &SizeResult) {
    let _ = writeln!(w, "## {} — {} renewals\n", r.backend, sizes(r.renewals));
    let _ = writeln!(
        w,
        "Data set {} ({:.1} s). Dashboard `totalCount`: {}. Peak RSS of the server process: {:.0} MiB.\n",
        if r.seeding.reused {
            "reused from an earlier run"
        } else {
            "seeded in this run"
        },
        r.seeding.seconds,
        r.total_count,
        r.peak_rss_mib
    );
    let _ = writeln!(
        w,
        "| Scenario | Clients | Requests | req/s | p50 ms | p90 ms | p99 ms | Server CPU ms/req | DB CPU ms/req | Statements/req | Errors |"
    );
    let _ = writeln!(
        w,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for s in &r.scenarios {
        let o = &s.outcome;
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {} |",
            o.name,
            s.clients,
            o.requests,
            o.per_second(),
            o.p50_ms,
            o.p90_ms,
            o.p99_ms,
            s.server_cpu_ms,
            s.database_cpu_ms
                .map_or_else(|| "—".to_owned(), |ms| format!("{ms:.2}")),
            s.statements,
            o.errors
        );
    }
    for o in &r.mixed {
        let _ = writeln!(
            w,
            "| {} | — | {} | {:.0} | {:.2} | {:.2} | {:.2} | — | — | — | {} |",
            o.name,
            o.requests,
            o.per_second(),
            o.p50_ms,
            o.p90_ms,
            o.p99_ms,
            o.errors
        );
    }
    if let Some(floor) = &r.pgbench {
        let _ = writeln!(
            w,
            "\npgbench floor: {:.0} tps (latency {:.2} ms) running the {} statements of one dashboard request (`{}`).",
            floor.tps,
            floor.latency_ms,
            floor.statements,
            floor.script.display()
        );
        if let Some(d) = &r.beside_floors {
            let _ = writeln!(
                w,
                "Dashboard beside the floors: {:.0} req/s ({:.0} % of pgbench, {} errors), measured in two \
                 halves, just before the transport floor and just after pgbench.",
                d.outcome.per_second(),
                d.outcome.per_second() / floor.tps.max(f64::MIN_POSITIVE) * 100.0,
                d.outcome.errors,
            );
        }
        if let Some(cpu) = r
            .dashboard_beside_floors()
            .and_then(|d| CpuAllIn::of(d, floor))
        {
            let _ = writeln!(
                w,
                "CPU all in: {:.2} ms per dashboard request (server {:.2}, PostgreSQL backends {:.2}, \
                 load generator {:.2}); {:.2} ms per pgbench transaction (backends {:.2}, pgbench {:.2}).",
                cpu.request(),
                cpu.server,
                cpu.backends,
                cpu.generator,
                cpu.transaction(),
                cpu.pgbench_backends,
                cpu.pgbench,
            );
        }
        if let Some(t) = &r.transport {
            let _ = write!(
                w,
                "Transport floor: {:.0} req/s ({:.0} % of pgbench, p50 {:.2} ms, {} errors) with the same \
                 statements run raw through the server's stack (HTTP, a pooled connection per request, \
                 SeaORM and sqlx; no GraphQL)",
                t.outcome.per_second(),
                t.outcome.per_second() / floor.tps.max(f64::MIN_POSITIVE) * 100.0,
                t.outcome.p50_ms,
                t.outcome.errors,
            );
            if let Some(cpu) = CpuAllIn::of(t, floor) {
                let _ = write!(
                    w,
                    "; CPU all in: {:.2} ms per request (server {:.2}, PostgreSQL backends {:.2}, \
                     load generator {:.2})",
                    cpu.request(),
                    cpu.server,
                    cpu.backends,
                    cpu.generator,
                );
            }
            let _ = writeln!(w, ".");
        }
    }
    let _ = writeln!(
        w,
        "\n<details><summary>The SQL of one dashboard request</summary>\n\n```sql"
    );
    for sql in &r.dashboard_sql {
        let _ = writeln!(w, "{};", sql.trim_end_matches(';'));
    }
    let _ = writeln!(w, "```\n</details>\n");
}

/// How each figure is measured (`method.md`).
fn method(w: &mut String) {
    w.push_str(include_str!("method.md"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::results::Seeding;

    fn args() -> BenchArgs {
        BenchArgs {
            database_urls: vec!["postgres://localhost/bench".to_owned()],
            renewals: vec![100_000],
            clients: 4,
            duration: 10,
            write_rate: 200.0,
            output: "BENCHMARKS.md".into(),
            reseed: false,
            seed: 7,
            today: crate::bench::default_today(),
        }
    }

    /// The pgbench floor's verdict, with the CPU of every process on both
    /// sides: the dashboard's as measured beside the floors, in two halves.
    #[test]
    fn the_floor_is_reported_with_the_cpu_of_every_process() {
        let half = |requests, server_cpu_ms| Scenario {
            clients: 4,
            outcome: Outcome {
                name: "dashboard (beside the floors)".to_owned(),
                requests,
                elapsed_s: 5.0,
                ..Outcome::default()
            },
            server_cpu_ms,
            database_cpu_ms: Some(1.0),
            generator_cpu_ms: 0.1,
            statements: 6.0,
        };
        // 10,000 requests in 10 s, 0.68 ms of server CPU each.
        let beside_floors = half(4_000, 0.5).merged(&half(6_000, 0.8));
        // Earlier in the run, and slower: not what the floors are compared with.
        let dashboard = Scenario {
            outcome: Outcome {
                name: "dashboard".to_owned(),
                requests: 9_000,
                elapsed_s: 10.0,
                ..Outcome::default()
            },
            server_cpu_ms: 0.9,
            ..beside_floors.clone()
        };
        let transport = Scenario {
            outcome: Outcome {
                name: "transport floor".to_owned(),
                requests: 15_000,
                elapsed_s: 10.0,
                p50_ms: 2.5,
                ..Outcome::default()
            },
            server_cpu_ms: 0.3,
            ..dashboard.clone()
        };
        let floor = Floor {
            tps: 2_000.0,
            latency_ms: 2.0,
            statements: 6,
            script: "bench-data/pgbench.sql".into(),
            pgbench_cpu_ms: 0.15,
            backends_cpu_ms: Some(0.8),
        };
        let result = SizeResult {
            backend: "PostgreSQL",
            renewals: 100_000,
            clients: 4,
            seeding: Seeding::default(),
            total_count: 1,
            statements_by_page_size: vec![(50, 6)],
            scenarios: vec![dashboard],
            mixed: Vec::new(),
            write_rate: 200.0,
            pgbench: Some(floor),
            transport: Some(transport),
            beside_floors: Some(beside_floors),
            dashboard_sql: Vec::new(),
            peak_rss_mib: 30.0,
            instructions_per_request: None,
        };
        let text = markdown(&args(), "a machine", &[result]);
        assert!(
            text.contains(
                "| PostgreSQL: throughput at 4 clients ≥ 70 % of pgbench | PostgreSQL | 100k | \
                 1000 req/s vs pgbench 2000 tps (6 statements): 50 %; CPU all in: 1.78 ms per \
                 request, 0.95 ms per pgbench transaction; the statements alone through the \
                 server's stack: 1500 req/s, 75 % | **missed** |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "Dashboard beside the floors: 1000 req/s (50 % of pgbench, 0 errors), measured \
                 in two halves, just before the transport floor and just after pgbench.\nCPU all \
                 in: 1.78 ms per dashboard request (server 0.68, PostgreSQL backends \
                 1.00, load generator 0.10); 0.95 ms per pgbench transaction (backends 0.80, \
                 pgbench 0.15).\nTransport floor: 1500 req/s (75 % of pgbench, p50 2.50 ms, 0 \
                 errors) with the same statements run raw through the server's stack (HTTP, a \
                 pooled connection per request, SeaORM and sqlx; no GraphQL); CPU all in: 1.40 ms \
                 per request (server 0.30, PostgreSQL backends 1.00, load generator 0.10)."
            ),
            "{text}"
        );
    }
}
