//! The `renewals` command line.

use std::{path::Path, str::FromStr, time::Duration};

use anyhow::{Context, bail};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;

use crate::{
    app::{App, ServeConfig, Settings, shutdown_signal},
    config::{Cli, Command, DEFAULT_DATABASE_URL, SeedArgs, ServeArgs, Today, TokenCommand},
    graphql,
    ratelimit::RateLimit,
    seed,
    store::Store,
};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Seed(args) => seed(args).await,
        Command::Token(command) => token(command).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Bench(args) => crate::bench::bench(args).await,
        Command::BenchSeed(args) => crate::bench::seed(args).await,
        Command::BenchClient => crate::bench::client::main().await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let database_url = args.db.database_url;
    let app = App::build(ServeConfig {
        database_url: database_url.clone(),
        bind: args.bind,
        demo: args.demo,
        pg_connections: args.pg_connections,
        database_wait: Duration::from_secs(args.database_wait),
        settings: Settings {
            today: Today::from_option(args.today),
            demo_token: None,
            rate_limit: RateLimit {
                capacity: args.rate_limit_capacity,
                restore_rate: args.rate_limit_restore_rate,
            },
            request_timeout: Duration::from_secs(args.request_timeout),
            header_timeout: Duration::from_secs(args.header_timeout),
            cors_origins: args.cors_origins,
            shutdown_delay: Duration::from_secs(args.shutdown_delay),
        },
    })
    .await?;
    let address = app.local_addr()?;
    println!("Renewals API listening on http://{address}/graphql");
    if let Some(token) = &app.demo_token {
        if app.graphiql_prefilled {
            println!("GraphiQL (token prefilled): http://{address}/graphql");
        } else {
            println!(
                "GraphiQL: http://{address}/graphql (not prefilled: {} is reachable from \
                 other machines; paste `Bearer <token>` into its headers)",
                address.ip()
            );
        }
        println!("Demo token for `northwind`: {token}");
        println!(
            "  curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\"
        );
        println!("       -d '{{\"query\":\"{{ viewer {{ name }} }}\"}}' http://{address}/graphql");
    } else {
        let database = match database_url.as_str() {
            DEFAULT_DATABASE_URL => String::new(),
            url => format!(" --database-url '{}'", crate::app::redact(url)),
        };
        println!("A partner's API token: renewals token create{database} --partner <slug>");
    }
    app.serve(shutdown_signal()).await;
    Ok(())
}

async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let store = open(&args.db.database_url).await?;
    let today = Today::from_option(args.today).get();
    let data = seed::generate(args.customers, args.seed, today);
    let inserted = store
        .insert_dataset(&data)
        .await
        .context("cannot insert the demo data")?;
    if !inserted {
        bail!("the database already holds data; seed an empty database");
    }
    let customers: usize = data.partners.iter().map(|p| p.customers.len()).sum();
    eprintln!(
        "seeded {} partners and {customers} customers (seed {})",
        data.partners.len(),
        args.seed
    );
    Ok(())
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { db, partner, name } => {
            let store = open_existing(&db.database_url).await?;
            let token = store
                .create_token(&partner, &name)
                .await?
                .with_context(|| format!("no partner has the slug `{partner}`"))?;
            println!("{}", token.secret);
        }
        TokenCommand::List { db, partner } => {
            let store = open_existing(&db.database_url).await?;
            if let Some(slug) = &partner
                && store.partner_by_slug(slug).await?.is_none()
            {
                bail!("no partner has the slug `{slug}`");
            }
            println!(
                "{:>6}  {:<16} {:<20} {:<25} REVOKED",
                "ID", "PARTNER", "NAME", "CREATED"
            );
            for t in store.list_tokens(partner.as_deref()).await? {
                println!(
                    "{:>6}  {:<16} {:<20} {:<25} {}",
                    t.id,
                    t.partner_slug,
                    t.name,
                    t.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    t.revoked_at
                        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_else(|| "-".to_owned())
                );
            }
        }
        TokenCommand::Revoke { db, id } => {
            let store = open_existing(&db.database_url).await?;
            if !store.revoke_token(id).await? {
                bail!("no live token has the id {id}");
            }
            eprintln!("token {id} revoked");
        }
    }
    Ok(())
}

/// [`open`] a database that must exist: a SQLite URL's file is not created.
/// (Tokens are made for the partners of a database served or seeded before:
/// one made here would be for nobody.)
async fn open_existing(url: &str) -> anyhow::Result<Store> {
    if let Ok(options) = SqliteConnectOptions::from_str(url) {
        let file = options.get_filename();
        if file != Path::new(":memory:") && !file.exists() {
            bail!(
                "no database at {}: `renewals serve` or `renewals seed` creates it",
                file.display()
            );
        }
    }
    open(url).await
}

async fn open(url: &str) -> anyhow::Result<Store> {
    Store::connect(url)
        .await
        .with_context(|| format!("cannot open the database at {}", crate::app::redact(url)))
}
