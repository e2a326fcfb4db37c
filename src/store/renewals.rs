//! Renewal lists (filtered, ordered, keyset-paginated), lookups and product renewals.
//!
//! Every rule is evaluated in SQL, so that filtering, `totalCount` and pagination
//! agree. Date rules are turned into ranges of `renewal_date` by [`crate::domain`],
//! so each list is an index range scan over `(partner_id, …, id)`.

use std::sync::Arc;

use chrono::NaiveDate;
use entity::{customer, product, product_renewal, renewal};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, JoinType, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select,
    Statement,
    sea_query::{Alias, BinOper, Expr, ExprTrait, QueryStatementBuilder},
};
use serde::{Deserialize, Serialize};

use super::{Store, customer_search, inline, one_of, opaque, rows, search_pattern};
use crate::domain::{
    ActionWindow, OwnerParty, RenewalStatus,
    dates::{renewal_date_for_deadline, visible_renewal_dates},
    owner::OwnerChoice,
    search,
};

/// What a list of renewals can be ordered by. Ties are broken by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortField {
    Deadline,
    RenewalDate,
    CurrentMrr,
    RenewalMrr,
    MrrChange,
    CustomerDomain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    fn reversed(self) -> Self {
        match self {
            Self::Asc => Self::Desc,
            Self::Desc => Self::Asc,
        }
    }
}

/// The value of the sort field of one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortValue {
    Date(NaiveDate),
    Int(i64),
    Text(String),
}

/// A place in a list: the sort value and id of a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub value: SortValue,
    pub id: i64,
}

impl SortField {
    /// Where a row stands in a list ordered by this field.
    pub fn position_of(self, renewal: &renewal::Model, customer: &customer::Model) -> Position {
        let value = match self {
            Self::Deadline | Self::RenewalDate => SortValue::Date(renewal.renewal_date),
            Self::CurrentMrr => SortValue::Int(renewal.current_mrr_minor),
            Self::RenewalMrr => SortValue::Int(renewal.renewal_mrr_minor),
            Self::MrrChange => SortValue::Int(renewal.mrr_change_minor),
            Self::CustomerDomain => SortValue::Text(customer.domain.clone()),
        };
        Position {
            value,
            id: renewal.id,
        }
    }

    /// The column behind the field. The deadline is a fixed offset of the renewal
    /// date, so both order the same.
    fn column(self) -> Expr {
        match self {
            Self::Deadline | Self::RenewalDate => {
                Expr::col((renewal::Entity, renewal::Column::RenewalDate))
            }
            Self::CurrentMrr => Expr::col((renewal::Entity, renewal::Column::CurrentMrrMinor)),
            Self::RenewalMrr => Expr::col((renewal::Entity, renewal::Column::RenewalMrrMinor)),
            Self::MrrChange => Expr::col((renewal::Entity, renewal::Column::MrrChangeMinor)),
            Self::CustomerDomain => Expr::col((customer::Entity, customer::Column::Domain)),
        }
    }

    fn accepts(self, value: &SortValue) -> bool {
        matches!(
            (self, value),
            (Self::Deadline | Self::RenewalDate, SortValue::Date(_))
                | (
                    Self::CurrentMrr | Self::RenewalMrr | Self::MrrChange,
                    SortValue::Int(_)
                )
                | (Self::CustomerDomain, SortValue::Text(_))
        )
    }
}

impl SortValue {
    /// The value, [`opaque`]: a cursor moves with every page, and the plan is
    /// the same for any.
    fn into_expr(self, backend: DatabaseBackend) -> Expr {
        match self {
            Self::Date(date) => opaque(backend, date),
            Self::Int(n) => opaque(backend, n),
            Self::Text(text) => opaque(backend, text),
        }
    }
}

