//! Instructions per dashboard request, counted by callgrind (valgrind).
//!
//! CPU time per request moves by tens of percent between runs on a virtual
//! machine, and by twice as much between hosts of the same description. The
//! number of instructions the server executes for a request does not: it is
//! the figure to compare runs, and changes, by. The server runs as a child
//! process under callgrind (`renewals serve` on the same database); after a
//! few warm-up requests its counters are zeroed, [`MEASURED_REQUESTS`]
//! dashboard requests are sent one after the other, and the counters dumped.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::Path,
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use tokio::process::{Child, Command};

use super::client;
use crate::ratelimit::RateLimit;

/// Requests before the counters are zeroed: caches, pools, and the prepared
/// statements of every pooled connection, which take the requests' statements
/// in turn. With 5, statements still prepared while counting moved the count
/// by 1–2 % from run to run; with 40, by 0.2 %.
const WARM_UP_REQUESTS: u64 = 40;
/// Requests counted.
pub const MEASURED_REQUESTS: u64 = 20;
/// How long the server may take to start under callgrind (about 50× slower).
const STARTUP: Duration = Duration::from_secs(180);

/// Whether valgrind's callgrind and `callgrind_control` can be run here.
pub async fn available() -> bool {
    let runs = |program: &'static str, arg: &'static str| async move {
        Command::new(program)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|status| status.success())
    };
    runs("valgrind", "--version").await && runs("callgrind_control", "--version").await
}

/// Instructions the server executes per dashboard request (`query` with
/// `variables`, sent with `token`) on `database_url`.
pub async fn per_request(
    database_url: &str,
    today: NaiveDate,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> anyhow::Result<u64> {
    let addr = free_port()?;
    let dir = std::env::temp_dir().join(format!(
        "renewals-callgrind-{}-{}",
        std::process::id(),
        addr.port()
    ));
    std::fs::create_dir_all(&dir).context("a directory for callgrind's output")?;
    let out = dir.join("callgrind.out");
    let exe = std::env::current_exe().context("locating the renewals binary")?;
    let mut server = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["serve", "--database-url", database_url])
        .args(["--bind", &addr.to_string(), "--today", &today.to_string()])
        .args(rate_limit_args(super::UNEXHAUSTIBLE_RATE_LIMIT))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the server under valgrind")?;
    let pid = server.id().context("the server's process id")?.to_string();
    let counted = async {
        wait_until_serving(&mut server, addr).await?;
        for _ in 0..WARM_UP_REQUESTS {
            client::request(addr, token, query, variables.clone()).await?;
        }
        callgrind_control(&["-z", &pid]).await?;
        for _ in 0..MEASURED_REQUESTS {
            client::request(addr, token, query, variables.clone()).await?;
        }
        callgrind_control(&["-d", &pid]).await?;
        total_instructions(&dir.join("callgrind.out.1"))
    }
    .await;
    let _ = server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(counted? / MEASURED_REQUESTS)
}

/// A loopback address with a port nobody listens on (for a moment).
fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?)
}

async fn wait_until_serving(server: &mut Child, addr: SocketAddr) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    while started.elapsed() < STARTUP {
        if let Some(status) = server.try_wait()? {
            bail!("the server under valgrind exited: {status}");
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("the server under valgrind did not start within {STARTUP:?}")
}

async fn callgrind_control(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("callgrind_control")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .await
        .context("running callgrind_control")?;
    if !status.success() {
        bail!("callgrind_control {args:?} failed: {status}");
    }
    Ok(())
}

/// The instruction total of a callgrind dump (its `summary:` or `totals:` line).
fn total_instructions(dump: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(dump)
        .with_context(|| format!("reading the callgrind dump {}", dump.display()))?;
    parse_total(&text).with_context(|| format!("no total in {}", dump.display()))
}

fn parse_total(dump: &str) -> Option<u64> {
    dump.lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// `renewals serve`'s flags for `limit`.
fn rate_limit_args(limit: RateLimit) -> [String; 4] {
    [
        "--rate-limit-capacity".to_owned(),
        limit.capacity.to_string(),
        "--rate-limit-restore-rate".to_owned(),
        limit.restore_rate.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_total_of_a_callgrind_dump() {
        let dump = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 132029239\n\nfn=(1) main\n";
        assert_eq!(super::parse_total(dump), Some(132_029_239));
        assert_eq!(super::parse_total("totals: 42 7\n"), Some(42));
        assert_eq!(super::parse_total("events: Ir\n"), None);
    }

    #[test]
    fn a_free_port_is_on_loopback() {
        let addr = super::free_port().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() > 0);
    }
}
