//! A page of a search in customer domain order, on PostgreSQL: the partner's
//! customers walked by domain for a bounded stretch, and, when that leaves the
//! page short, the matching customers, read first (through the trigram
//! indexes, or for a needle under three characters by comparing each of the
//! partner's customers).
//!
//! PostgreSQL's planner takes a word's matches to be spread evenly over the
//! domains, and so walks the partner's customers by domain until the page is
//! full. A word that starts the matching domains (`maple` in
//! `maplebakery.example`) is met only where they sort: at a million renewals
//! a first page of `maple` passed over 291,000 customers (1.5 s). Read from
//! the matching customers instead, it takes 0.3 s; but a page of a word whose
//! matches spread over the domains (`bakery`) takes 5 ms walked and far
//! more from its 50,000 matches, and a word nearly every customer holds
//! (`.example`) would read the whole partner. A bounded walk serves the
//! common words, and the matches serve the rest. (Figures:
//! `docs/performance.md`, "A search in customer order on PostgreSQL".)
//!
//! Each statement reads its customers from a derived table standing for
//! `customer` (see [`Customers::Derived`]), whose `LIMIT` or `OFFSET` keeps
//! the planner from merging it into the page's query, and so from choosing
//! the order of reading for it.

use entity::customer;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr,
    sea_query::{Asterisk, Expr, ExprTrait, Query, SelectStatement},
};

use super::{
    Direction, PageRequest, Position, RenewalList, SortField, SortValue, Store, inline,
    renewal_list::{Customers, like_search},
};

/// How many of the partner's customers a page walks by domain before it
/// reads its rows from the matching customers instead. A walk takes about
/// 4 µs a customer at a million renewals, so at most 20 ms. It fills a page
/// of a word that one customer in 20 holds, spread over the domains (the
/// seeded `bakery` from the start; from the end, the first `…bakery` domains
/// lie 19,000 customers away, and its matches are read).
const WALK: u64 = 5_000;

/// A stretch of the partner's customers in domain order: from a domain (the
/// page's cursor's, which is itself included: its customer may have renewals
/// after the cursor's) in a direction, or from the start.
pub(super) struct Stretch<'a> {
    from: Option<&'a str>,
    direction: Direction,
}

impl<'a> Stretch<'a> {
    /// The stretch a page in customer order goes through, in `direction`.
    pub(super) fn from_page(page: &'a PageRequest, direction: Direction) -> Self {
        let from = match &page.cursor {
            Some(Position {
                value: SortValue::Text(domain),
                ..
            }) => Some(domain.as_str()),
            _ => None,
        };
        Self { from, direction }
    }

    /// The partner's customers in the stretch, in its order.
    fn customers(&self, list: &RenewalList) -> SelectStatement {
        let domain = Expr::col((customer::Entity, customer::Column::Domain));
        let mut query = Query::select();
        query.column(Asterisk).from(customer::Entity).and_where(
            Expr::col((customer::Entity, customer::Column::PartnerId)).eq(inline(list.partner_id)),
        );
        if let Some(from) = self.from {
            let from = Expr::val(from);
            query.and_where(match self.direction {
                Direction::Asc => domain.gte(from),
                Direction::Desc => domain.lte(from),
            });
        }
        query
            .order_by(customer::Column::Domain, self.direction.order())
            .to_owned()
    }

    /// The first [`WALK`] customers of the stretch. (A bound `LIMIT` keeps
    /// the walk an ordered index scan, which the page stops early; a range
    /// of domains instead got a bitmap of all 5,000 and a sort: 70 ms instead
    /// of 2 for a page of `maple` amid its matches.)
    pub(super) fn walked(&self, list: &RenewalList) -> Customers {
        Customers::Derived(Box::new(self.customers(list).limit(WALK).to_owned()))
    }

    /// The customers of the stretch that the list's search matches: a bitmap
    /// of the trigram indexes (or, for a needle under three characters, each
    /// of the partner's customers compared), then a sort.
    pub(super) fn matching(&self, list: &RenewalList, backend: DatabaseBackend) -> Customers {
        let text = list.filter.search.as_deref().unwrap_or_default();
        let mut query = self.customers(list);
        query.cond_where(like_search(backend, text)).offset(0);
        Customers::Derived(Box::new(query))
    }
}

impl RenewalList {
    /// Whether a page of the list walks a bounded stretch of the partner's
    /// customers (see the module's documentation): a search in customer
    /// order on PostgreSQL. A needle under three characters, which the
    /// trigram indexes cannot find, has its matches read by comparing each
    /// of the partner's customers; at a million renewals that took 0.3 s for
    /// `ma` (a sequential scan, warm), where the walk took 1.5–1.6 s.
    pub(super) fn walks_customers(&self, backend: DatabaseBackend) -> bool {
        backend == DatabaseBackend::Postgres
            && self.sort == SortField::CustomerDomain
            && self.filter.search.is_some()
    }
}

impl Store {
    /// Whether the stretch holds more customers than a page walks: an index
    /// range of [`WALK`] entries, read from the index alone.
    pub(super) async fn stretch_outruns_walk(
        &self,
        list: &RenewalList,
        stretch: &Stretch<'_>,
    ) -> Result<bool, DbErr> {
        let backend = self.backend();
        let mut query = stretch.customers(list);
        query.clear_selects().expr(Expr::cust("1"));
        let mut statement = backend.build(&query);
        // Constants in the text: the plan is an index range scan whatever
        // they are, and a bound `OFFSET` would be planned as an unknown.
        statement.sql.push_str(&format!(" LIMIT 1 OFFSET {WALK}"));
        Ok(self.read.query_one_raw(statement).await?.is_some())
    }
}
