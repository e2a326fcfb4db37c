//! Parsed GraphQL documents, kept by their text: a dashboard sends the same
//! query on every visit, and parsing it costs about 4 % of the request's CPU.
//! Each is kept with whether it may be answered with eager objects' JSON
//! text ([`WriteJson`](super::eager::WriteJson)).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, OnceLock},
};

use async_graphql::{
    Name, Pos, Positioned, Value, Variables,
    parser::{
        parse_query,
        types::{ExecutableDocument, OperationDefinition, Selection, SelectionSet},
    },
};
use quick_cache::{Weighter, sync::Cache};

use super::{MAX_FIELDS_SPREAD, merge, order, rewrite, text};

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
    pub document: Arc<ExecutableDocument>,
    /// No selection set selects a response key twice, so no two values need
    /// merging, and eager objects may write their JSON text.
    pub writes_json: bool,
    /// How many fields its operations select once their fragments are spread
    /// ([`fields_spread`]).
    pub fields_spread: usize,
    /// It has `@skip` or `@include` somewhere: the response's order then
    /// depends on the variables ([`order::order_as_selected`]).
    pub selects_conditionally: bool,
    /// Why validation is to refuse it, found before async-graphql's (which
    /// misses it, or would not end), and where if one place says it.
    pub refused: Option<(String, Option<Pos>)>,
    /// Its variables that stand for an input object's field
    /// ([`rewrite::variables_in_objects`]).
    pub variables_in_objects: Vec<Name>,
    /// Set once every operation of a document of several has passed
    /// async-graphql's validation (see [`Api::execute`](super::Api::execute)).
    pub whole_validated: Arc<OnceLock<()>>,
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
    /// The parsed document (kept unless its text is long), or why there is
    /// none.
    pub fn parse(&self, text: &str) -> Result<Parsed, Unparsed> {
        let cached = text.len() <= MAX_CACHED_TEXT;
        if cached && let Some(parsed) = self.0.get(text) {
            return Ok(parsed);
        }
        if super::nests_too_deep(text) {
            return Err(Unparsed::TooDeep);
        }
        let mut document = parse_query(text).map_err(|_| Unparsed::Syntax)?;
        let (fields_spread, spreads_itself) = fields_spread(&document);
        let refused = refusal(&document, text, spreads_itself);
        // A document refused for its size is not rewritten: inlining its
        // fragments could take as long as validating it did.
        if fields_spread <= MAX_FIELDS_SPREAD {
            merge::merge_repeated_fields(&mut document);
            rewrite::never_empty(&mut document);
        }
        let writes_json = !selects_a_key_twice(&document);
        let selects_conditionally = top_sets(&document).any(order::has_conditions);
        let variables_in_objects = rewrite::variables_in_objects(&document);
        let parsed = Parsed {
            variables_in_objects,
            writes_json,
            fields_spread,
            refused,
            selects_conditionally,
            whole_validated: Arc::default(),
            document: Arc::new(document),
        };
        if cached {
            self.0.insert(text.to_owned(), parsed.clone());
        }
        Ok(parsed)
    }
}

/// Why a text has no parsed document.
#[derive(Debug)]
pub enum Unparsed {
    /// It does not parse: the schema parses it again, and reports the error
    /// as it does.
    Syntax,
    /// Its brackets nest deeper than [`text::MAX_NESTING`]: refused before
    /// any parser reads it.
    TooDeep,
}

/// Why [`Parsed::refused`].
fn refusal(
    document: &ExecutableDocument,
    text: &str,
    spreads_itself: Option<(Name, Pos)>,
) -> Option<(String, Option<Pos>)> {
    if let Some((name, at)) = spreads_itself {
        // async-graphql's validation walks it until its recursion limit, and
        // reports the query too deep.
        let message = format!("Cannot spread fragment \"{name}\" within itself");
        return Some((message, Some(at)));
    }
    if rewrite::uses_hidden_alias(document) {
        let message = format!(
            "the response key `{}` is kept for the server's own use: choose another alias",
            rewrite::HIDDEN
        );
        return Some((message, None));
    }
    text::repeated_input_field(text).map(|(name, at)| {
        let message = format!("There can only be one input field named \"{name}\"");
        (message, Some(at))
    })
}

/// Gives `variables` the defaults that `operation_name`'s operation declares
/// for the variables they leave out (GraphQL, "Coercing Variable Values").
/// async-graphql applies `@skip`/`@include` with the variables as sent: a
/// default was taken for false, so `@skip(if: $dryRun)` with
/// `$dryRun: Boolean = true` left out ran the mutation it was meant to skip.
pub fn fill_defaults(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &mut Variables,
) {
    let Some((_, operation)) = operation_of(document, operation_name) else {
        return;
    };
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        if let Some(default) = &definition.default_value
            && !variables.contains_key(&definition.name.node)
        {
            variables.insert(definition.name.node.clone(), default.node.clone());
        }
    }
}

