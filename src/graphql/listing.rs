//! Turns the `renewals` arguments into a store list and page, and a history's
//! into a page of it, validating them.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use async_graphql::{Context, Lookahead, Value, dataloader::Loader};
use entity::{customer, renewal};

use super::{
    cursor,
    ids::{NodeKind, decode_as},
    session::Session,
    types::{
        OrderDirection, PageInfo, PartnerUser, ProductRenewalRows, Renewal, RenewalConnection,
        RenewalEdge, RenewalFilterInput, RenewalOrderField, RenewalOrderInput,
    },
};
use crate::{
    domain::money::Currency,
    error::Error,
    graphql::{
        eager::Eager,
        loaders::{HistoryKey, prime},
    },
    store::{HistoryPage, PageRequest, RenewalFilter, RenewalList, RenewalPage, customer_owner},
};

/// Page sizes clients may ask for, and the size they get when they do not ask.
pub const MAX_PAGE_SIZE: i32 = 100;
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// The longest `search` text accepted.
pub const MAX_SEARCH_LEN: usize = 200;

/// The cost of a page: its size (as asked, within limits) times the cost of one renewal.
pub fn page_cost(size: Option<i32>, per_renewal: usize) -> usize {
    let size = size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    size as usize * per_renewal + 1
}

pub fn renewal_list(
    session: &Session,
    filter: Option<RenewalFilterInput>,
    order_by: Option<RenewalOrderInput>,
) -> Result<RenewalList, Error> {
    let order = order_by.unwrap_or(RenewalOrderInput {
        field: RenewalOrderField::Deadline,
        direction: OrderDirection::Asc,
    });
    Ok(RenewalList {
        partner_id: session.partner_id(),
        today: session.today,
        default_owner: session.default_owner(),
        filter: store_filter(filter.unwrap_or_default())?,
        sort: order.field.into(),
        direction: order.direction.into(),
    })
}

fn store_filter(input: RenewalFilterInput) -> Result<RenewalFilter, Error> {
    let window = |from: Option<_>, to: Option<_>, name: &str| match (from, to) {
        (Some(from), Some(to)) if from > to => Err(Error::bad_input(format!(
            "{name}From must not be after {name}To"
        ))),
        _ => Ok(()),
    };
    let d = |date: Option<crate::graphql::scalars::Date>| date.map(|d| d.0);
    window(d(input.deadline_from), d(input.deadline_to), "deadline")?;
    window(
        d(input.renewal_date_from),
        d(input.renewal_date_to),
        "renewalDate",
    )?;
    if let Some(text) = &input.search {
        // Counted as searched: without the spaces around it.
        if text.trim().chars().count() > MAX_SEARCH_LEN {
            return Err(Error::bad_input(format!(
                "search must be at most {MAX_SEARCH_LEN} characters"
            )));
        }
        if text.contains('\0') {
            return Err(Error::bad_input("search must not contain NUL characters"));
        }
    }
    let currency = match &input.currency_code {
        None => None,
        // A code no renewal has simply matches nothing.
        Some(code) => Some(Currency::parse(code).map_err(|_| {
            Error::bad_input(
                "currencyCode must be an ISO 4217 code: three capital letters, e.g. EUR",
            )
        })?),
    };
    let notify_user_id = match &input.notify_user_id {
        None => None,
        // A well-formed ID that is not the partner's user simply matches nothing.
        Some(id) => Some(
            decode_as(id, NodeKind::PartnerUser)
                .ok_or_else(|| Error::bad_input("notifyUserId is not the ID of a partner user"))?,
        ),
    };
    Ok(RenewalFilter {
        action_required: input.action_required,
        owner_party: input.owner_party.map(Into::into),
        notify_user_id,
        // Spaces around the text are left out, as a search box does.
        search: input
            .search
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty()),
        statuses: input
            .status
            .map(|list| list.into_iter().map(Into::into).collect()),
        currency,
        deadline_from: d(input.deadline_from),
        deadline_to: d(input.deadline_to),
        renewal_date_from: d(input.renewal_date_from),
        renewal_date_to: d(input.renewal_date_to),
        include_ended_services: input.include_ended_services,
    })
}

