//! The schemas of the document: what every document is made of, each resource type's
//! objects and documents, the inputs clients send, the documents of `/operations`.

use serde_json::{Map, Value, json};

use super::patterns::{DATE, TEXT, TIME, money_input_pattern, regex_escape};
use super::{Builder, component, schema};
use crate::api::routes::{Custom, Operation, table};
use crate::api::{RESOURCES, Registered};
use crate::jsonapi::atomic::MAX_OPERATIONS;
use crate::models::fields::{Create, FieldSpec, Kind};
use crate::models::metadata::{
    EXISTS_SUFFIX, KEY_CHARACTER, MAX_KEY_CHARS, MAX_KEYS, MAX_VALUE_CHARS,
};
use crate::parse::{Accepts, Sign};

impl Builder {
    /// What every document is made of: money, times, links, meta, errors; and the documents
    /// of the endpoints that are no resource's.
    pub(super) fn common_schemas(&mut self) {
        self.scalar_schemas();
        self.error_schemas();
        self.status_schemas();
        self.history_schemas();
        let every: Vec<Value> = RESOURCES
            .iter()
            .map(|resource| schema(&component(resource.type_name)))
            .collect();
        self.add_schema("Resource", json!({"oneOf": every}));
        self.add_schema(
            "RequestMeta",
            json!({"description": "Any JSON the client likes; the server ignores it."}),
        );
    }

    /// Money, times and the members of documents.
    fn scalar_schemas(&mut self) {
        self.add_schema(
            "Money",
            json!({"type": "string", "pattern": "^-?[0-9]{1,19}(\\.[0-9]{1,18})?$",
                   "description": "An exact decimal at the currency's scale, as a string (never a float): exactly as many fractional digits as the currency has (USD \"100.50\", JPY \"1500\", BTC \"0.00000001\", XXX 18)."}),
        );
        self.add_schema(
            "Timestamp",
            json!({"type": "string", "format": "date-time"}),
        );
        self.add_schema(
            "Jsonapi",
            json!({"type": "object", "required": ["version"], "additionalProperties": false,
                   "properties": {"version": {"const": "1.1"},
                                  "ext": {"type": "array", "items": {"type": "string"}}}}),
        );
        self.add_schema(
            "Links",
            json!({"type": "object", "required": ["self"],
                   "properties": {"self": {"type": "string"}},
                   "additionalProperties": {"type": "string"}}),
        );
        self.add_schema(
            "RelationshipLinks",
            json!({"type": "object", "required": ["self", "related"], "additionalProperties": false,
                   "properties": {"self": {"type": "string"}, "related": {"type": "string"}}}),
        );
        self.add_schema(
            "CursorMeta",
            json!({"type": "object", "required": ["cursor"], "additionalProperties": false,
                   "properties": {"cursor": {"type": "string"}}}),
        );
        self.add_schema(
            "PageMeta",
            json!({"type": "object", "additionalProperties": false, "properties": {
                "pagination": {"type": "object", "required": ["page", "pages", "count"],
                    "additionalProperties": false, "properties": {
                        "page": {"type": "integer", "minimum": 1},
                        "pages": {"type": "integer", "minimum": 1},
                        "count": {"type": "integer", "minimum": 0}}},
                "feed": {"type": "object", "required": ["horizon", "lagSeconds"],
                    "additionalProperties": false,
                    "description": "GET /events only: where the feed stands.",
                    "properties": {
                        "horizon": {"type": "string", "pattern": "^[0-9]+$",
                            "description": "Events at or past this position are not served yet: a transaction that may still write below it is running."},
                        "lagSeconds": {"type": "number", "minimum": 0,
                            "description": "How long the oldest event not served yet has waited (0: none waits)."}}}}}),
        );
    }

