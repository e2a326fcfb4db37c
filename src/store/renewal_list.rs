//! A renewal list: its filters, its order and a place in it, and the SQL
//! condition that selects its rows.
//!
//! Every rule is evaluated in SQL, so that filtering, `totalCount` and pagination
//! agree. Date rules are turned into ranges of `renewal_date` by [`crate::domain`],
//! so each list is an index range scan over `(partner_id, …, id)`.

use chrono::{Datelike, NaiveDate};
use entity::{customer, partner_user, renewal};
use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend, EntityTrait, JoinType, Order, QueryFilter,
    QuerySelect, QueryTrait, RelationTrait, Select,
    sea_query::{BinOper, Expr, ExprTrait, SelectStatement},
};
use serde::{Deserialize, Serialize};

use super::{customer_search, inline, opaque, search_pattern};
use crate::domain::{
    ActionWindow, OwnerParty, RenewalStatus,
    dates::{renewal_date_for_deadline, visible_renewal_dates},
    money::Currency,
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
    /// The query builder's order for this direction.
    pub(super) fn order(self) -> Order {
        match self {
            Self::Asc => Order::Asc,
            Self::Desc => Order::Desc,
        }
    }

    pub(super) fn reversed(self) -> Self {
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
    pub(super) fn column(self) -> Expr {
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

    /// Whether a list ordered by this field can hold a row with `value`: one
    /// of the field's type, a date of years 1–9999 (SQLite compares dates as
    /// their text; PostgreSQL takes no year before 4713 BC), a text without
    /// NUL (PostgreSQL stores none). A cursor with any other value was not
    /// made by this API.
    pub fn accepts(self, value: &SortValue) -> bool {
        match (self, value) {
            (Self::Deadline | Self::RenewalDate, SortValue::Date(date)) => {
                (1..=9999).contains(&date.year())
            }
            (Self::CurrentMrr | Self::RenewalMrr | Self::MrrChange, SortValue::Int(_)) => true,
            (Self::CustomerDomain, SortValue::Text(text)) => !text.contains('\0'),
            _ => false,
        }
    }
}

impl SortValue {
    /// The value, [`opaque`]: a cursor moves with every page, and the plan is
    /// the same for any.
    pub(super) fn into_expr(self, backend: DatabaseBackend) -> Expr {
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
    pub currency: Option<Currency>,
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

/// That a customer's domain or folded name contains `text`, compared with
/// `LIKE`: what a search finds, however its candidates are read.
///
/// On PostgreSQL, a needle shorter than a trigram is looked for with
/// `strpos`, which no index serves: the trigram indexes cannot find it, and
/// handed the planner every customer of every partner to check; the
/// partner's own are read instead. At a million renewals (medians of 5), a
/// page of `zq` with its count took the smallest partner (30k customers)
/// 128 ms instead of 1,480, and `%` 88 instead of 728; the largest (500k)
/// gains nothing (1,483 against 1,457), and its `ma` in customer order took
/// 1,066 ms against 452.
pub(super) fn like_search(backend: DatabaseBackend, text: &str) -> Condition {
    let customer = |column: customer::Column| Expr::col((customer::Entity, column));
    let contains = |column: customer::Column| -> Expr {
        if backend == DatabaseBackend::Postgres && customer_search::phrase(text).is_none() {
            let needle = search_pattern(backend, search::fold(text));
            return Expr::cust_with_exprs("strpos($1, $2) > 0", [customer(column), needle]);
        }
        let pattern = search_pattern(backend, search::like_pattern(text))
            .binary(BinOper::Escape, Expr::Constant(search::LIKE_ESCAPE.into()));
        customer(column).binary(BinOper::Like, pattern)
    };
    Condition::any()
        .add(contains(customer::Column::Domain))
        .add(contains(customer::Column::NameFolded))
}

/// How a list statement reads the list's customers.
#[derive(Debug)]
pub(super) enum Customers {
    /// Joined to the renewals as the planner chooses (on SQLite, steered by
    /// [`RenewalList::customers_first`]), each compared with the filter.
    Joined,
    /// SQLite: a search's candidates from the trigram index first (see
    /// [`Store::search_customers`]).
    SearchIndex,
    /// A derived table standing for `customer` (see [`customer_walk`]).
    ///
    /// [`customer_walk`]: super::customer_walk
    Derived(Box<SelectStatement>),
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
    /// could read it from the tally (see [`Store::renewal_page`](super::Store::renewal_page)).
    pub total: Option<u64>,
}

impl RenewalList {
    /// The list's rows. The values the plan depends on are [`inline`]d, and
    /// so is a search's pattern on PostgreSQL ([`search_pattern`]). With
    /// `search_candidates`, a search also names its candidate customers from
    /// SQLite's index (see [`Store::search_customers`]).
    pub(super) fn condition(&self, backend: DatabaseBackend, search_candidates: bool) -> Condition {
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
            // The partner's user, checked once before any row is read (an
            // uncorrelated condition: both databases test it first): for
            // another's, or none, SQLite read every customer of the window
            // to find nothing (1.9 s at a million renewals).
            let users_own = Expr::exists(
                sea_orm::sea_query::Query::select()
                    .expr(Expr::val(1))
                    .from(partner_user::Entity)
                    .and_where(
                        Expr::col((partner_user::Entity, partner_user::Column::Id))
                            .eq(v(user_id.into())),
                    )
                    .and_where(
                        Expr::col((partner_user::Entity, partner_user::Column::PartnerId))
                            .eq(v(self.partner_id.into())),
                    )
                    .to_owned(),
            );
            all = all.add(notified).add(users_own);
        }
        if let Some(text) = filter.search.as_deref() {
            all = all.add(like_search(backend, text));
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
        if let Some(currency) = &filter.currency {
            all = all.add(renewal(renewal::Column::Currency).eq(v(currency.code().into())));
        }
        all
    }

    /// Whether the filter leaves no renewal to list, whatever the data: no
    /// date of the window (bounds outside it, or reversed), or no status.
    /// Such a list is answered without a statement: PostgreSQL walked half a
    /// million customers in domain order to find nothing in a reversed date
    /// range (3.3 s at a million renewals).
    pub(super) fn matches_nothing(&self) -> bool {
        let (from, to) = self.scanned_dates();
        from > to || self.filter.statuses.as_ref().is_some_and(Vec::is_empty)
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
    pub(super) fn scanned_dates(&self) -> (NaiveDate, NaiveDate) {
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
    pub(super) fn select(
        &self,
        backend: DatabaseBackend,
        page: bool,
        customers: Customers,
    ) -> Select<renewal::Entity> {
        let mut select = renewal::Entity::find();
        let search_index = matches!(customers, Customers::SearchIndex);
        match customers {
            Customers::Derived(table) => {
                let on = Expr::col((renewal::Entity, renewal::Column::CustomerId))
                    .equals((customer::Entity, customer::Column::Id));
                QueryTrait::query(&mut select).join_subquery(
                    JoinType::InnerJoin,
                    *table,
                    customer::Entity,
                    on,
                );
            }
            Customers::Joined
                if page && backend == DatabaseBackend::Sqlite && self.customers_first() =>
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
            }
            Customers::Joined | Customers::SearchIndex => {
                select = select.join(JoinType::InnerJoin, renewal::Relation::Customer.def());
            }
        }
        select.filter(self.condition(backend, search_index))
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
    /// [`Store::search_customers`].)
    pub(super) fn customers_first(&self) -> bool {
        const MIN_DAYS: i64 = 28;
        let (from, to) = self.scanned_dates();
        self.sort == SortField::CustomerDomain && (to - from).num_days() + 1 >= MIN_DAYS
    }
}
