//! GraphQL over HTTP: methods, media types, limits, and the service endpoints.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, db_tests, error_codes};

fn with_header(
    mut request: Request<Body>,
    name: header::HeaderName,
    value: &'static str,
) -> Request<Body> {
    request
        .headers_mut()
        .insert(name, header::HeaderValue::from_static(value));
    request
}

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
        // Apollo's automatic persisted queries: a hash in place of the
        // document. Its clients read this code and send documents from then on.
        (
            post("application/json", r#"{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab"}}}"#, &app.token),
            StatusCode::BAD_REQUEST,
            "PERSISTED_QUERY_NOT_SUPPORTED",
        ),
        (
            Request::get("/graphql?extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22ab%22%7D%7D")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "PERSISTED_QUERY_NOT_SUPPORTED",
        ),
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
        // A body announced over the limit is refused before it is read (the
        // short body here would otherwise be read, and run).
        (
            with_header(post("application/json", query.clone(), &app.token), header::CONTENT_LENGTH, "1000000"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        // A body is read as sent: an encoded one is refused, not guessed at.
        (
            with_header(post("application/json", query.clone(), &app.token), header::CONTENT_ENCODING, "gzip"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        // A query string that cannot be read (a parameter given twice) is
        // an error a script can read, not the playground's page.
        (
            Request::get("/graphql?query=%7Bviewer%7Bname%7D%7D&query=%7Bviewer%7Bslug%7D%7D")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        // JSON is UTF-8; a body said to be in another charset is not read
        // as if it were.
        (
            post("application/json; charset=latin1", query.clone(), &app.token),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        // A key given twice: a proxy reading the first would see another
        // query than the one run.
        (
            post("application/json", r#"{"query": "{ viewer { slug } }", "query": "{ viewer { name } }"}"#, &app.token),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        // A GET without `query` from a script (not a browser asking for HTML).
        (
            Request::get("/graphql?variables=%7B%7D")
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        // `extensions` is a JSON object over GET as in a body.
        (
            Request::get("/graphql?query=%7Bviewer%7Bslug%7D%7D&extensions=notjson")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            Request::get("/graphiql/nope.js").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let (got, headers, body) = app.send(request).await;
        assert_eq!(got, status, "{what}");
        let body = json_body(&body);
        assert_eq!(error_codes(&body), [code], "{what}: {body}");
        // Typed as a GraphQL response is.
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/json; charset=utf-8",
            "{what}"
        );
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert_eq!(headers[header::ALLOW], "POST");
        }
    }
    // A coding refused says which it takes (RFC 9110 §15.5.16).
    let gzip = with_header(
        post("application/json", query, &app.token),
        header::CONTENT_ENCODING,
        "gzip",
    );
    let (_, headers, _) = app.send(gzip).await;
    assert_eq!(headers[header::ACCEPT_ENCODING], "identity");
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

/// `Accept` is read as RFC 9110 says: media types in any case, each taking
/// the quality of the most specific range that matches it, `q=0` refusing
/// it. At equal quality, graphql-response+json when named.
async fn accept_is_negotiated_by_quality(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let query = json!({ "query": "{ viewer { slug } }" }).to_string();
    let (json, graphql) = (
        Some("application/json"),
        Some("application/graphql-response+json"),
    );
    for (accept, answered) in [
        ("*/*", json),
        ("application/*", json),
        ("APPLICATION/JSON", json),
        ("Application/Graphql-Response+Json", graphql),
        (
            "application/graphql-response+json, application/json",
            graphql,
        ),
        (
            "application/json;q=0.9, application/graphql-response+json;q=0.1",
            json,
        ),
        ("application/graphql-response+json;q=0, */*", json),
        (
            "application/json; q=0, application/graphql-response+json",
            graphql,
        ),
        ("text/html, application/json;q=0.5", json),
        ("application/json;q=0", None),
        ("application/graphql-response+json;q=0", None),
        ("application/json;q=0, application/*;q=0.5", graphql),
    ] {
        let request = with_header(
            post("application/json", query.clone(), &app.token),
            header::ACCEPT,
            accept,
        );
        let (status, headers, _) = app.send(request).await;
        match answered {
            Some(media) => {
                assert_eq!(status, StatusCode::OK, "{accept}");
                let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
                assert!(content_type.starts_with(media), "{accept}: {content_type}");
            }
            None => assert_eq!(status, StatusCode::NOT_ACCEPTABLE, "{accept}"),
        }
    }
}

/// A request whose body has not all arrived when the request times out is
/// a 408 (the client's delay, RFC 9110 §15.5.9), not a 503; one whose body
/// arrived is timed as before.
async fn a_body_that_does_not_arrive_in_time_is_408(backend: Backend) {
    let app = TestApp::with_settings(backend, 1, |settings| {
        settings.request_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let started = futures_util::stream::iter([Ok::<_, std::io::Error>(
        axum::body::Bytes::from_static(b"{\"query\": "),
    )]);
    let never_ends = futures_util::StreamExt::chain(started, futures_util::stream::pending());
    let request = post(
        "application/json",
        Body::from_stream(never_ends),
        &app.token,
    );
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(error_codes(&json_body(&body)), ["REQUEST_TIMEOUT"]);
    let (status, _, _) = app
        .send(post(
            "application/json",
            json!({ "query": "{ viewer { slug } }" }).to_string(),
            &app.token,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
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

    // A link with a query opens GraphiQL in a browser (which asks for HTML
    // first); a client asking for JSON, or anything, gets the query's answer.
    let link = "/graphql?query=%7Bviewer%7Bslug%7D%7D";
    for (accept, page) in [
        ("text/html", true),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            true,
        ),
        ("application/json", false),
        ("*/*", false),
    ] {
        let request = Request::get(link)
            .header(header::ACCEPT, accept)
            .header(header::AUTHORIZATION, format!("Bearer {}", app.token));
        let (status, headers, body) = app.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{accept}");
        let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
        assert_eq!(content_type.starts_with("text/html"), page, "{accept}");
        if !page {
            assert_eq!(
                json_body(&body)["data"]["viewer"]["slug"],
                json!("northwind")
            );
        }
    }
}

/// The values of every `attribute="…"` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!(r#" {attribute}=""#);
    html.match_indices(&marker)
        .filter_map(|(at, _)| html[at + marker.len()..].split('"').next())
        .collect()
}

/// GraphiQL comes from the server itself, with a policy that lets the page run
/// this origin's scripts only: it works offline, and no third-party code sees
/// the token typed into it.
async fn the_playground_loads_nothing_from_another_origin(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    let get = |path: &str| {
        let request = Request::get(path)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap();
        app.send(request)
    };
    let (status, headers, page) = get("/graphql").await;
    assert_eq!(status, StatusCode::OK);
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "connect-src 'self';",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    let page = String::from_utf8(page).unwrap();
    assert!(!page.contains("<script>"), "no inline script: {page}");
    assert!(
        !page.contains("data-authorization"),
        "no token outside demo mode"
    );
    let files: Vec<&str> = ["src", "href"]
        .iter()
        .flat_map(|attribute| attribute_values(&page, attribute))
        .collect();
    assert_eq!(files.len(), 6, "{page}");
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for file in files {
        let (status, headers, body) = get(file).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
        let expected_type = match file.rsplit_once('.').map(|(_, extension)| extension) {
            Some("css") => "text/css",
            Some("svg") => "image/svg+xml",
            _ => "text/javascript",
        };
        assert!(
            content_type.starts_with(expected_type),
            "{file}: {content_type}"
        );
        let local = assets.join(file.trim_start_matches('/'));
        assert_eq!(
            body,
            std::fs::read(&local).unwrap(),
            "{file} is {}",
            local.display()
        );
        // A browser that has this version gets no body again.
        let etag = headers[header::ETAG].clone();
        let again = Request::get(file)
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = app.send(again).await;
        assert_eq!(
            (status, body.len()),
            (StatusCode::NOT_MODIFIED, 0),
            "{file}"
        );
    }
    let stale = Request::get("/graphiql/init.js")
        .header(header::IF_NONE_MATCH, "\"0123\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(stale).await.0, StatusCode::OK);
    for missing in [
        "/graphiql/nope.js",
        "/graphiql/..%2FREADME.md",
        "/graphiql/",
    ] {
        assert_eq!(get(missing).await.0, StatusCode::NOT_FOUND, "{missing}");
    }
}

/// The response's keys come in the order the document selects them (GraphQL
/// §7.2.2), at the root too, where async-graphql resolves the fields side by
/// side and gathered them as they completed: a field answered at once came
/// before one that waited for the database. Fragments spread at the root
/// keep their place.
async fn fields_come_back_in_the_order_selected(backend: Backend) {
    let app = TestApp::with_customers(backend, 2).await;
    let query = "query { z: viewer { slug } a: renewals(first: 1) { totalCount } ...R \
                 m: customer(domain: \"nowhere.example\") { id } b: __typename } \
                 fragment R on Query { y: renewals(first: 2) { totalCount } c: __typename }";
    let body = json!({ "query": query }).to_string();
    for _ in 0..20 {
        let (status, _, bytes) = app
            .send(post("application/json", body.clone(), &app.token))
            .await;
        assert_eq!(status, StatusCode::OK);
        let text = String::from_utf8(bytes).unwrap();
        let at = |key: &str| {
            text.find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("no {key}: {text}"))
        };
        let keys = ["z", "a", "y", "c", "m", "b"];
        assert!(
            keys.windows(2).all(|pair| at(pair[0]) < at(pair[1])),
            "{text}"
        );
    }

    // Below the root too, where a field waits for a loader: objects that
    // async-graphql drives (a renewal looked up by id, the viewer, a payload).
    let id = app
        .data("{ renewals(first: 1) { nodes { id } } }", json!({}))
        .await["renewals"]["nodes"][0]["id"]
        .clone();
    let query = "query($id: ID!) { renewal(id: $id) { productRenewals { quantity } zz: id } \
                 viewer { history(first: 1) { nodes { kind } } defaultRenewalOwner { party } slug } }";
    let body = json!({ "query": query, "variables": { "id": id } }).to_string();
    for _ in 0..5 {
        let (_, _, bytes) = app
            .send(post("application/json", body.clone(), &app.token))
            .await;
        let text = String::from_utf8(bytes).unwrap();
        let at = |key: &str| {
            text.find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("no {key}: {text}"))
        };
        let keys = [
            "productRenewals",
            "zz",
            "history",
            "defaultRenewalOwner",
            "slug",
        ];
        assert!(
            keys.windows(2).all(|pair| at(pair[0]) < at(pair[1])),
            "{text}"
        );
    }

    // A field selected again after a fragment that selects it too merges
    // its selections in the order selected (§6.3.2): `name`, then the
    // fragment's `id`, then `domain`. Before, the fields around the fragment
    // were merged first, and `id` came last; in the server's own writer
    // (`renewals.nodes`) and in async-graphql's (a payload, `viewer`) alike.
    let merged = [
        (
            "{ renewals(first: 1) { nodes { customer { name } ... on Renewal { customer { id } } \
             customer { domain } } } }",
            vec!["name", "id", "domain"],
        ),
        (
            "{ viewer { defaultRenewalOwner { party } ...P defaultRenewalOwner { notifyUser { id } } } } \
             fragment P on Partner { defaultRenewalOwner { isDefault } }",
            vec!["party", "isDefault", "notifyUser"],
        ),
        (
            "{ renewals(first: 1) { edges { cursor } ... on RenewalConnection { edges { node { id } } } \
             edges { a: cursor } } }",
            vec!["cursor", "node", "a"],
        ),
    ];
    for (query, keys) in merged {
        let body = json!({ "query": query }).to_string();
        let (_, _, bytes) = app.send(post("application/json", body, &app.token)).await;
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("\"errors\""), "{text}");
        let at = |key: &str| {
            text.find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("no {key}: {text}"))
        };
        assert!(
            keys.windows(2).all(|pair| at(pair[0]) < at(pair[1])),
            "{query}: {text}"
        );
    }

    // A selection that `@skip`/`@include` leave out takes no place: a key
    // comes where it is first selected and runs (§6.3.2, CollectFields).
    let query = "query($no: Boolean = false) { viewer @include(if: $no) { id } \
                 a: renewals(first: 1) { totalCount } viewer { name @skip(if: true) id name } \
                 ...F @include(if: $no) b: __typename ...F } fragment F on Query { c: __typename }";
    let body = json!({ "query": query }).to_string();
    let (_, _, bytes) = app.send(post("application/json", body, &app.token)).await;
    let text = String::from_utf8(bytes).unwrap();
    let at = |key: &str| {
        text.find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("no {key}: {text}"))
    };
    let keys = ["a", "viewer", "id", "name", "b", "c"];
    assert!(
        keys.windows(2).all(|pair| at(pair[0]) < at(pair[1])),
        "{text}"
    );

    // Nor does a fragment on another type than the object's.
    let customer = crate::helpers::customer_ids(&app, 1).await.remove(0);
    let query = "query($id: ID!) { node(id: $id) { ... on Renewal { id } ...C } } \
                 fragment C on Customer { name id ... on Node { x: __typename } }";
    let body = json!({ "query": query, "variables": { "id": customer } }).to_string();
    let (_, _, bytes) = app.send(post("application/json", body, &app.token)).await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.starts_with(r#"{"data":{"node":{"name":"#) && !text.contains("__renewals"),
        "{text}"
    );
    let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
    assert!(at("name") < at("id") && at("id") < at("x"), "{text}");
}

/// Unknown paths and methods get a status and an error like any other:
/// a JSON body with a code, and for a method the `Allow` header.
async fn unknown_paths_and_methods_say_so(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    for (method, path, status, code) in [
        ("GET", "/nowhere", StatusCode::NOT_FOUND, "NOT_FOUND"),
        ("POST", "/graphql/", StatusCode::NOT_FOUND, "NOT_FOUND"),
        (
            "PUT",
            "/graphql",
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "DELETE",
            "/graphql",
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "POST",
            "/health",
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let (got, headers, body) = app.send(request).await;
        assert_eq!(got, status, "{method} {path}");
        assert_eq!(error_codes(&json_body(&body)), [code], "{method} {path}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            let allow = headers[header::ALLOW].to_str().unwrap();
            assert!(allow.contains("GET"), "{method} {path}: {allow}");
        }
    }

    // A body that is not JSON, or nests too deep to read, says which.
    let deep = format!(
        "{{\"query\":\"{{ viewer {{ slug }} }}\",\"variables\":{{\"x\":{}{}}}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    for (body, says) in [
        ("{\"query\": ", "EOF while parsing"),
        (deep.as_str(), "recursion limit exceeded"),
    ] {
        let (status, _, bytes) = app
            .send(post("application/json", body.to_owned(), &app.token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let message = json_body(&bytes)["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(says), "{message}");
    }
}

/// Browser pages on the origins named may call the API: a preflight is
/// answered, and responses name the origin. Others, and every origin when
/// none is named (the default), get no CORS headers: browsers keep their
/// pages from reading the answers.
async fn only_the_origins_named_may_call_from_a_browser(backend: Backend) {
    let allowed = "https://dashboard.example";
    let named = TestApp::with_settings(backend, 1, |settings| {
        settings.cors_origins = vec![allowed.parse().unwrap()];
    })
    .await;
    let default = TestApp::with_customers(backend, 1).await;
    let preflight = |origin: &str| {
        Request::options("/graphql")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, _) = named.send(preflight(allowed)).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], allowed);
    let methods = headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed_headers = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );

    let query = json!({ "query": "{ viewer { slug } }" }).to_string();
    let from = |app: &TestApp, origin: &str| {
        let mut request = post("application/json", query.clone(), &app.token);
        request
            .headers_mut()
            .insert(header::ORIGIN, origin.parse().unwrap());
        request
    };
    let (status, headers, body) = named.send(from(&named, allowed)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], allowed);
    assert_eq!(
        json_body(&body)["data"]["viewer"]["slug"],
        json!("northwind")
    );

    for (app, origin) in [(&named, "https://elsewhere.example"), (&default, allowed)] {
        let (_, headers, _) = app.send(from(app, origin)).await;
        assert!(
            !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "{origin}"
        );
        let (_, headers, _) = app.send(preflight(origin)).await;
        assert!(
            !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "{origin}"
        );
    }
}

/// A request refused before it ran (it does not parse or validate, its token
/// is refused) answers without a `data` entry (GraphQL, "Response Format");
/// one that ran has `data`, null or not, beside its field errors.
async fn only_a_request_that_ran_answers_with_data(backend: Backend) {
    let app = TestApp::with_customers(backend, 1).await;
    for (token, query, ran) in [
        (Some(app.token.as_str()), "{ nope }", false),
        (Some(app.token.as_str()), "{ viewer { slug }", false),
        (Some("rnw_not-a-real-token"), "{ viewer { slug } }", false),
        (None, "{ viewer { slug } }", true),
        (Some(app.token.as_str()), "{ viewer { slug } }", true),
    ] {
        let (_, body) = app.post_as(token, query, json!({})).await;
        assert_eq!(body.get("data").is_some(), ran, "{query}: {body}");
    }
}

db_tests!(
    only_a_request_that_ran_answers_with_data,
    only_the_origins_named_may_call_from_a_browser,
    unknown_paths_and_methods_say_so,
    fields_come_back_in_the_order_selected,
    requests_that_break_graphql_over_http_are_refused,
    queries_work_over_post_and_get_with_accept_negotiation,
    health_ready_and_graphiql_are_served,
    accept_is_negotiated_by_quality,
    a_body_that_does_not_arrive_in_time_is_408,
    the_playground_loads_nothing_from_another_origin,
);

mod layers {
    //! The layers every route gets, on routes made to misbehave.

    use std::time::Duration;

    use axum::{
        Router,
        body::Body,
        http::{Request, StatusCode},
        routing::get,
    };
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn panics() -> &'static str {
        panic!("secret detail from /src/store/mod.rs")
    }

    fn router(timeout: Duration) -> Router {
        let routes = Router::new()
            .route("/panic", get(panics))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/ok", get(|| async { "fine" }));
        renewals::http::with_layers(routes, timeout)
    }

    async fn get_path(router: &Router, path: &str) -> (StatusCode, String) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_generic_500_and_serving_goes_on() {
        let router = router(Duration::from_secs(5));
        let (status, body) = get_path(&router, "/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "INTERNAL_SERVER_ERROR"
        );
        assert!(!body.to_string().contains("secret"), "{body}");
        assert_eq!(
            get_path(&router, "/ok").await,
            (StatusCode::OK, "fine".to_owned())
        );
    }

    /// What is logged while the returned guard lives (on this thread: the
    /// tests' runtime has one).
    fn capture_logs() -> (
        std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        tracing::subscriber::DefaultGuard,
    ) {
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let logs = std::sync::Arc::clone(&logs);
            move || LogWriter(std::sync::Arc::clone(&logs))
        };
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for LogWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A request over the timeout is a 503, logged once with its code, as a
    /// warning: not again at error by the trace layer (every busy 503 was).
    #[tokio::test]
    async fn a_request_over_the_timeout_is_answered_with_503() {
        let (logs, _guard) = capture_logs();
        let router = router(Duration::from_millis(100));
        let started = std::time::Instant::now();
        let (status, body) = get_path(&router, "/slow").await;
        let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
        let warnings: Vec<&str> = logs.lines().filter(|l| l.contains(" WARN ")).collect();
        assert_eq!(warnings.len(), 1, "{logs}");
        assert!(warnings[0].contains("REQUEST_TIMEOUT"), "{logs}");
        assert!(!logs.contains(" ERROR "), "{logs}");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "REQUEST_TIMEOUT");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