    /// Error objects, and the document that carries them.
    fn error_schemas(&mut self) {
        self.add_schema(
            "ErrorObject",
            json!({"type": "object", "required": ["status", "code", "title", "detail"],
                "additionalProperties": false, "properties": {
                "id": {"type": "string", "description": "For a server error: the server's log repeats it."},
                "status": {"type": "string", "pattern": "^[45][0-9]{2}$"},
                "code": {"type": "string"},
                "title": {"type": "string"},
                "detail": {"type": "string"},
                "source": {"type": "object", "minProperties": 1, "maxProperties": 1,
                    "additionalProperties": false, "properties": {
                        "pointer": {"type": "string"}, "parameter": {"type": "string"},
                        "header": {"type": "string"}}},
                "links": {"type": "object"},
                "meta": {"type": "object"}}}),
        );
        self.add_schema(
            "ErrorDocument",
            json!({"type": "object", "required": ["errors", "jsonapi"], "additionalProperties": false,
                "properties": {
                    "errors": {"type": "array", "minItems": 1, "items": schema("ErrorObject")},
                    "links": schema("Links"), "jsonapi": schema("Jsonapi")}}),
        );
    }

    /// The document of `/wallets/{id}/balance-history`: buckets, computed.
    fn history_schemas(&mut self) {
        use crate::api::resources::balance_history::BUCKET_SCHEMA;
        use crate::models::balance_bucket::SIZES;
        self.add_schema(
            "BalanceBucket",
            serde_json::from_str(BUCKET_SCHEMA).expect("the bucket schema is JSON"),
        );
        self.add_schema(
            "BalanceBucketCollection",
            json!({"type": "object", "required": ["data", "links", "jsonapi", "meta"],
                "additionalProperties": false, "properties": {
                    "data": {"type": "array", "items": schema("BalanceBucket")},
                    "links": schema("Links"), "jsonapi": schema("Jsonapi"),
                    "meta": {"type": "object", "required": ["bucketSize", "count"],
                             "additionalProperties": false, "properties": {
                                 "bucketSize": {"enum": SIZES},
                                 "count": {"type": "integer", "minimum": 0}}}}}),
        );
    }

    /// The documents of `/health` and `/health/live`.
    fn status_schemas(&mut self) {
        self.add_schema(
            "HealthDocument",
            json!({"type": "object", "required": ["meta", "jsonapi"], "additionalProperties": false,
                "properties": {"jsonapi": schema("Jsonapi"), "meta": {
                    "type": "object",
                    "required": ["status", "database", "version", "commit", "pool", "queue", "load"],
                    "additionalProperties": false, "properties": {
                        "status": {"enum": ["ok", "saturated"], "description":
                            "saturated: the instance shed at least half of its requests as busy \
                             over the last seconds (still 200: see docs/operations.md)"},
                        "database": {"const": "ok"},
                        "version": {"type": "string", "description": "The service's release"},
                        "commit": {"type": ["string", "null"],
                                   "description": "The commit it was built from (null: not built from a git checkout)"},
                        "pool": {"type": "object", "required": ["open", "idle", "max", "waiting"],
                            "additionalProperties": false, "properties": {
                                "open": {"type": "integer", "minimum": 0},
                                "idle": {"type": "integer", "minimum": 0},
                                "max": {"type": "integer", "minimum": 1},
                                "waiting": {"type": "integer", "minimum": 0}}},
                        "queue": {"type": "object", "required": ["waiting", "max"],
                            "additionalProperties": false, "description":
                                "Requests waiting for a database connection, and the most that may",
                            "properties": {
                                "waiting": {"type": "integer", "minimum": 0},
                                "max": {"type": "integer", "minimum": 0}}},
                        "load": {"type": "object",
                            "required": ["seconds", "requests", "shed", "shedShare"],
                            "additionalProperties": false, "description":
                                "Requests answered over the last seconds, and those shed (503 busy)",
                            "properties": {
                                "seconds": {"type": "integer", "minimum": 1},
                                "requests": {"type": "integer", "minimum": 0},
                                "shed": {"type": "integer", "minimum": 0},
                                "shedShare": {"type": "number", "minimum": 0, "maximum": 1}}}}}}}),
        );
        self.add_schema(
            "LiveDocument",
            json!({"type": "object", "required": ["meta", "jsonapi"], "additionalProperties": false,
                "properties": {"jsonapi": schema("Jsonapi"), "meta": {
                    "type": "object", "required": ["status"], "additionalProperties": false,
                    "properties": {"status": {"const": "ok"}}}}}),
        );
    }

