//! Response documents: resource objects, sparse fieldsets, top-level members.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder};
use serde_json::{Map, Value, json};

use super::media_type::JSONAPI_MEDIA_TYPE;

/// `fields[TYPE]=a,b` as asked: a type absent from the map shows every field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fieldsets(pub BTreeMap<String, Vec<String>>);

impl Fieldsets {
    pub fn shows(&self, type_name: &str, field: &str) -> bool {
        self.0
            .get(type_name)
            .is_none_or(|fields| fields.iter().any(|f| f == field))
    }
}

/// Builds one resource object, leaving out the fields a sparse fieldset excludes.
pub struct ResourceObject<'a> {
    type_name: &'static str,
    fieldsets: &'a Fieldsets,
    object: Map<String, Value>,
    attributes: Map<String, Value>,
    relationships: Map<String, Value>,
}

impl<'a> ResourceObject<'a> {
    pub fn new(
        type_name: &'static str,
        id: &str,
        self_link: String,
        fieldsets: &'a Fieldsets,
    ) -> Self {
        let mut object = Map::new();
        object.insert("type".into(), Value::from(type_name));
        object.insert("id".into(), Value::from(id));
        object.insert("links".into(), json!({ "self": self_link }));
        ResourceObject {
            type_name,
            fieldsets,
            object,
            attributes: Map::new(),
            relationships: Map::new(),
        }
    }

    pub fn attribute(mut self, name: &str, value: impl Into<Value>) -> Self {
        if self.fieldsets.shows(self.type_name, name) {
            self.attributes.insert(name.to_string(), value.into());
        }
        self
    }

    /// A relationship object (`links`, and `data` when given).
    pub fn relationship(mut self, name: &str, relationship: Value) -> Self {
        if self.fieldsets.shows(self.type_name, name) {
            self.relationships.insert(name.to_string(), relationship);
        }
        self
    }

    pub fn meta(mut self, meta: Value) -> Self {
        self.object.insert("meta".into(), meta);
        self
    }

    pub fn build(mut self) -> Value {
        if !self.attributes.is_empty() {
            self.object
                .insert("attributes".into(), Value::Object(self.attributes));
        }
        if !self.relationships.is_empty() {
            self.object
                .insert("relationships".into(), Value::Object(self.relationships));
        }
        Value::Object(self.object)
    }
}

/// A resource identifier object.
pub fn identifier(type_name: &str, id: impl std::fmt::Display) -> Value {
    json!({ "type": type_name, "id": id.to_string() })
}

/// A top-level document around `data` (`primary`), with `links` (which must hold `self`),
/// `included` when `include` was asked for, and `meta`.
pub fn document(
    primary: Value,
    links: Map<String, Value>,
    included: Option<Vec<Value>>,
    meta: Option<Value>,
) -> Value {
    let mut top = Map::new();
    top.insert("data".into(), primary);
    if let Some(included) = included {
        top.insert("included".into(), Value::Array(included));
    }
    top.insert("links".into(), Value::Object(links));
    if let Some(meta) = meta {
        top.insert("meta".into(), meta);
    }
    top.insert("jsonapi".into(), json!({ "version": "1.1" }));
    Value::Object(top)
}

/// `links` holding only `self`.
pub fn self_links(self_link: String) -> Map<String, Value> {
    let mut links = Map::new();
    links.insert("self".into(), Value::String(self_link));
    links
}

/// A response, complete and as plain data: it can cross threads, be stored and be sent again
/// byte for byte (a replayed `Idempotency-Key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    /// Headers beyond `Content-Type`: `Location`, `Allow`, `Retry-After`.
    pub headers: Vec<(String, String)>,
    /// Empty for 204 No Content.
    pub body: String,
}

impl Reply {
    /// 204 No Content.
    pub fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            content_type: JSONAPI_MEDIA_TYPE,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn with_content_type(mut self, content_type: &'static str) -> Reply {
        self.content_type = content_type;
        self
    }

    pub fn into_http(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            response.insert_header((name.as_str(), value.as_str()));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a body that did not arrive in time is not awaited: the connection
            // cannot carry another request (RFC 9110, 408).
            response.force_close();
        }
        if self.status == StatusCode::NO_CONTENT {
            return response.finish();
        }
        response.content_type(self.content_type).body(self.body)
    }
}

impl Responder for Reply {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        self.into_http()
    }
}

/// A JSON:API response with this status and document.
pub fn respond(status: StatusCode, document: &Value) -> Reply {
    Reply {
        status,
        content_type: JSONAPI_MEDIA_TYPE,
        headers: Vec::new(),
        body: document.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_fieldsets_drop_fields_and_empty_members() {
        let mut fields = Fieldsets::default();
        fields.0.insert("wallets".into(), vec!["label".into()]);
        let object = ResourceObject::new("wallets", "7", "http://h/wallets/7".into(), &fields)
            .attribute("label", "a")
            .attribute("balance", "1")
            .relationship("transactions", json!({"links": {}}))
            .build();
        assert_eq!(object["id"], "7");
        assert_eq!(object["attributes"], json!({"label": "a"}));
        assert!(object.get("relationships").is_none());

        let none = Fieldsets(BTreeMap::from([("wallets".to_string(), vec![])]));
        let bare = ResourceObject::new("wallets", "7", "x".into(), &none)
            .attribute("label", "a")
            .build();
        assert!(bare.get("attributes").is_none());
    }
}