/// Filters of a renewal list; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct RenewalFilter {
    pub action_required: Option<bool>,
    pub owner_party: Option<OwnerParty>,
    pub notify_user_id: Option<i64>,
    pub search: Option<String>,
    pub statuses: Option<Vec<RenewalStatus>>,
    pub deadline_from: Option<NaiveDate>,
    pub deadline_to: Option<NaiveDate>,
    pub renewal_date_from: Option<NaiveDate>,
    pub renewal_date_to: Option<NaiveDate>,
    pub include_ended_services: bool,
}

/// One partner's upcoming renewals as of `today`, filtered and ordered.
#[derive(Clone, Debug)]
pub struct RenewalList {
    pub partner_id: i64,
    pub today: NaiveDate,
    /// The partner's default owner, which the owner filters resolve against.
    pub default_owner: OwnerChoice,
    pub filter: RenewalFilter,
    pub sort: SortField,
    pub direction: Direction,
}

/// Which page: `limit` rows after `cursor` (forward) or before it (backward).
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub backward: bool,
    pub limit: u64,
    pub cursor: Option<Position>,
}

/// A page of rows in list order, and whether more rows lie beyond it in the
/// direction of travel.
#[derive(Debug)]
pub struct RenewalPage {
    pub rows: Vec<(renewal::Model, customer::Model)>,
    pub has_more: bool,
    /// How many renewals the list holds, when it was asked for and the page
    /// could read it from the tally (see [`Store::renewal_page`]).
    pub total: Option<u64>,
}

impl RenewalList {
    /// The list's rows. The values the plan depends on are [`inline`]d, and
    /// so is a search's pattern on PostgreSQL ([`search_pattern`]). With
    /// `search_candidates`, a search also names its candidate customers from
    /// SQLite's index (see [`Store::search_candidates`]).
    fn condition(&self, backend: DatabaseBackend, search_candidates: bool) -> Condition {
        let (from, to) = self.scanned_dates();
        let filter = &self.filter;
        let v = |value: sea_orm::Value| inline(value);
        let renewal = |column: renewal::Column| Expr::col((renewal::Entity, column));
        let customer = |column: customer::Column| Expr::col((customer::Entity, column));
        // The partner is named on both tables (they always agree: the foreign key
        // is `(customer_id, partner_id)`), so that the planner can start from
        // either side's partner-leading index.
        let mut all = Condition::all()
            .add(renewal(renewal::Column::PartnerId).eq(v(self.partner_id.into())))
            .add(customer(customer::Column::PartnerId).eq(v(self.partner_id.into())))
            .add(renewal(renewal::Column::RenewalDate).between(v(from.into()), v(to.into())));
        if !filter.include_ended_services {
            all = all.add(customer::Column::ServicesEndedAt.is_null());
        }
        if let Some(wanted) = filter.action_required {
            let pending_and_serviced = Condition::all()
                .add(renewal(renewal::Column::Status).eq(v(RenewalStatus::Pending.as_str().into())))
                .add(customer::Column::ServicesEndedAt.is_null());
            all = all.add(if wanted {
                // The dates are the action window's already (`scanned_dates`).
                pending_and_serviced
            } else {
                let window = ActionWindow::on(self.today);
                pending_and_serviced
                    .add(
                        renewal(renewal::Column::RenewalDate)
                            .between(v(window.earliest.into()), v(window.latest.into())),
                    )
                    .not()
            });
        }
        if let Some(party) = filter.owner_party {
            let mut owner = Condition::any()
                .add(customer(customer::Column::OwnerParty).eq(v(party.as_str().into())));
            if self.default_owner.party == party {
                owner = owner.add(customer::Column::OwnerParty.is_null());
            }
            all = all.add(owner);
        }
        if let Some(user_id) = filter.notify_user_id {
            let mut notified = Condition::any().add(
                Condition::all()
                    .add(customer::Column::OwnerParty.is_not_null())
                    .add(customer(customer::Column::OwnerNotifyUserId).eq(v(user_id.into()))),
            );
            if self.default_owner.notify_user_id == Some(user_id) {
                notified = notified.add(customer::Column::OwnerParty.is_null());
            }
            all = all.add(notified);
        }
        if let Some(text) = filter.search.as_deref() {
            let pattern = || {
                search_pattern(backend, search::like_pattern(text))
                    .binary(BinOper::Escape, Expr::Constant(search::LIKE_ESCAPE.into()))
            };
            all = all.add(
                Condition::any()
                    .add(customer(customer::Column::Domain).binary(BinOper::Like, pattern()))
                    .add(customer(customer::Column::NameFolded).binary(BinOper::Like, pattern())),
            );
            if let Some(phrase) = customer_search::phrase(text).filter(|_| search_candidates) {
                let within_range = filter.action_required == Some(true);
                all = all.add(customer_search::candidates(phrase, within_range));
            }
        }
        if let Some(statuses) = &filter.statuses {
            all = all.add(
                renewal(renewal::Column::Status)
                    .is_in(statuses.iter().map(|s| v(s.as_str().into()))),
            );
        }
        all
    }

