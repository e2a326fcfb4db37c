//! A search's candidate customers from `customer_search`, SQLite's trigram
//! index of the customers' domains and folded names (migration
//! `m20261204_000001_customer_search`).
//!
//! The index only narrows: a list still compares every candidate with `LIKE`,
//! so the index decides how fast a search is, never what it finds.

use sea_orm::{
    ConnectionTrait, DbErr, Statement,
    sea_query::{Expr, ExprTrait},
};

use super::{SortField, Store};
use crate::domain::search;

/// Up to how many matching customers (of all partners) a page of a search is
/// read from its candidates, sorted, rather than by walking the list in its
/// order and comparing each customer. The candidates cost in proportion to
/// their number; the walk passes over more customers the fewer match. At a
/// million renewals (SQLite alone, the dashboard partner's visible renewals):
/// 2,084 candidates took 12–19 ms against 62 for the walk, 41,667 took 80 ms
/// against 3.
const MAX_CANDIDATES_FOR_A_PAGE: u64 = 5_000;

/// The same for a page in customer domain order, whose walk goes through the
/// partner's customers by domain: a word that starts the matching domains
/// (`maple` in `maplebakery.example`) is only met where they sort. At a
/// million renewals the walk passed over a quarter of a million customers
/// for `maple`: 0.59–0.62 s for a page, against 46–97 ms from its 41,667
/// candidates (`renewals serve`, one request at a time). The price is paid by
/// words whose matches spread over the domains: `bakery` (50,000 candidates)
/// took 61–64 ms against 5 for the walk, and a word too common for the
/// candidates (`.example`, every customer) 20–25 ms against 4–9, to count
/// them. A page's cost is bounded so, whatever the order of its matches.
const MAX_CANDIDATES_FOR_A_DOMAIN_PAGE: u64 = 100_000;

/// The index query for a search: the folded needle as one phrase of trigrams,
/// which a text holds exactly when it contains the needle. `None` for a needle
/// shorter than a trigram, which the index cannot find.
pub(super) fn phrase(needle: &str) -> Option<String> {
    let folded = search::fold(needle);
    if folded.chars().count() < 3 {
        return None;
    }
    // In a phrase, only the quote is special: it is doubled.
    Some(format!("\"{}\"", folded.replace('"', "\"\"")))
}

/// That the list's customers are among those whose domain or name holds
/// `phrase`. SQLite reads the candidates first and looks up each one's
/// renewals, unless `within_range`: then it reads the list's range of
/// renewals as it would without a search, and passes over those of other
/// customers by their index entry (`+renewal.customer_id`, which no index
/// serves, keeps the planner from starting from the candidates). That suits
/// an action-required list, whose range is short and whose index holds the
/// customer: its count at a million renewals took 19 ms against 35. A long
/// range, read this way, took 215 ms against 45.
pub(super) fn candidates(phrase: String, within_range: bool) -> Expr {
    let customer = if within_range {
        Expr::cust(r#"+"renewal"."customer_id""#)
    } else {
        Expr::col((entity::customer::Entity, entity::customer::Column::Id))
    };
    customer.in_subquery(
        sea_orm::sea_query::Query::select()
            .expr(Expr::cust("rowid"))
            .from("customer_search")
            .and_where(Expr::cust_with_values("customer_search MATCH ?", [phrase]))
            .to_owned(),
    )
}

impl Store {
    /// Whether few enough customers hold `phrase` for a page in `sort` order
    /// to be read from its candidates ([`MAX_CANDIDATES_FOR_A_PAGE`],
    /// [`MAX_CANDIDATES_FOR_A_DOMAIN_PAGE`]). Reads at most that many entries
    /// of the index.
    pub(super) async fn few_customers_hold(
        &self,
        phrase: &str,
        sort: SortField,
    ) -> Result<bool, DbErr> {
        let max = match sort {
            SortField::CustomerDomain => MAX_CANDIDATES_FOR_A_DOMAIN_PAGE,
            _ => MAX_CANDIDATES_FOR_A_PAGE,
        };
        let statement = Statement::from_sql_and_values(
            self.backend(),
            format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM customer_search \
                 WHERE customer_search MATCH ? LIMIT {})",
                max + 1
            ),
            [phrase.into()],
        );
        let n: i64 = match self.read.query_one_raw(statement).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).is_ok_and(|n| n <= max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_folded_quoted_and_at_least_a_trigram() {
        assert_eq!(phrase("Maple").as_deref(), Some("\"maple\""));
        assert_eq!(phrase("ÉCO").as_deref(), Some("\"eco\""));
        assert_eq!(phrase("ＳＴＲAßE").as_deref(), Some("\"strasse\""));
        assert_eq!(
            phrase("a \"b\" OR c*").as_deref(),
            Some("\"a \"\"b\"\" or c*\"")
        );
        assert_eq!(phrase("ab"), None);
        assert_eq!(phrase("éé"), None);
    }
}
