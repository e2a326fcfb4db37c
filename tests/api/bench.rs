//! The benchmark's own parts that can be wrong without any target noticing:
//! its data set, the same in either database although it gets there by
//! different roads (multi-row `INSERT`s and tallies kept by triggers on
//! SQLite, `COPY` with triggers off and tallies rebuilt once on PostgreSQL),
//! and the transport floor's server.

use entity::{customer, partner, partner_user, product, product_renewal, renewal};
use renewals::{bench, store::Store};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use serde_json::json;

use crate::helpers::{Backend, OwnerTally, TestDb, db_tests, postgres_url, tuples};

/// Renewals loaded: more than one loading chunk would be slow for a test; the
/// chunking is covered by the generator's unit tests.
const RENEWALS: u64 = 3_000;

type RenewalTally = (i64, String, String, i32, i64);

/// Every row the data set holds, in id (or key) order.
#[derive(Debug, PartialEq)]
struct Everything {
    products: Vec<product::Model>,
    partners: Vec<partner::Model>,
    users: Vec<partner_user::Model>,
    customers: Vec<customer::Model>,
    renewals: Vec<renewal::Model>,
    product_renewals: Vec<product_renewal::Model>,
    renewal_tally: Vec<RenewalTally>,
    owner_tally: Vec<OwnerTally>,
}

/// Every row of a table, in id order.
async fn by_id<E: EntityTrait>(db: &DatabaseConnection, id: E::Column) -> Vec<E::Model> {
    E::find().order_by_asc(id).all(db).await.unwrap()
}

impl Everything {
    async fn read(db: &DatabaseConnection) -> Self {
        Self {
            products: by_id::<product::Entity>(db, product::Column::Id).await,
            partners: by_id::<partner::Entity>(db, partner::Column::Id).await,
            users: by_id::<partner_user::Entity>(db, partner_user::Column::Id).await,
            customers: by_id::<customer::Entity>(db, customer::Column::Id).await,
            renewals: by_id::<renewal::Entity>(db, renewal::Column::Id).await,
            product_renewals: by_id::<product_renewal::Entity>(db, product_renewal::Column::Id)
                .await,
            renewal_tally: tuples(
                db,
                "SELECT partner_id, CAST(renewal_date AS TEXT) AS renewal_date, status, \
                 CASE WHEN services_ended THEN 1 ELSE 0 END AS ended, renewals \
                 FROM renewal_tally ORDER BY 1, 2, 3, 4",
            )
            .await,
            owner_tally: tuples(
                db,
                "SELECT partner_id, owner_party, notify_user_id, status, \
                 CASE WHEN services_ended THEN 1 ELSE 0 END AS ended, \
                 CAST(renewal_date AS TEXT) AS renewal_date, renewals \
                 FROM renewal_owner_tally ORDER BY 1, 2, 3, 4, 5, 6",
            )
            .await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_data_set_is_the_same_in_sqlite_and_postgresql() {
    if postgres_url().is_none() {
        return;
    }
    let mut loaded = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let url = db.session_url(&[]);
        Store::connect(&url).await.unwrap();
        let loader = bench::data::loader_connection(&url).await.unwrap();
        bench::data::load(&loader, RENEWALS, 7, bench::default_today())
            .await
            .unwrap();
        loaded.push(Everything::read(&loader).await);
        loader.close().await.unwrap();
    }
    let (sqlite, postgres) = (&loaded[0], &loaded[1]);
    assert_eq!(sqlite.customers.len(), RENEWALS as usize);
    assert!(sqlite.product_renewals.len() > 2 * RENEWALS as usize);
    assert!(
        sqlite
            .customers
            .iter()
            .any(|c| c.services_ended_at.is_some())
    );
    assert!(!sqlite.owner_tally.is_empty());
    assert_eq!(sqlite, postgres);
}

/// The transport floor's server runs the statements it was given, all of
/// them, for every request, and reports a failing one as the load generator's
/// error.
async fn the_transport_floor_runs_its_statements(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let statements = vec![
        "SELECT 1 AS n UNION ALL SELECT 2".to_owned(),
        "SELECT 3 AS n".to_owned(),
    ];
    let server = bench::transport::start(store.clone(), statements)
        .await
        .unwrap();
    for _ in 0..2 {
        let before = store.statement_count();
        let body = bench::client::request(server.addr, "any", "{ any }", json!({}))
            .await
            .unwrap();
        assert_eq!(body, json!({ "data": { "rows": 3 } }));
        assert_eq!(store.statement_count() - before, 2);
    }
    server.stop().await.unwrap();

    let failing = bench::transport::start(store, vec!["SELECT * FROM no_such_table".to_owned()])
        .await
        .unwrap();
    let error = bench::client::request(failing.addr, "any", "{ any }", json!({}))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("500"), "{error}");
    failing.stop().await.unwrap();
}

db_tests!(the_transport_floor_runs_its_statements);
