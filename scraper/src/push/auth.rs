//! Bearer-token authentication of the push routes. The token is compared in constant time
//! (for its length); `Authorization: Bearer <token>` is accepted everywhere and
//! `Authorization: Token <token>` too, because InfluxDB clients send that.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::debug;

use crate::error::Error;

/// Checks the `Authorization` header against `expected` (pure).
pub fn check(headers: &HeaderMap, expected: &str) -> Result<(), Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Error::Unauthorized {
            message: "missing Authorization header (Bearer token required)".into(),
        });
    };
    let value = value.as_bytes();
    let token = ["Bearer ", "Token "].iter().find_map(|scheme| {
        let n = scheme.len();
        (value.len() > n && value[..n].eq_ignore_ascii_case(scheme.as_bytes()))
            .then(|| value[n..].trim_ascii())
    });
    let Some(token) = token else {
        return Err(Error::Unauthorized {
            message: "Authorization header is not a Bearer token".into(),
        });
    };
    if !constant_time_eq(token, expected.as_bytes()) {
        return Err(Error::Unauthorized {
            message: "invalid bearer token".into(),
        });
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware refusing requests without the right token with 401.
pub async fn require_token(
    State(token): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    match check(request.headers(), &token) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            debug!(path = %request.uri().path(), error = %e, "push request refused");
            (
                StatusCode::UNAUTHORIZED,
                [
                    (header::WWW_AUTHENTICATE, "Bearer"),
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                ],
                format!("{e}\n"),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn accepts_bearer_and_token_schemes() {
        check(&with("Bearer s3cret"), "s3cret").unwrap();
        check(&with("bearer s3cret"), "s3cret").unwrap();
        check(&with("Token s3cret"), "s3cret").unwrap();
    }

    #[test]
    fn refuses_missing_wrong_and_other_schemes() {
        for (h, wanted) in [
            (HeaderMap::new(), "missing"),
            (with("Bearer nope"), "invalid"),
            (with("Bearer s3cre"), "invalid"),
            (with("Basic czNjcmV0"), "not a Bearer"),
            (with("Bearer "), "not a Bearer"),
        ] {
            let e = check(&h, "s3cret").unwrap_err();
            assert!(e.to_string().contains(wanted), "{e}");
            assert_eq!(e.status_code(), StatusCode::UNAUTHORIZED);
        }
    }
}
