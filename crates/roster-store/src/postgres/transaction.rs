//! The write primitives the operations decide with, on PostgreSQL. Each is READ COMMITTED with
//! row locks taken in one order (partner, organisation, user), so two nodes deciding a rule on
//! the same rows take turns; a deadlock or serialisation failure is `Contention`, and the caller
//! runs the whole transaction again.

use async_trait::async_trait;
use deadpool_postgres::Object;
use roster_core::{
    Error,
    error::Result,
    input::email_key,
    model::{ApiKey, Membership, Mode, Organisation, PartnerGroup, Role, User},
    policy::Scope,
    provision::ProvisionedPartner,
    rules::OrgTally,
    store::{Transaction, UserHold},
    time::Timestamp,
};
use tokio_postgres::types::{Json, ToSql};

use super::{
    Hold, assign_group_organisations, get_api_key, get_group, get_membership, get_organisation, get_role, get_user,
    group_exists, insert_api_key, insert_group, insert_partner, lock_membership, lock_organisation, lock_partner,
    lock_user, membership_reach, organisation_in_scope, other_admin_group,
    pool::{Failure, Step},
    query::{execute, fetch_one, fetch_opt},
    role_conflict, role_name_taken, rows, tally, user_conflict, user_email_taken,
};
use crate::rows::{MEMBERSHIP_WRITE_COLUMNS, USER_COLUMNS, placeholders};

/// A connection inside `BEGIN`. Dropped before [`Transaction::commit`], it is rolled back
/// before it returns to the pool.
pub struct PostgresTransaction {
    client: Option<Object>,
    gate: Option<std::sync::Arc<roster_core::commit_gate::CommitGate>>,
}

impl PostgresTransaction {
    pub(super) async fn begin(client: Object) -> Result<Self> {
        client.batch_execute("BEGIN").await.map_err(|error| Failure::from(error).into_retryable_error())?;
        Ok(Self { client: Some(client), gate: roster_core::commit_gate::current() })
    }

    fn client(&self) -> Result<&Object> {
        self.client.as_ref().ok_or_else(|| Error::internal("the transaction has ended"))
    }
}

impl Drop for PostgresTransaction {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // The rollback must reach the server before the connection serves anyone else.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(error) = client.batch_execute("ROLLBACK").await {
                        tracing::warn!(%error, "could not roll back; closing the connection");
                        drop(Object::take(client));
                    }
                });
            } else {
                drop(Object::take(client));
            }
        }
    }
}

fn failed(failure: Failure) -> Error {
    failure.into_retryable_error()
}

async fn write_membership(client: &Object, statement: &str, membership: &Membership) -> Step<u64> {
    let settings = &membership.settings;
    let n = &settings.notifications;
    let values: [&(dyn ToSql + Sync); 24] = [
        &membership.id,
        &membership.partner_id,
        &membership.mode.is_live(),
        &membership.organisation_id,
        &membership.user_id,
        &membership.status.as_str(),
        &settings.role.as_str(),
        &Json(&settings.role_ids),
        &Json(&settings.permissions),
        &settings.is_owner,
        &settings.is_default,
        &Json(&settings.allowed_ips),
        &settings.api_access_enabled,
        &settings.access_scope.as_str(),
        &settings.test_enabled,
        &n.alert_action_required,
        &n.alert_resolved,
        &n.alert_dismissed,
        &n.evidence_requested,
        &settings.reference,
        &settings.reference_origin,
        &Json(&settings.metadata),
        &membership.created_at.millis(),
        &membership.updated_at.millis(),
    ];
    execute(client, statement, &values).await
}

#[async_trait]
impl Transaction for PostgresTransaction {
    async fn commit(mut self: Box<Self>) -> Result<()> {
        if !roster_core::commit_gate::may_commit(self.gate.as_deref()) {
            return Err(Error::Unavailable);
        }
        let client = self.client.take().ok_or_else(|| Error::internal("the transaction has ended"))?;
        // A failed COMMIT has ended the transaction on the server: the connection is clean.
        client.batch_execute("COMMIT").await.map_err(|error| failed(error.into()))
    }

