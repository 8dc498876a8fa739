//! Cursors as clients see them. Change cursors are opaque and tamper-proof (HMAC-SHA256 under a
//! key all server instances share), so they can be trusted where no account is presented. Page
//! tokens (where a listing stopped) are only opaque: what they name is checked when they return.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_application::files::ChangeCursor;
use coffer_domain::account::UserId;
use coffer_domain::files::{NamespaceId, NodeId};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::problem::ApiError;

/// A page token: `value` as base64url JSON.
pub(crate) fn encode_page_token<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("page tokens serialise"))
}

/// The value of a page token from [`encode_page_token`].
pub(crate) fn decode_page_token<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| ApiError::invalid_cursor())?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_cursor())
}

/// Bytes of the HMAC kept in a cursor (128 bits).
const TAG_BYTES: usize = 16;

/// Signs and checks change cursors.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

/// Most namespaces one cursor may follow (its folder's and shared folders mounted below).
const MAX_POSITIONS: usize = 10_000;

#[derive(Serialize, Deserialize)]
struct Payload {
    f: Uuid,
    r: bool,
    /// Per namespace: id and last seen sequence number.
    p: Vec<(Uuid, u64)>,
    /// The account it was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<Uuid>,
}

impl CursorCodec {
    /// A codec with this secret key.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn tag(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payload);
        mac.finalize().into_bytes()[..TAG_BYTES].to_vec()
    }

    /// The cursor as an opaque string.
    pub fn encode(&self, cursor: &ChangeCursor) -> String {
        let payload = serde_json::to_vec(&Payload {
            f: cursor.folder.as_uuid(),
            r: cursor.recursive,
            p: cursor
                .positions
                .iter()
                .map(|(namespace, seq)| (namespace.as_uuid(), *seq))
                .collect(),
            u: cursor.account.map(|user| user.as_uuid()),
        })
        .expect("cursor serialises");
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(self.tag(&payload))
        )
    }

    /// The cursor in `raw`, if this server issued it unchanged.
    pub fn decode(&self, raw: &str) -> Result<ChangeCursor, ApiError> {
        let invalid = ApiError::invalid_cursor;
        let (payload, tag) = raw.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| invalid())?;
        if tag.len() != TAG_BYTES {
            return Err(invalid());
        }
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if payload.p.is_empty() || payload.p.len() > MAX_POSITIONS {
            return Err(invalid());
        }
        Ok(ChangeCursor {
            folder: NodeId::from_uuid(payload.f),
            recursive: payload.r,
            positions: payload
                .p
                .into_iter()
                .map(|(namespace, seq)| (NamespaceId::from_uuid(namespace), seq))
                .collect(),
            account: payload.u.map(UserId::from_uuid),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> ChangeCursor {
        ChangeCursor {
            folder: NodeId::from_uuid(Uuid::from_u128(2)),
            recursive: true,
            positions: vec![
                (NamespaceId::from_uuid(Uuid::from_u128(1)), 42),
                (NamespaceId::from_uuid(Uuid::from_u128(3)), 7),
            ],
            account: Some(UserId::from_uuid(Uuid::from_u128(9))),
        }
    }

    #[test]
    fn round_trips_and_refuses_tampering() {
        let codec = CursorCodec::new(b"key".to_vec());
        let encoded = codec.encode(&cursor());
        assert_eq!(codec.decode(&encoded).unwrap(), cursor());

        let forged = cursor();
        let (_, tag) = encoded.split_once('.').unwrap();
        let payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Payload {
                f: forged.folder.as_uuid(),
                r: true,
                p: vec![(forged.positions[0].0.as_uuid(), 0)],
                u: None,
            })
            .unwrap(),
        );
        assert!(
            codec.decode(&format!("{payload}.{tag}")).is_err(),
            "payload changed"
        );
        assert!(
            CursorCodec::new(b"other".to_vec())
                .decode(&encoded)
                .is_err(),
            "other key"
        );
        assert!(codec.decode("garbage").is_err());
        assert!(codec.decode(&format!("{payload}.")).is_err(), "no tag");
    }
}
