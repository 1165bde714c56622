//! Transfers: money moved from one wallet to another as one thing. Written to `transfers`,
//! whose trigger books both legs as transactions in the same statement
//! (`sql/35_transfers.sql`); read from the view `transfers_with_currency`, which gives each
//! its wallets' currency and scale.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int8, Jsonb, Nullable, Numeric, Text};

use super::currency::at_scale;
use super::declare::resource;
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::db::prepared::{bind, prepared, statement};
use crate::domain::{Amount, PositiveAmount, Txid};
use crate::schema::{transfers, transfers_with_currency};

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = transfers_with_currency, check_for_backend(Pg))]
pub struct Transfer {
    pub id: i64,
    pub txid: String,
    pub source_wallet_id: i64,
    pub destination_wallet_id: i64,
    #[diesel(select_expression = at_scale(
        transfers_with_currency::amount,
        transfers_with_currency::scale
    ))]
    pub amount: BigDecimal,
    pub reverses_id: Option<i64>,
    #[diesel(select_expression = at_scale(
        transfers_with_currency::reversed_amount,
        transfers_with_currency::scale
    ))]
    pub reversed_amount: BigDecimal,
    pub debit_id: i64,
    pub credit_id: i64,
    pub created_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    pub currency: String,
    pub exchange_id: Option<i64>,
}

resource! {
    /// The fields of a transfer.
    Transfer in transfers_with_currency as "transfers", fields TransferField {
        Id "id": id, id, read, sort, filter cmp, "The transfer's id.";
        Txid "txid": txid, text, once(Txid), sort, filter text,
            "Your own reference for it, unique among transfers: a txid moves money once, so a \
             retried request cannot move it twice.";
        Amount "amount": amount, money, once(PositiveAmount), sort, filter cmp,
            "What it moves from the source to the destination: positive, exact at the scale of \
             the wallets' currency. Never changed (reverse the transfer to move money back).";
        Currency "currency": currency, text, read, nosort, filter eq,
            "The currency of both wallets (its code).";
        ReversedAmount "reversedAmount": reversed_amount, money, read, nosort, filter none,
            "What its reversals moved back so far: at most its amount.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it was booked (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Reverses "reverses": reverses_id, opt_to_one("transfers"), create(Option<i64>), nosort,
            filter cmp,
            "The transfer it reverses: it moves money back from that one's destination to its \
             source (source and destination may then be left out). Never changed.";
        Source "source": source_wallet_id, to_one("wallets"), create(i64), nosort, filter cmp,
            "The wallet the money leaves: required, unless the transfer reverses another. \
             Never changed.";
        Destination "destination": destination_wallet_id, to_one("wallets"), create(i64), nosort,
            filter cmp,
            "The wallet the money enters, of the source's currency: required, unless the \
             transfer reverses another. Never changed.";
        Debit "debit": debit_id, to_one("transactions"), read, nosort, filter none,
            "The transaction it booked on the source (its amount negated): a leg, never \
             changed nor deleted on its own.";
        Credit "credit": credit_id, to_one("transactions"), read, nosort, filter none,
            "The transaction it booked on the destination: a leg, never changed nor deleted \
             on its own.";
        Exchange "exchange": exchange_id, opt_to_one("exchanges"), read, nosort, filter cmp,
            "The exchange that booked it, or null: a transfer of an exchange is not reversed \
             on its own.";
    }
    has_many {
        "reversals": "transfers",
            "The transfers that reverse it: each is created through /transfers with this \
             transfer as its reverses.";
    }
    either {
        "wallet": ["source", "destination"],
            "The transfers of these wallets, either way: those whose source or destination \
             is one of them.";
    }
    ways { "out": "source"; "in": "destination"; }
    input NewTransfer, TransferChanges;
}

/// A transfer ready to be written: its wallets known (a reversal's taken from its original).
#[derive(Debug, Clone)]
pub struct Move<'a> {
    pub txid: &'a Txid,
    pub source: i64,
    pub destination: i64,
    pub amount: &'a Amount,
    pub reverses: Option<i64>,
    pub metadata: serde_json::Value,
}

