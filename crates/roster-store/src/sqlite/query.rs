//! Running the shared [`Sql`] builder's statements on SQLite.

use roster_core::page::{ListPage, ListQuery};
use rusqlite::{
    Connection, Row, ToSql, params_from_iter,
    types::{ToSqlOutput, ValueRef},
};

pub use crate::sql::Sql;
use crate::sql::{Dialect, PageStatements, Value, page_statements};

/// A statement under construction, with SQLite's placeholders.
pub fn sql(text: &str) -> Sql {
    Sql::new(Dialect::Sqlite, text)
}

// Bound as borrowed: a statement's text values are not copied to run it.
impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Bool(flag) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*flag))),
            Value::Int(number) => ToSqlOutput::Borrowed(ValueRef::Integer(*number)),
        })
    }
}

pub fn query_row<T>(
    connection: &Connection,
    sql: &Sql,
    map: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut statement = connection.prepare_cached(sql.text())?;
    let mut rows = statement.query(params_from_iter(sql.params()))?;
    rows.next()?.map(map).transpose()
}

pub fn query_all<T>(
    connection: &Connection,
    sql: &Sql,
    map: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = connection.prepare_cached(sql.text())?;
    let rows = statement.query_map(params_from_iter(sql.params()), map)?;
    rows.collect()
}

/// One page of `SELECT {columns} FROM {from} WHERE {conditions}`, newest first, with the count
/// of every match.
pub fn page<T>(
    connection: &Connection,
    columns: &str,
    from: &str,
    conditions: &Sql,
    alias: &str,
    query: &ListQuery,
    map: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<ListPage<T>> {
    page_of(connection, &page_statements(columns, from, conditions, alias, query), query.limit, map)
}

/// Runs a page's statements: the count, then up to `limit + 1` rows.
pub fn page_of<T>(
    connection: &Connection,
    statements: &PageStatements,
    limit: u32,
    map: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<ListPage<T>> {
    let total: i64 = query_row(connection, &statements.count, |row| row.get(0))?.unwrap_or(0);
    let rows = query_all(connection, &statements.select, map)?;
    Ok(ListPage::from_overfetch(rows, limit, u64::try_from(total).unwrap_or(0)))
}
