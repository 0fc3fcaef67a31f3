//! Moving a whole database between backends (`roster copy-data`): every table is read in
//! primary-key order in batches and written in the same order, parents before children, as
//! backend-neutral cells. The column lists here are the schema both migrations create.

use std::sync::Arc;

use async_trait::async_trait;
use roster_core::Error;

/// How a column's values are stored and moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Bool,
    /// JSON text on SQLite, JSONB on PostgreSQL.
    Json,
}

/// One value, whatever the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Json(serde_json::Value),
}

pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// The primary key's columns, a prefix of `columns`.
    pub key_len: usize,
}

impl Table {
    /// `SELECT` of every column in key order, after a key bound at `placeholders`, if any.
    pub fn select(&self, after: Option<&[String]>, limit_placeholder: &str) -> String {
        let filter = match after {
            Some(placeholders) => format!(" WHERE ({}) > ({})", self.key_list(), placeholders.join(", ")),
            None => String::new(),
        };
        format!(
            "SELECT {} FROM {}{filter} ORDER BY {} LIMIT {limit_placeholder}",
            self.column_list(),
            self.name,
            self.key_list()
        )
    }

    /// A multi-row `INSERT` whose `rows` tuples use the placeholders `placeholder(n)` makes.
    pub fn insert(&self, rows: usize, skip_existing: bool, placeholder: impl Fn(usize) -> String) -> String {
        let width = self.columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|row| {
                let cells: Vec<String> = (0..width).map(|column| placeholder(row * width + column + 1)).collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let conflict = if skip_existing { " ON CONFLICT DO NOTHING" } else { "" };
        format!("INSERT INTO {} ({}) VALUES {}{conflict}", self.name, self.column_list(), tuples.join(", "))
    }

    pub fn column_list(&self) -> String {
        self.columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    }

    pub fn key_list(&self) -> String {
        self.columns[..self.key_len].iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    }
}

use Kind::{Bool, Int, Json, Text};

/// Every table, parents first.
pub const TABLES: &[Table] = &[
    Table {
        name: "partners",
        columns: &[("id", Text), ("name", Text), ("created_at", Int), ("updated_at", Int)],
        key_len: 1,
    },
    Table {
        name: "partner_groups",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("name", Text),
            ("is_admin", Bool),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key_len: 1,
    },
    Table {
        name: "organisations",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("livemode", Bool),
            ("name", Text),
            ("enforce_twofactor", Bool),
            ("abuse_contact_email", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key_len: 1,
    },
    Table { name: "group_organisations", columns: &[("group_id", Text), ("organisation_id", Text)], key_len: 2 },
    Table {
        name: "users",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("livemode", Bool),
            ("email", Text),
            ("email_key", Text),
            ("first_name", Text),
            ("last_name", Text),
            ("is_staff", Bool),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key_len: 1,
    },
    Table {
        name: "roles",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("livemode", Bool),
            ("organisation_id", Text),
            ("name", Text),
            ("permissions", Json),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key_len: 1,
    },
    Table {
        name: "memberships",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("livemode", Bool),
            ("organisation_id", Text),
            ("user_id", Text),
            ("role", Text),
            ("role_ids", Json),
            ("permissions", Json),
            ("is_owner", Bool),
            ("is_default", Bool),
            ("allowed_ips", Json),
            ("status", Text),
            ("api_access_enabled", Bool),
            ("access_scope", Text),
            ("test_enabled", Bool),
            ("alert_action_required", Bool),
            ("alert_resolved", Bool),
            ("alert_dismissed", Bool),
            ("evidence_requested", Bool),
            ("reference", Text),
            ("reference_origin", Text),
            ("metadata", Json),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key_len: 1,
    },
    Table {
        name: "api_keys",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("livemode", Bool),
            ("name", Text),
            ("key_type", Text),
            ("group_id", Text),
            ("organisation_id", Text),
            ("abilities", Json),
            ("expires_at", Int),
            ("last_used_at", Int),
            ("revoked_at", Int),
            ("prefix", Text),
            ("secret_hash", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("user_id", Text),
        ],
        key_len: 1,
    },
    Table { name: "event_sequences", columns: &[("partner_id", Text), ("last", Int)], key_len: 1 },
    Table {
        name: "events",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("livemode", Bool),
            ("sequence", Int),
            ("type", Text),
            ("object_id", Text),
            ("organisation_id", Text),
            ("actor_type", Text),
            ("actor_id", Text),
            ("actor_key_prefix", Text),
            ("request_id", Text),
            ("data", Json),
            ("previous_attributes", Json),
            ("created_at", Int),
        ],
        key_len: 1,
    },
    Table {
        name: "webhook_endpoints",
        columns: &[
            ("id", Text),
            ("partner_id", Text),
            ("livemode", Bool),
            ("url", Text),
            ("enabled_events", Json),
            ("description", Text),
            ("disabled", Bool),
            ("secret", Text),
            ("previous_secret", Text),
            ("previous_secret_expires_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key_len: 1,
    },
    Table {
        name: "webhook_messages",
        columns: &[
            ("id", Text),
            ("endpoint_id", Text),
            ("event_id", Text),
            ("attempts", Int),
            ("queued_at", Int),
            ("next_attempt_at", Int),
            ("lease", Text),
        ],
        key_len: 1,
    },
    Table {
        name: "webhook_deliveries",
        columns: &[
            ("id", Text),
            ("endpoint_id", Text),
            ("event_id", Text),
            ("webhook_id", Text),
            ("attempt", Int),
            ("succeeded", Bool),
            ("response_status", Int),
            ("latency_ms", Int),
            ("next_retry_at", Int),
            ("created_at", Int),
        ],
        key_len: 1,
    },
];

pub type Row = Vec<Cell>;

/// What `copy-data` needs of a backend.
#[async_trait]
pub trait Transfer: Send + Sync {
    async fn count(&self, table: &'static Table) -> Result<u64, Error>;
    /// Up to `limit` rows in key order, after the row whose key is `after`.
    async fn read(&self, table: &'static Table, after: Option<&[Cell]>, limit: u32) -> Result<Vec<Row>, Error>;
    /// Writes the rows in one transaction; with `skip_existing`, rows whose key is taken are
    /// skipped. Returns how many were written.
    async fn write(&self, table: &'static Table, rows: &[Row], skip_existing: bool) -> Result<u64, Error>;
    /// Brings the database's own bookkeeping up to date after a bulk load, as a restore does,
    /// so the first requests do not run on stale statistics while autovacuum catches up.
    async fn settle(&self) -> Result<(), Error>;
}

/// Opens a database for copying; the schema is brought up to date as by `roster migrate`.
pub async fn open(url: &str) -> Result<Arc<dyn Transfer>, Error> {
    if let Some(location) = crate::sqlite::Location::parse(url) {
        return Ok(Arc::new(crate::SqliteStore::open(location).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(crate::PostgresStore::open(url, &crate::PoolOptions::default()).await?));
    }
    Err(Error::InvalidRequest(format!("unsupported database URL {:?}", crate::redact(url))))
}

/// What a copy did, per table: rows in the source, rows written, rows in the target after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    pub source: u64,
    pub written: u64,
    pub target: u64,
}

pub const BATCH: u32 = 1000;

/// Whether a cell holds a NUL character anywhere, JSON keys and values included.
fn holds_nul(cell: &Cell) -> bool {
    fn in_json(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(text) => text.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(in_json),
            serde_json::Value::Object(map) => map.iter().any(|(key, item)| key.contains('\0') || in_json(item)),
            _ => false,
        }
    }
    match cell {
        Cell::Text(text) => text.contains('\0'),
        Cell::Json(value) => in_json(value),
        Cell::Null | Cell::Int(_) | Cell::Bool(_) => false,
    }
}

/// Reads the whole source once and refuses it if any text holds a NUL character, which
/// PostgreSQL cannot store: found half-way through the copy, it would leave the target half
/// written. (An older Roster let SQLite store such text; the API now refuses it.)
async fn check_portable(from: &dyn Transfer) -> Result<(), Error> {
    for table in TABLES {
        let mut after: Option<Row> = None;
        loop {
            let rows = from.read(table, after.as_deref(), BATCH).await?;
            let Some(last) = rows.last() else { break };
            for row in &rows {
                if let Some(column) = row.iter().position(holds_nul) {
                    let key: Vec<String> = row[..table.key_len]
                        .iter()
                        .map(|cell| match cell {
                            Cell::Text(id) => id.clone(),
                            other => format!("{other:?}"),
                        })
                        .collect();
                    return Err(Error::InvalidRequest(format!(
                        "{} row {} holds a NUL character in {}, which PostgreSQL cannot store; \
                         change that value through the API, then copy again (nothing was written)",
                        table.name,
                        key.join(", "),
                        table.columns[column].0
                    )));
                }
            }
            after = Some(last[..table.key_len].to_vec());
        }
    }
    Ok(())
}

/// Copies every table from `from` to `to`, then checks the counts: each source row must now be
/// in the target. The source is checked whole before anything is written. `progress` hears of
/// every batch written.
pub async fn copy(
    from: &dyn Transfer,
    to: &dyn Transfer,
    skip_existing: bool,
    mut progress: impl FnMut(&'static str, u64),
) -> Result<Vec<TableReport>, Error> {
    check_portable(from).await?;
    let mut reports = Vec::new();
    for table in TABLES {
        let source = from.count(table).await?;
        let before = to.count(table).await?;
        let mut written = 0;
        let mut after: Option<Row> = None;
        loop {
            let rows = from.read(table, after.as_deref(), BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last[..table.key_len].to_vec());
            written += to.write(table, &rows, skip_existing).await?;
            progress(table.name, u64::try_from(rows.len()).unwrap_or(0));
        }
        let target = to.count(table).await?;
        let consistent = if skip_existing { target >= source && target == before + written } else { target == source };
        if !consistent {
            return Err(Error::internal(format!(
                "{}: {source} rows in the source, {written} written, {target} in the target afterwards",
                table.name
            )));
        }
        reports.push(TableReport { table: table.name, source, written, target });
    }
    to.settle().await?;
    Ok(reports)
}

/// Rows already in the target, over every table.
pub async fn total_rows(store: &dyn Transfer) -> Result<u64, Error> {
    let mut total = 0;
    for table in TABLES {
        total += store.count(table).await?;
    }
    Ok(total)
}
