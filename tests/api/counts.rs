//! `totalCount` comes from the tallies (`renewal_tally`, and for owner
//! filters `renewal_owner_tally`, kept by triggers) for every list but a
//! search's: it must always equal the count of the matching renewals, whoever
//! wrote what.

use entity::{product_renewal, renewal};
use renewals::{
    domain::{OwnerParty, RenewalStatus},
    store::{Direction, PageRequest, RenewalFilter, RenewalList, SortField, default_owner},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ModelTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::helpers::{Backend, CustomerBuilder, TestApp, customer_ids, date, db_tests, today};

/// Filters of every kind the tallies answer, for a partner whose first users
/// are `users`.
fn filters(users: &[i64]) -> Vec<RenewalFilter> {
    let statuses = Some(vec![RenewalStatus::Pending, RenewalStatus::Confirmed]);
    let mut filters = vec![
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
            statuses: statuses.clone(),
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
        RenewalFilter {
            action_required: Some(false),
            ..Default::default()
        },
        RenewalFilter {
            action_required: Some(false),
            include_ended_services: true,
            statuses: statuses.clone(),
            ..Default::default()
        },
        RenewalFilter {
            action_required: Some(false),
            deadline_from: Some(date("2026-12-20")),
            ..Default::default()
        },
    ];
    for party in [OwnerParty::Hubspot, OwnerParty::Partner] {
        filters.push(RenewalFilter {
            owner_party: Some(party),
            ..Default::default()
        });
        filters.push(RenewalFilter {
            owner_party: Some(party),
            action_required: Some(false),
            include_ended_services: true,
            ..Default::default()
        });
        for &user in users {
            filters.push(RenewalFilter {
                owner_party: Some(party),
                notify_user_id: Some(user),
                ..Default::default()
            });
        }
    }
    for &user in users {
        filters.push(RenewalFilter {
            notify_user_id: Some(user),
            ..Default::default()
        });
        filters.push(RenewalFilter {
            notify_user_id: Some(user),
            action_required: Some(true),
            ..Default::default()
        });
        filters.push(RenewalFilter {
            notify_user_id: Some(user),
            action_required: Some(false),
            include_ended_services: true,
            statuses: statuses.clone(),
            ..Default::default()
        });
    }
    filters
}

async fn assert_counts_agree(app: &TestApp, when: &str) {
    let partner = app
        .store
        .partner_by_slug("northwind")
        .await
        .unwrap()
        .unwrap();
    let users: Vec<i64> = app
        .store
        .partner_users(partner.id)
        .await
        .unwrap()
        .iter()
        .map(|user| user.id)
        .take(2)
        .collect();
    assert_eq!(users.len(), 2);
    for filter in filters(&users) {
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
        // The count a page reads from the tally in its own statement (an
        // empty page, in the statement that finds it still empty).
        let first = PageRequest {
            backward: false,
            limit: 1,
            cursor: None,
        };
        let page = app.store.renewal_page(&list, &first, true).await.unwrap();
        assert_eq!(
            page.total,
            Some(counted),
            "{when}, the page's count: {filter:?}"
        );
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

    // Owner overrides set, changed and reset, and the default owner changed.
    let customers = customer_ids(&app, 12).await;
    let users = app.data("{ viewer { users { id } } }", json!({})).await;
    let user = |i: usize| users["viewer"]["users"][i]["id"].clone();
    let owners = [
        json!({ "party": "PARTNER", "notifyUserId": user(0) }),
        json!({ "party": "HUBSPOT" }),
        json!({ "party": "HUBSPOT", "notifyUserId": user(1) }),
        json!({ "party": "PARTNER", "notifyUserId": user(1) }),
    ];
    for (i, owner) in owners.iter().enumerate() {
        set_owner(&app, &customers[3 * i..3 * i + 3], owner.clone()).await;
    }
    assert_counts_agree(&app, "owners set").await;
    set_owner(
        &app,
        &customers[0..2],
        json!({ "party": "HUBSPOT", "notifyUserId": user(0) }),
    )
    .await;
    set_owner(&app, &customers[3..5], Value::Null).await;
    assert_counts_agree(&app, "owners changed and reset").await;
    for default in [
        json!({ "party": "PARTNER", "notifyUserId": user(0) }),
        json!({ "party": "HUBSPOT", "notifyUserId": user(1) }),
        json!({ "party": "HUBSPOT" }),
    ] {
        let payload = app
            .data(
                "mutation($owner: RenewalOwnerInput!) { setDefaultRenewalOwner(input: {owner: $owner}) { userErrors { code } } }",
                json!({ "owner": default }),
            )
            .await;
        assert_eq!(payload["setDefaultRenewalOwner"]["userErrors"], json!([]));
        assert_counts_agree(&app, &format!("default owner {default}")).await;
    }
    // Services ended for a customer with an owner of its own.
    let payload = app
        .data(
            "mutation($id: ID!) { endServices(input: {customerId: $id}) { userErrors { code } } }",
            json!({ "id": customers[6] }),
        )
        .await;
    assert_eq!(payload["endServices"]["userErrors"], json!([]));
    assert_counts_agree(&app, "services ended with an owner").await;

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

    // Renewals of customers with owners of their own, changed and deleted
    // (by SQL likewise).
    let customer = |i: usize| {
        let id = customers[i].as_str().unwrap();
        renewals::graphql::ids::decode(id).unwrap().1
    };
    let mut overridden = Vec::new();
    for i in [0, 9] {
        let found = renewal::Entity::find()
            .filter(renewal::Column::CustomerId.eq(customer(i)))
            .all(app.store.reader())
            .await
            .unwrap();
        overridden.extend(found);
    }
    assert!(overridden.len() >= 2);
    let first = overridden.remove(0);
    let mut changed: renewal::ActiveModel = first.into();
    changed.status = Set(RenewalStatus::Confirmed.as_str().to_owned());
    changed.renewal_date = Set(today() + chrono::Days::new(30));
    changed.update(app.store.reader()).await.unwrap();
    let gone = overridden.remove(0);
    product_renewal::Entity::delete_many()
        .filter(product_renewal::Column::RenewalId.eq(gone.id))
        .exec(app.store.reader())
        .await
        .unwrap();
    gone.delete(app.store.reader()).await.unwrap();
    assert_counts_agree(&app, "overridden renewals updated and deleted").await;

    let totals = app
        .data(
            "{ renewals(filter: {actionRequired: true}) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(totals["renewals"]["totalCount"].as_u64().unwrap() > 0);
}

db_tests!(the_tallied_total_count_equals_the_counted_one_after_every_kind_of_write);

async fn set_owner(app: &TestApp, customers: &[Value], owner: Value) {
    let payload = app
        .data(
            "mutation($ids: [ID!]!, $owner: RenewalOwnerInput) { setRenewalOwner(input: {customerIds: $ids, owner: $owner}) { userErrors { code } } }",
            json!({ "ids": customers, "owner": owner }),
        )
        .await;
    assert_eq!(
        payload["setRenewalOwner"]["userErrors"],
        json!([]),
        "{owner}"
    );
}
