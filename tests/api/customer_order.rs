//! Pages in customer domain order, on the benchmark's data set (20,000
//! renewals; the dashboard's partner holds 10,000 customers, in 24 blocks of
//! domains by first word: `acme…`, `blue…`, …, `maple…` from 58 % of the way).
//!
//! A page after a cursor starts its walk over the customers at the cursor's
//! domain. A search in that order lists what it lists in deadline order, on
//! PostgreSQL whether a page is found by a bounded walk over the partner's
//! customers or from the matching customers (`store::customer_walk`).

use std::collections::HashSet;

use renewals::store::Store;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, db_tests},
    plans::{benchmark_db, post_variables},
};

const PAGE: &str = "query($f: RenewalFilter, $o: RenewalOrder, $first: Int, $after: String, $last: Int, $before: String) {
  renewals(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id customer { domain } } } }";

/// Every row of a list, `(domain, id)`, walking its pages of `size` forward
/// (`first`/`after`), or backward from its end (`last`/`before`).
async fn every_row(
    router: &axum::Router,
    token: &str,
    filter: &Value,
    order: &Value,
    size: u64,
    backward: bool,
) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let variables = if backward {
            json!({ "f": filter, "o": order, "last": size, "before": cursor })
        } else {
            json!({ "f": filter, "o": order, "first": size, "after": cursor })
        };
        let list = post_variables(router, token, PAGE, variables).await["data"]["renewals"].clone();
        let mut page: Vec<(String, String)> = list["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let domain = n["customer"]["domain"].as_str().unwrap().to_owned();
                (domain, n["id"].as_str().unwrap().to_owned())
            })
            .collect();
        assert!(page.len() as u64 <= size);
        let info = &list["pageInfo"];
        if backward {
            page.extend(rows);
            rows = page;
            if !info["hasPreviousPage"].as_bool().unwrap() {
                return rows;
            }
            cursor = info["startCursor"].clone();
        } else {
            rows.extend(page);
            if !info["hasNextPage"].as_bool().unwrap() {
                return rows;
            }
            cursor = info["endCursor"].clone();
        }
    }
}

/// The `customer` rows a PostgreSQL statement read, found by `EXPLAIN
/// ANALYZE`: those it returned and those it passed over.
async fn customers_read_pg(store: &Store, sql: &str) -> f64 {
    fn sum(plan: &Value) -> f64 {
        let own = if plan["Relation Name"] == "customer" {
            let loops = plan["Actual Loops"].as_f64().unwrap_or(1.0);
            let rows = plan["Actual Rows"].as_f64().unwrap_or(0.0)
                + plan["Rows Removed by Filter"].as_f64().unwrap_or(0.0);
            rows * loops
        } else {
            0.0
        };
        own + plan["Plans"]
            .as_array()
            .into_iter()
            .flatten()
            .map(sum)
            .sum::<f64>()
    }
    let row = store
        .reader()
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}"),
        ))
        .await
        .unwrap()
        .unwrap();
    let plan: Value = row.try_get("", "QUERY PLAN").unwrap();
    sum(&plan[0]["Plan"])
}

/// A page after a cursor in the middle of the list (taken from a search for
/// `maple`: a cursor holds the order, not the filter) reads the customers
/// from the cursor's domain on. Its keyset condition, `(domain, id) >
/// (…)`, spans both tables, and no index holds it: without the domain's own
/// bound the walk passed over the 5,800 customers before the cursor (and at
/// a million renewals took 3.4–3.9 s on PostgreSQL instead of 3–7 ms;
/// SQLite derived the bound itself).
async fn a_page_in_customer_order_starts_at_its_cursor(backend: Backend) {
    let (_db, store, router, token) = benchmark_db(backend).await;
    for direction in ["ASC", "DESC"] {
        let order = json!({ "field": "CUSTOMER_DOMAIN", "direction": direction });
        let search = json!({ "search": "maple" });
        let first = post_variables(
            &router,
            &token,
            PAGE,
            json!({ "f": search, "o": order, "first": 20 }),
        )
        .await;
        let cursor = first["data"]["renewals"]["pageInfo"]["endCursor"].clone();
        for filter in [json!({}), json!({ "actionRequired": true })] {
            store.start_capture();
            let next = post_variables(
                &router,
                &token,
                PAGE,
                json!({ "f": filter, "o": order, "first": 20, "after": cursor }),
            )
            .await;
            let nodes = next["data"]["renewals"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), 20, "{direction} {filter}");
            let first_domain = nodes[0]["customer"]["domain"].as_str().unwrap();
            assert!(first_domain.starts_with("maple"), "{first_domain}");
            let pages: Vec<String> = store
                .stop_capture()
                .into_iter()
                .filter(|sql| sql.contains("ORDER BY \"customer\".\"domain\""))
                .collect();
            assert_eq!(pages.len(), 1, "{pages:?}");
            let sql = &pages[0];
            if backend == Backend::Postgres {
                let read = customers_read_pg(&store, sql).await;
                assert!(
                    read <= 500.0,
                    "{direction} {filter}: {read} customers read\n{sql}"
                );
            } else {
                let plan: Vec<String> = crate::helpers::explain(store.reader(), sql)
                    .await
                    .iter()
                    .map(|row| row.try_get::<String>("", "detail").unwrap())
                    .collect();
                // SQLite walks the customers by domain (the list's range is
                // a month or more).
                let bound = if direction == "ASC" {
                    "domain>?"
                } else {
                    "domain<?"
                };
                let walks: Vec<&String> = plan
                    .iter()
                    .filter(|d| d.starts_with("SEARCH customer USING INDEX"))
                    .collect();
                assert!(!walks.is_empty(), "{direction} {filter}: {plan:?}");
                assert!(
                    walks.iter().all(|d| d.contains(bound)),
                    "{direction} {filter}: {plan:?}\n{sql}"
                );
            }
        }
    }
}

