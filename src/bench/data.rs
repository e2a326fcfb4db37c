//! The benchmark's data set: deterministic, generated in chunks and bulk-loaded,
//! so that a million renewals load in a couple of minutes: with multi-row
//! `INSERT`s of literal values in large transactions on SQLite, with `COPY` on
//! PostgreSQL (where parsing those `INSERT`s took six times as long).
//!
//! Five partners of very different sizes (50 %, 25 %, 15 %, 7 % and 3 % of the
//! customers) share the database. Each customer has one renewal, dated within
//! the year around "today" (contracts renew yearly), with one to five products
//! (three on average). Customer `i` gets id `i + 1`, and so does its renewal, so
//! nothing is read back while loading. `renewal_tally` and `renewal_owner_tally`
//! are kept by their triggers on SQLite, and rebuilt once at the end on
//! PostgreSQL; SQLite's search index is built once at the end.

use std::{fmt::Write as _, time::Instant};

use anyhow::Context;
use chrono::{Days, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
    TransactionTrait, sqlx::postgres::PgPoolCopyExt,
};

use crate::{
    domain::{OwnerParty, RenewalStatus, search},
    seed::{FIRST_WORDS, PRODUCTS, SECOND_WORDS, rng::SplitMix64},
};

/// The partners: slug, name, share of the customers in per cent, users.
pub const PARTNERS: [(&str, &str, u64, usize); 5] = [
    ("atlas", "Atlas Growth Partners", 50, 12),
    ("beacon", "Beacon Digital", 25, 8),
    ("cobalt", "Cobalt Inbound", 15, 6),
    ("dune", "Dune Marketing Co.", 7, 4),
    ("ember", "Ember Studio", 3, 3),
];

/// The partner whose dashboard is measured: the largest.
pub const DASHBOARD_PARTNER: &str = "atlas";
/// The partner whose customers `endServices` is measured on: the smallest.
pub const SMALL_PARTNER: &str = "ember";

/// Renewal dates lie in `today - DAYS_BEFORE ..= today + DAYS_AFTER`.
const DAYS_BEFORE: u64 = 30;
const DAYS_AFTER: u64 = 334;

/// Customers per transaction, and rows per `INSERT`.
const CHUNK: u64 = 20_000;
const ROWS_PER_INSERT: usize = 500;

const MANAGERS: [(&str, &str); 5] = [
    ("Jordan Reyes", "jreyes@hubspot.example"),
    ("Priya Natarajan", "pnatarajan@hubspot.example"),
    ("Lukas Becker", "lbecker@hubspot.example"),
    ("Amélie Laurent", "alaurent@hubspot.example"),
    ("Kenji Watanabe", "kwatanabe@hubspot.example"),
];

/// The id of partner `p` (0-based) and of its `u`-th user.
fn partner_id(p: usize) -> i64 {
    p as i64 + 1
}

fn user_id(p: usize, u: usize) -> i64 {
    let before: usize = PARTNERS[..p].iter().map(|(_, _, _, users)| users).sum();
    (before + u) as i64 + 1
}

/// A value of a seeded row.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Int(i64),
    Text(String),
    Null,
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

impl Value {
    /// Appends the value as a SQL literal.
    fn write_sql(&self, out: &mut String) {
        match self {
            Self::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Self::Text(text) => {
                out.push('\'');
                out.push_str(&text.replace('\'', "''"));
                out.push('\'');
            }
            Self::Null => out.push_str("NULL"),
        }
    }

    /// Appends the value as a field of PostgreSQL's `COPY` text format.
    fn write_copy(&self, out: &mut String) {
        match self {
            Self::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Self::Text(text) => {
                for c in text.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        c => out.push(c),
                    }
                }
            }
            Self::Null => out.push_str("\\N"),
        }
    }
}

/// The rows of one table: multi-row `INSERT`s on SQLite, `COPY` on PostgreSQL.
struct Rows {
    table: &'static str,
    columns: &'static str,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    fn new(table: &'static str, columns: &'static str) -> Self {
        Self {
            table,
            columns,
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<Value>) {
        self.rows.push(row);
    }

