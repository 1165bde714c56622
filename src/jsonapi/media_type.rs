//! Content negotiation (jsonapi.org/format/#content-negotiation).
//!
//! - A request with a body must be sent as `application/vnd.api+json`, with no media type
//!   parameters but `ext` and `profile`, and no extension the URL does not support: 415.
//! - When `Accept` names the JSON:API media type, at least one of those entries must carry
//!   no parameters but `ext`/`profile` and no unsupported extension: otherwise 406. An
//!   `Accept` without the JSON:API media type (`*/*`, `application/json`) is answered anyway.
//! - Every response with a body is `application/vnd.api+json`, with `ext` when the handler
//!   applied an extension.
//!
//! Whether a request is negotiated at all, and which extensions its endpoint supports, is
//! the application's to say ([`Negotiation`]): a request no endpoint serves (404, 405) or
//! one the endpoint refuses outright (a write of a read-only resource) is answered that way
//! whatever its media types.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use super::error::{ApiError, NOT_ACCEPTABLE, UNSUPPORTED_MEDIA_TYPE};

pub const JSONAPI_MEDIA_TYPE: &str = "application/vnd.api+json";

/// A JSON:API extension: its URI (the value of the `ext` parameter) and the media type of
/// the documents that apply it.
#[derive(Debug, PartialEq, Eq)]
pub struct Extension {
    pub uri: &'static str,
    pub media_type: &'static str,
}

/// Atomic Operations (jsonapi.org/ext/atomic).
pub static ATOMIC: Extension = Extension {
    uri: "https://jsonapi.org/ext/atomic",
    media_type: "application/vnd.api+json; ext=\"https://jsonapi.org/ext/atomic\"",
};

/// For a request: how the media-type rules apply to it.
pub type Negotiation = fn(&ServiceRequest) -> Negotiated;

/// How the media-type rules apply to a request.
#[derive(Debug, Clone, Copy)]
pub enum Negotiated {
    /// They do: its endpoint serves JSON:API, with these extensions.
    Checked(&'static [&'static Extension]),
    /// They do not, but its answer is a JSON:API document (a 404, a 405, a refusal).
    Answered,
    /// It is not JSON:API at all (metrics, the OpenAPI document): its answer is left as is.
    Foreign,
}

/// One entry of a media type list: `type/subtype` and its parameters (names lowercased,
/// quoted values unquoted). Accept's `q` weight is kept apart, as it is not a media type
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    pub essence: String,
    pub params: Vec<(String, String)>,
    pub quality_zero: bool,
}

impl MediaRange {
    fn is_jsonapi(&self) -> bool {
        self.essence == JSONAPI_MEDIA_TYPE
    }

    /// The extensions this entry names (its `ext` parameter: space-separated URIs).
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(|(name, _)| name == "ext")
            .flat_map(|(_, value)| value.split_whitespace())
    }

    /// Why this JSON:API entry cannot be served, if it cannot.
    fn unsupported(&self, supported: &[&Extension]) -> Option<String> {
        if let Some(ext) = self
            .extensions()
            .find(|uri| !supported.iter().any(|extension| extension.uri == *uri))
        {
            return Some(if supported.is_empty() {
                format!("the extension {ext:?} is not supported here")
            } else {
                format!(
                    "the extension {ext:?} is not supported here (only {})",
                    supported[0].uri
                )
            });
        }
        for (name, _) in &self.params {
            match name.as_str() {
                "profile" | "ext" => {}
                other => {
                    return Some(format!(
                        "the media type parameter {other:?} is not allowed (only \"ext\" and \"profile\")"
                    ));
                }
            }
        }
        None
    }
}

/// Parses a header holding a comma-separated list of media types, quotes respected.
pub fn parse_media_ranges(header: &str) -> Vec<MediaRange> {
    split_outside_quotes(header, ',')
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let mut pieces = split_outside_quotes(&part, ';').into_iter();
            let essence = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let mut params = Vec::new();
            let mut quality_zero = false;
            for piece in pieces {
                let (name, value) = piece.split_once('=').unwrap_or((piece.as_str(), ""));
                let name = name.trim().to_ascii_lowercase();
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .map(|v| v.replace("\\\"", "\"").replace("\\\\", "\\"))
                    .unwrap_or_else(|| value.to_string());
                if name == "q" {
                    quality_zero = value.parse::<f32>().is_ok_and(|q| q == 0.0);
                } else {
                    params.push((name, value));
                }
            }
            MediaRange {
                essence,
                params,
                quality_zero,
            }
        })
        .collect()
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(String::new());
            continue;
        }
        parts.last_mut().expect("never empty").push(c);
    }
    parts
}

