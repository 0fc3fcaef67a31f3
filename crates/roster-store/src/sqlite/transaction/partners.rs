//! The partners primitives of a transaction.

use super::*;

#[async_trait]
impl Partners for SqliteTransaction {
    async fn hold_partner(&mut self, partner_id: &str) -> Result<bool> {
        step!(self, |c| exists(c, "SELECT EXISTS (SELECT 1 FROM partners WHERE id = ?1)", [&partner_id]))
    }

    async fn hold_partners(&mut self) -> Result<bool> {
        step!(self, |c| exists(c, "SELECT EXISTS (SELECT 1 FROM partners)", []))
    }

    async fn insert_partner(&mut self, partner: &ProvisionedPartner) -> Result<()> {
        step!(self, |c| insert_partner(c, partner))
    }

    async fn oldest_admin_group(&mut self, partner_id: &str) -> Result<Option<String>> {
        step!(self, |c| {
            c.query_row(
                "SELECT id FROM partner_groups WHERE partner_id = ?1 AND is_admin ORDER BY created_at, id LIMIT 1",
                [&partner_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(storage_error)
        })
    }
}