    /// `INSERT` statements of [`ROWS_PER_INSERT`] rows each.
    fn inserts(&self) -> Vec<String> {
        self.rows
            .chunks(ROWS_PER_INSERT)
            .map(|rows| {
                let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, self.columns);
                for (i, row) in rows.iter().enumerate() {
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push('(');
                    for (j, value) in row.iter().enumerate() {
                        if j > 0 {
                            sql.push(',');
                        }
                        value.write_sql(&mut sql);
                    }
                    sql.push(')');
                }
                sql
            })
            .collect()
    }

    /// The `COPY … FROM STDIN` statement, and its data in `COPY`'s text format.
    fn copy(&self) -> (String, String) {
        let statement = format!("COPY {} ({}) FROM STDIN", self.table, self.columns);
        let mut data = String::new();
        for row in &self.rows {
            for (j, value) in row.iter().enumerate() {
                if j > 0 {
                    data.push('\t');
                }
                value.write_copy(&mut data);
            }
            data.push('\n');
        }
        (statement, data)
    }
}

/// A customer's first draws: its partner, renewal manager and owner, and the
/// generator for the rest. One generator per customer, so that any chunk can
/// be generated on its own.
struct Drawn {
    rng: SplitMix64,
    /// The partner's index in [`PARTNERS`].
    p: usize,
    manager: (&'static str, &'static str),
    owner: Option<(OwnerParty, Option<i64>)>,
}

