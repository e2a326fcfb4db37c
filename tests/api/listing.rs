//! Filters, orders and pagination of `renewals`, checked against expectations
//! computed from the seeded dataset with the domain rules.

use std::collections::BTreeSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use renewals::{
    domain::{OwnerParty, RenewalStatus, dates, search::fold},
    seed::{PRODUCTS, SeedCustomer},
};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, CustomerBuilder, TestApp, db_tests, error_codes, migrate_back_to_before, today,
};

const LIST: &str = r#"
query List($filter: RenewalFilter, $orderBy: RenewalOrder, $first: Int, $after: String, $last: Int, $before: String) {
  renewals(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes {
      id deadline renewalDate
      currentMrr { amount currencyCode } renewalMrr { amount } mrrChange { amount }
      customer { domain }
    }
  }
}"#;

/// Every renewal of the list, walking forward 100 at a time.
pub async fn all_nodes(app: &TestApp, filter: Value, order: Value) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                LIST,
                json!({ "filter": filter, "orderBy": order, "first": 100, "after": after }),
            )
            .await;
        let page = &data["renewals"];
        nodes.extend(page["nodes"].as_array().unwrap().iter().cloned());
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return nodes;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

fn domains(nodes: &[Value]) -> BTreeSet<String> {
    nodes
        .iter()
        .map(|n| n["customer"]["domain"].as_str().unwrap().to_owned())
        .collect()
}

/// The database id inside a global ID.
pub fn raw_id(id: &Value) -> i64 {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str().unwrap()).unwrap()).unwrap();
    text.split_once(':').unwrap().1.parse().unwrap()
}

/// Minor units of a money amount string.
fn minor(amount: &Value) -> i64 {
    amount.as_str().unwrap().replace('.', "").parse().unwrap()
}

fn visible(c: &SeedCustomer) -> bool {
    let (first, last) = dates::visible_renewal_dates(today());
    (first..=last).contains(&c.renewal.renewal_date)
}

fn requires_action(c: &SeedCustomer) -> bool {
    dates::requires_action(
        c.renewal.status,
        c.ended.is_some(),
        c.renewal.renewal_date,
        today(),
    )
}

/// Customers of `northwind` whose renewal the default list shows and that match `pred`.
fn expected(
    app: &TestApp,
    include_ended: bool,
    pred: impl Fn(&SeedCustomer) -> bool,
) -> BTreeSet<String> {
    app.data.partners[0]
        .customers
        .iter()
        .filter(|c| visible(c) && (include_ended || c.ended.is_none()) && pred(c))
        .map(|c| c.domain.clone())
        .collect()
}

/// The effective owner party of a northwind customer (default: HUBSPOT, nobody).
fn effective_party(c: &SeedCustomer) -> OwnerParty {
    c.owner.map_or(OwnerParty::Hubspot, |(party, _)| party)
}

async fn user_id(app: &TestApp, index: usize) -> Value {
    let data = app
        .data("{ viewer { users { id email } } }", json!({}))
        .await;
    let email = &app.data.partners[0].users[index].email;
    data["viewer"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == json!(email))
        .unwrap()["id"]
        .clone()
}

