//! The `Mutation` root: setting renewal owners and ending services.
//!
//! Business failures come back as `userErrors` in the payload, with nothing
//! changed; only request-level failures are GraphQL errors.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::{
    ids::{NodeKind, decode_as},
    session::session,
    types::{Customer, Partner, RenewalOwnerInput, UserError, UserErrorCode},
};
use crate::{
    domain::owner::{OwnerChoice, OwnerChoiceError, validate_choice},
    error::Error,
    store::{EndServicesError, SetOwnerError, default_owner},
};

/// How many customers one `setRenewalOwner` may change.
pub const MAX_CUSTOMERS_PER_CHANGE: usize = 100;

/// What a mutation costs for each thing it writes (a customer's owner and
/// its event, a partner's default, an end of services), beside its fields:
/// about what reading a page of ten renewals costs. Counted as one field, a
/// request of 1,000 aliases of `setRenewalOwner` with 100 customers each
/// cost 3,000 and wrote for 11 s.
pub const WRITE_COST: usize = 10;
/// The longest reason `endServices` accepts, in characters.
pub const MAX_REASON_LEN: usize = 2000;

#[derive(Default)]
pub struct Mutation;

/// Which customers get which renewal owner.
#[derive(InputObject)]
pub struct SetRenewalOwnerInput {
    /// The customers to change (1 to 100).
    pub customer_ids: Vec<ID>,
    /// The new owner; `null` means "use the partner's default". Required,
    /// though it may be null: left out, nothing changes and the payload says
    /// so (`INVALID_INPUT`), so that an owner forgotten resets no one.
    pub owner: MaybeUndefined<RenewalOwnerInput>,
}

/// The result of `setRenewalOwner`: the customers, or the user errors.
#[derive(SimpleObject)]
pub struct SetRenewalOwnerPayload {
    /// The customers given, with their new owner: one per ID given, in that
    /// order (an ID given twice appears twice); null if anything failed.
    pub customers: Option<Vec<Customer>>,
    /// Why nothing was changed; empty on success.
    pub user_errors: Vec<UserError>,
}

/// The partner's new default renewal owner.
#[derive(InputObject)]
pub struct SetDefaultRenewalOwnerInput {
    /// The new default owner.
    pub owner: RenewalOwnerInput,
}

