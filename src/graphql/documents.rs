//! Parsed GraphQL documents, kept by their text: a dashboard sends the same
//! query on every visit, and parsing it costs about 4 % of the request's CPU.
//! Each is kept with whether it may be answered with eager objects' JSON
//! text ([`WriteJson`](super::eager::WriteJson)).

use std::{collections::HashSet, sync::Arc};

use async_graphql::parser::{
    parse_query,
    types::{ExecutableDocument, Selection, SelectionSet},
};
use quick_cache::{Weighter, sync::Cache};

/// Documents longer than this are parsed every time.
const MAX_CACHED_TEXT: usize = 16 * 1024;
/// The total length of the texts kept. A parsed document takes roughly ten
/// times its text, so the cache stays within a few megabytes.
const CACHED_TEXT_BUDGET: u64 = 512 * 1024;

#[derive(Clone)]
struct TextLength;

impl Weighter<String, Parsed> for TextLength {
    fn weight(&self, text: &String, _: &Parsed) -> u64 {
        text.len() as u64
    }
}

/// The parsed-document cache, shared by all requests (and partners: a parsed
/// document holds no data).
#[derive(Clone)]
pub struct Documents(Arc<Cache<String, Parsed, TextLength>>);

/// A parsed document.
#[derive(Clone)]
pub struct Parsed {
    pub document: ExecutableDocument,
    /// No selection set selects a response key twice, so no two values need
    /// merging, and eager objects may write their JSON text.
    pub writes_json: bool,
}

impl Default for Documents {
    fn default() -> Self {
        Self(Arc::new(Cache::with_weighter(
            256,
            CACHED_TEXT_BUDGET,
            TextLength,
        )))
    }
}

impl Documents {
    /// The parsed document, or `None` when it does not parse (or is too long to
    /// keep): the schema then parses it and reports the error in the usual way.
    pub fn parse(&self, text: &str) -> Option<Parsed> {
        if text.len() > MAX_CACHED_TEXT {
            return None;
        }
        if let Some(parsed) = self.0.get(text) {
            return Some(parsed);
        }
        let document = parse_query(text).ok()?;
        let parsed = Parsed {
            writes_json: !selects_a_key_twice(&document),
            document,
        };
        self.0.insert(text.to_owned(), parsed.clone());
        Some(parsed)
    }
}

/// How many selections [`selects_a_key_twice`] looks at before it gives up
/// and answers yes: fragments spread in fragments can multiply a small text.
const SELECTION_BUDGET: usize = 10_000;

/// Whether some selection set of `document`, its fragments spread in it,
/// selects a response key twice (or the document is too large to tell). Type
/// conditions and `@skip`/`@include` are not looked at, so the answer errs
/// on the side of yes.
fn selects_a_key_twice(document: &ExecutableDocument) -> bool {
    let mut budget = SELECTION_BUDGET;
    let mut sets = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| &fragment.node.selection_set.node),
        );
    sets.any(|set| repeats_a_key(document, set, &mut budget))
}

/// Whether `set` (fragments spread), or any set below it, selects a key twice.
fn repeats_a_key(document: &ExecutableDocument, set: &SelectionSet, budget: &mut usize) -> bool {
    let mut keys = HashSet::new();
    let mut pending = vec![set];
    while let Some(set) = pending.pop() {
        for selection in &set.items {
            let Some(left) = budget.checked_sub(1) else {
                return true;
            };
            *budget = left;
            match &selection.node {
                Selection::Field(field) => {
                    if !keys.insert(&field.node.response_key().node)
                        || repeats_a_key(document, &field.node.selection_set.node, budget)
                    {
                        return true;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    // An unknown fragment fails validation later.
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        pending.push(&fragment.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    pending.push(&fragment.node.selection_set.node);
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_parsed_documents_and_leaves_bad_or_long_ones_to_the_schema() {
        let documents = Documents::default();
        let query = "{ partner { name } }";
        let first = documents.parse(query).unwrap();
        assert_eq!(documents.0.len(), 1);
        let again = documents.parse(query).unwrap();
        assert_eq!(documents.0.len(), 1);
        assert_eq!(
            format!("{:?}", first.document),
            format!("{:?}", again.document)
        );

        assert!(documents.parse("{ partner { name }").is_none());
        let long = format!("{{ partner {{ name }} }}{}", " ".repeat(MAX_CACHED_TEXT));
        assert!(documents.parse(&long).is_none());
        assert_eq!(documents.0.len(), 1);
    }

    fn writes_json(query: &str) -> bool {
        Documents::default().parse(query).unwrap().writes_json
    }

    #[test]
    fn documents_that_select_a_key_twice_get_values_merged_not_json_text() {
        // Distinct keys everywhere, aliases included.
        assert!(writes_json(
            "{ a: renewals { totalCount } b: renewals { nodes { id customer { id } } } }"
        ));
        assert!(writes_json(
            "query { viewer { ...V } } fragment V on Viewer { name users { id } }"
        ));
        // The same key twice, at the root, nested, in a fragment, or through one.
        for query in [
            "{ renewals { totalCount } renewals { nodes { id } } }",
            "{ renewals { nodes { id id } } }",
            "{ renewals { nodes { id customer { name name: domain } } } }",
            "{ renewals { totalCount ... on RenewalConnection { totalCount } } }",
            "{ renewals { totalCount ...C } } fragment C on RenewalConnection { totalCount }",
            "{ renewals { ...C ...C } } fragment C on RenewalConnection { totalCount }",
            "{ viewer { name } } fragment U on PartnerUser { id id }",
            "{ renewals { totalCount @skip(if: true) totalCount } }",
        ] {
            assert!(!writes_json(query), "{query}");
        }
    }

    #[test]
    fn fragments_that_multiply_give_up_on_json_text() {
        // F0 spreads F1 under two fields, F1 spreads F2 under two, and so on:
        // 2^30 selections from a short text.
        let mut query = String::from("{ ...F0 }");
        for i in 0..30 {
            let next = i + 1;
            query +=
                &format!(" fragment F{i} on Query {{ a {{ ...F{next} }} b {{ ...F{next} }} }}");
        }
        query += " fragment F30 on Query { c }";
        assert!(!writes_json(&query));
    }
}
