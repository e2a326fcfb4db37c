//! Deterministic demo data: the same seed always gives the same data.
//!
//! Two partners (`northwind` and `contoso`) with several users each; customers
//! with one renewal each, spread over the 150 days after `today` in every status;
//! one to five products per renewal from a realistic catalogue; owner overrides
//! on some customers and ended services on a few, so every filter has something
//! to show.

mod catalogue;
pub mod rng;

use chrono::{Days, NaiveDate};

pub use catalogue::{CatalogueProduct, PRODUCTS};
use rng::SplitMix64;

use crate::domain::{OwnerParty, RenewalStatus};

/// Renewal dates are spread over this many days after `today`.
pub const SPREAD_DAYS: u64 = 150;

#[derive(Clone, Debug)]
pub struct Dataset {
    pub partners: Vec<SeedPartner>,
}

#[derive(Clone, Debug)]
pub struct SeedPartner {
    pub slug: String,
    pub name: String,
    pub users: Vec<SeedUser>,
    /// The default owner's party, and the index into `users` of its notify user.
    pub default_owner: (OwnerParty, Option<usize>),
    pub customers: Vec<SeedCustomer>,
}

#[derive(Clone, Debug)]
pub struct SeedUser {
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug)]
pub struct SeedCustomer {
    pub domain: String,
    pub name: String,
    pub manager_name: String,
    pub manager_email: String,
    /// An owner override: the party and the index into the partner's users.
    pub owner: Option<(OwnerParty, Option<usize>)>,
    /// Services ended, with the reason.
    pub ended: Option<String>,
    pub renewal: SeedRenewal,
}

#[derive(Clone, Debug)]
pub struct SeedRenewal {
    pub status: RenewalStatus,
    pub renewal_date: NaiveDate,
    pub currency: &'static str,
    /// (index into [`PRODUCTS`], quantity, current MRR, renewal MRR) in minor units.
    pub products: Vec<(usize, i32, i64, i64)>,
}

/// A partner's slug, name and users (name, email).
type PartnerSeed = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const PARTNERS: [PartnerSeed; 2] = [
    (
        "northwind",
        "Northwind Digital",
        &[
            ("Ada Lovelace", "ada@northwind.example"),
            ("Grace Hopper", "grace@northwind.example"),
            ("Alan Turing", "alan@northwind.example"),
            ("Katherine Johnson", "katherine@northwind.example"),
        ],
    ),
    (
        "contoso",
        "Contoso Growth Agency",
        &[
            ("Margaret Hamilton", "margaret@contoso.example"),
            ("Edsger Dijkstra", "edsger@contoso.example"),
            ("Barbara Liskov", "barbara@contoso.example"),
        ],
    ),
];

const MANAGERS: [(&str, &str); 5] = [
    ("Jordan Reyes", "jreyes@hubspot.example"),
    ("Priya Natarajan", "pnatarajan@hubspot.example"),
    ("Lukas Becker", "lbecker@hubspot.example"),
    ("Amélie Laurent", "alaurent@hubspot.example"),
    ("Kenji Watanabe", "kwatanabe@hubspot.example"),
];

/// Words that make customer names and domains (also used by the benchmark's data).
pub const FIRST_WORDS: [&str; 24] = [
    "Acme",
    "Blue",
    "Bright",
    "Cedar",
    "Copper",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iron",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Nimbus",
    "Orchid",
    "Pioneer",
    "Quartz",
    "Redwood",
    "Summit",
    "Tidal",
    "Umber",
    "Vertex",
];
pub const SECOND_WORDS: [&str; 20] = [
    "Analytics",
    "Bakery",
    "Clinic",
    "Dental",
    "Energy",
    "Fitness",
    "Foods",
    "Health",
    "Labs",
    "Legal",
    "Logistics",
    "Media",
    "Motors",
    "Outdoors",
    "Realty",
    "Robotics",
    "Software",
    "Studio",
    "Travel",
    "Ventures",
];
const SUFFIXES: [&str; 5] = ["Inc.", "LLC", "Ltd", "GmbH", "& Co."];
/// Names outside ASCII, so that search is exercised beyond ASCII case folding.
const UNICODE_NAMES: [(&str, &str); 4] = [
    ("cafe-munster.example", "Café Münster GmbH"),
    ("ostergaard.example", "Østergaard ApS"),
    ("zurich-uhren.example", "ZÜRICH Uhren AG"),
    ("sakura.example", "さくら Design"),
];

const END_REASONS: [&str; 3] = [
    "Customer moved to another agency",
    "Contract with the customer ended",
    "Customer went in-house",
];

/// Builds the dataset: `customers` customers per partner, renewal dates within
/// [`SPREAD_DAYS`] days after `today`.
pub fn generate(customers: u32, seed: u64, today: NaiveDate) -> Dataset {
    let mut rng = SplitMix64::new(seed);
    let partners = PARTNERS
        .iter()
        .enumerate()
        .map(|(p, (slug, name, users))| SeedPartner {
            slug: (*slug).to_owned(),
            name: (*name).to_owned(),
            users: users
                .iter()
                .map(|(name, email)| SeedUser {
                    name: (*name).to_owned(),
                    email: (*email).to_owned(),
                })
                .collect(),
            // northwind keeps the out-of-the-box default; contoso owns its renewals.
            default_owner: if p == 0 {
                (OwnerParty::Hubspot, None)
            } else {
                (OwnerParty::Partner, Some(0))
            },
            customers: (0..customers)
                .map(|i| customer(&mut rng, i as usize, users.len(), today))
                .collect(),
        })
        .collect();
    Dataset { partners }
}

