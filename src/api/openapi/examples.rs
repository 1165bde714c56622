//! An example of every request body and every success, for readers of the rendered
//! reference and for schemathesis's example phase: built from each resource's declared
//! example (`Resource::EXAMPLE`, beside its handlers) and the `Doc` of the endpoints that are
//! not a resource's. A test holds every example to its schema.

use serde_json::{Map, Value, json};

use crate::api::routes::{Endpoint, Operation};
use crate::api::{Registered, registered};
use crate::jsonapi::error::Code;
use crate::models::fields::Kind;

/// Where the examples' links point.
const BASE: &str = "http://127.0.0.1:8080";

/// An example's members: JSON text the declaration holds.
fn members(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(members)) => members,
        _ => panic!("a resource's example is a JSON object: {text}"),
    }
}

fn resource_of(type_name: &str) -> &'static Registered {
    registered(type_name).expect("a registered type")
}

/// The id of a type's example.
fn id_of(resource: &Registered) -> String {
    members(resource.example.shown)
        .get("id")
        .and_then(Value::as_str)
        .expect("an example has its id")
        .to_string()
}

fn url(type_name: &str, id: &str) -> String {
    format!("{BASE}/{type_name}/{id}")
}

fn relationship_links(type_name: &str, id: &str, name: &str) -> Value {
    let own = url(type_name, id);
    json!({"self": format!("{own}/relationships/{name}"), "related": format!("{own}/{name}")})
}

