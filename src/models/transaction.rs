//! Transactions: each moves `amount` into (positive) or out of (negative) one wallet. The
//! database's triggers apply every insert, update and delete to the wallets' balances.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use diesel::sql_types::{Array, Int8, Jsonb, Numeric, Text};

use super::declare::resource;
use super::fields::Record;
use super::idempotency_key::{Claim, StoredResponse};
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::db::coalesce::Many;
use crate::db::prepared::{bind, prepared, statement};
use crate::domain::{Amount, Txid};
use crate::schema::transactions;

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = transactions, check_for_backend(Pg))]
pub struct Transaction {
    pub id: i64,
    pub wallet_id: i64,
    pub txid: String,
    pub amount: BigDecimal,
    pub created_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
}

resource! {
    /// The fields of a transaction.
    Transaction in transactions as "transactions", fields TransactionField {
        Id "id": id, id, read, sort, filter cmp, "The transaction's id.";
        Txid "txid": txid, text, required(Txid), sort, filter text,
            "Your own reference for it, unique: a txid books money once, so a retried request \
             cannot book twice.";
        Amount "amount": amount, money, required(Amount), sort, filter cmp,
            "What it moves: positive credits the wallet, negative debits it; never zero. \
             Changing it moves the difference.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it was booked (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Wallet "wallet": wallet_id, to_one("wallets"), required(i64), nosort, filter cmp,
            "The wallet it belongs to; changing it moves the money to the other wallet.";
    }
    input NewTransaction, TransactionChanges;
}

// The statement names the API key it books for ($1, '' for none) itself, before its row
// is inserted, so that its trigger journals it under that key: bookings of several keys can
// share one database transaction.
statement!(
    BookTransaction,
    "WITH actor AS MATERIALIZED (SELECT set_config('wallet_api.actor', $1, true)) \
     INSERT INTO transactions (wallet_id, txid, amount, metadata) SELECT $2, $3, $4, $5 FROM actor \
     ON CONFLICT (txid) DO NOTHING RETURNING id, wallet_id, txid, amount, created_at, metadata"
);

// Bookings written together (`db::coalesce`'s waves): one row per booking of the arrays,
// for one API key ($1). The trigger journals each wallet's aggregate, which is one booking
// (a wave never books a wallet twice).
statement!(
    BookTransactions,
    "WITH actor AS MATERIALIZED (SELECT set_config('wallet_api.actor', $1, true)) \
     INSERT INTO transactions (wallet_id, txid, amount, metadata) \
     SELECT b.wallet_id, b.txid, b.amount, b.metadata FROM actor, \
     unnest($2::int8[], $3::text[], $4::numeric[], $5::jsonb[]) AS b (wallet_id, txid, amount, metadata) \
     ON CONFLICT (txid) DO NOTHING RETURNING id, wallet_id, txid, amount, created_at, metadata"
);

// The wallets of a batch, locked in the order every writer locks them (ascending ids).
statement!(
    LockWallets,
    "SELECT id FROM wallets WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE"
);

// The wallets of a batch that another transaction holds locked: the others are locked now
// (in ascending order), without waiting.
statement!(
    WalletsHeldElsewhere,
    "SELECT id FROM wallets WHERE id = ANY($1) EXCEPT \
     SELECT id FROM (SELECT id FROM wallets WHERE id = ANY($2) ORDER BY id \
     FOR NO KEY UPDATE SKIP LOCKED) AS free"
);

/// A booking for API key `actor` ('' for none) that may share one statement with others,
/// and the idempotency key it claims first, if it was sent with one.
pub struct Booking {
    pub actor: String,
    pub new: NewTransaction,
    pub claim: Option<KeyClaim>,
}

/// An idempotency key of API key `owner` (0: none).
pub struct KeyClaim {
    pub owner: i64,
    pub key: String,
}

impl Booking {
    pub fn new(new: NewTransaction, actor: Option<i64>) -> Booking {
        Booking {
            actor: actor_setting(actor),
            new,
            claim: None,
        }
    }
}

/// `wallet_api.actor` for API key `actor`: its id, or '' for none.
fn actor_setting(actor: Option<i64>) -> String {
    actor.map_or_else(String::new, |id| id.to_string())
}

fn metadata_object(new: &NewTransaction) -> serde_json::Value {
    new.metadata
        .as_ref()
        .map_or_else(|| serde_json::json!({}), MetadataInput::object)
}