impl Drawn {
    fn new(seed: u64, i: u64) -> Self {
        let mut rng = SplitMix64::new(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut pick = rng.below(100);
        let p = PARTNERS
            .iter()
            .position(|(_, _, share, _)| {
                let hit = pick < *share;
                pick = pick.saturating_sub(*share);
                hit
            })
            .unwrap_or(0);
        let users = PARTNERS[p].3;
        let manager = MANAGERS[rng.below(5) as usize];
        let owner = match rng.below(8) {
            0 | 1 => Some((
                OwnerParty::Partner,
                Some(user_id(p, rng.below(users as u64) as usize)),
            )),
            2 => Some((
                OwnerParty::Hubspot,
                Some(user_id(p, rng.below(users as u64) as usize)),
            )),
            3 => Some((OwnerParty::Hubspot, None)),
            _ => None,
        };
        Self {
            rng,
            p,
            manager,
            owner,
        }
    }
}

/// The owner override customer `id` was seeded with: party and notified user.
pub fn seeded_owner(seed: u64, id: i64) -> Option<(OwnerParty, Option<i64>)> {
    let index = u64::try_from(id - 1).ok()?;
    Drawn::new(seed, index).owner
}

/// The rows of customers `range`: customers, renewals and product renewals.
/// `next_product_renewal` is the id of the next product renewal.
fn chunk(
    seed: u64,
    today: NaiveDate,
    range: std::ops::Range<u64>,
    next_product_renewal: &mut i64,
) -> [Rows; 3] {
    let mut customers = Rows::new(
        "customer",
        "id, partner_id, domain, name, name_folded, account_url, manager_name, manager_email, \
         owner_party, owner_notify_user_id, services_ended_at, services_end_reason",
    );
    let mut renewals = Rows::new(
        "renewal",
        "id, partner_id, customer_id, status, renewal_date, currency, options_url, \
         current_mrr_minor, renewal_mrr_minor, mrr_change_minor",
    );
    let mut products = Rows::new(
        "product_renewal",
        "id, renewal_id, product_id, quantity, current_mrr_minor, renewal_mrr_minor",
    );
    let first_date = today - Days::new(DAYS_BEFORE);
    for i in range {
        let Drawn {
            mut rng,
            p,
            manager: (manager, manager_email),
            owner,
        } = Drawn::new(seed, i);
        let id = i as i64 + 1;
        let first = FIRST_WORDS[(i % FIRST_WORDS.len() as u64) as usize];
        let second =
            SECOND_WORDS[((i / FIRST_WORDS.len() as u64) % SECOND_WORDS.len() as u64) as usize];
        let domain = format!(
            "{}{}-{i}.example",
            first.to_lowercase(),
            second.to_lowercase()
        );
        let name = format!("{first} {second} {i}");
        let ended = rng.below(20) == 0;
        customers.push(vec![
            id.into(),
            partner_id(p).into(),
            domain.as_str().into(),
            name.as_str().into(),
            search::fold(&name).into(),
            format!("https://app.hubspot.example/accounts/{domain}").into(),
            manager.into(),
            manager_email.into(),
            owner.map(|(party, _)| party.as_str()).into(),
            owner.and_then(|(_, user)| user).into(),
            ended.then_some("2026-01-15T09:30:00+00:00").into(),
            ended.then_some("Customer went in-house").into(),
        ]);

        let status = match rng.below(20) {
            0..=10 => RenewalStatus::Pending,
            11..=13 => RenewalStatus::Confirmed,
            14..=16 => RenewalStatus::Renewed,
            _ => RenewalStatus::CancellationRequested,
        };
        let (currency, minor_per_unit, factor) = match rng.below(10) {
            0..=5 => ("USD", 100, 1),
            6 | 7 => ("EUR", 100, 1),
            8 => ("GBP", 100, 1),
            _ => ("JPY", 1, 150),
        };
        let date = first_date + Days::new(rng.below(DAYS_BEFORE + DAYS_AFTER + 1));
        // Three products on average: 1 to 5.
        let count = 1 + rng.below(5) as usize;
        let mut picked: Vec<usize> = Vec::with_capacity(count);
        while picked.len() < count {
            let product = rng.below(PRODUCTS.len() as u64) as usize;
            if !picked.contains(&product) {
                picked.push(product);
            }
        }
        let (mut current_total, mut renewal_total) = (0i64, 0i64);
        for product in picked {
            let quantity = 1 + rng.below(if PRODUCTS[product].per_seat { 25 } else { 2 }) as i64;
            let current = PRODUCTS[product].monthly_price * factor * minor_per_unit * quantity;
            let change = rng.below(51) as i64 - 20;
            let renewed = current + current * change / 100 / minor_per_unit * minor_per_unit;
            current_total += current;
            renewal_total += renewed;
            products.push(vec![
                (*next_product_renewal).into(),
                id.into(),
                (product as i64 + 1).into(),
                quantity.into(),
                current.into(),
                renewed.into(),
            ]);
            *next_product_renewal += 1;
        }
        renewals.push(vec![
            id.into(),
            partner_id(p).into(),
            id.into(),
            status.as_str().into(),
            date.to_string().into(),
            currency.into(),
            format!("https://app.hubspot.example/renewals/{domain}/options").into(),
            current_total.into(),
            renewal_total.into(),
            (renewal_total - current_total).into(),
        ]);
    }
    [customers, renewals, products]
}

/// The fixed rows: the catalogue, the partners and their users.
fn fixed_rows() -> Vec<String> {
    let mut products = Rows::new("product", "id, sku, name");
    for (i, p) in PRODUCTS.iter().enumerate() {
        products.push(vec![(i as i64 + 1).into(), p.sku.into(), p.name.into()]);
    }
    let mut partners = Rows::new("partner", "id, slug, name, default_owner_party");
    let mut users = Rows::new("partner_user", "id, partner_id, name, email");
    // The default notify user can only be set once the users exist.
    let mut defaults = Vec::new();
    for (p, (slug, name, _, count)) in PARTNERS.iter().enumerate() {
        // Every other partner owns its renewals by default, notifying its first user.
        let party = if p % 2 == 0 {
            OwnerParty::Hubspot
        } else {
            defaults.push(format!(
                "UPDATE partner SET default_notify_user_id = {} WHERE id = {}",
                user_id(p, 0),
                partner_id(p)
            ));
            OwnerParty::Partner
        };
        partners.push(vec![
            partner_id(p).into(),
            (*slug).into(),
            (*name).into(),
            party.as_str().into(),
        ]);
        for u in 0..*count {
            users.push(vec![
                user_id(p, u).into(),
                partner_id(p).into(),
                format!("User {} of {name}", u + 1).into(),
                format!("user{}@{slug}.example", u + 1).into(),
            ]);
        }
    }
    let mut all: Vec<String> = [products, partners, users]
        .iter()
        .flat_map(Rows::inserts)
        .collect();
    all.extend(defaults);
    all
}

/// A connection for loading: one connection, durability relaxed while loading.
pub async fn loader_connection(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await?;
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            db.execute_unprepared(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; \
                 PRAGMA cache_size = -1000000; PRAGMA foreign_keys = OFF",
            )
            .await?;
        }
        _ => {
            db.execute_unprepared("SET synchronous_commit = off")
                .await?;
        }
    }
    Ok(db)
}

