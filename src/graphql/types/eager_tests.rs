//! Eager resolution (see `graphql::eager`) against async-graphql's own, on
//! the same types and queries: the same answers, errors included, whether
//! eager objects build values or write JSON text.

use std::sync::Arc;

use async_graphql::{
    EmptyMutation, EmptySubscription, Object, PathSegment, Request, Response, Result, Schema,
    ServerError, Variables,
};
use chrono::NaiveDate;
use entity::{customer, partner_user, product, product_renewal, renewal};
use serde_json::{Value as Json, json};

use super::{
    Node, PartnerUser, ProductRenewalRows, Renewal, customer::RenewalManager,
    product::ProductRenewal,
};
use crate::{
    domain::owner::OwnerChoice,
    graphql::{
        documents::Documents,
        eager::{Eager, EagerList, Plain, PlainFields, WriteJson},
        json,
    },
};

fn product_renewal_rows() -> ProductRenewalRows {
    let product = Arc::new(product::Model {
        id: 7,
        sku: "MKT-PRO".into(),
        name: "Marketing Hub \"Pro\"".into(),
    });
    [(1, 3, 4_500, 5_250), (2, 1, 0, -1_999)]
        .into_iter()
        .map(|(id, quantity, current, renewal)| {
            let row = product_renewal::Model {
                id,
                renewal_id: 1,
                product_id: 7,
                quantity,
                current_mrr_minor: current,
                renewal_mrr_minor: renewal,
            };
            (row, Arc::clone(&product))
        })
        .collect()
}

fn product_renewals() -> Vec<ProductRenewal> {
    product_renewal_rows()
        .iter()
        .map(|(row, product)| ProductRenewal::new(row, Arc::clone(product), "KWD"))
        .collect()
}

fn user() -> PartnerUser {
    PartnerUser(partner_user::Model {
        id: 3,
        partner_id: 1,
        name: "Ana Lima".into(),
        email: "ana@agency.example".into(),
    })
}

/// Two renewals whose customers' strings need escaping, as a page reads
/// them: the first with the partner's default owner and no products, the
/// second with an owner of its own, whose user was read with the page, and
/// two products (in yen, unlike the others' dinars).
fn renewals() -> Vec<Renewal> {
    let users = [(3, Arc::new(user()))].into();
    vec![
        renewal(41, None).with_product_renewals(Some(&Vec::new())),
        renewal(42, Some(3))
            .with_product_renewals(Some(&product_renewal_rows()))
            .with_notify_user(&users),
    ]
}

fn renewal(id: i64, notify_user_id: Option<i64>) -> Renewal {
    let row = renewal::Model {
        id,
        partner_id: 1,
        customer_id: 9,
        status: "PENDING".into(),
        renewal_date: NaiveDate::from_ymd_opt(2027, 3, 1).expect("a date"),
        currency: "JPY".into(),
        options_url: "https://vendor.example/renew?id=41&lang=\"en\"".into(),
        current_mrr_minor: 120_000,
        renewal_mrr_minor: 90_000,
        mrr_change_minor: -30_000,
    };
    let customer = customer::Model {
        id: 9,
        partner_id: 1,
        domain: "café.example".into(),
        name: "Café \"Crème\"\n\u{1}".into(),
        name_folded: "cafe \"creme\"".into(),
        account_url: "https://vendor.example/accounts/9".into(),
        manager_name: "Zoë Ng".into(),
        manager_email: "zoe@vendor.example".into(),
        owner_party: notify_user_id.map(|_| "PARTNER".into()),
        owner_notify_user_id: notify_user_id,
        services_ended_at: None,
        services_end_reason: None,
    };
    let today = NaiveDate::from_ymd_opt(2027, 1, 10).expect("a date");
    Renewal::new(row, Arc::new(customer), OwnerChoice::OUT_OF_THE_BOX, today)
}

