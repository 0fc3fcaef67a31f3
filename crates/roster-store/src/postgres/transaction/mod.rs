//! The write primitives the operations decide with, on PostgreSQL. Each is READ COMMITTED with
//! row locks taken in one order (partner, organisation, user), so two nodes deciding a rule on
//! the same rows take turns; a deadlock or serialisation failure is `Contention`, and the caller
//! runs the whole transaction again.

use async_trait::async_trait;
use deadpool_postgres::Object;
use roster_core::{
    Error,
    error::Result,
    input::email_key,
    model::{ApiKey, Event, Membership, Mode, Organisation, PartnerGroup, Role, User},
    policy::Scope,
    provision::ProvisionedPartner,
    rules::OrgTally,
    store::{Inserted, RemovedWithOrganisation, Transaction, UserHold, primitives::*},
    time::Timestamp,
};
use tokio_postgres::{
    Row,
    types::{Json, ToSql},
};

use crate::postgres::{
    Hold, assign_group_organisations, get_api_key, get_group, get_membership, get_organisation, get_role, get_user,
    group_exists, insert_api_key, insert_group, insert_partner, lock_membership, lock_organisation, lock_partner,
    lock_user, membership_reach, organisation_in_scope, other_admin_group,
    pool::{Connections, Failure, Step},
    query::{execute, fetch, fetch_one, fetch_opt},
    role_conflict, role_name_taken, rows, tally, user_conflict, user_email_taken,
};
use crate::rows::{
    MEMBERSHIP_COLUMNS, MEMBERSHIP_WRITE_COLUMNS, USER_COLUMNS, membership_update, name_column, placeholders,
};

/// A connection inside `BEGIN`. Dropped before [`Transaction::commit`], it is rolled back
/// before it returns to the pool.
pub struct PostgresTransaction {
    client: Option<Object>,
    /// The pool the connection came from, for waiting on the disk elsewhere (`confirm_durable`).
    connections: Connections,
    gate: Option<std::sync::Arc<roster_core::commit_gate::CommitGate>>,
    /// The events appended, inserted by the commit.
    held_events: events::HeldEvents,
}

impl PostgresTransaction {
    /// Sends `BEGIN` with the guard already in place: however the wait for its answer ends
    /// (an error, the request given up half-way), the connection is rolled back before it
    /// serves anyone else.
    pub(super) async fn begin(connections: &Connections) -> Result<Self> {
        let client = connections.get().await.map_err(Failure::into_error)?;
        let transaction = Self {
            client: Some(client),
            connections: connections.clone(),
            gate: roster_core::commit_gate::current(),
            held_events: Default::default(),
        };
        transaction.client()?.batch_execute("BEGIN").await.map_err(|error| failed(error.into()))?;
        Ok(transaction)
    }

    fn client(&self) -> Result<&Object> {
        self.client.as_ref().ok_or_else(|| Error::internal("the transaction has ended"))
    }
}

impl Drop for PostgresTransaction {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // The rollback must reach the server before the connection serves anyone else.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(error) = client.batch_execute("ROLLBACK").await {
                        tracing::warn!(%error, "could not roll back; closing the connection");
                        drop(Object::take(client));
                    }
                });
            } else {
                drop(Object::take(client));
            }
        }
    }
}

fn failed(failure: Failure) -> Error {
    failure.into_retryable_error()
}

/// Runs `statement` with the membership's write values; the rows it returns.
async fn write_membership(client: &Object, statement: &str, membership: &Membership) -> Step<Vec<Row>> {
    let settings = &membership.settings;
    let n = &settings.notifications;
    let values: [&(dyn ToSql + Sync); 24] = [
        &membership.id,
        &membership.partner_id,
        &membership.mode.is_live(),
        &membership.organisation_id,
        &membership.user_id,
        &membership.status.as_str(),
        &settings.role.as_str(),
        &Json(&settings.role_ids),
        &Json(&settings.permissions),
        &settings.is_owner,
        &settings.is_default,
        &Json(&settings.allowed_ips),
        &settings.api_access_enabled,
        &settings.access_scope.as_str(),
        &settings.test_enabled,
        &n.alert_action_required,
        &n.alert_resolved,
        &n.alert_dismissed,
        &n.evidence_requested,
        &settings.reference,
        &settings.reference_origin,
        &Json(&settings.metadata),
        &membership.created_at.millis(),
        &membership.updated_at.millis(),
    ];
    fetch(client, statement, &values).await
}

#[async_trait]
impl Transaction for PostgresTransaction {
    async fn commit(mut self: Box<Self>) -> Result<()> {
        // The staged events go in first: they take their partners' counters, which may wait for
        // another write of the partner to commit, and a request given up meanwhile still
        // answers 503, its gate not yet claimed.
        let held = std::mem::take(&mut self.held_events);
        let last_append = held.send_staged(self.client()?).await.map_err(failed)?;
        if !roster_core::commit_gate::may_commit(self.gate.as_deref()) {
            return Err(Error::Unavailable);
        }
        // The guard stays until COMMIT has answered: given up before, the connection is rolled
        // back (a ROLLBACK after a COMMIT that did reach the server changes nothing). The last
        // append goes with the COMMIT, its gate claimed before: a request that waits there for
        // its partner's counter answers with its commit.
        let client = self.client()?;
        let outcome = match last_append {
            Some(append) => append.send_with_commit(client).await,
            None => client.batch_execute("COMMIT").await.map(|()| Committed::Durable).map_err(Failure::from),
        };
        // Committed, the connection goes back to the pool (the pool drops it if it broke);
        // otherwise it is dropped with the transaction, which rolls back whatever may be left
        // of it first.
        match outcome {
            Ok(committed) => {
                drop(self.client.take());
                if let Committed::Unconfirmed(failure) = committed {
                    confirm_durable(&self.connections, failure).await;
                }
                Ok(())
            }
            Err(failure) => Err(failed(failure)),
        }
    }
}

/// A write's commit was recorded but its wait for the disk failed: any synchronous commit that
/// writes to the log covers it, so another connection waits instead. The write is answered as
/// committed either way, since it is (answered as failed, a create retried would be made
/// twice); if even that wait fails, it may yet be lost should PostgreSQL stop before flushing.
async fn confirm_durable(connections: &Connections, failure: Failure) {
    let waited = connections
        .retrying(|| async {
            connections.get().await?.batch_execute(AWAIT_FLUSH).await?;
            Step::Ok(())
        })
        .await;
    if let Err(error) = waited {
        tracing::error!(first = ?failure, %error, "a write committed but its reaching the disk could not be confirmed");
    }
}

mod events;
pub(super) use events::AWAIT_FLUSH;
use events::Committed;
mod groups;
mod keys;
mod memberships;
mod organisations;
mod partners;
mod roles;
mod users;
mod webhooks;
