//! The test harness: a fresh database per test (a SQLite file, or a PostgreSQL
//! schema when `TEST_DATABASE_URL` is set), the real router, and helpers to
//! send GraphQL requests through it.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use renewals::{
    app,
    config::Today,
    seed::{self, Dataset},
    store::{Store, StoreOptions},
};
use sea_orm::{
    ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, QueryResult, Statement,
    TryGetableMany,
};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The fixed "today" of every test.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid date")
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().expect("valid date")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per configured backend: `db_tests!(name, …)` makes
/// `name::sqlite` and `name::postgres` from `async fn name(backend: Backend)`.
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::helpers::postgres_url().is_some() {
                        super::$name($crate::helpers::Backend::Postgres).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use db_tests;

/// The PostgreSQL server to test against. With `CI=true` it is required.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI");
    }
    url
}

/// A database of its own: a temporary SQLite file or a PostgreSQL schema,
/// dropped when the test ends (also when it fails).
pub struct TestDb {
    pub url: String,
    pub pg_schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static NEXT_SCHEMA: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                Self {
                    url,
                    pg_schema: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let url = postgres_url().expect("TEST_DATABASE_URL");
                let schema = format!(
                    "t_{}_{}_{}",
                    std::process::id(),
                    NEXT_SCHEMA.fetch_add(1, Ordering::Relaxed),
                    rand_suffix()
                );
                let db = Database::connect(&url)
                    .await
                    .expect("connect to PostgreSQL");
                db.execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create schema");
                db.close().await.ok();
                Self {
                    url,
                    pg_schema: Some(schema),
                    _dir: None,
                }
            }
        }
    }

    /// A URL that sets each session up by itself, for code that connects by
    /// URL alone: on PostgreSQL, the test's schema as the search path, then
    /// `settings` (`name=value`). On SQLite, the URL.
    pub fn session_url(&self, settings: &[&str]) -> String {
        let Some(schema) = &self.pg_schema else {
            return self.url.clone();
        };
        let mut options = format!("options=-c%20search_path%3D{schema}");
        for setting in settings {
            options.push_str(&format!("%20-c%20{}", setting.replace('=', "%3D")));
        }
        self.url_with(&options)
    }

    /// The URL with a query `parameter` (`name=value`) added.
    fn url_with(&self, parameter: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{parameter}", self.url)
    }

    /// The store, its PostgreSQL sessions named after the test's schema
    /// (`application_name`).
    pub async fn store(&self) -> Store {
        let url = match &self.pg_schema {
            Some(schema) => self.url_with(&format!("application_name={schema}")),
            None => self.url.clone(),
        };
        Store::connect_with(&url, self.pg_schema.as_deref())
            .await
            .expect("connect and migrate")
    }

    /// Ends the PostgreSQL sessions of the store, as a restart of the
    /// database would, and waits until they are gone; how many there were.
    pub async fn end_postgres_sessions(&self) -> i64 {
        let schema = self
            .pg_schema
            .as_deref()
            .expect("a PostgreSQL test database");
        let db = Database::connect(&self.url).await.expect("connect");
        let ended = db
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) AS ended \
                 FROM pg_stat_activity WHERE application_name = $1",
                [schema.into()],
            ))
            .await
            .expect("end the sessions")
            .expect("a row");
        db.close().await.ok();
        ended.try_get("", "ended").expect("a count")
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or_default()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.pg_schema.take() else {
            return;
        };
        let url = self.url.clone();
        // Drop runs outside async; use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(db) = Database::connect(&url).await {
                    let _ = db
                        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

/// The application over a test database, with tokens for both demo partners.
pub struct TestApp {
    /// Removes the database when dropped.
    db: TestDb,
    pub store: Store,
    pub router: Router,
    pub data: Dataset,
    /// A token of `northwind`, the partner most tests act as.
    pub token: String,
    /// A token of `contoso`, the other tenant.
    pub other_token: String,
}

/// Customers per partner in the standard dataset.
pub const CUSTOMERS: u32 = 150;

impl TestApp {
    /// The standard dataset: both demo partners with [`CUSTOMERS`] customers each.
    pub async fn new(backend: Backend) -> Self {
        Self::with_customers(backend, CUSTOMERS).await
    }

    /// See [`TestDb::end_postgres_sessions`].
    pub async fn end_postgres_sessions(&self) -> i64 {
        self.db.end_postgres_sessions().await
    }

    pub async fn with_customers(backend: Backend, customers: u32) -> Self {
        Self::with_settings(backend, customers, |_| {}).await
    }

    /// An app whose settings (rate limit, timeout…) the test adjusts.
    pub async fn with_settings(
        backend: Backend,
        customers: u32,
        adjust: impl FnOnce(&mut app::Settings),
    ) -> Self {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        Self::over(db, store, customers, adjust).await
    }

