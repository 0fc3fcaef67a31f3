//! The partners primitives of a transaction.

use super::*;

#[async_trait]
impl Partners for PostgresTransaction {
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
}
