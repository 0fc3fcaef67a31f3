//! The SQLite backend: an embedded file (WAL, `synchronous=FULL`) or a private in-memory database.

mod console;
mod migrations;
mod outbox;
mod pool;
mod query;
mod rows;
mod transaction;
mod transfer;

use async_trait::async_trait;
use roster_core::{
    Error,
    error::Result,
    ids,
    input::email_key,
    model::{ApiKey, Event, Membership, Organisation, Partner, PartnerGroup, Role, User},
    page::{ListPage, ListQuery},
    policy::Scope,
    provision::ProvisionedPartner,
    rules::OrgTally,
    store::{EventFilter, KeyCredential, MembershipAccess, MembershipFilter, Store, Transaction},
    time::Timestamp,
};
use rusqlite::{Connection, params};

use crate::rows::Columns;
use crate::sql::{
    Dialect, event_by_id, events_page, group_organisations, group_organisations_named, members_named, membership_page,
    object_event_at, object_events_page, organisations_named,
};
pub use pool::Location;
use pool::{Pool, storage_error};
use query::{page, page_of, query_all, query_row, sql};
use rows::abilities_json;

pub struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database and applies pending migrations.
    pub async fn open(location: Location) -> Result<Self> {
        Ok(Self { pool: Pool::open(location).await? })
    }
}

fn is_unique_violation(error: &rusqlite::Error, index_columns: &str) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, Some(message))
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE && message.contains(index_columns))
}

fn found<T>(row: rusqlite::Result<Option<T>>) -> Result<T> {
    row.map_err(storage_error)?.ok_or(Error::NotFound)
}

fn get_organisation(connection: &Connection, scope: &Scope, id: &str) -> Result<Organisation> {
    let mut sql = sql(&format!("SELECT {} FROM organisations o WHERE o.id = ", rows::ORGANISATION_COLUMNS));
    sql.bind(id.to_owned()).scoped(scope, "o", "o.id");
    found(query_row(connection, &sql, |row| rows::organisation(row)))
}

fn organisation_in_scope(connection: &Connection, scope: &Scope, id: &str) -> Result<bool> {
    let mut sql = sql("SELECT 1 FROM organisations o WHERE o.id = ");
    sql.bind(id).scoped(scope, "o", "o.id");
    Ok(query_row(connection, &sql, |_| Ok(())).map_err(storage_error)?.is_some())
}

/// The group's organisations in `mode`, oldest assignment first.
fn group_organisation_ids(connection: &Connection, group_id: &str, livemode: bool) -> Result<Vec<String>> {
    let mut sql = sql(
        "SELECT o.id FROM group_organisations g JOIN organisations o ON o.id = g.organisation_id WHERE g.group_id = ",
    );
    sql.bind(group_id.to_owned()).push(" AND o.livemode = ").bind(livemode).push(" ORDER BY o.created_at, o.id");
    query_all(connection, &sql, |row| row.get(0)).map_err(storage_error)
}

fn get_group(connection: &Connection, scope: &Scope, id: &str) -> Result<PartnerGroup> {
    let mut sql = sql(&format!("SELECT {} FROM partner_groups g WHERE g.id = ", rows::GROUP_COLUMNS));
    sql.bind(id.to_owned()).push(" AND g.partner_id = ").bind(scope.partner_id().to_owned());
    let mut group = found(query_row(connection, &sql, |row| rows::group(row)))?;
    group.organisation_ids = group_organisation_ids(connection, &group.id, scope.mode().is_live())?;
    Ok(group)
}

fn assign_group_organisations(
    connection: &Connection,
    group_id: &str,
    livemode: bool,
    organisation_ids: &[String],
) -> Result<()> {
    connection
        .execute(
            "DELETE FROM group_organisations WHERE group_id = ?1 AND EXISTS \
             (SELECT 1 FROM organisations o WHERE o.id = group_organisations.organisation_id AND o.livemode = ?2)",
            params![group_id, livemode],
        )
        .map_err(storage_error)?;
    for organisation_id in organisation_ids {
        connection
            .execute(
                "INSERT INTO group_organisations (group_id, organisation_id) VALUES (?1, ?2)",
                params![group_id, organisation_id],
            )
            .map_err(storage_error)?;
    }
    Ok(())
}

fn get_user(connection: &Connection, scope: &Scope, id: &str) -> Result<User> {
    let mut sql = sql(&format!("SELECT {} FROM users u WHERE u.id = ", rows::USER_COLUMNS));
    sql.bind(id.to_owned());
    sql.users_in_scope(scope);
    found(query_row(connection, &sql, |row| rows::user(row)))
}

