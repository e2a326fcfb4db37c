//! Histories a page at a time: `first`/`after` walk a customer's history and
//! the partner's own newest first, each event once; one statement reads a
//! page of many customers' histories, each its own; a cursor pages only the
//! history it came from.

use sea_orm::{ConnectionTrait, DatabaseBackend};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, db_tests, error_codes, explain};

const SET_OWNER: &str = "mutation($input: SetRenewalOwnerInput!) { setRenewalOwner(input: $input) { userErrors { code } } }";
const SET_DEFAULT: &str = "mutation($input: SetDefaultRenewalOwnerInput!) { setDefaultRenewalOwner(input: $input) { userErrors { code } } }";

const EVENT: &str =
    "kind at ownerBefore { party notifyUser { id } } ownerAfter { party notifyUser { id } }";

/// `$after` is declared when the arguments use it.
fn after_variable(arguments: &str) -> &'static str {
    if arguments.contains("$after") {
        ", $after: String"
    } else {
        ""
    }
}

/// `history` with these arguments (none when empty).
fn history_field(arguments: &str) -> String {
    if arguments.is_empty() {
        "history".to_owned()
    } else {
        format!("history({arguments})")
    }
}

fn customer_history(arguments: &str) -> String {
    let after = after_variable(arguments);
    let history = history_field(arguments);
    format!(
        "query($id: ID!{after}) {{ customer(id: $id) {{ {history} {{ nodes {{ {EVENT} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}"
    )
}

fn partner_history(arguments: &str) -> String {
    let after = after_variable(arguments);
    let declared = if after.is_empty() {
        String::new()
    } else {
        format!("({})", &after[2..])
    };
    let history = history_field(arguments);
    format!(
        "query{declared} {{ viewer {{ {history} {{ nodes {{ {EVENT} }} pageInfo {{ hasNextPage hasPreviousPage endCursor }} }} }} }}"
    )
}

/// Two of northwind's users and two of its customers.
/// The partner's users, and two customers without history: they use the
/// default owner (a customer seeded with an owner of its own has that in its
/// history).
async fn users_and_customers(app: &TestApp) -> (Vec<Value>, Vec<Value>) {
    let data = app
        .data(
            "{ viewer { users { id } } renewals(first: 50) { nodes { customer {
                 id renewalOwner { isDefault } history { nodes { kind } } } } } }",
            json!({}),
        )
        .await;
    let users = data["viewer"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].clone())
        .collect();
    let customers: Vec<Value> = data["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| &node["customer"])
        .filter(|customer| customer["renewalOwner"]["isDefault"] == json!(true))
        .inspect(|customer| assert_eq!(customer["history"]["nodes"], json!([])))
        .map(|customer| customer["id"].clone())
        .take(2)
        .collect();
    assert_eq!(customers.len(), 2);
    (users, customers)
}

/// Changes the customer's owner `times` times, to a different user each time.
async fn change_owner(app: &TestApp, customer: &Value, users: &[Value], times: usize) {
    for i in 0..times {
        let input = json!({
            "customerIds": [customer],
            "owner": { "party": "PARTNER", "notifyUserId": users[i % 2] }
        });
        let payload = app.data(SET_OWNER, json!({ "input": input })).await;
        assert_eq!(payload["setRenewalOwner"]["userErrors"], json!([]));
    }
}

/// Every page of a history, `first` at a time: each page's `history` object.
async fn pages(app: &TestApp, query: &str, path: &[&str], id: Option<&Value>) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app.data(query, json!({ "id": id, "after": after })).await;
        let page = path.iter().fold(&data, |v, key| &v[*key]).clone();
        let more = page["pageInfo"]["hasNextPage"] == json!(true);
        after = page["pageInfo"]["endCursor"].clone();
        pages.push(page);
        if !more || pages.len() > 10 {
            return pages;
        }
    }
}

fn nodes(pages: &[Value]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| p["nodes"].as_array().unwrap().clone())
        .collect()
}

