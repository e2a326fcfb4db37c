//! A page of renewals with every nested field costs the same number of SQL
//! statements whatever its size: the dataloaders batch, and the list resolver
//! pre-loads the page's keys so that batching does not depend on timing.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement};
use serde_json::json;

use crate::helpers::{Backend, TestApp, db_tests};

pub const DASHBOARD: &str = r#"
query Page($first: Int!) {
  renewals(first: $first, filter: {includeEndedServices: true}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id status renewalDate deadline daysUntilRenewal daysUntilDeadline actionRequired renewalOptionsUrl
        currentMrr { amount currencyCode } renewalMrr { amount } mrrChange { amount }
        owner { party isDefault notifyUser { id name email } }
        productRenewals { quantity currentMrr { amount } renewalMrr { amount } product { id sku name } }
        customer {
          id domain name accountUrl servicesEnded servicesEndedAt
          renewalManager { name email }
          renewalOwner { party isDefault notifyUser { name } }
          renewals { id renewalDate }
          history { nodes { kind at actor } }
        }
      }
    }
  }
}"#;

/// The statements one request costs, authentication included: authentication,
/// the page with its count, product renewals with their products, users, the
/// customers' renewals and their history. The rate-limit charge costs none of
/// its own: on PostgreSQL, whose buckets are in the database, the statement
/// that authenticates makes it; on SQLite the buckets are in the process.
pub const STATEMENTS_PER_DASHBOARD_PAGE: u64 = 6;

/// Authentication (with the charge), the page with its count, product
/// renewals with their products, users.
pub const STATEMENTS_PER_ACTION_REQUIRED_DASHBOARD: u64 = 4;
// Issue 4: at most 6.
const _: () = assert!(STATEMENTS_PER_ACTION_REQUIRED_DASHBOARD <= 6);

/// The rows `sql` returns on each of the store's readers: each keeps its own
/// prepared statements, and the pool hands its idle readers out in turn.
async fn on_every_reader(app: &TestApp, backend: DatabaseBackend, sql: &str) -> Vec<QueryResult> {
    crate::helpers::cool(&app.store).await;
    let statement = Statement::from_string(backend, sql);
    let mut rows = Vec::new();
    for _ in 0..16 {
        let reader = app.store.reader();
        rows.extend(reader.query_all_raw(statement.clone()).await.unwrap());
    }
    rows
}

/// Makes every customer on the default owner notify a user, so each page has users to load.
async fn default_owner_notifies_a_user(app: &TestApp) {
    let users = app.data("{ viewer { users { id } } }", json!({})).await;
    let user = users["viewer"]["users"][0]["id"].clone();
    app.data(
        "mutation($u: ID!) { setDefaultRenewalOwner(input: {owner: {party: PARTNER, notifyUserId: $u}}) { userErrors { code } } }",
        json!({ "u": user }),
    )
    .await;
}

async fn statements_of(app: &TestApp, query: &str, sizes: &[usize], path: &str) -> Vec<u64> {
    let mut counts = Vec::new();
    for &n in sizes {
        let before = app.store.statement_count();
        let data = app.data(query, json!({ "first": n })).await;
        let used = app.store.statement_count() - before;
        assert_eq!(data["renewals"][path].as_array().unwrap().len(), n);
        counts.push(used);
    }
    counts
}

async fn a_page_costs_the_same_statements_for_1_10_and_100_renewals(backend: Backend) {
    let app = TestApp::new(backend).await;
    default_owner_notifies_a_user(&app).await;
    let counts = statements_of(&app, DASHBOARD, &[1, 10, 100], "edges").await;
    assert_eq!(
        counts, [STATEMENTS_PER_DASHBOARD_PAGE; 3],
        "statements for 1, 10, 100 renewals"
    );
    // The customers' histories paged with a size of their own.
    let paged_history = DASHBOARD.replace("history {", "history(first: 2) {");
    let counts = statements_of(&app, &paged_history, &[1, 10, 100], "edges").await;
    assert_eq!(
        counts, [STATEMENTS_PER_DASHBOARD_PAGE; 3],
        "statements for 1, 10, 100 renewals, histories of 2"
    );
}

