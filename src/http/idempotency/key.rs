//! The `Idempotency-Key` header, who sent it and the body it came with: what
//! a retry is checked against.

use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::json;
use crate::model::UserId;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The header's name.
pub const HEADER: &str = "Idempotency-Key";

/// The longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// A request body read as JSON into `T`, with its `Idempotency-Key`, if any.
#[derive(Debug)]
pub struct Keyed<T> {
    /// The request.
    pub request: T,
    /// The key and what it is checked against, when the header was sent.
    pub key: Option<KeyUse>,
}

/// One use of an `Idempotency-Key`: the key, who sent it and a digest of
/// the body it came with.
#[derive(Clone)]
pub struct KeyUse {
    pub(super) key: String,
    caller: Caller,
    pub(super) body_hash: String,
}

impl std::fmt::Debug for KeyUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyUse")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<S, T> FromRequest<S> for Keyed<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let key = key_of(request.headers())?;
        let caller = request
            .extensions()
            .get::<Caller>()
            .copied()
            .unwrap_or(Caller([0; 32]));
        let bytes = json::read(request, state).await?;
        let parsed = json::parse(&bytes)?;
        let key = match key {
            Some(key) => Some(KeyUse {
                key,
                caller,
                body_hash: body_hash(&bytes)?,
            }),
            None => None,
        };
        Ok(Keyed {
            request: parsed,
            key,
        })
    }
}

/// The `Idempotency-Key` header's value, if sent.
///
/// # Errors
/// A 400 `invalid_idempotency_key` naming the header and its rule.
fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |message: String| ApiError::BadRequest {
        kind: "invalid_idempotency_key",
        message,
    };
    if values.next().is_some() {
        return Err(invalid(format!("send one {HEADER} header, not several")));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(invalid(format!(
            "the {HEADER} header must be 1 to {MAX_KEY_LEN} visible ASCII characters \
             (no spaces or control characters), e.g. a UUID"
        )));
    }
    // Visible ASCII is valid UTF-8.
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// A digest of a JSON body that ignores what JSON ignores: whitespace and
/// the order of object keys.
fn body_hash(bytes: &[u8]) -> Result<String, ApiError> {
    let value: Value = json::parse(bytes)?;
    let mut hasher = Sha256::new();
    canonical(&value, &mut hasher);
    Ok(hex(&hasher.finalize()))
}

fn canonical(value: &Value, hasher: &mut Sha256) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            hasher.update(b"{");
            for key in keys {
                hasher.update(Value::String(key.clone()).to_string().as_bytes());
                hasher.update(b":");
                canonical(&object[key], hasher);
                hasher.update(b",");
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for item in items {
                canonical(item, hasher);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl KeyUse {
    /// The key's scope for `user`: a digest of the caller and the user.
    pub(super) fn scope(&self, user: &UserId) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"calsync idempotency scope\0");
        hasher.update(self.caller.0);
        hasher.update(user.as_str().as_bytes());
        hex(&hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                HEADER,
                HeaderValue::from_bytes(value).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert_eq!(key_of(&HeaderMap::new()).expect("none"), None);
        let long = "k".repeat(MAX_KEY_LEN);
        for good in [
            "a",
            "8e0f2c1a-1b7e-4a53-9b1d-3d1f0e6f7a10",
            long.as_str(),
            "!~",
        ] {
            let key = key_of(&headers(&[good.as_bytes()])).expect("valid");
            assert_eq!(key.as_deref(), Some(good));
        }
        let too_long = "k".repeat(MAX_KEY_LEN + 1);
        let bad: [&[u8]; 5] = [
            b"",
            b"with space",
            b"tab\there",
            too_long.as_bytes(),
            b"caf\xc3\xa9",
        ];
        for bad in bad {
            let error = key_of(&headers(&[bad])).expect_err("invalid");
            let body = error.body();
            assert_eq!(body.kind, "invalid_idempotency_key");
            assert!(body.error.contains(HEADER), "{}", body.error);
        }
        let twice = key_of(&headers(&[b"a", b"b"])).expect_err("two headers");
        assert_eq!(twice.body().kind, "invalid_idempotency_key");
    }

    #[test]
    fn the_body_digest_ignores_whitespace_and_key_order() {
        let one = body_hash(br#"{"user":"ada","event":{"title":"A","start":"x"},"n":[1,2]}"#);
        let two = body_hash(b"{ \"n\": [1, 2], \"event\": {\"start\": \"x\", \"title\": \"A\"},\n \"user\": \"ada\" }");
        assert_eq!(one.expect("json"), two.expect("json"));
        let other = body_hash(br#"{"user":"ada","event":{"title":"B","start":"x"},"n":[1,2]}"#);
        let reordered = body_hash(br#"{"user":"ada","event":{"title":"A","start":"x"},"n":[2,1]}"#);
        let first = body_hash(br#"{"user":"ada","event":{"title":"A","start":"x"},"n":[1,2]}"#);
        assert_ne!(first.as_ref().expect("json"), other.as_ref().expect("json"));
        assert_ne!(first.expect("json"), reordered.expect("json"));
    }

    #[test]
    fn scopes_differ_by_caller_and_user() {
        let key = |caller: u8| KeyUse {
            key: "k".to_owned(),
            caller: Caller([caller; 32]),
            body_hash: String::new(),
        };
        let ada = UserId::from("ada");
        assert_eq!(key(1).scope(&ada), key(1).scope(&ada));
        assert_ne!(key(1).scope(&ada), key(2).scope(&ada));
        assert_ne!(key(1).scope(&ada), key(1).scope(&UserId::from("bob")));
    }
}
