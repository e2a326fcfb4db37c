//! The PostgreSQL floor: the statements of one dashboard request (captured
//! from the store, values inlined) run directly by `pgbench` with as many
//! clients, as one pgbench transaction per dashboard request. The server's
//! dashboard throughput is compared with that.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::{
    probe,
    target::{Place, Target},
};

#[derive(Clone, Debug)]
pub struct Floor {
    /// pgbench transactions (= dashboard requests' statements) per second.
    pub tps: f64,
    pub latency_ms: f64,
    pub statements: usize,
    pub script: PathBuf,
    /// CPU time per transaction of pgbench's process.
    pub pgbench_cpu_ms: f64,
    /// CPU time per transaction of its PostgreSQL backends, if the postmaster
    /// could be read.
    pub backends_cpu_ms: Option<f64>,
}

/// How long the postmaster may take to reap pgbench's backends once pgbench
/// has disconnected.
const REAPING: std::time::Duration = std::time::Duration::from_millis(300);

fn pgbench_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("pgbench"))
        .find(|p| p.exists())
    {
        return Ok(path);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.flatten()
                .map(|d| d.path().join("bin/pgbench"))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .context("pgbench not found (PATH or /usr/lib/postgresql/*/bin)")
}

/// Runs the statements with pgbench: `clients` connections for `seconds`.
/// Their CPU is read as that of children reaped: pgbench's by this process,
/// its backends' by the `postmaster` (other children of the postmaster that
/// exit meanwhile, such as autovacuum workers, count too).
pub async fn floor(
    target: &Target,
    statements: &[String],
    clients: usize,
    seconds: u64,
    postmaster: Option<i32>,
) -> anyhow::Result<Floor> {
    let Place::Schema(schema) = &target.place else {
        bail!("the pgbench floor is for PostgreSQL");
    };
    if statements.is_empty() {
        bail!("no statements captured for pgbench");
    }
    let script = PathBuf::from(format!("bench-data/pgbench-dashboard-{schema}.sql"));
    if let Some(dir) = script.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text: String = statements
        .iter()
        .map(|s| format!("{};\n", s.replace('\n', " ").trim_end_matches(';')))
        .collect();
    std::fs::write(&script, text).with_context(|| format!("writing {}", script.display()))?;
    eprintln!("  pgbench floor ({} statements) ...", statements.len());
    let postmaster = postmaster.map(|pid| pid.to_string());
    let backends_cpu = || {
        postmaster
            .as_deref()
            .and_then(probe::waited_children_cpu_time)
    };
    let backends_before = backends_cpu();
    let pgbench_before = probe::waited_children_cpu_time("self").unwrap_or_default();
    let output = tokio::process::Command::new(pgbench_binary()?)
        .args(["-n", "-M", "prepared", "-c"])
        .arg(clients.to_string())
        .arg("-j")
        .arg(clients.to_string())
        .arg("-T")
        .arg(seconds.to_string())
        .arg("-f")
        .arg(&script)
        .arg(&target.base_url)
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .output()
        .await
        .context("running pgbench")?;
    let pgbench_cpu = probe::waited_children_cpu_time("self")
        .unwrap_or_default()
        .saturating_sub(pgbench_before);
    tokio::time::sleep(REAPING).await;
    let backends_cpu = backends_cpu()
        .zip(backends_before)
        .map(|(after, before)| after.saturating_sub(before));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let number_after = |prefix: &str| {
        stdout.lines().find_map(|line| {
            line.trim()
                .strip_prefix(prefix)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
    };
    let transactions = number_after("number of transactions actually processed: ")
        .context("no transaction count in pgbench's output")?
        .max(1.0);
    let per_transaction = |cpu: std::time::Duration| cpu.as_secs_f64() * 1000.0 / transactions;
    Ok(Floor {
        tps: number_after("tps = ").context("no tps in pgbench's output")?,
        latency_ms: number_after("latency average = ").unwrap_or_default(),
        statements: statements.len(),
        script,
        pgbench_cpu_ms: per_transaction(pgbench_cpu),
        backends_cpu_ms: backends_cpu.map(per_transaction),
    })
}
