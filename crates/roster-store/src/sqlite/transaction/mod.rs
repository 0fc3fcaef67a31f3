//! The write primitives the operations decide with, on SQLite. One writer at a time holds the
//! database (`BEGIN IMMEDIATE`), so the holds the primitives promise are given by that alone.

use async_trait::async_trait;
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
use rusqlite::{Connection, OptionalExtension, ToSql, params};

use crate::rows::{MEMBERSHIP_WRITE_COLUMNS, USER_COLUMNS, membership_update, name_column, placeholders};
use crate::sqlite::{
    assign_group_organisations, exists, get_api_key, get_group, get_membership, get_organisation, get_role, get_user,
    group_exists, insert_api_key, insert_group, insert_partner, is_unique_violation, membership_reach,
    organisation_in_scope, other_admin_group, pool::WriteTransaction, pool::storage_error, role_conflict,
    role_name_taken, rows, rows::to_json, tally, user_email_taken,
};

pub struct SqliteTransaction(pub(super) WriteTransaction);

/// Runs `$body` as one short step of the transaction, with `$connection` bound.
macro_rules! step {
    ($tx:expr, |$connection:ident| $body:expr) => {
        $tx.0.run(|$connection: &Connection| $body)
    };
}

/// Runs `$body` as one step on a blocking thread, for a step whose work grows with the data (a
/// delete that cascades through an organisation's memberships), moving owned copies of the
/// named values there.
macro_rules! step_blocking {
    ($tx:expr, [$($value:ident),*], |$connection:ident| $body:expr) => {{
        $(let $value = $value.to_owned();)*
        $tx.0.run_blocking(move |$connection: &Connection| $body).await
    }};
}

fn write_membership(connection: &Connection, statement: &str, membership: &Membership) -> Result<usize> {
    let settings = &membership.settings;
    let n = &settings.notifications;
    let values: [&dyn ToSql; 24] = [
        &membership.id,
        &membership.partner_id,
        &membership.mode.is_live(),
        &membership.organisation_id,
        &membership.user_id,
        &membership.status.as_str(),
        &settings.role.as_str(),
        &to_json(&settings.role_ids),
        &to_json(&settings.permissions),
        &settings.is_owner,
        &settings.is_default,
        &to_json(&settings.allowed_ips),
        &settings.api_access_enabled,
        &settings.access_scope.as_str(),
        &settings.test_enabled,
        &n.alert_action_required,
        &n.alert_resolved,
        &n.alert_dismissed,
        &n.evidence_requested,
        &settings.reference,
        &settings.reference_origin,
        &to_json(&settings.metadata),
        &membership.created_at.millis(),
        &membership.updated_at.millis(),
    ];
    connection.prepare_cached(statement).and_then(|mut statement| statement.execute(&values[..])).map_err(storage_error)
}

#[async_trait]
impl Transaction for SqliteTransaction {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await
    }
}

mod events;
mod groups;
mod keys;
mod memberships;
mod organisations;
mod partners;
mod roles;
mod users;
mod webhooks;
