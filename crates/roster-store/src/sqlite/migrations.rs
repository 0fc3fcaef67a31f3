//! Schema migrations, embedded in the binary and applied in order. Each runs in a
//! `BEGIN IMMEDIATE` transaction that first checks whether it was applied, so two processes
//! starting on the same file at once apply it exactly once.

use roster_core::Error;
use rusqlite::Connection;

use super::pool::storage_error;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_roles_and_user_tokens.sql")),
    (3, include_str!("../../migrations/sqlite/0003_membership_sort_keys.sql")),
    (4, include_str!("../../migrations/sqlite/0004_membership_counts.sql")),
    (5, include_str!("../../migrations/sqlite/0005_membership_status_order.sql")),
    (6, include_str!("../../migrations/sqlite/0006_membership_partner_counts.sql")),
    (7, include_str!("../../migrations/sqlite/0007_events.sql")),
    (8, include_str!("../../migrations/sqlite/0008_events_created.sql")),
    (9, include_str!("../../migrations/sqlite/0009_events_lists.sql")),
    (10, include_str!("../../migrations/sqlite/0010_events_fewer_indexes.sql")),
    (11, include_str!("../../migrations/sqlite/0011_webhooks.sql")),
    (12, include_str!("../../migrations/sqlite/0012_console_sessions.sql")),
    (13, include_str!("../../migrations/sqlite/0013_organisation_names.sql")),
    (14, include_str!("../../migrations/sqlite/0014_user_names.sql")),
];

pub fn run(connection: &Connection) -> Result<(), Error> {
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .map_err(storage_error)?;
    for (version, sql) in MIGRATIONS {
        connection.execute_batch("BEGIN IMMEDIATE").map_err(storage_error)?;
        match apply(connection, *version, sql) {
            Ok(applied) => {
                connection.execute_batch("COMMIT").map_err(storage_error)?;
                if applied {
                    tracing::info!(version, "applied migration");
                }
            }
            Err(error) => {
                // The transaction is abandoned either way; a failed rollback adds nothing to report.
                let _ = connection.execute_batch("ROLLBACK");
                return Err(error);
            }
        }
    }
    Ok(())
}

fn apply(connection: &Connection, version: i64, sql: &str) -> Result<bool, Error> {
    let applied: bool = connection
        .query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |row| row.get(0))
        .map_err(storage_error)?;
    if applied {
        return Ok(false);
    }
    connection.execute_batch(sql).map_err(storage_error)?;
    connection
        .execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, roster_core::time::Timestamp::now().millis()),
        )
        .map_err(storage_error)?;
    Ok(true)
}