/// Which page to read. `first`/`after` page forward, `last`/`before` backward.
pub fn page_request(
    list: &RenewalList,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<PageRequest, Error> {
    let backward = match (first, &after, last, &before) {
        (Some(_), _, Some(_), _) => {
            return Err(Error::bad_input("pass either first or last, not both"));
        }
        (Some(_), _, _, Some(_)) | (_, Some(_), Some(_), _) | (_, Some(_), _, Some(_)) => {
            return Err(Error::bad_input(
                "page forward with first/after or backward with last/before",
            ));
        }
        (_, _, Some(_), _) | (_, _, _, Some(_)) => true,
        _ => false,
    };
    let size = first.or(last).unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        let name = if first.is_some() { "first" } else { "last" };
        return Err(Error::bad_input(format!(
            "{name} must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let cursor = after
        .or(before)
        .map(|text| cursor::decode(&text, list.sort, list.direction))
        .transpose()?;
    Ok(PageRequest {
        backward,
        limit: size as u64,
        cursor,
    })
}

/// The page that `first` (1 to 100, 20 when not given) and `after` ask for, in
/// the history of `customer_id` (`None`: the partner's own). One event more
/// than asked for is read, to tell whether another page follows.
pub fn history_page(
    customer_id: Option<i64>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<HistoryPage, Error> {
    let size = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(Error::bad_input(format!(
            "first must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let before_id = after
        .map(|text| cursor::decode_history(&text, customer_id))
        .transpose()?;
    Ok(HistoryPage {
        before_id,
        limit: size as u64 + 1,
    })
}

/// The connection for a page read with `request`, its renewals holding what
/// [`preload`] read for them.
pub fn connection(
    list: RenewalList,
    request: &PageRequest,
    page: RenewalPage,
    preloaded: &Preloaded,
    session: &Session,
) -> RenewalConnection {
    let edges: Arc<[RenewalEdge]> = page
        .rows
        .into_iter()
        .map(|(renewal, customer)| RenewalEdge {
            sort: list.sort,
            direction: list.direction,
            position: list.sort.position_of(&renewal, &customer),
            node: Eager({
                let rows = preloaded.product_renewals.get(&renewal.id);
                Renewal::new(
                    renewal,
                    customer.into(),
                    session.default_owner(),
                    session.today,
                )
                .with_product_renewals(rows)
                .with_notify_user(&preloaded.users)
            }),
        })
        .collect();
    let came_from_cursor = request.cursor.is_some();
    let (has_next_page, has_previous_page) = if request.backward {
        (came_from_cursor, page.has_more)
    } else {
        (page.has_more, came_from_cursor)
    };
    let page_info = PageInfo {
        has_next_page,
        has_previous_page,
        start_cursor: edges.first().map(RenewalEdge::cursor_text),
        end_cursor: edges.last().map(RenewalEdge::cursor_text),
    };
    RenewalConnection {
        list: list.into(),
        edges,
        page_info,
        total: page.total,
    }
}

/// The selection under each renewal of a connection (`edges.node` and `nodes`).
fn node_selections<'a>(ctx: &'a Context<'_>) -> [Lookahead<'a>; 2] {
    let look = ctx.look_ahead();
    [look.field("edges").field("node"), look.field("nodes")]
}

/// Where the users that the events of customers' histories notify are
/// selected under a renewal.
const HISTORY_USERS: [&[&str]; 2] = [
    &["customer", "history", "nodes", "ownerBefore", "notifyUser"],
    &["customer", "history", "nodes", "ownerAfter", "notifyUser"],
];

/// What [`preload`] read for a page's renewals to hold themselves; the rest
/// waits in the request's loader caches.
#[derive(Default)]
pub struct Preloaded {
    /// By renewal id.
    product_renewals: HashMap<i64, ProductRenewalRows>,
    /// The users the renewals' owners (and their customers' history events)
    /// notify, by id.
    users: HashMap<i64, Arc<PartnerUser>>,
}

/// Loads what the selected nested fields of a page need, one statement per kind,
/// so that a page costs the same number of statements whatever its size.
/// Each renewal already holds its customer, joined by the page query; its
/// product renewals are returned, and the rest goes to the loader caches.
pub async fn preload(
    session: &Session,
    rows: &[(renewal::Model, customer::Model)],
    selections: &[Lookahead<'_>],
) -> Result<Preloaded, Error> {
    let loaders = &session.loaders;
    let wants = |path: &[&str]| {
        selections.iter().any(|selection| {
            let (first, rest) = path.split_first().unwrap_or((&"", &[]));
            let mut look = selection.field(first);
            for name in rest {
                look = look.field(name);
            }
            look.exists()
        })
    };
    let renewal_ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
    let customer_ids: Vec<i64> = rows.iter().map(|(_, c)| c.id).collect();

    let mut preloaded = Preloaded::default();
    if wants(&["productRenewals"]) && !renewal_ids.is_empty() {
        // One statement: the product renewals together with their products.
        preloaded.product_renewals = loaders.product_renewals.loader().load(&renewal_ids).await?;
    }
    // The histories before the users: the users their events notify join the
    // owners' in one statement, whatever the timing of the resolvers (left to
    // the loader, the events of two customers were read in two batches when
    // the host was busy).
    let mut user_ids = HashSet::new();
    let history_users = HISTORY_USERS.iter().any(|path| wants(path));
    for page in first_history_pages(selections) {
        let keys: Vec<HistoryKey> = customer_ids
            .iter()
            .map(|&customer_id| HistoryKey { customer_id, page })
            .collect();
        let histories = loaders.customer_history.loader().load(&keys).await?;
        if history_users {
            let events = histories.values().flatten();
            user_ids.extend(events.flat_map(|e| {
                [e.before_notify_user_id, e.after_notify_user_id]
                    .into_iter()
                    .flatten()
            }));
        }
        loaders.customer_history.feed_many(histories).await;
    }
    // A customer's renewals have its owner, as the page's renewal has.
    let owner_users = [
        &["owner", "notifyUser"][..],
        &["customer", "renewalOwner", "notifyUser"],
        &["customer", "renewals", "owner", "notifyUser"],
    ];
    if owner_users.iter().any(|path| wants(path)) {
        let default = session.default_owner();
        user_ids.extend(
            rows.iter()
                .filter_map(|(_, c)| customer_owner(c, default).notify_user_id),
        );
    }
    if !user_ids.is_empty() {
        // Held by the renewals, and in the loader's cache for customers'
        // owners and the histories' events.
        let ids: Vec<i64> = user_ids.into_iter().collect();
        let users = loaders.users.loader().load(&ids).await?;
        preloaded.users = users
            .values()
            .flatten()
            .map(|user| (user.id, Arc::new(PartnerUser(user.clone()))))
            .collect();
        loaders.users.feed_many(users).await;
    }
    if wants(&["customer", "renewals"]) && !customer_ids.is_empty() {
        let renewals = loaders
            .customer_renewals
            .loader()
            .load(&customer_ids)
            .await?;
        if wants(&["customer", "renewals", "productRenewals"]) {
            // All of them, the page's own among them: these are other
            // `Renewal`s, which ask the loader.
            let ids = renewals.values().flatten().map(|r| r.id).collect();
            prime(&loaders.product_renewals, ids).await?;
        }
        loaders.customer_renewals.feed_many(renewals).await;
    }
    Ok(preloaded)
}

/// The first pages of the customers' histories selected under the renewals
/// (`customer { history(first: n) }`), which one statement reads for all the
/// page's customers. A page after a cursor is one customer's, and read alone;
/// arguments that are not valid are left to the resolver to report.
fn first_history_pages(selections: &[Lookahead<'_>]) -> HashSet<HistoryPage> {
    selections
        .iter()
        .flat_map(|selection| {
            selection
                .field("customer")
                .field("history")
                .selection_fields()
        })
        .filter_map(|field| {
            let arguments = field.arguments().ok()?;
            let argument = |name: &str| {
                arguments
                    .iter()
                    .find(|(n, _)| n.as_str() == name)
                    .map(|(_, value)| value)
                    .filter(|value| **value != Value::Null)
            };
            if argument("after").is_some() {
                return None;
            }
            let first = match argument("first") {
                None => None,
                Some(Value::Number(n)) => Some(i32::try_from(n.as_i64()?).ok()?),
                Some(_) => return None,
            };
            history_page(None, first, None).ok()
        })
        .collect()
}

/// [`preload`] for the renewals of a connection field.
pub async fn preload_connection(
    ctx: &Context<'_>,
    session: &Session,
    rows: &[(renewal::Model, customer::Model)],
) -> Result<Preloaded, Error> {
    preload(session, rows, &node_selections(ctx)).await
}
