//! Many clients changing overlapping customers at once: no lock error reaches
//! a client, every change is all-or-nothing, and the history tells exactly
//! what happened — nothing lost, nothing doubled.

use std::sync::Arc;

use axum::http::StatusCode;
use entity::{customer_event, partner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_owner_tally_counts, db_tests};

const SET_OWNER: &str = "mutation($input: SetRenewalOwnerInput!) { setRenewalOwner(input: $input) { customers { id } userErrors { code } } }";
const SET_DEFAULT: &str = "mutation($input: SetDefaultRenewalOwnerInput!) { setDefaultRenewalOwner(input: $input) { partner { id } userErrors { code } } }";
const END: &str = "mutation($input: EndServicesInput!) { endServices(input: $input) { customer { id } userErrors { code } } }";
const STATE: &str = r#"query($id: ID!) { customer(id: $id) {
    servicesEnded
    renewalOwner { party isDefault notifyUser { id } }
    history(first: 100) { pageInfo { hasNextPage } nodes { kind ownerBefore { party isDefault notifyUser { id } } ownerAfter { party isDefault notifyUser { id } } } }
} }"#;

/// A tiny deterministic generator for the clients' choices.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % sides as u64) as usize
    }
}

/// The override an owner stands for: `None` when it is the default.
fn override_of(owner: &Value) -> Option<(Value, Value)> {
    (owner["isDefault"] == json!(false))
        .then(|| (owner["party"].clone(), owner["notifyUser"].clone()))
}

