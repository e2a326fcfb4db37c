//! Fields selected under one response key must merge (GraphQL §5.3.2, "Field
//! Selection Merging"), wherever they come from. async-graphql 7.2.1 compares
//! only fields selected directly in one set, or in fragments on one type,
//! and never their sub-selections. So `{ x: viewer { name } ...Q }`, with
//! `x: renewals { totalCount }` in a fragment `Q on Query`, ran both fields
//! and answered a mix of the two under `x`.
//!
//! The check follows the spec's algorithm, as the reference implementation
//! does: in every selection set, the fields under one key (fragments spread
//! in place) are compared in pairs, and so are the sub-selections of each
//! pair. Two fields that can never apply to the same object (on different
//! object types) need only answer in the same shape; others must also be the
//! same field with the same arguments.

use std::collections::HashSet;

use async_graphql::{
    Pos, Positioned, ServerError,
    indexmap::IndexMap,
    parser::types::{
        BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
    },
    registry::{MetaField, MetaType, MetaTypeName, Registry},
};

use super::typecheck::{applies_to, operations};

/// How many pairs of fields one document may have compared. A real document
/// compares a few hundred; thousands of fragments selecting one key would
/// otherwise cost their number squared.
const MAX_COMPARISONS: usize = 100_000;

/// How deep a pair's sub-selections are compared: beyond the depth limit a
/// document is refused anyway, and fragments that spread themselves (also
/// refused) would otherwise be compared for ever.
const MAX_DEPTH: usize = 32;

/// The conflicts between fields selected under one response key in
/// `document`, one error per conflicting pair.
pub fn check(registry: &Registry, document: &ExecutableDocument) -> Vec<ServerError> {
    let mut check = Check {
        registry,
        document,
        comparisons: 0,
        errors: Vec::new(),
    };
    for (operation, root) in operations(registry, document) {
        if let Some(root) = root {
            // A mutation's root is checked more strictly, by `typecheck`.
            let root_too = operation.ty != OperationType::Mutation;
            check.sets_within(&operation.selection_set.node, root, root_too);
        }
    }
    for fragment in document.fragments.values() {
        let fragment = &fragment.node;
        let on = fragment.type_condition.node.on.node.as_str();
        check.sets_within(&fragment.selection_set.node, on, true);
    }
    check.errors
}

/// A field as collected for comparison: where it was selected, and what the
/// schema says of it there (nothing if it does not know the field).
#[derive(Clone, Copy)]
struct Collected<'a> {
    field: &'a Positioned<Field>,
    parent: &'a str,
    meta: Option<&'a MetaField>,
}

struct Check<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    comparisons: usize,
    errors: Vec<ServerError>,
}

impl<'a> Check<'a> {
    /// Checks `set` (if `this_one`) and every selection set written inside
    /// it; fragments spread are checked where they are defined.
    fn sets_within(&mut self, set: &'a SelectionSet, parent: &'a str, this_one: bool) {
        if this_one {
            let fields = self.collect(set, parent);
            for same_key in fields.values() {
                for (i, a) in same_key.iter().enumerate() {
                    for b in &same_key[i + 1..] {
                        self.compare(*a, *b, false, 0);
                    }
                }
            }
        }
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let child = self
                        .registry
                        .types
                        .get(parent)
                        .and_then(|ty| ty.field_by_name(&field.name.node))
                        .map(|meta| MetaTypeName::concrete_typename(&meta.ty));
                    if let Some(child) = child {
                        self.sets_within(&field.selection_set.node, child, true);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = applies_to(&fragment.node, parent);
                    self.sets_within(&fragment.node.selection_set.node, on, false);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// The fields `set` selects on `parent`, by response key in document
    /// order, with its fragments' fields in place (each fragment once).
    fn collect(
        &self,
        set: &'a SelectionSet,
        parent: &'a str,
    ) -> IndexMap<&'a str, Vec<Collected<'a>>> {
        let mut fields = IndexMap::new();
        self.collect_into(set, parent, &mut fields, &mut HashSet::new());
        fields
    }

    fn collect_into(
        &self,
        set: &'a SelectionSet,
        parent: &'a str,
        fields: &mut IndexMap<&'a str, Vec<Collected<'a>>>,
        spread: &mut HashSet<&'a str>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let meta = self
                        .registry
                        .types
                        .get(parent)
                        .and_then(|ty| ty.field_by_name(&field.node.name.node));
                    let key = field.node.response_key().node.as_str();
                    let same_key = fields.entry(key).or_default();
                    // A leaf selected again alike, on the same type, merges
                    // with whatever its like merges with: it is compared
                    // once (a thousand fragments selecting `name` are no
                    // million pairs).
                    let again = same_key
                        .iter()
                        .rev()
                        .take(MAX_ALIKE_LOOKED_AT)
                        .any(|other| {
                            other.parent == parent && is_leaf_alike(&other.field.node, &field.node)
                        });
                    if !again {
                        same_key.push(Collected {
                            field,
                            parent,
                            meta,
                        });
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = applies_to(&fragment.node, parent);
                    self.collect_into(&fragment.node.selection_set.node, on, fields, spread);
                }
                Selection::FragmentSpread(fragment_spread) => {
                    let name = fragment_spread.node.fragment_name.node.as_str();
                    if !spread.insert(name) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(name) {
                        let fragment = &fragment.node;
                        let on = fragment.type_condition.node.on.node.as_str();
                        self.collect_into(&fragment.selection_set.node, on, fields, spread);
                    }
                }
            }
        }
    }

