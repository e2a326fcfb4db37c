//! The `renewals` binary: schema, seed, tokens, and serving over a real port.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Command, Output, Stdio},
    time::Duration,
};

use renewals::{
    app::{App, ServeConfig, Settings},
    config::Today,
};

fn renewals(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_renewals"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("RENEWALS_TODAY")
        .output()
        .expect("run renewals")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn schema_prints_the_committed_sdl() {
    let output = renewals(&["schema"]);
    assert!(output.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(stdout(&output), committed);
}

#[test]
fn seed_and_token_commands_manage_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/cli.db?mode=rwc", dir.path().display());
    let db = ["--database-url", url.as_str()];

    let seeded = renewals(&[&["seed", "--customers", "5", "--seed", "3"][..], &db].concat());
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let again = renewals(&[&["seed"][..], &db].concat());
    assert!(!again.status.success(), "seeding twice must fail");

    let created = renewals(
        &[
            &["token", "create", "--partner", "northwind", "--name", "ci"][..],
            &db,
        ]
        .concat(),
    );
    assert!(created.status.success());
    let token = stdout(&created);
    assert_eq!(
        token.lines().count(),
        1,
        "the token alone on stdout: {token:?}"
    );
    assert!(token.starts_with("rnw_") && token.trim().len() > 40);

    // Only a hash of the secret is stored.
    let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::EntityTrait;
        let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
        entity::api_token::Entity::find().all(&conn).await.unwrap()
    });
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row.token_hash.len(), 64);
        assert!(row.token_hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!token.contains(&row.token_hash) && !row.token_hash.contains(token.trim()));
    }

    let unknown = renewals(&[&["token", "create", "--partner", "nobody"][..], &db].concat());
    assert!(!unknown.status.success());
    assert!(stdout(&unknown).is_empty());
    // A label becomes the actor of every event: a short line of text.
    let long = "x".repeat(101);
    for label in [long.as_str(), " ", "a\nb"] {
        let refused = renewals(
            &[
                &["token", "create", "--partner", "northwind", "--name", label][..],
                &db,
            ]
            .concat(),
        );
        assert!(!refused.status.success(), "{label:?}");
        assert!(stdout(&refused).is_empty(), "{label:?}");
    }

    let listed = stdout(&renewals(&[&["token", "list"][..], &db].concat()));
    assert!(listed.contains("northwind") && listed.contains("ci"));
    assert!(!listed.contains(token.trim()), "secrets are never listed");
    let id = listed
        .lines()
        .find(|l| l.contains(" ci "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let revoked = renewals(&[&["token", "revoke", id.as_str()][..], &db].concat());
    assert!(revoked.status.success());
    let twice = renewals(&[&["token", "revoke", id.as_str()][..], &db].concat());
    assert!(!twice.status.success());
    let listed = stdout(&renewals(&[&["token", "list"][..], &db].concat()));
    let line = listed.lines().find(|l| l.contains(" ci ")).unwrap();
    assert!(
        !line.trim_end().ends_with('-'),
        "revocation time is listed: {line}"
    );
}

/// Token commands work on a database served or seeded before: pointed at a
/// SQLite file that is not there, they say so and create nothing (before,
/// they created an empty database and said the partner did not exist).
/// Listing an unknown partner's tokens is an error, as creating one is.
#[test]
fn token_commands_need_an_existing_database_and_partner() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("missing.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let db = ["--database-url", url.as_str()];
    for command in [
        &["token", "create", "--partner", "northwind"][..],
        &["token", "list"],
        &["token", "revoke", "1"],
    ] {
        let refused = renewals(&[command, &db].concat());
        assert!(!refused.status.success(), "{command:?}");
        let error = String::from_utf8_lossy(&refused.stderr);
        assert!(error.contains("no database at"), "{command:?}: {error}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing created"
    );

    assert!(
        renewals(&[&["seed", "--customers", "1"][..], &db].concat())
            .status
            .success()
    );
    let unknown = renewals(&[&["token", "list", "--partner", "nobody"][..], &db].concat());
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no partner has the slug `nobody`"));
    let known = renewals(&[&["token", "list", "--partner", "northwind"][..], &db].concat());
    assert!(known.status.success());
}

/// A demo server on the SQLite database at `database_url`, bound to `bind`.
async fn demo_app(database_url: String, bind: &str) -> App {
    App::build(ServeConfig {
        database_url,
        bind: bind.parse().unwrap(),
        demo: true,
        pg_connections: renewals::store::PG_CONNECTIONS,
        database_wait: std::time::Duration::ZERO,
        settings: Settings::new(Today::Fixed(crate::helpers::today())),
    })
    .await
    .unwrap()
}

/// `serve --demo` again on its database makes a new token and revokes the
/// one of the start before: it is not left alive, nameless among others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_again_revokes_the_token_of_the_start_before() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/demo.db?mode=rwc", dir.path().display());
    let start = || demo_app(database_url.clone(), "127.0.0.1:0");
    let first = start().await;
    let first_token = first.demo_token.clone().unwrap();
    drop(first);
    let second = start().await;
    let second_token = second.demo_token.clone().unwrap();
    let store = &second.store;
    assert!(store.authenticate(&first_token).await.unwrap().is_none());
    assert!(store.authenticate(&second_token).await.unwrap().is_some());
    let live = store.list_tokens(Some("northwind")).await.unwrap();
    let live: Vec<_> = live.iter().filter(|t| t.revoked_at.is_none()).collect();
    assert_eq!(live.len(), 1, "{live:?}");
}

/// GraphiQL's page carries the demo token only when the server listens on a
/// loopback address: on any other, whoever can reach it would get the token.
/// The token is made all the same (`serve` prints it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_carries_the_demo_token_only_on_a_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/demo.db?mode=rwc", dir.path().display());
    let app = demo_app(database_url, "0.0.0.0:0").await;
    assert!(!app.graphiql_prefilled);
    let token = app.demo_token.clone().unwrap();
    let port = app.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let page = graphiql_page(address).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(!page.contains(&token), "the page carries no token");
    stop.send(()).unwrap();
    server.await.unwrap();
}

