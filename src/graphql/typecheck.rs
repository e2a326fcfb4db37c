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
//!   like fields merged ([`rewrite`](super::rewrite)) differs in arguments or
//!   directives, and async-graphql ran both (two `setDefaultRenewalOwner`
//!   with different owners, one through a fragment).
//! - **Fields under one key merge** elsewhere (§5.3.2 again): in
//!   [`overlaps`](super::overlaps).
//! - **An input object names each field once** (§5.6.3, "Input Object Field
//!   Uniqueness"): async-graphql's parser keeps one of `{ status: [PENDING],
//!   status: [RENEWED] }` and says nothing. The parsed document no longer
//!   shows it, so [`repeated_input_field`] reads the document's text.

use std::collections::HashSet;

use async_graphql::{
    Name, Pos, Positioned, ServerError,
    parser::types::{
        BaseType, Directive, DocumentOperations, ExecutableDocument, InlineFragment,
        OperationDefinition, OperationType, Selection, SelectionSet, Type, VariableDefinition,
    },
    registry::{MetaInputValue, MetaType, MetaTypeName, Registry},
};
use async_graphql_value::{ConstValue, Value};

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
    /// given to their fields: see [`rewrite`](super::rewrite)).
    fn mutations_once(&mut self, root: &'a SelectionSet) {
        fn keys<'a>(
            set: &'a SelectionSet,
            document: &'a ExecutableDocument,
            spread: &mut HashSet<&'a str>,
            found: &mut Vec<&'a Positioned<Name>>,
        ) {
            for selection in &set.items {
                match &selection.node {
                    Selection::Field(field) => found.push(field.node.response_key()),
                    Selection::InlineFragment(fragment) => {
                        keys(&fragment.node.selection_set.node, document, spread, found);
                    }
                    Selection::FragmentSpread(fragment) => {
                        let name = fragment.node.fragment_name.node.as_str();
                        if let Some(definition) = document.fragments.get(name)
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

/// The first field named twice in one input object value of `text`, a
/// document that parses, and where: `{ a: 1, a: 2 }` parses as `{ a: 2 }`.
///
/// A light reading of GraphQL's tokens: a `{` after `:` or `=`, or inside a
/// list, opens an input object (elsewhere a selection set), and a name
/// followed by `:` in an input object is one of its fields.
pub fn repeated_input_field(text: &str) -> Option<(String, Pos)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Punctuator(u8),
        Name(usize, usize),
        Other,
    }
    enum Frame<'t> {
        Object(HashSet<&'t str>),
        List,
        Other,
    }
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.');
    let mut frames = Vec::new();
    let mut previous = Token::Other;
    let mut i = 0;
    while let Some(b) = at(i) {
        match b {
            b'#' => {
                while at(i).is_some_and(|b| b != b'\n' && b != b'\r') {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(br#"""""#) => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(br#"""""#) {
                    i += if bytes[i..].starts_with(br#"\""""#) {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
                previous = Token::Other;
                continue;
            }
            b'"' => {
                i += 1;
                while let Some(b) = at(i).filter(|&b| b != b'"') {
                    i += if b == b'\\' { 2 } else { 1 };
                }
                i += 1;
                previous = Token::Other;
                continue;
            }
            b'{' => {
                let object = matches!(previous, Token::Punctuator(b':' | b'='))
                    || matches!(frames.last(), Some(Frame::List));
                frames.push(if object {
                    Frame::Object(HashSet::new())
                } else {
                    Frame::Other
                });
            }
            b'[' => frames.push(Frame::List),
            b'(' => frames.push(Frame::Other),
            b'}' | b']' | b')' => {
                frames.pop();
            }
            b':' => {
                if let (Some(Frame::Object(names)), Token::Name(start, end)) =
                    (frames.last_mut(), previous)
                {
                    let name = &text[start..end];
                    if !names.insert(name) {
                        return Some((name.to_owned(), position(text, start)));
                    }
                }
            }
            _ if is_word(b) => {
                let start = i;
                while at(i).is_some_and(is_word) {
                    i += 1;
                }
                previous = Token::Name(start, i);
                continue;
            }
            _ if b.is_ascii_whitespace() || b == b',' || !b.is_ascii() => {
                i += 1;
                continue;
            }
            _ => {}
        }
        previous = Token::Punctuator(b);
        i += 1;
    }
    None
}

/// The line and column (from 1, in characters) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> Pos {
    let before = &text[..offset];
    let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let line = 1 + before.matches('\n').count() + before.matches('\r').count()
        - before.matches("\r\n").count();
    Pos {
        line,
        column: 1 + before[line_start..].chars().count(),
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
    fn an_input_field_named_twice_is_found_where_it_is() {
        let found =
            |text: &str| repeated_input_field(text).map(|(name, pos)| (name, pos.line, pos.column));
        assert_eq!(
            found("{ r(f: { a: 1, a: 2 }) { x } }"),
            Some(("a".to_owned(), 1, 16))
        );
        assert_eq!(
            found("query($f: F = {b: {c: 1}, d: [{e: 1}, {e: 2, e: 3}]}) { x }"),
            Some(("e".to_owned(), 1, 46))
        );
        assert_eq!(
            found(
                "# a: {\n{ r(f: {\r\n  s: \"é}a:\", t: \"\"\"é\\\"\"\" a: {\"\"\", s: 1}) { x } }"
            ),
            Some(("s".to_owned(), 3, 35))
        );
        for unique in [
            "{ a: r(f: { a: 1, b: { a: 2 } }) { a: x a: x } }",
            "{ r(f: [{ a: 1 }, { a: 2 }]) { x } ...F } fragment F on Q { y(a: 1, b: 2) }",
            "query($a: [Int!] = [1], $b: I = {a: 1}) { r(a: $a, b: {a: ENUM, b: $b}) { x } }",
        ] {
            assert_eq!(found(unique), None, "{unique}");
        }
        // Text that does not parse is never given, but must not panic.
        for broken in [
            "\"é",
            "\"\"\"é\\",
            "{ a(b: {c: \"\\",
            "é:{é:",
            "}}]) :{a:",
            "#é",
        ] {
            assert_eq!(found(broken), None, "{broken}");
        }
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
