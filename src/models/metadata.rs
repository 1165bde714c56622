//! Metadata: a client's own keys and values on a resource, a JSON object of strings. The
//! limits are the database's (`metadata_valid` in `migrations/`); they are checked here first
//! so that a client is told which member is wrong.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Jsonb, Nullable, Text};
use serde_json::{Map, Value};

use super::fields::{Model, Value as FieldValue};
use super::query::{Condition, Filter, ListQuery};
use crate::parse::{Accepts, Input, Parse};

/// What a metadata attribute means, for every resource that has one.
pub const METADATA_DOC: &str = "Your own keys and values: an object of at most 50 keys (1 to \
     40 characters; no control characters or brackets; not ending .exists) to strings of at \
     most 500 characters. An update merges: the keys it gives replace or join the stored \
     ones, a key given null is removed, the others stay. Filter with filter[metadata.KEY]=a,b \
     and filter[metadata.KEY.exists]=true|false.";

/// `$column` with the [`MetadataInput`] `$patch` merged in, as SQL: `(column || set) - remove`.
macro_rules! merged {
    ($column:expr, $patch:expr) => {{
        $column
            .concat($patch.object())
            .remove($patch.remove.clone())
    }};
}
pub(crate) use merged;

/// The most keys one object holds.
pub const MAX_KEYS: usize = 50;
/// The most characters of a key.
pub const MAX_KEY_CHARS: usize = 40;
/// The most characters of a value.
pub const MAX_VALUE_CHARS: usize = 500;
/// A character a key may hold, as a pattern: anything but a control character or a bracket.
pub const KEY_CHARACTER: &str = "[^\\[\\]\\u0000-\\u001f\\u007f-\\u009f]";
/// What no key ends with: `filter[metadata.KEY.exists]` asks whether KEY is there.
pub const EXISTS_SUFFIX: &str = ".exists";

/// Why `key` cannot be a metadata key, if it cannot.
pub fn check_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(format!(
            "a metadata key is 1 to {MAX_KEY_CHARS} characters, got {chars}"
        ));
    }
    if key.chars().any(|c| c.is_control() || c == '[' || c == ']') {
        return Err(format!(
            "the metadata key {key:?} holds a control character or a bracket"
        ));
    }
    if key.ends_with(EXISTS_SUFFIX) {
        return Err(format!(
            "the metadata key {key:?} ends with {EXISTS_SUFFIX:?}, which filters keep for \
             filter[metadata.KEY.exists]"
        ));
    }
    Ok(())
}

/// Metadata as a client sends it: keys to set (to these strings) and keys to remove (sent as
/// `null`). A create stores what it sets; an update merges: the keys it sets replace or join
/// the stored ones, those it removes go, the others stay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetadataInput {
    pub set: Map<String, Value>,
    pub remove: Vec<String>,
}

impl MetadataInput {
    /// What it sets, as the JSON object stored.
    pub fn object(&self) -> Value {
        Value::Object(self.set.clone())
    }
}

impl Parse for MetadataInput {
    const ACCEPTS: Accepts = Accepts::Metadata;

    fn parse(input: Input<'_>) -> Result<MetadataInput, String> {
        let Input::Attribute(raw) = input else {
            return Err("metadata is an attribute".into());
        };
        let Ok(Value::Object(members)) = serde_json::from_str::<Value>(raw.get()) else {
            return Err("metadata is a JSON object of string keys to string values".into());
        };
        if members.len() > MAX_KEYS {
            return Err(format!(
                "metadata holds at most {MAX_KEYS} keys, got {}",
                members.len()
            ));
        }
        let mut metadata = MetadataInput::default();
        for (key, value) in members {
            check_key(&key)?;
            match value {
                Value::Null => metadata.remove.push(key),
                Value::String(text) if text.contains('\0') => {
                    return Err(format!(
                        "the value of metadata key {key:?} holds a NUL character, which \
                         PostgreSQL cannot store"
                    ));
                }
                Value::String(text) if text.chars().count() <= MAX_VALUE_CHARS => {
                    metadata.set.insert(key, Value::String(text));
                }
                Value::String(_) => {
                    return Err(format!(
                        "the value of metadata key {key:?} is longer than {MAX_VALUE_CHARS} \
                         characters"
                    ));
                }
                _ => {
                    return Err(format!(
                        "the value of metadata key {key:?} must be a string (or null, to \
                         remove the key)"
                    ));
                }
            }
        }
        Ok(metadata)
    }
}

