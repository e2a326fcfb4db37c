//! The storage layer as configured: SQLite in WAL mode, foreign keys that keep
//! tenants apart inside the database, checks that keep rows within the domain,
//! and the MRR invariant of the demo data.

use entity::{customer, partner, partner_user, renewal};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, Statement,
};

use std::time::{Duration, Instant};

use renewals::{
    app::{App, ServeConfig, Settings},
    config::Today,
    store::{Failure, Store, StoreOptions, classify, postgres_text_literal},
};

use crate::helpers::{Backend, TestApp, TestDb, db_tests};

/// The first value of the one row `sql` returns, as text (integers too).
async fn text_of(db: &DatabaseConnection, sql: String) -> String {
    let statement = Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
        .unwrap()
}

async fn sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    if app.store.backend() != DatabaseBackend::Sqlite {
        return;
    }
    let pragma = |name: &str| text_of(app.store.reader(), format!("PRAGMA {name}"));
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("busy_timeout").await, "5000");
    assert_eq!(pragma("foreign_keys").await, "1");
}

async fn foreign_keys_keep_each_partners_rows_together(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    let db = app.store.reader();
    let partner_id = |slug: &'static str| async move {
        partner::Entity::find()
            .filter(partner::Column::Slug.eq(slug))
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let (northwind, contoso) = (partner_id("northwind").await, partner_id("contoso").await);
    let contoso_user = partner_user::Entity::find()
        .filter(partner_user::Column::PartnerId.eq(contoso))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let northwind_customer = customer::Entity::find()
        .filter(customer::Column::PartnerId.eq(northwind))
        .one(db)
        .await
        .unwrap()
        .unwrap();

    // A northwind customer cannot name a contoso user to notify.
    let mut active = northwind_customer.clone().into_active_model();
    active.owner_party = Set(Some("PARTNER".into()));
    active.owner_notify_user_id = Set(Some(contoso_user.id));
    assert!(active.update(db).await.is_err());

    // A renewal cannot claim another partner than its customer's.
    let stray = renewal::ActiveModel {
        partner_id: Set(contoso),
        customer_id: Set(northwind_customer.id),
        status: Set("PENDING".into()),
        renewal_date: Set(crate::helpers::today()),
        currency: Set("USD".into()),
        options_url: Set(String::new()),
        current_mrr_minor: Set(0),
        renewal_mrr_minor: Set(0),
        mrr_change_minor: Set(0),
        ..Default::default()
    };
    assert!(stray.insert(db).await.is_err());
}

async fn stored_mrr_totals_equal_the_sums_over_product_renewals(backend: Backend) {
    let app = TestApp::new(backend).await;
    let db = app.store.reader();
    let sql = "SELECT COUNT(*) FROM renewal r WHERE r.current_mrr_minor <> \
               (SELECT SUM(p.current_mrr_minor) FROM product_renewal p WHERE p.renewal_id = r.id) \
               OR r.renewal_mrr_minor <> (SELECT SUM(p.renewal_mrr_minor) FROM product_renewal p WHERE p.renewal_id = r.id) \
               OR r.mrr_change_minor <> r.renewal_mrr_minor - r.current_mrr_minor";
    let row = db
        .query_one_raw(Statement::from_string(app.store.backend(), sql))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0);
    let renewals = renewal::Entity::find().all(db).await.unwrap();
    assert_eq!(renewals.len(), 2 * crate::helpers::CUSTOMERS as usize);
}

