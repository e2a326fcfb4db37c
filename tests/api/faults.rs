//! Faults: the database goes away and comes back; the server is stopped under load.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use renewals::{
    app,
    config::Today,
    seed,
    store::{Store, StoreOptions},
};
use sea_orm::{
    ConnectionTrait, Database, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde_json::json;
use tokio::{net::TcpListener, task::AbortHandle};

use crate::helpers::{Backend, TestApp, TestDb, error_codes, postgres_url, send_to, today};

/// A TCP proxy in front of PostgreSQL that a test can cut and restore.
struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    /// False while the database "stops answering": bytes are held, the
    /// connections stay open.
    flowing: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

/// Forwards what `from` sends to `to`, holding it while `flowing` is false.
async fn forward(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    to: &mut (impl tokio::io::AsyncWrite + Unpin),
    flowing: &AtomicBool,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = [0; 8192];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        while !flowing.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        to.write_all(&buffer[..n]).await?;
    }
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let flowing = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (up2, flowing2, connections2) = (
            Arc::clone(&up),
            Arc::clone(&flowing),
            Arc::clone(&connections),
        );
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let flowing = Arc::clone(&flowing2);
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let (mut client_in, mut client_out) = client.split();
                        let (mut server_in, mut server_out) = server.split();
                        let _ = tokio::try_join!(
                            forward(&mut client_in, &mut server_out, &flowing),
                            forward(&mut server_in, &mut client_out, &flowing),
                        );
                    }
                });
                connections2.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            address,
            up,
            flowing,
            connections,
        }
    }

    /// The database stops answering, its connections open (as one stopped
    /// with `SIGSTOP`, or behind a network that drops packets), and resumes.
    fn stall(&self, stalled: bool) {
        self.flowing.store(!stalled, Ordering::SeqCst);
    }

    /// Drops every open connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `url` with its host and port replaced by `address`.
fn through(url: &str, address: SocketAddr) -> String {
    let start = url
        .find('@')
        .map_or_else(|| url.find("://").unwrap() + 3, |at| at + 1);
    let end = start + url[start..].find('/').unwrap();
    format!("{}{address}{}", &url[..start], &url[end..])
}

