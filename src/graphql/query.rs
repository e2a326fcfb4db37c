//! The `Query` root.

use std::collections::HashMap;

use async_graphql::{Context, ID, Object, Result};

use super::{
    eager::Eager,
    ids::{NodeKind, decode, decode_as},
    listing::{connection, page_cost, page_request, preload_connection, renewal_list},
    loaders::row_of,
    session::{Session, session},
    types::{
        Customer, Node, Partner, PartnerUser, Product, Renewal, RenewalConnection,
        RenewalFilterInput, RenewalOrderInput,
    },
};
use crate::error::Error;

/// The most IDs `nodes` takes at once.
pub const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct Query;

/// What the partner behind the API token can read.
#[Object]
impl Query {
    /// The partner behind the API token.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Partner> {
        Ok(Partner(session(ctx)?.partner.clone()))
    }

    /// The partner's upcoming renewals (renewal date from today up to 120 days
    /// ahead), by deadline unless ordered otherwise. Customers whose services
    /// ended are left out unless `filter.includeEndedServices` is true.
    /// `filter` narrows the list; `orderBy` orders it (DEADLINE ascending when not
    /// given). Page forward with `first`/`after` or backward with `last`/`before`:
    /// mixing the two (`first` with `last` or `before`, `after` with `last` or
    /// `before`) is refused with `BAD_USER_INPUT`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the arguments are the GraphQL field's"
    )]
    #[graphql(complexity = "page_cost(first.or(last), child_complexity)")]
    async fn renewals(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which renewals to list; when not given, every upcoming renewal of\n\
                          the customers whose services have not ended."
        )]
        filter: Option<RenewalFilterInput>,
        #[graphql(desc = "The order; by DEADLINE ascending when not given.")] order_by: Option<
            RenewalOrderInput,
        >,
        #[graphql(desc = "Page forward: this many renewals (1–100); 20 when neither\n\
                          `first` nor `last` is given.")]
        first: Option<i32>,
        #[graphql(
            desc = "Page forward: the renewals after this cursor, which must come\n\
                    from a list with the same `orderBy`."
        )]
        after: Option<String>,
        #[graphql(desc = "Page backward: this many renewals (1–100), the last ones\n\
                          before `before` (or of the whole list); 20 when only `before`\n\
                          is given.")]
        last: Option<i32>,
        #[graphql(desc = "Page backward: the renewals before this cursor, which must\n\
                          come from a list with the same `orderBy`. The page is still\n\
                          in list order.")]
        before: Option<String>,
    ) -> Result<Eager<RenewalConnection>> {
        let s = session(ctx)?;
        let list = renewal_list(s, filter, order_by)?;
        let request = page_request(&list, first, after, last, before)?;
        let with_total = ctx.look_ahead().field("totalCount").exists();
        let page = s
            .store
            .renewal_page(&list, &request, with_total)
            .await
            .map_err(Error::from)?;
        let preloaded = preload_connection(ctx, s, &page.rows).await?;
        Ok(Eager(connection(list, &request, page, &preloaded, s)))
    }

    /// One of the partner's upcoming renewals (renewal date from today up to 120
    /// days ahead), by ID; null if there is none.
    async fn renewal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The renewal's global ID.")] id: ID,
    ) -> Result<Option<Renewal>> {
        let s = session(ctx)?;
        let Some(id) = decode_as(&id, NodeKind::Renewal) else {
            return Ok(None);
        };
        Ok(load_renewals(s, &[id]).await?.remove(&id))
    }

    /// One of the partner's customers, by ID or by domain (give exactly one, else
    /// `BAD_USER_INPUT`); null if there is none.
    async fn customer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer's global ID.")] id: Option<ID>,
        #[graphql(desc = "The customer's domain, e.g. `acme.example`; letter case and\n\
                          surrounding spaces are ignored.")]
        domain: Option<String>,
    ) -> Result<Option<Customer>> {
        let s = session(ctx)?;
        let row = match (id, domain) {
            (Some(id), None) => match decode_as(&id, NodeKind::Customer) {
                Some(id) => row_of(&s.loaders.customers, id).await?,
                None => None,
            },
            (None, Some(domain)) => s
                .store
                .customer_by_domain(s.partner_id(), &domain)
                .await
                .map_err(Error::from)?,
            _ => return Err(Error::bad_input("give exactly one of id and domain").into()),
        };
        Ok(row.map(|row| Customer {
            row: row.into(),
            default_owner: s.default_owner(),
        }))
    }

    /// Any object the partner can see (its own, or a product of the catalogue) by its
    /// global ID `id`, of any type; null if there is none.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID of any type.")] id: ID,
    ) -> Result<Option<Node>> {
        Ok(load_nodes(session(ctx)?, &[id]).await?.pop().flatten())
    }

    /// Objects by global IDs (at most 100), in the same order; null where there is none.
    /// More are refused (`BAD_USER_INPUT`), and the query cost counts 100 at most.
    #[graphql(complexity = "ids.len().min(MAX_NODES) * child_complexity + 1")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs of any types, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(Error::bad_input(format!("nodes takes at most {MAX_NODES} ids")).into());
        }
        Ok(load_nodes(session(ctx)?, &ids).await?)
    }
}

/// The partner's visible renewals by id, each with its customer.
async fn load_renewals(s: &Session, ids: &[i64]) -> Result<HashMap<i64, Renewal>, Error> {
    let rows = s
        .store
        .renewals_by_ids(s.partner_id(), s.today, ids)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(r, c)| (r.id, Renewal::new(r, c.into(), s.default_owner(), s.today)))
        .collect())
}

/// Resolves global IDs with one lookup per type.
async fn load_nodes(s: &Session, ids: &[ID]) -> Result<Vec<Option<Node>>, Error> {
    let decoded: Vec<Option<(NodeKind, i64)>> = ids.iter().map(|id| decode(id)).collect();
    let of_kind = |kind: NodeKind| -> Vec<i64> {
        decoded
            .iter()
            .flatten()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| *id)
            .collect()
    };
    let users = s
        .loaders
        .users
        .load_many(of_kind(NodeKind::PartnerUser))
        .await?;
    let customers = s
        .loaders
        .customers
        .load_many(of_kind(NodeKind::Customer))
        .await?;
    let products = s
        .loaders
        .products
        .load_many(of_kind(NodeKind::Product))
        .await?;
    let renewal_ids = of_kind(NodeKind::Renewal);
    let renewals = if renewal_ids.is_empty() {
        HashMap::new()
    } else {
        load_renewals(s, &renewal_ids).await?
    };
    Ok(decoded
        .into_iter()
        .map(|entry| {
            let (kind, id) = entry?;
            match kind {
                NodeKind::Partner => {
                    (id == s.partner_id()).then(|| Node::Partner(Partner(s.partner.clone())))
                }
                NodeKind::PartnerUser => users
                    .get(&id)
                    .cloned()
                    .flatten()
                    .map(|u| Node::PartnerUser(PartnerUser(u))),
                NodeKind::Customer => customers.get(&id).cloned().flatten().map(|row| {
                    Node::Customer(Customer {
                        row: row.into(),
                        default_owner: s.default_owner(),
                    })
                }),
                NodeKind::Product => products
                    .get(&id)
                    .cloned()
                    .flatten()
                    .map(|p| Node::Product(Product(p.into()))),
                NodeKind::Renewal => renewals.get(&id).cloned().map(Node::Renewal),
            }
        })
        .collect())
}
