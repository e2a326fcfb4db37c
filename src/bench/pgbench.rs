//! The PostgreSQL floor: the statements of one dashboard request (captured
//! from the store, values inlined) run directly by `pgbench` with as many
//! clients, as one pgbench transaction per dashboard request. The server's
//! dashboard throughput is compared with that.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::target::{Place, Target};

#[derive(Clone, Debug)]
pub struct Floor {
    /// pgbench transactions (= dashboard requests' statements) per second.
    pub tps: f64,
    pub latency_ms: f64,
    pub statements: usize,
    pub script: PathBuf,
}

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
pub async fn floor(
    target: &Target,
    statements: &[String],
    clients: usize,
    seconds: u64,
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
    Ok(Floor {
        tps: number_after("tps = ").context("no tps in pgbench's output")?,
        latency_ms: number_after("latency average = ").unwrap_or_default(),
        statements: statements.len(),
        script,
    })
}
