//! Currencies: the catalogue wallets name their currency from (`currencies`), and the
//! rendering of amounts at a currency's scale. The database holds every amount exact at its
//! wallet's scale (`sql/15_currencies.sql`); the queries round each amount read to that
//! scale, so that it goes out with exactly the currency's fractional digits.

use diesel::sql_types::{Int2, Nullable, Numeric};

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
