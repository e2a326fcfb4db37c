//! Customers: lookups, renewal-owner overrides and ending services.

use chrono::Utc;
use entity::{customer, partner};
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use super::{
    Store,
    events::{self, EventKind, NewEvent},
    failures::with_retries,
    partners::{PartnerLock, default_owner, is_partner_user, lock_partner},
};
use crate::domain::owner::{
    OwnerChoice, OwnerChoiceError, RenewalOwner, effective_owner, validate_choice,
};

/// Why an owner change was refused; nothing was written.
#[derive(Debug, PartialEq, Eq)]
pub enum SetOwnerError {
    /// These customer ids are not the partner's.
    UnknownCustomers(Vec<i64>),
    /// These customers' services have ended; their owner can no longer change.
    ServicesEnded(Vec<i64>),
    /// The notify user is not one of the partner's users.
    UnknownNotifyUser,
    /// The owner breaks a rule of its own (see [`validate_choice`]).
    InvalidChoice(OwnerChoiceError),
}

/// The customers whose owner was set, and their partner as of the change.
pub type OwnerChanged = (Vec<customer::Model>, partner::Model);

/// Why ending services was refused; nothing was written.
#[derive(Debug, PartialEq, Eq)]
pub enum EndServicesError {
    NotFound,
    AlreadyEnded,
}

/// A customer's override, if it has one.
pub fn owner_override(customer: &customer::Model) -> Option<OwnerChoice> {
    let party = customer.owner_party.as_deref()?.parse().ok()?;
    Some(OwnerChoice {
        party,
        notify_user_id: customer.owner_notify_user_id,
    })
}

/// The owner that applies to the customer, given its partner's default.
pub fn customer_owner(customer: &customer::Model, default: OwnerChoice) -> RenewalOwner {
    effective_owner(owner_override(customer), default)
}

impl Store {
    /// The partner's customers among `ids`; others' are not found.
    #[tracing::instrument(level = "debug", skip(self, ids))]
    pub async fn customers_by_ids(
        &self,
        partner_id: i64,
        ids: &[i64],
    ) -> Result<Vec<customer::Model>, DbErr> {
        customer::Entity::find()
            .filter(customer::Column::PartnerId.eq(partner_id))
            .filter(customer::Column::Id.is_in(ids.iter().copied()))
            .all(&self.read)
            .await
    }

    pub async fn customer_by_domain(
        &self,
        partner_id: i64,
        domain: &str,
    ) -> Result<Option<customer::Model>, DbErr> {
        // No domain is longer than 253 characters or holds NUL (which PostgreSQL
        // text cannot even hold): such input matches nothing.
        if domain.len() > 253 || domain.contains('\0') {
            return Ok(None);
        }
        customer::Entity::find()
            .filter(customer::Column::PartnerId.eq(partner_id))
            .filter(customer::Column::Domain.eq(domain.trim().to_lowercase()))
            .one(&self.read)
            .await
    }

