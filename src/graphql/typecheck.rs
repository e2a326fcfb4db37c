//! Validation rules async-graphql 7.2.1 does not enforce, checked before its
//! own (so on documents it may yet refuse):
//!
//! - **Every variable is used where its type fits** (GraphQL §5.8.5, "All
//!   Variable Usages Are Allowed"). async-graphql has the rule, but its
//!   visitor never hands it the input values it looks at, so it never fires:
//!   `query($id: Int!) { renewal(id: $id) { … } }` ran.
//! - **No enum value is written as a string** (§5.6.1, "Values of Correct
//!   Type"): async-graphql takes `status: "PENDING"` for `status: PENDING`,
//!   which other servers refuse. (A variable's JSON value is a string, as it
//!   should be.)
//! - **A mutation's root selects a response key once** (§5.3.2, "Field
//!   Selection Merging"): what remains twice once fragments are inlined and
//!   like fields merged ([`merge`](super::merge)) differs in arguments or
//!   directives, and async-graphql ran both (two `setDefaultRenewalOwner`
//!   with different owners, one through a fragment).
//! - **Fields under one key merge** elsewhere (§5.3.2 again): in
//!   [`overlaps`](super::overlaps).
//! - **`__typename` is a field like the others** (§5.4.1, §5.3.3, §5.7):
//!   async-graphql's rules pass over it, and ran `__typename(x: 1) @foo
//!   @skip(if: "no") { y }`. Its arguments, selections and directives are
//!   checked here. (A variable used only in its directives is still taken for
//!   unused by async-graphql's rule, which refuses the document.)
//! - **A variable of a non-null type is not `null`** (§6.1.2), even with a
//!   default: [`nulls_for_non_null_variables`], which reads the request's
//!   values and so is checked apart.
//! - **An input object names each field once** (§5.6.3, "Input Object Field
//!   Uniqueness"): async-graphql's parser keeps one of `{ status: [PENDING],
//!   status: [RENEWED] }` and says nothing. The parsed document no longer
//!   shows it: [`text::repeated_input_field`](super::text::repeated_input_field)
//!   reads the document's text.

use std::collections::HashSet;

use async_graphql::{
    Name, Pos, Positioned, ServerError,
    parser::types::{
        BaseType, Directive, DocumentOperations, ExecutableDocument, Field, InlineFragment,
        OperationDefinition, OperationType, Selection, SelectionSet, Type, VariableDefinition,
    },
    registry::{MetaInputValue, MetaType, MetaTypeName, Registry},
};
use async_graphql_value::{ConstValue, Value};

use super::order::excluded;

/// The errors of `document` against these rules, in document order.
pub fn check(registry: &Registry, document: &ExecutableDocument) -> Vec<ServerError> {
    let mut errors = Vec::new();
    for (operation, root) in operations(registry, document) {
        let mut walk = Walk {
            registry,
            document,
            variables: &operation.variable_definitions,
            spread: HashSet::new(),
            errors: &mut errors,
        };
        for variable in &operation.variable_definitions {
            if let Some(default) = &variable.node.default_value {
                let value = default.node.clone().into_value();
                walk.value(&value, &variable.node.var_type.node, false, default.pos);
            }
        }
        walk.directives(&operation.directives);
        if operation.ty == OperationType::Mutation {
            walk.mutations_once(&operation.selection_set.node);
        }
        if let Some(root) = root {
            walk.selection_set(&operation.selection_set.node, root);
        }
    }
    errors.extend(super::overlaps::check(registry, document));
    errors.sort_by_key(|error| error.locations.first().map(|pos| (pos.line, pos.column)));
    errors
}

/// The errors of the variables the request gives `null` (`nulls`) that the
/// operation it runs (`operation_name`) declares of a non-null type, default
/// or none: the request fails (§6.1.2, CoerceVariableValues). async-graphql
/// passed `null` on for `$n: Int! = 1`.
pub fn nulls_for_non_null_variables(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    nulls: &[String],
) -> Vec<ServerError> {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
            Some(operation) => operation,
            None => return Vec::new(),
        },
        (DocumentOperations::Multiple(_), None) => return Vec::new(),
    };
    operation
        .node
        .variable_definitions
        .iter()
        .filter(|variable| {
            let variable = &variable.node;
            !variable.var_type.node.nullable
                && nulls.iter().any(|n| n == variable.name.node.as_str())
        })
        .map(|variable| {
            let message = format!(
                "Variable \"${}\" of non-null type \"{}\" must not be null",
                variable.node.name.node, variable.node.var_type.node
            );
            ServerError::new(message, Some(variable.pos))
        })
        .collect()
}

