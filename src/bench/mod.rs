//! `renewals bench`: seeds databases of given sizes, serves the real HTTP
//! server in-process, drives it with keep-alive clients from a separate
//! process, and writes the figures against the targets of issue 4 to
//! `BENCHMARKS.md`.
//!
//! - [`data`]: the deterministic data set and its bulk loader (`renewals bench-seed`).
//! - [`client`]: the load generator process (`renewals bench-client`).
//! - [`run`]: the scenarios of one database and size.
//! - [`pgbench`]: the PostgreSQL floor (the same statements run by pgbench).
//! - [`instructions`]: instructions per dashboard request, under callgrind.
//! - [`probe`]: CPU and memory from `/proc`.
//! - [`results`]: what a run measured.
//! - [`report`]: the Markdown report (how it is measured: `method.md`).

pub mod client;
pub mod data;
pub mod instructions;
pub mod pgbench;
pub mod probe;
pub mod queries;
pub mod report;
pub mod results;
pub mod run;
pub mod target;
pub mod transport;

/// The rate limit the measured servers run with: the limiter stays in the
/// path (on PostgreSQL, a statement per request), with a budget no benchmark
/// exhausts.
pub const UNEXHAUSTIBLE_RATE_LIMIT: crate::ratelimit::RateLimit = crate::ratelimit::RateLimit {
    capacity: 1_000_000_000_000,
    restore_rate: 1_000_000,
};

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use entity::renewal;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::{
    config::{BenchArgs, BenchSeedArgs},
    store::Store,
};
use target::Target;

/// `renewals bench`.
pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for url in &args.database_urls {
        for &renewals in &args.renewals {
            let target = Target::new(url, renewals)?;
            let seeding = seed_in_child(&target, renewals, &args).await?;
            eprintln!(
                "== {} with {renewals} renewals: {} clients for {} s per scenario",
                target.label(),
                args.clients,
                args.duration
            );
            let mut result = run::run(&target, renewals, &args)
                .await
                .with_context(|| format!("benchmark of {} at {renewals}", target.label()))?;
            result.seeding = seeding;
            report::print_summary(&result);
            results.push(result);
        }
    }
    let markdown = report::markdown(&args, &probe::machine(), &results);
    std::fs::write(&args.output, markdown)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}

/// Seeds (or reuses) the data set in a child process, so that the loader's
/// memory never counts towards the server's peak RSS. Returns how it went.
async fn seed_in_child(
    target: &Target,
    renewals: u64,
    args: &BenchArgs,
) -> anyhow::Result<results::Seeding> {
    let exe = std::env::current_exe().context("locating the renewals binary")?;
    let started = Instant::now();
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("bench-seed")
        .arg("--database-url")
        .arg(&target.base_url)
        .arg("--renewals")
        .arg(renewals.to_string())
        .arg("--seed")
        .arg(args.seed.to_string())
        .arg("--today")
        .arg(args.today.to_string());
    if args.reseed {
        command.arg("--reseed");
    }
    // The progress bar and messages go to the terminal; `output()` would capture them.
    let output = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("running bench-seed")?
        .wait_with_output()
        .await
        .context("running bench-seed")?;
    if !output.status.success() {
        bail!("bench-seed failed for {} at {renewals}", target.label());
    }
    let reused = String::from_utf8_lossy(&output.stdout).contains("reused");
    Ok(results::Seeding {
        reused,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `renewals bench-seed`: makes sure the target holds exactly the data set.
/// Prints `reused` or `seeded` on stdout.
pub async fn seed(args: BenchSeedArgs) -> anyhow::Result<()> {
    let target = Target::new(&args.database_url, args.renewals)?;
    if !args.reseed && target.exists().await? && holds(&target, args.renewals).await? {
        eprintln!(
            "{} at {}: reusing the seeded data set",
            target.label(),
            args.renewals
        );
        println!("reused");
        return Ok(());
    }
    target.reset().await?;
    // Creates the tables and indexes.
    Store::connect(&target.url)
        .await
        .context("migrating the benchmark database")?
        .close()
        .await?;
    let db = data::loader_connection(&target.url).await?;
    data::load(&db, args.renewals, args.seed, args.today).await?;
    db.close().await?;
    println!("seeded");
    Ok(())
}

/// Whether the target already holds a data set of this size (a previous run's).
async fn holds(target: &Target, renewals: u64) -> anyhow::Result<bool> {
    let Ok(store) = Store::connect(&target.url).await else {
        return Ok(false);
    };
    let count = renewal::Entity::find().count(store.reader()).await?;
    let atlas = store.partner_by_slug(data::DASHBOARD_PARTNER).await?;
    store.close().await?;
    Ok(count == renewals && atlas.is_some())
}

/// The fixed "today" of the benchmark: the data set is generated around it.
pub fn default_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
}
