//! Wallets: a label, and a balance and a held amount that only the database's triggers
//! write. `held` and `available` are read as they stand now: a pending hold past its expiry
//! stops counting at once, whether or not the sweep has marked it (see `migrations/`).

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Array, Int8, Nullable, Numeric, Timestamptz};

use super::currency::at_scale;
use super::declare::resource;
use super::fields::Record;
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::db::prepared::{bind, prepared, statement};
use crate::domain::{CreditLimit, CurrencyCode, Label, NO_CURRENCY};
use crate::schema::wallets;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = wallets, check_for_backend(Pg))]
pub struct Wallet {
    pub id: i64,
    pub label: String,
    #[diesel(select_expression = at_scale(wallets::balance, wallets::scale))]
    pub balance: BigDecimal,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    #[diesel(select_expression = at_scale(
        wallet_held_now(wallets::id, wallets::held, wallets::held_expires_at),
        wallets::scale
    ))]
    pub held: BigDecimal,
    #[diesel(select_expression = at_scale(
        wallet_available_now(
            wallets::id,
            wallets::balance,
            wallets::held,
            wallets::held_expires_at,
            wallets::credit_limit
        ),
        wallets::scale
    ))]
    pub available: BigDecimal,
    pub currency: String,
    /// Its currency's fractional digits: every amount of it is exact at this scale.
    pub scale: i16,
    #[diesel(select_expression = at_scale(wallets::credit_limit, wallets::scale))]
    pub credit_limit: BigDecimal,
}

// What a wallet's pending, unexpired holds keep, and what is left to spend, as the view
// `wallet_balances` computes them (functions of `migrations/`, not SQL text: a statement with
// literal SQL in it would not be prepared once per connection).
diesel::define_sql_function! {
    fn wallet_held_now(wallet: Int8, held: Numeric, held_expires_at: Nullable<Timestamptz>) -> Numeric;
}
diesel::define_sql_function! {
    fn wallet_available_now(
        wallet: Int8,
        balance: Numeric,
        held: Numeric,
        held_expires_at: Nullable<Timestamptz>,
        credit_limit: Numeric,
    ) -> Numeric;
}

resource! {
    /// The fields of a wallet.
    Wallet in wallets as "wallets", fields WalletField {
        Id "id": id, id, read, sort, filter cmp, "The wallet's id.";
        Label "label": label, text, required(Label), sort, filter text,
            "The wallet's name.";
        Balance "balance": balance, money, read, sort, filter cmp,
            "The sum of the wallet's transactions, kept by the database: never below minus its \
             creditLimit (never negative without one), and never written directly (create a \
             transaction to change it). filter[balance.lt]=0 finds the wallets using credit.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When the wallet was created (set by the server).";
        UpdatedAt "updatedAt": updated_at, time, read, nosort, filter none,
            "When its label or balance last changed (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Held "held": held, money, read, computed, filter none,
            "What its pending holds keep, kept by the database: a hold stops counting the \
             moment it is captured, voided or past its expiresAt.";
        Available "available": available, money, read, computed, filter none,
            "What can be spent or held: balance - held + creditLimit, never negative. A debit \
             or a hold larger than it is refused.";
        Currency "currency": currency, text, create(CurrencyCode), sort, filter eq,
            "The code of the currency it holds (USD, BTC; a code of the currencies catalogue), \
             given when it is created and never changed: XXX (no currency, 18 fractional \
             digits) when none is given. Every amount of the wallet is exact at the \
             currency's scale and goes out with exactly that many fractional digits.";
        CreditLimit "creditLimit": credit_limit, money, write(CreditLimit), nosort, filter cmp,
            "How far below zero its balance may go (0, the default: not at all), exact at its \
             currency's scale. Set on create or changed by an admin key only (another key \
             gets 403 insufficient-scope); never lowered below what the wallet uses of it \
             (409 credit-limit-in-use). Its changes are on record (wallet_revisions).";
        CurrencyDetails "currencyDetails": currency, to_code("currencies"), read, nosort, filter none,
            "The currency's entry in the catalogue (its name, scale and kind): include it with \
             include=currencyDetails. (JSON:API gives attributes and relationships one \
             namespace, so the relationship cannot share the name of the currency attribute.)";
    }
    has_many {
        "transactions": "transactions",
            "The wallet's transactions: each is created through /transactions with this \
             wallet as its wallet, and moved with PATCH /transactions/{id}/relationships/wallet.";
        "balance-changes": "balance-changes",
            "The wallet's balance journal, written by the database whenever its balance or its \
             held amount changes.";
        "holds": "holds",
            "The wallet's holds: each is created through /holds with this wallet as its wallet.";
        "transfers": "transfers",
            "The transfers into and out of the wallet (those whose source or destination it \
             is): each is created through /transfers.";
        "exchanges": "exchanges",
            "The exchanges into and out of the wallet (those whose source or destination it \
             is): each is created through /exchanges.";
    }
    input NewWallet, WalletChanges;
}

// Wallets locked in the order every writer locks them (ascending ids).
statement!(
    LockWallets,
    "SELECT id FROM wallets WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE"
);

