//! Values that are checked once, when they enter: a `Label`, a `Txid` or an `Amount` that
//! exists is valid. The same rules stand in SQL as CHECK constraints (see `migrations/`), so
//! SQL users meet them too. Each one is written to the database as itself (diesel's
//! `AsExpression`), so a model's insert and update structs hold checked values only.

use std::fmt;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Numeric, Text};
use serde_json::value::RawValue;

use crate::parse::{Accepts, Input, Parse, Sign};

/// Fractional digits of money: numeric(36,18).
pub const MONEY_SCALE: i64 = 18;
/// Integer digits of money: numeric(36,18) holds values below 10^18.
pub const MONEY_INTEGER_DIGITS: u64 = 18;

/// What the txid of a hold's capture starts with (`capture_hold` in `migrations/`); the rest
/// is the hold's id.
pub const CAPTURE_TXID_PREFIX: &str = "hold:";

/// Longest label or txid, in characters.
pub const MAX_TEXT_CHARS: usize = 255;

/// Why a value was refused, in words fit for an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue(pub String);

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bounded_text(what: &str, text: &str) -> Result<String, InvalidValue> {
    let chars = text.chars().count();
    if chars == 0 {
        return Err(InvalidValue(format!("{what} must not be empty")));
    }
    if chars > MAX_TEXT_CHARS {
        return Err(InvalidValue(format!(
            "{what} must be at most {MAX_TEXT_CHARS} characters, got {chars}"
        )));
    }
    if text.contains('\0') {
        return Err(InvalidValue(format!(
            "{what} must not contain the NUL character"
        )));
    }
    Ok(text.to_string())
}

/// A wallet's label: 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Text)]
pub struct Label(String);

impl Label {
    pub fn parse(text: &str) -> Result<Label, InvalidValue> {
        bounded_text("label", text).map(Label)
    }
}

/// A transaction's client-chosen reference: 1 to 255 characters, unique, not starting
/// `hold:` (the txids of captures).
#[derive(Debug, Clone, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Text)]
pub struct Txid(String);

impl Txid {
    pub fn parse(text: &str) -> Result<Txid, InvalidValue> {
        if text.starts_with(CAPTURE_TXID_PREFIX) {
            return Err(InvalidValue(format!(
                "txids starting {CAPTURE_TXID_PREFIX:?} are the captures' of holds \
                 (hold:<id>): choose another"
            )));
        }
        bounded_text("txid", text).map(Txid)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A currency's code: 2 to 16 characters, `A-Z` and `0-9`, starting with a letter (`USD`,
/// `BTC`, `USDT`).
#[derive(Debug, Clone, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Text)]
pub struct CurrencyCode(String);

/// The form of a currency code, as a regular expression.
pub const CURRENCY_CODE_PATTERN: &str = "^[A-Z][A-Z0-9]{1,15}$";

/// The currency of a wallet created without one: ISO 4217's "no currency", scale 18.
pub const NO_CURRENCY: &str = "XXX";

impl CurrencyCode {
    pub fn parse(text: &str) -> Result<CurrencyCode, InvalidValue> {
        let bytes = text.as_bytes();
        let well_formed = (2..=16).contains(&bytes.len())
            && bytes[0].is_ascii_uppercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !well_formed {
            return Err(InvalidValue(format!(
                "a currency code is 2 to 16 characters, A-Z and 0-9, starting with a letter \
                 (USD, BTC, USDT); got {text:?}"
            )));
        }
        Ok(CurrencyCode(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ToSql<Text, Pg> for CurrencyCode {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(&self.0, out)
    }
}

impl ToSql<Text, Pg> for Label {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(&self.0, out)
    }
}

impl ToSql<Text, Pg> for Txid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(&self.0, out)
    }
}

/// A non-zero exact decimal that fits numeric(36,18).
#[derive(Debug, Clone, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Numeric)]
pub struct Amount(BigDecimal);

impl ToSql<Numeric, Pg> for Amount {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <BigDecimal as ToSql<Numeric, Pg>>::to_sql(&self.0, out)
    }
}

impl Amount {
    /// Parses the decimal text of an amount exactly: an optional `-`, digits, an optional
    /// fraction, an optional exponent (`1.5`, `-0.25`, `2e3`). Never goes through a float.
    pub fn parse(text: &str) -> Result<Amount, InvalidValue> {
        let value = exact_decimal(text, "amount")?;
        if value == 0 {
            return Err(InvalidValue(
                "amount must not be zero: a transaction moves money".to_string(),
            ));
        }
        Ok(Amount(value.with_scale(MONEY_SCALE)))
    }

