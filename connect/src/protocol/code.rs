//! The join code: the 10 digits a host reads out and a viewer types, `123 456 7890`. The first five
//! digits (the [`Lookup`]) tell the relay which session; the last five (the secret) never leave the
//! host and its viewers: they key the end-to-end encryption ([`crate::crypto`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ConnectError;

/// The code a person reads out (see the [module docs](self)).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct JoinCode {
    lookup: u32,
    secret: u32,
}

/// The part of a [`JoinCode`] the relay sees: 5 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Lookup(u32);

impl Lookup {
    /// The largest lookup (`99999`).
    pub const MAX: u32 = 99_999;

    /// A lookup from its value; above [`Lookup::MAX`] is an error.
    pub fn new(value: u32) -> Result<Lookup, ConnectError> {
        if value > Self::MAX {
            return Err(ConnectError::InvalidCode("a lookup has 5 digits"));
        }
        Ok(Lookup(value))
    }

    /// Maps random bits onto `00000..=99999` (128-bit multiply, no rejection loop).
    pub fn from_random(random: u64) -> Lookup {
        Lookup(scale(random, Self::MAX))
    }

    /// The value.
    pub fn value(&self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Lookup {
    type Error = ConnectError;

    fn try_from(value: u32) -> Result<Self, ConnectError> {
        Lookup::new(value)
    }
}

impl From<Lookup> for u32 {
    fn from(l: Lookup) -> u32 {
        l.0
    }
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:05}", self.0)
    }
}

fn scale(random: u64, max: u32) -> u32 {
    ((u128::from(random) * (u128::from(max) + 1)) >> 64) as u32
}

impl JoinCode {
    /// The largest secret part (`99999`).
    pub const SECRET_MAX: u32 = 99_999;

    /// A code from its two parts.
    pub fn new(lookup: Lookup, secret: u32) -> Result<JoinCode, ConnectError> {
        if secret > Self::SECRET_MAX {
            return Err(ConnectError::InvalidCode("the secret part has 5 digits"));
        }
        Ok(JoinCode {
            lookup: lookup.0,
            secret,
        })
    }

    /// A new secret for `lookup`, from random bits.
    pub fn with_random_secret(lookup: Lookup, random: u64) -> JoinCode {
        JoinCode {
            lookup: lookup.0,
            secret: scale(random, Self::SECRET_MAX),
        }
    }

    /// Parses what a person typed: exactly 10 digits, optionally grouped by spaces or dashes.
    pub fn parse(text: &str) -> Result<JoinCode, ConnectError> {
        let mut value = 0u64;
        let mut digits = 0;
        for c in text.chars() {
            match c {
                '0'..='9' => {
                    digits += 1;
                    if digits > 10 {
                        return Err(ConnectError::InvalidCode("more than 10 digits"));
                    }
                    value = value * 10 + u64::from(c as u32 - '0' as u32);
                }
                ' ' | '-' => {}
                _ => return Err(ConnectError::InvalidCode("only digits, spaces and dashes")),
            }
        }
        if digits != 10 {
            return Err(ConnectError::InvalidCode("a code has 10 digits"));
        }
        Ok(JoinCode {
            lookup: (value / 100_000) as u32,
            secret: (value % 100_000) as u32,
        })
    }

    /// The part the relay sees.
    pub fn lookup(&self) -> Lookup {
        Lookup(self.lookup)
    }

    /// The code as 10 digits (`"1234567890"`), for links.
    pub fn digits(&self) -> String {
        format!("{:05}{:05}", self.lookup, self.secret)
    }
}

impl fmt::Display for JoinCode {
    /// `123 456 7890`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "{} {} {}", &d[..3], &d[3..6], &d[6..])
    }
}

impl fmt::Debug for JoinCode {
    /// The secret part is not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinCode({:05} *****)", self.lookup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_show_and_hide_their_secret() {
        let code = JoinCode::parse("123 456 7890").unwrap();
        assert_eq!(code.to_string(), "123 456 7890");
        assert_eq!(code.lookup().value(), 12_345);
        assert_eq!(code.digits(), "1234567890");
        assert_eq!(format!("{code:?}"), "JoinCode(12345 *****)");
        assert_eq!(JoinCode::parse("12345-67890").unwrap(), code);
        for bad in [
            "",
            "123456789",
            "12345678901",
            "12345 6789x",
            "１２３４５６７８９０",
        ] {
            assert_eq!(JoinCode::parse(bad).unwrap_err().code(), 32, "{bad}");
        }
        assert_eq!(Lookup::from_random(u64::MAX).value(), 99_999);
        assert_eq!(
            JoinCode::with_random_secret(Lookup(7), 0).to_string(),
            "000 070 0000"
        );
    }
}
