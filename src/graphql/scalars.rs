//! The custom scalars: `Date`, `DateTime` and `Decimal`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{Datelike, NaiveDate, SecondsFormat, Utc};

/// A calendar date, `YYYY-MM-DD` (years 0001–9999), compared in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD` (years 0001–9999), compared in UTC.
#[Scalar(
    name = "Date",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        let well_formed = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !well_formed {
            return Err(InputValueError::custom(format!(
                "{text:?} is not a date in the form YYYY-MM-DD (years 0001-9999)"
            )));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|date| date.year() >= 1)
            .map(Date)
            .ok_or_else(|| {
                let reason = if text.starts_with("0000") {
                    "years run from 0001"
                } else {
                    "no such day in the calendar"
                };
                InputValueError::custom(format!("{text:?} is not a calendar date: {reason}"))
            })
    }

    /// Checked by validation, before anything runs (a value that does not
    /// parse is a request error, not a field's).
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        Value::String(iso_date(self.0))
    }
}

/// What a value of the custom scalar `name` must look like, for validation's
/// message about one that does not (async-graphql's names the type alone).
pub fn expected_form(name: &str) -> Option<&'static str> {
    match name {
        "Date" => Some("a date of the calendar, written YYYY-MM-DD (years 0001-9999)"),
        "DateTime" => Some("an RFC 3339 date-time, such as 2026-11-26T09:30:00Z"),
        "Decimal" => Some("a decimal number in a string, such as \"1250.00\""),
        _ => None,
    }
}

/// `date` as `YYYY-MM-DD`, as `NaiveDate`'s `Display` writes it. Digit by
/// digit: `Display` goes through the formatter a character at a time, and a
/// dashboard page writes a date for each renewal.
pub fn iso_date(date: NaiveDate) -> String {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return date.to_string();
    }
    let mut text = *b"0000-00-00";
    let mut put = |at: usize, digits: usize, mut n: u32| {
        for i in (at..at + digits).rev() {
            text[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, date.month());
    put(8, 2, date.day());
    text.iter().map(|&b| char::from(b)).collect()
}

/// An instant in time, RFC 3339 in UTC (`2026-11-26T09:30:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant in time, RFC 3339 in UTC (`2026-11-26T09:30:00Z`).
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| DateTime(t.with_timezone(&Utc)))
            .map_err(|_| InputValueError::custom(format!("{text:?} is not an RFC 3339 date-time")))
    }

    /// Checked by validation, before anything runs (a value that does not
    /// parse is a request error, not a field's).
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// An exact decimal number as a string, e.g. `"1250.00"` or `"-3.50"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal(pub String);

/// An exact decimal number as a string, e.g. `"1250.00"` or `"-3.50"`.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if numeric(int) && numeric(frac) {
            Ok(Decimal(text.clone()))
        } else {
            Err(InputValueError::custom(format!(
                "{text:?} is not a decimal number"
            )))
        }
    }

    /// Checked by validation, before anything runs (a value that does not
    /// parse is a request error, not a field's).
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strictly_yyyy_mm_dd() {
        let ok = Date::parse(Value::from("2027-02-28")).unwrap();
        assert_eq!(ok.to_value(), Value::from("2027-02-28"));
        let early = Date::parse(Value::from("0001-01-05")).unwrap();
        assert_eq!(early.to_value(), Value::from("0001-01-05"));
        for bad in [
            "2027-02-29",
            "2027-2-28",
            "27-02-28",
            "2027/02/28",
            "0000-01-01",
            "+2027-02-28",
            "",
        ] {
            assert!(Date::parse(Value::from(bad)).is_err(), "{bad}");
        }
        assert!(Date::parse(Value::from(20270228)).is_err());
    }

    #[test]
    fn a_bad_date_is_told_apart_from_a_bad_form() {
        let message = |text: &str| match Date::parse(Value::from(text)) {
            Err(error) => error.into_server_error(Default::default()).message,
            Ok(_) => panic!("{text} parsed"),
        };
        assert!(
            message("2027-02-30").ends_with("not a calendar date: no such day in the calendar")
        );
        assert!(message("0000-01-01").ends_with("not a calendar date: years run from 0001"));
        assert!(message("10000-01-01").contains("not a date in the form YYYY-MM-DD"));
    }

    proptest::proptest! {
        #[test]
        fn dates_are_written_as_chrono_writes_them(days in -1_000_000i32..4_000_000) {
            let date = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            proptest::prop_assert_eq!(iso_date(date), date.to_string());
        }
    }

    #[test]
    fn date_times_are_rfc3339_utc() {
        let t = DateTime::parse(Value::from("2026-11-26T10:00:00+01:00")).unwrap();
        assert_eq!(t.to_value(), Value::from("2026-11-26T09:00:00Z"));
    }
}
