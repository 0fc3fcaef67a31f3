//! The events primitives of a transaction.

use super::*;

#[async_trait]
impl Events for PostgresTransaction {
    async fn append_event(&mut self, event: &Event) -> Result<i64> {
        // The partner's row stays locked until this transaction ends, so the next writer of the
        // partner takes a larger number only after this one commits: sequences follow commits.
        let client = self.client()?;
        let row = fetch_one(
            client,
            "INSERT INTO event_sequences (partner_id, last) VALUES ($1, 1) \
             ON CONFLICT (partner_id) DO UPDATE SET last = event_sequences.last + 1 RETURNING last",
            &[&event.partner_id],
        )
        .await
        .map_err(failed)?;
        let sequence: i64 = row.try_get(0).map_err(|error| failed(error.into()))?;
        execute(
            client,
            &rows::event_insert('$'),
            &[
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
                &Json(&event.object),
                &Json(&event.previous_attributes),
                &event.created_at.millis(),
            ],
        )
        .await
        .map_err(failed)?;
        Ok(sequence)
    }
}
