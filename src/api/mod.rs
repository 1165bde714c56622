//! The HTTP surface: the resources it serves, and every route.
//!
//! Each resource has one file in [`resources`]: its [`resource::Resource`] impl (its
//! not-found answer), its [`resource::Writable`] impl when clients write it (how a write is
//! made, what its constraints mean), and its `routes`. Its fields, relationships and inputs
//! are its model's declaration. Adding one is a line in [`RESOURCES`]; every write runs
//! through [`write`].

pub mod console;
pub mod context;
pub mod errors;
pub mod handlers;
pub mod health;
pub mod input;
pub mod listing;
pub mod middleware;
pub mod openapi;
pub mod operations;
pub mod operator;
pub mod positions;
pub mod resource;
pub mod resources;
pub mod routes;
pub mod state;
pub mod write;

use resources::{
    api_keys, balance_changes, balance_monitors, currencies, events, exchanges, holds,
    transactions, transfers, wallets, webhook_deliveries, webhook_endpoints,
};

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use diesel::QueryResult;
use diesel::pg::PgConnection;

use operations::{LockTable, Operable};
use resource::{Render, Resource, Writable, load_rendered, members};
use routes::{Operation, Routes};

use crate::jsonapi::ApiError;
use crate::jsonapi::error::Code;
use crate::models::fields::{Either, FieldSpec, Model, ToManySpec, Way};
use crate::models::{
    ApiKey, BalanceChange, BalanceMonitor, Currency, Event, Exchange, Hold, Transaction, Transfer,
    Wallet, WebhookDelivery, WebhookEndpoint,
};

pub use state::AppState;

/// Reads the rows of one resource type with these ids, as resource objects to render.
pub type LoadRendered = fn(&mut PgConnection, &[String]) -> QueryResult<Vec<Box<dyn Render>>>;

/// A resource type the API serves: what the generic layers (included resources,
/// relationships, `fields[TYPE]`, atomic operations, the OpenAPI document) need of it,
/// reached by its type name.
pub struct Registered {
    pub type_name: &'static str,
    /// Its fields (their enum erased).
    pub fields: fn() -> Vec<FieldSpec<()>>,
    pub to_many: &'static [ToManySpec],
    /// Its filters on either of several fields.
    pub either: &'static [Either],
    /// The ways it relates to a parent it has several to-one fields to.
    pub ways: &'static [Way],
    /// Its attributes and relationships, for `fields[TYPE]`.
    pub members: fn() -> Vec<&'static str>,
    pub not_found: fn(&str) -> ApiError,
    pub not_found_code: &'static Code,
    /// Whether only `admin` keys may read and write it.
    pub admin_only: bool,
    /// Whether only `admin` keys may write it.
    pub admin_writes: bool,
    /// The rows with these ids, to render.
    pub load: LoadRendered,
    pub routes: fn(&mut Routes),
    /// The codes its writes may answer beyond the protocol's.
    pub write_errors: WriteErrors,
    /// The schema of the `meta` a created one's document carries, if any.
    pub created_meta: Option<&'static str>,
    /// What atomic operations can do to it (nothing, for a read-only one), and the codes
    /// its own writes may answer.
    pub operable: Option<Operable>,
    /// Its reads by id, coalesced (`Resource::COALESCE_READS`).
    pub reads: Option<state::ReadsOf>,
    /// What the documentation shows of one.
    pub example: &'static resource::Example,
    /// For a feed, the field its one order starts with (`Model::FEED`).
    pub feed: Option<&'static str>,
    /// The codes its list may answer beyond the protocol's.
    pub list_errors: &'static [&'static Code],
    /// Why atomic operations cannot write it, when it is written otherwise.
    pub not_atomic: Option<&'static str>,
    /// Whether clients write it (one by one, at least).
    pub writable: bool,
    /// The schemas of the `meta` an update's resource object may carry and of its
    /// response's `meta` (`Writable::UPDATE_META`).
    pub update_meta: Option<(&'static str, &'static str)>,
}

/// The codes a resource's writes may answer beyond the protocol's (its constraints, the
/// money rules), as its `Writable` declares them.
pub struct WriteErrors {
    pub create: &'static [&'static Code],
    pub update: &'static [&'static Code],
    pub delete: &'static [&'static Code],
}

impl WriteErrors {
    /// All of them.
    pub fn all(&self) -> impl Iterator<Item = &'static &'static Code> {
        self.create.iter().chain(self.update).chain(self.delete)
    }
}