/// The fields of a renewal (and its customer) that need no session.
const RENEWAL_FIELDS: &str = "{ id renewalDate deadline renewalOptionsUrl status
    daysUntilRenewal daysUntilDeadline actionRequired
    currentMrr { amount currencyCode } mrrChange { amount currencyCode }
    customer { id domain name accountUrl servicesEnded renewalManager { name email } }
    owner { party isDefault notifyUser { id name email } }
    productRenewals { quantity product { sku } renewalMrr { amount currencyCode } } }";

fn manager() -> RenewalManager {
    RenewalManager {
        name: "Sam Doe".into(),
        email: "sam@vendor.example".into(),
    }
}

/// An object whose fields answer at once, after waiting, or with an error.
struct Probe(i32);

#[Object]
impl Probe {
    async fn value(&self) -> i32 {
        self.0
    }

    /// Answers only after yielding once, as a loader that waits does.
    async fn later(&self) -> i32 {
        tokio::task::yield_now().await;
        self.0 * 10
    }

    async fn failing(&self) -> Result<i32> {
        Err(format!("probe {} failed", self.0).into())
    }

    async fn child(&self) -> Eager<Leaf> {
        Eager(Leaf(self.0 + 1))
    }
}

/// A probe's child, eager under eager and derived probes alike. Its `value`
/// is a plain field ([`PlainFields`]) when eager objects write JSON text.
struct Leaf(i32);

impl PlainFields for Leaf {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        if field.name() != "value" {
            return false;
        }
        out.extend_from_slice(self.0.to_string().as_bytes());
        true
    }
}

impl PlainFields for Probe {}

#[Object]
impl Leaf {
    async fn value(&self) -> i32 {
        self.0
    }

    async fn later(&self) -> i32 {
        tokio::task::yield_now().await;
        self.0 * 10
    }

    async fn failing(&self) -> Result<i32> {
        Err(format!("leaf {} failed", self.0).into())
    }
}

/// Every type twice: `derived*` resolved by async-graphql, `eager*` eagerly.
struct Both;

#[Object]
impl Both {
    async fn derived(&self) -> ProductRenewal {
        product_renewals().remove(0)
    }
    async fn eager(&self) -> Eager<ProductRenewal> {
        Eager(product_renewals().remove(0))
    }
    async fn derived_list(&self) -> Vec<ProductRenewal> {
        product_renewals()
    }
    async fn eager_list(&self) -> EagerList<ProductRenewal> {
        EagerList(product_renewals().into())
    }
    async fn derived_user(&self) -> PartnerUser {
        user()
    }
    async fn eager_user(&self) -> Eager<PartnerUser> {
        Eager(user())
    }
    async fn derived_manager(&self) -> RenewalManager {
        manager()
    }
    async fn eager_manager(&self) -> Eager<RenewalManager> {
        Eager(manager())
    }
    async fn derived_renewals(&self) -> Vec<Renewal> {
        renewals()
    }
    async fn eager_renewals(&self) -> EagerList<Renewal> {
        EagerList(renewals().into())
    }
    async fn derived_probe(&self) -> Probe {
        Probe(1)
    }
    async fn eager_probe(&self) -> Eager<Probe> {
        Eager(Probe(1))
    }
    async fn derived_probes(&self) -> Vec<Probe> {
        (1..=3).map(Probe).collect()
    }
    async fn eager_probes(&self) -> EagerList<Probe> {
        EagerList((1..=3).map(Probe).collect())
    }
    /// Registers the `Node` interface, for fragments on it.
    async fn node(&self) -> Node {
        Node::PartnerUser(user())
    }
}

fn schema() -> Schema<Both, EmptyMutation, EmptySubscription> {
    Schema::new(Both, EmptyMutation, EmptySubscription)
}

/// How eager objects answer: as values, or (as the API does for documents
/// that select no key twice) as JSON text.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Values,
    JsonText,
}

