//! The organisations primitives of a transaction.

use super::*;

#[async_trait]
impl Organisations for SqliteTransaction {
    async fn hold_organisation_for_new_member(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool> {
        step!(self, |c| organisation_in_scope(c, scope, organisation_id))
    }

    async fn lock_organisation(&mut self, scope: &Scope, organisation_id: &str) -> Result<bool> {
        step!(self, |c| organisation_in_scope(c, scope, organisation_id))
    }

    async fn hold_organisation(&mut self, scope: &Scope, id: &str) -> Result<bool> {
        step!(self, |c| organisation_in_scope(c, scope, id))
    }

    async fn insert_organisation(&mut self, organisation: &Organisation) -> Result<()> {
        step!(self, |c| {
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

    async fn get_organisation(&mut self, scope: &Scope, id: &str) -> Result<Organisation> {
        step!(self, |c| get_organisation(c, scope, id))
    }

    async fn update_organisation(&mut self, organisation: &Organisation) -> Result<()> {
        step!(self, |c| {
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
        step_blocking!(self, [id], |c| c
            .execute("DELETE FROM organisations WHERE id = ?1", [&id])
            .map(drop)
            .map_err(storage_error))
    }

    async fn missing_organisations(&mut self, scope: &Scope, organisation_ids: &[String]) -> Result<Vec<usize>> {
        let partner_wide = scope.partner_wide();
        step!(self, |c| {
            let mut missing = Vec::new();
            for (index, id) in organisation_ids.iter().enumerate() {
                if !organisation_in_scope(c, &partner_wide, id)? {
                    missing.push(index);
                }
            }
            Ok(missing)
        })
    }
}
