//! The partners' rate-limit buckets on PostgreSQL (`rate_limit_bucket`; see
//! `crate::ratelimit` for what a bucket's `full_at` means).

use entity::{api_token, partner};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Statement, Value};

use super::{Store, tokens};
use crate::ratelimit::{Micros, RateLimit};

/// The live token with the hash `$1` and its partner (columns prefixed `A_`
/// and `B_`, as SeaORM names a model and its related one), and
/// [`RateLimit::take`] of `$3` (the cost's refill time) at `$2` from the
/// partner's bucket, the bucket's first request included (it starts full),
/// unless the bucket would then be empty for longer than `$4` (a full refill).
///
/// `taken_full_at` is the bucket's `full_at` after the charge, and `NULL` when
/// the bucket held too little. No row: no live token, and nothing charged.
const AUTHENTICATE_AND_TAKE: &str = r#"WITH token AS (
    SELECT t.id AS "A_id", t.partner_id AS "A_partner_id", t.name AS "A_name",
        t.token_hash AS "A_token_hash", t.created_at AS "A_created_at",
        t.revoked_at AS "A_revoked_at", p.id AS "B_id", p.slug AS "B_slug",
        p.name AS "B_name", p.default_owner_party AS "B_default_owner_party",
        p.default_notify_user_id AS "B_default_notify_user_id"
    FROM api_token AS t INNER JOIN partner AS p ON p.id = t.partner_id
    WHERE t.token_hash = $1 AND t.revoked_at IS NULL
), taken AS (
    INSERT INTO rate_limit_bucket AS b (partner_id, full_at)
    SELECT "A_partner_id", $2 + $3 FROM token WHERE $3 <= $4
    ON CONFLICT (partner_id) DO UPDATE SET full_at = GREATEST(b.full_at, $2) + $3
    WHERE GREATEST(b.full_at, $2) + $3 - $2 <= $4
    RETURNING full_at
)
SELECT token.*, (SELECT full_at FROM taken) AS taken_full_at FROM token"#;

const FULL_AT: &str = "SELECT full_at FROM rate_limit_bucket WHERE partner_id = $1";

/// A live token, its partner, and what became of the charge to the partner's
/// bucket: `Ok` with the bucket's new `full_at`, or `Err` with its unchanged one.
pub type Charged = (api_token::Model, partner::Model, Result<Micros, Micros>);

impl Store {
    /// Authenticates `secret` and takes `cost` points at `now` from its
    /// partner's bucket, atomically, in one statement (`AUTHENTICATE_AND_TAKE`)
    /// on the connection the request reads through: `None` for a secret that
    /// is not a live token's, which charges nothing.
    pub async fn authenticate_and_take(
        &self,
        secret: &str,
        now: Micros,
        limit: RateLimit,
        cost: u64,
    ) -> Result<Option<Charged>, DbErr> {
        let Some(wanted) = tokens::hash_of_possible(secret) else {
            return Ok(None);
        };
        let values: [Value; 4] = [
            wanted.as_str().into(),
            now.into(),
            limit.refill_time(cost).into(),
            limit.full_refill_time().into(),
        ];
        let statement = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            AUTHENTICATE_AND_TAKE,
            values,
        );
        let Some(row) = self.read.query_one_raw(statement).await? else {
            return Ok(None);
        };
        let token = api_token::Model::from_query_result(&row, "A_")?;
        let partner = partner::Model::from_query_result(&row, "B_")?;
        if !tokens::matches(&token, &wanted) {
            return Ok(None);
        }
        let taken = match row.try_get::<Option<Micros>>("", "taken_full_at")? {
            Some(full_at) => Ok(full_at),
            // Refused: what the bucket holds, for the refusal to tell (a
            // statement of its own, which sees the charges that refused this
            // one; a refusal is rare).
            None => Err(self.full_at(partner.id).await?.unwrap_or(now)),
        };
        Ok(Some((token, partner, taken)))
    }

    /// The partner's bucket's `full_at`; `None` if it has no bucket yet.
    async fn full_at(&self, partner_id: i64) -> Result<Option<Micros>, DbErr> {
        let statement =
            Statement::from_sql_and_values(DatabaseBackend::Postgres, FULL_AT, [partner_id.into()]);
        match self.read.query_one_raw(statement).await? {
            Some(row) => Ok(Some(row.try_get("", "full_at")?)),
            None => Ok(None),
        }
    }
}
