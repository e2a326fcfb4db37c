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

/// What a list of renewals can be ordered by. Ties are always broken by id, in the
/// order's direction: ascending with ASC, descending with DESC.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::store::SortField")]
pub enum RenewalOrderField {
    /// The renewal deadline (45 days before the renewal date, so the same order as
    /// RENEWAL_DATE).
    Deadline,
    /// The date the renewal starts.
    RenewalDate,
    /// Monthly recurring revenue now, in minor units whatever the currency: amounts
    /// of different currencies are compared as numbers (1200 JPY ties with 12.00 USD).
    CurrentMrr,
    /// Monthly recurring revenue after the renewal, in minor units whatever the
    /// currency, as for CURRENT_MRR.
    RenewalMrr,
    /// Renewal MRR minus current MRR, in minor units whatever the currency, as for
    /// CURRENT_MRR.
    MrrChange,
    /// The customer's domain, alphabetically.
    CustomerDomain,
}

/// Ascending or descending.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::store::Direction")]
pub enum OrderDirection {
    /// Smallest first: earliest date, lowest amount, domain first alphabetically.
    /// Ties by id ascending.
    Asc,
    /// Largest first: latest date, highest amount, domain last alphabetically.
    /// Ties by id descending.
    Desc,
}
