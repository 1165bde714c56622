//! The parameters of the document: the query parameters of collections (`include`,
//! `fields[TYPE]`, `sort`, `page`, the filters) and the headers requests may send.

use serde_json::{Value, json};

use super::patterns::{
    ID, IDEMPOTENCY_KEY, LSN_OR_NONE, bounded_list, decimal_pattern, distinct_keys, one_of,
    optional_list, regex_escape, time_pattern,
};
use super::{Builder, reference, replayable};
use crate::api::listing::{MAX_FILTER_DIGITS, MAX_FILTER_VALUES, WAY_FILTER, filter_chars};
use crate::api::routes::{Endpoint, Operation};
use crate::api::{RESOURCES, Registered, registered};
use crate::jsonapi::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_NUMBER, MAX_PAGE_SIZE};
use crate::models::fields::{FieldSpec, Kind};
use crate::models::metadata::{EXISTS_SUFFIX, KEY_CHARACTER, MAX_KEY_CHARS, MAX_VALUE_CHARS};

/// What a balance history takes: the buckets' size and the range.
fn history_parameters() -> Vec<Value> {
    use crate::api::resources::balance_history::{GTE, LT, MOST_BUCKETS};
    let time = json!({"type": "string", "pattern": format!("^{}$", time_pattern())});
    vec![
        json!({"name": "bucketSize", "in": "query",
               "description": "The buckets' width: 1m, 1h (when not given) or 1d.",
               "schema": {"enum": crate::models::balance_bucket::SIZES}}),
        json!({"name": GTE, "in": "query", "schema": time,
               "description": format!("From the bucket holding this time (RFC 3339, or a \
                   date); by default 100 buckets before {LT}. At most {MOST_BUCKETS} buckets.")}),
        json!({"name": LT, "in": "query", "schema": time,
               "description": "To the last bucket starting before this time; by default the \
                   end of the current bucket."}),
    ]
}

