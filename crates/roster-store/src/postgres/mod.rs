//! The PostgreSQL backend, for production and for several stateless nodes on one database.
//! Writes are READ COMMITTED transactions of the primitives in `transaction.rs`, which
//! `roster-app` decides with; the rows a rule spans are held by row locks taken in one order
//! (partner, organisation, user), so racing nodes take turns. A conflict the database reports
//! (a serialisation failure, a deadlock) is `Contention`, and the whole transaction runs again.
//! Reads are retried here.

mod migrations;
mod pool;
mod query;
mod rows;
mod transaction;
mod transfer;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
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
use tokio_postgres::{error::SqlState, types::Json};

use crate::sql::{
    Dialect, event_by_id, events_page, group_organisations, group_organisations_named, members_named, membership_page,
    object_event_at, object_events_page, organisations_named,
};

pub use pool::PoolOptions;
use pool::{Connections, Failure, Step};
use query::{Sql, execute, fetch, fetch_one, fetch_opt, page, page_of, query_opt, sql};

pub struct PostgresStore {
    connections: Connections,
}

impl PostgresStore {
    /// Connects (lazily: the pool opens connections as needed) and applies pending migrations.
    pub async fn open(url: &str, options: &PoolOptions) -> Result<Self> {
        let connections = Connections::new(url, options)?;
        migrations::run(&connections).await?;
        check_commits_can_wait_for_disk(&connections).await?;
        Ok(Self { connections })
    }
}

/// A write answers once its commit is on disk by way of `pg_logical_emit_message`, which every
/// role may call unless an operator revoked it: found out when the database is opened, not as
/// writes that commit and cannot confirm it.
async fn check_commits_can_wait_for_disk(connections: &Connections) -> Result<()> {
    connections
        .retrying(|| async {
            match connections.get().await?.batch_execute(transaction::AWAIT_FLUSH).await {
                Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                    Err(Failure::Domain(Error::internal(format!(
                        "roster waits for each commit to reach disk with pg_logical_emit_message, and this \
                         role may not call it ({error}): GRANT EXECUTE ON FUNCTION \
                         pg_logical_emit_message(boolean, text, text) to it (on PostgreSQL 17 and later: \
                         pg_logical_emit_message(boolean, text, text, boolean))"
                    ))))
                }
                outcome => Step::Ok(outcome?),
            }
        })
        .await
}

/// Runs `$body` on a pooled connection bound to `$client`, outside any explicit transaction.
macro_rules! read {
    ($store:expr, |$client:ident| $body:block) => {
        $store
            .connections
            .retrying(|| async {
                let pooled = $store.connections.get().await?;
                let $client = &pooled;
                Step::Ok($body)
            })
            .await
    };
}

mod console;
mod outbox;

fn found<T>(value: Option<T>) -> Step<T> {
    value.ok_or(Failure::Domain(Error::NotFound))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

async fn get_organisation(client: &impl GenericClient, scope: &Scope, id: &str) -> Step<Organisation> {
    let mut sql = sql(&format!("SELECT {} FROM organisations o WHERE o.id = ", rows::ORGANISATION_COLUMNS));
    sql.bind(id.to_owned()).scoped(scope, "o", "o.id");
    rows::organisation(&found(query_opt(client, &sql).await?)?)
}

/// How a read of a parent row holds it for the rest of the transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hold {
    Nothing,
    /// `FOR KEY SHARE`, as a foreign key would: a concurrent delete waits for this transaction,
    /// or, if it committed first, the row is not found. Children are never written beside a
    /// parent being deleted (which would be a foreign-key violation, not a clear answer).
    AgainstDelete,
    /// `FOR SHARE`: also excludes the `FOR UPDATE` that changes counting members take.
    AgainstMemberCounts,
}

impl Hold {
    fn clause(self) -> &'static str {
        match self {
            Self::Nothing => "",
            Self::AgainstDelete => " FOR KEY SHARE",
            Self::AgainstMemberCounts => " FOR SHARE",
        }
    }
}

