//! Holds: money reserved on a wallet, pending until it is captured (booked, all or part of
//! it), voided, or past its expiry. The database keeps the wallet's held amount and enforces
//! the state machine on every write (see `migrations/`); rows are read from the view
//! `holds_now`, where a pending hold past its expiry already reads as expired.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Int8, Jsonb, Nullable, Numeric, Timestamptz};

use super::api_key::Expiry;
use super::currency::{at_scale, opt_at_scale};
use super::declare::resource;
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::db::prepared::{bind, prepared, statement};
use crate::domain::PositiveAmount;
use crate::parse::{Accepts, Input, Parse};
use crate::schema::holds_now;

/// A hold's statuses, as the database and the API write them.
pub const STATUSES: &[&str] = &["pending", "captured", "voided", "expired"];

/// Where a hold stands: `Pending` holds money; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub enum HoldStatus {
    Pending,
    Captured,
    Voided,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Pending => "pending",
            HoldStatus::Captured => "captured",
            HoldStatus::Voided => "voided",
            HoldStatus::Expired => "expired",
        }
    }

    /// The status this word names (one of [`STATUSES`]).
    pub fn parse(word: &str) -> Option<HoldStatus> {
        [
            HoldStatus::Pending,
            HoldStatus::Captured,
            HoldStatus::Voided,
            HoldStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == word)
    }
}

impl std::fmt::Display for HoldStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Text, Pg> for HoldStatus {
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        let word =
            <String as diesel::deserialize::FromSql<diesel::sql_types::Text, Pg>>::from_sql(bytes)?;
        HoldStatus::parse(&word)
            .ok_or_else(|| format!("a hold status that is none: {word:?}").into())
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = holds_now, check_for_backend(Pg))]
pub struct Hold {
    pub id: i64,
    pub wallet_id: i64,
    #[diesel(select_expression = at_scale(holds_now::amount, holds_now::scale))]
    pub amount: BigDecimal,
    pub status: HoldStatus,
    #[diesel(select_expression = opt_at_scale(holds_now::captured_amount, holds_now::scale))]
    pub captured_amount: Option<BigDecimal>,
    pub transaction_id: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    pub currency: String,
}

resource! {
    /// The fields of a hold.
    Hold in holds_now as "holds", fields HoldField {
        Id "id": id, id, read, sort, filter cmp, "The hold's id.";
        Amount "amount": amount, money, once(PositiveAmount), sort, filter cmp,
            "What it reserves: positive, at most the wallet's available balance when created, \
             exact at the scale of the wallet's currency; never changed.";
        Currency "currency": currency, text, read, nosort, filter eq,
            "Its wallet's currency (its code).";
        Status "status": status, choice(STATUSES), update(Resolution), sort, filter eq,
            "pending (it holds its amount), captured (its capturedAmount was booked), voided \
             (released, nothing booked) or expired (released at expiresAt). Change it to \
             captured or voided, once: a hold that is not pending is final.";
        CapturedAmount "capturedAmount": captured_amount, opt_money, update(PositiveAmount), nosort, filter none,
            "What its capture booked; with status captured, at most its amount (all of it when \
             not given). The rest is released.";
        ExpiresAt "expiresAt": expires_at, opt_time, create(Expiry), nosort, filter cmp,
            "When it stops holding money by itself (none: until captured or voided). A time to \
             come.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it was created (set by the server).";
        UpdatedAt "updatedAt": updated_at, time, read, nosort, filter none,
            "When it last changed (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Wallet "wallet": wallet_id, to_one("wallets"), once(i64), nosort, filter cmp,
            "The wallet whose money it reserves; never changed.";
        Transaction "transaction": transaction_id, opt_to_one("transactions"), read, nosort, filter none,
            "The debit its capture booked (txid hold:<id>, amount -capturedAmount); null \
             before.";
    }
    input NewHold, HoldChanges;
}

