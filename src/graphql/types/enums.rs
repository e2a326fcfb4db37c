//! Enums of the API, mirrored from the domain and store types.

use async_graphql::{Enum, resolver_utils::EnumType};

/// The name of `value` in the schema, e.g. `PENDING`.
pub fn enum_name<T: EnumType>(value: T) -> &'static str {
    T::items()
        .iter()
        .find(|item| item.value == value)
        .map_or("", |item| item.name)
}

/// Where a renewal stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::RenewalStatus")]
pub enum RenewalStatus {
    /// Awaiting a decision.
    Pending,
    /// The customer agreed to a change.
    Confirmed,
    /// Agreed, or rolled over after the deadline.
    Renewed,
    /// The customer asked to cancel.
    CancellationRequested,
}

/// The party responsible for carrying out an upcoming contract change.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::OwnerParty")]
pub enum RenewalOwnerParty {
    /// The vendor. The notify user, if any, is copied on the vendor's renewal emails.
    Hubspot,
    /// The partner. The notify user receives the renewal emails.
    Partner,
}

/// What a list of renewals can be ordered by. Ties are always broken by id.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::store::SortField")]
pub enum RenewalOrderField {
    /// The renewal deadline (45 days before the renewal date).
    Deadline,
    /// The date the renewal starts.
    RenewalDate,
    /// Monthly recurring revenue now (minor units; amounts of different currencies are compared as numbers).
    CurrentMrr,
    /// Monthly recurring revenue after the renewal.
    RenewalMrr,
    /// Renewal MRR minus current MRR.
    MrrChange,
    /// The customer's domain, alphabetically.
    CustomerDomain,
}

/// Ascending or descending.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::store::Direction")]
pub enum OrderDirection {
    Asc,
    Desc,
}
