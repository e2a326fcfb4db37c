//! `renewal_owner_tally`: how many renewals of customers with their own
//! renewal owner (an override of the partner's default) each partner has per
//! owner, notified user, status, services state and renewal date, kept by
//! triggers on `renewal` and `customer`.
//!
//! With `renewal_tally`, it makes `totalCount` of the owner filters a sum over
//! a few rows per day of the window. A list filtered by owner counts the
//! overrides that match from this table, plus, when the partner's default
//! matches, every renewal of `renewal_tally` minus the overrides (which do not
//! follow the default). Counting the renewals themselves meant reading every
//! customer of the window: 200–1000 ms at a million renewals.
//!
//! `notify_user_id` is 0 for an owner without a notified user (a key column
//! cannot be NULL); user ids start at 1.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE renewal_owner_tally (
        partner_id INTEGER NOT NULL,
        owner_party TEXT NOT NULL,
        notify_user_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        services_ended BOOLEAN NOT NULL,
        renewal_date TEXT NOT NULL,
        renewals INTEGER NOT NULL,
        PRIMARY KEY (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
    ) WITHOUT ROWID",
    "CREATE TRIGGER renewal_owner_tally_insert AFTER INSERT ON renewal BEGIN
        INSERT INTO renewal_owner_tally (partner_id, owner_party, notify_user_id, status,
            services_ended, renewal_date, renewals)
        SELECT NEW.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0), NEW.status,
            c.services_ended_at IS NOT NULL, NEW.renewal_date, 1
        FROM customer c WHERE c.id = NEW.customer_id AND c.owner_party IS NOT NULL
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
        DO UPDATE SET renewals = renewals + excluded.renewals;
    END",
    "CREATE TRIGGER renewal_owner_tally_delete AFTER DELETE ON renewal BEGIN
        INSERT INTO renewal_owner_tally (partner_id, owner_party, notify_user_id, status,
            services_ended, renewal_date, renewals)
        SELECT OLD.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0), OLD.status,
            c.services_ended_at IS NOT NULL, OLD.renewal_date, -1
        FROM customer c WHERE c.id = OLD.customer_id AND c.owner_party IS NOT NULL
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
        DO UPDATE SET renewals = renewals + excluded.renewals;
    END",
    "CREATE TRIGGER renewal_owner_tally_update
     AFTER UPDATE OF partner_id, customer_id, status, renewal_date ON renewal BEGIN
        INSERT INTO renewal_owner_tally (partner_id, owner_party, notify_user_id, status,
            services_ended, renewal_date, renewals)
        SELECT OLD.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0), OLD.status,
            c.services_ended_at IS NOT NULL, OLD.renewal_date, -1
        FROM customer c WHERE c.id = OLD.customer_id AND c.owner_party IS NOT NULL
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
        DO UPDATE SET renewals = renewals + excluded.renewals;
        INSERT INTO renewal_owner_tally (partner_id, owner_party, notify_user_id, status,
            services_ended, renewal_date, renewals)
        SELECT NEW.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0), NEW.status,
            c.services_ended_at IS NOT NULL, NEW.renewal_date, 1
        FROM customer c WHERE c.id = NEW.customer_id AND c.owner_party IS NOT NULL
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
        DO UPDATE SET renewals = renewals + excluded.renewals;
    END",
    "CREATE TRIGGER renewal_owner_tally_customer
     AFTER UPDATE OF owner_party, owner_notify_user_id, services_ended_at ON customer
     WHEN OLD.owner_party IS NOT NEW.owner_party
       OR OLD.owner_notify_user_id IS NOT NEW.owner_notify_user_id
       OR (OLD.services_ended_at IS NULL) <> (NEW.services_ended_at IS NULL) BEGIN
        INSERT INTO renewal_owner_tally (partner_id, owner_party, notify_user_id, status,
            services_ended, renewal_date, renewals)
        SELECT r.partner_id, OLD.owner_party, COALESCE(OLD.owner_notify_user_id, 0), r.status,
            OLD.services_ended_at IS NOT NULL, r.renewal_date, -COUNT(*)
        FROM renewal r WHERE r.customer_id = OLD.id AND OLD.owner_party IS NOT NULL
        GROUP BY r.partner_id, r.status, r.renewal_date
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
        DO UPDATE SET renewals = renewals + excluded.renewals;
        INSERT INTO renewal_owner_tally (partner_id, owner_party, notify_user_id, status,
            services_ended, renewal_date, renewals)
        SELECT r.partner_id, NEW.owner_party, COALESCE(NEW.owner_notify_user_id, 0), r.status,
            NEW.services_ended_at IS NOT NULL, r.renewal_date, COUNT(*)
        FROM renewal r WHERE r.customer_id = NEW.id AND NEW.owner_party IS NOT NULL
        GROUP BY r.partner_id, r.status, r.renewal_date
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
        DO UPDATE SET renewals = renewals + excluded.renewals;
    END",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE renewal_owner_tally (
        partner_id BIGINT NOT NULL,
        owner_party VARCHAR NOT NULL,
        notify_user_id BIGINT NOT NULL,
        status VARCHAR NOT NULL,
        services_ended BOOLEAN NOT NULL,
        renewal_date DATE NOT NULL,
        renewals BIGINT NOT NULL,
        PRIMARY KEY (partner_id, owner_party, notify_user_id, status, services_ended, renewal_date)
    )",
    // The upserts are written out in the trigger functions, where PL/pgSQL
    // keeps their plans, rather than in a function of their own: a SQL
    // function called from PL/pgSQL is planned on every call, and an owner
    // change cost the backends a third more.
    "CREATE FUNCTION renewal_owner_tally_on_renewal() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            INSERT INTO renewal_owner_tally AS t (partner_id, owner_party, notify_user_id,
                status, services_ended, renewal_date, renewals)
            SELECT OLD.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0),
                OLD.status, c.services_ended_at IS NOT NULL, OLD.renewal_date, -1
            FROM customer c WHERE c.id = OLD.customer_id AND c.owner_party IS NOT NULL
            ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended,
                renewal_date)
            DO UPDATE SET renewals = t.renewals + EXCLUDED.renewals;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO renewal_owner_tally AS t (partner_id, owner_party, notify_user_id,
                status, services_ended, renewal_date, renewals)
            SELECT NEW.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0),
                NEW.status, c.services_ended_at IS NOT NULL, NEW.renewal_date, 1
            FROM customer c WHERE c.id = NEW.customer_id AND c.owner_party IS NOT NULL
            ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended,
                renewal_date)
            DO UPDATE SET renewals = t.renewals + EXCLUDED.renewals;
        END IF;
        RETURN NULL;
     END $$",
    "CREATE TRIGGER renewal_owner_tally_renewal
     AFTER INSERT OR DELETE OR UPDATE OF partner_id, customer_id, status, renewal_date ON renewal
     FOR EACH ROW EXECUTE FUNCTION renewal_owner_tally_on_renewal()",
    POSTGRES_CUSTOMER_FUNCTION,
    POSTGRES_CUSTOMER_TRIGGER,
];