    /// The range of renewal dates a list statement reads: [`renewal_dates`],
    /// narrowed to the action window for `actionRequired: true`. One range
    /// rather than two over the same column: the dashboard's page cost
    /// PostgreSQL 0.2 ms instead of 0.7 at 1M renewals (`EXPLAIN ANALYZE`), and
    /// SQLite, which with two ranges read the renewals by date and then their
    /// rows for the status, now reads the status index. A page of one user's
    /// renewals, which passes over 1,900 of them: 6 ms instead of 16 on
    /// SQLite, 11 instead of 20–24 on PostgreSQL.
    ///
    /// [`renewal_dates`]: Self::renewal_dates
    fn scanned_dates(&self) -> (NaiveDate, NaiveDate) {
        let (from, to) = self.renewal_dates();
        if self.filter.action_required != Some(true) {
            return (from, to);
        }
        let window = ActionWindow::on(self.today);
        (Ord::max(from, window.earliest), Ord::min(to, window.latest))
    }

    /// The renewal dates the list covers, `from..=to`: the visible ones (see
    /// [`visible_renewal_dates`]), narrowed by the filter's date bounds. Only
    /// dates of the visible window reach a statement, whatever the bounds: a
    /// deadline of `9999-12-31` is a renewal date in year 10000, which neither
    /// database writes as it does 2027. With no date left, `from > to`.
    pub(super) fn renewal_dates(&self) -> (NaiveDate, NaiveDate) {
        let filter = &self.filter;
        let (first, last) = visible_renewal_dates(self.today);
        let from = [
            filter.deadline_from.map(renewal_date_for_deadline),
            filter.renewal_date_from,
        ]
        .into_iter()
        .flatten()
        .fold(first, Ord::max);
        let to = [
            filter.deadline_to.map(renewal_date_for_deadline),
            filter.renewal_date_to,
        ]
        .into_iter()
        .flatten()
        .fold(last, Ord::min);
        if from > to {
            // The window reversed: as empty, with dates of the window.
            return (last, first);
        }
        (from, to)
    }

    /// The list's renewals joined to their customers, `FROM renewal` (so that
    /// a count reads the renewal side's range), or for a page in customer
    /// order, see [`customers_first`](Self::customers_first).
    fn select(
        &self,
        backend: DatabaseBackend,
        page: bool,
        search_candidates: bool,
    ) -> Select<renewal::Entity> {
        let mut select = renewal::Entity::find();
        if page
            && backend == DatabaseBackend::Sqlite
            && !search_candidates
            && self.customers_first()
        {
            // SQLite joins the tables of a `CROSS JOIN` in the order written.
            // (sea-query writes no `ON` for one: the join is a condition.)
            QueryTrait::query(&mut select)
                .from_clear()
                .from(customer::Entity)
                .cross_join(renewal::Entity)
                .and_where(
                    Expr::col((renewal::Entity, renewal::Column::CustomerId))
                        .equals((customer::Entity, customer::Column::Id)),
                );
        } else {
            select = select.join(JoinType::InnerJoin, renewal::Relation::Customer.def());
        }
        select.filter(self.condition(backend, search_candidates))
    }

