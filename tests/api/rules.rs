//! The domain rules as the API applies them, at their exact boundaries.

use serde_json::{Value, json};

use crate::{
    helpers::{Backend, CustomerBuilder, TestApp, db_tests},
    listing::all_nodes,
};

const RENEWAL: &str = r#"
query One($id: ID!) {
  renewal(id: $id) {
    status renewalDate deadline daysUntilRenewal daysUntilDeadline actionRequired
    currentMrr { amount currencyCode } renewalMrr { amount currencyCode } mrrChange { amount currencyCode }
    productRenewals { quantity currentMrr { amount currencyCode } renewalMrr { amount } product { sku } }
  }
}"#;

async fn renewal(app: &TestApp, id: &str) -> Value {
    app.data(RENEWAL, json!({ "id": id })).await["renewal"].clone()
}

async fn action_is_required_from_today_until_the_deadline_within_120_days(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let deadline_passed = CustomerBuilder::new("d44.example")
        .renewing_in(44)
        .insert(&app)
        .await;
    let deadline_today = CustomerBuilder::new("d45.example")
        .renewing_in(45)
        .insert(&app)
        .await;
    let far = CustomerBuilder::new("d120.example")
        .renewing_in(120)
        .insert(&app)
        .await;
    let too_far = CustomerBuilder::new("d121.example")
        .renewing_in(121)
        .insert(&app)
        .await;
    let yesterday = CustomerBuilder::new("dm1.example")
        .renewing_in(-1)
        .insert(&app)
        .await;
    let confirmed = CustomerBuilder::new("conf.example")
        .renewing_in(60)
        .with_status("CONFIRMED")
        .insert(&app)
        .await;
    let ended = CustomerBuilder::new("ended.example")
        .renewing_in(60)
        .ends_services()
        .insert(&app)
        .await;

    let r = renewal(&app, &deadline_passed).await;
    assert_eq!(r["daysUntilRenewal"], json!(44));
    assert_eq!(r["daysUntilDeadline"], json!(-1));
    assert_eq!(r["deadline"], json!("2026-11-25"));
    assert_eq!(r["actionRequired"], json!(false));

    let r = renewal(&app, &deadline_today).await;
    assert_eq!(r["renewalDate"], json!("2027-01-10"));
    assert_eq!(r["deadline"], json!("2026-11-26"));
    assert_eq!(r["daysUntilDeadline"], json!(0));
    assert_eq!(r["actionRequired"], json!(true));

    assert_eq!(renewal(&app, &far).await["actionRequired"], json!(true));
    assert_eq!(
        renewal(&app, &confirmed).await["actionRequired"],
        json!(false)
    );
    assert_eq!(renewal(&app, &ended).await["actionRequired"], json!(false));
    // Beyond 120 days, or already past: not visible at all.
    assert_eq!(renewal(&app, &too_far).await, Value::Null);
    assert_eq!(renewal(&app, &yesterday).await, Value::Null);

    // The one seeded customer is left out of the comparison.
    let built = |nodes: Vec<Value>| -> Vec<String> {
        nodes
            .iter()
            .map(|n| n["customer"]["domain"].as_str().unwrap().to_owned())
            .filter(|d| {
                !app.data.partners[0]
                    .customers
                    .iter()
                    .any(|c| &c.domain == d)
            })
            .collect()
    };
    let action = built(all_nodes(&app, json!({"actionRequired": true}), Value::Null).await);
    assert_eq!(action, ["d45.example", "d120.example"]);
    let upcoming = built(all_nodes(&app, Value::Null, Value::Null).await);
    assert_eq!(
        upcoming,
        ["d44.example", "d45.example", "conf.example", "d120.example"]
    );
}