fn upstream(url: &str) -> SocketAddr {
    let start = url
        .find('@')
        .map_or_else(|| url.find("://").unwrap() + 3, |at| at + 1);
    let end = start + url[start..].find('/').unwrap();
    let authority = &url[start..end];
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&authority)
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_fails_fast_turns_ready_red_and_heals_by_itself() {
    let Some(url) = postgres_url() else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let direct = db.store().await;
    direct
        .insert_dataset(&renewals::seed::generate(3, 1, today()))
        .await
        .unwrap();
    let token = direct
        .create_token("northwind", "faults")
        .await
        .unwrap()
        .unwrap()
        .secret;

    let proxy = Proxy::start(upstream(&url)).await;
    let store = Store::connect_with(&through(&url, proxy.address), db.pg_schema.as_deref())
        .await
        .unwrap();
    let router = app::router(store, app::Settings::new(Today::Fixed(today())));
    let call = |path: &'static str| {
        let router = router.clone();
        let token = token.clone();
        async move {
            let request = if path == "/graphql" {
                Request::post(path)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::from(
                        json!({ "query": "{ renewals { totalCount } }" }).to_string(),
                    ))
                    .unwrap()
            } else {
                Request::get(path).body(Body::empty()).unwrap()
            };
            let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, body)
        }
    };
    assert_eq!(call("/graphql").await.0, StatusCode::OK);
    assert_eq!(call("/ready").await.0, StatusCode::OK);

    proxy.cut();
    let started = Instant::now();
    let (status, body) = call("/graphql").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast: {:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"]);
    assert!(!body.to_string().to_lowercase().contains("sqlx"), "{body}");
    assert_eq!(call("/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(call("/health").await.0, StatusCode::OK);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if call("/graphql").await.0 == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server recovers without a restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(call("/ready").await.0, StatusCode::OK);
}

/// A database that stops answering, its connections open, turns `/ready` red
/// within 4 s (an answer is reused for a second, a ping waits 2 s): a readiness probe is not held for the whole request timeout
/// (30 s). It turns green again once the database answers.
/// A server started before its database comes up when the database does: it
/// tries again for `--database-wait` (here 30 s), and gives up after one try
/// without it. What waiting cannot mend, a database that does not exist, fails
/// at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_before_its_database_waits_for_it() {
    let Some(url) = postgres_url() else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let proxy = Proxy::start(upstream(&url)).await;
    proxy.cut();
    let through_proxy = through(&url, proxy.address);
    let options = StoreOptions {
        pg_schema: db.pg_schema.as_deref(),
        ..StoreOptions::default()
    };

    let Err(err) = app::open_store(&through_proxy, options, Duration::ZERO, || ()).await else {
        panic!("no database, no store");
    };
    assert!(
        format!("{err:#}").contains("cannot open the database"),
        "{err:#}"
    );

    let opening = tokio::spawn({
        let (url, schema) = (through_proxy.clone(), db.pg_schema.clone());
        async move {
            let options = StoreOptions {
                pg_schema: schema.as_deref(),
                ..StoreOptions::default()
            };
            app::open_store(&url, options, Duration::from_secs(30), || ())
                .await
                .map(|_| ())
        }
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !opening.is_finished(),
        "it waits while the database is away"
    );
    proxy.restore();
    tokio::time::timeout(Duration::from_secs(15), opening)
        .await
        .expect("it opens soon after the database is back")
        .unwrap()
        .unwrap();

    let (address, query) = url.split_once('?').unwrap_or((&url, ""));
    let (server, _) = address.rsplit_once('/').unwrap();
    let missing = format!("{server}/no_such_database_here?{query}");
    let started = Instant::now();
    let Err(err) = app::open_store(
        &missing,
        StoreOptions::default(),
        Duration::from_secs(30),
        || (),
    )
    .await
    else {
        panic!("no such database");
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}: {err:#}",
        started.elapsed()
    );
}

/// While a starting server waits for its database it answers: alive, not
/// ready, and a request is a 503 `DATABASE_UNAVAILABLE` with `Retry-After`
/// (it hung in the listen queue, and a liveness probe with it). Once the
/// database answers, the application serves on the same address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_waiting_for_its_database_answers_meanwhile() {
    let Some(url) = postgres_url() else {
        return;
    };
    let name = format!("renewals_wait_{}", std::process::id());
    let admin = Database::connect(&url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let proxy = Proxy::start(upstream(&url)).await;
    proxy.cut();
    let (server, query) = url.split_once('?').unwrap_or((&url, ""));
    let (server, _) = server.rsplit_once('/').unwrap();
    let database_url = through(&format!("{server}/{name}?{query}"), proxy.address);
    let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let building = tokio::spawn(app::App::build(app::ServeConfig {
        database_url,
        bind: address,
        demo: false,
        pg_connections: 4,
        database_wait: Duration::from_secs(60),
        settings: app::Settings::new(Today::Fixed(today())),
    }));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "the server listens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ask = |path: &'static str| tokio::task::spawn_blocking(move || get(address, path));
    assert!(ask("/health").await.unwrap().starts_with("HTTP/1.1 200"));
    let ready = ask("/ready").await.unwrap();
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    let graphql = ask("/graphql?query=%7B__typename%7D").await.unwrap();
    assert!(graphql.starts_with("HTTP/1.1 503"), "{graphql}");
    assert!(graphql.contains("DATABASE_UNAVAILABLE"), "{graphql}");
    assert!(
        graphql.to_lowercase().contains("retry-after: 5"),
        "{graphql}"
    );
    assert!(!building.is_finished());

    proxy.restore();
    let app = tokio::time::timeout(Duration::from_secs(20), building)
        .await
        .expect("the database is opened once it answers")
        .unwrap()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(async move {
        let _ = stopped.await;
    }));
    let ready = ask("/ready").await.unwrap();
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let graphql = ask("/graphql?query=%7B__typename%7D").await.unwrap();
    assert!(graphql.starts_with("HTTP/1.1 200"), "{graphql}");
    assert!(graphql.contains(r#""__typename":"Query""#), "{graphql}");
    stop.send(()).unwrap();
    serving.await.unwrap();
    proxy.cut();
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_turns_red_soon_when_postgres_stops_answering() {
    let Some(url) = postgres_url() else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let proxy = Proxy::start(upstream(&url)).await;
    let store = Store::connect_with(&through(&url, proxy.address), db.pg_schema.as_deref())
        .await
        .unwrap();
    let router = app::router(store, app::Settings::new(Today::Fixed(today())));
    let ready = || {
        let request = Request::get("/ready").body(Body::empty()).unwrap();
        let router = router.clone();
        async move {
            tower::ServiceExt::oneshot(router, request)
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(ready().await, StatusCode::OK);
    proxy.stall(true);
    // An answer is reused for a second, and the next ping waited for 2 s.
    let started = Instant::now();
    while ready().await != StatusCode::SERVICE_UNAVAILABLE {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    proxy.stall(false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready().await != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "ready again once the database answers"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every connection of the pool in use: a request that waits for one in vain
/// (3 s) is `SERVER_BUSY`, a 503 with `Retry-After: 1`, while the database
/// answers the requests that hold them; and `/ready` stays green at once
/// (it waited 2 s for a connection behind them, and turned red). Once the
/// database answers nothing, the same wait is `DATABASE_UNAVAILABLE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_pool_is_told_from_a_database_that_does_not_answer() {
    let Some(url) = postgres_url() else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let seeding = db.store().await;
    seeding
        .insert_dataset(&seed::generate(3, 7, today()))
        .await
        .unwrap();
    let token = seeding
        .create_token("northwind", "busy")
        .await
        .unwrap()
        .unwrap()
        .secret;
    let proxy = Proxy::start(upstream(&url)).await;
    let options = StoreOptions {
        pg_schema: db.pg_schema.as_deref(),
        pg_connections: Some(2),
        ..StoreOptions::default()
    };
    let store = Store::open(&through(&url, proxy.address), options)
        .await
        .unwrap();
    let router = app::router(store.clone(), app::Settings::new(Today::Fixed(today())));
    let viewer = || {
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(
                json!({ "query": "{ viewer { name } }" }).to_string(),
            ))
            .unwrap()
    };
    let (status, _, _) = send_to(&router, viewer()).await;
    assert_eq!(status, StatusCode::OK);

    // Two requests' stores hold both connections, a statement answered on
    // each every 100 ms.
    let holding = Arc::new(AtomicBool::new(true));
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let (held, holding) = (store.for_request(), Arc::clone(&holding));
            tokio::spawn(async move {
                while holding.load(Ordering::SeqCst) {
                    held.read_raw("SELECT 1").await.unwrap();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let (status, _, _) =
        send_to(&router, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    let (status, headers, body) = send_to(&router, viewer()).await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_codes(&body), ["SERVER_BUSY"]);
    assert_eq!(headers[header::RETRY_AFTER], "1");

    // The database stops answering: the holders' statements hang.
    proxy.stall(true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, headers, body) = send_to(&router, viewer()).await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"]);
    assert_eq!(headers[header::RETRY_AFTER], "5");
    assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], 5);

    holding.store(false, Ordering::SeqCst);
    proxy.stall(false);
    for holder in holders {
        holder.await.unwrap();
    }
    let (status, _, _) = send_to(&router, viewer()).await;
    assert_eq!(status, StatusCode::OK);
}

/// Every connection of the pool waiting for a lock another session holds:
/// the database answers, so a request that waits in vain for a connection is
/// `SERVER_BUSY`, and `/ready` stays green (the database answers a connection
/// of its own). Both read a lock wait as an outage: every replica would have
/// been taken out for one long transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_waiting_for_a_lock_is_busy_not_unavailable() {
    if postgres_url().is_none() {
        return;
    }
    // One connection of three for the session that locks, two for requests.
    let app = TestApp::with_pg_connections(Backend::Postgres, 3).await;
    let locker = app.store.reader().begin().await.unwrap();
    locker
        .execute_unprepared("LOCK TABLE renewal IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let dashboard = || {
        app.post_as(
            Some(&app.token),
            "{ renewals { totalCount nodes { id } } }",
            json!({}),
        )
    };
    let waiting = tokio::spawn({
        let router = app.router.clone();
        let token = app.token.clone();
        async move {
            let page = "{ renewals { nodes { id } } }";
            let (a, b) = tokio::join!(
                crate::helpers::post_to(&router, Some(&token), page, json!({})),
                crate::helpers::post_to(&router, Some(&token), page, json!({})),
            );
            (a.0, b.0)
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = dashboard().await;
    assert_eq!(error_codes(&body), ["SERVER_BUSY"], "{body}");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = send_to(
        &app.router,
        Request::get("/ready").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    locker.rollback().await.unwrap();
    assert_eq!(waiting.await.unwrap(), (StatusCode::OK, StatusCode::OK));
    assert_eq!(dashboard().await.0, StatusCode::OK);
}

/// Requests waiting for a connection get one in turn: a connection given
/// back goes to the first waiting, not to the next request (which took it
/// from the warm ones, again and again, while the first waited 3 s in vain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_for_a_connection_get_one_in_turn() {
    if postgres_url().is_none() {
        return;
    }
    // Two connections, one of them kept warm when given back.
    let app = TestApp::with_pg_connections(Backend::Postgres, 2).await;
    let until = Instant::now() + Duration::from_secs(5);
    let clients = (0..6).map(|_| {
        let store = app.store.clone();
        tokio::spawn(async move {
            let mut served = 0;
            while Instant::now() < until {
                let request = store.for_request();
                request.read_raw("SELECT pg_sleep(0.05)").await.unwrap();
                request.release().await;
                served += 1;
            }
            served
        })
    });
    for client in clients.collect::<Vec<_>>() {
        let served = client.await.unwrap();
        assert!(served >= 5, "a client was served {served} times");
    }
}

fn renewals_cli(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_renewals"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The raw response to `GET path`, the connection closed after it.
fn get(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn post(address: SocketAddr, token: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/term.db?mode=rwc", dir.path().display());
    renewals_cli(&["seed", "--customers", "5", "--database-url", &url]);
    let token = renewals_cli(&[
        "token",
        "create",
        "--partner",
        "northwind",
        "--database-url",
        &url,
    ]);
    let token = token.trim().to_owned();
    let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_renewals"))
        .args([
            "serve",
            "--database-url",
            &url,
            "--bind",
            &address.to_string(),
            "--today",
            "2026-11-26",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "the server starts");
        std::thread::sleep(Duration::from_millis(50));
    }
    let customer = post(
        address,
        &token,
        r#"{"query":"{ renewals(first: 1) { nodes { customer { id } } } }"}"#,
    );
    let customer_id = customer
        .split(r#""id":""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Hold SQLite's write lock, so that a mutation is in flight when SIGTERM arrives.
    let blocker = Database::connect(url.as_str()).await.unwrap();
    let lock = blocker
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .unwrap();
    let in_flight = {
        let (token, id) = (token.clone(), customer_id.clone());
        std::thread::spawn(move || {
            let body = format!(
                r#"{{"query":"mutation {{ endServices(input: {{customerId: \"{id}\", reason: \"bye\"}}) {{ customer {{ servicesEnded }} userErrors {{ code }} }} }}"}}"#
            );
            post(address, &token, &body)
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        TcpStream::connect(address).is_err(),
        "new connections are refused while shutting down"
    );

    lock.rollback().await.unwrap();
    let response = in_flight.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""servicesEnded":true"#), "{response}");
    let status = server.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// The database restarted in a quiet spell: the connections the server kept
/// warm for the next request, and those idle in its pool, are gone. The next
/// requests are answered all the same: a connection that sat idle for a second
/// (`store::warm`) is tested before a statement runs on it.
#[tokio::test]
async fn postgres_answers_the_first_requests_after_its_sessions_ended() {
    if postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_customers(Backend::Postgres, 20).await;
    let dashboard = renewals::bench::queries::action_required();
    app.data(&dashboard, json!({ "first": 10 })).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(app.end_postgres_sessions().await > 0);
    for _ in 0..3 {
        app.data(&dashboard, json!({ "first": 10 })).await;
    }
}

/// The database restarted while the server was busy: the connections kept
/// warm, given back a moment before and taken again untested, are gone. A
/// request's first statement that finds its connection gone, and so never
/// ran, runs again on a tested one: no request after the restart fails.
/// (Requests in flight during it still do, with `DATABASE_UNAVAILABLE`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_answers_the_requests_right_after_its_sessions_ended() {
    if postgres_url().is_none() {
        return;
    }
    let app = std::sync::Arc::new(TestApp::with_customers(Backend::Postgres, 20).await);
    let dashboard = renewals::bench::queries::action_required();
    // Several connections warm at once.
    let requests = |n| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (app, dashboard) = (std::sync::Arc::clone(&app), dashboard.clone());
                tokio::spawn(async move { app.gql(&dashboard, json!({ "first": 10 })).await })
            })
            .collect();
        async move {
            for handle in handles {
                let body = handle.await.unwrap();
                assert!(body.get("errors").is_none(), "{body}");
            }
        }
    };
    requests(4).await;
    assert!(app.end_postgres_sessions().await > 0);
    requests(4).await;
    requests(4).await;

    // Writes too, which take connections idle in the pool, gone as well (the
    // request's first statement, retried, has the pool test those).
    let customers = app
        .data(
            "{ renewals(first: 3) { nodes { customer { id } } } }",
            json!({}),
        )
        .await;
    end_the_sessions_of_every_pooled_connection(&app).await;
    for node in customers["renewals"]["nodes"].as_array().unwrap() {
        let set = app
            .data(
                renewals::bench::queries::SET_RENEWAL_OWNER,
                json!({ "ids": [node["customer"]["id"]], "owner": { "party": "HUBSPOT" } }),
            )
            .await;
        assert_eq!(set["setRenewalOwner"]["userErrors"], json!([]), "{set}");
    }
}

/// Every connection of the pool idle in it (none kept warm), then their
/// sessions ended, as a database restart would.
async fn end_the_sessions_of_every_pooled_connection(app: &TestApp) {
    app.store.return_warm_connections();
    let pool = app.store.reader().get_postgres_connection_pool();
    let mut idle = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        idle.push(pool.acquire().await.unwrap());
    }
    drop(idle);
    assert!(app.end_postgres_sessions().await > 0);
}

/// The database restarted while the pool's connections sat idle, and the
/// first thing a request does is write: a write transaction that finds its
/// connection gone before `BEGIN` ran is begun again on another one, so the
/// write is made rather than failing once per dead connection.
#[tokio::test]
async fn postgres_begins_a_write_after_its_idle_sessions_ended() {
    if postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_customers(Backend::Postgres, 3).await;
    end_the_sessions_of_every_pooled_connection(&app).await;
    for _ in 0..3 {
        let txn = app.store.begin_write().await.expect("a write begun");
        txn.execute_unprepared("SELECT 1")
            .await
            .expect("a statement");
        txn.commit().await.expect("committed");
    }
}
