//! `GET /wallets/{id}/balance-history`: a wallet's balance over time, one `balance-buckets`
//! resource per minute, hour or day (`bucketSize`) from `filter[changedAt.gte]` to
//! `filter[changedAt.lt]`, computed from the journal folded per bucket
//! (`sql/62_balance_history.sql`): as fast for a wallet with a million journal entries as for
//! one with ten. (`bucketSize`, not `interval`: JSON:API keeps names of lowercase letters
//! alone for itself.)

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use crate::api::context::{Computed, Parameters, PathId};
use crate::api::resource::find_existing;
use crate::api::routes::Doc;
use crate::api::state::AppState;
use crate::db;
use crate::domain::{TIME_FORMATS, format_money_at, parse_time, timestamp};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, document, identifier, respond, self_links};
use crate::models::balance_bucket::{self, BalanceBucket, SIZES, bucket_start, step};
use crate::models::{Model, Wallet};

/// The type of its resource objects.
pub const TYPE: &str = "balance-buckets";
/// The most buckets one request may ask for.
pub const MOST_BUCKETS: i64 = 1000;
/// How many buckets come when the range is not given.
const DEFAULT_BUCKETS: i32 = 100;
/// The size when none is given.
const DEFAULT_SIZE: &str = "1h";

pub const GTE: &str = "filter[changedAt.gte]";
pub const LT: &str = "filter[changedAt.lt]";

pub struct History;

impl Parameters for History {
    const NAMES: &'static [&'static str] = &["bucketSize"];
}

pub const DOC: Doc = Doc {
    summary: "A wallet's balance over time: one balance-buckets resource per minute, hour or day.",
    description: "bucketSize (1m, 1h or 1d; 1h when not given) sets the buckets' width; \
        filter[changedAt.gte] and filter[changedAt.lt] the range (the bucket holding the first \
        to the last starting before the second; by default the 100 buckets up to now), at most \
        1000 buckets. Each bucket has the balance, held and available amounts at its end and \
        its lowest and highest balance within it (the balance it started with included); a \
        bucket without changes carries the last balance forward. Computed from the journal \
        folded per bucket: one row per bucket, whatever the journal holds. A wallet-limited key \
        reads its own wallets' history only.",
    errors: &[&super::wallets::WALLET_NOT_FOUND],
    request: None,
    response: Some(
        r#"{"jsonapi": {"version": "1.1"}, "links": {"self": "/wallets/1/balance-history?bucketSize=1h"},
            "meta": {"bucketSize": "1h", "count": 1},
            "data": [{"type": "balance-buckets", "id": "1:1h:2026-12-01T12:00:00Z",
                "attributes": {"start": "2026-12-01T12:00:00Z", "end": "2026-12-01T13:00:00Z",
                    "balance": "100.50", "held": "30.00", "available": "70.50",
                    "minBalance": "0.00", "maxBalance": "150.00"},
                "relationships": {"wallet": {"data": {"type": "wallets", "id": "1"}}}}]}"#,
    ),
};

/// The schema of a bucket, for the OpenAPI document.
pub const BUCKET_SCHEMA: &str = r##"{"type": "object", "required": ["type", "id", "attributes", "relationships"],
    "additionalProperties": false,
    "properties": {
        "type": {"const": "balance-buckets"},
        "id": {"type": "string", "description": "wallet:size:start"},
        "attributes": {"type": "object", "additionalProperties": false,
            "required": ["start", "end", "balance", "held", "available", "minBalance", "maxBalance"],
            "properties": {
                "start": {"$ref": "#/components/schemas/Timestamp"},
                "end": {"$ref": "#/components/schemas/Timestamp"},
                "balance": {"$ref": "#/components/schemas/Money", "description": "At the bucket's end."},
                "held": {"$ref": "#/components/schemas/Money", "description": "At the bucket's end."},
                "available": {"$ref": "#/components/schemas/Money", "description": "balance - held + the credit limit in force at the bucket's end."},
                "minBalance": {"$ref": "#/components/schemas/Money", "description": "The lowest balance within the bucket."},
                "maxBalance": {"$ref": "#/components/schemas/Money", "description": "The highest balance within the bucket."}}},
        "relationships": {"type": "object", "additionalProperties": false, "required": ["wallet"],
            "properties": {"wallet": {"type": "object", "required": ["data"], "additionalProperties": false,
                "properties": {"data": {"type": "object", "required": ["type", "id"], "additionalProperties": false,
                    "properties": {"type": {"const": "wallets"}, "id": {"type": "string"}}}}}}}}}"##;

