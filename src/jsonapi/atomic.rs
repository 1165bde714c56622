//! The Atomic Operations extension (jsonapi.org/ext/atomic): reading an `atomic:operations`
//! document into typed operations, and writing `atomic:results`. What an operation does to a
//! resource is the application's business; this module checks the document's shape, resolves
//! `ref` and `href` to a target, and checks that every local id (`lid`) is defined, once per
//! type, by an earlier `add` before it is used.
//!
//! Every error points into the request document: `/atomic:operations/3/ref/type`.

use std::collections::HashSet;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::error::{
    ApiError, CLIENT_GENERATED_ID, ID_MISMATCH, TOO_MANY_OPERATIONS, TYPE_MISMATCH,
};
use super::media_type::ATOMIC;
use super::request::{
    Ident, Identifier, Linkage, ResourceInput, linkage, object, parse_json, resource_object, string,
};

/// The most operations one request may hold.
pub const MAX_OPERATIONS: usize = 1000;

const OPERATIONS: &str = "atomic:operations";
const NO_HREF_TARGET: &str = "href names no collection (/TYPE), resource (/TYPE/ID) or \
     relationship (/TYPE/ID/relationships/NAME) of this server";

/// A resource an operation names: by its id, or by the `lid` an earlier `add` gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub type_name: String,
    pub id: Ident,
}

/// What `op` asks for, with the relationship operations apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Add,
    Update,
    Remove,
}

/// One operation, checked.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Create the resource `data` (known afterwards by its `lid`, when it has one).
    Add(ResourceInput),
    /// Update `target` with the resource object `data` (its type and id agree with `target`).
    Update { target: Ref, data: ResourceInput },
    /// Remove `target`.
    Remove(Ref),
    /// Add to, update or remove from relationship `name` of `target`.
    Relationship {
        op: OpCode,
        target: Ref,
        name: String,
        data: Linkage,
    },
}

/// Parses an `atomic:operations` document: the operations in order.
pub fn parse_operations(body: &[u8]) -> Result<Vec<Operation>, ApiError> {
    let mut top = parse_json(body)?;
    for member in top.keys() {
        if !matches!(member.as_str(), OPERATIONS | "meta" | "jsonapi" | "links") {
            return Err(ApiError::invalid_document(
                &format!("/{member}"),
                format!(
                    "an {OPERATIONS} document may not have a top-level {member:?} member \
                     (data and included belong to the base specification's documents)"
                ),
            ));
        }
    }
    let raw = top.remove(OPERATIONS).ok_or_else(|| {
        ApiError::invalid_document("", format!("the document has no \"{OPERATIONS}\" member"))
    })?;
    let pointer = format!("/{OPERATIONS}");
    if !raw.get().trim_start().starts_with('[') {
        return Err(ApiError::invalid_document(
            &pointer,
            format!("{OPERATIONS} must be an array of operation objects"),
        ));
    }
    let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get())
        .map_err(|error| ApiError::invalid_document(&pointer, error.to_string()))?;
    if items.is_empty() {
        return Err(ApiError::invalid_document(
            &pointer,
            format!("{OPERATIONS} is empty; give at least one operation"),
        ));
    }
    if items.len() > MAX_OPERATIONS {
        return Err(ApiError::new(
            &TOO_MANY_OPERATIONS,
            format!(
                "a request may hold at most {MAX_OPERATIONS} operations, this one has {}",
                items.len()
            ),
        )
        .pointer(pointer)
        .meta(json!({"maxOperations": MAX_OPERATIONS})));
    }
    let operations: Vec<Operation> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = operation_pointer(i);
            operation(item, &at).map_err(|error| error.map_pointers(|p| within(&at, p)))
        })
        .collect::<Result<_, _>>()?;
    check_local_ids(&operations)?;
    Ok(operations)
}

/// The pointer of the `index`th operation.
pub fn operation_pointer(index: usize) -> String {
    format!("/{OPERATIONS}/{index}")
}

/// `pointer`, written relative to an operation object (`/data/...`, `/ref/...`) or already
/// absolute, as a pointer into the whole document.
pub fn within(operation: &str, pointer: &str) -> String {
    if pointer.starts_with(&format!("/{OPERATIONS}")) {
        pointer.to_string()
    } else {
        format!("{operation}{pointer}")
    }
}

