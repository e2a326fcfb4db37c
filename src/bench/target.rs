//! Where each data-set size lives: a SQLite file of its own, or a PostgreSQL
//! schema of its own, so that seeded data sets are reused across runs.

use std::path::PathBuf;

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend};

#[derive(Clone, Debug)]
pub struct Target {
    pub backend: DatabaseBackend,
    /// The URL the server and the loader connect to.
    pub url: String,
    /// The URL as given, for messages and pgbench.
    pub base_url: String,
    /// SQLite: the file. PostgreSQL: the schema.
    pub place: Place,
}

#[derive(Clone, Debug)]
pub enum Place {
    File(PathBuf),
    Schema(String),
}

impl Target {
    /// The database of `renewals` renewals under `url`: for SQLite the file named
    /// with `-<renewals>` before `.db`, for PostgreSQL the schema `bench_<renewals>`.
    pub fn new(url: &str, renewals: u64) -> anyhow::Result<Self> {
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, "mode=rwc"));
            let stem = path.strip_suffix(".db").unwrap_or(path);
            let file = format!("{stem}-{renewals}.db");
            Ok(Self {
                backend: DatabaseBackend::Sqlite,
                url: format!("sqlite://{file}?{query}"),
                base_url: url.to_owned(),
                place: Place::File(PathBuf::from(file)),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let schema = format!("bench_{renewals}");
            let separator = if url.contains('?') { '&' } else { '?' };
            Ok(Self {
                backend: DatabaseBackend::Postgres,
                url: format!("{url}{separator}options=-c%20search_path%3D{schema}"),
                base_url: url.to_owned(),
                place: Place::Schema(schema),
            })
        } else {
            bail!("--database-url must be a sqlite:// or postgres:// URL, not {url}")
        }
    }

    pub fn label(&self) -> &'static str {
        match self.backend {
            DatabaseBackend::Sqlite => "SQLite",
            _ => "PostgreSQL",
        }
    }

    /// Removes the data set, if any, and prepares an empty place for it.
    pub async fn reset(&self) -> anyhow::Result<()> {
        match &self.place {
            Place::File(file) => {
                for suffix in ["", "-wal", "-shm"] {
                    let path = PathBuf::from(format!("{}{suffix}", file.display()));
                    if path.exists() {
                        std::fs::remove_file(&path)
                            .with_context(|| format!("removing {}", path.display()))?;
                    }
                }
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
            }
            Place::Schema(schema) => {
                let db = connect_quietly(&self.base_url).await?;
                db.execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .await?;
                db.close().await?;
            }
        }
        Ok(())
    }

    /// Whether the place exists at all (a file, a schema).
    pub async fn exists(&self) -> anyhow::Result<bool> {
        Ok(match &self.place {
            Place::File(file) => file.exists(),
            Place::Schema(schema) => {
                let db = connect_quietly(&self.base_url).await?;
                let row = db
                    .query_one_raw(sea_orm::Statement::from_string(
                        DatabaseBackend::Postgres,
                        format!(
                            "SELECT 1 AS found FROM information_schema.schemata WHERE schema_name = '{schema}'"
                        ),
                    ))
                    .await?;
                db.close().await?;
                row.is_some()
            }
        })
    }
}

async fn connect_quietly(url: &str) -> Result<sea_orm::DatabaseConnection, sea_orm::DbErr> {
    let mut options = sea_orm::ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_size_gets_its_own_file_or_schema() {
        let t = Target::new("sqlite://bench-data/bench.db?mode=rwc", 10_000).unwrap();
        assert_eq!(t.url, "sqlite://bench-data/bench-10000.db?mode=rwc");
        let t = Target::new("postgres://postgres@127.0.0.1/b", 100).unwrap();
        assert_eq!(
            t.url,
            "postgres://postgres@127.0.0.1/b?options=-c%20search_path%3Dbench_100"
        );
        assert!(Target::new("mysql://x", 1).is_err());
    }
}
