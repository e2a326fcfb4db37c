//! How PostgreSQL's write transactions take their locks: owner changes of one
//! partner run side by side, holding its row shared; a change of its default
//! owner, or an end of services, waits to hold it alone; and an update of
//! customers locks the tally rows it writes in key order, so that two owner
//! changes cannot deadlock. (SQLite runs one write at a time.)

use std::{sync::Arc, time::Duration};

use entity::customer;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    Statement, TransactionTrait,
};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, CustomerBuilder, TestApp, assert_owner_tally_counts, customer_ids,
    migrate_back_to_before, postgres_url,
};

const SET_OWNER: &str = "mutation($input: SetRenewalOwnerInput!) { setRenewalOwner(input: $input) { userErrors { code } } }";
const SET_DEFAULT: &str = "mutation($input: SetDefaultRenewalOwnerInput!) { setDefaultRenewalOwner(input: $input) { userErrors { code } } }";
const END: &str =
    "mutation($input: EndServicesInput!) { endServices(input: $input) { userErrors { code } } }";

/// Long enough for a request that does not wait to finish, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs a mutation to its end (or gives up after [`PATIENCE`]) and returns its
/// user errors' codes.
async fn user_errors(app: &TestApp, query: &str, input: Value) -> Vec<Value> {
    let data = tokio::time::timeout(PATIENCE, app.data(query, json!({ "input": input })))
        .await
        .expect("the mutation finished");
    let payload = data.as_object().unwrap().values().next().unwrap();
    payload["userErrors"].as_array().unwrap().clone()
}

/// A transaction of its own on the test's database, as another request's.
async fn begin(app: &TestApp, sql: &str) -> DatabaseTransaction {
    let txn = app.store.reader().begin().await.unwrap();
    txn.execute_unprepared(sql).await.unwrap();
    txn
}

