use clap::Parser;

/// mimalloc instead of the system allocator: the server allocates a lot per
/// request (GraphQL values, rows), and glibc malloc cost ~12 % of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(log_filter())
        .init();
    match renewals::cli::run(renewals::config::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` (`target=level` directives, comma-separated), `info` without it.
///
/// A filter by target and level only: `EnvFilter`'s span and field directives
/// cost every request. sqlx enters the request's span each time it polls a
/// statement's rows (a few hundred times per dashboard request), and
/// `EnvFilter` looked each entry up (`cares_about_span`): 1.3 % of the
/// server's CPU, sampled with `perf` under the benchmark's load.
fn log_filter() -> Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}
