//! A contract renewal.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, ID, Object, Result};
use chrono::NaiveDate;
use entity::{customer, product, product_renewal, renewal};

use super::{
    PartnerUser, RenewalStatus, customer::Customer, enums::enum_name, money::Money,
    owner::RenewalOwner, product::ProductRenewal,
};
use crate::{
    domain::{dates, owner::OwnerChoice},
    graphql::{
        eager::{Eager, EagerList, Plain, PlainFields},
        ids::{NodeKind, encode},
        json,
        loaders::list_of,
        scalars::{Date, iso_date},
        session::session,
    },
    store::customer_owner,
};

/// An upcoming contract renewal of a customer.
#[derive(Clone, Debug)]
pub struct Renewal {
    pub row: renewal::Model,
    /// The renewal's customer, read together with the renewal.
    pub customer: Arc<customer::Model>,
    /// The partner's default owner, which applies unless the customer overrides it.
    pub default_owner: OwnerChoice,
    /// The request's today, which the days until its dates count from.
    pub today: NaiveDate,
    /// The renewal's product renewals, when they were read with its page.
    pub product_renewals: Option<Arc<[ProductRenewal]>>,
    /// The user its owner notifies, when it was read with its page.
    pub notify_user: Option<Arc<PartnerUser>>,
}

/// Product renewals as the store reads them, each with its product.
pub type ProductRenewalRows = Vec<(product_renewal::Model, Arc<product::Model>)>;

impl Renewal {
    pub fn new(
        row: renewal::Model,
        customer: Arc<customer::Model>,
        default_owner: OwnerChoice,
        today: NaiveDate,
    ) -> Self {
        Self {
            row,
            customer,
            default_owner,
            today,
            product_renewals: None,
            notify_user: None,
        }
    }

    /// This renewal holding the user its owner notifies, if it is among `users`
    /// (read with its page).
    pub fn with_notify_user(mut self, users: &HashMap<i64, Arc<PartnerUser>>) -> Self {
        self.notify_user = customer_owner(&self.customer, self.default_owner)
            .notify_user_id
            .and_then(|id| users.get(&id))
            .cloned();
        self
    }

    /// This renewal holding its product renewals `rows`, if they were read with its page.
    pub fn with_product_renewals(mut self, rows: Option<&ProductRenewalRows>) -> Self {
        self.product_renewals = rows.map(|rows| self.product_renewals_of(rows));
        self
    }

    fn product_renewals_of(&self, rows: &ProductRenewalRows) -> Arc<[ProductRenewal]> {
        rows.iter()
            .map(|(row, product)| ProductRenewal::new(row, Arc::clone(product), &self.row.currency))
            .collect()
    }

    /// `minor` units of the renewal's currency.
    fn money(&self, minor: i64) -> Money {
        Money::new(minor, &self.row.currency)
    }

    fn customer_object(&self) -> Customer {
        Customer {
            row: Arc::clone(&self.customer),
            default_owner: self.default_owner,
        }
    }

    fn owner_object(&self) -> RenewalOwner {
        RenewalOwner::from(customer_owner(&self.customer, self.default_owner))
            .with_notify_user(self.notify_user.clone())
    }

    fn days_until_renewal_value(&self) -> i32 {
        days(dates::days_until(self.row.renewal_date, self.today))
    }

    fn days_until_deadline_value(&self) -> i32 {
        days(dates::days_until(
            dates::deadline(self.row.renewal_date),
            self.today,
        ))
    }

    fn action_required_value(&self) -> bool {
        dates::requires_action(
            self.status_value(),
            self.customer.services_ended_at.is_some(),
            self.row.renewal_date,
            self.today,
        )
    }

    fn status_value(&self) -> crate::domain::RenewalStatus {
        // The database refuses an unknown status since the migration
        // `domain_checks`; one stored before it never requires action.
        self.row
            .status
            .parse()
            .unwrap_or(crate::domain::RenewalStatus::Renewed)
    }
}

