//! Money as the API shows it.

use async_graphql::Object;

use crate::{
    domain::{Currency, money},
    graphql::{
        eager::{Plain, PlainFields},
        json,
        scalars::Decimal,
    },
};

/// An amount of money in a currency. Its text is written only when a field
/// asks for it: a dashboard page holds hundreds of amounts.
#[derive(Clone, Debug)]
pub enum Money {
    Valid(money::Money),
    /// A code that is not three uppercase letters: the minor units are shown
    /// as they are. (The database refuses such a code since the migration
    /// `domain_checks`; this is for a row stored before it.)
    Unknown {
        minor: i64,
        code: String,
    },
}

impl Money {
    /// `minor` units of the currency with ISO code `code`.
    pub fn new(minor: i64, code: &str) -> Self {
        match Currency::parse(code) {
            Ok(currency) => Self::Valid(money::Money::new(minor, currency)),
            Err(_) => Self::Unknown {
                minor,
                code: code.to_owned(),
            },
        }
    }

    fn amount_text(&self) -> String {
        match self {
            Self::Valid(money) => money.amount(),
            Self::Unknown { minor, .. } => minor.to_string(),
        }
    }

    /// The amount as a JSON string: ASCII digits, `.` and `-` need no escaping.
    fn write_amount(&self, out: &mut Vec<u8>) {
        match self {
            Self::Valid(money) => write_ascii(out, money.amount_text().as_bytes()),
            Self::Unknown { .. } => json::write_str(out, &self.amount_text()),
        }
    }

    /// The currency code as a JSON string: a valid one is three letters.
    fn write_code(&self, out: &mut Vec<u8>) {
        match self {
            Self::Valid(money) => write_ascii(out, money.currency.as_bytes()),
            Self::Unknown { code, .. } => json::write_str(out, code),
        }
    }

    fn code(&self) -> &str {
        match self {
            Self::Valid(money) => money.currency.code(),
            Self::Unknown { code, .. } => code,
        }
    }
}

impl PlainFields for Money {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "amount" => self.write_amount(out),
            "currencyCode" => self.write_code(out),
            _ => return false,
        }
        true
    }
}

/// Appends `text`, ASCII that needs no escaping, as a JSON string.
fn write_ascii(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// An amount of money in a currency.
#[Object]
impl Money {
    /// The amount with exactly the currency's minor digits, e.g. `"1250.00"` (USD) or `"1200"` (JPY).
    async fn amount(&self) -> Decimal {
        Decimal(self.amount_text())
    }

    /// ISO 4217 currency code, e.g. `USD`.
    async fn currency_code(&self) -> &str {
        self.code()
    }
}
