//! The baseline on PostgreSQL: tokio-postgres through a deadpool pool of Roster's default size,
//! statements prepared once per connection.

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use roster_core::{
    ids,
    input::email_key,
    model::Membership,
    page::{ListPage, ListQuery, Position},
    time::Timestamp,
};
use roster_store::rows::select_memberships_where;
use tokio_postgres::{NoTls, types::ToSql};

use crate::{CREATED_STATUS, Database, Failure, INSERT_MEMBERSHIP, INSERT_USER, NewMember, SET_REFERENCE};

pub struct Postgres {
    pool: Pool,
}

fn failure(error: impl std::fmt::Display) -> Failure {
    Failure::Database(error.to_string())
}

fn mapped(row: &tokio_postgres::Row) -> Result<Membership, Failure> {
    roster_store::rows::membership(row).map_err(|e| failure(format!("{e:?}")))
}

/// The membership `id`, read through `client` (a pooled connection or a transaction).
async fn membership_by_id(client: &impl GenericClient, id: &str) -> Result<Membership, Failure> {
    let statement = client.prepare_cached(&select_memberships_where("m.id = $1")).await.map_err(failure)?;
    let row = client.query_opt(&statement, &[&id]).await.map_err(failure)?.ok_or(Failure::NotFound)?;
    mapped(&row)
}

impl Postgres {
    pub fn open(url: &str) -> Result<Self, String> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(roster_store::PoolOptions::default().max_connections)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { pool })
    }
}

impl Database for Postgres {
    async fn membership(&self, id: String) -> Result<Membership, Failure> {
        let client = self.pool.get().await.map_err(failure)?;
        membership_by_id(&client, &id).await
    }

    async fn page(&self, organisation_id: String, query: ListQuery) -> Result<ListPage<Membership>, Failure> {
        let client = self.pool.get().await.map_err(failure)?;
        let (count, select) = crate::page_statements(&query, |n| format!("${n}"));
        let count = client.prepare_cached(&count).await.map_err(failure)?;
        let total: i64 = client.query_one(&count, &[&organisation_id]).await.map_err(failure)?.get(0);
        let (offset, overfetch) = crate::offset_and_overfetch(&query);
        let mut bound: Vec<&(dyn ToSql + Sync)> = vec![&organisation_id];
        if let Position::After(cursor) = &query.position {
            bound.extend([&cursor.created_at as &(dyn ToSql + Sync), &cursor.id]);
        }
        bound.extend([&overfetch as &(dyn ToSql + Sync), &offset]);
        let select = client.prepare_cached(&select).await.map_err(failure)?;
        let rows = client.query(&select, &bound).await.map_err(failure)?;
        let items = rows.iter().map(mapped).collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage::from_overfetch(items, query.limit, u64::try_from(total).unwrap_or(0)))
    }

    async fn set_reference(&self, id: String, reference: Option<String>) -> Result<Membership, Failure> {
        let mut client = self.pool.get().await.map_err(failure)?;
        let transaction = client.transaction().await.map_err(failure)?;
        let update = transaction.prepare_cached(SET_REFERENCE).await.map_err(failure)?;
        let now = Timestamp::now().millis();
        if transaction.execute(&update, &[&reference, &now, &id]).await.map_err(failure)? == 0 {
            return Err(Failure::NotFound);
        }
        let updated = membership_by_id(&transaction, &id).await?;
        transaction.commit().await.map_err(failure)?;
        Ok(updated)
    }

    async fn membership_of(
        &self,
        organisation_id: String,
        user_id: String,
    ) -> Result<Option<(Membership, Vec<String>)>, Failure> {
        let client = self.pool.get().await.map_err(failure)?;
        let organisation =
            client.prepare_cached("SELECT id FROM organisations WHERE id = $1").await.map_err(failure)?;
        client.query_opt(&organisation, &[&organisation_id]).await.map_err(failure)?.ok_or(Failure::NotFound)?;
        let statement = client
            .prepare_cached(&select_memberships_where("m.organisation_id = $1 AND m.user_id = $2"))
            .await
            .map_err(failure)?;
        let Some(row) = client.query_opt(&statement, &[&organisation_id, &user_id]).await.map_err(failure)? else {
            return Ok(None);
        };
        let membership = mapped(&row)?;
        let role_ids = &membership.settings.role_ids;
        if role_ids.is_empty() {
            return Ok(Some((membership, Vec::new())));
        }
        let roles = client
            .prepare_cached(&crate::select_role_permissions(role_ids.len(), |n| format!("${n}")))
            .await
            .map_err(failure)?;
        let mut bound: Vec<&(dyn ToSql + Sync)> = vec![&organisation_id];
        bound.extend(role_ids.iter().map(|id| id as &(dyn ToSql + Sync)));
        let rows = client.query(&roles, &bound).await.map_err(failure)?;
        let mut permissions = Vec::new();
        for row in rows {
            let list: tokio_postgres::types::Json<Vec<String>> = row.try_get(0).map_err(failure)?;
            permissions.extend(list.0);
        }
        Ok(Some((membership, permissions)))
    }

    async fn create(&self, new: NewMember) -> Result<Membership, Failure> {
        let mut client = self.pool.get().await.map_err(failure)?;
        let transaction = client.transaction().await.map_err(failure)?;
        let now = Timestamp::now();
        let organisation = transaction
            .query_one("SELECT partner_id, livemode FROM organisations WHERE id = $1", &[&new.organisation_id])
            .await
            .map_err(|_| Failure::NotFound)?;
        let (partner_id, livemode): (String, bool) =
            (organisation.try_get(0).map_err(failure)?, organisation.try_get(1).map_err(failure)?);
        let (user_id, id) = (ids::new_id(ids::USER, now), ids::new_id(ids::MEMBERSHIP, now));
        let key = email_key(&new.email);
        let insert_user = transaction.prepare_cached(INSERT_USER).await.map_err(failure)?;
        transaction
            .execute(
                &insert_user,
                &[&user_id, &partner_id, &livemode, &new.email, &key, &new.first_name, &new.last_name, &now.millis()],
            )
            .await
            .map_err(failure)?;
        let insert_membership = transaction.prepare_cached(INSERT_MEMBERSHIP).await.map_err(failure)?;
        let status = CREATED_STATUS.as_str();
        transaction
            .execute(
                &insert_membership,
                &[&id, &partner_id, &livemode, &new.organisation_id, &user_id, &status, &now.millis()],
            )
            .await
            .map_err(failure)?;
        let created = membership_by_id(&transaction, &id).await?;
        transaction.commit().await.map_err(failure)?;
        Ok(created)
    }
}
