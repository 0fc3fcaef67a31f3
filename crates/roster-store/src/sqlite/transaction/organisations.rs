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

    async fn delete_organisation_memberships(
        &mut self,
        organisation_id: &str,
        after_user_id: &str,
        limit: u32,
    ) -> Result<Vec<Membership>> {
        step_blocking!(self, [organisation_id, after_user_id], |c| {
            let text =
                rows::select_memberships_where("m.organisation_id = ?1 AND m.user_id > ?2 ORDER BY m.user_id LIMIT ?3");
            let page: Vec<Membership> = c
                .prepare_cached(&text)
                .and_then(|mut statement| {
                    statement
                        .query_map(params![organisation_id, after_user_id, limit], |row| rows::membership(row))?
                        .collect()
                })
                .map_err(storage_error)?;
            // The page is every member between `after_user_id` and its last.
            if let Some(last) = page.last() {
                c.prepare_cached(
                    "DELETE FROM memberships WHERE organisation_id = ?1 AND user_id > ?2 AND user_id <= ?3",
                )
                .and_then(|mut statement| statement.execute(params![organisation_id, after_user_id, last.user_id]))
                .map_err(storage_error)?;
            }
            Ok(page)
        })
    }

    async fn organisation_groups(&mut self, organisation_id: &str) -> Result<Vec<String>> {
        step!(self, |c| {
            c.prepare_cached("SELECT group_id FROM group_organisations WHERE organisation_id = ?1 ORDER BY group_id")
                .and_then(|mut statement| statement.query_map([organisation_id], |row| row.get(0))?.collect())
                .map_err(storage_error)
        })
    }

    async fn delete_organisation(&mut self, id: &str) -> Result<RemovedWithOrganisation> {
        // Roles, group assignments and the organisation's keys cascade.
        step_blocking!(self, [id], |c| {
            let roles = c
                .prepare_cached(&format!(
                    "SELECT {} FROM roles r WHERE r.organisation_id = ?1 ORDER BY r.created_at, r.id",
                    rows::ROLE_COLUMNS
                ))
                .and_then(|mut statement| statement.query_map([&id], |row| rows::role(row))?.collect())
                .map_err(storage_error)?;
            let keys = c
                .prepare_cached(&format!(
                    "SELECT {} FROM api_keys k WHERE k.organisation_id = ?1 AND k.revoked_at IS NULL \
                     ORDER BY k.created_at, k.id",
                    rows::API_KEY_COLUMNS
                ))
                .and_then(|mut statement| statement.query_map([&id], |row| rows::api_key(row))?.collect())
                .map_err(storage_error)?;
            c.execute("DELETE FROM organisations WHERE id = ?1", [&id]).map_err(storage_error)?;
            Ok(RemovedWithOrganisation { roles, keys })
        })
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
