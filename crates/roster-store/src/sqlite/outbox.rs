//! The webhook outbox on SQLite: one process holds the database, so a claim is one write
//! transaction that moves the due messages past their lease.

use async_trait::async_trait;
use roster_core::{
    error::Result,
    ids,
    model::{WebhookDelivery, WebhookEndpoint},
    page::{ListPage, ListQuery},
    policy::Scope,
    store::{ClaimedAttempt, Outbox, WebhookQueue},
    time::Timestamp,
};
use rusqlite::{OptionalExtension, ToSql, params};

use super::{SqliteStore, found, pool::storage_error, query::sql, query_all, query_row, rows};
use crate::sql::Dialect;

#[async_trait]
impl Outbox for SqliteStore {
    async fn list_webhook_endpoints(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<WebhookEndpoint>> {
        let (scope, query) = (scope.clone(), query.clone());
        self.pool
            .read(move |c| {
                let mut conditions = sql("");
                conditions.webhook_endpoints_in_scope(&scope);
                super::page(c, rows::WEBHOOK_ENDPOINT_COLUMNS, "webhook_endpoints w", &conditions, "w", &query, |row| {
                    rows::webhook_endpoint(row)
                })
                .map_err(storage_error)
            })
            .await
    }

    async fn get_webhook_endpoint(&self, scope: &Scope, id: &str) -> Result<WebhookEndpoint> {
        let statement = crate::sql::webhook_endpoint_by_id(Dialect::Sqlite, scope, id);
        self.pool.read(move |c| found(query_row(c, &statement, |row| rows::webhook_endpoint(row)))).await
    }

    async fn list_webhook_deliveries(&self, endpoint_id: &str, query: &ListQuery) -> Result<ListPage<WebhookDelivery>> {
        let (statement, limit) = (crate::sql::deliveries_page(Dialect::Sqlite, endpoint_id, query), query.limit);
        self.pool
            .read(move |c| {
                let deliveries = query_all(c, &statement, |row| rows::webhook_delivery(row)).map_err(storage_error)?;
                Ok(ListPage::from_overfetch(deliveries, limit, 0))
            })
            .await
    }

    async fn claim_webhook_attempts(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        lease: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedAttempt>> {
        let lease = lease.to_owned();
        self.pool
            .write(move |c| {
                let claimed: Vec<(String, String, String, i64, i64)> = c
                    .prepare_cached(
                        "UPDATE webhook_messages SET next_attempt_at = ?2, lease = ?3, attempts = attempts + 1 \
                         WHERE id IN (SELECT id FROM webhook_messages WHERE next_attempt_at <= ?1 \
                         ORDER BY next_attempt_at LIMIT ?4) \
                         RETURNING id, endpoint_id, event_id, attempts, queued_at",
                    )
                    .and_then(|mut statement| {
                        statement
                            .query_map(params![now.millis(), lease_until.millis(), lease, limit], |row| {
                                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
                            })?
                            .collect()
                    })
                    .map_err(storage_error)?;
                let mut endpoint = c
                    .prepare_cached(&format!(
                        "SELECT {} FROM webhook_endpoints w WHERE w.id = ?1",
                        rows::WEBHOOK_ENDPOINT_COLUMNS
                    ))
                    .map_err(storage_error)?;
                let mut event = c
                    .prepare_cached(&format!("SELECT {} FROM events e WHERE e.id = ?1", rows::EVENT_COLUMNS))
                    .map_err(storage_error)?;
                let mut attempts = Vec::with_capacity(claimed.len());
                for (webhook_id, endpoint_id, event_id, attempt, queued_at) in claimed {
                    let Some((endpoint, secrets)) = endpoint
                        .query_row(params![endpoint_id], |row| {
                            Ok((rows::webhook_endpoint(row)?, rows::webhook_secrets(row)?))
                        })
                        .optional()
                        .map_err(storage_error)?
                    else {
                        continue;
                    };
                    let event =
                        event.query_row(params![event_id], |row| rows::event(row)).optional().map_err(storage_error)?;
                    attempts.push(ClaimedAttempt {
                        webhook_id,
                        endpoint_id,
                        partner_id: endpoint.partner_id,
                        mode: endpoint.mode,
                        url: endpoint.url,
                        secrets,
                        event,
                        event_id,
                        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                        queued_at: Timestamp(queued_at),
                        lease: lease.clone(),
                    });
                }
                Ok(attempts)
            })
            .await
    }

    async fn finish_webhook_attempt(
        &self,
        webhook_id: &str,
        lease: &str,
        delivery: Option<&WebhookDelivery>,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<bool> {
        let (webhook_id, lease, delivery) = (webhook_id.to_owned(), lease.to_owned(), delivery.cloned());
        self.pool
            .write(move |c| {
                if let Some(delivery) = &delivery {
                    let values: [&dyn ToSql; 10] = [
                        &delivery.id,
                        &delivery.endpoint_id,
                        &delivery.event_id,
                        &delivery.webhook_id,
                        &delivery.attempt,
                        &delivery.succeeded,
                        &delivery.response_status,
                        &i64::try_from(delivery.latency_ms).unwrap_or(i64::MAX),
                        &delivery.next_retry_at.map(Timestamp::millis),
                        &delivery.created_at.millis(),
                    ];
                    c.prepare_cached(&rows::webhook_delivery_insert('?'))
                        .and_then(|mut statement| statement.execute(&values[..]))
                        .map_err(storage_error)?;
                }
                c.execute(
                    "UPDATE webhook_messages SET next_attempt_at = ?3, lease = NULL WHERE id = ?1 AND lease = ?2",
                    params![webhook_id, lease, next_attempt_at.map(Timestamp::millis)],
                )
                .map(|written| written == 1)
                .map_err(storage_error)
            })
            .await
    }

    async fn webhook_queue(&self) -> Result<WebhookQueue> {
        self.pool
            .read(|c| {
                let depth: i64 = c
                    .query_row("SELECT COUNT(*) FROM webhook_messages WHERE next_attempt_at IS NOT NULL", [], |row| {
                        row.get(0)
                    })
                    .map_err(storage_error)?;
                let oldest: Option<i64> = c
                    .query_row(
                        "SELECT MIN(queued_at) FROM webhook_messages WHERE next_attempt_at IS NOT NULL",
                        [],
                        |row| row.get(0),
                    )
                    .map_err(storage_error)?;
                Ok(WebhookQueue { depth: u64::try_from(depth).unwrap_or(0), oldest_queued_at: oldest.map(Timestamp) })
            })
            .await
    }

    async fn prune_webhook_log(&self, before: Timestamp, batch: u32) -> Result<u64> {
        self.pool
            .write(move |c| {
                let mut pruned = 0;
                for (table, prefix) in [("webhook_deliveries", ids::WEBHOOK_DELIVERY), ("webhook_messages", ids::WEBHOOK_MESSAGE)] {
                    // Their ids sort like their creation times: the oldest are a range of the key.
                    let deleted = c
                        .execute(
                            &format!("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE id < ?1 ORDER BY id LIMIT ?2)"),
                            params![ids::first_id_at(prefix, before), batch],
                        )
                        .map_err(storage_error)?;
                    pruned += u64::try_from(deleted).unwrap_or(0);
                }
                Ok(pruned)
            })
            .await
    }
}
