//! Documents that break GraphQL's validation rules are refused before
//! anything runs, including the two rules async-graphql leaves unchecked
//! (`src/graphql/typecheck.rs`). Validation needs no database: SQLite only.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_codes};

/// The response to `query`, refused by validation with a message that says
/// `says`, before anything ran.
async fn refused_by_validation(app: &TestApp, query: &str, variables: Value, says: &str) -> Value {
    let before = app.store.statement_count();
    let body = app.gql(query, variables).await;
    assert_eq!(
        error_codes(&body),
        ["GRAPHQL_VALIDATION_FAILED"],
        "{query}: {body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{query}: {body}");
    assert!(body.get("data").is_none(), "{query}: {body}");
    assert_eq!(
        app.store.statement_count(),
        before,
        "{query} ran statements"
    );
    body
}

/// Variables used where their type does not fit, and enum values written as
/// strings, in every place a value can stand: an argument, a list, an input
/// object, a fragment, a directive, a variable's default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistyped_variables_and_quoted_enum_values_are_refused() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let refused = [
        (
            "query($id: Int!) { renewal(id: $id) { id } }",
            json!({ "id": 5 }),
        ),
        (
            "query($n: String) { renewals(first: $n) { totalCount } }",
            json!({ "n": "5" }),
        ),
        // Nullable, no default on either side, where a value is required.
        (
            "query($id: ID) { renewal(id: $id) { id } }",
            json!({ "id": "x" }),
        ),
        (
            "query($ids: [ID]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ["x"] }),
        ),
        (
            "query($id: Int!) { nodes(ids: [$id]) { id } }",
            json!({ "id": 5 }),
        ),
        (
            "query($n: String) { ...Page } fragment Page on Query { renewals(first: $n) { totalCount } }",
            json!({ "n": "5" }),
        ),
        (
            "query($b: String) { viewer { id @include(if: $b) } }",
            json!({ "b": "yes" }),
        ),
        (
            "{ renewals(orderBy: { field: \"DEADLINE\" }) { totalCount } }",
            json!({}),
        ),
        (
            "{ renewals(filter: { status: [\"PENDING\"] }) { totalCount } }",
            json!({}),
        ),
        (
            "{ renewals(filter: { status: \"PENDING\" }) { totalCount } }",
            json!({}),
        ),
        (
            "query($s: [RenewalStatus!] = [\"PENDING\"]) { renewals(filter: { status: $s }) { totalCount } }",
            json!({}),
        ),
    ];
    for (query, variables) in refused {
        let before = app.store.statement_count();
        let body = app.gql(query, variables).await;
        assert_eq!(
            error_codes(&body),
            ["GRAPHQL_VALIDATION_FAILED"],
            "{query}: {body}"
        );
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(
            app.store.statement_count(),
            before,
            "{query} ran statements"
        );
    }

    let quoted = app
        .gql(
            "{ renewals(orderBy: { field: \"DEADLINE\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        quoted["errors"][0]["message"],
        "Enum \"RenewalOrderField\" cannot represent non-enum value: \"DEADLINE\"; write it without quotes: DEADLINE"
    );
    let mistyped = app
        .gql(
            "query($id: Int!) { renewal(id: $id) { id } }",
            json!({ "id": 5 }),
        )
        .await;
    assert_eq!(
        mistyped["errors"][0]["message"],
        "Variable \"$id\" of type \"Int!\" used in position expecting type \"ID!\""
    );
}

/// What the rules allow: an enum's value as a variable's JSON string, a
/// non-null variable where a nullable value goes, a nullable variable with a
/// default where a value is required, a variable as a list's item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_that_fit_and_enum_values_as_json_strings_are_taken() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let accepted: [(&str, Value); 6] = [
        (
            "query($s: [RenewalStatus!]) { renewals(filter: { status: $s }) { totalCount } }",
            json!({ "s": ["PENDING"] }),
        ),
        (
            "query($o: RenewalOrder) { renewals(orderBy: $o) { totalCount } }",
            json!({ "o": { "field": "DEADLINE", "direction": "DESC" } }),
        ),
        (
            "query($n: Int!) { renewals(first: $n) { totalCount } }",
            json!({ "n": 5 }),
        ),
        (
            "query($id: ID = \"x\") { renewal(id: $id) { id } }",
            json!({}),
        ),
        (
            "query($id: ID!) { nodes(ids: [$id]) { id } }",
            json!({ "id": "x" }),
        ),
        (
            "{ renewals(orderBy: { field: DEADLINE }) { totalCount } }",
            json!({}),
        ),
    ];
    for (query, variables) in accepted {
        let body = app.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
    }
}

