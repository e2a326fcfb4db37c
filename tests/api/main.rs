//! Integration tests through the real router, against SQLite and (when
//! `TEST_DATABASE_URL` is set) PostgreSQL. One binary keeps link time down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod cli;
mod counts;
mod http;
mod listing;
mod mutations;
mod plans;
mod rules;
mod schema;
mod statements;
mod tenancy;
