//! Patterns: what the server reads, as regular expressions (ECMA 262, no lookaround), for the
//! schemas of parameters and inputs.

use crate::api::listing::{MAX_FILTER_DIGITS, MAX_FILTER_VALUES};
use crate::parse::Sign;

/// One of these names.
pub(super) fn one_of(names: &[&str]) -> String {
    // Names are letters, digits, `-`, `_` and `.` (event types: `wallet.created`); the dot
    // must match itself only.
    let escaped: Vec<String> = names.iter().map(|name| name.replace('.', "\\.")).collect();
    format!("(?:{})", escaped.join("|"))
}

/// A comma list of 1 to [`MAX_FILTER_VALUES`] items matching `item`.
pub(super) fn bounded_list(item: &str) -> String {
    format!("^{item}(?:,{item}){{0,{}}}$", MAX_FILTER_VALUES - 1)
}

/// A comma list of items matching `item`, or nothing.
pub(super) fn optional_list(item: &str) -> String {
    format!("^(?:{item}(?:,{item})*)?$")
}

/// A fraction of 1 to `digits` digits, not all zero.
pub(super) fn nonzero_fraction(digits: u32) -> String {
    let alternatives: Vec<String> = (0..digits)
        .map(|zeros| {
            let rest = digits - zeros - 1;
            format!("0{{{zeros}}}[1-9][0-9]{{0,{rest}}}")
        })
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

/// An exact decimal as clients write money: at most `integer` digits before the point and
/// `fraction` after it, of the sign given.
pub(super) fn money_input_pattern(integer: u32, fraction: u32, sign: Sign) -> String {
    if sign == Sign::NonNegative || sign == Sign::Any {
        let minus = if sign == Sign::Any { "-?" } else { "" };
        return format!(
            "^{minus}(?:[0-9]{{1,{integer}}}(?:\\.[0-9]{{1,{fraction}}})?|\\.[0-9]{{1,{fraction}}})$"
        );
    }
    let sign = if sign == Sign::Positive { "" } else { "-?" };
    format!(
        "^{sign}(?:[1-9][0-9]{{0,{}}}(?:\\.[0-9]{{1,{fraction}}})?|0?\\.{})$",
        integer - 1,
        nonzero_fraction(fraction)
    )
}

/// A day of the proleptic Gregorian calendar, years 0000 to 9999.
pub(super) const DATE: &str = "(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29)";

/// A time of day with an offset, RFC 3339.
pub(super) const TIME: &str = "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";

/// A time as the server reads it in parameters: RFC 3339, or a date (its midnight UTC).
pub(super) fn time_pattern() -> String {
    format!("{DATE}(?:{TIME})?")
}

/// An id in a filter: a whole number.
pub(super) const ID: &str = "-?[0-9]{1,18}";

/// A decimal in a filter.
pub(super) fn decimal_pattern() -> String {
    let digits = MAX_FILTER_DIGITS;
    format!(
        "-?(?:[0-9]{{1,{digits}}}(?:\\.[0-9]{{0,{digits}}})?|\\.[0-9]{{1,{digits}}})(?:[eE][+-]?[0-9]{{1,4}})?"
    )
}

/// Text PostgreSQL can hold: anything but NUL.
pub(super) const TEXT: &str = "^[^\\u0000]*$";

/// A `Wallet-Api-Lsn`: a WAL position as PostgreSQL writes it.
pub(super) const LSN: &str = "^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$";

/// The same as a request header, where an empty value sends none.
pub(super) const LSN_OR_NONE: &str = "^(?:[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})?$";

/// An `X-Request-Id` the server answers with.
pub(super) const REQUEST_ID: &str = "^[A-Za-z0-9._:-]{1,128}$";

/// An `Idempotency-Key`: a token, or a quoted string.
pub(super) const IDEMPOTENCY_KEY: &str =
    "^(?:[!#-~](?:[ -~]{0,253}[!-~])?|\"(?:[ !#-\\[\\]-~]|\\\\[\"\\\\]){1,255}\")$";

/// `text` matched literally in a pattern.
pub(super) fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// A comma list of these keys, each at most once, each with an optional `-`.
pub(super) fn distinct_keys(keys: &[&str]) -> String {
    let alternatives: Vec<String> = keys
        .iter()
        .map(|key| {
            let rest: Vec<&str> = keys.iter().copied().filter(|k| k != key).collect();
            if rest.is_empty() {
                format!("-?{key}")
            } else {
                format!("-?{key}(?:,{})?", distinct_keys(&rest))
            }
        })
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, parse_time};

    fn full(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    #[test]
    fn the_money_pattern_accepts_what_amounts_accept_in_their_canonical_form() {
        let pattern = full(&money_input_pattern(18, 18, Sign::NonZero));
        for good in [
            "1",
            "-1",
            "0.5",
            ".5",
            "-0.000000000000000001",
            "999999999999999999.999999999999999999",
            "12.50",
        ] {
            assert!(pattern.is_match(good), "{good}");
            assert!(Amount::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "0",
            "0.0",
            "-0.000",
            "0.0000000000000000001",
            "1000000000000000000",
            "1.",
            "abc",
            "",
            "1,5",
            "+5",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
        assert!(!full(&money_input_pattern(18, 18, Sign::Positive)).is_match("-1"));
    }

    #[test]
    fn the_limit_pattern_accepts_zero_and_what_limits_accept() {
        let pattern = full(&money_input_pattern(18, 18, Sign::NonNegative));
        for good in [
            "0",
            "0.00",
            "500",
            ".5",
            "999999999999999999.999999999999999999",
        ] {
            assert!(pattern.is_match(good), "{good}");
        }
        for bad in [
            "-1",
            "-0",
            "1000000000000000000",
            "0.0000000000000000001",
            "1.",
            "+5",
            "",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn the_time_pattern_is_what_the_server_parses() {
        let pattern = full(&format!("^{}$", time_pattern()));
        for good in [
            "2026-11-24",
            "2026-11-24T13:00:00Z",
            "2024-02-29T23:59:59.123456+02:00",
            "2016-12-31T23:59:59Z",
            "2000-02-29",
            "0001-01-01T00:00:00-23:59",
        ] {
            assert!(pattern.is_match(good), "{good}");
            assert!(parse_time(good).is_some(), "{good}");
        }
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "2023-02-29",
            "1900-02-29",
            "2026-11-24T25:00:00Z",
            "2026-11-24T13:00:00",
            "2016-12-31T23:59:60Z",
            "yesterday",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
            assert!(parse_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_tokens_or_quoted_strings() {
        let pattern = full(IDEMPOTENCY_KEY);
        for good in ["abc-123", "\"8e03978e 40d5\"", "\"say \\\"hi\\\"\"", "a b"] {
            assert!(pattern.is_match(good), "{good}");
        }
        for bad in ["", "\"\"", " a", "a ", "\"open", "caf\u{e9}"] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }
}
