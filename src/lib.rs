//! Renewals API: a GraphQL API for software partners to manage their customers'
//! upcoming contract renewals.
//!
//! Data flows one way: [`http`] → [`graphql`] resolvers → [`store`] → database.
//! The rules live in [`domain`].

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ratelimit;
pub mod seed;
pub mod store;
