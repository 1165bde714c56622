//! `/exchanges`: money changed from one currency into another at a quoted rate, through the
//! currencies' liquidity wallets. The database computes the amount not given (rounded toward
//! the house) and books both transfers in the statement that writes the exchange
//! (`sql/36_exchanges.sql`); these handlers say what to write and what its refusals mean.

use diesel::pg::PgConnection;
use serde_json::json;

use super::transactions::DUPLICATE_TXID;
use super::wallets::{self, WALLET_NOT_FOUND};
use crate::api::errors::{
    AMOUNT_PRECISION, BALANCE_OVERFLOW, INSUFFICIENT_FUNDS, currency_refusal, metadata_refusal,
};
use crate::api::handlers;
use crate::api::resource::{Answer, Example, Resource, Writable};
use crate::api::routes::Routes;
use crate::api::write::rows::{RowWriter, Rows};
use crate::codes;
use crate::db::DbError;
use crate::domain::format_money;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::identifier;
use crate::jsonapi::error::Code;
use crate::models::exchange::Order;
use crate::models::{Exchange, ExchangeChanges, Model, NewExchange, Record};

codes! {
    pub EXCHANGE_NOT_FOUND = (NOT_FOUND, "exchange-not-found", "Exchange not found",
        "no exchange has this id");
    pub SAME_CURRENCY = (UNPROCESSABLE_ENTITY, "same-currency", "Same currency",
        "the source and the destination hold one currency: money moves within a currency by a transfer");
    pub NO_LIQUIDITY_WALLET = (UNPROCESSABLE_ENTITY, "no-liquidity-wallet", "No liquidity wallet",
        "a currency of the exchange has no liquidity wallet (the house's wallet that takes and gives it)");
    pub LIQUIDITY_WALLET_SIDE = (UNPROCESSABLE_ENTITY, "liquidity-wallet-side", "Liquidity wallet as a side",
        "the source or the destination is its currency's liquidity wallet, the house's side of every exchange of it");
    pub EXCHANGE_AMOUNT_ZERO = (UNPROCESSABLE_ENTITY, "exchange-amount-zero", "Exchange amount zero",
        "the amount computes to zero at the other currency's scale: the exchange would buy nothing");
}

/// The constraints of `migrations/` and `sql/36_exchanges.sql` that refuse exchanges.
const TXID_UNIQUE: &str = "exchanges_txid_key";
const SOURCE_EXISTS: &str = "exchanges_source_exists";
const DESTINATION_EXISTS: &str = "exchanges_destination_exists";
const CURRENCIES_DIFFER: &str = "exchanges_currencies_differ";
const HAS_LIQUIDITY: &str = "exchanges_liquidity_wallet";
const LIQUIDITY_SIDE: &str = "exchanges_liquidity_side";
const AMOUNT_ZERO: &str = "exchanges_amount_zero";
const AMOUNT_MAX: &str = "exchanges_amount_max";
const SOURCE_SCALE: &str = "exchanges_source_amount_scale";
const DESTINATION_SCALE: &str = "exchanges_destination_amount_scale";

const SOURCE: &str = "/data/relationships/source/data";
const DESTINATION: &str = "/data/relationships/destination/data";
const SOURCE_AMOUNT: &str = "/data/attributes/sourceAmount";
const DESTINATION_AMOUNT: &str = "/data/attributes/destinationAmount";

pub fn routes(routes: &mut Routes) {
    handlers::writable::<Exchange>(routes);
}

impl Resource for Exchange {
    const NOT_FOUND: &'static Code = &EXCHANGE_NOT_FOUND;
    const SINGULAR: &'static str = "exchange";
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "1", "txid": "buy-btc-42", "sourceAmount": "952.39",
            "destinationAmount": "0.01000000", "rate": "0.0000105", "sourceCurrency": "USD",
            "destinationCurrency": "BTC", "createdAt": "2026-12-01T12:00:00Z",
            "metadata": {"quote": "Q-7"}, "source": "3", "destination": "4",
            "transfers": ["41", "42"]}"#,
        create: r#"{"txid": "buy-btc-42", "destinationAmount": "0.01", "rate": "0.0000105",
            "source": "3", "destination": "4"}"#,
        update: r#"{"metadata": {"quote": "Q-8"}}"#,
        created_meta: None,
    };
}

