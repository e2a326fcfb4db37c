//! Query cost and shape limits, cost reporting and per-partner rate limiting.

use std::sync::Arc;

use axum::http::StatusCode;
use renewals::{
    graphql::{MAX_COST, MAX_DEPTH, MAX_ERRORS, MAX_FIELDS_SPREAD, MAX_NODES},
    ratelimit::RateLimit,
};
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, TestApp, customer_ids, db_tests, error_codes, post_to, postgres_url},
    statements::DASHBOARD,
};

/// GraphiQL's introspection query (graphql-js `getIntrospectionQuery`).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}"#;

/// Runs `query` and returns (response, statements it cost).
async fn costed(app: &TestApp, query: &str) -> (Value, u64) {
    let before = app.store.statement_count();
    let body = app.gql(query, json!({})).await;
    (body, app.store.statement_count() - before)
}

async fn graphiqls_introspection_query_passes_the_limits(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let (status, body) = app.post_as(None, INTROSPECTION, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"],
        json!("Query")
    );
    // The custom scalars say where they are specified.
    let (_, body) = app
        .post_as(
            None,
            r#"{ __type(name: "Date") { specifiedByURL } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["__type"]["specifiedByURL"],
        json!("https://www.rfc-editor.org/rfc/rfc3339#section-5.6")
    );
}