    /// The standard dataset, served from a PostgreSQL pool of `connections`
    /// (the setting does nothing on SQLite).
    pub async fn with_pg_connections(backend: Backend, connections: u32) -> Self {
        let db = TestDb::new(backend).await;
        let options = StoreOptions {
            pg_schema: db.pg_schema.as_deref(),
            pg_connections: Some(connections),
            ..StoreOptions::default()
        };
        let store = Store::open(&db.url, options)
            .await
            .expect("connect and migrate");
        Self::over(db, store, CUSTOMERS, |_| {}).await
    }

    async fn over(
        db: TestDb,
        store: Store,
        customers: u32,
        adjust: impl FnOnce(&mut app::Settings),
    ) -> Self {
        let data = seed::generate(customers, 7, today());
        store.insert_dataset(&data).await.expect("seed");
        let token = store
            .create_token("northwind", "test-suite")
            .await
            .expect("token")
            .expect("partner exists")
            .secret;
        let other_token = store
            .create_token("contoso", "contoso-suite")
            .await
            .expect("token")
            .expect("partner exists")
            .secret;
        let mut settings = app::Settings::new(Today::Fixed(today()));
        adjust(&mut settings);
        let router = app::router(store.clone(), settings);
        Self {
            db,
            store,
            router,
            data,
            token,
            other_token,
        }
    }

    /// Another server process over the same database, as a second `renewals
    /// serve` would be: its own store (pools) and router, with these settings.
    pub async fn another_process(&self, adjust: impl FnOnce(&mut app::Settings)) -> Router {
        let mut settings = app::Settings::new(Today::Fixed(today()));
        adjust(&mut settings);
        app::router(self.db.store().await, settings)
    }

    /// Sends a raw HTTP request through the router.
    pub async fn send(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        send_to(&self.router, request).await
    }

    /// POSTs a GraphQL request with a token (or none) and returns status and JSON body.
    pub async fn post_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        post_to(&self.router, token, query, variables).await
    }

    /// Sends `body`, a whole GraphQL request (JSON), as `northwind`.
    pub async fn post_body(&self, body: Value) -> Value {
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .body(Body::from(body.to_string()))
            .expect("request");
        let (_, _, body) = self.send(request).await;
        serde_json::from_slice(&body).expect("JSON body")
    }

    /// The full GraphQL response for `northwind`.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post_as(Some(&self.token), query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The `data` of a response for `northwind` that must have no errors.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// The `data` for `contoso`.
    pub async fn other_data(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post_as(Some(&self.other_token), query, variables)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }
}

