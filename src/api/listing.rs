//! Collections: from `filter`, `sort` and `page` parameters to a [`ListQuery`], and from a
//! [`ListPage`] to pagination links, `meta` and cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::context::Context;
use crate::domain::{TIME_FORMATS, parse_decimal, parse_time};
use crate::jsonapi::ApiError;
use crate::jsonapi::query::{CURSOR_PROFILE, FilterParam, PageParams};
use crate::models::fields::{FieldSpec, Kind, Model, Value as FieldValue, ValueKind};
use crate::models::keyset::cursor_fits;
use crate::models::metadata::{EXISTS_SUFFIX, MAX_VALUE_CHARS, check_key};
use crate::models::query::{
    Condition, Direction, Filter, ListPage, ListQuery, Op, Page, Position, SortKey,
};
use crate::parse::Accepts;

/// A filter operand or cursor component of a field of this kind.
fn parse_value(kind: Kind, text: &str) -> Result<FieldValue, String> {
    if let Kind::Choice(words) = kind
        && !words.contains(&text)
    {
        return Err(format!(
            "{} is not one of {}",
            shortened(text),
            words.join(", ")
        ));
    }
    let Some(value_kind) = kind.value_kind() else {
        return Err("this field takes no values".into());
    };
    match value_kind {
        ValueKind::Id => text
            .parse::<i64>()
            .map(FieldValue::Id)
            .map_err(|_| format!("{} is not an id (a whole number)", shortened(text))),
        ValueKind::Decimal if !within_digits(text) => Err(format!(
            "{} has more than {MAX_FILTER_DIGITS} digits before or after the point",
            shortened(text)
        )),
        ValueKind::Decimal => parse_decimal(text)
            .filter(comparable_decimal)
            .map(FieldValue::Decimal)
            .ok_or_else(|| {
                format!(
                    "{} is not a decimal number PostgreSQL can compare (at most {MAX_INTEGER_DIGITS} \
                     digits before the point and {MAX_FRACTION_DIGITS} after it)",
                    shortened(text)
                )
            }),
        ValueKind::Text => text_value(text).map(FieldValue::Text),
        ValueKind::Time => parse_time(text)
            .map(FieldValue::Time)
            .ok_or_else(|| format!("{} is not a time; {TIME_FORMATS}", shortened(text))),
    }
}

/// Text PostgreSQL can hold: anything but the NUL character.
fn text_value(text: &str) -> Result<String, String> {
    if text.contains('\0') {
        return Err(
            "text cannot contain the NUL character (%00), which PostgreSQL does not store"
                .to_string(),
        );
    }
    Ok(text.to_string())
}

/// The most digits a decimal filter value has before the point, and after it: far beyond any
/// amount or balance (18 and 18), and cheap to compare.
pub const MAX_FILTER_DIGITS: usize = 100;

/// Whether a decimal's digits before and after the point are at most [`MAX_FILTER_DIGITS`]
/// each (its exponent, if any, apart).
fn within_digits(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or_default();
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    integer.len() <= MAX_FILTER_DIGITS && fraction.len() <= MAX_FILTER_DIGITS
}

/// The most digits PostgreSQL's `numeric` holds before and after the decimal point.
const MAX_INTEGER_DIGITS: i64 = 131_072;
const MAX_FRACTION_DIGITS: i64 = 16_383;

/// Whether PostgreSQL can hold `decimal` as a `numeric` to compare a column with.
fn comparable_decimal(decimal: &bigdecimal::BigDecimal) -> bool {
    let (digits, scale) = decimal.as_bigint_and_exponent();
    let integer_digits = digits.to_string().trim_start_matches('-').len() as i64 - scale;
    scale <= MAX_FRACTION_DIGITS && integer_digits <= MAX_INTEGER_DIGITS
}

/// `text` quoted, cut to its first 40 characters if longer (a value may be megabytes).
fn shortened(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{:?}...", &text[..end]),
        None => format!("{text:?}"),
    }
}

fn value_text(value: &FieldValue) -> String {
    match value {
        FieldValue::Id(id) => id.to_string(),
        FieldValue::Decimal(decimal) => decimal.to_plain_string(),
        FieldValue::Text(text) => text.clone(),
        FieldValue::Time(time) => time.to_rfc3339_opts(SecondsFormat::Nanos, true),
        // Never sort keys (the declaration refuses to sort them).
        FieldValue::Words(_) | FieldValue::Ids(_) | FieldValue::Json(_) | FieldValue::Null => {
            String::new()
        }
    }
}