/// The operations of `document`, each with its root type (if the schema has
/// one of its kind).
pub(super) fn operations<'a>(
    registry: &'a Registry,
    document: &'a ExecutableDocument,
) -> impl Iterator<Item = (&'a OperationDefinition, Option<&'a str>)> {
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(operations) => operations.values().collect(),
    };
    operations.into_iter().map(|operation| {
        let operation = &operation.node;
        let root = match operation.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        (operation, root)
    })
}

/// The type an inline fragment's selections apply to, in a set on `parent`.
pub(super) fn applies_to<'a>(fragment: &'a InlineFragment, parent: &'a str) -> &'a str {
    fragment
        .type_condition
        .as_ref()
        .map_or(parent, |condition| condition.node.on.node.as_str())
}

/// One operation's walk through its selections and the fragments they spread.
struct Walk<'a, 'e> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    variables: &'a [Positioned<VariableDefinition>],
    /// The fragments walked already: each is checked once per operation.
    spread: HashSet<&'a str>,
    errors: &'e mut Vec<ServerError>,
}

impl<'a> Walk<'a, '_> {
    /// Refuses a response key selected twice at a mutation's root, also
    /// through the fragments left there (those whose directives could not be
    /// given to their fields: see [`merge`](super::merge)).
    fn mutations_once(&mut self, root: &'a SelectionSet) {
        fn keys<'a>(
            set: &'a SelectionSet,
            document: &'a ExecutableDocument,
            spread: &mut HashSet<&'a str>,
            found: &mut Vec<&'a Positioned<Name>>,
        ) {
            for selection in &set.items {
                match &selection.node {
                    // `__typename` changes nothing, and a field that never
                    // runs runs no mutation.
                    Selection::Field(field)
                        if !field.node.name.node.starts_with("__")
                            && !excluded(&field.node.directives, None) =>
                    {
                        found.push(field.node.response_key());
                    }
                    Selection::Field(_) => {}
                    Selection::InlineFragment(fragment) => {
                        if !excluded(&fragment.node.directives, None) {
                            keys(&fragment.node.selection_set.node, document, spread, found);
                        }
                    }
                    Selection::FragmentSpread(fragment) => {
                        let name = fragment.node.fragment_name.node.as_str();
                        if let Some(definition) = document.fragments.get(name)
                            && !excluded(&fragment.node.directives, None)
                            && spread.insert(name)
                        {
                            keys(&definition.node.selection_set.node, document, spread, found);
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        keys(root, self.document, &mut HashSet::new(), &mut found);
        let mut seen = HashSet::new();
        for key in found {
            if !seen.insert(key.node.as_str()) {
                self.errors.push(ServerError::new(
                    format!(
                        "Two mutations are selected under the key \"{}\" with different \
                         arguments or directives: give each its own alias",
                        key.node
                    ),
                    Some(key.pos),
                ));
            }
        }
    }

    fn selection_set(&mut self, set: &'a SelectionSet, parent: &'a str) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) if field.node.name.node == "__typename" => {
                    self.typename(field, parent);
                }
                Selection::Field(field) => {
                    let field = &field.node;
                    self.directives(&field.directives);
                    let Some(meta) = self
                        .registry
                        .types
                        .get(parent)
                        .and_then(|ty| ty.field_by_name(&field.name.node))
                    else {
                        continue;
                    };
                    for (name, value) in &field.arguments {
                        if let Some(argument) = meta.args.get(name.node.as_str()) {
                            self.argument(&value.node, argument, value.pos);
                        }
                    }
                    let child = MetaTypeName::concrete_typename(&meta.ty);
                    self.selection_set(&field.selection_set.node, child);
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    self.directives(&fragment.directives);
                    let on = applies_to(fragment, parent);
                    self.selection_set(&fragment.selection_set.node, on);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    self.directives(&spread.node.directives);
                    if !self.spread.insert(name) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(name) {
                        let fragment = &fragment.node;
                        self.directives(&fragment.directives);
                        let on = fragment.type_condition.node.on.node.as_str();
                        self.selection_set(&fragment.selection_set.node, on);
                    }
                }
            }
        }
    }

    /// A `__typename`, which async-graphql's rules pass over: it takes no
    /// arguments and no selections, and directives the schema has, meant for
    /// fields, each once, with the arguments they take, of their types, and
    /// variables the operation defines.
    fn typename(&mut self, field: &'a Positioned<Field>, parent: &str) {
        let field = &field.node;
        for (name, _) in &field.arguments {
            self.refuse(
                format!(
                    "Unknown argument \"{}\" on field \"__typename\" of type \"{parent}\"",
                    name.node
                ),
                name.pos,
            );
        }
        if !field.selection_set.node.items.is_empty() {
            self.refuse(
                "Field \"__typename\" of type \"String!\" must not have a selection: it has no \
                 subfields"
                    .to_owned(),
                field.selection_set.pos,
            );
        }
        let mut seen = HashSet::new();
        for directive in &field.directives {
            let (name, pos) = (directive.node.name.node.as_str(), directive.pos);
            let Some(meta) = self.registry.directives.get(name) else {
                self.refuse(format!("Unknown directive \"@{name}\""), pos);
                continue;
            };
            // (The locations' type is not exported: told by name.)
            if !meta.locations.iter().any(|l| format!("{l:?}") == "FIELD") {
                self.refuse(
                    format!("Directive \"@{name}\" may not be used on a field"),
                    pos,
                );
            }
            if !meta.is_repeatable && !seen.insert(name) {
                self.refuse(
                    format!("Directive \"@{name}\" may not be used more than once on a field"),
                    pos,
                );
            }
            for (argument, value) in &directive.node.arguments {
                let Some(input) = meta.args.get(argument.node.as_str()) else {
                    self.refuse(
                        format!(
                            "Unknown argument \"{}\" on directive \"@{name}\"",
                            argument.node
                        ),
                        argument.pos,
                    );
                    continue;
                };
                match &value.node {
                    Value::Variable(variable)
                        if !self.variables.iter().any(|v| v.node.name.node == *variable) =>
                    {
                        self.refuse(
                            format!("Variable \"${variable}\" is not defined"),
                            value.pos,
                        );
                    }
                    literal if !boolean_fits(literal, &input.ty) => self.refuse(
                        format!(
                            "Invalid value for argument \"{}\", expected type \"{}\"",
                            argument.node, input.ty
                        ),
                        value.pos,
                    ),
                    _ => {}
                }
            }
            for (argument, input) in &meta.args {
                let given = directive
                    .node
                    .arguments
                    .iter()
                    .any(|(n, _)| n.node == *argument);
                if !given && input.ty.ends_with('!') && input.default_value.is_none() {
                    self.refuse(
                        format!(
                            "Directive \"@{name}\" argument \"{argument}\" of type \"{}\" is \
                             required, but it was not provided",
                            input.ty
                        ),
                        pos,
                    );
                }
            }
        }
        self.directives(&field.directives);
    }

    fn refuse(&mut self, message: String, pos: Pos) {
        self.errors.push(ServerError::new(message, Some(pos)));
    }

    fn directives(&mut self, directives: &[Positioned<Directive>]) {
        for directive in directives {
            let Some(meta) = self
                .registry
                .directives
                .get(directive.node.name.node.as_str())
            else {
                continue;
            };
            for (name, value) in &directive.node.arguments {
                if let Some(argument) = meta.args.get(name.node.as_str()) {
                    self.argument(&value.node, argument, value.pos);
                }
            }
        }
    }

    fn argument(&mut self, value: &Value, argument: &MetaInputValue, pos: Pos) {
        if let Some(ty) = Type::new(&argument.ty) {
            self.value(value, &ty, argument.default_value.is_some(), pos);
        }
    }

    /// Checks `value` where a `location` is expected, which has a default
    /// value if `location_has_default`.
    fn value(&mut self, value: &Value, location: &Type, location_has_default: bool, pos: Pos) {
        match value {
            Value::Variable(name) => {
                let Some(variable) = self.variables.iter().find(|v| v.node.name.node == *name)
                else {
                    return; // Undefined: async-graphql reports it.
                };
                let variable = &variable.node;
                let has_default = variable
                    .default_value
                    .as_ref()
                    .is_some_and(|default| default.node != ConstValue::Null);
                if !usage_allowed(
                    &variable.var_type.node,
                    has_default,
                    location,
                    location_has_default,
                ) {
                    self.errors.push(ServerError::new(
                        format!(
                            "Variable \"${name}\" of type \"{}\" used in position expecting type \"{location}\"",
                            variable.var_type.node
                        ),
                        Some(pos),
                    ));
                }
            }
            Value::String(text) => {
                let name = innermost(location);
                if let Some(MetaType::Enum { enum_values, .. }) = self.registry.types.get(name) {
                    let hint = if enum_values.contains_key(text.as_str()) {
                        format!("; write it without quotes: {text}")
                    } else {
                        String::new()
                    };
                    self.errors.push(ServerError::new(
                        format!(
                            "Enum \"{name}\" cannot represent non-enum value: \"{text}\"{hint}"
                        ),
                        Some(pos),
                    ));
                }
            }
            Value::List(items) => {
                if let BaseType::List(item) = &location.base {
                    for value in items {
                        self.value(value, item, false, pos);
                    }
                }
            }
            Value::Object(fields) => {
                if let Some(MetaType::InputObject { input_fields, .. }) =
                    self.registry.types.get(innermost(location))
                {
                    for (name, value) in fields {
                        if let Some(field) = input_fields.get(name.as_str()) {
                            self.argument(value, field, pos);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether a literal `value` fits the argument type `ty`, if that is a
/// Boolean (`@skip` and `@include` take one); a variable is checked apart.
fn boolean_fits(value: &Value, ty: &str) -> bool {
    match (ty, value) {
        ("Boolean!" | "Boolean", Value::Boolean(_) | Value::Variable(_)) => true,
        ("Boolean", Value::Null) => true,
        ("Boolean!" | "Boolean", _) => false,
        _ => true,
    }
}

/// The named type inside any lists and non-nulls.
fn innermost(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => innermost(item),
    }
}

/// Whether a variable of type `variable` may be used where `location` is
/// expected (§5.8.5, IsVariableUsageAllowed): a nullable variable goes where
/// a non-null value is expected only if it, or the location, has a default.
fn usage_allowed(
    variable: &Type,
    variable_has_default: bool,
    location: &Type,
    location_has_default: bool,
) -> bool {
    if !location.nullable && variable.nullable {
        return (variable_has_default || location_has_default)
            && compatible((&variable.base, true), (&location.base, true));
    }
    compatible(
        (&variable.base, variable.nullable),
        (&location.base, location.nullable),
    )
}

/// AreTypesCompatible (§5.8.5), on a type's base and whether it is nullable.
fn compatible(variable: (&BaseType, bool), location: (&BaseType, bool)) -> bool {
    let ((variable_base, variable_nullable), (location_base, location_nullable)) =
        (variable, location);
    if !location_nullable {
        return !variable_nullable && compatible((variable_base, true), (location_base, true));
    }
    if !variable_nullable {
        return compatible((variable_base, true), location);
    }
    match (variable_base, location_base) {
        (BaseType::List(variable), BaseType::List(location)) => compatible(
            (&variable.base, variable.nullable),
            (&location.base, location.nullable),
        ),
        (BaseType::Named(variable), BaseType::Named(location)) => variable == location,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(variable: &str, location: &str) -> bool {
        usage_allowed(
            &Type::new(variable).unwrap(),
            false,
            &Type::new(location).unwrap(),
            false,
        )
    }

    #[test]
    fn variables_fit_where_the_spec_allows() {
        for (variable, location) in [
            ("ID!", "ID!"),
            ("ID!", "ID"),
            ("ID", "ID"),
            ("[ID!]!", "[ID!]"),
            ("[ID!]", "[ID]"),
            ("[[Int!]!]!", "[[Int]]"),
        ] {
            assert!(allowed(variable, location), "{variable} into {location}");
        }
        for (variable, location) in [
            ("Int!", "ID!"),
            ("ID", "ID!"),
            ("[ID]", "[ID!]"),
            ("ID!", "[ID!]"),
            ("[ID!]", "ID"),
            ("String", "Boolean"),
        ] {
            assert!(!allowed(variable, location), "{variable} into {location}");
        }
        // A nullable variable goes where a value is required if either side
        // has a default.
        let (nullable, required) = (Type::new("Int").unwrap(), Type::new("Int!").unwrap());
        assert!(usage_allowed(&nullable, true, &required, false));
        assert!(usage_allowed(&nullable, false, &required, true));
        assert!(!usage_allowed(&nullable, false, &required, false));
    }
}
