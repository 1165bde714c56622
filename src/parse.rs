//! How a value a client sends enters the program: each type a writable field is read into
//! implements [`Parse`], checks the value once (in words fit for a client when it is
//! refused), and says what it accepts ([`Accepts`]) for the documentation. The values of the
//! domain (`domain`) and of each model's inputs (`models`) implement it; the API layer hands
//! them their [`Input`].

use serde_json::value::RawValue;

/// What a writable field accepts, for the documentation; the field's input type enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// A string of `min` to `max` characters, without NUL.
    Text { min: usize, max: usize },
    /// An exact decimal (a string or a JSON number) with at most `integer` digits before the
    /// point and `fraction` after it, of this sign.
    Decimal {
        integer: u32,
        fraction: u32,
        sign: Sign,
    },
    /// A code: a string of at most `max` characters matching `pattern` (a regular
    /// expression anchored at both ends).
    Code { pattern: &'static str, max: usize },
    /// A whole number from `min` to `max`.
    Integer { min: i64, max: i64 },
    /// An RFC 3339 time.
    Time,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// At least one of these words, each once.
    Words(&'static [&'static str]),
    /// Any of these words, each once, or none.
    SomeWords(&'static [&'static str]),
    /// A resource identifier of the relationship's type (`null` too, when it is nullable).
    Link,
    /// Resource identifiers of the relationship's type.
    Links,
    /// A metadata object: string keys to strings (or null, to remove a key).
    Metadata,
}

/// The sign a decimal field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// Above or below zero, not zero (a transaction's amount).
    NonZero,
    /// Above zero (what a hold reserves, a transfer moves, a rate).
    Positive,
    /// Zero or above (a credit limit).
    NonNegative,
    /// Any (a monitor's threshold).
    Any,
}

/// A value a client sent for a writable field, as the API layer hands it over: an
/// attribute's raw JSON, or a relationship's linkage already resolved to its ids.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Attribute(&'a RawValue),
    Link(Option<i64>),
    Links(&'a [i64]),
}

/// A type a writable field's value is read into: the value checked once, when it enters.
pub trait Parse: Sized {
    const ACCEPTS: Accepts;
    /// The value, or why it cannot be accepted (in words fit for a client).
    fn parse(input: Input<'_>) -> Result<Self, String>;
}

/// The text of attribute `name`, which must be a JSON string.
pub fn string_attribute(input: Input<'_>, name: &str) -> Result<String, String> {
    match input {
        Input::Attribute(raw) => serde_json::from_str::<String>(raw.get())
            .map_err(|_| format!("{name} must be a string")),
        Input::Link(_) | Input::Links(_) => Err(format!("{name} is an attribute")),
    }
}

/// The value of attribute `name`, which must be a whole JSON number from `min` to `max`.
pub fn integer_attribute(input: Input<'_>, name: &str, min: i64, max: i64) -> Result<i64, String> {
    let within = |n: &i64| (min..=max).contains(n);
    // A whole number however JSON writes it (2, 2.0, 2e0), as JSON Schema's integer is.
    let whole = |number: serde_json::Number| {
        number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        })
    };
    match input {
        Input::Attribute(raw) => serde_json::from_str::<serde_json::Number>(raw.get())
            .ok()
            .and_then(whole)
            .filter(within)
            .ok_or_else(|| {
                format!(
                    "{name} must be a whole number from {min} to {max}, got {}",
                    raw.get()
                )
            }),
        Input::Link(_) | Input::Links(_) => Err(format!("{name} is an attribute")),
    }
}