async fn every_filter_matches_its_computed_expectation(backend: Backend) {
    let app = TestApp::new(backend).await;
    let user0 = user_id(&app, 0).await;
    let window_from = "2026-12-20";
    let window_to = "2027-01-31";
    let in_window = |d: chrono::NaiveDate| {
        (crate::helpers::date(window_from)..=crate::helpers::date(window_to)).contains(&d)
    };
    type Pred = Box<dyn Fn(&SeedCustomer) -> bool>;
    let cases: Vec<(Value, bool, Pred)> = vec![
        (json!({}), false, Box::new(|_| true)),
        (
            json!({"actionRequired": true}),
            false,
            Box::new(requires_action),
        ),
        (
            json!({"actionRequired": false}),
            false,
            Box::new(|c| !requires_action(c)),
        ),
        (
            json!({"includeEndedServices": true}),
            true,
            Box::new(|_| true),
        ),
        (
            json!({"actionRequired": true, "includeEndedServices": true}),
            true,
            Box::new(requires_action),
        ),
        (
            json!({"ownerParty": "HUBSPOT"}),
            false,
            Box::new(|c| effective_party(c) == OwnerParty::Hubspot),
        ),
        (
            json!({"ownerParty": "PARTNER"}),
            false,
            Box::new(|c| effective_party(c) == OwnerParty::Partner),
        ),
        (
            json!({"notifyUserId": user0}),
            false,
            Box::new(|c| matches!(c.owner, Some((_, Some(0))))),
        ),
        (
            json!({"search": "BAKERY"}),
            false,
            Box::new(|c| c.domain.contains("bakery") || c.name.to_lowercase().contains("bakery")),
        ),
        (
            json!({"search": "MÜNSTER"}),
            false,
            Box::new(|c| fold(&c.name).contains("munster")),
        ),
        // Accents, width and the form of an accent do not matter.
        (
            json!({"search": "cafe munster"}),
            false,
            Box::new(|c| fold(&c.name).contains("cafe munster")),
        ),
        (
            json!({"search": "CAFE\u{301} MU\u{308}NSTER"}),
            false,
            Box::new(|c| fold(&c.name).contains("cafe munster")),
        ),
        (
            json!({"search": "ＯＳＴＥＲＧＡＡＲＤ ＡＰＳ"}),
            false,
            Box::new(|c| fold(&c.name).contains("ostergaard aps")),
        ),
        // Spaces around the text are left out.
        (
            json!({"search": "  bakery "}),
            false,
            Box::new(|c| c.domain.contains("bakery") || fold(&c.name).contains("bakery")),
        ),
        (
            json!({"actionRequired": true, "search": "Bakery"}),
            false,
            Box::new(|c| {
                requires_action(c)
                    && (c.domain.contains("bakery") || c.name.to_lowercase().contains("bakery"))
            }),
        ),
        (json!({"search": "%"}), false, Box::new(|_| false)),
        (json!({"search": "_"}), false, Box::new(|_| false)),
        (
            json!({"status": ["CONFIRMED", "RENEWED"]}),
            false,
            Box::new(|c| {
                matches!(
                    c.renewal.status,
                    RenewalStatus::Confirmed | RenewalStatus::Renewed
                )
            }),
        ),
        (json!({"status": []}), false, Box::new(|_| false)),
        (
            json!({"currencyCode": "EUR"}),
            false,
            Box::new(|c| c.renewal.currency == "EUR"),
        ),
        (
            json!({"currencyCode": "JPY", "actionRequired": true, "includeEndedServices": true}),
            true,
            Box::new(|c| c.renewal.currency == "JPY" && requires_action(c)),
        ),
        // A code no renewal has matches nothing.
        (json!({"currencyCode": "CHF"}), false, Box::new(|_| false)),
        (
            json!({"deadlineFrom": window_from, "deadlineTo": window_to}),
            false,
            Box::new(move |c| in_window(dates::deadline(c.renewal.renewal_date))),
        ),
        (
            json!({"renewalDateFrom": window_from, "renewalDateTo": window_to}),
            false,
            Box::new(move |c| in_window(c.renewal.renewal_date)),
        ),
        // The farthest dates the API accepts narrow nothing (9999-12-31 is a
        // renewal date in year 10000, which no database writes as it does 2027).
        (
            json!({"deadlineFrom": "0001-01-01", "deadlineTo": "9999-12-31"}),
            false,
            Box::new(|_| true),
        ),
        (
            json!({"renewalDateFrom": "0001-01-01", "renewalDateTo": "9999-12-31"}),
            false,
            Box::new(|_| true),
        ),
        (
            json!({"deadlineFrom": "9999-12-31"}),
            false,
            Box::new(|_| false),
        ),
        (
            json!({"renewalDateTo": "0001-01-01"}),
            false,
            Box::new(|_| false),
        ),
        (
            json!({"actionRequired": true, "ownerParty": "HUBSPOT", "search": "e"}),
            false,
            Box::new(|c| {
                requires_action(c)
                    && effective_party(c) == OwnerParty::Hubspot
                    && (c.domain.contains('e') || c.name.to_lowercase().contains('e'))
            }),
        ),
    ];
    for (filter, include_ended, pred) in cases {
        let want = expected(&app, include_ended, pred);
        let nodes = all_nodes(&app, filter.clone(), Value::Null).await;
        assert_eq!(domains(&nodes), want, "filter {filter}");
        assert_eq!(
            nodes.len(),
            want.len(),
            "one renewal per customer, filter {filter}"
        );
        let count = app
            .data(LIST, json!({ "filter": filter, "first": 1 }))
            .await["renewals"]["totalCount"]
            .as_i64()
            .unwrap();
        assert_eq!(count as usize, want.len(), "totalCount, filter {filter}");
    }
    // The filters are not vacuous: the interesting ones select something.
    assert!(!expected(&app, false, requires_action).is_empty());
    assert!(
        !expected(&app, true, |c| c.renewal.currency == "JPY"
            && requires_action(c))
        .is_empty()
    );
    assert!(!expected(&app, false, |c| fold(&c.name).contains("cafe munster")).is_empty());
    assert!(!expected(&app, false, |c| fold(&c.name).contains("ostergaard aps")).is_empty());
    assert!(!expected(&app, false, |c| matches!(c.owner, Some((_, Some(0))))).is_empty());
}

