//! The mutations: their effects, their userErrors, and the history they write.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, db_tests};

const SET_OWNER: &str = r#"
mutation Set($input: SetRenewalOwnerInput!) {
  setRenewalOwner(input: $input) {
    customers { id domain renewalOwner { party isDefault notifyUser { id } } }
    userErrors { field message code }
  }
}"#;

const SET_DEFAULT: &str = r#"
mutation Default($input: SetDefaultRenewalOwnerInput!) {
  setDefaultRenewalOwner(input: $input) {
    partner { defaultRenewalOwner { party isDefault notifyUser { id } } }
    userErrors { field message code }
  }
}"#;

const END: &str = r#"
mutation End($input: EndServicesInput!) {
  endServices(input: $input) {
    customer { id servicesEnded servicesEndedAt servicesEndReason }
    userErrors { field message code }
  }
}"#;

const CUSTOMER: &str = r#"
query Customer($id: ID!) {
  customer(id: $id) {
    domain servicesEnded
    renewalOwner { party isDefault notifyUser { id } }
    history {
      nodes {
        kind at actor reason
        ownerBefore { party isDefault notifyUser { id } }
        ownerAfter { party isDefault notifyUser { id } }
      }
    }
  }
}"#;

/// IDs of northwind's users and of some customers that are not ended.
async fn ids(app: &TestApp) -> (Vec<Value>, Vec<Value>) {
    let data = app
        .data(
            "{ viewer { users { id } } renewals(first: 10) { nodes { customer { id } } } }",
            json!({}),
        )
        .await;
    let users = data["viewer"]["users"].as_array().unwrap().clone();
    let customers = data["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["customer"]["id"].clone())
        .collect();
    (
        users.into_iter().map(|u| u["id"].clone()).collect(),
        customers,
    )
}

async fn customer(app: &TestApp, id: &Value) -> Value {
    app.data(CUSTOMER, json!({ "id": id })).await["customer"].clone()
}

fn fields(payload: &Value) -> Vec<&Value> {
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| &error["field"])
        .collect()
}

fn codes(payload: &Value) -> Vec<&str> {
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect()
}

async fn setting_an_owner_changes_it_and_writes_history(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, customers) = ids(&app).await;
    let before = customer(&app, &customers[0]).await;
    let input = json!({
        "customerIds": [customers[0], customers[1]],
        "owner": { "party": "PARTNER", "notifyUserId": users[1] }
    });
    let payload = app.data(SET_OWNER, json!({ "input": input })).await["setRenewalOwner"].clone();
    assert_eq!(payload["userErrors"], json!([]));
    let changed = payload["customers"].as_array().unwrap();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[0]["id"], customers[0]);
    let expected_owner =
        json!({ "party": "PARTNER", "isDefault": false, "notifyUser": { "id": users[1] } });
    for c in changed {
        assert_eq!(c["renewalOwner"], expected_owner);
    }

    let after = customer(&app, &customers[0]).await;
    assert_eq!(after["renewalOwner"], expected_owner);
    let history = after["history"]["nodes"].as_array().unwrap();
    let previous = before["history"]["nodes"].as_array().unwrap().len();
    assert_eq!(history.len(), previous + 1);
    let event = &history[0];
    assert_eq!(event["kind"], json!("OWNER_CHANGED"));
    assert_eq!(event["actor"], json!("test-suite"));
    assert_eq!(event["ownerBefore"], before["renewalOwner"]);
    assert_eq!(event["ownerAfter"], expected_owner);
    assert!(event["at"].as_str().unwrap().ends_with('Z'));

    // Setting the same owner again changes nothing and logs nothing.
    app.data(SET_OWNER, json!({ "input": input })).await;
    let again = customer(&app, &customers[0]).await;
    assert_eq!(
        again["history"]["nodes"].as_array().unwrap().len(),
        previous + 1
    );

    // One customer per ID given, in that order, an ID given twice included;
    // its history gets one event.
    let twice = json!({
        "customerIds": [customers[2], customers[1], customers[2]],
        "owner": { "party": "HUBSPOT", "notifyUserId": users[0] }
    });
    let payload = app.data(SET_OWNER, json!({ "input": twice })).await["setRenewalOwner"].clone();
    let ids: Vec<&Value> = payload["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(
        ids,
        [&customers[2], &customers[1], &customers[2]],
        "{payload}"
    );
    let changes = customer(&app, &customers[2]).await["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ownerAfter"]["notifyUser"]["id"] == users[0])
        .count();
    assert_eq!(changes, 1);

    // An owner left out is refused, and changes nothing: it is not `null`,
    // which goes back to the default.
    let left_out = app
        .data(
            SET_OWNER,
            json!({ "input": { "customerIds": [customers[0]] } }),
        )
        .await["setRenewalOwner"]
        .clone();
    assert_eq!(left_out["customers"], Value::Null, "{left_out}");
    assert_eq!(codes(&left_out), ["INVALID_INPUT"]);
    assert_eq!(fields(&left_out), [&json!(["input", "owner"])]);
    assert_eq!(
        customer(&app, &customers[0]).await["renewalOwner"],
        expected_owner
    );

    // owner: null goes back to the partner's default.
    let reset = app
        .data(
            SET_OWNER,
            json!({ "input": { "customerIds": [customers[0]], "owner": null } }),
        )
        .await["setRenewalOwner"]
        .clone();
    assert_eq!(
        reset["customers"][0]["renewalOwner"],
        json!({ "party": "HUBSPOT", "isDefault": true, "notifyUser": null })
    );
    let history = customer(&app, &customers[0]).await["history"]["nodes"].clone();
    assert_eq!(history[0]["ownerBefore"], expected_owner);
    assert_eq!(history[0]["ownerAfter"]["isDefault"], json!(true));
}

