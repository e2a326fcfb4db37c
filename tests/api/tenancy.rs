//! Tenant isolation: another partner's objects behave exactly like objects
//! that do not exist, through every root field and mutation.

use renewals::graphql::ids::{NodeKind, decode_as, encode};
use serde_json::{Value, json};

use crate::helpers::{Backend, CustomerBuilder, TestApp, db_tests};

/// IDs of contoso's objects, and contoso-only data, seen through contoso's token.
struct Theirs {
    customer: Value,
    renewal: Value,
    user: Value,
    partner: Value,
    product: Value,
}

async fn theirs(app: &TestApp) -> Theirs {
    let data = app
        .other_data(
            "{ viewer { id users { id } } renewals(first: 1) { nodes { id customer { id } productRenewals { product { id } } } } }",
            json!({}),
        )
        .await;
    let node = &data["renewals"]["nodes"][0];
    Theirs {
        customer: node["customer"]["id"].clone(),
        renewal: node["id"].clone(),
        user: data["viewer"]["users"][0]["id"].clone(),
        partner: data["viewer"]["id"].clone(),
        product: node["productRenewals"][0]["product"]["id"].clone(),
    }
}

/// The response without `extensions.cost`, whose remaining budget changes with every request.
fn without_cost(mut response: Value) -> Value {
    response.as_object_mut().unwrap().remove("extensions");
    response
}

fn missing(kind: NodeKind) -> Value {
    json!(encode(kind, 9_999_999).0)
}

