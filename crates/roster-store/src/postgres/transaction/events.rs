//! The events primitives of a transaction.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::*;

/// An event as a JSON object's columns: the appended rows, each with its position `n`.
const EVENT_RECORD: &str = "n BIGINT, id TEXT, livemode BOOLEAN, type TEXT, object_id TEXT, organisation_id TEXT, \
     actor_type TEXT, actor_id TEXT, actor_key_prefix TEXT, request_id TEXT, data JSONB, previous_attributes JSONB, \
     created_at BIGINT";

const EVENT_COLUMNS: &str = "id, partner_id, livemode, sequence, type, object_id, organisation_id, actor_type, \
     actor_id, actor_key_prefix, request_id, data, previous_attributes, created_at";

/// Takes the partner's next `$2` numbers and inserts the events (`$3`, a JSON array, each with
/// its position `n` from 1) in one statement: the write holds the partner's counter from here
/// to its commit.
static APPEND: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH counter AS (INSERT INTO event_sequences (partner_id, last) VALUES ($1, $2) \
         ON CONFLICT (partner_id) DO UPDATE SET last = event_sequences.last + $2 RETURNING last) \
         INSERT INTO events ({EVENT_COLUMNS}) \
         SELECT e.id, $1, e.livemode, counter.last - $2 + e.n, e.type, e.object_id, e.organisation_id, \
         e.actor_type, e.actor_id, e.actor_key_prefix, e.request_id, e.data, \
         COALESCE(e.previous_attributes, 'null'::jsonb), e.created_at \
         FROM counter, jsonb_to_recordset($3) AS e({EVENT_RECORD})"
    )
});

/// Where a transaction's appends wait, all but its last, until its commit numbers them: this
/// connection's own table, emptied by every commit (and by a rollback, as any write is).
const STAGE_TABLE: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS staged_events (partner_id TEXT NOT NULL, \
     n BIGINT NOT NULL, event JSONB NOT NULL, PRIMARY KEY (partner_id, n)) ON COMMIT DELETE ROWS";

/// Stages the events `$3` of partner `$1` after the `$2` staged before them.
const STAGE: &str = "INSERT INTO staged_events (partner_id, n, event) \
     SELECT $1, $2 + (e ->> 'n')::BIGINT, e FROM jsonb_array_elements($3) AS e";

/// Takes the partner's next `$2` numbers; the one before the first.
const TAKE_NUMBERS: &str = "INSERT INTO event_sequences (partner_id, last) VALUES ($1, $2) \
     ON CONFLICT (partner_id) DO UPDATE SET last = event_sequences.last + $2 RETURNING last - $2";

/// Moves the partner's staged events numbered after `$3` up to `$4` into `events`, the first
/// of them numbered `$2` + 1.
static MOVE_STAGED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO events ({EVENT_COLUMNS}) \
         SELECT e.id, $1, e.livemode, $2 + s.n, e.type, e.object_id, e.organisation_id, e.actor_type, \
         e.actor_id, e.actor_key_prefix, e.request_id, e.data, COALESCE(e.previous_attributes, 'null'::jsonb), \
         e.created_at FROM staged_events s, jsonb_to_record(s.event) AS e({EVENT_RECORD}) \
         WHERE s.partner_id = $1 AND s.n > $3 AND s.n <= $4 ORDER BY s.n"
    )
});

/// How many staged events one statement moves, well within the statement time limit.
const MOVED_AT_ONCE: i64 = 10_000;

/// One append: the partner, how many events, and their rows.
pub(super) struct Append {
    partner_id: String,
    count: i64,
    rows: Vec<Value>,
}

/// A transaction's events, held until its commit so that it takes its partners' counters last
/// of all its locks: a write that took one earlier (an organisation delete appends its members'
/// events a page at a time) and then waited for a row another write held while that one waited
/// for the counter would deadlock with it. The last append is kept as it came; each one before
/// it is staged in `staged_events`, so a million of them never sit in memory.
#[derive(Default)]
pub(super) struct HeldEvents {
    last: Option<Append>,
    /// The partners with staged events, in the order first staged, with how many each.
    staged: Vec<(String, i64)>,
}

impl HeldEvents {
    async fn hold(&mut self, client: &Object, append: Append) -> Step<()> {
        if let Some(earlier) = self.last.replace(append) {
            if self.staged.is_empty() {
                client.batch_execute(STAGE_TABLE).await?;
            }
            let position = self.staged.iter().position(|(partner_id, _)| *partner_id == earlier.partner_id);
            let index = position.unwrap_or_else(|| {
                self.staged.push((earlier.partner_id.clone(), 0));
                self.staged.len() - 1
            });
            let before = self.staged[index].1;
            let values: [&(dyn ToSql + Sync); 3] = [&earlier.partner_id, &before, &Json(&earlier.rows)];
            execute(client, STAGE, &values).await?;
            self.staged[index].1 = before + earlier.count;
        }
        Ok(())
    }

    /// Numbers and inserts the staged events, in the order appended; the last append, which
    /// goes with the commit.
    pub(super) async fn send_staged(self, client: &Object) -> Step<Option<Append>> {
        for (partner_id, count) in &self.staged {
            let before: i64 = fetch_one(client, TAKE_NUMBERS, &[partner_id, count]).await?.try_get(0)?;
            let mut moved = 0;
            while moved < *count {
                let upto = (moved + MOVED_AT_ONCE).min(*count);
                execute(client, &MOVE_STAGED, &[partner_id, &before, &moved, &upto]).await?;
                moved = upto;
            }
        }
        Ok(self.last)
    }
}

impl Append {
    /// Sends it and `COMMIT` right behind it, without waiting between them (pipelined): the
    /// partner's counter is held for one round trip and the commit's flush. A failed append
    /// leaves the transaction aborted, which that `COMMIT` then rolls back: the failure is the
    /// commit's, and nothing is written.
    pub(super) async fn send_with_commit(self, client: &Object) -> Step<()> {
        let statement = client.prepare_cached(&APPEND).await?;
        let values: [&(dyn ToSql + Sync); 3] = [&self.partner_id, &self.count, &Json(&self.rows)];
        // Sent in the order they are first polled, so the append reaches the server first.
        let (appended, committed) = tokio::join!(client.execute(&statement, &values), client.batch_execute("COMMIT"));
        appended?;
        committed?;
        Ok(())
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
        let append = Append { partner_id: first.partner_id.clone(), count, rows };
        let client = self.client.as_ref().ok_or_else(|| Error::internal("the transaction has ended"))?;
        self.held_events.hold(client, append).await.map_err(failed)?;
        Ok(())
    }
}