/// What a client changes a hold's status to: `captured` or `voided`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Captured,
    Voided,
}

impl Parse for Resolution {
    const ACCEPTS: Accepts = Accepts::Choice(&["captured", "voided"]);

    fn parse(input: Input<'_>) -> Result<Resolution, String> {
        let Input::Attribute(raw) = input else {
            return Err("status is an attribute".into());
        };
        match serde_json::from_str::<String>(raw.get()).as_deref() {
            Ok("captured") => Ok(Resolution::Captured),
            Ok("voided") => Ok(Resolution::Voided),
            Ok("pending" | "expired") => Err(
                "a hold's status changes to captured or voided only: it is created pending \
                 and expires by itself"
                    .into(),
            ),
            _ => Err("status must be \"captured\" or \"voided\"".into()),
        }
    }
}

// A hold (journaled under the API key the session names).
// Answered with its wallet's currency, its amount at the currency's scale.
statement!(
    CreateHold,
    "WITH held AS (INSERT INTO holds (wallet_id, amount, expires_at, metadata) \
     VALUES ($1, $2, $3, $4) RETURNING id, wallet_id, amount, status, captured_amount, \
     transaction_id, expires_at, created_at, updated_at, metadata) \
     SELECT h.id, h.wallet_id, round(h.amount, w.scale) AS amount, h.status, \
     h.captured_amount, h.transaction_id, h.expires_at, h.created_at, h.updated_at, \
     h.metadata, w.currency FROM held AS h JOIN wallets AS w ON w.id = h.wallet_id"
);

impl Hold {
    /// Reserves `new.amount` on its wallet: one INSERT, whose trigger refuses it when the
    /// wallet's available balance is smaller.
    pub fn create(conn: &mut PgConnection, new: &NewHold) -> QueryResult<Hold> {
        prepared::<CreateHold, _>((
            bind::<Int8, _>(&new.wallet_id),
            bind::<Numeric, _>(&new.amount.0),
            bind::<Nullable<Timestamptz>, _>(&new.expires_at.map(|expiry| expiry.0)),
            bind::<Jsonb, _>(
                &new.metadata
                    .as_ref()
                    .map_or_else(|| serde_json::json!({}), MetadataInput::object),
            ),
        ))
        .get_result(conn)
    }

    /// Captures the hold (`capture_hold`: releases it and books its debit in one call),
    /// `amount` of it or all of it; returns the debit's transaction id.
    pub fn capture(
        conn: &mut PgConnection,
        id: i64,
        amount: Option<&BigDecimal>,
    ) -> QueryResult<i64> {
        diesel::select(capture_hold(id, amount.cloned())).get_result(conn)
    }

    /// Merges `patch` into the hold's metadata (in any state; nothing else changes).
    pub fn tag(conn: &mut PgConnection, id: i64, patch: &MetadataInput) -> QueryResult<()> {
        use crate::schema::holds;
        diesel::update(holds::table.find(id))
            .set(holds::metadata.eq(merged!(holds::metadata, patch)))
            .execute(conn)
            .map(|_| ())
    }

    /// Releases the hold, booking nothing; `false` when there is no such hold.
    pub fn void(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        use crate::schema::holds;
        diesel::update(holds::table.find(id))
            .set(holds::status.eq(HoldStatus::Voided.as_str()))
            .execute(conn)
            .map(|updated| updated > 0)
    }

    /// Marks every pending hold past its expiry expired (`expire_holds`: one sweeper at a
    /// time across instances); returns how many.
    pub fn expire(conn: &mut PgConnection) -> QueryResult<i64> {
        diesel::select(expire_holds()).get_result(conn)
    }
}

diesel::define_sql_function! {
    /// `capture_hold(hold, amount)` of `migrations/`.
    fn capture_hold(hold: Int8, amount: Nullable<Numeric>) -> Int8;
}

diesel::define_sql_function! {
    /// `expire_holds()` of `migrations/`.
    fn expire_holds() -> Int8;
}
