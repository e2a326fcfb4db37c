//! Objects resolved field after field, in place.
//!
//! async-graphql resolves every field of an object as a boxed future of its
//! own and polls them together through a `FuturesUnordered`. A dashboard page
//! holds about 1,500 objects (renewals, customers, owners, amounts, product
//! renewals, products), nearly all of whose fields are in memory already, and
//! for them that machinery cost more than the data. [`Eager`] keeps the
//! wrapped type's schema and its derived resolvers, and only changes how they
//! are driven: each field's future is awaited where it is, one after the
//! other. A field in memory completes on its first poll; one that waits (a
//! loader) simply waits. Lists still resolve their items together
//! ([`EagerList`]), so that loaders batch across them.
//!
//! The walk follows async-graphql's own (`resolver_utils::container`):
//! aliases, `__typename`, fragments with type conditions (interfaces
//! included), fields selected twice merged, and a failed field reported as an
//! error and left out. `@skip` and `@include` are applied by async-graphql
//! before execution; a field with any other directive gets async-graphql's
//! own resolution. Extensions' `resolve` hooks are not called: the schema's
//! only extension, the [`Guard`](super::Guard), has none. The tests in
//! `types::eager_tests` compare both ways on the same queries.
//!
//! When the request carries [`WriteJson`], an eager object also writes its
//! own JSON text instead of building a tree of values (an `IndexMap` per
//! object, each key hashed) that would be written out and dropped later. It
//! hands the text up as a binary value, which [`json`](super::json) copies
//! as it is. A response key selected twice would need its values merged,
//! which text cannot be; so only documents that select no key twice in any
//! selection set get `WriteJson` ([`Documents`](super::documents)).
//!
//! With `WriteJson`, what is in memory skips the resolvers altogether: a type
//! writes its [`PlainFields`] itself, objects and lists of them included, and
//! an eager object or list whose whole selection is plain is written in one
//! pass into one buffer. A dashboard page's renewals are written that way, a
//! page's product renewals and notified users having been read with it. Any
//! field that is not plain (a loader, an argument, a fragment) sends its
//! object back to the walk above.

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
    futures_util::future::try_join_all,
    indexmap::{IndexMap, map::Entry},
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
    resolver_utils::resolve_container,
};

use super::{json, rewrite::HIDDEN};

/// Fields an eager object writes as JSON text itself, without a resolver:
/// values it holds, and objects in memory whose selected fields are all
/// plain, written in place ([`Plain::object`]). Through async-graphql's
/// resolver a field cost about 400 instructions (a future, a context, a value
/// allocated, written and dropped), and an object's text was copied up into
/// its parent's; a dashboard page has 2,000 such fields in 950 such objects.
/// Only fields with no arguments nor directives are plain, and only when the
/// request carries [`WriteJson`]; otherwise every field is resolved, so the
/// tests in `types::eager_tests` compare the two.
pub trait PlainFields {
    /// Appends the JSON value of `field` to `out`, if it is a plain field;
    /// false otherwise (`out` may then hold a part of it: the caller cuts it).
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        let _ = (field, out);
        false
    }
}

impl<T: PlainFields> PlainFields for &T {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        (*self).write_plain(field, out)
    }
}

/// A selected field, as [`PlainFields`] write it.
pub struct Plain<'a>(&'a Field);

impl Plain<'_> {
    /// The field's name in the schema.
    pub fn name(&self) -> &str {
        &self.0.name.node
    }

    /// Writes `object` with the field's selection, if every field it selects
    /// is plain and none is a fragment.
    pub fn object<T: OutputType + PlainFields>(&self, object: &T, out: &mut Vec<u8>) -> bool {
        write_plain_object(object, &self.0.selection_set.node, out)
    }

    /// Writes `items` with the field's selection, if every one is plain.
    pub fn list<T: OutputType + PlainFields>(&self, items: &[T], out: &mut Vec<u8>) -> bool {
        write_plain_list(items, &self.0.selection_set.node, out)
    }
}

/// The JSON text `write` writes, if the request takes JSON text and all it
/// selects is plain.
fn plain_text(
    ctx: &ContextSelectionSet<'_>,
    capacity: usize,
    write: impl FnOnce(&mut Vec<u8>) -> bool,
) -> Option<Value> {
    ctx.data_opt::<WriteJson>()?;
    let mut out = Vec::with_capacity(capacity);
    write(&mut out).then(|| Value::Binary(out.into()))
}