/// The first variable that `operation_name`'s operation declares non-null,
/// without a default, and that `variables` leave out or give as null: a
/// request error (GraphQL, "Coercing Variable Values"), for which nothing may
/// run. async-graphql reports it only at the field that reads the variable,
/// once the operation runs (and the query's cost is charged).
pub fn missing_variable<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Option<&'a Name> {
    let (_, operation) = operation_of(document, operation_name)?;
    operation
        .node
        .variable_definitions
        .iter()
        .find_map(|definition| {
            let definition = &definition.node;
            let required = !definition.var_type.node.nullable && definition.default_value.is_none();
            let given = variables
                .get(&definition.name.node)
                .is_some_and(|value| *value != Value::Null);
            (required && !given).then_some(&definition.name.node)
        })
}

/// The operation a request runs: the one named, or the only one; `None`
/// when there is no such operation, or several and no name.
pub(super) fn operation_of<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<(Option<&'a Name>, &'a Positioned<OperationDefinition>)> {
    let mut operations = document.operations.iter();
    match operation_name {
        Some(wanted) => operations.find(|(name, _)| name.is_some_and(|name| name == wanted)),
        // Without a name, only a document of one operation says which:
        // async-graphql refuses the others ("Operation name required").
        None => operations
            .next()
            .filter(|_| document.operations.iter().count() == 1),
    }
}

/// How deep fragment spreads and selections may nest before
/// [`fields_spread`] stops counting (and answers `usize::MAX`). The parser
/// accepts 32 levels of text; fragments spread in fragments add to them.
pub(super) const MAX_SPREAD_NESTING: usize = 64;

/// What an introspection of the whole schema (`__schema`) costs: about the
/// values of its full answer (GraphiQL's query reads 2,110). Counted as one
/// field, 416 aliases of it were answered in one request without a token:
/// 18 MB in 2 s.
pub const SCHEMA_INTROSPECTION_COST: usize = 2_000;
/// What an introspection of one type (`__type`) costs: about the values of
/// its full answer (100 for `Renewal`'s fields with their arguments).
pub const TYPE_INTROSPECTION_COST: usize = 100;

/// What the introspections at the root of `document`'s operations cost, each
/// response key once (like selections under one key run once).
pub fn introspection_cost(document: &ExecutableDocument) -> usize {
    fn root<'a>(
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        keys: &mut HashSet<(&'a str, &'a Name)>,
        depth: usize,
    ) {
        if depth > MAX_SPREAD_NESTING {
            return;
        }
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if name == "__schema" || name == "__type" {
                        keys.insert((name, &field.node.response_key().node));
                    }
                }
                Selection::InlineFragment(fragment) => {
                    root(document, &fragment.node.selection_set.node, keys, depth + 1);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        root(document, &fragment.node.selection_set.node, keys, depth + 1);
                    }
                }
            }
        }
    }
    let mut keys = HashSet::new();
    for (_, operation) in document.operations.iter() {
        root(document, &operation.node.selection_set.node, &mut keys, 0);
    }
    keys.iter()
        .map(|(name, _)| match *name {
            "__schema" => SCHEMA_INTROSPECTION_COST,
            _ => TYPE_INTROSPECTION_COST,
        })
        .sum()
}

/// How many fields the operations of `document` select once every fragment
/// is spread where it is named: what validation and execution walk. Each
/// fragment is counted once and its count reused, so a short text whose
/// fragments spread each other twice over (2^31 fields from 1 KB) is
/// counted in an instant. A fragment that spreads itself counts nothing
/// here, and is the second answer; one not defined counts nothing either
/// (validation refuses it).
pub fn fields_spread(document: &ExecutableDocument) -> (usize, Option<(Name, Pos)>) {
    let mut counter = SpreadCounter {
        document,
        counted: HashMap::new(),
        open: HashSet::new(),
        spreads_itself: None,
    };
    let fields = document
        .operations
        .iter()
        .map(|(_, operation)| counter.set(&operation.node.selection_set.node, 0))
        .fold(0, usize::saturating_add);
    (fields, counter.spreads_itself)
}

struct SpreadCounter<'a> {
    document: &'a ExecutableDocument,
    /// Fields per fragment, once counted.
    counted: HashMap<&'a Name, usize>,
    /// The fragments being counted, to stop at one that spreads itself.
    open: HashSet<&'a Name>,
    /// The first fragment found spreading itself, where it does.
    spreads_itself: Option<(Name, Pos)>,
}