/// A resource clients read only.
const fn read_only<R: Resource>(routes: fn(&mut Routes)) -> Registered {
    Registered {
        type_name: R::TYPE,
        fields: erased_fields::<R>,
        to_many: R::TO_MANY,
        either: R::EITHER,
        ways: R::WAYS,
        members: members::<R>,
        not_found: R::not_found,
        not_found_code: R::NOT_FOUND,
        admin_only: R::ADMIN_ONLY,
        admin_writes: R::ADMIN_ONLY || R::ADMIN_WRITES,
        load: load_rendered::<R>,
        routes,
        write_errors: WriteErrors {
            create: &[],
            update: &[],
            delete: &[],
        },
        created_meta: None,
        operable: None,
        reads: if R::COALESCE_READS {
            Some(state::ReadsOf::of::<R>())
        } else {
            None
        },
        example: R::EXAMPLE,
        feed: R::FEED,
        list_errors: R::LIST_ERRORS,
        not_atomic: None,
        writable: false,
        update_meta: None,
    }
}

/// A resource clients write, one by one or in atomic operations.
const fn writable<R: Writable>(routes: fn(&mut Routes)) -> Registered {
    Registered {
        operable: match R::NOT_ATOMIC {
            None => Some(Operable::of::<R>()),
            Some(_) => None,
        },
        not_atomic: R::NOT_ATOMIC,
        writable: true,
        update_meta: R::UPDATE_META,
        write_errors: WriteErrors {
            create: R::CREATE_ERRORS,
            update: R::UPDATE_ERRORS,
            delete: R::DELETE_ERRORS,
        },
        created_meta: R::CREATED_META,
        ..read_only::<R>(routes)
    }
}

fn erased_fields<R: Model>() -> Vec<FieldSpec<()>> {
    R::FIELDS.iter().map(FieldSpec::erased).collect()
}

/// Every resource type, in the order error messages and the documentation list them.
pub const RESOURCES: &[Registered] = &[
    writable::<Wallet>(wallets::routes),
    writable::<Transaction>(transactions::routes),
    read_only::<BalanceChange>(balance_changes::routes),
    writable::<Hold>(holds::routes),
    writable::<Transfer>(transfers::routes),
    writable::<Exchange>(exchanges::routes),
    read_only::<Event>(events::routes),
    writable::<BalanceMonitor>(balance_monitors::routes),
    writable::<ApiKey>(api_keys::routes),
    writable::<Currency>(currencies::routes),
    writable::<WebhookEndpoint>(webhook_endpoints::routes),
    read_only::<WebhookDelivery>(webhook_deliveries::routes),
];

/// What keys are limited to: a wallet-limited key sees the wallets it names and what belongs
/// to them (what has a to-one relationship to one).
pub const LIMITED_TO: &str = Wallet::TYPE;

/// The rows writes lock: the wallets whose balances they change (the order the balance
/// triggers lock in). Atomic requests lock them before their first write; coalesced batches
/// lock all of theirs in one statement.
pub const LOCKS: LockTable = LockTable {
    type_name: Wallet::TYPE,
    lock_all: Wallet::lock,
    held_elsewhere: Wallet::held_elsewhere,
};

/// The resource type of this name, if the API serves it.
pub fn registered(type_name: &str) -> Option<&'static Registered> {
    RESOURCES
        .iter()
        .find(|resource| resource.type_name == type_name)
}

/// Every route, into the route table.
pub fn register(routes: &mut Routes) {
    routes.documented(
        "/health",
        Method::GET,
        Operation::Health,
        &health::CHECK,
        health::check,
    );
    routes.documented(
        "/health/live",
        Method::GET,
        Operation::Live,
        &health::LIVE,
        health::live,
    );
    for resource in RESOURCES {
        (resource.routes)(routes);
    }
    routes.documented(
        "/operations",
        Method::POST,
        Operation::Atomic,
        &operations::DOC,
        operations::operations,
    );
}

/// What operators read, outside JSON:API (not negotiated as it): the metrics, the OpenAPI
/// document and the console.
pub fn register_operator(routes: &mut Routes) {
    routes.documented(
        "/metrics",
        Method::GET,
        Operation::Metrics,
        &operator::METRICS,
        operator::scrape,
    );
    routes.documented(
        "/openapi.json",
        Method::GET,
        Operation::OpenApi,
        &operator::OPENAPI,
        operator::openapi,
    );
    let console = |media_type| Operation::Console { media_type };
    routes.documented(
        "/console",
        Method::GET,
        console(console::HTML),
        &console::PAGE,
        console::page,
    );
    routes.documented(
        "/console/console.js",
        Method::GET,
        console(console::JAVASCRIPT),
        &console::SCRIPT,
        console::script,
    );
    routes.documented(
        "/console/console.css",
        Method::GET,
        console(console::CSS),
        &console::STYLE,
        console::style,
    );
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