    /// The schemas of one resource type: its resource object and identifier, the documents
    /// that carry them, and (when clients write it) the documents of a create and an update.
    pub(super) fn resource_schemas(&mut self, resource: &Registered) {
        let name = component(resource.type_name);
        let fields = (resource.fields)();
        self.resource_object(resource, &name, &fields);
        self.resource_documents(resource, &name);
        if resource.writable {
            for target in [Target::Create, Target::Update, Target::Add] {
                if target == Target::Add && resource.operable.is_none() {
                    continue;
                }
                let mut object = resource_input(resource.type_name, &fields, target);
                if let (Target::Update, Some((meta, _))) = (target, resource.update_meta) {
                    object["properties"]["meta"] =
                        serde_json::from_str(meta).expect("an update meta schema is JSON");
                }
                self.add_schema(&format!("{name}{}Object", target.suffix()), object);
                if target != Target::Add {
                    self.add_schema(
                        &format!("{name}{}", target.suffix()),
                        input_document(&format!("{name}{}Object", target.suffix())),
                    );
                }
            }
        }
    }

    /// A resource object of the type, as the server writes it.
    fn resource_object(&mut self, resource: &Registered, name: &str, fields: &[FieldSpec<()>]) {
        let mut attributes = Map::new();
        let mut relationships = Map::new();
        for spec in fields {
            match spec.kind {
                Kind::Id | Kind::Code => {}
                Kind::ToManyIds(target) => {
                    relationships.insert(
                        spec.name.into(),
                        json!({"type": "object", "required": ["data"],
                               "additionalProperties": false, "description": spec.doc,
                               "properties": {"data": {"type": "array",
                                   "items": schema(&format!("{}Identifier", component(target)))}}}),
                    );
                }
                Kind::ToOne(target) => {
                    let data = if spec.nullable {
                        json!({"oneOf": [schema(&format!("{}Identifier", component(target))), {"type": "null"}]})
                    } else {
                        schema(&format!("{}Identifier", component(target)))
                    };
                    relationships.insert(
                        spec.name.into(),
                        json!({"type": "object", "required": ["links", "data"],
                               "additionalProperties": false, "description": spec.doc,
                               "properties": {"links": schema("RelationshipLinks"), "data": data}}),
                    );
                }
                _ => {
                    attributes.insert(spec.name.into(), attribute_schema(spec));
                }
            }
        }
        for many in resource.to_many {
            relationships.insert(
                many.name.into(),
                json!({"type": "object", "required": ["links"], "additionalProperties": false,
                       "description": many.doc,
                       "properties": {"links": schema("RelationshipLinks")}}),
            );
        }
        let mut meta = Map::new();
        meta.insert("page".into(), schema("CursorMeta"));
        for custom in custom_parameters(resource.type_name) {
            if let Some(text) = custom.meta {
                meta.insert(
                    custom.name.into(),
                    serde_json::from_str(text).expect("a custom parameter's meta schema"),
                );
            }
        }
        self.add_schema(
            name,
            json!({"type": "object", "required": ["type", "id", "links"],
                "additionalProperties": false, "properties": {
                    "type": {"const": resource.type_name},
                    "id": {"type": "string"},
                    "attributes": {"type": "object", "additionalProperties": false,
                                   "properties": attributes},
                    "relationships": {"type": "object", "additionalProperties": false,
                                      "properties": relationships},
                    "links": schema("Links"),
                    "meta": {"type": "object", "additionalProperties": false, "properties": meta}}}),
        );
        self.add_schema(
            &format!("{name}Identifier"),
            json!({"type": "object", "required": ["type", "id"], "additionalProperties": false,
                   "properties": {"type": {"const": resource.type_name}, "id": {"type": "string"}}}),
        );
    }

