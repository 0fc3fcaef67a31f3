//! The PostgreSQL twin of the SQLite query builder: scope conditions, filters and pages, with
//! every value bound as `$n`.

use roster_core::{
    page::{ListPage, ListQuery, Position},
    policy::{OrgScope, Scope},
};
use tokio_postgres::{GenericClient, Row, types::ToSql};

use super::pool::Step;

/// A bound value: the few types Roster's dynamic queries use.
#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Bool(bool),
    Int(i64),
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

#[derive(Default, Clone)]
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
        self.params.push(value.into());
        self.text.push_str(&format!("${}", self.params.len()));
        self
    }

    /// Limits `alias` to the scope's partner and mode, and `organisation_column` to the
    /// organisations the scope reaches.
    pub fn scoped(&mut self, scope: &Scope, alias: &str, organisation_column: &str) -> &mut Self {
        self.push(&format!(" AND {alias}.partner_id = "))
            .bind(scope.partner_id.clone());
        self.push(&format!(" AND {alias}.livemode = "))
            .bind(scope.mode.is_live());
        self.organisations(scope, organisation_column)
    }

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

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|value| match value {
                Value::Text(text) => text as &(dyn ToSql + Sync),
                Value::Bool(flag) => flag,
                Value::Int(number) => number,
            })
            .collect()
    }

    pub async fn query_opt(&self, client: &impl GenericClient) -> Step<Option<Row>> {
        Ok(client.query_opt(&self.text, &self.params()).await?)
    }

    pub async fn query(&self, client: &impl GenericClient) -> Step<Vec<Row>> {
        Ok(client.query(&self.text, &self.params()).await?)
    }

    /// The same conditions behind another statement head.
    fn with_head(&self, head: &str) -> Sql {
        Sql {
            text: format!("{head}{}", self.text),
            params: self.params.clone(),
        }
    }
}

/// One page of `SELECT {columns} FROM {from} WHERE {conditions}`, newest first, with the count
/// of every match.
pub async fn page<T>(
    client: &impl GenericClient,
    columns: &str,
    from: &str,
    conditions: &Sql,
    alias: &str,
    query: &ListQuery,
    map: impl Fn(&Row) -> Step<T>,
) -> Step<ListPage<T>> {
    let count = conditions.with_head(&format!("SELECT COUNT(*) FROM {from} WHERE TRUE"));
    let total: i64 = match count.query_opt(client).await? {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    let mut select = conditions.with_head(&format!("SELECT {columns} FROM {from} WHERE TRUE"));
    let offset = match &query.position {
        Position::Offset(offset) => *offset,
        Position::After(cursor) => {
            select
                .push(&format!(" AND ({alias}.created_at, {alias}.id) < ("))
                .bind(cursor.created_at)
                .push(", ")
                .bind(cursor.id.clone())
                .push(")");
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
    let rows = select.query(client).await?;
    let items = rows.iter().map(map).collect::<Step<Vec<T>>>()?;
    Ok(ListPage::from_overfetch(
        items,
        query.limit,
        u64::try_from(total).unwrap_or(0),
    ))
}