/// What kind of list statement PostgreSQL ran for a search's page in
/// customer order, by the marks `store::customer_walk` leaves in its text.
fn kinds(statements: &[String]) -> Vec<&'static str> {
    statements
        .iter()
        .filter(|sql| sql.contains("\"customer\""))
        .filter_map(|sql| {
            if sql.contains("OFFSET 5000") {
                Some("more customers?")
            } else if sql.contains("LIMIT 5000") {
                Some("walk")
            } else if sql.contains("OFFSET 0") {
                Some("matching")
            } else if sql.contains("ORDER BY \"customer\".\"domain\"") {
                Some("page")
            } else {
                None
            }
        })
        .collect()
}

/// A search in customer order lists the rows it lists in deadline order,
/// sorted by domain and id, page by page in either direction and either way
/// of travel. On PostgreSQL a page walks at most 5,000 of the partner's
/// customers and otherwise reads the matching customers (`maple` from the
/// start: its block lies beyond the walk, and so does `ma`'s, a needle the
/// trigram indexes cannot find), and checks whether more customers lie
/// beyond the walk only when its page is short.
async fn a_search_in_customer_order_lists_what_deadline_order_lists(backend: Backend) {
    let (_db, store, router, token) = benchmark_db(backend).await;
    let deadline = json!({ "field": "DEADLINE" });
    for needle in ["maple", "bakery", "ma", "zzq"] {
        let filter = json!({ "search": needle, "actionRequired": needle == "bakery" });
        let mut expected = every_row(&router, &token, &filter, &deadline, 100, false).await;
        expected.sort();
        let ids: HashSet<&String> = expected.iter().map(|(_, id)| id).collect();
        assert_eq!(ids.len(), expected.len(), "{needle}: no row twice");
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": "CUSTOMER_DOMAIN", "direction": direction });
            let mut want = expected.clone();
            if direction == "DESC" {
                want.reverse();
            }
            for backward in [false, true] {
                let got = every_row(&router, &token, &filter, &order, 50, backward).await;
                assert_eq!(got, want, "{needle} {direction} backward: {backward}");
            }
        }
    }
    if backend != Backend::Postgres {
        return;
    }
    let cases = [
        ("maple", "ASC", vec!["walk", "more customers?", "matching"]),
        ("maple", "DESC", vec!["walk"]),
        ("bakery", "ASC", vec!["walk"]),
        (".example", "ASC", vec!["walk"]),
        ("ma", "ASC", vec!["walk", "more customers?", "matching"]),
        ("ma", "DESC", vec!["walk"]),
    ];
    for (needle, direction, want) in cases {
        let order = json!({ "field": "CUSTOMER_DOMAIN", "direction": direction });
        store.start_capture();
        let page = post_variables(
            &router,
            &token,
            PAGE,
            json!({ "f": { "search": needle }, "o": order, "first": 50 }),
        )
        .await;
        let statements = store.stop_capture();
        assert_eq!(
            page["data"]["renewals"]["nodes"].as_array().unwrap().len(),
            50
        );
        assert_eq!(
            kinds(&statements),
            want,
            "{needle} {direction}: {statements:#?}"
        );
    }
    // The last page of `maple`, short, walks the partner's last customers:
    // none lie beyond, and the matching customers are not read.
    let order = json!({ "field": "CUSTOMER_DOMAIN" });
    let maple = json!({ "search": "maple" });
    store.start_capture();
    let all = every_row(&router, &token, &maple, &order, 50, false).await;
    let walked = kinds(&store.stop_capture());
    assert!(
        all.len() % 50 != 0,
        "{} rows: the last page is short",
        all.len()
    );
    assert_eq!(
        walked.last(),
        Some(&"more customers?"),
        "the last page checks: {walked:?}"
    );
    assert_eq!(
        walked.iter().filter(|k| **k == "matching").count(),
        1,
        "only the first page reads the matching customers: {walked:?}"
    );
}

db_tests!(
    a_page_in_customer_order_starts_at_its_cursor,
    a_search_in_customer_order_lists_what_deadline_order_lists
);