/// The database refuses rows the API could not show as the domain says,
/// whoever writes them, on insert and on update (`migration`'s
/// `domain_checks`): a status, owner party or currency code outside their
/// values, an MRR change that is not the difference of the MRRs, a notified
/// user without an override, a negative quantity. Rows within them pass.
async fn the_database_refuses_rows_outside_the_domain(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let db = app.store.reader();
    let run =
        |sql: &str| db.execute_raw(Statement::from_string(app.store.backend(), sql.to_owned()));
    let renewal = "UPDATE renewal SET {} WHERE id = (SELECT MIN(id) FROM renewal)";
    let customer = "UPDATE customer SET {} WHERE id = (SELECT MIN(id) FROM customer)";
    let user = "(SELECT MIN(u.id) FROM partner_user u WHERE u.partner_id = customer.partner_id)";
    let copy = "INSERT INTO renewal (partner_id, customer_id, status, renewal_date, currency, \
                options_url, current_mrr_minor, renewal_mrr_minor, mrr_change_minor) \
                SELECT partner_id, customer_id, {}, renewal_date, {}, options_url, \
                current_mrr_minor, renewal_mrr_minor, {} FROM renewal WHERE id = (SELECT MIN(id) FROM renewal)";
    let fill = |template: &str, parts: &[&str]| {
        parts
            .iter()
            .fold(template.to_owned(), |sql, part| sql.replacen("{}", part, 1))
    };
    let refused = [
        fill(renewal, &["status = 'pending'"]),
        fill(renewal, &["status = 'LAPSED'"]),
        fill(renewal, &["currency = 'usd'"]),
        fill(renewal, &["currency = 'US1'"]),
        fill(renewal, &["currency = 'USDX'"]),
        fill(renewal, &["currency = 'ÉUR'"]),
        fill(renewal, &["mrr_change_minor = mrr_change_minor + 1"]),
        fill(renewal, &["current_mrr_minor = current_mrr_minor + 1"]),
        fill(customer, &["owner_party = 'partner'"]),
        fill(
            customer,
            &[&format!(
                "owner_party = NULL, owner_notify_user_id = {user}"
            )],
        ),
        "UPDATE partner SET default_owner_party = 'NOBODY'".to_owned(),
        "UPDATE product_renewal SET quantity = -1".to_owned(),
        fill(copy, &["'LAPSED'", "currency", "mrr_change_minor"]),
        fill(copy, &["status", "'usd'", "mrr_change_minor"]),
        fill(copy, &["status", "currency", "mrr_change_minor - 1"]),
    ];
    for sql in &refused {
        let error = run(sql).await.expect_err(sql).to_string().to_lowercase();
        // PostgreSQL's `VARCHAR(3)` refuses a fourth letter by itself.
        let checked = ["check constraint", "value too long"];
        assert!(checked.iter().any(|c| error.contains(c)), "{sql}: {error}");
    }
    let accepted = [
        fill(
            renewal,
            &["current_mrr_minor = current_mrr_minor + 1, mrr_change_minor = mrr_change_minor - 1"],
        ),
        fill(
            renewal,
            &["currency = 'JPY', status = 'CANCELLATION_REQUESTED'"],
        ),
        fill(
            customer,
            &[&format!(
                "owner_party = 'PARTNER', owner_notify_user_id = {user}"
            )],
        ),
        fill(
            customer,
            &["owner_party = 'HUBSPOT', owner_notify_user_id = NULL"],
        ),
        fill(
            customer,
            &["owner_party = NULL, owner_notify_user_id = NULL"],
        ),
        "UPDATE partner SET default_owner_party = 'PARTNER'".to_owned(),
        "UPDATE product_renewal SET quantity = 0".to_owned(),
    ];
    for sql in &accepted {
        run(sql).await.expect(sql);
    }
}

/// On PostgreSQL, a statement is cancelled once it has run for as long as a
/// request may take: the request has been answered with 503 by then, and the
/// database stops working for nobody. The cancellation reads as the database
/// being unavailable, not as an internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancels_a_statement_that_outlives_the_request() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let options = StoreOptions {
        pg_schema: db.pg_schema.as_deref(),
        statement_timeout: Some(Duration::from_millis(300)),
        ..StoreOptions::default()
    };
    let store = Store::open(&db.url, options).await.unwrap();
    let sleep = |seconds: f64| {
        Statement::from_string(
            DatabaseBackend::Postgres,
            format!("SELECT pg_sleep({seconds})"),
        )
    };
    let started = Instant::now();
    let err = store
        .reader()
        .execute_raw(sleep(5.0))
        .await
        .expect_err("cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(classify(&err), Failure::Unavailable, "{err}");
    assert_eq!(
        renewals::error::Error::from(err).code(),
        "DATABASE_UNAVAILABLE"
    );
    // The connection is fine afterwards, and a quick statement runs.
    store.reader().execute_raw(sleep(0.01)).await.unwrap();
}

