//! Bad input, broadly: each kind gets a clear answer and changes nothing.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, db_tests, error_codes};

/// The response to `query` with `variables`, refused with `BAD_USER_INPUT` alone.
async fn bad_user_input(app: &TestApp, query: &str, variables: Value) -> Value {
    let body = app.gql(query, variables.clone()).await;
    assert_eq!(
        error_codes(&body),
        ["BAD_USER_INPUT"],
        "{variables}: {body}"
    );
    body
}

async fn malformed_foreign_and_huge_ids_are_simply_not_found(backend: Backend) {
    let app = TestApp::with_customers(backend, 3).await;
    let renewal = app
        .data(
            "{ renewals(first: 1) { nodes { id customer { id } } } }",
            json!({}),
        )
        .await;
    let renewal_id = renewal["renewals"]["nodes"][0]["id"].clone();
    let customer_id = renewal["renewals"]["nodes"][0]["customer"]["id"].clone();
    let forged = |s: &str| json!(URL_SAFE_NO_PAD.encode(s));
    for id in [
        json!(""),
        json!("not base64 at all!"),
        json!("x".repeat(100_000)),
        forged("Renewal:-1"),
        forged("Renewal:1e3"),
        forged("Renewal:99999999999999999999999"),
        forged("Invoice:1"),
        forged("Renewal:1:2"),
        customer_id.clone(), // the wrong type for `renewal`
    ] {
        let data = app
            .data("query($id: ID!) { renewal(id: $id) { id } node(id: $id) { ... on Renewal { id } } }", json!({ "id": id }))
            .await;
        assert_eq!(data["renewal"], Value::Null);
        if id != customer_id {
            assert_eq!(data["node"], Value::Null);
        }
    }
    let ok = app
        .data(
            "query($id: ID!) { renewal(id: $id) { id } }",
            json!({ "id": renewal_id }),
        )
        .await;
    assert_eq!(ok["renewal"]["id"], renewal_id);
}

async fn out_of_range_dates_unknown_enums_and_tampered_cursors_are_bad_user_input(
    backend: Backend,
) {
    let app = TestApp::with_customers(backend, 3).await;
    let list = "query($f: RenewalFilter, $o: RenewalOrder, $after: String) { renewals(filter: $f, orderBy: $o, after: $after) { totalCount } }";
    let cursor = app
        .data(
            "{ renewals(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await["renewals"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tampered = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    let last = tampered.len() - 3;
    tampered[last] = b'x';
    for variables in [
        json!({ "f": { "deadlineFrom": "99999-01-01" } }),
        json!({ "f": { "deadlineFrom": "2027-02-30" } }),
        json!({ "f": { "renewalDateTo": "yesterday" } }),
        json!({ "f": { "ownerParty": "NOBODY" } }),
        json!({ "f": { "status": ["LOST"] } }),
        json!({ "o": { "field": "PRICE" } }),
        json!({ "f": { "deadlineFrom": "2027-03-01", "deadlineTo": "2027-01-01" } }),
        json!({ "after": URL_SAFE_NO_PAD.encode(&tampered) }),
        json!({ "after": cursor.chars().rev().collect::<String>() }),
        json!({ "f": { "search": "a\u{0}b" } }),
    ] {
        bad_user_input(&app, list, variables).await;
    }
    // A page size that is no Int, written in the document, is reported once
    // (the cost, computed from it, parsed it again and said so too).
    for first in ["1.5", "\"5\"", "99999999999"] {
        let query = format!("{{ renewals(first: {first}) {{ totalCount }} }}");
        let body = bad_user_input(&app, &query, json!({})).await;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("\"Int\""), "{body}");
    }
}

/// Cursors well formed and made for the order they are used with, but
/// holding a value no list holds (a domain with NUL, a date beyond what the
/// databases store, a value of another type): each is `BAD_USER_INPUT`,
/// not a database error.
async fn forged_cursors_with_values_no_list_holds_are_bad_user_input(backend: Backend) {
    let app = TestApp::with_customers(backend, 3).await;
    let list = "query($o: RenewalOrder, $after: String) { renewals(orderBy: $o, first: 2, after: $after) { totalCount nodes { id } } }";
    let forged = |field: &str, order: &str, value: Value| {
        let cursor = json!({ "f": field, "d": "Asc", "p": { "value": value, "id": 1 } });
        json!({ "o": { "field": order }, "after": URL_SAFE_NO_PAD.encode(cursor.to_string()) })
    };
    let domain = |text: &str| forged("CustomerDomain", "CUSTOMER_DOMAIN", json!({ "Text": text }));
    let deadline = |value: Value| forged("Deadline", "DEADLINE", value);
    // Well formed and within range: a page, as a real cursor would give.
    for variables in [domain("a"), deadline(json!({ "Date": "2000-01-01" }))] {
        let body = app.gql(list, variables.clone()).await;
        assert!(body.get("errors").is_none(), "{variables}: {body}");
        assert_eq!(
            body["data"]["renewals"]["nodes"].as_array().unwrap().len(),
            2
        );
    }
    for variables in [
        domain("a\u{0}"),
        deadline(json!({ "Date": "-5000-01-01" })),
        deadline(json!({ "Date": "0000-12-31" })),
        deadline(json!({ "Date": "+10000-01-01" })),
        deadline(json!({ "Text": "2027-01-01" })),
        deadline(json!({ "Int": 20270101 })),
        forged("MrrChange", "MRR_CHANGE", json!({ "Text": "0" })),
    ] {
        bad_user_input(&app, list, variables).await;
    }
}

