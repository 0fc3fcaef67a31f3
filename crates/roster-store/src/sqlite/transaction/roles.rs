//! The roles primitives of a transaction.

use super::*;

#[async_trait]
impl Roles for SqliteTransaction {
    async fn missing_roles(&mut self, organisation_id: &str, role_ids: &[String]) -> Result<Vec<usize>> {
        step!(self, |c| {
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

    async fn lock_role(&mut self, scope: &Scope, id: &str) -> Result<Role> {
        step!(self, |c| get_role(c, scope, id))
    }

    async fn role_name_taken(&mut self, organisation_id: &str, name: &str, except: &str) -> Result<bool> {
        step!(self, |c| role_name_taken(c, organisation_id, name, except))
    }

    async fn insert_role(&mut self, role: &Role) -> Result<()> {
        step!(self, |c| {
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
        step!(self, |c| {
            c.execute(
                "UPDATE roles SET name = ?2, permissions = ?3, updated_at = ?4 WHERE id = ?1",
                params![role.id, role.name, to_json(&role.permissions), role.updated_at.millis()],
            )
            .map(drop)
            .map_err(role_conflict)
        })
    }

    async fn delete_role(&mut self, role: &Role, now: Timestamp) -> Result<Vec<(String, Vec<String>)>> {
        step_blocking!(self, [role], |c| {
            let changed = c
                .prepare_cached(
                    "SELECT id, role_ids FROM memberships WHERE organisation_id = ?2 \
                     AND EXISTS (SELECT 1 FROM json_each(memberships.role_ids) WHERE value = ?1)",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map(params![role.id, role.organisation_id], |row| {
                            let role_ids: String = row.get(1)?;
                            Ok((row.get(0)?, serde_json::from_str(&role_ids).unwrap_or_default()))
                        })?
                        .collect::<rusqlite::Result<Vec<(String, Vec<String>)>>>()
                })
                .map_err(storage_error)?;
            c.execute(
                "UPDATE memberships SET updated_at = ?3, role_ids = \
                 (SELECT json_group_array(value) FROM json_each(memberships.role_ids) WHERE value <> ?1) \
                 WHERE organisation_id = ?2 AND EXISTS (SELECT 1 FROM json_each(memberships.role_ids) WHERE value = ?1)",
                params![role.id, role.organisation_id, now.millis()],
            )
            .map_err(storage_error)?;
            c.execute("DELETE FROM roles WHERE id = ?1", [&role.id]).map_err(storage_error)?;
            Ok(changed)
        })
    }
}
