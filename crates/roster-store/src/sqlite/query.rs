//! A small builder for the dynamic parts of queries: scope conditions, filters and pages. Values
//! are always bound, never spliced into the SQL text.

use roster_core::{
    page::{ListPage, ListQuery, Position},
    policy::{OrgScope, Scope},
};
use rusqlite::{Connection, Row, params_from_iter, types::Value};

#[derive(Default)]
pub struct Sql {
    text: String,
    params: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    /// Limits `alias` (a table with `partner_id` and `livemode`) to the scope's partner and mode,
    /// and `organisation_column` to the organisations the scope reaches.
    pub fn scoped(&mut self, scope: &Scope, alias: &str, organisation_column: &str) -> &mut Self {
        self.push(&format!(" AND {alias}.partner_id = "))
            .bind(scope.partner_id.clone());
        self.push(&format!(" AND {alias}.livemode = "))
            .bind(scope.mode.is_live());
        self.organisations(scope, organisation_column)
    }

    /// Limits `organisation_column` to the organisations the scope reaches.
    pub fn organisations(&mut self, scope: &Scope, organisation_column: &str) -> &mut Self {
        match &scope.orgs {
            OrgScope::All => self,
            OrgScope::Group(group) => self
                .push(&format!(
                    " AND {organisation_column} IN (SELECT organisation_id FROM group_organisations WHERE group_id = "
                ))
                .bind(group.clone())
                .push(")"),
            OrgScope::Organisation(organisation) => {
                self.push(&format!(" AND {organisation_column} = ")).bind(organisation.clone())
            }
        }
    }

    pub fn query_row<T>(
        &self,
        connection: &Connection,
        map: impl FnOnce(&Row) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Option<T>> {
        let mut statement = connection.prepare_cached(&self.text)?;
        let mut rows = statement.query(params_from_iter(self.params.iter()))?;
        rows.next()?.map(map).transpose()
    }

    pub fn query_all<T>(
        &self,
        connection: &Connection,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut statement = connection.prepare_cached(&self.text)?;
        let rows = statement.query_map(params_from_iter(self.params.iter()), map)?;
        rows.collect()
    }
}

/// One page of `SELECT {columns} FROM {from} WHERE {conditions}`, newest first, with the count
/// of every match. `alias` is the table whose `created_at` and `id` order the list.
pub fn page<T>(
    connection: &Connection,
    columns: &str,
    from: &str,
    conditions: &Sql,
    alias: &str,
    query: &ListQuery,
    map: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<ListPage<T>> {
    let mut count = Sql::new(&format!(
        "SELECT COUNT(*) FROM {from} WHERE 1 = 1{}",
        conditions.text
    ));
    count.params = conditions.params.clone();
    let total: i64 = count.query_row(connection, |row| row.get(0))?.unwrap_or(0);

    let mut select = Sql::new(&format!(
        "SELECT {columns} FROM {from} WHERE 1 = 1{}",
        conditions.text
    ));
    select.params = conditions.params.clone();
    let offset = match &query.position {
        Position::Offset(offset) => *offset,
        Position::After(cursor) => {
            select
                .push(&format!(" AND ({alias}.created_at < "))
                .bind(cursor.created_at)
                .push(&format!(" OR ({alias}.created_at = "))
                .bind(cursor.created_at)
                .push(&format!(" AND {alias}.id < "))
                .bind(cursor.id.clone())
                .push("))");
            0
        }
    };
    select
        .push(&format!(
            " ORDER BY {alias}.created_at DESC, {alias}.id DESC LIMIT "
        ))
        .bind(i64::from(query.limit) + 1)
        .push(" OFFSET ")
        .bind(i64::try_from(offset).unwrap_or(i64::MAX));
    let rows = select.query_all(connection, map)?;
    Ok(ListPage::from_overfetch(
        rows,
        query.limit,
        u64::try_from(total).unwrap_or(0),
    ))
}
