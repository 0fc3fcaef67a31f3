//! Column lists and row mapping, one pair per table, shared by both backends: each backend
//! only says how to read one typed value from its row type ([`Columns`]).

use std::sync::LazyLock;

use roster_core::{
    model::{
        AccessScope, Actor, ActorKind, ApiKey, Event, KeyHolder, KeyType, Membership, MembershipRole,
        MembershipSettings, MembershipStatus, Mode, Notifications, Organisation, OrganisationSettings, Partner,
        PartnerGroup, Role, User, WebhookDelivery, WebhookEndpoint, WebhookSecrets,
    },
    policy::Ability,
    time::Timestamp,
};
use serde::de::DeserializeOwned;

/// Reading typed values from a result row, by column index.
pub trait Columns {
    type Error;
    fn text(&self, index: usize) -> Result<String, Self::Error>;
    fn optional_text(&self, index: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, index: usize) -> Result<i64, Self::Error>;
    fn optional_int(&self, index: usize) -> Result<Option<i64>, Self::Error>;
    fn boolean(&self, index: usize) -> Result<bool, Self::Error>;
    fn json<T: DeserializeOwned>(&self, index: usize) -> Result<T, Self::Error>;
    /// The error for a stored value Roster cannot have written.
    fn corrupt(&self, index: usize, what: &str) -> Self::Error;
}

fn timestamp<R: Columns>(row: &R, index: usize) -> Result<Timestamp, R::Error> {
    row.int(index).map(Timestamp)
}

fn optional_timestamp<R: Columns>(row: &R, index: usize) -> Result<Option<Timestamp>, R::Error> {
    Ok(row.optional_int(index)?.map(Timestamp))
}

fn mode<R: Columns>(row: &R, index: usize) -> Result<Mode, R::Error> {
    row.boolean(index).map(Mode::from_live)
}

fn choice<R: Columns, T>(row: &R, index: usize, parse: fn(&str) -> Option<T>) -> Result<T, R::Error> {
    let text = row.text(index)?;
    parse(&text).ok_or_else(|| row.corrupt(index, "choice"))
}

pub const PARTNER_COLUMNS: &str = "p.id, p.name, p.created_at, p.updated_at";

pub fn partner<R: Columns>(row: &R) -> Result<Partner, R::Error> {
    Ok(Partner { id: row.text(0)?, name: row.text(1)?, created_at: timestamp(row, 2)?, updated_at: timestamp(row, 3)? })
}

pub const GROUP_COLUMNS: &str = "g.id, g.partner_id, g.name, g.is_admin, g.created_at, g.updated_at";

/// A group without its organisations, which are read separately for the reader's mode.
pub fn group<R: Columns>(row: &R) -> Result<PartnerGroup, R::Error> {
    Ok(PartnerGroup {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        name: row.text(2)?,
        is_admin: row.boolean(3)?,
        organisation_ids: Vec::new(),
        created_at: timestamp(row, 4)?,
        updated_at: timestamp(row, 5)?,
    })
}

pub const ORGANISATION_COLUMNS: &str =
    "o.id, o.partner_id, o.livemode, o.name, o.enforce_twofactor, o.abuse_contact_email, o.created_at, o.updated_at";

pub fn organisation<R: Columns>(row: &R) -> Result<Organisation, R::Error> {
    Ok(Organisation {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        mode: mode(row, 2)?,
        name: row.text(3)?,
        settings: OrganisationSettings {
            enforce_twofactor: row.boolean(4)?,
            abuse_contact_email: row.optional_text(5)?,
        },
        created_at: timestamp(row, 6)?,
        updated_at: timestamp(row, 7)?,
    })
}

/// A user's name as stored: the columns are never null, and a missing name is stored empty
/// (a name given through any API is never blank), the same on both backends.
pub fn name_column(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("")
}

fn name(stored: String) -> Option<String> {
    (!stored.is_empty()).then_some(stored)
}

pub const USER_COLUMNS: &str =
    "u.id, u.partner_id, u.livemode, u.email, u.first_name, u.last_name, u.is_staff, u.created_at, u.updated_at";

