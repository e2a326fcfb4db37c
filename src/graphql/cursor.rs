//! Opaque keyset cursors: for renewals, the order they belong to and a
//! position in it; for a history, whose it is and the last event shown.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    error::Error,
    store::{Direction, Position, SortField},
};

#[derive(Serialize, Deserialize)]
struct Cursor<P> {
    f: SortField,
    d: Direction,
    p: P,
}

/// Cursors are short; anything longer is not one.
const MAX_CURSOR_LEN: usize = 512;

/// A history's cursor: the customer whose history it pages (`None` for the
/// partner's own) and the last event of the page.
#[derive(Serialize, Deserialize)]
struct HistoryCursor {
    c: Option<i64>,
    e: i64,
}

fn seal(cursor: &impl Serialize) -> String {
    // Serializing plain enums, numbers and strings cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

fn open<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    (text.len() <= MAX_CURSOR_LEN)
        .then(|| URL_SAFE_NO_PAD.decode(text).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(not_a_cursor)
}

fn not_a_cursor() -> Error {
    Error::bad_input("the cursor is not valid; use one returned by this API")
}

pub fn encode(sort: SortField, direction: Direction, position: &Position) -> String {
    seal(&Cursor {
        f: sort,
        d: direction,
        p: position,
    })
}

/// The position in a cursor made for this order, or `BAD_USER_INPUT`.
pub fn decode(text: &str, sort: SortField, direction: Direction) -> Result<Position, Error> {
    let cursor: Cursor<Position> = open(text)?;
    if cursor.f != sort || cursor.d != direction {
        return Err(Error::bad_input(
            "the cursor belongs to a different order; page with the orderBy it came from",
        ));
    }
    if !sort.accepts(&cursor.p.value) {
        return Err(not_a_cursor());
    }
    Ok(cursor.p)
}

/// The cursor after `event_id` in the history of `customer_id` (`None`: the partner's own).
pub fn encode_history(customer_id: Option<i64>, event_id: i64) -> String {
    seal(&HistoryCursor {
        c: customer_id,
        e: event_id,
    })
}

/// The event id in a cursor made for this history, or `BAD_USER_INPUT`.
pub fn decode_history(text: &str, customer_id: Option<i64>) -> Result<i64, Error> {
    let cursor: HistoryCursor = open(text)?;
    if cursor.c != customer_id {
        return Err(Error::bad_input(
            "the cursor belongs to a different history; page with the history it came from",
        ));
    }
    Ok(cursor.e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SortValue;

    #[test]
    fn cursors_round_trip_within_their_order_only() {
        let position = Position {
            value: SortValue::Int(-350),
            id: 9,
        };
        let text = encode(SortField::MrrChange, Direction::Desc, &position);
        assert_eq!(
            decode(&text, SortField::MrrChange, Direction::Desc).unwrap(),
            position
        );
        assert!(decode(&text, SortField::MrrChange, Direction::Asc).is_err());
        assert!(decode(&text, SortField::Deadline, Direction::Desc).is_err());
        assert!(decode("garbage", SortField::Deadline, Direction::Asc).is_err());
        assert!(decode(&"A".repeat(10_000), SortField::Deadline, Direction::Asc).is_err());
    }

    #[test]
    fn history_cursors_belong_to_their_history() {
        let text = encode_history(Some(7), 42);
        assert_eq!(decode_history(&text, Some(7)).unwrap(), 42);
        assert!(decode_history(&text, Some(8)).is_err());
        assert!(decode_history(&text, None).is_err());
        let partners = encode_history(None, 42);
        assert_eq!(decode_history(&partners, None).unwrap(), 42);
        assert!(decode_history(&partners, Some(7)).is_err());
        let renewals = encode(
            SortField::Deadline,
            Direction::Asc,
            &Position {
                value: SortValue::Int(1),
                id: 42,
            },
        );
        assert!(decode_history(&renewals, Some(7)).is_err());
        assert!(decode_history("garbage", None).is_err());
    }
}