async fn every_order_sorts_by_its_key_then_id(backend: Backend) {
    let app = TestApp::new(backend).await;
    let everything = domains(&all_nodes(&app, Value::Null, Value::Null).await);
    type Key = Box<dyn Fn(&Value) -> (String, i64)>;
    // Numbers as fixed-width offset-binary text, so that text order is numeric order.
    let num = |v: i64| format!("{:020}", i128::from(v) - i128::from(i64::MIN));
    let fields: Vec<(&str, Key)> = vec![
        (
            "DEADLINE",
            Box::new(|n| (n["deadline"].as_str().unwrap().to_owned(), 0)),
        ),
        (
            "RENEWAL_DATE",
            Box::new(|n| (n["renewalDate"].as_str().unwrap().to_owned(), 0)),
        ),
        (
            "CURRENT_MRR",
            Box::new(move |n| (num(minor(&n["currentMrr"]["amount"])), 0)),
        ),
        (
            "RENEWAL_MRR",
            Box::new(move |n| (num(minor(&n["renewalMrr"]["amount"])), 0)),
        ),
        (
            "MRR_CHANGE",
            Box::new(move |n| (num(minor(&n["mrrChange"]["amount"])), 0)),
        ),
        (
            "CUSTOMER_DOMAIN",
            Box::new(|n| (n["customer"]["domain"].as_str().unwrap().to_owned(), 0)),
        ),
    ];
    for (field, key) in &fields {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let nodes = all_nodes(&app, Value::Null, order).await;
            assert_eq!(domains(&nodes), everything, "{field} {direction}");
            let keys: Vec<(String, i64)> =
                nodes.iter().map(|n| (key(n).0, raw_id(&n["id"]))).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            if direction == "DESC" {
                sorted.reverse();
            }
            assert_eq!(keys, sorted, "{field} {direction}");
        }
    }
    // Without orderBy: by deadline ascending.
    let default = all_nodes(&app, Value::Null, Value::Null).await;
    let deadlines: Vec<&str> = default
        .iter()
        .map(|n| n["deadline"].as_str().unwrap())
        .collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]));
}