    /// The documents that carry resources of the type, and their identifiers.
    fn resource_documents(&mut self, resource: &Registered, name: &str) {
        let included = json!({"type": "array", "items": schema("Resource")});
        for (suffix, data) in [
            ("Document", schema(name)),
            (
                "OrNullDocument",
                json!({"oneOf": [schema(name), {"type": "null"}]}),
            ),
        ] {
            self.add_schema(
                &format!("{name}{suffix}"),
                json!({"type": "object", "required": ["data", "links", "jsonapi"],
                       "additionalProperties": false, "properties": {
                           "data": data, "included": included, "links": schema("Links"),
                           "jsonapi": schema("Jsonapi")}}),
            );
        }
        if let Some((_, meta)) = resource.update_meta {
            let meta: Value = serde_json::from_str(meta).expect("an update meta schema is JSON");
            self.add_schema(
                &format!("{name}UpdatedDocument"),
                json!({"type": "object", "required": ["data", "links", "jsonapi"],
                       "additionalProperties": false, "properties": {
                           "data": schema(name), "included": included, "links": schema("Links"),
                           "meta": meta, "jsonapi": schema("Jsonapi")}}),
            );
        }
        if let Some(meta) = resource.created_meta {
            let meta: Value = serde_json::from_str(meta).expect("a created meta schema is JSON");
            self.add_schema(
                &format!("{name}CreatedDocument"),
                json!({"type": "object", "required": ["data", "links", "jsonapi", "meta"],
                       "additionalProperties": false, "properties": {
                           "data": schema(name), "included": included, "links": schema("Links"),
                           "meta": meta, "jsonapi": schema("Jsonapi")}}),
            );
        }
        self.add_schema(
            &format!("{name}Collection"),
            json!({"type": "object", "required": ["data", "links", "jsonapi"],
                   "additionalProperties": false, "properties": {
                       "data": {"type": "array", "items": schema(name)},
                       "included": included, "links": schema("Links"),
                       "meta": schema("PageMeta"), "jsonapi": schema("Jsonapi")}}),
        );
        for (suffix, data) in [
            ("Linkage", schema(&format!("{name}Identifier"))),
            (
                "OrNullLinkage",
                json!({"oneOf": [schema(&format!("{name}Identifier")), {"type": "null"}]}),
            ),
        ] {
            self.add_schema(
                &format!("{name}{suffix}"),
                json!({"type": "object", "required": ["data", "links", "jsonapi"],
                       "additionalProperties": false, "properties": {
                           "data": data, "links": schema("Links"), "jsonapi": schema("Jsonapi")}}),
            );
        }
        self.add_schema(
            &format!("{name}Linkages"),
            json!({"type": "object", "required": ["data", "links", "jsonapi"],
                   "additionalProperties": false, "properties": {
                       "data": {"type": "array", "items": schema(&format!("{name}Identifier"))},
                       "links": schema("Links"), "meta": schema("PageMeta"),
                       "jsonapi": schema("Jsonapi")}}),
        );
        // What a client sends to link to a resource of this type.
        self.add_schema(
            &format!("{name}IdentifierInput"),
            json!({"type": "object", "required": ["type", "id"], "additionalProperties": false,
                   "properties": {"type": {"const": resource.type_name},
                                  "id": {"type": "string"}, "meta": schema("RequestMeta")}}),
        );
    }