impl<'a> SpreadCounter<'a> {
    fn set(&mut self, set: &'a SelectionSet, depth: usize) -> usize {
        if depth > MAX_SPREAD_NESTING {
            return usize::MAX;
        }
        let mut fields: usize = 0;
        for selection in &set.items {
            let below = match &selection.node {
                Selection::Field(field) => {
                    1usize.saturating_add(self.set(&field.node.selection_set.node, depth + 1))
                }
                Selection::InlineFragment(fragment) => {
                    self.set(&fragment.node.selection_set.node, depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node, spread.pos, depth + 1)
                }
            };
            fields = fields.saturating_add(below);
        }
        fields
    }

    fn fragment(&mut self, name: &'a Name, at: Pos, depth: usize) -> usize {
        if let Some(&fields) = self.counted.get(name) {
            return fields;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        if !self.open.insert(name) {
            self.spreads_itself
                .get_or_insert_with(|| (name.clone(), at));
            return 0;
        }
        let fields = self.set(&fragment.node.selection_set.node, depth);
        self.open.remove(name);
        self.counted.insert(name, fields);
        fields
    }
}

/// How many selections [`selects_a_key_twice`] looks at before it gives up
/// and answers yes: fragments spread in fragments can multiply a small text.
const SELECTION_BUDGET: usize = 10_000;

/// The selection sets at the top of `document`: its operations', then its
/// fragments'.
pub(super) fn top_sets(document: &ExecutableDocument) -> impl Iterator<Item = &SelectionSet> {
    document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| &fragment.node.selection_set.node),
        )
}

/// Whether some selection set of `document`, its fragments spread in it,
/// selects a response key twice (or the document is too large to tell). Type
/// conditions and `@skip`/`@include` are not looked at, so the answer errs
/// on the side of yes.
fn selects_a_key_twice(document: &ExecutableDocument) -> bool {
    let mut budget = SELECTION_BUDGET;
    let mut sets = top_sets(document);
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

        assert!(documents.parse("{ partner { name }").is_err());
        let long = format!("{{ partner {{ name }} }}{}", " ".repeat(MAX_CACHED_TEXT));
        assert!(documents.parse(&long).is_ok());
        assert_eq!(documents.0.len(), 1, "a long text is parsed, not kept");
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
        // The same field twice in one set is merged into one first.
        assert!(writes_json(
            "{ renewals { totalCount } renewals { nodes { id id } } } fragment U on PartnerUser { id id }"
        ));
        assert!(writes_json(
            "{ renewals { ...C ...C } } fragment C on RenewalConnection { totalCount }"
        ));
        // The same key twice for different fields, or through fragments.
        for query in [
            "{ renewals { nodes { id customer { name name: domain } } } }",
            "{ renewals { totalCount ... on RenewalConnection { totalCount } } }",
            "{ renewals { totalCount ...C } } fragment C on RenewalConnection { totalCount }",
            "{ viewer { name } } fragment U on PartnerUser { id id: email }",
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

    fn fields_spread_in(query: &str) -> usize {
        Documents::default().parse(query).unwrap().fields_spread
    }

    #[test]
    fn fields_are_counted_with_every_fragment_spread_where_it_is_named() {
        assert_eq!(fields_spread_in("{ a b { c d } }"), 4);
        assert_eq!(
            fields_spread_in("{ a { ...F } b { ...F ... on T { c } } } fragment F on T { x y }"),
            7
        );
        // Every operation counts.
        assert_eq!(fields_spread_in("query A { a } query B { b { c } }"), 3);
        // Undefined and self-spreading fragments count nothing (validation
        // refuses them).
        assert_eq!(fields_spread_in("{ a { ...Nowhere } }"), 1);
        assert_eq!(
            fields_spread_in("{ a { ...F } } fragment F on T { x ...F }"),
            2
        );
        // 2^31 fields from a short text, counted at once.
        let mut query = String::from("{ viewer { ...F0 } }");
        for i in 0..30 {
            query += &format!(
                " fragment F{i} on Partner {{ slug ...F{} ...F{} }}",
                i + 1,
                i + 1
            );
        }
        query += " fragment F30 on Partner { slug }";
        assert_eq!(fields_spread_in(&query), 1 << 31);
        // Spreads nested deeper than anyone writes them are not counted out.
        let mut chain = String::from("{ ...F0 }");
        for i in 0..100 {
            chain += &format!(" fragment F{i} on Query {{ ...F{} }}", i + 1);
        }
        chain += " fragment F100 on Query { a }";
        assert_eq!(fields_spread_in(&chain), usize::MAX);
    }
}