/// Writes each of `items` with the selection `set`, if they are all plain.
fn write_plain_list<T: OutputType + PlainFields>(
    items: &[T],
    set: &SelectionSet,
    out: &mut Vec<u8>,
) -> bool {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if !write_plain_object(item, set, out) {
            return false;
        }
    }
    out.push(b']');
    true
}

/// Writes the fields `set` selects on `root`, if they are all plain.
fn write_plain_object<T: OutputType + PlainFields>(
    root: &T,
    set: &SelectionSet,
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    for selection in &set.items {
        let Selection::Field(field) = &selection.node else {
            return false;
        };
        let field = &field.node;
        if field.response_key().node == HIDDEN {
            continue; // An eager object is never null for selecting nothing.
        }
        write_key(out, start, &field.response_key().node);
        if field.name.node == "__typename" {
            json::write_str(out, &root.introspection_type_name());
        } else if !is_plain(field) || !root.write_plain(&Plain(field), out) {
            return false;
        }
    }
    if out.len() == start {
        out.push(b'{'); // It selected nothing: `{}`.
    }
    out.push(b'}');
    true
}

/// Whether a field may be written as a plain one: it has no arguments and no
/// directives (a custom one, which async-graphql applies).
fn is_plain(field: &Field) -> bool {
    field.arguments.is_empty() && field.directives.is_empty()
}

/// A `T` resolved eagerly; its schema is `T`'s.
#[derive(Clone, Debug)]
pub struct Eager<T>(pub T);

/// A list of `T`, each resolved eagerly; its schema is `[T!]!`.
#[derive(Clone, Debug)]
pub struct EagerList<T>(pub Arc<[T]>);

/// Request data: eager objects write their JSON text (see the module's doc).
/// Only for documents that select no response key twice in a selection set.
pub struct WriteJson;

impl<T: ContainerType + PlainFields> OutputType for Eager<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let set = &ctx.item.node;
        let capacity = BYTES_PER_FIELD * set.items.len();
        if let Some(text) = plain_text(ctx, capacity, |out| write_plain_object(&self.0, set, out)) {
            return Ok(text);
        }
        resolve(&self.0, ctx).await
    }
}

impl<T: ContainerType + PlainFields> OutputType for EagerList<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let set = &ctx.item.node;
        let capacity = BYTES_PER_FIELD * set.items.len() * self.0.len();
        if let Some(text) = plain_text(ctx, capacity, |out| write_plain_list(&self.0, set, out)) {
            return Ok(text);
        }
        // As `resolver_utils::resolve_list` does, with `resolve` for each item.
        let items = self.0.iter().enumerate().map(|(index, item)| async move {
            let ctx = ctx.with_index(index);
            resolve(item, &ctx)
                .await
                .map_err(|error| ctx.set_error_path(error))
        });
        let items = try_join_all(items).await?;
        if ctx.data_opt::<WriteJson>().is_none() {
            return Ok(Value::List(items));
        }
        let mut out =
            Vec::with_capacity(items.iter().map(len_hint).sum::<usize>() + items.len() + 2);
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(&mut out, item)?;
        }
        out.push(b']');
        Ok(Value::Binary(out.into()))
    }
}

/// `root` resolved on the selection set `ctx.item`.
async fn resolve<T: ContainerType + PlainFields>(
    root: &T,
    ctx: &ContextSelectionSet<'_>,
) -> ServerResult<Value> {
    let mut selected = Vec::with_capacity(ctx.item.node.items.len());
    if !select::<T>(root, ctx, &ctx.item.node, &mut selected) {
        return resolve_container(ctx, root).await;
    }
    let mut object = if ctx.data_opt::<WriteJson>().is_some() {
        Object::Json(Vec::with_capacity(BYTES_PER_FIELD * selected.len()))
    } else {
        Object::Tree(IndexMap::with_capacity(selected.len()))
    };
    for field in selected {
        let key = &field.node.response_key().node;
        if key == HIDDEN {
            continue; // An eager object is never null for selecting nothing.
        }
        if field.node.name.node == "__typename" {
            let name = root.introspection_type_name().into_owned();
            object.insert(key, Value::String(name))?;
            continue;
        }
        if object.write_plain(key, root, &field.node) {
            continue;
        }
        match root.resolve_field(&ctx.with_field(field)).await {
            Ok(value) => object.insert(key, value.unwrap_or_default())?,
            Err(error) => ctx.add_error(error),
        }
    }
    Ok(object.finish())
}

/// Room for a field's JSON text, before the object's text grows: enough for
/// most fields of a dashboard, which are short strings, numbers and amounts.
const BYTES_PER_FIELD: usize = 64;

