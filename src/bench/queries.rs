//! The GraphQL documents the benchmark sends.

use serde_json::{Value, json};

/// What a partner's dashboard shows for each renewal.
const DASHBOARD_SELECTION: &str = r#"
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id deadline daysUntilRenewal
      currentMrr { amount currencyCode } renewalMrr { amount currencyCode } mrrChange { amount currencyCode }
      customer { id domain name renewalManager { name email } }
      owner { party isDefault notifyUser { id name email } }
      productRenewals {
        quantity currentMrr { amount currencyCode } renewalMrr { amount currencyCode }
        product { sku name }
      }
    }"#;

/// The dashboard query over `renewals(<arguments>)`.
pub fn dashboard(arguments: &str) -> String {
    format!(
        "query Dashboard($first: Int!, $after: String) {{\n  renewals({arguments}, first: $first, after: $after) {{{DASHBOARD_SELECTION}\n  }}\n}}"
    )
}

/// The dashboard: renewals requiring action, by deadline.
pub fn action_required() -> String {
    dashboard("filter: {actionRequired: true}")
}

/// The dashboard ordered by MRR change, biggest gains first.
pub fn by_mrr_change() -> String {
    dashboard("filter: {actionRequired: true}, orderBy: {field: MRR_CHANGE, direction: DESC}")
}

/// The dashboard's search box.
pub fn search() -> String {
    dashboard(r#"filter: {actionRequired: true, search: "maple"}"#)
}

/// The dashboard of one partner user: the renewals it is notified about.
pub fn notified(user_id: &str) -> String {
    dashboard(&format!(
        r#"filter: {{actionRequired: true, notifyUserId: "{user_id}"}}"#
    ))
}

/// A request body (JSON text).
pub fn body(query: &str, variables: Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

pub const SET_RENEWAL_OWNER: &str = r#"mutation Set($ids: [ID!]!, $owner: RenewalOwnerInput) {
  setRenewalOwner(input: {customerIds: $ids, owner: $owner}) {
    customers { id renewalOwner { party isDefault notifyUser { id } } }
    userErrors { field message code }
  }
}"#;

pub const SET_DEFAULT_RENEWAL_OWNER: &str = r#"mutation Default($owner: RenewalOwnerInput!) {
  setDefaultRenewalOwner(input: {owner: $owner}) {
    partner { defaultRenewalOwner { party notifyUser { id } } }
    userErrors { field message code }
  }
}"#;

pub const END_SERVICES: &str = r#"mutation End($id: ID!) {
  endServices(input: {customerId: $id, reason: "benchmark"}) {
    customer { id servicesEnded }
    userErrors { field message code }
  }
}"#;

/// What every mutation response must contain: no business failure.
pub const NO_USER_ERRORS: &str = r#""userErrors":[]"#;

/// Ids for the mutations: the partner's users and some customers.
pub const USERS_AND_CUSTOMERS: &str = r#"query Ids($first: Int!) {
  viewer { users { id } }
  renewals(first: $first) { nodes { customer { id } } }
}"#;
