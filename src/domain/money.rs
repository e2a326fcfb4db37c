//! Money as integer minor units of an ISO 4217 currency. Never floats.

use std::fmt;

/// An ISO 4217 currency code (three uppercase ASCII letters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an ISO 4217 currency code")]
pub struct InvalidCurrency(pub String);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(InvalidCurrency(code.to_owned())),
        }
    }

    /// The code's three ASCII uppercase letters.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn code(&self) -> &str {
        // Only ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// How many digits follow the decimal point (2 for USD, 0 for JPY, 3 for KWD,
    /// 4 for CLF, 0 for those ISO 4217 gives no minor unit, such as XAU and XXX).
    pub fn minor_digits(&self) -> u32 {
        match &self.0 {
            // ISO 4217 exponent 0: no minor units.
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            // ISO 4217 "N.A.": metals, units of account, testing, no currency.
            b"XAG" | b"XAU" | b"XBA" | b"XBB" | b"XBC" | b"XBD" | b"XDR" | b"XPD" | b"XPT"
            | b"XSU" | b"XTS" | b"XUA" | b"XXX" => 0,
            // ISO 4217 exponent 3.
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            // ISO 4217 exponent 4 (units of account).
            b"CLF" | b"UYW" => 4,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money in minor units (cents for USD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// The amount as a decimal string with exactly the currency's minor digits:
    /// `"1250.00"`, `"-3.50"`, `"1200"` (JPY), `"1.250"` (KWD).
    pub fn amount(&self) -> String {
        let text = self.amount_text();
        text.as_bytes().iter().map(|&b| char::from(b)).collect()
    }

    /// [`Money::amount`] without allocating: its ASCII bytes, on the stack.
    pub fn amount_text(&self) -> AmountText {
        // Written digit by digit from the right (a dashboard formats hundreds
        // of amounts per request; `format!` was a measurable share of it).
        let digits = self.currency.minor_digits();
        let mut abs = self.minor.unsigned_abs();
        let mut buf = [0u8; 24];
        let mut at = buf.len();
        let mut written = 0;
        loop {
            at -= 1;
            buf[at] = b'0' + (abs % 10) as u8;
            abs /= 10;
            written += 1;
            if written == digits {
                at -= 1;
                buf[at] = b'.';
            }
            if abs == 0 && written > digits {
                break;
            }
        }
        if self.minor < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        AmountText { buf, at }
    }
}

/// The text of an amount: ASCII digits, at most one `.`, and a leading `-`
/// when negative.
pub struct AmountText {
    buf: [u8; 24],
    at: usize,
}

impl AmountText {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.at..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").unwrap())
    }

    #[test]
    fn amounts_have_exactly_the_currencys_minor_digits() {
        assert_eq!(usd(125_000).amount(), "1250.00");
        assert_eq!(usd(5).amount(), "0.05");
        assert_eq!(usd(0).amount(), "0.00");
        assert_eq!(usd(-350).amount(), "-3.50");
        assert_eq!(usd(-5).amount(), "-0.05");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(1200, jpy).amount(), "1200");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::new(1250, kwd).amount(), "1.250");
        // No minor unit in ISO 4217 ("N.A."): whole units.
        for code in ["XXX", "XAU", "XDR"] {
            let currency = Currency::parse(code).unwrap();
            assert_eq!(Money::new(7, currency).amount(), "7", "{code}");
        }
    }

    proptest! {
        #[test]
        fn amounts_match_the_plain_formula(minor in any::<i64>(), code in "(USD|JPY|KWD)") {
            let currency = Currency::parse(&code).unwrap();
            let digits = currency.minor_digits();
            let sign = if minor < 0 { "-" } else { "" };
            let abs = minor.unsigned_abs();
            let unit = 10u64.pow(digits);
            let expected = if digits == 0 {
                format!("{sign}{abs}")
            } else {
                format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = digits as usize)
            };
            prop_assert_eq!(Money::new(minor, currency).amount(), expected);
        }
    }

    #[test]
    fn minor_digits_follow_iso_4217_exponents() {
        for (code, digits) in [
            ("EUR", 2),
            ("CLP", 0),
            ("KRW", 0),
            ("XPF", 0),
            ("BHD", 3),
            ("TND", 3),
            ("CLF", 4),
            ("UYW", 4),
        ] {
            assert_eq!(
                Currency::parse(code).unwrap().minor_digits(),
                digits,
                "{code}"
            );
        }
        let clf = Money::new(-12345, Currency::parse("CLF").unwrap());
        assert_eq!(clf.amount(), "-1.2345");
    }

    #[test]
    fn extreme_amounts_do_not_overflow() {
        assert_eq!(usd(i64::MIN).amount(), "-92233720368547758.08");
        assert_eq!(usd(i64::MAX).amount(), "92233720368547758.07");
    }

    #[test]
    fn currency_codes_are_three_uppercase_letters() {
        assert!(Currency::parse("EUR").is_ok());
        for bad in ["eur", "EURO", "E1R", "", "ÉUR"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn the_amount_parses_back_to_the_same_minor_units(minor in any::<i64>()) {
            let amount = usd(minor).amount();
            let (int, frac) = amount.split_once('.').unwrap();
            prop_assert_eq!(frac.len(), 2);
            let value = int.parse::<i128>().unwrap() * 100
                + if int.starts_with('-') { -1 } else { 1 } * frac.parse::<i128>().unwrap();
            prop_assert_eq!(value, i128::from(minor));
        }
    }
}