#[derive(QueryableByName)]
struct LockedId {
    #[diesel(sql_type = Int8)]
    id: i64,
}

impl Many for Booking {
    type Row = Transaction;
    type Claim = Claim;
    type Later = StoredResponse;

    fn write_later(conn: &mut PgConnection, stored: &[StoredResponse]) -> QueryResult<()> {
        StoredResponse::save_many(conn, stored)
    }

    fn claim_key(&self) -> Option<(i64, &str)> {
        self.claim
            .as_ref()
            .map(|claim| (claim.owner, claim.key.as_str()))
    }

    fn claim_all(conn: &mut PgConnection, items: &[&Booking]) -> QueryResult<Vec<Claim>> {
        let keys: Vec<(i64, &str)> = items.iter().filter_map(|item| item.claim_key()).collect();
        StoredResponse::claim_many(conn, &keys)
    }

    fn group(&self) -> &str {
        &self.actor
    }

    fn unique(&self) -> &str {
        self.new.txid.as_str()
    }

    fn unique_of(row: &Transaction) -> &str {
        &row.txid
    }

    fn write_all(conn: &mut PgConnection, items: &[&Booking]) -> QueryResult<Vec<Transaction>> {
        let actor = items.first().map_or("", |item| item.actor.as_str());
        let wallets: Vec<i64> = items.iter().map(|item| item.new.wallet_id).collect();
        let txids: Vec<&str> = items.iter().map(|item| item.new.txid.as_str()).collect();
        let amounts: Vec<&Amount> = items.iter().map(|item| &item.new.amount).collect();
        let metadata: Vec<serde_json::Value> = items
            .iter()
            .map(|item| metadata_object(&item.new))
            .collect();
        prepared::<BookTransactions, _>((
            bind::<Text, _>(actor),
            bind::<Array<Int8>, _>(&wallets),
            bind::<Array<Text>, _>(&txids),
            bind::<Array<Numeric>, _>(&amounts),
            bind::<Array<Jsonb>, _>(&metadata),
        ))
        .load(conn)
    }

    fn lock_all(conn: &mut PgConnection, keys: &[i64]) -> QueryResult<Vec<i64>> {
        let locked: Vec<LockedId> =
            prepared::<LockWallets, _>((bind::<Array<Int8>, _>(keys),)).load(conn)?;
        Ok(locked.into_iter().map(|row| row.id).collect())
    }

    fn held_elsewhere(conn: &mut PgConnection, keys: &[i64]) -> QueryResult<Vec<i64>> {
        let held: Vec<LockedId> = prepared::<WalletsHeldElsewhere, _>((
            bind::<Array<Int8>, _>(keys),
            bind::<Array<Int8>, _>(keys),
        ))
        .load(conn)?;
        Ok(held.into_iter().map(|row| row.id).collect())
    }
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
        transactions::table
            .filter(transactions::txid.eq(txid))
            .select(Transaction::as_select())
            .first(conn)
            .optional()
    }

    /// Books a transaction for API key `actor`: one INSERT (prepared once per connection),
    /// whose trigger moves the money or refuses the write. `None` when the txid is taken: the INSERT skips it
    /// (ON CONFLICT DO NOTHING) rather than fail, so that a surrounding database transaction
    /// stays usable.
    pub fn create(
        conn: &mut PgConnection,
        new: &NewTransaction,
        actor: Option<i64>,
    ) -> QueryResult<Option<Transaction>> {
        let actor = actor_setting(actor);
        prepared::<BookTransaction, _>((
            bind::<Text, _>(&actor),
            bind::<Int8, _>(&new.wallet_id),
            bind::<Text, _>(&new.txid),
            bind::<Numeric, _>(&new.amount),
            bind::<Jsonb, _>(&metadata_object(new)),
        ))
        .get_result(conn)
        .optional()
    }

    /// Changes a transaction (one UPDATE; the trigger moves the money between wallets or by
    /// the difference in amount); `None` when there is no such transaction.
    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &TransactionChanges,
    ) -> QueryResult<Option<Transaction>> {
        if changes.is_empty() {
            return <Transaction as Record>::find(conn, id);
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
            .returning(Transaction::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Deletes a transaction (its amount leaves the wallet's balance); `false` when there was
    /// none.
    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(transactions::table.find(id))
            .execute(conn)
            .map(|deleted| deleted > 0)
    }
}
