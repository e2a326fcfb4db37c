//! Thousands of generated requests — random selections, random variable values
//! of every JSON shape — and not one panic, 500 or internal error.

use axum::http::StatusCode;
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use renewals::graphql::ids::{NodeKind, encode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, postgres_url};

/// Any JSON value, with a bias towards the awkward: extreme numbers, odd Unicode.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(i64::from(i32::MAX) + 1),
            Just(-1i64),
            Just(0),
            Just(101)
        ]
        .prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("\u{0}"),
            Just("%"),
            Just("_\\"),
            Just("ÄÖÜ é ß"),
            Just("\u{202E}rtl"),
            Just("👩‍👩‍👧"),
            Just("2027-02-29"),
            Just("0000-00-00"),
            Just("9999-12-31"),
            Just("HUBSPOT"),
            Just("PARTNER"),
        ]
        .prop_map(Value::from),
        plausible_id(),
        Just(Value::from("x".repeat(5000))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,16}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// IDs of every kind, existing or not, and cursor-like strings.
fn plausible_id() -> impl Strategy<Value = Value> {
    let kinds = [
        NodeKind::Partner,
        NodeKind::PartnerUser,
        NodeKind::Customer,
        NodeKind::Renewal,
        NodeKind::Product,
    ];
    (0usize..5, prop_oneof![1i64..400, Just(i64::MAX)])
        .prop_map(move |(kind, id)| Value::from(encode(kinds[kind], id).0))
}

/// Strings that have broken systems before.
fn weird_string() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,30}".prop_map(Value::from),
        prop_oneof![
            Just("\u{0}"),
            Just("a\u{0}b"),
            Just("%"),
            Just("_"),
            Just("\\"),
            Just("' OR 1=1 --"),
            Just("ÄÖÜ é ß"),
            Just("\u{202E}rtl"),
            Just("👩‍👩‍👧"),
            Just("\u{FEFF}"),
            Just(""),
        ]
        .prop_map(Value::from),
        Just(Value::from("é".repeat(300))),
    ]
}

fn date_string() -> impl Strategy<Value = Value> {
    prop_oneof![
        (2000i32..2100, 1u32..13, 1u32..32)
            .prop_map(|(y, m, d)| Value::from(format!("{y:04}-{m:02}-{d:02}"))),
        prop_oneof![
            Just("2026-11-26"),
            Just("2027-01-10"),
            Just("0001-01-01"),
            Just("9999-12-31"),
            Just("2026-13-01")
        ]
        .prop_map(Value::from),
    ]
}

/// A filter of real field names, mostly with values of the right type.
fn filter() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        prop_oneof![any::<bool>().prop_map(Value::from), any_json()]
            .prop_map(|v| ("actionRequired", v)),
        prop_oneof![Just(json!("HUBSPOT")), Just(json!("PARTNER")), any_json()]
            .prop_map(|v| ("ownerParty", v)),
        prop_oneof![plausible_id(), any_json()].prop_map(|v| ("notifyUserId", v)),
        prop_oneof![3 => weird_string(), 1 => any_json()].prop_map(|v| ("search", v)),
        prop_oneof![
            prop::collection::vec(
                prop_oneof![
                    Just("PENDING"),
                    Just("CONFIRMED"),
                    Just("RENEWED"),
                    Just("CANCELLATION_REQUESTED")
                ],
                0..4
            )
            .prop_map(Value::from),
            any_json()
        ]
        .prop_map(|v| ("status", v)),
        date_string().prop_map(|v| ("deadlineFrom", v)),
        date_string().prop_map(|v| ("deadlineTo", v)),
        date_string().prop_map(|v| ("renewalDateFrom", v)),
        date_string().prop_map(|v| ("renewalDateTo", v)),
        any::<bool>().prop_map(|v| ("includeEndedServices", Value::from(v))),
    ];
    prop::collection::vec(field, 0..5).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

fn order() -> impl Strategy<Value = Value> {
    let fields = [
        "DEADLINE",
        "RENEWAL_DATE",
        "CURRENT_MRR",
        "RENEWAL_MRR",
        "MRR_CHANGE",
        "CUSTOMER_DOMAIN",
    ];
    prop_oneof![
        (0..fields.len(), any::<bool>())
            .prop_map(move |(f, asc)| json!({ "field": fields[f], "direction": if asc { "ASC" } else { "DESC" } })),
        any_json(),
    ]
}

fn page_size() -> impl Strategy<Value = Value> {
    prop_oneof![3 => Just(Value::Null), 3 => (-2i64..105).prop_map(Value::from), 1 => any_json()]
}

