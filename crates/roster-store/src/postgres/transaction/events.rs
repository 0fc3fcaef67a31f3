//! The events primitives of a transaction.

use std::{future::Future, sync::LazyLock, task::Poll};

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

/// Commits without waiting for the flush to disk, so the partner's counter is released as soon
/// as the commit is recorded and the next write of the partner goes on while this one's flush
/// is under way (several then share one flush, as PostgreSQL's group commit does).
const COMMIT_WITHOUT_FLUSH: &str = "SET LOCAL synchronous_commit TO off; COMMIT";

/// Waits until everything committed before it on this server is on disk: a transaction that
/// writes to the log (a transactional logical message, which no table keeps) and commits
/// synchronously flushes the log up to its own commit, past the commit before it.
pub(in crate::postgres) const AWAIT_FLUSH: &str = "SELECT pg_logical_emit_message(true, 'roster.flush', '')";

/// A commit that went through: on disk, or recorded with the wait for the disk failed.
pub(super) enum Committed {
    Durable,
    Unconfirmed(Failure),
}

impl Append {
    /// Sends it, `COMMIT` and the wait for the flush right behind one another, without waiting
    /// between them (pipelined): the partner's counter is held for one round trip, and the
    /// write answers once its commit is durable. A failed append leaves the transaction
    /// aborted, the rest of the pipeline fails with it and the transaction is rolled back:
    /// the failure is the commit's, and nothing is written.
    pub(super) async fn send_with_commit(self, client: &Object) -> Step<Committed> {
        let (statement, flush) = (client.prepare_cached(&APPEND).await?, client.prepare_cached(AWAIT_FLUSH).await?);
        let values: [&(dyn ToSql + Sync); 3] = [&self.partner_id, &self.count, &Json(&self.rows)];
        let mut append = std::pin::pin!(client.execute(&statement, &values));
        // Polled once alone, the append is encoded and sent, or fails to encode and nothing is
        // sent: only an append that went out may have a `COMMIT` behind it.
        let first = std::future::poll_fn(|context| Poll::Ready(append.as_mut().poll(context))).await;
        if let Poll::Ready(Err(error)) = first {
            return Err(error.into());
        }
        let appended = async {
            match first {
                Poll::Ready(outcome) => outcome,
                Poll::Pending => append.await,
            }
        };
        // Sent in the order they are first polled: the commit, then the wait for the flush.
        let (appended, committed, flushed) =
            tokio::join!(appended, client.batch_execute(COMMIT_WITHOUT_FLUSH), client.execute(&flush, &[]));
        appended?;
        committed?;
        Ok(match flushed {
            Ok(_) => Committed::Durable,
            Err(error) => Committed::Unconfirmed(error.into()),
        })
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

#[cfg(test)]
mod tests {
    use roster_core::{
        ids,
        model::{Actor, ActorKind},
        provision::provision_partner,
    };

    use super::*;
    use crate::testing::{TestSchema, insert_partner, postgres_url};

    /// The end of the commit record of the transaction that wrote event `$2`, found in the log
    /// from `$1` up to what is on disk.
    const COMMIT_END: &str = "SELECT r.end_lsn::text FROM public.pg_get_wal_records_info($1::text::pg_lsn, \
         pg_current_wal_flush_lsn()) r, events e \
         WHERE e.id = $2 AND r.xid = e.xmin AND r.resource_manager = 'Transaction' AND r.record_type = 'COMMIT'";

    fn event(partner_id: &str, n: u32) -> Event {
        let now = roster_core::time::Timestamp::now();
        Event {
            id: ids::new_id(ids::EVENT, now),
            partner_id: partner_id.to_owned(),
            mode: Mode::Live,
            kind: "organisation.updated".into(),
            object_id: format!("org_{n}"),
            organisation_id: None,
            actor: Actor { kind: ActorKind::Master, id: None, key_prefix: None },
            request_id: format!("req_{n}"),
            object: json!({"id": format!("org_{n}")}),
            previous_attributes: None,
            sequence: 0,
            created_at: now,
        }
    }

    /// Commits leave the partner's counter before their flush to disk (`COMMIT_WITHOUT_FLUSH`):
    /// this pins that a commit still answers only once its commit record is on disk.
    #[tokio::test]
    async fn a_commit_with_events_answers_once_its_commit_record_is_on_disk() {
        let Some(base) = postgres_url() else { return };
        let schema = TestSchema::create(&base).await;
        let store = crate::open(&schema.url).await.unwrap();
        let provisioned = provision_partner("Acme".into(), roster_core::time::Timestamp::now());
        insert_partner(store.as_ref(), &provisioned).await;
        let (probe, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        // Reads the log; shipped with PostgreSQL, created once in the shared test database.
        probe.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect WITH SCHEMA public").await.unwrap();

        for n in 0..20 {
            let start: String = probe.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.unwrap().get(0);
            let appended = event(&provisioned.partner.id, n);
            let mut transaction = store.begin().await.unwrap();
            transaction.append_events(std::slice::from_ref(&appended)).await.unwrap();
            transaction.commit().await.unwrap();
            let on_disk: String = probe.query_one("SELECT pg_current_wal_flush_lsn()::text", &[]).await.unwrap().get(0);

            probe.batch_execute(AWAIT_FLUSH).await.unwrap();
            let commit_end: String = probe.query_one(COMMIT_END, &[&start, &appended.id]).await.unwrap().get(0);
            let durable: bool = probe
                .query_one("SELECT $1::text::pg_lsn <= $2::text::pg_lsn", &[&commit_end, &on_disk])
                .await
                .unwrap()
                .get(0);
            assert!(durable, "write {n} answered with its commit (ending at {commit_end}) not yet on disk ({on_disk})");
        }
    }

    /// A role of its own, owning a database of its own in which the role may not call
    /// `pg_logical_emit_message`; dropped afterwards by `drop_database_and_role`.
    async fn database_without_flush_grant(base: &str) -> (tokio_postgres::Client, String, String) {
        let config: tokio_postgres::Config = base.parse().unwrap();
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            other => panic!("a TCP host is needed, not {other:?}"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let name = format!("roster_no_flush_{}_{}", std::process::id(), roster_core::time::Timestamp::now().millis());
        let (admin, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        // One statement each: CREATE DATABASE may not share an implicit transaction.
        admin.batch_execute(&format!("CREATE ROLE {name} LOGIN")).await.unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name} OWNER {name}")).await.unwrap();
        let superuser = config.get_user().unwrap_or("postgres");
        let (owner, connection) =
            tokio_postgres::connect(&format!("postgres://{superuser}@{host}:{port}/{name}"), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        on_every_emit_message(&owner, "REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC").await;
        (owner, format!("postgres://{name}@{host}:{port}/{name}"), name)
    }

    /// Runs `statement` with `%s` standing for each of `pg_logical_emit_message`'s overloads.
    async fn on_every_emit_message(client: &tokio_postgres::Client, statement: &str) {
        let each = format!(
            "DO $$ DECLARE f regprocedure; BEGIN FOR f IN SELECT oid::regprocedure FROM pg_proc \
             WHERE proname = 'pg_logical_emit_message' LOOP EXECUTE format('{statement}', f); END LOOP; END $$"
        );
        client.batch_execute(&each).await.unwrap();
    }

    async fn drop_database_and_role(base: &str, name: &str) {
        let (admin, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
        admin.batch_execute(&format!("DROP ROLE {name}")).await.unwrap();
    }

    /// Without the grant, opening the database says what to grant; with it revoked after the
    /// start, a write whose commit went through is still answered as committed (answered as
    /// failed, a create retried would be made twice).
    #[tokio::test]
    async fn a_role_that_may_not_wait_for_the_disk_is_named_at_open_and_a_commit_still_stands() {
        let Some(base) = postgres_url() else { return };
        let (owner, url, name) = database_without_flush_grant(&base).await;

        let refused = crate::open(&url).await.err().unwrap().to_string();
        assert!(
            refused.contains("GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text)"),
            "{refused}"
        );

        on_every_emit_message(&owner, &format!("GRANT EXECUTE ON FUNCTION %s TO {name}")).await;
        let store = crate::open(&url).await.unwrap();
        let provisioned = provision_partner("Acme".into(), roster_core::time::Timestamp::now());
        insert_partner(store.as_ref(), &provisioned).await;
        on_every_emit_message(&owner, &format!("REVOKE EXECUTE ON FUNCTION %s FROM {name}")).await;
        let appended = event(&provisioned.partner.id, 1);
        let mut transaction = store.begin().await.unwrap();
        transaction.append_events(std::slice::from_ref(&appended)).await.unwrap();
        assert_eq!(transaction.commit().await, Ok(()));
        let stored: i64 =
            owner.query_one("SELECT COUNT(*) FROM events WHERE id = $1", &[&appended.id]).await.unwrap().get(0);
        assert_eq!(stored, 1);

        drop(store);
        drop(owner);
        drop_database_and_role(&base, &name).await;
    }
}