async fn pages_walk_the_same_list_forward_and_backward(backend: Backend) {
    let app = TestApp::new(backend).await;
    for order in [
        Value::Null,
        json!({"field": "MRR_CHANGE", "direction": "DESC"}),
        json!({"field": "CUSTOMER_DOMAIN"}),
    ] {
        let all: Vec<i64> = all_nodes(&app, Value::Null, order.clone())
            .await
            .iter()
            .map(|n| raw_id(&n["id"]))
            .collect();
        assert!(all.len() > 20);

        let mut forward = Vec::new();
        let mut after = Value::Null;
        let mut first_page = true;
        loop {
            let page = app
                .data(
                    LIST,
                    json!({ "orderBy": order, "first": 7, "after": after }),
                )
                .await["renewals"]
                .clone();
            let info = &page["pageInfo"];
            assert_eq!(info["hasPreviousPage"], json!(!first_page));
            let ids: Vec<i64> = page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| raw_id(&e["node"]["id"]))
                .collect();
            let edge_cursors: Vec<&Value> = page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["cursor"])
                .collect();
            assert_eq!(info["startCursor"], *edge_cursors[0]);
            assert_eq!(info["endCursor"], **edge_cursors.last().unwrap());
            forward.extend(ids);
            first_page = false;
            if !info["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = info["endCursor"].clone();
        }
        assert_eq!(forward, all, "forward {order}");

        let mut backward = Vec::new();
        let mut before = Value::Null;
        let mut last_page = true;
        loop {
            let page = app
                .data(
                    LIST,
                    json!({ "orderBy": order, "last": 7, "before": before }),
                )
                .await["renewals"]
                .clone();
            let info = &page["pageInfo"];
            assert_eq!(info["hasNextPage"], json!(!last_page));
            let ids: Vec<i64> = page["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| raw_id(&n["id"]))
                .collect();
            backward.splice(0..0, ids);
            last_page = false;
            if !info["hasPreviousPage"].as_bool().unwrap() {
                break;
            }
            before = info["startCursor"].clone();
        }
        assert_eq!(backward, all, "backward {order}");
    }
}

async fn page_sizes_outside_1_to_100_are_bad_user_input(backend: Backend) {
    let app = TestApp::with_customers(backend, 10).await;
    for variables in [
        json!({"first": 0}),
        json!({"first": 101}),
        json!({"first": -1}),
        json!({"last": 0}),
        json!({"last": 1000}),
        json!({"first": 5, "last": 5}),
        json!({"first": 5, "before": "x"}),
        json!({"after": "not-a-cursor"}),
        json!({"filter": {"deadlineFrom": "2027-02-01", "deadlineTo": "2027-01-01"}}),
        json!({"filter": {"renewalDateFrom": "2027-02-01", "renewalDateTo": "2027-01-01"}}),
        json!({"filter": {"search": "x".repeat(201)}}),
        json!({"filter": {"notifyUserId": "garbage"}}),
        json!({"filter": {"currencyCode": "eur"}}),
        json!({"filter": {"currencyCode": "EURO"}}),
        json!({"filter": {"currencyCode": ""}}),
    ] {
        let body = app.gql(LIST, variables.clone()).await;
        assert_eq!(
            error_codes(&body),
            ["BAD_USER_INPUT"],
            "{variables}: {body}"
        );
    }
    let ok = app.data(LIST, json!({"first": 100})).await;
    assert!(ok["renewals"]["nodes"].as_array().unwrap().len() <= 100);
    // The spaces around a search are not searched, nor counted.
    let padded = format!("  {}  ", "x".repeat(200));
    let ok = app.data(LIST, json!({"filter": {"search": padded}})).await;
    assert_eq!(ok["renewals"]["totalCount"], 0);
}

