//! Running the shared [`Sql`] builder's statements on PostgreSQL.

use deadpool_postgres::GenericClient;
use roster_core::page::{ListPage, ListQuery};
use tokio_postgres::{Row, types::ToSql};

use super::pool::Step;
pub use crate::sql::Sql;
use crate::sql::{Dialect, PageStatements, Value, page_statements};

/// A statement under construction, with PostgreSQL's placeholders.
pub fn sql(text: &str) -> Sql {
    Sql::new(Dialect::Postgres, text)
}

fn params(sql: &Sql) -> Vec<&(dyn ToSql + Sync)> {
    sql.params()
        .iter()
        .map(|value| match value {
            Value::Text(text) => text as &(dyn ToSql + Sync),
            Value::Bool(flag) => flag,
            Value::Int(number) => number,
        })
        .collect()
}

// Every statement is prepared once per connection and then reused (deadpool keeps the cache
// with the connection): one round trip per statement instead of two. The builder produces a
// bounded set of statement texts, and `Connections::get` empties a cache that grows past its
// bound.

pub async fn query_opt(client: &impl GenericClient, sql: &Sql) -> Step<Option<Row>> {
    fetch_opt(client, sql.text(), &params(sql)).await
}

pub async fn query(client: &impl GenericClient, sql: &Sql) -> Step<Vec<Row>> {
    fetch(client, sql.text(), &params(sql)).await
}

/// At most one row of a fixed statement.
pub async fn fetch_opt(client: &impl GenericClient, text: &str, params: &[&(dyn ToSql + Sync)]) -> Step<Option<Row>> {
    let statement = client.prepare_cached(text).await?;
    Ok(client.query_opt(&statement, params).await?)
}

/// Exactly one row of a fixed statement.
pub async fn fetch_one(client: &impl GenericClient, text: &str, params: &[&(dyn ToSql + Sync)]) -> Step<Row> {
    let statement = client.prepare_cached(text).await?;
    Ok(client.query_one(&statement, params).await?)
}

/// Every row of a fixed statement.
pub async fn fetch(client: &impl GenericClient, text: &str, params: &[&(dyn ToSql + Sync)]) -> Step<Vec<Row>> {
    let statement = client.prepare_cached(text).await?;
    Ok(client.query(&statement, params).await?)
}

/// Runs the fixed statement `lock` and, sent right behind it without waiting for its answer
/// (pipelined), `read`: the server runs `read` once `lock` is done (its snapshot taken then),
/// and a lock taken by `lock` is held a round trip less. Both are prepared first, since a
/// statement still to be prepared would reach the server after the other had run.
pub async fn lock_then_read(
    client: &impl GenericClient,
    lock: &str,
    lock_params: &[&(dyn ToSql + Sync)],
    read: &Sql,
) -> Step<Option<Row>> {
    let (lock, read_statement) = (client.prepare_cached(lock).await?, client.prepare_cached(read.text()).await?);
    let read_params = params(read);
    let (locked, row) =
        tokio::join!(client.execute(&lock, lock_params), client.query_opt(&read_statement, &read_params));
    locked?;
    Ok(row?)
}

/// Runs a fixed statement; the number of rows it changed.
pub async fn execute(client: &impl GenericClient, text: &str, params: &[&(dyn ToSql + Sync)]) -> Step<u64> {
    let statement = client.prepare_cached(text).await?;
    Ok(client.execute(&statement, params).await?)
}

/// One page of `SELECT {columns} FROM {from} WHERE {conditions}`, newest first, with the count
/// of every match.
pub async fn page<T>(
    client: &impl GenericClient,
    columns: &str,
    from: &str,
    conditions: &Sql,
    alias: &str,
    query_: &ListQuery,
    map: impl Fn(&Row) -> Step<T>,
) -> Step<ListPage<T>> {
    page_of(client, &page_statements(columns, from, conditions, alias, query_), query_.limit, map).await
}

/// Runs a page's statements: the count, then up to `limit + 1` rows.
pub async fn page_of<T>(
    client: &impl GenericClient,
    statements: &PageStatements,
    limit: u32,
    map: impl Fn(&Row) -> Step<T>,
) -> Step<ListPage<T>> {
    let total: i64 = match query_opt(client, &statements.count).await? {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    let rows = query(client, &statements.select).await?;
    let items = rows.iter().map(map).collect::<Step<Vec<T>>>()?;
    Ok(ListPage::from_overfetch(items, limit, u64::try_from(total).unwrap_or(0)))
}