/// The names of the fields `keep` accepts, for error messages.
fn names<F>(fields: &[FieldSpec<F>], keep: impl Fn(&FieldSpec<F>) -> bool) -> String {
    let names: Vec<&str> = fields
        .iter()
        .filter(|spec| keep(spec))
        .map(|spec| spec.name)
        .collect();
    names.join(", ")
}

/// For a wallet-limited key, the condition that keeps a list to its wallets. The database
/// keeps every other row out anyway (row-level security); said in the query too, it lets
/// PostgreSQL read them through the wallet's index rather than filter every row.
fn wallet_limit<L: Model>(context: &Context) -> Option<Filter<L::Field>> {
    let wallets = context.actor.wallets()?;
    let mut fields = L::FIELDS.iter().filter(|spec| match spec.kind {
        Kind::Id => L::TYPE == super::LIMITED_TO,
        Kind::ToOne(target) => target == super::LIMITED_TO && !spec.nullable,
        _ => false,
    });
    // A row of two wallets (a transfer) is the key's when either is: the policy says it.
    let field = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    Some(Filter {
        field: field.field,
        condition: Condition::In(wallets.iter().copied().map(FieldValue::Id).collect()),
        either: Vec::new(),
    })
}

/// `filter[FIELD]`, `filter[FIELD.OP]` as a condition on one of `L`'s fields.
fn filter_of<L: Model>(param: &FilterParam) -> Result<Filter<L::Field>, ApiError> {
    let invalid = |detail: String| ApiError::invalid_parameter(&param.parameter, detail);
    // A filter on either of several fields reads its values as the first one does.
    let (name, either) = match L::EITHER.iter().find(|either| either.name == param.field) {
        Some(either) => (either.fields[0], &either.fields[1..]),
        None => (param.field.as_str(), &[][..]),
    };
    let either: Vec<L::Field> = either
        .iter()
        .filter_map(|name| L::FIELDS.iter().find(|spec| spec.name == *name))
        .map(|spec| spec.field)
        .collect();
    let (spec, operators) = L::FIELDS
        .iter()
        .find_map(|spec| match spec.operators {
            Some(operators) if spec.name == name => Some((spec, operators)),
            _ => None,
        })
        .ok_or_else(|| {
            let mut filters = names(L::FIELDS, |spec| spec.operators.is_some());
            for either in L::EITHER {
                filters = format!("{filters}, {}", either.name);
            }
            invalid(format!(
                "cannot filter on {:?}; filters: {filters}",
                param.field
            ))
        })?;
    if spec.kind == Kind::Metadata {
        return metadata_filter(spec, param).map_err(invalid);
    }
    if let Some(op) = param.op.as_deref().filter(|op| !operators.contains(op)) {
        return Err(invalid(format!(
            "{:?} has no operator {op:?}; operators: {}",
            param.field,
            operators.join(", ")
        )));
    }
    let condition = condition_of(spec, param.op.as_deref(), &param.value)
        .map_err(|why| invalid(format!("{}: {why}", param.parameter)))?;
    Ok(Filter {
        field: spec.field,
        condition,
        either,
    })
}

/// The filter that keeps the children of a parent collection related to it one way
/// (`GET /wallets/7/transfers?filter[direction]=in`).
pub const WAY_FILTER: &str = "direction";

