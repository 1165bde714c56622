//! What a resource declares about each of its fields, once, with [`resource!`]: the name
//! clients use, the kind of value, who may write it and when, whether it sorts, which filter
//! operators it takes, and what it means. Rendering, input checks, filters, sorts, cursors and
//! the OpenAPI schemas are all read from these declarations (`api/`), so a field cannot be
//! shown but not documented, or documented but refused.
//!
//! [`resource!`]: crate::models::declare::resource

use crate::parse::{Accepts, Input, Parse};
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::pg::PgConnection;

use super::query::{Condition, Predicate, SortKey};

/// What kind of value a field holds: how it is written out, filtered and documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The resource's own id, a number (shown as the resource object's `id`, not as an
    /// attribute).
    Id,
    /// The resource's own id when it is a code (a currency's `USD`): text.
    Code,
    /// An exact decimal with 18 fractional digits, written as a string.
    Money,
    /// A whole number.
    Count,
    Text,
    Time,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A set of these words (an array column).
    Words(&'static [&'static str]),
    /// A to-one relationship: the column holds the id of a resource of this type.
    ToOne(&'static str),
    /// A to-many relationship shown with its data: the column holds the ids (an array) of a
    /// few resources of this type.
    ToManyIds(&'static str),
    /// A client's own keys and values (a jsonb object of strings), filtered by key.
    Metadata,
    /// A JSON document the server writes (an event's data).
    Document,
}

/// Which typed value a field's filters and cursors take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Id,
    Decimal,
    Text,
    Time,
}

impl Kind {
    /// The kind of the typed values its filters and cursors take (none: it neither filters
    /// nor sorts).
    pub fn value_kind(self) -> Option<ValueKind> {
        Some(match self {
            Kind::Id | Kind::Count | Kind::ToOne(_) => ValueKind::Id,
            Kind::Money => ValueKind::Decimal,
            Kind::Text | Kind::Code | Kind::Choice(_) => ValueKind::Text,
            Kind::Time => ValueKind::Time,
            Kind::Words(_) | Kind::ToManyIds(_) | Kind::Metadata | Kind::Document => return None,
        })
    }
}

/// Whether a client may give a field when it creates a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    No,
    Optional,
    Required,
}

/// Who writes a field and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub create: Create,
    /// Whether an update may change it.
    pub update: bool,
}

impl Access {
    pub fn writable(&self) -> bool {
        self.create != Create::No || self.update
    }
}

/// One field of a resource, as [`resource!`](crate::models::declare::resource) declares it.
#[derive(Debug)]
pub struct FieldSpec<F: 'static> {
    /// The name clients use: the member of the resource object, of `fields[TYPE]`,
    /// `filter[...]` and `sort`.
    pub name: &'static str,
    pub field: F,
    pub kind: Kind,
    /// Whether the value may be absent (`null`).
    pub nullable: bool,
    pub access: Access,
    pub sortable: bool,
    /// The operators of `filter[name.OP]`; `None` when the field cannot be filtered.
    /// Plain `filter[name]=a,b` (equal to any of) goes with every filterable field.
    pub operators: Option<&'static [&'static str]>,
    /// What the field means, for the documentation and for the answer to a client that
    /// writes it when it may not.
    pub doc: &'static str,
    /// What a client may send for it, when it may write it.
    pub accepts: Option<Accepts>,
}

impl<F> FieldSpec<F> {
    /// The same declaration, for code that does not know the field enum.
    pub fn erased(&self) -> FieldSpec<()> {
        FieldSpec {
            name: self.name,
            field: (),
            kind: self.kind,
            nullable: self.nullable,
            access: self.access,
            sortable: self.sortable,
            operators: self.operators,
            doc: self.doc,
            accepts: self.accepts,
        }
    }

    /// Shown as a relationship (rather than an attribute, or as the resource's id).
    pub fn is_relationship(&self) -> bool {
        matches!(self.kind, Kind::ToOne(_) | Kind::ToManyIds(_))
    }

    /// The resource's own id (shown as the resource object's `id`).
    pub fn is_id(&self) -> bool {
        matches!(self.kind, Kind::Id | Kind::Code)
    }

    pub fn is_attribute(&self) -> bool {
        !self.is_relationship() && !self.is_id()
    }
}

/// A to-many relationship of a resource: its children of type `target`, shown with links
/// only (there may be millions) and read through its related URL as a full collection.
#[derive(Debug)]
pub struct ToManySpec {
    pub name: &'static str,
    pub target: &'static str,
    pub doc: &'static str,
}

