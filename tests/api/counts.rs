//! `totalCount` comes from `renewal_tally` (kept by triggers) for lists filtered
//! only by status, dates and services state: it must always equal the count of
//! the matching renewals, whoever wrote what.

use entity::renewal;
use renewals::{
    domain::RenewalStatus,
    store::{Direction, RenewalFilter, RenewalList, SortField, default_owner},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::json;

use crate::helpers::{Backend, CustomerBuilder, TestApp, date, db_tests, today};

fn filters() -> Vec<RenewalFilter> {
    let statuses = Some(vec![RenewalStatus::Pending, RenewalStatus::Confirmed]);
    vec![
        RenewalFilter::default(),
        RenewalFilter {
            action_required: Some(true),
            ..Default::default()
        },
        RenewalFilter {
            action_required: Some(true),
            statuses: Some(vec![RenewalStatus::Confirmed]),
            ..Default::default()
        },
        RenewalFilter {
            statuses: statuses.clone(),
            ..Default::default()
        },
        RenewalFilter {
            include_ended_services: true,
            ..Default::default()
        },
        RenewalFilter {
            include_ended_services: true,
            statuses,
            deadline_from: Some(date("2026-12-01")),
            ..Default::default()
        },
        RenewalFilter {
            renewal_date_from: Some(date("2027-01-01")),
            renewal_date_to: Some(date("2027-02-15")),
            action_required: Some(true),
            ..Default::default()
        },
        RenewalFilter {
            deadline_to: Some(date("2027-01-10")),
            ..Default::default()
        },
    ]
}

async fn assert_counts_agree(app: &TestApp, when: &str) {
    let partner = app
        .store
        .partner_by_slug("northwind")
        .await
        .unwrap()
        .unwrap();
    for filter in filters() {
        let list = RenewalList {
            partner_id: partner.id,
            today: today(),
            default_owner: default_owner(&partner),
            filter: filter.clone(),
            sort: SortField::Deadline,
            direction: Direction::Asc,
        };
        let tallied = app.store.renewal_count(&list).await.unwrap();
        let counted = app.store.renewal_count_exact(&list).await.unwrap();
        assert_eq!(tallied, counted, "{when}: {filter:?}");
    }
}

async fn the_tallied_total_count_equals_the_counted_one_after_every_kind_of_write(
    backend: Backend,
) {
    let app = TestApp::new(backend).await;
    assert_counts_agree(&app, "seeded").await;

    CustomerBuilder::new("fresh.example")
        .renewing_in(70)
        .insert(&app)
        .await;
    CustomerBuilder::new("gone.example")
        .renewing_in(80)
        .ends_services()
        .insert(&app)
        .await;
    assert_counts_agree(&app, "inserted").await;

    let page = app
        .data(
            "{ renewals(first: 3, filter: {actionRequired: true}) { nodes { customer { id } } } }",
            json!({}),
        )
        .await;
    for node in page["renewals"]["nodes"].as_array().unwrap() {
        let payload = app
            .data(
                "mutation($id: ID!) { endServices(input: {customerId: $id}) { userErrors { code } } }",
                json!({ "id": node["customer"]["id"] }),
            )
            .await;
        assert_eq!(payload["endServices"]["userErrors"], json!([]));
    }
    assert_counts_agree(&app, "services ended").await;

    // A renewal's status and date changing (by SQL: the API has no such mutation).
    let row = renewal::Entity::find()
        .one(app.store.reader())
        .await
        .unwrap()
        .unwrap();
    let mut changed: renewal::ActiveModel = row.into();
    changed.status = Set(RenewalStatus::Pending.as_str().to_owned());
    changed.renewal_date = Set(today() + chrono::Days::new(75));
    changed.update(app.store.reader()).await.unwrap();
    assert_counts_agree(&app, "renewal updated").await;

    let totals = app
        .data(
            "{ renewals(filter: {actionRequired: true}) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(totals["renewals"]["totalCount"].as_u64().unwrap() > 0);
}

db_tests!(the_tallied_total_count_equals_the_counted_one_after_every_kind_of_write);
