//! Event ids in each provider's own shape.

use crate::model::Provider;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;

/// A fresh event id shaped like `provider`'s: Google's base32hex, Graph's long
/// opaque base64url, a CalDAV `{uid}.ics` href in the calendar, Zoom's numeric
/// meeting id.
pub(super) fn event_id(provider: Provider, calendar: &str, key: &str) -> String {
    let mut rng = rand::rng();
    match provider {
        // A client-chosen id must be base32hex (a-v, 0-9), 5-1024 chars; a
        // lowercase dashless UUID qualifies, so the idempotency key becomes
        // the id, as the real adapter sends it.
        Provider::Google => {
            let id: String = key
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .filter(|c| c.is_ascii_digit() || ('a'..='v').contains(c))
                .collect();
            if id.len() >= 5 {
                id
            } else {
                base32hex(&rng.random::<[u8; 16]>())
            }
        }
        // Graph ids are opaque, case-sensitive and about 150 characters.
        Provider::Outlook => {
            let bytes: Vec<u8> = (0..110).map(|_| rng.random()).collect();
            format!("AAMkA{}", URL_SAFE_NO_PAD.encode(bytes))
        }
        Provider::Apple => {
            let name: String = key
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            format!("{}/{name}.ics", calendar.trim_end_matches('/'))
        }
        Provider::Zoom => rng
            .random_range(80_000_000_000u64..99_999_999_999)
            .to_string(),
    }
}

fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A fresh opaque token.
pub(super) fn token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_each_providers_shape() {
        let key = "0193a6f2-7c1e-7d3a-9b2f-1c2d3e4f5a6b";
        let google = event_id(Provider::Google, "primary", key);
        assert!(google.len() >= 5);
        assert!(
            google
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
        );
        let outlook = event_id(Provider::Outlook, "cal", key);
        assert!(outlook.len() > 100 && outlook.starts_with("AAMkA"));
        let apple = event_id(Provider::Apple, "/calendars/u/home/", key);
        assert_eq!(apple, format!("/calendars/u/home/{key}.ics"));
        let zoom = event_id(Provider::Zoom, "me", key);
        assert!(zoom.len() == 11 && zoom.chars().all(|c| c.is_ascii_digit()));
    }
}