/// A filter on either of several to-one fields: `filter[NAME]=ID` keeps the rows where any of
/// `fields` holds it (a transfer's `wallet`: its source or its destination).
#[derive(Debug)]
pub struct Either {
    pub name: &'static str,
    pub fields: &'static [&'static str],
    pub doc: &'static str,
}

/// A way a child relates to the parent of its collection, when it has several to-one fields
/// to that parent's type: `filter[direction]=out` keeps a wallet's transfers whose `source`
/// it is.
#[derive(Debug)]
pub struct Way {
    pub name: &'static str,
    pub field: &'static str,
}

/// A typed value of a field: written out, a filter operand or a cursor component.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Id(i64),
    Decimal(BigDecimal),
    Text(String),
    Time(DateTime<Utc>),
    /// A set of words, or of ids (rendered, never filtered).
    Words(Vec<String>),
    Ids(Vec<i64>),
    /// A JSON object (metadata).
    Json(serde_json::Value),
    Null,
}

impl Value {
    /// The kind of a value that is not null.
    pub fn kind(&self) -> Option<ValueKind> {
        Some(match self {
            Value::Id(_) => ValueKind::Id,
            Value::Decimal(_) => ValueKind::Decimal,
            Value::Text(_) => ValueKind::Text,
            Value::Time(_) => ValueKind::Time,
            Value::Words(_) | Value::Ids(_) | Value::Json(_) | Value::Null => return None,
        })
    }
}

/// Typed extraction of a [`Value`], used to bind operands to a column's own type.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
    fn all(values: &[Value]) -> Option<Vec<Self>> {
        values.iter().map(Self::from_value).collect()
    }
}

macro_rules! from_value {
    ($type:ty, $variant:ident) => {
        impl FromValue for $type {
            fn from_value(value: &Value) -> Option<Self> {
                match value {
                    Value::$variant(v) => Some(v.clone()),
                    _ => None,
                }
            }
        }
    };
}
from_value!(i64, Id);

/// A smallint column compares with any whole number: one beyond its range is clamped to it,
/// which keeps every comparison's answer (no row holds a value past the range).
impl FromValue for i16 {
    fn from_value(value: &Value) -> Option<i16> {
        match value {
            Value::Id(number) => {
                Some((*number).clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16)
            }
            _ => None,
        }
    }
}
from_value!(BigDecimal, Decimal);
from_value!(String, Text);
from_value!(DateTime<Utc>, Time);

/// Reads the values of a document's writable fields, recording every problem it meets
/// (implemented by the API layer over a request document).
pub trait Reader<F> {
    /// The value of `field` when the document gives it and it parses.
    fn optional<T: Parse>(&mut self, field: F) -> Option<T>;
    /// The same, a missing value being a problem too.
    fn required<T: Parse>(&mut self, field: F) -> Option<T>;
}

/// The primary key of a record: a number (a wallet's `7`) or a code (a currency's `USD`).
/// Where types are erased (included resources, atomic operations), an id travels as the
/// text of the resource object's `id` and is parsed back here.
pub trait Key:
    Clone + Eq + Ord + std::hash::Hash + std::fmt::Display + std::fmt::Debug + Send + Sync + 'static
{
    /// The key `text` names, if a record can have it: anything else is simply not found.
    fn from_id(text: &str) -> Option<Self>;
    /// The key as a filter operand or cursor component.
    fn value(&self) -> Value;
}

impl Key for i64 {
    fn from_id(text: &str) -> Option<i64> {
        text.parse::<i64>().ok().filter(|id| *id > 0)
    }

    fn value(&self) -> Value {
        Value::Id(*self)
    }
}

/// The longest code a record may have as its key.
const MAX_CODE: usize = 64;

impl Key for String {
    fn from_id(text: &str) -> Option<String> {
        (!text.is_empty()
            && text.len() <= MAX_CODE
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| text.to_string())
    }

    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}

/// A row type with an `id`, read by id.
pub trait Record: Sized + Send + 'static {
    type Table: 'static;
    /// Its primary key's type.
    type Id: Key;
    fn id(&self) -> Self::Id;
    fn find(conn: &mut PgConnection, id: &Self::Id) -> QueryResult<Option<Self>>;
    /// The rows with these ids (those that exist), in id order.
    fn find_many(conn: &mut PgConnection, ids: &[Self::Id]) -> QueryResult<Vec<Self>>;
}

