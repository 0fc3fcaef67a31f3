//! The webhook outbox on PostgreSQL: nodes claim due messages with `FOR UPDATE SKIP LOCKED`,
//! moving each past its lease in the same statement, so no two nodes make one attempt.

use async_trait::async_trait;
use roster_core::{
    error::Result,
    ids,
    model::{Event, WebhookDelivery, WebhookEndpoint, WebhookSecrets},
    page::{ListPage, ListQuery},
    policy::Scope,
    store::{ClaimedAttempt, Outbox, WebhookQueue},
    time::Timestamp,
};

use super::{PostgresStore, Step, count, fetch, fetch_one, found, page, query, query_opt, rows, sql};
use crate::sql::{Dialect, deliveries_page, webhook_endpoint_by_id};

const CLAIM: &str = "WITH due AS (SELECT id FROM webhook_messages WHERE next_attempt_at <= $1 \
     ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE webhook_messages m SET next_attempt_at = $2, lease = $3, attempts = m.attempts + 1 \
     FROM due WHERE m.id = due.id RETURNING m.id, m.endpoint_id, m.event_id, m.attempts, m.queued_at";

const FINISH: &str = "UPDATE webhook_messages SET next_attempt_at = $3, lease = NULL WHERE id = $1 AND lease = $2";

#[async_trait]
impl Outbox for PostgresStore {
    async fn list_webhook_endpoints(&self, scope: &Scope, query: &ListQuery) -> Result<ListPage<WebhookEndpoint>> {
        read!(self, |client| {
            let mut conditions = sql("");
            conditions.webhook_endpoints_in_scope(scope);
            page(client, rows::WEBHOOK_ENDPOINT_COLUMNS, "webhook_endpoints w", &conditions, "w", query, |row| {
                rows::webhook_endpoint(row)
            })
            .await?
        })
    }

    async fn get_webhook_endpoint(&self, scope: &Scope, id: &str) -> Result<WebhookEndpoint> {
        let statement = webhook_endpoint_by_id(Dialect::Postgres, scope, id);
        read!(self, |client| { rows::webhook_endpoint(&found(query_opt(client, &statement).await?)?)? })
    }

    async fn list_webhook_deliveries(&self, endpoint_id: &str, query: &ListQuery) -> Result<ListPage<WebhookDelivery>> {
        let statement = deliveries_page(Dialect::Postgres, endpoint_id, query);
        read!(self, |client| {
            let rows = query::query(client, &statement).await?;
            let deliveries = rows.iter().map(rows::webhook_delivery).collect::<Step<Vec<_>>>()?;
            ListPage::from_overfetch(deliveries, query.limit, 0)
        })
    }

