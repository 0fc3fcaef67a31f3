//! Schema migrations for PostgreSQL, applied in order under a transaction-scoped advisory lock,
//! so nodes starting at once apply each exactly once.

use roster_core::Error;

use super::pool::{Connections, Step};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (2, include_str!("../../migrations/postgres/0002_roles_and_user_tokens.sql")),
    (3, include_str!("../../migrations/postgres/0003_membership_sort_keys.sql")),
    (4, include_str!("../../migrations/postgres/0004_membership_counts.sql")),
    (5, include_str!("../../migrations/postgres/0005_membership_status_order.sql")),
    (6, include_str!("../../migrations/postgres/0006_membership_partner_counts.sql")),
    (7, include_str!("../../migrations/postgres/0007_events.sql")),
    (8, include_str!("../../migrations/postgres/0008_events_created.sql")),
    (9, include_str!("../../migrations/postgres/0009_events_lists.sql")),
    (10, include_str!("../../migrations/postgres/0010_events_fewer_indexes.sql")),
    (11, include_str!("../../migrations/postgres/0011_webhooks.sql")),
    (12, include_str!("../../migrations/postgres/0012_membership_counts_per_statement.sql")),
    (13, include_str!("../../migrations/postgres/0013_console_sessions.sql")),
    (14, include_str!("../../migrations/postgres/0014_organisation_names.sql")),
    (15, include_str!("../../migrations/postgres/0015_user_names.sql")),
    (16, include_str!("../../migrations/postgres/0016_membership_count_stripes.sql")),
];
/// An arbitrary constant naming Roster's migration lock.
const LOCK_KEY: i64 = 0x526f_7374_6572;

pub async fn run(connections: &Connections) -> Result<(), Error> {
    connections
        .retrying(|| async {
            let mut client = connections.get().await?;
            let transaction = client.transaction().await?;
            // A migration may build an index over every membership: the pool's statement time
            // limit (meant for requests) would cancel it on a large table.
            transaction.batch_execute("SET LOCAL statement_timeout = 0").await?;
            transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
            transaction
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                )
                .await?;
            for (version, sql) in MIGRATIONS {
                let applied = transaction
                    .query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version])
                    .await?
                    .is_some();
                if applied {
                    continue;
                }
                transaction.batch_execute(sql).await?;
                let now = roster_core::time::Timestamp::now().millis();
                transaction
                    .execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", &[version, &now])
                    .await?;
                tracing::info!(version, "applied migration");
            }
            transaction.commit().await?;
            Step::Ok(())
        })
        .await
}