pub fn user<R: Columns>(row: &R) -> Result<User, R::Error> {
    Ok(User {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        mode: mode(row, 2)?,
        email: row.text(3)?,
        first_name: name(row.text(4)?),
        last_name: name(row.text(5)?),
        is_staff: row.boolean(6)?,
        created_at: timestamp(row, 7)?,
        updated_at: timestamp(row, 8)?,
    })
}

pub const API_KEY_COLUMNS: &str = "k.id, k.partner_id, k.livemode, k.name, k.key_type, k.group_id, k.organisation_id, \
     k.abilities, k.expires_at, k.last_used_at, k.revoked_at, k.prefix, k.created_at, k.updated_at, k.user_id";

pub fn api_key<R: Columns>(row: &R) -> Result<ApiKey, R::Error> {
    let holder = KeyHolder::from_ids(row.optional_text(5)?, row.optional_text(6)?, row.optional_text(14)?)
        .ok_or_else(|| row.corrupt(5, "key holder"))?;
    let abilities: Vec<String> = row.json(7)?;
    Ok(ApiKey {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        mode: mode(row, 2)?,
        name: row.text(3)?,
        key_type: choice(row, 4, KeyType::parse)?,
        holder,
        abilities: abilities
            .iter()
            .map(|a| Ability::parse(a).ok_or_else(|| row.corrupt(7, "ability")))
            .collect::<Result<_, _>>()?,
        expires_at: optional_timestamp(row, 8)?,
        last_used_at: optional_timestamp(row, 9)?,
        revoked_at: optional_timestamp(row, 10)?,
        prefix: row.text(11)?,
        created_at: timestamp(row, 12)?,
        updated_at: timestamp(row, 13)?,
    })
}

/// Memberships are read joined with their user, whose names and e-mail they show, and with
/// their organisation, whose name some wire formats show.
pub const MEMBERSHIP_COLUMNS: &str = "m.id, m.partner_id, m.livemode, m.organisation_id, m.user_id, \
     u.first_name, u.last_name, u.email, m.role, m.role_ids, m.permissions, m.is_owner, m.is_default, \
     m.allowed_ips, m.status, m.api_access_enabled, m.access_scope, m.test_enabled, \
     m.alert_action_required, m.alert_resolved, m.alert_dismissed, m.evidence_requested, \
     m.reference, m.reference_origin, m.metadata, m.created_at, m.updated_at, o.name";

/// A membership's own columns, in the order both backends bind them (24 values),
/// for inserting a row and for rewriting one: the one spelling of what a membership stores.
pub const MEMBERSHIP_WRITE_COLUMNS: &str = "id, partner_id, livemode, organisation_id, user_id, status, role, \
     role_ids, permissions, is_owner, is_default, allowed_ips, api_access_enabled, access_scope, test_enabled, \
     alert_action_required, alert_resolved, alert_dismissed, evidence_requested, reference, reference_origin, \
     metadata, created_at, updated_at";

/// The UPDATE that rewrites a membership, binding the same 24 values as an insert: it sets only
/// what a membership's changes may change (status, settings, `updated_at`), so SQLite
/// rewrites only the indexes over those columns (three of ten), and names the identity
/// columns (partner, mode, organisation, user, `created_at`) in its condition, where they hold
/// by construction.
pub fn membership_update(marker: char) -> String {
    let columns: Vec<&str> = MEMBERSHIP_WRITE_COLUMNS.split(", ").collect();
    let placeholder = |column: &str| {
        let position = columns.iter().position(|name| *name == column).map_or(0, |index| index + 1);
        format!("{marker}{position}")
    };
    let identity = ["id", "partner_id", "livemode", "organisation_id", "user_id", "created_at"];
    let set: Vec<&str> = columns.iter().copied().filter(|column| !identity.contains(column)).collect();
    let values: Vec<String> = set.iter().map(|column| placeholder(column)).collect();
    let condition: Vec<String> = identity.iter().map(|column| format!("{column} = {}", placeholder(column))).collect();
    format!("UPDATE memberships SET ({}) = ({}) WHERE {}", set.join(", "), values.join(", "), condition.join(" AND "))
}

