//! Console sessions on PostgreSQL.

use async_trait::async_trait;
use roster_core::{
    error::Result,
    model::Mode,
    store::{ConsoleSession, ConsoleSessions},
    time::Timestamp,
};

use super::{PostgresStore, Step, execute, fetch_opt};

#[async_trait]
impl ConsoleSessions for PostgresStore {
    async fn insert_console_session(&self, session: &ConsoleSession) -> Result<()> {
        read!(self, |client| {
            execute(
                client,
                "INSERT INTO console_sessions (id_hash, live_key_hash, test_key_hash, livemode, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &session.id_hash,
                    &session.live_key_hash,
                    &session.test_key_hash,
                    &session.mode.is_live(),
                    &session.created_at.millis(),
                    &session.expires_at.millis(),
                ],
            )
            .await?;
        })
    }

    async fn console_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<ConsoleSession>> {
        read!(self, |client| {
            let row = fetch_opt(
                client,
                "SELECT id_hash, live_key_hash, test_key_hash, livemode, created_at, expires_at \
                 FROM console_sessions WHERE id_hash = $1 AND expires_at > $2",
                &[&id_hash, &now.millis()],
            )
            .await?;
            match row {
                Some(row) => Some(ConsoleSession {
                    id_hash: row.try_get(0)?,
                    live_key_hash: row.try_get(1)?,
                    test_key_hash: row.try_get(2)?,
                    mode: if row.try_get(3)? { Mode::Live } else { Mode::Test },
                    created_at: Timestamp(row.try_get(4)?),
                    expires_at: Timestamp(row.try_get(5)?),
                }),
                None => None,
            }
        })
    }

    async fn update_console_session(&self, session: &ConsoleSession) -> Result<bool> {
        read!(self, |client| {
            execute(
                client,
                "UPDATE console_sessions SET live_key_hash = $2, test_key_hash = $3, livemode = $4 WHERE id_hash = $1",
                &[&session.id_hash, &session.live_key_hash, &session.test_key_hash, &session.mode.is_live()],
            )
            .await?
                > 0
        })
    }

    async fn delete_console_session(&self, id_hash: &str) -> Result<()> {
        read!(self, |client| {
            execute(client, "DELETE FROM console_sessions WHERE id_hash = $1", &[&id_hash]).await?;
        })
    }

    async fn prune_console_sessions(&self, now: Timestamp, batch: u32) -> Result<u64> {
        read!(self, |client| {
            execute(
                client,
                "DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions \
                 WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
                &[&now.millis(), &i64::from(batch)],
            )
            .await?
        })
    }
}
