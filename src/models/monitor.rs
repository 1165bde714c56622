//! Balance monitors: a condition on a wallet's balance or available amount (`balance lt
//! 100`). The database evaluates every monitor of a wallet in the transaction of each change
//! of it, SQL included, and writes `monitor.triggered` when the condition becomes true and
//! `monitor.cleared` when it stops being true (`sql/55_events.sql`). Read from the view
//! `balance_monitors_with_scale` (each with its wallet's scale).

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use super::currency::at_scale;
use super::declare::resource;
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::domain::Threshold;
use crate::parse::{Accepts, Input, Parse, string_attribute};
use crate::schema::{balance_monitors, balance_monitors_with_scale};

/// What a monitor watches.
pub const FIELDS: &[&str] = &["balance", "available"];
/// How it compares.
pub const OPERATORS: &[&str] = &["lt", "lte", "gt", "gte"];
/// Where it stands.
pub const STATES: &[&str] = &["clear", "triggered"];

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = balance_monitors_with_scale, check_for_backend(Pg))]
pub struct BalanceMonitor {
    pub id: i64,
    pub wallet_id: i64,
    pub field: String,
    pub operator: String,
    #[diesel(select_expression = at_scale(
        balance_monitors_with_scale::amount,
        balance_monitors_with_scale::scale
    ))]
    pub amount: BigDecimal,
    pub state: String,
    pub triggered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    pub currency: String,
}

/// One of a fixed list of words, as a client writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<const LIST: usize>(pub &'static str);

/// `field`: balance or available.
pub type Watched = Word<0>;
/// `operator`: lt, lte, gt or gte.
pub type Comparison = Word<1>;

impl<const LIST: usize> Parse for Word<LIST> {
    const ACCEPTS: Accepts = Accepts::Choice(if LIST == 0 { FIELDS } else { OPERATORS });

    fn parse(input: Input<'_>) -> Result<Word<LIST>, String> {
        let (name, words) = if LIST == 0 {
            ("field", FIELDS)
        } else {
            ("operator", OPERATORS)
        };
        let text = string_attribute(input, name)?;
        words
            .iter()
            .find(|word| **word == text)
            .map(|word| Word(word))
            .ok_or_else(|| format!("{name} is one of {}, got {text:?}", words.join(", ")))
    }
}

resource! {
    /// The fields of a balance monitor.
    BalanceMonitor in balance_monitors_with_scale as "balance-monitors", fields BalanceMonitorField {
        Id "id": id, id, read, sort, filter cmp, "The monitor's id.";
        Field "field": field, choice(FIELDS), required(Watched), nosort, filter eq,
            "What it watches: the wallet's balance, or its available amount (balance - held + \
             credit limit).";
        Operator "operator": operator, choice(OPERATORS), required(Comparison), nosort, filter eq,
            "How field is compared with amount: lt (<), lte (<=), gt (>), gte (>=).";
        Amount "amount": amount, money, required(Threshold), nosort, filter none,
            "The threshold, exact at the scale of the wallet's currency.";
        Currency "currency": currency, text, read, nosort, filter eq,
            "Its wallet's currency (its code).";
        State "state": state, choice(STATES), read, nosort, filter eq,
            "triggered while the condition holds, clear otherwise; it turns (and an event is \
             written) only when the condition starts or stops holding.";
        TriggeredAt "triggeredAt": triggered_at, opt_time, read, nosort, filter none,
            "When the condition last started holding; null while clear.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it was created (set by the server).";
        UpdatedAt "updatedAt": updated_at, time, read, nosort, filter none,
            "When it last changed (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Wallet "wallet": wallet_id, to_one("wallets"), once(i64), nosort, filter cmp,
            "The wallet it watches; never changed.";
    }
    input NewBalanceMonitor, BalanceMonitorChanges;
}

impl BalanceMonitor {
    /// Creates the monitor: the database gives it its state (triggered when the condition
    /// holds already, with its event).
    pub fn create(conn: &mut PgConnection, new: &NewBalanceMonitor) -> QueryResult<i64> {
        diesel::insert_into(balance_monitors::table)
            .values((
                balance_monitors::wallet_id.eq(new.wallet_id),
                balance_monitors::field.eq(new.field.0),
                balance_monitors::operator.eq(new.operator.0),
                balance_monitors::amount.eq(&new.amount.0),
                balance_monitors::metadata.eq(new
                    .metadata
                    .as_ref()
                    .map_or_else(|| serde_json::json!({}), MetadataInput::object)),
            ))
            .returning(balance_monitors::id)
            .get_result(conn)
    }

    /// Changes what is given; the database evaluates the condition again. `false` when there
    /// is no such monitor.
    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &BalanceMonitorChanges,
    ) -> QueryResult<bool> {
        // Its terms in one UPDATE: the database judges the new condition once (a change made
        // in steps could turn the monitor, and write its events, in between).
        #[derive(AsChangeset)]
        #[diesel(table_name = balance_monitors)]
        struct Terms<'a> {
            field: Option<&'a str>,
            operator: Option<&'a str>,
            amount: Option<&'a BigDecimal>,
        }
        let terms = Terms {
            field: changes.field.map(|word| word.0),
            operator: changes.operator.map(|word| word.0),
            amount: changes.amount.as_ref().map(|amount| &amount.0),
        };
        let target = balance_monitors::table.find(id);
        let mut found = balance_monitors::table
            .find(id)
            .select(balance_monitors::id)
            .for_no_key_update()
            .first::<i64>(conn)
            .optional()?
            .is_some();
        if found && (terms.field.is_some() || terms.operator.is_some() || terms.amount.is_some()) {
            found = diesel::update(target).set(&terms).execute(conn)? > 0;
        }
        if let (true, Some(patch)) = (found, &changes.metadata) {
            diesel::update(target)
                .set(balance_monitors::metadata.eq(merged!(balance_monitors::metadata, patch)))
                .execute(conn)?;
        }
        Ok(found)
    }

    /// `false` when there is no such monitor.
    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(balance_monitors::table.find(id))
            .execute(conn)
            .map(|deleted| deleted > 0)
    }
}