/// In a document of several operations, the one named is validated with the
/// request's variables, costed and run alone: the others' variables are not
/// asked for, nor their cost charged, nor their fragments called unused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_operation_named_is_costed_and_needs_its_variables() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let cost = |body: &Value| body["extensions"]["cost"]["requestedQueryCost"].as_u64();
    let alone = app.gql("query A { viewer { name } }", json!({})).await;
    let heavy =
        "query B($n: Int!) { renewals(first: $n) { nodes { id customer { renewals { id } } } } }";
    let cases = [
        (format!("query A {{ viewer {{ name }} }} {heavy}"), json!({})),
        (
            "query A($v: ID!) { viewer { name } renewal(id: $v) { id } } \
             query B($v: Int!) { renewals(first: $v) { totalCount } }"
                .to_owned(),
            json!({ "v": "x" }),
        ),
        (
            "query A { viewer { name } } query B { ...Both } fragment Both on Query { viewer { id } }"
                .to_owned(),
            json!({}),
        ),
    ];
    for (document, variables) in cases {
        let body = app
            .post_body(json!({ "query": document, "variables": variables, "operationName": "A" }))
            .await;
        assert!(body.get("errors").is_none(), "{document}: {body}");
        assert_eq!(
            body["data"]["viewer"], alone["data"]["viewer"],
            "{document}"
        );
        if !document.contains("renewal(id") {
            assert_eq!(cost(&body), cost(&alone), "{document}: {body}");
        }
    }
}

/// The operations a request does not run are validated too (§6.1: the
/// whole document), without its variables: async-graphql was given only the
/// one run, so `query A { nosuchfield } query B { … }` ran B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_not_run_are_validated_too() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    for (document, says) in [
        (
            "query A { nosuchfield } query B { viewer { id } }",
            "nosuchfield",
        ),
        (
            "query A($x: Int) { viewer { id } } query B { viewer { id } }",
            "$x",
        ),
        (
            "query A { viewer { id } } query B { viewer { id } } fragment G on Partner { id }",
            "\"G\"",
        ),
        (
            "query A { renewals(first: \"x\") { totalCount } } query B { viewer { id } }",
            "first",
        ),
    ] {
        let before = app.store.statement_count();
        let body = app
            .post_body(json!({ "query": document, "operationName": "B" }))
            .await;
        assert!(body.get("data").is_none(), "{document}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{document}: {body}");
        assert_eq!(
            app.store.statement_count(),
            before,
            "{document} ran statements"
        );
    }
}

/// A variable left out is as if its input field were not given, so the
/// field's default applies (GraphQL, "Coercing Input Objects"); given as
/// null, it is null. async-graphql gave null either way, and refused
/// `direction: $d` (`OrderDirection! = ASC`) without `d`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_left_out_lets_its_input_fields_default_apply() {
    let app = TestApp::with_customers(Backend::Sqlite, 3).await;
    let ordered = "query($d: OrderDirection) { renewals(orderBy: {field: MRR_CHANGE, direction: $d}, first: 5) { nodes { id } } }";
    let by_default = app
        .data(
            "{ renewals(orderBy: {field: MRR_CHANGE}, first: 5) { nodes { id } } }",
            json!({}),
        )
        .await;
    let descending = app
        .data("{ renewals(orderBy: {field: MRR_CHANGE, direction: DESC}, first: 5) { nodes { id } } }", json!({}))
        .await;
    assert_ne!(by_default, descending);
    assert_eq!(app.data(ordered, json!({})).await, by_default);
    assert_eq!(app.data(ordered, json!({ "d": "DESC" })).await, descending);
    let null = app.gql(ordered, json!({ "d": null })).await;
    assert_eq!(error_codes(&null), ["BAD_USER_INPUT"], "{null}");

    let counted =
        "query($b: Boolean) { renewals(filter: {includeEndedServices: $b}) { totalCount } }";
    let default_count = app.data("{ renewals { totalCount } }", json!({})).await;
    assert_eq!(app.data(counted, json!({})).await, default_count);
}