/// Checks a request's `Content-Type` (when it has a body) and `Accept` headers against the
/// extensions its URL supports.
pub fn check_request(
    method: &Method,
    content_type: Option<&str>,
    accept: Option<&str>,
    supported: &[&Extension],
) -> Result<(), ApiError> {
    if matches!(*method, Method::POST | Method::PATCH | Method::PUT) {
        check_content_type(content_type, supported)?;
    }
    if let Some(accept) = accept {
        check_accept(accept, supported)?;
    }
    Ok(())
}

/// Whether a request's `Content-Type` applies `extension`.
pub fn applies(content_type: Option<&str>, extension: &Extension) -> bool {
    content_type.is_some_and(|header| {
        parse_media_ranges(header)
            .iter()
            .any(|range| range.is_jsonapi() && range.extensions().any(|uri| uri == extension.uri))
    })
}

fn unsupported_media_type(detail: String) -> ApiError {
    ApiError::new(&UNSUPPORTED_MEDIA_TYPE, detail).header("Content-Type")
}

fn check_content_type(
    content_type: Option<&str>,
    supported: &[&Extension],
) -> Result<(), ApiError> {
    let Some(content_type) = content_type else {
        return Err(unsupported_media_type(format!(
            "send the request body with the header Content-Type: {JSONAPI_MEDIA_TYPE}"
        )));
    };
    let ranges = parse_media_ranges(content_type);
    let [range] = ranges.as_slice() else {
        return Err(unsupported_media_type(format!(
            "Content-Type must be exactly one media type, {JSONAPI_MEDIA_TYPE}"
        )));
    };
    if !range.is_jsonapi() {
        return Err(unsupported_media_type(format!(
            "Content-Type is {:?}; send {JSONAPI_MEDIA_TYPE}",
            range.essence
        )));
    }
    match range.unsupported(supported) {
        Some(why) => Err(unsupported_media_type(format!("Content-Type: {why}"))),
        None => Ok(()),
    }
}

fn check_accept(accept: &str, supported: &[&Extension]) -> Result<(), ApiError> {
    let jsonapi: Vec<MediaRange> = parse_media_ranges(accept)
        .into_iter()
        .filter(|range| range.is_jsonapi() && !range.quality_zero)
        .collect();
    if jsonapi.is_empty() {
        return Ok(());
    }
    let reasons: Vec<String> = jsonapi
        .iter()
        .filter_map(|range| range.unsupported(supported))
        .collect();
    if reasons.len() < jsonapi.len() {
        return Ok(());
    }
    Err(ApiError::new(
        &NOT_ACCEPTABLE,
        format!(
            "every {JSONAPI_MEDIA_TYPE} entry in Accept asks for something this server cannot give: {}; accept plain {JSONAPI_MEDIA_TYPE}",
            reasons.join("; ")
        ),
    )
    .header("Accept"))
}