    async fn hold_organisation_for_new_member(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool> {
        // A create only adds a member: it must not interleave with a change that counts the
        // organisation's members (those hold the row FOR UPDATE), but creates may run side by
        // side; the unique indexes order their duplicates.
        organisation_in_scope(self.client()?, scope, organisation_id, Hold::AgainstMemberCounts).await.map_err(failed)
    }

    async fn lock_organisation(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool> {
        let client = self.client()?;
        if !organisation_in_scope(client, scope, organisation_id, Hold::Nothing).await.map_err(failed)? {
            return Ok(false);
        }
        lock_organisation(client, organisation_id).await.map_err(failed)?;
        Ok(true)
    }

    async fn missing_roles(&mut self, organisation_id: &str, role_ids: &[String]) -> Result<Vec<usize>> {
        let client = self.client()?;
        let mut missing = Vec::new();
        for (index, role_id) in role_ids.iter().enumerate() {
            let found = fetch_opt(
                client,
                "SELECT 1 FROM roles WHERE id = $1 AND organisation_id = $2",
                &[role_id, &organisation_id],
            )
            .await
            .map_err(failed)?;
            if found.is_none() {
                missing.push(index);
            }
        }
        Ok(missing)
    }

    async fn insert_user_unless_email_taken(&mut self, user: &User) -> Result<()> {
        execute(
            self.client()?,
            "INSERT INTO users (id, partner_id, livemode, email, email_key, first_name, last_name, is_staff, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (partner_id, livemode, email_key) DO NOTHING",
            &[
                &user.id,
                &user.partner_id,
                &user.mode.is_live(),
                &user.email,
                &email_key(&user.email),
                &user.first_name,
                &user.last_name,
                &user.is_staff,
                &user.created_at.millis(),
                &user.updated_at.millis(),
            ],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn user_by_email(&mut self, scope: &Scope, email: &str, hold: UserHold) -> Result<Option<User>> {
        let lock = match hold {
            UserHold::Share => "FOR SHARE",
            UserHold::Update => "FOR UPDATE",
        };
        let statement = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.partner_id = $1 AND u.livemode = $2 AND u.email_key = $3 {lock}"
        );
        let row =
            fetch_opt(self.client()?, &statement, &[&scope.partner_id(), &scope.mode().is_live(), &email_key(email)])
                .await
                .map_err(failed)?;
        row.as_ref().map(rows::user).transpose().map_err(failed)
    }

    async fn user_by_id(&mut self, scope: &Scope, id: &str, hold: UserHold) -> Result<Option<User>> {
        let lock = match hold {
            UserHold::Share => "FOR SHARE",
            UserHold::Update => "FOR UPDATE",
        };
        let statement = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 AND u.partner_id = $2 AND u.livemode = $3 {lock}"
        );
        let row = fetch_opt(self.client()?, &statement, &[&id, &scope.partner_id(), &scope.mode().is_live()])
            .await
            .map_err(failed)?;
        row.as_ref().map(rows::user).transpose().map_err(failed)
    }

    async fn membership_id(&mut self, organisation_id: &str, user_id: &str) -> Result<Option<String>> {
        let row = fetch_opt(
            self.client()?,
            "SELECT id FROM memberships WHERE organisation_id = $1 AND user_id = $2",
            &[&organisation_id, &user_id],
        )
        .await
        .map_err(failed)?;
        row.map(|row| row.try_get(0)).transpose().map_err(|error| failed(error.into()))
    }

    async fn membership_reach(&mut self, scope: &Scope, user_id: &str) -> Result<(bool, bool)> {
        membership_reach(self.client()?, scope, user_id).await.map_err(failed)
    }

    async fn hold_user(&mut self, user_id: &str) -> Result<()> {
        lock_user(self.client()?, user_id).await.map_err(failed)
    }

    async fn insert_membership(&mut self, membership: &Membership) -> Result<Option<String>> {
        let client = self.client()?;
        let statement = format!(
            "INSERT INTO memberships ({MEMBERSHIP_WRITE_COLUMNS}) VALUES ({}) \
             ON CONFLICT (organisation_id, user_id) DO NOTHING",
            placeholders('$', 24)
        );
        if write_membership(client, &statement, membership).await.map_err(failed)? == 1 {
            return Ok(None);
        }
        let existing = fetch_one(
            client,
            "SELECT id FROM memberships WHERE organisation_id = $1 AND user_id = $2",
            &[&membership.organisation_id, &membership.user_id],
        )
        .await
        .map_err(failed)?;
        existing.try_get(0).map(Some).map_err(|error| failed(error.into()))
    }

    async fn lock_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        lock_membership(self.client()?, scope, id).await.map_err(failed)
    }

    async fn get_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        get_membership(self.client()?, scope, id).await.map_err(failed)
    }

    async fn tally(&mut self, organisation_id: &str, except: &str) -> Result<OrgTally> {
        tally(self.client()?, organisation_id, except).await.map_err(failed)
    }

    async fn update_membership(&mut self, membership: &Membership) -> Result<()> {
        let statement =
            format!("UPDATE memberships SET ({MEMBERSHIP_WRITE_COLUMNS}) = ({}) WHERE id = $1", placeholders('$', 24));
        write_membership(self.client()?, &statement, membership).await.map(drop).map_err(failed)
    }