/// A document of several operations sent without `operationName` is told
/// that it needs one, whatever variables the operations lack, and one with
/// an anonymous operation among others that each needs a name; a fragment
/// spread twice alike in one selection counts, and costs, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_operations_need_names_and_a_fragment_spread_twice_counts_once() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let body = app
        .gql(
            "query A($n: Int!) { renewals(first: $n) { totalCount } } query B { viewer { id } }",
            json!({}),
        )
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Operation name required"), "{body}");
    // An anonymous operation beside another parses, and breaks a validation
    // rule (the parser refused it as unparsable).
    let body = app
        .gql("{ viewer { name } } query B { viewer { id } }", json!({}))
        .await;
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("anonymous operation must be the only"),
        "{body}"
    );

    let cost = |body: &Value| body["extensions"]["cost"]["requestedQueryCost"].as_u64();
    let once = app
        .gql(
            "{ ...F } fragment F on Query { viewer { name } }",
            json!({}),
        )
        .await;
    let twice = app
        .gql(
            "{ ...F ...F } fragment F on Query { viewer { name } }",
            json!({}),
        )
        .await;
    assert!(twice.get("errors").is_none(), "{twice}");
    assert_eq!(twice["data"], once["data"]);
    assert_eq!(cost(&twice), cost(&once), "{twice}");
}

/// Fields under one response key must merge (§5.3.2) wherever they come
/// from: fragments on another type, nested sub-selections, interfaces.
/// async-graphql compared only fields in one set or in fragments on one
/// type, and ran `{ x: viewer { name } ...Q }` with `x: renewals { … }` in
/// `Q`, answering a mix of the two. Fields that can never apply to the same
/// object need only answer in the same shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_under_one_key_must_merge_wherever_they_are_selected() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let refused = [
        "{ x: viewer { name } ...Q } fragment Q on Query { x: renewals { totalCount } }",
        "{ viewer { name } ... on Query { viewer { name: slug } } }",
        "{ viewer { ...A ...B } } fragment A on Partner { n: name } fragment B on Partner { n: slug }",
        "{ renewals(first: 1) { totalCount } ...Q } fragment Q on Query { renewals(first: 2) { totalCount } }",
        // Different object types, but answers of different shapes.
        "{ nodes(ids: []) { ... on Customer { x: name } ... on Product { x: id } } }",
        "{ nodes(ids: []) { ... on Customer { x: servicesEndReason } ... on Product { x: name } } }",
        "{ nodes(ids: []) { ... on Customer { r: renewalOwner { party } } ... on Product { r: name } } }",
        // An interface's field may apply to the same object as a type's.
        "{ nodes(ids: []) { ... on Node { x: id } ... on Customer { x: name } } }",
    ];
    for query in refused {
        let body = refused_by_validation(&app, query, json!({}), "conflict").await;
        assert_eq!(
            body["errors"][0]["locations"].as_array().map(Vec::len),
            Some(2)
        );
    }

    let customer = crate::helpers::customer_ids(&app, 1).await.remove(0);
    let body = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { x: name } ... on Product { x: sku } } }",
            json!({ "ids": [customer] }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["nodes"][0]["x"].is_string(), "{body}");
    let body = app
        .gql(
            "{ viewer { name } ...Q } fragment Q on Query { viewer { name id } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let viewer = &body["data"]["viewer"];
    assert!(
        viewer["name"].is_string() && viewer["id"].is_string(),
        "{body}"
    );
}