/// Middleware: refuses requests whose media types cannot be served, and types every
/// response with a body as JSON:API (keeping the `ext` a handler answered with).
pub async fn negotiate(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    negotiation: Negotiation,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let header_text = |name| {
        request
            .headers()
            .get(name)
            .map(|value: &HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let negotiated = negotiation(&request);
    let checked = match negotiated {
        Negotiated::Answered | Negotiated::Foreign => Ok(()),
        Negotiated::Checked(extensions) => check_request(
            request.method(),
            header_text(header::CONTENT_TYPE).as_deref(),
            header_text(header::ACCEPT).as_deref(),
            extensions,
        ),
    };
    let mut response = match checked {
        Ok(()) => next.call(request).await?.map_into_left_body(),
        Err(error) => request.error_response(error).map_into_right_body(),
    };
    if matches!(negotiated, Negotiated::Foreign) && response.status().is_success() {
        return Ok(response);
    }
    let has_body = response.status() != StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    let typed = headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        // A JSON:API document, or the one other body an endpoint answers: an event stream.
        value.as_bytes().starts_with(JSONAPI_MEDIA_TYPE.as_bytes())
            || value.as_bytes().starts_with(b"text/event-stream")
    });
    if has_body && !typed {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSONAPI_MEDIA_TYPE),
        );
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(method: Method, content_type: Option<&str>, accept: Option<&str>) -> u16 {
        status_at(&[], method, content_type, accept)
    }

    fn status_at(
        supported: &[&Extension],
        method: Method,
        content_type: Option<&str>,
        accept: Option<&str>,
    ) -> u16 {
        match check_request(&method, content_type, accept, supported) {
            Ok(()) => 200,
            Err(error) => error.status().as_u16(),
        }
    }

    #[test]
    fn content_type_rules() {
        let post = || Method::POST;
        assert_eq!(status(post(), Some(JSONAPI_MEDIA_TYPE), None), 200);
        assert_eq!(status(post(), Some("Application/Vnd.Api+JSON"), None), 200);
        assert_eq!(
            status(
                post(),
                Some(
                    r#"application/vnd.api+json; profile="https://a.example/p https://b.example/q""#
                ),
                None
            ),
            200
        );
        assert_eq!(
            status(
                post(),
                Some("application/vnd.api+json; charset=utf-8"),
                None
            ),
            415
        );
        assert_eq!(
            status(
                post(),
                Some(r#"application/vnd.api+json; ext="https://jsonapi.org/ext/atomic""#),
                None
            ),
            415
        );
        assert_eq!(status(post(), Some("application/json"), None), 415);
        assert_eq!(status(post(), None, None), 415);
        // Bodyless methods are not asked for a Content-Type.
        assert_eq!(status(Method::GET, Some("text/plain"), None), 200);
        assert_eq!(status(Method::DELETE, None, None), 200);
    }

    #[test]
    fn accept_rules() {
        let get = || Method::GET;
        assert_eq!(status(get(), None, None), 200);
        assert_eq!(status(get(), None, Some("*/*")), 200);
        assert_eq!(status(get(), None, Some("application/json")), 200);
        assert_eq!(status(get(), None, Some(JSONAPI_MEDIA_TYPE)), 200);
        assert_eq!(
            status(get(), None, Some("application/vnd.api+json; charset=utf-8")),
            406
        );
        assert_eq!(
            status(
                get(),
                None,
                Some("application/vnd.api+json; charset=utf-8, application/vnd.api+json")
            ),
            200
        );
        assert_eq!(
            status(
                get(),
                None,
                Some(r#"application/vnd.api+json; ext="https://example.com/x""#)
            ),
            406
        );
        assert_eq!(
            status(get(), None, Some("application/vnd.api+json; q=0.5")),
            200
        );
        assert_eq!(
            status(
                get(),
                None,
                Some("application/vnd.api+json; charset=x, */*")
            ),
            406,
            "a JSON:API entry was given and none is acceptable"
        );
    }

    #[test]
    fn an_extension_is_served_only_where_it_is_supported() {
        let atomic = Some(ATOMIC.media_type);
        assert_eq!(status_at(&[&ATOMIC], Method::POST, atomic, atomic), 200);
        assert_eq!(status_at(&[], Method::POST, atomic, None), 415);
        assert_eq!(status_at(&[], Method::GET, None, atomic), 406);
        assert_eq!(
            status_at(
                &[&ATOMIC],
                Method::POST,
                Some(r#"application/vnd.api+json; ext="https://example.com/other""#),
                None
            ),
            415
        );
        assert!(applies(atomic, &ATOMIC));
        assert!(applies(
            Some(
                r#"application/vnd.api+json;ext="https://jsonapi.org/ext/atomic https://x.example/y""#
            ),
            &ATOMIC
        ));
        assert!(!applies(Some(JSONAPI_MEDIA_TYPE), &ATOMIC));
        assert!(!applies(None, &ATOMIC));
    }

    #[test]
    fn quoted_commas_do_not_split() {
        let ranges = parse_media_ranges(r#"application/vnd.api+json; profile="a,b", text/html"#);
        assert_eq!(ranges.len(), 2);
        assert_eq!(
            ranges[0].params,
            vec![("profile".to_string(), "a,b".to_string())]
        );
    }
}
