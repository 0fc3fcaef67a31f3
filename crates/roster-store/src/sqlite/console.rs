//! Console sessions on SQLite.

use async_trait::async_trait;
use roster_core::{
    error::Result,
    model::Mode,
    store::{ConsoleSession, ConsoleSessions},
    time::Timestamp,
};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, pool::storage_error};

#[async_trait]
impl ConsoleSessions for SqliteStore {
    async fn insert_console_session(&self, session: &ConsoleSession) -> Result<()> {
        let session = session.clone();
        self.pool
            .write(move |c| {
                c.execute(
                    "INSERT INTO console_sessions (id_hash, live_key_hash, test_key_hash, livemode, created_at, \
                     expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        session.id_hash,
                        session.live_key_hash,
                        session.test_key_hash,
                        session.mode.is_live(),
                        session.created_at.millis(),
                        session.expires_at.millis()
                    ],
                )
                .map_err(storage_error)?;
                Ok(())
            })
            .await
    }

    async fn console_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<ConsoleSession>> {
        let id_hash = id_hash.to_owned();
        self.pool
            .read(move |c| {
                c.prepare_cached(
                    "SELECT id_hash, live_key_hash, test_key_hash, livemode, created_at, expires_at \
                     FROM console_sessions WHERE id_hash = ?1 AND expires_at > ?2",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row(params![id_hash, now.millis()], |row| {
                            Ok(ConsoleSession {
                                id_hash: row.get(0)?,
                                live_key_hash: row.get(1)?,
                                test_key_hash: row.get(2)?,
                                mode: if row.get(3)? { Mode::Live } else { Mode::Test },
                                created_at: Timestamp(row.get(4)?),
                                expires_at: Timestamp(row.get(5)?),
                            })
                        })
                        .optional()
                })
                .map_err(storage_error)
            })
            .await
    }

    async fn update_console_session(&self, session: &ConsoleSession) -> Result<bool> {
        let session = session.clone();
        self.pool
            .write(move |c| {
                let changed = c
                    .execute(
                        "UPDATE console_sessions SET live_key_hash = ?2, test_key_hash = ?3, livemode = ?4 \
                         WHERE id_hash = ?1",
                        params![session.id_hash, session.live_key_hash, session.test_key_hash, session.mode.is_live()],
                    )
                    .map_err(storage_error)?;
                Ok(changed > 0)
            })
            .await
    }

    async fn delete_console_session(&self, id_hash: &str) -> Result<()> {
        let id_hash = id_hash.to_owned();
        self.pool
            .write(move |c| {
                c.execute("DELETE FROM console_sessions WHERE id_hash = ?1", params![id_hash])
                    .map_err(storage_error)?;
                Ok(())
            })
            .await
    }

    async fn prune_console_sessions(&self, now: Timestamp, batch: u32) -> Result<u64> {
        self.pool
            .write(move |c| {
                let deleted = c
                    .execute(
                        "DELETE FROM console_sessions WHERE id_hash IN \
                         (SELECT id_hash FROM console_sessions WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
                        params![now.millis(), batch],
                    )
                    .map_err(storage_error)?;
                Ok(u64::try_from(deleted).unwrap_or(0))
            })
            .await
    }
}
