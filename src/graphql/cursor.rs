//! Opaque keyset cursors: the order they belong to and a position in it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

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

pub fn encode(sort: SortField, direction: Direction, position: &Position) -> String {
    let cursor = Cursor {
        f: sort,
        d: direction,
        p: position,
    };
    // Serializing plain enums, numbers and strings cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// The position in a cursor made for this order, or `BAD_USER_INPUT`.
pub fn decode(text: &str, sort: SortField, direction: Direction) -> Result<Position, Error> {
    let cursor: Cursor<Position> = (text.len() <= MAX_CURSOR_LEN)
        .then(|| URL_SAFE_NO_PAD.decode(text).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| Error::bad_input("the cursor is not valid; use one returned by this API"))?;
    if cursor.f != sort || cursor.d != direction {
        return Err(Error::bad_input(
            "the cursor belongs to a different order; page with the orderBy it came from",
        ));
    }
    Ok(cursor.p)
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
}
