//! Exact decimal money.
//!
//! JSON carries money as a number (`11.99`), as upstream's events did; MongoDB documents carry it
//! as a string (`"11.99"`), as upstream stored it, so that no binary float is ever stored. The
//! serializer picks between the two by `is_human_readable`: JSON is human readable, and the
//! services write BSON with a non-human-readable serializer.
//!
//! A number on the wire is safe because every accepted amount has at most 15 significant digits,
//! which an `f64` holds exactly, and both serde_json and Rust print the shortest representation
//! that reads back to the same `f64`, so the digits written are the digits held.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Significant digits an `f64` round-trips exactly.
const MAX_SIGNIFICANT_DIGITS: u32 = 15;

/// A non-negative amount of money with at most 15 significant digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    NotADecimal(String),
    Negative,
    TooPrecise,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::NotADecimal(text) => write!(f, "`{text}` is not a decimal amount"),
            MoneyError::Negative => f.write_str("an amount of money cannot be negative"),
            MoneyError::TooPrecise => write!(
                f,
                "an amount of money has at most {MAX_SIGNIFICANT_DIGITS} significant digits"
            ),
        }
    }
}

impl std::error::Error for MoneyError {}

impl Money {
    pub fn new(amount: Decimal) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative);
        }
        let normalized = amount.normalize();
        let digits = normalized.mantissa().unsigned_abs().to_string().len();
        if u32::try_from(digits).map_or(true, |digits| digits > MAX_SIGNIFICANT_DIGITS) {
            return Err(MoneyError::TooPrecise);
        }
        Ok(Money(normalized))
    }

    pub fn amount(&self) -> Decimal {
        self.0
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let amount = Decimal::from_str_exact(text.trim())
            .map_err(|_| MoneyError::NotADecimal(text.to_owned()))?;
        Money::new(amount)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let text = self.0.to_string();
            let number: f64 = text.parse().map_err(serde::ser::Error::custom)?;
            serializer.serialize_f64(number)
        } else {
            serializer.collect_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MoneyVisitor)
    }
}

struct MoneyVisitor;

impl Visitor<'_> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount of money as a number or a decimal string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Money, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Money, E> {
        if !number.is_finite() {
            return Err(E::custom("an amount of money must be finite"));
        }
        // `Display` for f64 prints the shortest text that reads back to the same value, which
        // for an amount of at most 15 digits is the amount that was written.
        self.visit_str(&number.to_string())
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Money, E> {
        Money::new(Decimal::from(number)).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Money, E> {
        Money::new(Decimal::from(number)).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn json_writes_money_as_the_same_digits_in_a_number() {
        assert_eq!(serde_json::to_string(&money("11.99")).unwrap(), "11.99");
        assert_eq!(serde_json::to_string(&money("0.10")).unwrap(), "0.1");
        assert_eq!(
            serde_json::to_string(&money("12345678901.2345")).unwrap(),
            "12345678901.2345"
        );
    }

    #[test]
    fn json_reads_numbers_and_strings_exactly() {
        let from_number: Money = serde_json::from_str("11.99").unwrap();
        let from_string: Money = serde_json::from_str("\"11.99\"").unwrap();
        let from_integer: Money = serde_json::from_str("3").unwrap();
        assert_eq!(from_number.amount(), Decimal::new(1199, 2));
        assert_eq!(from_string, from_number);
        assert_eq!(from_integer.amount(), Decimal::from(3));
    }

    #[test]
    fn sums_stay_exact_where_floats_drift() {
        let total = money("0.1").amount() + money("0.2").amount();
        assert_eq!(total.to_string(), "0.3");
    }

    #[test]
    fn bson_stores_money_as_a_string() {
        #[derive(Serialize, Deserialize)]
        struct Priced {
            price: Money,
        }
        // The driver writes and reads typed documents with the raw (non-human-readable) codec.
        let stored = mongodb::bson::to_raw_document_buf(&Priced {
            price: money("3.99"),
        })
        .unwrap();
        assert_eq!(
            stored.to_document().unwrap(),
            mongodb::bson::doc! { "price": "3.99" }
        );
        let read: Priced = mongodb::bson::from_slice(stored.as_bytes()).unwrap();
        assert_eq!(read.price, money("3.99"));
    }

    #[test]
    fn rejects_negative_imprecise_and_non_numeric_amounts() {
        assert_eq!("-1".parse::<Money>(), Err(MoneyError::Negative));
        assert_eq!(
            "1.2345678901234567".parse::<Money>(),
            Err(MoneyError::TooPrecise)
        );
        assert!(matches!(
            "eleven".parse::<Money>(),
            Err(MoneyError::NotADecimal(_))
        ));
        assert!(serde_json::from_str::<Money>("true").is_err());
    }
}
