//! The HTTP surface: the route table, and the resources it serves.
//!
//! Each resource has one file here: its [`resource::Resource`] impl (type, fields,
//! rendering, relationships), its [`resource::Writable`] impl when clients write it, and its
//! `routes`. Adding one is a line in [`RESOURCES`].

pub mod balance_changes;
pub mod context;
pub mod errors;
pub mod handlers;
pub mod health;
pub mod idempotency;
pub mod input;
pub mod listing;
pub mod operations;
pub mod operator;
pub mod resource;
pub mod transactions;
pub mod wallets;

use actix_web::{HttpRequest, HttpResponse, web};

pub use context::AppState;
use operations::Operable;
use resource::{Resource, Writable};

use crate::jsonapi::ApiError;
use crate::jsonapi::media_type::{ATOMIC, Extension};
use crate::models::{BalanceChange, Transaction, Wallet};

/// A resource type the API serves: its name and fields (for `fields[TYPE]`), its routes,
/// and what atomic operations can do to it (nothing, for a read-only one).
pub struct Registered {
    pub type_name: &'static str,
    pub fields: &'static [&'static str],
    pub routes: fn(&mut web::ServiceConfig),
    pub operable: Option<Operable>,
}

/// A resource clients read only.
const fn read_only<R: Resource>(routes: fn(&mut web::ServiceConfig)) -> Registered {
    Registered {
        type_name: R::TYPE,
        fields: R::FIELDS,
        routes,
        operable: None,
    }
}

/// A resource clients write, one by one or in atomic operations.
const fn writable<R: Writable>(routes: fn(&mut web::ServiceConfig)) -> Registered {
    Registered {
        operable: Some(Operable::of::<R>()),
        ..read_only::<R>(routes)
    }
}

/// Every resource type, in the order error messages list them.
pub const RESOURCES: &[Registered] = &[
    writable::<Wallet>(wallets::routes),
    writable::<Transaction>(transactions::routes),
    read_only::<BalanceChange>(balance_changes::routes),
];

/// The JSON:API extensions each URL supports: Atomic Operations at `/operations`, none
/// elsewhere.
pub fn extensions_at(path: &str) -> &'static [&'static Extension] {
    const AT_OPERATIONS: &[&Extension] = &[&ATOMIC];
    if path == "/operations" {
        AT_OPERATIONS
    } else {
        &[]
    }
}

/// The fields of a resource type, if there is such a type.
pub fn fields_of(type_name: &str) -> Option<&'static [&'static str]> {
    RESOURCES
        .iter()
        .find(|resource| resource.type_name == type_name)
        .map(|resource| resource.fields)
}

/// Every route. Each URL answers a method it does not have with a JSON:API 405.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(route("/health", "GET").get(health::check))
        .service(route("/health/live", "GET").get(health::live));
    for resource in RESOURCES {
        (resource.routes)(config);
    }
    operations::routes(config);
}

/// A URL that answers the methods added to it, and any other with a 405 naming `allowed`.
pub fn route(path: &str, allowed: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |request: HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::method_not_allowed(
            request.method().as_str(),
            allowed,
        ))
    }))
}

/// Any URL no route matches.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let roots: Vec<String> = RESOURCES
        .iter()
        .map(|resource| format!("/{}", resource.type_name))
        .collect();
    Err(ApiError::not_found(format!(
        "there is nothing at {}; resources: {} (and POST /operations)",
        request.path(),
        roots.join(", ")
    )))
}