async fn a_bad_owner_change_is_a_user_error_and_changes_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, customers) = ids(&app).await;
    let before: Vec<Value> = [
        customer(&app, &customers[0]).await,
        customer(&app, &customers[1]).await,
    ]
    .into();
    let missing =
        renewals::graphql::ids::encode(renewals::graphql::ids::NodeKind::Customer, 999_999).0;
    let cases = [
        (
            json!({ "customerIds": [customers[0]], "owner": { "party": "PARTNER" } }),
            "NOTIFY_USER_REQUIRED",
            json!(["input", "owner", "notifyUserId"]),
        ),
        (
            json!({ "customerIds": [customers[0], missing], "owner": { "party": "HUBSPOT" } }),
            "NOT_FOUND",
            json!(["input", "customerIds", "1"]),
        ),
        (
            json!({ "customerIds": [customers[0], "garbage"], "owner": null }),
            "NOT_FOUND",
            json!(["input", "customerIds", "1"]),
        ),
        (
            json!({ "customerIds": [customers[1], users[0]], "owner": null }),
            "NOT_FOUND",
            json!(["input", "customerIds", "1"]),
        ),
        (
            json!({ "customerIds": [], "owner": null }),
            "INVALID_INPUT",
            json!(["input", "customerIds"]),
        ),
        (
            json!({ "customerIds": vec![customers[0].clone(); 101], "owner": null }),
            "INVALID_INPUT",
            json!(["input", "customerIds"]),
        ),
        (
            json!({ "customerIds": [customers[0]], "owner": { "party": "PARTNER", "notifyUserId": customers[1] } }),
            "NOT_FOUND",
            json!(["input", "owner", "notifyUserId"]),
        ),
    ];
    for (input, code, field) in cases {
        let payload =
            app.data(SET_OWNER, json!({ "input": input })).await["setRenewalOwner"].clone();
        assert_eq!(payload["customers"], Value::Null, "{input}");
        assert_eq!(codes(&payload), [code], "{input}");
        assert_eq!(payload["userErrors"][0]["field"], field, "{input}");
        assert!(
            !payload["userErrors"][0]["message"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    // An unknown ID given twice is reported at each place it is given.
    let input = json!({ "customerIds": [missing, customers[0], missing], "owner": null });
    let payload = app.data(SET_OWNER, json!({ "input": input })).await["setRenewalOwner"].clone();
    let fields = fields(&payload);
    assert_eq!(
        fields,
        [
            &json!(["input", "customerIds", "0"]),
            &json!(["input", "customerIds", "2"])
        ]
    );
    let after: Vec<Value> = [
        customer(&app, &customers[0]).await,
        customer(&app, &customers[1]).await,
    ]
    .into();
    assert_eq!(before, after);
}

async fn the_default_owner_applies_to_customers_without_an_override(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, _) = ids(&app).await;
    let owner = json!({ "party": "PARTNER", "notifyUserId": users[2] });
    let payload = app
        .data(SET_DEFAULT, json!({ "input": { "owner": owner } }))
        .await["setDefaultRenewalOwner"]
        .clone();
    assert_eq!(payload["userErrors"], json!([]));
    let expected =
        json!({ "party": "PARTNER", "isDefault": true, "notifyUser": { "id": users[2] } });
    assert_eq!(payload["partner"]["defaultRenewalOwner"], expected);

    let data = app
        .data("{ renewals(first: 100) { nodes { owner { party isDefault notifyUser { id } } customer { domain } } } }", json!({}))
        .await;
    let partner = &app.data.partners[0];
    let mut defaults = 0;
    for node in data["renewals"]["nodes"].as_array().unwrap() {
        let seeded = partner
            .customers
            .iter()
            .find(|c| json!(c.domain) == node["customer"]["domain"])
            .unwrap();
        if seeded.owner.is_none() {
            assert_eq!(node["owner"], expected);
            defaults += 1;
        } else {
            assert_eq!(node["owner"]["isDefault"], json!(false));
        }
    }
    assert!(defaults > 10);

    // The filter follows the new default.
    let partner_owned = app
        .data(
            "{ renewals(filter: {ownerParty: PARTNER}) { totalCount } }",
            json!({}),
        )
        .await["renewals"]["totalCount"]
        .as_u64()
        .unwrap();
    assert!(partner_owned >= defaults);

    for (owner, code) in [
        (json!({ "party": "PARTNER" }), "NOTIFY_USER_REQUIRED"),
        (
            json!({ "party": "HUBSPOT", "notifyUserId": "garbage" }),
            "NOT_FOUND",
        ),
    ] {
        let payload = app
            .data(SET_DEFAULT, json!({ "input": { "owner": owner } }))
            .await["setDefaultRenewalOwner"]
            .clone();
        assert_eq!(codes(&payload), [code]);
        assert_eq!(payload["partner"], Value::Null);
    }
    let unchanged = app
        .data(
            "{ viewer { defaultRenewalOwner { party isDefault notifyUser { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(unchanged["viewer"]["defaultRenewalOwner"], expected);
}

/// Mutations run one after the other, and each payload shows what the ones
/// before it did: `endServices` after `setDefaultRenewalOwner` in the same
/// document reports the new default owner of a customer without an override.
async fn a_payload_sees_the_default_owner_set_earlier_in_the_same_request(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, _) = ids(&app).await;
    let nodes = app
        .data(
            "{ renewals(first: 100) { nodes { customer { id } owner { isDefault } } } }",
            json!({}),
        )
        .await["renewals"]["nodes"]
        .clone();
    let without_override = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["owner"]["isDefault"] == json!(true))
        .expect("a customer without an override")["customer"]["id"]
        .clone();
    let data = app
        .data(
            "mutation($owner: RenewalOwnerInput!, $id: ID!) {
               setDefaultRenewalOwner(input: {owner: $owner}) { userErrors { code } }
               endServices(input: {customerId: $id}) {
                 customer { renewalOwner { party isDefault notifyUser { id } } }
                 userErrors { code }
               }
             }",
            json!({ "owner": { "party": "PARTNER", "notifyUserId": users[1] }, "id": without_override }),
        )
        .await;
    assert_eq!(data["endServices"]["userErrors"], json!([]), "{data}");
    assert_eq!(
        data["endServices"]["customer"]["renewalOwner"],
        json!({ "party": "PARTNER", "isDefault": true, "notifyUser": { "id": users[1] } })
    );
}