fn user_email_taken(connection: &Connection, scope: &Scope, email: &str, except: Option<&str>) -> Result<bool> {
    exists(
        connection,
        "SELECT EXISTS (SELECT 1 FROM users WHERE partner_id = ?1 AND livemode = ?2 AND email_key = ?3 AND id <> ?4)",
        params![scope.partner_id(), scope.mode().is_live(), email_key(email), except.unwrap_or("")],
    )
}

fn get_api_key(connection: &Connection, scope: &Scope, id: &str) -> Result<ApiKey> {
    let mut sql = sql(&format!("SELECT {} FROM api_keys k WHERE k.id = ", rows::API_KEY_COLUMNS));
    sql.bind(id.to_owned());
    sql.api_keys_in_scope(scope);
    found(query_row(connection, &sql, |row| rows::api_key(row)))
}

/// The answer of a `SELECT EXISTS (…)`.
fn exists(connection: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<bool> {
    connection.query_row(sql, params, |row| row.get(0)).map_err(storage_error)
}

fn group_exists(connection: &Connection, partner_id: &str, id: &str) -> Result<bool> {
    exists(
        connection,
        "SELECT EXISTS (SELECT 1 FROM partner_groups WHERE id = ?1 AND partner_id = ?2)",
        params![id, partner_id],
    )
}

fn insert_api_key(connection: &Connection, key: &ApiKey, secret_hash: &str) -> Result<()> {
    let (group_id, organisation_id, user_id) = key.holder.ids();
    connection
        .execute(
            "INSERT INTO api_keys (id, partner_id, livemode, name, key_type, group_id, organisation_id, abilities, \
             expires_at, last_used_at, revoked_at, prefix, secret_hash, created_at, updated_at, user_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                key.id,
                key.partner_id,
                key.mode.is_live(),
                key.name,
                key.key_type.as_str(),
                group_id,
                organisation_id,
                abilities_json(&key.abilities),
                key.expires_at.map(Timestamp::millis),
                key.last_used_at.map(Timestamp::millis),
                key.revoked_at.map(Timestamp::millis),
                key.prefix,
                secret_hash,
                key.created_at.millis(),
                key.updated_at.millis(),
                user_id,
            ],
        )
        .map_err(storage_error)?;
    Ok(())
}

/// Whether the partner has an admin group other than `except`.
fn other_admin_group(connection: &Connection, partner_id: &str, except: &str) -> Result<bool> {
    exists(
        connection,
        "SELECT EXISTS (SELECT 1 FROM partner_groups WHERE partner_id = ?1 AND is_admin AND id <> ?2)",
        params![partner_id, except],
    )
}

fn insert_group(connection: &Connection, group: &PartnerGroup) -> Result<()> {
    connection
        .execute(
            "INSERT INTO partner_groups (id, partner_id, name, is_admin, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                group.id,
                group.partner_id,
                group.name,
                group.is_admin,
                group.created_at.millis(),
                group.updated_at.millis()
            ],
        )
        .map_err(storage_error)?;
    Ok(())
}

fn insert_partner(connection: &Connection, provisioned: &ProvisionedPartner) -> Result<()> {
    let (partner, group) = (&provisioned.partner, &provisioned.admin_group);
    connection
        .execute(
            "INSERT INTO partners (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)",
            params![partner.id, partner.name, partner.created_at.millis(), partner.updated_at.millis()],
        )
        .map_err(storage_error)?;
    insert_group(connection, group)?;
    for issued in &provisioned.admin_keys {
        insert_api_key(connection, &issued.key, &issued.secret_hash)?;
    }
    Ok(())
}

fn get_membership(connection: &Connection, scope: &Scope, id: &str) -> Result<Membership> {
    let mut sql = sql(&rows::SELECT_MEMBERSHIPS_WHERE);
    sql.push("m.id = ").bind(id.to_owned()).scoped(scope, "m", "m.organisation_id");
    found(query_row(connection, &sql, |row| rows::membership(row)))
}

