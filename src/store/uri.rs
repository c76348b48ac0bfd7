//! Store URIs as people see them: in messages, logs and `Debug` output the
//! user name and password a URI may carry are never shown.

use std::ops::Range;

/// Where a URI's user information (`user:password` before `@`) stands, if
/// the URI has an `@` in its authority.
fn user_info(uri: &str) -> Option<Range<usize>> {
    let scheme_end = uri.find("://")? + 3;
    let rest = &uri[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(scheme_end..scheme_end + at)
}

/// The URI with the user information before `@` (user name and password)
/// replaced by `***`; the hosts, database and options stay readable.
///
/// # Example
/// ```
/// assert_eq!(
///     calsync::store::redact_uri("mongodb://app:s3cret@db.example/calsync"),
///     "mongodb://***@db.example/calsync"
/// );
/// ```
pub fn redact_uri(uri: &str) -> String {
    match user_info(uri) {
        Some(user) => format!("{}***{}", &uri[..user.start], &uri[user.end..]),
        None => uri.to_owned(),
    }
}

/// `message` (a driver's, which may quote the URI) with the user
/// information of `uri` hidden.
#[cfg(feature = "mongodb")]
pub(crate) fn redact_message(message: &str, uri: &str) -> String {
    match user_info(uri) {
        Some(user) if !user.is_empty() => message.replace(&uri[user], "***"),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_from_uris() {
        let uri = "mongodb://calsync:s3cr%40t@db1.example:27017,db2.example/app?replicaSet=rs0";
        assert_eq!(
            redact_uri(uri),
            "mongodb://***@db1.example:27017,db2.example/app?replicaSet=rs0"
        );
        let plain = "mongodb://127.0.0.1:27017/?directConnection=true";
        assert_eq!(redact_uri(plain), plain);
        assert_eq!(
            redact_uri("mongodb+srv://u:p@cluster0/x"),
            "mongodb+srv://***@cluster0/x"
        );
        assert_eq!(redact_uri("mongodb://@host/"), "mongodb://***@host/");
        assert_eq!(redact_uri("not a uri"), "not a uri");
        // An `@` after the authority (in the options) is no user information.
        let later = "mongodb://host/db?authMechanismProperties=a@b";
        assert_eq!(redact_uri(later), later);
    }

    #[cfg(feature = "mongodb")]
    #[test]
    fn credentials_are_redacted_from_messages() {
        let uri = "mongodb://calsync:s3cr%40t@db1.example:27017/app";
        let message = "auth failed for calsync:s3cr%40t on db1";
        assert_eq!(redact_message(message, uri), "auth failed for *** on db1");
        assert_eq!(redact_message(message, "mongodb://db1/app"), message);
    }
}