// Transfers, one or many: one row per element of the arrays, in one INSERT whose trigger
// books every leg in one statement. A taken txid is skipped (ON CONFLICT DO NOTHING), its
// transfer answered by looking it up. Each is answered with its currency, its amounts at
// the currency's scale.
statement!(
    MakeTransfers,
    "WITH made AS (INSERT INTO transfers (txid, source_wallet_id, destination_wallet_id, amount, \
     reverses_id, metadata) \
     SELECT m.txid, m.source, m.destination, m.amount, m.reverses, m.metadata FROM \
     unnest($1::text[], $2::int8[], $3::int8[], $4::numeric[], $5::int8[], $6::jsonb[]) \
     AS m (txid, source, destination, amount, reverses, metadata) \
     ON CONFLICT (txid) DO NOTHING RETURNING *) \
     SELECT t.id, t.txid, t.source_wallet_id, t.destination_wallet_id, \
     round(t.amount, w.scale) AS amount, t.reverses_id, \
     round(t.reversed_amount, w.scale) AS reversed_amount, t.debit_id, t.credit_id, \
     t.created_at, t.metadata, w.currency, t.exchange_id \
     FROM made AS t JOIN wallets AS w ON w.id = t.source_wallet_id"
);

impl Transfer {
    pub fn find_by_txid(conn: &mut PgConnection, txid: &Txid) -> QueryResult<Option<Transfer>> {
        transfers_with_currency::table
            .filter(transfers_with_currency::txid.eq(txid))
            .select(Transfer::as_select())
            .first(conn)
            .optional()
    }

    /// Makes `moves` in one statement: the transfers it wrote, without those whose txid is
    /// taken. On an error, it wrote none.
    pub fn make(conn: &mut PgConnection, moves: &[Move<'_>]) -> QueryResult<Vec<Transfer>> {
        let txids: Vec<&str> = moves.iter().map(|m| m.txid.as_str()).collect();
        let sources: Vec<i64> = moves.iter().map(|m| m.source).collect();
        let destinations: Vec<i64> = moves.iter().map(|m| m.destination).collect();
        let amounts: Vec<&Amount> = moves.iter().map(|m| m.amount).collect();
        let reverses: Vec<Option<i64>> = moves.iter().map(|m| m.reverses).collect();
        let metadata: Vec<&serde_json::Value> = moves.iter().map(|m| &m.metadata).collect();
        prepared::<MakeTransfers, _>((
            bind::<Array<Text>, _>(&txids),
            bind::<Array<Int8>, _>(&sources),
            bind::<Array<Int8>, _>(&destinations),
            bind::<Array<Numeric>, _>(&amounts),
            bind::<Array<Nullable<Int8>>, _>(&reverses),
            bind::<Array<Jsonb>, _>(&metadata),
        ))
        .load(conn)
    }

    /// Changes its metadata, the one thing of a transfer that changes; `None` when there is
    /// no such transfer.
    pub fn tag(
        conn: &mut PgConnection,
        id: i64,
        patch: &MetadataInput,
    ) -> QueryResult<Option<Transfer>> {
        let changed = diesel::update(transfers::table.find(id))
            .set(transfers::metadata.eq(merged!(transfers::metadata, patch)))
            .execute(conn)?;
        if changed == 0 {
            return Ok(None);
        }
        <Transfer as super::fields::Record>::find(conn, &id)
    }
}

impl NewTransfer {
    /// The transfer it reverses, if any (`null` given: none).
    pub fn reverses(&self) -> Option<i64> {
        self.reverses_id.flatten()
    }

    /// The metadata object it is created with.
    pub fn metadata_object(&self) -> serde_json::Value {
        self.metadata
            .as_ref()
            .map_or_else(|| serde_json::json!({}), MetadataInput::object)
    }
}

/// A transfer whose legs or reversed amount are wrong, or a leg of no transfer, as the view
/// `transfer_audit` finds it.
#[derive(Debug, QueryableByName)]
pub struct TransferProblem {
    #[diesel(sql_type = Int8)]
    pub transfer_id: i64,
    #[diesel(sql_type = Text)]
    pub problem: String,
}

/// Every transfer the audit finds wrong (none, when the rules held).
pub fn audit_transfers(conn: &mut PgConnection) -> QueryResult<Vec<TransferProblem>> {
    diesel::sql_query("SELECT transfer_id, problem FROM transfer_audit ORDER BY transfer_id")
        .load(conn)
}