/// Narrows the parent's filter among `filters` (one on several fields: the children of a
/// parent they relate to several ways) to the fields of the ways `param` names.
fn narrow_to_ways<L: Model>(
    filters: &mut [Filter<L::Field>],
    param: &FilterParam,
) -> Result<(), ApiError> {
    let invalid = |detail: String| ApiError::invalid_parameter(&param.parameter, detail);
    let names: Vec<&str> = L::WAYS.iter().map(|way| way.name).collect();
    let Some(scope) = filters.iter_mut().find(|filter| !filter.either.is_empty()) else {
        return Err(invalid(format!(
            "filter[{WAY_FILTER}] keeps a parent's {} by how they relate to it (GET \
             /wallets/{{id}}/{}?filter[{WAY_FILTER}]={}), or those of filter[wallet]",
            L::TYPE,
            L::TYPE,
            names.join(",")
        )));
    };
    if param.op.is_some() {
        return Err(invalid(format!(
            "filter[{WAY_FILTER}] takes no operator: give {}",
            names.join(", ")
        )));
    }
    let mut fields: Vec<L::Field> = Vec::new();
    for value in comma_list(&param.value).map_err(&invalid)? {
        let way = L::WAYS
            .iter()
            .find(|way| way.name == value)
            .ok_or_else(|| {
                invalid(format!(
                    "{} is not one of {}",
                    shortened(value),
                    names.join(", ")
                ))
            })?;
        let field = L::FIELDS
            .iter()
            .find(|spec| spec.name == way.field)
            .expect("a way names a declared field")
            .field;
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    let all: Vec<L::Field> = std::iter::once(scope.field)
        .chain(scope.either.iter().copied())
        .collect();
    fields.retain(|field| all.contains(field));
    if let Some((&first, rest)) = fields.split_first() {
        scope.field = first;
        scope.either = rest.to_vec();
    }
    Ok(())
}

/// `filter[metadata.KEY]=a,b` (KEY holds any of these) or `filter[metadata.KEY.exists]=true`
/// (KEY is there, or with `false` is not).
fn metadata_filter<F: Copy>(spec: &FieldSpec<F>, param: &FilterParam) -> Result<Filter<F>, String> {
    let name = spec.name;
    let Some(target) = param.op.as_deref() else {
        return Err(format!(
            "{name} filters by key: filter[{name}.KEY]=VALUE or filter[{name}.KEY.exists]=true"
        ));
    };
    let condition = match target.strip_suffix(EXISTS_SUFFIX) {
        Some(key) => {
            check_key(key)?;
            let present = match param.value.as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(format!(
                        "{}: give true or false, got {}",
                        param.parameter,
                        shortened(other)
                    ));
                }
            };
            Condition::MetadataHas {
                key: key.to_string(),
                present,
            }
        }
        None => {
            check_key(target)?;
            let values = comma_list(&param.value)?
                .into_iter()
                .map(|value| {
                    let chars = value.chars().count();
                    if chars > MAX_VALUE_CHARS {
                        return Err(format!(
                            "a metadata value is at most {MAX_VALUE_CHARS} characters (no longer \
                             one can match), got {chars}"
                        ));
                    }
                    text_value(value)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Condition::MetadataIn {
                key: target.to_string(),
                values,
            }
        }
    };
    Ok(Filter {
        field: spec.field,
        condition,
        either: Vec::new(),
    })
}

/// The most values one `filter[FIELD]=a,b,...` may list.
pub const MAX_FILTER_VALUES: usize = 100;
/// The most characters of one filter value, on a field whose values have no bound of their
/// own.
pub const MAX_FILTER_CHARS: usize = 255;

/// The most characters a filter value of this text field may have: what the field can hold
/// (a longer value could never match), at most [`MAX_FILTER_CHARS`]. (Values of other kinds
/// are bounded by their form: ids, times, decimals of [`MAX_FILTER_DIGITS`] digits.)
pub fn filter_chars<F>(spec: &FieldSpec<F>) -> usize {
    match spec.accepts {
        Some(Accepts::Text { max, .. } | Accepts::Code { max, .. }) => max.min(MAX_FILTER_CHARS),
        _ => MAX_FILTER_CHARS,
    }
}

/// The values of a comma list (`a,b,c`: any of these), at most [`MAX_FILTER_VALUES`].
fn comma_list(text: &str) -> Result<Vec<&str>, String> {
    let items: Vec<&str> = text.split(',').collect();
    if items.len() > MAX_FILTER_VALUES {
        return Err(format!(
            "at most {MAX_FILTER_VALUES} values, got {}",
            items.len()
        ));
    }
    Ok(items)
}

/// The condition `filter[FIELD.op]=text` asks for on this field (the operator already
/// checked against the field's). What a value may cost the database is bounded: at most
/// [`MAX_FILTER_VALUES`] values, each no longer than the field can hold.
fn condition_of<F>(spec: &FieldSpec<F>, op: Option<&str>, text: &str) -> Result<Condition, String> {
    let (kind, max_chars) = (spec.kind, filter_chars(spec));
    let bounded = |item: &str| {
        let chars = item.chars().count();
        if matches!(kind, Kind::Text | Kind::Code) && chars > max_chars {
            return Err(format!(
                "a value of {} is at most {max_chars} characters (no longer one can match), \
                 got {chars}",
                spec.name
            ));
        }
        Ok(())
    };
    let one = || bounded(text).and_then(|()| parse_value(kind, text));
    let text_pattern = || bounded(text).and_then(|()| text_value(text));
    Ok(match op {
        None | Some("in") => {
            let mut values = comma_list(text)?
                .into_iter()
                .map(|item| bounded(item).and_then(|()| parse_value(kind, item)))
                .collect::<Result<Vec<_>, _>>()?;
            if values.len() == 1 {
                Condition::Compare(Op::Eq, values.remove(0))
            } else {
                Condition::In(values)
            }
        }
        Some("gt") => Condition::Compare(Op::Gt, one()?),
        Some("gte") => Condition::Compare(Op::Gte, one()?),
        Some("lt") => Condition::Compare(Op::Lt, one()?),
        Some("lte") => Condition::Compare(Op::Lte, one()?),
        Some("startswith") => Condition::StartsWith(text_pattern()?),
        Some("icontains") => Condition::IContains(text_pattern()?),
        Some(other) => return Err(format!("unknown operator {other:?}")),
    })
}

/// The sort keys asked for, ending with the id so that every row has one place. Every name
/// must be a sort field, named once; one after the id cannot change the order and is left out.
fn sort_of<L: Model>(context: &Context) -> Result<Vec<SortKey<L::Field>>, ApiError> {
    let mut keys: Vec<SortKey<L::Field>> = Vec::new();
    let mut ignored: Vec<SortKey<L::Field>> = Vec::new();
    for asked in context.params.sort.iter().flatten() {
        let field = L::FIELDS
            .iter()
            .find(|spec| spec.sortable && spec.name == asked.name)
            .map(|spec| spec.field)
            .ok_or_else(|| {
                ApiError::invalid_parameter(
                    "sort",
                    format!(
                        "cannot sort by {:?}; sort fields: {} (prefix - for descending)",
                        asked.name,
                        names(L::FIELDS, |spec| spec.sortable)
                    ),
                )
            })?;
        if keys.iter().chain(&ignored).any(|key| key.field == field) {
            return Err(ApiError::invalid_parameter(
                "sort",
                format!("sort names {:?} twice", asked.name),
            ));
        }
        let decided = keys.last().is_some_and(|key| key.field == L::ID);
        (if decided { &mut ignored } else { &mut keys }).push(SortKey {
            field,
            direction: if asked.descending {
                Direction::Desc
            } else {
                Direction::Asc
            },
        });
    }
    if keys.last().map(|key| key.field) != Some(L::ID) {
        keys.push(SortKey {
            field: L::ID,
            direction: Direction::Asc,
        });
    }
    Ok(keys)
}

/// A feed's one order, (`order`, id): it takes no `sort` and no page numbers, only cursors.
fn feed_order<L: Model>(
    context: &Context,
    order: &str,
) -> Result<Vec<SortKey<L::Field>>, ApiError> {
    if context.params.sort.is_some() {
        return Err(ApiError::invalid_parameter(
            "sort",
            format!(
                "{} come in the feed's one order; sort is not taken",
                L::TYPE
            ),
        ));
    }
    if let PageParams::Number { .. } = context.params.page {
        return Err(ApiError::invalid_parameter(
            "page[number]",
            format!(
                "{} are read by cursor only: follow links.next, or give page[after]",
                L::TYPE
            ),
        ));
    }
    let field = L::FIELDS
        .iter()
        .find(|spec| spec.name == order)
        .map(|spec| spec.field)
        .expect("a feed's order is a declared field");
    Ok([field, L::ID]
        .into_iter()
        .map(|field| SortKey {
            field,
            direction: Direction::Asc,
        })
        .collect())
}

/// A name for a sort, stored in cursors so that a cursor is only used with its own sort.
fn sort_signature<F: std::fmt::Debug>(sort: &[SortKey<F>]) -> String {
    sort.iter()
        .map(|key| match key.direction {
            Direction::Asc => format!("{:?}", key.field),
            Direction::Desc => format!("-{:?}", key.field),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The cursor of `row`: the sort's signature (see [`sort_signature`]) and the row's values of
/// the sort keys.
fn encode_cursor<L: Model>(row: &L, sort: &[SortKey<L::Field>], signature: &str) -> String {
    let values: Vec<String> = sort
        .iter()
        .map(|key| value_text(&row.value_of(key.field)))
        .collect();
    let payload = json!({ "s": signature, "v": values });
    URL_SAFE_NO_PAD.encode(payload.to_string())
}

pub fn decode_cursor<L: Model>(
    parameter: &str,
    cursor: &str,
    sort: &[SortKey<L::Field>],
) -> Result<Vec<FieldValue>, ApiError> {
    let invalid = |why: &str| {
        ApiError::invalid_parameter(
            parameter,
            format!("{parameter} is not a cursor this server gave for this sort ({why}); start again from the first page"),
        )
        .links(json!({"type": format!("{CURSOR_PROFILE}/invalid-parameter-value")}))
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid("not base64url"))?;
    let payload: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("unreadable"))?;
    if payload["s"].as_str() != Some(sort_signature(sort).as_str()) {
        return Err(invalid("it was made for another sort"));
    }
    let texts = payload["v"]
        .as_array()
        .ok_or_else(|| invalid("no values"))?;
    let values: Vec<FieldValue> = texts
        .iter()
        .zip(sort)
        .map(|(text, key)| {
            text.as_str()
                .and_then(|text| parse_value(L::spec(key.field).kind, text).ok())
                .ok_or_else(|| invalid("a value does not parse"))
        })
        .collect::<Result<_, _>>()?;
    if !cursor_fits::<L>(sort, &values) {
        return Err(invalid("wrong number of values"));
    }
    Ok(values)
}

/// The query a collection request asks for, plus `extra` filters of the endpoint itself
/// (a wallet's transactions).
pub fn list_query<L: Model>(
    context: &Context,
    extra: Vec<Filter<L::Field>>,
) -> Result<ListQuery<L::Field>, ApiError> {
    let mut filters = extra;
    filters.extend(wallet_limit::<L>(context));
    let is_way = |param: &&FilterParam| param.field == WAY_FILTER && !L::WAYS.is_empty();
    for param in context.params.filters.iter().filter(|p| !is_way(p)) {
        filters.push(filter_of::<L>(param)?);
    }
    // Then the ways, which narrow a filter on several fields (the parent's, or filter[wallet]).
    for param in context.params.filters.iter().filter(is_way) {
        narrow_to_ways::<L>(&mut filters, param)?;
    }
    let sort = match L::FEED {
        Some(order) => feed_order::<L>(context, order)?,
        None => sort_of::<L>(context)?,
    };
    let page = match &context.params.page {
        PageParams::Number { number, size } => Page::Number {
            number: *number,
            size: *size,
        },
        PageParams::Cursor {
            after,
            before,
            size,
        } => {
            let position = match (after, before) {
                (Some(cursor), _) => {
                    Position::After(decode_cursor::<L>("page[after]", cursor, &sort)?)
                }
                (None, Some(cursor)) => {
                    Position::Before(decode_cursor::<L>("page[before]", cursor, &sort)?)
                }
                (None, None) => Position::First,
            };
            Page::Cursor {
                position,
                size: *size,
            }
        }
    };
    Ok(ListQuery {
        filters,
        sort,
        page,
    })
}

/// The top-level `links` and `meta` of a page, and each row's cursor (cursor pages only).
/// Links that do not apply are left out (the official schema refuses `null` links).
pub struct PageOutline {
    pub links: Map<String, Value>,
    pub meta: Option<Value>,
    pub cursors: Option<Vec<String>>,
}

pub fn outline<L: Model>(
    context: &Context,
    query: &ListQuery<L::Field>,
    page: &ListPage<L>,
) -> PageOutline {
    let mut links = Map::new();
    links.insert("self".into(), Value::String(context.self_link()));
    let link = |page_params: &[(&str, String)]| Value::String(context.page_link(page_params));
    match query.page {
        Page::Number { number, size } => {
            let total = page.total.unwrap_or(0);
            let pages = ((total as u64).div_ceil(size)).max(1);
            let size_param = ("size", size.to_string());
            let numbered = |n: u64| link(&[("number", n.to_string()), size_param.clone()]);
            links.insert("first".into(), numbered(1));
            links.insert("last".into(), numbered(pages));
            if number > 1 {
                links.insert("prev".into(), numbered((number - 1).min(pages)));
            }
            if number < pages {
                links.insert("next".into(), numbered(number + 1));
            }
            PageOutline {
                links,
                meta: Some(json!({"pagination": {"page": number, "pages": pages, "count": total}})),
                cursors: None,
            }
        }
        Page::Cursor { size, .. } => {
            let signature = sort_signature(&query.sort);
            let cursors: Vec<String> = page
                .rows
                .iter()
                .map(|row| encode_cursor(row, &query.sort, &signature))
                .collect();
            let sized = |mut params: Vec<(&'static str, String)>| {
                if context.params.page_given {
                    params.push(("size", size.to_string()));
                }
                link(&params)
            };
            links.insert("first".into(), sized(vec![]));
            // No `last`: finding it would cost a scan in reverse.
            if let Some(first) = cursors.first().filter(|_| page.more_before) {
                links.insert("prev".into(), sized(vec![("before", first.clone())]));
            }
            if let Some(last) = cursors.last().filter(|_| page.more_after) {
                links.insert("next".into(), sized(vec![("after", last.clone())]));
            }
            PageOutline {
                links,
                meta: None,
                cursors: Some(cursors),
            }
        }
    }
}

/// `meta` of a resource object on a cursor page: its cursor.
pub fn cursor_meta(cursor: &str) -> Value {
    json!({"page": {"cursor": cursor}})
}
