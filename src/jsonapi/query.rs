//! The query parameters JSON:API defines, parsed strictly: anything unknown, repeated or
//! malformed is a 400 naming the parameter.
//!
//! This module knows the syntax (`include`, `fields[TYPE]`, `sort`, `filter[...]`,
//! `page[...]`); what names are valid for a resource is checked by the caller.

use std::collections::BTreeMap;

use super::error::ApiError;

/// Largest `page[size]`.
pub const MAX_PAGE_SIZE: u64 = 100;
/// `page[size]` when none is given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// The URL of the Cursor Pagination profile, whose error types this server uses.
pub const CURSOR_PROFILE: &str = "https://jsonapi.org/profiles/ethanresnick/cursor-pagination";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortField {
    pub name: String,
    pub descending: bool,
}

/// `filter[FIELD]` or `filter[FIELD.OP]` with its raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterParam {
    /// The whole parameter name, for error sources.
    pub parameter: String,
    pub field: String,
    pub op: Option<String>,
    pub value: String,
}

/// The page the client asked for, in one of two styles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageParams {
    /// `page[number]` (from 1) and `page[size]`.
    Number { number: u64, size: u64 },
    /// `page[after]` or `page[before]` (opaque cursors) and `page[size]`; also the default.
    Cursor {
        after: Option<String>,
        before: Option<String>,
        size: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParams {
    /// `include`: relationship paths.
    pub include: Option<Vec<String>>,
    /// `fields[TYPE]`: the fields to show per type.
    pub fields: BTreeMap<String, Vec<String>>,
    pub sort: Option<Vec<SortField>>,
    pub filters: Vec<FilterParam>,
    pub page: PageParams,
    /// Whether any `page[...]` parameter was given.
    pub page_given: bool,
    /// Implementation-specific parameters (names with a character other than a-z, such as
    /// `balanceAt`), for the endpoint to accept or refuse.
    pub custom: BTreeMap<String, String>,
}

impl Default for QueryParams {
    fn default() -> Self {
        QueryParams {
            include: None,
            fields: BTreeMap::new(),
            sort: None,
            filters: Vec::new(),
            page: PageParams::Cursor {
                after: None,
                before: None,
                size: DEFAULT_PAGE_SIZE,
            },
            page_given: false,
            custom: BTreeMap::new(),
        }
    }
}

/// `name[inner]` → `inner`, for this family `name`.
fn bracketed<'a>(parameter: &'a str, family: &str) -> Option<&'a str> {
    parameter
        .strip_prefix(family)?
        .strip_prefix('[')?
        .strip_suffix(']')
}

fn comma_list(parameter: &str, value: &str) -> Result<Vec<String>, ApiError> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|item| {
            if item.is_empty() {
                Err(ApiError::invalid_parameter(
                    parameter,
                    format!("{parameter} has an empty item in {value:?}"),
                ))
            } else {
                Ok(item.to_string())
            }
        })
        .collect()
}

const UNKNOWN_PARAMETER: &str = "known: include, fields[TYPE], sort, filter[FIELD], \
     page[number], page[size], page[after], page[before]";
const NOT_A_PAGE_PARAMETER: &str =
    "use page[size] with page[number], or with page[after] / page[before]";
/// The last page number. A numbered page makes the database step over every row before it,
/// so numbers reach the first million rows at most (at the largest size): cursor pages go
/// on from anywhere at the cost of one page.
pub const MAX_PAGE_NUMBER: u64 = 10_000;
const MIXED_PAGE_STYLES: &str = "page[number] cannot be mixed with page[after] or \
     page[before]: choose numbered pages or cursors";
const RANGE_PAGINATION: &str = "page[after] and page[before] together (range pagination) \
     are not supported; give one";

/// An error of the Cursor Pagination profile: a 400 with the profile's error type.
fn cursor_profile_error(parameter: &str, detail: String, error_type: &str) -> ApiError {
    ApiError::invalid_parameter(parameter, detail)
        .links(serde_json::json!({"type": format!("{CURSOR_PROFILE}/{error_type}")}))
}

fn page_size(value: &str) -> Result<u64, ApiError> {
    let size: u64 = value
        .parse()
        .ok()
        .filter(|size| *size >= 1)
        .ok_or_else(|| {
            cursor_profile_error(
                "page[size]",
                format!(
                    "page[size] must be a whole number from 1 to {MAX_PAGE_SIZE}, got {value:?}"
                ),
                "invalid-parameter-value",
            )
        })?;
    if size > MAX_PAGE_SIZE {
        return Err(cursor_profile_error(
            "page[size]",
            format!("page[size] may be at most {MAX_PAGE_SIZE}, got {size}"),
            "max-size-exceeded",
        )
        .meta(serde_json::json!({"page": {"maxSize": MAX_PAGE_SIZE}})));
    }
    Ok(size)
}

