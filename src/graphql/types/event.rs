//! Entries of the event log: a customer's history, and the partner's.

use async_graphql::{Enum, Object, OutputType, SimpleObject};
use entity::customer_event;

use super::{PageInfo, owner::RenewalOwner};
use crate::{
    domain::owner::RenewalOwner as Owner,
    graphql::{cursor, scalars::DateTime},
    store::{EventKind, HistoryPage},
};

/// A page of a history, newest first. Page on with `after: pageInfo.endCursor`
/// while `pageInfo.hasNextPage`.
#[derive(SimpleObject)]
#[graphql(
    concrete(name = "CustomerEventConnection", params(CustomerEvent)),
    concrete(name = "PartnerEventConnection", params(PartnerEvent))
)]
pub struct HistoryConnection<T: OutputType> {
    /// The events of this page, newest first.
    pub nodes: Vec<T>,
    /// Where this page lies in the history: `hasNextPage` while older events remain.
    pub page_info: PageInfo,
}

impl<T: OutputType> HistoryConnection<T> {
    /// The connection of `rows`, read for `page` of the history of `customer_id`.
    pub fn new(
        customer_id: Option<i64>,
        page: HistoryPage,
        mut rows: Vec<customer_event::Model>,
        event: impl Fn(customer_event::Model) -> Option<T>,
    ) -> Self {
        let has_next_page = rows.len() as u64 >= page.limit;
        rows.truncate(page.limit.saturating_sub(1) as usize);
        let cursor_at = |row: &customer_event::Model| cursor::encode_history(customer_id, row.id);
        Self {
            page_info: PageInfo {
                has_next_page,
                has_previous_page: page.before_id.is_some(),
                start_cursor: rows.first().map(cursor_at),
                end_cursor: rows.last().map(cursor_at),
            },
            nodes: rows.into_iter().filter_map(event).collect(),
        }
    }
}

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
    let owner = Owner {
        party: party?.parse().ok()?,
        notify_user_id,
        is_default: is_default.unwrap_or(false),
    };
    Some(owner.into())
}

fn owner_before(r: &customer_event::Model) -> Option<RenewalOwner> {
    owner(
        r.before_party.as_deref(),
        r.before_notify_user_id,
        r.before_is_default,
    )
}

fn owner_after(r: &customer_event::Model) -> Option<RenewalOwner> {
    owner(
        r.after_party.as_deref(),
        r.after_notify_user_id,
        r.after_is_default,
    )
}

/// One entry of a customer's history.
#[Object]
impl CustomerEvent {
    /// What happened.
    async fn kind(&self) -> CustomerEventKind {
        self.kind
    }

    /// When it happened.
    async fn at(&self) -> DateTime {
        DateTime(self.row.at)
    }

    /// Who did it: the label of the API token used (`seed` for what the data
    /// came in with).
    async fn actor(&self) -> &str {
        &self.row.actor
    }

    /// For OWNER_CHANGED: the effective owner before the change.
    async fn owner_before(&self) -> Option<RenewalOwner> {
        owner_before(&self.row)
    }

    /// For OWNER_CHANGED: the effective owner after the change.
    async fn owner_after(&self) -> Option<RenewalOwner> {
        owner_after(&self.row)
    }

    /// For SERVICES_ENDED: the reason given, if any.
    async fn reason(&self) -> Option<&str> {
        self.row.reason.as_deref()
    }
}

/// What happened to the partner's own settings.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartnerEventKind {
    /// The partner's default renewal owner was changed.
    DefaultOwnerChanged,
}

/// One entry of the partner's history.
#[derive(Clone, Debug)]
pub struct PartnerEvent {
    row: customer_event::Model,
    kind: PartnerEventKind,
}

impl PartnerEvent {
    /// The event as the API shows it; a customer's events are its own history.
    pub fn new(row: customer_event::Model) -> Option<Self> {
        let kind = match EventKind::parse(&row.kind)? {
            EventKind::DefaultOwnerChanged => PartnerEventKind::DefaultOwnerChanged,
            EventKind::OwnerChanged | EventKind::ServicesEnded => return None,
        };
        Some(Self { row, kind })
    }
}

/// One entry of the partner's history: a change to its own settings.
#[Object]
impl PartnerEvent {
    /// What happened.
    async fn kind(&self) -> PartnerEventKind {
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

    /// The default renewal owner before the change.
    async fn owner_before(&self) -> Option<RenewalOwner> {
        owner_before(&self.row)
    }

    /// The default renewal owner after the change.
    async fn owner_after(&self) -> Option<RenewalOwner> {
        owner_after(&self.row)
    }
}
