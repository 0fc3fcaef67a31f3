//! The keys primitives of a transaction.

use super::*;

#[async_trait]
impl Keys for PostgresTransaction {
    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> Result<()> {
        insert_api_key(self.client()?, key, secret_hash).await.map_err(failed)
    }

    async fn get_api_key(&mut self, scope: &Scope, id: &str) -> Result<ApiKey> {
        get_api_key(self.client()?, scope, id).await.map_err(failed)
    }

    async fn revoke_api_key(&mut self, id: &str, now: Timestamp) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE api_keys SET revoked_at = $2, updated_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now.millis()],
        )
        .await
        .map(drop)
        .map_err(failed)
    }
}