    pub fn value(&self) -> &BigDecimal {
        &self.0
    }
}

/// A decimal `what` holds: at most 18 digits before the point and 18 after it (what
/// numeric(36,18) holds without rounding), parsed exactly.
fn exact_decimal(text: &str, what: &str) -> Result<BigDecimal, InvalidValue> {
    let value = parse_decimal(text).ok_or_else(|| {
        InvalidValue(format!(
            "{what} must be a decimal number such as \"12.50\", got {text:?}"
        ))
    })?;
    let (_, scale) = value.normalized().as_bigint_and_exponent();
    if scale > MONEY_SCALE {
        return Err(InvalidValue(format!(
            "{what} has more than {MONEY_SCALE} digits after the decimal point"
        )));
    }
    if value.abs() >= 10u64.pow(MONEY_INTEGER_DIGITS as u32) {
        return Err(InvalidValue(format!(
            "{what} has more than {MONEY_INTEGER_DIGITS} digits before the decimal point"
        )));
    }
    Ok(value)
}

/// Parses decimal text strictly: `-?digits(.digits)?([eE][+-]?digits)?`, or with the integer
/// part or the fraction empty but not both (`.5`, `5.`). No `+` sign, no spaces, no `NaN`,
/// no `Infinity`. Used for amounts and for numeric filter values.
pub fn parse_decimal(text: &str) -> Option<BigDecimal> {
    let bytes = text.as_bytes();
    let mut i = 0;
    if bytes.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        // Exponents beyond a few digits describe numbers no column holds; refuse them early
        // rather than build a huge value.
        if i == exp_start || i - exp_start > 4 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    BigDecimal::from_str(text).ok()
}

/// Money as it goes out: the exact decimal, plain notation (never `1E-18`), with the
/// fractional digits it carries (the queries round every amount to its currency's scale).
pub fn format_money(value: &BigDecimal) -> String {
    value.to_plain_string()
}

/// Money as it goes out at a currency's scale (an amount exact at that scale, as the
/// database keeps them: nothing is rounded away).
pub fn format_money_at(value: &BigDecimal, scale: i16) -> String {
    value.with_scale(i64::from(scale)).to_plain_string()
}

pub const TIME_FORMATS: &str =
    "use RFC 3339 (2026-11-24T13:00:00Z) or a date (2026-11-24), from 4714-11-24 BC on";

/// Times go out as RFC 3339 in UTC with microseconds, as PostgreSQL stores them.
pub fn timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An RFC 3339 time (without a leap second), or a date meaning its midnight UTC, that
/// PostgreSQL's `timestamptz`
/// holds: from 4714-11-24 BC (its first day; chrono's latest year, 262143, is within its
/// last).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let time = match DateTime::parse_from_rfc3339(text) {
        Ok(time) => time.with_timezone(&Utc),
        Err(_) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc(),
    };
    let earliest = NaiveDate::from_ymd_opt(-4713, 11, 24)?
        .and_hms_opt(0, 0, 0)?
        .and_utc();
    // PostgreSQL has no leap seconds (it would read 23:59:60 as the next minute's start).
    let leap_second = time.timestamp_subsec_nanos() >= 1_000_000_000;
    (time >= earliest && !leap_second).then_some(time)
}

/// A JSON string's text.
fn json_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

/// The text of a decimal given as a JSON string or a JSON number (read from its own digits,
/// never through a float).
fn json_decimal(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        json_string(raw)
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Some(text.to_string())
    } else {
        None
    }
}

fn attribute(input: Input<'_>) -> Result<&RawValue, String> {
    match input {
        Input::Attribute(raw) => Ok(raw),
        Input::Link(_) | Input::Links(_) => Err("this is an attribute, not a relationship".into()),
    }
}

impl Parse for Label {
    const ACCEPTS: Accepts = Accepts::Text {
        min: 1,
        max: MAX_TEXT_CHARS,
    };

    fn parse(input: Input<'_>) -> Result<Label, String> {
        let text = json_string(attribute(input)?).ok_or("label must be a string")?;
        Label::parse(&text).map_err(|why| why.0)
    }
}

