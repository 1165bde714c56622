//! The route table: every method of every URL the service answers, as data (what it does,
//! [`Operation`]) beside its handler. The same table registers the handlers with actix, says
//! which methods each URL allows (`Allow`, and the 405 of any other), tells the media-type
//! negotiation which requests it applies to, and is what the OpenAPI document is built from
//! (`api::openapi`): a URL cannot be served but undocumented, or documented but not served.
//!
//! What depends on the endpoint a request is for (the scope it needs, the media types it
//! negotiates) runs after routing, in the [`Guard`] each route is wrapped in, and reads the
//! endpoint the router matched ([`Matched`]), never the request's path: no spelling of a path
//! reaches a handler past a check made for another.

use std::sync::LazyLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use crate::jsonapi::ApiError;
use crate::jsonapi::error::Code;
use crate::jsonapi::media_type::{ATOMIC, Extension, Negotiated};

/// A query parameter of the implementation's own that an endpoint takes (`balanceAt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Custom {
    pub name: &'static str,
    /// What it means.
    pub doc: &'static str,
    /// The member it adds to the resource object's `meta`, as a JSON Schema (JSON text).
    pub meta: Option<&'static str>,
}

/// What one method of one URL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /TYPE`: a collection.
    List { type_name: &'static str },
    /// `GET /TYPE/{id}`.
    Show {
        type_name: &'static str,
        custom: &'static [Custom],
    },
    /// `POST /TYPE`.
    Create { type_name: &'static str },
    /// `PATCH /TYPE/{id}`.
    Update { type_name: &'static str },
    /// `DELETE /TYPE/{id}`.
    Delete { type_name: &'static str },
    /// `GET /PARENT/{id}/NAME` of a to-one relationship: the resource it names.
    Related {
        parent: &'static str,
        name: &'static str,
        target: &'static str,
    },
    /// `GET /PARENT/{id}/relationships/NAME` of a to-one relationship.
    Linkage {
        parent: &'static str,
        name: &'static str,
        target: &'static str,
    },
    /// `PATCH /PARENT/{id}/relationships/NAME`: changes a to-one relationship.
    ChangeLinkage {
        parent: &'static str,
        name: &'static str,
        target: &'static str,
    },
    /// `GET /PARENT/{id}/NAME` of a to-many relationship: the children, a full collection.
    Children {
        parent: &'static str,
        name: &'static str,
        target: &'static str,
    },
    /// `GET /PARENT/{id}/relationships/NAME` of a to-many relationship: their identifiers.
    ChildLinkage {
        parent: &'static str,
        name: &'static str,
        target: &'static str,
    },
    /// A write clients may never make here: always answered 403 with this code.
    Refused { code: &'static Code },
    /// `POST /operations`: Atomic Operations.
    Atomic,
    /// `GET /wallets/{id}/balance-history`: a wallet's balance per bucket of time, computed.
    BalanceHistory,
    /// `GET /health`.
    Health,
    /// `GET /health/live`.
    Live,
    /// `GET /metrics` (Prometheus text, not JSON:API).
    Metrics,
    /// `GET /openapi.json` (not JSON:API).
    OpenApi,
    /// `GET /console` and its files: the operator console, a web page (not JSON:API) that
    /// reads the API with the key an operator pastes. `media_type` is what the file is.
    Console { media_type: &'static str },
}

impl Operation {
    /// Whether the endpoint speaks JSON:API (its media types are negotiated).
    pub fn is_jsonapi(&self) -> bool {
        !matches!(
            self,
            Operation::Metrics | Operation::OpenApi | Operation::Console { .. }
        )
    }

    /// The extensions the endpoint supports.
    pub fn extensions(&self) -> &'static [&'static Extension] {
        const AT_OPERATIONS: &[&Extension] = &[&ATOMIC];
        match self {
            Operation::Atomic => AT_OPERATIONS,
            _ => &[],
        }
    }
}

/// What the documentation says of an endpoint that is not a resource's (health, metrics,
/// atomic operations): declared beside its handler, registered with its route.
#[derive(Debug, PartialEq, Eq)]
pub struct Doc {
    pub summary: &'static str,
    /// The rules a client meets, beyond the summary.
    pub description: &'static str,
    /// The codes it answers beyond those of the protocol and of its scope.
    pub errors: &'static [&'static Code],
    /// An example of its request body, if it takes one (JSON text).
    pub request: Option<&'static str>,
    /// An example of its success's body (JSON text; for a body that is not JSON, the text
    /// itself as a JSON string).
    pub response: Option<&'static str>,
}

/// One method of one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The path, as actix matches it (`/wallets/{id}`).
    pub path: String,
    pub method: Method,
    pub operation: Operation,
    /// Its documentation, when it is not a resource's (whose comes from its declaration).
    pub doc: Option<&'static Doc>,
}

/// The table being built, with the handlers.
#[derive(Default)]
pub struct Routes {
    endpoints: Vec<(Endpoint, actix_web::Route)>,
}

impl Routes {
    /// Serves `method` of `path` with `handler`.
    pub fn add<F, Args>(&mut self, path: &str, method: Method, operation: Operation, handler: F)
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.push(path, method, operation, None, handler);
    }

    /// [`Routes::add`], with what the documentation says of it (`doc`, kept beside the
    /// handler).
    pub fn documented<F, Args>(
        &mut self,
        path: &str,
        method: Method,
        operation: Operation,
        doc: &'static Doc,
        handler: F,
    ) where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.push(path, method, operation, Some(doc), handler);
    }

    fn push<F, Args>(
        &mut self,
        path: &str,
        method: Method,
        operation: Operation,
        doc: Option<&'static Doc>,
        handler: F,
    ) where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        // HEAD wherever GET is served: the same handler, the same status and headers; the
        // server sends no body (actix leaves it out, keeping its Content-Length).
        let methods = if method == Method::GET {
            vec![Method::GET, Method::HEAD]
        } else {
            vec![method]
        };
        for method in methods {
            let route = web::method(method.clone()).to(handler.clone());
            self.endpoints.push((
                Endpoint {
                    path: path.to_string(),
                    method,
                    operation,
                    doc,
                },
                route,
            ));
        }
    }

    /// Answers `methods` of `path` with a 403 `code` saying why (`detail`).
    pub fn refuse(
        &mut self,
        path: &str,
        methods: &[Method],
        code: &'static Code,
        detail: impl Into<String>,
    ) {
        let detail: String = detail.into();
        for method in methods {
            let detail = detail.clone();
            self.add(
                path,
                method.clone(),
                Operation::Refused { code },
                move || {
                    let detail = detail.clone();
                    async move { Err::<HttpResponse, _>(ApiError::new(code, detail)) }
                },
            );
        }
    }

    /// The endpoints, without their handlers.
    pub fn table(self) -> Vec<Endpoint> {
        self.endpoints
            .into_iter()
            .map(|(endpoint, _)| endpoint)
            .collect()
    }

    /// Registers every URL with actix: its methods' handlers, and a 405 naming them for any
    /// other method; each wrapped by `guard`, told the endpoint it serves (none for the 405).
    pub fn configure(self, config: &mut web::ServiceConfig, guard: &dyn Guard) {
        let mut paths: Vec<(String, Vec<(Endpoint, actix_web::Route)>)> = Vec::new();
        for (endpoint, route) in self.endpoints {
            match paths.iter_mut().find(|(path, _)| *path == endpoint.path) {
                Some((_, routes)) => routes.push((endpoint, route)),
                None => paths.push((endpoint.path.clone(), vec![(endpoint, route)])),
            }
        }
        for (path, routes) in paths {
            let allowed = allow(routes.iter().map(|(endpoint, _)| &endpoint.method));
            let not_allowed = web::to(move |request: HttpRequest| {
                let allowed = allowed.clone();
                async move {
                    Err::<HttpResponse, _>(ApiError::method_not_allowed(
                        request.method().as_str(),
                        &allowed,
                    ))
                }
            });
            let mut resource = web::resource(path).default_service(guard.wrap(not_allowed, None));
            for (endpoint, route) in routes {
                resource = resource.route(guard.wrap(route, Some(registered(&endpoint))));
            }
            config.service(resource);
        }
    }
}

