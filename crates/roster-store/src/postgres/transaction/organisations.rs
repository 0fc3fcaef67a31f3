//! The organisations primitives of a transaction.

use super::*;

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

    async fn delete_organisation(&mut self, id: &str) -> Result<()> {
        execute(self.client()?, "DELETE FROM organisations WHERE id = $1", &[&id]).await.map(drop).map_err(failed)
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
