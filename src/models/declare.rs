//! [`resource!`]: a resource's one declaration.
//!
//! A model file declares its row's fields once:
//!
//! ```text
//! resource! {
//!     Transaction in transactions as "transactions", fields TransactionField {
//!         Variant "jsonName": column, KIND, ACCESS, SORT, filter OPERATORS, "what it means";
//!         ...
//!     }
//!     has_many { "name": "target-type", "what it means"; ... }   (optional)
//!     either { "name": ["field", "field"], "what it means"; ... } (optional: filters on any of)
//!     ways { "out": "field"; "in": "field"; }                    (optional: filter[direction])
//!     feed "field";                            (optional: a feed, always in (field, id) order)
//!     input NewTransaction, TransactionChanges;                  (writable resources)
//! }
//! ```
//!
//! - KIND: `id` (the primary key, a number, required, ends every sort; a declaration
//!   `keyed by COLUMN` has the kind `code` instead, its key being text, as a currency's `USD`),
//!   `money`, `count` (`small` for a smallint column), `text`,
//!   `time`, `choice(WORDS)`, `to_one("target-type")`; `opt_money`, `opt_count`, `opt_text`,
//!   `opt_time`, `opt_to_one(...)` for nullable columns; `to_code(...)` for a to-one whose
//!   target is keyed by a code. The row struct has a field named as
//!   the column, of the kind's Rust type (`i64`, `BigDecimal`, `String`, `DateTime<Utc>`, or
//!   an `Option` of it).
//! - ACCESS: `read` (clients never write it), `write(T)` (optional on create, changeable),
//!   `required(T)` (required on create, changeable), `once(T)` (required on create, never
//!   changed), `create(T)` (optional on create, never changed), `update(T)` (changed by
//!   updates only). `T` is the input type the value is read
//!   into ([`Parse`](super::fields::Parse)).
//! - KIND `json`: a jsonb document the server writes (read only, no sort, `filter none`).
//! - KIND `metadata`: a jsonb object of the client's keys (`write(MetadataInput)`, `nosort`,
//!   `filter keys`: `filter[NAME.KEY]` and `filter[NAME.KEY.exists]`).
//! - SORT: `sort`, `nosort`, or `computed` (no sort, and no column: the row struct's
//!   `Selectable` computes it with a `select_expression`; `filter none` only). OPERATORS: `cmp` (`in`, `gt`, `gte`, `lt`, `lte`), `text`
//!   (`in`, `startswith`, `icontains`), `eq` (`in`) or `none`.
//!
//! From it come the field enum, the [`Model`](super::fields::Model) impl (every per-field
//! `match`: SQL conditions, ORDER BY, values for rendering and cursors), the
//! [`Record`](super::fields::Record) impl, and with `input` the structs of a create and an
//! update with the [`Inputs`](super::fields::Inputs) impl that reads them. A field cannot be
//! half-declared: the compiler sees every arm and every struct field.