/// Changes of the default owner are the partner's history, newest first; a
/// change to the same owner or a refused one writes nothing, and the other
/// partner sees none of it.
async fn changing_the_default_owner_writes_the_partners_history(backend: Backend) {
    const HISTORY: &str = "{ viewer { history { nodes { kind at actor
        ownerBefore { party isDefault notifyUser { id } }
        ownerAfter { party isDefault notifyUser { id } } } } } }";
    let app = TestApp::new(backend).await;
    let history =
        || async { app.data(HISTORY, json!({})).await["viewer"]["history"]["nodes"].clone() };
    assert_eq!(history().await, json!([]));
    let (users, customers) = ids(&app).await;
    let hubspot = json!({ "party": "HUBSPOT", "isDefault": true, "notifyUser": null });
    let partner =
        json!({ "party": "PARTNER", "isDefault": true, "notifyUser": { "id": users[2] } });

    let set = |owner: Value| app.data(SET_DEFAULT, json!({ "input": { "owner": owner } }));
    set(json!({ "party": "PARTNER", "notifyUserId": users[2] })).await;
    set(json!({ "party": "PARTNER", "notifyUserId": users[2] })).await;
    set(json!({ "party": "PARTNER" })).await; // refused: nobody to notify
    let first = history().await;
    assert_eq!(first.as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(first[0]["kind"], json!("DEFAULT_OWNER_CHANGED"));
    assert_eq!(first[0]["actor"], json!("test-suite"));
    assert_eq!(first[0]["ownerBefore"], hubspot);
    assert_eq!(first[0]["ownerAfter"], partner);

    set(json!({ "party": "HUBSPOT" })).await;
    let second = history().await;
    assert_eq!(second.as_array().map(Vec::len), Some(2), "{second}");
    assert_eq!(second[1], first[0], "newest first");
    assert_eq!(second[0]["ownerBefore"], partner);
    assert_eq!(second[0]["ownerAfter"], hubspot);
    assert!(second[0]["at"].as_str() >= second[1]["at"].as_str());

    // Not a customer's history, and not the other partner's.
    let customer = customer(&app, &customers[0]).await;
    assert_eq!(customer["history"]["nodes"], json!([]), "{customer}");
    let other = app.other_data(HISTORY, json!({})).await;
    assert_eq!(other["viewer"]["history"]["nodes"], json!([]));
}