/// One operation object; errors point relative to it.
fn operation(raw: &RawValue, at: &str) -> Result<Operation, ApiError> {
    let mut members = object(raw, at).map_err(|e| e.map_pointers(|_| String::new()))?;
    for member in members.keys() {
        if !matches!(member.as_str(), "op" | "ref" | "href" | "data" | "meta") {
            return Err(ApiError::invalid_document(
                &format!("/{member}"),
                format!("an operation may not have a {member:?} member"),
            ));
        }
    }
    let op = op_code(members.remove("op"))?;
    let target = match (members.remove("ref"), members.remove("href")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_document(
                "/href",
                "an operation gives ref or href, not both",
            ));
        }
        (Some(raw), None) => Some(reference(&raw)?),
        (None, Some(raw)) => href(&string(&raw, "/href")?)?,
        (None, None) => None,
    };
    let data = members.remove("data");
    match (op, target) {
        (_, Some(Target::Relationship(target, name))) => {
            let data = data.ok_or_else(|| {
                ApiError::invalid_document("", "a relationship operation needs data: its linkage")
            })?;
            Ok(Operation::Relationship {
                op,
                target,
                name,
                data: linkage(&data, "/data")?,
            })
        }
        (OpCode::Add, target) => add(target, data),
        (OpCode::Update, target) => update(target, data),
        (OpCode::Remove, target) => remove(target, data),
    }
}

fn op_code(raw: Option<Box<RawValue>>) -> Result<OpCode, ApiError> {
    let Some(raw) = raw else {
        return Err(ApiError::invalid_document(
            "",
            "the operation has no \"op\" member",
        ));
    };
    match string(&raw, "/op")?.as_str() {
        "add" => Ok(OpCode::Add),
        "update" => Ok(OpCode::Update),
        "remove" => Ok(OpCode::Remove),
        other => Err(ApiError::invalid_document(
            "/op",
            format!("op is {other:?}; it must be \"add\", \"update\" or \"remove\""),
        )),
    }
}

/// An `add`: the resource to create, of the collection `href` names if it names one.
fn add(target: Option<Target>, data: Option<Box<RawValue>>) -> Result<Operation, ApiError> {
    let data = resource_data(data, "an add needs data: the resource to create")?;
    match target {
        Some(Target::Resource(_)) => {
            return Err(ApiError::invalid_document(
                "/href",
                "an add targets a collection (/TYPE), not a resource",
            ));
        }
        Some(Target::Collection(type_name)) => same_type(&type_name, &data)?,
        _ => {}
    }
    if data.id.is_some() {
        return Err(ApiError::new(
            &CLIENT_GENERATED_ID,
            "the server assigns ids to new resources; leave \"id\" out (a \"lid\" names it in later operations)",
        )
        .pointer("/data/id"));
    }
    Ok(Operation::Add(data))
}

/// An `update`: the resource `ref`/`href` names, or else `data` names itself.
fn update(target: Option<Target>, data: Option<Box<RawValue>>) -> Result<Operation, ApiError> {
    let data = resource_data(data, "an update needs data: the resource and its changes")?;
    let named = match (&data.id, &data.lid) {
        (Some(id), _) => Some(Ident::Id(id.clone())),
        (None, Some(lid)) => Some(Ident::Lid(lid.clone())),
        (None, None) => None,
    };
    let target = match (target, named) {
        (Some(Target::Collection(_)), _) => {
            return Err(ApiError::invalid_document(
                "/href",
                "an update targets a resource (/TYPE/ID), not a collection",
            ));
        }
        (Some(Target::Resource(target)), named) => {
            same_type(&target.type_name, &data)?;
            if named.as_ref().is_some_and(|named| *named != target.id) {
                return Err(ApiError::new(
                    &ID_MISMATCH,
                    "data names another resource than the operation's ref or href",
                )
                .pointer("/data/id"));
            }
            target
        }
        (None, Some(id)) => Ref {
            type_name: data.type_name.clone(),
            id,
        },
        (None, None) => {
            return Err(ApiError::invalid_document(
                "/data",
                "an update must name the resource: give \"id\" (or the \"lid\" of a resource added earlier)",
            ));
        }
        (Some(Target::Relationship(..)), _) => {
            return Err(ApiError::invalid_document(
                "/ref/relationship",
                "a relationship operation takes a linkage as data",
            ));
        }
    };
    Ok(Operation::Update { target, data })
}