/// A search pattern reaches PostgreSQL written into the statement's text
/// (`store::search_pattern`): whatever the text, PostgreSQL reads back exactly
/// it, so no search can end the string constant early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_back_every_text_written_as_a_literal() {
    use proptest::{collection::vec, prelude::*, strategy::ValueTree, test_runner::TestRunner};
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let read_back = |text: String| {
        text_of(
            store.reader(),
            format!("SELECT {}", postgres_text_literal(&text)),
        )
    };
    let mut texts: Vec<String> = [
        "",
        "$",
        "$$",
        "$s$",
        "$s",
        "s$",
        "$s$$s1$",
        "x$s",
        "$$s$",
        "'",
        "''",
        "\\",
        "\\'",
        "E'\\'",
        "'; DROP TABLE customer; --",
        "$s$; DROP TABLE customer; --$s$",
        "é$s$日本",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // And random texts from the characters that matter (no NUL: searches
    // refuse it, and PostgreSQL's text cannot hold it).
    let chars = prop_oneof![
        Just('$'),
        Just('s'),
        Just('1'),
        Just('\''),
        Just('\\'),
        Just('"'),
        Just('\n'),
        Just('\u{1a}'),
        any::<char>().prop_filter("no NUL", |c| *c != '\0'),
    ];
    let strategy = vec(chars, 0..12).prop_map(|c| c.into_iter().collect::<String>());
    let mut runner = TestRunner::deterministic();
    for _ in 0..300 {
        texts.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    for text in texts {
        assert_eq!(read_back(text.clone()).await, text);
    }
}

/// The server bounds its statements by its request timeout, runs no parallel
/// query (requests run side by side), generic plans only, and prices random
/// reads as cached ones (see `store::connect_pool`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_postgres_sessions_have_its_timeout_no_parallel_query_and_generic_plans() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let mut settings = Settings::new(Today::Fixed(crate::helpers::today()));
    settings.request_timeout = Duration::from_secs(7);
    let app = App::build(ServeConfig {
        database_url: db.session_url(&[]),
        bind: "127.0.0.1:0".parse().unwrap(),
        demo: false,
        pg_connections: renewals::store::PG_CONNECTIONS,
        database_wait: std::time::Duration::ZERO,
        settings,
    })
    .await
    .unwrap();
    let show = |setting: &str| text_of(app.store.reader(), format!("SHOW {setting}"));
    assert_eq!(show("statement_timeout").await, "7s");
    assert_eq!(show("max_parallel_workers_per_gather").await, "0");
    assert_eq!(show("plan_cache_mode").await, "force_generic_plan");
    assert_eq!(show("random_page_cost").await, "1.1");
}

/// Servers started together on a new database (a deploy of several
/// replicas) each open it: one migrates it while the others wait, then find
/// it done. In demo mode, one of them seeds it. Before, all but one failed
/// (`relation already exists`, `duplicate key`, `database is locked`).
async fn servers_started_together_set_a_new_database_up_once(backend: Backend) {
    const SERVERS: usize = 4;
    let db = TestDb::new(backend).await;
    let options = StoreOptions {
        pg_schema: db.pg_schema.as_deref(),
        statement_timeout: Some(Duration::from_secs(30)),
        pg_connections: Some(4),
    };
    let opened =
        futures_util::future::join_all((0..SERVERS).map(|_| Store::open(&db.url, options))).await;
    let stores: Vec<Store> = opened
        .into_iter()
        .map(|store| store.expect("every server opens the database"))
        .collect();
    let data = renewals::seed::generate(5, 1, Today::from_option(None).get());
    let seeded =
        futures_util::future::join_all(stores.iter().map(|s| s.insert_dataset(&data))).await;
    let seeded: Vec<bool> = seeded
        .into_iter()
        .map(|seeded| seeded.expect("no server fails to seed"))
        .collect();
    assert_eq!(seeded.iter().filter(|&&s| s).count(), 1, "{seeded:?}");
    let partners = text_of(stores[0].reader(), "SELECT COUNT(*) FROM partner".into()).await;
    assert_eq!(partners, data.partners.len().to_string());
}

db_tests!(
    servers_started_together_set_a_new_database_up_once,
    sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys,
    foreign_keys_keep_each_partners_rows_together,
    stored_mrr_totals_equal_the_sums_over_product_renewals,
    the_database_refuses_rows_outside_the_domain,
);
