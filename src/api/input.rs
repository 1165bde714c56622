//! Checks shared by every resource document a client sends: that it is about the right
//! type and resource, and the common refusals (read-only and unknown fields).

use serde_json::value::RawValue;

use super::resource::Resource;
use crate::jsonapi::ApiError;
use crate::jsonapi::error::{
    CLIENT_GENERATED_ID, ID_MISMATCH, MISSING_FIELD, READ_ONLY_FIELD, TYPE_MISMATCH, UNKNOWN_FIELD,
};
use crate::jsonapi::request::{Ident, Linkage, ResourceInput};

/// What a document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// POST to the collection: the server assigns the id.
    Create,
    /// PATCH of the resource with this id.
    Update(i64),
}

/// Checks `type` and `id` of the resource object against the endpoint.
pub fn check_identity(
    input: &ResourceInput,
    type_name: &str,
    target: Target,
) -> Result<(), ApiError> {
    if input.type_name != type_name {
        return Err(ApiError::new(
            &TYPE_MISMATCH,
            format!(
                "this endpoint takes resources of type {type_name:?}, the document has {:?}",
                input.type_name
            ),
        )
        .pointer("/data/type"));
    }
    match (target, &input.id) {
        (Target::Create, Some(_)) => Err(ApiError::new(
            &CLIENT_GENERATED_ID,
            format!("the server assigns ids to new {type_name}; leave \"id\" out"),
        )
        .pointer("/data/id")),
        (Target::Create, None) => Ok(()),
        (Target::Update(_), None) => Err(ApiError::invalid_document(
            "/data",
            "an update must name the resource: give \"id\" in /data",
        )),
        (Target::Update(id), Some(given)) if *given != id.to_string() => Err(ApiError::new(
            &ID_MISMATCH,
            format!("the URL is of {type_name} {id}, the document names id {given:?}"),
        )
        .pointer("/data/id")),
        (Target::Update(_), Some(_)) => Ok(()),
    }
}

pub fn attribute_pointer(name: &str) -> String {
    format!("/data/attributes/{name}")
}

pub fn relationship_pointer(name: &str) -> String {
    format!("/data/relationships/{name}")
}

/// A field the client may read but not write.
pub fn read_only(pointer: String, detail: impl Into<String>) -> ApiError {
    ApiError::new(&READ_ONLY_FIELD, detail).pointer(pointer)
}

/// A member this resource does not have.
pub fn unknown_field(pointer: String, type_name: &str, known: &[&str]) -> ApiError {
    let name = pointer.rsplit('/').next().unwrap_or_default().to_string();
    ApiError::new(
        &UNKNOWN_FIELD,
        format!(
            "{type_name} have no {name:?}; writable: {}",
            known.join(", ")
        ),
    )
    .pointer(pointer)
}

/// A required member that is missing.
pub fn missing(pointer: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(&MISSING_FIELD, detail).pointer(pointer)
}

/// A JSON string attribute.
pub fn string_attribute(raw: &RawValue, name: &str) -> Result<String, ApiError> {
    serde_json::from_str::<String>(raw.get()).map_err(|_| {
        ApiError::invalid_attribute(&attribute_pointer(name), format!("{name} must be a string"))
    })
}

/// The text of a decimal attribute, given as a JSON string or a JSON number (read from
/// its own digits, never through a float).
pub fn decimal_attribute(raw: &RawValue, name: &str) -> Result<String, ApiError> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        string_attribute(raw, name)
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Ok(text.to_string())
    } else {
        Err(ApiError::invalid_attribute(
            &attribute_pointer(name),
            format!("{name} must be a decimal number, as a string (\"12.50\") or a JSON number"),
        ))
    }
}

/// The id of the `T` a to-one linkage (at `pointer`) names. A `null` or an array is refused
/// (a required to-one relationship), and an id that cannot exist is answered as not found,
/// like an id that does not exist.
pub fn linked_id<T: Resource>(linkage: &Linkage, pointer: &str) -> Result<i64, ApiError> {
    let identifier = match linkage {
        Linkage::One(identifier) => identifier,
        Linkage::Null => {
            return Err(ApiError::invalid_attribute(
                pointer,
                format!(
                    "this relationship is required; give {{\"type\": \"{}\", \"id\": ...}}",
                    T::TYPE
                ),
            ));
        }
        Linkage::Many(_) => {
            return Err(ApiError::invalid_document(
                pointer,
                "this is a to-one relationship: give one resource identifier, not an array",
            ));
        }
    };
    if identifier.type_name != T::TYPE {
        return Err(ApiError::new(
            &TYPE_MISMATCH,
            format!(
                "this relationship holds resources of type {:?}, the document gives {:?}",
                T::TYPE,
                identifier.type_name
            ),
        )
        .pointer(format!("{pointer}/type")));
    }
    let id = match &identifier.id {
        Ident::Id(id) => id,
        Ident::Lid(_) => {
            return Err(ApiError::invalid_document(
                &format!("{pointer}/lid"),
                LOCAL_IDS_ONLY_IN_OPERATIONS,
            ));
        }
    };
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| T::not_found(id).pointer(pointer))
}

const LOCAL_IDS_ONLY_IN_OPERATIONS: &str = "a local id (lid) names a resource created earlier in \
     the same request: only in POST /operations; here, give \"id\"";

/// Where `pointer`, written for a resource document (where the linkage of relationship
/// `name` stands at `/data/relationships/NAME/data`), points in a relationship document: the
/// linkage is its `data`, and any other member the change touched is reached through it.
pub fn linkage_pointer(pointer: &str, name: &str) -> String {
    let in_resource = format!("/data/relationships/{name}/data");
    match pointer.strip_prefix(&in_resource) {
        Some(rest) => format!("/data{rest}"),
        None if pointer.starts_with("/data") => "/data".to_string(),
        None => pointer.to_string(),
    }
}

/// Answers all problems at once, or nothing.
pub fn all_or_nothing(errors: Vec<ApiError>) -> Result<(), ApiError> {
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(first) => Err(ApiError::merge(first, errors)),
    }
}
