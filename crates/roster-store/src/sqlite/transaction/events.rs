//! The events primitives of a transaction.

use super::*;

#[async_trait]
impl Events for SqliteTransaction {
    async fn append_events(&mut self, events: &[Event]) -> Result<()> {
        // One writer at a time holds the database, so the next number is the commit order.
        step!(self, |c| events.iter().try_for_each(|event| append_event(c, event)))
    }
}

fn append_event(c: &Connection, event: &Event) -> Result<()> {
    let sequence: i64 = c
        .prepare_cached(
            "INSERT INTO event_sequences (partner_id, last) VALUES (?1, 1) \
             ON CONFLICT (partner_id) DO UPDATE SET last = last + 1 RETURNING last",
        )
        .and_then(|mut statement| statement.query_row(params![event.partner_id], |row| row.get(0)))
        .map_err(storage_error)?;
    let values: [&dyn ToSql; 14] = [
        &event.id,
        &event.partner_id,
        &event.mode.is_live(),
        &sequence,
        &event.kind,
        &event.object_id,
        &event.organisation_id,
        &event.actor.kind.as_str(),
        &event.actor.id,
        &event.actor.key_prefix,
        &event.request_id,
        &to_json(&event.object),
        &to_json(&event.previous_attributes),
        &event.created_at.millis(),
    ];
    c.prepare_cached(&rows::event_insert('?'))
        .and_then(|mut statement| statement.execute(&values[..]))
        .map_err(storage_error)
        .map(drop)
}
