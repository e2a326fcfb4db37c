//! Fields repeated under one response key, merged when the document is
//! parsed (GraphQL §6.3.2, CollectFields: a response key's fields run once),
//! after the fragments at an operation's root are put in place. One of the
//! rewrites of [`rewrite`](super::rewrite): async-graphql ran each copy.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, OutputType, Positioned,
    parser::types::{
        Directive, ExecutableDocument, Field, FragmentDefinition, FragmentSpread, InlineFragment,
        OperationType, Selection, SelectionSet,
    },
};

use super::{
    MAX_DIRECTIVES_PER_FIELD,
    documents::MAX_SPREAD_NESTING,
    overlaps::same_arguments,
    query::Query,
    rewrite::{operations_mut, spread_from},
};

/// Merges each field selected again under the same response key, with the
/// same arguments and directives, into its first selection in the same
/// set (GraphQL §6.3.2, CollectFields: a response key's fields run once);
/// below an operation's root, only with no fragment between them.
/// async-graphql ran each of them, and merged their answers: a mutation
/// selected twice ran twice (`endServices` ended a customer, then reported
/// it `ALREADY_ENDED`, in one payload). A fragment spread again alike is
/// dropped. Fields repeated through fragments still run apart, but at an
/// operation's root, whose fragments are inlined first
/// ([`inline_root_fragments`]).
pub fn merge_repeated_fields(document: &mut ExecutableDocument) {
    fn same(a: &Field, b: &Field) -> bool {
        a.response_key().node == b.response_key().node
            && a.name.node == b.name.node
            && same_arguments(a, b)
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
    fn merge(set: &mut SelectionSet, root: bool) {
        // The kept selections by response key (fragments by name), at most
        // MAX_ALIKE each, with how many fragments were kept before them:
        // comparing every selection with every other was quadratic in a
        // set's size.
        let mut kept: HashMap<Name, Vec<(usize, usize)>> = HashMap::new();
        let mut fragments = 0;
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
            // Below the root, a field is not merged across a fragment: the
            // fragment may select its key too, and the merged selections
            // would answer in another order than selected (§6.3.2).
            let adjacent = |before: usize| {
                root || before == fragments || !matches!(item.node, Selection::Field(_))
            };
            let first = key
                .as_ref()
                .and_then(|key| kept.get(key))
                .and_then(|indexes| {
                    indexes
                        .iter()
                        .find(|(index, before)| adjacent(*before) && like(index))
                        .map(|(index, _)| *index)
                });
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
                            indexes.push((set.items.len(), fragments));
                        }
                    }
                    if !matches!(node, Selection::Field(_)) {
                        fragments += 1;
                    }
                    set.items.push(Positioned::new(node, item.pos));
                }
            }
        }
        for item in &mut set.items {
            match &mut item.node {
                Selection::Field(field) => merge(&mut field.node.selection_set.node, false),
                Selection::InlineFragment(fragment) => {
                    merge(&mut fragment.node.selection_set.node, false);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    inline_root_fragments(document);
    for operation in operations_mut(&mut document.operations) {
        merge(&mut operation.node.selection_set.node, true);
    }
    for fragment in document.fragments.values_mut() {
        merge(&mut fragment.node.selection_set.node, false);
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