/// Accepted memberships of the organisation other than `except`, read inside the write
/// transaction that uses them.
fn tally(connection: &Connection, organisation_id: &str, except: &str) -> Result<OrgTally> {
    connection
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(role = 'ADMIN'), 0), COALESCE(SUM(is_owner), 0) FROM memberships \
             WHERE organisation_id = ?1 AND status = 'accepted' AND id <> ?2",
            params![organisation_id, except],
            |row| {
                let count = |index| row.get::<_, i64>(index).map(|n| u64::try_from(n).unwrap_or(0));
                Ok(OrgTally { others: count(0)?, other_admins: count(1)?, other_owners: count(2)? })
            },
        )
        .map_err(storage_error)
}

/// Whether the user has a membership, and whether one lies outside the scope.
fn membership_reach(connection: &Connection, scope: &Scope, user_id: &str) -> Result<(bool, bool)> {
    let mut reach = sql("");
    reach.user_membership_reach(scope, user_id);
    found(query_row(connection, &reach, |row| Ok((row.get(0)?, row.get(1)?))))
}

/// The permissions the organisation's roles among `role_ids` grant.
fn role_permissions(connection: &Connection, organisation_id: &str, role_ids: &[String]) -> Result<Vec<String>> {
    if role_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = sql("SELECT permissions FROM roles WHERE organisation_id = ");
    sql.bind(organisation_id).push(" AND id IN (");
    for (index, role_id) in role_ids.iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        sql.bind(role_id.as_str());
    }
    sql.push(")");
    let lists = query_all(connection, &sql, |row| row.json::<Vec<String>>(0)).map_err(storage_error)?;
    Ok(lists.into_iter().flatten().collect())
}

fn get_role(connection: &Connection, scope: &Scope, id: &str) -> Result<Role> {
    let mut sql = sql(&format!("SELECT {} FROM roles r WHERE r.id = ", rows::ROLE_COLUMNS));
    sql.bind(id).scoped(scope, "r", "r.organisation_id");
    found(query_row(connection, &sql, |row| rows::role(row)))
}

fn role_name_taken(connection: &Connection, organisation_id: &str, name: &str, except: &str) -> Result<bool> {
    exists(
        connection,
        "SELECT EXISTS (SELECT 1 FROM roles WHERE organisation_id = ?1 AND name = ?2 AND id <> ?3)",
        params![organisation_id, name, except],
    )
}

fn role_conflict(error: rusqlite::Error) -> Error {
    if is_unique_violation(&error, "roles.organisation_id") { Error::RoleAlreadyExists } else { storage_error(error) }
}

#[async_trait]
impl Store for SqliteStore {
    fn pool_status(&self) -> roster_core::store::PoolStatus {
        self.pool.status()
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        Ok(Box::new(transaction::SqliteTransaction(self.pool.begin().await?)))
    }