/// A variable declared non-null without a default, left out or given null,
/// is a request error: nothing runs, nothing is charged, nothing changes.
/// (async-graphql ran the operation and reported it at the field.)
async fn a_required_variable_left_out_runs_nothing(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    let customer = app
        .data(
            "{ renewals(first: 1) { nodes { customer { id } } } }",
            json!({}),
        )
        .await["renewals"]["nodes"][0]["customer"]["id"]
        .clone();
    for (query, variables) in [
        ("query($id: ID!) { renewal(id: $id) { id } }", json!({})),
        (
            "query($id: ID!) { renewal(id: $id) { id } }",
            json!({ "id": null }),
        ),
        (
            "mutation($c: ID!, $r: String) { endServices(input: {customerId: $c, reason: $r}) { userErrors { code } } }",
            json!({ "r": "left out" }),
        ),
    ] {
        let body = bad_user_input(&app, query, variables).await;
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(
            body["extensions"]["cost"]["requestedQueryCost"],
            json!(0),
            "{body}"
        );
    }
    // A default, or a nullable type, needs no value.
    for query in [
        "query($n: Int! = 3) { renewals(first: $n) { totalCount } }",
        "query($n: Int) { renewals(first: $n) { totalCount } }",
    ] {
        app.data(query, json!({})).await;
    }
    let ended = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Customer { servicesEnded } } }",
            json!({ "id": customer }),
        )
        .await;
    assert_eq!(ended["node"]["servicesEnded"], json!(false));
}

/// A value a custom scalar refuses (`2027-02-30` for a `Date`), given in a
/// variable, written in the document or as a variable's default, is a request
/// error: nothing runs, nothing is charged, and the message says what a
/// value must look like. (It was a field error, `data: null`, charged.)
fn assert_refused_before_running(body: &Value) {
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["extensions"]["cost"]["requestedQueryCost"],
        json!(0),
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("YYYY-MM-DD"), "{body}");
}

async fn a_value_a_scalar_refuses_runs_nothing(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    let by_variable = "query($d: Date) { renewals(filter: {deadlineFrom: $d}) { totalCount } }";
    let in_a_filter = "query($f: RenewalFilter) { renewals(filter: $f) { totalCount } }";
    for (query, variables) in [
        (by_variable, json!({ "d": "2027-02-30" })),
        (by_variable, json!({ "d": 5 })),
        (by_variable, json!({ "d": "tomorrow" })),
        (
            in_a_filter,
            json!({ "f": { "renewalDateTo": "2027-13-01" } }),
        ),
        (
            "{ renewals(filter: {deadlineFrom: \"2027-02-30\"}) { totalCount } }",
            json!({}),
        ),
    ] {
        let body = bad_user_input(&app, query, variables).await;
        assert_refused_before_running(&body);
    }
    // A default is the document's: it does not validate.
    let body = app
        .gql(
            "query($d: Date = \"0000-01-01\") { renewals(filter: {deadlineFrom: $d}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&body)[0], "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert_refused_before_running(&body);
    let fine = app.data(by_variable, json!({ "d": "2027-02-28" })).await;
    assert!(fine["renewals"]["totalCount"].is_number());
}

async fn odd_unicode_is_stored_and_returned_intact(backend: Backend) {
    let app = TestApp::with_customers(backend, 3).await;
    let customer = app
        .data(
            "{ renewals(first: 1) { nodes { customer { id } } } }",
            json!({}),
        )
        .await["renewals"]["nodes"][0]["customer"]["id"]
        .clone();
    let reason =
        "Ünïcödé \u{202e}RTL\u{202c} 👩‍👩‍👧 \u{FEFF} 'quotes' \"double\" \\ % _ 日本語\n2nd line";
    let ended = app
        .data(
            "mutation($id: ID!, $r: String) { endServices(input: {customerId: $id, reason: $r}) { customer { servicesEndReason history { nodes { reason } } } } }",
            json!({ "id": customer, "r": reason }),
        )
        .await;
    assert_eq!(
        ended["endServices"]["customer"]["servicesEndReason"],
        json!(reason)
    );
    assert_eq!(
        ended["endServices"]["customer"]["history"]["nodes"][0]["reason"],
        json!(reason)
    );
    for search in [
        "👩‍👩‍👧",
        "\u{202e}",
        "日本語",
        "' OR '1'='1",
        "\\",
        "é".repeat(200).as_str(),
    ] {
        let body = app
            .gql(
                "query($s: String) { renewals(filter: {search: $s}) { totalCount } }",
                json!({ "s": search }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{search}: {body}");
        assert_eq!(body["data"]["renewals"]["totalCount"], json!(0), "{search}");
    }
}

db_tests!(
    malformed_foreign_and_huge_ids_are_simply_not_found,
    out_of_range_dates_unknown_enums_and_tampered_cursors_are_bad_user_input,
    forged_cursors_with_values_no_list_holds_are_bad_user_input,
    a_required_variable_left_out_runs_nothing,
    a_value_a_scalar_refuses_runs_nothing,
    odd_unicode_is_stored_and_returned_intact,
);
