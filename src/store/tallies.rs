//! `totalCount` from the tallies: `renewal_tally` (renewals per partner,
//! renewal date, status and services state) and `renewal_owner_tally` (the
//! renewals of customers with an owner of their own, also per owner party and
//! notified user), both kept by triggers (see their migrations). A count sums
//! a few rows per day of the window, whatever the number of renewals.

use chrono::NaiveDate;
use sea_orm::{
    DatabaseBackend,
    sea_query::{Alias, Expr, ExprTrait, Query, QueryStatementBuilder, SelectStatement},
};

use super::{RenewalList, opaque};
use crate::domain::{ActionWindow, OwnerParty, RenewalStatus};

impl RenewalList {
    /// The count as sums over the tallies, for every list but a search's;
    /// `None` for a search. A sum reads a few rows per day of the window,
    /// whatever the number of renewals.
    ///
    /// - `renewal_tally` counts by status, date and services state: the
    ///   dashboard's count is one sum over it.
    /// - `actionRequired: false` is the list's renewals minus those that
    ///   require action.
    /// - With an owner filter, overrides come from `renewal_owner_tally`:
    ///   the matching ones, or, when the partner's default owner matches, all
    ///   renewals minus the overrides that do not match.
    pub(super) fn tally(&self, backend: DatabaseBackend) -> Option<SelectStatement> {
        let filter = &self.filter;
        // The tally counts by date, status and services, not by text or currency.
        if filter.search.is_some() || filter.currency.is_some() {
            return None;
        }
        let (from, to) = self.renewal_dates();
        let listed = TallyRows {
            from,
            to,
            statuses: filter
                .statuses
                .as_ref()
                .map(|list| list.iter().map(|s| s.as_str()).collect()),
            serviced_only: !filter.include_ended_services,
        };
        let window = ActionWindow::on(self.today);
        let terms = match filter.action_required {
            None => vec![(false, listed)],
            Some(true) => vec![(false, listed.requiring_action(window))],
            Some(false) => {
                let requiring_action = listed.requiring_action(window);
                vec![(false, listed), (true, requiring_action)]
            }
        };
        // Each sum, and whether it is subtracted.
        let owner = self.owner_match();
        let partner = self.partner_id;
        let mut sums = Vec::new();
        for (subtracted, rows) in terms {
            match &owner {
                None => sums.push((subtracted, rows.sum(backend, partner, None))),
                Some(owner) if !owner.default_matches => {
                    sums.push((subtracted, rows.sum(backend, partner, Some((owner, true)))));
                }
                Some(owner) => {
                    sums.push((subtracted, rows.sum(backend, partner, None)));
                    let unmatched = rows.sum(backend, partner, Some((owner, false)));
                    sums.push((!subtracted, unmatched));
                }
            }
        }
        let mut sums = sums.into_iter();
        // The first sum is never subtracted.
        let (_, first) = sums.next()?;
        if sums.len() == 0 {
            return Some(first);
        }
        let value =
            |sum: SelectStatement| Expr::SubQuery(None, Box::new(sum.into_sub_query_statement()));
        let total = sums.fold(value(first), |total, (subtracted, sum)| {
            if subtracted {
                total.sub(value(sum))
            } else {
                total.add(value(sum))
            }
        });
        let mut select = Query::select();
        select.expr_as(total, Alias::new("n"));
        Some(select)
    }

    /// The list's owner filter, if any: what an override must be to match,
    /// and whether the partner's default owner matches.
    fn owner_match(&self) -> Option<OwnerMatch> {
        let filter = &self.filter;
        if filter.owner_party.is_none() && filter.notify_user_id.is_none() {
            return None;
        }
        let default = &self.default_owner;
        Some(OwnerMatch {
            party: filter.owner_party,
            notify_user_id: filter.notify_user_id,
            default_matches: filter
                .owner_party
                .is_none_or(|party| party == default.party)
                && filter
                    .notify_user_id
                    .is_none_or(|user| default.notify_user_id == Some(user)),
        })
    }
}

/// The rows of the tallies a count sums: renewal dates `from..=to`, in
/// these statuses (any when `None`), of serviced customers only or of all.
#[derive(Clone, Debug)]
struct TallyRows {
    from: NaiveDate,
    to: NaiveDate,
    statuses: Option<Vec<&'static str>>,
    serviced_only: bool,
}

/// What an owner override must be to match a list's owner filter.
#[derive(Debug)]
struct OwnerMatch {
    party: Option<OwnerParty>,
    notify_user_id: Option<i64>,
    /// Whether the customers without an override (those following the
    /// partner's default owner) match.
    default_matches: bool,
}

impl TallyRows {
    /// These rows' renewals that require action on the window's day.
    fn requiring_action(&self, window: ActionWindow) -> Self {
        let pending = RenewalStatus::Pending.as_str();
        Self {
            from: Ord::max(self.from, window.earliest),
            to: Ord::min(self.to, window.latest),
            statuses: Some(match &self.statuses {
                Some(list) => list.iter().copied().filter(|s| *s == pending).collect(),
                None => vec![pending],
            }),
            serviced_only: true,
        }
    }

    /// `SELECT` of the number of these renewals (column `n`): from
    /// `renewal_tally`, or with `owners`, of the overrides from
    /// `renewal_owner_tally` that match (`true`) or do not match (`false`).
    fn sum(
        &self,
        backend: DatabaseBackend,
        partner_id: i64,
        owners: Option<(&OwnerMatch, bool)>,
    ) -> SelectStatement {
        let table = match owners {
            None => "renewal_tally",
            Some(_) => "renewal_owner_tally",
        };
        let column = |name: &'static str| Expr::col((Alias::new(table), Alias::new(name)));
        let mut select = Query::select();
        select
            .expr_as(
                Expr::cust("CAST(COALESCE(SUM(renewals), 0) AS BIGINT)"),
                Alias::new("n"),
            )
            .from(Alias::new(table))
            .and_where(column("partner_id").eq(opaque(backend, partner_id)));
        if let Some((owner, matching)) = owners {
            // The parties as a list, so that each is a range of the key.
            let notify = column("notify_user_id");
            let all = OwnerParty::ALL.to_vec();
            let (parties, rest) = match (matching, owner.party, owner.notify_user_id) {
                (true, party, user) => (
                    party.map_or(all, |party| vec![party]),
                    user.map(|user| notify.eq(opaque(backend, user))),
                ),
                (false, Some(party), None) => (
                    all.into_iter().filter(|other| *other != party).collect(),
                    None,
                ),
                (false, party, Some(user)) => {
                    let mut other_user = notify.ne(opaque(backend, user));
                    if let Some(party) = party {
                        other_user = other_user
                            .or(column("owner_party").ne(opaque(backend, party.as_str())));
                    }
                    (all, Some(other_user))
                }
                // No owner filter: every override matches.
                (false, None, None) => (Vec::new(), None),
            };
            select.and_where(
                column("owner_party")
                    .is_in(parties.iter().map(|party| opaque(backend, party.as_str()))),
            );
            if let Some(rest) = rest {
                select.and_where(rest);
            }
        }
        select.and_where(
            column("renewal_date").between(opaque(backend, self.from), opaque(backend, self.to)),
        );
        if let Some(statuses) = &self.statuses {
            select.and_where(column("status").is_in(statuses.iter().map(|s| opaque(backend, *s))));
        }
        if self.serviced_only {
            select.and_where(column("services_ended").eq(opaque(backend, false)));
        }
        select
    }
}
