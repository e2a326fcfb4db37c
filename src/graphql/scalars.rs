//! The custom scalars: `Date`, `DateTime` and `Decimal`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};

/// A calendar date, `YYYY-MM-DD` (years 0001–9999), compared in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD` (years 0001–9999), compared in UTC.
#[Scalar(name = "Date")]
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
        well_formed
            .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .flatten()
            .filter(|date| date.format("%Y").to_string() != "0000")
            .map(Date)
            .ok_or_else(|| {
                InputValueError::custom(format!("{text:?} is not a date in the form YYYY-MM-DD"))
            })
    }

    fn to_value(&self) -> Value {
        // `NaiveDate`'s `Display` is `%Y-%m-%d`, without parsing a format string.
        Value::String(self.0.to_string())
    }
}

/// An instant in time, RFC 3339 in UTC (`2026-11-26T09:30:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant in time, RFC 3339 in UTC (`2026-11-26T09:30:00Z`).
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| DateTime(t.with_timezone(&Utc)))
            .map_err(|_| InputValueError::custom(format!("{text:?} is not an RFC 3339 date-time")))
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
    fn date_times_are_rfc3339_utc() {
        let t = DateTime::parse(Value::from("2026-11-26T10:00:00+01:00")).unwrap();
        assert_eq!(t.to_value(), Value::from("2026-11-26T09:00:00Z"));
    }
}