/// An update names the row it read in the same transaction: anything but one row written is a
/// fault, never a success.
pub fn one_row_written(written: impl TryInto<u64>) -> Result<(), roster_core::Error> {
    match written.try_into() {
        Ok(1) => Ok(()),
        _ => Err(roster_core::Error::internal("an update wrote other than its one row")),
    }
}

/// `n` placeholders, `?1, ?2, …` or `$1, $2, …`.
pub fn placeholders(marker: char, n: usize) -> String {
    (1..=n).map(|i| format!("{marker}{i}")).collect::<Vec<_>>().join(", ")
}

pub const MEMBERSHIP_FROM: &str =
    "memberships m JOIN users u ON u.id = m.user_id JOIN organisations o ON o.id = m.organisation_id";

/// Memberships with their user where `condition` (over `m` and `u`) holds: the text the stores
/// and the benchmark baseline start their single-membership reads from.
pub fn select_memberships_where(condition: &str) -> String {
    format!("{}{condition}", *SELECT_MEMBERSHIPS_WHERE)
}

/// The single-membership reads' text up to their condition, built once rather than per request.
pub static SELECT_MEMBERSHIPS_WHERE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {MEMBERSHIP_COLUMNS} FROM {MEMBERSHIP_FROM} WHERE "));

pub fn membership<R: Columns>(row: &R) -> Result<Membership, R::Error> {
    Ok(Membership {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        mode: mode(row, 2)?,
        organisation_id: row.text(3)?,
        organisation_name: row.text(27)?,
        user_id: row.text(4)?,
        first_name: name(row.text(5)?),
        last_name: name(row.text(6)?),
        email: row.text(7)?,
        settings: MembershipSettings {
            role: choice(row, 8, MembershipRole::parse)?,
            role_ids: row.json(9)?,
            permissions: row.json(10)?,
            is_owner: row.boolean(11)?,
            is_default: row.boolean(12)?,
            allowed_ips: row.json(13)?,
            api_access_enabled: row.boolean(15)?,
            access_scope: choice(row, 16, AccessScope::parse)?,
            test_enabled: row.boolean(17)?,
            notifications: Notifications {
                alert_action_required: row.boolean(18)?,
                alert_resolved: row.boolean(19)?,
                alert_dismissed: row.boolean(20)?,
                evidence_requested: row.boolean(21)?,
            },
            reference: row.optional_text(22)?,
            reference_origin: row.optional_text(23)?,
            metadata: row.json(24)?,
        },
        status: choice(row, 14, MembershipStatus::parse)?,
        created_at: timestamp(row, 25)?,
        updated_at: timestamp(row, 26)?,
    })
}

pub const ROLE_COLUMNS: &str =
    "r.id, r.partner_id, r.livemode, r.organisation_id, r.name, r.permissions, r.created_at, r.updated_at";

pub fn role<R: Columns>(row: &R) -> Result<Role, R::Error> {
    Ok(Role {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        mode: mode(row, 2)?,
        organisation_id: row.text(3)?,
        name: row.text(4)?,
        permissions: row.json(5)?,
        created_at: timestamp(row, 6)?,
        updated_at: timestamp(row, 7)?,
    })
}

pub const EVENT_COLUMNS: &str = "e.id, e.partner_id, e.livemode, e.sequence, e.type, e.object_id, e.organisation_id, \
     e.actor_type, e.actor_id, e.actor_key_prefix, e.request_id, e.data, e.previous_attributes, e.created_at";

/// `INSERT INTO events` with the columns of [`EVENT_COLUMNS`], `$1`… or `?1`… by `placeholder`.
pub fn event_insert(placeholder: char) -> String {
    let columns = EVENT_COLUMNS.replace("e.", "");
    format!("INSERT INTO events ({columns}) VALUES ({})", placeholders(placeholder, 14))
}