/// What runs between routing and a handler: given a route and the endpoint it serves (`None`
/// for a method or a path nothing serves), the route wrapped in the middleware that needs
/// to know it.
pub trait Guard {
    fn wrap(
        &self,
        route: actix_web::Route,
        endpoint: Option<&'static Endpoint>,
    ) -> actix_web::Route;
}

/// The endpoint of the table that `endpoint` is (the table is built by the same registration).
fn registered(endpoint: &Endpoint) -> &'static Endpoint {
    table()
        .iter()
        .find(|known| known.path == endpoint.path && known.method == endpoint.method)
        .expect("every route is in the route table")
}

/// The endpoint the router matched for a request (`None`: a method or a path nothing serves).
#[derive(Debug, Clone, Copy)]
pub struct Matched(pub Option<&'static Endpoint>);

impl Matched {
    /// What the router matched for `request`; `None` before routing (or for a path nothing
    /// serves).
    pub fn of(request: &ServiceRequest) -> Option<&'static Endpoint> {
        request
            .extensions()
            .get::<Matched>()
            .and_then(|matched| matched.0)
    }
}

/// Middleware, the outermost of a route's guard: records the endpoint it serves.
pub async fn matched(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
    endpoint: Option<&'static Endpoint>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    request.extensions_mut().insert(Matched(endpoint));
    next.call(request).await
}

/// The `Allow` header of these methods.
pub fn allow<'a>(methods: impl Iterator<Item = &'a Method>) -> String {
    methods.map(Method::as_str).collect::<Vec<_>>().join(", ")
}

/// Every endpoint the service answers.
pub fn table() -> &'static [Endpoint] {
    static TABLE: LazyLock<Vec<Endpoint>> = LazyLock::new(|| {
        let mut routes = Routes::default();
        super::register(&mut routes);
        super::register_operator(&mut routes);
        routes.table()
    });
    &TABLE
}

/// Which requests the media-type rules apply to: those an endpoint serves (not a 404 or a
/// 405), that it does not refuse outright (a 403 comes first), with its extensions.
pub fn negotiation(request: &ServiceRequest) -> Negotiated {
    let Some(endpoint) = Matched::of(request) else {
        return Negotiated::Answered;
    };
    match endpoint.operation {
        Operation::Refused { .. } => Negotiated::Answered,
        operation if !operation.is_jsonapi() => Negotiated::Foreign,
        operation => Negotiated::Checked(operation.extensions()),
    }
}