/// Introspection costs about what its answer holds: the whole schema
/// (`__schema`) 2,000 points, a type (`__type`) 100, each response key once.
/// Counted as one field each, 416 aliases of `__schema` were answered
/// without a token: 18 MB in 2 s.
async fn introspection_costs_what_its_answer_holds(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let cost = |body: &Value| body["extensions"]["cost"]["requestedQueryCost"].as_u64();
    let (_, graphiql) = app.post_as(None, INTROSPECTION, json!({})).await;
    assert!(graphiql.get("errors").is_none(), "{graphiql}");
    let graphiql = cost(&graphiql).unwrap();
    assert!((2_000..2_500).contains(&graphiql), "{graphiql}");

    let schema = "__schema { queryType { name } }";
    let (_, once) = app
        .post_as(None, &format!("{{ {schema} }}"), json!({}))
        .await;
    let once = cost(&once).unwrap();
    // Its three fields cost 1 each, as any field.
    assert_eq!(once, 2_000 + 3, "{once}");
    // Selected again under the same key (through a fragment too), it runs
    // and costs once.
    let again = format!("{{ {schema} ...F }} fragment F on Query {{ {schema} }}");
    let (_, body) = app.post_as(None, &again, json!({})).await;
    assert_eq!(cost(&body), Some(once), "{body}");
    let (_, body) = app
        .post_as(
            None,
            r#"{ a: __type(name: "Renewal") { name } b: __type(name: "Customer") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(cost(&body), Some(2 * (100 + 2)), "{body}");

    let aliases = (0..13)
        .map(|i| format!("s{i}: {schema}"))
        .collect::<Vec<_>>()
        .join(" ");
    for token in [None, Some(app.token.as_str())] {
        let (_, body) = app
            .post_as(token, &format!("{{ {aliases} }}"), json!({}))
            .await;
        assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
        assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    }
}

/// A mutation costs 10 points for each thing it writes, and its payload's
/// fields for each: `setRenewalOwner` of 100 customers 1,000 and more.
/// Counted as one field each, 1,000 aliases of it with 100 customers each
/// cost 3,000 and wrote for 11 s.
async fn mutations_cost_what_they_write(backend: Backend) {
    let app = TestApp::with_customers(backend, 10).await;
    let ids = customer_ids(&app, 3).await;
    let cost = |body: &Value| body["extensions"]["cost"]["requestedQueryCost"].as_u64();
    let set = "mutation($ids: [ID!]!) { setRenewalOwner(input: {customerIds: $ids, owner: null}) { userErrors { code } } }";
    let body = app.gql(set, json!({ "ids": ids })).await;
    assert!(body.get("errors").is_none(), "{body}");
    // 3 writes of 10, and the payload's 2 fields for each.
    assert_eq!(cost(&body), Some(3 * 10 + 3 * 2), "{body}");
    let end =
        "mutation($id: ID!) { endServices(input: {customerId: $id}) { userErrors { code } } }";
    let body = app.gql(end, json!({ "id": ids[0] })).await;
    assert_eq!(cost(&body), Some(10 + 2), "{body}");

    let hundred: Vec<Value> = ids.iter().cycle().take(100).cloned().collect();
    let aliases = (0..21)
        .map(|i| format!("a{i}: setRenewalOwner(input: {{customerIds: $ids, owner: null}}) {{ userErrors {{ code }} }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let before = app.store.statement_count();
    let body = app
        .gql(
            &format!("mutation($ids: [ID!]!) {{ {aliases} }}"),
            json!({ "ids": hundred }),
        )
        .await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    assert_eq!(cost(&body), Some(21 * (100 * 10 + 100 * 2)), "{body}");
    assert_eq!(app.store.statement_count(), before, "nothing ran");
}

async fn hostile_shapes_are_rejected_before_touching_the_database(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let alias_bomb = format!(
        "{{ {} }}",
        (0..3000)
            .map(|i| format!("a{i}: renewals {{ totalCount }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let deep = format!(
        "{{ __type(name: \"Query\") {{ {} name {} }} }}",
        "ofType { ".repeat(30),
        "} ".repeat(30)
    );
    let directives = format!("{{ viewer {{ id {} }} }}", "@include(if: true) ".repeat(20));
    let cases = [
        (alias_bomb, "QUERY_TOO_COMPLEX"),
        (deep, "QUERY_TOO_DEEP"),
        (directives, "TOO_MANY_DIRECTIVES"),
        (
            format!(
                "{{ {} }}",
                (0..20)
                    .map(|i| format!("p{i}: renewals(first: 100) {{ nodes {{ customer {{ history {{ nodes {{ kind }} }} renewals {{ id }} }} }} }}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "QUERY_TOO_COMPLEX",
        ),
        ("{ renewals { ".to_owned(), "GRAPHQL_PARSE_FAILED"),
        ("{ viewr { id } }".to_owned(), "GRAPHQL_VALIDATION_FAILED"),
        // Names given twice parse, and break a rule of uniqueness.
        (
            "query A { viewer { id } } query A { viewer { name } }".to_owned(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ viewer { ...F } } fragment F on Partner { id } fragment F on Partner { name }"
                .to_owned(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        // Variables the document declares without using, or uses without
        // declaring: the document is wrong, whatever values come with it.
        (
            "query($unused: Int) { viewer { id } }".to_owned(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ renewal(id: $undeclared) { id } }".to_owned(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        // Said once, although async-graphql finds it twice.
        ("subscription { x }".to_owned(), "GRAPHQL_VALIDATION_FAILED"),
    ];
    for (query, code) in cases {
        let (body, statements) = costed(&app, &query).await;
        assert_eq!(
            error_codes(&body),
            [code],
            "{}",
            &query[..query.len().min(80)]
        );
        assert_eq!(body["data"], Value::Null);
        assert_eq!(statements, 0, "rejected before the database: {code}");
        // A query refused for its cost says what it would have cost.
        if code == "QUERY_TOO_COMPLEX" {
            let cost = body["extensions"]["cost"]["requestedQueryCost"].as_u64();
            assert!(cost > Some(MAX_COST as u64), "{cost:?}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(&cost.unwrap().to_string()), "{message}");
        }
        // A query refused for its depth says how deep it is, and the limit.
        if code == "QUERY_TOO_DEEP" {
            let message = body["errors"][0]["message"].as_str().unwrap();
            let says = format!("its fields nest 32 levels, and at most {MAX_DEPTH} are accepted");
            assert!(message.ends_with(&says), "{message}");
        }
    }
    // No field suggestions that would reveal the schema piecemeal.
    let (body, _) = costed(&app, "{ viewr { id } }").await;
    assert!(!body.to_string().contains("Did you mean"), "{body}");

    // A 1 MiB query string never reaches GraphQL.
    let huge = json!({ "query": format!("{{ viewer {{ id }} }} #{}", "x".repeat(1 << 20)) });
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(huge.to_string()))
        .unwrap();
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_codes(&body), ["PAYLOAD_TOO_LARGE"]);
}

/// A kilobyte of fragments, each spreading the next twice, selects 2^31
/// fields: validation walked every spread and took minutes (554 s for 30
/// levels), token or not. It is refused before validation, at once.
async fn fragments_that_multiply_are_refused_before_validation(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    // Under a field, and at a mutation's root, where fragments are inlined
    // (`graphql/rewrite.rs`): neither is walked, nor inlined.
    let bomb = |root: &str, on: &str, field: &str, levels: usize| {
        let mut bomb = root.to_owned();
        for i in 0..levels {
            bomb += &format!(
                " fragment F{i} on {on} {{ {field} ...F{} ...F{} @include(if: true) }}",
                i + 1,
                i + 1
            );
        }
        bomb + &format!(" fragment F{levels} on {on} {{ {field} }}")
    };
    let end_services = "endServices(input: {customerId: \"x\"}) { userErrors { code } }";
    let bombs = [
        bomb("query { viewer { ...F0 } }", "Partner", "slug", 30),
        bomb("mutation { ...F0 }", "Mutation", end_services, 30),
    ];
    for bomb in &bombs {
        for token in [None, Some(app.token.as_str())] {
            let started = std::time::Instant::now();
            let (_, body) = app.post_as(token, bomb, json!({})).await;
            assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("more than {MAX_FIELDS_SPREAD} fields")),
                "{message}"
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }
    }
    // 2,047 copies of a mutation, under the limit, are inlined in no time,
    // and refused: they differ in the directives inlining gives them.
    let started = std::time::Instant::now();
    let body = app
        .gql(
            &bomb("mutation { ...F0 }", "Mutation", end_services, 10),
            json!({}),
        )
        .await;
    assert!(!error_codes(&body).is_empty(), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Fragments that stay within the limit are spread as usual.
    let (_, body) = app
        .post_as(
            Some(app.token.as_str()),
            "{ viewer { ...P } } fragment P on Partner { slug ...Q ...Q } fragment Q on Partner { name }",
            json!({}),
        )
        .await;
    assert!(body["data"]["viewer"]["slug"].is_string(), "{body}");
}

/// A response lists at most `MAX_ERRORS` errors, the last saying how many
/// more there were: 5,000 unknown fields are not 5,000 errors.
async fn a_response_lists_at_most_max_errors(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let unknown = format!(
        "{{ {} }}",
        (0..5000).map(|i| format!("a{i} ")).collect::<String>()
    );
    for token in [None, Some(app.token.as_str())] {
        let (_, body) = app.post_as(token, &unknown, json!({})).await;
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), MAX_ERRORS);
        assert!(
            error_codes(&body)
                .iter()
                .all(|code| code == "GRAPHQL_VALIDATION_FAILED"),
            "{body}"
        );
        let last = errors[MAX_ERRORS - 1]["message"].as_str().unwrap();
        assert_eq!(
            last,
            format!("{} more errors, left out", 5000 - (MAX_ERRORS - 1))
        );
    }
    // Fewer are listed as they are.
    let (_, body) = app
        .post_as(Some(app.token.as_str()), "{ a b }", json!({}))
        .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
}

/// `nodes` takes 100 IDs at most; more are refused, and cost what 100 would,
/// not a share of the budget in proportion to a list that runs nothing
/// (15,000 IDs cost 15,001 points).
async fn too_many_node_ids_are_refused_without_costing_their_number(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let ids = vec![json!("UmVuZXdhbDox"); 15_000];
    let body = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(cost_of(&body), MAX_NODES as u64 + 1, "{body}");
}

async fn every_response_reports_its_cost_and_the_remaining_budget(backend: Backend) {
    let app = TestApp::with_customers(backend, 5).await;
    let small = app.gql("{ viewer { id } }", json!({})).await;
    let cost = &small["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], json!(2));
    let throttle = &cost["throttleStatus"];
    assert_eq!(
        throttle["maximumAvailable"],
        json!(RateLimit::DEFAULT.capacity)
    );
    assert_eq!(
        throttle["restoreRate"],
        json!(RateLimit::DEFAULT.restore_rate)
    );
    let first_left = throttle["currentlyAvailable"].as_u64().unwrap();

    let page = app.gql(DASHBOARD, json!({ "first": 50 })).await;
    let page_cost = page["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap();
    assert!(
        page_cost > 50 * 20,
        "a page of 50 costs 50 × its children: {page_cost}"
    );
    let left = page["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    assert!(
        left < first_left && left + page_cost >= first_left,
        "{left} {page_cost} {first_left}"
    );
    // Twice the page size, about twice the cost.
    let bigger = app.gql(DASHBOARD, json!({ "first": 100 })).await;
    let bigger_cost = bigger["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap();
    assert!(
        bigger_cost > page_cost * 19 / 10,
        "{bigger_cost} vs {page_cost}"
    );
}

async fn a_partner_hammering_the_api_is_throttled_while_another_is_served(backend: Backend) {
    let limit = RateLimit {
        capacity: 30_000,
        restore_rate: 500,
    };
    let app = Arc::new(TestApp::with_settings(backend, 30, |s| s.rate_limit = limit).await);
    let page = json!({ "first": 20 });

    let hammer = {
        let app = Arc::clone(&app);
        let page = page.clone();
        tokio::spawn(async move {
            let mut throttled = 0;
            let mut served = 0;
            for _ in 0..60 {
                let (status, body) = app.post_as(Some(&app.token), DASHBOARD, page.clone()).await;
                if status == StatusCode::TOO_MANY_REQUESTS {
                    assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
                    assert!(
                        body["errors"][0]["extensions"]["retryAfterSeconds"]
                            .as_u64()
                            .unwrap()
                            >= 1
                    );
                    throttled += 1;
                } else {
                    assert_eq!(status, StatusCode::OK, "{body}");
                    served += 1;
                }
            }
            (served, throttled)
        })
    };
    let other = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            for _ in 0..10 {
                let (status, body) = app
                    .post_as(
                        Some(&app.other_token),
                        "{ renewals(first: 5) { totalCount } }",
                        json!({}),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert!(body.get("errors").is_none(), "{body}");
            }
        })
    };
    let (served, throttled) = hammer.await.unwrap();
    other.await.unwrap();
    assert!(served >= 1, "the bucket allows a burst first");
    assert!(
        throttled > 30,
        "most of the hammering is refused: {served} served, {throttled} throttled"
    );
}

/// On PostgreSQL, several server processes share the database, and so each
/// partner's budget (DESIGN.md: the server keeps no state of its own between
/// requests): what a partner spends through one process is gone in the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_processes_on_one_postgres_share_each_partners_budget() {
    if postgres_url().is_none() {
        return;
    }
    let limit = RateLimit {
        capacity: 10_000,
        restore_rate: 1,
    };
    let app = TestApp::with_settings(Backend::Postgres, 30, |s| s.rate_limit = limit).await;
    let other_process = app.another_process(|s| s.rate_limit = limit).await;
    let page = json!({ "first": 20 });

    let mut spent = 0;
    let start = std::time::Instant::now();
    let refused = loop {
        let (status, body) = app.post_as(Some(&app.token), DASHBOARD, page.clone()).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break body;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        spent += cost_of(&body);
        // The budget, and the point a second restored meanwhile.
        let restored = start.elapsed().as_secs() + 1;
        assert!(
            spent <= limit.capacity + restored,
            "served beyond the budget"
        );
    };
    let page_cost = cost_of(&refused);
    assert!(spent > limit.capacity - page_cost, "{spent} spent");

    // The other process refuses the same page, and reports the same budget.
    let (status, body) = post_to(&other_process, Some(&app.token), DASHBOARD, page).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
    let left = body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    assert!(left < page_cost, "{left} left, the page costs {page_cost}");
    // A small query fits in what is left, through either process, and the
    // other partner's budget is untouched.
    let (status, body) = post_to(
        &other_process,
        Some(&app.token),
        "{ viewer { id } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post_to(
        &other_process,
        Some(&app.other_token),
        DASHBOARD,
        json!({ "first": 20 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
        json!(limit.capacity - page_cost)
    );
}

/// Concurrent requests never spend more than the budget: taking points is
/// one atomic step, in the process (SQLite) or in one statement (PostgreSQL).
async fn concurrent_requests_never_overspend_the_budget(backend: Backend) {
    const SMALL: &str = "{ viewer { id } }";
    let limit = RateLimit {
        capacity: 20,
        // One point a second: a request's 2 points every 2 s of the test.
        restore_rate: 1,
    };
    let app = Arc::new(TestApp::with_settings(backend, 5, |s| s.rate_limit = limit).await);
    let start = std::time::Instant::now();
    let requests: Vec<_> = (0..40)
        .map(|_| {
            let app = Arc::clone(&app);
            tokio::spawn(async move { app.post_as(Some(&app.token), SMALL, json!({})).await })
        })
        .collect();
    let mut served = 0;
    for request in requests {
        let (status, body) = request.await.unwrap();
        match status {
            StatusCode::OK => {
                assert_eq!(cost_of(&body), 2, "{body}");
                served += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => assert_eq!(error_codes(&body), ["RATE_LIMITED"]),
            other => panic!("{other}: {body}"),
        }
    }
    // Ten from the budget, and one per 2 points restored meanwhile (none
    // unless the machine is very slow).
    let restored = start.elapsed().as_secs() / 2;
    assert!(
        (10..=10 + restored).contains(&served),
        "a budget of 20 serves ten requests costing 2, not {served}"
    );
}

/// What is refused takes nothing from a budget: a request costing more than
/// the bucket holds, one costing more than it can ever hold, and one with a
/// token that is not live (on PostgreSQL the statement that authenticates
/// also charges, so it must charge nothing when no token matches). The
/// refusal reports what the bucket holds and when the request would fit.
async fn what_is_refused_takes_nothing_from_the_budget(backend: Backend) {
    const SMALL: &str = "{ viewer { id } }";
    let limit = RateLimit {
        capacity: 10,
        restore_rate: 1,
    };
    let app = TestApp::with_settings(backend, 5, |s| s.rate_limit = limit).await;
    let available = |body: &Value| {
        body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
    };
    // Beyond what a full bucket holds: refused, never to be admitted later.
    let (status, body) = app
        .post_as(Some(&app.token), DASHBOARD, json!({ "first": 1 }))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(available(&body), 10);
    // Tokens that are no live token's: one revoked, of the same partner, and
    // one that never was.
    let revoked = app
        .store
        .create_token("northwind", "gone")
        .await
        .unwrap()
        .unwrap();
    assert!(app.store.revoke_token(revoked.id).await.unwrap());
    let forged = format!("rnw_{}", "A".repeat(43));
    for token in [revoked.secret.as_str(), forged.as_str()] {
        let (status, body) = app.post_as(Some(token), SMALL, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // Nothing taken so far: the bucket is full, less this request's 2 points.
    let (status, body) = app.post_as(Some(&app.token), SMALL, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(available(&body), 8, "{body}");

    // Four more leave at most a point (one may come back meanwhile).
    for _ in 0..3 {
        let body = app.gql(SMALL, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let (status, body) = app.post_as(Some(&app.token), SMALL, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(available(&body) <= 1, "{body}");
    // Refused for now: the bucket as it is, and when 2 points will be there.
    let (status, body) = app.post_as(Some(&app.token), SMALL, json!({})).await;
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(available(&body) <= 1, "{body}");
        let retry = body["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap();
        assert!((1..=2).contains(&retry), "{body}");
        // It took nothing: the request fits once the wait told has passed.
        tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 100)).await;
        let (status, body) = app.post_as(Some(&app.token), SMALL, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    } else {
        // A point came back meanwhile (a slow machine): served.
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// A restore rate of 0 turns rate limiting off.
async fn a_zero_restore_rate_turns_rate_limiting_off(backend: Backend) {
    let limit = RateLimit {
        capacity: 10,
        restore_rate: 0,
    };
    let app = TestApp::with_settings(backend, 5, |s| s.rate_limit = limit).await;
    for _ in 0..5 {
        let body = app.gql(DASHBOARD, json!({ "first": 20 })).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert!(cost_of(&body) > limit.capacity);
        assert_eq!(
            body["extensions"]["cost"]["throttleStatus"],
            json!({ "maximumAvailable": 10, "currentlyAvailable": 10, "restoreRate": 0 })
        );
    }
}

fn cost_of(body: &Value) -> u64 {
    body["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap_or_default()
}

/// The guard keeps validation results by request text, operation name and
/// variables; a request that differs in any of them is validated afresh, and
/// a failed validation is not kept.
async fn a_kept_validation_never_stands_for_another_request(backend: Backend) {
    let app = TestApp::with_customers(backend, 5).await;
    let text = "query Small { viewer { id } }
        query Page($first: Int!) { renewals(first: $first) { nodes { id customer { id name } } } }";
    let run = |operation: &str, variables: Value| {
        app.post_body(json!({ "query": text, "operationName": operation, "variables": variables }))
    };
    let page_of = |first: u64| run("Page", json!({ "first": first }));
    let (small, page_2, page_4) = (
        run("Small", json!({ "first": 2 })).await,
        page_of(2).await,
        page_of(4).await,
    );
    assert!(small["data"]["viewer"]["id"].is_string(), "{small}");
    assert_eq!(
        page_2["data"]["renewals"]["nodes"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(cost_of(&page_4) > cost_of(&page_2), "{page_2} {page_4}");
    // Again, the other way round: the kept results, unchanged.
    let again = page_of(2).await;
    assert_eq!(
        (&again["data"], cost_of(&again)),
        (&page_2["data"], cost_of(&page_2))
    );
    let again = run("Small", json!({ "first": 2 })).await;
    assert_eq!(
        (&again["data"], cost_of(&again)),
        (&small["data"], cost_of(&small))
    );

    // Variables that fail validation fail every time, and do not spoil the text.
    for _ in 0..2 {
        let bad = run("Page", json!({ "first": "ten" })).await;
        let codes = error_codes(&bad);
        assert!(
            !codes.is_empty() && codes.iter().all(|c| c == "BAD_USER_INPUT"),
            "{bad}"
        );
    }
    let missing = run("Page", json!({})).await;
    assert!(missing["errors"].is_array(), "{missing}");
    assert_eq!(page_of(2).await["data"], page_2["data"]);
    // An unknown operation name is an error, not another operation's result.
    let unknown = run("Other", json!({ "first": 2 })).await;
    assert!(unknown["errors"].is_array(), "{unknown}");
}

/// Values nested thousands of levels deep (3 KB of brackets) are refused
/// before any parser reads them, over POST and GET, with or without a token.
/// They overflowed the stack of the parser and of the walks over values, and
/// the whole server aborted. Nesting within the bound is answered as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_nested_too_deep_are_refused_before_parsing() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let deep = |n: usize| {
        [
            format!(
                "{{ nodes(ids: {}\"a\"{}) {{ id }} }}",
                "[".repeat(n),
                "]".repeat(n)
            ),
            format!(
                "{{ renewals(filter: {}\"a\"{}) {{ totalCount }} }}",
                "{search: ".repeat(n),
                "}".repeat(n)
            ),
            format!(
                "query($a: [ID!] = {}\"a\"{}) {{ viewer {{ id }} }}",
                "[".repeat(n),
                "]".repeat(n)
            ),
            format!(
                "{{ viewer {{ id @include(if: {}true{}) }} }}",
                "[".repeat(n),
                "]".repeat(n)
            ),
        ]
    };
    for query in deep(5_000) {
        for token in [None, Some(app.token.as_str())] {
            let (_, body) = app.post_as(token, &query, json!({})).await;
            assert_eq!(error_codes(&body), ["QUERY_TOO_DEEP"], "{body}");
        }
    }
    let url: String = deep(5_000)[0]
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let get = axum::http::Request::get(format!("/graphql?query={url}"))
        .header(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {}", app.token),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, body) = app.send(get).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_codes(&body), ["QUERY_TOO_DEEP"], "{body}");
    // Within the bound: the usual answer (a list where an ID goes).
    let body = app.gql(&deep(100)[0], json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
}

db_tests!(
    mutations_cost_what_they_write,
    introspection_costs_what_its_answer_holds,
    too_many_node_ids_are_refused_without_costing_their_number,
    a_response_lists_at_most_max_errors,
    fragments_that_multiply_are_refused_before_validation,
    a_kept_validation_never_stands_for_another_request,
    graphiqls_introspection_query_passes_the_limits,
    hostile_shapes_are_rejected_before_touching_the_database,
    every_response_reports_its_cost_and_the_remaining_budget,
    a_partner_hammering_the_api_is_throttled_while_another_is_served,
    concurrent_requests_never_overspend_the_budget,
    a_zero_restore_rate_turns_rate_limiting_off,
    what_is_refused_takes_nothing_from_the_budget,
);