async fn money_has_exactly_the_currencys_minor_digits(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let usd = CustomerBuilder::new("usd.example")
        .with_products(
            "USD",
            vec![
                ("MKT-PRO", 1, 100_000, 125_000),
                ("CMS-PRO", 2, 25_000, 20_050),
            ],
        )
        .insert(&app)
        .await;
    let r = renewal(&app, &usd).await;
    assert_eq!(
        r["currentMrr"],
        json!({"amount": "1250.00", "currencyCode": "USD"})
    );
    assert_eq!(
        r["renewalMrr"],
        json!({"amount": "1450.50", "currencyCode": "USD"})
    );
    assert_eq!(
        r["mrrChange"],
        json!({"amount": "200.50", "currencyCode": "USD"})
    );
    assert_eq!(
        r["productRenewals"][0]["currentMrr"],
        json!({"amount": "1000.00", "currencyCode": "USD"})
    );
    assert_eq!(r["productRenewals"][1]["quantity"], json!(2));

    let jpy = CustomerBuilder::new("jpy.example")
        .with_products("JPY", vec![("MKT-PRO", 1, 120_000, 99_000)])
        .insert(&app)
        .await;
    let r = renewal(&app, &jpy).await;
    assert_eq!(r["currentMrr"]["amount"], json!("120000"));
    assert_eq!(r["mrrChange"]["amount"], json!("-21000"));

    let kwd = CustomerBuilder::new("kwd.example")
        .with_products("KWD", vec![("MKT-PRO", 1, 1_250, 1_005)])
        .insert(&app)
        .await;
    let r = renewal(&app, &kwd).await;
    assert_eq!(r["currentMrr"]["amount"], json!("1.250"));
    assert_eq!(r["mrrChange"]["amount"], json!("-0.245"));
}

async fn a_renewals_mrr_is_the_sum_over_its_product_renewals(backend: Backend) {
    let app = TestApp::new(backend).await;
    let query = r#"{ renewals(first: 100, filter: {includeEndedServices: true}) { nodes {
        currentMrr { amount currencyCode } renewalMrr { amount } mrrChange { amount }
        productRenewals { currentMrr { amount currencyCode } renewalMrr { amount } }
    } } }"#;
    let data = app.data(query, json!({})).await;
    let minor = |v: &Value| {
        v["amount"]
            .as_str()
            .unwrap()
            .replace('.', "")
            .parse::<i64>()
            .unwrap()
    };
    let nodes = data["renewals"]["nodes"].as_array().unwrap();
    assert!(nodes.len() > 50);
    for node in nodes {
        let products = node["productRenewals"].as_array().unwrap();
        assert!((1..=5).contains(&products.len()));
        let current: i64 = products.iter().map(|p| minor(&p["currentMrr"])).sum();
        let renewed: i64 = products.iter().map(|p| minor(&p["renewalMrr"])).sum();
        assert_eq!(minor(&node["currentMrr"]), current);
        assert_eq!(minor(&node["renewalMrr"]), renewed);
        assert_eq!(minor(&node["mrrChange"]), renewed - current);
        for p in products {
            assert_eq!(
                p["currentMrr"]["currencyCode"],
                node["currentMrr"]["currencyCode"]
            );
        }
    }
}

async fn owners_come_from_the_override_else_the_partner_default(backend: Backend) {
    let app = TestApp::new(backend).await;
    let query = r#"{ renewals(first: 100) { nodes {
        owner { party isDefault notifyUser { email } }
        customer { domain renewalOwner { party isDefault notifyUser { email } } }
    } } }"#;
    let data = app.data(query, json!({})).await;
    let partner = &app.data.partners[0];
    for node in data["renewals"]["nodes"].as_array().unwrap() {
        let domain = node["customer"]["domain"].as_str().unwrap();
        let seeded = partner
            .customers
            .iter()
            .find(|c| c.domain == domain)
            .unwrap();
        let owner = &node["owner"];
        assert_eq!(owner, &node["customer"]["renewalOwner"]);
        match seeded.owner {
            None => {
                assert_eq!(owner["party"], json!("HUBSPOT"));
                assert_eq!(owner["isDefault"], json!(true));
                assert_eq!(owner["notifyUser"], Value::Null);
            }
            Some((party, user)) => {
                assert_eq!(owner["party"], json!(party.as_str()));
                assert_eq!(owner["isDefault"], json!(false));
                let email = user.map(|u| json!({ "email": partner.users[u].email }));
                assert_eq!(owner["notifyUser"], email.unwrap_or(Value::Null));
            }
        }
    }
}

