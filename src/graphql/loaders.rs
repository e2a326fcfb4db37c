//! Per-request DataLoaders. They carry the partner scope and cache only for the
//! request, so nothing leaks across requests or partners.
//!
//! Each loader returns an entry for every key it was asked for (`None` or an
//! empty list for "nothing"), so misses are cached too and never re-queried.

use std::{collections::HashMap, hash::Hash, sync::Arc};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use chrono::NaiveDate;
use entity::{customer, customer_event, partner_user, product, product_renewal, renewal};
use sea_orm::DbErr;

use crate::{
    error::Error,
    store::{HistoryPage, Store},
};

pub type Loads<L> = DataLoader<L, HashMapCache>;

/// The loaders of one request.
pub struct Loaders {
    pub customers: Loads<CustomerLoader>,
    pub users: Loads<PartnerUserLoader>,
    pub products: Loads<ProductLoader>,
    pub product_renewals: Loads<ProductRenewalLoader>,
    pub customer_renewals: Loads<CustomerRenewalsLoader>,
    pub customer_history: Loads<CustomerHistoryLoader>,
}

/// What every loader needs: the store and the request's scope.
#[derive(Clone)]
pub struct Scope {
    store: Store,
    partner_id: i64,
    today: NaiveDate,
}

fn loader<K, L>(loader: L) -> Loads<L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

impl Loaders {
    pub fn new(store: &Store, partner_id: i64, today: NaiveDate) -> Self {
        let scope = Scope {
            store: store.clone(),
            partner_id,
            today,
        };
        Self {
            customers: loader(CustomerLoader(scope.clone())),
            users: loader(PartnerUserLoader(scope.clone())),
            products: loader(ProductLoader(scope.clone())),
            product_renewals: loader(ProductRenewalLoader(scope.clone())),
            customer_renewals: loader(CustomerRenewalsLoader(scope.clone())),
            customer_history: loader(CustomerHistoryLoader(scope)),
        }
    }

    /// Forgets everything loaded so far: a mutation's payload reads what the
    /// mutations before it in the operation wrote, not what their payloads
    /// read before.
    pub fn forget_all(&self) {
        self.customers.clear::<i64>();
        self.users.clear::<i64>();
        self.products.clear::<i64>();
        self.product_renewals.clear::<i64>();
        self.customer_renewals.clear::<i64>();
        self.customer_history.clear::<HistoryKey>();
    }
}

/// The row a loader holds for `key`, if there is one.
pub async fn row_of<L, V>(loader: &Loads<L>, key: i64) -> Result<Option<V>, Error>
where
    L: Loader<i64, Value = Option<V>, Error = Arc<DbErr>>,
    V: Send + Sync + Clone + 'static,
{
    Ok(loader.load_one(key).await?.flatten())
}

/// The rows a list loader holds for `key`; empty when there are none.
pub async fn list_of<L, V>(loader: &Loads<L>, key: i64) -> Result<Vec<V>, Error>
where
    L: Loader<i64, Value = Vec<V>, Error = Arc<DbErr>>,
    V: Send + Sync + Clone + 'static,
{
    Ok(loader.load_one(key).await?.unwrap_or_default())
}

/// Loads `keys` now, in one batch, into the loader's cache, so that the
/// resolvers that follow find them there. (`load_many` would wait for the
/// loader's batching delay, 1 ms, on a task of its own.)
pub async fn prime<K, L>(loader: &Loads<L>, keys: Vec<K>) -> Result<(), Error>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Arc<DbErr>>,
{
    if keys.is_empty() {
        return Ok(());
    }
    let values = loader.loader().load(&keys).await?;
    loader.feed_many(values).await;
    Ok(())
}

/// One value per key: the row with that id, or `None`.
fn by_id<V>(keys: &[i64], rows: Vec<V>, id: impl Fn(&V) -> i64) -> HashMap<i64, Option<V>> {
    let mut map: HashMap<i64, Option<V>> = keys.iter().map(|k| (*k, None)).collect();
    for row in rows {
        map.insert(id(&row), Some(row));
    }
    map
}

/// One list per key: the rows whose group is that key, in query order.
fn grouped<K: Hash + Eq + Copy, V>(
    keys: &[K],
    rows: Vec<V>,
    group: impl Fn(&V) -> Option<K>,
) -> HashMap<K, Vec<V>> {
    let mut map: HashMap<K, Vec<V>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        if let Some(list) = group(&row).and_then(|k| map.get_mut(&k)) {
            list.push(row);
        }
    }
    map
}

type LoadResult<V> = Result<HashMap<i64, V>, Arc<DbErr>>;

/// Customers by id.
pub struct CustomerLoader(Scope);

impl Loader<i64> for CustomerLoader {
    type Value = Option<customer::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        let s = &self.0;
        let rows = s.store.customers_by_ids(s.partner_id, keys).await?;
        Ok(by_id(keys, rows, |c| c.id))
    }
}

/// Partner users by id.
pub struct PartnerUserLoader(Scope);

impl Loader<i64> for PartnerUserLoader {
    type Value = Option<partner_user::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        let s = &self.0;
        let rows = s.store.partner_users_by_ids(s.partner_id, keys).await?;
        Ok(by_id(keys, rows, |u| u.id))
    }
}

/// Products by id.
pub struct ProductLoader(Scope);

impl Loader<i64> for ProductLoader {
    type Value = Option<product::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        let rows = self.0.store.products_by_ids(keys).await?;
        Ok(by_id(keys, rows, |p| p.id))
    }
}

/// Product renewals by renewal id, each with its product.
pub struct ProductRenewalLoader(Scope);

impl Loader<i64> for ProductRenewalLoader {
    type Value = Vec<(product_renewal::Model, Arc<product::Model>)>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        let s = &self.0;
        let rows = s
            .store
            .product_renewals_with_products(s.partner_id, keys)
            .await?;
        Ok(grouped(keys, rows, |(p, _)| Some(p.renewal_id)))
    }
}

/// Visible renewals by customer id.
pub struct CustomerRenewalsLoader(Scope);

impl Loader<i64> for CustomerRenewalsLoader {
    type Value = Vec<renewal::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        let s = &self.0;
        let rows = s
            .store
            .renewals_of_customers(s.partner_id, s.today, keys)
            .await?;
        Ok(grouped(keys, rows, |r| Some(r.customer_id)))
    }
}

/// A page of one customer's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistoryKey {
    pub customer_id: i64,
    pub page: HistoryPage,
}

/// Pages of customers' histories, newest first: one statement for all the
/// customers asked for the same page (usually all of them).
pub struct CustomerHistoryLoader(Scope);

impl Loader<HistoryKey> for CustomerHistoryLoader {
    type Value = Vec<customer_event::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[HistoryKey],
    ) -> Result<HashMap<HistoryKey, Self::Value>, Self::Error> {
        let s = &self.0;
        let mut pages: HashMap<HistoryPage, Vec<i64>> = HashMap::new();
        for key in keys {
            pages.entry(key.page).or_default().push(key.customer_id);
        }
        let mut loaded = HashMap::with_capacity(keys.len());
        for (page, customer_ids) in pages {
            let rows = s
                .store
                .customer_history(s.partner_id, &customer_ids, page)
                .await?;
            let keys: Vec<HistoryKey> = customer_ids
                .into_iter()
                .map(|customer_id| HistoryKey { customer_id, page })
                .collect();
            loaded.extend(grouped(&keys, rows, |e| {
                e.customer_id
                    .map(|customer_id| HistoryKey { customer_id, page })
            }));
        }
        Ok(loaded)
    }
}
