//! What async-graphql is given instead of the document as written: the same
//! request, rewritten where async-graphql would otherwise answer it unlike
//! GraphQL says. Each rewrite names the behaviour it corrects.
//!
//! At parse time (kept with the parsed document): fields repeated under one
//! key merged, fragments at an operation's root inlined first (in
//! [`merge`](super::merge)); selection sets that could select nothing given
//! a hidden field ([`never_empty`]). Per request ([`for_request`]): the
//! operation that runs alone; input fields given a variable left out taken
//! out.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Pos, Positioned, Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
    },
};
use async_graphql_value::Value as ParsedValue;

use super::documents::{operation_of, top_sets};

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
pub(super) fn spread_from<'a>(
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
pub(super) fn operations_mut(
    operations: &mut DocumentOperations,
) -> Vec<&mut Positioned<OperationDefinition>> {
    match operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(operations) => operations.values_mut().collect(),
    }
}
