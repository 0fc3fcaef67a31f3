//! The roles primitives of a transaction.

use super::*;

#[async_trait]
impl Roles for PostgresTransaction {
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

    async fn lock_role(&mut self, scope: &Scope, id: &str) -> Result<Role> {
        let client = self.client()?;
        // The organisation first, as every other lock taker does (deleting the organisation
        // locks it, then its roles), then the role; read again once both are held.
        let before = get_role(client, scope, id).await.map_err(failed)?;
        lock_organisation(client, &before.organisation_id).await.map_err(failed)?;
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

    async fn delete_role(&mut self, role: &Role, now: Timestamp) -> Result<Vec<(String, Vec<String>)>> {
        let client = self.client()?;
        let rows = fetch(
            client,
            "WITH named AS (SELECT id, role_ids FROM memberships \
                 WHERE organisation_id = $2 AND jsonb_exists(role_ids, $1::text) FOR UPDATE) \
             UPDATE memberships m SET role_ids = m.role_ids - $1::text, updated_at = $3 \
             FROM named WHERE m.id = named.id RETURNING m.id, named.role_ids",
            &[&role.id, &role.organisation_id, &now.millis()],
        )
        .await
        .map_err(failed)?;
        let changed = rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get::<_, Json<Vec<String>>>(1)?.0)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|error| failed(error.into()))?;
        execute(client, "DELETE FROM roles WHERE id = $1", &[&role.id]).await.map_err(failed)?;
        Ok(changed)
    }
}
