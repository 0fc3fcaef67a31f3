//! One builder for the dynamic parts of both backends' queries — scope conditions, filters and
//! list pages — so the SQL that decides what a caller may see is written once. Values are
//! always bound (`?N` on SQLite, `$N` on PostgreSQL), never spliced into the text.

use roster_core::{
    input::email_key,
    page::{ListQuery, Position, SortKey},
    policy::{OrgScope, Scope},
    store::MembershipFilter,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value: the few types Roster's dynamic queries use.
#[derive(Debug, Clone, PartialEq)]
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

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
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

#[derive(Debug, Clone)]
pub struct Sql {
    dialect: Dialect,
    text: String,
    params: Vec<Value>,
}

impl Sql {
    pub fn new(dialect: Dialect, text: &str) -> Self {
        Self { dialect, text: text.to_owned(), params: Vec::new() }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn params(&self) -> &[Value] {
        &self.params
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.params.push(value.into());
        let marker = match self.dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        self.text.push_str(&format!("{marker}{}", self.params.len()));
        self
    }

    /// Limits `alias` (a table with `partner_id` and `livemode`) to the scope's partner and mode,
    /// and `organisation_column` to the organisations the scope reaches.
    pub fn scoped(&mut self, scope: &Scope, alias: &str, organisation_column: &str) -> &mut Self {
        self.push(&format!(" AND {alias}.partner_id = ")).bind(scope.partner_id());
        self.push(&format!(" AND {alias}.livemode = ")).bind(scope.mode().is_live());
        self.organisations(scope, organisation_column)
    }

    /// Limits `organisation_column` to the organisations the scope reaches.
    pub fn organisations(&mut self, scope: &Scope, organisation_column: &str) -> &mut Self {
        match scope.orgs() {
            OrgScope::All => self,
            OrgScope::Group(group) => self
                .push(&format!(
                    " AND {organisation_column} IN (SELECT organisation_id FROM group_organisations WHERE group_id = "
                ))
                .bind(group.as_str())
                .push(")"),
            OrgScope::Organisation(organisation) => {
                self.push(&format!(" AND {organisation_column} = ")).bind(organisation.as_str())
            }
            OrgScope::Organisations(organisations) if organisations.is_empty() => self.push(" AND FALSE"),
            OrgScope::Organisations(organisations) => {
                self.push(&format!(" AND {organisation_column} IN ("));
                for (index, organisation) in organisations.iter().enumerate() {
                    if index > 0 {
                        self.push(", ");
                    }
                    self.bind(organisation.as_str());
                }
                self.push(")")
            }
        }
    }

    /// Whether the user has a membership, and one in an organisation outside the scope: one
    /// statement, over the memberships-by-user index.
    pub fn user_membership_reach(&mut self, scope: &Scope, user_id: &str) -> &mut Self {
        self.push("SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = ").bind(user_id).push("), ");
        if *scope.orgs() == OrgScope::All {
            return self.push("FALSE");
        }
        self.push("EXISTS (SELECT 1 FROM memberships s WHERE s.user_id = ").bind(user_id).push(" AND NOT (TRUE");
        self.organisations(scope, "s.organisation_id");
        self.push("))")
    }

    /// Users (alias `u`) the scope sees: all of the partner's for an admin group, else those
    /// with a membership in one of its organisations.
    pub fn users_in_scope(&mut self, scope: &Scope) -> &mut Self {
        self.push(" AND u.partner_id = ").bind(scope.partner_id());
        self.push(" AND u.livemode = ").bind(scope.mode().is_live());
        if *scope.orgs() != OrgScope::All {
            self.push(" AND u.id IN (SELECT s.user_id FROM memberships s WHERE TRUE");
            self.organisations(scope, "s.organisation_id");
            self.push(")");
        }
        self
    }

    /// Keys (alias `k`) the scope sees: an admin group's, every key of the partner; a group's,
    /// its own and its organisations'; an organisation key's, its organisation's.
    pub fn api_keys_in_scope(&mut self, scope: &Scope) -> &mut Self {
        self.push(" AND k.partner_id = ").bind(scope.partner_id());
        self.push(" AND k.livemode = ").bind(scope.mode().is_live());
        match scope.orgs() {
            OrgScope::All => {}
            OrgScope::Group(group) => {
                self.push(" AND (k.group_id = ").bind(group.as_str()).push(" OR (k.organisation_id IS NOT NULL");
                self.organisations(scope, "k.organisation_id");
                self.push("))");
            }
            OrgScope::Organisation(organisation) => {
                self.push(" AND k.organisation_id = ").bind(organisation.as_str());
            }
            OrgScope::Organisations(_) => {
                self.push(" AND k.organisation_id IS NOT NULL");
                self.organisations(scope, "k.organisation_id");
            }
        }
        self
    }

    /// ` AND column IN (…)` over `values`; an empty set matches nothing.
    fn any_of<V: Into<Value> + Clone>(&mut self, column: &str, values: &[V]) -> &mut Self {
        if values.is_empty() {
            return self.push(" AND FALSE");
        }
        self.push(&format!(" AND {column} IN ("));
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.bind(value.clone());
        }
        self.push(")")
    }

    /// The conditions of a membership list (alias `m`) within `scope`: written once for both
    /// backends. An e-mail is resolved to its user inside the statement, so the list is served
    /// by the memberships-by-user index.
    pub fn memberships_matching(&mut self, scope: &Scope, filter: &MembershipFilter) -> &mut Self {
        self.scoped(scope, "m", "m.organisation_id");
        if let Some(organisation_ids) = &filter.organisation_ids {
            self.any_of("m.organisation_id", organisation_ids);
        }
        if let Some(user_ids) = &filter.user_ids {
            self.any_of("m.user_id", user_ids);
        }
        if let Some(email) = &filter.email {
            self.push(" AND m.user_id = (SELECT e.id FROM users e WHERE e.partner_id = ")
                .bind(scope.partner_id())
                .push(" AND e.livemode = ")
                .bind(scope.mode().is_live())
                .push(" AND e.email_key = ")
                .bind(email_key(email))
                .push(")");
        }
        if let Some(statuses) = &filter.statuses {
            self.any_of("m.status", &statuses.iter().map(|status| status.as_str()).collect::<Vec<_>>());
        }
        if let Some(roles) = &filter.roles {
            self.any_of("m.role", &roles.iter().map(|role| role.as_str()).collect::<Vec<_>>());
        }
        if let Some(is_owner) = filter.is_owner {
            self.push(" AND m.is_owner = ").bind(is_owner);
        }
        if let Some(is_default) = filter.is_default {
            self.push(" AND m.is_default = ").bind(is_default);
        }
        self
    }

    /// On an empty statement: the number of memberships `filter` matches in `scope`, summed from
    /// the per-organisation counters (`membership_counts`, kept by triggers), when the filter is
    /// one they answer (organisations, statuses, roles); `None` when it is not (users, e-mail,
    /// owner or default), and the list counts its rows, by index for a user or an e-mail.
    pub fn counted_memberships(mut self, scope: &Scope, filter: &MembershipFilter) -> Option<Sql> {
        let countable = filter.user_ids.is_none()
            && filter.email.is_none()
            && filter.is_owner.is_none()
            && filter.is_default.is_none();
        if !countable {
            return None;
        }
        self.push("SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM membership_counts c WHERE TRUE");
        self.scoped(scope, "c", "c.organisation_id");
        if let Some(organisation_ids) = &filter.organisation_ids {
            self.any_of("c.organisation_id", organisation_ids);
        }
        if let Some(statuses) = &filter.statuses {
            self.any_of("c.status", &statuses.iter().map(|status| status.as_str()).collect::<Vec<_>>());
        }
        if let Some(roles) = &filter.roles {
            self.any_of("c.role", &roles.iter().map(|role| role.as_str()).collect::<Vec<_>>());
        }
        Some(self)
    }

    /// The same conditions behind another statement head.
    fn with_head(&self, head: &str) -> Sql {
        Sql { dialect: self.dialect, text: format!("{head}{}", self.text), params: self.params.clone() }
    }
}

/// The two statements of a list page: the count of every match, and up to `limit + 1` rows in
/// list order (newest first), the extra row telling whether more follow.
pub struct PageStatements {
    pub count: Sql,
    pub select: Sql,
}

/// `conditions` are ` AND …` clauses over `from`; `alias` is the table whose columns order the
/// list: the query's sort keys (`organisation_id` and `user_id` for those keys), then newest
/// first and id descending. A cursor is a row-value range on the list index, at any depth; a
/// `StartingAfter` the operations did not resolve pages from the start (never reached).
pub fn page_statements(columns: &str, from: &str, conditions: &Sql, alias: &str, query: &ListQuery) -> PageStatements {
    let count = conditions.with_head(&format!("SELECT COUNT(*) FROM {from} WHERE TRUE"));
    let mut select = conditions.with_head(&format!("SELECT {columns} FROM {from} WHERE TRUE"));
    let offset = match &query.position {
        Position::Offset(offset) => *offset,
        Position::After(cursor) => {
            select
                .push(&format!(" AND ({alias}.created_at, {alias}.id) < ("))
                .bind(cursor.created_at)
                .push(", ")
                .bind(cursor.id.as_str())
                .push(")");
            0
        }
        Position::StartingAfter(_) => 0,
    };
    let mut order: Vec<String> = query
        .sort
        .iter()
        .map(|sort| {
            let column = match sort.key {
                SortKey::Created => "created_at",
                SortKey::Updated => "updated_at",
                SortKey::Organisation => "organisation_id",
                SortKey::User => "user_id",
            };
            format!("{alias}.{column} {}", if sort.descending { "DESC" } else { "ASC" })
        })
        .collect();
    order.extend([format!("{alias}.created_at DESC"), format!("{alias}.id DESC")]);
    order.dedup_by(|later, earlier| later.split(' ').next() == earlier.split(' ').next());
    select
        .push(&format!(" ORDER BY {} LIMIT ", order.join(", ")))
        .bind(i64::from(query.limit) + 1)
        .push(" OFFSET ")
        .bind(i64::try_from(offset).unwrap_or(i64::MAX));
    PageStatements { count, select }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_dialect() {
        let mut sqlite = Sql::new(Dialect::Sqlite, "SELECT 1 WHERE a = ");
        sqlite.bind("x").push(" AND b = ").bind(true);
        assert_eq!(sqlite.text(), "SELECT 1 WHERE a = ?1 AND b = ?2");
        let mut postgres = Sql::new(Dialect::Postgres, "SELECT 1 WHERE a = ");
        postgres.bind(1_i64);
        assert_eq!((postgres.text(), postgres.params()), ("SELECT 1 WHERE a = $1", &[Value::Int(1)][..]));
    }
}