/// Whether the organisation is in scope, holding its row as `hold` says.
async fn organisation_in_scope(client: &impl GenericClient, scope: &Scope, id: &str, hold: Hold) -> Step<bool> {
    let mut sql = sql("SELECT 1 FROM organisations o WHERE o.id = ");
    sql.bind(id.to_owned()).scoped(scope, "o", "o.id").push(hold.clause());
    Ok(query_opt(client, &sql).await?.is_some())
}

/// Whether the group exists in the partner, holding its row against a concurrent delete.
async fn group_exists(client: &impl GenericClient, partner_id: &str, id: &str) -> Step<bool> {
    let row = fetch_opt(
        client,
        "SELECT 1 FROM partner_groups WHERE id = $1 AND partner_id = $2 FOR KEY SHARE",
        &[&id, &partner_id],
    )
    .await?;
    Ok(row.is_some())
}

/// Whether the user has a membership, and whether one lies outside the scope.
async fn membership_reach(client: &impl GenericClient, scope: &Scope, user_id: &str) -> Step<(bool, bool)> {
    let mut reach = sql("");
    reach.user_membership_reach(scope, user_id);
    let row = found(query_opt(client, &reach).await?)?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Serialises the changes that could leave a partner without an admin group, across nodes.
async fn lock_partner(client: &impl GenericClient, id: &str) -> Step<bool> {
    Ok(fetch_opt(client, "SELECT 1 FROM partners WHERE id = $1 FOR UPDATE", &[&id]).await?.is_some())
}

async fn other_admin_group(client: &impl GenericClient, partner_id: &str, except: &str) -> Step<bool> {
    let row = fetch_opt(
        client,
        "SELECT 1 FROM partner_groups WHERE partner_id = $1 AND is_admin AND id <> $2 LIMIT 1",
        &[&partner_id, &except],
    )
    .await?;
    Ok(row.is_some())
}

async fn insert_group(client: &impl GenericClient, group: &PartnerGroup) -> Step<()> {
    execute(
        client,
        "INSERT INTO partner_groups (id, partner_id, name, is_admin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&group.id, &group.partner_id, &group.name, &group.is_admin, &group.created_at.millis(), &group.updated_at.millis()],
    )
    .await?;
    Ok(())
}

const LOCK_ORGANISATION: &str = "SELECT 1 FROM organisations WHERE id = $1 FOR UPDATE";

async fn lock_organisation(client: &impl GenericClient, id: &str) -> Step<()> {
    execute(client, LOCK_ORGANISATION, &[&id]).await?;
    Ok(())
}

async fn lock_user(client: &impl GenericClient, id: &str) -> Step<()> {
    execute(client, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&id]).await?;
    Ok(())
}

async fn group_organisation_ids(client: &impl GenericClient, group_id: &str, livemode: bool) -> Step<Vec<String>> {
    let rows = fetch(
        client,
        "SELECT o.id FROM group_organisations g JOIN organisations o ON o.id = g.organisation_id \
             WHERE g.group_id = $1 AND o.livemode = $2 ORDER BY o.created_at, o.id",
        &[&group_id, &livemode],
    )
    .await?;
    Ok(rows.iter().map(|row| row.try_get(0)).collect::<std::result::Result<_, _>>()?)
}

async fn get_group(client: &impl GenericClient, scope: &Scope, id: &str) -> Step<PartnerGroup> {
    let mut sql = sql(&format!("SELECT {} FROM partner_groups g WHERE g.id = ", rows::GROUP_COLUMNS));
    sql.bind(id.to_owned()).push(" AND g.partner_id = ").bind(scope.partner_id().to_owned());
    let mut group = rows::group(&found(query_opt(client, &sql).await?)?)?;
    group.organisation_ids = group_organisation_ids(client, &group.id, scope.mode().is_live()).await?;
    Ok(group)
}

async fn assign_group_organisations(
    client: &impl GenericClient,
    group_id: &str,
    livemode: bool,
    organisation_ids: &[String],
) -> Step<()> {
    execute(
        client,
        "DELETE FROM group_organisations g WHERE g.group_id = $1 AND EXISTS \
             (SELECT 1 FROM organisations o WHERE o.id = g.organisation_id AND o.livemode = $2)",
        &[&group_id, &livemode],
    )
    .await?;
    for organisation_id in organisation_ids {
        execute(
            client,
            "INSERT INTO group_organisations (group_id, organisation_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&group_id, organisation_id],
        )
        .await?;
    }
    Ok(())
}

