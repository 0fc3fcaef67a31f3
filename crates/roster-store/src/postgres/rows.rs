//! Row mapping for PostgreSQL; the column lists are the SQLite ones, so both backends read the
//! same columns in the same order.

use roster_core::{
    Error,
    model::{
        AccessScope, ApiKey, KeyHolder, KeyType, Membership, MembershipRole, MembershipSettings,
        MembershipStatus, Mode, Notifications, Organisation, OrganisationSettings, Partner,
        PartnerGroup, User,
    },
    policy::Ability,
    time::Timestamp,
};
use serde_json::{Map, Value};
use tokio_postgres::{Row, types::Json};

use super::pool::Step;
pub use crate::columns::*;

fn corrupt(what: &str) -> Error {
    Error::internal(format!("invalid {what} in the database"))
}

fn timestamp(row: &Row, index: usize) -> Step<Timestamp> {
    Ok(Timestamp(row.try_get(index)?))
}

fn optional_timestamp(row: &Row, index: usize) -> Step<Option<Timestamp>> {
    Ok(row.try_get::<_, Option<i64>>(index)?.map(Timestamp))
}

fn mode(row: &Row, index: usize) -> Step<Mode> {
    Ok(Mode::from_live(row.try_get(index)?))
}

fn choice<T>(row: &Row, index: usize, parse: fn(&str) -> Option<T>) -> Step<T> {
    let text: &str = row.try_get(index)?;
    Ok(parse(text).ok_or_else(|| corrupt("choice"))?)
}

fn json<T: serde::de::DeserializeOwned>(row: &Row, index: usize) -> Step<T> {
    Ok(row.try_get::<_, Json<T>>(index)?.0)
}

pub fn partner(row: &Row) -> Step<Partner> {
    Ok(Partner {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        created_at: timestamp(row, 2)?,
        updated_at: timestamp(row, 3)?,
    })
}

pub fn group(row: &Row) -> Step<PartnerGroup> {
    Ok(PartnerGroup {
        id: row.try_get(0)?,
        partner_id: row.try_get(1)?,
        name: row.try_get(2)?,
        is_admin: row.try_get(3)?,
        organisation_ids: Vec::new(),
        created_at: timestamp(row, 4)?,
        updated_at: timestamp(row, 5)?,
    })
}

pub fn organisation(row: &Row) -> Step<Organisation> {
    Ok(Organisation {
        id: row.try_get(0)?,
        partner_id: row.try_get(1)?,
        mode: mode(row, 2)?,
        name: row.try_get(3)?,
        settings: OrganisationSettings {
            enforce_twofactor: row.try_get(4)?,
            abuse_contact_email: row.try_get(5)?,
        },
        created_at: timestamp(row, 6)?,
        updated_at: timestamp(row, 7)?,
    })
}

pub fn user(row: &Row) -> Step<User> {
    Ok(User {
        id: row.try_get(0)?,
        partner_id: row.try_get(1)?,
        mode: mode(row, 2)?,
        email: row.try_get(3)?,
        first_name: row.try_get(4)?,
        last_name: row.try_get(5)?,
        is_staff: row.try_get(6)?,
        created_at: timestamp(row, 7)?,
        updated_at: timestamp(row, 8)?,
    })
}

pub fn api_key(row: &Row) -> Step<ApiKey> {
    let holder = match (
        row.try_get::<_, Option<String>>(5)?,
        row.try_get::<_, Option<String>>(6)?,
    ) {
        (Some(group), None) => KeyHolder::Group(group),
        (None, Some(organisation)) => KeyHolder::Organisation(organisation),
        _ => return Err(corrupt("key holder").into()),
    };
    let abilities: Vec<String> = json(row, 7)?;
    Ok(ApiKey {
        id: row.try_get(0)?,
        partner_id: row.try_get(1)?,
        mode: mode(row, 2)?,
        name: row.try_get(3)?,
        key_type: choice(row, 4, KeyType::parse)?,
        holder,
        abilities: abilities
            .iter()
            .map(|a| Ability::parse(a).ok_or_else(|| corrupt("ability")))
            .collect::<Result<_, _>>()?,
        expires_at: optional_timestamp(row, 8)?,
        last_used_at: optional_timestamp(row, 9)?,
        revoked_at: optional_timestamp(row, 10)?,
        prefix: row.try_get(11)?,
        created_at: timestamp(row, 12)?,
        updated_at: timestamp(row, 13)?,
    })
}

pub fn membership(row: &Row) -> Step<Membership> {
    let metadata: Map<String, Value> = json(row, 24)?;
    Ok(Membership {
        id: row.try_get(0)?,
        partner_id: row.try_get(1)?,
        mode: mode(row, 2)?,
        organisation_id: row.try_get(3)?,
        user_id: row.try_get(4)?,
        first_name: row.try_get(5)?,
        last_name: row.try_get(6)?,
        email: row.try_get(7)?,
        settings: MembershipSettings {
            role: choice(row, 8, MembershipRole::parse)?,
            role_ids: json(row, 9)?,
            permissions: json(row, 10)?,
            is_owner: row.try_get(11)?,
            is_default: row.try_get(12)?,
            allowed_ips: json(row, 13)?,
            api_access_enabled: row.try_get(15)?,
            access_scope: choice(row, 16, AccessScope::parse)?,
            test_enabled: row.try_get(17)?,
            notifications: Notifications {
                alert_action_required: row.try_get(18)?,
                alert_resolved: row.try_get(19)?,
                alert_dismissed: row.try_get(20)?,
                evidence_requested: row.try_get(21)?,
            },
            reference: row.try_get(22)?,
            reference_origin: row.try_get(23)?,
            metadata,
        },
        status: choice(row, 14, MembershipStatus::parse)?,
        created_at: timestamp(row, 25)?,
        updated_at: timestamp(row, 26)?,
    })
}