async fn ending_services_removes_the_customer_from_upcoming_renewals(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, customers) = ids(&app).await;
    let id = &customers[0];
    let count = |filter: Value| {
        let app = &app;
        async move {
            app.data(
                "query($f: RenewalFilter) { renewals(filter: $f) { totalCount } }",
                json!({ "f": filter }),
            )
            .await["renewals"]["totalCount"]
                .as_u64()
                .unwrap()
        }
    };
    let listed_before = count(json!({})).await;
    let all_before = count(json!({ "includeEndedServices": true })).await;

    let reason = "Kündigung — moved to another agency 🚀";
    let payload = app
        .data(
            END,
            json!({ "input": { "customerId": id, "reason": reason } }),
        )
        .await["endServices"]
        .clone();
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["customer"]["servicesEnded"], json!(true));
    assert_eq!(payload["customer"]["servicesEndReason"], json!(reason));
    assert!(
        payload["customer"]["servicesEndedAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    assert_eq!(count(json!({})).await, listed_before - 1);
    assert_eq!(
        count(json!({ "includeEndedServices": true })).await,
        all_before
    );

    let history = customer(&app, id).await["history"]["nodes"].clone();
    assert_eq!(history[0]["kind"], json!("SERVICES_ENDED"));
    assert_eq!(history[0]["reason"], json!(reason));
    assert_eq!(history[0]["actor"], json!("test-suite"));

    // Twice: ALREADY_ENDED, and nothing more is written.
    let again = app
        .data(END, json!({ "input": { "customerId": id } }))
        .await["endServices"]
        .clone();
    assert_eq!(codes(&again), ["ALREADY_ENDED"]);
    assert_eq!(again["customer"], Value::Null);
    assert_eq!(customer(&app, id).await["history"]["nodes"], history);

    // An ended customer's owner can no longer change.
    let payload = app
        .data(
            SET_OWNER,
            json!({ "input": { "customerIds": [id], "owner": { "party": "HUBSPOT" } } }),
        )
        .await["setRenewalOwner"]
        .clone();
    assert_eq!(codes(&payload), ["SERVICES_ENDED"]);
    // Every reason at once, in the order of the input: a malformed ID, an
    // ended customer, an unknown one, and a notify user that is no partner
    // user's.
    let unknown =
        renewals::graphql::ids::encode(renewals::graphql::ids::NodeKind::Customer, 987_654).0;
    let owner = json!({ "party": "PARTNER", "notifyUserId": customers[1] });
    let input = json!({ "customerIds": ["garbage", id, unknown, customers[1]], "owner": owner });
    // (A customer's ID for the notify user: no partner user has it.)
    let before = customer(&app, &customers[1]).await;
    let payload = app.data(SET_OWNER, json!({ "input": input })).await["setRenewalOwner"].clone();
    assert_eq!(
        codes(&payload),
        ["NOT_FOUND", "SERVICES_ENDED", "NOT_FOUND", "NOT_FOUND"],
        "{payload}"
    );
    assert_eq!(
        fields(&payload),
        [
            &json!(["input", "customerIds", "0"]),
            &json!(["input", "customerIds", "1"]),
            &json!(["input", "customerIds", "2"]),
            &json!(["input", "owner", "notifyUserId"]),
        ]
    );
    assert_eq!(customer(&app, &customers[1]).await, before);
    // A PARTNER owner without a notify user is reported with the customers'
    // errors, not instead of them.
    let input =
        json!({ "customerIds": [id, unknown, customers[1]], "owner": { "party": "PARTNER" } });
    let payload = app.data(SET_OWNER, json!({ "input": input })).await["setRenewalOwner"].clone();
    assert_eq!(
        codes(&payload),
        ["SERVICES_ENDED", "NOT_FOUND", "NOTIFY_USER_REQUIRED"],
        "{payload}"
    );
    assert_eq!(
        fields(&payload)[2],
        &json!(["input", "owner", "notifyUserId"])
    );
    assert_eq!(customer(&app, &customers[1]).await, before);

    for input in [
        json!({ "customerId": "garbage" }),
        json!({ "customerId": renewals::graphql::ids::encode(renewals::graphql::ids::NodeKind::Customer, 987_654).0 }),
    ] {
        let payload = app.data(END, json!({ "input": input })).await["endServices"].clone();
        assert_eq!(codes(&payload), ["NOT_FOUND"]);
    }
    let long = app
        .data(
            END,
            json!({ "input": { "customerId": customers[1], "reason": "x".repeat(2001) } }),
        )
        .await["endServices"]
        .clone();
    assert_eq!(codes(&long), ["INVALID_INPUT"]);
    assert_eq!(
        customer(&app, &customers[1]).await["servicesEnded"],
        json!(false)
    );
    // A reason is kept without the spaces around it; one of spaces only is
    // no reason, as none given (before, `""` and `"   "` were stored).
    let spaced = format!("  {} ", "y".repeat(2000));
    for (id, given, kept) in [
        (&customers[1], json!(spaced), json!("y".repeat(2000))),
        (&customers[2], json!(" \t\n "), Value::Null),
        (&customers[3], json!(""), Value::Null),
    ] {
        let input = json!({ "input": { "customerId": id, "reason": given } });
        let payload = app.data(END, input).await["endServices"].clone();
        assert_eq!(payload["customer"]["servicesEndReason"], kept, "{given}");
        let history = customer(&app, id).await["history"]["nodes"].clone();
        assert_eq!(history[0]["reason"], kept, "{given}");
    }
}

/// A mutation selected twice under one response key runs once, its
/// selections merged (GraphQL §6.3.2): before, `endServices` ended the
/// customer, ran again, and the payload said both `servicesEnded` and
/// `ALREADY_ENDED`. The same goes for a query field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_selected_twice_under_one_key_runs_once() {
    let app = TestApp::with_customers(Backend::Sqlite, 3).await;
    let id = crate::helpers::customer_ids(&app, 1).await.remove(0);
    let data = app
        .data(
            r#"mutation($id: ID!) {
                 endServices(input: {customerId: $id, reason: "r"}) { customer { id servicesEnded } }
                 endServices(input: {customerId: $id, reason: "r"}) { userErrors { code } }
               }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data,
        json!({ "endServices": { "customer": { "id": id, "servicesEnded": true }, "userErrors": [] } })
    );
    let history = app
        .data(
            "query($id: ID!) { customer(id: $id) { history { nodes { kind } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        history["customer"]["history"]["nodes"],
        json!([{ "kind": "SERVICES_ENDED" }])
    );
    // Two failing selections of one field: one error.
    let body = app
        .gql(
            r#"{ customer(id: "x", domain: "y") { id } customer(id: "x", domain: "y") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["data"], json!({ "customer": null }));
}

