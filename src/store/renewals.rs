//! Renewals read for the API: a page of a list (see [`renewal_list`]) and its
//! count, renewals by id or by customer, and product renewals with their
//! products.
//!
//! [`renewal_list`]: super::renewal_list

use std::sync::Arc;

use chrono::NaiveDate;
use entity::{customer, product, product_renewal, renewal};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait, Statement,
    sea_query::{Alias, Expr, ExprTrait, QueryStatementBuilder},
};

use super::{
    Store, customer_search,
    customer_walk::Stretch,
    one_of, opaque,
    renewal_list::{Customers, Direction, PageRequest, RenewalList, RenewalPage, SortField},
    rows,
};
use crate::domain::dates::visible_renewal_dates;

/// The column of a page's rows that holds the list's total.
const TOTAL: &str = "list_total";

/// How many times a page that comes back empty is read with its total before
/// the total is left to a statement of its own (see [`Store::renewal_page`]).
/// A change lands between the two statements of a try now and then; with 3
/// tries, a test changing a list as fast as it could still saw a total above
/// an empty page in one run of twelve.
const EMPTY_PAGE_READS: usize = 8;

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
    ///
    /// A search in customer order on PostgreSQL walks a bounded stretch of
    /// the partner's customers, and when that leaves the page short and more
    /// customers lie beyond, reads the page from the matching customers
    /// instead (see `store::customer_walk`).
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
        if let Some(cursor) = &page.cursor
            && !list.sort.accepts(&cursor.value)
        {
            return Ok(RenewalPage {
                rows: Vec::new(),
                has_more: false,
                total: None,
            });
        }
        if list.matches_nothing() {
            return Ok(RenewalPage {
                rows: Vec::new(),
                has_more: false,
                total: with_total.then_some(0),
            });
        }
        let backend = self.backend();
        let (mut results, total) = if list.walks_customers(backend) {
            let stretch = Stretch::from_page(page, direction);
            let walked = stretch.walked(list);
            let (rows, _) = self.page_rows(list, page, direction, walked, false).await?;
            if rows.len() as u64 > page.limit || !self.stretch_outruns_walk(list, &stretch).await? {
                (rows, None)
            } else {
                let matching = stretch.matching(list, backend);
                self.page_rows(list, page, direction, matching, false)
                    .await?
            }
        } else {
            let customers = self.search_customers(list, true).await?;
            let mut read = self
                .page_rows(list, page, direction, customers, with_total)
                .await?;
            // An empty page has no row to carry the list's total: it is read
            // with the page's emptiness by one statement, or the page again
            // if it is no longer empty. Counted apart, after a change, it
            // said 8 above an empty page.
            let tallied = list.tally(backend).is_some();
            for _ in 0..EMPTY_PAGE_READS {
                if !(with_total && tallied && read.0.is_empty()) {
                    break;
                }
                if let Some(total) = self.empty_page_total(list, page, direction).await? {
                    read.1 = Some(total);
                    break;
                }
                read = self
                    .page_rows(list, page, direction, Customers::Joined, with_total)
                    .await?;
            }
            read
        };
        let has_more = results.len() as u64 > page.limit;
        results.truncate(page.limit as usize);
        let mut rows = results
            .iter()
            .map(rows::renewal_with_customer)
            .collect::<Result<Vec<_>, _>>()?;
        if page.backward {
            rows.reverse();
        }
        Ok(RenewalPage {
            rows,
            has_more,
            total,
        })
    }

    /// The page's rows, and one more if there is one, from its place on in
    /// `direction`, reading the list's customers as `customers` says;
    /// `with_total`, also the list's total from the tally, if the filter
    /// allows (see [`Store::renewal_page`]).
    async fn page_rows(
        &self,
        list: &RenewalList,
        page: &PageRequest,
        direction: Direction,
        customers: Customers,
        with_total: bool,
    ) -> Result<(Vec<QueryResult>, Option<u64>), DbErr> {
        let backend = self.backend();
        let id = Expr::col((renewal::Entity, renewal::Column::Id));
        let mut query = self
            .rows_after_cursor(list, page, direction, customers)
            .order_by(list.sort.column(), direction.order())
            .order_by(id, direction.order())
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
        Ok((results, total))
    }

    /// The total of a list whose page came back empty, read by one statement
    /// with whether the page is still empty; `None` if it is not (the list
    /// changed meanwhile) or the list has no tally.
    async fn empty_page_total(
        &self,
        list: &RenewalList,
        page: &PageRequest,
        direction: Direction,
    ) -> Result<Option<u64>, DbErr> {
        let backend = self.backend();
        let Some(tally) = list.tally(backend) else {
            return Ok(None);
        };
        let listed = self
            .rows_after_cursor(list, page, direction, Customers::Joined)
            .select_only()
            .column(renewal::Column::Id)
            .into_query();
        let mut query = sea_orm::sea_query::Query::select();
        query
            .expr_as(
                Expr::SubQuery(None, Box::new(tally.into_sub_query_statement())),
                Alias::new(TOTAL),
            )
            .expr_as(Expr::exists(listed), Alias::new("listed"));
        let Some(row) = self.read.query_one(&query).await? else {
            return Ok(None);
        };
        if row.try_get::<bool>("", "listed")? {
            return Ok(None);
        }
        Ok(Some(
            u64::try_from(row.try_get::<i64>("", TOTAL)?).unwrap_or(0),
        ))
    }

    /// The list's rows from the page's cursor on, in `direction`.
    fn rows_after_cursor(
        &self,
        list: &RenewalList,
        page: &PageRequest,
        direction: Direction,
        customers: Customers,
    ) -> sea_orm::Select<renewal::Entity> {
        let backend = self.backend();
        let id = Expr::col((renewal::Entity, renewal::Column::Id));
        let mut select = list.select(backend, true, customers);
        if let Some(cursor) = &page.cursor {
            let row = Expr::tuple([list.sort.column(), id.clone()]);
            let at = Expr::tuple([
                cursor.value.clone().into_expr(backend),
                opaque(backend, cursor.id),
            ]);
            select = select.filter(match direction {
                Direction::Asc => row.gt(at),
                Direction::Desc => row.lt(at),
            });
            if list.sort == SortField::CustomerDomain {
                // The row spans both tables, so no index can start at it: the
                // domain alone bounds the walk over the customers' index.
                // Without it, a page at the middle of a million renewals passed
                // over every customer before it (3.4–3.9 s on PostgreSQL).
                let domain = cursor.value.clone().into_expr(backend);
                select = select.filter(match direction {
                    Direction::Asc => list.sort.column().gte(domain),
                    Direction::Desc => list.sort.column().lte(domain),
                });
            }
        }
        select
    }

    /// How many renewals the list holds, over all pages: from `renewal_tally`
    /// when the filter allows (a sum over at most a row per day and status of
    /// the window, whatever the number of renewals), else by counting them.
    #[tracing::instrument(level = "debug", skip_all, fields(partner_id = list.partner_id))]
    pub async fn renewal_count(&self, list: &RenewalList) -> Result<u64, DbErr> {
        if list.matches_nothing() {
            return Ok(0);
        }
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
        if list.matches_nothing() {
            return Ok(0);
        }
        let customers = self.search_customers(list, false).await?;
        list.select(self.backend(), false, customers)
            .count(&self.read)
            .await
    }

    /// How a statement of the list should read its customers: on SQLite, a
    /// search's candidates from the trigram index (`customer_search`) rather
    /// than every customer of the list compared: always for a count, which reads
    /// the whole list otherwise (at a million renewals, a search's count took
    /// up to 1 s), and for a page when few customers match (more of them in
    /// customer domain order, where a word's matches may all sort together).
    /// A page of a common word is found sooner in the list's order: its first
    /// rows match. Only for a needle of three characters or more, which the
    /// index can find.
    async fn search_customers(&self, list: &RenewalList, page: bool) -> Result<Customers, DbErr> {
        if self.backend() != DatabaseBackend::Sqlite {
            return Ok(Customers::Joined);
        }
        let Some(phrase) = list
            .filter
            .search
            .as_deref()
            .and_then(customer_search::phrase)
        else {
            return Ok(Customers::Joined);
        };
        if !page || self.few_customers_hold(&phrase, list.sort).await? {
            return Ok(Customers::SearchIndex);
        }
        Ok(Customers::Joined)
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