async fn a_customers_history_pages_newest_first(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, customers) = users_and_customers(&app).await;
    change_owner(&app, &customers[0], &users, 5).await;

    let whole = app
        .data(
            &customer_history("first: 100"),
            json!({ "id": customers[0] }),
        )
        .await["customer"]["history"]
        .clone();
    assert_eq!(whole["nodes"].as_array().unwrap().len(), 5, "{whole}");
    assert_eq!(whole["pageInfo"]["hasNextPage"], json!(false));
    // Newest first: each change starts where the one below it ended.
    let events = whole["nodes"].as_array().unwrap();
    for pair in events.windows(2) {
        assert_eq!(pair[0]["ownerBefore"], pair[1]["ownerAfter"], "{whole}");
    }

    let paged = pages(
        &app,
        &customer_history("first: 2, after: $after"),
        &["customer", "history"],
        Some(&customers[0]),
    )
    .await;
    let sizes: Vec<usize> = paged
        .iter()
        .map(|p| p["nodes"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(nodes(&paged), *events, "each event once, in order");
    // The second page after the first's start cursor: all but its first event.
    let start = app
        .data(
            &customer_history("first: 2, after: $after"),
            json!({ "id": customers[0], "after": paged[1]["pageInfo"]["startCursor"] }),
        )
        .await["customer"]["history"]["nodes"]
        .clone();
    assert_eq!(start, json!([events[3], events[4]]));
    let flags: Vec<(&Value, &Value)> = paged
        .iter()
        .map(|p| {
            (
                &p["pageInfo"]["hasNextPage"],
                &p["pageInfo"]["hasPreviousPage"],
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            (&json!(true), &json!(false)),
            (&json!(true), &json!(true)),
            (&json!(false), &json!(true)),
        ]
    );

    // Without `first`, a page holds up to 20 events. (The first of these 17
    // sets the owner the customer has already: 16 events, 21 in all.)
    change_owner(&app, &customers[0], &users, 17).await;
    let default = app
        .data(&customer_history(""), json!({ "id": customers[0] }))
        .await["customer"]["history"]
        .clone();
    assert_eq!(default["nodes"].as_array().unwrap().len(), 20);
    assert_eq!(default["pageInfo"]["hasNextPage"], json!(true));
}

/// Customers' first pages read together (one statement) are each customer's
/// own newest events, whatever the other customers' histories hold.
async fn customers_read_together_get_their_own_pages(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, customers) = users_and_customers(&app).await;
    change_owner(&app, &customers[0], &users, 4).await;
    change_owner(&app, &customers[1], &users, 1).await;
    let mut alone = Vec::new();
    for id in &customers {
        let data = app
            .data(&customer_history("first: 3"), json!({ "id": id }))
            .await;
        alone.push(data["customer"]["history"].clone());
    }
    assert_eq!(alone[0]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(alone[1]["nodes"].as_array().unwrap().len(), 1);

    let before = app.store.statement_count();
    let together = app
        .data(
            &format!("{{ renewals(first: 50) {{ nodes {{ customer {{ id history(first: 3) {{ nodes {{ {EVENT} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }} }} }}"),
            json!({}),
        )
        .await;
    let statements = app.store.statement_count() - before;
    let read: Vec<&Value> = together["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| customers.contains(&n["customer"]["id"]))
        .map(|n| &n["customer"]["history"])
        .collect();
    assert_eq!(read, [&alone[0], &alone[1]]);
    // Authentication (with the rate-limit charge on PostgreSQL), the page,
    // the histories, the users they notify.
    assert_eq!(statements, 4);

    // The users the renewals' owners notify and those the events notify are
    // read together, before any resolver asks (left to the loader, they took
    // a statement of their own, or two when the host was busy). Both
    // customers notify the second user now; their events also name the first.
    let input = json!({
        "customerIds": [customers[0], customers[1]],
        "owner": { "party": "PARTNER", "notifyUserId": users[1] }
    });
    app.data(SET_OWNER, json!({ "input": input })).await;
    let before = app.store.statement_count();
    let both = app
        .data(
            &format!("{{ renewals(first: 2) {{ nodes {{ owner {{ notifyUser {{ id }} }} customer {{ history(first: 3) {{ nodes {{ {EVENT} }} }} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(app.store.statement_count() - before, 4);
    let notified: Vec<&Value> = both["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["customer"]["history"]["nodes"].as_array().unwrap())
        .flat_map(|e| [&e["ownerBefore"], &e["ownerAfter"]])
        .map(|owner| &owner["notifyUser"]["id"])
        .collect();
    assert!(notified.contains(&&users[0]), "{both}");

    // A hundred customers' first pages, the page size in a variable: still
    // one statement for the histories.
    let before = app.store.statement_count();
    let data = app
        .data(
            "query($n: Int) { renewals(first: 100) { nodes { customer { history(first: $n) { nodes { kind } } } } } }",
            json!({ "n": 3 }),
        )
        .await;
    assert_eq!(data["renewals"]["nodes"].as_array().unwrap().len(), 100);
    assert_eq!(app.store.statement_count() - before, 3);
}

async fn the_partners_history_pages_newest_first(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, _) = users_and_customers(&app).await;
    for owner in [
        json!({ "party": "PARTNER", "notifyUserId": users[0] }),
        json!({ "party": "PARTNER", "notifyUserId": users[1] }),
        json!({ "party": "HUBSPOT" }),
    ] {
        app.data(SET_DEFAULT, json!({ "input": { "owner": owner } }))
            .await;
    }
    let paged = pages(
        &app,
        &partner_history("first: 2, after: $after"),
        &["viewer", "history"],
        None,
    )
    .await;
    let events = nodes(&paged);
    assert_eq!(events.len(), 3, "{paged:?}");
    assert_eq!(paged[0]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(events[0]["ownerAfter"]["party"], json!("HUBSPOT"));
    assert_eq!(events[2]["ownerBefore"]["party"], json!("HUBSPOT"));
    for pair in events.windows(2) {
        assert_eq!(pair[0]["ownerBefore"], pair[1]["ownerAfter"]);
    }

    // The other partner's cursor pages only its own (empty) history.
    let cursor = paged[0]["pageInfo"]["endCursor"].clone();
    let theirs = app
        .other_data(
            &partner_history("first: 2, after: $after"),
            json!({ "after": cursor }),
        )
        .await;
    assert_eq!(theirs["viewer"]["history"]["nodes"], json!([]));
}

/// Page sizes out of range and cursors that are not this history's are
/// BAD_USER_INPUT, with a message that says what to do.
async fn bad_history_arguments_are_refused(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, customers) = users_and_customers(&app).await;
    change_owner(&app, &customers[0], &users, 2).await;
    let first_page = app
        .data(&customer_history("first: 1"), json!({ "id": customers[0] }))
        .await["customer"]["history"]
        .clone();
    let cursor = first_page["pageInfo"]["endCursor"].clone();
    let renewal_cursor = app
        .data(
            "{ renewals(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await["renewals"]["pageInfo"]["endCursor"]
        .clone();

    let refused = |query: String, variables: Value, message: &'static str| {
        let app = &app;
        async move {
            let body = app.gql(&query, variables).await;
            assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
            let text = body["errors"][0]["message"].as_str().unwrap().to_owned();
            assert!(text.contains(message), "{text}");
        }
    };
    for first in [0, 101, -1] {
        refused(
            customer_history(&format!("first: {first}")),
            json!({ "id": customers[0] }),
            "first must be between 1 and 100",
        )
        .await;
        refused(
            partner_history(&format!("first: {first}")),
            json!({}),
            "first must be between 1 and 100",
        )
        .await;
    }
    let after = customer_history("after: $after");
    refused(
        after.clone(),
        json!({ "id": customers[1], "after": cursor }),
        "the cursor belongs to a different history",
    )
    .await;
    refused(
        partner_history("after: $after"),
        json!({ "after": cursor }),
        "the cursor belongs to a different history",
    )
    .await;
    for garbage in [
        renewal_cursor,
        json!("not-a-cursor"),
        json!("A".repeat(5000)),
    ] {
        refused(
            after.clone(),
            json!({ "id": customers[0], "after": garbage }),
            "the cursor is not valid",
        )
        .await;
    }
}

/// Customers seeded with an owner of their own, or with their services
/// ended, have that in their history, as a change through the API leaves it
/// (newest first; both at the time of seeding, by actor `seed`).
async fn seeded_owners_and_ended_services_are_in_the_history(backend: Backend) {
    let app = TestApp::with_customers(backend, 60).await;
    let owner = "party isDefault notifyUser { id }";
    let data = app
        .data(
            &format!(
                "{{ renewals(first: 60, filter: {{ includeEndedServices: true }}) {{ nodes {{ customer {{
                     servicesEnded servicesEndedAt servicesEndReason renewalOwner {{ {owner} }}
                     history {{ nodes {{ kind at actor reason ownerBefore {{ {owner} }} ownerAfter {{ {owner} }} }} }}
                   }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    let default = &app
        .data(
            &format!("{{ viewer {{ defaultRenewalOwner {{ {owner} }} }} }}"),
            json!({}),
        )
        .await["viewer"]["defaultRenewalOwner"];
    let (mut ended, mut chosen) = (0, 0);
    for node in data["renewals"]["nodes"].as_array().unwrap() {
        let customer = &node["customer"];
        let history = customer["history"]["nodes"].as_array().unwrap();
        let mut expected = Vec::new();
        if customer["servicesEnded"] == json!(true) {
            ended += 1;
            expected.push(json!({
                "kind": "SERVICES_ENDED",
                "at": customer["servicesEndedAt"],
                "actor": "seed",
                "reason": customer["servicesEndReason"],
                "ownerBefore": null,
                "ownerAfter": null,
            }));
        }
        if customer["renewalOwner"]["isDefault"] == json!(false) {
            chosen += 1;
            expected.push(json!({
                "kind": "OWNER_CHANGED",
                "at": history.last().map_or(&Value::Null, |e| &e["at"]),
                "actor": "seed",
                "reason": null,
                "ownerBefore": default,
                "ownerAfter": customer["renewalOwner"],
            }));
        }
        assert_eq!(history, &expected, "{customer}");
    }
    assert!(ended > 0, "the seed ends some customers' services");
    assert!(
        chosen > 0,
        "the seed gives some customers an owner of their own"
    );
}

db_tests!(
    seeded_owners_and_ended_services_are_in_the_history,
    a_customers_history_pages_newest_first,
    customers_read_together_get_their_own_pages,
    the_partners_history_pages_newest_first,
    bad_history_arguments_are_refused,
);

/// What the plan of `sql` does with `customer_event`: one line per scan of it,
/// `<how> <index condition>` (PostgreSQL) or SQLite's detail line.
async fn event_scans(app: &TestApp, sql: &str) -> Vec<String> {
    let db = app.store.reader();
    let backend = db.get_database_backend();
    let rows = explain(db, sql).await;
    let mut scans = Vec::new();
    if backend == DatabaseBackend::Postgres {
        fn walk(plan: &Value, scans: &mut Vec<String>) {
            if plan["Relation Name"] == json!("customer_event") {
                scans.push(format!(
                    "{} {}",
                    plan["Node Type"].as_str().unwrap_or_default(),
                    plan["Index Cond"].as_str().unwrap_or_default()
                ));
            }
            for child in plan["Plans"].as_array().into_iter().flatten() {
                walk(child, scans);
            }
        }
        let plan: Value = rows[0].try_get("", "QUERY PLAN").unwrap();
        walk(&plan[0]["Plan"], &mut scans);
    } else {
        for row in rows {
            let detail: String = row.try_get("", "detail").unwrap();
            if detail.contains("customer_event") {
                scans.push(detail);
            }
        }
    }
    scans
}

/// With thousands of customer events, a page of the partner's own history is
/// a range of an index on (partner, customer, id), not every event of the
/// partner filtered; a page of customers' histories reads their events only.
async fn history_pages_are_index_ranges(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (users, _) = users_and_customers(&app).await;
    let page = app
        .data(
            "{ renewals(first: 100) { nodes { customer { id } } } }",
            json!({}),
        )
        .await;
    let mut customers: Vec<Value> = page["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["customer"]["id"].clone())
        .collect();
    customers.sort_by_key(Value::to_string);
    customers.dedup();
    for i in 0..20 {
        let input = json!({
            "customerIds": customers,
            "owner": { "party": "PARTNER", "notifyUserId": users[i % 2] }
        });
        app.data(SET_OWNER, json!({ "input": input })).await;
    }
    app.data(
        SET_DEFAULT,
        json!({ "input": { "owner": { "party": "PARTNER", "notifyUserId": users[0] } } }),
    )
    .await;
    match backend {
        Backend::Postgres => {
            app.store
                .reader()
                .execute_unprepared("ANALYZE customer_event")
                .await
                .unwrap();
        }
        Backend::Sqlite => app.store.refresh_statistics().await.unwrap(),
    }

    app.store.start_capture();
    app.data(&partner_history("first: 2"), json!({})).await;
    let partners = app.store.stop_capture();
    app.store.start_capture();
    app.data(&customer_history("first: 2"), json!({ "id": customers[0] }))
        .await;
    let customers_page = app.store.stop_capture();
    let history = |statements: Vec<String>| {
        statements
            .into_iter()
            .find(|sql| sql.contains("customer_event"))
            .expect("a statement reads the history")
    };

    let scans = event_scans(&app, &history(partners)).await;
    let ranged = |scan: &String| match backend {
        Backend::Postgres => scan.starts_with("Index") && scan.contains("customer_id IS NULL"),
        Backend::Sqlite => scan.contains("(partner_id=? AND customer_id=?)"),
    };
    assert!(scans.len() == 1 && ranged(&scans[0]), "{scans:?}");

    let scans = event_scans(&app, &history(customers_page)).await;
    let reads_only_customers = |scan: &String| match backend {
        Backend::Postgres => scan.contains("customer_id"),
        Backend::Sqlite => scan.starts_with("SEARCH") && scan.contains("customer_id"),
    };
    assert!(
        !scans.is_empty() && scans.iter().all(reads_only_customers),
        "{scans:?}"
    );
}

db_tests!(history_pages_are_index_ranges);