impl Writable for Exchange {
    const CREATE_ERRORS: &'static [&'static Code] = &[
        &INSUFFICIENT_FUNDS,
        &AMOUNT_PRECISION,
        &BALANCE_OVERFLOW,
        &SAME_CURRENCY,
        &NO_LIQUIDITY_WALLET,
        &LIQUIDITY_WALLET_SIDE,
        &EXCHANGE_AMOUNT_ZERO,
        &WALLET_NOT_FOUND,
        &DUPLICATE_TXID,
    ];
    const NOT_DELETABLE: Option<&'static str> = Some(
        "an exchange is never deleted: exchange the money back (POST /exchanges the other way)",
    );

    /// One INSERT, whose triggers compute the other amount and book both transfers, or
    /// refuse the whole exchange.
    fn insert(conn: &mut PgConnection, new: &NewExchange) -> Result<Exchange, ApiError> {
        match (&new.source_amount, &new.destination_amount) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_attribute(
                    DESTINATION_AMOUNT,
                    "give sourceAmount or destinationAmount, not both: the database computes \
                     the other from the rate",
                ));
            }
            (None, None) => {
                return Err(ApiError::invalid_attribute(
                    "/data/attributes",
                    "give sourceAmount (what the source pays) or destinationAmount (what the \
                     destination receives): the database computes the other from the rate",
                ));
            }
            _ => {}
        }
        let made = Exchange::make(conn, &[&Order::of(new)]).map_err(|error| refusal(error, new))?;
        if let Some(made) = made.into_iter().next() {
            return Ok(made);
        }
        Err(match Exchange::find_by_txid(conn, &new.txid)? {
            Some(existing) => {
                duplicate_txid().meta(json!({"existing": identifier(Exchange::TYPE, existing.id)}))
            }
            None => duplicate_txid(),
        })
    }

    /// Only its metadata changes.
    fn apply(
        conn: &mut PgConnection,
        &id: &i64,
        changes: &ExchangeChanges,
    ) -> Result<Option<Exchange>, ApiError> {
        match &changes.metadata {
            Some(patch) => Exchange::tag(conn, id, patch)
                .map_err(|error| metadata_refusal(DbError::from(error))),
            None => Ok(Exchange::find(conn, &id)?),
        }
    }

    fn remove(_conn: &mut PgConnection, _id: &i64) -> Result<bool, ApiError> {
        Err(ApiError::new(
            &crate::jsonapi::error::NOT_DELETABLE,
            <Exchange as Writable>::NOT_DELETABLE.unwrap_or_default(),
        ))
    }

    /// An exchange is written with the exchanges of its batch beside it, in one statement
    /// per wave: the liquidity wallets are locked once for all of them. Its lock keys are its
    /// own wallets (a wave holds none twice); the liquidity wallets, in every exchange, are
    /// locked by the statement, after them. One with both amounts or neither is refused
    /// alone.
    fn rows(new: &NewExchange, answer: Answer<Exchange>) -> Option<Rows> {
        if new.source_amount.is_some() == new.destination_amount.is_some() {
            return None;
        }
        Some(Rows::of(Order::of(new), move |conn, made| {
            answer(conn, made)
        }))
    }

    fn lock_keys_of_new(new: &NewExchange) -> Vec<i64> {
        let mut keys = vec![new.source_wallet_id, new.destination_wallet_id];
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// An exchange as a wave writes it: its order, beside the others of its wave.
impl RowWriter for Order {
    type Row = Exchange;
    const KIND: &'static str = "exchanges";

    fn unique(&self) -> &str {
        self.txid.as_str()
    }

    fn unique_of(row: &Exchange) -> &str {
        &row.txid
    }

    fn write_all(conn: &mut PgConnection, items: &[&Self]) -> diesel::QueryResult<Vec<Exchange>> {
        Exchange::make(conn, items)
    }
}

/// A database refusal of an exchange, pointed at the member of the document that caused it.
fn refusal(error: diesel::result::Error, new: &NewExchange) -> ApiError {
    let given = if new.source_amount.is_some() {
        SOURCE_AMOUNT
    } else {
        DESTINATION_AMOUNT
    };
    match DbError::from(error) {
        // The source pays; only the destination currency's liquidity wallet gives. A
        // liquidity wallet is the house's: its available amount is not told.
        DbError::InsufficientFunds {
            wallet_id,
            available,
        } if wallet_id == Some(new.source_wallet_id) => ApiError::new(
            &INSUFFICIENT_FUNDS,
            format!(
                "the source, wallet {}, does not have enough funds ({} available) to pay for \
                 this exchange; nothing was written",
                new.source_wallet_id,
                available.as_ref().map_or("less".to_string(), format_money)
            ),
        )
        .pointer(given),
        DbError::InsufficientFunds { wallet_id, .. } => ApiError::new(
            &INSUFFICIENT_FUNDS,
            format!(
                "the liquidity wallet{} of the destination's currency cannot give this amount \
                 now; nothing was written",
                wallet_id.map_or(String::new(), |id| format!(" {id}"))
            ),
        )
        .pointer(given),
        error @ DbError::BalanceOverflow { .. } => ApiError::from(error).pointer(given),
        error if error.constraint() == Some(AMOUNT_MAX) => ApiError::new(
            &BALANCE_OVERFLOW,
            "the exchange computes to an amount of 10^18 or more; nothing was written",
        )
        .pointer(given),
        error if error.constraint() == Some(TXID_UNIQUE) => duplicate_txid(),
        // A wallet-limited key sees no other wallet: one it may not touch does not exist.
        DbError::OutOfReach => no_such_wallet(DESTINATION),
        error if error.constraint() == Some(SOURCE_EXISTS) => no_such_wallet(SOURCE),
        error if error.constraint() == Some(DESTINATION_EXISTS) => no_such_wallet(DESTINATION),
        error if error.constraint() == Some(CURRENCIES_DIFFER) => ApiError::new(
            &SAME_CURRENCY,
            format!(
                "the source and the destination both hold {}: move money within a currency \
                 with a transfer (POST /transfers); nothing was written",
                error.detail("currency").unwrap_or("one currency")
            ),
        )
        .pointer(DESTINATION),
        error if error.constraint() == Some(HAS_LIQUIDITY) => {
            let currency = error.detail("currency").unwrap_or("a currency").to_string();
            ApiError::new(
                &NO_LIQUIDITY_WALLET,
                format!(
                    "{currency} has no liquidity wallet: an admin names the house's wallet of \
                     {currency} first (PATCH /currencies/{currency} with liquidityWallet); \
                     nothing was written"
                ),
            )
            .meta(json!({"currency": currency}))
        }
        error if error.constraint() == Some(LIQUIDITY_SIDE) => ApiError::new(
            &LIQUIDITY_WALLET_SIDE,
            "the source or the destination is its currency's liquidity wallet, the house's \
             side of every exchange of it; nothing was written",
        ),
        error if error.constraint() == Some(AMOUNT_ZERO) => ApiError::new(
            &EXCHANGE_AMOUNT_ZERO,
            "at this rate the amount buys nothing at the destination currency's scale: \
             exchange more; nothing was written",
        )
        .pointer(given),
        error
            if matches!(
                error.constraint(),
                Some(SOURCE_SCALE) | Some(DESTINATION_SCALE)
            ) =>
        {
            let scale = error.detail("scale").unwrap_or("fewer");
            ApiError::new(
                &AMOUNT_PRECISION,
                format!(
                    "the wallet holds {}, whose amounts have at most {scale} fractional \
                     digit(s): round the amount to {scale}; nothing was written",
                    error.detail("currency").unwrap_or("a currency")
                ),
            )
            .pointer(if error.constraint() == Some(SOURCE_SCALE) {
                SOURCE_AMOUNT
            } else {
                DESTINATION_AMOUNT
            })
        }
        error => currency_refusal(error),
    }
}

/// The wallets' own answer to a relationship naming no wallet, pointed at this side.
fn no_such_wallet(pointer: &str) -> ApiError {
    wallets::no_such_wallet().pointer(pointer)
}

fn duplicate_txid() -> ApiError {
    ApiError::new(
        &DUPLICATE_TXID,
        "another exchange already has this txid; a txid exchanges money once",
    )
    .pointer("/data/attributes/txid")
}
