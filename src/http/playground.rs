//! The GraphiQL playground, served from the binary (`assets/graphiql/`, whose
//! README says where each file comes from).
//!
//! Nothing is loaded from another origin: the playground works without
//! internet access, and its page allows this origin's scripts only
//! ([`CONTENT_SECURITY_POLICY`]), so no third-party code sees a token typed
//! into GraphiQL, or the demo token it is prefilled with.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// Where the playground's files are served.
pub const ASSETS_PATH: &str = "/graphiql";

/// The page's policy: scripts, styles and requests from this origin only.
/// GraphiQL's fonts and icons are `data:` URLs inside its style sheet, and
/// React sets inline styles.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The files under [`ASSETS_PATH`]: name, content type, content.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "react.production.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        CSS,
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "init.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/init.js"),
    ),
    (
        "favicon.svg",
        SVG,
        include_bytes!("../../assets/graphiql/favicon.svg"),
    ),
];

/// The GraphiQL page for `endpoint`, with the `Authorization` header prefilled
/// when given (demo mode).
pub fn page(endpoint: &str, authorization: Option<&str>) -> Response {
    let authorization = authorization
        .map(|value| format!(r#" data-authorization="{}""#, attribute(value)))
        .unwrap_or_default();
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Renewals API</title>
<link rel="icon" type="image/svg+xml" href="{ASSETS_PATH}/favicon.svg">
<link rel="stylesheet" href="{ASSETS_PATH}/graphiql.min.css">
</head>
<body style="margin: 0">
<div id="graphiql" style="height: 100vh" data-endpoint="{endpoint}"{authorization}>Loading…</div>
<script src="{ASSETS_PATH}/react.production.min.js"></script>
<script src="{ASSETS_PATH}/react-dom.production.min.js"></script>
<script src="{ASSETS_PATH}/graphiql.min.js"></script>
<script src="{ASSETS_PATH}/init.js"></script>
</body>
</html>
"#,
        endpoint = attribute(endpoint),
    );
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

/// Each of [`ASSETS`]' entity tag: a digest of its content, so that a browser
/// revalidates its copy cheaply and never keeps one from another version.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(_, _, content)| {
            let digest = Sha256::digest(content);
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
        .collect()
});

/// `GET /graphiql/{name}`: one of the playground's files; `304 Not Modified`
/// when the browser already has this version.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|(n, _, _)| *n == name) else {
        return super::not_found().await;
    };
    let (_, content_type, content) = ASSETS[index];
    let etag = ETAGS[index].as_str();
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let status = if cached {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::ETAG, etag),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    if cached {
        (status, headers).into_response()
    } else {
        (status, headers, content).into_response()
    }
}

/// `value` escaped for a double-quoted HTML attribute.
fn attribute(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::attribute;

    #[test]
    fn attribute_values_cannot_break_out_of_their_quotes() {
        assert_eq!(
            attribute(r#"Bearer x" onload="alert(1)"><script>&"#),
            "Bearer x&quot; onload=&quot;alert(1)&quot;&gt;&lt;script&gt;&amp;"
        );
        assert_eq!(attribute("Bearer rnw_AZaz09-_"), "Bearer rnw_AZaz09-_");
    }
}