/// An object's fields as they are resolved: its JSON text, or a tree of values.
enum Object {
    Json(Vec<u8>),
    Tree(IndexMap<Name, Value>),
}

impl Object {
    fn insert(&mut self, key: &Name, value: Value) -> ServerResult<()> {
        match self {
            Self::Json(out) => {
                // Room for the key, the text and the closing brace: after a long
                // text (a list), the brace would copy the object's text again.
                if let Value::Binary(text) = &value {
                    out.reserve(key.len() + 5 + text.len());
                }
                write_key(out, 0, key);
                write(out, &value)
            }
            Self::Tree(fields) => {
                insert(fields, key.clone(), value);
                Ok(())
            }
        }
    }

    /// Writes `root`'s `field` as [`PlainFields`] do, under `key`; false
    /// if it is not a plain field or the object is a tree of values.
    fn write_plain<T: PlainFields>(&mut self, key: &Name, root: &T, field: &Field) -> bool {
        let Self::Json(out) = self else {
            return false;
        };
        if !is_plain(field) {
            return false;
        }
        let mark = out.len();
        write_key(out, 0, key);
        if root.write_plain(&Plain(field), out) {
            return true;
        }
        out.truncate(mark);
        false
    }

    /// The object's value. As async-graphql does, an object with no selected field is null.
    fn finish(self) -> Value {
        match self {
            // An object that selected nothing is `{}` (async-graphql's null
            // would say it failed, or is not there).
            Self::Json(out) if out.is_empty() => Value::Binary(b"{}".as_slice().into()),
            Self::Json(mut out) => {
                out.push(b'}');
                Value::Binary(out.into())
            }
            Self::Tree(fields) => Value::Object(fields),
        }
    }
}

/// Starts a member of the object whose JSON text starts at `start` in `out`:
/// its key.
fn write_key(out: &mut Vec<u8>, start: usize, key: &Name) {
    out.extend_from_slice(if out.len() == start { b"{\"" } else { b",\"" });
    // A response key is a GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`), which never
    // needs escaping.
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends the JSON text of a resolved value.
fn write(out: &mut Vec<u8>, value: &Value) -> ServerResult<()> {
    json::write_value(out, value)
        .map_err(|error| async_graphql::ServerError::new(error.to_string(), None))
}

/// About how long a resolved item's JSON text is.
fn len_hint(value: &Value) -> usize {
    match value {
        Value::Binary(json) => json.len(),
        _ => 16,
    }
}
/// Adds the fields `set` selects on `root` to `selected`, fragments expanded,
/// in document order. False if a field carries a directive (a custom one:
/// `@skip` and `@include` are gone by now), which only async-graphql applies.
fn select<'a, T: OutputType>(
    root: &T,
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    selected: &mut Vec<&'a Positioned<Field>>,
) -> bool {
    for selection in &set.items {
        let (condition, set) = match &selection.node {
            Selection::Field(field) => {
                if !field.node.directives.is_empty() {
                    return false;
                }
                selected.push(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                // Validation has checked that the fragment exists.
                let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                else {
                    continue;
                };
                (
                    Some(fragment.node.type_condition.node.on.node.as_str()),
                    &fragment.node.selection_set.node,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str()),
                &fragment.node.selection_set.node,
            ),
        };
        if condition.is_none_or(|condition| applies(root, ctx, condition))
            && !select(root, ctx, set, selected)
        {
            return false;
        }
    }
    true
}

/// Whether a fragment on type `condition` applies to `root`: it is `root`'s
/// type or an interface that type implements.
fn applies<T: OutputType>(root: &T, ctx: &ContextSelectionSet<'_>, condition: &str) -> bool {
    let type_name = root.introspection_type_name();
    type_name == condition
        || ctx
            .schema_env
            .registry
            .implements
            .get(type_name.as_ref())
            .is_some_and(|interfaces| interfaces.contains(condition))
}

/// Adds a field's value; a field selected twice merges its sub-selections.
fn insert(fields: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    let previous = match fields.entry(key) {
        Entry::Vacant(entry) => {
            entry.insert(value);
            return;
        }
        Entry::Occupied(entry) => entry.into_mut(),
    };
    match (previous, value) {
        (Value::Object(previous), Value::Object(value)) => {
            for (key, value) in value {
                insert(previous, key, value);
            }
        }
        (Value::List(previous), Value::List(list)) => {
            for (previous, value) in previous.iter_mut().zip(list) {
                if let (Value::Object(previous), Value::Object(value)) = (previous, value) {
                    for (key, value) in value {
                        insert(previous, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}
