//! The webhook endpoints and outbox primitives of a transaction.

use roster_core::{
    model::{WebhookEndpoint, WebhookSecrets},
    store::{Subscription, WebhookMessage},
};

use super::*;

/// Queues message `$1` of event `$3` for endpoint `$2`, due at `$4`, if the endpoint is there
/// and enabled. The endpoint is held (`FOR SHARE`) until the commit: an endpoint deleted or
/// disabled by a write that commits first takes nothing; one deleted or disabled after waits
/// for this commit, and then drops what it had queued.
const ENQUEUE: &str = "INSERT INTO webhook_messages (id, endpoint_id, event_id, attempts, queued_at, next_attempt_at) \
     SELECT $1::TEXT, w.id, $3::TEXT, 0, $4::BIGINT, $4::BIGINT FROM webhook_endpoints w \
     WHERE w.id = $2 AND NOT w.disabled FOR SHARE \
     ON CONFLICT (endpoint_id, event_id) DO UPDATE \
     SET queued_at = excluded.queued_at, next_attempt_at = excluded.next_attempt_at, lease = NULL";

#[async_trait]
impl WebhookEndpoints for PostgresTransaction {
    async fn webhook_subscriptions(&mut self, partner_id: &str, mode: Mode) -> Result<Vec<Subscription>> {
        let rows = fetch(
            self.client()?,
            "SELECT id, enabled_events FROM webhook_endpoints \
             WHERE partner_id = $1 AND livemode = $2 AND NOT disabled",
            &[&partner_id, &mode.is_live()],
        )
        .await
        .map_err(failed)?;
        rows.iter()
            .map(|row| {
                let Json(enabled_events): Json<Vec<String>> = row.try_get(1)?;
                Ok(Subscription { endpoint_id: row.try_get(0)?, enabled_events })
            })
            .collect::<Step<Vec<_>>>()
            .map_err(failed)
    }

    async fn enqueue_webhook_messages(&mut self, messages: &[WebhookMessage], due: Timestamp) -> Result<()> {
        let client = self.client()?;
        for message in messages {
            execute(client, ENQUEUE, &[&message.id, &message.endpoint_id, &message.event_id, &due.millis()])
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn insert_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint, secrets: &WebhookSecrets) -> Result<()> {
        execute(
            self.client()?,
            "INSERT INTO webhook_endpoints (id, partner_id, livemode, url, enabled_events, description, disabled, \
             created_at, updated_at, secret, previous_secret, previous_secret_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &endpoint.id,
                &endpoint.partner_id,
                &endpoint.mode.is_live(),
                &endpoint.url,
                &Json(&endpoint.enabled_events),
                &endpoint.description,
                &endpoint.disabled,
                &endpoint.created_at.millis(),
                &endpoint.updated_at.millis(),
                &secrets.current,
                &secrets.previous,
                &secrets.previous_expires_at.map(Timestamp::millis),
            ],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn lock_webhook_endpoint(&mut self, scope: &Scope, id: &str) -> Result<(WebhookEndpoint, WebhookSecrets)> {
        let row = fetch_opt(
            self.client()?,
            &format!(
                "SELECT {} FROM webhook_endpoints w WHERE w.id = $1 AND w.partner_id = $2 AND w.livemode = $3 \
                 FOR UPDATE",
                rows::WEBHOOK_ENDPOINT_COLUMNS
            ),
            &[&id, &scope.partner_id(), &scope.mode().is_live()],
        )
        .await
        .map_err(failed)?
        .ok_or(Error::NotFound)?;
        let endpoint = rows::webhook_endpoint(&row).map_err(failed)?;
        Ok((endpoint, rows::webhook_secrets(&row).map_err(failed)?))
    }

    async fn update_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint) -> Result<()> {
        let client = self.client()?;
        execute(
            client,
            "UPDATE webhook_endpoints SET url = $2, enabled_events = $3, description = $4, disabled = $5, \
             updated_at = $6 WHERE id = $1",
            &[
                &endpoint.id,
                &endpoint.url,
                &Json(&endpoint.enabled_events),
                &endpoint.description,
                &endpoint.disabled,
                &endpoint.updated_at.millis(),
            ],
        )
        .await
        .map_err(failed)?;
        if endpoint.disabled {
            execute(
                client,
                "UPDATE webhook_messages SET next_attempt_at = NULL, lease = NULL \
                 WHERE endpoint_id = $1 AND next_attempt_at IS NOT NULL",
                &[&endpoint.id],
            )
            .await
            .map_err(failed)?;
        }
        Ok(())
    }

    async fn set_webhook_secrets(&mut self, id: &str, secrets: &WebhookSecrets) -> Result<()> {
        execute(
            self.client()?,
            "UPDATE webhook_endpoints SET secret = $2, previous_secret = $3, previous_secret_expires_at = $4 \
             WHERE id = $1",
            &[&id, &secrets.current, &secrets.previous, &secrets.previous_expires_at.map(Timestamp::millis)],
        )
        .await
        .map(drop)
        .map_err(failed)
    }

    async fn delete_webhook_endpoint(&mut self, id: &str) -> Result<()> {
        execute(self.client()?, "DELETE FROM webhook_endpoints WHERE id = $1", &[&id]).await.map(drop).map_err(failed)
    }
}
