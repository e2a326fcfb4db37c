//! Money as the API shows it.

use async_graphql::SimpleObject;

use crate::{
    domain::{Currency, money},
    graphql::scalars::Decimal,
};

/// An amount of money in a currency.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    /// The amount with exactly the currency's minor digits, e.g. `"1250.00"` (USD) or `"1200"` (JPY).
    pub amount: Decimal,
    /// ISO 4217 currency code, e.g. `USD`.
    pub currency_code: String,
}

impl Money {
    /// `minor` units of the currency with ISO code `code`.
    pub fn new(minor: i64, code: &str) -> Self {
        match Currency::parse(code) {
            Ok(currency) => money::Money::new(minor, currency).into(),
            // Codes are validated on write; show an unknown one with two digits.
            Err(_) => Self {
                amount: Decimal(minor.to_string()),
                currency_code: code.to_owned(),
            },
        }
    }
}

impl From<money::Money> for Money {
    fn from(money: money::Money) -> Self {
        Self {
            amount: Decimal(money.amount()),
            currency_code: money.currency.code().to_owned(),
        }
    }
}
