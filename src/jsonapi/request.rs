//! Request documents: reading the body (capped), and checking the JSON:API shape of a
//! resource document or a relationship document. Wrong JSON or wrong shape is a 400 with a
//! pointer; what the attributes mean is the resource's business.
//!
//! Attribute values are kept as raw JSON text, so that a number such as `0.1` can be read
//! exactly as written instead of through a float.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::web;
use serde_json::value::RawValue;

use super::error::{
    ApiError, BODY_TIMEOUT, EMPTY_BODY, INVALID_JSON, PAYLOAD_TOO_LARGE, UNREADABLE_BODY,
};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Reads the request body, refusing more than [`MAX_BODY_BYTES`] with a 413, and a body
/// that has not fully arrived `within` its time with a 408 (the connection is then closed).
pub async fn read_body(payload: web::Payload, within: Duration) -> Result<web::Bytes, ApiError> {
    let Ok(read) = tokio::time::timeout(within, payload.to_bytes_limited(MAX_BODY_BYTES)).await
    else {
        return Err(ApiError::new(
            &BODY_TIMEOUT,
            format!(
                "the request body did not arrive within {} ms; nothing was done",
                within.as_millis()
            ),
        ));
    };
    match read {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(error)) => Err(ApiError::new(
            &UNREADABLE_BODY,
            format!("the request body could not be read: {error}"),
        )),
        Err(_) => Err(ApiError::new(
            &PAYLOAD_TOO_LARGE,
            format!("the request body may be at most {MAX_BODY_BYTES} bytes"),
        )),
    }
}

pub type RawObject = BTreeMap<String, Box<RawValue>>;

/// A resource identifier: `{"type": ..., "id": ...}`, or `{"type": ..., "lid": ...}` for a
/// resource created earlier in the same request (Atomic Operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub type_name: String,
    pub id: Ident,
}

/// How an identifier names its resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ident {
    /// The server's id.
    Id(String),
    /// A local id, given by the client to a resource it creates in the same request.
    Lid(String),
}

/// The `data` of a relationship in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linkage {
    Null,
    One(Identifier),
    Many(Vec<Identifier>),
}

/// The resource object of a POST or PATCH document.
#[derive(Debug, Clone)]
pub struct ResourceInput {
    pub type_name: String,
    pub id: Option<String>,
    /// The local id a created resource is known by in the rest of the request.
    pub lid: Option<String>,
    /// Attribute name → raw JSON value.
    pub attributes: Vec<(String, Box<RawValue>)>,
    /// Relationship name → its linkage.
    pub relationships: Vec<(String, Linkage)>,
    /// The resource object's `meta` members: what a resource reads beyond its fields (an
    /// action such as rotating a secret), or nothing.
    pub meta: Vec<(String, Box<RawValue>)>,
}

impl ResourceInput {
    /// Whether the document gives this attribute (whatever its value).
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|(given, _)| given == name)
    }

    /// Whether the document gives this relationship.
    pub fn has_relationship(&self, name: &str) -> bool {
        self.relationships.iter().any(|(given, _)| given == name)
    }
}

pub fn parse_json(body: &[u8]) -> Result<RawObject, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            &EMPTY_BODY,
            "the request body is empty; send a JSON:API document such as {\"data\": {...}}",
        ));
    }
    let value: Box<RawValue> = serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            &INVALID_JSON,
            format!("the request body is not valid JSON: {error}"),
        )
    })?;
    object(&value, "")
}

/// Reads a raw value as a JSON object, or explains at `pointer` why it is not one.
pub fn object(raw: &RawValue, pointer: &str) -> Result<RawObject, ApiError> {
    if !raw.get().trim_start().starts_with('{') {
        let what = if pointer.is_empty() {
            "the document"
        } else {
            pointer
        };
        return Err(ApiError::invalid_document(
            if pointer.is_empty() { "" } else { pointer },
            format!("{what} must be a JSON object"),
        ));
    }
    serde_json::from_str(raw.get()).map_err(|error| {
        ApiError::invalid_document(pointer, format!("{pointer} is not readable: {error}"))
    })
}

pub fn string(raw: &RawValue, pointer: &str) -> Result<String, ApiError> {
    serde_json::from_str::<String>(raw.get())
        .map_err(|_| ApiError::invalid_document(pointer, format!("{pointer} must be a string")))
}

/// Checks the top level: an object with `data`, and only the members a request may have.
fn top_level(body: &[u8]) -> Result<Box<RawValue>, ApiError> {
    let mut top = parse_json(body)?;
    for member in top.keys() {
        if !matches!(member.as_str(), "data" | "meta" | "jsonapi" | "links") {
            return Err(ApiError::invalid_document(
                &format!("/{member}"),
                format!("a request document may not have a top-level {member:?} member"),
            ));
        }
    }
    top.remove("data")
        .ok_or_else(|| ApiError::invalid_document("", "the document has no \"data\" member"))
}