/// A mutation selected again through a fragment runs once too; selected
/// again with other arguments, under the same key, the document is refused
/// and nothing runs (both ran, one through a fragment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_repeated_through_a_fragment_runs_once_or_not_at_all() {
    let app = TestApp::with_customers(Backend::Sqlite, 3).await;
    let [id, other]: [Value; 2] = crate::helpers::customer_ids(&app, 2)
        .await
        .try_into()
        .unwrap();
    let data = app
        .data(
            r#"mutation($id: ID!) {
                 endServices(input: {customerId: $id}) { customer { servicesEnded } }
                 ...Again
                 ... on Mutation { endServices(input: {customerId: $id}) { customer { id } } }
               }
               fragment Again on Mutation {
                 endServices(input: {customerId: $id}) { userErrors { code } }
               }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data,
        json!({ "endServices": { "customer": { "servicesEnded": true, "id": id }, "userErrors": [] } })
    );

    let owner = "{ viewer { defaultRenewalOwner { party notifyUser { id } } } }";
    let before = app.data(owner, json!({})).await;
    let user = app.data("{ viewer { users { id } } }", json!({})).await["viewer"]["users"][0]["id"]
        .clone();
    let body = app
        .gql(
            r#"mutation($user: ID!) {
                 setDefaultRenewalOwner(input: {owner: {party: HUBSPOT}}) { userErrors { code } }
                 ...Other
               }
               fragment Other on Mutation {
                 setDefaultRenewalOwner(input: {owner: {party: PARTNER, notifyUserId: $user}}) {
                   userErrors { code }
                 }
               }"#,
            json!({ "user": user }),
        )
        .await;
    assert_eq!(
        crate::helpers::error_codes(&body),
        ["GRAPHQL_VALIDATION_FAILED"],
        "{body}"
    );
    assert_eq!(app.data(owner, json!({})).await, before, "nothing ran");
    // Alike but for a directive, on the field or on the fragment; or other
    // arguments in a fragment under a directive: refused too, as both run.
    for document in [
        r#"mutation($id: ID!) {
             endServices(input: {customerId: $id}) @include(if: true) { userErrors { code } }
             ...Again
           }
           fragment Again on Mutation { endServices(input: {customerId: $id}) { customer { id } } }"#,
        r#"mutation($id: ID!) {
             endServices(input: {customerId: $id}) { userErrors { code } }
             ...Again @include(if: true)
           }
           fragment Again on Mutation { endServices(input: {customerId: $id}) { customer { id } } }"#,
        r#"mutation($id: ID!) {
             endServices(input: {customerId: $id, reason: "a"}) { userErrors { code } }
             ... @include(if: true) { ...Again }
           }
           fragment Again on Mutation {
             endServices(input: {customerId: $id, reason: "b"}) { customer { id } }
           }"#,
    ] {
        let body = app.gql(document, json!({ "id": other })).await;
        assert_eq!(
            crate::helpers::error_codes(&body),
            ["GRAPHQL_VALIDATION_FAILED"],
            "{document}: {body}"
        );
    }
    let ended = app
        .data(
            "query($id: ID!) { customer(id: $id) { servicesEnded } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(ended, json!({ "customer": { "servicesEnded": false } }));
}

