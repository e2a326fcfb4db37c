//! The per-request scope: who is asking, as of which day, and the request's loaders.

use async_graphql::Context;
use chrono::NaiveDate;
use entity::partner;

use super::{guard::Ticket, loaders::Loaders};
use crate::{
    domain::owner::OwnerChoice,
    error::Error,
    store::{Store, default_owner},
};

/// An authenticated request: the partner behind the token. Every read and write
/// of the request is scoped to `partner`.
pub struct Session {
    pub partner: partner::Model,
    /// The label of the token, recorded as the actor of changes.
    pub actor: String,
    /// "Today" for the rules, fixed for the whole request.
    pub today: NaiveDate,
    pub store: Store,
    pub loaders: Loaders,
}

impl Session {
    pub fn new(store: Store, partner: partner::Model, actor: String, today: NaiveDate) -> Self {
        let loaders = Loaders::new(&store, partner.id, today);
        Self {
            partner,
            actor,
            today,
            store,
            loaders,
        }
    }

    pub fn partner_id(&self) -> i64 {
        self.partner.id
    }

    /// The partner's default owner as of the start of the request.
    pub fn default_owner(&self) -> OwnerChoice {
        default_owner(&self.partner)
    }
}

/// The request's session (opened by the [`Guard`](super::guard::Guard)), or `UNAUTHENTICATED`.
pub fn session<'a>(ctx: &Context<'a>) -> Result<&'a Session, Error> {
    ctx.data_opt::<std::sync::Arc<Ticket>>()
        .and_then(|ticket| ticket.session())
        .ok_or(Error::Unauthenticated)
}