    /// Sets (or, with `None`, clears) the owner override of some customers, all or
    /// nothing, logging one event per customer whose owner changed.
    ///
    /// Returns the customers in the order of `ids`, with the partner as of the
    /// change; or every reason it was refused.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn set_customer_owner(
        &self,
        partner_id: i64,
        ids: &[i64],
        choice: Option<OwnerChoice>,
        actor: &str,
    ) -> Result<Result<OwnerChanged, Vec<SetOwnerError>>, DbErr> {
        with_retries(|| self.set_customer_owner_once(partner_id, ids, choice, actor)).await
    }

    async fn set_customer_owner_once(
        &self,
        partner_id: i64,
        ids: &[i64],
        choice: Option<OwnerChoice>,
        actor: &str,
    ) -> Result<Result<OwnerChanged, Vec<SetOwnerError>>, DbErr> {
        let txn = self.begin_write().await?;
        // The partner's row first, shared: owner changes run side by side, and
        // the default owner they log stays as read until they commit. Then the
        // customers, in id order; the tally rows their update writes are
        // locked in key order (the trigger's upsert). So two changes take the
        // locks they share in the same order.
        let partner = lock_partner(&txn, partner_id, PartnerLock::Shared).await?;
        let found = customer::Entity::find()
            .filter(customer::Column::PartnerId.eq(partner_id))
            .filter(customer::Column::Id.is_in(ids.iter().copied()))
            .order_by_asc(customer::Column::Id)
            .lock_exclusive()
            .all(&txn)
            .await?;
        let mut refused = Vec::new();
        let unknown: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !found.iter().any(|c| c.id == *id))
            .collect();
        if !unknown.is_empty() {
            refused.push(SetOwnerError::UnknownCustomers(unknown));
        }
        let ended: Vec<i64> = found
            .iter()
            .filter(|c| c.services_ended_at.is_some())
            .map(|c| c.id)
            .collect();
        if !ended.is_empty() {
            refused.push(SetOwnerError::ServicesEnded(ended));
        }
        if let Some(user_id) = choice.and_then(|c| c.notify_user_id)
            && !is_partner_user(&txn, partner_id, user_id).await?
        {
            refused.push(SetOwnerError::UnknownNotifyUser);
        }
        if let Some(Err(error)) = choice.map(validate_choice) {
            refused.push(SetOwnerError::InvalidChoice(error));
        }
        if !refused.is_empty() {
            return Ok(Err(refused));
        }

        let default = default_owner(&partner);
        let after = effective_owner(choice, default);
        let changed: Vec<&customer::Model> = found
            .iter()
            .filter(|c| owner_override(c) != choice)
            .collect();
        if !changed.is_empty() {
            customer::Entity::update_many()
                .col_expr(
                    customer::Column::OwnerParty,
                    Expr::value(choice.map(|c| c.party.as_str())),
                )
                .col_expr(
                    customer::Column::OwnerNotifyUserId,
                    Expr::value(choice.and_then(|c| c.notify_user_id)),
                )
                .filter(customer::Column::Id.is_in(changed.iter().map(|c| c.id)))
                .exec(&txn)
                .await?;
            events::append(
                &txn,
                changed.iter().map(|c| NewEvent {
                    partner_id,
                    customer_id: Some(c.id),
                    kind: EventKind::OwnerChanged,
                    actor,
                    before: Some(customer_owner(c, default)),
                    after: Some(after),
                    reason: None,
                }),
            )
            .await?;
        }
        txn.commit().await?;

        let updated = ids
            .iter()
            .filter_map(|id| found.iter().find(|c| c.id == *id))
            .map(|c| customer::Model {
                owner_party: choice.map(|c| c.party.as_str().to_owned()),
                owner_notify_user_id: choice.and_then(|c| c.notify_user_id),
                ..c.clone()
            })
            .collect();
        Ok(Ok((updated, partner)))
    }

    /// Ends services for a customer: it leaves the upcoming renewals. Exactly one
    /// of several concurrent calls succeeds; the others see `AlreadyEnded`.
    /// Returns the customer with its partner as the write found it (its default
    /// owner current, even if changed earlier in the same request).
    #[tracing::instrument(level = "debug", skip(self, reason))]
    pub async fn end_services(
        &self,
        partner_id: i64,
        customer_id: i64,
        reason: Option<String>,
        actor: &str,
    ) -> Result<Result<(customer::Model, partner::Model), EndServicesError>, DbErr> {
        with_retries(|| self.end_services_once(partner_id, customer_id, reason.clone(), actor))
            .await
    }

    async fn end_services_once(
        &self,
        partner_id: i64,
        customer_id: i64,
        reason: Option<String>,
        actor: &str,
    ) -> Result<Result<(customer::Model, partner::Model), EndServicesError>, DbErr> {
        let txn = self.begin_write().await?;
        let partner = lock_partner(&txn, partner_id, PartnerLock::Exclusive).await?;
        let ended_at = Utc::now();
        let result = customer::Entity::update_many()
            .col_expr(customer::Column::ServicesEndedAt, Expr::value(ended_at))
            .col_expr(
                customer::Column::ServicesEndReason,
                Expr::value(reason.clone()),
            )
            .filter(customer::Column::PartnerId.eq(partner_id))
            .filter(customer::Column::Id.eq(customer_id))
            .filter(customer::Column::ServicesEndedAt.is_null())
            .exec(&txn)
            .await?;
        let customer = customer::Entity::find_by_id(customer_id)
            .filter(customer::Column::PartnerId.eq(partner_id))
            .one(&txn)
            .await?;
        let Some(customer) = customer else {
            return Ok(Err(EndServicesError::NotFound));
        };
        if result.rows_affected == 0 {
            return Ok(Err(EndServicesError::AlreadyEnded));
        }
        events::append(
            &txn,
            [NewEvent {
                partner_id,
                customer_id: Some(customer_id),
                kind: EventKind::ServicesEnded,
                actor,
                before: None,
                after: None,
                reason,
            }],
        )
        .await?;
        txn.commit().await?;
        Ok(Ok((customer, partner)))
    }
}