async fn ids(app: &TestApp) -> (Vec<Value>, Vec<Value>) {
    let data = app
        .data(
            "{ viewer { users { id } } renewals(first: 12) { nodes { customer { id } } } }",
            json!({}),
        )
        .await;
    let users = data["viewer"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    let customers = data["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["customer"]["id"].clone())
        .collect();
    (users, customers)
}

async fn fifty_clients_changing_overlapping_customers_lose_nothing(backend: Backend) {
    fifty_clients_change_overlapping_customers(TestApp::new(backend).await).await;
}

/// A request holds one PostgreSQL connection while it runs (from the token
/// lookup on), and gives it back before it waits for the connection of a
/// write transaction: with a single connection in the pool, fifty clients
/// writing and reading at once all get their answers. Were the connection
/// kept, every mutation would wait for itself until the pool timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_share_one_postgres_connection() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_pg_connections(Backend::Postgres, 1).await;
    fifty_clients_change_overlapping_customers(app).await;
}

async fn fifty_clients_change_overlapping_customers(app: TestApp) {
    let app = Arc::new(app);
    let (users, customers) = ids(&app).await;
    let (users, customers) = (Arc::new(users), Arc::new(customers));

    let clients = (0..50u64).map(|client| {
        let (app, users, customers) = (Arc::clone(&app), Arc::clone(&users), Arc::clone(&customers));
        tokio::spawn(async move {
            let mut dice = Dice(client + 1);
            for _ in 0..6 {
                let owner = match dice.roll(4) {
                    0 => Value::Null,
                    1 => json!({ "party": "HUBSPOT" }),
                    2 => json!({ "party": "HUBSPOT", "notifyUserId": users[dice.roll(users.len())] }),
                    _ => json!({ "party": "PARTNER", "notifyUserId": users[dice.roll(users.len())] }),
                };
                let (query, input) = match dice.roll(12) {
                    0 => (SET_DEFAULT, json!({ "owner": if owner.is_null() { json!({ "party": "HUBSPOT" }) } else { owner } })),
                    1 => (END, json!({ "customerId": customers[dice.roll(customers.len())] })),
                    _ => {
                        let picked: Vec<Value> = (0..1 + dice.roll(4)).map(|_| customers[dice.roll(customers.len())].clone()).collect();
                        (SET_OWNER, json!({ "customerIds": picked, "owner": owner }))
                    }
                };
                let (status, body) = app.post_as(Some(&app.token), query, json!({ "input": input })).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert!(body.get("errors").is_none(), "no database error reaches a client: {body}");
                let payload = body["data"].as_object().unwrap().values().next().unwrap().clone();
                for error in payload["userErrors"].as_array().unwrap() {
                    // Losing a race with endServices is a business outcome, not a failure.
                    assert!(
                        matches!(error["code"].as_str(), Some("SERVICES_ENDED" | "ALREADY_ENDED")),
                        "{payload}"
                    );
                }
            }
        })
    });
    for client in clients.collect::<Vec<_>>() {
        client.await.unwrap();
    }

    for id in customers.iter() {
        let state = app.data(STATE, json!({ "id": id })).await["customer"].clone();
        assert_eq!(
            state["history"]["pageInfo"]["hasNextPage"],
            json!(false),
            "the whole history is on one page"
        );
        let history: Vec<Value> = state["history"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .cloned()
            .collect();
        let ended = history
            .iter()
            .filter(|e| e["kind"] == json!("SERVICES_ENDED"))
            .count();
        assert_eq!(
            ended,
            usize::from(state["servicesEnded"] == json!(true)),
            "one SERVICES_ENDED per ended customer"
        );
        let changes: Vec<&Value> = history
            .iter()
            .filter(|e| e["kind"] == json!("OWNER_CHANGED"))
            .collect();
        // Each change starts from where the previous one left off: none was lost.
        for pair in changes.windows(2) {
            assert_eq!(
                override_of(&pair[1]["ownerBefore"]),
                override_of(&pair[0]["ownerAfter"]),
                "{id}"
            );
        }
        // And the customer is where the last change left it.
        if let Some(last) = changes.last() {
            assert_eq!(
                override_of(&state["renewalOwner"]),
                override_of(&last["ownerAfter"]),
                "{id}"
            );
        }
    }

    // The owner tally, written by changes side by side, still counts right.
    let db = app.store.reader();
    assert_owner_tally_counts(db).await;

    // The partner's default is where the last DEFAULT_OWNER_CHANGED event left it.
    let northwind = partner::Entity::find()
        .filter(partner::Column::Slug.eq("northwind"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let events = customer_event::Entity::find()
        .filter(customer_event::Column::PartnerId.eq(northwind.id))
        .filter(customer_event::Column::Kind.eq("DEFAULT_OWNER_CHANGED"))
        .order_by_asc(customer_event::Column::Id)
        .all(db)
        .await
        .unwrap();
    for pair in events.windows(2) {
        assert_eq!(
            (&pair[1].before_party, pair[1].before_notify_user_id),
            (&pair[0].after_party, pair[0].after_notify_user_id)
        );
    }
    if let Some(last) = events.last() {
        assert_eq!(
            last.after_party.as_deref(),
            Some(northwind.default_owner_party.as_str())
        );
        assert_eq!(last.after_notify_user_id, northwind.default_notify_user_id);
    }
}

async fn ending_services_racing_with_itself_succeeds_exactly_once(backend: Backend) {
    let app = Arc::new(TestApp::with_customers(backend, 5).await);
    let (_, customers) = ids(&app).await;
    let id = customers[0].clone();
    let racers = (0..20).map(|_| {
        let (app, id) = (Arc::clone(&app), id.clone());
        tokio::spawn(async move {
            let body = app
                .data(END, json!({ "input": { "customerId": id } }))
                .await;
            body["endServices"]["userErrors"]
                .as_array()
                .unwrap()
                .first()
                .map(|e| e["code"].clone())
        })
    });
    let mut outcomes = Vec::new();
    for racer in racers.collect::<Vec<_>>() {
        outcomes.push(racer.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| o.is_none()).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Some(json!("ALREADY_ENDED")))
            .count(),
        19
    );
    let history =
        app.data(STATE, json!({ "id": id })).await["customer"]["history"]["nodes"].clone();
    assert_eq!(
        history
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == json!("SERVICES_ENDED"))
            .count(),
        1
    );
}

/// One response reads one moment: a list's `totalCount` counts the nodes it
/// shows. Eight customers move in and out of a user's list at once (all or
/// nothing) while it is read: each read shows all their renewals, counted so,
/// or none, counted 0. When the page came back empty, its total was counted by
/// a statement of its own, after a change: "8" above an empty list.
async fn a_lists_total_counts_the_nodes_it_shows_while_it_changes(backend: Backend) {
    let app = TestApp::with_settings(backend, 20, |settings| {
        settings.rate_limit.restore_rate = 0;
    })
    .await;
    let app = Arc::new(app);
    let (users, customers) = ids(&app).await;
    let (user, customers) = (users[0].clone(), customers[..8].to_vec());
    let list = "query($u: ID!) { renewals(filter: {notifyUserId: $u}, first: 100) { totalCount nodes { id } } }";
    let until = std::time::Instant::now() + std::time::Duration::from_secs(4);
    let writer = tokio::spawn({
        let app = Arc::clone(&app);
        async move {
            let owners = [
                json!({"party": "PARTNER", "notifyUserId": user}),
                json!({"party": "HUBSPOT"}),
            ];
            let mut writes = 0;
            while std::time::Instant::now() < until {
                let input = json!({"customerIds": customers, "owner": owners[writes % 2]});
                let data = app.data(SET_OWNER, json!({ "input": input })).await;
                assert_eq!(data["setRenewalOwner"]["userErrors"], json!([]));
                writes += 1;
            }
            writes
        }
    });
    let readers = (0..2).map(|_| {
        let (app, user) = (Arc::clone(&app), users[0].clone());
        tokio::spawn(async move {
            let (mut reads, mut shown) = (0, 0);
            while std::time::Instant::now() < until {
                let data = app.data(list, json!({ "u": user })).await;
                let nodes = data["renewals"]["nodes"].as_array().unwrap().len();
                assert_eq!(data["renewals"]["totalCount"], json!(nodes), "read {reads}");
                reads += 1;
                shown += usize::from(nodes > 0);
            }
            (reads, shown)
        })
    });
    let readers: Vec<_> = readers.collect();
    let mut results = Vec::new();
    for reader in readers {
        results.push(reader.await.unwrap());
    }
    let writes = writer.await.unwrap();
    assert!(writes > 20, "{writes} writes");
    for (reads, shown) in results {
        assert!(
            reads > 20 && shown > 0 && shown < reads,
            "{reads} reads, {shown} shown"
        );
    }
}

db_tests!(
    a_lists_total_counts_the_nodes_it_shows_while_it_changes,
    fifty_clients_changing_overlapping_customers_lose_nothing,
    ending_services_racing_with_itself_succeeds_exactly_once,
);