    /// Compares two fields selected under one key; `exclusive` if they can
    /// never apply to the same object (their parents', or ancestors', types
    /// are different object types).
    fn compare(&mut self, a: Collected<'a>, b: Collected<'a>, exclusive: bool, depth: usize) {
        if std::ptr::eq(a.field, b.field) || depth > MAX_DEPTH {
            return;
        }
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            if self.comparisons == MAX_COMPARISONS + 1 {
                self.errors.push(ServerError::new(
                    format!(
                        "The document selects too many fields under one key to check that they \
                         can merge (over {MAX_COMPARISONS} pairs): select each field once"
                    ),
                    Some(a.field.pos),
                ));
            }
            return;
        }
        let exclusive = exclusive
            || (a.parent != b.parent && self.is_object(a.parent) && self.is_object(b.parent));
        let (field_a, field_b) = (&a.field.node, &b.field.node);
        let key = field_a.response_key().node.as_str();
        if !exclusive && field_a.name.node != field_b.name.node {
            let why = format!(
                "\"{}\" and \"{}\" are different fields",
                field_a.name.node, field_b.name.node
            );
            return self.conflict(key, &why, a.field.pos, b.field.pos);
        }
        if !exclusive && !same_arguments(field_a, field_b) {
            return self.conflict(
                key,
                "they have differing arguments",
                a.field.pos,
                b.field.pos,
            );
        }
        let (Some(meta_a), Some(meta_b)) = (a.meta, b.meta) else {
            return;
        };
        let (Some(type_a), Some(type_b)) = (Type::new(&meta_a.ty), Type::new(&meta_b.ty)) else {
            return;
        };
        if !self.same_shape(&type_a, &type_b) {
            let why = format!(
                "they return conflicting types \"{}\" and \"{}\"",
                meta_a.ty, meta_b.ty
            );
            return self.conflict(key, &why, a.field.pos, b.field.pos);
        }
        let children_a = self.collect(
            &field_a.selection_set.node,
            MetaTypeName::concrete_typename(&meta_a.ty),
        );
        let children_b = self.collect(
            &field_b.selection_set.node,
            MetaTypeName::concrete_typename(&meta_b.ty),
        );
        for (key, under_a) in &children_a {
            let Some(under_b) = children_b.get(key) else {
                continue;
            };
            for x in under_a {
                for y in under_b {
                    self.compare(*x, *y, exclusive, depth + 1);
                }
            }
        }
    }

    fn conflict(&mut self, key: &str, why: &str, a: Pos, b: Pos) {
        let mut error = ServerError::new(
            format!(
                "Fields \"{key}\" conflict because {why}. Use different aliases on the fields \
                 to fetch both if this was intentional."
            ),
            Some(a),
        );
        error.locations.push(b);
        self.errors.push(error);
    }

    fn is_object(&self, name: &str) -> bool {
        matches!(self.registry.types.get(name), Some(MetaType::Object { .. }))
    }

    fn is_leaf(&self, name: &str) -> bool {
        self.registry.types.get(name).is_some_and(MetaType::is_leaf)
    }

    /// SameResponseShape (§5.3.2), but for the sub-selections, which
    /// [`Check::compare`] compares in turn: alike lists and non-nulls
    /// around the same leaf type, or around composite types.
    fn same_shape(&self, a: &Type, b: &Type) -> bool {
        if a.nullable != b.nullable {
            return false;
        }
        match (&a.base, &b.base) {
            (BaseType::List(a), BaseType::List(b)) => self.same_shape(a, b),
            (BaseType::Named(a), BaseType::Named(b)) => {
                if self.is_leaf(a) || self.is_leaf(b) {
                    a == b
                } else {
                    true
                }
            }
            _ => false,
        }
    }
}

/// How many of the fields collected under a key a leaf is looked for among
/// (the latest): enough for fragments that select one key alike, without a
/// search through every field of a key that many select differently.
const MAX_ALIKE_LOOKED_AT: usize = 8;

/// Whether two fields are the same leaf: the same field, with the same
/// arguments, selecting nothing below.
fn is_leaf_alike(a: &Field, b: &Field) -> bool {
    a.selection_set.node.items.is_empty()
        && b.selection_set.node.items.is_empty()
        && a.name.node == b.name.node
        && same_arguments(a, b)
}

/// Whether two fields are given the same arguments, in any order.
pub(super) fn same_arguments(a: &Field, b: &Field) -> bool {
    a.arguments.len() == b.arguments.len()
        && a.arguments.iter().all(|(name, value)| {
            b.get_argument(&name.node)
                .is_some_and(|other| other.node == value.node)
        })
}
