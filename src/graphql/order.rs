//! The response's objects with their keys in the order the document
//! selects them (GraphQL §7.2.2, §6.3.2 CollectFields), whatever order
//! async-graphql gathered them in.

use async_graphql::{
    Name, Positioned, Value, Variables,
    parser::types::{Directive, ExecutableDocument, Field, Selection, SelectionSet},
};
use async_graphql_value::Value as ParsedValue;

use super::{
    documents::{MAX_SPREAD_NESTING, operation_of},
    is_a, rewrite,
};

/// Puts the keys of every object in `data` in the order the document
/// selects them, fragments spread in place (GraphQL §7.2.2). async-graphql
/// resolves the fields of the objects it drives side by side and gathers
/// them as they complete, so a field answered at once came before one that
/// waited for a loader or the database. JSON text written by eager objects
/// (`Value::Binary`) is in order already and left as it is.
pub fn order_as_selected(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    data: &mut Value,
) {
    if let Some((_, operation)) = operation_of(document, operation_name) {
        let ordering = Ordering {
            document,
            variables,
        };
        ordering.order(&[&operation.node.selection_set.node], data, 0);
    }
}

/// What orders a response: the document and its variables.
struct Ordering<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
}

impl<'a> Ordering<'a> {
    /// `value` ordered as `sets` select it, and its objects as their fields
    /// do.
    fn order(&self, sets: &[&'a SelectionSet], value: &mut Value, depth: usize) {
        if depth > MAX_SPREAD_NESTING {
            return;
        }
        match value {
            Value::List(items) => {
                for item in items {
                    self.order(sets, item, depth + 1);
                }
            }
            Value::Object(object) => {
                // The object's type, where the hidden `__typename` tells it
                // (added where fragments have type conditions).
                let typename = match object.get(rewrite::HIDDEN) {
                    Some(Value::String(typename)) => Some(typename.clone()),
                    _ => None,
                };
                let fields = self.fields_of(sets, typename.as_deref());
                let place = |key: &Name| {
                    fields
                        .iter()
                        .position(|f| f.node.response_key().node == *key)
                };
                object.sort_by(|a, _, b, _| place(a).cmp(&place(b)));
                for (key, child) in object.iter_mut() {
                    let below: Vec<&SelectionSet> = fields
                        .iter()
                        .filter(|f| f.node.response_key().node == *key)
                        .map(|f| &f.node.selection_set.node)
                        .filter(|set| !set.items.is_empty())
                        .collect();
                    if !below.is_empty() {
                        self.order(&below, child, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// The fields of `sets` that apply to an object of type `typename`, in
    /// order, fragments spread in place: those that `@skip`/`@include` leave
    /// out, or whose type condition the type does not meet, are not. Of an
    /// object whose type is not known, every fragment's fields (those of
    /// another type select keys the object lacks).
    fn fields_of(
        &self,
        sets: &[&'a SelectionSet],
        typename: Option<&str>,
    ) -> Vec<&'a Positioned<Field>> {
        let mut fields = Vec::new();
        for set in sets {
            self.collect(set, typename, 0, &mut fields);
        }
        fields
    }

    fn collect(
        &self,
        set: &'a SelectionSet,
        typename: Option<&str>,
        depth: usize,
        fields: &mut Vec<&'a Positioned<Field>>,
    ) {
        if depth > MAX_SPREAD_NESTING {
            return;
        }
        let variables = Some(self.variables);
        for selection in &set.items {
            let (directives, condition, inner) = match &selection.node {
                Selection::Field(field) => {
                    if !excluded(&field.node.directives, variables) {
                        fields.push(field);
                    }
                    continue;
                }
                Selection::InlineFragment(fragment) => (
                    &fragment.node.directives,
                    fragment.node.type_condition.as_ref(),
                    &fragment.node.selection_set.node,
                ),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let Some(fragment) = self.document.fragments.get(name) else {
                        continue;
                    };
                    let fragment = &fragment.node;
                    (
                        &spread.node.directives,
                        Some(&fragment.type_condition),
                        &fragment.selection_set.node,
                    )
                }
            };
            let applies = match (typename, condition) {
                (Some(typename), Some(condition)) => is_a(typename, &condition.node.on.node),
                _ => true,
            };
            if applies && !excluded(directives, variables) {
                self.collect(inner, typename, depth + 1, fields);
            }
        }
    }
}

/// Whether `set`, or a set within it, has a selection under `@skip` or
/// `@include`.
pub(super) fn has_conditions(set: &SelectionSet) -> bool {
    let conditional = |directives: &[Positioned<Directive>]| {
        directives
            .iter()
            .any(|d| matches!(d.node.name.node.as_str(), "skip" | "include"))
    };
    set.items.iter().any(|selection| match &selection.node {
        Selection::Field(field) => {
            conditional(&field.node.directives) || has_conditions(&field.node.selection_set.node)
        }
        Selection::InlineFragment(fragment) => {
            conditional(&fragment.node.directives)
                || has_conditions(&fragment.node.selection_set.node)
        }
        Selection::FragmentSpread(spread) => conditional(&spread.node.directives),
    })
}

/// Whether `directives` exclude their selection (`@skip(if: true)`,
/// `@include(if: false)`), with `variables` (their defaults given); with
/// none, only when they say so in the text.
pub(super) fn excluded(
    directives: &[Positioned<Directive>],
    variables: Option<&Variables>,
) -> bool {
    directives.iter().any(|directive| {
        let directive = &directive.node;
        let condition = directive
            .get_argument("if")
            .and_then(|value| match &value.node {
                ParsedValue::Boolean(condition) => Some(*condition),
                ParsedValue::Variable(name) => match variables?.get(name) {
                    Some(Value::Boolean(condition)) => Some(*condition),
                    _ => None,
                },
                _ => None,
            });
        match directive.name.node.as_str() {
            "skip" => condition == Some(true),
            "include" => condition == Some(false),
            _ => false,
        }
    })
}