fn identifier(raw: &RawValue, pointer: &str) -> Result<Identifier, ApiError> {
    let mut members = object(raw, pointer)?;
    for member in members.keys() {
        if !matches!(member.as_str(), "type" | "id" | "lid" | "meta") {
            return Err(ApiError::invalid_document(
                &format!("{pointer}/{member}"),
                format!("a resource identifier may not have a {member:?} member"),
            ));
        }
    }
    let type_name = members
        .remove("type")
        .ok_or_else(|| {
            ApiError::invalid_document(pointer, format!("{pointer} has no \"type\" member"))
        })
        .and_then(|raw| string(&raw, &format!("{pointer}/type")))?;
    let id = match (members.remove("id"), members.remove("lid")) {
        (Some(raw), None) => Ident::Id(string(&raw, &format!("{pointer}/id"))?),
        (None, Some(raw)) => Ident::Lid(string(&raw, &format!("{pointer}/lid"))?),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_document(
                &format!("{pointer}/lid"),
                format!("{pointer} has both \"id\" and \"lid\"; give one"),
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_document(
                pointer,
                format!("{pointer} has no \"id\" member"),
            ));
        }
    };
    Ok(Identifier { type_name, id })
}

/// A relationship object in a request: `{"data": linkage}` (and `links`, `meta`).
fn relationship(raw: &RawValue, pointer: &str) -> Result<Linkage, ApiError> {
    let members = object(raw, pointer)?;
    let data = members.get("data").ok_or_else(|| {
        ApiError::invalid_document(
            pointer,
            format!("{pointer} has no \"data\" member; give {{\"data\": {{\"type\": ..., \"id\": ...}}}}"),
        )
    })?;
    if let Some(member) = members
        .keys()
        .find(|member| !matches!(member.as_str(), "data" | "links" | "meta"))
    {
        return Err(ApiError::invalid_document(
            &format!("{pointer}/{member}"),
            format!("a relationship object may not have a {member:?} member"),
        ));
    }
    linkage(data, &format!("{pointer}/data"))
}

/// Parses the document of a POST or PATCH of a resource.
pub fn parse_resource_document(body: &[u8]) -> Result<ResourceInput, ApiError> {
    let data = top_level(body)?;
    resource_object(&data)
}

