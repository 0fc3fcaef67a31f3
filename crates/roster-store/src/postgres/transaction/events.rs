//! The events primitives of a transaction.

use super::*;

#[async_trait]
impl Events for PostgresTransaction {
    async fn append_event(&mut self, event: &Event) -> Result<()> {
        // No number yet: taking the partner's next one here would hold its counter until this
        // transaction commits, and a partner's writes would commit one at a time. It is given
        // after the commit (`Store::number_events`).
        let unnumbered: Option<i64> = None;
        execute(
            self.client()?,
            &rows::event_insert('$'),
            &[
                &event.id,
                &event.partner_id,
                &event.mode.is_live(),
                &unnumbered,
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
        .map(drop)
        .map_err(failed)
    }
}

impl PostgresTransaction {
    /// Numbers the partner's committed events that have no `sequence` yet, after its last, in
    /// the order they were appended (a write that waited for another's locks appended after it
    /// committed). Holds the
    /// partner's counter first, so numbering transactions take turns, and reads the waiting
    /// events after: each numbers what became visible before it, with numbers larger than any
    /// given before. False when there was nothing to number: then nothing was written, and
    /// dropping the transaction costs no flush of the log.
    pub(in crate::postgres) async fn number_partner_events(&self, partner_id: &str) -> Result<bool> {
        let client = self.client()?;
        let hold = "SELECT last FROM event_sequences WHERE partner_id = $1 FOR UPDATE";
        let last = match fetch_opt(client, hold, &[&partner_id]).await.map_err(failed)? {
            Some(row) => row,
            None => {
                execute(
                    client,
                    "INSERT INTO event_sequences (partner_id, last) VALUES ($1, 0) ON CONFLICT (partner_id) DO NOTHING",
                    &[&partner_id],
                )
                .await
                .map_err(failed)?;
                fetch_one(client, hold, &[&partner_id]).await.map_err(failed)?
            }
        };
        let last: i64 = last.try_get(0).map_err(|error| failed(error.into()))?;
        let numbered = execute(
            client,
            "WITH waiting AS (SELECT id, row_number() OVER (ORDER BY append_order) AS n FROM events \
             WHERE partner_id = $1 AND sequence IS NULL) \
             UPDATE events e SET sequence = $2 + waiting.n FROM waiting WHERE e.id = waiting.id",
            &[&partner_id, &last],
        )
        .await
        .map_err(failed)?;
        if numbered == 0 {
            return Ok(false);
        }
        let numbered = i64::try_from(numbered).map_err(Error::internal)?;
        execute(
            client,
            "UPDATE event_sequences SET last = $2 WHERE partner_id = $1",
            &[&partner_id, &(last + numbered)],
        )
        .await
        .map_err(failed)?;
        Ok(true)
    }
}
