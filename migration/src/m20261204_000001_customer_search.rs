//! `customer_search` (SQLite): a trigram full-text index of the customers'
//! `domain` and `name_folded`, the two columns `search` reads, kept by
//! triggers on `customer`. It holds no copy of the text (`content=customer`).
//!
//! Every substring of three characters or more is a phrase of the text's
//! trigrams, so a search finds its candidate customers in the index instead
//! of reading every customer of the list. The tokenizer is case-sensitive:
//! both sides are folded already (`domain::search::fold`), and its own folding
//! must not differ from ours.
//!
//! PostgreSQL has its trigram indexes (`m20261201_000001_list_indexes`).

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE customer_search USING fts5(
        domain, name_folded,
        content = 'customer', content_rowid = 'id',
        tokenize = 'trigram case_sensitive 1'
    )",
    INSERT_TRIGGER,
    // An index without its own copy of the text forgets a row by being told
    // the row's old text.
    "CREATE TRIGGER customer_search_delete AFTER DELETE ON customer BEGIN
        INSERT INTO customer_search (customer_search, rowid, domain, name_folded)
        VALUES ('delete', OLD.id, OLD.domain, OLD.name_folded);
    END",
    "CREATE TRIGGER customer_search_update AFTER UPDATE OF id, domain, name_folded ON customer
     BEGIN
        INSERT INTO customer_search (customer_search, rowid, domain, name_folded)
        VALUES ('delete', OLD.id, OLD.domain, OLD.name_folded);
        INSERT INTO customer_search (rowid, domain, name_folded)
        VALUES (NEW.id, NEW.domain, NEW.name_folded);
    END",
    // The customers already there.
    REBUILD,
];

/// Indexes each new customer (bulk loaders drop it while loading, then
/// create it again and [`REBUILD`]).
pub const INSERT_TRIGGER: &str = "CREATE TRIGGER customer_search_insert
    AFTER INSERT ON customer BEGIN
        INSERT INTO customer_search (rowid, domain, name_folded)
        VALUES (NEW.id, NEW.domain, NEW.name_folded);
    END";

/// Indexes every customer again, from scratch.
pub const REBUILD: &str = "INSERT INTO customer_search (customer_search) VALUES ('rebuild')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        for statement in SQLITE_UP {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "DROP TRIGGER IF EXISTS customer_search_insert;
                 DROP TRIGGER IF EXISTS customer_search_delete;
                 DROP TRIGGER IF EXISTS customer_search_update;
                 DROP TABLE IF EXISTS customer_search",
            )
            .await?;
        Ok(())
    }
}