async fn a_cursor_only_works_with_the_order_it_came_from(backend: Backend) {
    let app = TestApp::with_customers(backend, 20).await;
    let page = app.data(LIST, json!({"first": 2})).await;
    let cursor = page["renewals"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(
            LIST,
            json!({"first": 2, "after": cursor, "orderBy": {"field": "CURRENT_MRR"}}),
        )
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    // The same cursor under another filter is a position in that list: allowed.
    let other = app
        .data(
            LIST,
            json!({"first": 2, "after": cursor, "filter": {"actionRequired": true}}),
        )
        .await;
    assert!(other["renewals"]["nodes"].is_array());
}

async fn the_default_page_has_20_renewals(backend: Backend) {
    let app = TestApp::new(backend).await;
    let page = app.data(LIST, json!({})).await;
    assert_eq!(page["renewals"]["nodes"].as_array().unwrap().len(), 20);
    assert_eq!(page["renewals"]["pageInfo"]["hasNextPage"], json!(true));
}

/// GraphQL merges the fields of a response key selected twice, at any depth
/// and through fragments; the API answers such documents with the same data
/// as the document that selects each key once.
async fn a_key_selected_twice_answers_as_one_selection(backend: Backend) {
    let app = TestApp::new(backend).await;
    let once = app
        .data(
            "{ renewals(first: 3) { totalCount nodes { id currentMrr { amount currencyCode }
                customer { name domain } productRenewals { quantity product { sku name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(once["renewals"]["nodes"].as_array().map(Vec::len), Some(3));
    for twice in [
        "{ renewals(first: 3) { totalCount } renewals(first: 3) { nodes { id currentMrr { amount }
            customer { name } productRenewals { quantity product { sku } } }
            nodes { currentMrr { currencyCode } customer { domain } productRenewals { product { name } } } } }",
        "{ renewals(first: 3) { ...Count ...Nodes nodes { customer { domain } productRenewals { product { name } } } } }
         fragment Count on RenewalConnection { totalCount }
         fragment Nodes on RenewalConnection { nodes { id currentMrr { amount currencyCode } customer { name }
            productRenewals { quantity product { sku } } } }",
    ] {
        assert_eq!(app.data(twice, json!({})).await, once, "{twice}");
    }
}

/// Each renewal of a page shows its own product renewals and notify user, as
/// seeded: a page reads them in one statement each, for all of its renewals
/// at once (`store::one_of`).
async fn each_renewal_of_a_page_shows_its_own_products_and_notify_user(backend: Backend) {
    let app = TestApp::new(backend).await;
    let partner = &app.data.partners[0];
    let data = app
        .data(
            r#"{ renewals(first: 100, filter: {includeEndedServices: true}) { nodes {
                customer { domain }
                owner { notifyUser { email } }
                productRenewals { quantity product { sku } }
            } } }"#,
            json!({}),
        )
        .await;
    let nodes = data["renewals"]["nodes"].as_array().unwrap();
    assert!(nodes.len() >= 50, "{} renewals", nodes.len());
    let mut notified = 0;
    for node in nodes {
        let domain = node["customer"]["domain"].as_str().unwrap();
        let customer = partner
            .customers
            .iter()
            .find(|c| c.domain == domain)
            .unwrap();
        let mut seeded: Vec<(&str, i64)> = customer
            .renewal
            .products
            .iter()
            .map(|&(product, quantity, _, _)| (PRODUCTS[product].sku, i64::from(quantity)))
            .collect();
        let mut shown: Vec<(&str, i64)> = node["productRenewals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["product"]["sku"].as_str().unwrap(),
                    p["quantity"].as_i64().unwrap(),
                )
            })
            .collect();
        seeded.sort_unstable();
        shown.sort_unstable();
        assert!(!seeded.is_empty(), "{domain}");
        assert_eq!(shown, seeded, "{domain}");
        let user = customer.owner.and_then(|(_, user)| user);
        let email = user.map(|user| partner.users[user].email.as_str());
        assert_eq!(
            node["owner"]["notifyUser"]["email"].as_str(),
            email,
            "{domain}"
        );
        notified += usize::from(email.is_some());
    }
    assert!(notified >= 2, "{notified} renewals notify a user");
}

