//! Partners and their users.

use entity::{partner, partner_user};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::{
    SetOwnerError, Store,
    events::{self, EventKind, NewEvent},
    failures::with_retries,
    one_of,
};
use crate::domain::{
    owner::{OwnerChoice, effective_owner},
    search,
};

/// The partner's default owner as stored.
pub fn default_owner(partner: &partner::Model) -> OwnerChoice {
    OwnerChoice {
        party: partner
            .default_owner_party
            .parse()
            .unwrap_or(OwnerChoice::OUT_OF_THE_BOX.party),
        notify_user_id: partner.default_notify_user_id,
    }
}

impl Store {
    pub async fn partner_by_slug(&self, slug: &str) -> Result<Option<partner::Model>, DbErr> {
        partner::Entity::find()
            .filter(partner::Column::Slug.eq(slug))
            .one(&self.read)
            .await
    }

    /// The partner's users, by name as a person reads it: case and accents
    /// aside (`ada` before `Alan`, `Émile` among the E's), as search folds
    /// names. A partner has a handful of users: they are sorted here.
    pub async fn partner_users(&self, partner_id: i64) -> Result<Vec<partner_user::Model>, DbErr> {
        let mut users = partner_user::Entity::find()
            .filter(partner_user::Column::PartnerId.eq(partner_id))
            .order_by_asc(partner_user::Column::Id)
            .all(&self.read)
            .await?;
        users.sort_by_cached_key(|user| (search::fold(&user.name), user.name.clone(), user.id));
        Ok(users)
    }

    /// The partner's users among `ids`; other partners' users are not found.
    #[tracing::instrument(level = "debug", skip(self, ids))]
    pub async fn partner_users_by_ids(
        &self,
        partner_id: i64,
        ids: &[i64],
    ) -> Result<Vec<partner_user::Model>, DbErr> {
        let column = |c| Expr::col((partner_user::Entity, c));
        partner_user::Entity::find()
            .filter(column(partner_user::Column::PartnerId).eq(self.opaque(partner_id)))
            .filter(one_of(
                self.backend(),
                column(partner_user::Column::Id),
                ids,
            ))
            .all(&self.read)
            .await
    }

    /// Sets the partner's default renewal owner and logs the change.
    ///
    /// Refused with [`SetOwnerError::UnknownNotifyUser`] when the notify user is
    /// not one of the partner's users.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn set_default_owner(
        &self,
        partner_id: i64,
        choice: OwnerChoice,
        actor: &str,
    ) -> Result<Result<partner::Model, SetOwnerError>, DbErr> {
        with_retries(|| self.set_default_owner_once(partner_id, choice, actor)).await
    }

    async fn set_default_owner_once(
        &self,
        partner_id: i64,
        choice: OwnerChoice,
        actor: &str,
    ) -> Result<Result<partner::Model, SetOwnerError>, DbErr> {
        let txn = self.begin_write().await?;
        let partner = lock_partner(&txn, partner_id, PartnerLock::Exclusive).await?;
        if let Some(user_id) = choice.notify_user_id
            && !is_partner_user(&txn, partner_id, user_id).await?
        {
            return Ok(Err(SetOwnerError::UnknownNotifyUser));
        }
        let before = default_owner(&partner);
        if before == choice {
            return Ok(Ok(partner));
        }
        let mut active = partner.into_active_model();
        active.default_owner_party = Set(choice.party.as_str().to_owned());
        active.default_notify_user_id = Set(choice.notify_user_id);
        let updated = active.update(&txn).await?;
        events::append(
            &txn,
            [NewEvent {
                partner_id,
                customer_id: None,
                kind: EventKind::DefaultOwnerChanged,
                actor,
                before: Some(effective_owner(None, before)),
                after: Some(effective_owner(None, choice)),
                reason: None,
            }],
        )
        .await?;
        txn.commit().await?;
        Ok(Ok(updated))
    }
}

/// How a write transaction holds its partner's row, until it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PartnerLock {
    /// Alongside the partner's other owner changes (`FOR SHARE`): the
    /// default owner stays as read until the transaction ends.
    Shared,
    /// Alone (`FOR UPDATE`): to change the default owner, or to end services.
    Exclusive,
}

/// Locks the partner's row for the rest of the transaction: the first lock of
/// every write, so that all take their locks in one order. A no-op on SQLite,
/// whose write transactions already run one at a time.
pub(super) async fn lock_partner(
    txn: &DatabaseTransaction,
    partner_id: i64,
    lock: PartnerLock,
) -> Result<partner::Model, DbErr> {
    let find = partner::Entity::find_by_id(partner_id);
    match lock {
        PartnerLock::Shared => find.lock_shared(),
        PartnerLock::Exclusive => find.lock_exclusive(),
    }
    .one(txn)
    .await?
    .ok_or_else(|| DbErr::RecordNotFound(format!("partner {partner_id}")))
}

pub(super) async fn is_partner_user(
    txn: &DatabaseTransaction,
    partner_id: i64,
    user_id: i64,
) -> Result<bool, DbErr> {
    Ok(partner_user::Entity::find_by_id(user_id)
        .filter(partner_user::Column::PartnerId.eq(partner_id))
        .one(txn)
        .await?
        .is_some())
}