impl Parse for CurrencyCode {
    const ACCEPTS: Accepts = Accepts::Code {
        pattern: CURRENCY_CODE_PATTERN,
        max: 16,
    };

    fn parse(input: Input<'_>) -> Result<CurrencyCode, String> {
        let text = json_string(attribute(input)?).ok_or("currency must be a string (USD)")?;
        CurrencyCode::parse(&text).map_err(|why| why.0)
    }
}

impl Parse for Txid {
    const ACCEPTS: Accepts = Accepts::Text {
        min: 1,
        max: MAX_TEXT_CHARS,
    };

    fn parse(input: Input<'_>) -> Result<Txid, String> {
        let text = json_string(attribute(input)?).ok_or("txid must be a string")?;
        Txid::parse(&text).map_err(|why| why.0)
    }
}

impl Parse for Amount {
    const ACCEPTS: Accepts = Accepts::Decimal {
        integer: MONEY_INTEGER_DIGITS as u32,
        fraction: MONEY_SCALE as u32,
        sign: Sign::NonZero,
    };

    fn parse(input: Input<'_>) -> Result<Amount, String> {
        let text = json_decimal(attribute(input)?)
            .ok_or("amount must be a decimal number, as a string (\"12.50\") or a JSON number")?;
        Amount::parse(&text).map_err(|why| why.0)
    }
}

/// A positive [`Amount`]: what a hold reserves and captures, what a transfer moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositiveAmount(pub Amount);

impl Parse for PositiveAmount {
    const ACCEPTS: Accepts = Accepts::Decimal {
        integer: MONEY_INTEGER_DIGITS as u32,
        fraction: MONEY_SCALE as u32,
        sign: Sign::Positive,
    };

    fn parse(input: Input<'_>) -> Result<PositiveAmount, String> {
        let amount = <Amount as Parse>::parse(input)?;
        if amount.value().sign() == bigdecimal::num_bigint::Sign::Minus {
            return Err(
                "this amount is positive: a hold reserves it, a transfer moves it from \
                        its source to its destination"
                    .into(),
            );
        }
        Ok(PositiveAmount(amount))
    }
}

/// The decimal attribute `name` (a string, or a JSON number read from its digits) as
/// numeric(36,18) holds it exactly, refused with `why` when it is not of `sign`.
fn decimal_attribute(
    input: Input<'_>,
    name: &str,
    example: &str,
    sign: Sign,
    why: &str,
) -> Result<BigDecimal, String> {
    let text = json_decimal(attribute(input)?)
        .ok_or_else(|| format!("{name} must be a decimal number, as a string (\"{example}\")"))?;
    let value = exact_decimal(&text, name).map_err(|why| why.0)?;
    let fits = match sign {
        Sign::NonZero => value != 0,
        Sign::Positive => value > 0,
        Sign::NonNegative => value >= 0,
        Sign::Any => true,
    };
    if fits {
        Ok(value)
    } else {
        Err(why.to_string())
    }
}

/// A wallet's credit limit: how far below zero its balance may go; zero or above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditLimit(pub BigDecimal);

impl Parse for CreditLimit {
    const ACCEPTS: Accepts = Accepts::Decimal {
        integer: MONEY_INTEGER_DIGITS as u32,
        fraction: MONEY_SCALE as u32,
        sign: Sign::NonNegative,
    };

    fn parse(input: Input<'_>) -> Result<CreditLimit, String> {
        let value = decimal_attribute(
            input,
            "creditLimit",
            "500.00",
            Sign::NonNegative,
            "creditLimit is zero or above: how far below zero the balance may go",
        )?;
        Ok(CreditLimit(value.with_scale(MONEY_SCALE)))
    }
}

/// A monitor's threshold: any decimal numeric(36,18) holds (below zero for a wallet with a
/// credit line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold(pub BigDecimal);

impl Parse for Threshold {
    const ACCEPTS: Accepts = Accepts::Decimal {
        integer: MONEY_INTEGER_DIGITS as u32,
        fraction: MONEY_SCALE as u32,
        sign: Sign::Any,
    };

    fn parse(input: Input<'_>) -> Result<Threshold, String> {
        let value = decimal_attribute(input, "amount", "100.00", Sign::Any, "")?;
        Ok(Threshold(value.with_scale(MONEY_SCALE)))
    }
}

