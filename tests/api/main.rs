//! Integration tests through the real router, against SQLite and (when
//! `TEST_DATABASE_URL` is set) PostgreSQL. One binary keeps link time down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod bad_input;
mod bench;
mod cli;
mod concurrency;
mod connections;
mod counts;
mod customer_order;
mod docs;
mod faults;
mod field_errors;
mod fuzz;
mod history;
mod http;
mod limits;
mod listing;
mod locks;
mod mutations;
mod plans;
mod rules;
mod schema;
mod statements;
mod storage;
mod tenancy;
mod validation;
