//! Which browser pages on other origins may call the API (CORS). None may
//! by default: GraphiQL is served from the API's own origin, and clients
//! outside a browser need no permission. A partner's dashboard served from
//! its own origin is named with `--cors-origin`.

use std::{str::FromStr, time::Duration};

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// An origin whose pages may call the API, or any (`*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigin {
    Any,
    Exactly(HeaderValue),
}

impl FromStr for CorsOrigin {
    type Err = String;

    /// `*`, or `scheme://host[:port]` as a browser sends it in `Origin`: HTTP
    /// or HTTPS, no path, no trailing slash (it would never match).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let refused = || format!("{text:?} is not an origin: write `https://host[:port]`, or `*`");
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(refused)?;
        let host = rest.split(':').next().unwrap_or_default();
        let well_formed = !host.is_empty()
            && rest.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !well_formed {
            return Err(refused());
        }
        HeaderValue::from_str(text)
            .map(Self::Exactly)
            .map_err(|_| refused())
    }
}

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The layer that answers preflights and marks responses for `origins`, or
/// `None` when there are none.
pub(super) fn layer(origins: &[CorsOrigin]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.contains(&CorsOrigin::Any) {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| match origin {
            CorsOrigin::Exactly(value) => Some(value.clone()),
            CorsOrigin::Any => None,
        }))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        for good in [
            "*",
            "https://dash.example.com",
            "http://localhost:3000",
            "https://[::1]:8443",
        ] {
            assert!(good.parse::<CorsOrigin>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "dash.example.com",
            "https://",
            "https://dash.example.com/",
            "https://dash.example.com/app",
            "ftp://dash.example.com",
            "https://dash.example.com?x",
            "https://a b",
        ] {
            assert!(bad.parse::<CorsOrigin>().is_err(), "{bad}");
        }
    }
}
