//! Command line and environment configuration, parsed and validated at start.

use std::{net::SocketAddr, path::PathBuf};

use chrono::{Days, NaiveDate};
use clap::{Args, Parser, Subcommand};

use crate::domain::dates::{DEADLINE_LEAD_DAYS, FIRST_DATE, LAST_DATE, VISIBILITY_HORIZON_DAYS};

/// Renewals API: a GraphQL API for partners' upcoming contract renewals.
#[derive(Debug, Parser)]
#[command(name = "renewals", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve the GraphQL API.
    Serve(ServeArgs),
    /// Fill the database with deterministic demo data.
    Seed(SeedArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Benchmark the server on SQLite and PostgreSQL and write BENCHMARKS.md.
    Bench(BenchArgs),
    /// (Used by `bench`.) Seed a benchmark database of a given size.
    #[command(hide = true)]
    BenchSeed(BenchSeedArgs),
    /// (Used by `bench`.) The load generator: a spec on stdin, outcomes on stdout.
    #[command(hide = true)]
    BenchClient,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A database to benchmark (repeatable). Each size gets its own: the SQLite
    /// file with `-<renewals>` before `.db`, or the PostgreSQL schema `bench_<renewals>`.
    /// Seeded data sets are reused by later runs.
    #[arg(
        long = "database-url",
        default_value = "sqlite://bench-data/bench.db?mode=rwc"
    )]
    pub database_urls: Vec<String>,
    /// Data-set sizes, in renewals (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub renewals: Vec<u64>,
    /// Concurrent keep-alive clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Seconds per main scenario (the others run half as long).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=600))]
    pub duration: u64,
    /// `setRenewalOwner` calls per second sent while the dashboard is read.
    #[arg(long, default_value_t = 200.0)]
    pub write_rate: f64,
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub output: PathBuf,
    /// Seed again even when a data set of the right size is there.
    #[arg(long)]
    pub reseed: bool,
    /// Seed of the data generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// "Today" for the data set and the server.
    #[arg(long, default_value_t = crate::bench::default_today())]
    pub today: NaiveDate,
}

#[derive(Debug, Args)]
pub struct BenchSeedArgs {
    /// The database as given to `bench`; the size picks the file or schema.
    #[arg(long)]
    pub database_url: String,
    #[arg(long)]
    pub renewals: u64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value_t = crate::bench::default_today())]
    pub today: NaiveDate,
    #[arg(long)]
    pub reseed: bool,
}

/// The database when none is named: a SQLite file in the working directory,
/// created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://renewals.db?mode=rwc";

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://file.db?mode=rwc` or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "RENEWALS_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// Seed demo data into an empty database, create a token for `northwind`,
    /// and prefill GraphiQL with it.
    #[arg(long)]
    pub demo: bool,
    /// Pretend today is this date (YYYY-MM-DD, UTC); defaults to the real date.
    #[arg(long, env = "RENEWALS_TODAY", value_parser = api_date)]
    pub today: Option<NaiveDate>,
    /// Query-cost points a partner's bucket holds (its burst). At least the
    /// highest query cost, 25000.
    #[arg(long, env = "RENEWALS_RATE_LIMIT_CAPACITY", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(25_000..))]
    pub rate_limit_capacity: u64,
    /// Query-cost points restored per second to each partner's bucket; 0 turns
    /// rate limiting off. At most 1,000,000: a bucket keeps its time to the
    /// microsecond, and faster a microsecond would be worth more than a point.
    #[arg(
        long,
        env = "RENEWALS_RATE_LIMIT_RESTORE_RATE",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(0..=1_000_000)
    )]
    pub rate_limit_restore_rate: u64,
    /// Connections to PostgreSQL at most; each request holds one while it
    /// runs, so this many requests use the database at once.
    #[arg(long, env = "RENEWALS_PG_CONNECTIONS", default_value_t = crate::store::PG_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub pg_connections: u32,
    /// Seconds a request may take before it is answered with 503.
    #[arg(long, env = "RENEWALS_REQUEST_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// Seconds a connection may take to send a request's headers, and may
    /// stay idle between requests, before it is closed.
    #[arg(long, env = "RENEWALS_HEADER_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds to wait at start for a PostgreSQL database that cannot be
    /// reached yet, trying again meanwhile; 0 gives up after the first try.
    #[arg(long, env = "RENEWALS_DATABASE_WAIT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub database_wait: u64,
    /// Seconds a stopping server goes on serving, `/ready` answering 503,
    /// before it closes its listener: time for a load balancer to stop
    /// sending it requests.
    #[arg(long, env = "RENEWALS_SHUTDOWN_DELAY", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub shutdown_delay: u64,
    /// Origins whose browser pages may call the API (CORS), comma-separated:
    /// `https://dashboard.example.com`, or `*` for any. None by default:
    /// GraphiQL is on the API's own origin, and clients outside a browser
    /// need no permission.
    #[arg(
        long = "cors-origin",
        env = "RENEWALS_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<crate::http::CorsOrigin>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Customers per partner.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub customers: u32,
    /// Seed of the random generator; the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Renewal dates are spread over the 150 days after this date (default: today).
    #[arg(long, env = "RENEWALS_TODAY", value_parser = api_date)]
    pub today: Option<NaiveDate>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a partner and print it (alone) on stdout.
    Create {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// A label for the token, shown in history as the actor (1 to 100
        /// characters, no control characters).
        #[arg(long, default_value = "cli", value_parser = token_label)]
        name: String,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Only this partner's tokens.
        #[arg(long)]
        partner: Option<String>,
    },
    /// Revoke a token by its id; it stops working at once.
    Revoke {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The token id, as shown by `token list`.
        id: i64,
    },
}

/// "Today" as the rules can take it: `YYYY-MM-DD`, at least 45 days after
/// the first date there is and 120 days before the last, so that a visible
/// renewal's deadline and the days ahead are dates too (`Date` is years
/// 0001–9999: on 0001-01-01 deadlines fell in year 0000).
fn api_date(text: &str) -> Result<NaiveDate, String> {
    let date: NaiveDate = text
        .parse()
        .map_err(|_| format!("`{text}` is not a date: give YYYY-MM-DD"))?;
    let first = FIRST_DATE + Days::new(DEADLINE_LEAD_DAYS);
    let last = LAST_DATE - Days::new(VISIBILITY_HORIZON_DAYS);
    if !(first..=last).contains(&date) {
        return Err(format!(
            "`{text}` is out of range: give a date from {first} to {last} (years 0001 to 9999, \
             with a renewal's deadline before it and the 120 days after it)"
        ));
    }
    Ok(date)
}

/// A token's label: it becomes the actor of every event the token writes.
fn token_label(text: &str) -> Result<String, String> {
    let label = text.trim();
    if label.is_empty() || label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err("give a label of 1 to 100 characters, without control characters".to_owned());
    }
    Ok(label.to_owned())
}

/// Which date counts as "today" for the rules.
#[derive(Clone, Copy, Debug)]
pub enum Today {
    /// The server's current UTC date.
    System,
    /// A fixed date, for demos and tests.
    Fixed(NaiveDate),
}

impl Today {
    pub fn from_option(date: Option<NaiveDate>) -> Self {
        date.map_or(Self::System, Self::Fixed)
    }

    pub fn get(self) -> NaiveDate {
        match self {
            Self::System => chrono::Utc::now().date_naive(),
            Self::Fixed(date) => date,
        }
    }
}
