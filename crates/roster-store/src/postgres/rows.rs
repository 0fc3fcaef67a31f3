//! How PostgreSQL rows yield typed values, for the shared mappers in [`crate::rows`].

use roster_core::Error;
use serde::de::DeserializeOwned;
use tokio_postgres::{Row, types::Json};

use super::pool::{Failure, Step};
use crate::rows::Columns;
pub use crate::rows::*;

impl Columns for Row {
    type Error = Failure;

    fn text(&self, index: usize) -> Step<String> {
        Ok(self.try_get(index)?)
    }

    fn optional_text(&self, index: usize) -> Step<Option<String>> {
        Ok(self.try_get(index)?)
    }

    fn int(&self, index: usize) -> Step<i64> {
        Ok(self.try_get(index)?)
    }

    fn optional_int(&self, index: usize) -> Step<Option<i64>> {
        Ok(self.try_get(index)?)
    }

    fn boolean(&self, index: usize) -> Step<bool> {
        Ok(self.try_get(index)?)
    }

    fn json<T: DeserializeOwned>(&self, index: usize) -> Step<T> {
        Ok(self.try_get::<_, Json<T>>(index)?.0)
    }

    fn corrupt(&self, _index: usize, what: &str) -> Failure {
        Failure::Domain(Error::internal(format!("invalid {what} in the database")))
    }
}