/// The result of `setDefaultRenewalOwner`: the partner, or the user errors.
#[derive(SimpleObject)]
pub struct SetDefaultRenewalOwnerPayload {
    /// The partner with its new default; null if anything failed.
    pub partner: Option<Partner>,
    /// Why nothing was changed; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Which customer the partner no longer services, and why.
#[derive(InputObject)]
pub struct EndServicesInput {
    /// The customer's global ID.
    pub customer_id: ID,
    /// Why the partner no longer services this customer (at most 2000
    /// characters, not counting the spaces around it, which are not kept; a
    /// reason of spaces only is none).
    pub reason: Option<String>,
}

/// The result of `endServices`: the customer, or the user errors.
#[derive(SimpleObject)]
pub struct EndServicesPayload {
    /// The customer, now with services ended; null if anything failed.
    pub customer: Option<Customer>,
    /// Why nothing was changed; empty on success.
    pub user_errors: Vec<UserError>,
}

/// The owner choice an input names, not yet checked (see [`validate_choice`]).
fn owner_choice(input: RenewalOwnerInput) -> OwnerChoice {
    // An ID that is none of a partner user's names no row, as 0 does: the
    // store reports it unknown with whatever else it refuses.
    let notify_user_id = input
        .notify_user_id
        .map(|id| decode_as(&id, NodeKind::PartnerUser).unwrap_or(0));
    OwnerChoice {
        party: input.party.into(),
        notify_user_id,
    }
}

/// The user error for an owner choice that breaks a rule, at `path`.
fn invalid_choice(error: OwnerChoiceError, path: &[&str]) -> UserError {
    match error {
        OwnerChoiceError::PartnerNeedsNotifyUser => UserError::new(
            UserErrorCode::NotifyUserRequired,
            &[path, &["notifyUserId"]].concat(),
            "a PARTNER owner needs a notifyUserId",
        ),
    }
}

fn unknown_notify_user(path: &[&str]) -> UserError {
    UserError::new(
        UserErrorCode::NotFound,
        &[path, &["notifyUserId"]].concat(),
        "no partner user has this ID",
    )
}

impl SetRenewalOwnerPayload {
    fn failed(user_errors: Vec<UserError>) -> Self {
        Self {
            customers: None,
            user_errors,
        }
    }
}

/// The cost of a mutation that writes `writes` things and answers a payload
/// whose fields cost `payload`, the payload's list one item per thing.
fn write_cost(writes: usize, payload: usize) -> usize {
    let writes = writes.max(1);
    writes
        .saturating_mul(WRITE_COST)
        .saturating_add(writes.saturating_mul(payload))
}

/// Changes the partner makes: renewal owners, and ending services. A business
/// failure comes back in the payload's `userErrors`, with nothing changed.
#[Object]
impl Mutation {
    /// Sets the renewal owner of up to 100 customers at once, all or nothing.
    /// `owner: null` makes them use the partner's default again.
    #[graphql(complexity = "write_cost(input.customer_ids.len(), child_complexity)")]
    async fn set_renewal_owner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customers and their new owner.")] input: SetRenewalOwnerInput,
    ) -> Result<SetRenewalOwnerPayload> {
        let s = session(ctx)?;
        s.loaders.forget_all();
        let count = input.customer_ids.len();
        if !(1..=MAX_CUSTOMERS_PER_CHANGE).contains(&count) {
            return Ok(SetRenewalOwnerPayload::failed(vec![UserError::new(
                UserErrorCode::InvalidInput,
                &["input", "customerIds"],
                format!("give between 1 and {MAX_CUSTOMERS_PER_CHANGE} customer IDs"),
            )]));
        }
        let owner = match input.owner {
            MaybeUndefined::Value(owner) => Some(owner),
            MaybeUndefined::Null => None,
            MaybeUndefined::Undefined => {
                return Ok(SetRenewalOwnerPayload::failed(vec![UserError::new(
                    UserErrorCode::InvalidInput,
                    &["input", "owner"],
                    "give the new owner, or owner: null to use the partner's default",
                )]));
            }
        };
        // Checked by the store, which reports what is wrong with the owner
        // with what is wrong with the customers.
        let choice = owner.map(owner_choice);
        // As given, and each once for the store. An ID that is none of a
        // customer's names no row, as 0 does: the store reports it unknown
        // with whatever else it refuses.
        let given: Vec<i64> = input
            .customer_ids
            .iter()
            .map(|id| decode_as(id, NodeKind::Customer).unwrap_or(0))
            .collect();
        let mut ids = given.clone();
        ids.sort_unstable();
        ids.dedup();
        let result = s
            .store
            .set_customer_owner(s.partner_id(), &ids, choice, &s.actor)
            .await
            .map_err(Error::from)?;
        let refused = match result {
            Ok((customers, partner)) => {
                let customers: Vec<Arc<_>> = customers.into_iter().map(Arc::new).collect();
                let as_given = given
                    .iter()
                    .filter_map(|id| customers.iter().find(|c| c.id == *id));
                return Ok(SetRenewalOwnerPayload {
                    customers: Some(
                        as_given
                            .map(|row| Customer {
                                row: Arc::clone(row),
                                default_owner: default_owner(&partner),
                            })
                            .collect(),
                    ),
                    user_errors: Vec::new(),
                });
            }
            Err(refused) => refused,
        };
        // Every place an ID is given at, in order.
        let places = |ids: &[i64]| -> Vec<usize> {
            (0..count)
                .filter(|&index| ids.contains(&given[index]))
                .collect()
        };
        // In the order of the input: the customers by place, then the owner.
        let owner_place = count;
        let mut user_errors: Vec<(usize, UserError)> = refused
            .into_iter()
            .flat_map(|reason| -> Vec<(usize, UserError)> {
                match reason {
                    SetOwnerError::UnknownCustomers(missing) => places(&missing)
                        .into_iter()
                        .map(|index| (index, not_found_customer(index)))
                        .collect(),
                    SetOwnerError::ServicesEnded(ended) => places(&ended)
                        .into_iter()
                        .map(|index| {
                            let error = UserError::new(
                                UserErrorCode::ServicesEnded,
                                &["input", "customerIds", &index.to_string()],
                                "services for this customer have ended; its owner can no longer change",
                            );
                            (index, error)
                        })
                        .collect(),
                    SetOwnerError::UnknownNotifyUser => {
                        vec![(owner_place, unknown_notify_user(&["input", "owner"]))]
                    }
                    SetOwnerError::InvalidChoice(error) => {
                        vec![(owner_place, invalid_choice(error, &["input", "owner"]))]
                    }
                }
            })
            .collect();
        user_errors.sort_by_key(|(place, _)| *place);
        Ok(SetRenewalOwnerPayload::failed(
            user_errors.into_iter().map(|(_, error)| error).collect(),
        ))
    }