async fn get_user(client: &impl GenericClient, scope: &Scope, id: &str) -> Step<User> {
    let mut sql = sql(&format!("SELECT {} FROM users u WHERE u.id = ", rows::USER_COLUMNS));
    sql.bind(id.to_owned());
    sql.users_in_scope(scope);
    rows::user(&found(query_opt(client, &sql).await?)?)
}

async fn user_email_taken(client: &impl GenericClient, scope: &Scope, email: &str, except: Option<&str>) -> Step<bool> {
    let row = fetch_opt(
        client,
        "SELECT 1 FROM users WHERE partner_id = $1 AND livemode = $2 AND email_key = $3 AND id <> $4",
        &[&scope.partner_id(), &scope.mode().is_live(), &email_key(email), &except.unwrap_or("")],
    )
    .await?;
    Ok(row.is_some())
}

fn user_conflict(failure: Failure) -> Failure {
    match failure.unique_violation() {
        Some("users_email") => Failure::Domain(Error::UserAlreadyExists),
        _ => failure,
    }
}

async fn get_api_key(client: &impl GenericClient, scope: &Scope, id: &str) -> Step<ApiKey> {
    let mut sql = sql(&format!("SELECT {} FROM api_keys k WHERE k.id = ", rows::API_KEY_COLUMNS));
    sql.bind(id.to_owned());
    sql.api_keys_in_scope(scope);
    rows::api_key(&found(query_opt(client, &sql).await?)?)
}

async fn insert_api_key(client: &impl GenericClient, key: &ApiKey, secret_hash: &str) -> Step<()> {
    let (group_id, organisation_id, user_id) = key.holder.ids();
    let abilities: Vec<String> = key.abilities.iter().map(|a| a.to_wire()).collect();
    execute(
        client,
        "INSERT INTO api_keys (id, partner_id, livemode, name, key_type, group_id, organisation_id, abilities, \
             expires_at, last_used_at, revoked_at, prefix, secret_hash, created_at, updated_at, user_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        &[
            &key.id,
            &key.partner_id,
            &key.mode.is_live(),
            &key.name,
            &key.key_type.as_str(),
            &group_id,
            &organisation_id,
            &Json(&abilities),
            &key.expires_at.map(Timestamp::millis),
            &key.last_used_at.map(Timestamp::millis),
            &key.revoked_at.map(Timestamp::millis),
            &key.prefix,
            &secret_hash,
            &key.created_at.millis(),
            &key.updated_at.millis(),
            &user_id,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_partner(client: &impl GenericClient, provisioned: &ProvisionedPartner) -> Step<()> {
    let (partner, group) = (&provisioned.partner, &provisioned.admin_group);
    execute(
        client,
        "INSERT INTO partners (id, name, created_at, updated_at) VALUES ($1, $2, $3, $4)",
        &[&partner.id, &partner.name, &partner.created_at.millis(), &partner.updated_at.millis()],
    )
    .await?;
    insert_group(client, group).await?;
    for issued in &provisioned.admin_keys {
        insert_api_key(client, &issued.key, &issued.secret_hash).await?;
    }
    Ok(())
}

/// Event ids sort like their creation times: the oldest are a range of the primary key.
const PRUNE_EVENTS: &str = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < $1 ORDER BY id LIMIT $2)";

/// The membership `id` in `scope`, with its user and organisation.
fn membership_by_id(scope: &Scope, id: &str) -> Sql {
    let mut sql = sql(&rows::SELECT_MEMBERSHIPS_WHERE);
    sql.push("m.id = ").bind(id.to_owned()).scoped(scope, "m", "m.organisation_id");
    sql
}

async fn get_membership(client: &impl GenericClient, scope: &Scope, id: &str) -> Step<Membership> {
    rows::membership(&found(query_opt(client, &membership_by_id(scope, id)).await?)?)
}

async fn tally(client: &impl GenericClient, organisation_id: &str, except: &str) -> Step<OrgTally> {
    let row = fetch_one(
        client,
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE role = 'ADMIN'), COUNT(*) FILTER (WHERE is_owner) FROM memberships \
             WHERE organisation_id = $1 AND status = 'accepted' AND id <> $2",
        &[&organisation_id, &except],
    )
    .await?;
    Ok(OrgTally {
        others: count(row.try_get(0)?),
        other_admins: count(row.try_get(1)?),
        other_owners: count(row.try_get(2)?),
    })
}