/// The row trigger on `customer` (PostgreSQL), replaced by a statement trigger
/// in `m20261206_000001_owner_tally_in_key_order`, whose `down` restores it.
pub(crate) const POSTGRES_CUSTOMER_FUNCTION: &str =
    "CREATE FUNCTION renewal_owner_tally_on_customer() RETURNS trigger LANGUAGE plpgsql AS $$
 BEGIN
    IF OLD.owner_party IS NOT DISTINCT FROM NEW.owner_party
       AND OLD.owner_notify_user_id IS NOT DISTINCT FROM NEW.owner_notify_user_id
       AND (OLD.services_ended_at IS NULL) = (NEW.services_ended_at IS NULL) THEN
        RETURN NULL;
    END IF;
    IF OLD.owner_party IS NOT NULL THEN
        INSERT INTO renewal_owner_tally AS t (partner_id, owner_party, notify_user_id,
            status, services_ended, renewal_date, renewals)
        SELECT r.partner_id, OLD.owner_party, COALESCE(OLD.owner_notify_user_id, 0),
            r.status, OLD.services_ended_at IS NOT NULL, r.renewal_date, -COUNT(*)
        FROM renewal r WHERE r.customer_id = OLD.id
        GROUP BY r.partner_id, r.status, r.renewal_date
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended,
            renewal_date)
        DO UPDATE SET renewals = t.renewals + EXCLUDED.renewals;
    END IF;
    IF NEW.owner_party IS NOT NULL THEN
        INSERT INTO renewal_owner_tally AS t (partner_id, owner_party, notify_user_id,
            status, services_ended, renewal_date, renewals)
        SELECT r.partner_id, NEW.owner_party, COALESCE(NEW.owner_notify_user_id, 0),
            r.status, NEW.services_ended_at IS NOT NULL, r.renewal_date, COUNT(*)
        FROM renewal r WHERE r.customer_id = NEW.id
        GROUP BY r.partner_id, r.status, r.renewal_date
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended,
            renewal_date)
        DO UPDATE SET renewals = t.renewals + EXCLUDED.renewals;
    END IF;
    RETURN NULL;
 END $$";
pub(crate) const POSTGRES_CUSTOMER_TRIGGER: &str = "CREATE TRIGGER renewal_owner_tally_customer
 AFTER UPDATE OF owner_party, owner_notify_user_id, services_ended_at ON customer
 FOR EACH ROW EXECUTE FUNCTION renewal_owner_tally_on_customer()";

/// Fills the tally from the rows already there (the triggers keep it from then on).
pub const REFILL: &str = "INSERT INTO renewal_owner_tally (partner_id, owner_party, notify_user_id,
        status, services_ended, renewal_date, renewals)
    SELECT r.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0), r.status,
        c.services_ended_at IS NOT NULL, r.renewal_date, COUNT(*)
    FROM renewal r JOIN customer c ON c.id = r.customer_id
    WHERE c.owner_party IS NOT NULL
    GROUP BY r.partner_id, c.owner_party, COALESCE(c.owner_notify_user_id, 0), r.status,
        c.services_ended_at IS NOT NULL, r.renewal_date";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE_UP,
            _ => POSTGRES_UP,
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        db.execute_unprepared(REFILL).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            for trigger in [
                "renewal_owner_tally_insert",
                "renewal_owner_tally_delete",
                "renewal_owner_tally_update",
                "renewal_owner_tally_customer",
            ] {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {trigger}"))
                    .await?;
            }
        } else {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS renewal_owner_tally_renewal ON renewal;
                 DROP TRIGGER IF EXISTS renewal_owner_tally_customer ON customer;
                 DROP FUNCTION IF EXISTS renewal_owner_tally_on_renewal();
                 DROP FUNCTION IF EXISTS renewal_owner_tally_on_customer()",
            )
            .await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS renewal_owner_tally")
            .await?;
        Ok(())
    }
}