pub fn event<R: Columns>(row: &R) -> Result<Event, R::Error> {
    Ok(Event {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        mode: mode(row, 2)?,
        sequence: row.int(3)?,
        kind: row.text(4)?,
        object_id: row.text(5)?,
        organisation_id: row.optional_text(6)?,
        actor: Actor {
            kind: choice(row, 7, ActorKind::parse)?,
            id: row.optional_text(8)?,
            key_prefix: row.optional_text(9)?,
        },
        request_id: row.text(10)?,
        object: row.json(11)?,
        previous_attributes: row.json(12)?,
        created_at: timestamp(row, 13)?,
    })
}

pub const WEBHOOK_ENDPOINT_COLUMNS: &str = "w.id, w.partner_id, w.livemode, w.url, w.enabled_events, w.description, \
     w.disabled, w.created_at, w.updated_at, w.secret, w.previous_secret, w.previous_secret_expires_at";

pub fn webhook_endpoint<R: Columns>(row: &R) -> Result<WebhookEndpoint, R::Error> {
    Ok(WebhookEndpoint {
        id: row.text(0)?,
        partner_id: row.text(1)?,
        mode: mode(row, 2)?,
        url: row.text(3)?,
        enabled_events: row.json(4)?,
        description: row.text(5)?,
        disabled: row.boolean(6)?,
        created_at: timestamp(row, 7)?,
        updated_at: timestamp(row, 8)?,
    })
}

/// The secrets of a row read with [`WEBHOOK_ENDPOINT_COLUMNS`].
pub fn webhook_secrets<R: Columns>(row: &R) -> Result<WebhookSecrets, R::Error> {
    Ok(WebhookSecrets {
        current: row.text(9)?,
        previous: row.optional_text(10)?,
        previous_expires_at: optional_timestamp(row, 11)?,
    })
}

pub const WEBHOOK_DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, d.webhook_id, d.attempt, d.succeeded, \
     d.response_status, d.latency_ms, d.next_retry_at, d.created_at";

/// `INSERT INTO webhook_deliveries` with the columns of [`WEBHOOK_DELIVERY_COLUMNS`], unless
/// its endpoint was deleted while the attempt was made (then there is nothing to log).
pub fn webhook_delivery_insert(placeholder: char) -> String {
    let columns = WEBHOOK_DELIVERY_COLUMNS.replace("d.", "");
    format!(
        "INSERT INTO webhook_deliveries ({columns}) SELECT {} \
         WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = {placeholder}2)",
        placeholders(placeholder, 10)
    )
}

pub fn webhook_delivery<R: Columns>(row: &R) -> Result<WebhookDelivery, R::Error> {
    Ok(WebhookDelivery {
        id: row.text(0)?,
        endpoint_id: row.text(1)?,
        event_id: row.text(2)?,
        webhook_id: row.text(3)?,
        attempt: u32::try_from(row.int(4)?).map_err(|_| row.corrupt(4, "attempt"))?,
        succeeded: row.boolean(5)?,
        response_status: row
            .optional_int(6)?
            .map(|status| u16::try_from(status).map_err(|_| row.corrupt(6, "status")))
            .transpose()?,
        latency_ms: u64::try_from(row.int(7)?).map_err(|_| row.corrupt(7, "latency"))?,
        next_retry_at: optional_timestamp(row, 8)?,
        created_at: timestamp(row, 9)?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_membership_update_sets_what_changes_and_keeps_the_identity_in_its_condition() {
        assert_eq!(
            super::membership_update('$'),
            "UPDATE memberships SET (status, role, role_ids, permissions, is_owner, is_default, allowed_ips, \
             api_access_enabled, access_scope, test_enabled, alert_action_required, alert_resolved, alert_dismissed, \
             evidence_requested, reference, reference_origin, metadata, updated_at) = ($6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $24) WHERE id = $1 AND partner_id = $2 AND livemode = $3 \
             AND organisation_id = $4 AND user_id = $5 AND created_at = $23"
        );
    }
}
