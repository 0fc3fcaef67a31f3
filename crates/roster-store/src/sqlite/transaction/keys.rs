//! The keys primitives of a transaction.

use super::*;

#[async_trait]
impl Keys for SqliteTransaction {
    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> Result<()> {
        step!(self, |c| insert_api_key(c, key, secret_hash))
    }

    async fn get_api_key(&mut self, scope: &Scope, id: &str) -> Result<ApiKey> {
        step!(self, |c| get_api_key(c, scope, id))
    }

    async fn revoke_api_key(&mut self, id: &str, now: Timestamp) -> Result<()> {
        step!(self, |c| {
            c.execute(
                "UPDATE api_keys SET revoked_at = ?2, updated_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now.millis()],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }
}