/// A mutation selected again through a fragment whose directives change
/// nothing (the same ones, in another order; one already on the field; one
/// that excludes the copy whatever the variables) runs once, as it would
/// without the fragment; `__typename` may be selected again under any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_repeated_under_directives_that_change_nothing_runs_once() {
    let app = TestApp::with_customers(Backend::Sqlite, 12).await;
    let ids = crate::helpers::customer_ids(&app, 4).await;
    let end = |directives: &str| {
        format!("endServices(input: {{customerId: $id}}) {directives} {{ userErrors {{ code }} }}")
    };
    let documents = [
        format!(
            "mutation($id: ID!) {{ {} ...F @include(if: true) }} fragment F on Mutation {{ {} }}",
            end("@include(if: true) @skip(if: false)"),
            end("@skip(if: false)")
        ),
        format!(
            "mutation($id: ID!) {{ {} ... @include(if: true) {{ {} }} }}",
            end("@include(if: true)"),
            end("@include(if: true)")
        ),
        format!(
            "mutation($id: ID!) {{ {} ...F @skip(if: true) }} fragment F on Mutation {{ {} }}",
            end(""),
            end("")
        ),
        format!(
            "mutation($id: ID!) {{ __typename {} ...F @skip(if: false) }} \
             fragment F on Mutation {{ __typename }}",
            end("")
        ),
    ];
    for (document, id) in documents.iter().zip(&ids) {
        let body = app.gql(document, json!({ "id": id })).await;
        assert!(body.get("errors").is_none(), "{document}: {body}");
        assert_eq!(
            body["data"]["endServices"],
            json!({ "userErrors": [] }),
            "{document}: {body}"
        );
    }
}

