//! The groups primitives of a transaction.

use super::*;

#[async_trait]
impl Groups for SqliteTransaction {
    async fn hold_group(&mut self, partner_id: &str, id: &str) -> Result<bool> {
        step!(self, |c| group_exists(c, partner_id, id))
    }

    async fn add_group_organisation(&mut self, group_id: &str, organisation_id: &str) -> Result<()> {
        step!(self, |c| {
            c.execute(
                "INSERT INTO group_organisations (group_id, organisation_id) VALUES (?1, ?2)",
                params![group_id, organisation_id],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn insert_group(&mut self, group: &PartnerGroup) -> Result<()> {
        step!(self, |c| insert_group(c, group))
    }

    async fn lock_group(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        step!(self, |c| get_group(c, scope, id))
    }

    async fn lock_group_for_delete(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        self.lock_group(scope, id).await
    }

    async fn other_admin_group(&mut self, partner_id: &str, except: &str) -> Result<bool> {
        step!(self, |c| other_admin_group(c, partner_id, except))
    }

    async fn assign_group_organisations(
        &mut self,
        group_id: &str,
        mode: Mode,
        organisation_ids: &[String],
    ) -> Result<()> {
        step!(self, |c| { assign_group_organisations(c, group_id, mode.is_live(), organisation_ids) })
    }

    async fn update_group(&mut self, group: &PartnerGroup) -> Result<()> {
        step!(self, |c| {
            c.execute(
                "UPDATE partner_groups SET name = ?2, is_admin = ?3, updated_at = ?4 WHERE id = ?1",
                params![group.id, group.name, group.is_admin, group.updated_at.millis()],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn delete_group(&mut self, id: &str) -> Result<Vec<ApiKey>> {
        // Its keys go with it (ON DELETE CASCADE): a key without a holder reaches nothing.
        step!(self, |c| {
            let text = format!(
                "SELECT {} FROM api_keys k WHERE k.group_id = ?1 AND k.revoked_at IS NULL",
                rows::API_KEY_COLUMNS
            );
            let keys = c
                .prepare_cached(&text)
                .and_then(|mut statement| statement.query_map([&id], |row| rows::api_key(row))?.collect())
                .map_err(storage_error)?;
            c.execute("DELETE FROM partner_groups WHERE id = ?1", [&id]).map_err(storage_error)?;
            Ok(keys)
        })
    }
}
