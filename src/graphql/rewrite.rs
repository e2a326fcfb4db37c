//! What async-graphql is given instead of the document as written: the same
//! request, rewritten where async-graphql would otherwise answer it unlike
//! GraphQL says. Each rewrite names the behaviour it corrects.
//!
//! At parse time (kept with the parsed document): fields repeated under one
//! key merged, fragments at an operation's root inlined first
//! ([`merge_repeated_fields`]); selection sets that could select nothing
//! given a hidden field ([`never_empty`]). Per request ([`for_request`]): the
//! operation that runs alone; input fields given a variable left out taken
//! out.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, OutputType, Pos, Positioned, Variables,
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, Field, FragmentDefinition,
        FragmentSpread, InlineFragment, OperationDefinition, OperationType, Selection,
        SelectionSet,
    },
};
use async_graphql_value::Value as ParsedValue;

use super::{
    MAX_DIRECTIVES_PER_FIELD,
    documents::{MAX_SPREAD_NESTING, operation_of, top_sets},
    query::Query,
};

/// Merges each field selected again under the same response key, with the
/// same arguments and directives, into its first selection in the same
/// set (GraphQL §6.3.2, CollectFields: a response key's fields run once).
/// async-graphql ran each of them, and merged their answers: a mutation
/// selected twice ran twice (`endServices` ended a customer, then reported
/// it `ALREADY_ENDED`, in one payload). A fragment spread again alike is
/// dropped. Fields repeated through fragments still run apart, but at an
/// operation's root, whose fragments are inlined first
/// ([`inline_root_fragments`]).
pub fn merge_repeated_fields(document: &mut ExecutableDocument) {
    fn same(a: &Field, b: &Field) -> bool {
        let same_arguments = a.arguments.len() == b.arguments.len()
            && a.arguments
                .iter()
                .all(|argument| b.arguments.contains(argument));
        a.response_key().node == b.response_key().node
            && a.name.node == b.name.node
            && same_arguments
            && same_directives(&a.directives, &b.directives)
    }
    /// The same directives, in any order (a field has each at most once).
    fn same_directives(a: &[Positioned<Directive>], b: &[Positioned<Directive>]) -> bool {
        a.len() == b.len() && a.iter().all(|a| b.iter().any(|b| same_directive(a, b)))
    }
    fn same_spread(a: &FragmentSpread, b: &FragmentSpread) -> bool {
        a.fragment_name.node == b.fragment_name.node
            && same_directives(&a.directives, &b.directives)
    }
    fn merge(set: &mut SelectionSet) {
        // The kept selections by response key (fragments by name), at most
        // MAX_ALIKE each: comparing every selection with every other was
        // quadratic in a set's size.
        let mut kept: HashMap<Name, Vec<usize>> = HashMap::new();
        for item in std::mem::take(&mut set.items) {
            let key = match &item.node {
                Selection::Field(field) => Some(field.node.response_key().node.clone()),
                Selection::FragmentSpread(spread) => Some(spread.node.fragment_name.node.clone()),
                Selection::InlineFragment(_) => None,
            };
            let like = |index: &usize| match (&set.items[*index].node, &item.node) {
                (Selection::Field(kept), Selection::Field(field)) => same(&kept.node, &field.node),
                (Selection::FragmentSpread(kept), Selection::FragmentSpread(spread)) => {
                    same_spread(&kept.node, &spread.node)
                }
                _ => false,
            };
            let first = key
                .as_ref()
                .and_then(|key| kept.get(key))
                .and_then(|indexes| indexes.iter().copied().find(|index| like(index)));
            match (first, item.node) {
                (Some(index), Selection::Field(field)) => {
                    if let Selection::Field(kept) = &mut set.items[index].node {
                        let again = field.node.selection_set.node.items;
                        kept.node.selection_set.node.items.extend(again);
                    }
                }
                // A fragment is collected once per set (CollectFields'
                // visitedFragments): `{ ...F ...F }` ran and cost it twice.
                (Some(_), _) => {}
                (None, node) => {
                    if let Some(key) = key {
                        let indexes = kept.entry(key).or_default();
                        if indexes.len() < MAX_ALIKE {
                            indexes.push(set.items.len());
                        }
                    }
                    set.items.push(Positioned::new(node, item.pos));
                }
            }
        }
        for item in &mut set.items {
            match &mut item.node {
                Selection::Field(field) => merge(&mut field.node.selection_set.node),
                Selection::InlineFragment(fragment) => {
                    merge(&mut fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    inline_root_fragments(document);
    for operation in operations_mut(&mut document.operations) {
        merge(&mut operation.node.selection_set.node);
    }
    for fragment in document.fragments.values_mut() {
        merge(&mut fragment.node.selection_set.node);
    }
}

/// The same directive, with the same arguments.
fn same_directive(a: &Positioned<Directive>, b: &Positioned<Directive>) -> bool {
    a.node.name.node == b.node.name.node && a.node.arguments == b.node.arguments
}

/// How many selections under one response key (or of one fragment) a set
/// keeps apart to merge others into; those beyond are not merged (a
/// mutation's then refused by [`typecheck`](super::typecheck)).
const MAX_ALIKE: usize = 8;

/// The response key of the hidden `__typename` that [`never_empty`] adds.
pub(super) const HIDDEN: &str = "__renewals_hidden_typename";

/// Adds a hidden `__typename` to every selection set of an object that could
/// select nothing: one whose every selection is a fragment (whose type may
/// not match) or has a directive (`@skip`, `@include`). async-graphql answers
/// an object that selected nothing with null, not `{}`: `viewer { name
/// @skip(if: true) }` gave a null `viewer: Partner!`, and `node(id:) { ... on
/// Customer { id } }` for a renewal gave null, as for an ID that does not
/// exist. The response writer ([`json`](super::json)) leaves the hidden
/// key out, wherever it ends up (eager objects write their children's text
/// as they go). A set with fragments on a type gets one too: the object's
/// type tells the response's order which of them apply.
pub fn never_empty(document: &mut ExecutableDocument) {
    fn visit(set: &mut SelectionSet, objects_set: bool, pos: Pos) {
        for selection in &mut set.items {
            match &mut selection.node {
                Selection::Field(field) => {
                    let field = &mut field.node;
                    if !field.selection_set.node.items.is_empty() {
                        visit(&mut field.selection_set.node, true, field.name.pos);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    visit(&mut fragment.node.selection_set.node, false, pos);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
        let could_be_empty = set.items.iter().all(|selection| match &selection.node {
            Selection::Field(field) => !field.node.directives.is_empty(),
            Selection::InlineFragment(_) | Selection::FragmentSpread(_) => true,
        });
        // The object's type tells the response's order which fragments apply
        // ([`order_as_selected`](super::documents::order_as_selected)).
        let typed_fragments = set.items.iter().any(|selection| match &selection.node {
            Selection::Field(_) => false,
            Selection::InlineFragment(fragment) => fragment.node.type_condition.is_some(),
            Selection::FragmentSpread(_) => true,
        });
        if objects_set && (could_be_empty || typed_fragments) {
            let hidden = Field {
                alias: Some(Positioned::new(Name::new(HIDDEN), pos)),
                name: Positioned::new(Name::new("__typename"), pos),
                arguments: Vec::new(),
                directives: Vec::new(),
                selection_set: Positioned::new(SelectionSet::default(), pos),
            };
            let hidden = Positioned::new(Selection::Field(Positioned::new(hidden, pos)), pos);
            set.items.push(hidden);
        }
    }
    for operation in operations_mut(&mut document.operations) {
        visit(&mut operation.node.selection_set.node, true, operation.pos);
    }
    for fragment in document.fragments.values_mut() {
        visit(&mut fragment.node.selection_set.node, false, fragment.pos);
    }
}

/// Whether the document itself uses [`HIDDEN`] as an alias, which the
/// response writer leaves out: such a document is refused.
pub fn uses_hidden_alias(document: &ExecutableDocument) -> bool {
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => {
                field.node.response_key().node == HIDDEN || in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    top_sets(document).any(in_set)
}

/// The document async-graphql is to run for a request: the operation named
/// alone ([`only_operation`]), without the input fields given a variable
/// left out ([`drop_fields_given`]).
pub fn for_request(
    document: &ExecutableDocument,
    in_objects: &[Name],
    operation_name: Option<&str>,
    variables: &Variables,
) -> ExecutableDocument {
    let mut to_run = only_operation(document, operation_name).unwrap_or_else(|| document.clone());
    let left_out = left_out_in_objects(document, in_objects, operation_name, variables);
    if !left_out.is_empty() {
        drop_fields_given(&mut to_run, &left_out);
    }
    to_run
}

/// The document cut down to the operation named and the fragments it
/// spreads, when it holds other operations too; `None` otherwise.
///
/// async-graphql validates every operation of a document with the request's
/// variables, and adds up their costs: in a document of two queries, the one
/// run was refused for a variable only the other declares, and charged for
/// both. Only the operation that runs is given to it (the rules that need no
/// values, [`typecheck`](super::typecheck), still see the whole document).
fn only_operation(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<ExecutableDocument> {
    let DocumentOperations::Multiple(operations) = &document.operations else {
        return None;
    };
    let name = operation_name?;
    let (name, operation) = operations.get_key_value(name)?;
    let spread = spread_from(document, vec![&operation.node.selection_set.node]);
    Some(ExecutableDocument {
        operations: DocumentOperations::Multiple(HashMap::from([(
            name.clone(),
            operation.clone(),
        )])),
        fragments: document
            .fragments
            .iter()
            .filter(|(name, _)| spread.contains(*name))
            .map(|(name, fragment)| (name.clone(), fragment.clone()))
            .collect(),
    })
}

/// The fragments spread from `sets`, and from the fragments they spread.
fn spread_from<'a>(
    document: &'a ExecutableDocument,
    mut pending: Vec<&'a SelectionSet>,
) -> HashSet<Name> {
    let mut spread = HashSet::new();
    while let Some(set) = pending.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => pending.push(&field.node.selection_set.node),
                Selection::InlineFragment(fragment) => {
                    pending.push(&fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(spread_of) => {
                    let fragment_name = &spread_of.node.fragment_name.node;
                    if spread.insert(fragment_name.clone())
                        && let Some(fragment) = document.fragments.get(fragment_name)
                    {
                        pending.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    spread
}

/// The fragments that the operations spread.
fn spread_by_operations(document: &ExecutableDocument) -> HashSet<Name> {
    let roots = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .collect();
    spread_from(document, roots)
}

/// Puts the fields of the fragments at an operation's root in place of the
/// fragments, so that [`merge_repeated_fields`] merges a field selected
/// again through a fragment: each ran apart.
///
/// - At a mutation's root, every fragment, each field given the directives of
///   the fragments it was in (`...F @include(if: $x)`), unless that would
///   give one a directive twice or more than a field may have (the fragment
///   then stays); one selected again otherwise is refused by
///   [`typecheck`](super::typecheck). `endServices`,
///   and a fragment with it again, ended a customer and reported
///   `ALREADY_ENDED`; two `setDefaultRenewalOwner` with different owners
///   both ran.
/// - At a query's root, fragments on the query type without directives: a
///   dashboard made of fragments (`{ ...Header ...Table }`, each selecting
///   `renewals` alike) read its page twice.
///
/// Fragments then spread nowhere are dropped, as they were used. A fragment
/// whose definition has directives (none are allowed there) stays, for
/// validation to refuse.
fn inline_root_fragments(document: &mut ExecutableDocument) {
    /// Which fragments are put in place: all, or those on a query's root
    /// type without directives.
    #[derive(Clone, Copy)]
    enum Which<'a> {
        All,
        UndirectedOn(&'a str),
    }
    /// The directives of `more` that a selection with `own` directives is to
    /// be given: those it lacks. `None` if it cannot be given them: one
    /// would stand twice, unlike (`@include(if: $a)` within `...F
    /// @include(if: $b)` is refused as a duplicate, and the two cannot be
    /// made one), or there would be more than a field may have.
    fn to_give<'d>(
        own: &[Positioned<Directive>],
        more: &'d [Positioned<Directive>],
    ) -> Option<Vec<&'d Positioned<Directive>>> {
        let mut given = Vec::new();
        for directive in more {
            match own
                .iter()
                .find(|d| d.node.name.node == directive.node.name.node)
            {
                Some(alike) if same_directive(alike, directive) => {}
                Some(_) => return None,
                None => given.push(directive),
            }
        }
        (own.len() + given.len() <= MAX_DIRECTIVES_PER_FIELD).then_some(given)
    }
    fn directives_of(selection: &mut Selection) -> &mut Vec<Positioned<Directive>> {
        match selection {
            Selection::Field(field) => &mut field.node.directives,
            Selection::InlineFragment(kept) => &mut kept.node.directives,
            Selection::FragmentSpread(kept) => &mut kept.node.directives,
        }
    }
    fn inline(
        set: &mut SelectionSet,
        fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
        which: Which<'_>,
        depth: usize,
    ) {
        let applies = |on: Option<&Name>, directives: &[Positioned<Directive>]| match which {
            Which::All => true,
            Which::UndirectedOn(root) => {
                directives.is_empty() && on.is_none_or(|on| on.as_str() == root)
            }
        };
        for item in std::mem::take(&mut set.items) {
            let mut fragment = match item.node {
                Selection::InlineFragment(fragment)
                    if applies(
                        fragment
                            .node
                            .type_condition
                            .as_ref()
                            .map(|c| &c.node.on.node),
                        &fragment.node.directives,
                    ) =>
                {
                    fragment.node
                }
                Selection::FragmentSpread(spread)
                    if depth < MAX_SPREAD_NESTING
                        && fragments.get(&spread.node.fragment_name.node).is_some_and(
                            |fragment| {
                                fragment.node.directives.is_empty()
                                    && applies(
                                        Some(&fragment.node.type_condition.node.on.node),
                                        &spread.node.directives,
                                    )
                            },
                        ) =>
                {
                    let definition = &fragments[&spread.node.fragment_name.node].node;
                    InlineFragment {
                        type_condition: Some(definition.type_condition.clone()),
                        directives: spread.node.directives,
                        selection_set: definition.selection_set.clone(),
                    }
                }
                node => {
                    set.items.push(Positioned::new(node, item.pos));
                    continue;
                }
            };
            let inner = &mut fragment.selection_set.node;
            inline(inner, fragments, which, depth + 1);
            let directives = &fragment.directives;
            let given: Option<Vec<Vec<Positioned<Directive>>>> = inner
                .items
                .iter_mut()
                .map(|item| {
                    let given = to_give(directives_of(&mut item.node), directives)?;
                    Some(given.into_iter().cloned().collect())
                })
                .collect();
            let Some(given) = given else {
                // Kept, as a fragment of its own (validation then refuses a
                // field in it selected again elsewhere at a mutation's root).
                set.items.push(Positioned::new(
                    Selection::InlineFragment(Positioned::new(fragment, item.pos)),
                    item.pos,
                ));
                continue;
            };
            for (mut selection, given) in std::mem::take(&mut inner.items).into_iter().zip(given) {
                directives_of(&mut selection.node).extend(given);
                set.items.push(selection);
            }
        }
    }
    let used_before = spread_by_operations(document);
    let fragments = &document.fragments;
    let query_type = <Query as OutputType>::type_name();
    for operation in operations_mut(&mut document.operations) {
        let which = match operation.node.ty {
            OperationType::Mutation => Which::All,
            OperationType::Query => Which::UndirectedOn(&query_type),
            OperationType::Subscription => continue,
        };
        inline(&mut operation.node.selection_set.node, fragments, which, 0);
    }
    let used_after = spread_by_operations(document);
    document
        .fragments
        .retain(|name, _| used_after.contains(name) || !used_before.contains(name));
}

/// The variables that stand for an input object's field somewhere in
/// `document`: found once, when it is parsed, for [`for_request`].
pub fn variables_in_objects(document: &ExecutableDocument) -> Vec<Name> {
    let mut found = Vec::new();
    visit_values(document, &mut |value| {
        if let ParsedValue::Object(fields) = value {
            for value in fields.values() {
                if let ParsedValue::Variable(name) = value
                    && !found.contains(name)
                {
                    found.push(name.clone());
                }
            }
        }
    });
    found
}

/// The variables among `in_objects` (see [`variables_in_objects`]) that
/// `operation_name`'s operation declares without a default and `variables`
/// leave out. Such a field is as if not given (GraphQL, "Coercing Input
/// Objects"), so its default applies; async-graphql gave it null instead,
/// and `orderBy: {field: DEADLINE, direction: $d}` without `d` was refused,
/// the field being `OrderDirection! = ASC`. See [`drop_fields_given`].
fn left_out_in_objects(
    document: &ExecutableDocument,
    in_objects: &[Name],
    operation_name: Option<&str>,
    variables: &Variables,
) -> Vec<Name> {
    let Some((_, operation)) = operation_of(document, operation_name) else {
        return Vec::new();
    };
    operation
        .node
        .variable_definitions
        .iter()
        .map(|definition| &definition.node)
        .filter(|definition| {
            definition.default_value.is_none()
                && in_objects.contains(&definition.name.node)
                && !variables.contains_key(&definition.name.node)
        })
        .map(|definition| definition.name.node.clone())
        .collect()
}

/// Takes out of `document`'s input objects every field given one of the
/// variables `left_out` (see [`left_out_in_objects`]), and the definitions of
/// those of them then used nowhere (an unused variable is an error).
fn drop_fields_given(document: &mut ExecutableDocument, left_out: &[Name]) {
    fn drop_in(value: &mut ParsedValue, left_out: &[Name]) {
        match value {
            ParsedValue::Object(fields) => {
                fields.retain(|_, value| {
                    !matches!(value, ParsedValue::Variable(name) if left_out.contains(name))
                });
                fields
                    .values_mut()
                    .for_each(|value| drop_in(value, left_out));
            }
            ParsedValue::List(items) => items.iter_mut().for_each(|value| drop_in(value, left_out)),
            _ => {}
        }
    }
    visit_values_mut(document, &mut |value| drop_in(value, left_out));
    let mut still_used = Vec::new();
    visit_values(document, &mut |value| {
        if let ParsedValue::Variable(name) = value {
            still_used.push(name.clone());
        }
    });
    let unused = |name: &Name| left_out.contains(name) && !still_used.contains(name);
    for operation in operations_mut(&mut document.operations) {
        operation
            .node
            .variable_definitions
            .retain(|definition| !unused(&definition.node.name.node));
    }
}

/// Calls `f` on every argument value of `document`, and on every value
/// inside them.
fn visit_values(document: &ExecutableDocument, f: &mut impl FnMut(&ParsedValue)) {
    fn value(v: &ParsedValue, f: &mut impl FnMut(&ParsedValue)) {
        f(v);
        match v {
            ParsedValue::Object(fields) => fields.values().for_each(|v| value(v, f)),
            ParsedValue::List(items) => items.iter().for_each(|v| value(v, f)),
            _ => {}
        }
    }
    let mut sets: Vec<&SelectionSet> = top_sets(document).collect();
    while let Some(set) = sets.pop() {
        for selection in &set.items {
            let (directives, arguments, set) = match &selection.node {
                Selection::Field(field) => (
                    &field.node.directives,
                    Some(&field.node.arguments),
                    &field.node.selection_set.node,
                ),
                Selection::InlineFragment(fragment) => (
                    &fragment.node.directives,
                    None,
                    &fragment.node.selection_set.node,
                ),
                Selection::FragmentSpread(spread) => {
                    for directive in &spread.node.directives {
                        directive
                            .node
                            .arguments
                            .iter()
                            .for_each(|(_, v)| value(&v.node, f));
                    }
                    continue;
                }
            };
            for (_, v) in arguments.into_iter().flatten() {
                value(&v.node, f);
            }
            for directive in directives {
                directive
                    .node
                    .arguments
                    .iter()
                    .for_each(|(_, v)| value(&v.node, f));
            }
            sets.push(set);
        }
    }
}

/// Calls `f` on every argument value of `document` (directives' included).
fn visit_values_mut(document: &mut ExecutableDocument, f: &mut impl FnMut(&mut ParsedValue)) {
    fn set_values(set: &mut SelectionSet, f: &mut impl FnMut(&mut ParsedValue)) {
        for selection in &mut set.items {
            let (directives, set) = match &mut selection.node {
                Selection::Field(field) => {
                    let field = &mut field.node;
                    field.arguments.iter_mut().for_each(|(_, v)| f(&mut v.node));
                    (&mut field.directives, Some(&mut field.selection_set.node))
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &mut fragment.node;
                    (
                        &mut fragment.directives,
                        Some(&mut fragment.selection_set.node),
                    )
                }
                Selection::FragmentSpread(spread) => (&mut spread.node.directives, None),
            };
            for directive in directives {
                directive
                    .node
                    .arguments
                    .iter_mut()
                    .for_each(|(_, v)| f(&mut v.node));
            }
            if let Some(set) = set {
                set_values(set, f);
            }
        }
    }
    for operation in operations_mut(&mut document.operations) {
        set_values(&mut operation.node.selection_set.node, f);
    }
    for fragment in document.fragments.values_mut() {
        set_values(&mut fragment.node.selection_set.node, f);
    }
}

/// A document's operations, to change.
fn operations_mut(
    operations: &mut DocumentOperations,
) -> Vec<&mut Positioned<OperationDefinition>> {
    match operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(operations) => operations.values_mut().collect(),
    }
}