async fn backend_pid(txn: &DatabaseTransaction) -> i32 {
    let row = txn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// Waits until `n` backends wait for the backend `blocker`: for a lock it
/// holds, or behind another that does.
async fn wait_until_blocked_by(app: &TestApp, blocker: i32, n: i64) {
    let blocked = Statement::from_string(
        DatabaseBackend::Postgres,
        format!(
            "WITH RECURSIVE blocked (pid) AS (
                SELECT pid FROM pg_stat_activity WHERE {blocker} = ANY(pg_blocking_pids(pid))
                UNION
                SELECT a.pid FROM pg_stat_activity a JOIN blocked b
                    ON b.pid = ANY(pg_blocking_pids(a.pid))
            ) SELECT COUNT(*) FROM blocked"
        ),
    );
    let started = std::time::Instant::now();
    loop {
        let row = app.store.reader().query_one_raw(blocked.clone()).await;
        let count: i64 = row.unwrap().unwrap().try_get_by_index(0).unwrap();
        if count >= n {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{count} of {n} backends waited for backend {blocker}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_changes_share_the_partner_and_default_changes_wait_for_them() {
    if postgres_url().is_none() {
        return;
    }
    let app = Arc::new(TestApp::new(Backend::Postgres).await);
    let customers = customer_ids(&app, 3).await;
    // Another owner change, in flight: it holds the partner's row shared.
    let other = begin(
        &app,
        "SELECT id FROM partner WHERE slug = 'northwind' FOR SHARE",
    )
    .await;

    // An owner change does not wait for it.
    let input = json!({ "customerIds": [customers[0]], "owner": { "party": "HUBSPOT" } });
    assert_eq!(
        user_errors(&app, SET_OWNER, input).await,
        Vec::<Value>::new()
    );

    // A change of the default owner, and an end of services, do.
    let waiting = [
        (SET_DEFAULT, json!({ "owner": { "party": "HUBSPOT" } })),
        (END, json!({ "customerId": customers[1] })),
    ]
    .map(|(query, input)| {
        let app = Arc::clone(&app);
        tokio::spawn(async move { user_errors(&app, query, input).await })
    });
    wait_until_blocked_by(&app, backend_pid(&other).await, 2).await;
    for request in &waiting {
        assert!(!request.is_finished(), "it waits for the owner change");
    }
    other.rollback().await.unwrap();
    for request in waiting {
        assert_eq!(request.await.unwrap(), Vec::<Value>::new());
    }
}

/// Two transactions whose locks on the same two tally rows would cross if an
/// update of customers took them customer by customer:
///
/// 1. `first` gives `early-1` an owner: it holds the tally row of (that owner,
///    the early date).
/// 2. `second` gives `late-1` and `early-2` the same owner in one update.
///    Customer by customer, it would lock the late row (`late-1` comes first),
///    then wait for `first` on the early row. In key order it waits for the
///    early row holding none.
/// 3. `first` then gives `late-2` that owner. Had `second` held the late row,
///    each would wait for the other: a deadlock, one of them aborted.
///
/// An owner change updates its customers in one statement, so this is the
/// order in which any two of them meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_of_customers_locks_its_tally_rows_in_key_order() {
    if postgres_url().is_none() {
        return;
    }
    let app = Arc::new(TestApp::with_customers(Backend::Postgres, 5).await);
    // Inserted in this order, so that an update of `late-1` and `early-2`
    // meets `late-1` first.
    for (domain, days) in [
        ("late-1.example", 90),
        ("early-2.example", 30),
        ("early-1.example", 30),
        ("late-2.example", 90),
    ] {
        CustomerBuilder::new(domain)
            .renewing_in(days)
            .insert(&app)
            .await;
    }
    let id = |domain: &'static str| {
        let app = Arc::clone(&app);
        async move {
            customer::Entity::find()
                .filter(customer::Column::Domain.eq(domain))
                .one(app.store.reader())
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let give_owner = |ids: Vec<i64>| {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!(
            "UPDATE customer SET owner_party = 'HUBSPOT' WHERE id IN ({})",
            ids.join(", ")
        )
    };

    let first = begin(&app, &give_owner(vec![id("early-1.example").await])).await;
    let second_update = give_owner(vec![
        id("late-1.example").await,
        id("early-2.example").await,
    ]);
    let second = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let txn = app.store.reader().begin().await.unwrap();
            txn.execute_unprepared(&second_update).await?;
            txn.commit().await
        })
    };
    wait_until_blocked_by(&app, backend_pid(&first).await, 1).await;
    assert!(!second.is_finished(), "the second waits for the first");

    let late = first
        .execute_unprepared(&give_owner(vec![id("late-2.example").await]))
        .await;
    assert!(late.is_ok(), "no deadlock: {late:?}");
    first.commit().await.unwrap();
    let second = tokio::time::timeout(PATIENCE, second)
        .await
        .unwrap()
        .unwrap();
    assert!(second.is_ok(), "no deadlock: {second:?}");
    assert_owner_tally_counts(app.store.reader()).await;
}

/// The migration to key order can be undone and done again, the tally kept
/// right by whichever trigger is in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_tally_counts_right_either_side_of_its_migration() {
    use migration::{Migrator, MigratorTrait};
    if postgres_url().is_none() {
        return;
    }
    let app = TestApp::new(Backend::Postgres).await;
    let customers = customer_ids(&app, 6).await;
    let db = app.store.reader();
    // Undone: the row trigger gives three customers an owner.
    migrate_back_to_before(db, "m20261206_000001_owner_tally_in_key_order").await;
    let input = json!({ "customerIds": &customers[..3], "owner": { "party": "HUBSPOT" } });
    assert_eq!(
        user_errors(&app, SET_OWNER, input).await,
        Vec::<Value>::new()
    );
    assert_owner_tally_counts(db).await;
    // Done again: the statement trigger takes two owners away, gives three.
    Migrator::up(db, None).await.unwrap();
    let input = json!({ "customerIds": &customers[..2], "owner": null });
    assert_eq!(
        user_errors(&app, SET_OWNER, input).await,
        Vec::<Value>::new()
    );
    let input = json!({ "customerIds": &customers[3..], "owner": { "party": "HUBSPOT" } });
    assert_eq!(
        user_errors(&app, SET_OWNER, input).await,
        Vec::<Value>::new()
    );
    assert_owner_tally_counts(db).await;
}
