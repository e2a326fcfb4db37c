//! GraphQL over HTTP: methods, media types, limits, and the service endpoints.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, db_tests, error_codes};

fn post(content_type: &str, body: impl Into<Body>, token: &str) -> Request<Body> {
    Request::post("/graphql")
        .header(header::CONTENT_TYPE, content_type)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body.into())
        .unwrap()
}

fn json_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

async fn requests_that_break_graphql_over_http_are_refused(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    let query = json!({ "query": "{ viewer { slug } }" }).to_string();

    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (post("text/plain", query.clone(), &app.token), StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE"),
        (
            post("application/x-www-form-urlencoded", "query=%7B%7D", &app.token),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (post("application/json", format!("[{query}]"), &app.token), StatusCode::BAD_REQUEST, "BATCH_NOT_SUPPORTED"),
        (post("application/json", "{\"query\": ", &app.token), StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        (post("application/json", "{\"nope\": 1}", &app.token), StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        (
            post("application/json", format!("{{\"query\": \"{}\"}}", "x".repeat(300 * 1024)), &app.token),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            Request::get("/graphql?query=mutation%20%7B%20endServices(input%3A%7BcustomerId%3A%22x%22%7D)%20%7B%20customer%20%7B%20id%20%7D%20%7D%20%7D")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "text/html")
                .body(Body::from(query.clone()))
                .unwrap(),
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let (got, headers, body) = app.send(request).await;
        assert_eq!(got, status, "{what}");
        let body = json_body(&body);
        assert_eq!(error_codes(&body), [code], "{what}: {body}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert_eq!(headers[header::ALLOW], "POST");
        }
    }
}

async fn queries_work_over_post_and_get_with_accept_negotiation(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    let query = json!({ "query": "{ viewer { slug } }" }).to_string();

    let (status, headers, body) = app
        .send(post(
            "application/json; charset=utf-8",
            query.clone(),
            &app.token,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        json_body(&body)["data"]["viewer"]["slug"],
        json!("northwind")
    );

    let mut request = post("application/json", query, &app.token);
    request.headers_mut().insert(
        header::ACCEPT,
        "application/graphql-response+json, application/json;q=0.9"
            .parse()
            .unwrap(),
    );
    let (status, headers, _) = app.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );

    // A document that does not validate is a 400 under graphql-response+json.
    let mut request = post(
        "application/json",
        json!({ "query": "{ nope }" }).to_string(),
        &app.token,
    );
    request.headers_mut().insert(
        header::ACCEPT,
        "application/graphql-response+json".parse().unwrap(),
    );
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = json_body(&body);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );

    let get = Request::get("/graphql?query=%7B%20viewer%20%7B%20slug%20%7D%20%7D")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = app.send(get).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_body(&body)["data"]["viewer"]["slug"],
        json!("northwind")
    );
}

async fn health_ready_and_graphiql_are_served(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    for (path, expected) in [("/health", "ok"), ("/ready", "ready")] {
        let (status, _, body) = app
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, expected.as_bytes());
    }
    let (status, headers, body) = app
        .send(
            Request::get("/graphql")
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&body).contains("graphiql"));
    assert!(headers.contains_key("x-request-id"));
}

db_tests!(
    requests_that_break_graphql_over_http_are_refused,
    queries_work_over_post_and_get_with_accept_negotiation,
    health_ready_and_graphiql_are_served,
);
