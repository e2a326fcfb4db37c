//! The GraphQL the README shows, and the query GraphiQL opens on, run as
//! written against the demo data: with no errors, their mutations with no
//! user errors, and none of their selections empty.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

const README: &str = include_str!("../../README.md");
const PLAYGROUND: &str = include_str!("../../assets/graphiql/init.js");

/// The README's ```graphql blocks, in order.
fn readme_examples() -> Vec<String> {
    README
        .split("```graphql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_owned())
        .collect()
}

/// The document GraphiQL opens on: `init.js`'s array of lines, each a
/// string literal.
fn playground_query() -> String {
    let lines = PLAYGROUND
        .split("var dashboard = [\n")
        .nth(1)
        .and_then(|rest| rest.split("].join").next())
        .expect("init.js names its dashboard");
    lines
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let literal = line.trim().trim_end_matches(',');
            serde_json::from_str::<String>(literal).unwrap_or_else(|e| panic!("{literal}: {e}"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_examples_and_the_playgrounds_query_run_as_written() {
    let app = TestApp::new(Backend::Sqlite).await;
    let examples = readme_examples();
    assert!(examples.len() >= 3, "{examples:?}");
    for document in [playground_query()].iter().chain(&examples) {
        let data = app.data(document, json!({})).await;
        for (field, value) in data.as_object().unwrap() {
            if let Some(errors) = value.get("userErrors") {
                assert_eq!(errors, &json!([]), "{document}");
            }
            let empty = match value {
                Value::Object(map) => map.values().all(Value::is_null),
                Value::Null => true,
                _ => false,
            };
            assert!(!empty, "{field} is empty: {document}");
        }
        if document.contains("renewals(") {
            let nodes = &data["renewals"]["nodes"];
            assert!(
                nodes.as_array().is_some_and(|n| !n.is_empty()),
                "{document}"
            );
        }
    }
}