fn sort_fields(value: &str) -> Result<Vec<SortField>, ApiError> {
    let fields = comma_list("sort", value)?;
    if fields.is_empty() {
        return Err(ApiError::invalid_parameter(
            "sort",
            "sort is empty; give fields such as sort=-createdAt,id",
        ));
    }
    Ok(fields
        .into_iter()
        .map(|field| match field.strip_prefix('-') {
            Some(name) => SortField {
                name: name.to_string(),
                descending: true,
            },
            None => SortField {
                name: field,
                descending: false,
            },
        })
        .collect())
}

/// `filter[FIELD]` or `filter[FIELD.OP]`, `target` being what stands between the brackets.
fn filter_param(name: &str, target: &str, value: String) -> Result<FilterParam, ApiError> {
    let (field, op) = match target.split_once('.') {
        Some((field, op)) => (field, Some(op.to_string())),
        None => (target, None),
    };
    if field.is_empty() {
        return Err(ApiError::invalid_parameter(
            name,
            format!("{name} names no field; use filter[FIELD] or filter[FIELD.OP]"),
        ));
    }
    Ok(FilterParam {
        parameter: name.to_string(),
        field: field.to_string(),
        op,
        value,
    })
}

/// The raw `page[...]` members, before they are read as one of the two styles.
#[derive(Default)]
struct PageMembers {
    number: Option<String>,
    size: Option<u64>,
    after: Option<String>,
    before: Option<String>,
}

impl PageMembers {
    fn set(&mut self, name: &str, member: &str, value: String) -> Result<(), ApiError> {
        match member {
            "number" => self.number = Some(value),
            "size" => self.size = Some(page_size(&value)?),
            "after" => self.after = Some(value),
            "before" => self.before = Some(value),
            _ => {
                return Err(ApiError::invalid_parameter(
                    name,
                    format!("{name} is not a page parameter; {NOT_A_PAGE_PARAMETER}"),
                ));
            }
        }
        Ok(())
    }

    /// The page asked for: numbered or by cursor, never both.
    fn page(self) -> Result<PageParams, ApiError> {
        let size = self.size.unwrap_or(DEFAULT_PAGE_SIZE);
        match (self.number, self.after, self.before) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::invalid_parameter(
                "page[number]",
                MIXED_PAGE_STYLES,
            )),
            (Some(number), None, None) => {
                let number = number
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE_NUMBER).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(
                            "page[number]",
                            format!(
                                "page[number] must be a whole number from 1 to \
                                 {MAX_PAGE_NUMBER}, got {number:?}; page further with \
                                 page[after] (cursor pages go on from anywhere)"
                            ),
                        )
                    })?;
                Ok(PageParams::Number { number, size })
            }
            (None, Some(_), Some(_)) => Err(cursor_profile_error(
                "page[before]",
                RANGE_PAGINATION.to_string(),
                "range-pagination-not-supported",
            )),
            (None, after, before) => Ok(PageParams::Cursor {
                after,
                before,
                size,
            }),
        }
    }
}

impl QueryParams {
    /// Parses a raw (percent-encoded) query string.
    pub fn parse(query: &str) -> Result<QueryParams, ApiError> {
        let mut seen: Vec<String> = Vec::new();
        let mut params = QueryParams::default();
        let mut page = PageMembers::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let (name, value) = (name.into_owned(), value.into_owned());
            if seen.contains(&name) {
                return Err(ApiError::invalid_parameter(
                    &name,
                    format!("{name} is given more than once; give it once (use a comma list)"),
                ));
            }
            params.read(&name, value, &mut page)?;
            seen.push(name);
        }
        params.page = page.page()?;
        Ok(params)
    }

    /// Reads one parameter into `self` (or, for `page[...]`, into `page`).
    fn read(&mut self, name: &str, value: String, page: &mut PageMembers) -> Result<(), ApiError> {
        if name == "include" {
            self.include = Some(comma_list(name, &value)?);
        } else if let Some(type_name) = bracketed(name, "fields") {
            let fields = comma_list(name, &value)?;
            self.fields.insert(type_name.to_string(), fields);
        } else if name == "sort" {
            self.sort = Some(sort_fields(&value)?);
        } else if let Some(target) = bracketed(name, "filter") {
            self.filters.push(filter_param(name, target, value)?);
        } else if let Some(member) = bracketed(name, "page") {
            self.page_given = true;
            page.set(name, member, value)?;
        } else if is_implementation_specific(name) {
            self.custom.insert(name.to_string(), value);
        } else {
            return Err(unknown_parameter(name));
        }
        Ok(())
    }

    /// Refuses the implementation-specific parameters that are not in `accepted`.
    pub fn accept_only(&self, accepted: &[&str]) -> Result<(), ApiError> {
        match self
            .custom
            .keys()
            .find(|name| !accepted.contains(&name.as_str()))
        {
            Some(name) => Err(unknown_parameter(name)),
            None => Ok(()),
        }
    }
}