impl PlainFields for Renewal {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "id" => json::write_str(out, &encode(NodeKind::Renewal, self.row.id)),
            "renewalDate" => json::write_str(out, &iso_date(self.row.renewal_date)),
            "deadline" => json::write_str(out, &iso_date(dates::deadline(self.row.renewal_date))),
            "renewalOptionsUrl" => json::write_str(out, &self.row.options_url),
            "status" => json::write_str(out, enum_name(RenewalStatus::from(self.status_value()))),
            "currentMrr" => return field.object(&self.money(self.row.current_mrr_minor), out),
            "renewalMrr" => return field.object(&self.money(self.row.renewal_mrr_minor), out),
            "mrrChange" => return field.object(&self.money(self.row.mrr_change_minor), out),
            "customer" => return field.object(&self.customer_object(), out),
            "owner" => return field.object(&self.owner_object(), out),
            "productRenewals" => match &self.product_renewals {
                Some(list) => return field.list(list, out),
                None => return false,
            },
            "daysUntilRenewal" => write_int(out, self.days_until_renewal_value()),
            "daysUntilDeadline" => write_int(out, self.days_until_deadline_value()),
            "actionRequired" => json::write_bool(out, self.action_required_value()),
            _ => return false,
        }
        true
    }
}

fn write_int(out: &mut Vec<u8>, n: i32) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn days(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// An upcoming contract renewal of a customer.
#[Object]
impl Renewal {
    /// The renewal's global ID.
    pub async fn id(&self) -> ID {
        encode(NodeKind::Renewal, self.row.id)
    }

    /// The customer whose contract renews.
    async fn customer(&self) -> Eager<Customer> {
        Eager(self.customer_object())
    }

    /// Where the renewal stands.
    async fn status(&self) -> RenewalStatus {
        self.status_value().into()
    }

    /// The day the renewed contract starts.
    async fn renewal_date(&self) -> Date {
        Date(self.row.renewal_date)
    }

    /// The last day on which the contract terms can still be changed: 45 days
    /// before the renewal date. After it, the renewal proceeds on the old terms.
    async fn deadline(&self) -> Date {
        Date(dates::deadline(self.row.renewal_date))
    }

    /// Days from today to the renewal date.
    async fn days_until_renewal(&self) -> i32 {
        self.days_until_renewal_value()
    }

    /// Days from today to the deadline; negative once it has passed.
    async fn days_until_deadline(&self) -> i32 {
        self.days_until_deadline_value()
    }

    /// Monthly recurring revenue now: the sum over the product renewals.
    async fn current_mrr(&self) -> Eager<Money> {
        Eager(self.money(self.row.current_mrr_minor))
    }

    /// Monthly recurring revenue after the renewal: the sum over the product renewals.
    async fn renewal_mrr(&self) -> Eager<Money> {
        Eager(self.money(self.row.renewal_mrr_minor))
    }

    /// Renewal MRR minus current MRR.
    async fn mrr_change(&self) -> Eager<Money> {
        Eager(self.money(self.row.mrr_change_minor))
    }

    /// True when the partner must act: the renewal is PENDING, the customer is
    /// serviced, the deadline has not passed and the renewal is at most 120 days away.
    async fn action_required(&self) -> bool {
        self.action_required_value()
    }

    /// The customer's effective renewal owner.
    async fn owner(&self) -> Eager<RenewalOwner> {
        Eager(self.owner_object())
    }

    /// The products on this contract that need a renewal decision.
    async fn product_renewals(&self, ctx: &Context<'_>) -> Result<EagerList<ProductRenewal>> {
        if let Some(list) = &self.product_renewals {
            return Ok(EagerList(Arc::clone(list)));
        }
        let s = session(ctx)?;
        let rows = list_of(&s.loaders.product_renewals, self.row.id).await?;
        Ok(EagerList(self.product_renewals_of(&rows)))
    }

    /// Link to the page where the customer compares and picks renewal options.
    async fn renewal_options_url(&self) -> &str {
        &self.row.options_url
    }
}