/// The modes the API would use for `query`.
fn modes(query: &str) -> Vec<Mode> {
    let parsed = Documents::default().parse(query).expect("the query parses");
    if parsed.writes_json {
        vec![Mode::Values, Mode::JsonText]
    } else {
        vec![Mode::Values]
    }
}

/// The response's data and errors, as JSON.
async fn execute(query: &str, variables: Json, mode: Mode) -> (Json, Vec<ServerError>) {
    let mut request = Request::new(query).variables(Variables::from_json(variables));
    if let Mode::JsonText = mode {
        request = request.data(WriteJson);
    }
    let response: Response = schema().execute(request).await;
    let text = json::to_vec(&response).expect("the response is written");
    let mut body: Json = serde_json::from_slice(&text).expect("the response is JSON");
    (body["data"].take(), response.errors)
}

async fn run(query: &str, variables: Json) -> Json {
    let (data, errors) = execute(query, variables, Mode::Values).await;
    assert!(errors.is_empty(), "{errors:?}");
    data
}

/// A selection of every field of `type_name`, nested objects included,
/// read from the schema by introspection (so a new field is covered too).
async fn every_field(type_name: &str) -> String {
    let query = r#"query($name: String!) { __type(name: $name) { fields {
        name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
    } } }"#;
    let data = run(query, json!({ "name": type_name })).await;
    let mut selection = Vec::new();
    for field in data["__type"]["fields"].as_array().into_iter().flatten() {
        let mut ty = &field["type"];
        while ty["name"].is_null() {
            ty = &ty["ofType"];
        }
        let name = field["name"].as_str().unwrap_or_default().to_owned();
        selection.push(if ty["kind"] == "OBJECT" {
            let nested = Box::pin(every_field(ty["name"].as_str().unwrap_or_default()));
            format!("{name} {}", nested.await)
        } else {
            name
        });
    }
    assert!(!selection.is_empty(), "{type_name} has no fields");
    format!("{{ {} }}", selection.join(" "))
}

/// Runs `selection` on the fields `derived<suffix>` and `eager<suffix>` and
/// compares; `header` declares the operation's variables and `fragments`
/// defines the fragments `selection` uses.
async fn assert_same(suffix: &str, selection: &str, header: &str, fragments: &str) {
    let query = format!(
        "query {header} {{
            derived: derived{suffix} {selection}
            eager: eager{suffix} {selection}
        }}
        {fragments}"
    );
    let mut answers = Vec::new();
    for mode in modes(&query) {
        let (data, errors) = execute(&query, json!({ "yes": true, "no": false }), mode).await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_ne!(data["eager"], Json::Null, "{mode:?}: {query}");
        assert_eq!(data["derived"], data["eager"], "{mode:?}: {query}");
        answers.push(data);
    }
    // Eager objects nest in derived ones too (amounts), and only JSON text
    // uses plain fields: both modes must answer alike.
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "the modes differ: {query}"
    );
}

#[tokio::test]
async fn eager_types_answer_every_field_as_their_derived_resolvers_do() {
    for (field, type_name) in [
        ("", "ProductRenewal"),
        ("List", "ProductRenewal"),
        ("User", "PartnerUser"),
        ("Manager", "RenewalManager"),
    ] {
        let selection = every_field(type_name).await;
        assert_same(field, &selection, "", "").await;
    }
    assert_same("Renewals", RENEWAL_FIELDS, "", "").await;
}

#[tokio::test]
async fn eager_types_handle_aliases_fragments_and_directives_as_json_text() {
    let selection = r#"{
        __typename
        q: quantity
        quantity @skip(if: $yes)
        currentMrr @include(if: $yes) { ...Money }
        renewalMrr @include(if: $no) { amount }
        ...ProductFields
        again: product @skip(if: $no) { __typename ... on Node { id } ... on Product { name } ... { sku } }
        emptied: product { sku @skip(if: $yes) }
        aliased: renewalMrr { __typename value: amount code: currencyCode }
    }"#;
    let header = "($yes: Boolean!, $no: Boolean!)";
    let fragments = "fragment Money on Money { currencyCode amount }
        fragment ProductFields on ProductRenewal { qty: quantity product { id } }";
    let query = format!("query {header} {{ eager {selection} }} {fragments}");
    assert_eq!(modes(&query).len(), 2, "the selection writes JSON text");
    assert_same("", selection, header, fragments).await;
    assert_same("List", selection, header, fragments).await;
}

