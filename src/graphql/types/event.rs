//! Entries of a customer's history.

use async_graphql::{Enum, Object};
use entity::customer_event;

use super::owner::RenewalOwner;
use crate::{domain::owner::RenewalOwner as Owner, graphql::scalars::DateTime, store::EventKind};

/// What happened to a customer.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerEventKind {
    /// The customer's renewal owner was set, changed or reset to the default.
    OwnerChanged,
    /// The partner ended services for the customer.
    ServicesEnded,
}

/// One entry of a customer's history.
#[derive(Clone, Debug)]
pub struct CustomerEvent {
    row: customer_event::Model,
    kind: CustomerEventKind,
}

impl CustomerEvent {
    /// The event as the API shows it; partner-level events are not customer history.
    pub fn new(row: customer_event::Model) -> Option<Self> {
        let kind = match EventKind::parse(&row.kind)? {
            EventKind::OwnerChanged => CustomerEventKind::OwnerChanged,
            EventKind::ServicesEnded => CustomerEventKind::ServicesEnded,
            EventKind::DefaultOwnerChanged => return None,
        };
        Some(Self { row, kind })
    }
}

fn owner(
    party: Option<&str>,
    notify_user_id: Option<i64>,
    is_default: Option<bool>,
) -> Option<RenewalOwner> {
    Some(RenewalOwner(Owner {
        party: party?.parse().ok()?,
        notify_user_id,
        is_default: is_default.unwrap_or(false),
    }))
}

#[Object]
impl CustomerEvent {
    async fn kind(&self) -> CustomerEventKind {
        self.kind
    }

    /// When it happened.
    async fn at(&self) -> DateTime {
        DateTime(self.row.at)
    }

    /// Who did it: the label of the API token used.
    async fn actor(&self) -> &str {
        &self.row.actor
    }

    /// For OWNER_CHANGED: the effective owner before the change.
    async fn owner_before(&self) -> Option<RenewalOwner> {
        let r = &self.row;
        owner(
            r.before_party.as_deref(),
            r.before_notify_user_id,
            r.before_is_default,
        )
    }

    /// For OWNER_CHANGED: the effective owner after the change.
    async fn owner_after(&self) -> Option<RenewalOwner> {
        let r = &self.row;
        owner(
            r.after_party.as_deref(),
            r.after_notify_user_id,
            r.after_is_default,
        )
    }

    /// For SERVICES_ENDED: the reason given, if any.
    async fn reason(&self) -> Option<&str> {
        self.row.reason.as_deref()
    }
}
