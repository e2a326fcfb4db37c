//! Every list the API can be asked for is an index range scan: on a data set
//! large enough for the planner to mean it (the benchmark's generator, 20,000
//! renewals, analysed), no statement that `renewals` runs, for any filter or
//! order, reads the renewal or customer table whole.
//!
//! PostgreSQL: `EXPLAIN (FORMAT JSON)` with `enable_seqscan = off`, so that a
//! sequential scan in the plan means no index path exists; an index scan
//! without an index condition (a full index scan) fails too.
//! SQLite: `EXPLAIN QUERY PLAN` must not `SCAN` either table, nor sort a
//! customer-ordered page's whole range (`USE TEMP B-TREE FOR ORDER BY`) to
//! keep its first rows; a search's count reads its candidates from the
//! trigram index (`customer_search`), and so does a page of a rare word.
//!
//! PostgreSQL runs generic plans only (`plan_cache_mode = force_generic_plan`
//! on the server's sessions): the plans of the statements the server's
//! connections have prepared, for any value of their parameters, must not scan
//! either table whole.

use axum::{
    body::Body,
    http::{Request, header},
};
use http_body_util::BodyExt;
use renewals::{app, bench, config::Today, store::Store};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{Backend, TestDb, db_tests, explain, tuples};

const RENEWALS: u64 = 20_000;

