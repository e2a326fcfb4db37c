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

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
    futures_util::future::try_join_all,
    indexmap::{IndexMap, map::Entry},
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
    resolver_utils::resolve_container,
};

/// A `T` resolved eagerly; its schema is `T`'s.
#[derive(Clone, Debug)]
pub struct Eager<T>(pub T);

/// A list of `T`, each resolved eagerly; its schema is `[T!]!`.
#[derive(Clone, Debug)]
pub struct EagerList<T>(pub Arc<[T]>);

impl<T: ContainerType> OutputType for Eager<T> {
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
        resolve(&self.0, ctx).await
    }
}

impl<T: ContainerType> OutputType for EagerList<T> {
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
        // As `resolver_utils::resolve_list` does, with `resolve` for each item.
        let items = self.0.iter().enumerate().map(|(index, item)| async move {
            let ctx = ctx.with_index(index);
            resolve(item, &ctx)
                .await
                .map_err(|error| ctx.set_error_path(error))
        });
        Ok(Value::List(try_join_all(items).await?))
    }
}

/// `root` resolved on the selection set `ctx.item`.
async fn resolve<T: ContainerType>(root: &T, ctx: &ContextSelectionSet<'_>) -> ServerResult<Value> {
    let mut selected = Vec::with_capacity(ctx.item.node.items.len());
    if !select::<T>(root, ctx, &ctx.item.node, &mut selected) {
        return resolve_container(ctx, root).await;
    }
    let mut fields = IndexMap::with_capacity(selected.len());
    for field in selected {
        let key = field.node.response_key().node.clone();
        if field.node.name.node == "__typename" {
            let name = root.introspection_type_name().into_owned();
            insert(&mut fields, key, Value::String(name));
            continue;
        }
        match root.resolve_field(&ctx.with_field(field)).await {
            Ok(value) => insert(&mut fields, key, value.unwrap_or_default()),
            Err(error) => ctx.add_error(error),
        }
    }
    // As async-graphql does: an object with no selected field is null.
    Ok(if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    })
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
