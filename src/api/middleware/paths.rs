//! One spelling for every URL path, before anything reads it: the router, the scope check,
//! links, the `Idempotency-Key` fingerprint and the log all see the same path.
//!
//! A path is percent-decoded once (every `%XX`, an encoded `/` included: no path this service
//! answers has a `/` inside a segment), its empty and `.` segments are dropped and each `..`
//! removes the segment before it (RFC 3986, section 5.2.4), and what is left is encoded again
//! where a path requires it. So `/api%2Dkeys`, `/api-keys/`, `//api-keys`, `/x/../api-keys`
//! and `/API-KEYS`... all but the last name `/api-keys`; case is never folded.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse, Url};
use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;
use actix_web::middleware::Next;

/// The canonical form of `path` (see the module's documentation).
pub fn canonical(path: &str) -> String {
    let decoded = decode(path.as_bytes());
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in decoded.split(|&byte| byte == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        encode_into(segment, &mut out);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Every `%XX` decoded; a `%` not followed by two hex digits is kept as it is.
fn decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |byte: u8| (byte as char).to_digit(16).map(|digit| digit as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(high << 4 | low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// `segment` into `out`, percent-encoding every byte a path segment may not hold as it is
/// (RFC 3986 `pchar`: unreserved, sub-delims, `:` and `@`). A `%` is encoded, so that
/// nothing downstream decodes a second time.
fn encode_into(segment: &[u8], out: &mut String) {
    for &byte in segment {
        let plain = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte);
        if plain {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// Middleware, before routing: rewrites the request's path to its canonical form.
pub async fn canonicalize(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let original = request.path();
    let path = canonical(original);
    if path != original {
        let head = request.head_mut();
        let mut parts = head.uri.clone().into_parts();
        let path_and_query = match parts.path_and_query.as_ref().and_then(|pq| pq.query()) {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        // Only bytes a path and a query may hold are written, so this parses.
        if let Ok(rewritten) = PathAndQuery::try_from(path_and_query) {
            parts.path_and_query = Some(rewritten);
            if let Ok(uri) = Uri::from_parts(parts) {
                request.match_info_mut().set(Url::new(uri.clone()));
                request.head_mut().uri = uri;
            }
        }
    }
    next.call(request).await
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn every_spelling_of_a_path_has_one_form() {
        for (given, expected) in [
            ("/api-keys", "/api-keys"),
            ("/api%2Dkeys", "/api-keys"),
            ("/api%2dkeys", "/api-keys"),
            ("/%61%70%69%2D%6B%65%79%73", "/api-keys"),
            ("/api-keys/", "/api-keys"),
            ("//api-keys", "/api-keys"),
            ("/./api-keys", "/api-keys"),
            ("/wallets/../api-keys", "/api-keys"),
            ("/wallets/%2E%2E/api-keys", "/api-keys"),
            ("/../../api-keys", "/api-keys"),
            ("/api-keys%2F7", "/api-keys/7"),
            ("/wallets/1%2f..%2f..%2fapi-keys", "/api-keys"),
            ("/", "/"),
            ("", "/"),
            ("//", "/"),
            ("/wallets/a%20b", "/wallets/a%20b"),
            ("/wallets/%25", "/wallets/%25"),
            ("/wallets/%252D", "/wallets/%252D"),
            ("/wallets/%zz", "/wallets/%25zz"),
            ("/wallets/%", "/wallets/%25"),
            ("/Wallets", "/Wallets"),
            ("/wallets/caf%C3%A9", "/wallets/caf%C3%A9"),
        ] {
            assert_eq!(canonical(given), expected, "{given}");
        }
    }

    #[test]
    fn the_form_is_stable() {
        for path in ["/api%2Dkeys", "/wallets/%25", "/a/%zz/../b%2F", "/x%20y"] {
            let once = canonical(path);
            assert_eq!(canonical(&once), once, "{path}");
        }
    }
}