/// Comparing the fields under one key costs their number squared: a
/// document of hundreds of fragments selecting one key with fields below it
/// is refused once the comparisons pass a bound, at once, instead of
/// occupying the server. A leaf selected alike again is compared once, so
/// thousands of fragments selecting `name` pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_under_one_key_are_compared_within_a_bound() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let fragments = |n: usize, selection: &str| {
        let spreads: String = (0..n).map(|i| format!(" ...F{i}")).collect();
        let definitions: String = (0..n)
            .map(|i| format!(" fragment F{i} on Partner {{ {selection} }}"))
            .collect();
        format!("{{ viewer {{{spreads} }} }}{definitions}")
    };
    let below = "x: defaultRenewalOwner { party }";
    for document in [fragments(50, below), fragments(2_000, "x: name")] {
        let body = app.gql(&document, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
    }

    let started = std::time::Instant::now();
    let body = app.gql(&fragments(1_000, below), json!({})).await;
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("too many fields under one key"), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// An input object that names a field twice is refused (§5.6.3), wherever it
/// stands: async-graphql's parser kept one of the two values and ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_object_names_each_field_once() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let customer = crate::helpers::customer_ids(&app, 1).await.remove(0);
    let refused = [
        "{ renewals(filter: { actionRequired: true, actionRequired: false }) { totalCount } }",
        "query($f: RenewalFilter = { status: [PENDING], status: [RENEWED] }) { renewals(filter: $f) { totalCount } }",
        "mutation($id: ID!) { endServices(input: { customerId: $id, reason: \"a\", reason: \"b\" }) { userErrors { code } } }",
    ];
    for query in refused {
        let says = "only be one input field named";
        let body = refused_by_validation(&app, query, json!({ "id": customer }), says).await;
        assert_eq!(body["errors"][0]["locations"][0]["line"], 1, "{body}");
    }
    let body = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Customer { servicesEnded } } }",
            json!({ "id": customer }),
        )
        .await;
    assert_eq!(body["node"]["servicesEnded"], false);
    // The same name in nested objects, or in a list's objects, is no repeat.
    let body = app
        .gql(
            "{ renewals(filter: { status: [PENDING] }, orderBy: { field: DEADLINE, direction: ASC }) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// A fragment that spreads itself, directly or through others, is refused
/// as such (§5.5.2.2), with where: async-graphql's validation followed it
/// to its recursion limit and answered `QUERY_TOO_DEEP`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_that_spreads_itself_is_refused_as_such() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    for (query, column) in [
        (
            "{ viewer { ...A } } fragment A on Partner { name ...A }",
            50,
        ),
        (
            "{ viewer { ...A } } fragment A on Partner { name ...B } fragment B on Partner { ...A }",
            81,
        ),
    ] {
        let body = refused_by_validation(&app, query, json!({}), "within itself").await;
        assert_eq!(
            body["errors"][0]["locations"][0],
            json!({ "line": 1, "column": column }),
            "{body}"
        );
    }
}

/// A variable the operation does not declare is reported once, by the rule
/// it breaks: the cost, computed from `first`, read the variable too and said
/// so again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_variable_is_reported_once() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    for (query, variables) in [
        ("{ renewals(first: $n) { totalCount } }", json!({})),
        ("{ renewals(first: $n) { totalCount } }", json!({ "n": 5 })),
        (
            "query Page { renewals(last: $n, filter: { search: $s }) { totalCount } }",
            json!({}),
        ),
    ] {
        let body = app.gql(query, variables).await;
        let used = query.matches('$').count();
        assert_eq!(
            error_codes(&body),
            vec!["GRAPHQL_VALIDATION_FAILED"; used],
            "{body}"
        );
        let messages: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert!(
            messages
                .iter()
                .all(|m| m.starts_with("Variable \"$") && m.contains("is not defined")),
            "{body}"
        );
    }
}

