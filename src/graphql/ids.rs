//! Opaque global IDs: `base64url("Type:number")`.
//!
//! An ID names its type, so an ID of one type is never mistaken for another.
//! Decoding never fails loudly: anything that is not a well-formed ID of the
//! expected type behaves like an ID that does not exist.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// The types that implement `Node`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Partner,
    PartnerUser,
    Customer,
    Renewal,
    Product,
}

impl NodeKind {
    const ALL: [Self; 5] = [
        Self::Partner,
        Self::PartnerUser,
        Self::Customer,
        Self::Renewal,
        Self::Product,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Partner => "Partner",
            Self::PartnerUser => "PartnerUser",
            Self::Customer => "Customer",
            Self::Renewal => "Renewal",
            Self::Product => "Product",
        }
    }
}

/// Longer inputs cannot be IDs; they are rejected before decoding.
const MAX_ID_LEN: usize = 64;

pub fn encode(kind: NodeKind, id: i64) -> ID {
    // `Type:number` assembled in place: a dashboard page writes hundreds of IDs,
    // and `format!` was about 1 % of its CPU.
    let name = kind.name().as_bytes();
    let mut digits = itoa::Buffer::new();
    let number = digits.format(id).as_bytes();
    // The longest name (11 bytes), `:` and the longest i64 (20).
    let mut raw = [0u8; 32];
    let len = name.len() + 1 + number.len();
    raw[..name.len()].copy_from_slice(name);
    raw[name.len()] = b':';
    raw[name.len() + 1..len].copy_from_slice(number);
    ID(URL_SAFE_NO_PAD.encode(&raw[..len]))
}

/// The kind and database id behind a global ID, if it is one.
pub fn decode(id: &str) -> Option<(NodeKind, i64)> {
    if id.len() > MAX_ID_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (name, number) = text.split_once(':')?;
    let kind = NodeKind::ALL.into_iter().find(|k| k.name() == name)?;
    // Only canonical numbers: no sign, no leading zeros, so each row has one ID.
    if number.starts_with(['+', '-']) || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    let id = number.parse::<i64>().ok().filter(|id| *id > 0)?;
    Some((kind, id))
}

/// The database id behind a global ID of the given kind.
pub fn decode_as(id: &str, kind: NodeKind) -> Option<i64> {
    decode(id).filter(|(k, _)| *k == kind).map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_type() {
        let id = encode(NodeKind::Renewal, 42);
        assert_eq!(decode(&id), Some((NodeKind::Renewal, 42)));
        assert_eq!(decode_as(&id, NodeKind::Renewal), Some(42));
        assert_eq!(decode_as(&id, NodeKind::Customer), None);
    }

    proptest::proptest! {
        #[test]
        fn ids_are_base64_of_type_and_number(kind in 0..5usize, id in proptest::num::i64::ANY) {
            let kind = NodeKind::ALL[kind];
            let expected = URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name()));
            proptest::prop_assert_eq!(&encode(kind, id).0, &expected);
            if id > 0 {
                proptest::prop_assert_eq!(decode(&expected), Some((kind, id)));
            }
        }
    }

    #[test]
    fn malformed_ids_decode_to_nothing() {
        let forged = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            String::new(),
            "!!!".to_owned(),
            "x".repeat(10_000),
            forged("Renewal"),
            forged("Renewal:"),
            forged("Renewal:-1"),
            forged("Renewal:0"),
            forged("Renewal:007"),
            forged("Renewal:99999999999999999999"),
            forged("Invoice:1"),
        ] {
            assert_eq!(decode(&bad), None, "{bad}");
        }
    }
}