/// Loads `rows` into PostgreSQL with `COPY`, through the loader's pool of one
/// connection ([`loader_connection`]): the one `load` turned triggers off on.
async fn copy(db: &DatabaseConnection, rows: &Rows) -> anyhow::Result<()> {
    let (statement, data) = rows.copy();
    let mut copy = db
        .get_postgres_connection_pool()
        .copy_in_raw(&statement)
        .await
        .with_context(|| statement.clone())?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Loads `renewals` customers (one renewal each) into an empty, migrated database.
pub async fn load(
    db: &DatabaseConnection,
    renewals: u64,
    seed: u64,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar = ProgressBar::new(renewals);
    bar.set_style(
        ProgressStyle::with_template(
            "seeding {pos:>8}/{len} renewals [{bar:40}] {per_sec:>12} eta {eta}",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    // PostgreSQL: no triggers or foreign-key checks while loading (the data is
    // consistent by construction), and secondary indexes built once at the end.
    let deferred_indexes = if postgres {
        db.execute_unprepared("SET session_replication_role = replica")
            .await?;
        let rows = db
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT indexname, indexdef FROM pg_indexes \
                 WHERE schemaname = current_schema() AND indexdef NOT LIKE 'CREATE UNIQUE%' \
                 AND tablename IN ('customer', 'renewal', 'product_renewal')",
            ))
            .await?;
        let mut definitions = Vec::new();
        for row in rows {
            let name: String = row.try_get("", "indexname")?;
            definitions.push(row.try_get::<String>("", "indexdef")?);
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        definitions
    } else {
        // SQLite: customers are indexed for search once, at the end (a fifth
        // of the loading time when each was indexed as it came).
        db.execute_unprepared("DROP TRIGGER customer_search_insert")
            .await?;
        Vec::new()
    };
    let txn = db.begin().await?;
    for statement in fixed_rows() {
        txn.execute_unprepared(&statement).await?;
    }
    txn.commit().await?;
    let mut next_product_renewal = 1i64;
    let mut start = 0u64;
    while start < renewals {
        let end = (start + CHUNK).min(renewals);
        let tables = chunk(seed, today, start..end, &mut next_product_renewal);
        if postgres {
            for rows in &tables {
                copy(db, rows).await?;
            }
        } else {
            let txn = db.begin().await?;
            for statement in tables.iter().flat_map(Rows::inserts) {
                txn.execute_unprepared(&statement).await?;
            }
            txn.commit().await?;
        }
        bar.set_position(end);
        start = end;
    }
    bar.finish_and_clear();
    let loaded = started.elapsed();
    bar.println(format!(
        "seeded {renewals} renewals ({} product renewals) in {:.1} s; analysing",
        next_product_renewal - 1,
        loaded.as_secs_f64()
    ));
    if postgres {
        db.execute_unprepared("SET maintenance_work_mem = '512MB'")
            .await?;
        for definition in deferred_indexes {
            db.execute_unprepared(&definition).await?;
        }
        db.execute_unprepared("DELETE FROM renewal_tally; DELETE FROM renewal_owner_tally")
            .await?;
        db.execute_unprepared(migration::REFILL_RENEWAL_TALLY)
            .await?;
        db.execute_unprepared(migration::REFILL_RENEWAL_OWNER_TALLY)
            .await?;
        db.execute_unprepared("SET session_replication_role = origin")
            .await?;
        // Explicit ids do not advance identity sequences.
        for table in [
            "product",
            "partner",
            "partner_user",
            "customer",
            "renewal",
            "product_renewal",
        ] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            ))
            .await?;
        }
        db.execute_unprepared(
            "VACUUM ANALYZE product, partner, partner_user, customer, renewal, product_renewal",
        )
        .await?;
        // Write the loaded pages out now rather than during the measurements
        // (needs the privilege; without it the next checkpoint comes when it comes).
        let _ = db.execute_unprepared("CHECKPOINT").await;
    } else {
        db.execute_unprepared(migration::CUSTOMER_SEARCH_INSERT_TRIGGER)
            .await?;
        db.execute_unprepared(migration::REBUILD_CUSTOMER_SEARCH)
            .await?;
        db.execute_unprepared("ANALYZE").await?;
    }
    eprintln!(
        "seeded {renewals} renewals in {:.1} s (analysed after {:.1} s)",
        started.elapsed().as_secs_f64(),
        loaded.as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
    }

    #[test]
    fn chunks_are_deterministic_and_independent() {
        let mut a = 1;
        let whole = chunk(7, today(), 0..1200, &mut a);
        let mut b = 1;
        let mut parts = chunk(7, today(), 0..600, &mut b);
        for (part, rest) in parts.iter_mut().zip(chunk(7, today(), 600..1200, &mut b)) {
            part.rows.extend(rest.rows);
        }
        // The same rows and product renewals' ids, whatever the chunking.
        assert_eq!(a, b);
        for (part, whole) in parts.iter().zip(&whole) {
            assert_eq!(part.rows, whole.rows, "{}", whole.table);
        }
        let mut c = 1;
        let again = chunk(7, today(), 0..1200, &mut c);
        assert!(again.iter().zip(&whole).all(|(x, y)| x.rows == y.rows));
    }

    #[test]
    fn seeded_owners_are_the_owners_written() {
        let mut next = 1;
        let [customers, ..] = chunk(7, today(), 0..300, &mut next);
        let column = |name: &str| {
            customers
                .columns
                .split(", ")
                .position(|c| c == name)
                .unwrap()
        };
        let (id, party, user) = (
            column("id"),
            column("owner_party"),
            column("owner_notify_user_id"),
        );
        let mut overrides = 0;
        for row in &customers.rows {
            let Value::Int(customer) = row[id] else {
                panic!("id {:?}", row[id])
            };
            let expected = match seeded_owner(7, customer) {
                Some((party, user)) => {
                    overrides += 1;
                    (party.as_str().into(), user.into())
                }
                None => (Value::Null, Value::Null),
            };
            assert_eq!(
                (row[party].clone(), row[user].clone()),
                expected,
                "{customer}"
            );
        }
        assert!(overrides > 50, "{overrides}");
    }

    #[test]
    fn rows_are_written_as_sql_literals_and_as_copy_text() {
        let mut rows = Rows::new("t", "a, b, c");
        rows.push(vec![1.into(), "it's".into(), Value::Null]);
        rows.push(vec![
            (-2).into(),
            "tab\there, back\\slash\nnew line\r".into(),
            Some("x").into(),
        ]);
        assert_eq!(
            rows.inserts(),
            ["INSERT INTO t (a, b, c) VALUES (1,'it''s',NULL),\
              (-2,'tab\there, back\\slash\nnew line\r','x')"]
        );
        let (statement, data) = rows.copy();
        assert_eq!(statement, "COPY t (a, b, c) FROM STDIN");
        assert_eq!(
            data,
            "1\tit's\t\\N\n-2\ttab\\there, back\\\\slash\\nnew line\\r\tx\n"
        );
        // A multi-row INSERT holds at most ROWS_PER_INSERT rows.
        let mut many = Rows::new("t", "a");
        for n in 0..=ROWS_PER_INSERT as i64 {
            many.push(vec![n.into()]);
        }
        assert_eq!(many.inserts().len(), 2);
    }

    #[test]
    fn partner_shares_are_very_different() {
        let shares: Vec<u64> = PARTNERS.iter().map(|p| p.2).collect();
        assert_eq!(shares.iter().sum::<u64>(), 100);
        assert!(shares[0] >= 10 * shares[4]);
    }
}