/// The most rows a metadata filter is read by id for: beyond, the page reads the filter as
/// it stands.
pub const BY_ID_UP_TO: i32 = 1000;

define_sql_function! {
    /// `migrations/`: the visible ids whose metadata holds one of `contains` (or has
    /// `has_key`), at most `cap`; NULL when more match.
    fn metadata_ids(
        resource: Text,
        contains: Nullable<Array<Jsonb>>,
        has_key: Nullable<Text>,
        cap: Int4,
    ) -> Nullable<Array<Int8>>;
}

/// What the GIN index answers for `condition`: the objects any of which the metadata
/// contains (`filter[metadata.KEY]=a,b`), or the key it has (`.exists=true`); `None` for
/// every other condition.
fn indexed(condition: &Condition) -> Option<(Option<Vec<Value>>, Option<String>)> {
    match condition {
        Condition::MetadataIn { key, values } => Some((
            Some(
                values
                    .iter()
                    .map(|value| serde_json::json!({ key.as_str(): value }))
                    .collect(),
            ),
            None,
        )),
        Condition::MetadataHas { key, present: true } => Some((None, Some(key.clone()))),
        _ => None,
    }
}

/// `query` with each metadata filter that an index serves turned into the ids it matches,
/// when they are few; `None` when it has no such filter. The service's role is bound by
/// row-level security, under which PostgreSQL uses no index for `@>` or `?` (they are not
/// leakproof), so the page would otherwise filter every row of its table. The ids come from
/// `metadata_ids`, which reads the GIN index; a page by id reads the primary key.
pub fn by_ids<L: Model>(
    conn: &mut PgConnection,
    query: &ListQuery<L::Field>,
) -> QueryResult<Option<ListQuery<L::Field>>> {
    if !query
        .filters
        .iter()
        .any(|filter| indexed(&filter.condition).is_some())
    {
        return Ok(None);
    }
    let filters = query
        .filters
        .iter()
        .map(|filter| {
            let Some((contains, has_key)) = indexed(&filter.condition) else {
                return Ok(filter.clone());
            };
            let ids: Option<Vec<i64>> =
                diesel::select(metadata_ids(L::TYPE, contains, has_key, BY_ID_UP_TO))
                    .get_result(conn)?;
            Ok(match ids {
                Some(ids) => Filter {
                    field: L::ID,
                    condition: Condition::In(ids.into_iter().map(FieldValue::Id).collect()),
                    either: Vec::new(),
                },
                None => filter.clone(),
            })
        })
        .collect::<QueryResult<_>>()?;
    Ok(Some(ListQuery {
        filters,
        sort: query.sort.clone(),
        page: query.page.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn parse(json: &str) -> Result<MetadataInput, String> {
        let raw = RawValue::from_string(json.to_string()).unwrap();
        MetadataInput::parse(Input::Attribute(&raw))
    }

    #[test]
    fn metadata_is_an_object_of_bounded_strings() {
        let read = parse(r#"{"invoice": "42", "gone": null}"#).unwrap();
        assert_eq!(read.object(), serde_json::json!({"invoice": "42"}));
        assert_eq!(read.remove, vec!["gone".to_string()]);
        for bad in [
            r#"[]"#,
            r#""x""#,
            r#"{"n": 1}"#,
            r#"{"": "x"}"#,
            r#"{"a[b]": "x"}"#,
            r#"{"paid.exists": "x"}"#,
            r#"{"nul": "a\u0000b"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&format!(r#"{{"{}": "x"}}"#, "k".repeat(41))).is_err());
        assert!(parse(&format!(r#"{{"k": "{}"}}"#, "v".repeat(501))).is_err());
        let many: Vec<String> = (0..51).map(|i| format!(r#""k{i}": "v""#)).collect();
        assert!(parse(&format!("{{{}}}", many.join(","))).is_err());
    }
}