/// The fields a page reaches through its customers: their renewals, each
/// with its product renewals and owner, and their history, each event with
/// the owners before and after it and the users they notify. Every customer
/// has an owner change in its history, and notifies a user, so a lookup per
/// renewal or per event would show as statements growing with the page.
async fn a_page_through_its_customers_costs_the_same_statements_for_1_10_and_50(backend: Backend) {
    const NESTED: &str = r#"
    query Page($first: Int!) {
      renewals(first: $first) {
        nodes {
          customer {
            renewals {
              id
              owner { party notifyUser { id name } }
              productRenewals { quantity product { sku name } }
            }
            history {
              nodes {
                kind
                ownerBefore { party notifyUser { id email } }
                ownerAfter { party notifyUser { id email } }
              }
            }
          }
        }
      }
    }"#;
    let app = TestApp::new(backend).await;
    default_owner_notifies_a_user(&app).await;
    let page = app
        .data(
            "{ viewer { users { id } } renewals(first: 50) { nodes { customer { id } } } }",
            json!({}),
        )
        .await;
    let customers: Vec<_> = page["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["customer"]["id"].clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let changed = app
        .data(
            "mutation($ids: [ID!]!, $u: ID!) { setRenewalOwner(input: {customerIds: $ids, owner: {party: PARTNER, notifyUserId: $u}}) { userErrors { code } } }",
            json!({ "ids": customers, "u": page["viewer"]["users"][1]["id"] }),
        )
        .await;
    assert_eq!(changed["setRenewalOwner"]["userErrors"], json!([]));

    let counts = statements_of(&app, NESTED, &[1, 10, 50], "nodes").await;
    assert!(
        counts.iter().all(|&n| n == counts[0]),
        "statements for 1, 10, 50 renewals: {counts:?}"
    );
    // What the statements were counted for is there: owners' users, products
    // and both sides of each owner change.
    let data = app.data(NESTED, json!({ "first": 50 })).await;
    let mut users_before = 0;
    for node in data["renewals"]["nodes"].as_array().unwrap() {
        let customer = &node["customer"];
        for renewal in customer["renewals"].as_array().unwrap() {
            assert!(
                renewal["owner"]["notifyUser"]["name"].is_string(),
                "{renewal}"
            );
            for line in renewal["productRenewals"].as_array().unwrap() {
                assert!(line["product"]["sku"].is_string(), "{line}");
            }
        }
        // None for a customer whose override was that owner already.
        let Some(change) = customer["history"]["nodes"].get(0) else {
            continue;
        };
        assert_eq!(change["kind"], json!("OWNER_CHANGED"), "{customer}");
        // Before it, the default's user or a seeded override's, if any.
        users_before += usize::from(change["ownerBefore"]["notifyUser"]["email"].is_string());
        assert!(
            change["ownerAfter"]["notifyUser"]["email"].is_string(),
            "{change}"
        );
    }
    assert!(
        users_before > 10,
        "{users_before} events with a user before"
    );
}

async fn the_action_required_dashboard_costs_at_most_6_statements_for_10_50_and_100_renewals(
    backend: Backend,
) {
    // Enough customers for 100 renewals requiring action.
    let app = TestApp::with_customers(backend, 600).await;
    default_owner_notifies_a_user(&app).await;
    // The very query `renewals bench` measures.
    let dashboard = renewals::bench::queries::action_required();
    let counts = statements_of(&app, &dashboard, &[10, 50, 100], "nodes").await;
    assert_eq!(
        counts, [STATEMENTS_PER_ACTION_REQUIRED_DASHBOARD; 3],
        "statements for 10, 50, 100 renewals"
    );
}

/// A dashboard made of fragments on the query type, each selecting the page
/// alike (as clients that keep a fragment per component send it), reads the
/// page once: the same statements and answer as the page selected once.
/// Each fragment's `renewals` ran apart and read the page again.
async fn a_page_selected_through_several_fragments_is_read_once(backend: Backend) {
    let app = TestApp::with_customers(backend, 30).await;
    let page = "renewals(first: $first, filter: {includeEndedServices: true})";
    let edges = &DASHBOARD[DASHBOARD.find("edges {").unwrap()..DASHBOARD.rfind('}').unwrap()];
    let edges = &edges[..edges.rfind('}').unwrap()];
    let in_fragments = format!(
        "query Page($first: Int!) {{ ...Header ...Table }} \
         fragment Header on Query {{ {page} {{ totalCount pageInfo {{ hasNextPage endCursor }} }} }} \
         fragment Table on Query {{ {page} {{ {edges} }} }}"
    );
    let once = statements_of(&app, DASHBOARD, &[10], "edges").await;
    let through_fragments = statements_of(&app, &in_fragments, &[10], "edges").await;
    assert_eq!(through_fragments, once);
    let variables = json!({ "first": 10 });
    assert_eq!(
        app.data(&in_fragments, variables.clone()).await,
        app.data(DASHBOARD, variables).await
    );
}

/// The page's product renewals are read by the page's renewal ids, bound as
/// one value. SQLite walks the index on `renewal_id` for them (`plans.rs`).
/// PostgreSQL first keeps the partner's own renewals among them (the ids
/// bound on `renewal`, so that no plan, its generic plan among them, has to
/// read all of the partner's renewals), and reads the lines of those.
async fn product_renewals_are_bounded_by_the_pages_renewal_ids(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.store.start_capture();
    app.data(DASHBOARD, json!({ "first": 10 })).await;
    let statements = app.store.stop_capture();
    let products: Vec<&String> = statements
        .iter()
        .filter(|sql| sql.contains("FROM \"product_renewal\""))
        .collect();
    assert_eq!(products.len(), 1, "{statements:#?}");
    let sql = products[0].as_str();
    // All ids as one value (`store::one_of`).
    match backend {
        Backend::Sqlite => {
            assert!(
                sql.contains(
                    "\"product_renewal\".\"renewal_id\" IN (SELECT \"value\" FROM json_each("
                ),
                "{sql}"
            );
            assert!(!sql.contains("\"renewal\".\"id\" IN ("), "{sql}");
        }
        Backend::Postgres => {
            assert!(sql.contains("\"renewal\".\"id\" = ANY(ARRAY ["), "{sql}");
            assert!(
                sql.contains(
                    "\"product_renewal\".\"renewal_id\" = ANY(ARRAY(\n    SELECT \"renewal\".\"id\""
                ),
                "{sql}"
            );
        }
    }
}

/// On SQLite, the dashboard's statements, first page or next, are prepared
/// once per connection and never planned again: the lookups hide their values
/// from the planner (`store::opaque`), and the page query writes the values its
/// plan depends on into its text (`store::inline`). With STAT4 statistics,
/// SQLite prepares a statement again whenever a value it planned with is
/// bound anew (callgrind: 7 % of a dashboard request for the page query alone).
/// Read from SQLite's own counters (`sqlite_stmt`, see `.cargo/config.toml`).
#[tokio::test]
async fn sqlite_never_plans_the_dashboards_statements_again() {
    let app = TestApp::with_customers(Backend::Sqlite, 300).await;
    // Statistics, which the planner reads bound values against (STAT4).
    app.store.refresh_statistics().await.unwrap();
    default_owner_notifies_a_user(&app).await;
    let dashboard = renewals::bench::queries::action_required();
    for _ in 0..12 {
        let first = app.data(&dashboard, json!({ "first": 10 })).await;
        let cursor = first["renewals"]["pageInfo"]["endCursor"].clone();
        assert!(cursor.is_string(), "{first}");
        let next = app
            .data(&dashboard, json!({ "first": 10, "after": cursor }))
            .await;
        assert_eq!(next["renewals"]["nodes"].as_array().unwrap().len(), 10);
    }
    // The four statements of a dashboard request, by what their text holds
    // (the page reads its count from the tally).
    let statements: [&[&str]; 4] = [
        &["FROM \"api_token\""],
        &[
            "FROM \"renewal\" INNER JOIN \"customer\"",
            "FROM \"renewal_tally\"",
        ],
        &["FROM \"product_renewal\""],
        &["FROM \"partner_user\"", "\"partner_user\".\"id\" IN ("],
    ];
    let counters = "SELECT sql, run, reprep FROM sqlite_stmt";
    let mut runs = [0; 4];
    let mut planned_again = Vec::new();
    for row in on_every_reader(&app, DatabaseBackend::Sqlite, counters).await {
        let sql: String = row.try_get_by_index(0).unwrap();
        let run: i64 = row.try_get_by_index(1).unwrap();
        let reprep: i64 = row.try_get_by_index(2).unwrap();
        let Some(at) = statements
            .iter()
            .position(|marks| marks.iter().all(|mark| sql.contains(mark)))
        else {
            continue;
        };
        runs[at] += run;
        if reprep > 0 {
            planned_again.push(format!("planned {reprep} more times in {run} runs: {sql}"));
        }
    }
    assert!(runs.iter().all(|&n| n >= 2), "runs: {runs:?}");
    assert!(planned_again.is_empty(), "{planned_again:#?}");
}

/// On SQLite, a search repeated (the same words, as a dashboard's search box
/// does on every visit) is not planned again either: its page, its count and
/// the probe of the trigram index are prepared once per connection. (FTS5's
/// own statements on its shadow tables are its business.)
#[tokio::test]
async fn sqlite_never_plans_a_repeated_search_again() {
    let app = TestApp::with_customers(Backend::Sqlite, 300).await;
    app.store.refresh_statistics().await.unwrap();
    let search = renewals::bench::queries::search();
    for _ in 0..12 {
        let first = app.data(&search, json!({ "first": 2 })).await;
        let cursor = first["renewals"]["pageInfo"]["endCursor"].clone();
        assert!(cursor.is_string(), "{first}");
        app.data(&search, json!({ "first": 2, "after": cursor }))
            .await;
    }
    let counters = "SELECT sql, run, reprep FROM sqlite_stmt";
    let mut runs = 0;
    let mut planned_again = Vec::new();
    for row in on_every_reader(&app, DatabaseBackend::Sqlite, counters).await {
        let sql: String = row.try_get_by_index(0).unwrap();
        let ours = sql.contains("customer_search MATCH") || sql.contains(" LIKE ");
        if !ours {
            continue;
        }
        let run: i64 = row.try_get_by_index(1).unwrap();
        let reprep: i64 = row.try_get_by_index(2).unwrap();
        runs += run;
        if reprep > 0 {
            planned_again.push(format!("planned {reprep} more times in {run} runs: {sql}"));
        }
    }
    assert!(runs >= 24, "runs: {runs}");
    assert!(planned_again.is_empty(), "{planned_again:#?}");
}

/// On PostgreSQL, the dashboard's first page is planned once per connection:
/// the page query's own values are written into its text (`store::inline`;
/// its count's are bound), and the lookups' parameters do not change their plan,
/// so PostgreSQL settles on a generic plan after its five custom ones. With the
/// page query's values bound, PostgreSQL found its generic plan dearer than a
/// custom one and planned the query on every execution: a fifth of the
/// backends' CPU per dashboard request. Read from PostgreSQL's own counters
/// (`pg_prepared_statements`, one row per statement a connection prepared).
#[tokio::test]
async fn postgres_plans_the_dashboards_statements_once() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_customers(Backend::Postgres, 300).await;
    default_owner_notifies_a_user(&app).await;
    let dashboard = renewals::bench::queries::action_required();
    // Enough requests for each pooled connection to run each statement 8 times.
    for _ in 0..100 {
        let page = app.data(&dashboard, json!({ "first": 10 })).await;
        assert_eq!(page["renewals"]["nodes"].as_array().unwrap().len(), 10);
    }
    const PAGE: usize = 1;
    // The page reads its count from the tally.
    let statements: [&str; 4] = [
        "FROM api_token AS t",
        "FROM \"renewal\" INNER JOIN \"customer\"",
        "FROM \"product_renewal\"",
        // The page's notified users (other statements read users too).
        "\"partner_user\".\"id\" = ANY",
    ];
    let counters = "SELECT pg_backend_pid(), statement, generic_plans, custom_plans FROM pg_prepared_statements";
    // Executions and custom plans of each statement on each connection.
    let mut plans = std::collections::HashMap::new();
    for row in on_every_reader(&app, DatabaseBackend::Postgres, counters).await {
        let connection: i32 = row.try_get_by_index(0).unwrap();
        let sql: String = row.try_get_by_index(1).unwrap();
        let generic: i64 = row.try_get_by_index(2).unwrap();
        let custom: i64 = row.try_get_by_index(3).unwrap();
        if let Some(at) = statements.iter().position(|mark| sql.contains(mark)) {
            plans.insert((connection, at), (generic + custom, custom, sql));
        }
    }
    // PostgreSQL plans the first five executions of a statement with parameters
    // for their values; more custom plans mean it plans every execution. The
    // page query, whose plan depends on its values, has no parameter: PostgreSQL
    // would plan it each time at scale, if not in this small data set.
    for (at, mark) in statements.iter().enumerate() {
        let most_custom = if at == PAGE { 0 } else { 5 };
        let on_connections: Vec<_> = plans.iter().filter(|((_, s), _)| *s == at).collect();
        assert!(
            on_connections.iter().any(|(_, (runs, _, _))| *runs >= 8),
            "{mark}: too few executions on one connection to tell: {on_connections:#?}"
        );
        for (_, (runs, custom, sql)) in on_connections {
            assert!(
                *custom <= most_custom,
                "planned {custom} times in {runs} executions: {sql}"
            );
        }
    }
}