fn customer(rng: &mut SplitMix64, i: usize, users: usize, today: NaiveDate) -> SeedCustomer {
    let (domain, name) = match UNICODE_NAMES.get(i) {
        Some((domain, name)) if i % 7 == 3 || i < 2 => ((*domain).to_owned(), (*name).to_owned()),
        _ => {
            let first = FIRST_WORDS[i % FIRST_WORDS.len()];
            let second = SECOND_WORDS[(i / FIRST_WORDS.len()) % SECOND_WORDS.len()];
            let round = i / (FIRST_WORDS.len() * SECOND_WORDS.len());
            let number = if round == 0 {
                String::new()
            } else {
                format!("{round}")
            };
            let domain = format!(
                "{}{}{number}.example",
                first.to_lowercase(),
                second.to_lowercase()
            );
            let suffix = SUFFIXES[rng.below(SUFFIXES.len() as u64) as usize];
            let name = format!(
                "{first} {second}{} {suffix}",
                if round == 0 {
                    String::new()
                } else {
                    format!(" {round}")
                }
            );
            (domain, name)
        }
    };
    let (manager_name, manager_email) = MANAGERS[rng.below(MANAGERS.len() as u64) as usize];
    let owner = match rng.below(8) {
        0 | 1 => Some((OwnerParty::Partner, Some(rng.below(users as u64) as usize))),
        2 => Some((OwnerParty::Hubspot, Some(rng.below(users as u64) as usize))),
        3 => Some((OwnerParty::Hubspot, None)),
        _ => None,
    };
    let ended = (rng.below(20) == 0)
        .then(|| END_REASONS[rng.below(END_REASONS.len() as u64) as usize].to_owned());
    SeedCustomer {
        domain,
        name,
        manager_name: manager_name.to_owned(),
        manager_email: manager_email.to_owned(),
        owner,
        ended,
        renewal: renewal(rng, today),
    }
}

fn renewal(rng: &mut SplitMix64, today: NaiveDate) -> SeedRenewal {
    let status = match rng.below(20) {
        0..=10 => RenewalStatus::Pending,
        11..=13 => RenewalStatus::Confirmed,
        14..=16 => RenewalStatus::Renewed,
        _ => RenewalStatus::CancellationRequested,
    };
    let currency = match rng.below(10) {
        0..=5 => "USD",
        6 | 7 => "EUR",
        8 => "GBP",
        _ => "JPY",
    };
    // Minor units per whole unit of list price (JPY has no minor unit; ~150 JPY per USD).
    let (minor_per_unit, price_factor) = if currency == "JPY" {
        (1, 150)
    } else {
        (100, 1)
    };
    let count = 1 + rng.below(5) as usize;
    let mut picked: Vec<usize> = Vec::with_capacity(count);
    while picked.len() < count {
        let product = rng.below(PRODUCTS.len() as u64) as usize;
        if !picked.contains(&product) {
            picked.push(product);
        }
    }
    let products = picked
        .into_iter()
        .map(|product| {
            let quantity = 1 + rng.below(if PRODUCTS[product].per_seat { 25 } else { 2 }) as i32;
            let unit = PRODUCTS[product].monthly_price * price_factor * minor_per_unit;
            let current = unit * i64::from(quantity);
            // Renewal prices move between -20% and +30%, to the whole unit.
            let change_percent = rng.below(51) as i64 - 20;
            let renewal =
                current + current * change_percent / 100 / minor_per_unit * minor_per_unit;
            (product, quantity, current, renewal)
        })
        .collect();
    SeedRenewal {
        status,
        renewal_date: today
            .checked_add_days(Days::new(rng.below(SPREAD_DAYS + 1)))
            .unwrap_or(today),
        currency,
        products,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = format!("{:?}", generate(30, 7, today()));
        let b = format!("{:?}", generate(30, 7, today()));
        let c = format!("{:?}", generate(30, 8, today()));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn domains_are_unique_per_partner() {
        let data = generate(2000, 1, today());
        for partner in &data.partners {
            let mut domains: Vec<_> = partner.customers.iter().map(|c| &c.domain).collect();
            domains.sort();
            domains.dedup();
            assert_eq!(domains.len(), partner.customers.len());
        }
    }

    #[test]
    fn every_status_and_owner_kind_occurs() {
        let data = generate(60, 42, today());
        let customers: Vec<_> = data.partners.iter().flat_map(|p| &p.customers).collect();
        for status in RenewalStatus::ALL {
            assert!(
                customers.iter().any(|c| c.renewal.status == status),
                "{status}"
            );
        }
        assert!(customers.iter().any(|c| c.owner.is_none()));
        assert!(
            customers
                .iter()
                .any(|c| matches!(c.owner, Some((OwnerParty::Partner, _))))
        );
        assert!(
            customers
                .iter()
                .any(|c| matches!(c.owner, Some((OwnerParty::Hubspot, _))))
        );
        assert!(customers.iter().any(|c| c.ended.is_some()));
        assert!(
            customers
                .iter()
                .all(|c| (1..=5).contains(&c.renewal.products.len()))
        );
        let latest = today() + Days::new(SPREAD_DAYS);
        assert!(customers.iter().all(|c| c.renewal.renewal_date <= latest));
    }
}