// The wallets that another transaction holds locked: the others are locked now (in ascending
// order), without waiting.
statement!(
    WalletsHeldElsewhere,
    "SELECT id FROM wallets WHERE id = ANY($1) EXCEPT \
     SELECT id FROM (SELECT id FROM wallets WHERE id = ANY($2) ORDER BY id \
     FOR NO KEY UPDATE SKIP LOCKED) AS free"
);

#[derive(QueryableByName)]
struct LockedId {
    #[diesel(sql_type = Int8)]
    id: i64,
}

impl Wallet {
    /// A new wallet; its balance starts at 0.
    pub fn create(conn: &mut PgConnection, new: &NewWallet) -> QueryResult<Wallet> {
        let metadata = new.metadata.as_ref().map(MetadataInput::object);
        diesel::insert_into(wallets::table)
            .values((
                wallets::label.eq(&new.label),
                wallets::currency.eq(new
                    .currency
                    .as_ref()
                    .map_or(NO_CURRENCY, |code| code.as_str())),
                metadata.map(|metadata| wallets::metadata.eq(metadata)),
                new.credit_limit
                    .as_ref()
                    .map(|limit| wallets::credit_limit.eq(&limit.0)),
            ))
            .returning(Wallet::as_returning())
            .get_result(conn)
    }

    /// Changes what `changes` gives (the database refreshes `updated_at`); `None` when there
    /// is no such wallet.
    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &WalletChanges,
    ) -> QueryResult<Option<Wallet>> {
        if changes.label.is_none() && changes.metadata.is_none() && changes.credit_limit.is_none() {
            return <Wallet as Record>::find(conn, &id);
        }
        diesel::update(wallets::table.find(id))
            .set((
                changes.label.as_ref().map(|label| wallets::label.eq(label)),
                changes
                    .metadata
                    .as_ref()
                    .map(|patch| wallets::metadata.eq(merged!(wallets::metadata, patch))),
                changes
                    .credit_limit
                    .as_ref()
                    .map(|limit| wallets::credit_limit.eq(&limit.0)),
            ))
            .returning(Wallet::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Locks these wallets (ascending ids) for this database transaction, lowest id first:
    /// the order the balance triggers lock in, so that writers of the same wallets queue
    /// instead of deadlocking. The ids of those that exist.
    pub fn lock(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let locked: Vec<LockedId> =
            prepared::<LockWallets, _>((bind::<Array<Int8>, _>(ids),)).load(conn)?;
        Ok(locked.into_iter().map(|row| row.id).collect())
    }

    /// Of these wallets (ascending ids), locks those no other transaction holds locked,
    /// without waiting; the ids of those another transaction holds.
    pub fn held_elsewhere(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
        let held: Vec<LockedId> = prepared::<WalletsHeldElsewhere, _>((
            bind::<Array<Int8>, _>(ids),
            bind::<Array<Int8>, _>(ids),
        ))
        .load(conn)?;
        Ok(held.into_iter().map(|row| row.id).collect())
    }

    /// Whether any transaction belongs to the wallet.
    pub fn has_transactions(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        use crate::schema::transactions;
        diesel::select(diesel::dsl::exists(
            transactions::table.filter(transactions::wallet_id.eq(id)),
        ))
        .get_result(conn)
    }

    /// Whether the wallet has a hold that keeps money (pending, unexpired).
    pub fn has_pending_holds(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        use crate::schema::holds_now;
        diesel::select(diesel::dsl::exists(
            holds_now::table
                .filter(holds_now::wallet_id.eq(id))
                .filter(holds_now::status.eq(super::hold::HoldStatus::Pending.as_str())),
        ))
        .get_result(conn)
    }

    /// Deletes the wallet; `false` when there was none. A wallet with transactions or with a
    /// balance history cannot be deleted: the foreign keys `transactions_wallet_id_fkey` and
    /// `balance_changes_wallet_id_fkey` refuse it.
    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(wallets::table.find(id))
            .execute(conn)
            .map(|deleted| deleted > 0)
    }
}

/// A wallet `wallet-api verify` flags: its copies of its balance disagree (the stored
/// balance, the sum of its transactions, its journal's last row), it is negative, or its
/// journal's running total breaks; or transactions whose wallet is gone.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct BalanceProblem {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub wallet_id: i64,
    /// `None` when the wallet does not exist.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    pub stored_balance: Option<BigDecimal>,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub transactions_sum: BigDecimal,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    pub journal_balance: Option<BigDecimal>,
    /// The first journal row (since the last repair) whose balance is not the previous
    /// row's plus its delta.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Int8>)]
    pub journal_break_id: Option<i64>,
    /// Every disagreement, `; `-separated.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub problem: String,
}

/// Every row of the `wallet_balance_audit` view: empty when every balance is right.
pub fn audit_balances(conn: &mut PgConnection) -> QueryResult<Vec<BalanceProblem>> {
    sql_query(
        "SELECT wallet_id, stored_balance, transactions_sum, journal_balance, \
         journal_break_id, problem FROM wallet_balance_audit ORDER BY wallet_id",
    )
    .load(conn)
}