/// On PostgreSQL, a request runs all its statements on one connection, from
/// the token lookup on (`Store::for_request`). The pool hands out its idle
/// connections in turn, so statement by statement they went each to another
/// backend. Read from PostgreSQL's own list of what each connection prepared.
#[tokio::test]
async fn postgres_runs_a_requests_statements_on_one_connection() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_customers(Backend::Postgres, 50).await;
    // Three connections open and idle in the pool.
    let sleep = || {
        let statement = Statement::from_string(DatabaseBackend::Postgres, "SELECT pg_sleep(0.05)");
        app.store.reader().execute_raw(statement)
    };
    let (a, b, c) = tokio::join!(sleep(), sleep(), sleep());
    for slept in [a, b, c] {
        slept.unwrap();
    }
    let dashboard = renewals::bench::queries::action_required();
    app.data(&dashboard, json!({ "first": 10 })).await;

    let marks = [
        "INTO rate_limit_bucket",
        "FROM \"renewal\" INNER JOIN \"customer\"",
        "FROM \"product_renewal\"",
        "FROM \"renewal_tally\"",
    ];
    let prepared = "SELECT pg_backend_pid(), statement FROM pg_prepared_statements";
    let (mut seen, mut connections) = (HashSet::new(), HashSet::new());
    for row in on_every_reader(&app, DatabaseBackend::Postgres, prepared).await {
        let connection: i32 = row.try_get_by_index(0).unwrap();
        let sql: String = row.try_get_by_index(1).unwrap();
        for mark in marks.iter().filter(|mark| sql.contains(*mark)) {
            seen.insert(*mark);
            connections.insert(connection);
        }
    }
    assert_eq!(seen.len(), marks.len(), "{seen:?}");
    assert_eq!(
        connections.len(),
        1,
        "the request's statements ran on {connections:?}"
    );
}

