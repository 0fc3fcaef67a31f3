//! `copy-data` for PostgreSQL.

use async_trait::async_trait;
use roster_core::Error;
use tokio_postgres::types::{Json, ToSql};

use super::{PostgresStore, pool::Step};
use crate::transfer::{Cell, Kind, Row, Table, Transfer};

type Param = Box<dyn ToSql + Sync + Send>;

/// A typed parameter: PostgreSQL checks a NULL's type too, so it comes from the column's kind.
fn to_param(cell: &Cell, kind: Kind) -> Param {
    match (cell, kind) {
        (Cell::Text(text), _) => Box::new(Some(text.clone())),
        (Cell::Int(number), _) => Box::new(Some(*number)),
        (Cell::Bool(flag), _) => Box::new(Some(*flag)),
        (Cell::Json(json), _) => Box::new(Some(Json(json.clone()))),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
        (Cell::Null, Kind::Json) => Box::new(None::<Json<serde_json::Value>>),
    }
}

fn read_cell(row: &tokio_postgres::Row, index: usize, kind: Kind) -> Result<Cell, tokio_postgres::Error> {
    Ok(match kind {
        Kind::Text => row.try_get::<_, Option<String>>(index)?.map_or(Cell::Null, Cell::Text),
        Kind::Int => row.try_get::<_, Option<i64>>(index)?.map_or(Cell::Null, Cell::Int),
        Kind::Bool => row.try_get::<_, Option<bool>>(index)?.map_or(Cell::Null, Cell::Bool),
        Kind::Json => {
            row.try_get::<_, Option<Json<serde_json::Value>>>(index)?.map_or(Cell::Null, |json| Cell::Json(json.0))
        }
    })
}

fn as_refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

#[async_trait]
impl Transfer for PostgresStore {
    /// VACUUM sets the visibility map, without which a count over freshly loaded rows visits
    /// every heap page instead of the index alone; ANALYZE gives the planner real statistics.
    async fn settle(&self) -> Result<(), Error> {
        self.connections
            .retrying(|| async {
                let client = self.connections.get().await?;
                client.batch_execute("VACUUM ANALYZE").await?;
                Step::Ok(())
            })
            .await
    }

    async fn count(&self, table: &'static Table) -> Result<u64, Error> {
        self.connections
            .retrying(|| async {
                let client = self.connections.get().await?;
                let row = client.query_one(&format!("SELECT COUNT(*) FROM {}", table.name), &[]).await?;
                Step::Ok(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0))
            })
            .await
    }

    async fn read(&self, table: &'static Table, after: Option<&[Cell]>, limit: u32) -> Result<Vec<Row>, Error> {
        let key = after.unwrap_or_default();
        let placeholders: Vec<String> = (1..=key.len()).map(|n| format!("${n}")).collect();
        let sql = table.select(after.map(|_| placeholders.as_slice()), &format!("${}", key.len() + 1));
        self.connections
            .retrying(|| async {
                let mut params: Vec<Param> =
                    key.iter().zip(table.columns).map(|(cell, (_, kind))| to_param(cell, *kind)).collect();
                params.push(Box::new(i64::from(limit)));
                let client = self.connections.get().await?;
                let rows = client.query(&sql, &as_refs(&params)).await?;
                let mut read = Vec::with_capacity(rows.len());
                for row in &rows {
                    let cells = table
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(index, (_, kind))| read_cell(row, index, *kind))
                        .collect::<Result<Row, _>>()?;
                    read.push(cells);
                }
                Step::Ok(read)
            })
            .await
    }

    async fn write(&self, table: &'static Table, rows: &[Row], skip_existing: bool) -> Result<u64, Error> {
        let sql = table.insert(rows.len(), skip_existing, |n| format!("${n}"));
        self.connections
            .retrying(|| async {
                let params: Vec<Param> = rows
                    .iter()
                    .flat_map(|row| row.iter().zip(table.columns).map(|(cell, (_, kind))| to_param(cell, *kind)))
                    .collect();
                let mut client = self.connections.get().await?;
                let transaction = client.transaction().await?;
                let written = transaction.execute(&sql, &as_refs(&params)).await?;
                transaction.commit().await?;
                Step::Ok(written)
            })
            .await
    }
}
