//! A page of renewals with every nested field costs the same number of SQL
//! statements whatever its size: the dataloaders batch, and the list resolver
//! pre-loads the page's keys so that batching does not depend on timing.

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
          history { kind at actor }
        }
      }
    }
  }
}"#;

/// The statements one request costs, authentication included: authentication,
/// the page, the count, product renewals with their products, users, the
/// customers' renewals and their history.
pub const STATEMENTS_PER_DASHBOARD_PAGE: u64 = 7;

/// Authentication, the page, the count, product renewals with their products, users.
pub const STATEMENTS_PER_ACTION_REQUIRED_DASHBOARD: u64 = 5;
// Issue 4: at most 6.
const _: () = assert!(STATEMENTS_PER_ACTION_REQUIRED_DASHBOARD <= 6);

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

/// The page's product renewals are read by the page's renewal ids on both
/// tables, so that no plan (PostgreSQL's generic plan among them) has to read
/// all of the partner's renewals to join them.
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
    assert!(
        products[0].contains("\"renewal\".\"id\" IN ("),
        "{}",
        products[0]
    );
    assert!(
        products[0].contains("\"product_renewal\".\"renewal_id\" IN ("),
        "{}",
        products[0]
    );
}

/// On SQLite, the dashboard's lookups hide their values from the planner
/// (`+?`, see `store::opaque`): with STAT4 statistics, SQLite otherwise plans
/// a statement again on every run (callgrind: a tenth of a dashboard request).
/// Only the page query, whose plan depends on its dates, keeps plain values.
#[tokio::test]
async fn sqlite_lookups_keep_their_prepared_statements() {
    let app = TestApp::new(Backend::Sqlite).await;
    default_owner_notifies_a_user(&app).await;
    app.store.start_capture();
    app.data(
        "{ renewals(first: 10, filter: {actionRequired: true}) { totalCount nodes { owner { notifyUser { name } } productRenewals { quantity } } } }",
        json!({}),
    )
    .await;
    let statements = app.store.stop_capture();
    let of = |table: &str| {
        statements
            .iter()
            .find(|sql| sql.contains(&format!("FROM \"{table}\"")))
            .unwrap_or_else(|| panic!("no statement on {table}: {statements:#?}"))
    };
    let token = of("api_token");
    assert!(
        token.contains("= (+'") && !token.contains("LIMIT"),
        "{token}"
    );
    let products = of("product_renewal");
    assert!(
        products.contains("= (+") && products.matches("IN (+").count() == 2,
        "{products}"
    );
    let users = of("partner_user");
    assert!(users.contains("= (+") && users.contains("IN (+"), "{users}");
    let tally = of("renewal_tally");
    assert!(
        tally.contains("= (+") && tally.contains("BETWEEN (+'"),
        "{tally}"
    );
}

db_tests!(
    a_page_costs_the_same_statements_for_1_10_and_100_renewals,
    the_action_required_dashboard_costs_at_most_6_statements_for_10_50_and_100_renewals,
    product_renewals_are_bounded_by_the_pages_renewal_ids
);