/// A `remove`: the resource `ref`/`href` names; no data.
fn remove(target: Option<Target>, data: Option<Box<RawValue>>) -> Result<Operation, ApiError> {
    if data.is_some() {
        return Err(ApiError::invalid_document(
            "/data",
            "removing a resource takes no data",
        ));
    }
    match target {
        Some(Target::Resource(target)) => Ok(Operation::Remove(target)),
        _ => Err(ApiError::invalid_document(
            "",
            "a remove names its resource with ref ({\"type\": ..., \"id\": ...}) or href (/TYPE/ID)",
        )),
    }
}

/// What `ref` or `href` points at.
enum Target {
    Collection(String),
    Resource(Ref),
    Relationship(Ref, String),
}

fn resource_data(data: Option<Box<RawValue>>, missing: &str) -> Result<ResourceInput, ApiError> {
    match data {
        Some(raw) => resource_object(&raw),
        None => Err(ApiError::invalid_document("", missing)),
    }
}

fn same_type(expected: &str, data: &ResourceInput) -> Result<(), ApiError> {
    if data.type_name == expected {
        return Ok(());
    }
    Err(ApiError::new(
        &TYPE_MISMATCH,
        format!(
            "the operation targets {expected:?}, its data is of type {:?}",
            data.type_name
        ),
    )
    .pointer("/data/type"))
}

/// `ref`: `{"type", "id" | "lid", "relationship"?}`.
fn reference(raw: &RawValue) -> Result<Target, ApiError> {
    let mut members = object(raw, "/ref")?;
    for member in members.keys() {
        if !matches!(
            member.as_str(),
            "type" | "id" | "lid" | "relationship" | "meta"
        ) {
            return Err(ApiError::invalid_document(
                &format!("/ref/{member}"),
                format!("a ref may not have a {member:?} member"),
            ));
        }
    }
    let type_name = match members.remove("type") {
        Some(raw) => string(&raw, "/ref/type")?,
        None => {
            return Err(ApiError::invalid_document(
                "/ref",
                "ref has no \"type\" member",
            ));
        }
    };
    let id = match (members.remove("id"), members.remove("lid")) {
        (Some(raw), None) => Ident::Id(string(&raw, "/ref/id")?),
        (None, Some(raw)) => Ident::Lid(string(&raw, "/ref/lid")?),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_document(
                "/ref/lid",
                "ref has both \"id\" and \"lid\"; give one",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_document(
                "/ref",
                "ref names no resource: give \"id\" or \"lid\"",
            ));
        }
    };
    let target = Ref { type_name, id };
    match members.remove("relationship") {
        Some(raw) => Ok(Target::Relationship(
            target,
            string(&raw, "/ref/relationship")?,
        )),
        None => Ok(Target::Resource(target)),
    }
}

/// `href`: a URI of this server (absolute, or a path), its path naming the target.
fn href(text: &str) -> Result<Option<Target>, ApiError> {
    let without_authority = match text.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => text,
    };
    let path = without_authority
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let resource = |type_name: &str, id: &str| Ref {
        type_name: type_name.to_string(),
        id: Ident::Id(id.to_string()),
    };
    let target = match segments.as_slice() {
        [type_name] if !type_name.is_empty() => Target::Collection(type_name.to_string()),
        [type_name, id] => Target::Resource(resource(type_name, id)),
        [type_name, id, "relationships", name] => {
            Target::Relationship(resource(type_name, id), name.to_string())
        }
        _ => return Err(ApiError::invalid_document("/href", NO_HREF_TARGET)),
    };
    Ok(Some(target))
}

