//! Link passes: after a right link password, the answer carries a short-lived pass
//! (`X-Link-Pass`) that stands in for the password of that one link, so a visitor's next
//! requests (the ranges of a download, the pages of a listing) cost no password check. A pass
//! is an expiry signed together with the link's token (HMAC-SHA256, under a key every instance
//! shares): it admits to that link only, and only while the link itself works.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a pass admits its holder.
pub const PASS_LIFETIME: chrono::Duration = chrono::Duration::minutes(15);

/// Bytes of the HMAC kept in a pass (128 bits).
const TAG_BYTES: usize = 16;

/// Issues and checks link passes.
#[derive(Clone)]
pub struct LinkPasses {
    key: Vec<u8>,
}

impl LinkPasses {
    /// Passes signed with this secret key.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, token: &str, expires: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"coffer link pass\0");
        mac.update(token.as_bytes());
        mac.update(b"\0");
        mac.update(expires.as_bytes());
        mac
    }

    /// A pass for the link with this token, valid for [`PASS_LIFETIME`] from `now`.
    pub fn issue(&self, token: &str, now: DateTime<Utc>) -> String {
        let expires = (now + PASS_LIFETIME).timestamp().to_string();
        let tag = self.mac(token, &expires).finalize().into_bytes();
        format!("{expires}.{}", URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]))
    }

    /// Whether `raw` is a pass this server issued for the link with this token, unexpired at
    /// `now`.
    pub fn check(&self, raw: &str, token: &str, now: DateTime<Utc>) -> bool {
        let Some((expires, tag)) = raw.split_once('.') else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        tag.len() == TAG_BYTES
            && self.mac(token, expires).verify_truncated_left(&tag).is_ok()
            && expires
                .parse::<i64>()
                .is_ok_and(|expires| now.timestamp() < expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_admits_to_its_link_until_it_expires_and_cannot_be_altered() {
        let passes = LinkPasses::new(b"key".to_vec());
        let now = Utc::now();
        let pass = passes.issue("cfl_one", now);
        assert!(passes.check(&pass, "cfl_one", now));
        assert!(
            !passes.check(&pass, "cfl_one", now + PASS_LIFETIME),
            "expired"
        );
        assert!(!passes.check(&pass, "cfl_two", now), "another link");
        let (_, tag) = pass.split_once('.').unwrap();
        let later = format!("{}.{tag}", (now + chrono::Duration::days(9)).timestamp());
        assert!(!passes.check(&later, "cfl_one", now), "a longer life");
        assert!(!LinkPasses::new(b"other key".to_vec()).check(&pass, "cfl_one", now));
        assert!(!passes.check("garbage", "cfl_one", now));
    }
}
