//! The groups primitives of a transaction.

use super::*;

#[async_trait]
impl Groups for PostgresTransaction {
    async fn hold_group(&mut self, partner_id: &str, id: &str) -> Result<bool> {
        group_exists(self.client()?, partner_id, id).await.map_err(failed)
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

    async fn insert_group(&mut self, group: &PartnerGroup) -> Result<()> {
        insert_group(self.client()?, group).await.map_err(failed)
    }

    async fn lock_group(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        let client = self.client()?;
        // FOR NO KEY UPDATE: a concurrent change or delete waits (or, committed first, is what
        // is read here), while keys created for the group (FOR KEY SHARE) go on.
        execute(client, "SELECT 1 FROM partner_groups WHERE id = $1 FOR NO KEY UPDATE", &[&id])
            .await
            .map_err(failed)?;
        get_group(client, scope, id).await.map_err(failed)
    }

    async fn lock_group_for_delete(&mut self, scope: &Scope, id: &str) -> Result<PartnerGroup> {
        let client = self.client()?;
        // A group promoted while being deleted is deleted as an admin group: the promotion's
        // hold makes this wait, and what it committed is read here.
        execute(client, "SELECT 1 FROM partner_groups WHERE id = $1 FOR UPDATE", &[&id]).await.map_err(failed)?;
        get_group(client, scope, id).await.map_err(failed)
    }

    async fn other_admin_group(&mut self, partner_id: &str, except: &str) -> Result<bool> {
        other_admin_group(self.client()?, partner_id, except).await.map_err(failed)
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

    async fn delete_group(&mut self, id: &str) -> Result<Vec<ApiKey>> {
        let client = self.client()?;
        let text =
            format!("SELECT {} FROM api_keys k WHERE k.group_id = $1 AND k.revoked_at IS NULL", rows::API_KEY_COLUMNS);
        let keys = fetch(client, &text, &[&id]).await.map_err(failed)?;
        let keys = keys.iter().map(rows::api_key).collect::<Step<Vec<ApiKey>>>().map_err(failed)?;
        execute(client, "DELETE FROM partner_groups WHERE id = $1", &[&id]).await.map_err(failed)?;
        Ok(keys)
    }
}
