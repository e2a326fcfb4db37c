//! The Relay connection of renewals.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, SimpleObject};

use super::Renewal;
use crate::{
    error::Error,
    graphql::{
        cursor,
        eager::{Eager, EagerList},
        session::session,
    },
    store::{Direction, Position, RenewalList, SortField},
};

/// A page of renewals (Relay cursor connection).
pub struct RenewalConnection {
    pub list: Arc<RenewalList>,
    pub edges: Arc<[RenewalEdge]>,
    pub page_info: PageInfo,
    /// The list's total, when the page's statement read it.
    pub total: Option<u64>,
}

/// A renewal and where it stands in its list, written as a cursor only when
/// asked for (a dashboard asks for the page's last).
pub struct RenewalEdge {
    pub sort: SortField,
    pub direction: Direction,
    pub position: Position,
    pub node: Eager<Renewal>,
}

/// A renewal and the cursor that points at it.
#[Object]
impl RenewalEdge {
    /// Pass as `after` or `before` to page from here.
    async fn cursor(&self) -> String {
        self.cursor_text()
    }

    /// The renewal.
    async fn node(&self) -> &Eager<Renewal> {
        &self.node
    }
}

impl RenewalEdge {
    pub fn cursor_text(&self) -> String {
        cursor::encode(self.sort, self.direction, &self.position)
    }
}

/// Where this page lies in the list.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    /// Whether more items follow this page. When paging backward (`last`/`before`),
    /// only whether a cursor `before` was given.
    pub has_next_page: bool,
    /// When paging backward (`last`/`before`), whether more items precede this page.
    /// Otherwise only whether a cursor `after` was given, even if nothing precedes it.
    pub has_previous_page: bool,
    /// The cursor of the page's first item; null when the page is empty.
    pub start_cursor: Option<String>,
    /// The cursor of the page's last item; null when the page is empty.
    pub end_cursor: Option<String>,
}

/// A page of renewals (Relay cursor connection), in list order whichever way it
/// was paged.
#[Object]
impl RenewalConnection {
    /// The renewals of this page, each with its cursor.
    async fn edges(&self) -> EagerList<RenewalEdge> {
        EagerList(Arc::clone(&self.edges))
    }

    /// The renewals of this page, without cursors.
    async fn nodes(&self) -> EagerList<&Renewal> {
        EagerList(self.edges.iter().map(|e| &e.node.0).collect())
    }

    /// Where this page lies in the list.
    async fn page_info(&self) -> Eager<&PageInfo> {
        Eager(&self.page_info)
    }

    /// How many renewals match the filter, over all pages. Counted only when asked for.
    #[graphql(complexity = 10)]
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        if let Some(total) = self.total {
            return Ok(total);
        }
        let s = session(ctx)?;
        Ok(s.store
            .renewal_count(&self.list)
            .await
            .map_err(Error::from)?)
    }
}