/// The page a browser gets at `/graphql` from the server at `address`.
async fn graphiql_page(address: std::net::SocketAddr) -> String {
    tokio::task::spawn_blocking(move || {
        http(
            address,
            "GET /graphql HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap()
}

fn http(address: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_answers_over_a_real_port_and_revoked_tokens_stop_working() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/demo.db?mode=rwc", dir.path().display());
    let app = demo_app(database_url, "127.0.0.1:0").await;
    let address = app.local_addr().unwrap();
    let token = app.demo_token.clone().unwrap();
    let app_prefilled = app.graphiql_prefilled;
    let store = app.store.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));

    let body = r#"{"query":"{ viewer { slug } renewals(filter: {actionRequired: true}) { totalCount } }"}"#;
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = tokio::task::spawn_blocking(move || http(address, &request))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""slug":"northwind""#), "{response}");

    let expected = format!("Bearer {token}");
    let page = graphiql_page(address).await;
    assert!(page.contains(&expected), "demo GraphiQL carries the token");
    assert!(app_prefilled);

    let tokens = store.list_tokens(Some("northwind")).await.unwrap();
    assert!(store.revoke_token(tokens[0].id).await.unwrap());
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = tokio::task::spawn_blocking(move || http(address, &request))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");

    stop.send(()).unwrap();
    server.await.unwrap();
}

/// "Today" is the server's UTC date, whatever its time zone: served with no
/// `--today`, under the time zones furthest ahead of UTC (+14) and behind it
/// (−12), one of which is on another date than UTC at any hour, a renewal's
/// `daysUntilRenewal` counts from the UTC date.
#[test]
fn today_is_the_servers_utc_date_in_any_time_zone() {
    for zone in ["Pacific/Kiritimati", "Etc/GMT+12"] {
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite://{}/demo.db?mode=rwc", dir.path().display());
        let mut server = Command::new(env!("CARGO_BIN_EXE_renewals"))
            .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
            .args(["--database-url", &database_url])
            .env_remove("DATABASE_URL")
            .env_remove("RENEWALS_TODAY")
            .env("TZ", zone)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run renewals serve");
        // Lines read on a thread of their own, waited for at most 60 s: a
        // line that never comes fails the test rather than hanging it.
        let (sender, lines) = std::sync::mpsc::channel();
        let stdout = server.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut after = |prefix: &str| loop {
            match lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        break rest.to_owned();
                    }
                }
                Err(_) => {
                    server.kill().ok();
                    panic!("no line {prefix:?}");
                }
            }
        };
        let address = after("Renewals API listening on http://");
        let address = address.trim_end_matches("/graphql").parse().unwrap();
        let token = after("Demo token for `northwind`: ");
        let body =
            r#"{"query":"{ renewals(first: 1) { nodes { renewalDate daysUntilRenewal } } }"}"#;
        let request = format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let utc_before = chrono::Utc::now().date_naive();
        let response = http(address, &request);
        let utc_after = chrono::Utc::now().date_naive();
        server.kill().ok();
        server.wait().ok();

        let body = response.split_once("\r\n\r\n").unwrap().1;
        let json: serde_json::Value =
            serde_json::from_str(&body[body.find('{').unwrap()..=body.rfind('}').unwrap()])
                .unwrap();
        let node = &json["data"]["renewals"]["nodes"][0];
        let renewal_date: chrono::NaiveDate =
            node["renewalDate"].as_str().unwrap().parse().unwrap();
        let days = node["daysUntilRenewal"].as_i64().unwrap();
        let today = renewal_date - chrono::TimeDelta::days(days);
        assert!(
            today == utc_before || today == utc_after,
            "TZ={zone}: today {today}, UTC {utc_before}: {response}"
        );
    }
}