/// Every `lid` is defined by an `add`, once per type, before any operation uses it.
fn check_local_ids(operations: &[Operation]) -> Result<(), ApiError> {
    let mut defined: HashSet<(String, String)> = HashSet::new();
    for (i, operation) in operations.iter().enumerate() {
        let at = operation_pointer(i);
        let mut used: Vec<(&str, &Ident, String)> = Vec::new();
        match operation {
            Operation::Add(data) => used.extend(linkage_ids(data)),
            Operation::Update { target, data } => {
                used.push((&target.type_name, &target.id, "/data".to_string()));
                used.extend(linkage_ids(data));
            }
            Operation::Remove(target) => used.push((&target.type_name, &target.id, "/ref".into())),
            Operation::Relationship { target, data, .. } => {
                used.push((&target.type_name, &target.id, "/ref".into()));
                let items: Vec<&Identifier> = match data {
                    Linkage::One(identifier) => vec![identifier],
                    Linkage::Many(identifiers) => identifiers.iter().collect(),
                    Linkage::Null => Vec::new(),
                };
                for (j, identifier) in items.into_iter().enumerate() {
                    let pointer = match data {
                        Linkage::Many(_) => format!("/data/{j}"),
                        _ => "/data".to_string(),
                    };
                    used.push((&identifier.type_name, &identifier.id, pointer));
                }
            }
        }
        for (type_name, id, pointer) in used {
            if let Ident::Lid(lid) = id
                && !defined.contains(&(type_name.to_string(), lid.clone()))
            {
                return Err(ApiError::invalid_document(
                    &format!("{at}{pointer}"),
                    format!(
                        "no earlier operation adds a {type_name} with lid {lid:?}; a lid names a \
                         resource created by an earlier add of this request"
                    ),
                ));
            }
        }
        if let Operation::Add(data) = operation
            && let Some(lid) = &data.lid
            && !defined.insert((data.type_name.clone(), lid.clone()))
        {
            return Err(ApiError::invalid_document(
                &format!("{at}/data/lid"),
                format!(
                    "lid {lid:?} already names another {} of this request",
                    data.type_name
                ),
            ));
        }
    }
    Ok(())
}

/// The identifiers of a resource object's relationships, with where each stands.
fn linkage_ids(data: &ResourceInput) -> Vec<(&str, &Ident, String)> {
    let mut ids = Vec::new();
    for (name, linkage) in &data.relationships {
        let base = format!("/data/relationships/{name}/data");
        match linkage {
            Linkage::One(identifier) => {
                ids.push((identifier.type_name.as_str(), &identifier.id, base))
            }
            Linkage::Many(items) => {
                for (j, identifier) in items.iter().enumerate() {
                    ids.push((
                        identifier.type_name.as_str(),
                        &identifier.id,
                        format!("{base}/{j}"),
                    ));
                }
            }
            Linkage::Null => {}
        }
    }
    ids
}

