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

/// The statements one request costs, authentication included.
pub const STATEMENTS_PER_DASHBOARD_PAGE: u64 = 8;

async fn a_page_costs_the_same_statements_for_1_10_and_100_renewals(backend: Backend) {
    let app = TestApp::new(backend).await;
    // Every customer on the default owner gets a notify user, so each page has users to load.
    let users = app.data("{ viewer { users { id } } }", json!({})).await;
    let user = users["viewer"]["users"][0]["id"].clone();
    app.data(
        "mutation($u: ID!) { setDefaultRenewalOwner(input: {owner: {party: PARTNER, notifyUserId: $u}}) { userErrors { code } } }",
        json!({ "u": user }),
    )
    .await;
    let mut counts = Vec::new();
    for n in [1, 10, 100] {
        let before = app.store.statement_count();
        let data = app.data(DASHBOARD, json!({ "first": n })).await;
        let used = app.store.statement_count() - before;
        assert_eq!(data["renewals"]["edges"].as_array().unwrap().len(), n);
        counts.push(used);
    }
    assert_eq!(
        counts, [STATEMENTS_PER_DASHBOARD_PAGE; 3],
        "statements for 1, 10, 100 renewals"
    );
}

db_tests!(a_page_costs_the_same_statements_for_1_10_and_100_renewals);
