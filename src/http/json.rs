//! The JSON body extractor: its rejections answer in the service's error
//! shape, naming the field (`event.attendees[0].email`) that is wrong.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// A request body read as JSON into `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read(request, state).await?;
        parse(&bytes).map(Body)
    }
}

/// The request's body, within the body limit.
///
/// # Errors
/// A 413 above the limit; a 400 when the body cannot be read.
pub(crate) async fn read<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::TooLarge
            }
            other => ApiError::BadRequest {
                kind: "malformed_body",
                message: other.body_text(),
            },
        })
}

/// Reads `bytes` as one JSON value of type `T`.
///
/// # Errors
/// A 400 naming the field path and what is wrong with it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest {
            kind: "malformed_json",
            message: "the body must be a JSON object of the action's arguments".to_owned(),
        });
    }
    // serde reads a struct from an array too; the arguments are named.
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{')
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
    {
        return Err(ApiError::invalid(
            "body: must be a JSON object of the action's arguments".to_owned(),
        ));
    }
    refuse_duplicate_keys(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| rejection(error.path().to_string(), error.into_inner()))?;
    deserializer
        .end()
        .map_err(|error| rejection(".".to_owned(), error))?;
    Ok(value)
}

fn rejection(path: String, error: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::BadRequest {
            kind: "malformed_json",
            message: format!("the body is not valid JSON: {error}"),
        },
        Category::Data => {
            let detail = strip_position(&error.to_string());
            let (path, detail) = match crate::model::named_field(&detail) {
                // serde names a missing or unknown field in its message:
                // the field goes into the path, where every other error
                // names its field.
                Some((field, rule)) if path == "." || path.is_empty() => (field, rule),
                // An unknown field's path already ends with it.
                Some((field, rule)) if path == field || path.ends_with(&format!(".{field}")) => {
                    (path, rule)
                }
                Some((field, rule)) => (format!("{path}.{field}"), rule),
                None => (path, detail),
            };
            let message = match (path.as_str(), nested_path(&detail)) {
                (".", _) => detail,
                (path, Some((inner, rest))) => format!("{path}.{inner}: {rest}"),
                (path, None) => format!("{path}: {detail}"),
            };
            ApiError::invalid(message)
        }
    }
}

/// A message that starts with a field path of its own (a value read by hand
/// inside the body, as a draft is, names the field at fault within it):
/// that path and the rest.
fn nested_path(detail: &str) -> Option<(&str, &str)> {
    let (path, rest) = detail.split_once(": ")?;
    let is_path = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'));
    is_path.then_some((path, rest))
}

/// serde_json ends data errors with " at line 1 column 42", which says
/// nothing to a caller who sent the body in one line.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Refuses a body in which one object names a key twice, wherever the
/// object is: JSON leaves the meaning of a repeated key open, and which
/// value counts must not depend on where in the body it is.
fn refuse_duplicate_keys(bytes: &[u8]) -> Result<(), ApiError> {
    let mut path = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde::de::DeserializeSeed::deserialize(Unique { path: &mut path }, &mut deserializer) {
        Ok(()) => Ok(()),
        // A twice-named key is reported with its path; any other failure
        // is the typed parse's to report, in its words.
        Err(error) if error.classify() == serde_json::error::Category::Data => {
            Err(ApiError::invalid(strip_position(&error.to_string())))
        }
        Err(_) => Ok(()),
    }
}

/// Walks a JSON value, keeping the path to where it is, refusing an object
/// that names a key twice.
struct Unique<'p> {
    path: &'p mut Vec<String>,
}

impl Unique<'_> {
    fn at(&self, key: &str) -> String {
        let mut at = String::new();
        for step in self.path.iter() {
            if !at.is_empty() && !step.starts_with('[') {
                at.push('.');
            }
            at.push_str(step);
        }
        if !at.is_empty() {
            at.push('.');
        }
        at.push_str(key);
        at
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "{}: is given twice; name each field once",
                    self.at(&key)
                )));
            }
            self.path.push(key);
            map.next_value_seed(Unique {
                path: &mut *self.path,
            })?;
            self.path.pop();
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            self.path.push(format!("[{index}]"));
            let more = seq.next_element_seed(Unique {
                path: &mut *self.path,
            })?;
            self.path.pop();
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        email: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        user: String,
        people: Vec<Inner>,
    }

    fn message(body: &str) -> (String, String) {
        let body = parse::<Outer>(body.as_bytes()).unwrap_err().body();
        (body.kind, body.error)
    }

    #[test]
    fn errors_name_the_field_path() {
        let (kind, error) = message(r#"{"user":"u","people":[{"email":3}]}"#);
        assert_eq!(kind, "invalid_input");
        assert!(
            error.starts_with("people[0].email: invalid type"),
            "{error}"
        );
        let (_, error) = message(r#"{"user":"u","people":[],"extra":1}"#);
        assert!(error.starts_with("extra: is not a field here"), "{error}");
        let (_, error) = message(r#"{"people":[]}"#);
        assert_eq!(error, "user: is required");
        let (_, error) = message(r#"{"user":"u","people":[{}]}"#);
        assert_eq!(error, "people[0].email: is required");
        let (_, error) = message(r#"{"user":"u","people":[],"":1}"#);
        assert!(error.starts_with("\"\": is not a field here"), "{error}");
        let (_, error) = message(r#"["u", []]"#);
        assert_eq!(
            error,
            "body: must be a JSON object of the action's arguments"
        );
    }

    #[test]
    fn broken_json_is_malformed() {
        assert_eq!(message(r#"{"user":"#).0, "malformed_json");
        assert_eq!(message("").0, "malformed_json");
        assert_eq!(message(r#"{"user":"u","people":[]} x"#).0, "malformed_json");
    }
}
