//! The write primitives the operations decide with, on SQLite. One writer at a time holds the
//! database (`BEGIN IMMEDIATE`), so the holds the primitives promise are given by that alone.

use async_trait::async_trait;
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
use rusqlite::{Connection, OptionalExtension, ToSql, params};

use super::{
    assign_group_organisations, exists, get_api_key, get_group, get_membership, get_organisation, get_role, get_user,
    group_exists, insert_api_key, insert_group, insert_partner, is_unique_violation, membership_reach,
    organisation_in_scope, other_admin_group, pool::WriteTransaction, pool::storage_error, role_conflict,
    role_name_taken, rows, rows::to_json, tally, user_email_taken,
};
use crate::rows::{MEMBERSHIP_WRITE_COLUMNS, USER_COLUMNS, placeholders};

pub struct SqliteTransaction(pub(super) WriteTransaction);

/// Runs `$body` as one step of the transaction with `$connection` bound, moving the named
/// values (owned copies) into the blocking thread.
macro_rules! step {
    ($tx:expr, [$($value:ident),*], |$connection:ident| $body:expr) => {{
        $(let $value = $value.to_owned();)*
        $tx.0.run(move |$connection: &Connection| $body).await
    }};
}

fn write_membership(connection: &Connection, statement: &str, membership: &Membership) -> Result<usize> {
    let settings = &membership.settings;
    let n = &settings.notifications;
    let values: [&dyn ToSql; 24] = [
        &membership.id,
        &membership.partner_id,
        &membership.mode.is_live(),
        &membership.organisation_id,
        &membership.user_id,
        &membership.status.as_str(),
        &settings.role.as_str(),
        &to_json(&settings.role_ids),
        &to_json(&settings.permissions),
        &settings.is_owner,
        &settings.is_default,
        &to_json(&settings.allowed_ips),
        &settings.api_access_enabled,
        &settings.access_scope.as_str(),
        &settings.test_enabled,
        &n.alert_action_required,
        &n.alert_resolved,
        &n.alert_dismissed,
        &n.evidence_requested,
        &settings.reference,
        &settings.reference_origin,
        &to_json(&settings.metadata),
        &membership.created_at.millis(),
        &membership.updated_at.millis(),
    ];
    connection.prepare_cached(statement).and_then(|mut statement| statement.execute(&values[..])).map_err(storage_error)
}