/// See the [module documentation](self).
macro_rules! resource {
    // A numbered resource: its key is the column `id`, a number.
    (
        $(#[$meta:meta])*
        $model:ident in $table:ident as $type_name:literal, fields $($rest:tt)*
    ) => {
        resource!(@declare [id: i64] $(#[$meta])* $model in $table as $type_name, fields $($rest)*);
    };
    // A resource whose key is a code: the column `KEY`, text.
    (
        $(#[$meta:meta])*
        $model:ident in $table:ident as $type_name:literal keyed by $key:ident, fields $($rest:tt)*
    ) => {
        resource!(@declare [$key: String] $(#[$meta])* $model in $table as $type_name, fields $($rest)*);
    };
    (
        @declare [$key:ident: $key_ty:ty]
        $(#[$meta:meta])*
        $model:ident in $table:ident as $type_name:literal, fields $field:ident {
            $( $variant:ident $name:literal: $column:ident, $kind:ident $(($kind_arg:expr))?,
               $access:ident $(($input:ty))?, $sort:ident, filter $ops:ident, $doc:expr; )+
        }
        $( has_many { $( $many:literal: $many_target:literal, $many_doc:literal; )* } )?
        $( either { $( $either:literal: [$($either_field:literal),+], $either_doc:literal; )* } )?
        $( ways { $( $way:literal: $way_field:literal; )* } )?
        $( feed $feed:literal; )?
        $( input $new:ident, $changes:ident; )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $field {
            $( $variant ),+
        }

        impl $crate::models::fields::Record for $model {
            type Table = $table::table;
            type Id = $key_ty;

            fn id(&self) -> $key_ty {
                self.$key.clone()
            }

            fn find(
                conn: &mut diesel::pg::PgConnection,
                id: &$key_ty,
            ) -> diesel::QueryResult<Option<$model>> {
                use diesel::prelude::*;
                $table::table
                    .filter($table::$key.eq(id))
                    .select($model::as_select())
                    .first(conn)
                    .optional()
            }

            fn find_many(
                conn: &mut diesel::pg::PgConnection,
                ids: &[$key_ty],
            ) -> diesel::QueryResult<Vec<$model>> {
                use diesel::prelude::*;
                $table::table
                    .filter($table::$key.eq_any(ids))
                    .order($table::$key)
                    .select($model::as_select())
                    .load(conn)
            }
        }

        impl $model {
            /// The statement of one page: `filters`, in `sort` order, `limit` rows after
            /// `offset`.
            fn page_query(
                filters: Vec<$crate::models::query::Predicate<$table::table>>,
                sort: &[$crate::models::query::SortKey<$field>],
                limit: i64,
                offset: i64,
            ) -> $table::BoxedQuery<
                'static,
                diesel::pg::Pg,
                diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<$model, diesel::pg::Pg>>,
            > {
                use diesel::prelude::*;
                $model::paged(
                    $table::table.select($model::as_select()).into_boxed(),
                    filters,
                    sort,
                    limit,
                    offset,
                )
            }

            /// `query` narrowed to one page: `filters`, in `sort` order, `limit` rows after
            /// `offset`.
            fn paged<ST: 'static>(
                mut query: $table::BoxedQuery<'static, diesel::pg::Pg, ST>,
                filters: Vec<$crate::models::query::Predicate<$table::table>>,
                sort: &[$crate::models::query::SortKey<$field>],
                limit: i64,
                offset: i64,
            ) -> $table::BoxedQuery<'static, diesel::pg::Pg, ST> {
                use diesel::prelude::*;
                use $crate::models::query::Direction;
                for filter in filters {
                    query = query.filter(filter);
                }
                for key in sort {
                    query = match key.field {
                        $( $field::$variant => {
                            resource!(@order $sort, query, key.direction, $table::$column)
                        } )+
                    };
                }
                query = query.limit(limit);
                if offset > 0 {
                    query = query.offset(offset);
                }
                query
            }
        }

        impl $crate::models::fields::Model for $model {
            type Field = $field;
            const TYPE: &'static str = $type_name;
            const ID: $field = $field::Id;
            const FIELDS: &'static [$crate::models::fields::FieldSpec<$field>] = &[
                $( $crate::models::fields::FieldSpec {
                    name: $name,
                    field: $field::$variant,
                    kind: resource!(@kind $kind $(($kind_arg))?),
                    nullable: resource!(@nullable $kind),
                    access: resource!(@access $access),
                    sortable: resource!(@sort $kind $sort),
                    operators: resource!(@ops $kind $ops),
                    doc: $doc,
                    accepts: resource!(@accepts $access $(($input))?),
                } ),+
            ];
            const TO_MANY: &'static [$crate::models::fields::ToManySpec] = &[
                $($( $crate::models::fields::ToManySpec {
                    name: $many,
                    target: $many_target,
                    doc: $many_doc,
                } ),*)?
            ];
            const WAYS: &'static [$crate::models::fields::Way] = &[
                $($( $crate::models::fields::Way { name: $way, field: $way_field } ),*)?
            ];
            const FEED: Option<&'static str> = resource!(@feed $($feed)?);
            const EITHER: &'static [$crate::models::fields::Either] = &[
                $($( $crate::models::fields::Either {
                    name: $either,
                    fields: &[$($either_field),+],
                    doc: $either_doc,
                } ),*)?
            ];

            fn condition(
                field: $field,
                condition: &$crate::models::query::Condition,
            ) -> Option<$crate::models::query::Predicate<$table::table>> {
                #[allow(unused_imports)]
                use diesel::prelude::*;
                match field {
                    $( $field::$variant => resource!(@condition $kind $ops, $table::$column, condition) ),+
                }
            }

            fn and(
                a: $crate::models::query::Predicate<$table::table>,
                b: $crate::models::query::Predicate<$table::table>,
            ) -> $crate::models::query::Predicate<$table::table> {
                use diesel::prelude::*;
                Box::new(a.and(b))
            }

            fn or(
                a: $crate::models::query::Predicate<$table::table>,
                b: $crate::models::query::Predicate<$table::table>,
            ) -> $crate::models::query::Predicate<$table::table> {
                use diesel::prelude::*;
                Box::new(a.or(b))
            }

            fn value_of(&self, field: $field) -> $crate::models::fields::Value {
                match field {
                    $( $field::$variant => resource!(@value $kind, self.$column) ),+
                }
            }

            fn load(
                conn: &mut diesel::pg::PgConnection,
                filters: Vec<$crate::models::query::Predicate<$table::table>>,
                sort: &[$crate::models::query::SortKey<$field>],
                limit: i64,
                offset: i64,
            ) -> diesel::QueryResult<Vec<$model>> {
                use diesel::prelude::*;
                if offset == 0 {
                    return $model::page_query(filters, sort, limit, offset).load(conn);
                }
                // A numbered page past the first: the ids of its rows first, then those rows.
                // The rows an OFFSET skips are read for their ids only, never for the columns a
                // row computes (its currency, its amounts at the scale).
                let ids: Vec<$key_ty> = $model::paged(
                    $table::table.select($table::$key).into_boxed(),
                    filters,
                    sort,
                    limit,
                    offset,
                )
                .load(conn)?;
                let mut rows = <$model as $crate::models::fields::Record>::find_many(conn, &ids)?;
                rows.sort_by_key(|row| ids.iter().position(|id| *id == row.$key));
                Ok(rows)
            }

            fn page_sql(
                filters: Vec<$crate::models::query::Predicate<$table::table>>,
                sort: &[$crate::models::query::SortKey<$field>],
                limit: i64,
                offset: i64,
            ) -> String {
                diesel::debug_query::<diesel::pg::Pg, _>(
                    &$model::page_query(filters, sort, limit, offset),
                )
                .to_string()
            }

            fn count(
                conn: &mut diesel::pg::PgConnection,
                filters: Vec<$crate::models::query::Predicate<$table::table>>,
            ) -> diesel::QueryResult<i64> {
                use diesel::prelude::*;
                let mut query = $table::table.count().into_boxed();
                for filter in filters {
                    query = query.filter(filter);
                }
                query.get_result(conn)
            }
        }

        resource!(@maybe_inputs [$( $new $changes )?] $model, $field,
                  [$( $variant $column $access $(($input))? , )+]);
    };

    // The input structs and their reading, for a declaration with `input`.
    (@maybe_inputs [] $($rest:tt)*) => {};
    (@maybe_inputs [$new:ident $changes:ident] $model:ident, $field:ident, [$($items:tt)*]) => {
        resource!(@inputs [reader] $model, $field, $new, $changes, [] [] [] [] [] ; $($items)*);
    };

    // The kind of each field, as data.
    (@kind id) => { $crate::models::fields::Kind::Id };
    (@kind code) => { $crate::models::fields::Kind::Code };
    (@kind money) => { $crate::models::fields::Kind::Money };
    (@kind opt_money) => { $crate::models::fields::Kind::Money };
    (@kind count) => { $crate::models::fields::Kind::Count };
    (@kind small) => { $crate::models::fields::Kind::Count };
    (@kind opt_count) => { $crate::models::fields::Kind::Count };
    (@kind text) => { $crate::models::fields::Kind::Text };
    (@kind opt_text) => { $crate::models::fields::Kind::Text };
    (@kind time) => { $crate::models::fields::Kind::Time };
    (@kind opt_time) => { $crate::models::fields::Kind::Time };
    (@kind choice($words:expr)) => { $crate::models::fields::Kind::Choice($words) };
    (@kind to_one($target:expr)) => { $crate::models::fields::Kind::ToOne($target) };
    (@kind words($words:expr)) => { $crate::models::fields::Kind::Words($words) };
    (@kind to_many_ids($target:expr)) => { $crate::models::fields::Kind::ToManyIds($target) };
    (@kind opt_to_one($target:expr)) => { $crate::models::fields::Kind::ToOne($target) };
    (@kind to_code($target:expr)) => { $crate::models::fields::Kind::ToOne($target) };
    (@kind metadata) => { $crate::models::fields::Kind::Metadata };
    (@kind json) => { $crate::models::fields::Kind::Document };

    (@feed) => { None };
    (@feed $feed:literal) => { Some($feed) };

    (@nullable opt_money) => { true };
    (@nullable opt_count) => { true };
    (@nullable opt_text) => { true };
    (@nullable opt_time) => { true };
    (@nullable opt_to_one) => { true };
    (@nullable $kind:ident) => { false };

    // The Rust type of a column's values (an `Option` of it for a nullable one).
    (@rust id) => { i64 };
    (@rust code) => { String };
    (@rust to_code) => { String };
    (@rust money) => { bigdecimal::BigDecimal };
    (@rust opt_money) => { bigdecimal::BigDecimal };
    (@rust count) => { i64 };
    (@rust small) => { i16 };
    (@rust opt_count) => { i64 };
    (@rust text) => { String };
    (@rust opt_text) => { String };
    (@rust choice) => { String };
    (@rust time) => { chrono::DateTime<chrono::Utc> };
    (@rust opt_time) => { chrono::DateTime<chrono::Utc> };
    (@rust to_one) => { i64 };
    (@rust words) => { Vec<String> };
    (@rust to_many_ids) => { Vec<i64> };
    (@rust opt_to_one) => { i64 };
    (@rust metadata) => { serde_json::Value };
    (@rust json) => { serde_json::Value };

    (@value id, $e:expr) => { $crate::models::fields::Value::Id($e) };
    (@value code, $e:expr) => { $crate::models::fields::Value::Text($e.clone()) };
    (@value to_code, $e:expr) => { $crate::models::fields::Value::Text($e.clone()) };
    (@value money, $e:expr) => { $crate::models::fields::Value::Decimal($e.clone()) };
    (@value count, $e:expr) => { $crate::models::fields::Value::Id($e) };
    (@value small, $e:expr) => { $crate::models::fields::Value::Id(i64::from($e)) };
    (@value text, $e:expr) => { $crate::models::fields::Value::Text($e.clone()) };
    (@value choice, $e:expr) => { $crate::models::fields::Value::Text($e.to_string()) };
    (@value time, $e:expr) => { $crate::models::fields::Value::Time($e) };
    (@value to_one, $e:expr) => { $crate::models::fields::Value::Id($e) };
    (@value words, $e:expr) => { $crate::models::fields::Value::Words($e.clone()) };
    (@value to_many_ids, $e:expr) => { $crate::models::fields::Value::Ids($e.clone()) };
    (@value metadata, $e:expr) => { $crate::models::fields::Value::Json($e.clone()) };
    (@value json, $e:expr) => { $crate::models::fields::Value::Json($e.clone()) };
    (@value opt_money, $e:expr) => {
        $e.clone().map_or($crate::models::fields::Value::Null, $crate::models::fields::Value::Decimal)
    };
    (@value opt_count, $e:expr) => {
        $e.map_or($crate::models::fields::Value::Null, $crate::models::fields::Value::Id)
    };
    (@value opt_text, $e:expr) => {
        $e.clone().map_or($crate::models::fields::Value::Null, $crate::models::fields::Value::Text)
    };
    (@value opt_time, $e:expr) => {
        $e.map_or($crate::models::fields::Value::Null, $crate::models::fields::Value::Time)
    };
    (@value opt_to_one, $e:expr) => {
        $e.map_or($crate::models::fields::Value::Null, $crate::models::fields::Value::Id)
    };

    (@access read) => { $crate::models::fields::Access { create: $crate::models::fields::Create::No, update: false } };
    (@access write) => { $crate::models::fields::Access { create: $crate::models::fields::Create::Optional, update: true } };
    (@access required) => { $crate::models::fields::Access { create: $crate::models::fields::Create::Required, update: true } };
    (@access once) => { $crate::models::fields::Access { create: $crate::models::fields::Create::Required, update: false } };
    (@access create) => { $crate::models::fields::Access { create: $crate::models::fields::Create::Optional, update: false } };
    (@access update) => { $crate::models::fields::Access { create: $crate::models::fields::Create::No, update: true } };

    (@accepts read) => { None };
    (@accepts $access:ident ($input:ty)) => { Some(<$input as $crate::parse::Parse>::ACCEPTS) };

    (@sort opt_money sort) => { compile_error!("a nullable field cannot sort (keyset pages need a value)") };
    (@sort opt_count sort) => { compile_error!("a nullable field cannot sort (keyset pages need a value)") };
    (@sort opt_text sort) => { compile_error!("a nullable field cannot sort (keyset pages need a value)") };
    (@sort opt_time sort) => { compile_error!("a nullable field cannot sort (keyset pages need a value)") };
    (@sort opt_to_one sort) => { compile_error!("a nullable field cannot sort (keyset pages need a value)") };
    (@sort words sort) => { compile_error!("a set of words cannot sort") };
    (@sort to_many_ids sort) => { compile_error!("a to-many relationship cannot sort") };
    (@sort metadata sort) => { compile_error!("metadata does not sort") };
    (@sort json sort) => { compile_error!("a JSON document does not sort") };
    (@sort $kind:ident sort) => { true };

    (@sort $kind:ident computed) => { false };

    // A sort key's ORDER BY. A field clients cannot sort by may still lead a page's order
    // (the wallet of a wallet's transactions, for its index); a computed one never does, and
    // is no column (the row's select computes it).
    (@order computed, $query:ident, $direction:expr, $column:expr) => {{
        let _ = $direction;
        $query
    }};
    (@order $sort:ident, $query:ident, $direction:expr, $column:expr) => {
        match $direction {
            Direction::Asc => $query.then_order_by($column.asc()),
            Direction::Desc => $query.then_order_by($column.desc()),
        }
    };
    (@sort $kind:ident nosort) => { false };

    (@ops text text) => { Some(&["in", "startswith", "icontains"]) };
    (@ops opt_text text) => { Some(&["in", "startswith", "icontains"]) };
    (@ops $kind:ident text) => { compile_error!("filter text needs a text column") };
    (@ops words $ops:ident) => { resource!(@unfiltered $ops) };
    (@ops to_many_ids $ops:ident) => { resource!(@unfiltered $ops) };
    (@ops metadata keys) => { Some(&[]) };
    (@ops metadata $ops:ident) => { compile_error!("metadata filters by key: filter keys") };
    (@ops $kind:ident keys) => { compile_error!("filter keys is for metadata") };
    (@ops $kind:ident cmp) => { Some(&["in", "gt", "gte", "lt", "lte"]) };
    (@ops $kind:ident eq) => { Some(&["in"]) };
    (@ops $kind:ident none) => { None };

    (@unfiltered none) => { None };
    (@unfiltered $ops:ident) => { compile_error!("sets of words and to-many relationships do not filter") };

    (@condition $kind:ident none, $column:expr, $condition:expr) => {{
        let _ = $condition;
        None
    }};
    // filter[metadata.KEY]=a,b: containment of {KEY: a} or {KEY: b} (the GIN index);
    // filter[metadata.KEY.exists]: the key operator.
    (@condition metadata keys, $column:expr, $condition:expr) => {{
        use diesel::prelude::*;
        use $crate::models::query::{Condition, Predicate};
        match $condition {
            Condition::MetadataIn { key, values } => values
                .iter()
                .map(|value| {
                    Box::new($column.contains(serde_json::json!({ key.as_str(): value })))
                        as Predicate<_>
                })
                .reduce(|a, b| Box::new(a.or(b)) as Predicate<_>),
            Condition::MetadataHas { key, present: true } => {
                Some(Box::new($column.has_key(key.clone())) as Predicate<_>)
            }
            Condition::MetadataHas { key, present: false } => {
                Some(Box::new(diesel::dsl::not($column.has_key(key.clone()))) as Predicate<_>)
            }
            _ => None,
        }
    }};
    (@condition $kind:ident text, $column:expr, $condition:expr) => {{
        use $crate::models::keyset::like_literal;
        use $crate::models::query::Condition;
        match $condition {
            Condition::StartsWith(prefix) => Some(Box::new(
                $column.like(format!("{}%", like_literal(prefix))).escape('\\'),
            ) as $crate::models::query::Predicate<_>),
            Condition::IContains(text) => Some(Box::new(
                $column.ilike(format!("%{}%", like_literal(text))).escape('\\'),
            ) as $crate::models::query::Predicate<_>),
            other => resource!(@compare $kind, $column, other),
        }
    }};
    // A nullable column compares as its values: NULL matches no condition.
    (@condition opt_to_one $ops:ident, $column:expr, $condition:expr) => {{
        use diesel::NullableExpressionMethods;
        resource!(@compare opt_to_one, $column.assume_not_null(), $condition)
    }};
    (@condition opt_time $ops:ident, $column:expr, $condition:expr) => {{
        use diesel::NullableExpressionMethods;
        resource!(@compare opt_time, $column.assume_not_null(), $condition)
    }};
    (@condition $kind:ident $ops:ident, $column:expr, $condition:expr) => {
        resource!(@compare $kind, $column, $condition)
    };

    (@compare $kind:ident, $column:expr, $condition:expr) => {{
        use $crate::models::fields::FromValue;
        use $crate::models::query::{Condition, Op, Predicate};
        type Rust = resource!(@rust $kind);
        match $condition {
            Condition::Compare(op, value) => {
                let value = Rust::from_value(value)?;
                let predicate: Predicate<_> = match op {
                    Op::Eq => Box::new($column.eq(value)),
                    Op::Gt => Box::new($column.gt(value)),
                    Op::Gte => Box::new($column.ge(value)),
                    Op::Lt => Box::new($column.lt(value)),
                    Op::Lte => Box::new($column.le(value)),
                };
                Some(predicate)
            }
            Condition::In(values) => {
                Some(Box::new($column.eq_any(Rust::all(values)?)) as Predicate<_>)
            }
            _ => None,
        }
    }};

    // The input structs, munched field by field: [new's fields] [changes' fields] [new's
    // reads] [new's initialisers] [changes' initialisers].
    (@inputs [$r:ident] $model:ident, $field:ident, $new:ident, $changes:ident,
     [$($nf:tt)*] [$($cf:tt)*] [$($nl:tt)*] [$($ni:tt)*] [$($ci:tt)*] ; ) => {
        /// Every value a create gives, checked.
        #[derive(Debug, Clone)]
        pub struct $new { $($nf)* }

        /// What an update changes, checked (`None`: unchanged).
        #[derive(Debug, Clone, Default)]
        pub struct $changes { $($cf)* }

        impl $crate::models::fields::Inputs for $model {
            type New = $new;
            type Changes = $changes;

            fn read_new(
                $r: &mut impl $crate::models::fields::Reader<$field>,
            ) -> Option<$new> {
                $($nl)*
                Some($new { $($ni)* })
            }

            fn read_changes(
                $r: &mut impl $crate::models::fields::Reader<$field>,
            ) -> $changes {
                #[allow(unused_imports)]
                use $crate::models::fields::Reader;
                $changes { $($ci)* }
            }
        }
    };
    (@inputs [$r:ident] $model:ident, $field:ident, $new:ident, $changes:ident,
     $nf:tt $cf:tt $nl:tt $ni:tt $ci:tt ; $variant:ident $column:ident read, $($rest:tt)*) => {
        resource!(@inputs [$r] $model, $field, $new, $changes, $nf $cf $nl $ni $ci ; $($rest)*);
    };
    (@inputs [$r:ident] $model:ident, $field:ident, $new:ident, $changes:ident,
     [$($nf:tt)*] [$($cf:tt)*] [$($nl:tt)*] [$($ni:tt)*] [$($ci:tt)*] ;
     $variant:ident $column:ident required($input:ty), $($rest:tt)*) => {
        resource!(@inputs [$r] $model, $field, $new, $changes,
            [$($nf)* pub $column: $input,]
            [$($cf)* pub $column: Option<$input>,]
            [$($nl)* let $column = $r.required::<$input>($field::$variant);]
            [$($ni)* $column: $column?,]
            [$($ci)* $column: $r.optional::<$input>($field::$variant),]
            ; $($rest)*);
    };
    (@inputs [$r:ident] $model:ident, $field:ident, $new:ident, $changes:ident,
     [$($nf:tt)*] [$($cf:tt)*] [$($nl:tt)*] [$($ni:tt)*] [$($ci:tt)*] ;
     $variant:ident $column:ident write($input:ty), $($rest:tt)*) => {
        resource!(@inputs [$r] $model, $field, $new, $changes,
            [$($nf)* pub $column: Option<$input>,]
            [$($cf)* pub $column: Option<$input>,]
            [$($nl)* let $column = $r.optional::<$input>($field::$variant);]
            [$($ni)* $column,]
            [$($ci)* $column: $r.optional::<$input>($field::$variant),]
            ; $($rest)*);
    };
    (@inputs [$r:ident] $model:ident, $field:ident, $new:ident, $changes:ident,
     [$($nf:tt)*] $cf:tt [$($nl:tt)*] [$($ni:tt)*] $ci:tt ;
     $variant:ident $column:ident once($input:ty), $($rest:tt)*) => {
        resource!(@inputs [$r] $model, $field, $new, $changes,
            [$($nf)* pub $column: $input,]
            $cf
            [$($nl)* let $column = $r.required::<$input>($field::$variant);]
            [$($ni)* $column: $column?,]
            $ci
            ; $($rest)*);
    };
    (@inputs [$r:ident] $model:ident, $field:ident, $new:ident, $changes:ident,
     [$($nf:tt)*] $cf:tt [$($nl:tt)*] [$($ni:tt)*] $ci:tt ;
     $variant:ident $column:ident create($input:ty), $($rest:tt)*) => {
        resource!(@inputs [$r] $model, $field, $new, $changes,
            [$($nf)* pub $column: Option<$input>,]
            $cf
            [$($nl)* let $column = $r.optional::<$input>($field::$variant);]
            [$($ni)* $column,]
            $ci
            ; $($rest)*);
    };
    (@inputs [$r:ident] $model:ident, $field:ident, $new:ident, $changes:ident,
     $nf:tt [$($cf:tt)*] $nl:tt $ni:tt [$($ci:tt)*] ;
     $variant:ident $column:ident update($input:ty), $($rest:tt)*) => {
        resource!(@inputs [$r] $model, $field, $new, $changes,
            $nf
            [$($cf)* pub $column: Option<$input>,]
            $nl
            $ni
            [$($ci)* $column: $r.optional::<$input>($field::$variant),]
            ; $($rest)*);
    };
}
pub(crate) use resource;