/// A name JSON:API leaves to implementations: a member name with a character other than a-z
/// (jsonapi.org/format/#query-parameters-custom). Names of lowercase letters only are the
/// specification's own.
fn is_implementation_specific(name: &str) -> bool {
    let member_name = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    member_name && !name.chars().all(|c| c.is_ascii_lowercase())
}

fn unknown_parameter(name: &str) -> ApiError {
    ApiError::invalid_parameter(
        name,
        format!("unknown query parameter {name:?}; {UNKNOWN_PARAMETER}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_parameter(query: &str) -> String {
        let error = QueryParams::parse(query).unwrap_err();
        assert_eq!(error.status().as_u16(), 400, "{query}");
        error.document()["errors"][0]["source"]["parameter"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn parses_every_family() {
        let params = QueryParams::parse(
            "include=wallet&fields%5Bwallets%5D=label,balance&fields[transactions]=&sort=-amount,id\
             &filter[amount.gt]=5&filter[txid]=a%2Cb&page[size]=10&page[after]=abc",
        )
        .unwrap();
        assert_eq!(params.include, Some(vec!["wallet".to_string()]));
        assert_eq!(params.fields["wallets"], vec!["label", "balance"]);
        assert_eq!(params.fields["transactions"], Vec::<String>::new());
        assert_eq!(
            params.sort.unwrap(),
            vec![
                SortField {
                    name: "amount".into(),
                    descending: true
                },
                SortField {
                    name: "id".into(),
                    descending: false
                }
            ]
        );
        assert_eq!(params.filters[0].field, "amount");
        assert_eq!(params.filters[0].op.as_deref(), Some("gt"));
        assert_eq!(
            params.filters[1].value, "a,b",
            "an encoded comma is still a comma"
        );
        assert_eq!(
            params.page,
            PageParams::Cursor {
                after: Some("abc".into()),
                before: None,
                size: 10
            }
        );
    }

    #[test]
    fn defaults_to_the_first_cursor_page() {
        let params = QueryParams::parse("").unwrap();
        assert_eq!(
            params.page,
            PageParams::Cursor {
                after: None,
                before: None,
                size: 20
            }
        );
        assert!(!params.page_given);
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert_eq!(error_parameter("foo=1"), "foo");
        assert_eq!(error_parameter("sort=id&sort=label"), "sort");
        assert_eq!(error_parameter("sort="), "sort");
        assert_eq!(error_parameter("sort=id,,label"), "sort");
        assert_eq!(error_parameter("page[offset]=3"), "page[offset]");
        assert_eq!(error_parameter("page[size]=0"), "page[size]");
        assert_eq!(error_parameter("page[size]=ten"), "page[size]");
        assert_eq!(error_parameter("page[number]=0"), "page[number]");
        assert_eq!(
            error_parameter("page[number]=2&page[after]=x"),
            "page[number]"
        );
        assert_eq!(
            error_parameter("page[after]=x&page[before]=y"),
            "page[before]"
        );
        assert_eq!(error_parameter("filter[]=1"), "filter[]");
        assert_eq!(error_parameter("filter[.gt]=1"), "filter[.gt]");
    }

    #[test]
    fn implementation_specific_names_are_kept_for_the_endpoint() {
        let params = QueryParams::parse("balanceAt=2026-01-01&include=wallet").unwrap();
        assert_eq!(params.custom["balanceAt"], "2026-01-01");
        assert!(params.accept_only(&["balanceAt"]).is_ok());
        let refused = params.accept_only(&[]).unwrap_err();
        assert_eq!(
            refused.document()["errors"][0]["source"]["parameter"],
            "balanceAt"
        );
        // Lowercase-only names are the specification's: unknown ones are refused at once.
        assert_eq!(error_parameter("balanceat=1"), "balanceat");
        assert_eq!(error_parameter("balance%20At=1"), "balance At");
    }

    #[test]
    fn oversized_pages_name_the_maximum() {
        let error = QueryParams::parse("page[size]=101").unwrap_err();
        assert_eq!(
            error.first().meta(),
            Some(&serde_json::json!({"page": {"maxSize": 100}}))
        );
    }
}