/// A declared resource: its type, its fields, and how each maps to SQL. Implemented by
/// [`resource!`](crate::models::declare::resource).
pub trait Model: Record {
    type Field: Copy + Eq + std::fmt::Debug + Send + Sync + 'static;

    /// The JSON:API type (`wallets`).
    const TYPE: &'static str;
    /// The unique field that ends every sort.
    const ID: Self::Field;
    /// Every field, in the order the declaration gives them.
    const FIELDS: &'static [FieldSpec<Self::Field>];
    /// The to-many relationships.
    const TO_MANY: &'static [ToManySpec];
    /// The filters on either of several fields.
    const EITHER: &'static [Either] = &[];
    /// The ways it relates to a parent it has several to-one fields to (`filter[direction]`
    /// of the parent's collection of them).
    const WAYS: &'static [Way] = &[];
    /// A feed: read in the order of this field then the id, by cursor only (no `sort`, no
    /// page numbers).
    const FEED: Option<&'static str> = None;

    /// The declaration of `field`.
    fn spec(field: Self::Field) -> &'static FieldSpec<Self::Field> {
        Self::FIELDS
            .iter()
            .find(|spec| spec.field == field)
            .expect("every field is declared")
    }

    /// The SQL of `condition` on `field`, or `None` when the condition does not fit the
    /// field's kind (the parser refuses those first).
    fn condition(field: Self::Field, condition: &Condition) -> Option<Predicate<Self::Table>>;
    /// `a AND b`, `a OR b` (diesel's operators need the concrete table).
    fn and(a: Predicate<Self::Table>, b: Predicate<Self::Table>) -> Predicate<Self::Table>;
    fn or(a: Predicate<Self::Table>, b: Predicate<Self::Table>) -> Predicate<Self::Table>;
    /// The value of `field` in this row.
    fn value_of(&self, field: Self::Field) -> Value;

    /// Rows matching all `filters`, in `sort` order, `limit` rows after skipping `offset`.
    fn load(
        conn: &mut PgConnection,
        filters: Vec<Predicate<Self::Table>>,
        sort: &[SortKey<Self::Field>],
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Self>>;
    /// The SQL `load` sends, with its binds (diesel's `debug_query`).
    fn page_sql(
        filters: Vec<Predicate<Self::Table>>,
        sort: &[SortKey<Self::Field>],
        limit: i64,
        offset: i64,
    ) -> String;
    /// How many rows match all `filters`.
    fn count(conn: &mut PgConnection, filters: Vec<Predicate<Self::Table>>) -> QueryResult<i64>;
}

/// A resource clients write: the checked values of a create and of an update, read from a
/// document field by field as the declaration says. Implemented by
/// [`resource!`](crate::models::declare::resource) for a declaration with `input`.
pub trait Inputs: Model {
    /// Every field a create gives (the required ones present).
    type New: Send + Sync + 'static;
    /// The fields an update may change (`None`: unchanged).
    type Changes: Send + Sync + 'static;

    /// `None` when a problem was recorded.
    fn read_new(reader: &mut impl Reader<Self::Field>) -> Option<Self::New>;
    fn read_changes(reader: &mut impl Reader<Self::Field>) -> Self::Changes;
}

/// The id of a to-one relationship, once the API layer resolved its linkage.
impl Parse for i64 {
    const ACCEPTS: Accepts = Accepts::Link;

    fn parse(input: Input<'_>) -> Result<i64, String> {
        match input {
            Input::Link(Some(id)) => Ok(id),
            Input::Link(None) => Err("this relationship is required".into()),
            Input::Attribute(_) | Input::Links(_) => Err("this is a to-one relationship".into()),
        }
    }
}

/// The id of a to-one relationship that may be `null` (none).
impl Parse for Option<i64> {
    const ACCEPTS: Accepts = Accepts::Link;

    fn parse(input: Input<'_>) -> Result<Option<i64>, String> {
        match input {
            Input::Link(id) => Ok(id),
            Input::Attribute(_) | Input::Links(_) => Err("this is a to-one relationship".into()),
        }
    }
}

/// The ids of a to-many relationship, once the API layer resolved its linkage.
impl Parse for Vec<i64> {
    const ACCEPTS: Accepts = Accepts::Links;

    fn parse(input: Input<'_>) -> Result<Vec<i64>, String> {
        match input {
            Input::Links(ids) => Ok(ids.to_vec()),
            _ => {
                Err("this is a to-many relationship: give an array of resource identifiers".into())
            }
        }
    }
}