#[async_trait]
impl Transaction for SqliteTransaction {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await
    }

    async fn hold_organisation_for_new_member(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool> {
        step!(self, [scope, organisation_id], |c| organisation_in_scope(c, &scope, &organisation_id))
    }

    async fn lock_organisation(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool> {
        step!(self, [scope, organisation_id], |c| organisation_in_scope(c, &scope, &organisation_id))
    }

    async fn missing_roles(&mut self, organisation_id: &str, role_ids: &[String]) -> Result<Vec<usize>> {
        step!(self, [organisation_id, role_ids], |c| {
            let mut statement = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM roles WHERE id = ?1 AND organisation_id = ?2)")
                .map_err(storage_error)?;
            let mut missing = Vec::new();
            for (index, role_id) in role_ids.iter().enumerate() {
                let exists: bool =
                    statement.query_row(params![role_id, organisation_id], |row| row.get(0)).map_err(storage_error)?;
                if !exists {
                    missing.push(index);
                }
            }
            Ok(missing)
        })
    }

    async fn insert_user_unless_email_taken(&mut self, user: &User) -> Result<()> {
        step!(self, [user], |c| {
            c.prepare_cached(
                "INSERT INTO users (id, partner_id, livemode, email, email_key, first_name, last_name, is_staff, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (partner_id, livemode, email_key) DO NOTHING",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    user.id,
                    user.partner_id,
                    user.mode.is_live(),
                    user.email,
                    email_key(&user.email),
                    user.first_name,
                    user.last_name,
                    user.is_staff,
                    user.created_at.millis(),
                    user.updated_at.millis(),
                ])
            })
            .map_err(storage_error)?;
            Ok(())
        })
    }

    async fn user_by_email(&mut self, scope: &Scope, email: &str, _hold: UserHold) -> Result<Option<User>> {
        let key = email_key(email);
        step!(self, [scope, key], |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.partner_id = ?1 AND u.livemode = ?2 AND u.email_key = ?3"
            ))
            .and_then(|mut statement| {
                statement
                    .query_row(params![scope.partner_id(), scope.mode().is_live(), key], |row| rows::user(row))
                    .optional()
            })
            .map_err(storage_error)
        })
    }

    async fn user_by_id(&mut self, scope: &Scope, id: &str, _hold: UserHold) -> Result<Option<User>> {
        step!(self, [scope, id], |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1 AND u.partner_id = ?2 AND u.livemode = ?3"
            ))
            .and_then(|mut statement| {
                statement
                    .query_row(params![id, scope.partner_id(), scope.mode().is_live()], |row| rows::user(row))
                    .optional()
            })
            .map_err(storage_error)
        })
    }

    async fn membership_id(&mut self, organisation_id: &str, user_id: &str) -> Result<Option<String>> {
        step!(self, [organisation_id, user_id], |c| {
            c.prepare_cached("SELECT id FROM memberships WHERE organisation_id = ?1 AND user_id = ?2")
                .and_then(|mut statement| {
                    statement.query_row(params![organisation_id, user_id], |row| row.get(0)).optional()
                })
                .map_err(storage_error)
        })
    }

    async fn membership_reach(&mut self, scope: &Scope, user_id: &str) -> Result<(bool, bool)> {
        step!(self, [scope, user_id], |c| membership_reach(c, &scope, &user_id))
    }

    async fn hold_user(&mut self, _user_id: &str) -> Result<()> {
        Ok(())
    }

    async fn insert_membership(&mut self, membership: &Membership) -> Result<Option<String>> {
        step!(self, [membership], |c| {
            let statement = format!(
                "INSERT INTO memberships ({MEMBERSHIP_WRITE_COLUMNS}) VALUES ({}) \
                 ON CONFLICT (organisation_id, user_id) DO NOTHING",
                placeholders('?', 24)
            );
            if write_membership(c, &statement, &membership)? == 1 {
                return Ok(None);
            }
            c.query_row(
                "SELECT id FROM memberships WHERE organisation_id = ?1 AND user_id = ?2",
                params![membership.organisation_id, membership.user_id],
                |row| row.get(0),
            )
            .map(Some)
            .map_err(storage_error)
        })
    }

    async fn lock_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        self.get_membership(scope, id).await
    }

    async fn get_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        step!(self, [scope, id], |c| get_membership(c, &scope, &id))
    }

    async fn tally(&mut self, organisation_id: &str, except: &str) -> Result<OrgTally> {
        step!(self, [organisation_id, except], |c| tally(c, &organisation_id, &except))
    }

    async fn update_membership(&mut self, membership: &Membership) -> Result<()> {
        step!(self, [membership], |c| {
            let statement = format!(
                "UPDATE memberships SET ({MEMBERSHIP_WRITE_COLUMNS}) = ({}) WHERE id = ?1",
                placeholders('?', 24)
            );
            write_membership(c, &statement, &membership).map(drop)
        })
    }

    async fn clear_other_defaults(&mut self, user_id: &str, except: &str, now: Timestamp) -> Result<()> {
        step!(self, [user_id, except], |c| {
            c.execute(
                "UPDATE memberships SET is_default = 0, updated_at = ?3 WHERE user_id = ?1 AND id <> ?2 AND is_default = 1",
                params![user_id, except, now.millis()],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn delete_membership(&mut self, id: &str) -> Result<()> {
        step!(self, [id], |c| {
            c.execute("DELETE FROM memberships WHERE id = ?1", [&id]).map(drop).map_err(storage_error)
        })
    }

    async fn lock_user(&mut self, scope: &Scope, id: &str) -> Result<User> {
        step!(self, [scope, id], |c| get_user(c, &scope, &id))
    }

    async fn email_taken(&mut self, scope: &Scope, email: &str, except: &str) -> Result<bool> {
        step!(self, [scope, email, except], |c| user_email_taken(c, &scope, &email, Some(&except)))
    }

    async fn update_user(&mut self, user: &User) -> Result<()> {
        step!(self, [user], |c| {
            c.execute(
                "UPDATE users SET email = ?2, email_key = ?3, first_name = ?4, last_name = ?5, is_staff = ?6, \
                 updated_at = ?7 WHERE id = ?1",
                params![
                    user.id,
                    user.email,
                    email_key(&user.email),
                    user.first_name,
                    user.last_name,
                    user.is_staff,
                    user.updated_at.millis()
                ],
            )
            .map(drop)
            .map_err(|error| {
                if is_unique_violation(&error, "users.partner_id") {
                    Error::UserAlreadyExists
                } else {
                    storage_error(error)
                }
            })
        })
    }

    async fn hold_group(&mut self, partner_id: &str, id: &str) -> Result<bool> {
        step!(self, [partner_id, id], |c| group_exists(c, &partner_id, &id))
    }

    async fn hold_organisation(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        step!(self, [scope, id], |c| organisation_in_scope(c, &scope, &id))
    }

    async fn user_in_scope(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        step!(self, [scope, id], |c| match get_user(c, &scope, &id) {
            Ok(_) => Ok(true),
            Err(Error::NotFound) => Ok(false),
            Err(other) => Err(other),
        })
    }

    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> Result<()> {
        step!(self, [key, secret_hash], |c| insert_api_key(c, &key, &secret_hash))
    }

    async fn insert_organisation(&mut self, organisation: &Organisation) -> Result<()> {
        step!(self, [organisation], |c| {
            c.execute(
                "INSERT INTO organisations (id, partner_id, livemode, name, enforce_twofactor, abuse_contact_email, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    organisation.id,
                    organisation.partner_id,
                    organisation.mode.is_live(),
                    organisation.name,
                    organisation.settings.enforce_twofactor,
                    organisation.settings.abuse_contact_email,
                    organisation.created_at.millis(),
                    organisation.updated_at.millis(),
                ],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn add_group_organisation(&mut self, group_id: &str, organisation_id: &str) -> Result<()> {
        step!(self, [group_id, organisation_id], |c| {
            c.execute(
                "INSERT INTO group_organisations (group_id, organisation_id) VALUES (?1, ?2)",
                params![group_id, organisation_id],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn get_organisation(&mut self, scope: &Scope, id: &str) -> Result<Organisation> {
        step!(self, [scope, id], |c| get_organisation(c, &scope, &id))
    }

    async fn insert_group(&mut self, group: &PartnerGroup) -> Result<()> {
        step!(self, [group], |c| insert_group(c, &group))
    }

    async fn hold_partner(&mut self, partner_id: &str) -> Result<bool> {
        step!(self, [partner_id], |c| exists(c, "SELECT EXISTS (SELECT 1 FROM partners WHERE id = ?1)", [&partner_id]))
    }

    async fn hold_partners(&mut self) -> Result<bool> {
        step!(self, [], |c| exists(c, "SELECT EXISTS (SELECT 1 FROM partners)", []))
    }

    async fn insert_partner(&mut self, partner: &ProvisionedPartner) -> Result<()> {
        step!(self, [partner], |c| insert_partner(c, &partner))
    }

    async fn oldest_admin_group(&mut self, partner_id: &str) -> Result<Option<String>> {
        step!(self, [partner_id], |c| {
            c.query_row(
                "SELECT id FROM partner_groups WHERE partner_id = ?1 AND is_admin ORDER BY created_at, id LIMIT 1",
                [&partner_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(storage_error)
        })
    }

    async fn update_organisation(&mut self, organisation: &Organisation) -> Result<()> {
        step!(self, [organisation], |c| {
            c.execute(
                "UPDATE organisations SET name = ?2, enforce_twofactor = ?3, abuse_contact_email = ?4, updated_at = ?5 \
                 WHERE id = ?1",
                params![
                    organisation.id,
                    organisation.name,
                    organisation.settings.enforce_twofactor,
                    organisation.settings.abuse_contact_email,
                    organisation.updated_at.millis()
                ],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn delete_organisation(&mut self, id: &str) -> Result<()> {
        // Memberships, roles, group assignments and the organisation's keys cascade.
        step!(self, [id], |c| c
            .execute("DELETE FROM organisations WHERE id = ?1", [&id])
            .map(drop)
            .map_err(storage_error))
    }

    async fn insert_user(&mut self, user: &User) -> Result<()> {
        step!(self, [user], |c| {
            c.execute(
                "INSERT INTO users (id, partner_id, livemode, email, email_key, first_name, last_name, is_staff, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    user.id,
                    user.partner_id,
                    user.mode.is_live(),
                    user.email,
                    email_key(&user.email),
                    user.first_name,
                    user.last_name,
                    user.is_staff,
                    user.created_at.millis(),
                    user.updated_at.millis(),
                ],
            )
            .map(drop)
            .map_err(|error| {
                if is_unique_violation(&error, "users.partner_id") {
                    Error::UserAlreadyExists
                } else {
                    storage_error(error)
                }
            })
        })
    }

    async fn lock_role(&mut self, scope: &Scope, id: &str) -> Result<Role> {
        step!(self, [scope, id], |c| get_role(c, &scope, &id))
    }

    async fn role_name_taken(&mut self, organisation_id: &str, name: &str, except: &str) -> Result<bool> {
        step!(self, [organisation_id, name, except], |c| role_name_taken(c, &organisation_id, &name, &except))
    }

    async fn insert_role(&mut self, role: &Role) -> Result<()> {
        step!(self, [role], |c| {
            c.execute(
                "INSERT INTO roles (id, partner_id, livemode, organisation_id, name, permissions, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    role.id,
                    role.partner_id,
                    role.mode.is_live(),
                    role.organisation_id,
                    role.name,
                    to_json(&role.permissions),
                    role.created_at.millis(),
                    role.updated_at.millis()
                ],
            )
            .map(drop)
            .map_err(role_conflict)
        })
    }

    async fn update_role(&mut self, role: &Role) -> Result<()> {
        step!(self, [role], |c| {
            c.execute(
                "UPDATE roles SET name = ?2, permissions = ?3, updated_at = ?4 WHERE id = ?1",
                params![role.id, role.name, to_json(&role.permissions), role.updated_at.millis()],
            )
            .map(drop)
            .map_err(role_conflict)
        })
    }

    async fn delete_role(&mut self, role: &Role, now: Timestamp) -> Result<()> {
        step!(self, [role], |c| {
            c.execute(
                "UPDATE memberships SET updated_at = ?3, role_ids = \
                 (SELECT json_group_array(value) FROM json_each(memberships.role_ids) WHERE value <> ?1) \
                 WHERE organisation_id = ?2 AND EXISTS (SELECT 1 FROM json_each(memberships.role_ids) WHERE value = ?1)",
                params![role.id, role.organisation_id, now.millis()],
            )
            .map_err(storage_error)?;
            c.execute("DELETE FROM roles WHERE id = ?1", [&role.id]).map(drop).map_err(storage_error)
        })
    }

    async fn get_api_key(&mut self, scope: &Scope, id: &str) -> Result<ApiKey> {
        step!(self, [scope, id], |c| get_api_key(c, &scope, &id))
    }

    async fn revoke_api_key(&mut self, id: &str, now: Timestamp) -> Result<()> {
        step!(self, [id], |c| {
            c.execute(
                "UPDATE api_keys SET revoked_at = ?2, updated_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now.millis()],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn lock_group(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        step!(self, [scope, id], |c| get_group(c, &scope, &id))
    }

    async fn other_admin_group(&mut self, partner_id: &str, except: &str) -> Result<bool> {
        step!(self, [partner_id, except], |c| other_admin_group(c, &partner_id, &except))
    }

    async fn missing_organisations(&mut self, scope: &Scope, organisation_ids: &[String]) -> Result<Vec<usize>> {
        let partner_wide = scope.partner_wide();
        step!(self, [organisation_ids], |c| {
            let mut missing = Vec::new();
            for (index, id) in organisation_ids.iter().enumerate() {
                if !organisation_in_scope(c, &partner_wide, id)? {
                    missing.push(index);
                }
            }
            Ok(missing)
        })
    }

    async fn assign_group_organisations(
        &mut self,
        group_id: &str,
        mode: Mode,
        organisation_ids: &[String],
    ) -> Result<()> {
        step!(self, [group_id, organisation_ids], |c| {
            assign_group_organisations(c, &group_id, mode.is_live(), &organisation_ids)
        })
    }

    async fn update_group(&mut self, group: &PartnerGroup) -> Result<()> {
        step!(self, [group], |c| {
            c.execute(
                "UPDATE partner_groups SET name = ?2, is_admin = ?3, updated_at = ?4 WHERE id = ?1",
                params![group.id, group.name, group.is_admin, group.updated_at.millis()],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn delete_group(&mut self, id: &str) -> Result<()> {
        // Its keys go with it (ON DELETE CASCADE): a key without a holder reaches nothing.
        step!(self, [id], |c| {
            c.execute("DELETE FROM partner_groups WHERE id = ?1", [&id]).map(drop).map_err(storage_error)
        })
    }
}