    async fn clear_other_defaults(&mut self, user_id: &str, except: &str, now: Timestamp) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE memberships SET is_default = FALSE, updated_at = $3 WHERE user_id = $1 AND id <> $2 AND is_default",
            &[&user_id, &except, &now.millis()],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn delete_membership(&mut self, id: &str) -> Result<()> {
        execute(self.client()?, "DELETE FROM memberships WHERE id = $1", &[&id]).await.map(drop).map_err(failed)
    }

    async fn lock_user(&mut self, scope: &Scope, id: &str) -> Result<User> {
        let client = self.client()?;
        // Membership creates hold the user's row FOR SHARE: none can slip in between what the
        // caller checks and what it writes.
        lock_user(client, id).await.map_err(failed)?;
        get_user(client, scope, id).await.map_err(failed)
    }

    async fn email_taken(&mut self, scope: &Scope, email: &str, except: &str) -> Result<bool> {
        user_email_taken(self.client()?, scope, email, Some(except)).await.map_err(failed)
    }

    async fn update_user(&mut self, user: &User) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE users SET email = $2, email_key = $3, first_name = $4, last_name = $5, is_staff = $6, \
             updated_at = $7 WHERE id = $1",
            &[
                &user.id,
                &user.email,
                &email_key(&user.email),
                &user.first_name,
                &user.last_name,
                &user.is_staff,
                &user.updated_at.millis(),
            ],
        )
        .await
        .map(drop)
        .map_err(|failure| failed(user_conflict(failure)))
    }

    async fn hold_group(&mut self, partner_id: &str, id: &str) -> Result<bool> {
        group_exists(self.client()?, partner_id, id).await.map_err(failed)
    }

    async fn hold_organisation(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        organisation_in_scope(self.client()?, scope, id, Hold::AgainstDelete).await.map_err(failed)
    }

    async fn user_in_scope(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        match get_user(self.client()?, scope, id).await {
            Ok(_) => Ok(true),
            Err(Failure::Domain(Error::NotFound)) => Ok(false),
            Err(other) => Err(failed(other)),
        }
    }

    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> Result<()> {
        insert_api_key(self.client()?, key, secret_hash).await.map_err(failed)
    }

    async fn insert_organisation(&mut self, organisation: &Organisation) -> Result<()> {
        execute(
            self.client()?,
            "INSERT INTO organisations (id, partner_id, livemode, name, enforce_twofactor, abuse_contact_email, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &organisation.id,
                &organisation.partner_id,
                &organisation.mode.is_live(),
                &organisation.name,
                &organisation.settings.enforce_twofactor,
                &organisation.settings.abuse_contact_email,
                &organisation.created_at.millis(),
                &organisation.updated_at.millis(),
            ],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn add_group_organisation(&mut self, group_id: &str, organisation_id: &str) -> Result<()> {
        execute(
            self.client()?,
            "INSERT INTO group_organisations (group_id, organisation_id) VALUES ($1, $2)",
            &[&group_id, &organisation_id],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn get_organisation(&mut self, scope: &Scope, id: &str) -> Result<Organisation> {
        get_organisation(self.client()?, scope, id).await.map_err(failed)
    }

    async fn insert_group(&mut self, group: &PartnerGroup) -> Result<()> {
        insert_group(self.client()?, group).await.map_err(failed)
    }

    async fn hold_partner(&mut self, partner_id: &str) -> Result<bool> {
        lock_partner(self.client()?, partner_id).await.map_err(failed)
    }

    async fn hold_partners(&mut self) -> Result<bool> {
        let client = self.client()?;
        // Serialises first starts: the lock is held until this transaction ends.
        execute(client, "LOCK TABLE partners IN SHARE ROW EXCLUSIVE MODE", &[]).await.map_err(failed)?;
        Ok(fetch_opt(client, "SELECT 1 FROM partners LIMIT 1", &[]).await.map_err(failed)?.is_some())
    }

    async fn insert_partner(&mut self, partner: &ProvisionedPartner) -> Result<()> {
        insert_partner(self.client()?, partner).await.map_err(failed)
    }

    async fn oldest_admin_group(&mut self, partner_id: &str) -> Result<Option<String>> {
        let row = fetch_opt(
            self.client()?,
            "SELECT id FROM partner_groups WHERE partner_id = $1 AND is_admin ORDER BY created_at, id LIMIT 1",
            &[&partner_id],
        )
        .await
        .map_err(failed)?;
        row.map(|row| row.try_get(0)).transpose().map_err(|error| failed(error.into()))
    }

    async fn update_organisation(&mut self, organisation: &Organisation) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE organisations SET name = $2, enforce_twofactor = $3, abuse_contact_email = $4, updated_at = $5 \
             WHERE id = $1",
            &[
                &organisation.id,
                &organisation.name,
                &organisation.settings.enforce_twofactor,
                &organisation.settings.abuse_contact_email,
                &organisation.updated_at.millis(),
            ],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn delete_organisation(&mut self, id: &str) -> Result<()> {
        execute(self.client()?, "DELETE FROM organisations WHERE id = $1", &[&id]).await.map(drop).map_err(failed)
    }

    async fn insert_user(&mut self, user: &User) -> Result<()> {
        execute(
            self.client()?,
            "INSERT INTO users (id, partner_id, livemode, email, email_key, first_name, last_name, is_staff, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &user.id,
                &user.partner_id,
                &user.mode.is_live(),
                &user.email,
                &email_key(&user.email),
                &user.first_name,
                &user.last_name,
                &user.is_staff,
                &user.created_at.millis(),
                &user.updated_at.millis(),
            ],
        )
        .await
        .map(drop)
        .map_err(|failure| failed(user_conflict(failure)))
    }

    async fn lock_role(&mut self, scope: &Scope, id: &str) -> Result<Role> {
        let client = self.client()?;
        execute(client, "SELECT 1 FROM roles WHERE id = $1 FOR UPDATE", &[&id]).await.map_err(failed)?;
        get_role(client, scope, id).await.map_err(failed)
    }

    async fn role_name_taken(&mut self, organisation_id: &str, name: &str, except: &str) -> Result<bool> {
        role_name_taken(self.client()?, organisation_id, name, except).await.map_err(failed)
    }

    async fn insert_role(&mut self, role: &Role) -> Result<()> {
        execute(
            self.client()?,
            "INSERT INTO roles (id, partner_id, livemode, organisation_id, name, permissions, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &role.id,
                &role.partner_id,
                &role.mode.is_live(),
                &role.organisation_id,
                &role.name,
                &Json(&role.permissions),
                &role.created_at.millis(),
                &role.updated_at.millis(),
            ],
        )
        .await
        .map(drop)
        .map_err(|failure| failed(role_conflict(failure)))
    }

    async fn update_role(&mut self, role: &Role) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE roles SET name = $2, permissions = $3, updated_at = $4 WHERE id = $1",
            &[&role.id, &role.name, &Json(&role.permissions), &role.updated_at.millis()],
        )
        .await
        .map(drop)
        .map_err(|failure| failed(role_conflict(failure)))
    }

    async fn delete_role(&mut self, role: &Role, now: Timestamp) -> Result<()> {
        let client = self.client()?;
        execute(
            client,
            "UPDATE memberships SET role_ids = role_ids - $1::text, updated_at = $3 \
             WHERE organisation_id = $2 AND jsonb_exists(role_ids, $1::text)",
            &[&role.id, &role.organisation_id, &now.millis()],
        )
        .await
        .map_err(failed)?;
        execute(client, "DELETE FROM roles WHERE id = $1", &[&role.id]).await.map(drop).map_err(failed)
    }

    async fn get_api_key(&mut self, scope: &Scope, id: &str) -> Result<ApiKey> {
        get_api_key(self.client()?, scope, id).await.map_err(failed)
    }

    async fn revoke_api_key(&mut self, id: &str, now: Timestamp) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE api_keys SET revoked_at = $2, updated_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now.millis()],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn lock_group(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        let client = self.client()?;
        // A concurrent change or delete of the group waits, or, committed first, is what is
        // read here (a group promoted while being deleted is deleted as an admin group).
        execute(client, "SELECT 1 FROM partner_groups WHERE id = $1 FOR UPDATE", &[&id]).await.map_err(failed)?;
        get_group(client, scope, id).await.map_err(failed)
    }

    async fn other_admin_group(&mut self, partner_id: &str, except: &str) -> Result<bool> {
        other_admin_group(self.client()?, partner_id, except).await.map_err(failed)
    }

    async fn missing_organisations(&mut self, scope: &Scope, organisation_ids: &[String]) -> Result<Vec<usize>> {
        let client = self.client()?;
        let partner_wide = scope.partner_wide();
        let mut missing = Vec::new();
        for (index, id) in organisation_ids.iter().enumerate() {
            if !organisation_in_scope(client, &partner_wide, id, Hold::AgainstDelete).await.map_err(failed)? {
                missing.push(index);
            }
        }
        Ok(missing)
    }

    async fn assign_group_organisations(
        &mut self,
        group_id: &str,
        mode: Mode,
        organisation_ids: &[String],
    ) -> Result<()> {
        assign_group_organisations(self.client()?, group_id, mode.is_live(), organisation_ids).await.map_err(failed)
    }

    async fn update_group(&mut self, group: &PartnerGroup) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE partner_groups SET name = $2, is_admin = $3, updated_at = $4 WHERE id = $1",
            &[&group.id, &group.name, &group.is_admin, &group.updated_at.millis()],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn delete_group(&mut self, id: &str) -> Result<()> {
        execute(self.client()?, "DELETE FROM partner_groups WHERE id = $1", &[&id]).await.map(drop).map_err(failed)
    }
}