    /// The documents of `/operations`: every operation the server can carry out, each of the
    /// types it writes.
    pub(super) fn operation_schemas(&mut self) {
        let operations: Vec<Value> = RESOURCES
            .iter()
            .filter(|resource| resource.operable.is_some())
            .flat_map(atomic_operations)
            .collect();
        self.add_schema(
            "OperationsDocument",
            json!({"type": "object", "required": ["atomic:operations"], "additionalProperties": false,
                "properties": {
                    "atomic:operations": {"type": "array", "minItems": 1, "maxItems": MAX_OPERATIONS,
                                          "items": {"anyOf": operations}},
                    "meta": schema("RequestMeta"), "jsonapi": schema("RequestMeta"),
                    "links": schema("RequestMeta")},
                "description": "Operations run in order, in one database transaction: all or \
                    nothing. An add's data may carry a lid; later operations name the resource \
                    by it (in ref, or in a relationship's data)."}),
        );
        self.add_schema(
            "ResultsDocument",
            json!({"type": "object", "required": ["atomic:results", "jsonapi"],
                "additionalProperties": false, "properties": {
                    "atomic:results": {"type": "array", "items": {
                        "type": "object", "additionalProperties": false, "properties": {
                            "data": {"description": "The resource an add or update left, or the linkage a relationship update left.",
                                     "anyOf": [schema("Resource"), {"type": "object", "required": ["type", "id"],
                                               "properties": {"type": {"type": "string"}, "id": {"type": "string"}}},
                                               {"type": "null"}]},
                            "meta": {"type": "object"}}}},
                    "links": schema("Links"), "jsonapi": schema("Jsonapi")}}),
        );
    }
}

/// The `ref` of an operation on a resource of this type (`relationship`: of one of its
/// relationships).
fn ref_of(resource: &Registered, relationship: bool) -> Value {
    let mut properties = json!({
        "type": {"const": resource.type_name},
        "id": {"type": "string"},
        "lid": {"type": "string"},
        "meta": schema("RequestMeta"),
    });
    let mut required = vec!["type"];
    if relationship {
        let names: Vec<&str> = (resource.fields)()
            .iter()
            .filter(|spec| spec.is_relationship() && spec.access.update)
            .map(|spec| spec.name)
            .collect();
        properties["relationship"] = json!({"enum": names});
        required.push("relationship");
    }
    json!({"type": "object", "required": required, "additionalProperties": false,
           "properties": properties,
           "oneOf": [{"required": ["id"]}, {"required": ["lid"]}]})
}

/// Every operation the server carries out on resources of this type, as schemas.
fn atomic_operations(resource: &Registered) -> Vec<Value> {
    let mut operations = Vec::new();
    let name = component(resource.type_name);
    let collection = format!("/{}", resource.type_name);
    operations.push(json!({
        "title": format!("add {}", resource.type_name),
        "type": "object", "required": ["op", "data"], "additionalProperties": false,
        "properties": {"op": {"const": "add"}, "href": {"const": collection},
                       "data": schema(&format!("{name}AddObject")),
                       "meta": schema("RequestMeta")}}));
    operations.push(json!({
        "title": format!("update {}", resource.type_name),
        "type": "object", "required": ["op", "ref", "data"], "additionalProperties": false,
        "properties": {"op": {"const": "update"}, "ref": ref_of(resource, false),
                       "data": schema(&format!("{name}UpdateObject")),
                       "meta": schema("RequestMeta")}}));
    operations.push(json!({
        "title": format!("remove {}", resource.type_name),
        "type": "object", "required": ["op", "ref"], "additionalProperties": false,
        "properties": {"op": {"const": "remove"}, "ref": ref_of(resource, false),
                       "meta": schema("RequestMeta")}}));
    let fields = (resource.fields)();
    for spec in fields
        .iter()
        .filter(|spec| spec.is_relationship() && spec.access.update)
    {
        let Kind::ToOne(target) = spec.kind else {
            continue;
        };
        operations.push(json!({
            "title": format!("update the {} of {}", spec.name, resource.type_name),
            "type": "object", "required": ["op", "ref", "data"], "additionalProperties": false,
            "properties": {"op": {"const": "update"}, "ref": ref_of(resource, true),
                           "data": schema(&format!("{}IdentifierInput", component(target))),
                           "meta": schema("RequestMeta")}}));
    }
    operations
}

/// What a document is for, for its schema.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Create,
    Update,
    /// An atomic `add`: a create that may carry a `lid`, and relationships by `lid`.
    Add,
}

impl Target {
    fn suffix(self) -> &'static str {
        match self {
            Target::Create => "Create",
            Target::Update => "Update",
            Target::Add => "Add",
        }
    }
}

