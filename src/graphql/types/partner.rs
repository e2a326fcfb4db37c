//! The partner (the viewer) and its users.

use async_graphql::{Context, ID, Object, Result};
use entity::{partner, partner_user};

use super::{
    event::{HistoryConnection, PartnerEvent},
    owner::RenewalOwner,
};
use crate::{
    domain::owner::effective_owner,
    error::Error,
    graphql::{
        eager::{Plain, PlainFields},
        ids::{NodeKind, encode},
        json,
        listing::{history_page, page_cost},
        session::session,
    },
    store::default_owner,
};

/// A partner agency: the owner of the API token.
#[derive(Clone, Debug)]
pub struct Partner(pub partner::Model);

/// A partner agency: the owner of the API token.
#[Object]
impl Partner {
    /// The partner's global ID.
    pub async fn id(&self) -> ID {
        encode(NodeKind::Partner, self.0.id)
    }

    /// The partner's display name, e.g. `Northwind Digital`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The partner's short unique name, e.g. `northwind`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The owner of every customer's renewal unless the customer overrides it.
    /// Out of the box: HUBSPOT, with nobody notified.
    async fn default_renewal_owner(&self) -> RenewalOwner {
        effective_owner(None, default_owner(&self.0)).into()
    }

    /// The partner's users, by name (case and accents aside).
    #[graphql(complexity = "10 * child_complexity")]
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<PartnerUser>> {
        let s = session(ctx)?;
        let users = s
            .store
            .partner_users(self.0.id)
            .await
            .map_err(Error::from)?;
        Ok(users.into_iter().map(PartnerUser).collect())
    }

    /// Changes to the partner's own settings (its default renewal owner),
    /// newest first, a page at a time: `first` (1 to 100; 20 when not given)
    /// events after the cursor `after`. What happened to a customer is in its
    /// `history`.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many events (1 to 100); 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The events older than this cursor, which must come from\n\
                          the partner's history (`pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<HistoryConnection<PartnerEvent>> {
        let s = session(ctx)?;
        let page = history_page(None, first, after)?;
        let rows = s
            .store
            .partner_history(self.0.id, page)
            .await
            .map_err(Error::from)?;
        Ok(HistoryConnection::new(None, page, rows, PartnerEvent::new))
    }
}

/// A person working for the partner, who can be notified about renewals.
#[derive(Clone, Debug)]
pub struct PartnerUser(pub partner_user::Model);

impl PlainFields for PartnerUser {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "id" => json::write_str(out, &encode(NodeKind::PartnerUser, self.0.id)),
            "name" => json::write_str(out, &self.0.name),
            "email" => json::write_str(out, &self.0.email),
            _ => return false,
        }
        true
    }
}

/// A person working for the partner, who can be notified about renewals.
#[Object]
impl PartnerUser {
    /// The user's global ID.
    pub async fn id(&self) -> ID {
        encode(NodeKind::PartnerUser, self.0.id)
    }

    /// The user's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The user's email address.
    async fn email(&self) -> &str {
        &self.0.email
    }
}
