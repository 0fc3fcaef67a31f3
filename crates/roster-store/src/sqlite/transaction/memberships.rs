//! The memberships primitives of a transaction.

use std::sync::LazyLock;

use super::*;
use crate::rows::one_row_written;

/// Built once: the statement is the same for every update.
static MEMBERSHIP_UPDATE: LazyLock<String> = LazyLock::new(|| membership_update('?'));

#[async_trait]
impl Memberships for SqliteTransaction {
    async fn membership_id(&mut self, organisation_id: &str, user_id: &str) -> Result<Option<String>> {
        step!(self, |c| {
            c.prepare_cached("SELECT id FROM memberships WHERE organisation_id = ?1 AND user_id = ?2")
                .and_then(|mut statement| {
                    statement.query_row(params![organisation_id, user_id], |row| row.get(0)).optional()
                })
                .map_err(storage_error)
        })
    }

    async fn membership_reach(&mut self, scope: &Scope, user_id: &str) -> Result<(bool, bool)> {
        step!(self, |c| membership_reach(c, scope, user_id))
    }

    async fn insert_membership(&mut self, membership: &Membership) -> Result<Inserted<Membership>> {
        step!(self, |c| {
            let statement = format!(
                "INSERT INTO memberships ({MEMBERSHIP_WRITE_COLUMNS}) VALUES ({}) \
                 ON CONFLICT (organisation_id, user_id) DO NOTHING",
                placeholders('?', 24)
            );
            if write_membership(c, &statement, membership)? == 1 {
                return c
                    .query_row(&rows::select_memberships_where("m.id = ?1"), params![membership.id], |row| {
                        rows::membership(row)
                    })
                    .map(Inserted::Stored)
                    .map_err(storage_error);
            }
            c.query_row(
                "SELECT id FROM memberships WHERE organisation_id = ?1 AND user_id = ?2",
                params![membership.organisation_id, membership.user_id],
                |row| row.get(0),
            )
            .map(Inserted::Existing)
            .map_err(storage_error)
        })
    }

    async fn lock_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        self.get_membership(scope, id).await
    }

    async fn get_membership(&mut self, scope: &Scope, id: &str) -> Result<Membership> {
        step!(self, |c| get_membership(c, scope, id))
    }

    async fn tally(&mut self, organisation_id: &str, except: &str) -> Result<OrgTally> {
        step!(self, |c| tally(c, organisation_id, except))
    }

    async fn update_membership(&mut self, membership: &Membership) -> Result<Membership> {
        step!(self, |c| {
            let statement: &str = &MEMBERSHIP_UPDATE;
            one_row_written(write_membership(c, statement, membership)?)
        })?;
        // Stored as given: metadata is JSON text in the order it was written.
        Ok(membership.clone())
    }

    async fn clear_other_defaults(&mut self, user_id: &str, except: &str, now: Timestamp) -> Result<Vec<String>> {
        step!(self, |c| {
            c.prepare_cached(
                "UPDATE memberships SET is_default = 0, updated_at = ?3 \
                 WHERE user_id = ?1 AND id <> ?2 AND is_default = 1 RETURNING id",
            )
            .and_then(|mut statement| {
                statement.query_map(params![user_id, except, now.millis()], |row| row.get(0))?.collect()
            })
            .map_err(storage_error)
        })
    }

    async fn delete_membership(&mut self, id: &str) -> Result<()> {
        step!(self, |c| { c.execute("DELETE FROM memberships WHERE id = ?1", [&id]).map(drop).map_err(storage_error) })
    }
}
