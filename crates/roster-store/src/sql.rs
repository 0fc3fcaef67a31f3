//! One builder for the dynamic parts of both backends' queries — scope conditions, filters and
//! list pages — so the SQL that decides what a caller may see is written once. Values are
//! always bound (`?N` on SQLite, `$N` on PostgreSQL), never spliced into the text.

use std::fmt::Write;

use roster_core::{
    input::email_key,
    model::{MembershipRole, MembershipStatus},
    page::{ListQuery, Position, SortKey},
    policy::{OrgScope, Scope},
    store::{EventFilter, MembershipFilter, NAMES_LOOKED_THROUGH},
};

use crate::rows::{
    EVENT_COLUMNS, MEMBERSHIP_COLUMNS, MEMBERSHIP_FROM, ORGANISATION_COLUMNS, WEBHOOK_DELIVERY_COLUMNS,
    WEBHOOK_ENDPOINT_COLUMNS,
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
        // Room for the conditions and placeholders appended after: one allocation, not several.
        let mut owned = String::with_capacity(text.len() + 256);
        owned.push_str(text);
        Self { dialect, text: owned, params: Vec::with_capacity(8) }
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
        write_placeholder(&mut self.text, self.dialect, self.params.len());
        self
    }

    /// Binds `value` without writing it: its placeholder, for text that names it more than once.
    fn parameter(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        let mut placeholder = String::new();
        write_placeholder(&mut placeholder, self.dialect, self.params.len());
        placeholder
    }

    /// Limits `alias` (a table with `partner_id` and `livemode`) to the scope's partner and mode,
    /// and `organisation_column` to the organisations the scope reaches.
    pub fn scoped(&mut self, scope: &Scope, alias: &str, organisation_column: &str) -> &mut Self {
        self.push(" AND ").push(alias).push(".partner_id = ").bind(scope.partner_id());
        self.push(" AND ").push(alias).push(".livemode = ").bind(scope.mode().is_live());
        self.organisations(scope, organisation_column)
    }

    /// Limits `organisation_column` to the organisations the scope reaches.
    pub fn organisations(&mut self, scope: &Scope, organisation_column: &str) -> &mut Self {
        match scope.orgs() {
            OrgScope::All => self,
            OrgScope::Group(group) => self
                .push(" AND ")
                .push(organisation_column)
                .push(" IN (SELECT organisation_id FROM group_organisations WHERE group_id = ")
                .bind(group.as_str())
                .push(")"),
            OrgScope::Organisation(organisation) => {
                self.push(" AND ").push(organisation_column).push(" = ").bind(organisation.as_str())
            }
            OrgScope::Organisations(organisations) if organisations.is_empty() => self.push(" AND FALSE"),
            OrgScope::Organisations(organisations) => {
                self.push(" AND ").push(organisation_column).push(" IN (");
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
    fn memberships_matching(&mut self, scope: &Scope, filter: &MembershipFilter) -> &mut Self {
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
        if let Some(name) = &filter.organisation_name {
            self.push(" AND m.organisation_id IN (SELECT n.id FROM organisations n WHERE n.partner_id = ")
                .bind(scope.partner_id())
                .push(" AND n.livemode = ")
                .bind(scope.mode().is_live())
                .push(" AND n.name = ")
                .bind(name.as_str())
                .push(")");
        }
        self
    }

    /// On an empty statement: the number of memberships `filter` matches in `scope`, summed from
    /// the counters kept by triggers (`membership_partner_counts` for the whole partner,
    /// `membership_counts` per organisation otherwise), when the filter is
    /// one they answer (organisations, statuses, roles); `None` otherwise: a user's or an
    /// e-mail's memberships are counted by index, the owner and default flags and an
    /// organisation's name row by row (a limit, decisions.md "Lists").
    fn counted_memberships(mut self, scope: &Scope, filter: &MembershipFilter) -> Option<Sql> {
        if narrows_beyond_counters(filter) {
            return None;
        }
        if filter.organisation_ids.is_none() && *scope.orgs() == OrgScope::All {
            // The whole partner: its own counters, a few rows whatever its number of
            // organisations.
            self.push("SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM membership_partner_counts c WHERE TRUE");
            self.push(" AND c.partner_id = ").bind(scope.partner_id());
            self.push(" AND c.livemode = ").bind(scope.mode().is_live());
        } else {
            self.push("SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM membership_counts c WHERE TRUE");
            self.scoped(scope, "c", "c.organisation_id");
            if let Some(organisation_ids) = &filter.organisation_ids {
                self.any_of("c.organisation_id", organisation_ids);
            }
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
    select.page(alias, query);
    PageStatements { count, select }
}

/// One page of an object's events in the scope, newest first by `sequence` (a cursor's number
/// is the sequence), served by `events_object`.
pub fn object_events_page(dialect: Dialect, scope: &Scope, object_id: &str, query: &ListQuery) -> PageStatements {
    let mut conditions = Sql::new(dialect, "");
    conditions.push(" AND e.object_id = ").bind(object_id).scoped(scope, "e", "e.organisation_id");
    let count = conditions.with_head("SELECT COUNT(*) FROM events e WHERE TRUE");
    let mut select = conditions.with_head(&format!("SELECT {EVENT_COLUMNS} FROM events e WHERE TRUE"));
    select.newest_events(query);
    PageStatements { count, select }
}

impl Sql {
    /// ` AND` the cursor's range (its number is a sequence), then newest first by `sequence` and
    /// `LIMIT limit + 1 OFFSET offset`.
    fn newest_events(&mut self, query: &ListQuery) -> &mut Self {
        let offset = match &query.position {
            Position::Offset(offset) => *offset,
            Position::After(cursor) => {
                self.push(" AND e.sequence < ").bind(cursor.created_at);
                0
            }
            Position::StartingAfter(_) => 0,
        };
        self.push(" ORDER BY e.sequence DESC LIMIT ")
            .bind(i64::from(query.limit) + 1)
            .push(" OFFSET ")
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    }

    /// ` AND` the event is of one of `resources`: its type is `RESOURCE.…`, a range of the
    /// type's index (`/` follows `.`).
    fn event_resources(&mut self, resources: &[String]) -> &mut Self {
        if resources.is_empty() {
            return self.push(" AND FALSE");
        }
        self.push(" AND (");
        for (index, resource) in resources.iter().enumerate() {
            if index > 0 {
                self.push(" OR ");
            }
            self.push("(e.type > ")
                .bind(format!("{resource}."))
                .push(" AND e.type < ")
                .bind(format!("{resource}/"))
                .push(")");
        }
        self.push(")")
    }
}

/// A page of the events in the scope that `filter` holds, newest first by `sequence`; served by
/// `events_list`, `events_type`, `events_object` or `events_organisation` as the filter says.
pub fn events_page(dialect: Dialect, scope: &Scope, filter: &EventFilter, query: &ListQuery) -> Sql {
    let mut select = Sql::new(dialect, &format!("SELECT {EVENT_COLUMNS} FROM events e WHERE TRUE"));
    select.scoped(scope, "e", "e.organisation_id");
    if let Some(resources) = &filter.resources {
        select.event_resources(resources);
    }
    if let Some(kind) = &filter.kind {
        select.push(" AND e.type = ").bind(kind.as_str());
    }
    if let Some(object_id) = &filter.object_id {
        select.push(" AND e.object_id = ").bind(object_id.as_str());
    }
    if let Some(organisation_id) = &filter.organisation_id {
        select.push(" AND e.organisation_id = ").bind(organisation_id.as_str());
    }
    if let Some(at) = filter.created_gte {
        select.push(" AND e.created_at >= ").bind(at.millis());
    }
    if let Some(at) = filter.created_lt {
        select.push(" AND e.created_at < ").bind(at.millis());
    }
    select.newest_events(query);
    select
}

/// One event in the scope, of one of `resources` when given.
pub fn event_by_id(dialect: Dialect, scope: &Scope, resources: Option<&[String]>, id: &str) -> Sql {
    let mut select = Sql::new(dialect, &format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = "));
    select.bind(id).scoped(scope, "e", "e.organisation_id");
    if let Some(resources) = resources {
        select.event_resources(resources);
    }
    select
}

/// The object's newest event created at or before `at`, in the scope.
pub fn object_event_at(dialect: Dialect, scope: &Scope, object_id: &str, at: i64) -> Sql {
    let mut select = Sql::new(dialect, &format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.object_id = "));
    select.bind(object_id).scoped(scope, "e", "e.organisation_id");
    select.push(" AND e.created_at <= ").bind(at).push(" ORDER BY e.sequence DESC LIMIT 1");
    select
}

/// One webhook endpoint of the scope's partner and mode.
/// How an organisation's name is compared by a search: ASCII letters lowered and nothing else
/// changed, byte by byte, alike on both backends (SQLite's `lower` lowers ASCII only); the
/// expression of the `organisations_by_name` index.
fn organisation_name_key(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "lower(o.name)",
        Dialect::Postgres => {
            "(translate(o.name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE \"C\")"
        }
    }
}

/// The scope's organisations whose names start with `prefix` (ASCII letters in any case), in
/// that order, at most `limit`: one range of the `organisations_by_name` index.
pub fn organisations_named(dialect: Dialect, scope: &Scope, prefix: &str, limit: u32) -> Sql {
    let key = organisation_name_key(dialect);
    let low = prefix.to_ascii_lowercase();
    // Every name starting with the prefix sorts below it followed by the last code point.
    let high = format!("{low}\u{10FFFF}");
    let mut select = Sql::new(dialect, &format!("SELECT {ORGANISATION_COLUMNS} FROM organisations o WHERE TRUE"));
    select.scoped(scope, "o", "o.id");
    select.push(&format!(" AND {key} >= ")).bind(low).push(&format!(" AND {key} < ")).bind(high);
    select.push(&format!(" ORDER BY {key}, o.id LIMIT ")).bind(i64::from(limit));
    select
}

/// How a person's name (`first last`) is compared by a search, as [`organisation_name_key`]
/// compares an organisation's: the expression of the `users_by_name` index, over `alias`.
fn user_name_key(dialect: Dialect, alias: &str) -> String {
    let name = format!("{alias}.first_name || ' ' || {alias}.last_name");
    match dialect {
        Dialect::Sqlite => format!("lower({name})"),
        Dialect::Postgres => {
            format!("(translate({name}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE \"C\")")
        }
    }
}

/// The memberships of `organisation_id` in `scope` whose people's names (`first last`) start
/// with `prefix` (ASCII letters in any case), of the statuses and roles `filter` names, in name
/// order, at most `limit`: found among the first `NAMES_LOOKED_THROUGH` of the partner's
/// people with such names (one range of `users_by_name`), each looked up by the
/// memberships-by-organisation-and-user index. The people are read first (`CROSS JOIN` keeps
/// SQLite to that order).
pub fn members_named(
    dialect: Dialect,
    scope: &Scope,
    organisation_id: &str,
    prefix: &str,
    filter: &MembershipFilter,
    limit: u32,
) -> Sql {
    let key = user_name_key(dialect, "n");
    let low = prefix.to_ascii_lowercase();
    let high = format!("{low}\u{10FFFF}");
    let mut select = Sql::new(
        dialect,
        &format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM (SELECT n.id AS user_id, {key} AS name_key FROM users n WHERE n.partner_id = "
        ),
    );
    select.bind(scope.partner_id()).push(" AND n.livemode = ").bind(scope.mode().is_live());
    select.push(&format!(" AND {key} >= ")).bind(low).push(&format!(" AND {key} < ")).bind(high);
    select.push(&format!(" ORDER BY {key}, n.id LIMIT ")).bind(i64::from(NAMES_LOOKED_THROUGH));
    select.push(
        ") AS named CROSS JOIN memberships m JOIN users u ON u.id = m.user_id \
         JOIN organisations o ON o.id = m.organisation_id WHERE m.user_id = named.user_id AND m.organisation_id = ",
    );
    select.bind(organisation_id);
    select.scoped(scope, "m", "m.organisation_id");
    if let Some(statuses) = &filter.statuses {
        select.any_of("m.status", &statuses.iter().map(|status| status.as_str()).collect::<Vec<_>>());
    }
    if let Some(roles) = &filter.roles {
        select.any_of("m.role", &roles.iter().map(|role| role.as_str()).collect::<Vec<_>>());
    }
    select.push(" ORDER BY named.name_key, named.user_id LIMIT ").bind(i64::from(limit));
    select
}

pub fn webhook_endpoint_by_id(dialect: Dialect, scope: &Scope, id: &str) -> Sql {
    let mut select =
        Sql::new(dialect, &format!("SELECT {WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints w WHERE w.id = "));
    select.bind(id).webhook_endpoints_in_scope(scope);
    select
}

impl Sql {
    /// ` AND` the endpoint (`w`) is of the scope's partner and mode: an endpoint takes every
    /// event of its mode, so organisations do not narrow it.
    pub fn webhook_endpoints_in_scope(&mut self, scope: &Scope) -> &mut Self {
        self.push(" AND w.partner_id = ").bind(scope.partner_id());
        self.push(" AND w.livemode = ").bind(scope.mode().is_live())
    }
}

/// One page of an endpoint's deliveries, newest first (ids sort like creation times, so the
/// cursor's id bounds the range), served by `webhook_deliveries_endpoint`; not counted.
pub fn deliveries_page(dialect: Dialect, endpoint_id: &str, query: &ListQuery) -> Sql {
    let mut select = Sql::new(
        dialect,
        &format!("SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.endpoint_id = "),
    );
    select.bind(endpoint_id);
    let offset = match &query.position {
        Position::Offset(offset) => *offset,
        Position::After(cursor) => {
            select.push(" AND d.id < ").bind(cursor.id.as_str());
            0
        }
        Position::StartingAfter(_) => 0,
    };
    select
        .push(" ORDER BY d.id DESC LIMIT ")
        .bind(i64::from(query.limit) + 1)
        .push(" OFFSET ")
        .bind(i64::try_from(offset).unwrap_or(i64::MAX));
    select
}

impl Sql {
    /// ` AND` the cursor's range, then the list order and `LIMIT limit + 1 OFFSET offset`.
    fn page(&mut self, alias: &str, query: &ListQuery) -> &mut Self {
        let offset = match &query.position {
            Position::Offset(offset) => *offset,
            Position::After(cursor) => {
                self.push(&format!(" AND ({alias}.created_at, {alias}.id) < ("))
                    .bind(cursor.created_at)
                    .push(", ")
                    .bind(cursor.id.as_str())
                    .push(")");
                0
            }
            Position::StartingAfter(_) => 0,
        };
        self.push(&format!(" ORDER BY {} LIMIT ", list_order(alias, query)))
            .bind(i64::from(query.limit) + 1)
            .push(" OFFSET ")
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    }
}

/// The query's sort keys, then newest first and id descending; a column named again later is
/// left out (its first direction holds).
fn list_order(alias: &str, query: &ListQuery) -> String {
    let mut order: Vec<String> = query
        .sort
        .iter()
        .map(|sort| {
            let column = match sort.key {
                SortKey::Created => format!("{alias}.created_at"),
                SortKey::Updated => format!("{alias}.updated_at"),
                SortKey::Organisation => format!("{alias}.organisation_id"),
                SortKey::User => format!("{alias}.user_id"),
                SortKey::Id => format!("{alias}.id"),
                SortKey::Status => format!("{alias}.status"),
                SortKey::OrganisationName => {
                    format!("(SELECT n.name FROM organisations n WHERE n.id = {alias}.organisation_id)")
                }
            };
            format!("{column} {}", if sort.descending { "DESC" } else { "ASC" })
        })
        .collect();
    order.extend([format!("{alias}.created_at DESC"), format!("{alias}.id DESC")]);
    let mut columns = Vec::new();
    order.retain(|term| {
        let column = term.rsplit_once(' ').map_or(term.as_str(), |(column, _)| column).to_owned();
        let first = !columns.contains(&column);
        columns.push(column);
        first
    });
    order.join(", ")
}

/// The statements of a page of memberships. The count is summed from the counters when the filter
/// allows (see [`Sql::counted_memberships`]). The page's ids are found first, from the
/// memberships alone, and only those rows are joined to their users and organisations, so
/// rows an offset skips are index entries, never joined rows. A newest-first page whose filter
/// names a few organisations, statuses or roles merges the index ranges of each combination
/// (see [`MergedRange`]), each read only as far as the page needs, so it costs the same in an
/// organisation of a thousand members and of a million, however few of them match; any other
/// page's ids are one statement the database plans.
pub fn membership_page(
    dialect: Dialect,
    scope: &Scope,
    filter: &MembershipFilter,
    query: &ListQuery,
) -> PageStatements {
    let count = Sql::new(dialect, "").counted_memberships(scope, filter).unwrap_or_else(|| {
        let mut count = Sql::new(dialect, "SELECT COUNT(*) FROM memberships m WHERE TRUE");
        count.memberships_matching(scope, filter);
        count
    });
    let mut select = Sql::new(dialect, &format!("SELECT {MEMBERSHIP_COLUMNS} FROM ("));
    match merged_ranges(scope, filter).filter(|_| query.newest_first()) {
        Some(ranges) => select.merged_ids(scope, &ranges, query),
        None => select
            .push("SELECT m.id FROM memberships m WHERE TRUE")
            .memberships_matching(scope, filter)
            .page("m", query),
    };
    select.push(&format!(") AS page, {MEMBERSHIP_FROM} WHERE m.id = page.id ORDER BY {}", list_order("m", query)));
    PageStatements { count, select }
}

/// For a non-admin group listing memberships without naming organisations: the statement that
/// reads its organisations, at most one more than can be merged. A group's page scans the
/// partner's memberships for its own, so a group holding a hundredth of a partner's
/// organisations would read a hundred rows for each it shows; [`group_organisations_named`]
/// names them instead, when they are few.
pub fn group_organisations(dialect: Dialect, scope: &Scope, filter: &MembershipFilter) -> Option<Sql> {
    let OrgScope::Group(group) = scope.orgs() else { return None };
    if filter.organisation_ids.is_some() || filter.user_ids.is_some() || filter.email.is_some() {
        return None;
    }
    let mut select = Sql::new(
        dialect,
        "SELECT go.organisation_id FROM group_organisations go JOIN organisations o ON o.id = go.organisation_id \
         WHERE go.group_id = ",
    );
    select.bind(group.as_str()).push(" AND o.livemode = ").bind(scope.mode().is_live());
    select.push(" LIMIT ").bind(i64::try_from(MAX_MERGED_RANGES + 1).unwrap_or(i64::MAX));
    Some(select)
}

/// `filter` naming the group's `organisations` read by [`group_organisations`], unless there are
/// too many to merge.
pub fn group_organisations_named(filter: MembershipFilter, organisations: Vec<String>) -> MembershipFilter {
    if organisations.len() > MAX_MERGED_RANGES {
        return filter;
    }
    MembershipFilter { organisation_ids: Some(organisations), ..filter }
}

/// Whether `filter` narrows by more than organisations, statuses and roles, which are all the
/// counters and the merged index ranges know. Destructured in full, so a new condition has to
/// be placed here before it can be miscounted.
fn narrows_beyond_counters(filter: &MembershipFilter) -> bool {
    let MembershipFilter {
        organisation_ids: _,
        statuses: _,
        roles: _,
        user_ids,
        email,
        is_owner,
        is_default,
        organisation_name,
    } = filter;
    user_ids.is_some() || email.is_some() || is_owner.is_some() || is_default.is_some() || organisation_name.is_some()
}

/// At most this many index ranges are merged for one page; a filter naming more combinations is
/// left to the database's planner.
const MAX_MERGED_RANGES: usize = 32;

/// One index range of memberships in list order, named by the equalities that select it. The
/// index is named, not left to the planner: SQLite, without statistics, takes the first index
/// that gives the order and filters a million rows for the one that matches.
#[derive(Debug, PartialEq, Eq)]
enum MergedRange<'a> {
    /// `memberships_by_status`: one organisation's memberships of one status and role.
    OrganisationStatusRole(&'a str, &'static str, &'static str),
    /// `memberships_by_organisation_order`: one organisation's memberships.
    Organisation(&'a str),
    /// `memberships_by_partner_status`: the scope's memberships of one status and role.
    StatusRole(&'static str, &'static str),
}

impl MergedRange<'_> {
    fn index(&self) -> &'static str {
        match self {
            Self::OrganisationStatusRole(..) => "memberships_by_status",
            Self::Organisation(_) => "memberships_by_organisation_order",
            Self::StatusRole(..) => "memberships_by_partner_status",
        }
    }
}

/// The ranges a filter's page merges, or `None` when it is better as one statement: a user's
/// or an e-mail's memberships (few, by the user index), an unfiltered partner-wide list (one
/// range already), an empty set (nothing matches), too many combinations, or a filter no
/// index holds (the owner or default flag, an organisation's name).
fn merged_ranges<'a>(scope: &'a Scope, filter: &'a MembershipFilter) -> Option<Vec<MergedRange<'a>>> {
    if narrows_beyond_counters(filter) {
        return None;
    }
    let organisations: Option<Vec<&str>> = match (&filter.organisation_ids, scope.orgs()) {
        (Some(named), OrgScope::Organisation(own)) => {
            Some(named.iter().filter(|id| *id == own).map(String::as_str).collect())
        }
        (Some(named), OrgScope::Organisations(own)) => {
            Some(named.iter().filter(|id| own.contains(id)).map(String::as_str).collect())
        }
        (Some(named), OrgScope::All | OrgScope::Group(_)) => Some(named.iter().map(String::as_str).collect()),
        (None, OrgScope::Organisation(own)) => Some(vec![own.as_str()]),
        (None, OrgScope::Organisations(own)) => Some(own.iter().map(String::as_str).collect()),
        (None, OrgScope::All | OrgScope::Group(_)) => None,
    };
    let statuses = filter.statuses.as_ref().map(|statuses| statuses.iter().map(|status| status.as_str()).collect());
    let roles = filter.roles.as_ref().map(|roles| roles.iter().map(|role| role.as_str()).collect());
    let narrowed = statuses.is_some() || roles.is_some();
    let statuses = distinct(statuses.unwrap_or_else(|| MembershipStatus::CHOICES.to_vec()));
    let roles = distinct(roles.unwrap_or_else(|| MembershipRole::CHOICES.to_vec()));
    let ranges: Vec<MergedRange> = match organisations.map(distinct) {
        Some(organisations) if narrowed => organisations
            .iter()
            .flat_map(|organisation| {
                statuses.iter().flat_map(|status| {
                    roles.iter().map(|role| MergedRange::OrganisationStatusRole(organisation, status, role))
                })
            })
            .collect(),
        Some(organisations) => organisations.into_iter().map(MergedRange::Organisation).collect(),
        // A group's organisations are named (see `group_organisations`) when few; with more,
        // the partner's status range filtered row by row could read far more than a page.
        None if narrowed && *scope.orgs() == OrgScope::All => {
            statuses.iter().flat_map(|status| roles.iter().map(|role| MergedRange::StatusRole(status, role))).collect()
        }
        None => return None,
    };
    (!ranges.is_empty() && ranges.len() <= MAX_MERGED_RANGES).then_some(ranges)
}

/// The largest range limit written into a statement's text rather than bound.
const MAX_WRITTEN_RANGE_LIMIT: i64 = 1024;

/// Each range's limit as text, rounded up to a power of two (at least 64), when `needed` is
/// small: PostgreSQL plans a prepared statement once (a generic plan) only while that plan's
/// estimate is close to a plan for the values at hand, and a bound `LIMIT` is estimated as a
/// tenth of the rows it limits, so at 1,000,000 rows it planned these statements on every run
/// (1.9 ms of planning for 0.56 ms of work, bench/README.md). Rounding keeps the statements
/// prepared per connection few (at most five texts per shape); the page's own `LIMIT` and
/// `OFFSET` stay exact.
fn range_limit_in_text(needed: i64) -> Option<i64> {
    (needed <= MAX_WRITTEN_RANGE_LIMIT)
        .then(|| needed.max(64).unsigned_abs().next_power_of_two())
        .map(|n| i64::try_from(n).unwrap_or(MAX_WRITTEN_RANGE_LIMIT))
}

fn distinct(mut values: Vec<&str>) -> Vec<&str> {
    values.sort_unstable();
    values.dedup();
    values
}

impl Sql {
    /// The page's ids: `UNION ALL` of each range's first `offset + limit + 1` after the cursor,
    /// then those in list order (a single range is paged itself): at most that many index
    /// entries read per range.
    fn merged_ids(&mut self, scope: &Scope, ranges: &[MergedRange], query: &ListQuery) -> &mut Self {
        let limit = i64::from(query.limit) + 1;
        let offset = match query.position {
            Position::Offset(offset) => i64::try_from(offset).unwrap_or(i64::MAX),
            Position::After(_) | Position::StartingAfter(_) => 0,
        };
        let written_limit = match self.dialect {
            Dialect::Postgres => range_limit_in_text(limit.saturating_add(offset)),
            Dialect::Sqlite => None,
        };
        let single = ranges.len() == 1 && written_limit.is_none();
        for (index, range) in ranges.iter().enumerate() {
            if index > 0 {
                self.push(" UNION ALL ");
            }
            self.push("SELECT * FROM (SELECT m.id, m.created_at FROM memberships m");
            if self.dialect == Dialect::Sqlite {
                self.push(&format!(" INDEXED BY {}", range.index()));
            }
            self.push(" WHERE m.partner_id = ").bind(scope.partner_id());
            self.push(" AND m.livemode = ").bind(scope.mode().is_live());
            match range {
                MergedRange::OrganisationStatusRole(organisation, status, role) => {
                    self.organisation_range(scope, organisation);
                    self.choice_equals("m.status", status).choice_equals("m.role", role);
                }
                MergedRange::Organisation(organisation) => {
                    self.organisation_range(scope, organisation);
                }
                MergedRange::StatusRole(status, role) => {
                    self.choice_equals("m.status", status).choice_equals("m.role", role);
                    self.organisations(scope, "m.organisation_id");
                }
            }
            if let Position::After(cursor) = &query.position {
                self.push(" AND (m.created_at, m.id) < (").bind(cursor.created_at).push(", ").bind(cursor.id.as_str());
                self.push(")");
            }
            self.push(" ORDER BY m.created_at DESC, m.id DESC LIMIT ");
            match written_limit {
                _ if single => self.bind(limit).push(" OFFSET ").bind(offset),
                Some(written) => self.push(&written.to_string()),
                None => self.bind(limit.saturating_add(offset)),
            };
            self.push(&format!(") AS range_{index}"));
        }
        if !single {
            self.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(limit).push(" OFFSET ").bind(offset);
        }
        self
    }

    /// ` AND m.organisation_id = organisation`, and only when the organisation is the scope's: a
    /// condition on the value alone, which the database decides once, before the range is read,
    /// so naming another partner's large organisation costs nothing.
    /// `AND column = value` for a value of a closed set ([`MembershipStatus::CHOICES`],
    /// [`MembershipRole::CHOICES`]). PostgreSQL gets it written into the text: its generic plan
    /// of a bound `role = $n` assumes half the rows match (not the one admin), is estimated
    /// above the custom plans, and so every run was planned afresh (3.4 ms of planning for
    /// 0.47 ms of work at 1,000,000, bench/README.md). The set is closed, so the texts stay
    /// few; anything but letters and underscores is bound instead.
    fn choice_equals(&mut self, column: &str, value: &'static str) -> &mut Self {
        self.push(" AND ").push(column).push(" = ");
        let plain = value.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
        match self.dialect {
            Dialect::Postgres if plain => self.push("'").push(value).push("'"),
            Dialect::Postgres | Dialect::Sqlite => self.bind(value),
        }
    }

    fn organisation_range(&mut self, scope: &Scope, organisation: &str) -> &mut Self {
        let named = self.parameter(organisation);
        self.push(&format!(" AND m.organisation_id = {named}"));
        self.push(&format!(" AND EXISTS (SELECT 1 FROM organisations g WHERE g.id = {named} AND g.partner_id = "));
        self.bind(scope.partner_id()).push(" AND g.livemode = ").bind(scope.mode().is_live()).push(")");
        self.organisations(scope, &named)
    }
}

/// Appends the placeholder of the `number`th bound value: `?N` on SQLite, `$N` on PostgreSQL.
/// Statements are built on every request, so it is written in place, not formatted into a
/// temporary string first.
fn write_placeholder(text: &mut String, dialect: Dialect, number: usize) {
    let marker = match dialect {
        Dialect::Sqlite => '?',
        Dialect::Postgres => '$',
    };
    // Writing to a String cannot fail.
    let _ = write!(text, "{marker}{number}");
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

    #[test]
    fn range_limits_in_the_text_are_few_and_never_less_than_needed() {
        let written: Vec<Option<i64>> = [1, 51, 64, 65, 1001, 1024, 1025, i64::MAX].map(range_limit_in_text).to_vec();
        assert_eq!(written, [Some(64), Some(64), Some(64), Some(128), Some(1024), Some(1024), None, None]);
        let texts: std::collections::BTreeSet<_> = (1..=1024).filter_map(range_limit_in_text).collect();
        assert_eq!(texts.len(), 5, "64, 128, 256, 512, 1024");
    }

    #[test]
    fn statuses_and_roles_are_written_into_postgresql_texts_and_bound_on_sqlite() {
        let written = |dialect| {
            let mut sql = Sql::new(dialect, "");
            sql.choice_equals("m.status", MembershipStatus::Pending.as_str())
                .choice_equals("m.role", MembershipRole::Admin.as_str());
            (sql.text().to_owned(), sql.params().len())
        };
        assert_eq!(written(Dialect::Postgres), (" AND m.status = 'pending' AND m.role = 'ADMIN'".to_owned(), 0));
        assert_eq!(written(Dialect::Sqlite), (" AND m.status = ?1 AND m.role = ?2".to_owned(), 2));
        let mut quoted = Sql::new(Dialect::Postgres, "");
        quoted.choice_equals("m.role", "O'Brien");
        assert_eq!((quoted.text(), quoted.params().len()), (" AND m.role = $1", 1), "not a plain word: bound");
    }

    #[test]
    fn placeholders_count_past_one_digit() {
        let mut sql = Sql::new(Dialect::Postgres, "");
        for number in 0..105_i64 {
            sql.bind(number).push(",");
        }
        assert!(sql.text().starts_with("$1,$2,"));
        assert!(sql.text().contains(",$10,$11,"));
        assert!(sql.text().ends_with(",$100,$101,$102,$103,$104,$105,"));
    }
}