/// `@skip` and `@include` read a variable's default when the variable is
/// left out. async-graphql took it for false: a mutation marked
/// `@skip(if: $dryRun)`, `$dryRun` defaulting to true, ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_and_include_take_a_variables_default() {
    let app = TestApp::with_customers(Backend::Sqlite, 3).await;
    let id = crate::helpers::customer_ids(&app, 1).await.remove(0);
    let dry_run = r#"mutation($id: ID!, $dryRun: Boolean = true) {
        endServices(input: {customerId: $id}) @skip(if: $dryRun) { userErrors { code } }
    }"#;
    assert_eq!(app.data(dry_run, json!({ "id": id })).await, json!({}));
    let customer = "query($id: ID!) { customer(id: $id) { servicesEnded } }";
    assert_eq!(
        app.data(customer, json!({ "id": id })).await,
        json!({ "customer": { "servicesEnded": false } })
    );
    let included = "query($b: Boolean = true) { viewer { slug @include(if: $b) } }";
    assert_eq!(
        app.data(included, json!({})).await,
        json!({ "viewer": { "slug": "northwind" } })
    );
    assert_eq!(
        app.data(included, json!({ "b": false })).await,
        json!({ "viewer": {} })
    );
}

/// A mutation under fragments that each carry `@include` (or `@skip`) runs
/// when every condition holds. Fragments at a mutation's root are put in
/// place, their directives given to their fields; that gave a field
/// `@include` twice, which validation refused as a duplicate, though the
/// document is valid. Such a fragment now stays; a mutation in it selected
/// again at the root is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_under_nested_conditional_fragments_runs_when_all_hold() {
    let app = TestApp::with_customers(Backend::Sqlite, 3).await;
    let [id, other]: [Value; 2] = crate::helpers::customer_ids(&app, 2)
        .await
        .try_into()
        .unwrap();
    let nested = r#"mutation($id: ID!, $a: Boolean!, $b: Boolean!) { ...F @include(if: $a) }
        fragment F on Mutation { ...G @include(if: $b) }
        fragment G on Mutation { endServices(input: {customerId: $id}) { userErrors { code } } }"#;
    let ended = |id: &Value| {
        let id = id.clone();
        let app = &app;
        async move {
            app.data(
                "query($id: ID!) { customer(id: $id) { servicesEnded } }",
                json!({ "id": id }),
            )
            .await["customer"]["servicesEnded"]
                .clone()
        }
    };
    for (a, b) in [(true, false), (false, true)] {
        let data = app.data(nested, json!({ "id": id, "a": a, "b": b })).await;
        assert_eq!(data, json!({}));
    }
    assert_eq!(ended(&id).await, json!(false));
    let data = app
        .data(nested, json!({ "id": id, "a": true, "b": true }))
        .await;
    assert_eq!(data, json!({ "endServices": { "userErrors": [] } }));
    assert_eq!(ended(&id).await, json!(true));

    let again = r#"mutation($id: ID!, $a: Boolean!, $b: Boolean!) {
          endServices(input: {customerId: $id}) { userErrors { code } }
          ...F @include(if: $a)
        }
        fragment F on Mutation { ...G @include(if: $b) }
        fragment G on Mutation { endServices(input: {customerId: $id}) { userErrors { code } } }"#;
    let body = app
        .gql(again, json!({ "id": other, "a": true, "b": true }))
        .await;
    assert_eq!(
        crate::helpers::error_codes(&body),
        ["GRAPHQL_VALIDATION_FAILED"],
        "{body}"
    );
    assert_eq!(ended(&other).await, json!(false));
}