/// A relationship's linkage in an example: `id` (or ids) of `target`.
fn linkage(target: &str, value: Option<&Value>) -> Value {
    match value {
        Some(Value::String(id)) => json!({"type": target, "id": id}),
        Some(Value::Array(ids)) => Value::Array(
            ids.iter()
                .map(|id| json!({"type": target, "id": id}))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The resource object of a type's example, as the server renders one.
fn resource_object(resource: &Registered) -> Value {
    let shown = members(resource.example.shown);
    let (type_name, id) = (resource.type_name, id_of(resource));
    let mut attributes = Map::new();
    let mut relationships = Map::new();
    for spec in (resource.fields)() {
        let value = shown.get(spec.name);
        match spec.kind {
            Kind::Id | Kind::Code => {}
            Kind::ToOne(target) => {
                relationships.insert(
                    spec.name.into(),
                    json!({"links": relationship_links(type_name, &id, spec.name),
                           "data": linkage(target, value)}),
                );
            }
            Kind::ToManyIds(target) => {
                relationships.insert(spec.name.into(), json!({"data": linkage(target, value)}));
            }
            _ => {
                let value =
                    value.unwrap_or_else(|| panic!("{type_name}'s example shows {}", spec.name));
                attributes.insert(spec.name.into(), value.clone());
            }
        }
    }
    for many in resource.to_many {
        relationships.insert(
            many.name.into(),
            json!({"links": relationship_links(type_name, &id, many.name)}),
        );
    }
    let mut object = json!({"type": type_name, "id": id, "attributes": attributes,
                            "links": {"self": url(type_name, &id)}});
    if !relationships.is_empty() {
        object["relationships"] = Value::Object(relationships);
    }
    object
}

/// A top-level document around `data`, read at `self_link`.
fn document(data: Value, self_link: String) -> Value {
    json!({"jsonapi": {"version": "1.1"}, "links": {"self": self_link}, "data": data})
}

/// The resource object a create or an update sends: `given`'s members, as attributes or
/// relationships as the type declares them.
fn input_object(resource: &Registered, given: &str, id: Option<String>) -> Value {
    let given = members(given);
    let mut attributes = Map::new();
    let mut relationships = Map::new();
    for spec in (resource.fields)() {
        let Some(value) = given.get(spec.name) else {
            continue;
        };
        match spec.kind {
            Kind::ToOne(target) | Kind::ToManyIds(target) => {
                relationships.insert(
                    spec.name.into(),
                    json!({"data": linkage(target, Some(value))}),
                );
            }
            _ => {
                attributes.insert(spec.name.into(), value.clone());
            }
        }
    }
    let mut object = json!({"type": resource.type_name});
    if let Some(id) = id {
        object["id"] = json!(id);
    }
    if !attributes.is_empty() {
        object["attributes"] = Value::Object(attributes);
    }
    if !relationships.is_empty() {
        object["relationships"] = Value::Object(relationships);
    }
    json!({"data": object})
}

/// The example of an endpoint's request body, if it takes one.
pub(super) fn request(endpoint: &Endpoint) -> Option<Value> {
    match endpoint.operation {
        Operation::Create { type_name } => {
            let resource = resource_of(type_name);
            Some(input_object(resource, resource.example.create, None))
        }
        Operation::Update { type_name } => {
            let resource = resource_of(type_name);
            Some(input_object(
                resource,
                resource.example.update,
                Some(id_of(resource)),
            ))
        }
        // The linkage the parent's example shows, or the target's example.
        Operation::ChangeLinkage {
            parent,
            name,
            target,
        } => {
            let shown: Value = serde_json::from_str(resource_of(parent).example.shown)
                .expect("an example is JSON");
            let id = shown[name]
                .as_str()
                .map_or_else(|| id_of(resource_of(target)), str::to_string);
            Some(json!({"data": {"type": target, "id": id}}))
        }
        _ => endpoint
            .doc
            .and_then(|doc| doc.request)
            .map(|text| serde_json::from_str(text).expect("a Doc's request example is JSON")),
    }
}

/// The example of an endpoint's success with a body of this `status`.
pub(super) fn success(endpoint: &Endpoint, status: u16) -> Option<Value> {
    let shown = |type_name: &str| resource_object(resource_of(type_name));
    let identifier =
        |type_name: &str| json!({"type": type_name, "id": id_of(resource_of(type_name))});
    let page = |data: Value, path: String| {
        let mut page = document(data, path.clone());
        page["links"]["first"] = json!(path);
        page
    };
    let example = match endpoint.operation {
        Operation::List { type_name } => {
            let mut object = shown(type_name);
            object["meta"] = json!({"page": {"cursor": "eyJpZCI6MX0"}});
            page(json!([object]), format!("{BASE}/{type_name}"))
        }
        Operation::Children {
            parent,
            name,
            target,
        } => {
            let mut object = shown(target);
            object["meta"] = json!({"page": {"cursor": "eyJpZCI6MX0"}});
            let parent_id = id_of(resource_of(parent));
            page(
                json!([object]),
                format!("{}/{name}", url(parent, &parent_id)),
            )
        }
        Operation::ChildLinkage {
            parent,
            name,
            target,
        } => {
            let parent_id = id_of(resource_of(parent));
            page(
                json!([identifier(target)]),
                format!("{}/relationships/{name}", url(parent, &parent_id)),
            )
        }
        Operation::Show { type_name, .. } | Operation::Update { type_name } => document(
            shown(type_name),
            url(type_name, &id_of(resource_of(type_name))),
        ),
        Operation::Create { type_name } => {
            let resource = resource_of(type_name);
            let mut created = document(shown(type_name), format!("{BASE}/{type_name}"));
            if let Some(meta) = resource.example.created_meta {
                created["meta"] =
                    serde_json::from_str(meta).expect("a created meta example is JSON");
            }
            created
        }
        Operation::Related {
            parent,
            name,
            target,
        } => {
            let parent_id = id_of(resource_of(parent));
            document(shown(target), format!("{}/{name}", url(parent, &parent_id)))
        }
        Operation::Linkage {
            parent,
            name,
            target,
        }
        | Operation::ChangeLinkage {
            parent,
            name,
            target,
        } => {
            let parent_id = id_of(resource_of(parent));
            let mut linkage = document(
                identifier(target),
                format!("{}/relationships/{name}", url(parent, &parent_id)),
            );
            linkage["links"]["related"] = json!(format!("{}/{name}", url(parent, &parent_id)));
            linkage
        }
        Operation::Delete { .. } | Operation::Refused { .. } => return None,
        Operation::Atomic
        | Operation::BalanceHistory
        | Operation::Health
        | Operation::Live
        | Operation::Metrics
        | Operation::OpenApi
        | Operation::Console { .. } => {
            let text = endpoint.doc.and_then(|doc| doc.response)?;
            serde_json::from_str(text).expect("a Doc's response example is JSON")
        }
    };
    (status != 204).then_some(example)
}

/// An error document answering `code`, for the error responses.
pub(super) fn error(code: &Code) -> Value {
    json!({"jsonapi": {"version": "1.1"},
           "errors": [{"status": code.status.as_str(), "code": code.name, "title": code.title,
                       "detail": code.when}]})
}
