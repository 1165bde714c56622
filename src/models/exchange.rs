//! Exchanges: money changed from one currency into another at a quoted rate. Written to
//! `exchanges`, whose triggers compute the amount not given (rounded toward the house) and
//! book two transfers through the currencies' liquidity wallets in the same statement
//! (`sql/36_exchanges.sql`); read from the view `exchanges_with_scale`, which gives each its
//! currencies' scales and its transfers.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int8, Jsonb, Nullable, Numeric, Text};

use super::currency::at_scale;
use super::declare::resource;
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::db::prepared::{bind, prepared, statement};
use crate::domain::{PositiveAmount, Rate, Txid};
use crate::schema::{exchanges, exchanges_with_scale};

diesel::define_sql_function! {
    /// `trim_scale(rate)`: a rate as given, without trailing zeros.
    fn trim_scale(value: Numeric) -> Numeric;
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = exchanges_with_scale, check_for_backend(Pg))]
pub struct Exchange {
    pub id: i64,
    pub txid: String,
    pub source_wallet_id: i64,
    pub destination_wallet_id: i64,
    #[diesel(select_expression = at_scale(
        exchanges_with_scale::source_amount,
        exchanges_with_scale::source_scale
    ))]
    pub source_amount: BigDecimal,
    #[diesel(select_expression = at_scale(
        exchanges_with_scale::destination_amount,
        exchanges_with_scale::destination_scale
    ))]
    pub destination_amount: BigDecimal,
    #[diesel(select_expression = trim_scale(exchanges_with_scale::rate))]
    pub rate: BigDecimal,
    pub source_currency: String,
    pub destination_currency: String,
    pub transfer_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
}

resource! {
    /// The fields of an exchange.
    Exchange in exchanges_with_scale as "exchanges", fields ExchangeField {
        Id "id": id, id, read, sort, filter cmp, "The exchange's id.";
        Txid "txid": txid, text, once(Txid), sort, filter text,
            "Your own reference for it, unique among exchanges: a txid exchanges money once, \
             so a retried request cannot exchange it twice.";
        SourceAmount "sourceAmount": source_amount, money, create(PositiveAmount), nosort,
            filter cmp,
            "What the source pays, in its currency, exact at its scale. Give it or \
             destinationAmount, not both: when destinationAmount is given, it is \
             destinationAmount / rate rounded up to the source's scale (toward the house).";
        DestinationAmount "destinationAmount": destination_amount, money, create(PositiveAmount),
            nosort, filter cmp,
            "What the destination receives, in its currency, exact at its scale. Give it or \
             sourceAmount, not both: when sourceAmount is given, it is sourceAmount x rate \
             truncated to the destination's scale (toward the house).";
        Rate "rate": rate, money, once(Rate), nosort, filter cmp,
            "Units of the destination's currency one unit of the source's buys (BTC per USD: \
             0.0000105): above zero, at most 18 digits before the point and 18 after it. Your \
             quoted rate, spread included; kept exactly as given.";
        SourceCurrency "sourceCurrency": source_currency, text, read, nosort, filter eq,
            "The source wallet's currency (its code).";
        DestinationCurrency "destinationCurrency": destination_currency, text, read, nosort,
            filter eq,
            "The destination wallet's currency (its code): another than the source's.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it was booked (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Source "source": source_wallet_id, to_one("wallets"), once(i64), nosort, filter cmp,
            "The wallet that pays sourceAmount: required. Never changed.";
        Destination "destination": destination_wallet_id, to_one("wallets"), once(i64), nosort,
            filter cmp,
            "The wallet that receives destinationAmount, of another currency: required. \
             Never changed.";
        Transfers "transfers": transfer_ids, to_many_ids("transfers"), read, nosort, filter none,
            "The two transfers it booked: the source to its currency's liquidity wallet \
             (sourceAmount), then the destination currency's liquidity wallet to the \
             destination (destinationAmount). Neither is reversed on its own.";
    }
    either {
        "wallet": ["source", "destination"],
            "The exchanges of these wallets, either way: those whose source or destination \
             is one of them.";
    }
    ways { "out": "source"; "in": "destination"; }
    input NewExchange, ExchangeChanges;
}

/// An exchange ready to be written: one of its amounts (or both, when they agree). It owns
/// its values: a coalesced batch holds it until its wave is written.
#[derive(Debug, Clone)]
pub struct Order {
    pub txid: Txid,
    pub source: i64,
    pub destination: i64,
    pub source_amount: Option<BigDecimal>,
    pub destination_amount: Option<BigDecimal>,
    pub rate: BigDecimal,
    pub metadata: serde_json::Value,
}