#[tokio::test]
async fn eager_objects_hand_up_json_text_only_when_the_request_asks() {
    let query = "{ eager { quantity } eagerList { quantity } derived { currentMrr { amount } } }";
    let data = |request: Request| async move {
        match schema().execute(request).await.data {
            async_graphql::Value::Object(fields) => fields,
            other => panic!("{other:?}"),
        }
    };
    let text = data(Request::new(query).data(WriteJson)).await;
    let binary = |key: &str| matches!(text[key], async_graphql::Value::Binary(_));
    assert!(binary("eager") && binary("eagerList"), "{text:?}");
    // The derived object holds a value tree, its eager amount JSON text.
    let derived = &text["derived"];
    assert!(
        matches!(derived, async_graphql::Value::Object(f) if matches!(f["currentMrr"], async_graphql::Value::Binary(_))),
        "{derived:?}"
    );
    let values = data(Request::new(query)).await;
    assert!(matches!(values["eager"], async_graphql::Value::Object(_)));
}

#[tokio::test]
async fn eager_types_handle_aliases_fragments_directives_and_merged_fields() {
    let selection = r#"{
        __typename
        q: quantity
        quantity @skip(if: $yes)
        currentMrr @include(if: $yes) { ...Money }
        renewalMrr @include(if: $no) { amount }
        renewalMrr { amount }
        renewalMrr { currencyCode __typename }
        ...ProductFields
        product { sku }
        product { ... on Node { id } ... on Product { name } ... { sku } }
        again: product @skip(if: $no) { __typename }
    }"#;
    let header = "($yes: Boolean!, $no: Boolean!)";
    let fragments = "fragment Money on Money { currencyCode amount }
        fragment ProductFields on ProductRenewal { quantity product { id } }";
    assert_same("", selection, header, fragments).await;
    assert_same("List", selection, header, fragments).await;
    let user = "{ ... on Node { id } n: name email __typename }";
    assert_same("User", user, "", "").await;
}

#[tokio::test]
async fn eager_objects_await_fields_that_wait_and_report_failed_fields_as_errors() {
    let selection = "{ value later failing child { later value failing } }";
    let query = format!(
        "{{ derived: derivedProbe {selection} eager: eagerProbe {selection}
            derivedList: derivedProbes {selection} eagerList: eagerProbes {selection} }}"
    );
    assert_eq!(modes(&query).len(), 2);
    for mode in modes(&query) {
        let (data, errors) = execute(&query, json!({}), mode).await;
        assert_waits_and_fails_alike(&data, &errors);
    }
}

fn assert_waits_and_fails_alike(data: &Json, errors: &[ServerError]) {
    assert_eq!(data["derived"], data["eager"]);
    assert_eq!(data["derivedList"], data["eagerList"]);
    assert_eq!(data["eager"]["later"], 10);
    assert_eq!(data["eagerList"][2]["child"]["later"], 40);

    // The same errors, at the same paths under each root field.
    let errors = |root: &str, list: &str| {
        let mut errors: Vec<String> = errors
            .iter()
            .filter(|e| {
                matches!(e.path.first(), Some(PathSegment::Field(f)) if [root, list].contains(&f.as_str()))
            })
            .map(|e| format!("{} at {:?}", e.message, &e.path[1..]))
            .collect();
        errors.sort();
        errors
    };
    let eager = errors("eager", "eagerList");
    assert_eq!(errors("derived", "derivedList"), eager);
    // One per probe and per child: 1 + 1 at the root, 3 + 3 in the list.
    assert_eq!(eager.len(), 8, "{eager:?}");
}