/// The resource object of a create or an update: the members a client may write then.
fn resource_input(type_name: &str, fields: &[FieldSpec<()>], target: Target) -> Value {
    let mut attributes = Map::new();
    let mut relationships = Map::new();
    let mut required_attributes = Vec::new();
    let mut required_relationships = Vec::new();
    for spec in fields {
        let writable = match target {
            Target::Create | Target::Add => spec.access.create != Create::No,
            Target::Update => spec.access.update,
        };
        if !writable || spec.is_id() {
            continue;
        }
        let required = target != Target::Update && spec.access.create == Create::Required;
        match spec.kind {
            Kind::ToManyIds(_) | Kind::ToOne(_) => {
                relationships.insert(spec.name.into(), relationship_input(spec, target));
                if required {
                    required_relationships.push(spec.name);
                }
            }
            _ => {
                attributes.insert(spec.name.into(), input_schema(spec));
                if required {
                    required_attributes.push(spec.name);
                }
            }
        }
    }
    let mut properties = json!({
        "type": {"const": type_name},
        "attributes": {"type": "object", "additionalProperties": false,
                       "required": required_attributes, "properties": attributes},
        "relationships": {"type": "object", "additionalProperties": false,
                          "required": required_relationships, "properties": relationships},
        "links": schema("RequestMeta"),
        "meta": schema("RequestMeta"),
    });
    let mut required = vec!["type"];
    match target {
        Target::Update => {
            properties["id"] = json!({"type": "string"});
            required.push("id");
        }
        Target::Add => properties["lid"] = json!({"type": "string"}),
        Target::Create => {}
    }
    if !required_attributes.is_empty() {
        required.push("attributes");
    }
    if !required_relationships.is_empty() {
        required.push("relationships");
    }
    json!({"type": "object", "required": required, "additionalProperties": false,
           "properties": properties})
}

/// A relationship of a create or an update: to-many identifiers, or one identifier (in an
/// atomic `add`, by `lid` too), null when the relationship may name none.
fn relationship_input(spec: &FieldSpec<()>, target: Target) -> Value {
    if let Kind::ToManyIds(related) = spec.kind {
        return json!({"type": "object", "required": ["data"], "additionalProperties": false,
               "description": spec.doc,
               "properties": {"data": {"type": "array", "uniqueItems": true,
                   "items": schema(&format!("{}IdentifierInput", component(related)))},
                   "links": schema("RequestMeta"), "meta": schema("RequestMeta")}});
    }
    let Kind::ToOne(related) = spec.kind else {
        unreachable!("a relationship is to-one or to-many");
    };
    let mut data = schema(&format!("{}IdentifierInput", component(related)));
    if target == Target::Add {
        data = json!({"oneOf": [data, {"type": "object", "required": ["type", "lid"],
            "additionalProperties": false, "properties": {
                "type": {"const": related}, "lid": {"type": "string"},
                "meta": schema("RequestMeta")}}]});
    }
    if spec.nullable {
        data = json!({"oneOf": [data, {"type": "null"}]});
    }
    json!({"type": "object", "required": ["data"], "additionalProperties": false,
           "description": spec.doc,
           "properties": {"data": data, "links": schema("RequestMeta"),
                          "meta": schema("RequestMeta")}})
}

/// The request document of a create or an update, around its resource object.
fn input_document(object: &str) -> Value {
    json!({"type": "object", "required": ["data"], "additionalProperties": false,
           "properties": {"data": schema(object), "meta": schema("RequestMeta"),
                          "jsonapi": schema("RequestMeta"), "links": schema("RequestMeta")}})
}