    /// Whether SQLite should read a page by walking the partner's customers
    /// in domain order, each one's renewals looked up: a page in customer
    /// order over a range of a month or more. SQLite's planner starts from the
    /// renewals' range otherwise, and sorts the whole range by domain: 1.1 s
    /// for a page at a million renewals, against 2 ms. Over a shorter range,
    /// few customers have a renewal in it, and the walk would pass most of
    /// them by (0.5 s for one day's rare status, against 1 ms from the range).
    /// PostgreSQL's planner weighs both orders itself. (A search's page read
    /// from its candidates starts from them instead, see
    /// [`Store::search_candidates`].)
    fn customers_first(&self) -> bool {
        const MIN_DAYS: i64 = 28;
        let (from, to) = self.scanned_dates();
        self.sort == SortField::CustomerDomain && (to - from).num_days() + 1 >= MIN_DAYS
    }
}

/// The column of a page's rows that holds the list's total.
const TOTAL: &str = "list_total";

fn order(direction: Direction) -> Order {
    match direction {
        Direction::Asc => Order::Asc,
        Direction::Desc => Order::Desc,
    }
}

/// [`Store::product_renewals_with_products`] on PostgreSQL: the columns of
/// `product_renewal`, then of `product`, as [`rows`] reads them.
///
/// The partner's own renewals among the ids are read first, into an array
/// (an `InitPlan`, 50 lookups of `renewal`'s key); the lines are read for
/// those, and meet their products in a hash join. Joined with `renewal`
/// instead, whose bound ids the generic plan takes to leave a line or two,
/// the lines were joined in nested loops: the products scanned again for each
/// of a page's 150 lines, or the page's lines filtered again for each of its
/// 50 renewals (7,250 comparisons), depending on the data set's size. The
/// dashboard's backends took 0.75–0.80 ms of CPU per request at 10k and 1M
/// renewals that way, 0.48–0.53 this way (4 clients, interleaved runs). The
/// ids bound `renewal`: otherwise a generic plan read all of the partner's
/// renewals (6 ms instead of 0.4 at 100k renewals).
const PG_PRODUCT_RENEWALS: &str = r#"SELECT "product_renewal"."id", "product_renewal"."renewal_id",
    "product_renewal"."product_id", "product_renewal"."quantity", "product_renewal"."current_mrr_minor",
    "product_renewal"."renewal_mrr_minor", "product"."id", "product"."sku", "product"."name"
FROM "product_renewal" INNER JOIN "product" ON "product_renewal"."product_id" = "product"."id"
WHERE "product_renewal"."renewal_id" = ANY(ARRAY(
    SELECT "renewal"."id" FROM "renewal" WHERE "renewal"."id" = ANY($2) AND "renewal"."partner_id" = $1
))
ORDER BY "product_renewal"."renewal_id", "product_renewal"."id""#;

