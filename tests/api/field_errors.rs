//! A field that fails is null, and the null goes up to the nearest place the
//! schema lets be null (GraphQL §6.4.4): a response never breaks the
//! schema's types. (async-graphql dropped the failed field instead, and made
//! an object null only when all its fields had failed.) The shape of the
//! answer does not depend on the database: SQLite only.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_codes};

/// A small data set on SQLite, and the global ID of one of its renewals.
async fn app_and_a_renewal_id() -> (TestApp, Value) {
    let app = TestApp::with_customers(Backend::Sqlite, 2).await;
    let id = app
        .data("{ renewals(first: 1) { nodes { id } } }", json!({}))
        .await["renewals"]["nodes"][0]["id"]
        .clone();
    (app, id)
}

/// `first: 0` is refused at the field (`BAD_USER_INPUT`); each case says
/// where its null must end up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_field_is_null_and_its_null_goes_up_to_a_nullable_place() {
    let (app, renewal_id) = app_and_a_renewal_id().await;
    let history = "history(first: 0) { nodes { at } }";
    let cases: [(String, Value); 6] = [
        // `history` is non-null, and so is `viewer`: nothing is left.
        (format!("{{ viewer {{ slug {history} }} }}"), Value::Null),
        (format!("{{ viewer {{ {history} }} }}"), Value::Null),
        // A nullable root field is null alone, in its place.
        (
            "{ a: customer(id: \"x\", domain: \"y\") { id } viewer { slug } }".to_owned(),
            json!({ "a": null, "viewer": { "slug": "northwind" } }),
        ),
        (
            "{ customer(id: \"x\", domain: \"y\") { id } }".to_owned(),
            json!({ "customer": null }),
        ),
        // Up through `customer: Customer!` to the nullable `renewal`.
        (
            format!(
                "{{ renewal(id: {renewal_id}) {{ id customer {{ {history} }} }} viewer {{ slug }} }}"
            ),
            json!({ "renewal": null, "viewer": { "slug": "northwind" } }),
        ),
        // Up to the list's item, which `[Node]!` lets be null.
        (
            format!(
                "{{ nodes(ids: [{renewal_id}]) {{ id ... on Renewal {{ customer {{ {history} }} }} }} }}"
            ),
            json!({ "nodes": [null] }),
        ),
    ];
    let cases = cases.into_iter().chain([
        // A field selected in two places, one through a fragment, fails once
        // (§6.4.4: one error per field), though it ran in each.
        (
            format!(
                "{{ renewal(id: {renewal_id}) {{ customer {{ {history} }} \
                 ... on Renewal {{ customer {{ history(first: 0) {{ pageInfo {{ hasNextPage }} }} }} }} }} }}"
            ),
            json!({ "renewal": null }),
        ),
    ]);
    for (query, data) in cases {
        let body = app.gql(&query, json!({})).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{query}: {body}");
        assert_eq!(body["data"], data, "{query}");
        assert!(
            body.as_object().unwrap().contains_key("data"),
            "{query}: {body}"
        );
    }
}

/// An object whose selection comes to nothing (every field skipped, or a
/// fragment on another type) is `{}`, not null: null would say it failed or
/// does not exist. (async-graphql answered null.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_selects_nothing_is_empty_not_null() {
    let (app, renewal_id) = app_and_a_renewal_id().await;
    let cases: [(String, Value); 8] = [
        (
            "{ viewer { name @skip(if: true) } }".to_owned(),
            json!({ "viewer": {} }),
        ),
        // Under an object written as JSON text as it is resolved.
        (
            format!("{{ renewal(id: {renewal_id}) {{ customer {{ renewals {{ id @skip(if: true) }} }} }} }}"),
            json!({ "renewal": { "customer": { "renewals": [{}] } } }),
        ),
        (
            "{ renewals(first: 1) { nodes { customer { history(first: 1) { pageInfo { hasNextPage @skip(if: true) } } } } } }".to_owned(),
            json!({ "renewals": { "nodes": [{ "customer": { "history": { "pageInfo": {} } } }] } }),
        ),
        ("{ viewer @skip(if: true) { name } }".to_owned(), json!({})),
        (
            "{ renewals(first: 2) { nodes { id @include(if: false) } } }".to_owned(),
            json!({ "renewals": { "nodes": [{}, {}] } }),
        ),
        (
            format!("{{ node(id: {renewal_id}) {{ ... on Customer {{ id }} }} }}"),
            json!({ "node": {} }),
        ),
        (
            format!(
                "{{ nodes(ids: [{renewal_id}, \"nope\"]) {{ ...OnCustomer }} }} fragment OnCustomer on Customer {{ id }}"
            ),
            json!({ "nodes": [{}, null] }),
        ),
        // What is selected is there, in its place; nothing hidden shows.
        (
            format!(
                "{{ node(id: {renewal_id}) {{ ... on Renewal {{ id }} }} viewer {{ slug @include(if: true) }} }}"
            ),
            json!({ "node": { "id": renewal_id }, "viewer": { "slug": "northwind" } }),
        ),
    ];
    for (query, data) in cases {
        let body = app.gql(&query, json!({})).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
        assert_eq!(body["data"], data, "{query}");
    }
    // The hidden field's alias is the server's: a document using it is refused.
    let body = app
        .gql("{ viewer { __renewals_hidden_typename: name } }", json!({}))
        .await;
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");
}
