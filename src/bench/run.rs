//! The scenarios of one database at one size, against the real server
//! (built by [`App::build`], serving on a loopback port in this process).

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, bail};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, Statement};
use serde_json::{Value, json};

use super::{
    client::{self, Outcome, Spec, Workload},
    data::{self, DASHBOARD_PARTNER, SMALL_PARTNER},
    instructions, pgbench, probe, queries,
    results::{Scenario, SizeResult},
    target::Target,
    transport,
};
use crate::{
    app::{App, ServeConfig, Settings},
    config::{BenchArgs, Today},
    store::Store,
};

/// Clients issuing `setRenewalOwner` while the dashboard is being read.
const WRITERS: usize = 4;
/// Page sizes whose statement counts are compared.
const PAGE_SIZES: [u64; 3] = [10, 50, 100];
/// Customers whose services are ended (and restored afterwards) per run.
const END_SERVICES_CALLS: usize = 100;

struct Ctx {
    addr: SocketAddr,
    store: Store,
    target: Target,
    clients: usize,
    duration_ms: u64,
}

pub async fn run(target: &Target, renewals: u64, args: &BenchArgs) -> anyhow::Result<SizeResult> {
    // The data set was loaded by another process; the peak counts from here.
    probe::reset_peak_rss();
    let app = App::build(ServeConfig {
        database_url: target.url.clone(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        demo: false,
        pg_connections: crate::store::PG_CONNECTIONS,
        database_wait: std::time::Duration::ZERO,
        settings: Settings {
            rate_limit: super::UNEXHAUSTIBLE_RATE_LIMIT,
            ..Settings::new(Today::Fixed(args.today))
        },
    })
    .await?;
    let addr = app.local_addr()?;
    let store = app.store.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(async move {
        let _ = stopped.await;
    }));
    let ctx = Ctx {
        addr,
        store: store.clone(),
        target: target.clone(),
        clients: args.clients,
        duration_ms: args.duration * 1000,
    };
    let result = scenarios(&ctx, renewals, args).await;
    let _ = stop.send(());
    server.await.context("server task")?;
    store.close().await?;
    result
}