async fn another_partners_ids_behave_like_ids_that_do_not_exist(backend: Backend) {
    let app = TestApp::new(backend).await;
    CustomerBuilder::new("only-contoso.example")
        .for_partner("contoso")
        .insert(&app)
        .await;
    let t = theirs(&app).await;

    let reads = [
        (
            "query($id: ID!) { node(id: $id) { id } }",
            t.customer.clone(),
            missing(NodeKind::Customer),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            t.renewal.clone(),
            missing(NodeKind::Renewal),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            t.user.clone(),
            missing(NodeKind::PartnerUser),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            t.partner.clone(),
            missing(NodeKind::Partner),
        ),
        (
            "query($id: ID!) { nodes(ids: [$id, $id]) { id } }",
            t.customer.clone(),
            missing(NodeKind::Customer),
        ),
        (
            "query($id: ID!) { renewal(id: $id) { id } }",
            t.renewal.clone(),
            missing(NodeKind::Renewal),
        ),
        (
            "query($id: ID!) { customer(id: $id) { id } }",
            t.customer.clone(),
            missing(NodeKind::Customer),
        ),
        (
            "query($id: ID!) { renewals(filter: {notifyUserId: $id}) { totalCount nodes { id } } }",
            t.user.clone(),
            missing(NodeKind::PartnerUser),
        ),
    ];
    for (query, their_id, missing_id) in reads {
        let seen = without_cost(app.gql(query, json!({ "id": their_id })).await);
        let absent = without_cost(app.gql(query, json!({ "id": missing_id })).await);
        assert_eq!(seen, absent, "{query}");
        assert!(seen.get("errors").is_none(), "{seen}");
    }
    // Products are the vendor's shared catalogue, not a partner's data.
    let product = app
        .data(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": t.product }),
        )
        .await;
    assert_eq!(product["node"]["id"], t.product);

    let by_domain = app
        .data(
            "{ customer(domain: \"only-contoso.example\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(by_domain["customer"], Value::Null);
    let listed = app
        .data("{ renewals(first: 100, filter: {search: \"only-contoso\", includeEndedServices: true}) { totalCount } }", json!({}))
        .await;
    assert_eq!(listed["renewals"]["totalCount"], json!(0));
}

async fn mutations_cannot_touch_another_partners_data(backend: Backend) {
    let app = TestApp::new(backend).await;
    let t = theirs(&app).await;
    let their_state = "query($id: ID!) { customer(id: $id) { servicesEnded renewalOwner { party notifyUser { id } } history { nodes { kind } } } }";
    let before = app
        .other_data(their_state, json!({ "id": t.customer }))
        .await;

    let set_owner = "mutation($input: SetRenewalOwnerInput!) { setRenewalOwner(input: $input) { customers { id } userErrors { field message code } } }";
    let end = "mutation($input: EndServicesInput!) { endServices(input: $input) { customer { id } userErrors { field message code } } }";
    let own_customer = app
        .data(
            "{ renewals(first: 1) { nodes { customer { id } } } }",
            json!({}),
        )
        .await["renewals"]["nodes"][0]["customer"]["id"]
        .clone();

    let pairs = [
        (
            set_owner,
            json!({ "customerIds": [t.customer], "owner": null }),
            json!({ "customerIds": [missing(NodeKind::Customer)], "owner": null }),
        ),
        (
            end,
            json!({ "customerId": t.customer }),
            json!({ "customerId": missing(NodeKind::Customer) }),
        ),
        (
            set_owner,
            json!({ "customerIds": [own_customer], "owner": { "party": "PARTNER", "notifyUserId": t.user } }),
            json!({ "customerIds": [own_customer], "owner": { "party": "PARTNER", "notifyUserId": missing(NodeKind::PartnerUser) } }),
        ),
        (
            "mutation($input: SetDefaultRenewalOwnerInput!) { setDefaultRenewalOwner(input: $input) { partner { id } userErrors { field message code } } }",
            json!({ "owner": { "party": "PARTNER", "notifyUserId": t.user } }),
            json!({ "owner": { "party": "PARTNER", "notifyUserId": missing(NodeKind::PartnerUser) } }),
        ),
    ];
    for (mutation, theirs_input, missing_input) in pairs {
        let seen = without_cost(app.gql(mutation, json!({ "input": theirs_input })).await);
        let absent = without_cost(app.gql(mutation, json!({ "input": missing_input })).await);
        assert_eq!(seen, absent, "{mutation}");
        let payload = seen["data"].as_object().unwrap().values().next().unwrap();
        assert_eq!(
            payload["userErrors"][0]["code"],
            json!("NOT_FOUND"),
            "{seen}"
        );
    }
    let after = app
        .other_data(their_state, json!({ "id": t.customer }))
        .await;
    assert_eq!(before, after);
}

async fn every_root_field_needs_a_token(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    for query in [
        "{ viewer { id } }",
        "{ renewals { totalCount } }",
        "{ renewal(id: \"x\") { id } }",
        "{ customer(domain: \"x\") { id } }",
        "{ node(id: \"x\") { id } }",
        "{ nodes(ids: [\"x\"]) { id } }",
        "mutation { endServices(input: {customerId: \"x\"}) { userErrors { code } } }",
        "mutation { setRenewalOwner(input: {customerIds: [\"x\"]}) { userErrors { code } } }",
        "mutation { setDefaultRenewalOwner(input: {owner: {party: HUBSPOT}}) { userErrors { code } } }",
    ] {
        let (status, body) = app.post_as(None, query, json!({})).await;
        assert_eq!(status, axum::http::StatusCode::OK);
        assert_eq!(
            crate::helpers::error_codes(&body),
            ["UNAUTHENTICATED"],
            "{query}: {body}"
        );
        // Nothing: `data` is null, or (where the root field may be null) holds a null.
        let nothing = match &body["data"] {
            Value::Null => true,
            Value::Object(fields) => fields.values().all(Value::is_null),
            _ => false,
        };
        assert!(nothing, "{query}: {body}");
    }
    // The schema itself is public: introspection works without a token.
    let (_, body) = app
        .post_as(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"],
        json!("Query")
    );
    // A wrong or revoked token is refused outright.
    let (status, body) = app
        .post_as(Some("rnw_not-a-real-token"), "{ viewer { id } }", json!({}))
        .await;
    assert_eq!(status, axum::http::StatusCode::UNAUTHORIZED);
    assert_eq!(crate::helpers::error_codes(&body), ["UNAUTHENTICATED"]);
}

/// The store reads a renewal's product renewals for its own partner only,
/// whatever ids it is given (a page's, so far always the partner's own).
async fn product_renewals_are_read_for_their_own_partner_only(backend: Backend) {
    let app = TestApp::new(backend).await;
    let t = theirs(&app).await;
    let id = |value: &Value, kind| decode_as(value.as_str().unwrap(), kind).unwrap();
    let (renewal, contoso) = (
        id(&t.renewal, NodeKind::Renewal),
        id(&t.partner, NodeKind::Partner),
    );
    let ours = id(
        &app.data("{ viewer { id } }", json!({})).await["viewer"]["id"],
        NodeKind::Partner,
    );
    let renewals = [renewal];
    let read = |partner| app.store.product_renewals_with_products(partner, &renewals);
    assert!(!read(contoso).await.unwrap().is_empty());
    assert!(read(ours).await.unwrap().is_empty());
}

/// The `Authorization` header: its scheme in any case; sent twice, with two
/// partners' tokens or one, it is refused, as one the server and a proxy
/// could read differently; every 401 says how to authenticate
/// (`WWW-Authenticate`).
async fn one_bearer_token_in_any_case_and_401s_that_say_so(backend: Backend) {
    use axum::http::{Request, StatusCode, header};
    let app = TestApp::with_customers(backend, 1).await;
    let body = json!({ "query": "{ viewer { slug } }" }).to_string();
    let send = |authorizations: Vec<String>| {
        let mut request =
            Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        for value in authorizations {
            request = request.header(header::AUTHORIZATION, value);
        }
        app.send(request.body(axum::body::Body::from(body.clone())).unwrap())
    };
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, _, bytes) = send(vec![format!("{scheme} {}", app.token)]).await;
        assert_eq!(status, StatusCode::OK, "{scheme}");
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body["data"]["viewer"]["slug"],
            json!("northwind"),
            "{scheme}"
        );
    }
    for (authorizations, challenge) in [
        (
            vec![
                format!("Bearer {}", app.token),
                format!("Bearer {}", app.other_token),
            ],
            r#"Bearer error="invalid_request""#,
        ),
        (
            vec![
                format!("Bearer {}", app.token),
                format!("Bearer {}", app.token),
            ],
            r#"Bearer error="invalid_request""#,
        ),
        (
            vec![format!("Basic {}", app.token)],
            r#"Bearer error="invalid_request""#,
        ),
        (
            vec!["Bearer ".to_owned()],
            r#"Bearer error="invalid_request""#,
        ),
        (
            vec!["Bearer rnw_not-a-real-token".to_owned()],
            r#"Bearer error="invalid_token""#,
        ),
    ] {
        let (status, headers, bytes) = send(authorizations.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorizations:?}");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            challenge,
            "{authorizations:?}"
        );
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(crate::helpers::error_codes(&body), ["UNAUTHENTICATED"]);
    }
}

db_tests!(
    another_partners_ids_behave_like_ids_that_do_not_exist,
    mutations_cannot_touch_another_partners_data,
    every_root_field_needs_a_token,
    one_bearer_token_in_any_case_and_401s_that_say_so,
    product_renewals_are_read_for_their_own_partner_only,
);