/// Reads a membership, locks its organisation, and reads it again: what the caller changes is
/// what is current once no other transaction can change the organisation's memberships. The
/// second read goes right behind the lock, so the lock is held a round trip less.
async fn lock_membership(client: &impl GenericClient, scope: &Scope, id: &str) -> Step<Membership> {
    let read = membership_by_id(scope, id);
    let before = rows::membership(&found(query_opt(client, &read).await?)?)?;
    let current = query::lock_then_read(client, LOCK_ORGANISATION, &[&before.organisation_id], &read).await?;
    rows::membership(&found(current)?)
}

/// The permissions the organisation's roles among `role_ids` grant.
async fn role_permissions(
    client: &impl GenericClient,
    organisation_id: &str,
    role_ids: &[String],
) -> Step<Vec<String>> {
    if role_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = fetch(
        client,
        "SELECT permissions FROM roles WHERE organisation_id = $1 AND id = ANY($2)",
        &[&organisation_id, &role_ids],
    )
    .await?;
    let mut permissions = Vec::new();
    for row in &rows {
        permissions.extend(row.try_get::<_, Json<Vec<String>>>(0)?.0);
    }
    Ok(permissions)
}

async fn get_role(client: &impl GenericClient, scope: &Scope, id: &str) -> Step<Role> {
    let mut sql = sql(&format!("SELECT {} FROM roles r WHERE r.id = ", rows::ROLE_COLUMNS));
    sql.bind(id).scoped(scope, "r", "r.organisation_id");
    rows::role(&found(query_opt(client, &sql).await?)?)
}

async fn role_name_taken(client: &impl GenericClient, organisation_id: &str, name: &str, except: &str) -> Step<bool> {
    let row = fetch_opt(
        client,
        "SELECT 1 FROM roles WHERE organisation_id = $1 AND name = $2 AND id <> $3",
        &[&organisation_id, &name, &except],
    )
    .await?;
    Ok(row.is_some())
}