db_tests!(
    a_payload_sees_the_default_owner_set_earlier_in_the_same_request,
    setting_an_owner_changes_it_and_writes_history,
    changing_the_default_owner_writes_the_partners_history,
    a_bad_owner_change_is_a_user_error_and_changes_nothing,
    the_default_owner_applies_to_customers_without_an_override,
    ending_services_removes_the_customer_from_upcoming_renewals,
);

/// Mutations run one after the other (GraphQL §6.2.2), and each payload
/// reads what the mutations before it wrote: before, the second payload was
/// given the history and owner the first one had read, from the request's
/// loaders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_reads_what_the_mutations_before_it_wrote() {
    let app = TestApp::with_customers(Backend::Sqlite, 3).await;
    let id = crate::helpers::customer_ids(&app, 1).await.remove(0);
    let data = app
        .data(
            r#"mutation($id: ID!) {
                 a: setRenewalOwner(input: {customerIds: [$id], owner: {party: HUBSPOT}}) {
                   customers { renewalOwner { isDefault } history(first: 1) { nodes { kind } } }
                 }
                 b: setRenewalOwner(input: {customerIds: [$id], owner: null}) {
                   customers { renewalOwner { isDefault } history(first: 2) { nodes { kind } } }
                 }
                 c: endServices(input: {customerId: $id, reason: "moved"}) {
                   customer { history(first: 1) { nodes { kind reason } } renewals { customer { servicesEnded } } }
                 }
               }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data["a"]["customers"][0]["renewalOwner"]["isDefault"],
        json!(false)
    );
    assert_eq!(
        data["b"]["customers"][0]["renewalOwner"]["isDefault"],
        json!(true)
    );
    assert_eq!(
        data["b"]["customers"][0]["history"]["nodes"],
        json!([{ "kind": "OWNER_CHANGED" }, { "kind": "OWNER_CHANGED" }])
    );
    let ended = &data["c"]["customer"];
    assert_eq!(
        ended["history"]["nodes"],
        json!([{ "kind": "SERVICES_ENDED", "reason": "moved" }])
    );
    for renewal in ended["renewals"].as_array().unwrap() {
        assert_eq!(renewal["customer"]["servicesEnded"], json!(true));
    }
}