impl Store {
    /// One page of the list; `with_total`, also how many renewals the list
    /// holds, read from the tally by the same statement (one statement fewer
    /// than [`Store::renewal_count`], and on SQLite one hand-off fewer to the
    /// reader's thread). Not when the filter keeps the tally out, nor on an
    /// empty page, which has no row to carry it.
    #[tracing::instrument(level = "debug", skip_all, fields(partner_id = list.partner_id))]
    pub async fn renewal_page(
        &self,
        list: &RenewalList,
        page: &PageRequest,
        with_total: bool,
    ) -> Result<RenewalPage, DbErr> {
        let direction = if page.backward {
            list.direction.reversed()
        } else {
            list.direction
        };
        let backend = self.backend();
        let id = Expr::col((renewal::Entity, renewal::Column::Id));
        let search_candidates = self.search_candidates(list, true).await?;
        let mut select = list.select(backend, true, search_candidates);
        if let Some(cursor) = &page.cursor {
            if !list.sort.accepts(&cursor.value) {
                return Ok(RenewalPage {
                    rows: Vec::new(),
                    has_more: false,
                    total: None,
                });
            }
            let row = Expr::tuple([list.sort.column(), id.clone()]);
            let at = Expr::tuple([
                cursor.value.clone().into_expr(backend),
                opaque(backend, cursor.id),
            ]);
            select = select.filter(match direction {
                Direction::Asc => row.gt(at),
                Direction::Desc => row.lt(at),
            });
        }
        let mut query = select
            .order_by(list.sort.column(), order(direction))
            .order_by(id, order(direction))
            .select_also(customer::Entity)
            .into_query();
        let tally = with_total.then(|| list.tally(backend)).flatten();
        let counted = tally.is_some();
        if let Some(tally) = tally {
            // An uncorrelated scalar subquery: both databases run it once.
            query.expr_as(
                Expr::SubQuery(None, Box::new(tally.into_sub_query_statement())),
                Alias::new(TOTAL),
            );
        }
        // The page size in the text, as an [`inline`]d value: SQLite's planner
        // reads `LIMIT ?` too.
        let mut statement = backend.build(&query);
        statement
            .sql
            .push_str(&format!(" LIMIT {}", page.limit + 1));
        let results = self.read.query_all_raw(statement).await?;
        let total = match results.first() {
            Some(row) if counted => {
                Some(u64::try_from(row.try_get::<i64>("", TOTAL)?).unwrap_or(0))
            }
            _ => None,
        };
        let mut rows = results
            .iter()
            .map(rows::renewal_with_customer)
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = rows.len() as u64 > page.limit;
        rows.truncate(page.limit as usize);
        if page.backward {
            rows.reverse();
        }
        Ok(RenewalPage {
            rows,
            has_more,
            total,
        })
    }

