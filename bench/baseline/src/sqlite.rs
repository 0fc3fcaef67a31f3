//! The baseline on SQLite: rusqlite, the pragmas Roster sets, one writer and four readers (as
//! Roster's pool has), each statement run on tokio's blocking pool.

use std::sync::Mutex;

use roster_core::{
    ids,
    input::email_key,
    model::Membership,
    page::{ListPage, ListQuery, Position},
    time::Timestamp,
};
use roster_store::rows::select_memberships_where;
use rusqlite::{Connection, OptionalExtension, params, types::Value};
use tokio::sync::Semaphore;

use crate::{CREATED_STATUS, Database, Failure, INSERT_MEMBERSHIP, INSERT_USER, NewMember, SET_REFERENCE};

const READERS: usize = 4;

pub struct Sqlite {
    writer: std::sync::Arc<Mutex<Connection>>,
    readers: std::sync::Arc<Mutex<Vec<Connection>>>,
    available: Semaphore,
}

fn failure(error: rusqlite::Error) -> Failure {
    match error {
        rusqlite::Error::QueryReturnedNoRows => Failure::NotFound,
        other => Failure::Database(other.to_string()),
    }
}

fn connect(path: &str) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(connection)
}

fn membership(connection: &Connection, id: &str) -> rusqlite::Result<Membership> {
    connection
        .prepare_cached(&select_memberships_where("m.id = ?1"))?
        .query_row([id], |row| roster_store::rows::membership(row))
}

impl Sqlite {
    pub fn open(path: &str) -> rusqlite::Result<Self> {
        let readers = (0..READERS).map(|_| connect(path)).collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Self {
            writer: std::sync::Arc::new(Mutex::new(connect(path)?)),
            readers: std::sync::Arc::new(Mutex::new(readers)),
            available: Semaphore::new(READERS),
        })
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, Failure> {
        let _permit = self.available.acquire().await.map_err(|e| Failure::Database(e.to_string()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let connection = readers.lock().map_err(|e| Failure::Database(e.to_string()))?.pop();
            let connection = connection.ok_or_else(|| Failure::Database("no reader".to_owned()))?;
            let result = work(&connection).map_err(failure);
            readers.lock().map_err(|e| Failure::Database(e.to_string()))?.push(connection);
            result
        })
        .await
        .map_err(|e| Failure::Database(e.to_string()))?
    }

    /// `work` in an immediate transaction on the one writer, committed when it succeeds.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, Failure> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = writer.lock().map_err(|e| Failure::Database(e.to_string()))?;
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(failure)?;
            let result = work(&transaction).map_err(failure)?;
            transaction.commit().map_err(failure)?;
            Ok(result)
        })
        .await
        .map_err(|e| Failure::Database(e.to_string()))?
    }
}

impl Database for Sqlite {
    async fn membership(&self, id: String) -> Result<Membership, Failure> {
        self.read(move |c| membership(c, &id)).await
    }

    async fn membership_of(
        &self,
        organisation_id: String,
        user_id: String,
    ) -> Result<Option<(Membership, Vec<String>)>, Failure> {
        self.read(move |c| {
            c.prepare_cached("SELECT id FROM organisations WHERE id = ?1")?
                .query_row([&organisation_id], |_| Ok(()))?;
            let sql = select_memberships_where("m.organisation_id = ?1 AND m.user_id = ?2");
            let found = c
                .prepare_cached(&sql)?
                .query_row([&organisation_id, &user_id], |row| roster_store::rows::membership(row))
                .optional()?;
            let Some(membership) = found else { return Ok(None) };
            let role_ids = &membership.settings.role_ids;
            if role_ids.is_empty() {
                return Ok(Some((membership, Vec::new())));
            }
            let mut statement =
                c.prepare_cached(&crate::select_role_permissions(role_ids.len(), |n| format!("?{n}")))?;
            let bound = std::iter::once(&organisation_id).chain(role_ids);
            let lists = statement
                .query_map(rusqlite::params_from_iter(bound), |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let permissions =
                lists.iter().flat_map(|text| serde_json::from_str::<Vec<String>>(text).unwrap_or_default()).collect();
            Ok(Some((membership, permissions)))
        })
        .await
    }

    async fn page(&self, organisation_id: String, query: ListQuery) -> Result<ListPage<Membership>, Failure> {
        self.read(move |c| {
            let (count, select) = crate::page_statements(&query, |n| format!("?{n}"));
            let total: i64 = c.prepare_cached(&count)?.query_row([&organisation_id], |row| row.get(0))?;
            let (offset, overfetch) = crate::offset_and_overfetch(&query);
            let mut bound = vec![Value::Text(organisation_id)];
            if let Position::After(cursor) = &query.position {
                bound.extend([Value::Integer(cursor.created_at), Value::Text(cursor.id.clone())]);
            }
            bound.extend([Value::Integer(overfetch), Value::Integer(offset)]);
            let rows = c
                .prepare_cached(&select)?
                .query_map(rusqlite::params_from_iter(bound), |row| roster_store::rows::membership(row))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(ListPage::from_overfetch(rows, query.limit, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    async fn set_reference(&self, id: String, reference: Option<String>) -> Result<Membership, Failure> {
        self.write(move |transaction| {
            if transaction.prepare_cached(SET_REFERENCE)?.execute(params![reference, Timestamp::now().millis(), id])?
                == 0
            {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            membership(transaction, &id)
        })
        .await
    }

    async fn create(&self, new: NewMember) -> Result<Membership, Failure> {
        self.write(move |transaction| {
            let now = Timestamp::now();
            let (partner_id, livemode): (String, bool) = transaction.query_row(
                "SELECT partner_id, livemode FROM organisations WHERE id = ?1",
                [&new.organisation_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let (user_id, id) = (ids::new_id(ids::USER, now), ids::new_id(ids::MEMBERSHIP, now));
            transaction.execute(
                INSERT_USER,
                params![
                    user_id,
                    partner_id,
                    livemode,
                    new.email,
                    email_key(&new.email),
                    new.first_name,
                    new.last_name,
                    now.millis()
                ],
            )?;
            transaction.execute(
                INSERT_MEMBERSHIP,
                params![id, partner_id, livemode, new.organisation_id, user_id, CREATED_STATUS.as_str(), now.millis()],
            )?;
            membership(transaction, &id)
        })
        .await
    }
}
