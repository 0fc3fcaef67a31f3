//! The events primitives of a transaction.

use serde_json::{Value, json};

use super::*;

/// Takes the partner's next `$2` numbers and inserts the events (`$3`, a JSON array, each with
/// its position `n` from 1) in one statement: the write holds the partner's counter from here
/// to its commit. The last append of a transaction is sent with its `COMMIT`, so the counter is
/// held for one round trip (and the commit's flush) only.
const APPEND: &str = "WITH counter AS (INSERT INTO event_sequences (partner_id, last) VALUES ($1, $2) \
     ON CONFLICT (partner_id) DO UPDATE SET last = event_sequences.last + $2 RETURNING last) \
     INSERT INTO events (id, partner_id, livemode, sequence, type, object_id, organisation_id, actor_type, \
     actor_id, actor_key_prefix, request_id, data, previous_attributes, created_at) \
     SELECT e.id, $1, e.livemode, counter.last - $2 + e.n, e.type, e.object_id, e.organisation_id, e.actor_type, \
     e.actor_id, e.actor_key_prefix, e.request_id, e.data, COALESCE(e.previous_attributes, 'null'::jsonb), \
     e.created_at FROM counter, jsonb_to_recordset($3) AS e(n BIGINT, id TEXT, livemode BOOLEAN, type TEXT, \
     object_id TEXT, organisation_id TEXT, actor_type TEXT, actor_id TEXT, actor_key_prefix TEXT, request_id TEXT, \
     data JSONB, previous_attributes JSONB, created_at BIGINT)";

/// An append not sent yet: the partner, how many events, and their rows.
pub(super) struct PendingAppend {
    partner_id: String,
    count: i64,
    rows: Vec<Value>,
}

impl PendingAppend {
    /// Sends it, and `COMMIT` right behind it without waiting (pipelined): one round trip. A
    /// failed append leaves the transaction aborted, which the `COMMIT` then rolls back.
    pub(super) async fn send_with_commit(self, client: &Object) -> Step<()> {
        let statement = client.prepare_cached(APPEND).await?;
        let values: [&(dyn ToSql + Sync); 3] = [&self.partner_id, &self.count, &Json(&self.rows)];
        // Sent in the order they are first polled, so the append reaches the server first.
        let (appended, committed) = tokio::join!(client.execute(&statement, &values), client.batch_execute("COMMIT"));
        appended?;
        committed?;
        Ok(())
    }

    async fn send(self, client: &Object) -> Step<()> {
        let values: [&(dyn ToSql + Sync); 3] = [&self.partner_id, &self.count, &Json(&self.rows)];
        execute(client, APPEND, &values).await.map(drop)
    }
}

#[async_trait]
impl Events for PostgresTransaction {
    async fn append_events(&mut self, events: &[Event]) -> Result<()> {
        let Some(first) = events.first() else { return Ok(()) };
        if events.iter().any(|event| event.partner_id != first.partner_id) {
            return Err(Error::internal("events of several partners appended together"));
        }
        let rows: Vec<Value> = events
            .iter()
            .zip(1_i64..)
            .map(|(event, n)| {
                json!({
                    "n": n,
                    "id": event.id,
                    "livemode": event.mode.is_live(),
                    "type": event.kind,
                    "object_id": event.object_id,
                    "organisation_id": event.organisation_id,
                    "actor_type": event.actor.kind.as_str(),
                    "actor_id": event.actor.id,
                    "actor_key_prefix": event.actor.key_prefix,
                    "request_id": event.request_id,
                    "data": event.object,
                    "previous_attributes": event.previous_attributes,
                    "created_at": event.created_at.millis(),
                })
            })
            .collect();
        let count = i64::try_from(events.len()).map_err(Error::internal)?;
        // Only the last append waits for the commit: one before it goes now.
        if let Some(earlier) = self.pending_append.take() {
            earlier.send(self.client()?).await.map_err(failed)?;
        }
        self.pending_append = Some(PendingAppend { partner_id: first.partner_id.clone(), count, rows });
        Ok(())
    }
}