/// On the last days of year 9999 the visible window ends at 9999-12-31:
/// today + 120 days, in year 10000, made every list fail on PostgreSQL (which
/// refused the date) and come back empty on SQLite (whose dates are text).
async fn the_window_ends_at_the_last_date_there_is(backend: Backend) {
    let today = crate::helpers::date("9999-09-03");
    let app = TestApp::with_settings(backend, 0, |settings| {
        settings.today = renewals::config::Today::Fixed(today);
    })
    .await;
    for (domain, on) in [
        ("last.example", "9999-12-31"),
        ("near.example", "9999-10-19"),
    ] {
        CustomerBuilder::new(domain)
            .renewing_on(crate::helpers::date(on))
            .insert(&app)
            .await;
    }
    let list = "query($f: RenewalFilter) { renewals(filter: $f) { totalCount nodes { renewalDate daysUntilRenewal actionRequired } } }";
    let data = app.data(list, json!({})).await;
    assert_eq!(
        data["renewals"],
        json!({ "totalCount": 2, "nodes": [
            { "renewalDate": "9999-10-19", "daysUntilRenewal": 46, "actionRequired": true },
            { "renewalDate": "9999-12-31", "daysUntilRenewal": 119, "actionRequired": true },
        ] })
    );
    let required = app
        .data(list, json!({ "f": { "actionRequired": true } }))
        .await;
    assert_eq!(required["renewals"]["totalCount"], 2);
    for (from, count) in [("9999-11-16", 1), ("9999-11-17", 0), ("9999-12-31", 0)] {
        let bounded = app
            .data(list, json!({ "f": { "deadlineFrom": from } }))
            .await;
        assert_eq!(bounded["renewals"]["totalCount"], count, "{from}");
    }
}

/// A partner's users come by name as a person reads it: case and accents
/// aside, not by character code (which put every capital before `a`, and `É`
/// after `z`).
async fn users_come_by_name_case_and_accents_aside(backend: Backend) {
    use entity::partner_user;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let app = TestApp::with_customers(backend, 1).await;
    let db = app.store.reader();
    let northwind = app
        .store
        .partner_by_slug("northwind")
        .await
        .unwrap()
        .unwrap();
    let added = [
        "zed Last",
        "Émile Zola",
        "ada lower",
        "Eve Adams",
        "Zoë Archer",
    ];
    for (i, name) in added.into_iter().enumerate() {
        partner_user::ActiveModel {
            partner_id: Set(northwind.id),
            name: Set(name.to_owned()),
            email: Set(format!("added{i}@northwind.example")),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    let users = app.data("{ viewer { users { name } } }", json!({})).await;
    let names: Vec<&str> = users["viewer"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["name"].as_str().unwrap())
        .collect();
    let mut expected = names.clone();
    expected.sort_by_key(|name| renewals::domain::search::fold(name));
    assert_eq!(names, expected);
    let position = |name| names.iter().position(|n| *n == name).unwrap();
    assert!(position("ada lower") < position("Eve Adams"), "{names:?}");
    assert!(position("Émile Zola") < position("Eve Adams"), "{names:?}");
    assert!(position("Eve Adams") < position("zed Last"), "{names:?}");
    assert!(position("zed Last") < position("Zoë Archer"), "{names:?}");
}

db_tests!(
    users_come_by_name_case_and_accents_aside,
    the_window_ends_at_the_last_date_there_is,
    action_is_required_from_today_until_the_deadline_within_120_days,
    money_has_exactly_the_currencys_minor_digits,
    a_renewals_mrr_is_the_sum_over_its_product_renewals,
    owners_come_from_the_override_else_the_partner_default,
);
