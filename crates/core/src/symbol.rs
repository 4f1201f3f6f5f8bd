//! Ticker symbols, parsed at the edge.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A US equity ticker: 1 to 10 characters of `A-Z`, `0-9`, `.` and `-` (e.g. `AAPL`, `BRK.B`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Symbol(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid symbol {value:?}: {reason}")]
pub struct InvalidSymbol {
    pub value: String,
    pub reason: &'static str,
}

impl Symbol {
    pub const MAX_LEN: usize = 10;

    pub fn parse(value: &str) -> Result<Symbol, InvalidSymbol> {
        let invalid = |reason| InvalidSymbol {
            value: value.to_string(),
            reason,
        };
        if value.is_empty() {
            return Err(invalid("a symbol cannot be empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(invalid("a symbol has at most 10 characters"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(invalid(
                "only A-Z, 0-9, '.' and '-' are allowed (symbols are upper case)",
            ));
        }
        Ok(Symbol(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Symbol::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Symbol {
    type Err = InvalidSymbol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_and_class_share_symbols_are_accepted() {
        for ok in ["A", "AAPL", "BRK.B", "BF-B", "ABCDEFGHIJ", "X2"] {
            assert_eq!(Symbol::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn a_symbol_with_lowercase_letters_is_rejected_naming_it() {
        let err = Symbol::parse("aapl").unwrap_err();
        assert_eq!(err.value, "aapl");
        assert!(err.to_string().contains("\"aapl\""), "{err}");
    }

    #[test]
    fn empty_too_long_and_punctuated_symbols_are_rejected() {
        for bad in ["", "ABCDEFGHIJK", "AA PL", "AAPL$", "ÄPL", "A/B"] {
            assert!(Symbol::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn deserializing_checks_the_symbol() {
        assert!(serde_json::from_str::<Symbol>("\"MSFT\"").is_ok());
        let err = serde_json::from_str::<Symbol>("\"ms ft\"").unwrap_err();
        assert!(err.to_string().contains("ms ft"));
    }
}
