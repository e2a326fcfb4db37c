//! Eager objects: types whose fields are all in memory, resolved in one
//! synchronous pass over the selection set.
//!
//! async-graphql resolves every field of an object as a boxed future of its
//! own, polled through a `FuturesUnordered`. A dashboard page holds about a
//! thousand small objects (`Money`, `ProductRenewal`, `Product`), and for them
//! that machinery cost more than their data. [`Eager`] and [`EagerList`] keep
//! the wrapped type's schema (its derived type information, descriptions
//! included) and replace only how a value of it is resolved.
//!
//! The walk below follows async-graphql's own (`resolver_utils::container`):
//! aliases, `__typename`, fragments with type conditions (interfaces
//! included), and merging of fields selected twice. `@skip` and `@include`
//! are applied by async-graphql before execution. A test checks that an eager
//! type answers exactly what its derived resolvers answer, for every field.

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult, Value,
    indexmap::{IndexMap, map::Entry},
    parser::types::{Field, Selection},
    registry::Registry,
};

/// An object type whose fields are computed without waiting for anything.
pub trait EagerObject: OutputType {
    /// The value of the selected field `ctx.item`, by its name (never `__typename`).
    fn field(&self, ctx: &Context<'_>) -> Value;
}

/// A `T` resolved eagerly.
pub struct Eager<T>(pub T);

/// A list of `T`, each resolved eagerly.
pub struct EagerList<T>(pub Arc<[T]>);

impl<T: EagerObject> OutputType for Eager<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(resolve(&self.0, ctx))
    }
}

impl<T: EagerObject> OutputType for EagerList<T> {
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
        Ok(Value::List(
            self.0
                .iter()
                .enumerate()
                .map(|(index, item)| resolve(item, &ctx.with_index(index)))
                .collect(),
        ))
    }
}

/// The value of the object field `ctx.item` whose value is `object`: its
/// selection set resolved on `object`.
pub fn object<T: EagerObject>(object: &T, ctx: &Context<'_>) -> Value {
    resolve(
        object,
        &ctx.with_selection_set(&ctx.item.node.selection_set),
    )
}

/// The value of a scalar field.
pub fn scalar(value: &impl ScalarType) -> Value {
    value.to_value()
}

/// The name (not the alias) of the selected field.
pub fn field_name<'a>(ctx: &Context<'a>) -> &'a str {
    ctx.item.node.name.node.as_str()
}

/// `object` resolved on the selection set `ctx.item`.
fn resolve<T: EagerObject>(object: &T, ctx: &ContextSelectionSet<'_>) -> Value {
    let mut fields = IndexMap::with_capacity(ctx.item.node.items.len());
    collect(object, ctx, &mut fields);
    // As async-graphql does: an object with no selected field is null.
    if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    }
}

fn collect<T: EagerObject>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &mut IndexMap<Name, Value>,
) {
    for selection in &ctx.item.node.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                let value = if field.node.name.node == "__typename" {
                    Value::String(T::type_name().into_owned())
                } else {
                    object.field(&ctx.with_field(field))
                };
                insert(fields, field.node.response_key().node.clone(), value);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                // Validation has checked that the fragment exists.
                let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                else {
                    continue;
                };
                (
                    Some(&fragment.node.type_condition.node.on.node),
                    &fragment.node.selection_set,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| &c.node.on.node),
                &fragment.node.selection_set,
            ),
        };
        if condition.is_none_or(|name| applies::<T>(ctx, name)) {
            collect(object, &ctx.with_selection_set(selection_set), fields);
        }
    }
}

/// Whether a fragment on type `condition` applies to a `T`: it is `T` or an
/// interface `T` implements.
fn applies<T: OutputType>(ctx: &ContextSelectionSet<'_>, condition: &str) -> bool {
    let type_name = T::type_name();
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
