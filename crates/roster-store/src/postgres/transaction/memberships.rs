//! The memberships primitives of a transaction.

use std::sync::LazyLock;

use super::*;
use crate::rows::{Columns, one_row_written};

/// Built once: the statement is the same for every update. It returns the metadata as stored,
/// since JSONB orders an object's keys its own way.
static MEMBERSHIP_UPDATE: LazyLock<String> = LazyLock::new(|| format!("{} RETURNING metadata", membership_update('$')));

/// Inserts a membership unless its organisation has one for the user, and reads it back as
/// stored, with its user and organisation, in the same statement.
static INSERT_MEMBERSHIP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH m AS (INSERT INTO memberships ({MEMBERSHIP_WRITE_COLUMNS}) VALUES ({}) \
         ON CONFLICT (organisation_id, user_id) DO NOTHING RETURNING *) \
         SELECT {MEMBERSHIP_COLUMNS} FROM m JOIN users u ON u.id = m.user_id \
         JOIN organisations o ON o.id = m.organisation_id",
        placeholders('$', 24)
    )
});

#[async_trait]
impl Memberships for PostgresTransaction {
    async fn membership_id(&mut self, organisation_id: &str, user_id: &str) -> Result<Option<String>> {
        let row = fetch_opt(
            self.client()?,
            "SELECT id FROM memberships WHERE organisation_id = $1 AND user_id = $2",
            &[&organisation_id, &user_id],
        )
        .await
        .map_err(failed)?;
        row.map(|row| row.try_get(0)).transpose().map_err(|error| failed(error.into()))
    }

    async fn membership_reach(&mut self, scope: &Scope, user_id: &str) -> Result<(bool, bool)> {
        membership_reach(self.client()?, scope, user_id).await.map_err(failed)
    }

    async fn insert_membership(&mut self, membership: &Membership) -> Result<Inserted<Membership>> {
        let client = self.client()?;
        if let Some(stored) = write_membership(client, &INSERT_MEMBERSHIP, membership).await.map_err(failed)?.first() {
            return rows::membership(stored).map(Inserted::Stored).map_err(failed);
        }
        let existing = fetch_one(
            client,
            "SELECT id FROM memberships WHERE organisation_id = $1 AND user_id = $2",
            &[&membership.organisation_id, &membership.user_id],
        )
        .await
        .map_err(failed)?;
        existing.try_get(0).map(Inserted::Existing).map_err(|error| failed(error.into()))
    }

    async fn lock_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        lock_membership(self.client()?, scope, id).await.map_err(failed)
    }

    async fn get_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        get_membership(self.client()?, scope, id).await.map_err(failed)
    }

    async fn tally(&mut self, organisation_id: &str, except: &str) -> Result<OrgTally> {
        tally(self.client()?, organisation_id, except).await.map_err(failed)
    }

    async fn update_membership(&mut self, membership: &Membership) -> Result<Membership> {
        let statement: &str = &MEMBERSHIP_UPDATE;
        let written = write_membership(self.client()?, statement, membership).await.map_err(failed)?;
        one_row_written(written.len())?;
        let mut stored = membership.clone();
        if let Some(row) = written.first() {
            stored.settings.metadata = row.json(0).map_err(failed)?;
        }
        Ok(stored)
    }

    async fn clear_other_defaults(&mut self, user_id: &str, except: &str, now: Timestamp) -> Result<Vec<String>> {
        let rows = fetch(
            self.client()?,
            "UPDATE memberships SET is_default = FALSE, updated_at = $3 \
             WHERE user_id = $1 AND id <> $2 AND is_default RETURNING id",
            &[&user_id, &except, &now.millis()],
        )
        .await
        .map_err(failed)?;
        rows.iter().map(|row| row.try_get(0).map_err(|error| failed(error.into()))).collect()
    }

    async fn delete_membership(&mut self, id: &str) -> Result<()> {
        execute(self.client()?, "DELETE FROM memberships WHERE id = $1", &[&id]).await.map(drop).map_err(failed)
    }
}