    /// Sets the partner's default renewal owner, which applies to every customer
    /// without an override of its own.
    #[graphql(complexity = "write_cost(1, child_complexity)")]
    async fn set_default_renewal_owner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new default owner.")] input: SetDefaultRenewalOwnerInput,
    ) -> Result<SetDefaultRenewalOwnerPayload> {
        let s = session(ctx)?;
        s.loaders.forget_all();
        let failed = |user_error| SetDefaultRenewalOwnerPayload {
            partner: None,
            user_errors: vec![user_error],
        };
        let choice = match validate_choice(owner_choice(input.owner)) {
            Ok(choice) => choice,
            Err(error) => return Ok(failed(invalid_choice(error, &["input", "owner"]))),
        };
        let result = s
            .store
            .set_default_owner(s.partner_id(), choice, &s.actor)
            .await
            .map_err(Error::from)?;
        Ok(match result {
            Ok(partner) => SetDefaultRenewalOwnerPayload {
                partner: Some(Partner(partner)),
                user_errors: Vec::new(),
            },
            Err(_) => failed(unknown_notify_user(&["input", "owner"])),
        })
    }

    /// Tells the vendor the partner no longer services this customer: it leaves
    /// the upcoming renewals and no more renewal emails about it go to the partner.
    #[graphql(complexity = "write_cost(1, child_complexity)")]
    async fn end_services(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer, and why.")] input: EndServicesInput,
    ) -> Result<EndServicesPayload> {
        let s = session(ctx)?;
        s.loaders.forget_all();
        let failed = |code, field: &[&str], message: &str| EndServicesPayload {
            customer: None,
            user_errors: vec![UserError::new(code, field, message)],
        };
        // Without the spaces around it; of spaces only, none.
        let reason = input
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > MAX_REASON_LEN || r.contains('\0')) {
            return Ok(failed(
                UserErrorCode::InvalidInput,
                &["input", "reason"],
                &format!(
                    "the reason must be at most {MAX_REASON_LEN} characters, without NUL characters"
                ),
            ));
        }
        let not_found = || {
            failed(
                UserErrorCode::NotFound,
                &["input", "customerId"],
                "no customer has this ID",
            )
        };
        let Some(customer_id) = decode_as(&input.customer_id, NodeKind::Customer) else {
            return Ok(not_found());
        };
        let result = s
            .store
            .end_services(
                s.partner_id(),
                customer_id,
                reason.map(str::to_owned),
                &s.actor,
            )
            .await
            .map_err(Error::from)?;
        Ok(match result {
            Ok((row, partner)) => EndServicesPayload {
                customer: Some(Customer {
                    row: row.into(),
                    default_owner: default_owner(&partner),
                }),
                user_errors: Vec::new(),
            },
            Err(EndServicesError::NotFound) => not_found(),
            Err(EndServicesError::AlreadyEnded) => failed(
                UserErrorCode::AlreadyEnded,
                &["input", "customerId"],
                "services for this customer have already been ended",
            ),
        })
    }
}

fn not_found_customer(index: usize) -> UserError {
    UserError::new(
        UserErrorCode::NotFound,
        &["input", "customerIds", &index.to_string()],
        "no customer has this ID",
    )
}
