//! Bulk insertion of generated data (see [`crate::seed`]).

use std::collections::HashMap;

use entity::{customer, partner, partner_user, product, product_renewal, renewal};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, sea_query::Expr,
};

use super::{
    Store,
    events::{EventKind, NewEvent},
    setup,
};
use crate::{
    domain::{
        owner::{OwnerChoice, effective_owner},
        search,
    },
    seed::{Dataset, PRODUCTS, SeedCustomer, SeedPartner},
};

/// Who the history says chose the owners, and ended the services, of the
/// customers seeded so.
const SEED_ACTOR: &str = "seed";

/// Rows per multi-row `INSERT`, well below SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 1000;

async fn insert_chunked<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Inserts the dataset into a database without partners, in one
    /// transaction: all of it or nothing. False, inserting nothing, when the
    /// database holds a partner already. Servers started together in demo
    /// mode seed it once: each looks and inserts under the setup lock.
    pub async fn insert_dataset(&self, data: &Dataset) -> Result<bool, DbErr> {
        let txn = self.begin_write().await?;
        setup::hold_in(&txn).await?;
        if partner::Entity::find().count(&txn).await? > 0 {
            return Ok(false);
        }
        let products = ensure_products(&txn).await?;
        for partner in &data.partners {
            insert_partner(&txn, partner, &products).await?;
        }
        txn.commit().await?;
        Ok(true)
    }
}

/// The catalogue's product ids by SKU, inserting the missing products.
async fn ensure_products(txn: &DatabaseTransaction) -> Result<HashMap<String, i64>, DbErr> {
    let existing = product::Entity::find().all(txn).await?;
    let missing: Vec<_> = PRODUCTS
        .iter()
        .filter(|p| !existing.iter().any(|e| e.sku == p.sku))
        .map(|p| product::ActiveModel {
            sku: Set(p.sku.to_owned()),
            name: Set(p.name.to_owned()),
            ..Default::default()
        })
        .collect();
    insert_chunked(txn, missing).await?;
    Ok(product::Entity::find()
        .all(txn)
        .await?
        .into_iter()
        .map(|p| (p.sku, p.id))
        .collect())
}

async fn insert_partner(
    txn: &DatabaseTransaction,
    seed: &SeedPartner,
    products: &HashMap<String, i64>,
) -> Result<(), DbErr> {
    let partner = partner::ActiveModel {
        slug: Set(seed.slug.clone()),
        name: Set(seed.name.clone()),
        default_owner_party: Set(seed.default_owner.0.as_str().to_owned()),
        default_notify_user_id: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;

    let mut user_ids = Vec::with_capacity(seed.users.len());
    for user in &seed.users {
        let user = partner_user::ActiveModel {
            partner_id: Set(partner.id),
            name: Set(user.name.clone()),
            email: Set(user.email.clone()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        user_ids.push(user.id);
    }
    let user = |index: Option<usize>| index.and_then(|i| user_ids.get(i).copied());
    if let Some(default_user) = user(seed.default_owner.1) {
        partner::Entity::update_many()
            .col_expr(
                partner::Column::DefaultNotifyUserId,
                Expr::value(default_user),
            )
            .filter(partner::Column::Id.eq(partner.id))
            .exec(txn)
            .await?;
    }

    let now = chrono::Utc::now();
    let customers = seed.customers.iter().map(|c| customer::ActiveModel {
        partner_id: Set(partner.id),
        domain: Set(c.domain.to_lowercase()),
        name: Set(c.name.clone()),
        name_folded: Set(search::fold(&c.name)),
        account_url: Set(format!("https://app.hubspot.example/accounts/{}", c.domain)),
        manager_name: Set(c.manager_name.clone()),
        manager_email: Set(c.manager_email.clone()),
        owner_party: Set(c.owner.map(|(party, _)| party.as_str().to_owned())),
        owner_notify_user_id: Set(c.owner.and_then(|(_, u)| user(u))),
        services_ended_at: Set(c.ended.as_ref().map(|_| now)),
        services_end_reason: Set(c.ended.clone()),
        ..Default::default()
    });
    insert_chunked(txn, customers.collect()).await?;
    let customer_ids: HashMap<String, i64> = customer::Entity::find()
        .filter(customer::Column::PartnerId.eq(partner.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| (c.domain, c.id))
        .collect();

    // Owners chosen and services ended before the data came in are in the
    // customers' history, as the API puts them there.
    let default = OwnerChoice {
        party: seed.default_owner.0,
        notify_user_id: user(seed.default_owner.1),
    };
    let customer_id = |c: &SeedCustomer| customer_ids.get(&c.domain.to_lowercase()).copied();
    let owners_chosen = seed.customers.iter().filter_map(|c| {
        let (party, notified) = c.owner?;
        let choice = OwnerChoice {
            party,
            notify_user_id: user(notified),
        };
        Some(NewEvent {
            partner_id: partner.id,
            customer_id: Some(customer_id(c)?),
            kind: EventKind::OwnerChanged,
            actor: SEED_ACTOR,
            before: Some(effective_owner(None, default)),
            after: Some(effective_owner(Some(choice), default)),
            reason: None,
        })
    });
    let ended = seed.customers.iter().filter_map(|c| {
        Some(NewEvent {
            partner_id: partner.id,
            customer_id: Some(customer_id(c)?),
            kind: EventKind::ServicesEnded,
            actor: SEED_ACTOR,
            before: None,
            after: None,
            reason: Some(c.ended.clone()?),
        })
    });
    let events = owners_chosen.chain(ended);
    insert_chunked(txn, events.map(|e| e.into_active_model(now)).collect()).await?;

    let renewals = seed.customers.iter().filter_map(|c| {
        let customer_id = *customer_ids.get(&c.domain.to_lowercase())?;
        let r = &c.renewal;
        let current: i64 = r.products.iter().map(|p| p.2).sum();
        let renewed: i64 = r.products.iter().map(|p| p.3).sum();
        Some(renewal::ActiveModel {
            partner_id: Set(partner.id),
            customer_id: Set(customer_id),
            status: Set(r.status.as_str().to_owned()),
            renewal_date: Set(r.renewal_date),
            currency: Set(r.currency.to_owned()),
            options_url: Set(format!(
                "https://app.hubspot.example/renewals/{}/options",
                c.domain
            )),
            current_mrr_minor: Set(current),
            renewal_mrr_minor: Set(renewed),
            mrr_change_minor: Set(renewed - current),
            ..Default::default()
        })
    });
    insert_chunked(txn, renewals.collect()).await?;
    let renewal_ids: HashMap<i64, i64> = renewal::Entity::find()
        .filter(renewal::Column::PartnerId.eq(partner.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|r| (r.customer_id, r.id))
        .collect();

    let product_renewals = seed.customers.iter().flat_map(|c| {
        let renewal_id = customer_ids
            .get(&c.domain.to_lowercase())
            .and_then(|customer_id| renewal_ids.get(customer_id))
            .copied();
        c.renewal
            .products
            .iter()
            .filter_map(move |(index, quantity, current, renewed)| {
                Some(product_renewal::ActiveModel {
                    renewal_id: Set(renewal_id?),
                    product_id: Set(*products.get(PRODUCTS[*index].sku)?),
                    quantity: Set(*quantity),
                    current_mrr_minor: Set(*current),
                    renewal_mrr_minor: Set(*renewed),
                    ..Default::default()
                })
            })
    });
    insert_chunked(txn, product_renewals.collect()).await
}
