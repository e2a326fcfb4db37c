//! Field errors as GraphQL says (§6.4.4, "Handling Field Errors"): a field
//! that failed is null, and a null where the schema promises a value is
//! passed up to the nearest parent that may be null, `data` at last.
//!
//! async-graphql 7.2.1 instead drops a failed field from its object, and an
//! object whose fields all failed becomes null, whatever the schema says:
//! `viewer { slug history(first: 0) { … } }` answered a `viewer` without its
//! non-null `history`, and `customer(id: "x", domain: "y")` made `data` null
//! instead of `customer`. Done after execution, from the errors' paths, so
//! a response without field errors costs nothing.

use async_graphql::{
    Name, PathSegment, Positioned, ServerError, Value,
    indexmap::IndexMap,
    parser::types::{
        BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
    },
    registry::{MetaTypeName, Registry},
};

use super::documents::{self, MAX_SPREAD_NESTING};

/// Puts `errors`' failed fields into `data` as nulls, and passes each null up
/// while the schema says its place cannot be null.
pub fn propagate(
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    data: &mut Value,
    errors: &[ServerError],
) {
    let Some((_, operation)) = documents::operation_of(document, operation_name) else {
        return;
    };
    let root = match operation.node.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    };
    let Some(root) = root else { return };
    let types = Types {
        registry,
        document,
        root,
        selection: &operation.node.selection_set.node,
    };
    let paths: Vec<&[PathSegment]> = errors
        .iter()
        .map(|error| error.path.as_slice())
        .filter(|path| !path.is_empty())
        .collect();
    // First every failed field is put back, so that a null met on the way
    // down later can only be one passed up.
    for path in &paths {
        put_back(data, path);
    }
    for path in &paths {
        let mut len = path.len();
        while len > 0 && !types.nullable_at(&path[..len]) {
            len -= 1;
            set_null(data, &path[..len]);
        }
    }
}

/// Makes `path` lead to a null: objects async-graphql made null because all
/// their fields failed become objects again, and the failed field is added.
fn put_back(data: &mut Value, path: &[PathSegment]) {
    let mut current = data;
    for segment in path {
        current = match segment {
            PathSegment::Field(key) => {
                if *current == Value::Null {
                    *current = Value::Object(IndexMap::new());
                }
                let Value::Object(object) = current else {
                    return;
                };
                object.entry(Name::new(key)).or_insert(Value::Null)
            }
            PathSegment::Index(index) => {
                let Value::List(items) = current else { return };
                let Some(item) = items.get_mut(*index) else {
                    return;
                };
                item
            }
        };
    }
}

/// Sets the value at `path` to null; nothing if a parent is null already.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let mut current = data;
    for segment in path {
        let next = match (segment, current) {
            (PathSegment::Field(key), Value::Object(object)) => object.get_mut(key.as_str()),
            (PathSegment::Index(index), Value::List(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else { return };
        current = next;
    }
    *current = Value::Null;
}

/// The schema's types along a response's paths, for one operation.
struct Types<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    root: &'a str,
    selection: &'a SelectionSet,
}

impl<'a> Types<'a> {
    /// Whether the schema lets the value at `path` be null; `true` when it
    /// cannot be told, so that nothing is passed up on a guess.
    fn nullable_at(&self, path: &[PathSegment]) -> bool {
        let mut parent = self.root;
        let mut sets = vec![self.selection];
        let mut ty: Option<Type> = None;
        for segment in path {
            match segment {
                PathSegment::Field(key) => {
                    let fields: Vec<(&Positioned<Field>, &str)> = self
                        .fields(&sets, parent)
                        .into_iter()
                        .filter(|(field, _)| field.node.response_key().node == key.as_str())
                        .collect();
                    let Some(meta) = fields.first().and_then(|(field, on)| {
                        self.registry
                            .types
                            .get(*on)
                            .and_then(|ty| ty.field_by_name(&field.node.name.node))
                    }) else {
                        return true;
                    };
                    ty = Type::new(&meta.ty);
                    parent = MetaTypeName::concrete_typename(&meta.ty);
                    sets = fields
                        .iter()
                        .map(|(field, _)| &field.node.selection_set.node)
                        .collect();
                }
                PathSegment::Index(_) => {
                    ty = match ty {
                        Some(Type {
                            base: BaseType::List(item),
                            ..
                        }) => Some(*item),
                        _ => return true,
                    };
                }
            }
        }
        ty.is_none_or(|ty| ty.nullable)
    }

    /// The fields `sets` select on an object of type `parent`, each with
    /// the type it is selected on (a fragment's type condition, or `parent`).
    fn fields(
        &self,
        sets: &[&'a SelectionSet],
        parent: &'a str,
    ) -> Vec<(&'a Positioned<Field>, &'a str)> {
        let mut fields = Vec::new();
        for set in sets {
            self.collect(set, parent, 0, &mut fields);
        }
        fields
    }

    fn collect(
        &self,
        set: &'a SelectionSet,
        on: &'a str,
        depth: usize,
        fields: &mut Vec<(&'a Positioned<Field>, &'a str)>,
    ) {
        if depth > MAX_SPREAD_NESTING {
            return;
        }
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => fields.push((field, on)),
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let on = fragment
                        .type_condition
                        .as_ref()
                        .map_or(on, |condition| condition.node.on.node.as_str());
                    self.collect(&fragment.selection_set.node, on, depth + 1, fields);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) =
                        self.document.fragments.get(&spread.node.fragment_name.node)
                    {
                        let fragment = &fragment.node;
                        let on = fragment.type_condition.node.on.node.as_str();
                        self.collect(&fragment.selection_set.node, on, depth + 1, fields);
                    }
                }
            }
        }
    }
}