async fn token(store: &Store, partner: &str) -> anyhow::Result<String> {
    Ok(store
        .create_token(partner, "bench")
        .await?
        .with_context(|| format!("no partner `{partner}` in the benchmark database"))?
        .secret)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["id"].as_str().or(item["customer"]["id"].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn scenarios(ctx: &Ctx, renewals: u64, args: &BenchArgs) -> anyhow::Result<SizeResult> {
    let token = token(&ctx.store, DASHBOARD_PARTNER).await?;
    let small_token = token_for_small(ctx).await?;
    let dashboard = queries::action_required();

    // Statements per dashboard page, for several page sizes (not timed).
    let mut statements_by_page_size = Vec::new();
    for first in PAGE_SIZES {
        let before = ctx.store.statement_count();
        client::request(ctx.addr, &token, &dashboard, json!({ "first": first })).await?;
        statements_by_page_size.push((first, ctx.store.statement_count() - before));
    }
    // The cursor of the third page, and the size of the list.
    let page1 = client::request(ctx.addr, &token, &dashboard, json!({ "first": 50 })).await?;
    let total_count = page1["data"]["renewals"]["totalCount"]
        .as_u64()
        .unwrap_or(0);
    let after1 = page1["data"]["renewals"]["pageInfo"]["endCursor"].clone();
    let page2 = client::request(
        ctx.addr,
        &token,
        &dashboard,
        json!({ "first": 50, "after": after1 }),
    )
    .await?;
    let after2 = page2["data"]["renewals"]["pageInfo"]["endCursor"].clone();
    if after2.is_null() {
        bail!("the dashboard has fewer than three pages: seed more renewals");
    }
    // The SQL of one dashboard request, for the pgbench floor.
    ctx.store.start_capture();
    client::request(ctx.addr, &token, &dashboard, json!({ "first": 50 })).await?;
    let dashboard_sql = ctx.store.stop_capture();

    let read = |name: &str, query: &str, variables: Value| Workload {
        name: name.to_owned(),
        token: token.clone(),
        clients: ctx.clients,
        rate_per_client: None,
        bodies: vec![queries::body(query, variables)],
        each_once: false,
        expect: None,
    };
    let first_page = json!({ "first": 50 });
    let half = ctx.duration_ms / 2;
    // Warm the caches (not reported).
    drive(
        ctx,
        vec![read("warm-up", &dashboard, first_page.clone())],
        2000,
    )
    .await?;

    let found = client::request(
        ctx.addr,
        &token,
        queries::USERS_AND_CUSTOMERS,
        json!({ "first": 100 }),
    )
    .await?;
    let users = ids(&found["data"]["viewer"]["users"]);
    let customers = ids(&found["data"]["renewals"]["nodes"]);
    if users.is_empty() || customers.is_empty() {
        bail!("no users or customers to run the mutations on");
    }
    // The owners an earlier run left, should it have stopped half-way.
    restore_owners(&ctx.target, args.seed, &customers).await?;

    let mut scenarios = Vec::new();
    let dashboard_workload = read("dashboard", &dashboard, first_page.clone());
    scenarios.push(measure(ctx, dashboard_workload.clone(), ctx.duration_ms).await?);
    scenarios.push(
        measure(
            ctx,
            read(
                "dashboard, 3rd page",
                &dashboard,
                json!({ "first": 50, "after": after2 }),
            ),
            half,
        )
        .await?,
    );
    scenarios.push(
        measure(
            ctx,
            read(
                "orderBy MRR_CHANGE DESC",
                &queries::by_mrr_change(),
                first_page.clone(),
            ),
            half,
        )
        .await?,
    );
    scenarios.push(
        measure(
            ctx,
            read("search \"maple\"", &queries::search(), first_page.clone()),
            half,
        )
        .await?,
    );

    scenarios.push(
        measure(
            ctx,
            read(
                "notifyUserId (one user's)",
                &queries::notified(&users[0]),
                first_page.clone(),
            ),
            half,
        )
        .await?,
    );

    // Mutations.
    let owner_bodies = owner_changes(&customers, &users);
    let set_owner = Workload {
        name: "setRenewalOwner".to_owned(),
        token: token.clone(),
        clients: ctx.clients,
        rate_per_client: None,
        bodies: owner_bodies.clone(),
        each_once: false,
        expect: Some(queries::NO_USER_ERRORS.to_owned()),
    };
    scenarios.push(measure(ctx, set_owner.clone(), half).await?);
    let defaults = [
        json!({ "owner": { "party": "PARTNER", "notifyUserId": users[0] } }),
        json!({ "owner": { "party": "HUBSPOT" } }),
    ];
    scenarios.push(
        measure(
            ctx,
            Workload {
                name: "setDefaultRenewalOwner".to_owned(),
                token: token.clone(),
                clients: ctx.clients,
                rate_per_client: None,
                bodies: defaults
                    .iter()
                    .map(|v| queries::body(queries::SET_DEFAULT_RENEWAL_OWNER, v.clone()))
                    .collect(),
                each_once: false,
                expect: Some(queries::NO_USER_ERRORS.to_owned()),
            },
            half,
        )
        .await?,
    );
    // Back to the data set's default owner.
    client::request(
        ctx.addr,
        &token,
        queries::SET_DEFAULT_RENEWAL_OWNER,
        defaults[1].clone(),
    )
    .await?;
    let small = client::request(
        ctx.addr,
        &small_token,
        queries::USERS_AND_CUSTOMERS,
        json!({ "first": END_SERVICES_CALLS }),
    )
    .await?;
    let to_end = ids(&small["data"]["renewals"]["nodes"]);
    scenarios.push(
        measure(
            ctx,
            Workload {
                name: "endServices".to_owned(),
                token: small_token.clone(),
                clients: ctx.clients,
                rate_per_client: None,
                bodies: to_end
                    .iter()
                    .map(|id| queries::body(queries::END_SERVICES, json!({ "id": id })))
                    .collect(),
                each_once: true,
                expect: Some(queries::NO_USER_ERRORS.to_owned()),
            },
            half,
        )
        .await?,
    );
    restore_services(&ctx.target, &to_end).await?;

    // Writes at a steady rate while the dashboard is read as fast as it goes.
    let mut writers = set_owner;
    writers.name = "setRenewalOwner (paced, with reads)".to_owned();
    writers.clients = WRITERS;
    writers.rate_per_client = Some(args.write_rate / WRITERS as f64);
    let mut readers = dashboard_workload;
    readers.name = "dashboard (with writes)".to_owned();
    let mixed = drive(ctx, vec![readers, writers], ctx.duration_ms).await?;
    restore_owners(&ctx.target, args.seed, &customers).await?;

    let (transport, floor, beside_floors) = if ctx.target.backend == DatabaseBackend::Postgres {
        let beside = || {
            read(
                "dashboard (beside the floors)",
                &dashboard,
                first_page.clone(),
            )
        };
        let before = measure(ctx, beside(), half).await?;
        let workload = read("transport floor", &dashboard, first_page.clone());
        let transport = transport_floor(ctx, &dashboard_sql, workload).await?;
        let postmaster = postgres_backends(ctx)
            .await?
            .and_then(|pids| pids.first().copied())
            .and_then(probe::parent);
        let floor = pgbench::floor(
            &ctx.target,
            &dashboard_sql,
            ctx.clients,
            ctx.duration_ms / 1000,
            postmaster,
        )
        .await?;
        let after = measure(ctx, beside(), half).await?;
        (Some(transport), Some(floor), Some(before.merged(&after)))
    } else {
        (None, None, None)
    };
    let instructions = instruction_count(ctx, args, &token, &dashboard).await;
    Ok(SizeResult {
        backend: ctx.target.label(),
        renewals,
        clients: ctx.clients,
        seeding: Default::default(),
        total_count,
        statements_by_page_size,
        scenarios,
        mixed: mixed.outcomes,
        write_rate: args.write_rate,
        pgbench: floor,
        transport,
        beside_floors,
        dashboard_sql,
        peak_rss_mib: probe::peak_rss_mib(),
        instructions_per_request: instructions,
    })
}

/// The dashboard's `statements` run raw through the server's stack
/// ([`transport`]), driven by `workload` for as long as the dashboard.
async fn transport_floor(
    ctx: &Ctx,
    statements: &[String],
    workload: Workload,
) -> anyhow::Result<Scenario> {
    let server = transport::start(ctx.store.clone(), statements.to_vec()).await?;
    let at_floor = Ctx {
        addr: server.addr,
        store: ctx.store.clone(),
        target: ctx.target.clone(),
        clients: ctx.clients,
        duration_ms: ctx.duration_ms,
    };
    let scenario = measure(&at_floor, workload, ctx.duration_ms).await;
    server.stop().await?;
    scenario
}

/// Instructions per dashboard request under callgrind, if valgrind is here.
/// A failure is reported and leaves the figure out; the run goes on.
async fn instruction_count(
    ctx: &Ctx,
    args: &BenchArgs,
    token: &str,
    dashboard: &str,
) -> Option<u64> {
    if !instructions::available().await {
        eprintln!("  valgrind is not installed: no instruction counts");
        return None;
    }
    eprintln!("  instructions per dashboard request (callgrind) ...");
    let first_page = json!({ "first": 50 });
    instructions::per_request(&ctx.target.url, args.today, token, dashboard, first_page)
        .await
        .inspect_err(|error| eprintln!("  instruction count failed: {error:#}"))
        .ok()
}

async fn token_for_small(ctx: &Ctx) -> anyhow::Result<String> {
    token(&ctx.store, SMALL_PARTNER).await
}

/// `setRenewalOwner` calls that each change something: every customer in turn
/// goes to a partner user, to HubSpot, and back to the default.
fn owner_changes(customers: &[String], users: &[String]) -> Vec<String> {
    (0..customers.len() * 3)
        .map(|i| {
            let customer = &customers[i % customers.len()];
            let owner = match (i / customers.len()) % 3 {
                0 => json!({ "party": "PARTNER", "notifyUserId": users[i % users.len()] }),
                1 => json!({ "party": "HUBSPOT" }),
                _ => Value::Null,
            };
            queries::body(
                queries::SET_RENEWAL_OWNER,
                json!({ "ids": [customer], "owner": owner }),
            )
        })
        .collect()
}

/// The database ids of customers' global ids.
fn customer_ids(global_ids: &[String]) -> Vec<i64> {
    global_ids
        .iter()
        .filter_map(|id| crate::graphql::ids::decode(id))
        .map(|(_, id)| id)
        .collect()
}

/// Runs `statements` on the target, on a connection of its own.
async fn execute(target: &Target, statements: &[String]) -> anyhow::Result<()> {
    let mut options = ConnectOptions::new(target.url.clone());
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await?;
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    db.close().await?;
    Ok(())
}

/// Gives back the customers whose services the benchmark ended, so that the
/// data set stays the same from run to run.
async fn restore_services(target: &Target, customers: &[String]) -> anyhow::Result<()> {
    let ids = customer_ids(customers);
    if ids.is_empty() {
        return Ok(());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    execute(
        target,
        &[
            format!("DELETE FROM customer_event WHERE kind = 'SERVICES_ENDED' AND customer_id IN ({list})"),
            format!("UPDATE customer SET services_ended_at = NULL, services_end_reason = NULL WHERE id IN ({list})"),
        ],
    )
    .await
}

/// Gives the customers whose owners the benchmark changes (the soonest
/// renewing, not the dashboard's) their seeded owners back, and forgets every
/// owner change (the data set holds none), so that each run starts from the
/// same data whatever the last one left.
async fn restore_owners(target: &Target, seed: u64, customers: &[String]) -> anyhow::Result<()> {
    let mut statements: Vec<String> = customer_ids(customers)
        .into_iter()
        .map(|id| {
            let (party, user) = match data::seeded_owner(seed, id) {
                Some((party, user)) => (
                    format!("'{}'", party.as_str()),
                    user.map_or_else(|| "NULL".to_owned(), |user| user.to_string()),
                ),
                None => ("NULL".to_owned(), "NULL".to_owned()),
            };
            format!(
                "UPDATE customer SET owner_party = {party}, owner_notify_user_id = {user} WHERE id = {id}"
            )
        })
        .collect();
    statements.push(
        "DELETE FROM customer_event WHERE kind IN ('OWNER_CHANGED', 'DEFAULT_OWNER_CHANGED')"
            .to_owned(),
    );
    execute(target, &statements).await
}

/// The outcomes of a run of workloads, with the server's costs over it.
struct Driven {
    outcomes: Vec<Outcome>,
    server_cpu: Duration,
    database_cpu: Option<Duration>,
    /// The load generator's CPU time (its process, waited for).
    generator_cpu: Duration,
    statements: u64,
}

/// Runs workloads side by side in a client process and measures the server meanwhile.
async fn drive(ctx: &Ctx, workloads: Vec<Workload>, duration_ms: u64) -> anyhow::Result<Driven> {
    let backends = postgres_backends(ctx).await?;
    let db_before = backends.as_ref().map(|pids| probe::cpu_time_of(pids));
    let statements_before = ctx.store.statement_count();
    let cpu_before = probe::own_cpu_time();
    let children_before = probe::waited_children_cpu_time("self").unwrap_or_default();
    let outcomes = in_child(&Spec {
        addr: ctx.addr,
        duration_ms,
        workloads,
    })
    .await?;
    let server_cpu = probe::own_cpu_time().saturating_sub(cpu_before);
    let generator_cpu = probe::waited_children_cpu_time("self")
        .unwrap_or_default()
        .saturating_sub(children_before);
    let statements = ctx.store.statement_count() - statements_before;
    // Backends opened during the run count from zero.
    let database_cpu = match (postgres_backends(ctx).await?, db_before) {
        (Some(pids), Some(before)) => Some(probe::cpu_time_of(&pids).saturating_sub(before)),
        _ => None,
    };
    Ok(Driven {
        outcomes,
        server_cpu,
        database_cpu,
        generator_cpu,
        statements,
    })
}

/// One workload, with the server's CPU and statements per request.
async fn measure(ctx: &Ctx, workload: Workload, duration_ms: u64) -> anyhow::Result<Scenario> {
    eprintln!("  {} ...", workload.name);
    let clients = workload.clients;
    let driven = drive(ctx, vec![workload], duration_ms).await?;
    let outcome = driven.outcomes.into_iter().next().unwrap_or_default();
    let requests = outcome.requests.max(1) as f64;
    Ok(Scenario {
        clients,
        server_cpu_ms: driven.server_cpu.as_secs_f64() * 1000.0 / requests,
        database_cpu_ms: driven
            .database_cpu
            .map(|cpu| cpu.as_secs_f64() * 1000.0 / requests),
        generator_cpu_ms: driven.generator_cpu.as_secs_f64() * 1000.0 / requests,
        statements: driven.statements as f64 / requests,
        outcome,
    })
}

/// The PostgreSQL backends serving the benchmark database (their CPU is the
/// database's); autovacuum workers and other background processes are not counted.
async fn postgres_backends(ctx: &Ctx) -> anyhow::Result<Option<Vec<i32>>> {
    if ctx.target.backend != DatabaseBackend::Postgres {
        return Ok(None);
    }
    let rows = ctx
        .store
        .reader()
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND backend_type = 'client backend'",
        ))
        .await?;
    Ok(Some(
        rows.iter()
            .filter_map(|row| row.try_get::<i32>("", "pid").ok())
            .collect(),
    ))
}

/// Runs the load generator in a process of its own (`renewals bench-client`).
async fn in_child(spec: &Spec) -> anyhow::Result<Vec<Outcome>> {
    use tokio::io::AsyncWriteExt;
    let exe = std::env::current_exe().context("locating the renewals binary")?;
    let mut child = tokio::process::Command::new(exe)
        .arg("bench-client")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting bench-client")?;
    let mut stdin = child.stdin.take().context("bench-client stdin")?;
    stdin
        .write_all(serde_json::to_string(spec)?.as_bytes())
        .await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        bail!("bench-client failed");
    }
    let outcomes: Vec<Outcome> =
        serde_json::from_slice(&output.stdout).context("reading bench-client's outcomes")?;
    for outcome in &outcomes {
        if let Some(error) = &outcome.first_error {
            eprintln!(
                "  {}: {} errors, the first: {error}",
                outcome.name, outcome.errors
            );
        }
    }
    Ok(outcomes)
}
