//! API tokens: random secrets shown once, stored as SHA-256 hashes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::{api_token, partner};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Store;

/// Every token starts with this, so that leaked tokens are easy to recognise.
const TOKEN_PREFIX: &str = "rnw_";

/// A freshly created token; `secret` is shown once and never stored.
#[derive(Debug)]
pub struct NewToken {
    pub id: i64,
    pub secret: String,
}

/// What `token list` shows: everything but the secret.
#[derive(Debug)]
pub struct TokenInfo {
    pub id: i64,
    pub partner_slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash to look `secret` up by, if it can be a token's at all.
pub(super) fn hash_of_possible(secret: &str) -> Option<String> {
    (secret.starts_with(TOKEN_PREFIX) && secret.len() <= 128).then(|| hash(secret))
}

/// Whether `token`, which the lookup by hash found, has the hash `wanted`:
/// compared again in constant time, so that the answer never depends on how
/// much of the hash matched.
pub(super) fn matches(token: &api_token::Model, wanted: &str) -> bool {
    bool::from(token.token_hash.as_bytes().ct_eq(wanted.as_bytes()))
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Store {
    /// Creates a token for the partner with this slug; `None` if there is no such partner.
    pub async fn create_token(
        &self,
        partner_slug: &str,
        name: &str,
    ) -> Result<Option<NewToken>, DbErr> {
        let Some(partner) = self.partner_by_slug(partner_slug).await? else {
            return Ok(None);
        };
        let secret = generate_secret();
        let token = api_token::ActiveModel {
            partner_id: Set(partner.id),
            name: Set(name.to_owned()),
            token_hash: Set(hash(&secret)),
            created_at: Set(Utc::now()),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&self.write)
        .await?;
        Ok(Some(NewToken {
            id: token.id,
            secret,
        }))
    }

    /// The live token with this secret and its partner, if any.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn authenticate(
        &self,
        secret: &str,
    ) -> Result<Option<(api_token::Model, partner::Model)>, DbErr> {
        let Some(wanted) = hash_of_possible(secret) else {
            return Ok(None);
        };
        // `token_hash` is unique: no `LIMIT`, which SQLite would plan again on
        // every run, like the hash itself (see `opaque`).
        let found = api_token::Entity::find()
            .find_also_related(partner::Entity)
            .filter(
                Expr::col((api_token::Entity, api_token::Column::TokenHash))
                    .eq(self.opaque(wanted.as_str())),
            )
            .filter(api_token::Column::RevokedAt.is_null())
            .all(&self.read)
            .await?
            .pop();
        Ok(match found {
            Some((token, Some(partner))) if matches(&token, &wanted) => Some((token, partner)),
            _ => None,
        })
    }

    /// All tokens, or one partner's, oldest first.
    pub async fn list_tokens(&self, partner_slug: Option<&str>) -> Result<Vec<TokenInfo>, DbErr> {
        let mut query = api_token::Entity::find()
            .find_also_related(partner::Entity)
            .order_by_asc(api_token::Column::Id);
        if let Some(slug) = partner_slug {
            query = query.filter(partner::Column::Slug.eq(slug));
        }
        Ok(query
            .all(&self.read)
            .await?
            .into_iter()
            .map(|(token, partner)| TokenInfo {
                id: token.id,
                partner_slug: partner.map(|p| p.slug).unwrap_or_default(),
                name: token.name,
                created_at: token.created_at,
                revoked_at: token.revoked_at,
            })
            .collect())
    }

    /// Revokes the live tokens named `name` of the partner with this slug
    /// created before the token `newer` (by id); how many.
    pub async fn revoke_tokens_named_before(
        &self,
        partner_slug: &str,
        name: &str,
        newer: i64,
    ) -> Result<u64, DbErr> {
        let Some(partner) = self.partner_by_slug(partner_slug).await? else {
            return Ok(0);
        };
        let result = api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(api_token::Column::PartnerId.eq(partner.id))
            .filter(api_token::Column::Name.eq(name))
            .filter(api_token::Column::Id.lt(newer))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.write)
            .await?;
        Ok(result.rows_affected)
    }

    /// Revokes a token; false if there is no live token with this id.
    pub async fn revoke_token(&self, id: i64) -> Result<bool, DbErr> {
        let result = api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.write)
            .await?;
        Ok(result.rows_affected == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_prefixed() {
        let a = generate_secret();
        let b = generate_secret();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), a);
    }
}