    /// How many renewals the list holds, over all pages: from `renewal_tally`
    /// when the filter allows (a sum over at most a row per day and status of
    /// the window, whatever the number of renewals), else by counting them.
    #[tracing::instrument(level = "debug", skip_all, fields(partner_id = list.partner_id))]
    pub async fn renewal_count(&self, list: &RenewalList) -> Result<u64, DbErr> {
        let Some(tally) = list.tally(self.backend()) else {
            return self.renewal_count_exact(list).await;
        };
        let row = self.read.query_one(&tally).await?;
        let n: i64 = match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// [`Store::renewal_count`] by counting the matching renewals (any filter).
    #[tracing::instrument(level = "debug", skip_all, fields(partner_id = list.partner_id))]
    pub async fn renewal_count_exact(&self, list: &RenewalList) -> Result<u64, DbErr> {
        let search_candidates = self.search_candidates(list, false).await?;
        list.select(self.backend(), false, search_candidates)
            .count(&self.read)
            .await
    }

    /// Whether a statement of the list should read a search's candidate
    /// customers from SQLite's trigram index (`customer_search`) rather than
    /// compare every customer of the list: always for a count, which reads
    /// the whole list otherwise (at a million renewals, a search's count took
    /// up to 1 s), and for a page when few customers match (more of them in
    /// customer domain order, where a word's matches may all sort together).
    /// A page of a common word is found sooner in the list's order: its first
    /// rows match. Only for a needle of three characters or more, which the
    /// index can find.
    async fn search_candidates(&self, list: &RenewalList, page: bool) -> Result<bool, DbErr> {
        if self.backend() != DatabaseBackend::Sqlite {
            return Ok(false);
        }
        let Some(phrase) = list
            .filter
            .search
            .as_deref()
            .and_then(customer_search::phrase)
        else {
            return Ok(false);
        };
        if !page {
            return Ok(true);
        }
        self.few_customers_hold(&phrase, list.sort).await
    }

    /// The partner's visible renewals among `ids`, with their customers.
    #[tracing::instrument(level = "debug", skip(self, ids))]
    pub async fn renewals_by_ids(
        &self,
        partner_id: i64,
        today: NaiveDate,
        ids: &[i64],
    ) -> Result<Vec<(renewal::Model, customer::Model)>, DbErr> {
        let (first, last) = visible_renewal_dates(today);
        Ok(renewal::Entity::find()
            .filter(renewal::Column::PartnerId.eq(partner_id))
            .filter(renewal::Column::Id.is_in(ids.iter().copied()))
            .filter(renewal::Column::RenewalDate.between(first, last))
            .find_also_related(customer::Entity)
            .all(&self.read)
            .await?
            .into_iter()
            .filter_map(|(renewal, customer)| Some((renewal, customer?)))
            .collect())
    }

    /// The visible renewals of some of the partner's customers, soonest first.
    #[tracing::instrument(level = "debug", skip(self, customer_ids))]
    pub async fn renewals_of_customers(
        &self,
        partner_id: i64,
        today: NaiveDate,
        customer_ids: &[i64],
    ) -> Result<Vec<renewal::Model>, DbErr> {
        let (first, last) = visible_renewal_dates(today);
        renewal::Entity::find()
            .filter(renewal::Column::PartnerId.eq(partner_id))
            .filter(renewal::Column::CustomerId.is_in(customer_ids.iter().copied()))
            .filter(renewal::Column::RenewalDate.between(first, last))
            .order_by_asc(renewal::Column::RenewalDate)
            .order_by_asc(renewal::Column::Id)
            .all(&self.read)
            .await
    }

    /// The product renewals of some of the partner's renewals, each with its
    /// product: one statement for what the dashboard shows under each renewal.
    /// In renewal order, then their own: SQLite walks the index on
    /// `renewal_id` in that order and sorts nothing. Ordered by their own ids,
    /// with the ids bound on both tables, its virtual machine ran 5,774 steps
    /// for a dashboard page at 100k renewals; this way, 3,176.
    #[tracing::instrument(level = "debug", skip(self, renewal_ids))]
    pub async fn product_renewals_with_products(
        &self,
        partner_id: i64,
        renewal_ids: &[i64],
    ) -> Result<Vec<(product_renewal::Model, Arc<product::Model>)>, DbErr> {
        let backend = self.backend();
        let rows = if backend == DatabaseBackend::Postgres {
            let values = [partner_id.into(), renewal_ids.to_vec().into()];
            let statement = Statement::from_sql_and_values(backend, PG_PRODUCT_RENEWALS, values);
            self.read.query_all_raw(statement).await?
        } else {
            let renewal_id =
                Expr::col((product_renewal::Entity, product_renewal::Column::RenewalId));
            let query = product_renewal::Entity::find()
                .join(
                    JoinType::InnerJoin,
                    product_renewal::Relation::Renewal.def(),
                )
                .join(
                    JoinType::InnerJoin,
                    product_renewal::Relation::Product.def(),
                )
                .filter(
                    Expr::col((renewal::Entity, renewal::Column::PartnerId))
                        .eq(self.opaque(partner_id)),
                )
                .filter(one_of(backend, renewal_id, renewal_ids))
                .order_by_asc(product_renewal::Column::RenewalId)
                .order_by_asc(product_renewal::Column::Id)
                .select_also(product::Entity)
                .into_query();
            self.read.query_all(&query).await?
        };
        rows::product_renewals_with_products(&rows)
    }

    /// Products of the vendor's catalogue (shared by all partners).
    #[tracing::instrument(level = "debug", skip(self, ids))]
    pub async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<product::Model>, DbErr> {
        product::Entity::find()
            .filter(product::Column::Id.is_in(ids.iter().copied()))
            .all(&self.read)
            .await
    }
}