impl Builder {
    /// The query and header parameters an endpoint takes.
    pub(super) fn parameters(&mut self, endpoint: &Endpoint) -> Vec<Value> {
        let mut parameters = vec![reference("parameters", "xRequestId")];
        self.parameters.insert(
            "xRequestId".into(),
            json!({"name": "X-Request-Id", "in": "header",
                   "description": "The request's id, for the client's own correlation: the \
                       response's X-Request-Id repeats it, and every log line of the request \
                       names it. Another value, or none, gets a fresh id.",
                   "schema": {"type": "string"}}),
        );
        let operation = &endpoint.operation;
        let listed = match operation {
            Operation::List { type_name } => Some(*type_name),
            Operation::Children { target, .. } | Operation::ChildLinkage { target, .. } => {
                Some(*target)
            }
            _ => None,
        };
        let shown = match operation {
            Operation::List { type_name }
            | Operation::Show { type_name, .. }
            | Operation::Create { type_name }
            | Operation::Update { type_name } => Some(*type_name),
            Operation::Children { target, .. } => Some(*target),
            _ => None,
        };
        if !operation.is_jsonapi() || matches!(operation, Operation::Refused { .. }) {
            return parameters;
        }
        if matches!(operation, Operation::Health | Operation::Live) {
            return parameters;
        }
        if matches!(operation, Operation::BalanceHistory) {
            parameters.extend(history_parameters());
        } else {
            parameters.push(include_parameter(shown));
            for resource in RESOURCES {
                parameters.push(self.fields_parameter(resource));
            }
        }
        if let Some(type_name) = listed {
            let resource = registered(type_name).expect("a registered type");
            // A feed comes in its one order, by cursor only.
            if resource.feed.is_none() {
                parameters.push(sort_parameter(resource));
            }
            parameters.extend(page_parameters(resource.feed.is_none()));
            if resource.feed.is_some() {
                parameters.push(json!({"name": "Last-Event-ID", "in": "header",
                    "description": "With Accept: text/event-stream: the id of the last event \
                        received (its cursor); the stream resumes after it.",
                    "schema": {"type": "string", "minLength": 1}}));
            }
            for (key, filter) in filter_parameters(resource)
                .into_iter()
                .chain(metadata_filter_parameter(resource))
            {
                parameters.push(reference("parameters", &key));
                self.parameters.insert(key, filter);
            }
        }
        // How the children of a parent relate to it, where they do in several ways.
        if let Operation::Children { target, parent, .. }
        | Operation::ChildLinkage { target, parent, .. } = operation
        {
            let resource = registered(target).expect("a registered type");
            // Only where the ways are ways of relating to this parent.
            let fields = (resource.fields)();
            let relate = resource.ways.iter().all(|way| {
                fields
                    .iter()
                    .any(|spec| spec.name == way.field && spec.kind == Kind::ToOne(parent))
            });
            if !resource.ways.is_empty() && relate {
                let names: Vec<&str> = resource.ways.iter().map(|way| way.name).collect();
                let ways: Vec<String> = resource
                    .ways
                    .iter()
                    .map(|way| format!("{} (the {parent} is its {})", way.name, way.field))
                    .collect();
                parameters.push(json!({
                    "name": format!("filter[{WAY_FILTER}]"), "in": "query",
                    "description": format!("Only the {target} that relate to the {parent} \
                        these ways: {}.", ways.join(", ")),
                    "schema": {"type": "string",
                               "pattern": bounded_list(&format!("(?:{})", names.join("|")))}}));
            }
        }
        if let Operation::Show { custom, .. } = operation {
            for custom in *custom {
                parameters.push(json!({
                    "name": custom.name, "in": "query", "description": custom.doc,
                    "schema": {"type": "string", "pattern": format!("^{}$", time_pattern())}}));
            }
        }
        parameters.push(reference("parameters", "walletApiLsn"));
        self.parameters.insert(
            "walletApiLsn".into(),
            json!({"name": "Wallet-Api-Lsn", "in": "header",
                   "description": "The Wallet-Api-Lsn of the client's last write: the request \
                       is served only by a database that holds that write (a standby that has \
                       replayed it, or the primary). Empty: none.",
                   "schema": {"type": "string", "pattern": LSN_OR_NONE}}),
        );
        if replayable(operation) {
            parameters.push(reference("parameters", "idempotencyKey"));
            self.parameters.insert(
                "idempotencyKey".into(),
                json!({"name": "Idempotency-Key", "in": "header",
                       "description": "Makes the write safe to retry: the same key with the same \
                           request replays the first response (24 hours by default).",
                       "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY}}),
            );
        }
        parameters
    }

    fn fields_parameter(&mut self, resource: &Registered) -> Value {
        let name = format!("fields-{}", resource.type_name);
        let members = (resource.members)();
        self.parameters.insert(
            name.clone(),
            json!({"name": format!("fields[{}]", resource.type_name), "in": "query",
                   "description": format!("The members of {} to show (empty: none).", resource.type_name),
                   "schema": {"type": "string", "pattern": optional_list(&one_of(&members))}}),
        );
        reference("parameters", &name)
    }
}

/// The `include` parameter of an endpoint showing resources of this type (none: only the
/// empty value, which asks for an empty `included`).
fn include_parameter(shown: Option<&str>) -> Value {
    let offered: Vec<&str> = shown
        .and_then(registered)
        .map(|resource| {
            (resource.fields)()
                .iter()
                .filter(|spec| spec.is_relationship())
                .map(|spec| spec.name)
                .collect()
        })
        .unwrap_or_default();
    let pattern = if offered.is_empty() {
        "^$".to_string()
    } else {
        optional_list(&one_of(&offered))
    };
    json!({"name": "include", "in": "query",
           "description": if offered.is_empty() { "Nothing can be included here (empty: an empty included)." .to_string() }
                          else { format!("Relationships to include: {} (comma-separated).", offered.join(", ")) },
           "schema": {"type": "string", "pattern": pattern}})
}

fn sort_parameter(resource: &Registered) -> Value {
    let sortable: Vec<&str> = (resource.fields)()
        .iter()
        .filter(|spec| spec.sortable)
        .map(|spec| spec.name)
        .collect();
    json!({"name": "sort", "in": "query",
           "description": format!("Sort keys, comma-separated, each once, - for descending: \
               {}; id always ends the sort (keys after it change nothing).", sortable.join(", ")),
           "schema": {"type": "string", "pattern": format!("^{}$", distinct_keys(&sortable))}})
}

/// `page[size]`, `page[number]`, `page[after]` and `page[before]`, each a parameter of its
/// own name, as clients send them (a generated client gets one argument each). Numbered pages
/// and cursors do not mix, which a document cannot say of separate parameters: each one's
/// description says what it goes with, and the server refuses the rest (400 naming it).
fn page_parameters(numbered: bool) -> Vec<Value> {
    let cursor = |which: &str, other: &str| {
        json!({"name": format!("page[{which}]"), "in": "query",
               "description": format!("A cursor the server gave (a link, or meta.page.cursor) \
                   for the same sort: the page {which} it (the Cursor Pagination profile). Not \
                   with page[{other}] or page[number]."),
               "schema": {"type": "string", "minLength": 1}})
    };
    let mut parameters = vec![json!({"name": "page[size]", "in": "query",
           "description": format!("Resources per page ({DEFAULT_PAGE_SIZE} by default), \
               for either kind of page."),
           "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}})];
    if numbered {
        parameters.push(json!({"name": "page[number]", "in": "query",
               "description": "A numbered page, with the total count in meta (cursor pages are \
                   the default, and cheaper deep down). Not with page[after] or page[before].",
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER}}));
    }
    parameters.extend([cursor("after", "before"), cursor("before", "after")]);
    parameters
}

/// One `filter[FIELD]` and `filter[FIELD.OP]` parameter per field and operator, each value
/// described as the server reads it.
fn filter_parameters(resource: &Registered) -> Vec<(String, Value)> {
    let mut parameters = Vec::new();
    let fields = (resource.fields)();
    // A filter on either of several fields takes the values of the first.
    let either = resource.either.iter().filter_map(|either| {
        let first = fields.iter().find(|spec| spec.name == either.fields[0])?;
        Some(FieldSpec {
            name: either.name,
            doc: either.doc,
            ..first.erased()
        })
    });
    let specs: Vec<FieldSpec<()>> = fields.iter().map(FieldSpec::erased).chain(either).collect();
    for spec in specs {
        let Some(operators) = spec.operators else {
            continue;
        };
        let value = match spec.kind {
            Kind::Id | Kind::Count | Kind::ToOne(_) => ID.to_string(),
            Kind::Money => decimal_pattern(),
            Kind::Time => time_pattern(),
            Kind::Choice(words) => one_of(words),
            Kind::Text | Kind::Code => String::new(),
            Kind::Words(_) | Kind::ToManyIds(_) | Kind::Metadata | Kind::Document => continue,
        };
        for op in std::iter::once(None).chain(operators.iter().map(|op| Some(*op))) {
            let name = match op {
                None => format!("filter[{}]", spec.name),
                Some(op) => format!("filter[{}.{op}]", spec.name),
            };
            let list = matches!(op, None | Some("in"));
            let chars = filter_chars(&spec);
            let pattern = match (spec.kind, list) {
                (Kind::Text | Kind::Code, true) => {
                    bounded_list(&format!("[^,\\u0000]{{0,{chars}}}"))
                }
                (Kind::Text | Kind::Code, false) => format!("^[^\\u0000]{{0,{chars}}}$"),
                (_, true) => bounded_list(&value),
                (_, false) => format!("^{value}$"),
            };
            let mut schema = json!({"type": "string", "pattern": pattern});
            if matches!(spec.kind, Kind::Text | Kind::Code) {
                schema["maxLength"] = json!(if list {
                    (chars + 1) * MAX_FILTER_VALUES - 1
                } else {
                    chars
                });
            }
            let key = format!(
                "filter-{}-{}{}",
                resource.type_name,
                spec.name,
                op.map_or(String::new(), |op| format!("-{op}"))
            );
            parameters.push((
                key,
                json!({"name": name, "in": "query",
                "description": filter_description(&spec, op, list),
                "schema": schema}),
            ));
        }
    }
    parameters
}

/// What a filter parameter means, and how long its values may be.
fn filter_description(spec: &FieldSpec<()>, op: Option<&str>, list: bool) -> String {
    let chars = filter_chars(spec);
    let meaning = match op {
        None | Some("in") => "equal to one of a comma list",
        Some("gt") => "greater than",
        Some("gte") => "at least",
        Some("lt") => "less than",
        Some("lte") => "at most",
        Some("startswith") => "starting with (case-sensitive)",
        Some("icontains") => "containing (ignoring case)",
        Some(other) => other,
    };
    let each = match spec.kind {
        Kind::Text => format!(" of at most {chars} characters"),
        Kind::Money => {
            format!(" of at most {MAX_FILTER_DIGITS} digits before and after the point")
        }
        _ => String::new(),
    };
    let bounds = match (list, spec.kind) {
        (true, _) => format!(" At most {MAX_FILTER_VALUES} values{each}."),
        (false, Kind::Text) => format!(" At most {chars} characters."),
        (false, Kind::Money) => {
            format!(" At most {MAX_FILTER_DIGITS} digits before and after the point.")
        }
        (false, _) => String::new(),
    };
    format!("{}: {meaning}.{bounds}", spec.name)
}

/// `filter[metadata.KEY]` and `filter[metadata.KEY.exists]` of a resource with metadata: the
/// keys are the client's, so no parameter can be named for each. They are the properties of
/// one object parameter in the `form` style, exploded: each property is sent as a query
/// parameter of its own name (`filter[metadata.invoice]=INV-42`), which generated clients do
/// with a dictionary argument. The property names are the whole parameter names, matched by
/// patterns; a name matching several patterns meets all of their schemas, so
/// `filter[metadata.paid.exists]` takes only `true` or `false`, and a name whose key could
/// never be stored takes nothing. `additionalProperties` is a schema rather than `false`, the
/// names bounded by `propertyNames` instead: generators drop every property of an object that
/// allows no additional ones and names none.
fn metadata_filter_parameter(resource: &Registered) -> Option<(String, Value)> {
    let spec = (resource.fields)()
        .into_iter()
        .find(|spec| spec.kind == Kind::Metadata)?;
    let name = regex_escape(spec.name);
    let key = format!("{KEY_CHARACTER}{{1,{MAX_KEY_CHARS}}}");
    let exists = regex_escape(EXISTS_SUFFIX);
    let value = format!("[^,\\u0000]{{0,{MAX_VALUE_CHARS}}}");
    let properties = json!({
        format!("^filter\\[{name}\\.{key}\\]$"): {"type": "string", "pattern": bounded_list(&value),
            "maxLength": (MAX_VALUE_CHARS + 1) * MAX_FILTER_VALUES - 1},
        format!("^filter\\[{name}\\.{key}{exists}\\]$"): {"type": "string", "enum": ["true", "false"]},
        format!("^filter\\[{name}\\.(?:.*{exists})?{exists}\\]$"): false,
    });
    Some((
        format!("filter-{}-{}", resource.type_name, spec.name),
        json!({"name": format!("{}Filters", spec.name), "in": "query", "style": "form", "explode": true,
            "description": format!(
                "Filters by {0} key, each sent as a query parameter of its own: \
                 filter[{0}.KEY]=a,b (KEY holds one of these values; at most \
                 {MAX_FILTER_VALUES} values of at most {MAX_VALUE_CHARS} characters) and \
                 filter[{0}.KEY.exists]=true|false (KEY is there, or is not). KEY is 1 to \
                 {MAX_KEY_CHARS} characters, no control characters or brackets, not ending \
                 {EXISTS_SUFFIX}. The object's property names are the parameter names \
                 ({{\"filter[{0}.invoice]\": \"INV-42\"}}); the name {0}Filters itself is never sent.",
                spec.name),
            "schema": {"type": "object",
                       "propertyNames": {"pattern": format!("^filter\\[{name}\\.{key}(?:{exists})?\\]$")},
                       "patternProperties": properties,
                       "additionalProperties": {"type": "string"}},
            "example": {format!("filter[{}.invoice]", spec.name): "INV-42"}}),
    ))
}
