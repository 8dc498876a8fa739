//! Extractors whose rejections are problem responses, and the authenticated caller.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Multipart, Path, Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use coffer_application::{AppError, Principal};
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, ErrorCode};
use crate::sessions;
use crate::state::{ApiState, ClientAddressSource};

/// A JSON body; malformed JSON and wrong types answer as problems.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// Path parameters; bad ones answer as problems.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// Query parameters; bad ones answer as problems. A query string that is not UTF-8 once
/// percent-decoded is refused (rather than read with replacement characters), and a value
/// holding a NUL character, which no parameter has a use for and text columns cannot store, is
/// an invalid value of its parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            if std::str::from_utf8(&percent_decode(query)).is_err() {
                return Err(ApiError::new(
                    ErrorCode::InvalidParameter,
                    "the query string is not valid UTF-8 once percent-decoded",
                ));
            }
            if let Some(name) = parameter_with_nul(query) {
                return Err(ApiError::new(
                    ErrorCode::ValidationFailed,
                    format!("{name} must not contain NUL characters"),
                )
                .with_field(name));
            }
        }
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// A page size query parameter, 1 to `MAX`: anything else is refused (400 `invalid_parameter`)
/// rather than silently clamped, so a client learns the bound instead of receiving fewer
/// entries than it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit<const MAX: u32>(u32);

impl<const MAX: u32> PageLimit<MAX> {
    /// The page size.
    pub fn get(self) -> u32 {
        self.0
    }

    /// `limit`'s size, or `default` when it was not given.
    pub fn or(limit: Option<Self>, default: u32) -> u32 {
        limit.map_or(default, Self::get)
    }
}

impl<'de, const MAX: u32> serde::Deserialize<'de> for PageLimit<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let out_of_range = || serde::de::Error::custom(format!("must be 1 to {MAX}"));
        let size =
            <u64 as serde::Deserialize>::deserialize(deserializer).map_err(|_| out_of_range())?;
        match u32::try_from(size) {
            Ok(size) if (1..=MAX).contains(&size) => Ok(Self(size)),
            _ => Err(out_of_range()),
        }
    }
}

/// `text` (`application/x-www-form-urlencoded`: `%XX` a byte) with its escapes decoded.
/// Separators are ASCII, so a whole query string decodes to UTF-8 exactly when every name and
/// value does.
fn percent_decode(text: &str) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(byte) => {
                decoded.push(u8::try_from(byte).expect("two hex digits make a byte"));
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    decoded
}

/// The name of the first parameter of `query` whose value holds a NUL character.
fn parameter_with_nul(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        percent_decode(value)
            .contains(&0)
            .then(|| String::from_utf8_lossy(&percent_decode(name)).into_owned())
    })
}

/// A `multipart/form-data` body; one without a usable boundary answers as a problem.
pub struct ApiMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Multipart::from_request(req, state).await?))
    }
}

/// The authenticated caller, from `Authorization: Bearer <token>`, or else from the browser's
/// session cookie (then a request that can change anything must carry the session's CSRF
/// token, see [`crate::sessions`]).
pub struct Caller(pub Principal);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty());
        let (secret, by_cookie) = match bearer {
            Some(token) => (token, false),
            None => (
                sessions::cookie_secret(&parts.headers).ok_or(AppError::Unauthenticated)?,
                true,
            ),
        };
        let principal = state.accounts.authenticate(secret).await?;
        if by_cookie && sessions::is_unsafe(&parts.method) {
            state.sessions.require_csrf(secret, &parts.headers)?;
        }
        tracing::Span::current().record("user", tracing::field::display(principal.user_id));
        Ok(Self(principal))
    }
}

/// The client's network address, if known (see [`ClientAddressSource`]).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<ApiState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = match &state.client_address {
            ClientAddressSource::Peer => None,
            ClientAddressSource::Header(name) => parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .next_back(),
        };
        Ok(Self(forwarded.or(peer)))
    }
}

#[cfg(test)]
mod tests {
    use super::{parameter_with_nul, percent_decode};

    #[test]
    fn query_strings_must_decode_to_utf8_without_nul_values() {
        let text = |query: &str| std::str::from_utf8(&percent_decode(query)).is_ok();
        for good in [
            "",
            "path=/a.txt&mode=add",
            "path=%2Fcaf%C3%A9+x",
            "a=%",
            "a=%G1%2",
        ] {
            assert!(text(good), "{good}");
            assert_eq!(parameter_with_nul(good), None, "{good}");
        }
        for bad in ["path=%FF", "path=%C3", "p=%C3&q=%A9", "%E2%82=x"] {
            assert!(!text(bad), "{bad}");
        }
        assert_eq!(
            parameter_with_nul("limit=2&plugin=%00x").as_deref(),
            Some("plugin")
        );
        assert_eq!(parameter_with_nul("query=a\0b").as_deref(), Some("query"));
    }
}