/// Every filter with the default order, and every order with and without the dashboard filter.
fn cases() -> Vec<String> {
    let filters = [
        "{}",
        "{actionRequired: true}",
        "{actionRequired: false}",
        "{ownerParty: PARTNER}",
        "{ownerParty: HUBSPOT}",
        r#"{notifyUserId: "UGFydG5lclVzZXI6Mg"}"#,
        r#"{search: "maple"}"#,
        r#"{actionRequired: true, search: "maple"}"#,
        // Shorter than a trigram: no index finds it.
        r#"{search: "ma"}"#,
        r#"{actionRequired: true, search: "%"}"#,
        "{status: [CONFIRMED, RENEWED]}",
        "{deadlineFrom: \"2026-12-20\", deadlineTo: \"2027-01-20\"}",
        "{renewalDateFrom: \"2027-01-01\", renewalDateTo: \"2027-02-01\"}",
        "{includeEndedServices: true}",
        r#"{currencyCode: "EUR"}"#,
        r#"{actionRequired: true, currencyCode: "JPY"}"#,
    ];
    let orders = [
        "DEADLINE",
        "RENEWAL_DATE",
        "CURRENT_MRR",
        "RENEWAL_MRR",
        "MRR_CHANGE",
        "CUSTOMER_DOMAIN",
    ];
    let mut cases: Vec<String> = filters
        .iter()
        .map(|f| format!("filter: {f}, first: 50"))
        .collect();
    for order in orders {
        for direction in ["ASC", "DESC"] {
            let mut filters = vec!["{}", "{actionRequired: true}"];
            if order.ends_with("MRR") || order == "MRR_CHANGE" {
                // The MRR orders of one currency.
                filters.push(r#"{actionRequired: true, currencyCode: "EUR"}"#);
            }
            if order == "CUSTOMER_DOMAIN" {
                // PostgreSQL's walk and its matching customers (`customer_walk`).
                filters.push(r#"{search: "maple"}"#);
            }
            for filter in filters {
                cases.push(format!(
                    "filter: {filter}, orderBy: {{field: {order}, direction: {direction}}}, first: 50"
                ));
            }
        }
    }
    cases
}

async fn post(router: &axum::Router, token: &str, query: &str) -> Value {
    post_variables(router, token, query, Value::Null).await
}

/// `query` with `variables` through `router` as the partner of `token`: the
/// response, which must hold no error.
pub(crate) async fn post_variables(
    router: &axum::Router,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(
            json!({ "query": query, "variables": variables }).to_string(),
        ))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body
}

/// A test database holding the benchmark's data set (dropped with the
/// [`TestDb`]), with [`benchmark_data_set`]'s store, router and token.
pub(crate) async fn benchmark_db(backend: Backend) -> (TestDb, Store, axum::Router, String) {
    let db = TestDb::new(backend).await;
    let (store, router, token) = benchmark_data_set(&db.session_url(&[])).await;
    (db, store, router, token)
}

/// The benchmark's data set of [`RENEWALS`] loaded at `url`: its store, a
/// router and a token of the dashboard's partner.
async fn benchmark_data_set(url: &str) -> (Store, axum::Router, String) {
    let store = Store::connect(url).await.unwrap();
    let today = bench::default_today();
    let loader = bench::data::loader_connection(url).await.unwrap();
    bench::data::load(&loader, RENEWALS, 7, today)
        .await
        .unwrap();
    loader.close().await.unwrap();
    let token = store
        .create_token(bench::data::DASHBOARD_PARTNER, "plans")
        .await
        .unwrap()
        .unwrap()
        .secret;
    let router = app::router(store.clone(), app::Settings::new(Today::Fixed(today)));
    (store, router, token)
}

/// The scans of renewal or customer in a PostgreSQL JSON plan that read a whole table.
fn full_scans_pg(plan: &Value, found: &mut Vec<String>) {
    let relation = plan["Relation Name"].as_str().unwrap_or_default();
    let node = plan["Node Type"].as_str().unwrap_or_default();
    if matches!(relation, "renewal" | "customer") {
        let whole = match node {
            "Seq Scan" => true,
            "Index Scan" | "Index Only Scan" => plan.get("Index Cond").is_none(),
            _ => false,
        };
        if whole {
            found.push(format!("{node} on {relation}"));
        }
    }
    if node == "Bitmap Index Scan" && plan.get("Index Cond").is_none() {
        found.push(format!("{node} without a condition"));
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        full_scans_pg(child, found);
    }
}

async fn full_scans(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let backend = db.get_database_backend();
    let rows = explain(db, sql).await;
    let mut found = Vec::new();
    if backend == DatabaseBackend::Postgres {
        let plan: Value = rows[0].try_get("", "QUERY PLAN").unwrap();
        full_scans_pg(&plan[0]["Plan"], &mut found);
    } else {
        for row in rows {
            let detail: String = row.try_get("", "detail").unwrap();
            // A page in customer order sorted whole: every renewal of the
            // range read, to keep 50. (For the other orders, sorting is the
            // planner's choice to make on this data set's statistics: a range
            // of 1,000 action-required renewals sorts faster than an MRR index
            // walk finds 50 of them. A page read from a search's candidates
            // sorts them: their number is bounded, see `customer_search`.)
            let sorted_whole = detail == "USE TEMP B-TREE FOR ORDER BY"
                && sql.contains(r#"ORDER BY "customer"."domain""#)
                && sql.contains(" LIMIT ")
                && !sql.contains("customer_search MATCH");
            // (`SCAN customer_search VIRTUAL TABLE INDEX 0:M…` is a search's
            // lookup in its trigram index: a MATCH.)
            let table_scan = detail == "SCAN renewal"
                || detail == "SCAN customer"
                || detail.starts_with("SCAN renewal ")
                || detail.starts_with("SCAN customer ");
            if table_scan || sorted_whole {
                found.push(detail);
            }
        }
    }
    found
}

async fn no_list_reads_a_whole_renewal_or_customer_table(backend: Backend) {
    let db = TestDb::new(backend).await;
    // No sequential scans for the server's statements either, so that their
    // generic plans show one only where no index path exists.
    let url = db.session_url(&["enable_seqscan=off"]);
    let (store, router, token) = benchmark_data_set(&url).await;

    let mut options = ConnectOptions::new(url.clone());
    options.max_connections(1).sqlx_logging(false);
    let explain = Database::connect(options).await.unwrap();
    if backend == Backend::Postgres {
        explain
            .execute_unprepared("SET enable_seqscan = off")
            .await
            .unwrap();
    }
    let mut failures = Vec::new();
    let mut explained = 0;
    for case in cases() {
        let query = format!(
            "{{ renewals({case}) {{ totalCount pageInfo {{ endCursor }} nodes {{ id customer {{ domain }} }} }} }}"
        );
        store.start_capture();
        let body = post(&router, &token, &query).await;
        // The next page too: the keyset condition must keep the range scan.
        let cursor = body["data"]["renewals"]["pageInfo"]["endCursor"].clone();
        if let Some(cursor) = cursor.as_str() {
            let next = query.replacen("first: 50", &format!("first: 50, after: \"{cursor}\""), 1);
            post(&router, &token, &next).await;
        }
        for sql in store.stop_capture() {
            if !(sql.contains("\"renewal\"") && sql.trim_start().starts_with("SELECT")) {
                continue;
            }
            let scans = full_scans(&explain, &sql).await;
            explained += 1;
            if !scans.is_empty() {
                failures.push(format!("{case}\n  {scans:?}\n  {sql}"));
            }
        }
    }
    explain.close().await.ok();
    // Each case runs a page and a count, and a next page.
    assert!(explained >= 2 * cases().len(), "explained {explained}");
    if backend == Backend::Postgres {
        let generic = generic_plans(&store).await;
        // The next pages (their cursor is bound) of at least half the cases.
        assert!(
            generic.len() >= cases().len() / 2,
            "{} generic plans",
            generic.len()
        );
        for (sql, plan) in generic {
            if plan.contains("Seq Scan on renewal") || plan.contains("Seq Scan on customer") {
                failures.push(format!("generic plan\n  {plan}\n  {sql}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} statements read a whole table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The generic plan of every statement about renewals that the store's
/// PostgreSQL connections have prepared with parameters: (statement, plan).
async fn generic_plans(store: &Store) -> Vec<(String, String)> {
    use sea_orm::sqlx::{self, AssertSqlSafe, Row};
    crate::helpers::cool(store).await;
    let pool = store.reader().get_postgres_connection_pool();
    // Every open connection at once: each keeps its own prepared statements.
    let mut connections = Vec::new();
    for _ in 0..pool.size() {
        connections.push(pool.acquire().await.unwrap());
    }
    let mut plans = Vec::new();
    for connection in &mut connections {
        let prepared = sqlx::query(
            "SELECT name, statement, cardinality(parameter_types) AS n FROM pg_prepared_statements
             WHERE statement LIKE '%\"renewal\"%' AND cardinality(parameter_types) > 0",
        )
        .fetch_all(&mut **connection)
        .await
        .unwrap();
        for row in prepared {
            let (name, sql, n): (String, String, i32) =
                (row.get("name"), row.get("statement"), row.get("n"));
            // A generic plan holds for any values: NULLs will do.
            let nulls = vec!["NULL"; n as usize].join(", ");
            let explain = format!("EXPLAIN EXECUTE \"{name}\"({nulls})");
            // Unprepared: preparing it could evict the statement explained
            // from sqlx's statement cache, which closes it.
            let lines: Vec<String> = sqlx::raw_sql(AssertSqlSafe(explain))
                .fetch_all(&mut **connection)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            plans.push((sql, lines.join("\n")));
        }
    }
    plans
}

db_tests!(
    the_dashboards_count_reads_the_tally_by_status,
    no_list_reads_a_whole_renewal_or_customer_table
);

/// PostgreSQL knows how many customers notify each user: a user is notified
/// only for customers with an owner of their own, which the planner, taking
/// columns to be independent, did not know, and it expected a quarter of them.
/// With so few expected, it read every customer for a page of one user's
/// renewals at 100k rather than walk the window (23 ms against 2.4). The
/// extended statistics on the owner columns give it the true share: its
/// estimate must be within 1.5× of the count, for each of the partner's users.
#[tokio::test]
async fn postgres_knows_how_many_customers_notify_each_user() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let (_db, store, _, _) = benchmark_db(Backend::Postgres).await;
    let counts = store
        .reader()
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT owner_notify_user_id AS user_id, COUNT(*) AS n FROM customer
             WHERE partner_id = 1 AND owner_notify_user_id IS NOT NULL
             GROUP BY owner_notify_user_id",
        ))
        .await
        .unwrap();
    assert!(counts.len() >= 5, "{} users notified", counts.len());
    for row in counts {
        let (user, n): (i64, i64) = (
            row.try_get("", "user_id").unwrap(),
            row.try_get("", "n").unwrap(),
        );
        let explain = format!(
            "EXPLAIN (FORMAT JSON) SELECT id FROM customer WHERE partner_id = 1 \
             AND owner_party IS NOT NULL AND owner_notify_user_id = {user}"
        );
        let plan = store
            .reader()
            .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, explain))
            .await
            .unwrap()
            .unwrap();
        let plan: Value = plan.try_get("", "QUERY PLAN").unwrap();
        let estimate = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap();
        let ratio = estimate / n as f64;
        assert!(
            (1.0 / 1.5..=1.5).contains(&ratio),
            "user {user}: {n} customers, {estimate} expected"
        );
    }
}

/// On PostgreSQL, a page of one user's renewals walks the window and looks up
/// each renewal's customer, rather than read all the partner's customers and
/// hash them: the server's sessions price random reads as the cache makes them
/// (`random_page_cost`). At PostgreSQL's default price, the page read every
/// customer, here and at 100k renewals (20 ms of its statement there, against
/// 2–4 for the walk). Checked on the page's generic plan, as the server's
/// connections prepared it, for each of the partner's users.
#[tokio::test]
async fn postgres_walks_the_window_for_one_users_page() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let (_db, store, router, token) = benchmark_db(Backend::Postgres).await;
    let users = post(&router, &token, "{ viewer { users { id } } }").await;
    let users = users["data"]["viewer"]["users"].as_array().unwrap().clone();
    assert!(users.len() >= 5, "{users:?}");
    for user in &users {
        let id = user["id"].as_str().unwrap();
        let filter = format!(r#"{{actionRequired: true, notifyUserId: "{id}"}}"#);
        let query =
            format!("{{ renewals(first: 50, filter: {filter}) {{ totalCount nodes {{ id }} }} }}");
        post(&router, &token, &query).await;
    }
    let pages: Vec<_> = generic_plans(&store)
        .await
        .into_iter()
        .filter(|(sql, _)| sql.contains(r#""customer"."owner_notify_user_id" = "#))
        .collect();
    assert!(pages.len() >= users.len(), "{} pages prepared", pages.len());
    for (sql, plan) in pages {
        assert!(!plan.contains("Seq Scan on customer"), "{plan}\n{sql}");
    }
}

/// A page of the renewals notifying a user who is not the partner's (another
/// partner's, or nobody's) reads no row: the user is checked once, first
/// (PostgreSQL's `One-Time Filter`), before any renewal or customer. It read
/// every customer of the window to find nothing: 184 ms on PostgreSQL and
/// 1.9 s on SQLite at a million renewals (SQLite's plan tells no such
/// filter; the same statement there took 0.012 s instead of 0.85 by hand).
#[tokio::test]
async fn postgres_checks_a_notified_user_before_reading_any_row() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let (_db, store, router, token) = benchmark_db(Backend::Postgres).await;
    let nobody =
        renewals::graphql::ids::encode(renewals::graphql::ids::NodeKind::PartnerUser, 987_654).0;
    let query = format!(
        r#"{{ renewals(first: 50, filter: {{notifyUserId: "{nobody}"}}) {{ nodes {{ id }} }} }}"#
    );
    let (sql, body) = the_statement_on(&store, &router, &token, &query, "renewal").await;
    assert_eq!(body["data"]["renewals"]["nodes"], json!([]), "{body}");
    let explain = format!("EXPLAIN (ANALYZE, FORMAT TEXT) {sql}");
    let plan: Vec<String> = tuples::<(String,)>(store.reader(), &explain)
        .await
        .into_iter()
        .map(|(line,)| line)
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("One-Time Filter"), "{plan}");
    for line in plan
        .lines()
        .filter(|l| l.contains(" Scan ") && !l.contains("partner_user"))
    {
        assert!(line.contains("never executed"), "{line}\n{plan}");
    }
}

/// On SQLite, a search's count reads its candidate customers from the trigram
/// index, and so does a page of a word few customers hold; a page of a common
/// word walks the list in its order, where its first rows match. In customer
/// domain order, where a word's matches may all sort together (`maple…`), a
/// page reads the candidates of far more common words, and then never walks
/// the partner's customers by domain. A short needle, which the index cannot
/// find, walks the list.
#[tokio::test]
async fn sqlite_searches_read_their_candidates_from_the_trigram_index() {
    let (_db, store, router, token) = benchmark_db(Backend::Sqlite).await;
    let explain = store.reader();
    // Which renewals a statement that reads the candidates reads: each
    // candidate's, or an action-required range, filtered by the candidates.
    let (each, range) = (
        "ix_renewal_customer ",
        "ix_renewal_partner_status_date_customer ",
    );
    let (by_date, by_domain) = ("DEADLINE", "CUSTOMER_DOMAIN");
    // (filter, order, its count reads the index, its page reads the index, renewals read)
    let cases = [
        // 1 customer in 24.
        (r#"search: "maple""#, by_date, true, true, each),
        (r#"search: "maple""#, by_domain, true, true, each),
        (r#"search: "MAPLE BAKERY""#, by_date, true, true, each),
        (
            r#"actionRequired: true, search: "maple""#,
            by_date,
            true,
            true,
            range,
        ),
        (
            r#"actionRequired: true, search: "maple""#,
            by_domain,
            true,
            true,
            range,
        ),
        // Every domain: 20,000 customers.
        (r#"search: ".example""#, by_date, true, false, each),
        (r#"search: ".example""#, by_domain, true, true, each),
        (r#"search: "ma""#, by_date, false, false, each),
        (r#"search: "ma""#, by_domain, false, false, each),
    ];
    for (search, order, count_indexed, page_indexed, renewals) in cases {
        let query = format!(
            r#"{{ renewals(filter: {{{search}}}, orderBy: {{field: {order}}}, first: 50) {{ totalCount nodes {{ id }} }} }}"#
        );
        store.start_capture();
        let body = post(&router, &token, &query).await;
        let lists: Vec<String> = store
            .stop_capture()
            .into_iter()
            .filter(|sql| sql.contains(r#"FROM "renewal""#) || sql.contains(r#"JOIN "renewal""#))
            .collect();
        assert_eq!(lists.len(), 2, "{search}: a page and a count: {lists:?}");
        for sql in lists {
            let plan = explain
                .query_all_raw(Statement::from_string(
                    DatabaseBackend::Sqlite,
                    format!("EXPLAIN QUERY PLAN {sql}"),
                ))
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String>("", "detail").unwrap())
                .collect::<Vec<_>>();
            let indexed = plan
                .iter()
                .any(|d| d.starts_with("SCAN customer_search VIRTUAL TABLE INDEX 0:M"));
            let want = if sql.contains("COUNT(") {
                count_indexed
            } else {
                page_indexed
            };
            assert_eq!(indexed, want, "{search}, {order}: {plan:?}\n{sql}");
            if indexed {
                assert!(
                    !plan
                        .iter()
                        .any(|d| d.starts_with("SEARCH customer USING INDEX")
                            || d.starts_with("SCAN customer ")),
                    "{search}, {order}: no walk over the customers: {plan:?}\n{sql}"
                );
                assert!(
                    plan.iter()
                        .any(|d| d.starts_with("SEARCH renewal ") && d.contains(renewals)),
                    "{search}, {order}: {plan:?}\n{sql}"
                );
            }
        }
        let total = body["data"]["renewals"]["totalCount"].as_u64().unwrap();
        assert!(total > 0, "{search}: nothing found");
    }
}

/// The one statement reading `table` that `query` ran, and the response.
async fn the_statement_on(
    store: &Store,
    router: &axum::Router,
    token: &str,
    query: &str,
    table: &str,
) -> (String, Value) {
    store.start_capture();
    let body = post(router, token, query).await;
    let on_table = format!(r#"FROM "{table}""#);
    let mut statements: Vec<String> = store
        .stop_capture()
        .into_iter()
        .filter(|sql| sql.contains(&on_table))
        .collect();
    assert_eq!(statements.len(), 1, "{statements:?}");
    (statements.remove(0), body)
}

/// SQLite reads a dashboard page's product renewals by walking the index on
/// `renewal_id` for the page's renewals, in the order asked for: it sorts
/// nothing.
#[tokio::test]
async fn sqlite_reads_a_pages_product_renewals_in_index_order() {
    let (_db, store, router, token) = benchmark_db(Backend::Sqlite).await;
    let query = "{ renewals(filter: {actionRequired: true}, first: 50) { nodes { productRenewals { quantity product { sku } } } } }";
    let (products, body) =
        the_statement_on(&store, &router, &token, query, "product_renewal").await;
    assert!(body["data"]["renewals"]["nodes"][0]["productRenewals"][0]["quantity"].is_number());
    let plan: Vec<String> = explain(store.reader(), &products)
        .await
        .iter()
        .map(|row| row.try_get("", "detail").unwrap())
        .collect();
    assert!(
        plan.iter().any(|d| d.starts_with("SEARCH product_renewal USING INDEX ix_product_renewal_renewal")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|d| d.starts_with("USE TEMP B-TREE")),
        "{plan:?}"
    );
}

/// PostgreSQL reads a dashboard page's product renewals without a nested
/// loop, and joins them to their products once (a hash join), in its generic
/// plan: joined with the renewals, whose bound ids it takes to leave a line
/// or two, it scanned the products again for each of the page's 150 lines,
/// or the lines again for each of its 50 renewals.
#[tokio::test]
async fn postgres_joins_a_pages_product_renewals_to_their_products_once() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let (_db, store, router, token) = benchmark_db(Backend::Postgres).await;
    let query = "{ renewals(filter: {actionRequired: true}, first: 50) { nodes { productRenewals { quantity product { sku } } } } }";
    // Past PostgreSQL's five custom plans, to its generic one.
    for _ in 0..8 {
        let body = post(&router, &token, query).await;
        assert!(body["data"]["renewals"]["nodes"][0]["productRenewals"][0]["quantity"].is_number());
    }
    let plans = generic_plans(&store).await;
    let (_, plan) = plans
        .iter()
        .find(|(sql, _)| sql.contains(r#"FROM "product_renewal""#))
        .expect("the product renewals' statement, prepared");
    assert!(
        plan.contains("Hash Cond: (product_renewal.product_id = product.id)"),
        "{plan}"
    );
    assert!(!plan.contains("Nested Loop"), "{plan}");
}

/// The dashboard's count sums the tally's rows of one status and services
/// state over the window, read from the index by status
/// (`ix_renewal_tally_status`), not every row of each day.
async fn the_dashboards_count_reads_the_tally_by_status(backend: Backend) {
    let (_db, store, router, token) = benchmark_db(backend).await;
    let query = "{ renewals(filter: {actionRequired: true}, first: 1) { totalCount } }";
    let (count, body) = the_statement_on(&store, &router, &token, query, "renewal_tally").await;
    assert!(body["data"]["renewals"]["totalCount"].as_u64().unwrap() > 0);
    let rows = explain(store.reader(), &count).await;
    let plan = match backend {
        Backend::Sqlite => rows
            .iter()
            .map(|row| row.try_get::<String>("", "detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n"),
        Backend::Postgres => rows[0]
            .try_get::<Value>("", "QUERY PLAN")
            .unwrap()
            .to_string(),
    };
    assert!(plan.contains("ix_renewal_tally_status"), "{plan}");
}

/// SQLite is built with STAT4, `sqlite_stmt` and without memory statistics
/// (`.cargo/config.toml`): without STAT4, `orderBy: MRR_CHANGE` pages sorted
/// every matching renewal instead of walking their index (10-1000x slower at
/// 100k-1M renewals).
#[tokio::test]
async fn sqlite_is_built_with_stat4_stmtvtab_and_without_memory_statistics() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    for option in ["ENABLE_STAT4", "ENABLE_STMTVTAB", "DEFAULT_MEMSTATUS=0"] {
        let sql = format!("SELECT sqlite_compileoption_used('{option}')");
        assert_eq!(
            sqlite_number(&store, &sql).await,
            1,
            "SQLite compiled without {option}"
        );
    }
}

/// SQLite readers keep 3 MiB of pages each (SQLite's default is 2): at 100k
/// renewals a dashboard request reads more than 2 MiB, and with the default it
/// read pages again from the file every time (2.2-2.6 against 1.5-1.7 ms of CPU).
#[tokio::test]
async fn sqlite_readers_have_a_3_mib_page_cache() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let size = sqlite_number(&store, "PRAGMA cache_size").await;
    assert_eq!(size, -3 * 1024, "negative: KiB");
}

/// The number in the first column of the first row `sql` returns on a SQLite reader.
async fn sqlite_number(store: &Store, sql: &str) -> i64 {
    let row = store
        .reader()
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// The rows of SQLite's planner statistics (`sqlite_stat1`) about `table`.
async fn stat1_rows(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM sqlite_stat1 WHERE tbl = '{table}'");
    sqlite_number(store, &sql).await
}

/// A SQLite database filled through the API never runs `ANALYZE`; the store
/// refreshes the planner's statistics when it connects (`PRAGMA optimize`).
/// Without them, `orderBy: MRR_CHANGE` pages sorted every matching renewal.
#[tokio::test]
async fn sqlite_statistics_are_gathered_when_the_store_connects() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let today = bench::default_today();
    store
        .insert_dataset(&renewals::seed::generate(300, 1, today))
        .await
        .unwrap();
    // As if never analysed.
    let writer = Database::connect(&db.url).await.unwrap();
    writer
        .execute_unprepared("DELETE FROM sqlite_stat1; DELETE FROM sqlite_stat4")
        .await
        .unwrap();
    writer.close().await.unwrap();
    assert_eq!(stat1_rows(&store, "renewal").await, 0);
    store.close().await.unwrap();

    let store = db.store().await;
    assert!(stat1_rows(&store, "renewal").await > 0);
    assert!(stat1_rows(&store, "customer").await > 0);
}

/// A server started on an empty SQLite database gathers statistics while it
/// serves, as the data grows (every hour in `renewals serve`).
#[tokio::test]
async fn sqlite_statistics_are_refreshed_while_serving() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let refresh = tokio::spawn(app::refresh_statistics_every(
        store.clone(),
        std::time::Duration::from_millis(50),
    ));
    // Empty tables have nothing to analyse.
    assert_eq!(stat1_rows(&store, "renewal").await, 0);
    store
        .insert_dataset(&renewals::seed::generate(3000, 1, bench::default_today()))
        .await
        .unwrap();
    let mut gathered = 0;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        gathered = stat1_rows(&store, "renewal").await;
        if gathered > 0 {
            break;
        }
    }
    refresh.abort();
    assert!(gathered > 0, "no statistics for renewal after 5 s");
}