/// Sends a raw HTTP request through `router`.
pub async fn send_to(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

/// POSTs a GraphQL request through `router` with a token (or none), and
/// returns status and JSON body.
pub async fn post_to(
    router: &Router,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, Value) {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = json!({ "query": query, "variables": variables }).to_string();
    let (status, _, body) = send_to(router, request.body(Body::from(body)).expect("request")).await;
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

/// The `extensions.code` of each error of a response.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A customer of `northwind` with one renewal, for tests that need exact rows.
pub struct CustomerBuilder {
    partner: &'static str,
    domain: String,
    name: String,
    ended: bool,
    status: &'static str,
    renewal_date: NaiveDate,
    currency: &'static str,
    products: Vec<(&'static str, i32, i64, i64)>,
}

impl CustomerBuilder {
    pub fn new(domain: &str) -> Self {
        Self {
            partner: "northwind",
            domain: domain.to_owned(),
            name: format!("{domain} customer"),
            ended: false,
            status: "PENDING",
            renewal_date: today() + chrono::Days::new(60),
            currency: "USD",
            products: vec![("MKT-PRO", 1, 89_000, 89_000)],
        }
    }

    pub fn for_partner(mut self, slug: &'static str) -> Self {
        self.partner = slug;
        self
    }

    pub fn renewing_in(mut self, days: i64) -> Self {
        self.renewal_date = today() + chrono::Duration::days(days);
        self
    }

    pub fn renewing_on(mut self, date: NaiveDate) -> Self {
        self.renewal_date = date;
        self
    }

    pub fn with_status(mut self, status: &'static str) -> Self {
        self.status = status;
        self
    }

    pub fn ends_services(mut self) -> Self {
        self.ended = true;
        self
    }

    /// Replaces the products: (sku, quantity, current MRR, renewal MRR) in minor units.
    pub fn with_products(
        mut self,
        currency: &'static str,
        products: Vec<(&'static str, i32, i64, i64)>,
    ) -> Self {
        self.currency = currency;
        self.products = products;
        self
    }

    /// Inserts the customer; returns the renewal's global ID.
    pub async fn insert(self, app: &TestApp) -> String {
        use entity::{customer, partner, product, product_renewal, renewal};
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
        let db = app.store.reader();
        let partner = partner::Entity::find()
            .filter(partner::Column::Slug.eq(self.partner))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let customer = customer::ActiveModel {
            partner_id: Set(partner.id),
            domain: Set(self.domain.clone()),
            name: Set(self.name.clone()),
            name_folded: Set(self.name.to_lowercase()),
            account_url: Set(format!("https://accounts.example/{}", self.domain)),
            manager_name: Set("Test Manager".into()),
            manager_email: Set("manager@hubspot.example".into()),
            owner_party: Set(None),
            owner_notify_user_id: Set(None),
            services_ended_at: Set(self.ended.then(chrono::Utc::now)),
            services_end_reason: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        let current: i64 = self.products.iter().map(|p| p.2).sum();
        let renewed: i64 = self.products.iter().map(|p| p.3).sum();
        let renewal = renewal::ActiveModel {
            partner_id: Set(partner.id),
            customer_id: Set(customer.id),
            status: Set(self.status.to_owned()),
            renewal_date: Set(self.renewal_date),
            currency: Set(self.currency.to_owned()),
            options_url: Set("https://options.example".into()),
            current_mrr_minor: Set(current),
            renewal_mrr_minor: Set(renewed),
            mrr_change_minor: Set(renewed - current),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        for (sku, quantity, current, renewed) in self.products {
            let product = product::Entity::find()
                .filter(product::Column::Sku.eq(sku))
                .one(db)
                .await
                .unwrap()
                .unwrap();
            product_renewal::ActiveModel {
                renewal_id: Set(renewal.id),
                product_id: Set(product.id),
                quantity: Set(quantity),
                current_mrr_minor: Set(current),
                renewal_mrr_minor: Set(renewed),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
        }
        renewals::graphql::ids::encode(renewals::graphql::ids::NodeKind::Renewal, renewal.id).0
    }
}

/// Undoes the migrations down to before the one named `name` (and all
/// after it), as a database migrated by an older server would be.
pub async fn migrate_back_to_before(db: &DatabaseConnection, name: &str) {
    use migration::{Migrator, MigratorTrait};
    let applied = Migrator::get_applied_migrations(db).await.unwrap();
    let since = applied
        .iter()
        .rev()
        .position(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no migration {name}"));
    Migrator::down(db, Some(since as u32 + 1)).await.unwrap();
}

/// The plan of `sql`: `EXPLAIN (FORMAT JSON)` on PostgreSQL (one row, its
/// `QUERY PLAN`), `EXPLAIN QUERY PLAN` on SQLite (a row per step, `detail`).
pub async fn explain(db: &DatabaseConnection, sql: &str) -> Vec<QueryResult> {
    let backend = db.get_database_backend();
    let explain = match backend {
        DatabaseBackend::Postgres => format!("EXPLAIN (FORMAT JSON) {sql}"),
        _ => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    db.query_all_raw(Statement::from_string(backend, explain))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"))
}

/// The rows of `sql`, as tuples of its columns.
pub async fn tuples<T: TryGetableMany>(db: &DatabaseConnection, sql: &str) -> Vec<T> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_many_by_index().unwrap())
        .collect()
}

/// A row of `renewal_owner_tally`: partner, owner party, notified user (0 for
/// none), status, services ended (0 or 1), renewal date, renewals.
pub type OwnerTally = (i64, String, i64, String, i32, String, i64);

/// Checks that `renewal_owner_tally` counts what the renewals and their
/// customers hold, counted afresh (rows that count nothing aside).
pub async fn assert_owner_tally_counts(db: &DatabaseConnection) {
    let tally: Vec<OwnerTally> = tuples(
        db,
        "SELECT partner_id, owner_party, notify_user_id, status, \
         CASE WHEN services_ended THEN 1 ELSE 0 END, CAST(renewal_date AS TEXT), renewals \
         FROM renewal_owner_tally WHERE renewals <> 0 ORDER BY 1, 2, 3, 4, 5, 6",
    )
    .await;
    let recount: Vec<OwnerTally> = tuples(
        db,
        "SELECT r.partner_id, c.owner_party, CAST(COALESCE(c.owner_notify_user_id, 0) AS BIGINT), \
         r.status, CASE WHEN c.services_ended_at IS NULL THEN 0 ELSE 1 END, \
         CAST(r.renewal_date AS TEXT), COUNT(*) \
         FROM renewal r JOIN customer c ON c.id = r.customer_id \
         WHERE c.owner_party IS NOT NULL \
         GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
    )
    .await;
    assert!(
        !recount.is_empty(),
        "some customers have owners of their own"
    );
    assert_eq!(tally, recount, "renewal_owner_tally against a recount");
}

/// The ids of the first `n` customers requiring action.
pub async fn customer_ids(app: &TestApp, n: usize) -> Vec<Value> {
    let page = app
        .data(
            "query($n: Int!) { renewals(first: $n, filter: {actionRequired: true}) { nodes { customer { id } } } }",
            json!({ "n": n }),
        )
        .await;
    let ids: Vec<Value> = page["renewals"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["customer"]["id"].clone())
        .collect();
    assert_eq!(ids.len(), n);
    ids
}

/// Gives `store`'s warm read connections back to its read pool, and waits
/// until the pool holds every connection it opened idle (sqlx takes each back
/// in a task of its own): what reads every connection must reach them all.
pub async fn cool(store: &Store) {
    store.return_warm_connections();
    let db = store.reader();
    let all_idle = || match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            pool.num_idle() == pool.size() as usize
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            pool.num_idle() == pool.size() as usize
        }
    };
    for _ in 0..200 {
        if all_idle() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the read pool's connections did not all come back");
}
