//! The renewal owner as the API shows it.

use std::sync::Arc;

use async_graphql::{Context, Object, Result};

use super::{PartnerUser, RenewalOwnerParty, enums::enum_name};
use crate::{
    domain,
    graphql::{
        eager::{Eager, Plain, PlainFields},
        json,
        loaders::row_of,
        session::session,
    },
};

/// Who is responsible for a renewal, and which partner user is notified.
#[derive(Clone, Debug)]
pub struct RenewalOwner {
    owner: domain::RenewalOwner,
    /// The notified user, when it was read with a page of renewals (else
    /// `notifyUser` asks the request's loader).
    notify_user: Option<Arc<PartnerUser>>,
}

impl From<domain::RenewalOwner> for RenewalOwner {
    fn from(owner: domain::RenewalOwner) -> Self {
        Self {
            owner,
            notify_user: None,
        }
    }
}

impl RenewalOwner {
    /// This owner with its notified user `user`, read with a page.
    pub fn with_notify_user(mut self, user: Option<Arc<PartnerUser>>) -> Self {
        self.notify_user = user;
        self
    }
}

impl PlainFields for RenewalOwner {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "party" => json::write_str(out, enum_name(RenewalOwnerParty::from(self.owner.party))),
            "isDefault" => json::write_bool(out, self.owner.is_default),
            "notifyUser" => match (self.owner.notify_user_id, &self.notify_user) {
                (None, _) => out.extend_from_slice(b"null"),
                (Some(id), Some(user)) if user.0.id == id => return field.object(&**user, out),
                _ => return false,
            },
            _ => return false,
        }
        true
    }
}

/// Who is responsible for a renewal, and which partner user is notified.
#[Object]
impl RenewalOwner {
    /// HUBSPOT or PARTNER.
    async fn party(&self) -> RenewalOwnerParty {
        self.owner.party.into()
    }

    /// The partner user who is notified: copied on the vendor's emails when the
    /// party is HUBSPOT, the recipient when it is PARTNER.
    async fn notify_user(&self, ctx: &Context<'_>) -> Result<Option<Eager<PartnerUser>>> {
        let Some(id) = self.owner.notify_user_id else {
            return Ok(None);
        };
        if let Some(user) = self.notify_user.as_ref().filter(|user| user.0.id == id) {
            return Ok(Some(Eager(PartnerUser::clone(user))));
        }
        let s = session(ctx)?;
        Ok(row_of(&s.loaders.users, id)
            .await?
            .map(|user| Eager(PartnerUser(user))))
    }

    /// True when this owner comes from the partner's default rather than an override.
    async fn is_default(&self) -> bool {
        self.owner.is_default
    }
}
