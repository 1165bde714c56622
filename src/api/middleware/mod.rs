//! What runs around the handlers: who a request runs for (`auth`), its path in one spelling
//! (`paths`), CORS for browsers (`cors`), its id and span (`request_id`), and what every
//! request is counted and logged as (`observe`). The route-level part of the chain (the endpoint matched, the scope, the media
//! types, the deadline) is assembled in `startup::RouteGuard`.

pub mod auth;
pub mod cors;
pub mod observe;
pub mod paths;
pub mod request_id;
