//! How SQLite rows yield typed values, for the shared mappers in [`crate::rows`].

use rusqlite::{Row, types::Type};
use serde::de::DeserializeOwned;

use crate::rows::Columns;
pub use crate::rows::*;

impl Columns for Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, index: usize) -> rusqlite::Result<String> {
        self.get(index)
    }

    fn optional_text(&self, index: usize) -> rusqlite::Result<Option<String>> {
        self.get(index)
    }

    fn int(&self, index: usize) -> rusqlite::Result<i64> {
        self.get(index)
    }

    fn optional_int(&self, index: usize) -> rusqlite::Result<Option<i64>> {
        self.get(index)
    }

    fn boolean(&self, index: usize) -> rusqlite::Result<bool> {
        self.get(index)
    }

    fn json<T: DeserializeOwned>(&self, index: usize) -> rusqlite::Result<T> {
        let text: String = self.get(index)?;
        serde_json::from_str(&text).map_err(|_| self.corrupt(index, "JSON"))
    }

    fn corrupt(&self, index: usize, what: &str) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, format!("invalid {what}").into())
    }
}

pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

pub fn abilities_json(abilities: &[roster_core::policy::Ability]) -> String {
    to_json(&abilities.iter().map(|a| a.to_wire()).collect::<Vec<_>>())
}
