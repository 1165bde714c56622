//! `/currencies`: the catalogue wallets name their currency from. Any key reads it; `admin`
//! keys add a currency (crypto or custom), rename one, change the scale of one no wallet
//! holds, and delete one no wallet holds. The database keeps the rules
//! (`sql/15_currencies.sql`): a scale in use is frozen, a currency in use and `XXX` are
//! never deleted.

use diesel::pg::PgConnection;
use serde_json::json;

use super::wallets::{self, WALLET_NOT_FOUND};
use crate::api::errors::CURRENCY_MISMATCH;
use crate::api::handlers;
use crate::api::resource::{Example, Resource, Writable};
use crate::api::routes::Routes;
use crate::api::write::Statements;
use crate::codes;
use crate::db::DbError;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::identifier;
use crate::jsonapi::error::Code;
use crate::models::{Currency, CurrencyChanges, Model, NewCurrency};

codes! {
    pub CURRENCY_NOT_FOUND = (NOT_FOUND, "currency-not-found", "Currency not found",
        "no currency of the catalogue has this code");
    pub DUPLICATE_CURRENCY = (CONFLICT, "duplicate-currency", "Duplicate currency",
        "the catalogue has a currency with this code already");
    pub CURRENCY_IN_USE = (CONFLICT, "currency-in-use", "Currency in use",
        "a wallet holds the currency: its scale never changes and it is never deleted (nor is XXX, the currency of a wallet created without one)");
}

/// The constraints of `migrations/` and `sql/` that refuse writes of the catalogue.
const CODE_TAKEN: &str = "currencies_pkey";
const HELD_BY_WALLETS: &str = "wallets_currency_fkey";
const DEFAULT_KEPT: &str = "currencies_default_kept";
const LIQUIDITY_CURRENCY: &str = "currencies_liquidity_currency";
const LIQUIDITY_EXISTS: &str = "currencies_liquidity_wallet_fkey";
const LIQUIDITY: &str = "/data/relationships/liquidityWallet/data";

pub fn routes(routes: &mut Routes) {
    handlers::writable::<Currency>(routes);
}

impl Resource for Currency {
    const NOT_FOUND: &'static Code = &CURRENCY_NOT_FOUND;
    const SINGULAR: &'static str = "currency";
    const ADMIN_WRITES: bool = true;
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "USD", "code": "USD", "name": "US Dollar", "scale": 2,
            "kind": "iso", "createdAt": "2026-12-01T12:00:00Z",
            "updatedAt": "2026-12-01T12:00:00Z", "liquidityWallet": "5"}"#,
        create: r#"{"code": "GOLDG", "name": "Gold, in grams", "scale": 3, "kind": "custom"}"#,
        update: r#"{"name": "US dollar"}"#,
        created_meta: None,
    };
}

impl Writable for Currency {
    const CREATE_ERRORS: &'static [&'static Code] =
        &[&DUPLICATE_CURRENCY, &CURRENCY_MISMATCH, &WALLET_NOT_FOUND];
    const UPDATE_ERRORS: &'static [&'static Code] =
        &[&CURRENCY_IN_USE, &CURRENCY_MISMATCH, &WALLET_NOT_FOUND];
    const DELETE_ERRORS: &'static [&'static Code] = &[&CURRENCY_IN_USE];

    const CREATE_STATEMENTS: Statements = Statements::One;

    fn insert(conn: &mut PgConnection, new: &NewCurrency) -> Result<Currency, ApiError> {
        Currency::create(conn, new).map_err(|error| match DbError::from(error) {
            error if error.constraint() == Some(CODE_TAKEN) => ApiError::new(
                &DUPLICATE_CURRENCY,
                format!(
                    "the catalogue has {} already (GET /currencies/{0}): a code names one \
                     currency",
                    new.code.as_str()
                ),
            )
            .pointer("/data/attributes/code")
            .meta(json!({"existing": identifier(Currency::TYPE, new.code.as_str())})),
            error => liquidity_refusal(error, new.code.as_str()),
        })
    }

    /// A new name, at any time; a new scale while no wallet holds the currency (told first;
    /// the database refuses it should a wallet be created in between).
    fn apply(
        conn: &mut PgConnection,
        code: &String,
        changes: &CurrencyChanges,
    ) -> Result<Option<Currency>, ApiError> {
        if changes.scale.is_some() && Currency::in_use(conn, code)? {
            return Err(scale_in_use(code));
        }
        Currency::update(conn, code, changes).map_err(|error| match DbError::from(error) {
            error if error.constraint() == Some(HELD_BY_WALLETS) => scale_in_use(code),
            error => liquidity_refusal(error, code),
        })
    }

    fn remove(conn: &mut PgConnection, code: &String) -> Result<bool, ApiError> {
        if Currency::in_use(conn, code)? {
            return Err(deletion_in_use(code));
        }
        Currency::delete(conn, code).map_err(|error| match DbError::from(error) {
            error if error.constraint() == Some(HELD_BY_WALLETS) => deletion_in_use(code),
            error if error.constraint() == Some(DEFAULT_KEPT) => ApiError::new(
                &CURRENCY_IN_USE,
                "XXX is the currency of every wallet created without one: it is never deleted",
            ),
            error => error.into(),
        })
    }
}

/// The database's refusal of a liquidity wallet: one of another currency, or none.
fn liquidity_refusal(error: DbError, code: &str) -> ApiError {
    match error.constraint() {
        Some(LIQUIDITY_CURRENCY) => ApiError::new(
            &CURRENCY_MISMATCH,
            format!(
                "wallet {} holds {}: the liquidity wallet of {code} is a wallet of {code}; \
                 nothing was changed",
                error.detail("wallet_id").unwrap_or("?"),
                error.detail("currency").unwrap_or("another currency")
            ),
        )
        .pointer(LIQUIDITY),
        Some(LIQUIDITY_EXISTS) => wallets::no_such_wallet().pointer(LIQUIDITY),
        _ => error.into(),
    }
}

fn scale_in_use(code: &str) -> ApiError {
    ApiError::new(
        &CURRENCY_IN_USE,
        format!(
            "wallets hold {code} (GET /wallets?filter[currency]={code}): its scale never \
             changes once a wallet holds it, since every amount of theirs is exact at it; its \
             name may change"
        ),
    )
    .pointer("/data/attributes/scale")
}

fn deletion_in_use(code: &str) -> ApiError {
    ApiError::new(
        &CURRENCY_IN_USE,
        format!(
            "wallets hold {code} (GET /wallets?filter[currency]={code}): a currency a wallet \
             holds is never deleted"
        ),
    )
}
