//! The committed SDL is what the code generates.

#[test]
fn the_committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql is committed");
    let generated = renewals::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql` and review the diff"
    );
}

#[test]
fn the_roots_and_scalars_have_their_contract_names() {
    let sdl = renewals::graphql::sdl();
    for needle in [
        "type Query",
        "type Mutation",
        "scalar Date @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc3339#section-5.6\")",
        "scalar DateTime @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc3339#section-5.6\")",
        "scalar Decimal",
        "interface Node",
        "type Renewal implements Node",
        "type Customer implements Node",
        "type Product implements Node",
        "filter: RenewalFilter, orderBy: RenewalOrder,",
        "before: String): RenewalConnection!",
        "node(id: ID!): Node",
        "nodes(ids: [ID!]!): [Node]!",
        "viewer: Partner!",
    ] {
        // The signatures alone: descriptions (between `"""`) left out.
        let signatures: String = sdl.split("\"\"\"").step_by(2).collect();
        let flat = signatures
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("( ", "(")
            .replace(" )", ")");
        assert!(flat.contains(needle), "missing `{needle}`");
    }
    assert!(!sdl.contains("QueryRoot") && !sdl.contains("NaiveDate"));
}