/// Parses the resource object (`data`) of a POST or PATCH document, or of an operation;
/// errors point at `/data/...`.
pub fn resource_object(data: &RawValue) -> Result<ResourceInput, ApiError> {
    if data.get().trim_start().starts_with('[') {
        return Err(ApiError::invalid_document(
            "/data",
            "/data must be a single resource object; create or update one resource per request",
        ));
    }
    let mut members = object(data, "/data")?;
    for member in members.keys() {
        if !matches!(
            member.as_str(),
            "type" | "id" | "lid" | "attributes" | "relationships" | "links" | "meta"
        ) {
            return Err(ApiError::invalid_document(
                &format!("/data/{member}"),
                format!("a resource object may not have a {member:?} member"),
            ));
        }
    }
    let type_name = members
        .remove("type")
        .ok_or_else(|| ApiError::invalid_document("/data", "/data has no \"type\" member"))
        .and_then(|raw| string(&raw, "/data/type"))?;
    let id = members
        .remove("id")
        .map(|raw| string(&raw, "/data/id"))
        .transpose()?;
    let lid = members
        .remove("lid")
        .map(|raw| string(&raw, "/data/lid"))
        .transpose()?;
    let attributes = match members.remove("attributes") {
        Some(raw) => object(&raw, "/data/attributes")?.into_iter().collect(),
        None => Vec::new(),
    };
    let relationships = match members.remove("relationships") {
        Some(raw) => object(&raw, "/data/relationships")?
            .into_iter()
            .map(|(name, raw)| {
                let pointer = format!("/data/relationships/{name}");
                relationship(&raw, &pointer).map(|linkage| (name, linkage))
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    // Read only when it is an object: a resource that takes no action ignores its meta, as
    // the protocol says, whatever it holds.
    let meta = match members.remove("meta") {
        Some(raw) if raw.get().trim_start().starts_with('{') => {
            object(&raw, "/data/meta")?.into_iter().collect()
        }
        _ => Vec::new(),
    };
    Ok(ResourceInput {
        type_name,
        id,
        lid,
        attributes,
        relationships,
        meta,
    })
}

/// Parses the document of a PATCH to a relationship URL: `{"data": linkage}`.
pub fn parse_relationship_document(body: &[u8]) -> Result<Linkage, ApiError> {
    let data = top_level(body)?;
    linkage(&data, "/data")
}

/// Reads raw JSON as a linkage (`null`, an identifier or an array of them); errors point at
/// `pointer`.
pub fn linkage(raw: &RawValue, pointer: &str) -> Result<Linkage, ApiError> {
    let text = raw.get().trim_start();
    if text == "null" {
        Ok(Linkage::Null)
    } else if text.starts_with('[') {
        let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get())
            .map_err(|error| ApiError::invalid_document(pointer, error.to_string()))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| identifier(item, &format!("{pointer}/{i}")))
            .collect::<Result<_, _>>()
            .map(Linkage::Many)
    } else {
        identifier(raw, pointer).map(Linkage::One)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer_of(error: &ApiError) -> String {
        error.document()["errors"][0]["source"]["pointer"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    }

    #[test]
    fn a_resource_objects_meta_is_read_when_it_is_an_object_and_ignored_otherwise() {
        let read = |meta: &str| {
            parse_resource_document(
                format!(
                    r#"{{"data": {{"type": "webhook-endpoints", "id": "1", "meta": {meta}}}}}"#
                )
                .as_bytes(),
            )
            .unwrap()
            .meta
        };
        let actions = read(r#"{"rotateSecret": true}"#);
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].0, "rotateSecret");
        assert_eq!(actions[0].1.get(), "true");
        for ignored in ["null", "[null, null]", "3", r#""x""#] {
            assert!(read(ignored).is_empty(), "{ignored}");
        }
    }

    #[test]
    fn reads_a_resource_keeping_numbers_exact() {
        let input = parse_resource_document(
            br#"{"data": {"type": "transactions", "attributes": {"amount": 0.30000000000000000001, "txid": "a"},
                 "relationships": {"wallet": {"data": {"type": "wallets", "id": "5"}}}}}"#,
        )
        .unwrap();
        assert_eq!(input.type_name, "transactions");
        assert_eq!(input.id, None);
        assert_eq!(input.attributes[0].0, "amount");
        assert_eq!(input.attributes[0].1.get(), "0.30000000000000000001");
        assert_eq!(
            input.relationships,
            vec![(
                "wallet".to_string(),
                Linkage::One(Identifier {
                    type_name: "wallets".into(),
                    id: Ident::Id("5".into())
                })
            )]
        );
    }

    #[test]
    fn shape_errors_point_at_the_problem() {
        for (body, pointer) in [
            (&b"[]"[..], ""),
            (b"{}", ""),
            (b"{\"data\": 5}", "/data"),
            (b"{\"data\": [{}]}", "/data"),
            (b"{\"data\": {}}", "/data"),
            (b"{\"data\": {\"type\": 5}}", "/data/type"),
            (b"{\"data\": {\"type\": \"wallets\", \"id\": 5}}", "/data/id"),
            (b"{\"data\": {\"type\": \"wallets\", \"attributes\": []}}", "/data/attributes"),
            (b"{\"data\": {\"type\": \"wallets\", \"color\": 1}}", "/data/color"),
            (b"{\"data\": {\"type\": \"x\"}, \"included\": []}", "/included"),
            (
                b"{\"data\": {\"type\": \"t\", \"relationships\": {\"wallet\": {\"id\": \"1\"}}}}",
                "/data/relationships/wallet",
            ),
            (
                b"{\"data\": {\"type\": \"t\", \"relationships\": {\"wallet\": {\"data\": null, \"id\": \"1\"}}}}",
                "/data/relationships/wallet/id",
            ),
            (
                b"{\"data\": {\"type\": \"t\", \"relationships\": {\"wallet\": {\"data\": {\"type\": \"wallets\"}}}}}",
                "/data/relationships/wallet/data",
            ),
        ] {
            let error = parse_resource_document(body).unwrap_err();
            assert_eq!(error.status().as_u16(), 400, "{}", String::from_utf8_lossy(body));
            assert_eq!(pointer_of(&error), pointer, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn bad_json_and_empty_bodies_are_400() {
        for body in [&b""[..], b"  ", b"{\"data\":", b"nul"] {
            let error = parse_resource_document(body).unwrap_err();
            assert_eq!(error.status().as_u16(), 400);
        }
    }

    #[test]
    fn relationship_documents() {
        assert_eq!(
            parse_relationship_document(br#"{"data": null}"#).unwrap(),
            Linkage::Null
        );
        assert!(matches!(
            parse_relationship_document(br#"{"data": [{"type": "a", "id": "1"}]}"#).unwrap(),
            Linkage::Many(items) if items.len() == 1
        ));
    }
}
