//! `renewal_tally`: how many renewals each partner has per renewal date, status
//! and services state, kept by triggers on `renewal` and `customer`.
//!
//! It makes `totalCount` of the dashboard (and of every list filtered only by
//! status and dates) a sum over at most one row per day, status and services
//! state of the window, instead of a count over every matching renewal joined
//! to its customer, which grows with the data (50,000 rows at a million
//! renewals). Triggers keep it right whoever writes: the API, the seeders, SQL
//! by hand.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE renewal_tally (
        partner_id INTEGER NOT NULL,
        renewal_date TEXT NOT NULL,
        status TEXT NOT NULL,
        services_ended BOOLEAN NOT NULL,
        renewals INTEGER NOT NULL,
        PRIMARY KEY (partner_id, renewal_date, status, services_ended)
    ) WITHOUT ROWID",
    "CREATE TRIGGER renewal_tally_insert AFTER INSERT ON renewal BEGIN
        INSERT INTO renewal_tally (partner_id, renewal_date, status, services_ended, renewals)
        SELECT NEW.partner_id, NEW.renewal_date, NEW.status, c.services_ended_at IS NOT NULL, 1
        FROM customer c WHERE c.id = NEW.customer_id
        ON CONFLICT (partner_id, renewal_date, status, services_ended)
        DO UPDATE SET renewals = renewals + excluded.renewals;
    END",
    "CREATE TRIGGER renewal_tally_delete AFTER DELETE ON renewal BEGIN
        UPDATE renewal_tally SET renewals = renewals - 1
        WHERE partner_id = OLD.partner_id AND renewal_date = OLD.renewal_date
          AND status = OLD.status
          AND services_ended = (SELECT c.services_ended_at IS NOT NULL FROM customer c WHERE c.id = OLD.customer_id);
    END",
    "CREATE TRIGGER renewal_tally_update
     AFTER UPDATE OF partner_id, customer_id, status, renewal_date ON renewal BEGIN
        UPDATE renewal_tally SET renewals = renewals - 1
        WHERE partner_id = OLD.partner_id AND renewal_date = OLD.renewal_date
          AND status = OLD.status
          AND services_ended = (SELECT c.services_ended_at IS NOT NULL FROM customer c WHERE c.id = OLD.customer_id);
        INSERT INTO renewal_tally (partner_id, renewal_date, status, services_ended, renewals)
        SELECT NEW.partner_id, NEW.renewal_date, NEW.status, c.services_ended_at IS NOT NULL, 1
        FROM customer c WHERE c.id = NEW.customer_id
        ON CONFLICT (partner_id, renewal_date, status, services_ended)
        DO UPDATE SET renewals = renewals + excluded.renewals;
    END",
    "CREATE TRIGGER renewal_tally_services AFTER UPDATE OF services_ended_at ON customer
     WHEN (OLD.services_ended_at IS NULL) <> (NEW.services_ended_at IS NULL) BEGIN
        INSERT INTO renewal_tally (partner_id, renewal_date, status, services_ended, renewals)
        SELECT r.partner_id, r.renewal_date, r.status, OLD.services_ended_at IS NOT NULL, -COUNT(*)
        FROM renewal r WHERE r.customer_id = NEW.id GROUP BY r.partner_id, r.renewal_date, r.status
        ON CONFLICT (partner_id, renewal_date, status, services_ended)
        DO UPDATE SET renewals = renewals + excluded.renewals;
        INSERT INTO renewal_tally (partner_id, renewal_date, status, services_ended, renewals)
        SELECT r.partner_id, r.renewal_date, r.status, NEW.services_ended_at IS NOT NULL, COUNT(*)
        FROM renewal r WHERE r.customer_id = NEW.id GROUP BY r.partner_id, r.renewal_date, r.status
        ON CONFLICT (partner_id, renewal_date, status, services_ended)
        DO UPDATE SET renewals = renewals + excluded.renewals;
    END",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE renewal_tally (
        partner_id BIGINT NOT NULL,
        renewal_date DATE NOT NULL,
        status VARCHAR NOT NULL,
        services_ended BOOLEAN NOT NULL,
        renewals BIGINT NOT NULL,
        PRIMARY KEY (partner_id, renewal_date, status, services_ended)
    )",
    "CREATE FUNCTION renewal_tally_add(p BIGINT, d DATE, s VARCHAR, e BOOLEAN, n BIGINT)
     RETURNS void LANGUAGE sql AS $$
        INSERT INTO renewal_tally AS t (partner_id, renewal_date, status, services_ended, renewals)
        VALUES (p, d, s, e, n)
        ON CONFLICT (partner_id, renewal_date, status, services_ended)
        DO UPDATE SET renewals = t.renewals + EXCLUDED.renewals
     $$",
    "CREATE FUNCTION renewal_tally_on_renewal() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            PERFORM renewal_tally_add(OLD.partner_id, OLD.renewal_date, OLD.status,
                (SELECT c.services_ended_at IS NOT NULL FROM customer c WHERE c.id = OLD.customer_id), -1);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM renewal_tally_add(NEW.partner_id, NEW.renewal_date, NEW.status,
                (SELECT c.services_ended_at IS NOT NULL FROM customer c WHERE c.id = NEW.customer_id), 1);
        END IF;
        RETURN NULL;
     END $$",
    "CREATE TRIGGER renewal_tally_renewal
     AFTER INSERT OR DELETE OR UPDATE OF partner_id, customer_id, status, renewal_date ON renewal
     FOR EACH ROW EXECUTE FUNCTION renewal_tally_on_renewal()",
    "CREATE FUNCTION renewal_tally_on_customer() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        IF (OLD.services_ended_at IS NULL) <> (NEW.services_ended_at IS NULL) THEN
            PERFORM renewal_tally_add(r.partner_id, r.renewal_date, r.status,
                OLD.services_ended_at IS NOT NULL, -COUNT(*))
            FROM renewal r WHERE r.customer_id = NEW.id
            GROUP BY r.partner_id, r.renewal_date, r.status;
            PERFORM renewal_tally_add(r.partner_id, r.renewal_date, r.status,
                NEW.services_ended_at IS NOT NULL, COUNT(*))
            FROM renewal r WHERE r.customer_id = NEW.id
            GROUP BY r.partner_id, r.renewal_date, r.status;
        END IF;
        RETURN NULL;
     END $$",
    "CREATE TRIGGER renewal_tally_services AFTER UPDATE OF services_ended_at ON customer
     FOR EACH ROW EXECUTE FUNCTION renewal_tally_on_customer()",
];

/// Fills the tally from the rows already there (the triggers keep it from then on).
pub const REFILL: &str =
    "INSERT INTO renewal_tally (partner_id, renewal_date, status, services_ended, renewals)
    SELECT r.partner_id, r.renewal_date, r.status, c.services_ended_at IS NOT NULL, COUNT(*)
    FROM renewal r JOIN customer c ON c.id = r.customer_id
    GROUP BY r.partner_id, r.renewal_date, r.status, c.services_ended_at IS NOT NULL";

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
                "renewal_tally_insert",
                "renewal_tally_delete",
                "renewal_tally_update",
                "renewal_tally_services",
            ] {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {trigger}"))
                    .await?;
            }
        } else {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS renewal_tally_renewal ON renewal;
                 DROP TRIGGER IF EXISTS renewal_tally_services ON customer;
                 DROP FUNCTION IF EXISTS renewal_tally_on_renewal();
                 DROP FUNCTION IF EXISTS renewal_tally_on_customer();
                 DROP FUNCTION IF EXISTS renewal_tally_add(BIGINT, DATE, VARCHAR, BOOLEAN, BIGINT)",
            )
            .await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS renewal_tally")
            .await?;
        Ok(())
    }
}