/// An address in use is found before the database is touched: in demo mode,
/// the database was seeded and given a token nobody saw, at every retry.
#[test]
fn serve_binds_its_address_before_it_touches_the_database() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("demo.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    let output = renewals(&[
        "serve",
        "--demo",
        "--bind",
        &address,
        "--database-url",
        &url,
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    assert!(!database.exists(), "the database was created");
}

/// A `RUST_LOG` that cannot be read is said, not passed over, and logs into
/// a pipe carry no colour codes.
#[test]
fn an_unreadable_log_filter_is_logged_and_pipes_get_no_colours() {
    let output = Command::new(env!("CARGO_BIN_EXE_renewals"))
        .arg("schema")
        .env("RUST_LOG", "info,sqlx=bogus")
        .env_remove("NO_COLOR")
        .output()
        .expect("run renewals");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RUST_LOG cannot be read"), "{stderr}");
    assert!(stderr.contains("info,sqlx=bogus"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// A bucket keeps its time to the microsecond: a restore rate over a point
/// per microsecond would count a microsecond as more than a point (a query
/// of 2 points took 1,000 at 10^9 points/s), and is refused at start.
#[test]
fn restore_rates_over_a_point_per_microsecond_are_refused() {
    let output = renewals(&["serve", "--rate-limit-restore-rate", "1000001"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("0..=1000000"), "{stderr}");
}

/// A shutdown delay is at most five minutes (an orchestrator's grace period
/// is shorter still).
#[test]
fn shutdown_delays_over_five_minutes_are_refused() {
    let output = renewals(&["serve", "--shutdown-delay", "301"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("0..=300"), "{stderr}");
}

/// A start waits for the database an hour at most.
#[test]
fn database_waits_over_an_hour_are_refused() {
    let output = renewals(&["serve", "--database-wait", "3601"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("0..=3600"), "{stderr}");
}

/// An origin that could never match a browser's `Origin` is refused at start.
#[test]
fn serve_refuses_a_cors_origin_no_browser_sends() {
    let output = renewals(&["serve", "--cors-origin", "https://dashboard.example/"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not an origin"), "{stderr}");
}

#[test]
fn today_must_leave_the_rules_dates_of_years_1_to_9999() {
    for (today, says) in [
        ("+10000-01-01", "years 0001 to 9999"),
        ("0001-01-01", "0001-02-15 to 9999-09-02"),
        ("9999-09-03", "0001-02-15 to 9999-09-02"),
        ("2027-02-30", "YYYY-MM-DD"),
        ("tomorrow", "YYYY-MM-DD"),
    ] {
        for command in ["serve", "seed"] {
            let output = renewals(&[command, "--today", today]);
            assert!(!output.status.success(), "{command} --today {today}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(says), "{command} --today {today}: {stderr}");
        }
    }
}
