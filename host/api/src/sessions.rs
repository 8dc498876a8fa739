//! Browser sessions: the web app authenticates with an HttpOnly, `SameSite=Strict` cookie
//! holding an ordinary access token (listed and revocable like any other), never with a token
//! that script can read. A request authenticated by the cookie that can change anything (any
//! method but GET, HEAD and OPTIONS) must also carry the session's CSRF token in
//! `X-CSRF-Token`: an HMAC of the cookie's secret under a key every instance shares, which the
//! app gets from `/auth/session` and another site cannot learn or send.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::problem::{ApiError, ErrorCode};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "coffer_session";

/// The cookie that carries a link pass (scoped to that link's public URLs).
pub const LINK_PASS_COOKIE: &str = "coffer_link_pass";

/// The header that carries the CSRF token.
const CSRF_HEADER: &str = "x-csrf-token";

/// Bytes of the HMAC kept in a CSRF token (128 bits).
const TAG_BYTES: usize = 16;

/// Issues session cookies and their CSRF tokens.
#[derive(Clone)]
pub struct SessionCookies {
    key: Vec<u8>,
    always_secure: bool,
}

impl SessionCookies {
    /// Cookies whose CSRF tokens are signed with `key`; with `always_secure`, every cookie is
    /// `Secure` (else only those set on requests a proxy says came over HTTPS).
    pub fn new(key: Vec<u8>, always_secure: bool) -> Self {
        Self { key, always_secure }
    }

    fn mac(&self, secret: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"coffer csrf\0");
        mac.update(secret.as_bytes());
        mac
    }

    /// The CSRF token of the session whose cookie holds `secret`.
    pub fn csrf_token(&self, secret: &str) -> String {
        let tag = self.mac(secret).finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
    }

    /// Whether `token` is the CSRF token of the session whose cookie holds `secret`.
    pub fn csrf_matches(&self, secret: &str, token: &str) -> bool {
        URL_SAFE_NO_PAD.decode(token).is_ok_and(|tag| {
            tag.len() == TAG_BYTES && self.mac(secret).verify_truncated_left(&tag).is_ok()
        })
    }

    /// Succeeds when the request carries, in `X-CSRF-Token`, the CSRF token of the session
    /// whose cookie holds `secret`; else the `csrf_failed` answer.
    pub fn require_csrf(&self, secret: &str, request: &HeaderMap) -> Result<(), ApiError> {
        let token = request
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if self.csrf_matches(secret, token) {
            Ok(())
        } else {
            Err(csrf_refusal())
        }
    }

    /// `Set-Cookie` for a session holding `secret` for `max_age_seconds`.
    pub fn set_cookie(
        &self,
        secret: &str,
        max_age_seconds: i64,
        request: &HeaderMap,
    ) -> HeaderValue {
        let secure = if self.secure_for(request) {
            "; Secure"
        } else {
            ""
        };
        let value = format!(
            "{COOKIE_NAME}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            max_age_seconds.max(0)
        );
        HeaderValue::from_str(&value).expect("a token is a valid cookie value")
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self, request: &HeaderMap) -> HeaderValue {
        let secure = if self.secure_for(request) {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
        ))
        .expect("a valid cookie")
    }

    /// `Set-Cookie` carrying a link pass to the link's own public URLs only (so that plain
    /// links and `<img>` in the browser work for a password-protected link), or nothing for a
    /// token that could not be a cookie path.
    pub fn link_pass_cookie(
        &self,
        token: &str,
        pass: &str,
        request: &HeaderMap,
    ) -> Option<HeaderValue> {
        let plain = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if token.is_empty() || !plain(token) || !plain(pass) {
            return None;
        }
        let secure = if self.secure_for(request) {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{LINK_PASS_COOKIE}={pass}; Path=/api/v1/public/links/{token}; HttpOnly; \
             SameSite=Strict; Max-Age={}{secure}",
            crate::link_passes::PASS_LIFETIME.num_seconds()
        ))
        .ok()
    }

    fn secure_for(&self, request: &HeaderMap) -> bool {
        // A forged header can only make the cookie stricter.
        self.always_secure
            || request
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

/// The secret of the session cookie, if the request has one.
pub fn cookie_secret(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE_NAME)
}

/// The value of the cookie `name`, if the request has a non-empty one.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The answer to a change made with the session cookie but without its CSRF token.
fn csrf_refusal() -> ApiError {
    ApiError::new(
        ErrorCode::CsrfFailed,
        "a change made with the session cookie must carry the session's CSRF token in \
         X-CSRF-Token (GET /api/v1/auth/session gives it)",
    )
}

/// Whether a request with this method can change anything (and so needs the CSRF token when
/// the cookie authenticates it).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies() -> SessionCookies {
        SessionCookies::new(b"a key".to_vec(), false)
    }

    #[test]
    fn csrf_tokens_belong_to_one_session_and_one_key() {
        let token = cookies().csrf_token("secret-a");
        assert!(cookies().csrf_matches("secret-a", &token));
        assert!(!cookies().csrf_matches("secret-b", &token));
        assert!(!SessionCookies::new(b"other".to_vec(), false).csrf_matches("secret-a", &token));
        assert!(!cookies().csrf_matches("secret-a", ""));
        assert!(!cookies().csrf_matches("secret-a", "not base64 !"));
        assert!(!cookies().csrf_matches("secret-a", &token[..token.len() - 2]));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_https() {
        let plain = cookies().set_cookie("s3cret", 60, &HeaderMap::new());
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with("coffer_session=s3cret; Path=/; HttpOnly; SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(
            cookies()
                .set_cookie("s", 60, &proxied)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        let always = SessionCookies::new(b"k".to_vec(), true);
        assert!(
            always
                .clear_cookie(&HeaderMap::new())
                .to_str()
                .unwrap()
                .contains("Max-Age=0; Secure")
        );
    }

    #[test]
    fn link_pass_cookies_stay_on_their_link() {
        let cookie = cookies()
            .link_pass_cookie("cfl_abc-1", "1700000000.tag_x", &HeaderMap::new())
            .unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.contains("Path=/api/v1/public/links/cfl_abc-1;"),
            "{cookie}"
        );
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(
            cookies()
                .link_pass_cookie("a;b", "p", &HeaderMap::new())
                .is_none()
        );
        assert!(
            cookies()
                .link_pass_cookie("a/../b", "p", &HeaderMap::new())
                .is_none()
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; coffer_session=abc"),
        );
        assert_eq!(cookie_secret(&headers), Some("abc"));
        let mut none = HeaderMap::new();
        none.append(
            header::COOKIE,
            HeaderValue::from_static("coffer_session=; x=1"),
        );
        assert_eq!(cookie_secret(&none), None);
    }
}
