//! Renewal dates: deadlines, the visibility horizon and the action window.

use chrono::{Days, NaiveDate};

/// A partner sees its customers' renewals up to this many days ahead.
pub const VISIBILITY_HORIZON_DAYS: u64 = 120;

/// The renewal deadline is this many days before the renewal date: the last day
/// on which the contract terms can still be changed.
pub const DEADLINE_LEAD_DAYS: u64 = 45;

/// The first and last dates the API and both databases hold (`Date` is
/// `YYYY-MM-DD`). The end of the visible window stops at the last: today +
/// 120 days in year 10000 reached PostgreSQL as `+10000-01-01`, which it
/// refused, and SQLite as text that sorts before every date.
pub const FIRST_DATE: NaiveDate = NaiveDate::from_ymd_opt(1, 1, 1).expect("a date");
pub const LAST_DATE: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a date");

/// The last day on which the terms of a renewal starting on `renewal_date` can change.
pub fn deadline(renewal_date: NaiveDate) -> NaiveDate {
    renewal_date
        .checked_sub_days(Days::new(DEADLINE_LEAD_DAYS))
        .unwrap_or(NaiveDate::MIN)
}

/// The renewal date whose deadline is `deadline` (the inverse of [`deadline`]).
///
/// Filters on deadlines are evaluated as filters on renewal dates, which are indexed.
pub fn renewal_date_for_deadline(deadline: NaiveDate) -> NaiveDate {
    deadline
        .checked_add_days(Days::new(DEADLINE_LEAD_DAYS))
        .unwrap_or(NaiveDate::MAX)
}

/// Whole days from `today` to `date`; negative once `date` has passed.
pub fn days_until(date: NaiveDate, today: NaiveDate) -> i64 {
    (date - today).num_days()
}

/// The renewal dates that are upcoming and visible on `today`:
/// `today ≤ renewalDate ≤ today + 120 days`.
pub fn visible_renewal_dates(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (today, add_days(today, VISIBILITY_HORIZON_DAYS))
}

/// `date` + `days`, at most [`LAST_DATE`].
fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .map_or(LAST_DATE, |later| later.min(LAST_DATE))
}

/// The renewal dates of renewals that can require action on a given day.
///
/// A renewal requires action on `today` exactly when its status is `PENDING`, the
/// customer's services are not ended, `today ≤ deadline` and
/// `renewalDate ≤ today + 120 days`. The two date conditions are the closed range
/// `[earliest, latest]` of renewal dates, which is how SQL evaluates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionWindow {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
}

impl ActionWindow {
    pub fn on(today: NaiveDate) -> Self {
        Self {
            earliest: renewal_date_for_deadline(today),
            latest: add_days(today, VISIBILITY_HORIZON_DAYS),
        }
    }

    pub fn contains(&self, renewal_date: NaiveDate) -> bool {
        self.earliest <= renewal_date && renewal_date <= self.latest
    }
}

/// The rule, stated directly; SQL evaluates the same through [`ActionWindow`].
pub fn requires_action(
    status: super::RenewalStatus,
    services_ended: bool,
    renewal_date: NaiveDate,
    today: NaiveDate,
) -> bool {
    status == super::RenewalStatus::Pending
        && !services_ended
        && today <= deadline(renewal_date)
        && renewal_date <= add_days(today, VISIBILITY_HORIZON_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RenewalStatus;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_deadline_is_45_days_before_the_renewal_date() {
        assert_eq!(deadline(date("2027-03-01")), date("2027-01-15"));
        assert_eq!(deadline(date("2028-03-01")), date("2028-01-16"));
    }

    #[test]
    fn days_until_is_negative_once_the_date_has_passed() {
        assert_eq!(days_until(date("2026-11-20"), date("2026-11-26")), -6);
        assert_eq!(days_until(date("2026-11-26"), date("2026-11-26")), 0);
        assert_eq!(days_until(date("2027-01-01"), date("2026-11-26")), 36);
    }

    #[test]
    fn action_is_required_up_to_and_including_the_deadline() {
        let today = date("2026-11-26");
        let on_deadline = date("2027-01-10");
        assert_eq!(deadline(on_deadline), today);
        assert!(requires_action(
            RenewalStatus::Pending,
            false,
            on_deadline,
            today
        ));
        assert!(!requires_action(
            RenewalStatus::Pending,
            false,
            date("2027-01-09"),
            today
        ));
    }

    #[test]
    fn action_is_required_up_to_120_days_ahead() {
        let today = date("2026-11-26");
        assert!(requires_action(
            RenewalStatus::Pending,
            false,
            date("2027-03-26"),
            today
        ));
        assert!(!requires_action(
            RenewalStatus::Pending,
            false,
            date("2027-03-27"),
            today
        ));
    }

    #[test]
    fn only_pending_renewals_of_serviced_customers_require_action() {
        let today = date("2026-11-26");
        let renewal_date = date("2027-02-01");
        assert!(requires_action(
            RenewalStatus::Pending,
            false,
            renewal_date,
            today
        ));
        assert!(!requires_action(
            RenewalStatus::Pending,
            true,
            renewal_date,
            today
        ));
        for status in [
            RenewalStatus::Confirmed,
            RenewalStatus::Renewed,
            RenewalStatus::CancellationRequested,
        ] {
            assert!(!requires_action(status, false, renewal_date, today));
        }
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..40_000).prop_map(|d| date("1950-01-01") + chrono::Duration::days(d))
    }

    proptest! {
        #[test]
        fn the_window_agrees_with_the_rule(today in any_date(), offset in -400i64..400) {
            let renewal_date = today + chrono::Duration::days(offset);
            prop_assert_eq!(
                ActionWindow::on(today).contains(renewal_date),
                requires_action(RenewalStatus::Pending, false, renewal_date, today)
            );
        }

        #[test]
        fn deadline_and_its_inverse_round_trip(d in any_date()) {
            prop_assert_eq!(renewal_date_for_deadline(deadline(d)), d);
            prop_assert_eq!(days_until(d, deadline(d)), 45);
        }

        #[test]
        fn days_until_deadline_is_days_until_renewal_minus_45(d in any_date(), today in any_date()) {
            prop_assert_eq!(days_until(deadline(d), today), days_until(d, today) - 45);
        }
    }
}
