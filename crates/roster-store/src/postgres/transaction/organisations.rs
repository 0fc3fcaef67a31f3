//! The organisations primitives of a transaction.

use std::sync::LazyLock;

use super::*;
use crate::rows::MEMBERSHIP_COLUMNS;

/// The organisation's next members by user id, deleted and returned as they were, with their
/// user and organisation (still there) joined in as every membership read has them.
static DELETE_ORGANISATION_MEMBERSHIPS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH m AS (DELETE FROM memberships WHERE organisation_id = $1 AND user_id IN \
         (SELECT user_id FROM memberships WHERE organisation_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3) \
         RETURNING *) \
         SELECT {MEMBERSHIP_COLUMNS} FROM m JOIN users u ON u.id = m.user_id \
         JOIN organisations o ON o.id = m.organisation_id ORDER BY m.user_id"
    )
});

#[async_trait]
impl Organisations for PostgresTransaction {
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

    async fn hold_organisation(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        organisation_in_scope(self.client()?, scope, id, Hold::AgainstDelete).await.map_err(failed)
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

    async fn get_organisation(&mut self, scope: &Scope, id: &str) -> Result<Organisation> {
        get_organisation(self.client()?, scope, id).await.map_err(failed)
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

    async fn delete_organisation_memberships(
        &mut self,
        organisation_id: &str,
        after_user_id: &str,
        limit: u32,
    ) -> Result<Vec<Membership>> {
        let values: [&(dyn ToSql + Sync); 3] = [&organisation_id, &after_user_id, &i64::from(limit)];
        let rows = fetch(self.client()?, &DELETE_ORGANISATION_MEMBERSHIPS, &values).await.map_err(failed)?;
        rows.iter().map(rows::membership).collect::<Step<Vec<Membership>>>().map_err(failed)
    }

    async fn organisation_groups(&mut self, organisation_id: &str) -> Result<Vec<String>> {
        let rows = fetch(
            self.client()?,
            "SELECT group_id FROM group_organisations WHERE organisation_id = $1 ORDER BY group_id",
            &[&organisation_id],
        )
        .await
        .map_err(failed)?;
        rows.iter().map(|row| row.try_get(0).map_err(Failure::from)).collect::<Step<Vec<String>>>().map_err(failed)
    }

    async fn delete_organisation(&mut self, id: &str) -> Result<RemovedWithOrganisation> {
        let client = self.client()?;
        let text = format!(
            "SELECT {} FROM roles r WHERE r.organisation_id = $1 ORDER BY r.created_at, r.id",
            rows::ROLE_COLUMNS
        );
        let roles = fetch(client, &text, &[&id]).await.map_err(failed)?;
        let roles = roles.iter().map(rows::role).collect::<Step<Vec<Role>>>().map_err(failed)?;
        let text = format!(
            "SELECT {} FROM api_keys k WHERE k.organisation_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id",
            rows::API_KEY_COLUMNS
        );
        let keys = fetch(client, &text, &[&id]).await.map_err(failed)?;
        let keys = keys.iter().map(rows::api_key).collect::<Step<Vec<ApiKey>>>().map_err(failed)?;
        // Roles, group assignments and the organisation's keys cascade.
        execute(client, "DELETE FROM organisations WHERE id = $1", &[&id]).await.map_err(failed)?;
        Ok(RemovedWithOrganisation { roles, keys })
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
}
