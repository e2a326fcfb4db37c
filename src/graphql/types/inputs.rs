//! Input types.

use async_graphql::{ID, InputObject};

use super::{OrderDirection, RenewalOrderField, RenewalOwnerParty, RenewalStatus};
use crate::graphql::scalars::Date;

/// Narrows a list of renewals. All given conditions must hold.
#[derive(InputObject, Clone, Debug, Default)]
#[graphql(name = "RenewalFilter")]
pub struct RenewalFilterInput {
    /// Only renewals that require action (true) or that do not (false).
    pub action_required: Option<bool>,
    /// Only renewals whose effective owner is this party.
    pub owner_party: Option<RenewalOwnerParty>,
    /// Only renewals whose effective owner notifies this partner user.
    pub notify_user_id: Option<ID>,
    /// Text contained in the customer's domain or name, whatever its case,
    /// accents and width (`cafe munster` and `ＣＡＦＥ` find `Café Münster`),
    /// the spaces around it left out (at most 200 characters without them;
    /// empty matches every renewal).
    pub search: Option<String>,
    /// Only renewals in one of these statuses.
    pub status: Option<Vec<RenewalStatus>>,
    /// Only renewals in this currency: an ISO 4217 code, e.g. `EUR`. The MRR
    /// orders compare minor units whatever the currency; with this filter
    /// they compare amounts of one currency.
    pub currency_code: Option<String>,
    /// Deadline on or after this date.
    pub deadline_from: Option<Date>,
    /// Deadline on or before this date.
    pub deadline_to: Option<Date>,
    /// Renewal date on or after this date.
    pub renewal_date_from: Option<Date>,
    /// Renewal date on or before this date.
    pub renewal_date_to: Option<Date>,
    /// Also list customers whose services have ended.
    #[graphql(default = false)]
    pub include_ended_services: bool,
}

/// How to order a list of renewals.
#[derive(InputObject, Clone, Copy, Debug)]
#[graphql(name = "RenewalOrder")]
pub struct RenewalOrderInput {
    /// What to order by.
    pub field: RenewalOrderField,
    /// Ascending (the default) or descending; ties are broken by id in the same
    /// direction.
    #[graphql(default_with = "OrderDirection::Asc")]
    pub direction: OrderDirection,
}

/// A renewal owner to set.
#[derive(InputObject, Clone, Debug)]
#[graphql(name = "RenewalOwnerInput")]
pub struct RenewalOwnerInput {
    /// Who carries out the contract change.
    pub party: RenewalOwnerParty,
    /// The partner user to notify; required when `party` is PARTNER.
    pub notify_user_id: Option<ID>,
}
