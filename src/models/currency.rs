//! Currencies: the catalogue wallets name their currency from (`currencies`, read by anyone,
//! written by `admin` keys), and the rendering of amounts at a currency's scale. The
//! database holds every amount exact at its wallet's scale (`sql/15_currencies.sql`); the
//! queries round each amount read to that scale, so that it goes out with exactly the
//! currency's fractional digits.

use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Int2, Nullable, Numeric};

use super::declare::resource;
use crate::domain::CurrencyCode;
use crate::parse::{Accepts, Input, Parse, integer_attribute, string_attribute};
use crate::schema::currencies;

diesel::define_sql_function! {
    /// An amount at a scale: `round(amount, scale)`, exact for the amounts the database
    /// keeps (none has more digits than its currency's scale), with that many digits.
    #[sql_name = "round"]
    fn at_scale(amount: Numeric, scale: Int2) -> Numeric;
}

diesel::define_sql_function! {
    /// [`at_scale`] of an amount that may be absent.
    #[sql_name = "round"]
    fn opt_at_scale(amount: Nullable<Numeric>, scale: Int2) -> Nullable<Numeric>;
}

/// The kinds of currency: ISO 4217's (seeded by the migration), crypto assets, and a
/// broker's own units.
pub const KINDS: &[&str] = &["iso", "crypto", "custom"];

/// The kinds a client may add (the ISO 4217 currencies are the catalogue's own).
pub const ADDED_KINDS: &[&str] = &["crypto", "custom"];

/// The most fractional digits a currency has (`numeric(36,18)` amounts).
pub const MAX_SCALE: i64 = 18;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = currencies, check_for_backend(Pg))]
pub struct Currency {
    pub code: String,
    pub name: String,
    pub scale: i16,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub liquidity_wallet_id: Option<i64>,
}

resource! {
    /// The fields of a currency.
    Currency in currencies as "currencies" keyed by code, fields CurrencyField {
        Id "id": code, code, read, sort, filter eq, "The currency's code: its id.";
        Code "code": code, text, once(CurrencyCode), sort, filter eq,
            "Its code, and its id: 2 to 16 characters, A-Z and 0-9, starting with a letter \
             (USD, BTC, USDT). Never changed.";
        Name "name": name, text, required(CurrencyName), sort, filter text,
            "What it is called (US Dollar): 1 to 255 characters.";
        Scale "scale": scale, small, required(Scale), sort, filter cmp,
            "How many fractional digits its amounts have, 0 to 18 (USD 2, JPY 0, BTC 8, ETH \
             18): every amount of a wallet in it is exact at this scale and goes out with \
             exactly this many digits. Changed only while no wallet holds the currency.";
        Kind "kind": kind, choice(KINDS), create(AddedKind), sort, filter eq,
            "iso (ISO 4217, in the catalogue from the start), crypto, or custom (a unit of \
             your own; the kind of one added without a kind).";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it entered the catalogue (set by the server).";
        UpdatedAt "updatedAt": updated_at, time, read, nosort, filter none,
            "When its name or scale last changed (set by the server).";
        LiquidityWallet "liquidityWallet": liquidity_wallet_id, opt_to_one("wallets"),
            write(Option<i64>), nosort, filter cmp,
            "The house's wallet of this currency that takes and gives it in exchanges (usually \
             with a creditLimit), or null: a currency without one is not exchanged. A wallet of \
             this currency (another: 422 currency-mismatch); set by an admin key.";
    }
    input NewCurrency, CurrencyChanges;
}

/// A currency's name: 1 to 255 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyName(String);

impl Parse for CurrencyName {
    const ACCEPTS: Accepts = Accepts::Text { min: 1, max: 255 };

    fn parse(input: Input<'_>) -> Result<CurrencyName, String> {
        let text = string_attribute(input, "name")?;
        let chars = text.chars().count();
        if chars == 0 || chars > 255 || text.contains('\0') {
            return Err(format!(
                "a currency's name is 1 to 255 characters without NUL, got {chars} characters"
            ));
        }
        Ok(CurrencyName(text))
    }
}

/// A currency's scale: 0 to 18 fractional digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale(i16);

impl Parse for Scale {
    const ACCEPTS: Accepts = Accepts::Integer {
        min: 0,
        max: MAX_SCALE,
    };

    fn parse(input: Input<'_>) -> Result<Scale, String> {
        let scale = integer_attribute(input, "scale", 0, MAX_SCALE)?;
        Ok(Scale(i16::try_from(scale).expect("a scale within 0 to 18")))
    }
}

/// The kind of a currency a client adds: crypto or custom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedKind(&'static str);

impl Parse for AddedKind {
    const ACCEPTS: Accepts = Accepts::Choice(ADDED_KINDS);

    fn parse(input: Input<'_>) -> Result<AddedKind, String> {
        let text = string_attribute(input, "kind")?;
        ADDED_KINDS
            .iter()
            .find(|kind| **kind == text)
            .map(|kind| AddedKind(kind))
            .ok_or_else(|| {
                format!(
                    "kind is crypto or custom (the ISO 4217 currencies are in the catalogue \
                     already), got {text:?}"
                )
            })
    }
}

impl Currency {
    /// A new currency (`custom` unless a kind is given).
    pub fn create(conn: &mut PgConnection, new: &NewCurrency) -> QueryResult<Currency> {
        diesel::insert_into(currencies::table)
            .values((
                currencies::code.eq(new.code.as_str()),
                currencies::name.eq(&new.name.0),
                currencies::scale.eq(new.scale.0),
                currencies::kind.eq(new.kind.map_or("custom", |kind| kind.0)),
                currencies::liquidity_wallet_id.eq(new.liquidity_wallet_id.flatten()),
            ))
            .returning(Currency::as_returning())
            .get_result(conn)
    }

    /// Changes what `changes` gives; `None` when there is no such currency. The database
    /// refuses a new scale while a wallet holds the currency (`wallets_currency_fkey`).
    pub fn update(
        conn: &mut PgConnection,
        code: &str,
        changes: &CurrencyChanges,
    ) -> QueryResult<Option<Currency>> {
        let target = currencies::table.find(code);
        match (&changes.name, changes.scale, changes.liquidity_wallet_id) {
            (None, None, None) => currencies::table
                .find(code)
                .select(Currency::as_select())
                .first(conn)
                .optional(),
            (name, scale, liquidity) => diesel::update(target)
                .set((
                    name.as_ref().map(|name| currencies::name.eq(&name.0)),
                    scale.map(|scale| currencies::scale.eq(scale.0)),
                    liquidity.map(|wallet| currencies::liquidity_wallet_id.eq(wallet)),
                ))
                .returning(Currency::as_returning())
                .get_result(conn)
                .optional(),
        }
    }

    /// Deletes it; `false` when there is no such currency. The database refuses while a
    /// wallet holds it, and always for XXX (the currency of a wallet created without one).
    pub fn delete(conn: &mut PgConnection, code: &str) -> QueryResult<bool> {
        diesel::delete(currencies::table.find(code))
            .execute(conn)
            .map(|deleted| deleted > 0)
    }

    /// Whether a wallet holds it.
    pub fn in_use(conn: &mut PgConnection, code: &str) -> QueryResult<bool> {
        use crate::schema::wallets;
        diesel::select(diesel::dsl::exists(
            wallets::table.filter(wallets::currency.eq(code)),
        ))
        .get_result(conn)
    }
}
