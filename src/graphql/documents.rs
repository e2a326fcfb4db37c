//! Parsed GraphQL documents, kept by their text: a dashboard sends the same
//! query on every visit, and parsing it costs about 4 % of the request's CPU.

use std::sync::Arc;

use async_graphql::parser::{parse_query, types::ExecutableDocument};
use quick_cache::{Weighter, sync::Cache};

/// Documents longer than this are parsed every time.
const MAX_CACHED_TEXT: usize = 16 * 1024;
/// The total length of the texts kept. A parsed document takes roughly ten
/// times its text, so the cache stays within a few megabytes.
const CACHED_TEXT_BUDGET: u64 = 512 * 1024;

#[derive(Clone)]
struct TextLength;

impl Weighter<String, ExecutableDocument> for TextLength {
    fn weight(&self, text: &String, _: &ExecutableDocument) -> u64 {
        text.len() as u64
    }
}

/// The parsed-document cache, shared by all requests (and partners: a parsed
/// document holds no data).
#[derive(Clone)]
pub struct Documents(Arc<Cache<String, ExecutableDocument, TextLength>>);

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
    pub fn parse(&self, text: &str) -> Option<ExecutableDocument> {
        if text.len() > MAX_CACHED_TEXT {
            return None;
        }
        if let Some(document) = self.0.get(text) {
            return Some(document);
        }
        let document = parse_query(text).ok()?;
        self.0.insert(text.to_owned(), document.clone());
        Some(document)
    }
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
        assert_eq!(format!("{first:?}"), format!("{again:?}"));

        assert!(documents.parse("{ partner { name }").is_none());
        let long = format!("{{ partner {{ name }} }}{}", " ".repeat(MAX_CACHED_TEXT));
        assert!(documents.parse(&long).is_none());
        assert_eq!(documents.0.len(), 1);
    }
}