impl Order {
    pub fn of(new: &NewExchange) -> Order {
        Order {
            txid: new.txid.clone(),
            source: new.source_wallet_id,
            destination: new.destination_wallet_id,
            source_amount: new.source_amount.as_ref().map(|a| a.0.value().clone()),
            destination_amount: new.destination_amount.as_ref().map(|a| a.0.value().clone()),
            rate: new.rate.0.clone(),
            metadata: new
                .metadata
                .as_ref()
                .map_or_else(|| serde_json::json!({}), MetadataInput::object),
        }
    }
}

// Exchanges, one or many, in one INSERT whose triggers compute each amount not given and
// book every transfer in one statement. A taken txid is skipped (ON CONFLICT DO NOTHING).
statement!(
    MakeExchanges,
    "INSERT INTO exchanges (txid, source_wallet_id, destination_wallet_id, source_amount, \
     destination_amount, rate, metadata) \
     SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::numeric[], $5::numeric[], \
     $6::numeric[], $7::jsonb[]) \
     ON CONFLICT (txid) DO NOTHING RETURNING id"
);

#[derive(QueryableByName)]
struct Made {
    #[diesel(sql_type = Int8)]
    id: i64,
}

impl Exchange {
    pub fn find_by_txid(conn: &mut PgConnection, txid: &Txid) -> QueryResult<Option<Exchange>> {
        exchanges_with_scale::table
            .filter(exchanges_with_scale::txid.eq(txid))
            .select(Exchange::as_select())
            .first(conn)
            .optional()
    }

    /// Makes `orders` in one statement: the exchanges it wrote, without those whose txid is
    /// taken. On an error, it wrote none.
    pub fn make(conn: &mut PgConnection, orders: &[&Order]) -> QueryResult<Vec<Exchange>> {
        let txids: Vec<&str> = orders.iter().map(|o| o.txid.as_str()).collect();
        let sources: Vec<i64> = orders.iter().map(|o| o.source).collect();
        let destinations: Vec<i64> = orders.iter().map(|o| o.destination).collect();
        let source_amounts: Vec<Option<&BigDecimal>> =
            orders.iter().map(|o| o.source_amount.as_ref()).collect();
        let destination_amounts: Vec<Option<&BigDecimal>> = orders
            .iter()
            .map(|o| o.destination_amount.as_ref())
            .collect();
        let rates: Vec<&BigDecimal> = orders.iter().map(|o| &o.rate).collect();
        let metadata: Vec<&serde_json::Value> = orders.iter().map(|o| &o.metadata).collect();
        let made: Vec<Made> = prepared::<MakeExchanges, _>((
            bind::<Array<Text>, _>(&txids),
            bind::<Array<Int8>, _>(&sources),
            bind::<Array<Int8>, _>(&destinations),
            bind::<Array<Nullable<Numeric>>, _>(&source_amounts),
            bind::<Array<Nullable<Numeric>>, _>(&destination_amounts),
            bind::<Array<Numeric>, _>(&rates),
            bind::<Array<Jsonb>, _>(&metadata),
        ))
        .load(conn)?;
        if made.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = made.into_iter().map(|row| row.id).collect();
        exchanges_with_scale::table
            .filter(exchanges_with_scale::id.eq_any(ids))
            .order(exchanges_with_scale::id)
            .select(Exchange::as_select())
            .load(conn)
    }

    /// Changes its metadata, the one thing of an exchange that changes; `None` when there is
    /// no such exchange.
    pub fn tag(
        conn: &mut PgConnection,
        id: i64,
        patch: &MetadataInput,
    ) -> QueryResult<Option<Exchange>> {
        let changed = diesel::update(exchanges::table.find(id))
            .set(exchanges::metadata.eq(merged!(exchanges::metadata, patch)))
            .execute(conn)?;
        if changed == 0 {
            return Ok(None);
        }
        <Exchange as super::fields::Record>::find(conn, &id)
    }
}

/// An exchange whose transfers are wrong, or a transfer of no exchange, as the view
/// `exchange_audit` finds it.
#[derive(Debug, QueryableByName)]
pub struct ExchangeProblem {
    #[diesel(sql_type = Int8)]
    pub exchange_id: i64,
    #[diesel(sql_type = Text)]
    pub problem: String,
}

/// Every exchange the audit finds wrong (none, when the rules held).
pub fn audit_exchanges(conn: &mut PgConnection) -> QueryResult<Vec<ExchangeProblem>> {
    diesel::sql_query("SELECT exchange_id, problem FROM exchange_audit ORDER BY exchange_id")
        .load(conn)
}