    async fn claim_webhook_attempts(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        lease: &str,
        limit: u32,
    ) -> Result<Vec<ClaimedAttempt>> {
        read!(self, |client| {
            let claimed =
                fetch(client, CLAIM, &[&now.millis(), &lease_until.millis(), &lease, &i64::from(limit)]).await?;
            let endpoint_ids: Vec<String> = claimed.iter().map(|row| row.try_get(1)).collect::<Result<_, _>>()?;
            let event_ids: Vec<String> = claimed.iter().map(|row| row.try_get(2)).collect::<Result<_, _>>()?;
            let endpoints = fetch(
                client,
                &format!("SELECT {} FROM webhook_endpoints w WHERE w.id = ANY($1)", rows::WEBHOOK_ENDPOINT_COLUMNS),
                &[&endpoint_ids],
            )
            .await?
            .iter()
            .map(|row| Ok((rows::webhook_endpoint(row)?, rows::webhook_secrets(row)?)))
            .collect::<Step<Vec<(WebhookEndpoint, WebhookSecrets)>>>()?;
            let events = fetch(
                client,
                &format!("SELECT {} FROM events e WHERE e.id = ANY($1)", rows::EVENT_COLUMNS),
                &[&event_ids],
            )
            .await?
            .iter()
            .map(rows::event)
            .collect::<Step<Vec<Event>>>()?;
            let mut attempts = Vec::with_capacity(claimed.len());
            for row in &claimed {
                let (webhook_id, endpoint_id, event_id): (String, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let Some((endpoint, secrets)) = endpoints.iter().find(|(endpoint, _)| endpoint.id == endpoint_id)
                else {
                    continue;
                };
                let attempt: i64 = row.try_get(3)?;
                attempts.push(ClaimedAttempt {
                    webhook_id,
                    endpoint_id,
                    partner_id: endpoint.partner_id.clone(),
                    mode: endpoint.mode,
                    url: endpoint.url.clone(),
                    secrets: secrets.clone(),
                    event: events.iter().find(|event| event.id == event_id).cloned(),
                    event_id,
                    attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                    queued_at: Timestamp(row.try_get(4)?),
                    lease: lease.to_owned(),
                });
            }
            attempts
        })
    }

    async fn finish_webhook_attempt(
        &self,
        webhook_id: &str,
        lease: &str,
        delivery: Option<&WebhookDelivery>,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<bool> {
        let next = next_attempt_at.map(Timestamp::millis);
        read!(self, |client| {
            let written = match delivery {
                // One statement logs the attempt and moves the message on, so a retry of it
                // neither logs twice (the delivery's id is taken) nor half.
                Some(delivery) => {
                    let statement = format!(
                        "WITH logged AS ({} ON CONFLICT DO NOTHING), finished AS (UPDATE webhook_messages \
                         SET next_attempt_at = $13, lease = NULL WHERE id = $11 AND lease = $12 RETURNING 1) \
                         SELECT COUNT(*) FROM finished",
                        rows::webhook_delivery_insert('$')
                    );
                    fetch_one(
                        client,
                        &statement,
                        &[
                            &delivery.id,
                            &delivery.endpoint_id,
                            &delivery.event_id,
                            &delivery.webhook_id,
                            &i64::from(delivery.attempt),
                            &delivery.succeeded,
                            &delivery.response_status.map(i64::from),
                            &i64::try_from(delivery.latency_ms).unwrap_or(i64::MAX),
                            &delivery.next_retry_at.map(Timestamp::millis),
                            &delivery.created_at.millis(),
                            &webhook_id,
                            &lease,
                            &next,
                        ],
                    )
                    .await?
                    .try_get::<_, i64>(0)?
                }
                None => {
                    let updated = super::execute(client, FINISH, &[&webhook_id, &lease, &next]).await?;
                    i64::try_from(updated).unwrap_or(0)
                }
            };
            written == 1
        })
    }

    async fn webhook_queue(&self) -> Result<WebhookQueue> {
        read!(self, |client| {
            let row = fetch_one(
                client,
                "SELECT COUNT(*), MIN(queued_at) FROM webhook_messages WHERE next_attempt_at IS NOT NULL",
                &[],
            )
            .await?;
            let depth: i64 = row.try_get(0)?;
            let oldest: Option<i64> = row.try_get(1)?;
            WebhookQueue { depth: count(depth), oldest_queued_at: oldest.map(Timestamp) }
        })
    }

    async fn prune_webhook_log(&self, before: Timestamp, batch: u32) -> Result<u64> {
        let mut pruned = 0;
        for (statement, prefix) in [(PRUNE_DELIVERIES, ids::WEBHOOK_DELIVERY), (PRUNE_MESSAGES, ids::WEBHOOK_MESSAGE)] {
            let bound = ids::first_id_at(prefix, before);
            pruned += read!(self, |client| { super::execute(client, statement, &[&bound, &i64::from(batch)]).await? })?;
        }
        Ok(pruned)
    }
}

// Their ids sort like their creation times: the oldest are a range of the key.
const PRUNE_DELIVERIES: &str =
    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE id < $1 ORDER BY id LIMIT $2)";
const PRUNE_MESSAGES: &str =
    "DELETE FROM webhook_messages WHERE id IN (SELECT id FROM webhook_messages WHERE id < $1 ORDER BY id LIMIT $2)";