/// Search text is taken literally, whatever it holds: quotes, backslashes,
/// dollar signs (PostgreSQL gets the pattern written into the statement) and
/// `LIKE` wildcards, and on SQLite, what its trigram index would read as query
/// syntax. The list and its count agree.
async fn search_takes_quotes_backslashes_dollars_and_wildcards_literally(backend: Backend) {
    let app = TestApp::new(backend).await;
    let tricky = [
        "quote'd.example",
        "back\\slash.example",
        "dollar$s$sign.example",
        "per%cent.example",
        "under_score.example",
        "price$1.example",
        "double\"quote.example",
        "star*ry-or.example",
    ];
    for domain in tricky {
        CustomerBuilder::new(domain).insert(&app).await;
    }
    let cases: [(&str, &[&str]); 12] = [
        ("'d", &["quote'd.example"]),
        ("K\\S", &["back\\slash.example"]),
        ("$s$", &["dollar$s$sign.example"]),
        ("r$s", &["dollar$s$sign.example"]),
        ("%c", &["per%cent.example"]),
        ("r_s", &["under_score.example"]),
        // Looks like a parameter; is text.
        ("e$1", &["price$1.example"]),
        ("'; DELETE FROM customer; --", &[]),
        // Quotes and the index's query syntax, which SQLite's trigram index
        // is asked for: text too.
        ("e\"q", &["double\"quote.example"]),
        ("r*r", &["star*ry-or.example"]),
        ("\" OR \"", &[]),
        ("$s$; DELETE FROM customer; --", &[]),
    ];
    for (search, want) in cases {
        let list = app
            .data(
                LIST,
                json!({ "filter": { "search": search }, "first": 100 }),
            )
            .await;
        let want: BTreeSet<String> = want.iter().map(|d| d.to_string()).collect();
        let nodes = list["renewals"]["nodes"].as_array().unwrap();
        assert_eq!(domains(nodes), want, "search {search:?}");
        assert_eq!(
            list["renewals"]["totalCount"],
            json!(want.len()),
            "search {search:?}"
        );
    }
    let all = app
        .data(
            LIST,
            json!({ "filter": { "search": ".example" }, "first": 100 }),
        )
        .await;
    let nodes = all["renewals"]["nodes"].as_array().unwrap();
    assert!(tricky.iter().all(|d| domains(nodes).contains(*d)));
    // A next page binds its cursor beside the written pattern.
    let search = json!({ "search": "$" });
    let first = app
        .data(LIST, json!({ "filter": search, "first": 1 }))
        .await;
    let after = first["renewals"]["pageInfo"]["endCursor"].clone();
    let next = app
        .data(
            LIST,
            json!({ "filter": search, "first": 1, "after": after }),
        )
        .await;
    let pages = [&first, &next].map(|page| domains(page["renewals"]["nodes"].as_array().unwrap()));
    let both: BTreeSet<String> = pages.iter().flatten().cloned().collect();
    let want = ["dollar$s$sign.example", "price$1.example"];
    assert_eq!(both, want.iter().map(|d| d.to_string()).collect());
}

/// Names stored before search ignored accents (folded with `to_lowercase`)
/// are folded again by the migration that brought it: a search for `Café
/// Münster` finds `Café Münster GmbH` after it, not before, on SQLite through
/// its trigram index too.
async fn the_search_fold_migration_folds_the_names_stored_before_it(backend: Backend) {
    use migration::{Migrator, MigratorTrait};
    let app = &TestApp::new(backend).await;
    let found = |search: &'static str| async move {
        app.data(
            LIST,
            json!({ "filter": { "search": search, "includeEndedServices": true }, "first": 100 }),
        )
        .await["renewals"]["totalCount"]
            .as_i64()
            .unwrap()
    };
    let db = app.store.reader();
    migrate_back_to_before(db, "m20261207_000001_search_fold").await;
    // Stored as `café münster gmbh`, which the search's fold never gives.
    assert_eq!(found("cafe munster").await, 0);
    assert_eq!(found("CAFÉ MÜNSTER").await, 0);
    Migrator::up(db, None).await.unwrap();
    assert_eq!(found("cafe munster").await, 1);
    assert_eq!(found("café münster").await, 1);
    if backend == Backend::Sqlite {
        use sea_orm::ConnectionTrait;
        // Fails ("malformed") unless the index holds exactly the customers' text.
        db.execute_unprepared(
            "INSERT INTO customer_search (customer_search, rank) VALUES ('integrity-check', 1)",
        )
        .await
        .unwrap();
    }
}

