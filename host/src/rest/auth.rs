//! Optional authentication: when the worker file sets HTTP basic
//! credentials and/or a bearer token, every request but `GET /health`
//! must present one of them, or gets 401 in the error shape.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::api::{Api, ApiError};
use crate::config::RestAuth;

/// The middleware.
pub async fn require(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let Some(auth) = &api.auth else {
        return next.run(request).await;
    };
    // Load balancers and orchestrators probe health without credentials.
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if presented.is_some_and(|p| accepts(auth, p)) {
        return next.run(request).await;
    }
    let message = if presented.is_some() {
        "The credentials in the Authorization header are not valid"
    } else {
        "This endpoint requires authentication: send an Authorization header"
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    let challenge = if auth.basic.is_some() {
        "Basic realm=\"sluice\""
    } else {
        "Bearer realm=\"sluice\""
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// Whether an Authorization header value matches a configured credential.
fn accepts(auth: &RestAuth, presented: &str) -> bool {
    let (scheme, value) = presented.split_once(' ').unwrap_or((presented, ""));
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("basic")
        && let Some((user, password)) = &auth.basic
    {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value) else {
            return false;
        };
        let expected = format!("{user}:{password}");
        return same(&decoded, expected.as_bytes());
    }
    if scheme.eq_ignore_ascii_case("bearer")
        && let Some(token) = &auth.bearer
    {
        return same(value.as_bytes(), token.as_bytes());
    }
    false
}

/// Compares in time that depends only on the lengths, so that response
/// times do not reveal how much of a secret a guess got right.
/// Compares credentials in constant time, so the time a refusal takes does
/// not tell how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_credentials_are_checked() {
        let auth = RestAuth {
            basic: Some(("admin".into(), "pa:ss".into())),
            bearer: Some("tok".into()),
        };
        let basic = base64::engine::general_purpose::STANDARD.encode("admin:pa:ss");
        assert!(accepts(&auth, &format!("Basic {basic}")));
        assert!(accepts(&auth, "Bearer tok"));
        assert!(!accepts(&auth, "Bearer tok2"));
        assert!(!accepts(&auth, "Basic !!!"));
        let wrong = base64::engine::general_purpose::STANDARD.encode("admin:nope");
        assert!(!accepts(&auth, &format!("Basic {wrong}")));
        let only_bearer = RestAuth {
            basic: None,
            bearer: Some("tok".into()),
        };
        assert!(!accepts(&only_bearer, &format!("Basic {basic}")));
    }
}
