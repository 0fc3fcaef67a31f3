//! `copy-data` for SQLite.

use async_trait::async_trait;
use roster_core::Error;
use rusqlite::{params_from_iter, types::Value};

use super::{SqliteStore, pool::storage_error};
use crate::transfer::{Cell, Kind, Row, Table, Transfer};

fn to_value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Text(text) => Value::Text(text.clone()),
        Cell::Int(number) => Value::Integer(*number),
        Cell::Bool(flag) => Value::Integer(i64::from(*flag)),
        Cell::Json(json) => Value::Text(json.to_string()),
    }
}

fn read_cell(row: &rusqlite::Row, index: usize, kind: Kind) -> rusqlite::Result<Cell> {
    Ok(match kind {
        Kind::Text => row.get::<_, Option<String>>(index)?.map_or(Cell::Null, Cell::Text),
        Kind::Int => row.get::<_, Option<i64>>(index)?.map_or(Cell::Null, Cell::Int),
        Kind::Bool => row.get::<_, Option<bool>>(index)?.map_or(Cell::Null, Cell::Bool),
        Kind::Json => match row.get::<_, Option<String>>(index)? {
            None => Cell::Null,
            Some(text) => Cell::Json(serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
            })?),
        },
    })
}

#[async_trait]
impl Transfer for SqliteStore {
    /// Nothing to settle: SQLite keeps no visibility map, and its planner is guided by the
    /// schema's indexes, not gathered statistics (Roster never runs ANALYZE).
    async fn settle(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn count(&self, table: &'static Table) -> Result<u64, Error> {
        self.pool
            .read(move |c| {
                let count: i64 = c
                    .query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |row| row.get(0))
                    .map_err(storage_error)?;
                Ok(u64::try_from(count).unwrap_or(0))
            })
            .await
    }

    async fn read(&self, table: &'static Table, after: Option<&[Cell]>, limit: u32) -> Result<Vec<Row>, Error> {
        let mut params: Vec<Value> = after.unwrap_or_default().iter().map(to_value).collect();
        let placeholders = after.map(|key| vec!["?".to_owned(); key.len()]);
        params.push(Value::Integer(i64::from(limit)));
        self.pool
            .read(move |c| {
                let sql = table.select(placeholders.as_deref(), "?");
                let mut statement = c.prepare(&sql).map_err(storage_error)?;
                let rows = statement
                    .query_map(params_from_iter(params.iter()), |row| {
                        table
                            .columns
                            .iter()
                            .enumerate()
                            .map(|(index, (_, kind))| read_cell(row, index, *kind))
                            .collect()
                    })
                    .map_err(storage_error)?;
                rows.collect::<rusqlite::Result<Vec<Row>>>().map_err(storage_error)
            })
            .await
    }

    async fn write(&self, table: &'static Table, rows: &[Row], skip_existing: bool) -> Result<u64, Error> {
        let params: Vec<Value> = rows.iter().flatten().map(to_value).collect();
        let count = rows.len();
        self.pool
            .write(move |c| {
                let sql = table.insert(count, skip_existing, |_| "?".to_owned());
                let written = c.execute(&sql, params_from_iter(params.iter())).map_err(storage_error)?;
                Ok(u64::try_from(written).unwrap_or(0))
            })
            .await
    }
}