/// The schema of an attribute as the server writes it.
fn attribute_schema(spec: &FieldSpec<()>) -> Value {
    let mut schema = match spec.kind {
        Kind::Money => schema("Money"),
        Kind::Time => schema("Timestamp"),
        Kind::Count => json!({"type": "integer", "minimum": 0}),
        Kind::Choice(words) => json!({"enum": words}),
        Kind::Words(words) => {
            json!({"type": "array", "items": {"enum": words}, "uniqueItems": true})
        }
        Kind::Text => match spec.accepts {
            Some(Accepts::Text { min, max }) => {
                json!({"type": "string", "minLength": min, "maxLength": max})
            }
            Some(Accepts::Code { pattern, .. }) => json!({"type": "string", "pattern": pattern}),
            _ => json!({"type": "string"}),
        },
        Kind::Id | Kind::Code | Kind::ToOne(_) | Kind::ToManyIds(_) => json!({"type": "string"}),
        Kind::Metadata => json!({"type": "object", "maxProperties": MAX_KEYS,
                                 "additionalProperties": {"type": "string"}}),
        // An event's subject, as its own resource object renders it (without links).
        Kind::Document => json!({"type": "object", "required": ["type", "id", "attributes"],
            "properties": {
                "type": {"enum": ["wallets", "transactions", "holds", "transfers", "exchanges",
                                  "balance-changes", "balance-monitors"]},
                "id": {"type": "string"},
                "attributes": {"type": "object"},
                "relationships": {"type": "object"}}}),
    };
    if spec.nullable {
        schema = json!({"oneOf": [schema, {"type": "null"}]});
    }
    schema["description"] = Value::String(spec.doc.to_string());
    schema
}

/// The schema of an attribute's value as a client may send it.
fn input_schema(spec: &FieldSpec<()>) -> Value {
    let schema = match spec.accepts {
        Some(Accepts::Text { min, max }) => json!({
            "type": "string", "minLength": min, "maxLength": max, "pattern": TEXT}),
        // A string only: the server also reads a JSON number exactly, from its digits, but
        // a document that offers numbers gets generated clients typed for floats.
        Some(Accepts::Decimal {
            integer,
            fraction,
            sign,
        }) => json!({"type": "string",
        "pattern": money_input_pattern(integer, fraction, sign),
        "examples": [match sign {
            Sign::Positive => "30.00",
            Sign::NonZero => "-25.50",
            Sign::NonNegative => "500.00",
            Sign::Any => "100.00",
        }]}),
        Some(Accepts::Code { pattern, .. }) => json!({"type": "string", "pattern": pattern}),
        Some(Accepts::Integer { min, max }) => {
            json!({"type": "integer", "minimum": min, "maximum": max})
        }
        Some(Accepts::Time) => json!({"type": "string", "pattern": format!("^{DATE}{TIME}$")}),
        Some(Accepts::Choice(words)) => json!({"enum": words}),
        Some(Accepts::Words(words)) => json!({"type": "array", "minItems": 1, "uniqueItems": true,
                                              "items": {"enum": words}}),
        Some(Accepts::SomeWords(words)) => json!({"type": "array", "uniqueItems": true,
                                                  "items": {"enum": words}}),
        Some(Accepts::Metadata) => json!({
            "type": "object", "maxProperties": MAX_KEYS,
            "propertyNames": {
                "pattern": format!("^{KEY_CHARACTER}{{1,{MAX_KEY_CHARS}}}$"),
                "not": {"pattern": format!("{}$", regex_escape(EXISTS_SUFFIX))}},
            "additionalProperties": {"oneOf": [
                {"type": "string", "maxLength": MAX_VALUE_CHARS, "pattern": TEXT},
                {"type": "null"}]}}),
        Some(Accepts::Link | Accepts::Links) | None => json!({}),
    };
    // A client gives an attribute a value, never null (an expiry is left out, not null); a
    // nullable relationship may be emptied.
    let mut schema = if spec.nullable && spec.is_relationship() {
        json!({"oneOf": [schema, {"type": "null"}]})
    } else {
        schema
    };
    schema["description"] = Value::String(spec.doc.to_string());
    schema
}

pub(super) fn custom_parameters(type_name: &str) -> Vec<Custom> {
    table()
        .iter()
        .filter_map(|endpoint| match endpoint.operation {
            Operation::Show {
                type_name: shown,
                custom,
            } if shown == type_name => Some(custom.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect()
}
