use std::io::IsTerminal;

use clap::Parser;

/// mimalloc instead of the system allocator: the server allocates a lot per
/// request (GraphQL values, rows), and glibc malloc cost ~12 % of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Colours for a terminal only, unless `NO_COLOR` is set: not in a file or a pipe.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (filter, unreadable) = log_filter();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour),
        )
        .with(filter)
        .init();
    if let Some(error) = unreadable {
        tracing::warn!(%error, "RUST_LOG cannot be read; logging at info");
    }
    match renewals::cli::run(renewals::config::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", causes(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated, each once: a database error
/// tells its driver's error, which is also its cause.
fn causes(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let message = cause.to_string();
        if text.ends_with(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// `RUST_LOG` (`target=level` directives, comma-separated), `info` without it.
///
/// A filter by target and level only: `EnvFilter`'s span and field directives
/// cost every request. sqlx enters the request's span each time it polls a
/// statement's rows (a few hundred times per dashboard request), and
/// `EnvFilter` looked each entry up (`cares_about_span`): 1.3 % of the
/// server's CPU, sampled with `perf` under the benchmark's load.
///
/// A `RUST_LOG` that cannot be read gives `info`, and why, to be logged.
fn log_filter() -> (Targets, Option<String>) {
    let info = || Targets::new().with_default(tracing::Level::INFO);
    match std::env::var("RUST_LOG") {
        Err(_) => (info(), None),
        Ok(directives) => match directives.parse() {
            Ok(filter) => (filter, None),
            Err(error) => (info(), Some(format!("{error} in `{directives}`"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::{error::Error, fmt};

    /// An error that tells its cause, as a database error tells its driver's.
    #[derive(Debug)]
    struct Telling(std::io::Error);

    impl fmt::Display for Telling {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "Connection Error: {}", self.0)
        }
    }

    impl Error for Telling {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_told_once() {
        let refused = || std::io::Error::other("connection refused");
        let err = anyhow::Error::new(Telling(refused())).context("cannot open the database");
        assert_eq!(
            super::causes(&err),
            "cannot open the database: Connection Error: connection refused"
        );
        let chained = anyhow::Error::new(refused())
            .context("first")
            .context("second");
        assert_eq!(super::causes(&chained), "second: first: connection refused");
    }
}
