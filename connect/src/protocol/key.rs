//! The session key: the 9 digits a host reads out and a viewer types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ConnectError;

/// A session key: 9 decimal digits, shown as `"123 456 789"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct SessionKey(u32);

impl SessionKey {
    /// The largest key value (`999 999 999`).
    pub const MAX: u32 = 999_999_999;

    /// Maps 64 random bits onto `000 000 000..=999 999 999` with a 128-bit multiply (no rejection
    /// loop; the bias is below one part in 10^10).
    pub fn from_random(random: u64) -> Self {
        let range = u128::from(Self::MAX) + 1;
        SessionKey(((u128::from(random) * range) >> 64) as u32)
    }

    /// A key from its numeric value; values above [`SessionKey::MAX`] are refused.
    pub fn from_value(value: u32) -> Result<Self, ConnectError> {
        if value > Self::MAX {
            return Err(ConnectError::InvalidKey("more than 9 digits"));
        }
        Ok(SessionKey(value))
    }

    /// Parses what a user typed: exactly 9 digits, optionally grouped with spaces or dashes.
    pub fn parse(text: &str) -> Result<Self, ConnectError> {
        let mut value = 0u32;
        let mut digits = 0;
        for c in text.chars() {
            match c {
                '0'..='9' => {
                    digits += 1;
                    if digits > 9 {
                        return Err(ConnectError::InvalidKey("more than 9 digits"));
                    }
                    value = value * 10 + (c as u32 - '0' as u32);
                }
                ' ' | '-' => {}
                _ => return Err(ConnectError::InvalidKey("only digits, spaces and dashes")),
            }
        }
        if digits != 9 {
            return Err(ConnectError::InvalidKey("fewer than 9 digits"));
        }
        Ok(SessionKey(value))
    }

    /// The key as a number (`0..=999_999_999`).
    pub fn value(&self) -> u32 {
        self.0
    }

    /// The key as digits only (`"123456789"`), for links.
    pub fn digits(&self) -> String {
        format!("{:09}", self.0)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:03} {:03} {:03}",
            v / 1_000_000,
            v / 1000 % 1000,
            v % 1000
        )
    }
}

impl TryFrom<u32> for SessionKey {
    type Error = ConnectError;

    fn try_from(value: u32) -> Result<Self, ConnectError> {
        SessionKey::from_value(value)
    }
}

impl From<SessionKey> for u32 {
    fn from(key: SessionKey) -> u32 {
        key.0
    }
}
