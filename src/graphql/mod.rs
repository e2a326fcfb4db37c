//! The GraphQL schema: roots, types, loaders and the per-request session.

mod cursor;
pub mod ids;
mod listing;
mod loaders;
mod mutation;
mod query;
mod scalars;
mod session;
mod types;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};

pub use listing::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEARCH_LEN};
pub use mutation::{MAX_CUSTOMERS_PER_CHANGE, MAX_REASON_LEN, Mutation};
pub use query::{MAX_NODES, Query};
pub use session::Session;

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
}

/// The schema. Requests carry their [`Session`] as request data.
pub fn schema() -> AppSchema {
    builder().finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema().sdl()
}
