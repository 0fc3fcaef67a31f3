//! The webhook endpoints and outbox primitives of a transaction.

use roster_core::{
    model::{WebhookEndpoint, WebhookSecrets},
    store::{Subscription, WebhookMessage},
};

use super::*;

#[async_trait]
impl WebhookEndpoints for SqliteTransaction {
    async fn webhook_subscriptions(&mut self, partner_id: &str, mode: Mode) -> Result<Vec<Subscription>> {
        step!(self, |c| {
            c.prepare_cached(
                "SELECT id, enabled_events FROM webhook_endpoints \
                 WHERE partner_id = ?1 AND livemode = ?2 AND disabled = 0",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(params![partner_id, mode.is_live()], |row| {
                        let enabled_events: String = row.get(1)?;
                        Ok(Subscription {
                            endpoint_id: row.get(0)?,
                            enabled_events: serde_json::from_str(&enabled_events).unwrap_or_default(),
                        })
                    })?
                    .collect()
            })
            .map_err(storage_error)
        })
    }

    async fn enqueue_webhook_messages(&mut self, messages: &[WebhookMessage], due: Timestamp) -> Result<()> {
        step!(self, |c| {
            let mut statement = c
                .prepare_cached(
                    // Only for an endpoint that is there and enabled, as on PostgreSQL (where a
                    // concurrent write may have removed it; here none can).
                    "INSERT INTO webhook_messages (id, endpoint_id, event_id, attempts, queued_at, next_attempt_at) \
                     SELECT ?1, w.id, ?3, 0, ?4, ?4 FROM webhook_endpoints w WHERE w.id = ?2 AND NOT w.disabled \
                     ON CONFLICT (endpoint_id, event_id) DO UPDATE \
                     SET queued_at = excluded.queued_at, next_attempt_at = excluded.next_attempt_at, lease = NULL",
                )
                .map_err(storage_error)?;
            for message in messages {
                statement
                    .execute(params![message.id, message.endpoint_id, message.event_id, due.millis()])
                    .map_err(storage_error)?;
            }
            Ok(())
        })
    }

    async fn insert_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint, secrets: &WebhookSecrets) -> Result<()> {
        step!(self, |c| {
            c.execute(
                "INSERT INTO webhook_endpoints (id, partner_id, livemode, url, enabled_events, description, disabled, \
                 created_at, updated_at, secret, previous_secret, previous_secret_expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    endpoint.id,
                    endpoint.partner_id,
                    endpoint.mode.is_live(),
                    endpoint.url,
                    to_json(&endpoint.enabled_events),
                    endpoint.description,
                    endpoint.disabled,
                    endpoint.created_at.millis(),
                    endpoint.updated_at.millis(),
                    secrets.current,
                    secrets.previous,
                    secrets.previous_expires_at.map(Timestamp::millis),
                ],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn lock_webhook_endpoint(&mut self, scope: &Scope, id: &str) -> Result<(WebhookEndpoint, WebhookSecrets)> {
        step!(self, |c| {
            let found = c
                .prepare_cached(&format!(
                    "SELECT {} FROM webhook_endpoints w WHERE w.id = ?1 AND w.partner_id = ?2 AND w.livemode = ?3",
                    rows::WEBHOOK_ENDPOINT_COLUMNS
                ))
                .and_then(|mut statement| {
                    statement
                        .query_row(params![id, scope.partner_id(), scope.mode().is_live()], |row| {
                            Ok((rows::webhook_endpoint(row)?, rows::webhook_secrets(row)?))
                        })
                        .optional()
                });
            found.map_err(storage_error)?.ok_or(Error::NotFound)
        })
    }

    async fn update_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint) -> Result<()> {
        step!(self, |c| {
            c.execute(
                "UPDATE webhook_endpoints SET url = ?2, enabled_events = ?3, description = ?4, disabled = ?5, \
                 updated_at = ?6 WHERE id = ?1",
                params![
                    endpoint.id,
                    endpoint.url,
                    to_json(&endpoint.enabled_events),
                    endpoint.description,
                    endpoint.disabled,
                    endpoint.updated_at.millis()
                ],
            )
            .map_err(storage_error)?;
            if endpoint.disabled {
                c.execute(
                    "UPDATE webhook_messages SET next_attempt_at = NULL, lease = NULL \
                     WHERE endpoint_id = ?1 AND next_attempt_at IS NOT NULL",
                    params![endpoint.id],
                )
                .map_err(storage_error)?;
            }
            Ok(())
        })
    }

    async fn set_webhook_secrets(&mut self, id: &str, secrets: &WebhookSecrets) -> Result<()> {
        step!(self, |c| {
            c.execute(
                "UPDATE webhook_endpoints SET secret = ?2, previous_secret = ?3, previous_secret_expires_at = ?4 \
                 WHERE id = ?1",
                params![id, secrets.current, secrets.previous, secrets.previous_expires_at.map(Timestamp::millis)],
            )
            .map(drop)
            .map_err(storage_error)
        })
    }

    async fn delete_webhook_endpoint(&mut self, id: &str) -> Result<()> {
        step_blocking!(self, [id], |c| {
            c.execute("DELETE FROM webhook_endpoints WHERE id = ?1", params![id]).map(drop).map_err(storage_error)
        })
    }
}
