//! The storage layer as configured: SQLite in WAL mode, foreign keys that keep
//! tenants apart inside the database, and the MRR invariant of the demo data.

use entity::{customer, partner, partner_user, renewal};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    IntoActiveModel, QueryFilter, Statement,
};

use crate::helpers::{Backend, TestApp, db_tests};

async fn sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    if app.store.backend() != DatabaseBackend::Sqlite {
        return;
    }
    let db = app.store.reader();
    let pragma = |name: &str| {
        let sql = format!("PRAGMA {name}");
        async move {
            let row = db
                .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("busy_timeout").await, "5000");
    assert_eq!(pragma("foreign_keys").await, "1");
}

async fn foreign_keys_keep_each_partners_rows_together(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    let db = app.store.reader();
    let partner_id = |slug: &'static str| async move {
        partner::Entity::find()
            .filter(partner::Column::Slug.eq(slug))
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let (northwind, contoso) = (partner_id("northwind").await, partner_id("contoso").await);
    let contoso_user = partner_user::Entity::find()
        .filter(partner_user::Column::PartnerId.eq(contoso))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let northwind_customer = customer::Entity::find()
        .filter(customer::Column::PartnerId.eq(northwind))
        .one(db)
        .await
        .unwrap()
        .unwrap();

    // A northwind customer cannot name a contoso user to notify.
    let mut active = northwind_customer.clone().into_active_model();
    active.owner_party = Set(Some("PARTNER".into()));
    active.owner_notify_user_id = Set(Some(contoso_user.id));
    assert!(active.update(db).await.is_err());

    // A renewal cannot claim another partner than its customer's.
    let stray = renewal::ActiveModel {
        partner_id: Set(contoso),
        customer_id: Set(northwind_customer.id),
        status: Set("PENDING".into()),
        renewal_date: Set(crate::helpers::today()),
        currency: Set("USD".into()),
        options_url: Set(String::new()),
        current_mrr_minor: Set(0),
        renewal_mrr_minor: Set(0),
        mrr_change_minor: Set(0),
        ..Default::default()
    };
    assert!(stray.insert(db).await.is_err());
}

async fn stored_mrr_totals_equal_the_sums_over_product_renewals(backend: Backend) {
    let app = TestApp::new(backend).await;
    let db = app.store.reader();
    let sql = "SELECT COUNT(*) FROM renewal r WHERE r.current_mrr_minor <> \
               (SELECT SUM(p.current_mrr_minor) FROM product_renewal p WHERE p.renewal_id = r.id) \
               OR r.renewal_mrr_minor <> (SELECT SUM(p.renewal_mrr_minor) FROM product_renewal p WHERE p.renewal_id = r.id) \
               OR r.mrr_change_minor <> r.renewal_mrr_minor - r.current_mrr_minor";
    let row = db
        .query_one_raw(Statement::from_string(app.store.backend(), sql))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0);
    let renewals = renewal::Entity::find().all(db).await.unwrap();
    assert_eq!(renewals.len(), 2 * crate::helpers::CUSTOMERS as usize);
}

db_tests!(
    sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys,
    foreign_keys_keep_each_partners_rows_together,
    stored_mrr_totals_equal_the_sums_over_product_renewals,
);