/// The `atomic:results` document: one result per operation, in order (`{}` when it has no
/// data).
pub fn results_document(results: Vec<Option<Value>>, self_link: &str) -> Value {
    let results: Vec<Value> = results
        .into_iter()
        .map(|data| match data {
            Some(data) => json!({ "data": data }),
            None => json!({}),
        })
        .collect();
    json!({
        "atomic:results": results,
        "links": {"self": self_link},
        "jsonapi": {"version": "1.1", "ext": [ATOMIC.uri]},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;

    fn pointer_of(body: &str) -> (u16, String) {
        let error = parse_operations(body.as_bytes()).unwrap_err();
        let pointer = serde_json::to_value(error.document()["errors"][0]["source"].clone())
            .unwrap()["pointer"]
            .as_str()
            .unwrap_or("<none>")
            .to_string();
        (error.status().as_u16(), pointer)
    }

    #[test]
    fn reads_each_kind_of_operation() {
        let operations = parse_operations(
            br#"{"atomic:operations": [
                {"op": "add", "data": {"type": "wallets", "lid": "w", "attributes": {"label": "a"}}},
                {"op": "add", "href": "/transactions", "data": {"type": "transactions",
                  "relationships": {"wallet": {"data": {"type": "wallets", "lid": "w"}}}}},
                {"op": "update", "data": {"type": "wallets", "lid": "w", "attributes": {}}},
                {"op": "update", "ref": {"type": "transactions", "id": "7", "relationship": "wallet"},
                 "data": {"type": "wallets", "id": "2"}},
                {"op": "remove", "href": "https://api.example/transactions/7"}
            ]}"#,
        )
        .unwrap();
        assert!(matches!(&operations[0], Operation::Add(data) if data.lid.as_deref() == Some("w")));
        assert!(matches!(&operations[2], Operation::Update { target, .. }
            if *target == Ref { type_name: "wallets".into(), id: Ident::Lid("w".into()) }));
        assert!(
            matches!(&operations[3], Operation::Relationship { op: OpCode::Update, name, .. } if name == "wallet")
        );
        assert!(matches!(&operations[4], Operation::Remove(target)
            if *target == Ref { type_name: "transactions".into(), id: Ident::Id("7".into()) }));
    }

    #[test]
    fn malformed_documents_point_at_the_problem() {
        for (body, status, pointer) in [
            (r#"{"data": {}}"#, 400, "/data"),
            (r#"{"atomic:operations": {}}"#, 400, "/atomic:operations"),
            (r#"{"atomic:operations": []}"#, 400, "/atomic:operations"),
            (r#"{"atomic:operations": [5]}"#, 400, "/atomic:operations/0"),
            (
                r#"{"atomic:operations": [{}]}"#,
                400,
                "/atomic:operations/0",
            ),
            (
                r#"{"atomic:operations": [{"op": "merge"}]}"#,
                400,
                "/atomic:operations/0/op",
            ),
            (
                r#"{"atomic:operations": [{"op": "remove", "ref": {"type": "wallets", "id": "1"}, "href": "/wallets/1"}]}"#,
                400,
                "/atomic:operations/0/href",
            ),
            (
                r#"{"atomic:operations": [{"op": "remove", "ref": {"type": "wallets"}}]}"#,
                400,
                "/atomic:operations/0/ref",
            ),
            (
                r#"{"atomic:operations": [{"op": "remove", "href": "/wallets/1/transactions/2/x"}]}"#,
                400,
                "/atomic:operations/0/href",
            ),
            (
                r#"{"atomic:operations": [{"op": "add", "data": {"type": "wallets", "id": "9"}}]}"#,
                403,
                "/atomic:operations/0/data/id",
            ),
            (
                r#"{"atomic:operations": [{"op": "add", "href": "/wallets", "data": {"type": "transactions"}}]}"#,
                409,
                "/atomic:operations/0/data/type",
            ),
            (
                r#"{"atomic:operations": [{"op": "update", "data": {"type": "wallets"}}]}"#,
                400,
                "/atomic:operations/0/data",
            ),
            (
                r#"{"atomic:operations": [{"op": "update", "ref": {"type": "wallets", "id": "1"}, "data": {"type": "wallets", "id": "2"}}]}"#,
                409,
                "/atomic:operations/0/data/id",
            ),
            (
                r#"{"atomic:operations": [{"op": "remove", "ref": {"type": "wallets", "id": "1"}, "data": null}]}"#,
                400,
                "/atomic:operations/0/data",
            ),
            (
                r#"{"atomic:operations": [{"op": "add", "data": {"type": "wallets", "colour": 1}}]}"#,
                400,
                "/atomic:operations/0/data/colour",
            ),
            (
                r#"{"atomic:operations": [{"op": "remove", "ref": {"type": "wallets", "lid": "x"}}]}"#,
                400,
                "/atomic:operations/0/ref",
            ),
            (
                r#"{"atomic:operations": [
                {"op": "add", "data": {"type": "wallets", "lid": "x"}},
                {"op": "add", "data": {"type": "wallets", "lid": "x"}}]}"#,
                400,
                "/atomic:operations/1/data/lid",
            ),
            (
                r#"{"atomic:operations": [
                {"op": "add", "data": {"type": "transactions", "relationships": {"wallet": {"data": {"type": "wallets", "lid": "later"}}}}},
                {"op": "add", "data": {"type": "wallets", "lid": "later"}}]}"#,
                400,
                "/atomic:operations/0/data/relationships/wallet/data",
            ),
        ] {
            assert_eq!(pointer_of(body), (status, pointer.to_string()), "{body}");
        }
    }

    #[test]
    fn the_number_of_operations_is_bounded() {
        let one = r#"{"op": "remove", "ref": {"type": "wallets", "id": "1"}}"#;
        let body = format!(
            r#"{{"atomic:operations": [{}]}}"#,
            vec![one; MAX_OPERATIONS + 1].join(",")
        );
        let error = parse_operations(body.as_bytes()).unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error.first().meta(), Some(&json!({"maxOperations": 1000})));
        let body = format!(
            r#"{{"atomic:operations": [{}]}}"#,
            vec![one; MAX_OPERATIONS].join(",")
        );
        assert_eq!(
            parse_operations(body.as_bytes()).unwrap().len(),
            MAX_OPERATIONS
        );
    }
}