fn role_conflict(failure: Failure) -> Failure {
    match failure.unique_violation() {
        Some("roles_name") => Failure::Domain(Error::RoleAlreadyExists),
        _ => failure,
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn pool_status(&self) -> roster_core::store::PoolStatus {
        self.connections.status()
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        Ok(Box::new(transaction::PostgresTransaction::begin(&self.connections).await?))
    }

    async fn ping(&self) -> Result<()> {
        read!(self, |client| {
            execute(client, "SELECT 1", &[]).await?;
        })
    }

    async fn list_partners(&self, query: &ListQuery) -> Result<ListPage<Partner>> {
        read!(self, |client| {
            page(client, rows::PARTNER_COLUMNS, "partners p", &sql(""), "p", query, rows::partner).await?
        })
    }

    async fn get_partner(&self, id: &str) -> Result<Partner> {
        read!(self, |client| {
            let mut sql = sql(&format!("SELECT {} FROM partners p WHERE p.id = ", rows::PARTNER_COLUMNS));
            sql.bind(id.to_owned());
            rows::partner(&found(query_opt(client, &sql).await?)?)?
        })
    }

    async fn list_groups(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<PartnerGroup>> {
        read!(self, |client| {
            let mut conditions = sql("");
            conditions.push(" AND g.partner_id = ").bind(scope.partner_id().to_owned());
            let mut groups =
                page(client, rows::GROUP_COLUMNS, "partner_groups g", &conditions, "g", query, rows::group).await?;
            for group in &mut groups.items {
                group.organisation_ids = group_organisation_ids(client, &group.id, scope.mode().is_live()).await?;
            }
            groups
        })
    }

    async fn get_group(&self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        read!(self, |client| { get_group(client, scope, id).await? })
    }

    async fn list_organisations(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<Organisation>> {
        read!(self, |client| {
            let mut conditions = sql("");
            conditions.scoped(scope, "o", "o.id");
            page(client, rows::ORGANISATION_COLUMNS, "organisations o", &conditions, "o", query, rows::organisation)
                .await?
        })
    }

    async fn search_organisations(&self, scope: &Scope, prefix: &str, limit: u32) -> Result<Vec<Organisation>> {
        let statement = organisations_named(Dialect::Postgres, scope, prefix, limit);
        read!(self, |client| {
            query::query(client, &statement).await?.iter().map(rows::organisation).collect::<Result<Vec<_>, _>>()?
        })
    }

    async fn get_organisation(&self, scope: &Scope, id: &str) -> Result<Organisation> {
        read!(self, |client| { get_organisation(client, scope, id).await? })
    }

    async fn list_users(&self, scope: &Scope, email: Option<&str>, query: &ListQuery) -> Result<ListPage<User>> {
        read!(self, |client| {
            let mut conditions = sql("");
            conditions.users_in_scope(scope);
            if let Some(email) = email {
                conditions.push(" AND u.email_key = ").bind(email_key(email));
            }
            page(client, rows::USER_COLUMNS, "users u", &conditions, "u", query, rows::user).await?
        })
    }

    async fn get_user(&self, scope: &Scope, id: &str) -> Result<User> {
        read!(self, |client| { get_user(client, scope, id).await? })
    }

    async fn list_api_keys(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<ApiKey>> {
        read!(self, |client| {
            let mut conditions = sql("");
            conditions.api_keys_in_scope(scope);
            page(client, rows::API_KEY_COLUMNS, "api_keys k", &conditions, "k", query, rows::api_key).await?
        })
    }

    async fn get_api_key(&self, scope: &Scope, id: &str) -> Result<ApiKey> {
        read!(self, |client| { get_api_key(client, scope, id).await? })
    }

    async fn find_api_key(&self, secret_hash: &str) -> Result<Option<KeyCredential>> {
        read!(self, |client| {
            let mut sql = sql(&format!(
                "SELECT {}, k.secret_hash, COALESCE(g.is_admin, FALSE) FROM api_keys k \
                 LEFT JOIN partner_groups g ON g.id = k.group_id WHERE k.secret_hash = ",
                rows::API_KEY_COLUMNS
            ));
            sql.bind(secret_hash.to_owned());
            match query_opt(client, &sql).await? {
                Some(row) => Some(KeyCredential {
                    key: rows::api_key(&row)?,
                    secret_hash: row.try_get(15)?,
                    group_is_admin: row.try_get(16)?,
                }),
                None => None,
            }
        })
    }

    async fn touch_api_key(&self, id: &str, now: Timestamp) -> Result<()> {
        read!(self, |client| {
            execute(client, "UPDATE api_keys SET last_used_at = $2 WHERE id = $1", &[&id, &now.millis()]).await?;
        })
    }

    async fn search_members(
        &self,
        scope: &Scope,
        organisation_id: &str,
        prefix: &str,
        filter: &MembershipFilter,
        limit: u32,
    ) -> Result<Vec<Membership>> {
        let statement = members_named(Dialect::Postgres, scope, organisation_id, prefix, filter, limit);
        read!(self, |client| {
            query::query(client, &statement).await?.iter().map(rows::membership).collect::<Result<Vec<_>, _>>()?
        })
    }

    async fn list_memberships(
        &self,
        scope: &Scope,
        filter: &MembershipFilter,
        query: &ListQuery,
    ) -> Result<ListPage<Membership>> {
        read!(self, |client| {
            let filter = match group_organisations(Dialect::Postgres, scope, filter) {
                Some(select) => {
                    let rows = query::query(client, &select).await?;
                    let organisations = rows.iter().map(|row| row.try_get(0)).collect::<Result<Vec<String>, _>>()?;
                    group_organisations_named(filter.clone(), organisations)
                }
                None => filter.clone(),
            };
            let statements = membership_page(Dialect::Postgres, scope, &filter, query);
            page_of(client, &statements, query.limit, rows::membership).await?
        })
    }

    async fn get_membership(&self, scope: &Scope, id: &str) -> Result<Membership> {
        read!(self, |client| { get_membership(client, scope, id).await? })
    }

    async fn list_events(&self, scope: &Scope, filter: &EventFilter, query: &ListQuery) -> Result<ListPage<Event>> {
        let statement = events_page(Dialect::Postgres, scope, filter, query);
        read!(self, |client| {
            let rows = query::query(client, &statement).await?;
            let events = rows.iter().map(rows::event).collect::<Step<Vec<Event>>>()?;
            ListPage::from_overfetch(events, query.limit, 0)
        })
    }

    async fn get_event(&self, scope: &Scope, resources: Option<&[String]>, id: &str) -> Result<Event> {
        let statement = event_by_id(Dialect::Postgres, scope, resources, id);
        read!(self, |client| { rows::event(&found(query_opt(client, &statement).await?)?)? })
    }

    async fn prune_events(&self, before: Timestamp, batch: u32) -> Result<u64> {
        read!(self, |client| {
            execute(client, PRUNE_EVENTS, &[&ids::first_id_at(ids::EVENT, before), &i64::from(batch)]).await?
        })
    }

    async fn object_event_at(&self, scope: &Scope, object_id: &str, at: Timestamp) -> Result<Option<Event>> {
        let statement = object_event_at(Dialect::Postgres, scope, object_id, at.millis());
        read!(self, |client| { query_opt(client, &statement).await?.map(|row| rows::event(&row)).transpose()? })
    }

    async fn list_object_events(&self, scope: &Scope, object_id: &str, query: &ListQuery) -> Result<ListPage<Event>> {
        let statements = object_events_page(Dialect::Postgres, scope, object_id, query);
        read!(self, |client| { page_of(client, &statements, query.limit, rows::event).await? })
    }

    async fn find_membership(
        &self,
        scope: &Scope,
        organisation_id: &str,
        user_id: &str,
    ) -> Result<Option<MembershipAccess>> {
        read!(self, |client| {
            if !organisation_in_scope(client, scope, organisation_id, Hold::Nothing).await? {
                return Err(Failure::Domain(Error::NotFound));
            }
            let mut sql = sql(&rows::SELECT_MEMBERSHIPS_WHERE);
            sql.push("m.organisation_id = ")
                .bind(organisation_id.to_owned())
                .push(" AND m.user_id = ")
                .bind(user_id.to_owned())
                .scoped(scope, "m", "m.organisation_id");
            match query_opt(client, &sql).await? {
                Some(row) => {
                    let membership = rows::membership(&row)?;
                    let role_permissions =
                        role_permissions(client, organisation_id, &membership.settings.role_ids).await?;
                    Some(MembershipAccess { membership, role_permissions })
                }
                None => None,
            }
        })
    }

    async fn find_user(&self, id: &str) -> Result<Option<User>> {
        read!(self, |client| {
            let mut sql = sql(&format!("SELECT {} FROM users u WHERE u.id = ", rows::USER_COLUMNS));
            sql.bind(id);
            match query_opt(client, &sql).await? {
                Some(row) => Some(rows::user(&row)?),
                None => None,
            }
        })
    }

    async fn list_roles(
        &self,
        scope: &Scope,
        organisation_id: Option<&str>,
        query: &ListQuery,
    ) -> Result<ListPage<Role>> {
        read!(self, |client| {
            let mut conditions = sql("");
            conditions.scoped(scope, "r", "r.organisation_id");
            if let Some(organisation_id) = organisation_id {
                conditions.push(" AND r.organisation_id = ").bind(organisation_id);
            }
            page(client, rows::ROLE_COLUMNS, "roles r", &conditions, "r", query, rows::role).await?
        })
    }

    async fn get_role(&self, scope: &Scope, id: &str) -> Result<Role> {
        read!(self, |client| { get_role(client, scope, id).await? })
    }

    async fn role_permissions(&self, organisation_id: &str, role_ids: &[String]) -> Result<Vec<String>> {
        if role_ids.is_empty() {
            return Ok(Vec::new());
        }
        read!(self, |client| { role_permissions(client, organisation_id, role_ids).await? })
    }
}