/// A search finds customers by their domain and name as they are now: on
/// SQLite, the trigram index follows every insert, rename and delete (its
/// triggers), which its integrity check against the customers confirms.
async fn search_follows_customers_renamed_and_deleted(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = &TestApp::new(backend).await;
    let sql = |statement: &'static str| async move {
        app.store
            .reader()
            .execute_unprepared(statement)
            .await
            .unwrap();
    };
    // A second renewal, so that no renewal has its customer's id.
    sql(
        "INSERT INTO renewal (partner_id, customer_id, status, renewal_date, currency, \
         options_url, current_mrr_minor, renewal_mrr_minor, mrr_change_minor) \
         SELECT partner_id, customer_id, 'RENEWED', renewal_date, currency, options_url, \
         0, 0, 0 FROM renewal WHERE id = (SELECT MAX(id) FROM renewal)",
    )
    .await;
    for domain in ["quince-one.example", "quince-two.example", "medlar.example"] {
        CustomerBuilder::new(domain).insert(app).await;
    }
    // The customers found, the same in the default list and (the test's
    // customers all renew within the action window) the action-required one.
    let found = |search: &'static str| async move {
        let mut lists = Vec::new();
        for action_required in [None, Some(true)] {
            let filter = json!({ "search": search, "actionRequired": action_required });
            let list = app
                .data(LIST, json!({ "filter": filter, "first": 100 }))
                .await;
            let found = domains(list["renewals"]["nodes"].as_array().unwrap());
            assert_eq!(
                list["renewals"]["totalCount"],
                json!(found.len()),
                "{filter}"
            );
            lists.push(found.into_iter().collect::<Vec<_>>());
        }
        assert_eq!(lists[0], lists[1], "{search}");
        lists.swap_remove(0)
    };
    assert_eq!(
        found("QUINCE").await,
        ["quince-one.example", "quince-two.example"]
    );
    sql("UPDATE customer SET domain = 'sloe.example', name = 'Sloe Ltd',          name_folded = 'sloe ltd' WHERE domain = 'quince-one.example'")
    .await;
    sql("UPDATE customer SET name = 'Quince & Medlar', name_folded = 'quince & medlar'          WHERE domain = 'medlar.example'")
    .await;
    assert_eq!(
        found("quince").await,
        ["medlar.example", "quince-two.example"]
    );
    assert_eq!(found("sloe").await, ["sloe.example"]);
    assert!(found("one.ex").await.is_empty());
    sql("DELETE FROM product_renewal WHERE renewal_id IN (SELECT r.id FROM renewal r          JOIN customer c ON c.id = r.customer_id WHERE c.domain = 'quince-two.example')")
    .await;
    sql("DELETE FROM renewal WHERE customer_id IN          (SELECT id FROM customer WHERE domain = 'quince-two.example')")
    .await;
    sql("DELETE FROM customer WHERE domain = 'quince-two.example'").await;
    assert_eq!(found("quince").await, ["medlar.example"]);
    assert!(found("two.ex").await.is_empty());
    if backend == Backend::Sqlite {
        // Fails ("malformed") unless the index holds exactly the customers' text.
        sql("INSERT INTO customer_search (customer_search, rank) VALUES ('integrity-check', 1)")
            .await;
    }
}

/// SQLite's trigram index, created on a database that holds customers
/// already, indexes them (and can be dropped and made again).
#[tokio::test]
async fn the_trigram_index_starts_with_the_customers_already_there() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;
    let app = TestApp::new(Backend::Sqlite).await;
    CustomerBuilder::new("quince.example").insert(&app).await;
    let db = app.store.reader();
    migrate_back_to_before(db, "m20261204_000001_customer_search").await;
    let tables = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE name = 'customer_search'",
        ))
        .await
        .unwrap();
    assert!(tables.is_empty(), "the index is still there");
    CustomerBuilder::new("quince-later.example")
        .insert(&app)
        .await;
    Migrator::up(db, None).await.unwrap();
    let list = app
        .data(
            LIST,
            json!({ "filter": { "search": "quince" }, "first": 100 }),
        )
        .await;
    assert_eq!(
        domains(list["renewals"]["nodes"].as_array().unwrap()),
        BTreeSet::from([
            "quince.example".to_owned(),
            "quince-later.example".to_owned()
        ])
    );
    db.execute_unprepared(
        "INSERT INTO customer_search (customer_search, rank) VALUES ('integrity-check', 1)",
    )
    .await
    .unwrap();
}

db_tests!(
    the_search_fold_migration_folds_the_names_stored_before_it,
    search_follows_customers_renamed_and_deleted,
    search_takes_quotes_backslashes_dollars_and_wildcards_literally,
    each_renewal_of_a_page_shows_its_own_products_and_notify_user,
    a_key_selected_twice_answers_as_one_selection,
    every_filter_matches_its_computed_expectation,
    every_order_sorts_by_its_key_then_id,
    pages_walk_the_same_list_forward_and_backward,
    page_sizes_outside_1_to_100_are_bad_user_input,
    a_cursor_only_works_with_the_order_it_came_from,
    the_default_page_has_20_renewals,
);
