//! A customer of the partner.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use entity::customer;

use super::{
    event::{CustomerEvent, HistoryConnection},
    owner::RenewalOwner,
    renewal::Renewal,
};
use crate::{
    domain::owner::OwnerChoice,
    error::Error,
    graphql::{
        eager::{Eager, Plain, PlainFields},
        ids::{NodeKind, encode},
        json,
        listing::{history_page, page_cost},
        loaders::{HistoryKey, list_of},
        scalars::DateTime,
        session::session,
    },
    store::customer_owner,
};

/// A customer of the partner, whose contract renewals the partner manages.
#[derive(Clone, Debug)]
pub struct Customer {
    pub row: Arc<customer::Model>,
    /// The partner's default owner, which applies unless the customer overrides it.
    pub default_owner: OwnerChoice,
}

/// The vendor's employee who handles this customer's renewal.
#[derive(SimpleObject, Clone, Debug)]
pub struct RenewalManager {
    /// The renewal manager's name.
    pub name: String,
    /// Write here to reach the renewal manager ("Send email").
    pub email: String,
}

impl Customer {
    fn owner(&self) -> RenewalOwner {
        customer_owner(&self.row, self.default_owner).into()
    }

    fn manager(&self) -> RenewalManager {
        RenewalManager {
            name: self.row.manager_name.clone(),
            email: self.row.manager_email.clone(),
        }
    }
}

impl PlainFields for Customer {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "id" => json::write_str(out, &encode(NodeKind::Customer, self.row.id)),
            "domain" => json::write_str(out, &self.row.domain),
            "name" => json::write_str(out, &self.row.name),
            "accountUrl" => json::write_str(out, &self.row.account_url),
            "servicesEnded" => json::write_bool(out, self.row.services_ended_at.is_some()),
            "renewalOwner" => return field.object(&self.owner(), out),
            "renewalManager" => return field.object(&self.manager(), out),
            _ => return false,
        }
        true
    }
}

impl PlainFields for RenewalManager {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "name" => json::write_str(out, &self.name),
            "email" => json::write_str(out, &self.email),
            _ => return false,
        }
        true
    }
}

/// A customer of the partner, whose contract renewals the partner manages.
#[Object]
impl Customer {
    /// The customer's global ID.
    pub async fn id(&self) -> ID {
        encode(NodeKind::Customer, self.row.id)
    }

    /// The customer's domain, lowercase, e.g. `acme.example`.
    async fn domain(&self) -> &str {
        &self.row.domain
    }

    /// The customer's name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Link to the customer's account ("Go to customer's account").
    async fn account_url(&self) -> &str {
        &self.row.account_url
    }

    /// The effective renewal owner: the customer's override, else the partner's default.
    async fn renewal_owner(&self) -> Eager<RenewalOwner> {
        Eager(self.owner())
    }

    /// The vendor's employee who handles this customer's renewal.
    async fn renewal_manager(&self) -> Eager<RenewalManager> {
        Eager(self.manager())
    }

    /// True once the partner has ended services for this customer: its renewals
    /// leave the `renewals` list (unless `includeEndedServices`), and no more
    /// renewal emails go to the partner. They can still be read by ID and
    /// through `Customer.renewals`.
    async fn services_ended(&self) -> bool {
        self.row.services_ended_at.is_some()
    }

    /// When services were ended.
    async fn services_ended_at(&self) -> Option<DateTime> {
        self.row.services_ended_at.map(DateTime)
    }

    /// Why services were ended, as given by the partner.
    async fn services_end_reason(&self) -> Option<&str> {
        self.row.services_end_reason.as_deref()
    }

    /// The customer's upcoming renewals (up to 120 days ahead), soonest first.
    #[graphql(complexity = "5 * child_complexity")]
    // Resolved by async-graphql, not eagerly: a renewal holds its customer,
    // and one of the two must box the other's futures.
    async fn renewals(&self, ctx: &Context<'_>) -> Result<Vec<Renewal>> {
        let s = session(ctx)?;
        let rows = list_of(&s.loaders.customer_renewals, self.row.id).await?;
        Ok(rows
            .into_iter()
            .map(|row| Renewal::new(row, Arc::clone(&self.row), self.default_owner, s.today))
            .collect())
    }

    /// What happened to this customer, newest first, a page at a time:
    /// `first` (1 to 100; 20 when not given) events after the cursor `after`.
    /// A change of the partner's default owner, which changes the owner of
    /// every customer without an override of its own, is in the partner's
    /// `history`, not here.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many events (1 to 100); 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The events older than this cursor, which must come from\n\
                          this customer's history (`pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<HistoryConnection<CustomerEvent>> {
        let s = session(ctx)?;
        let customer_id = Some(self.row.id);
        let page = history_page(customer_id, first, after)?;
        let key = HistoryKey {
            customer_id: self.row.id,
            page,
        };
        let rows = s
            .loaders
            .customer_history
            .load_one(key)
            .await
            .map_err(Error::from)?
            .unwrap_or_default();
        Ok(HistoryConnection::new(
            customer_id,
            page,
            rows,
            CustomerEvent::new,
        ))
    }
}