/// GET /wallets/{id}/balance-history
pub async fn history(
    context: Computed<History>,
    id: PathId<Wallet>,
    state: web::Data<AppState>,
) -> Result<Reply, ApiError> {
    let (size, from, to) = range(&context)?;
    let wallet_id = id.id;
    let session = context.actor.reading();
    let (wallet, buckets) = db::run_in(context.reader(&state), &session, move |conn| {
        let wallet = find_existing::<Wallet>(conn, &wallet_id)?;
        let buckets = balance_bucket::history(conn, wallet_id, size, from, to)?;
        Ok::<_, ApiError>((wallet, buckets))
    })
    .await?;
    let data: Vec<Value> = buckets
        .iter()
        .map(|bucket| object(&wallet, size, bucket))
        .collect();
    let count = data.len();
    Ok(respond(
        StatusCode::OK,
        &document(
            Value::Array(data),
            self_links(context.self_link()),
            None,
            Some(json!({"bucketSize": size, "count": count})),
        ),
    ))
}

/// The bucket size and the range the request asks for, checked.
fn range(
    context: &Computed<History>,
) -> Result<(&'static str, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let size = match context.custom("bucketSize") {
        None => DEFAULT_SIZE,
        Some(text) => SIZES
            .iter()
            .copied()
            .find(|size| *size == text)
            .ok_or_else(|| {
                ApiError::invalid_parameter(
                    "bucketSize",
                    format!("bucketSize is one of {}, got {text:?}", SIZES.join(", ")),
                )
            })?,
    };
    let width = step(size).expect("a known size");
    let (mut from, mut to) = (None, None);
    for filter in &context.params.filters {
        let slot = match (filter.field.as_str(), filter.op.as_deref()) {
            ("changedAt", Some("gte")) => &mut from,
            ("changedAt", Some("lt")) => &mut to,
            _ => {
                return Err(ApiError::invalid_parameter(
                    &filter.parameter,
                    format!(
                        "{} does not apply here; the history takes {GTE} and {LT}",
                        filter.parameter
                    ),
                ));
            }
        };
        let time = parse_time(&filter.value).ok_or_else(|| {
            ApiError::invalid_parameter(
                &filter.parameter,
                format!(
                    "{}: {:?} is not a time; {TIME_FORMATS}",
                    filter.parameter, filter.value
                ),
            )
        })?;
        *slot = Some(time);
    }
    let given_from = from.is_some();
    let to = to.unwrap_or_else(|| bucket_start(Utc::now(), width) + width);
    let from = from.unwrap_or(to - width * DEFAULT_BUCKETS);
    // Every bucket's start and end must be a time RFC 3339 writes: years 1 to 9999.
    let (earliest, latest) = (
        Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(9999, 12, 30, 0, 0, 0).unwrap(),
    );
    if to > latest {
        return Err(ApiError::invalid_parameter(
            LT,
            format!("{LT} is at most 9999-12-30T00:00:00Z"),
        ));
    }
    if from < earliest {
        let parameter = if given_from { GTE } else { LT };
        return Err(ApiError::invalid_parameter(
            parameter,
            format!(
                "the range would start before the year 1 (without {GTE}, it holds the 100 \
                 buckets before {LT})"
            ),
        ));
    }
    if from >= to {
        return Err(ApiError::invalid_parameter(
            GTE,
            format!("{GTE} must come before {LT}: the range is empty"),
        ));
    }
    let buckets = (to - bucket_start(from, width))
        .num_microseconds()
        .unwrap_or(i64::MAX)
        / width.num_microseconds().expect("a bucket is short");
    if buckets > MOST_BUCKETS || to - from > Duration::days(366 * 100) {
        return Err(ApiError::invalid_parameter(
            GTE,
            format!(
                "the range holds {buckets} buckets of {size}; at most {MOST_BUCKETS}: narrow \
                 {GTE} and {LT}, or take a larger bucketSize"
            ),
        ));
    }
    Ok((size, from, to))
}

/// A bucket's resource object.
fn object(wallet: &Wallet, size: &str, bucket: &BalanceBucket) -> Value {
    let money = |value| format_money_at(value, wallet.scale);
    json!({
        "type": TYPE,
        "id": format!("{}:{size}:{}", wallet.id, timestamp(&bucket.start)),
        "attributes": {
            "start": timestamp(&bucket.start),
            "end": timestamp(&bucket.end),
            "balance": money(&bucket.balance),
            "held": money(&bucket.held),
            "available": money(&bucket.available),
            "minBalance": money(&bucket.min_balance),
            "maxBalance": money(&bucket.max_balance),
        },
        "relationships": {"wallet": {"data": identifier(Wallet::TYPE, wallet.id)}},
    })
}
