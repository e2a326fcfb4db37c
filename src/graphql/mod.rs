//! The GraphQL schema: roots, types, loaders, the request guard and the session.

mod cursor;
mod guard;
pub mod ids;
mod listing;
mod loaders;
mod mutation;
mod query;
mod scalars;
mod session;
mod types;

use async_graphql::{EmptySubscription, Schema};

pub use guard::{Credentials, Guard, SessionSlot, codes};
pub use listing::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEARCH_LEN};
pub use mutation::{MAX_CUSTOMERS_PER_CHANGE, MAX_REASON_LEN, Mutation};
pub use query::{MAX_NODES, Query};
pub use session::Session;

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The deepest query accepted; GraphiQL's full introspection query needs about 15.
pub const MAX_DEPTH: usize = 20;
/// The highest query cost accepted (see `extensions.cost.requestedQueryCost`):
/// each field costs 1, and a list costs its page size times its children.
pub const MAX_COST: usize = 25_000;
/// The most directives on one field.
pub const MAX_DIRECTIVES_PER_FIELD: usize = 5;

/// The schema, guarded: requests carry [`Credentials`] and a [`SessionSlot`].
pub fn schema(guard: Guard) -> AppSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COST)
        .limit_directives(MAX_DIRECTIVES_PER_FIELD)
        .disable_suggestions()
        .extension(guard)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription)
        .finish()
        .sdl()
}