fn owner() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            prop_oneof![Just("HUBSPOT"), Just("PARTNER")],
            prop_oneof![Just(Value::Null), plausible_id()]
        )
            .prop_map(|(party, user)| json!({ "party": party, "notifyUserId": user })),
        any_json(),
    ]
}

const RENEWAL_FIELDS: [&str; 12] = [
    "id",
    "status",
    "renewalDate",
    "deadline",
    "daysUntilRenewal",
    "daysUntilDeadline",
    "actionRequired",
    "currentMrr { amount currencyCode }",
    "mrrChange { amount }",
    "owner { party isDefault notifyUser { id name } }",
    "productRenewals { quantity product { sku } }",
    "customer { id domain renewalOwner { party } history { nodes { kind reason } } renewals { id } }",
];

fn selection() -> impl Strategy<Value = String> {
    prop::collection::vec(0..RENEWAL_FIELDS.len(), 1..6).prop_map(|picked| {
        picked
            .into_iter()
            .map(|i| RENEWAL_FIELDS[i])
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// One request: a document and its variables.
fn request() -> impl Strategy<Value = (String, Value)> {
    let cursor = || prop_oneof![3 => Just(Value::Null), 1 => any_json()];
    let list = (selection(), filter(), order(), page_size(), cursor(), page_size(), cursor()).prop_map(
        |(sel, filter, order, first, after, last, before)| {
            (
                format!(
                    "query($f: RenewalFilter, $o: RenewalOrder, $first: Int, $after: String, $last: Int, $before: String) {{
                       renewals(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {{
                         totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {sel} }} }} }}"
                ),
                json!({ "f": filter, "o": order, "first": first, "after": after, "last": last, "before": before }),
            )
        },
    );
    let id = || prop_oneof![2 => plausible_id(), 1 => any_json()];
    let lookups = (
        selection(),
        id(),
        weird_string(),
        prop::collection::vec(id(), 0..5).prop_map(Value::from),
    )
        .prop_map(|(sel, id, domain, ids)| {
            (
                format!(
                    "query($id: ID, $domain: String, $ids: [ID!]!, $rid: ID!) {{
                   customer(id: $id, domain: $domain) {{ id domain history {{ nodes {{ kind }} }} }}
                   renewal(id: $rid) {{ {sel} }}
                   node(id: $rid) {{ id ... on Renewal {{ {sel} }} }}
                   nodes(ids: $ids) {{ id }} }}"
                ),
                json!({ "id": id, "domain": domain, "ids": ids, "rid": id }),
            )
        });
    let mutations = (prop::collection::vec(id(), 0..4).prop_map(Value::from), owner(), weird_string(), 0..3).prop_map(|(ids, owner, reason, which)| {
        let document = match which {
            0 => "mutation($ids: [ID!]!, $owner: RenewalOwnerInput) { setRenewalOwner(input: {customerIds: $ids, owner: $owner}) { customers { id } userErrors { field code } } }",
            1 => "mutation($owner: RenewalOwnerInput!) { setDefaultRenewalOwner(input: {owner: $owner}) { partner { id } userErrors { code } } }",
            _ => "mutation($id: ID!, $reason: String) { endServices(input: {customerId: $id, reason: $reason}) { customer { servicesEndReason } userErrors { code } } }",
        };
        let id = ids.as_array().and_then(|a| a.first().cloned()).unwrap_or(ids.clone());
        (document.to_owned(), json!({ "ids": ids, "owner": owner, "reason": reason, "id": id }))
    });
    prop_oneof![4 => list, 2 => lookups, 1 => mutations]
}

/// `cases` requests, or `FUZZ_CASES` of them when set (for a longer hunt).
fn fuzz(backend: Backend, cases: u32) {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::with_settings(backend, 20, |s| {
        s.rate_limit.restore_rate = 0
    }));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&request(), |(query, variables)| {
            let (status, body) =
                runtime.block_on(app.post_as(Some(&app.token), &query, variables.clone()));
            prop_assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "500 for {query} {variables}: {body}"
            );
            prop_assert!(
                status.is_success() || status.is_client_error(),
                "{status} for {query}"
            );
            let text = body.to_string();
            prop_assert!(
                !text.contains("INTERNAL_SERVER_ERROR"),
                "internal error for {query} {variables}: {text}"
            );
            for leak in ["sqlx", "SELECT ", "sqlite", "postgres", "panicked", "/src/"] {
                prop_assert!(
                    !text.contains(leak),
                    "`{leak}` leaked for {query} {variables}: {text}"
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn thousands_of_random_requests_never_fail_internally_on_sqlite() {
    fuzz(Backend::Sqlite, 2500);
}

#[test]
fn thousands_of_random_requests_never_fail_internally_on_postgres() {
    if postgres_url().is_some() {
        fuzz(Backend::Postgres, 1500);
    }
}
