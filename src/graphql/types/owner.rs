//! The renewal owner as the API shows it.

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
#[derive(Clone, Copy, Debug)]
pub struct RenewalOwner(pub domain::RenewalOwner);

impl PlainFields for RenewalOwner {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "party" => json::write_str(out, enum_name(RenewalOwnerParty::from(self.0.party))),
            "isDefault" => json::write_bool(out, self.0.is_default),
            _ => return false,
        }
        true
    }
}

#[Object]
impl RenewalOwner {
    /// HUBSPOT or PARTNER.
    async fn party(&self) -> RenewalOwnerParty {
        self.0.party.into()
    }

    /// The partner user who is notified: copied on the vendor's emails when the
    /// party is HUBSPOT, the recipient when it is PARTNER.
    async fn notify_user(&self, ctx: &Context<'_>) -> Result<Option<Eager<PartnerUser>>> {
        let Some(id) = self.0.notify_user_id else {
            return Ok(None);
        };
        let s = session(ctx)?;
        Ok(row_of(&s.loaders.users, id)
            .await?
            .map(|user| Eager(PartnerUser(user))))
    }

    /// True when this owner comes from the partner's default rather than an override.
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
}