/// On PostgreSQL, a search is planned for its words: the pattern is written
/// into the statement (`store::search_pattern`), so no search statement has a
/// parameter for PostgreSQL to plan generically. With the pattern bound, the
/// count switched to a generic plan after five searches, which counted 2–6×
/// slower at 1M renewals.
#[tokio::test]
async fn postgres_plans_each_search_for_its_words() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_customers(Backend::Postgres, 50).await;
    let search = "query($s: String) { renewals(first: 10, filter: {search: $s}) { totalCount nodes { id } } }";
    for words in ["a", "e", "bakery", "a", "e", "bakery", "a", "e"] {
        app.data(search, json!({ "s": words })).await;
    }
    let counters = "SELECT statement, custom_plans FROM pg_prepared_statements \
                    WHERE statement LIKE '%LIKE%'";
    let mut seen = 0;
    for row in on_every_reader(&app, DatabaseBackend::Postgres, counters).await {
        let sql: String = row.try_get_by_index(0).unwrap();
        let custom: i64 = row.try_get_by_index(1).unwrap();
        assert_eq!(custom, 0, "planned for bound values: {sql}");
        seen += 1;
    }
    assert!(seen > 0, "no search statement prepared");
}

/// A list no renewal can be in, whatever the data (dates outside the
/// window, reversed by the window, or no status), is answered without a
/// statement beyond the token's: PostgreSQL took 3.3 s at a million
/// renewals to find nothing in a reversed range.
async fn a_list_that_can_hold_nothing_reads_nothing(backend: Backend) {
    let app = TestApp::with_customers(backend, 5).await;
    let query = "query($f: RenewalFilter, $o: RenewalOrder, $last: Int) { renewals(filter: $f, orderBy: $o, last: $last) { totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage } } }";
    for filter in [
        json!({ "renewalDateFrom": "2020-01-01", "renewalDateTo": "2020-01-31" }),
        json!({ "deadlineFrom": "2099-06-01" }),
        json!({ "renewalDateTo": "2001-01-01", "includeEndedServices": true }),
        // Within the window, but before the action window's first date
        // (a renewal whose deadline has not passed is 45 days away or more).
        json!({ "actionRequired": true, "renewalDateTo": crate::helpers::today() + chrono::Days::new(44) }),
        json!({ "status": [] }),
    ] {
        for (order, last) in [
            (json!(null), json!(null)),
            (
                json!({ "field": "CUSTOMER_DOMAIN", "direction": "DESC" }),
                json!(5),
            ),
        ] {
            let before = app.store.statement_count();
            let data = app
                .data(query, json!({ "f": filter, "o": order, "last": last }))
                .await;
            assert_eq!(
                app.store.statement_count() - before,
                1,
                "{filter}: the token's only"
            );
            assert_eq!(
                data["renewals"],
                json!({ "totalCount": 0, "nodes": [], "pageInfo": { "hasNextPage": false, "hasPreviousPage": false } }),
                "{filter}"
            );
        }
    }
}

db_tests!(
    a_list_that_can_hold_nothing_reads_nothing,
    a_page_costs_the_same_statements_for_1_10_and_100_renewals,
    a_page_through_its_customers_costs_the_same_statements_for_1_10_and_50,
    the_action_required_dashboard_costs_at_most_6_statements_for_10_50_and_100_renewals,
    a_page_selected_through_several_fragments_is_read_once,
    product_renewals_are_bounded_by_the_pages_renewal_ids
);