/// An exchange rate: how many units of one currency one unit of another buys; above zero,
/// at most 18 digits before the point and 18 after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate(pub BigDecimal);

impl Parse for Rate {
    const ACCEPTS: Accepts = Accepts::Decimal {
        integer: MONEY_INTEGER_DIGITS as u32,
        fraction: MONEY_SCALE as u32,
        sign: Sign::Positive,
    };

    fn parse(input: Input<'_>) -> Result<Rate, String> {
        decimal_attribute(
            input,
            "rate",
            "0.0000105",
            Sign::Positive,
            "rate is above zero: the units of the destination's currency one unit of the \
             source's buys",
        )
        .map(Rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed<T: Parse>(json: &str) -> Result<T, String> {
        let raw = RawValue::from_string(json.to_string()).unwrap();
        T::parse(Input::Attribute(&raw))
    }

    #[test]
    fn a_credit_limit_is_zero_or_above_and_a_rate_above_zero() {
        for good in [
            "\"0\"",
            "\"500.25\"",
            "0",
            "\"999999999999999999.999999999999999999\"",
        ] {
            assert!(parsed::<CreditLimit>(good).is_ok(), "{good}");
        }
        for bad in [
            "\"-0.01\"",
            "\"1e18\"",
            "\"0.0000000000000000001\"",
            "true",
            "\"x\"",
        ] {
            assert!(parsed::<CreditLimit>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parsed::<Rate>("\"0.0000105\"").unwrap().0,
            "0.0000105".parse::<BigDecimal>().unwrap()
        );
        for bad in [
            "\"0\"",
            "\"-1\"",
            "\"0.0000000000000000001\"",
            "\"1000000000000000000\"",
        ] {
            assert!(parsed::<Rate>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn currency_codes_are_checked_when_they_enter() {
        for good in ["USD", "BTC", "USDT", "A1", "ABCDEFGHIJKLMNOP"] {
            assert!(CurrencyCode::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "U",
            "usd",
            "1BTC",
            "US-D",
            "ABCDEFGHIJKLMNOPQ",
            "USD ",
            "ÜSD",
        ] {
            assert!(CurrencyCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_parse_exactly() {
        for (text, expected) in [
            ("1", "1.000000000000000000"),
            ("-0.5", "-0.500000000000000000"),
            ("0.000000000000000001", "0.000000000000000001"),
            (
                "999999999999999999.999999999999999999",
                "999999999999999999.999999999999999999",
            ),
            ("2e3", "2000.000000000000000000"),
            ("1.5E-3", "0.001500000000000000"),
            ("12.50000000000000000000000", "12.500000000000000000"),
            (".5", "0.500000000000000000"),
            // A float would turn this into 0.30000000000000004.
            ("0.3", "0.300000000000000000"),
        ] {
            let amount = Amount::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(format_money(amount.value()), expected, "{text}");
        }
    }

    #[test]
    fn bad_amounts_say_why() {
        for (text, needle) in [
            ("", "decimal number"),
            ("abc", "decimal number"),
            ("NaN", "decimal number"),
            ("Infinity", "decimal number"),
            ("+5", "decimal number"),
            (" 5", "decimal number"),
            ("5 ", "decimal number"),
            ("1,5", "decimal number"),
            ("-", "decimal number"),
            (".", "decimal number"),
            ("1e", "decimal number"),
            ("1e99999", "decimal number"),
            ("0.0000000000000000001", "more than 18 digits after"),
            ("1000000000000000000", "more than 18 digits before"),
            ("-1e18", "more than 18 digits before"),
            ("0", "must not be zero"),
            ("-0.000", "must not be zero"),
        ] {
            let error = Amount::parse(text).unwrap_err().to_string();
            assert!(error.contains(needle), "{text:?}: {error}");
        }
    }

    #[test]
    fn text_values_are_bounded() {
        assert!(Label::parse("savings").is_ok());
        assert!(
            Label::parse(&"é".repeat(255)).is_ok(),
            "characters, not bytes"
        );
        assert!(
            Label::parse("")
                .unwrap_err()
                .0
                .contains("must not be empty")
        );
        assert!(
            Label::parse(&"x".repeat(256))
                .unwrap_err()
                .0
                .contains("at most 255")
        );
        assert!(Txid::parse("a\0b").unwrap_err().0.contains("NUL"));
        assert!(Txid::parse("tx-1").is_ok());
    }
}