    async fn ping(&self) -> Result<()> {
        self.pool.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(storage_error)).await
    }

    async fn list_partners(&self, query: &ListQuery) -> Result<ListPage<Partner>> {
        let query = query.clone();
        self.pool
            .read(move |c| {
                page(c, rows::PARTNER_COLUMNS, "partners p", &sql(""), "p", &query, |row| rows::partner(row))
                    .map_err(storage_error)
            })
            .await
    }

    async fn get_partner(&self, id: &str) -> Result<Partner> {
        let id = id.to_owned();
        self.pool
            .read(move |c| {
                let mut sql = sql(&format!("SELECT {} FROM partners p WHERE p.id = ", rows::PARTNER_COLUMNS));
                sql.bind(id);
                found(query_row(c, &sql, |row| rows::partner(row)))
            })
            .await
    }

    async fn list_groups(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<PartnerGroup>> {
        let (scope, query) = (scope.clone(), query.clone());
        self.pool
            .read(move |c| {
                let mut conditions = sql("");
                conditions.push(" AND g.partner_id = ").bind(scope.partner_id().to_owned());
                let mut groups =
                    page(c, rows::GROUP_COLUMNS, "partner_groups g", &conditions, "g", &query, |row| rows::group(row))
                        .map_err(storage_error)?;
                for group in &mut groups.items {
                    group.organisation_ids = group_organisation_ids(c, &group.id, scope.mode().is_live())?;
                }
                Ok(groups)
            })
            .await
    }

    async fn get_group(&self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.pool.read(move |c| get_group(c, &scope, &id)).await
    }

    async fn list_organisations(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<Organisation>> {
        let (scope, query) = (scope.clone(), query.clone());
        self.pool
            .read(move |c| {
                let mut conditions = sql("");
                conditions.scoped(&scope, "o", "o.id");
                page(c, rows::ORGANISATION_COLUMNS, "organisations o", &conditions, "o", &query, |row| {
                    rows::organisation(row)
                })
                .map_err(storage_error)
            })
            .await
    }

    async fn search_organisations(&self, scope: &Scope, prefix: &str, limit: u32) -> Result<Vec<Organisation>> {
        let statement = organisations_named(Dialect::Sqlite, scope, prefix, limit);
        self.pool.read(move |c| query_all(c, &statement, |row| rows::organisation(row)).map_err(storage_error)).await
    }

    async fn get_organisation(&self, scope: &Scope, id: &str) -> Result<Organisation> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.pool.read(move |c| get_organisation(c, &scope, &id)).await
    }

    async fn list_users(&self, scope: &Scope, email: Option<&str>, query: &ListQuery) -> Result<ListPage<User>> {
        let (scope, query, email) = (scope.clone(), query.clone(), email.map(email_key));
        self.pool
            .read(move |c| {
                let mut conditions = sql("");
                conditions.users_in_scope(&scope);
                if let Some(email) = email {
                    conditions.push(" AND u.email_key = ").bind(email);
                }
                page(c, rows::USER_COLUMNS, "users u", &conditions, "u", &query, |row| rows::user(row))
                    .map_err(storage_error)
            })
            .await
    }

    async fn get_user(&self, scope: &Scope, id: &str) -> Result<User> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.pool.read(move |c| get_user(c, &scope, &id)).await
    }

    async fn list_api_keys(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<ApiKey>> {
        let (scope, query) = (scope.clone(), query.clone());
        self.pool
            .read(move |c| {
                let mut conditions = sql("");
                conditions.api_keys_in_scope(&scope);
                page(c, rows::API_KEY_COLUMNS, "api_keys k", &conditions, "k", &query, |row| rows::api_key(row))
                    .map_err(storage_error)
            })
            .await
    }

    async fn get_api_key(&self, scope: &Scope, id: &str) -> Result<ApiKey> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.pool.read(move |c| get_api_key(c, &scope, &id)).await
    }

    async fn find_api_key(&self, secret_hash: &str) -> Result<Option<KeyCredential>> {
        let secret_hash = secret_hash.to_owned();
        self.pool
            .read(move |c| {
                let mut sql = sql(&format!(
                    "SELECT {}, k.secret_hash, COALESCE(g.is_admin, 0) FROM api_keys k \
                     LEFT JOIN partner_groups g ON g.id = k.group_id WHERE k.secret_hash = ",
                    rows::API_KEY_COLUMNS
                ));
                sql.bind(secret_hash);
                query_row(c, &sql, |row| {
                    Ok(KeyCredential {
                        key: rows::api_key(row)?,
                        secret_hash: row.get(15)?,
                        group_is_admin: row.get(16)?,
                    })
                })
                .map_err(storage_error)
            })
            .await
    }

    async fn touch_api_key(&self, id: &str, now: Timestamp) -> Result<()> {
        let id = id.to_owned();
        self.pool
            .write(move |c| {
                c.execute("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1", params![id, now.millis()])
                    .map_err(storage_error)?;
                Ok(())
            })
            .await
    }

    async fn search_members(
        &self,
        scope: &Scope,
        organisation_id: &str,
        prefix: &str,
        filter: &MembershipFilter,
        limit: u32,
    ) -> Result<Vec<Membership>> {
        let statement = members_named(Dialect::Sqlite, scope, organisation_id, prefix, filter, limit);
        self.pool.read(move |c| query_all(c, &statement, |row| rows::membership(row)).map_err(storage_error)).await
    }

    async fn list_memberships(
        &self,
        scope: &Scope,
        filter: &MembershipFilter,
        query: &ListQuery,
    ) -> Result<ListPage<Membership>> {
        let (scope, filter, query) = (scope.clone(), filter.clone(), query.clone());
        self.pool
            .read(move |c| {
                let filter = match group_organisations(Dialect::Sqlite, &scope, &filter) {
                    Some(select) => {
                        let organisations = query_all(c, &select, |row| row.get(0)).map_err(storage_error)?;
                        group_organisations_named(filter, organisations)
                    }
                    None => filter,
                };
                let statements = membership_page(Dialect::Sqlite, &scope, &filter, &query);
                page_of(c, &statements, query.limit, |row| rows::membership(row)).map_err(storage_error)
            })
            .await
    }

    async fn get_membership(&self, scope: &Scope, id: &str) -> Result<Membership> {
        self.pool.read_inline(|c| get_membership(c, scope, id)).await
    }

    async fn list_events(&self, scope: &Scope, filter: &EventFilter, query: &ListQuery) -> Result<ListPage<Event>> {
        let (statement, limit) = (events_page(Dialect::Sqlite, scope, filter, query), query.limit);
        self.pool
            .read(move |c| {
                let events = query_all(c, &statement, |row| rows::event(row)).map_err(storage_error)?;
                Ok(ListPage::from_overfetch(events, limit, 0))
            })
            .await
    }

    async fn get_event(&self, scope: &Scope, resources: Option<&[String]>, id: &str) -> Result<Event> {
        let statement = event_by_id(Dialect::Sqlite, scope, resources, id);
        self.pool.read(move |c| found(query_row(c, &statement, |row| rows::event(row)))).await
    }

    async fn prune_events(&self, before: Timestamp, batch: u32) -> Result<u64> {
        self.pool
            .write(move |c| {
                // Event ids sort like their creation times: the oldest are a range of the key.
                c.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < ?1 ORDER BY id LIMIT ?2)",
                    params![ids::first_id_at(ids::EVENT, before), batch],
                )
                .map(|deleted| u64::try_from(deleted).unwrap_or(0))
                .map_err(storage_error)
            })
            .await
    }

    async fn object_event_at(&self, scope: &Scope, object_id: &str, at: Timestamp) -> Result<Option<Event>> {
        let statement = object_event_at(Dialect::Sqlite, scope, object_id, at.millis());
        self.pool.read(move |c| query_row(c, &statement, |row| rows::event(row)).map_err(storage_error)).await
    }

    async fn list_object_events(&self, scope: &Scope, object_id: &str, query: &ListQuery) -> Result<ListPage<Event>> {
        let (statements, limit) = (object_events_page(Dialect::Sqlite, scope, object_id, query), query.limit);
        self.pool.read(move |c| page_of(c, &statements, limit, |row| rows::event(row)).map_err(storage_error)).await
    }

    async fn find_membership(
        &self,
        scope: &Scope,
        organisation_id: &str,
        user_id: &str,
    ) -> Result<Option<MembershipAccess>> {
        self.pool
            .read_inline(|c| {
                if !organisation_in_scope(c, scope, organisation_id)? {
                    return Err(Error::NotFound);
                }
                let mut sql = sql(&rows::SELECT_MEMBERSHIPS_WHERE);
                sql.push("m.organisation_id = ").bind(organisation_id).push(" AND m.user_id = ").bind(user_id).scoped(
                    scope,
                    "m",
                    "m.organisation_id",
                );
                let Some(membership) = query_row(c, &sql, |row| rows::membership(row)).map_err(storage_error)? else {
                    return Ok(None);
                };
                let role_permissions = role_permissions(c, organisation_id, &membership.settings.role_ids)?;
                Ok(Some(MembershipAccess { membership, role_permissions }))
            })
            .await
    }

    async fn find_user(&self, id: &str) -> Result<Option<User>> {
        let id = id.to_owned();
        self.pool
            .read(move |c| {
                let mut sql = sql(&format!("SELECT {} FROM users u WHERE u.id = ", rows::USER_COLUMNS));
                sql.bind(id);
                query_row(c, &sql, |row| rows::user(row)).map_err(storage_error)
            })
            .await
    }

    async fn list_roles(
        &self,
        scope: &Scope,
        organisation_id: Option<&str>,
        query: &ListQuery,
    ) -> Result<ListPage<Role>> {
        let (scope, query, organisation_id) = (scope.clone(), query.clone(), organisation_id.map(str::to_owned));
        self.pool
            .read(move |c| {
                let mut conditions = sql("");
                conditions.scoped(&scope, "r", "r.organisation_id");
                if let Some(organisation_id) = organisation_id {
                    conditions.push(" AND r.organisation_id = ").bind(organisation_id);
                }
                page(c, rows::ROLE_COLUMNS, "roles r", &conditions, "r", &query, |row| rows::role(row))
                    .map_err(storage_error)
            })
            .await
    }

    async fn get_role(&self, scope: &Scope, id: &str) -> Result<Role> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.pool.read(move |c| get_role(c, &scope, &id)).await
    }

    async fn role_permissions(&self, organisation_id: &str, role_ids: &[String]) -> Result<Vec<String>> {
        if role_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (organisation_id, role_ids) = (organisation_id.to_owned(), role_ids.to_vec());
        self.pool.read(move |c| role_permissions(c, &organisation_id, &role_ids)).await
    }
}
