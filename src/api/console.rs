//! `GET /console`: the operator console, a web page served by the service itself. Its files
//! (`console/` at the repository's root) are compiled into the binary; the page reads and
//! writes through the public JSON:API alone, with the key the operator pastes, so it sees
//! exactly what that key may see.
//!
//! Every file goes out with a Content-Security-Policy that allows nothing but this origin
//! (no inline script or style, no other host, no framing): a value from the API that slipped
//! into the page as markup still could not run.

use actix_web::HttpResponse;
use actix_web::http::header;

use super::routes::Doc;

/// What the browser may load and where it may connect: this origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub const PAGE: Doc = Doc {
    summary: "The operator console (HTML; not JSON:API).",
    description: "A web page that asks for an API key, keeps it in the tab's session storage \
                  and reads the API with it: wallets, a wallet's balance over time, holds, \
                  transactions, transfers, the journal, the live events, webhook endpoints and \
                  API keys. The same page answers every console URL (`/console?wallet=7`); \
                  the query names the view.",
    errors: &[],
    request: None,
    response: Some(r#""<!doctype html>""#),
};

pub const SCRIPT: Doc = Doc {
    summary: "The console's script.",
    description: "JavaScript, loaded by the console's page.",
    errors: &[],
    request: None,
    response: Some(r#""\"use strict\";""#),
};

pub const STYLE: Doc = Doc {
    summary: "The console's style sheet.",
    description: "CSS, loaded by the console's page.",
    errors: &[],
    request: None,
    response: Some(r#""body {}""#),
};

pub const HTML: &str = "text/html; charset=utf-8";
pub const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
pub const CSS: &str = "text/css; charset=utf-8";

pub async fn page() -> HttpResponse {
    file(HTML, include_str!("../../console/index.html"))
}

pub async fn script() -> HttpResponse {
    file(JAVASCRIPT, include_str!("../../console/console.js"))
}

pub async fn style() -> HttpResponse {
    file(CSS, include_str!("../../console/console.css"))
}

fn file(media_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(media_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // Served again after an upgrade: the browser asks each time, the body is small.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}
