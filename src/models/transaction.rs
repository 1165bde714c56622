//! Transactions: each moves `amount` into (positive) or out of (negative) one wallet. The
//! database's triggers apply every insert, update and delete to the wallets' balances.
//! Written to `transactions`; read from the view `transactions_with_currency`, which gives
//! each its wallet's currency and scale.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use diesel::sql_types::{Array, Int8, Jsonb, Numeric, Text};

use super::currency::at_scale;
use super::declare::resource;
use super::fields::Record;
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::db::prepared::{bind, prepared, statement};
use crate::domain::{Amount, Txid};
use crate::schema::{transactions, transactions_with_currency};

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = transactions_with_currency, check_for_backend(Pg))]
pub struct Transaction {
    pub id: i64,
    pub wallet_id: i64,
    pub txid: String,
    #[diesel(select_expression = at_scale(
        transactions_with_currency::amount,
        transactions_with_currency::scale
    ))]
    pub amount: BigDecimal,
    pub created_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    pub currency: String,
    pub transfer_id: Option<i64>,
}

resource! {
    /// The fields of a transaction.
    Transaction in transactions_with_currency as "transactions", fields TransactionField {
        Id "id": id, id, read, sort, filter cmp, "The transaction's id.";
        Txid "txid": txid, text, required(Txid), sort, filter text,
            "Your own reference for it, unique: a txid books money once, so a retried request \
             cannot book twice.";
        Amount "amount": amount, money, required(Amount), sort, filter cmp,
            "What it moves: positive credits the wallet, negative debits it; never zero; exact \
             at the scale of the wallet's currency (a USD amount has at most 2 fractional \
             digits). Changing it moves the difference.";
        Currency "currency": currency, text, read, nosort, filter eq,
            "Its wallet's currency (its code).";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it was booked (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Wallet "wallet": wallet_id, to_one("wallets"), required(i64), nosort, filter cmp,
            "The wallet it belongs to; changing it moves the money to the other wallet.";
        Transfer "transfer": transfer_id, opt_to_one("transfers"), read, nosort, filter cmp,
            "The transfer it is a leg of (null for a plain booking): a leg's amount and wallet \
             never change and it is never deleted on its own; reverse the transfer instead.";
    }
    input NewTransaction, TransactionChanges;
}

// Bookings, one or many (a coalesced batch's wave): one row per element of the arrays. One
// statement serves a booking alone and a wave, so that both are judged and journaled alike:
// the trigger journals each wallet's aggregate, which is one booking (a wave never books a
// wallet twice). A taken txid is skipped (ON CONFLICT DO NOTHING) rather than fail, so that
// the surrounding transaction stays usable; its booking is answered by looking it up. The
// API key it is journaled under is the session's (the write pipeline names it).
// Each is answered with its wallet's currency, its amount at the currency's scale.
statement!(
    BookTransactions,
    "WITH booked AS (INSERT INTO transactions (wallet_id, txid, amount, metadata) \
     SELECT b.wallet_id, b.txid, b.amount, b.metadata FROM \
     unnest($1::int8[], $2::text[], $3::numeric[], $4::jsonb[]) AS b (wallet_id, txid, amount, metadata) \
     ON CONFLICT (txid) DO NOTHING \
     RETURNING id, wallet_id, txid, amount, created_at, metadata, transfer_id) \
     SELECT t.id, t.wallet_id, t.txid, round(t.amount, w.scale) AS amount, t.created_at, \
     t.metadata, w.currency, t.transfer_id FROM booked AS t JOIN wallets AS w ON w.id = t.wallet_id"
);

fn metadata_object(new: &NewTransaction) -> serde_json::Value {
    new.metadata
        .as_ref()
        .map_or_else(|| serde_json::json!({}), MetadataInput::object)
}

impl TransactionChanges {
    fn is_empty(&self) -> bool {
        self.wallet_id.is_none()
            && self.txid.is_none()
            && self.amount.is_none()
            && self.metadata.is_none()
    }
}

impl Transaction {
    pub fn find_by_txid(conn: &mut PgConnection, txid: &Txid) -> QueryResult<Option<Transaction>> {
        transactions_with_currency::table
            .filter(transactions_with_currency::txid.eq(txid))
            .select(Transaction::as_select())
            .first(conn)
            .optional()
    }

    /// Books a transaction: one INSERT (prepared once per connection), whose trigger moves
    /// the money or refuses the write. `None` when the txid is taken.
    pub fn create(
        conn: &mut PgConnection,
        new: &NewTransaction,
    ) -> QueryResult<Option<Transaction>> {
        Ok(Transaction::book(conn, &[new])?.pop())
    }

    /// Books `news` in one statement (the one a single booking takes): the transactions it
    /// wrote, without those whose txid is taken. On an error, it wrote none.
    pub fn book(
        conn: &mut PgConnection,
        news: &[&NewTransaction],
    ) -> QueryResult<Vec<Transaction>> {
        let wallets: Vec<i64> = news.iter().map(|new| new.wallet_id).collect();
        let txids: Vec<&str> = news.iter().map(|new| new.txid.as_str()).collect();
        let amounts: Vec<&Amount> = news.iter().map(|new| &new.amount).collect();
        let metadata: Vec<serde_json::Value> =
            news.iter().map(|new| metadata_object(new)).collect();
        prepared::<BookTransactions, _>((
            bind::<Array<Int8>, _>(&wallets),
            bind::<Array<Text>, _>(&txids),
            bind::<Array<Numeric>, _>(&amounts),
            bind::<Array<Jsonb>, _>(&metadata),
        ))
        .load(conn)
    }

    /// Changes a transaction (one UPDATE; the trigger moves the money between wallets or by
    /// the difference in amount); `None` when there is no such transaction.
    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &TransactionChanges,
    ) -> QueryResult<Option<Transaction>> {
        if changes.is_empty() {
            return <Transaction as Record>::find(conn, &id);
        }
        diesel::update(transactions::table.find(id))
            .set((
                changes.wallet_id.map(|id| transactions::wallet_id.eq(id)),
                changes
                    .txid
                    .as_ref()
                    .map(|txid| transactions::txid.eq(txid)),
                changes
                    .amount
                    .as_ref()
                    .map(|amount| transactions::amount.eq(amount)),
                changes
                    .metadata
                    .as_ref()
                    .map(|patch| transactions::metadata.eq(merged!(transactions::metadata, patch))),
            ))
            .execute(conn)?;
        // Read as the view shows it (its currency, its amount at the scale).
        <Transaction as Record>::find(conn, &id)
    }

    /// Deletes a transaction (its amount leaves the wallet's balance); `false` when there was
    /// none.
    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(transactions::table.find(id))
            .execute(conn)
            .map(|deleted| deleted > 0)
    }
}