/// A syntax error is told in one line, with where and what was expected
/// (the parser drew the place over five lines, and the document's line in
/// full: all of a document sent on one line); `locations` say where too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_is_told_in_one_line() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    let padding = "x ".repeat(5_000);
    let cases = [
        (
            "{ renewals { ".to_owned(),
            "Syntax error at 1:14: expected selection",
            (1, 14),
        ),
        (
            "{ viewer { id } }}".to_owned(),
            "Syntax error at 1:18: expected the end of the document or executable definition",
            (1, 18),
        ),
        (
            format!("query {{\n  viewer {{ {padding} name(: 1) }}\n}}"),
            "Syntax error at 2:10018: expected name",
            (2, 10018),
        ),
    ];
    for (query, message, (line, column)) in cases {
        let body = app.gql(&query, json!({})).await;
        assert_eq!(error_codes(&body), ["GRAPHQL_PARSE_FAILED"], "{body}");
        assert_eq!(body["errors"][0]["message"], json!(message), "{body}");
        assert_eq!(
            body["errors"][0]["locations"],
            json!([{ "line": line, "column": column }])
        );
    }
}

/// A variable of a non-null type given `null` fails the request (§6.1.2),
/// default or none; a nullable one takes it, over its default. Before,
/// `$n: Int! = 1` given `null` ran, as if no `first` had been given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_for_a_non_null_variable_is_refused() {
    let app = TestApp::with_customers(Backend::Sqlite, 3).await;
    let refused = [
        (
            "query($n: Int! = 1) { renewals(first: $n) { totalCount } }",
            "n",
            "must not be null",
        ),
        (
            "query($n: Int!) { renewals(first: $n) { totalCount } }",
            "n",
            "is required",
        ),
        (
            "query($b: Boolean! = true) { viewer { name @include(if: $b) } }",
            "b",
            "must not be null",
        ),
    ];
    for (query, name, says) in refused {
        let before = app.store.statement_count();
        let body = app.gql(query, json!({ name: null })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{query}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {body}");
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(
            app.store.statement_count(),
            before,
            "{query} ran statements"
        );
    }
    // Nullable: `null` is a value, and `first: null` is no `first`.
    let data = app
        .data(
            "query($n: Int = 1) { renewals(first: $n) { nodes { id } } }",
            json!({ "n": null }),
        )
        .await;
    assert!(data["renewals"]["nodes"].as_array().unwrap().len() > 1);
    // Only the operation run counts.
    let document = "query A($n: Int!) { renewals(first: $n) { totalCount } } \
                    query B($n: Int) { renewals(first: $n) { totalCount } }";
    let body = app
        .post_body(json!({ "query": document, "operationName": "B", "variables": { "n": null } }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// `__typename` is validated as any field is (async-graphql's rules pass
/// over it, and ran each of these): no arguments, no selections, directives
/// the schema has, each once, with their arguments, of their types, and
/// variables the operation defines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typename_is_validated_like_any_field() {
    let app = TestApp::with_customers(Backend::Sqlite, 1).await;
    for (query, says) in [
        (
            "{ viewer { __typename(x: 1) name } }",
            "Unknown argument \"x\"",
        ),
        (
            "{ viewer { __typename { y } } }",
            "must not have a selection",
        ),
        (
            "{ renewals(first: 1) { nodes { __typename @foo id } } }",
            "Unknown directive \"@foo\"",
        ),
        (
            "{ viewer { __typename @skip name } }",
            "argument \"if\" of type \"Boolean!\" is required",
        ),
        (
            "{ viewer { __typename @skip(if: \"no\") } }",
            "expected type \"Boolean!\"",
        ),
        (
            "{ viewer { __typename @skip(if: false, unless: true) } }",
            "Unknown argument \"unless\"",
        ),
        (
            "{ viewer { __typename @skip(if: false) @skip(if: false) } }",
            "more than once",
        ),
        (
            "{ __typename @include(if: $x) viewer { name } }",
            "Variable \"$x\" is not defined",
        ),
        (
            "{ viewer { __typename @deprecated } }",
            "may not be used on a field",
        ),
        ("mutation { __typename(x: 1) }", "Unknown argument \"x\""),
    ] {
        refused_by_validation(&app, query, json!({}), says).await;
    }
    // Within the rules, it answers.
    let data = app
        .data(
            "{ viewer { __typename @include(if: true) t: __typename @skip(if: true) } }",
            json!({}),
        )
        .await;
    assert_eq!(data, json!({ "viewer": { "__typename": "Partner" } }));
}
