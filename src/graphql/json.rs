//! GraphQL responses written as JSON, byte for byte as `serde_json` writes
//! them, but faster on their bulk: the `data` tree of strings.
//!
//! A dashboard response is about 55 KB, mostly strings that need no escaping
//! (IDs, amounts, names). `serde_json` checks them one byte at a time; here
//! eight bytes are checked at once, and a clean string is copied whole.
//! Errors, extensions and numbers still go through `serde_json`. A property
//! test compares the two writers' bytes.
//!
//! **`Value::Binary` holds JSON text.** Eager objects write their JSON
//! themselves (`Eager`) and hand it up as a binary
//! value, which this writer copies as it is. The schema has no binary scalar,
//! so no other binary value can reach a response.

use async_graphql::{Name, Response, Value, indexmap::IndexMap};

use super::rewrite::HIDDEN;

/// The JSON text of `response`. A request refused before execution (its
/// errors have no path, and there is no data) has no `data` entry at all, as
/// the GraphQL specification asks ("Response Format": data "should not be
/// present" when an error was raised before execution began).
pub fn to_vec(response: &Response) -> serde_json::Result<Vec<u8>> {
    // A dashboard page of 50 renewals is about 55 KB.
    let mut out = Vec::with_capacity(64 * 1024);
    out.push(b'{');
    if !refused_before_execution(response) {
        write_entry_key(&mut out, "data");
        write_value(&mut out, &response.data)?;
    }
    if !response.extensions.is_empty() {
        write_entry_key(&mut out, "extensions");
        serde_json::to_writer(&mut out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        write_entry_key(&mut out, "errors");
        serde_json::to_writer(&mut out, &response.errors)?;
    }
    out.push(b'}');
    Ok(out)
}

/// `"key":` of the response's next entry, after a comma unless it is the first.
fn write_entry_key(out: &mut Vec<u8>, key: &str) {
    if out.len() > 1 {
        out.push(b',');
    }
    write_str(out, key);
    out.push(b':');
}

/// Whether `response` answers a request that never ran: no data, and errors
/// that belong to no field.
pub fn refused_before_execution(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Appends the JSON text of `value`; a binary value is JSON text already.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(value) => write_bool(out, *value),
        Value::String(text) => write_str(out, text),
        Value::Enum(name) => write_str(out, name),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => write_object(out, fields)?,
        Value::Number(_) => serde_json::to_writer(&mut *out, value)?,
        Value::Binary(json) => out.extend_from_slice(json),
    }
    Ok(())
}

fn write_object(out: &mut Vec<u8>, fields: &IndexMap<Name, Value>) -> serde_json::Result<()> {
    out.push(b'{');
    // The hidden field of `rewrite::never_empty` is never written.
    let shown = fields.iter().filter(|(name, _)| name.as_str() != HIDDEN);
    for (i, (name, value)) in shown.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write_value(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends `true` or `false`.
pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`,
/// and the control characters below U+0020 (`\n` and its kind, else `\u00xx`).
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if is_clean(bytes) {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(out, bytes);
    }
    out.push(b'"');
}

/// Whether no byte of `bytes` needs escaping, checked eight bytes at a time
/// (the last word overlapping the one before it; a short string padded).
fn is_clean(bytes: &[u8]) -> bool {
    let word = |at: usize| {
        bytes[at..]
            .first_chunk::<8>()
            .map(|w| u64::from_le_bytes(*w))
    };
    let Some(last) = bytes.len().checked_sub(8).and_then(word) else {
        let mut padded = [b' '; 8];
        padded[..bytes.len()].copy_from_slice(bytes);
        return !needs_escape(u64::from_le_bytes(padded));
    };
    (0..bytes.len() / 8)
        .filter_map(|i| word(i * 8))
        .chain([last])
        .all(|word| !needs_escape(word))
}

fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut clean_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..at]);
        out.extend_from_slice(escape);
        clean_from = at + 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any of the eight bytes of `word` is below 0x20, `"` or `\`.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // The high bit of a byte is set where that byte is below `n` (n ≤ 0x80);
    // the result is non-zero exactly when some byte is.
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGH_BITS;
    let control = below(word, 0x20);
    let quote = below(word ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
    control | quote | backslash != 0
}

#[cfg(test)]
mod tests {
    use async_graphql::{Number, ServerError, Value};
    use proptest::prelude::*;

    use super::*;

    fn values() -> impl Strategy<Value = Value> {
        let text = prop_oneof![
            any::<String>(),
            "[ -~]{0,40}",
            proptest::collection::vec(
                prop_oneof![Just('"'), Just('\\'), Just('\u{1f}'), any::<char>()],
                0..20
            )
            .prop_map(|chars| chars.into_iter().collect()),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            text.clone().prop_map(Value::String),
            "[A-Z_]{1,12}".prop_map(|name| Value::Enum(Name::new(name))),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                proptest::collection::vec((text.clone(), inner), 0..8).prop_map(|fields| {
                    Value::Object(fields.into_iter().map(|(k, v)| (Name::new(k), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn writes_the_bytes_serde_json_writes(data in values(), with_errors in any::<bool>()) {
            let mut response = Response::new(data);
            if with_errors {
                response.errors.push(ServerError::new("a \"quoted\"\n error", None));
                response.extensions.insert("cost".into(), Value::Number(12.into()));
            }
            let ours = to_vec(&response).unwrap();
            if refused_before_execution(&response) {
                // The same, without `data`.
                let mut expected = serde_json::to_value(&response).unwrap();
                expected.as_object_mut().unwrap().remove("data");
                let ours: serde_json::Value = serde_json::from_slice(&ours).unwrap();
                prop_assert_eq!(ours, expected);
            } else {
                let expected = serde_json::to_vec(&response).unwrap();
                prop_assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(expected).unwrap()
                );
            }
        }
    }

    proptest! {
        #[test]
        fn copies_binary_values_as_the_json_text_they_hold(data in values()) {
            let mut text = Vec::new();
            write_value(&mut text, &data).unwrap();
            let wrap = |value| Value::List(vec![Value::Null, value]);
            let mut expected = Vec::new();
            write_value(&mut expected, &wrap(data)).unwrap();
            let mut written = Vec::new();
            write_value(&mut written, &wrap(Value::Binary(text.into()))).unwrap();
            prop_assert_eq!(written, expected);
        }
    }

    proptest! {
        #[test]
        fn checks_words_as_a_byte_by_byte_scan_does(word in any::<u64>()) {
            let naive = word.to_le_bytes().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_escape(word), naive);
        }
    }

    #[test]
    fn finds_every_byte_that_needs_escaping_in_a_word() {
        for byte in 0..=u8::MAX {
            let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
            for position in 0..8 {
                let mut word = [b'a'; 8];
                word[position] = byte;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    expected,
                    "{byte:#x} at {position}"
                );
            }
        }
    }
}
